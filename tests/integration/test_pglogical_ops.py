"""pg-logical primitives against real PostgreSQL 15: the cutover block stops a
writer connected as the master user and keeps it out until unblock; the DDL
guard sees a schema change; abort (unblock + teardown) leaves nothing of
fleetcrypt's behind and the source writable; a slot nobody consumes shows its
retained WAL growing; preflight names what cannot be replicated."""
import subprocess
import time

from fixtures_pg import *  # noqa: F401,F403
from fixtures_pg import (MASTER, SUPER, Writer, conn_a, conn_b, fc_passwords, psql, setup_master,
                         tool)
from fclib import PG_BIN, wait_until


def admin_args(src, tag, db="app"):
    return ["--host", "127.0.0.1", "--port", src.port, "--db", db, "--user", f"fc_{tag}_admin",
            "--password-env", "FC_ADMIN_PW", "--tag", tag]


def prepared_source(servers, tag, extra_sql=""):
    src = servers.new("src")
    setup_master(src)
    psql(src.port, "CREATE TABLE t(id bigserial PRIMARY KEY, v text);" + extra_sql, db="app", user=MASTER)
    pw = fc_passwords(tag)
    tool("create-roles", *conn_a(src, "app"), "--tag", tag, "--admin-password-env", "FC_ADMIN_PW",
         "--sub-password-env", "FC_SUB_PW", env=pw)
    prep = tool("prepare-source", *conn_a(src, "app"), "--tag", tag)[1]
    return src, pw, prep


