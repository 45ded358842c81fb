-- Keep the connection string (with the replication role's password) out of
-- the server log for this session; may be refused without superuser rights.
SELECT set_config('log_statement', 'none', false), set_config('log_min_duration_statement', '-1', false)
