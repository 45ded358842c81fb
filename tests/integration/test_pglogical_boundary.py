"""A2 — exactly once at the snapshot boundary, against real PostgreSQL 15.

A writer (pgbench, connected as the application's master user) commits
single-row transactions into a keyed table and a keyless one (replica
identity full, set by prepare-source), each row carrying a unique number from
one sequence, from before prepare-source until the cutover block stops it.
The source is frozen and copied (a storage snapshot), the copy started
("restore"), the start LSN read from its log by find-start-lsn, and the
subscription started there. After cutover: no number missing, none twice,
no apply error, and a new insert on the target does not collide.

Negative control, same snapshot: a second restored copy subscribed at
"redo done at" (a second slot made with prepare-source's) applies the last
transaction of the snapshot twice (a doubled row in the keyless table or a
duplicate-key error on the keyed one) in at least one run.
"""
import os
import subprocess
import time

import pytest

from fixtures_pg import *  # noqa: F401,F403
from fixtures_pg import (MASTER, SUPER, WAL_SEGSIZE, Writer, conn_a, conn_b, fc_passwords, psql,
                         read_log, setup_master, tool)

RUNS = int(os.environ.get("FC_A2_RUNS", "3"))
CONTROL = []  # per run: number of doubled applications seen when starting at "redo done at"

SCRIPT = ("INSERT INTO a(seq) VALUES (nextval('wseq'));\n"
          "INSERT INTO b(seq) VALUES (nextval('wseq'));\n")


def numbers(port, table, db="app"):
    out = psql(port, f"SELECT seq FROM {table} ORDER BY seq", db=db)
    return [int(x) for x in out.split()] if out else []


