-- Role memberships (group, member, admin option) whose member the privilege
-- sync manages: not PostgreSQL's, RDS's or fleetcrypt's ($1) roles. The group
-- may be any role (pg_read_all_data, rds_replication, ...) but fleetcrypt's.
SELECT g.rolname::text, m.rolname::text, bool_or(am.admin_option)
  FROM pg_catalog.pg_auth_members am
  JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
  JOIN pg_catalog.pg_roles m ON m.oid = am.member
 WHERE m.rolname NOT LIKE 'pg\_%' AND m.rolname NOT LIKE 'rds\_%'
   AND m.rolname NOT IN ('rdsadmin', 'rdsrepladmin', 'rdstopmgr', 'rdsproxyadmin')
   AND m.rolname <> ALL ($1::text[]) AND g.rolname <> ALL ($1::text[])
 GROUP BY 1, 2
 ORDER BY 1, 2
