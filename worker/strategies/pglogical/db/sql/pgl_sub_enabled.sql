-- Does this database still have the subscription, enabled? Only the columns
-- every role may read (asked as fleetcrypt's role: a re-run may find the
-- target blocked already, which follows the subscriptions' DISABLE).
SELECT count(*)::int FROM pg_catalog.pg_subscription
 WHERE subname = $1 AND subenabled
   AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
