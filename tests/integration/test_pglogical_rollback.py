"""pg-logical's rollback window (--rollback-window; docs/pg-logical.md,
"Rollback window") end to end on real servers (Redis, Kafka, the AWS
emulator with a real PostgreSQL behind every instance, real workers,
coordinator and CLI).

A writer (single-row autocommit INSERTs through the identifier's endpoint,
as the master user, every acknowledged number kept) runs across the
cutover, for a while on the encrypted target, then:
- rollback: across `fleetcrypt rollback`, and on the source again: every
  acknowledged number is on the (unencrypted) source exactly once; the
  reverse replication left nothing on the source (no subscription, slot,
  publication, replication origin) nor on the kept, blocked target (no
  reverse slot or publication); a second rollback is harmless ("already
  rolled back"), a finalize refused with a reason;
- finalize: every acknowledged number on the encrypted instance exactly
  once, the done contract (nothing of fleetcrypt left on the target; the
  retired source, read from its stopped data directory, holds no
  subscription, slot, publication or origin), and a rollback refused;
- a worker SIGKILLed inside the rollback's cutover (after the target's
  block, after the drain, after the switch back): the rollback finishes with the same guarantees.
Run at FLEETCRYPT_SIM_TIME_SCALE=0 (the suite's default) and 0.02.
"""
import json
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import (Writer, app_schema, exactly_once, fleetcrypt_leftovers, frozen_rows,
                                     instance_state, logical_group, make_instances, retired_of, sql, submit,
                                     wait_terminal)

REVERSE = """
SELECT 'slot:'||slot_name FROM pg_replication_slots WHERE slot_name LIKE 'fc\\_%'
UNION ALL SELECT 'pub:'||pubname FROM pg_publication WHERE pubname LIKE 'fc\\_%'
UNION ALL SELECT 'sub:'||subname FROM pg_subscription WHERE subname LIKE 'fc\\_%'
UNION ALL SELECT 'origin:'||external_id FROM pg_replication_origin_status
"""


def _lines(text):
    return [x for x in text.split("\n") if x]


def _fact(stack, campaign, ident, name):
    v = stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", f"f.{name}")
    return (v or "").strip()


def _open_window(stack, sim, world, campaign, ident, during=None):
    """Instance set up, writer started, campaign submitted with a window,
    the window open and writes acknowledged on the target. Returns (writer,
    number of acks at the switch). `during` (emulator /config, e.g. AWS
    faults) is applied just before submit."""
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, ident, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    if during:
        sim.admin("POST", "/config", during)
    submit(stack, campaign, key, [ident], world, "--rollback-window", "30m")

    def in_window():
        i = instance_state(stack, campaign, ident)
        terminal = i["state"] in ("done", "failed", "aborted", "skipped")
        return i if terminal or (i["step"] == "rollback-window" and i["state"] == "waiting_approval") else None
    i = wait_until(in_window, 300, 0.3, "the rollback window open")
    assert i["state"] == "waiting_approval", f"{i}\n{stack.diagnostics()}"
    assert _fact(stack, campaign, ident, "rb_reverse") == "1"
    assert int(_fact(stack, campaign, ident, "rb_until_ms")) > 0
    n = len(w.numbers())
    # writes on the encrypted target, carried back while the window is open
    wait_until(lambda: len(w.numbers()) >= n + 60, 90, 0.1, "writes on the target")
    wait_until(lambda: _fact(stack, campaign, ident, "rb_lag_bytes").isdigit(), 30, 0.2, "reverse lag recorded")
    st = stack.cli("status", campaign)
    assert st.returncode == 0 and "rollback window: open" in st.stdout, st.stdout
    top = stack.cli("top", campaign, "-o", "json")
    assert top.returncode == 0, top.stderr
    rbw = json.loads(top.stdout)["rollback_windows"]
    assert [x["id"] for x in rbw] == [ident] and rbw[0]["ends_in_s"] > 0, rbw
    return w, key


