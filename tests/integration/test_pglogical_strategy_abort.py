"""Strategy pg-logical: everything that ends in `abort`, on real servers
(emulator time scale 0, real PostgreSQL behind every instance).

- DDL on the source during catch-up → the instance is aborted by the DDL
  guard: writers keep writing to the source, nothing of fleetcrypt's is
  left on it, no target instance or snapshot remains;
- retained WAL over the campaign's max_retained_wal_bytes → aborted (slot
  dropped) before the source fills;
- A5: one campaign, each instance aborted (`fleetcrypt abort`) at a
  different step → every source writable by its application role, no
  publication / slot / subscription / fleetcrypt role / snapshot / target
  instance left.
"""
import time

import pytest

from fclib import wait_until
from pglogical_strategy_util import (Writer, app_schema, aws_leftovers, fleetcrypt_leftovers, instance_state,
                                     logical_group, make_instances, sql, submit, wait_step, wait_terminal)


def assert_clean_source(sim, campaign, ident):
    # writable by the application role (the master user here)
    sql(sim, ident, "INSERT INTO b(seq) VALUES (nextval('wseq'))")
    assert fleetcrypt_leftovers(sim, ident) == [], f"fleetcrypt objects left on {ident}"
    assert fleetcrypt_leftovers(sim, ident, db="postgres") == [], f"fleetcrypt objects left on {ident}/postgres"
    inst = sim.instance(ident)
    assert not inst["StorageEncrypted"], "the source itself must be untouched"


def wait_aws_clean(sim, campaign, timeout=60):
    wait_until(lambda: aws_leftovers(sim, campaign) == [], timeout, 0.5,
               f"no fc-{campaign}-* instance or snapshot left")


def test_ddl_during_catch_up_aborts(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ident = "pgl-ddl"
    make_instances(sim, [ident])
    app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, ident, rate=20).start()
    # the window never opens today → the instance stays in catch-up/cutover, replicating
    submit(stack, "ddl", key, [ident], world, "--cutover", "approve")
    wait_step(stack, "ddl", ident, ("catch-up", "cutover"), timeout=240)
    sql(sim, ident, "ALTER TABLE a ADD COLUMN note text")
    st = wait_terminal(stack, "ddl", timeout=180)
    w.stop()
    inst = st["instances"][0]
    assert inst["step"] == "abort", f"expected the abort step to end it, got {inst}\n{stack.diagnostics()}"
    assert_clean_source(sim, "ddl", ident)
    wait_aws_clean(sim, "ddl")
    n = len(w.numbers())
    assert n > 20, "the writer could not write during the run"
    # the record state needs the runner's abort hook (pglogical.c, hook 4)
    assert inst["state"] == "aborted", f"expected aborted, got {inst}"
    assert "schema changed" in (inst["error"] or ""), inst


def test_retained_wal_limit_aborts(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ident = "pgl-wal"
    make_instances(sim, [ident])
    app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    submit(stack, "wal", key, [ident], world, "--cutover", "approve")
    # the campaign limit: low enough that bulk writes during catch-up pass it
    stack.redis.cli("HSET", "fc:{wal}:campaign", "max_retained_wal_bytes", "4M")
    wait_step(stack, "wal", ident, ("catch-up", "cutover"), timeout=240)
    # stall the apply side (a lock on the target, the subscription stays enabled and error-free)
    # so the slot holds WAL, then write a lot on the source
    import os
    import subprocess
    from fclib import PG_BIN
    tgt = sim.instance("fc-wal-pgl-wal-target")
    locker = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p",
                               str(tgt["Endpoint"]["Port"]), "-U", "app", "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              text=True, env=dict(os.environ, PGPASSWORD="app-password-1"))
    locker.stdin.write("BEGIN; LOCK TABLE b IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);\n")
    locker.stdin.flush()
    try:
        time.sleep(1.0)
        sql(sim, ident, "INSERT INTO b(seq) SELECT g FROM generate_series(1, 200000) g")
        st = wait_terminal(stack, "wal", timeout=180)
    finally:
        locker.kill()
        locker.wait(timeout=10)
    inst = st["instances"][0]
    assert inst["step"] == "abort", f"expected the abort step to end it, got {inst}\n{stack.diagnostics()}"
    assert_clean_source(sim, "wal", ident)
    wait_aws_clean(sim, "wal")
    # the record state needs the runner's abort hook (pglogical.c, hook 4)
    assert inst["state"] == "aborted", f"expected aborted, got {inst}"
    assert "max_retained_wal_bytes" in (inst["error"] or ""), inst


ABORT_AT = ["prepare-source", "snapshot", "copy-encrypted", "restore", "find-start-lsn", "catch-up",
            "cutover"]  # parked at cutover: waiting for approval, before any block or switch


def test_abort_at_every_step(stack, awssim, world):
    """A5: one campaign, each instance aborted at a different step."""
    sim = awssim
    logical_group(sim)
    ids = [f"pgl-ab{k}" for k in range(len(ABORT_AT))]
    make_instances(sim, ids)
    for i in ids:
        app_schema(sim, i)
    key = stack.make_key()["Arn"]
    # slow the AWS side a little so every step can be caught
    sim.admin("POST", "/config", {"time_scale": 0.002})
    stack.start()
    submit(stack, "a5", key, ids, world, "--cutover", "approve")
    for ident, step in zip(ids, ABORT_AT):
        wait_step(stack, "a5", ident, (step,), timeout=240)
        r = stack.cli("abort", "a5", ident)
        assert r.returncode == 0, f"fleetcrypt abort a5 {ident} failed: {r.stderr.strip()}"
    st = wait_terminal(stack, "a5", timeout=420)
    for i in st["instances"]:
        assert i["state"] == "aborted", i
    for ident in ids:
        assert_clean_source(sim, "a5", ident)
    wait_aws_clean(sim, "a5")
