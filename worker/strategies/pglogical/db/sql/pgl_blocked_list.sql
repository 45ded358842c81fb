SELECT role::text FROM %I.blocked_roles ORDER BY role
