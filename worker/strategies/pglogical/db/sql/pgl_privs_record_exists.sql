-- Does this database hold the cutover block's record (<schema $1>.blocked_roles)?
-- A catalog lookup: needs no right on the schema (reading it does).
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = 'blocked_roles' AND c.relkind IN ('r', 'p'))
