-- Relations the prewarm reads, in a stable order: the tables verify compares
-- (same filter as pgverify_tables), and with $2 their TOAST tables and
-- every index of both. $1: fleetcrypt schema. Returns oid, kind, main-fork
-- blocks now, schema, table, block size.
WITH t AS (
  SELECT c.oid, c.reltoastrelid, n.nspname::text AS nsp, c.relname::text AS rel
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r' AND c.relpersistence = 'p'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
     AND n.nspname <> $1
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
), r AS (
  SELECT t.oid, 'table' AS kind, 1 AS ord, t.nsp, t.rel FROM t
  UNION ALL
  SELECT t.reltoastrelid, 'toast', 2, t.nsp, t.rel FROM t WHERE $2::bool AND t.reltoastrelid <> 0
  UNION ALL
  SELECT i.indexrelid, 'index', 3, t.nsp, t.rel
    FROM t JOIN pg_catalog.pg_index i ON i.indrelid IN (t.oid, t.reltoastrelid)
   WHERE $2::bool
)
SELECT r.oid::text, r.kind,
       (pg_catalog.pg_relation_size(r.oid) / pg_catalog.current_setting('block_size')::bigint)::text,
       r.nsp, r.rel, pg_catalog.current_setting('block_size')
  FROM r
 ORDER BY r.nsp COLLATE "C", r.rel COLLATE "C", r.ord, r.oid
