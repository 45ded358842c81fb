SELECT s.oid::text, s.subenabled, coalesce(s.subslotname, ''),
       coalesce(o.remote_lsn::text, ''), 0::bigint, 0::bigint
  FROM pg_catalog.pg_subscription s
  LEFT JOIN pg_catalog.pg_replication_origin_status o ON o.external_id = 'pg_' || s.oid
 WHERE s.subname = $1
   AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
