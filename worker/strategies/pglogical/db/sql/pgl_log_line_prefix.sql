-- pg-logical find-start-lsn: the restored instance's log_line_prefix (RDS: '%t:%r:%u@%d:[%p]:'),
-- to tell its startup process's log lines (pid, empty session fields) from any session's.
SELECT pg_catalog.current_setting('log_line_prefix')
