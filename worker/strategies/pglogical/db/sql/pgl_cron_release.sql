WITH rel AS (DELETE FROM %I.held_jobs RETURNING jobid)
UPDATE cron.job j SET active = true FROM rel WHERE j.jobid = rel.jobid
