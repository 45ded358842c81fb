-- Every foreign key of q's database that DMS's full load would trip over
-- (TRUNCATE of a referenced table fails, COPY of a referencing one checks
-- each row), fleetcrypt's schema $1 and the system's left out; one row per
-- constraint declared on its own table (a partition's inherited copy comes
-- back with its parent's). Run with search_path = pg_catalog, so every name
-- pg_get_constraintdef writes is schema-qualified. Definitions only: no
-- row value. The last column is the table's relkind ('p': partitioned, where
-- PostgreSQL takes no NOT VALID foreign key).
SELECT n.nspname::text, c.relname::text, k.conname::text, pg_catalog.pg_get_constraintdef(k.oid),
       CASE WHEN k.convalidated THEN '1' ELSE '0' END, c.relkind::text
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE k.contype = 'f' AND k.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
   AND n.nspname <> $1
 ORDER BY 1, 2, 3
