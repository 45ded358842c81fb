-- The subscription's arguments, one row, filled by COPY FROM STDIN (data
-- that no log_statement setting writes to the server log); dropped at commit.
CREATE TEMP TABLE fc_sub_args (sub text, conninfo text, pub text, slot text, pw text, copy boolean) ON COMMIT DROP
