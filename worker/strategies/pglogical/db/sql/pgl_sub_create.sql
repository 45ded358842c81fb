-- pgl_sub_create: CREATE SUBSCRIPTION from COPY data, password masked in errors.
-- a.copy false (pg-logical's path): created disabled, copy_data = false (the
-- origin is advanced to the start LSN before it is enabled). a.copy true (the
-- initial-copy path, docs/clusters.md): enabled at once WITH copy_data on the
-- slot made at prepare-source (PostgreSQL copies each table from a snapshot
-- consistent with its own sync slot and applies the slot's changes to it only
-- after that point: exactly once).
-- The connection string (and password) is in no statement text the server
-- logs: the arguments come from pg_temp.fc_sub_args (COPY data), the
-- statement runs through EXECUTE (never logged by log_statement), and a
-- failure is raised again with the password and the connection string
-- masked, so neither the target's log (ERROR, CONTEXT, STATEMENT lines) nor
-- the client sees them. disable_on_error from PG 15 on.
DO $fc$
DECLARE
  a record;
  st text; msg text; det text; hin text;
BEGIN
  SELECT * INTO STRICT a FROM pg_temp.fc_sub_args;
  BEGIN
    EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (create_slot = false, '
                   'enabled = %s, copy_data = %s, slot_name = %L%s)', a.sub, a.conninfo, a.pub, a.copy::text, a.copy::text, a.slot,
                   CASE WHEN current_setting('server_version_num')::int >= 150000
                        THEN ', disable_on_error = true' ELSE '' END);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hin = PG_EXCEPTION_HINT;
    msg := replace(replace(msg, a.conninfo, '[connection string]'), a.pw, '***');
    det := replace(replace(coalesce(det, ''), a.conninfo, '[connection string]'), a.pw, '***');
    hin := replace(replace(coalesce(hin, ''), a.conninfo, '[connection string]'), a.pw, '***');
    IF det <> '' AND hin <> '' THEN
      RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hin;
    ELSIF det <> '' THEN
      RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det;
    ELSIF hin <> '' THEN
      RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hin;
    ELSE
      RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg;
    END IF;
  END;
END
$fc$
