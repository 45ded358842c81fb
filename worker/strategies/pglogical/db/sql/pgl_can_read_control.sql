-- pg-logical find-start-lsn cross-check: may this role run pg_control_checkpoint()?
-- Stock PostgreSQL 12-17 grant it to PUBLIC; a provider may revoke it (then only
-- pg_current_wal_lsn() bounds the start, with a warning).
SELECT pg_catalog.has_function_privilege('pg_catalog.pg_control_checkpoint()', 'EXECUTE')::text