def _report_window(stack, campaign):
    r = stack.cli("report", campaign, "-o", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    rows = data["instances"] if isinstance(data, dict) else data
    return rows[0]["rollback_window"]


def _rollback(stack, sim, world, campaign, ident, crash=None, during=None, after=None):
    """during: as _open_window's (it stays across the rollback); after:
    emulator /config applied once the rollback ended, before the checks."""
    if crash:
        os.makedirs(crash["dir"])
        stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": crash["dir"], "FLEETCRYPT_TEST_CRASH_AT": crash["at"]})
    w, _key = _open_window(stack, sim, world, campaign, ident, during=during)
    r = stack.cli("rollback", campaign, ident)
    assert r.returncode == 0 and "requested" in r.stdout, (r.returncode, r.stdout, r.stderr)
    r2 = stack.cli("finalize", campaign, ident)
    assert r2.returncode == 3 and "refused" in r2.stdout, (r2.returncode, r2.stdout)
    st, _replaced = stack.until_terminal(campaign, 300)
    if after:
        sim.admin("POST", "/config", after)
    inst = st["instances"][0]
    assert inst["state"] == "aborted" and "rolled back" in (inst.get("reason") or inst.get("error") or ""), \
        f"{inst}\n{stack.diagnostics()}"
    if crash:
        for p in crash["at"].split(","):
            assert os.path.exists(os.path.join(crash["dir"], p)), f"crash point {p} never fired"
    assert _report_window(stack, campaign)["state"] == "rolled-back"
    # writes on the source again, through the same identifier
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 40, 90, 0.1, "writes on the source after the rollback")
    w.stop()
    assert not sim.instance(ident)["StorageEncrypted"], "the identifier should be the (unencrypted) source again"
    problems = exactly_once(sim, ident, w, min_acked=150)
    assert not problems, problems
    assert _lines(sql(sim, ident, REVERSE)) == [], "reverse replication left on the source"
    # the encrypted instance is kept (blocked), with nothing of the reverse path
    tid = f"fc-{campaign}-{ident}-target"
    assert sim.instance(tid)["StorageEncrypted"]
    # a second rollback is harmless, a finalize refused
    r3 = stack.cli("rollback", campaign, ident)
    assert r3.returncode == 0 and "already rolled back" in r3.stdout, (r3.returncode, r3.stdout)
    r4 = stack.cli("finalize", campaign, ident)
    assert r4.returncode == 3 and "refused" in r4.stdout, (r4.returncode, r4.stdout)
    return tid


@pytest.mark.slow  # ~105 s: over the CI budget of one helper test
def test_rollback_keeps_every_write(stack, awssim, world):
    _rollback(stack, awssim, world, "rbk", "pgl-rbk")


@pytest.mark.slow
def test_rollback_worker_killed_inside(stack, awssim, world):
    _rollback(stack, awssim, world, "rbkill", "pgl-rbkill",
              crash={"dir": os.path.join(world, "crash"), "at": "rollback.blocked,rollback.drained,rollback.switched"})


@pytest.mark.slow
def test_finalize_leaves_nothing(stack, awssim, world):
    _finalize(stack, awssim, world, "rbfin", "pgl-rbfin")


def _finalize(stack, sim, world, campaign, ident, during=None, after=None):
    """during/after: as _rollback's."""
    w, key = _open_window(stack, sim, world, campaign, ident, during=during)
    r = stack.cli("finalize", campaign, ident)
    assert r.returncode == 0 and "requested" in r.stdout, (r.returncode, r.stdout, r.stderr)
    st = wait_terminal(stack, campaign, timeout=300)
    if after:
        sim.admin("POST", "/config", after)
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    assert _fact(stack, campaign, ident, "rb_state") == "finalized"
    assert _report_window(stack, campaign)["state"] == "finalized"
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "writes after finalize")
    w.stop()
    assert sim.instance(ident)["StorageEncrypted"] and sim.instance(ident)["KmsKeyId"] == key
    problems = exactly_once(sim, ident, w, min_acked=150)
    assert not problems, problems
    assert fleetcrypt_leftovers(sim, ident) == [], "fleetcrypt objects left on the target"
    assert _lines(sql(sim, ident, REVERSE)) == [], "reverse replication left on the target"
    retired = retired_of(sim, ident)
    assert len(retired) == 1, retired
    left = frozen_rows(sim, retired[0]["DBInstanceIdentifier"], " ".join(REVERSE.split()))
    assert left == [], f"reverse replication left on the retired source: {left}"
    r2 = stack.cli("rollback", campaign, ident)
    assert r2.returncode == 3 and "refused" in r2.stdout, (r2.returncode, r2.stdout)
