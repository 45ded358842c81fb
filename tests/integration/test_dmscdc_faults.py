"""dms-cdc under faults (all slow: `tests/run --all`):

- AWS faults: at emulator time scale 0.02 (DMS's replication instance,
  RDS's snapshot, copy, restore and rename take modelled time) every AWS
  call may be throttled (throttle_rate 0.2) or fail with a 5xx (0.05) and
  answers 150 ms late: two instances with writers end done, every
  acknowledged number exactly once, nothing of DMS left; the faults really
  hit fleetcrypt's DMS calls.
- abort during catch-up (`fleetcrypt abort`): the instance ends aborted,
  the source as before (writable, no slot, no fleetcrypt object), the DMS
  task, endpoints and the campaign's replication instance deleted, the
  target and snapshots deleted.
- SIGKILL of the worker inside the cutover, twice (crash points
  dmscdc.cutover.blocked: writers blocked, before the drain; and
  dmscdc.cutover.stopped: drained, DMS task stopped, slot not yet dropped),
  each dead worker replaced: the campaign ends done, every acknowledged
  number exactly once.
"""
import json
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import (Writer, aws_leftovers, fleetcrypt_leftovers, instance_state,
                                     logical_group, make_instances, sql, wait_step, wait_terminal)
from test_dmscdc import dms_leftovers, schema, submit_dms

FAULTS = {"throttle_rate": 0.2, "http5xx_rate": 0.05, "latency_ms": 150}


def _setup(stack, sim, ids):
    logical_group(sim)
    make_instances(sim, ids)
    for i in ids:
        schema(sim, i)
    return stack.make_key()["Arn"]


def _exactly_once(sim, ident, w):
    target = [int(x) for x in sql(sim, ident, "SELECT seq FROM a UNION ALL SELECT seq FROM b").split()]
    acked = w.numbers()
    assert len(acked) > 40, f"{ident}: the writer acknowledged only {len(acked)} rows"
    missing = sorted(set(acked) - set(target))
    doubled = len(target) - len(set(target))
    assert not missing and doubled == 0, f"{ident}: missing {missing[:10]} doubled {doubled}"


def _writes_after(writers):
    marks = {i: len(w.numbers()) for i, w in writers.items()}
    for i, w in writers.items():
        wait_until(lambda w=w, i=i: len(w.numbers()) >= marks[i] + 20, 60, 0.1, f"writes after the switch ({i})")
        w.stop()


@pytest.mark.slow
def test_dms_cdc_under_aws_faults_time_scaled(stack, awssim, world):
    sim = awssim
    ids = ["dmsf-1", "dmsf-2"]
    key = _setup(stack, sim, ids)
    stack.start()
    writers = {i: Writer(sim, i, rate=20).start() for i in ids}
    wait_until(lambda: all(len(w.numbers()) >= 10 for w in writers.values()), 60, 0.1, "writes before submit")
    sim.admin("DELETE", "/calls")
    sim.admin("POST", "/config", {"time_scale": 0.02, "faults": FAULTS})
    try:
        submit_dms(stack, "dmsflt", key, ids, world, "--read-only-tables", "public.b")
        st = wait_terminal(stack, "dmsflt", timeout=900)
    finally:
        sim.admin("POST", "/config", {"time_scale": 0, "faults": {"throttle_rate": 0, "http5xx_rate": 0,
                                                                  "latency_ms": 0}})
    for inst in st["instances"]:
        assert inst["state"] == "done", f"instance ended {inst}:\n{stack.diagnostics()}"
    _writes_after(writers)
    for i in ids:
        _exactly_once(sim, i, writers[i])
    calls = sim.admin("GET", "/calls", timeout=120)["calls"]
    dms_refused = [c for c in calls if c.get("error") and c.get("service") == "dms"]
    print(f"faults {FAULTS}: {len([c for c in calls if c.get('error')])} calls refused, "
          f"{len(dms_refused)} of them DMS calls", flush=True)
    assert len(dms_refused) >= 3, "the faults did not hit DMS calls"
    assert dms_leftovers(sim, "dmsflt") == [], dms_leftovers(sim, "dmsflt")


