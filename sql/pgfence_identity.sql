-- Which server is this? Its system identifier (a restored copy shares its
-- source's), fleetcrypt's marker: the comment on fleetcrypt's admin role
-- (role $1), cluster-wide and never replicated ('' when none), and whether
-- that role exists at all.
SELECT (SELECT system_identifier::text FROM pg_catalog.pg_control_system()),
       coalesce((SELECT pg_catalog.shobj_description(oid, 'pg_authid')
                   FROM pg_catalog.pg_roles WHERE rolname = $1), ''),
       EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)
