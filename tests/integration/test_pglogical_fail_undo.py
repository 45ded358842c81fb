"""Strategy pg-logical, finding 5: a failed instance must not hold WAL.

A permanent failure in catch-up (here: fleetcrypt's own bookkeeping table on
the target broken by hand, an SQL error no retry can fix) used to end the
instance `failed` with its slot still retaining WAL on the production
source, nobody watching. The step's on_fail now runs the undo step: the
instance ends `failed` at catch-up with its original reason, saying the slot
was dropped; nothing of fleetcrypt's is left on the source (no slot), the
target and snapshots are deleted, the application keeps writing, and
`fleetcrypt retry` refuses (there is nothing to resume).
"""
import time

from fclib import wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (MASTER, PASSWORD, Writer, aws_leftovers, fleetcrypt_leftovers, instance_state,
                                     ready_source, sql, submit, wait_step, wait_terminal)

CAMPAIGN = "undo"
IDENT = "pgl-undo"


def fact(stack, name):
    v = stack.redis.cli("HGET", f"fc:{{{CAMPAIGN}}}:i:{IDENT}", f"f.{name}")
    return v.strip() if v else ""


def test_failure_in_catch_up_drops_the_slot_and_ends_failed(stack, awssim, world):
    sim = awssim
    key = ready_source(stack, sim, IDENT)
    w = Writer(sim, IDENT, rate=20).start()
    try:
        # approve mode: without the failure it would park at the cutover, replicating
        submit(stack, CAMPAIGN, key, [IDENT], world, "--cutover", "approve")
        wait_step(stack, CAMPAIGN, IDENT, ("catch-up", "cutover"), timeout=240)
        assert instance_state(stack, CAMPAIGN, IDENT)["step"] == "catch-up"
        tport = sim.instance(f"fc-{CAMPAIGN}-{IDENT}-target")["Endpoint"]["Port"]
        find = ("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'live_state' AND n.nspname LIKE 'fc\\_%'")
        schema = wait_until(lambda: psql(tport, MASTER, PASSWORD, find, db="app"), 60, 0.3,
                            "catch-up's state table on the target")
        assert int(sql(sim, IDENT, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'fc\\_%'")) >= 1
        # a permanent SQL error inside catch-up (undefined column: no retry can fix it)
        psql(tport, MASTER, PASSWORD, f'ALTER TABLE "{schema}".live_state RENAME COLUMN state TO broken', db="app")
        st = wait_terminal(stack, CAMPAIGN, timeout=300)
        time.sleep(0.5)
        n_before = len(w.numbers())
        time.sleep(1.0)
        assert len(w.numbers()) > n_before, "the application must keep writing to the source"
    finally:
        w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "failed", f"expected failed (not aborted), got {inst}\n{stack.diagnostics()}"
    assert inst["step"] == "catch-up", inst
    err = inst["error"] or ""
    assert "failed at catch-up; slot dropped, source untouched" in err, err
    assert "live validation" in err and "42703" in err, err   # the original reason kept
    # nothing retains WAL on the source, nothing of fleetcrypt's is left there or in AWS
    assert sql(sim, IDENT, "SELECT count(*) FROM pg_replication_slots") == "0"
    assert fleetcrypt_leftovers(sim, IDENT) == [] and fleetcrypt_leftovers(sim, IDENT, db="postgres") == []
    wait_until(lambda: aws_leftovers(sim, CAMPAIGN) == [], 60, 0.5, "target and snapshots deleted")
    assert not sim.instance(IDENT)["StorageEncrypted"]
    sql(sim, IDENT, "INSERT INTO b(seq) VALUES (-1)")
    # the record keeps the original failure; the undo is done, so retry has nothing to resume
    assert fact(stack, "undo_from") == "catch-up" and fact(stack, "undo_done") == "1"
    assert "live validation" in fact(stack, "undo_reason"), fact(stack, "undo_reason")
    r = stack.cli("retry", CAMPAIGN, IDENT)
    assert r.returncode != 0 and "already undone" in (r.stdout + r.stderr), (r.returncode, r.stdout, r.stderr)
    # status shows it
    r = stack.cli("status", CAMPAIGN)
    assert r.returncode == 0 and "slot dropped, source untouched" in r.stdout, r.stdout
