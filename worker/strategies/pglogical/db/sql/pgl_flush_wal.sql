-- Flush the WAL to here before L is read: a transactional logical message
-- (no table changes; the subscriptions do not ask for messages) committed
-- with synchronous_commit = local flushes every record before it —
-- asynchronous commits and the terminated sessions' aborts, which otherwise
-- wait for the WAL writer (up to wal_writer_delay) before the walsenders may
-- send them, and the drain to L with them. Local: never waits for a
-- synchronous standby. One statement (the guard needs plpgsql already), so
-- the window's answer-by deadline holds.
DO $$
BEGIN
    SET LOCAL synchronous_commit = local;
    PERFORM pg_catalog.pg_logical_emit_message(true, 'fleetcrypt-cutover-flush', '');
END
$$
