-- Unlogged tables are not replicated: their rows would be missing on the target.
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p')
 ORDER BY 1
