-- Foreign tables: not replicated (the data lives elsewhere); reported.
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'f'
 ORDER BY 1
