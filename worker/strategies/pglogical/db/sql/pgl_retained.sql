-- WAL a slot holds on the source, and how far its consumer lags.
SELECT s.slot_name, s.active,
       pg_catalog.pg_current_wal_lsn()::text,
       coalesce(s.confirmed_flush_lsn::text, ''),
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn), 0)::bigint,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint,
       coalesce(s.wal_status, '')
  FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1
