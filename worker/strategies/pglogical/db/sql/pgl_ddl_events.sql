-- Schema changes the guard recorded. Template: the identifier is fleetcrypt's
-- schema; doubled percent signs reach the server-side format() as single ones.
SELECT count(*)::int,
       coalesce(string_agg(format('%%s %%s by %%s at %%s', tag, coalesce(object, ''), usr, at), '; '
                           ORDER BY at), '')
  FROM (SELECT * FROM %I.ddl_events ORDER BY at LIMIT 20) e
