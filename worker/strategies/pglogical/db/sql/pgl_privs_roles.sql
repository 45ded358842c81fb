-- Roles the privilege sync compares (db/pgl_db_privs.c): all but
-- PostgreSQL's (pg_*), RDS's own (rdsadmin, rds_*, ...) and fleetcrypt's ($1).
-- VALID UNTIL as UTC text, NULL as 'infinity' (the same meaning).
SELECT rolname::text, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
       rolreplication, rolbypassrls, rolconnlimit::text,
       CASE WHEN rolvaliduntil IS NULL OR rolvaliduntil = 'infinity' THEN 'infinity'
            ELSE to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00"') END
  FROM pg_catalog.pg_roles
 WHERE rolname NOT LIKE 'pg\_%' AND rolname NOT LIKE 'rds\_%'
   AND rolname NOT IN ('rdsadmin', 'rdsrepladmin', 'rdstopmgr', 'rdsproxyadmin')
   AND rolname <> ALL ($1::text[])
 ORDER BY 1
