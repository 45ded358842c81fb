-- Sequences this role cannot read (and, with $2 true, cannot set: setval
-- needs UPDATE) — "schema.name" quoted, one per row, for the error that
-- names them with the GRANT to run. $1: fleetcrypt schema (skipped).
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'S' AND n.nspname <> $1
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
   AND CASE WHEN c.relkind = 'S' THEN  -- has_sequence_privilege errors on other relations
            NOT pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE')
            OR ($2::bool AND NOT pg_catalog.has_sequence_privilege(c.oid, 'UPDATE')) END
 ORDER BY 1
