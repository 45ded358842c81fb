-- Tables whose UPDATE/DELETE would fail once published: no primary key and
-- replica identity DEFAULT, or replica identity NOTHING. Leaf tables only
-- (partitions included: changes are published per leaf). $1: fleetcrypt schema.
SELECT format('%I.%I', n.nspname, c.relname) AS name, c.oid::regclass::text AS reg
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
   AND n.nspname <> $1
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   AND (c.relreplident = 'n'
        OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                                  WHERE i.indrelid = c.oid AND i.indisprimary)))
 ORDER BY 1
