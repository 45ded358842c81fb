-- Identity columns GENERATED ALWAYS in q's database (fleetcrypt's schema $1
-- and the system's left out): DMS's apply inserts explicit values without
-- OVERRIDING SYSTEM VALUE, which PostgreSQL refuses for them. One row per
-- column: table and column, quoted.
SELECT format('%I.%I', n.nspname, c.relname) AS tbl, format('%I', a.attname) AS col
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attidentity = 'a' AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
   AND n.nspname <> $1
 ORDER BY 1, 2
