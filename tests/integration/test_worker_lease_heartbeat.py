"""The worker's lease heartbeat (worker/lease_keeper.c), on real servers.

A pg-logical instance's `prepare-source` is caught waiting on a lock held by
the test (an open write transaction on the source: creating the logical slot
waits for it) for clearly longer than the lease TTL (the fixtures use 8 s;
the lock is held ~20 s, PostgreSQL's lock_timeout of 10 s ends the wait).
Meanwhile `fleetcrypt abort` is requested. The heartbeat keeps the step's
lease, so the `abort` step cannot begin while the blocked step still runs:
the blocked step's own outcome is recorded (not fenced out), the undo step
starts only after it, the instance ends `aborted` and nothing of
fleetcrypt's is left on the source. Without the heartbeat the lease expires
at 8 s, the abort takes the instance over while prepare-source is still
inside its call, and prepare-source's outcome is dropped as fenced.
"""
import re
import time
from datetime import datetime, timezone

from fclib import wait_until
from pglogical_strategy_util import (app_schema, endpoint, fleetcrypt_leftovers, instance_state, logical_group,
                                     make_instances, sql, submit, wait_terminal)
from test_pglogical_strategy_abort import Locker, wait_aws_clean

LEASE_S = 8.0      # FLEETCRYPT_LEASE_MS in tests/integration/fixtures_stack.py
HOLD_S = 20.0      # clearly longer than the lease
LINE = re.compile(r"^(\S+) step=(\S+) attempt=(\S+) outcome=(\S+) (\S+)->(\S+)(.*)$")


def _events(stack, campaign, ident):
    """`fleetcrypt logs` of one instance as dicts (end time, step, attempt,
    outcome, to, next, duration_s, start time)."""
    out = stack.cli("logs", campaign, ident, check=True).stdout
    evs = []
    for ln in out.splitlines():
        m = LINE.match(ln)
        if not m:
            continue
        ts, step, attempt, outcome, frm, to, rest = m.groups()
        end = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
        d = re.search(r"duration_ms=(\d+)", rest)
        nx = re.search(r"next=(\S+)", rest)
        dur = int(d.group(1)) / 1000.0 if d else 0.0
        evs.append({"end": end, "start": end - dur, "dur": dur, "step": step, "attempt": attempt,
                    "outcome": outcome, "to": to, "next": nx.group(1) if nx else "", "line": ln})
    return evs, out


def test_blocked_step_keeps_its_lease_until_it_ends(stack, awssim, world):
    sim = awssim
    campaign, ident = "hb", "pgl-hb"
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    # An open write transaction: the logical slot prepare-source creates waits
    # for it to finish (a busy database; nothing test-only in fleetcrypt).
    lk = Locker(endpoint(sim, ident), "app", "INSERT INTO a(seq) VALUES (nextval('wseq'))",
                "SELECT count(*) FROM pg_locks WHERE relation = 'public.a'::regclass "
                "AND mode = 'RowExclusiveLock' AND granted")
    try:
        stack.start()
        submit(stack, campaign, key, [ident], world, "--cutover", "approve")
        # prepare-source waits on our transaction
        wait_until(lambda: lk.waiting_steps() > 0, 120, 0.2, "a fleetcrypt session waiting on the test's lock")
        caught = time.time()
        rec = instance_state(stack, campaign, ident)
        assert rec["step"] == "prepare-source", f"a fleetcrypt session waits on our lock at {rec}"
        r = stack.cli("abort", campaign, ident)
        assert r.returncode == 0, f"fleetcrypt abort {campaign} {ident}: {r.stderr.strip()}"
        # hold the lock well past the lease TTL
        while time.time() < caught + HOLD_S:
            time.sleep(0.5)
    finally:
        lk.release()
    released = time.time()
    st = wait_terminal(stack, campaign, timeout=120)
    inst = st["instances"][0]
    assert inst["state"] == "aborted", f"expected aborted, got {inst}\n{stack.diagnostics()}"

    evs, log = _events(stack, campaign, ident)
    req = [e for e in evs if e["outcome"] == "abort-requested"]
    assert req, f"the abort request is not in the instance's events:\n{log}"
    # transitions recorded by step runs (not the CLI's abort request)
    ps = [e for e in evs if e["step"] == "prepare-source" and e["outcome"] != "abort-requested"]
    assert ps, f"no prepare-source transition recorded:\n{log}"
    blocked = ps[0]
    assert req[0]["end"] < blocked["end"], f"the abort was not requested while the step was blocked:\n{log}"
    # the blocked run's own outcome was recorded, after being blocked past the
    # lease TTL (it ran from before we caught it until PostgreSQL's lock timeout)
    assert blocked["dur"] > LEASE_S, \
        f"the blocked prepare-source's outcome is not recorded (first one lasted {blocked['dur']} s):\n{log}"
    assert blocked["next"] != "abort", f"the abort took over the blocked step's run:\n{log}"
    assert blocked["end"] < released, f"the blocked run ended after the lock was released:\n{log}"
    aborts = [e for e in evs if e["step"] == "abort"]
    assert aborts, f"the abort step never ran:\n{log}"
    first_abort_start = min(e["start"] for e in aborts)
    assert first_abort_start >= blocked["end"] - 0.05, \
        f"abort began at {first_abort_start:.3f}, before the blocked step ended at {blocked['end']:.3f}:\n{log}"
    redirect = [e for e in evs if e["next"] == "abort" and e["outcome"] == "next"]
    assert redirect and redirect[0]["end"] >= blocked["end"], f"the undo step was entered too early:\n{log}"

    # no executor recorded an outcome without its lease, none lost it
    wlogs = "".join(open(w.log_path, errors="replace").read() for w in stack.workers)
    mine = [ln for ln in wlogs.splitlines() if f"instance={ident}" in ln]
    bad = [ln for ln in mine if "lease lost" in ln or "lease was lost" in ln]
    assert not bad, "a step lost its lease:\n" + "\n".join(bad)

    # nothing of fleetcrypt's left on the source, which is still writable
    sql(sim, ident, "INSERT INTO b(seq) VALUES (nextval('wseq'))")
    assert fleetcrypt_leftovers(sim, ident) == [], f"fleetcrypt objects left on {ident}"
    assert fleetcrypt_leftovers(sim, ident, db="postgres") == [], f"fleetcrypt objects left on {ident}/postgres"
    wait_aws_clean(sim, campaign)
