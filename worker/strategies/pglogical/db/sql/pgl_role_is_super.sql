-- pg-logical: is this role a real superuser (self-managed / emulator) or not (RDS)?
SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1), false)
