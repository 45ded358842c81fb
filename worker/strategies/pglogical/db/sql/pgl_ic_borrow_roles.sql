-- pgl_ic_borrow_roles: the roles the master user is not a member of but may
-- act as for the schema copy (ALTER ... OWNER TO needs membership): every
-- role that is not a superuser, not PostgreSQL's or RDS's, not fleetcrypt's.
SELECT r.rolname FROM pg_roles r
 WHERE NOT r.rolsuper AND r.rolname !~ '^(pg_|rds)' AND r.rolname NOT LIKE 'fc\_%'
   AND r.rolname <> current_user AND NOT pg_has_role(current_user, r.oid, 'MEMBER')
 ORDER BY 1
