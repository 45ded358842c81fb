-- Client sessions of the given roles (any database), not our own: what
-- pgl_end_client_sessions ends (a subscription's apply worker, running as
-- its owner, is not one of them).
SELECT pid, coalesce(usename, ''), coalesce(datname, ''), coalesce(backend_type, '')
  FROM pg_catalog.pg_stat_activity
 WHERE pid <> pg_backend_pid() AND usename = ANY ($1::text[]) AND backend_type = 'client backend'
