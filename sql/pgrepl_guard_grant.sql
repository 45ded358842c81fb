-- fleetcrypt's schema is created by the master user; the cutover runs as
-- fleetcrypt's admin role, which on RDS is a member of rds_superuser, and
-- rds_superuser does not bypass object privileges (only a real superuser
-- does): give the admin role what it reads and writes there.
GRANT USAGE ON SCHEMA %I TO %I;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I
