-- Privileges of this database for the privilege sync (db/pgl_db_privs.c),
-- compared by name between source and target, grantor ignored. One row per
-- (object, grantee, privilege): kind, a, b, c (the object's name parts),
-- grantee ('' = PUBLIC), privilege, grantable, the object's owner (for default
-- privileges their role; the sync acts with its rights); plus one row per object with
-- privilege '' (the object exists on this side). NULL ACLs count as their
-- built-in default (acldefault); only columns with an ACL are listed (no ACL =
-- no column privilege; empty arrays explode to nothing here: aclexplode
-- refuses them).
-- kinds: table/sequence (a schema, b name), column (c attribute; its table
-- must exist on both sides), schema (a),
-- routine (b name, c identity arguments rendered by the server), database
-- (a), largeobject (a oid), role (a: exists here; for default privileges),
-- default (a role, b schema or '' = global, c object type r/S/f/T/n).
-- $1: fleetcrypt's schema (skipped); $2: fleetcrypt's roles (never a
-- grantee touched); $3/$4: global default keys (role, type) of both sides.
WITH objs(k, a, b, c, acl, own) AS (
    SELECT CASE WHEN cl.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname::text, cl.relname::text, '',
           coalesce(cl.relacl, acldefault(CASE WHEN cl.relkind = 'S' THEN 's' ELSE 'r' END::"char", cl.relowner)),
           cl.relowner
      FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
     WHERE cl.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> $1
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
       AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'column', n.nspname::text, cl.relname::text, at.attname::text, at.attacl, cl.relowner
      FROM pg_catalog.pg_attribute at JOIN pg_catalog.pg_class cl ON cl.oid = at.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
     WHERE at.attnum > 0 AND NOT at.attisdropped AND at.attacl IS NOT NULL
       AND cl.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND n.nspname <> $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'schema', n.nspname::text, '', '', coalesce(n.nspacl, acldefault('n', n.nspowner)), n.nspowner
      FROM pg_catalog.pg_namespace n
     WHERE n.nspname <> $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'routine', n.nspname::text, p.proname::text, pg_catalog.pg_get_function_identity_arguments(p.oid),
           coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname <> $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'database', d.datname::text, '', '', coalesce(d.datacl, acldefault('d', d.datdba)), d.datdba
      FROM pg_catalog.pg_database d WHERE d.datname = current_database()
    UNION ALL
    SELECT 'largeobject', l.oid::text, '', '', coalesce(l.lomacl, acldefault('L', l.lomowner)), l.lomowner
      FROM pg_catalog.pg_largeobject_metadata l
    UNION ALL
    SELECT 'role', r.rolname::text, '', '', NULL::aclitem[], 0::oid FROM pg_catalog.pg_roles r
    UNION ALL
    SELECT 'default', r.rolname::text, n.nspname::text, d.defaclobjtype::text, d.defaclacl, r.oid
      FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_roles r ON r.oid = d.defaclrole
      JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
     WHERE r.rolname <> ALL ($2::text[])
    UNION ALL
    SELECT 'default', r.rolname::text, '', k.t,
           coalesce(d.defaclacl, acldefault(CASE WHEN k.t = 'S' THEN 's' ELSE k.t END::"char", r.oid)), r.oid
      FROM (SELECT DISTINCT * FROM unnest($3::text[], $4::text[]) AS u(role, t)) k
      JOIN pg_catalog.pg_roles r ON r.rolname = k.role
      LEFT JOIN pg_catalog.pg_default_acl d
             ON d.defaclrole = r.oid AND d.defaclnamespace = 0 AND d.defaclobjtype = k.t::"char"
)
SELECT k, a, b, c, '' AS grantee, '' AS priv, false AS grantable, '' AS owner FROM objs
UNION ALL
SELECT o.k, o.a, o.b, o.c, coalesce(g.rolname::text, ''), e.privilege_type, bool_or(e.is_grantable),
       coalesce(ow.rolname::text, '')
  FROM objs o CROSS JOIN LATERAL aclexplode(CASE WHEN cardinality(o.acl) > 0 THEN o.acl END) e
  LEFT JOIN pg_catalog.pg_roles g ON g.oid = e.grantee
  LEFT JOIN pg_catalog.pg_roles ow ON ow.oid = o.own
 WHERE e.grantee = 0 OR g.rolname <> ALL ($2::text[])
 GROUP BY 1, 2, 3, 4, 5, 6, 8
