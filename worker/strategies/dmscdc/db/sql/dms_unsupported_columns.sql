-- Columns whose values AWS DMS does not carry exactly from a PostgreSQL
-- source (its user guide, "Limitations on using a PostgreSQL database as a
-- DMS source" and the data type table): NUMERIC without precision (mapped to
-- NUMERIC(28,6): digits lost), OID large-object references (not migrated).
-- $1: fleetcrypt's schema (left out). One row per column: table, column, type.
SELECT format('%I.%I', n.nspname, c.relname) AS tbl, a.attname::text AS col,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS typ
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND a.attnum > 0 AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
   AND n.nspname <> $1
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   AND ((a.atttypid = 'pg_catalog.numeric'::regtype AND a.atttypmod = -1)
        OR a.atttypid = 'pg_catalog.oid'::regtype
        OR pg_catalog.format_type(a.atttypid, NULL) = 'lo')
 ORDER BY 1, 2
