-- Every sequence (owned, free-standing, identity) with its last value.
-- Sequences are not replicated. $1: fleetcrypt schema (skipped).
SELECT schemaname::text, sequencename::text, last_value::text, increment_by::text
  FROM pg_catalog.pg_sequences
 WHERE schemaname <> $1 AND last_value IS NOT NULL
 ORDER BY 1, 2
