-- Login roles the cutover blocks: all but fleetcrypt's own and the protected
-- ones ($1). Roles already unable to log in are left alone (unblock must not
-- let them in).
SELECT rolname FROM pg_catalog.pg_roles
 WHERE rolcanlogin AND rolname <> ALL ($1::text[]) AND rolname NOT LIKE 'pg\_%'
 ORDER BY 1