@pytest.mark.slow
def test_dms_cdc_abort_during_catch_up(stack, awssim, world):
    sim = awssim
    ident = "dmsab-1"
    key = _setup(stack, sim, [ident])
    stack.start()
    w = Writer(sim, ident, rate=20).start()
    opts = os.path.join(world, "hold-catch-up.json")
    with open(opts, "w") as f:
        json.dump({"catchup_stable_s": 3600}, f)     # stays in catch-up until aborted
    submit_dms(stack, "dmsab", key, [ident], world, "--read-only-tables", "public.b", "--cutover", "approve",
               "--file", opts)
    wait_step(stack, "dmsab", ident, ("catch-up",), timeout=300)
    assert instance_state(stack, "dmsab", ident)["step"] == "catch-up"
    # DMS really running: fleetcrypt's test_decoding slots (one per database) and a running task
    assert int(sql(sim, ident, "SELECT count(*) FROM pg_replication_slots WHERE plugin = 'test_decoding' "
                               "AND slot_name LIKE 'fc\\_%'").strip()) >= 1
    assert [t for t in dms_leftovers(sim, "dmsab") if t.startswith("task:") and t.endswith(":running")]
    r = stack.cli("abort", "dmsab", ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, "dmsab", timeout=300)
    inst = st["instances"][0]
    assert inst["state"] == "aborted", f"{inst}\n{stack.diagnostics()}"
    # the source as before: writable, no slot, no fleetcrypt object, unencrypted
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 10, 60, 0.1, "writes on the source after the abort")
    w.stop()
    assert sql(sim, ident, "SELECT count(*) FROM pg_replication_slots").strip() == "0"
    assert fleetcrypt_leftovers(sim, ident) == [], fleetcrypt_leftovers(sim, ident)
    assert not sim.instance(ident)["StorageEncrypted"]
    # every row the writer was told committed is on the source
    _exactly_once(sim, ident, w)
    # DMS: task, endpoints and the campaign's replication instance gone; target and snapshots gone
    wait_until(lambda: dms_leftovers(sim, "dmsab") == [], 120, 0.5, "no DMS resource of the campaign left")
    wait_until(lambda: aws_leftovers(sim, "dmsab") == [], 120, 0.5, "no fc-dmsab-* instance or snapshot left")


@pytest.mark.slow
def test_dms_cdc_worker_killed_inside_cutover(stack, awssim, world):
    sim = awssim
    ids = ["dmsk-1"]
    key = _setup(stack, sim, ids)
    crash = os.path.join(world, "crash")
    os.makedirs(crash)
    points = ["dmscdc.cutover.blocked", "dmscdc.cutover.stopped"]
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": crash, "FLEETCRYPT_TEST_CRASH_AT": ",".join(points)})
    stack.start()
    writers = {i: Writer(sim, i, rate=30).start() for i in ids}
    wait_until(lambda: all(len(w.numbers()) >= 20 for w in writers.values()), 60, 0.1, "writes before submit")
    submit_dms(stack, "dmskill", key, ids, world, "--read-only-tables", "public.b")
    deaths = []

    def replace_dead(_st):
        # a SIGKILLed worker is replaced, as its supervisor would
        while len(stack.live_workers()) < stack.n_workers:
            deaths.append(1)
            stack.start_worker()
    st = stack.wait_campaign("dmskill", 420, on_tick=replace_dead)
    assert len(deaths) >= 2, f"workers replaced: {len(deaths)}"
    for p in points:
        assert os.path.exists(os.path.join(crash, p)), f"crash point {p} never fired"
    for inst in st["instances"]:
        assert inst["state"] == "done", f"instance ended {inst}:\n{stack.diagnostics()}"
    _writes_after(writers)
    for i in ids:
        _exactly_once(sim, i, writers[i])
        assert sim.instance(i)["StorageEncrypted"]
    assert dms_leftovers(sim, "dmskill") == [], dms_leftovers(sim, "dmskill")
