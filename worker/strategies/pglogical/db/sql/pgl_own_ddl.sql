-- Mark this session's DDL as fleetcrypt's own for the DDL guard ($1: the
-- guard's schema name) or unmark it ($1 = ''): see pgl_guard_function.sql.
SELECT set_config('fc.own_ddl', $1, false)
