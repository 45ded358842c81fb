-- The subscription in this database, its state and its origin's progress.
SELECT s.oid::text, s.subenabled, coalesce(s.subslotname, ''),
       coalesce(o.remote_lsn::text, ''),
       coalesce(st.apply_error_count, 0)::bigint, coalesce(st.sync_error_count, 0)::bigint
  FROM pg_catalog.pg_subscription s
  LEFT JOIN pg_catalog.pg_replication_origin_status o ON o.external_id = 'pg_' || s.oid
  LEFT JOIN pg_catalog.pg_stat_subscription_stats st ON st.subid = s.oid
 WHERE s.subname = $1
   AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
