-- pg-logical find-start-lsn cross-check: the restored instance's current WAL insert position.
-- The start LSN read from its log can never be past it. Executable by every role.
SELECT pg_catalog.pg_current_wal_lsn()::text
