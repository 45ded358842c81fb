-- Every user trigger of q's database that is enabled (tgenabled O: origin
-- and local, R: replica only, A: always), on a table outside fleetcrypt's
-- schema $1 and the system's: the ones DMS's load and apply would fire.
-- Internal triggers (foreign keys' own) are not listed; disabled ones stay
-- as they are. Names and states only.
SELECT n.nspname::text, c.relname::text, t.tgname::text, t.tgenabled::text
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
   AND n.nspname <> $1
 ORDER BY 1, 2, 3
