-- Per-role settings (ALTER ROLE ... [IN DATABASE ...] SET) of the roles the
-- privilege sync manages, one row per entry in order: role, database ('' =
-- all), "name=value". Database-wide settings (no role) are not included.
SELECT r.rolname::text, coalesce(d.datname::text, ''), c.entry
  FROM pg_catalog.pg_db_role_setting s
  JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
  LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
  CROSS JOIN LATERAL unnest(s.setconfig) WITH ORDINALITY AS c(entry, n)
 WHERE r.rolname NOT LIKE 'pg\_%' AND r.rolname NOT LIKE 'rds\_%'
   AND r.rolname NOT IN ('rdsadmin', 'rdsrepladmin', 'rdstopmgr', 'rdsproxyadmin')
   AND r.rolname <> ALL ($1::text[])
   AND (s.setdatabase = 0 OR d.datname IS NOT NULL)
 ORDER BY 1, 2, c.n
