-- The columns to compare ($1 schema, $2 table), unquoted, in column order,
-- when the table has a column that differs between source and target on
-- purpose; no rows otherwise (compare whole rows). The only one: pg_cron's
-- cron.job.active, false on the target while fleetcrypt holds its jobs
-- (fc_<tag>.held_jobs) and true again after cleanup.
SELECT a.attname::text
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND EXISTS (SELECT 1 FROM (VALUES ('cron', 'job', 'active')) m(s, t, c)
                WHERE m.s = $1 AND m.t = $2
                  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute b
                               WHERE b.attrelid = a.attrelid AND b.attname = m.c AND NOT b.attisdropped))
   AND NOT EXISTS (SELECT 1 FROM (VALUES ('cron', 'job', 'active')) m(s, t, c)
                    WHERE m.s = $1 AND m.t = $2 AND m.c = a.attname)
 ORDER BY a.attnum
