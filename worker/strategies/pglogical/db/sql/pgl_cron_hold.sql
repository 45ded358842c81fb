-- Deactivate pg_cron jobs on the target and remember which (re-enabled at cleanup).
WITH held AS (UPDATE cron.job SET active = false WHERE active RETURNING jobid)
INSERT INTO %I.held_jobs(jobid) SELECT jobid FROM held ON CONFLICT DO NOTHING
