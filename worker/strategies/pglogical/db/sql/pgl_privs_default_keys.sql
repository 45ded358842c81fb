-- Global default privileges present here (role, object type), for the
-- privilege sync: each side then reports the effective value of the union
-- of both sides' keys (pgl_privs_acls.sql, $3/$4).
SELECT r.rolname::text, d.defaclobjtype::text
  FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_roles r ON r.oid = d.defaclrole
 WHERE d.defaclnamespace = 0 AND r.rolname <> ALL ($1::text[])
 ORDER BY 1, 2