@pytest.mark.parametrize("run", range(RUNS))
def test_exactly_once_across_snapshot(run, servers, writers, world):
    tag = f"a2r{run}"
    # even runs commit synchronously (WAL ends mid-page: record-level end-of-WAL
    # message), odd runs asynchronously (WAL written in whole pages: page-level)
    src = servers.new("src", extra_conf="synchronous_commit=on" if run % 2 == 0 else "")
    setup_master(src)
    psql(src.port, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                   "CREATE TABLE b(seq bigint NOT NULL);"   # no key at all
                   "CREATE SEQUENCE wseq;", db="app", user=MASTER)
    w = Writer(world, src.port, "app", MASTER, SCRIPT, rate=150)
    writers.append(w)
    time.sleep(1.0)

    pw = fc_passwords(tag)
    tool("create-roles", *conn_a(src, "app"), "--tag", tag, "--admin-password-env", "FC_ADMIN_PW",
         "--sub-password-env", "FC_SUB_PW", env=pw)
    prep = tool("prepare-source", *conn_a(src, "app"), "--tag", tag, "--ri-full")[1]
    slot = prep["slot"]
    assert psql(src.port, "SELECT relreplident FROM pg_class WHERE relname = 'b'", db="app") == "f"
    # negative control's slot, made the same way, right after ours
    psql(src.port, "SELECT pg_create_logical_replication_slot('ctl_redo', 'pgoutput')", db="app")
    time.sleep(1.0 + 0.3 * run)   # vary where the snapshot falls
    assert w.alive(), "writer died before the snapshot"

    snap = servers.freeze_copy(src, "snap")
    with open(src.log_path, "rb") as f:
        src_old_log = f.read()  # the source's log as the snapshot holds it
    restored_after = int(time.time())  # every source line in it is older; the restore starts after
    ctl_dir = os.path.join(world, "ctl")
    subprocess.run(["cp", "-a", snap, ctl_dir], check=True)
    tgt = servers.restore(snap, "tgt")
    ctl = servers.restore(ctl_dir, "ctl")

    prefix = ("--line-prefix", "%m [%p] ")  # PostgreSQL 15's default log_line_prefix
    found = tool("find-start-lsn", tgt.log_path, "--segsize", WAL_SEGSIZE, *prefix,
                 "--not-before", prep["slot_lsn"])[1]
    start, redo_done = found["start_lsn"], found["redo_done"]
    assert start != redo_done, "find-start-lsn must never answer 'redo done at'"
    # the copy restored from the same snapshot bytes must tell the same story
    assert tool("find-start-lsn", ctl.log_path, "--segsize", WAL_SEGSIZE, *prefix)[1]["start_lsn"] == start
    # the source's own log before the restore's (as RDS keeps it on the restored
    # volume): with the restore time, the same start, from the same startup process
    both = os.path.join(world, f"both{run}.log")
    with open(both, "wb") as out:
        out.write(src_old_log)
        with open(tgt.log_path, "rb") as f:
            out.write(f.read())
    again = tool("find-start-lsn", both, "--segsize", WAL_SEGSIZE, *prefix,
                 "--restored-after", restored_after, "--not-before", prep["slot_lsn"])[1]
    assert (again["start_lsn"], again["startup_pid"]) == (start, found["startup_pid"])

    # target: inherited slots and fleetcrypt objects out, subscription at the end of WAL
    cleaned = tool("clean-target", *conn_a(tgt, "app"), "--tag", tag, "--drop-slots")[1]
    assert int(cleaned["slots_dropped"]) == 2
    sub_args = conn_b(src, "app", user=f"fc_{tag}_sub") + ["--password2-env", "FC_SUB_PW"]
    tool("subscribe", *conn_a(tgt, "app"), *sub_args, "--tag", tag, "--lsn", start, env=pw)
    tool("subscribe", *conn_a(tgt, "app"), *sub_args, "--tag", tag, "--lsn", start, env=pw)  # idempotent

    # control: same snapshot, started at "redo done at" on its own slot
    tool("clean-target", *conn_a(ctl, "app"), "--tag", "ctl", "--drop-slots")
    psql(ctl.port, "CREATE SUBSCRIPTION ctl CONNECTION "
                   f"'host=127.0.0.1 port={src.port} dbname=app user={SUPER}' PUBLICATION fc_{tag} "
                   "WITH (create_slot=false, enabled=false, copy_data=false, slot_name='ctl_redo', "
                   "disable_on_error=true)", db="app")
    psql(ctl.port, f"SELECT pg_replication_origin_advance('pg_'||oid, '{redo_done}') "
                   "FROM pg_subscription WHERE subname='ctl'", db="app")
    psql(ctl.port, "ALTER SUBSCRIPTION ctl ENABLE", db="app")

    time.sleep(2.0)   # catch-up while the writer goes on
    st = tool("sub-status", *conn_a(tgt, "app"), "--tag", tag)[1]
    assert st["enabled"] == "1" and st["apply_errors"] == "0", st
    assert w.alive(), "writer stopped before the cutover"

    # cutover: the block stops the writer (connected as the master user)
    admin = ["--host", "127.0.0.1", "--port", src.port, "--db", "app", "--user", f"fc_{tag}_admin",
             "--password-env", "FC_ADMIN_PW", "--tag", tag]
    blk = tool("cutover-block", *admin, "--protect", SUPER, env=pw)[1]
    assert MASTER in blk["roles"].split(","), blk
    time.sleep(0.5)
    assert not w.alive(), "the writer survived the cutover block"
    tool("wait-flush", *admin, "--lsn", blk["lsn"], "--timeout-ms", 60000, env=pw)
    tool("sync-sequences", *admin, *conn_b(tgt, "app"), env=pw)
    st = tool("sub-status", *conn_a(tgt, "app"), "--tag", tag)[1]
    assert st["enabled"] == "1" and st["apply_errors"] == "0", f"apply error on the target: {st}"
    tool("teardown-target", *conn_a(tgt, "app"), "--tag", tag)
    tool("teardown-source", *admin, "--keep-block", env=pw)

    # exactly once: the same numbers on both sides, none twice
    for t in ("a", "b"):
        s, d = numbers(src.port, t), numbers(tgt.port, t)
        assert len(s) > 200, f"writer wrote too little into {t}: {len(s)}"
        missing = sorted(set(s) - set(d))
        extra = sorted(set(d) - set(s))
        doubled = len(d) - len(set(d))
        assert not missing and not extra and doubled == 0, \
            f"table {t}: missing {missing[:10]} extra {extra[:10]} doubled {doubled} " \
            f"(start {start}, redo done {redo_done})"
    assert "duplicate key" not in read_log(tgt)
    assert "logical replication apply worker" not in read_log(tgt) or \
        "ERROR" not in "".join(l for l in read_log(tgt).splitlines() if "apply worker" in l)

    # after cutover the application writes to the target: nothing collides
    psql(tgt.port, "INSERT INTO a(seq) VALUES (nextval('wseq')); INSERT INTO b(seq) VALUES (nextval('wseq'))",
         db="app", user=MASTER)
    assert psql(tgt.port, "SELECT count(*) - count(DISTINCT seq) FROM a", db="app") == "0"
    src_max = max(numbers(src.port, "a") + numbers(src.port, "b"))
    assert int(psql(tgt.port, "SELECT max(seq) FROM b", db="app")) > src_max

    # negative control: starting at "redo done at" applies the last transaction again
    time.sleep(1.0)
    dup_b = int(psql(ctl.port, "SELECT count(*) - count(DISTINCT seq) FROM b", db="app"))
    ctl_log = read_log(ctl)
    dup_key = ctl_log.count("duplicate key value violates unique constraint")
    CONTROL.append(dup_b + (1 if dup_key else 0))
    print(f"run {run}: start={start} redo_done={redo_done} kind={found['kind']} "
          f"control doubled_b={dup_b} dupkey_errors={dup_key}")


def test_redo_done_control_doubles_at_least_once():
    """The test can fail: starting at "redo done at" double-applies in >= 1 run."""
    if len(CONTROL) < RUNS:
        pytest.skip("the exactly-once runs did not all complete")
    assert sum(1 for c in CONTROL if c > 0) >= 1, f"no double application seen at redo done: {CONTROL}"
