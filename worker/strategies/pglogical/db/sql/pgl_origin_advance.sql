-- Start change data capture where the restored WAL ended ($2), never at
-- "redo done at" (see docs/lsn-boundary.md). Only while the subscription is disabled.
SELECT pg_catalog.pg_replication_origin_advance('pg_' || s.oid, $2::pg_lsn)
  FROM pg_catalog.pg_subscription s
 WHERE s.subname = $1 AND NOT s.subenabled
   AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
