CREATE TABLE IF NOT EXISTS %I.held_jobs (jobid bigint PRIMARY KEY)
