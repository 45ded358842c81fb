-- pgl_sub_enabled.sql, and the pids of the subscription's workers (','
-- separated, '' when none): they exit by themselves once it is disabled,
-- so the target's block after the DISABLE ends them without waiting for
-- them (pgl_cutover_block_unsettled's own sessions). pg_stat_subscription
-- is readable by every role.
SELECT (SELECT count(*)::int FROM pg_catalog.pg_subscription
         WHERE subname = $1 AND subenabled
           AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())),
       coalesce((SELECT string_agg(pid::text, ',') FROM pg_catalog.pg_stat_subscription
                  WHERE subname = $1 AND pid IS NOT NULL), '')
