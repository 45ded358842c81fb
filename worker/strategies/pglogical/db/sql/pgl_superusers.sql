-- pg-logical (worker/strategies): real superusers other than the master user.
-- On RDS that is rdsadmin alone (no customer role can be a superuser); on a
-- self-managed test server it is the bootstrap superuser. They are protected
-- from the cutover block, which could not alter them anyway.
SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolname <> $1 ORDER BY 1
