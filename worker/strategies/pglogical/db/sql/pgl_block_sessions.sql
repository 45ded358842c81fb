-- Sessions of blocked roles (any database, any backend type but our own).
SELECT pid, coalesce(usename, ''), coalesce(datname, ''), coalesce(backend_type, '')
  FROM pg_catalog.pg_stat_activity
 WHERE pid <> pg_backend_pid() AND usename = ANY ($1::text[])
