-- Tables to compare: leaf tables with storage, not fleetcrypt's. Tables
-- owned by an extension are compared too (pg_cron's cron.job without the
-- column the held jobs change on purpose: pgverify_columns).
-- $1: fleetcrypt schema. Returns schema, name, whether it has a primary key.
SELECT n.nspname::text, c.relname::text,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
   AND n.nspname <> $1
 ORDER BY 1, 2
