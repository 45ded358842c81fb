-- Tables AWS DMS cannot keep exact by change data capture: no primary key
-- (DMS ignores their UPDATE and DELETE, whatever the replica identity).
-- Leaf tables only, permanent, not an extension's; fleetcrypt's own schemas
-- ($1, fc_<tag>) left out. One row per table: its name, quoted.
SELECT format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
   AND n.nspname <> $1
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
 ORDER BY 1
