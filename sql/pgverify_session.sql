-- Comparison sessions (verify and live validation): identical text forms on
-- both sides (UTC, ISO dates, hex bytea), no statement timeout, and
-- row_security off: a table whose policies would hide rows from this role
-- then raises an error (42501) instead of silently comparing a subset.
SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false),
       set_config('IntervalStyle', 'postgres', false), set_config('extra_float_digits', '1', false),
       set_config('bytea_output', 'hex', false), set_config('statement_timeout', '0', false),
       set_config('row_security', 'off', false)
