-- Live validation: put the statement timeout back after pgverify_session
-- (which clears it); $1 in milliseconds.
SELECT set_config('statement_timeout', $1, false)