def can_connect(port, user, db="app"):
    r = subprocess.run([f"{PG_BIN}/psql", "-X", "-qAt", "-d",
                        f"host=127.0.0.1 port={port} dbname={db} user={user}", "-c", "SELECT 1"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0, r.stderr


def test_cutover_block_stops_master_writer_until_unblock(servers, writers, world):
    tag = "blk"
    src, pw, _ = prepared_source(servers, tag)
    psql(src.port, "CREATE ROLE app_rw LOGIN PASSWORD 'x'; CREATE ROLE already_off NOLOGIN;"
                   "GRANT ALL ON t, t_id_seq TO app_rw", db="app")
    w = Writer(world, src.port, "app", MASTER, "INSERT INTO t(v) VALUES ('w');\n", rate=100)
    writers.append(w)
    wait_until(lambda: int(psql(src.port, "SELECT count(*) FROM t", db="app")) > 20, 20, what="writer running")

    blk = tool("cutover-block", *admin_args(src, tag), "--protect", SUPER, env=pw)[1]
    roles = set(blk["roles"].split(","))
    assert {MASTER, "app_rw"} <= roles, blk
    assert "already_off" not in roles and f"fc_{tag}_admin" not in roles and SUPER not in roles
    time.sleep(0.5)
    assert not w.alive(), "a writer connected as the master user survived the block"
    n1 = int(psql(src.port, "SELECT count(*) FROM t", db="app"))
    ok, err = can_connect(src.port, MASTER)
    assert not ok and "not permitted to log in" in err, err
    assert not can_connect(src.port, "app_rw")[0]
    assert not can_connect(src.port, MASTER, db="postgres")[0], "the block must cover every database"
    # fleetcrypt's own role still works (and is the only one left)
    ok, err = can_connect(src.port, f"fc_{tag}_admin")
    assert ok, err
    time.sleep(0.5)
    assert int(psql(src.port, "SELECT count(*) FROM t", db="app")) == n1, "rows arrived after the block"
    # a second block is idempotent and still knows every blocked role
    again = tool("cutover-block", *admin_args(src, tag), "--protect", SUPER, env=pw)[1]
    assert set(again["roles"].split(",")) == roles

    res = tool("unblock", *admin_args(src, tag), env=pw)[1]
    assert int(res["roles_restored"]) == len(roles)
    assert can_connect(src.port, MASTER)[0] and can_connect(src.port, "app_rw")[0]
    assert not can_connect(src.port, "already_off")[0], "unblock let in a role that was NOLOGIN before"
    psql(src.port, "INSERT INTO t(v) VALUES ('after')", db="app", user=MASTER)


def test_ddl_guard_detects_schema_change(servers):
    tag = "ddl"
    src, pw, _ = prepared_source(servers, tag)
    kv = tool("ddl-check", *conn_a(src, "app"), "--tag", tag)[1]
    assert kv["ddl_changes"] == "0", kv
    # not schema changes of replicated tables: ignored
    psql(src.port, "CREATE TEMP TABLE scratch(x int); DROP TABLE scratch;"
                   "GRANT SELECT ON t TO PUBLIC", db="app", user=MASTER)
    assert tool("ddl-check", *conn_a(src, "app"), "--tag", tag)[1]["ddl_changes"] == "0"
    psql(src.port, "ALTER TABLE t ADD COLUMN added int", db="app", user=MASTER)
    psql(src.port, "CREATE TABLE newer(id int)", db="app", user=MASTER)
    kv = tool("ddl-check", *conn_a(src, "app"), "--tag", tag)[1]
    assert int(kv["ddl_changes"]) >= 2, kv
    assert "ALTER TABLE" in kv["events"] and "public.t" in kv["events"], kv


def test_prepare_source_rerun_is_not_a_schema_change(servers):
    """A re-run of prepare-source (after a crash, or a Redis outage that lost
    its outcome) re-creates fleetcrypt's schema, tables and guard function
    with the guard's event triggers already in place: the guard must not
    record fleetcrypt's own DDL, or catch-up aborts the instance for a
    "schema change" (the short A6 caught exactly that). Another session's
    DDL is still seen."""
    tag = "rerun"
    src, pw, _ = prepared_source(servers, tag)
    tool("prepare-source", *conn_a(src, "app"), "--tag", tag)
    kv = tool("ddl-check", *conn_a(src, "app"), "--tag", tag)[1]
    assert kv["ddl_changes"] == "0", kv
    psql(src.port, "CREATE TABLE later(id int)", db="app", user=MASTER)
    kv = tool("ddl-check", *conn_a(src, "app"), "--tag", tag)[1]
    assert int(kv["ddl_changes"]) >= 1 and "later" in kv["events"], kv


def test_abort_leaves_nothing_behind(servers, world):
    tag = "abt"
    src, pw, prep = prepared_source(servers, tag)
    psql(src.port, "INSERT INTO t(v) SELECT 'x' FROM generate_series(1, 100)", db="app", user=MASTER)
    snap = servers.freeze_copy(src, "snap")
    tgt = servers.restore(snap, "tgt")
    start = tool("find-start-lsn", tgt.log_path, "--segsize", 1 << 20)[1]["start_lsn"]
    tool("clean-target", *conn_a(tgt, "app"), "--tag", tag, "--drop-slots")
    tool("subscribe", *conn_a(tgt, "app"), *conn_b(src, "app", user=f"fc_{tag}_sub"),
         "--password2-env", "FC_SUB_PW", "--tag", tag, "--lsn", start, env=pw)
    tool("cutover-block", *admin_args(src, tag), "--protect", SUPER, env=pw)
    # teardown refuses while roles are blocked: abort must unblock first
    rc, _, _, err = tool("teardown-source", *admin_args(src, tag), env=pw, check=False)
    assert rc == 1 and "unblock first" in err, err

    # abort: unblock, tear down the target, then the source, then the roles
    tool("unblock", *admin_args(src, tag), env=pw)
    tool("teardown-target", *conn_a(tgt, "app"), "--tag", tag)
    # the restore inherited fleetcrypt's schema and roles (roles are instance-wide)
    tool("cleanup-target", *conn_a(tgt, "app"), "--tag", tag)
    tool("drop-roles", *conn_a(tgt, "app"), "--tag", tag)
    tool("teardown-source", *conn_a(src, "app"), "--tag", tag)
    tool("teardown-source", *conn_a(src, "app"), "--tag", tag)  # idempotent
    tool("drop-roles", *conn_a(src, "app"), "--tag", tag)
    tool("drop-roles", *conn_a(src, "app"), "--tag", tag)

    for srv in (src, tgt):
        for db in ("app", "postgres"):
            left = psql(srv.port, f"""
                SELECT (SELECT count(*) FROM pg_publication WHERE pubname LIKE 'fc\\_%')
                     + (SELECT count(*) FROM pg_replication_slots)
                     + (SELECT count(*) FROM pg_subscription)
                     + (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'fc\\_%')
                     + (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'fc\\_%')
                     + (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'fc\\_%')""", db=db)
            if srv is src or db == "app":
                assert left == "0", f"fleetcrypt objects left on port {srv.port} db {db}: {left}"
    # the source is writable by its application role again
    psql(src.port, "INSERT INTO t(v) VALUES ('after abort'); ALTER TABLE t ADD COLUMN z int",
         db="app", user=MASTER)


def test_retained_wal_grows_while_slot_unconsumed(servers):
    tag = "ret"
    src, pw, _ = prepared_source(servers, tag)
    r1 = tool("retained", *conn_a(src, "app"), "--tag", tag)[1]
    assert r1["exists"] == "1" and r1["active"] == "0"
    psql(src.port, "INSERT INTO t(v) SELECT repeat('x', 1000) FROM generate_series(1, 4000)",
         db="app", user=MASTER)
    r2 = tool("retained", *conn_a(src, "app"), "--tag", tag)[1]
    assert int(r2["retained_bytes"]) > int(r1["retained_bytes"]) + 3_000_000, (r1, r2)
    assert int(r2["lag_bytes"]) > 3_000_000
    # abort frees it
    tool("teardown-source", *conn_a(src, "app"), "--tag", tag)
    assert tool("retained", *conn_a(src, "app"), "--tag", tag)[1]["exists"] == "0"


def test_preflight_names_what_cannot_be_replicated(servers):
    src = servers.new("src")
    setup_master(src, dbs=("app", "second"))
    psql(src.port, "CREATE TABLE keyless(x int); CREATE UNLOGGED TABLE scratch(x int);"
                   "SELECT lo_create(0)", db="app", user=MASTER)
    rc, kv, out, _ = tool("preflight", *conn_a(src, "postgres"), "--tag", "pf", check=False)
    assert rc == 1, out
    assert "database=app" in out and "database=second" in out and "template" not in out
    assert "public.keyless" in out and "public.scratch" in out and "large object" in out, out
    psql(src.port, "DROP TABLE scratch; SELECT lo_unlink(oid) FROM pg_largeobject_metadata", db="app")
    rc, kv, out, _ = tool("preflight", *conn_a(src, "postgres"), "--tag", "pf", "--ri-full", check=False)
    assert rc == 0 and "REPLICA IDENTITY FULL" in out, out
