-- Scheduler extensions whose jobs would also run on the restored target.
SELECT extname FROM pg_catalog.pg_extension
 WHERE extname IN ('pg_cron', 'pg_timetable', 'pgagent', 'pg_partman_bgw', 'pg_dbms_job')
 ORDER BY 1
