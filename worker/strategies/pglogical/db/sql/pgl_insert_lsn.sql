-- L: taken after every writer is stopped. The insert position is at or past
-- every committed transaction's WAL, asynchronous commits included.
SELECT pg_catalog.pg_current_wal_insert_lsn()::text
