-- Transactions a new logical slot waits for: those holding an xid.
SELECT pid, coalesce(usename, ''), coalesce(datname, ''),
       coalesce(extract(epoch FROM now() - xact_start)::bigint, 0) AS xact_age_s,
       coalesce(state, ''), left(coalesce(query, ''), 200)
  FROM pg_catalog.pg_stat_activity
 WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
 ORDER BY xact_start NULLS LAST
 LIMIT 5
