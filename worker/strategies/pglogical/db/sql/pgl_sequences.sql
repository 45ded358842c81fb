-- Every sequence (owned, free-standing, identity) with its last value.
-- Sequences are not replicated. $1: fleetcrypt schema (skipped).
-- last_value is NULL both for a sequence never used (is_called false) and
-- for one this role may not read (pg_sequences hides it; on RDS
-- rds_superuser does not bypass object privileges): the 5th column tells
-- them apart, so nothing is skipped silently.
SELECT s.schemaname::text, s.sequencename::text, s.last_value::text, s.increment_by::text,
       pg_catalog.has_sequence_privilege(
           pg_catalog.format('%I.%I', s.schemaname, s.sequencename)::regclass, 'SELECT,USAGE')
  FROM pg_catalog.pg_sequences s
 WHERE s.schemaname <> $1
 ORDER BY 1, 2
