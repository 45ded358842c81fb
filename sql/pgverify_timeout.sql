-- A comparison within a time budget (pgverify_until): each statement may
-- run at most what is left of it. $1: milliseconds.
SELECT set_config('statement_timeout', $1, false)
