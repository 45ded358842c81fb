-- fleetcrypt's own schema in each database: the DDL guard's event log and the
-- cutover block's record. Created before the publication, so no DDL of ours
-- happens after the snapshot.
CREATE SCHEMA IF NOT EXISTS %I;
REVOKE ALL ON SCHEMA %I FROM PUBLIC;
CREATE TABLE IF NOT EXISTS %I.ddl_events (
    at     timestamptz NOT NULL DEFAULT now(),
    usr    name        NOT NULL DEFAULT current_user,
    tag    text        NOT NULL,
    object text);
CREATE TABLE IF NOT EXISTS %I.blocked_roles (
    role       name PRIMARY KEY,
    blocked_at timestamptz NOT NULL DEFAULT now())
