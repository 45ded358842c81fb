SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1
