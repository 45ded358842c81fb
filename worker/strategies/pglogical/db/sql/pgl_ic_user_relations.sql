-- pgl_ic_user_relations: relations outside PostgreSQL's schemas (the schema
-- copy is one transaction: any means it was applied)
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
   AND n.nspname NOT LIKE 'pg\_temp\_%' AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
