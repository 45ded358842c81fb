DELETE FROM %I.blocked_roles WHERE role = $1
