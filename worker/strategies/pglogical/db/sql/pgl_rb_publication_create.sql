-- pgl_rb_publication_create: the rollback window's publication on the
-- encrypted target (pgl_db_reverse.c). Not FOR ALL TABLES: fleetcrypt's own
-- schema on the target (its live-validation state, block record and fence,
-- which the old source does not have or keeps for itself) must not be
-- published. Every schema holding tables, except PostgreSQL's and
-- fleetcrypt's, as TABLES IN SCHEMA: a table created there during the window
-- (DDL is not replicated) then stops the subscription loudly instead of
-- being skipped in silence. No such schema: a publication without tables.
-- Template: publication, fleetcrypt's schema (literals).
DO $fc$
DECLARE s text;
BEGIN
  SELECT string_agg(quote_ident(n.nspname), ', ' ORDER BY n.nspname) INTO s
    FROM pg_catalog.pg_namespace n
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\_temp\_%%'
     AND n.nspname NOT LIKE 'pg\_toast\_temp\_%%' AND n.nspname <> %L
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p'));
  IF s IS NULL THEN
    EXECUTE format('CREATE PUBLICATION %%I', %L);
  ELSE
    EXECUTE format('CREATE PUBLICATION %%I FOR TABLES IN SCHEMA %%s', %L, s);
  END IF;
END
$fc$
