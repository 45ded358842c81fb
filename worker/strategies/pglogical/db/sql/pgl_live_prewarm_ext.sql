-- Schema of the pg_prewarm extension when installed in this database (fleetcrypt never installs it).
SELECT n.nspname::text
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_prewarm'
