-- Move a target sequence to at least the source value plus a margin of
-- $4 increments (down for descending sequences); never backwards; clamped
-- to the sequence's bounds. Returns the new value.
SELECT pg_catalog.setval(format('%I.%I', s.schemaname, s.sequencename)::regclass,
         CASE WHEN s.increment_by > 0 THEN
              LEAST(s.max_value::numeric,
                    GREATEST(coalesce(s.last_value, s.start_value)::numeric,
                             $3::numeric + $4::numeric * s.increment_by))::bigint
         ELSE GREATEST(s.min_value::numeric,
                    LEAST(coalesce(s.last_value, s.start_value)::numeric,
                          $3::numeric + $4::numeric * s.increment_by))::bigint
         END, true)::text
  FROM pg_catalog.pg_sequences s WHERE s.schemaname = $1 AND s.sequencename = $2
