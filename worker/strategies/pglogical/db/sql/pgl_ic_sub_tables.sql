-- pgl_ic_sub_tables: tables of the subscription not yet ready (copy or
-- catch-up running) and all of them
SELECT count(*) FILTER (WHERE sr.srsubstate <> 'r'), count(*)
  FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
 WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
