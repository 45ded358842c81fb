-- The target user's standing towards an object's owner ($1), for the
-- privilege sync: has its privileges (USAGE), is a member (MEMBER), owner is
-- a superuser. No row when the owner does not exist.
SELECT pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'), pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'),
       r.rolsuper
  FROM pg_catalog.pg_roles r WHERE r.rolname = $1
