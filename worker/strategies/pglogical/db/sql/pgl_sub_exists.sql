-- Does this database still have the subscription? Only the columns every
-- role may read (any login can ask, even while the master user is blocked).
SELECT count(*)::int FROM pg_catalog.pg_subscription
 WHERE subname = $1
   AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
