-- Instance-wide settings preflight checks ($1: number of databases needing a slot).
SELECT current_setting('server_version_num')::int                       AS version,
       current_setting('wal_level')                                     AS wal_level,
       current_setting('max_replication_slots')::int                    AS max_slots,
       (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int      AS used_slots,
       current_setting('max_wal_senders')::int                          AS max_senders,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'walsender')::int                         AS used_senders,
       current_setting('log_min_messages')                              AS log_min_messages,
       current_setting('lc_messages')                                   AS lc_messages,
       EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rds_superuser') AS is_rds,
       (SELECT count(*) FROM pg_catalog.pg_prepared_xacts)::int         AS prepared_xacts
