"""A short A6 for every CI run (issue 11, "Chaos in CI"; the full one is
test_a6_full.py, `tests/run --all`): a pg-logical campaign of two
instances with an application-role writer each (keyed and keyless table),
two workers, while

- the lease holder is SIGKILLed at fixed points, each once, through the
  workers' test crash points (lib/util.c fc_crashpoint:
  FLEETCRYPT_TEST_CRASH_DIR / FLEETCRYPT_TEST_CRASH_AT): during catch-up
  (`step.catch-up`: its work done, its outcome not recorded), after the
  target's block before the window and before the source's
  (`cutover.target_blocked`), after the
  block and before the drain (`cutover.blocked`), after disabling the
  subscriptions inside the window (`cutover.disabled`), after the switch and
  before writers are let in on the target (`cutover.switched`), between
  dropping the subscriptions and the slots after the writers are in
  (`cutover.teardown`); a killed
  worker is replaced at once (same environment);
- Redis is SIGKILLed once (at the first snapshot/copy/restore seen) and
  restarted from its AOF;
- one Kafka broker is down for BROKER_DOWN_S (from the first
  prepare-target or later step seen).

Asserted: every crash point fired (its file exists, written by one of our
workers, which is dead) and every fault happened; every instance done; A2
(every acknowledged number exactly once on the encrypted instance); the
frozen source a subset of the target, still blocked; nothing left behind
(no fleetcrypt slot / publication / subscription / event trigger on either
side, no role on the target — the retired source keeps only the record
schema and admin role docs/pg-logical.md promises for `unblock` — no
intermediate snapshot or instance, no instance but the originals and one
retired source each); no duplicate create (conflict log, call log); no
`overlap` conflict in the emulator; and no two
holders' step intervals for one instance overlap.

Holder intervals: lua/step_begin.lua writes no event (only the record's
fence / owner / run_ms), lua/step_end.lua's event has ts, node and
duration_ms. So the test watches every record (LeaseWatch, 10 polls/s) for
begins and takes ends from the events stream, or from the crash-point
file's time when the holder died inside the step (pglogical_strategy_util
holder_intervals). FC_CHAOS_POINTS overrides the crash points (comma list).
"""
import os
import time

from fixtures_stack import make_stack
from pglogical_strategy_util import (campaign_problems, conflicts, done_problems, duplicate_create_calls,
                                     holder_intervals, instance_ids, LeaseWatch, overlapping_holders, Phases,
                                     product_calls, retired_of, setup_sources, split_awssim, start_app_writers,
                                     step_events, submit, wait_campaign_terminal)

split_awssim = split_awssim   # the fixture, imported for pytest
POINTS = [p for p in os.environ.get(
    "FC_CHAOS_POINTS", "step.catch-up,cutover.target_blocked,cutover.blocked,cutover.disabled,cutover.switched,cutover.teardown").split(",") if p]
BROKER_DOWN_S = 10
CAMPAIGN = "chs"
ORDER = ("preflight", "prepare-source", "snapshot", "copy-encrypted", "restore", "prepare-target",
         "find-start-lsn", "subscribe", "catch-up", "cutover", "verify", "replicas", "cleanup")


class ShortChaos:
    def __init__(self, stack, crash_dir):
        self.stack, self.crash_dir = stack, crash_dir
        self.t0 = time.monotonic()
        self.log = []
        self.replaced = set()
        self.redis_killed = False
        self.redis_killed_ms = None
        self.broker_down_at = None
        self.broker_up = False
        self.broker = 2

    def note(self, what):
        self.log.append(f"{time.monotonic() - self.t0:6.1f}s {what}")
        print(self.log[-1], flush=True)

    def tick(self, st):
        s = self.stack
        # a worker killed by its crash point: replace it at once (same environment)
        for w in list(s.workers):
            if w.pid not in self.replaced and not w.alive():
                self.replaced.add(w.pid)
                w.log.close()
                fired = [p for p in os.listdir(self.crash_dir)]
                n = s.start_worker()
                self.note(f"{os.path.basename(w.log_path)} died (crash files {sorted(fired)}): "
                          f"started {os.path.basename(n.log_path)}")
        if not st:
            return
        reached = max((ORDER.index(i["step"]) for i in st["instances"] if i["step"] in ORDER), default=-1)
        if not self.redis_killed and reached >= ORDER.index("snapshot"):
            self.redis_killed = True
            self.redis_killed_ms = int(time.time() * 1000)
            s.restart_redis(hard=True)
            self.note("Redis SIGKILLed and restarted from its AOF")
        if self.redis_killed and self.broker_down_at is None and reached >= ORDER.index("prepare-target"):
            reply = s.kafka.control(f"down {self.broker}")
            assert reply.startswith(f"ok down {self.broker}"), reply
            self.broker_down_at = time.monotonic()
            self.note(f"Kafka broker {self.broker} down")
        self.bring_broker_up()

    def bring_broker_up(self, force=False):
        if self.broker_down_at and not self.broker_up and \
                (force or time.monotonic() - self.broker_down_at >= BROKER_DOWN_S):
            reply = self.stack.kafka.control(f"up {self.broker}")
            assert reply.startswith(f"ok up {self.broker}"), reply
            self.broker_up = True
            self.note(f"Kafka broker {self.broker} up again")


def test_short_a6(split_awssim, world):
    sim = split_awssim
    ph = Phases()
    ids = ["chs-a", "chs-b"]
    sim.admin("POST", "/config", {"time_scale": 0})
    ports = setup_sources(sim, ids)
    crash_dir = os.path.join(world, "crash")
    os.makedirs(crash_dir)
    stack = make_stack(world, sim, workers=2, executors=4,
                       env_extra={"FLEETCRYPT_TEST_CRASH_DIR": crash_dir,
                                  "FLEETCRYPT_TEST_CRASH_AT": ",".join(POINTS)})
    writers = {}
    watch = None
    try:
        ph.mark("sources")
        key = stack.make_key()["Arn"]
        stack.start()
        sim.admin("DELETE", "/calls")
        sim.admin("DELETE", "/conflicts")
        writers = start_app_writers(sim, ids)
        watch = LeaseWatch(stack, CAMPAIGN, ids)
        watch.start()
        time.sleep(1.5)
        submit(stack, CAMPAIGN, key, ids, world)
        ph.mark("stack+submit")
        chaos = ShortChaos(stack, crash_dir)
        st = wait_campaign_terminal(stack, CAMPAIGN, timeout=480, on_tick=chaos.tick)
        ph.mark("campaign")
        chaos.note("every instance terminal")
        chaos.bring_broker_up(force=True)
        chaos.tick(None)
        time.sleep(1.5)          # writes after the last switch land on the target
        for w in writers.values():
            w.stop()
        watch.stop()
        sim.admin("POST", "/config", {"rate": {"enabled": False}})

        problems = []
        # ---- the chaos really happened
        by_pid = {w.pid: w for w in stack.workers}
        deaths = {}
        for p in POINTS:
            path = os.path.join(crash_dir, p)
            if not os.path.exists(path):
                problems.append(f"crash point {p} never fired")
                continue
            with open(path) as f:
                pid = int(f.read().strip() or 0)
            w = by_pid.get(pid)
            if not w or w.alive():
                problems.append(f"crash point {p}: pid {pid} is not one of our dead workers")
                continue
            node = os.path.basename(w.log_path)[:-len(".log")]
            deaths[node] = int(os.path.getmtime(path) * 1000)
        if not chaos.redis_killed or not chaos.broker_down_at:
            problems.append(f"faults not all injected (redis {chaos.redis_killed}, broker {chaos.broker_down_at})")

        # ---- done, A2, serving instance, frozen source, leftovers, duplicate creates
        problems += done_problems(st)
        problems += campaign_problems(sim, world, CAMPAIGN, ids, key, ports, writers)
        expected = set(ids) | {r["DBInstanceIdentifier"] for i in ids for r in retired_of(sim, i)}
        stray = sorted(set(instance_ids(sim)) - expected)
        if stray:
            problems.append(f"stray instances: {stray}")
        dup = duplicate_create_calls(product_calls(sim), len(ids))
        if dup:
            problems.append(f"created more than once per instance (call log): {dup}")
        ov = conflicts(sim, "overlap")
        if ov:
            problems.append(f"{len(ov)} overlapping AWS operations on one instance: {ov[:3]}")

        # ---- no two holders' step intervals for one instance overlap
        events = step_events(stack, CAMPAIGN)
        intervals, unresolved = holder_intervals(events, watch, deaths)
        killed = [iv for iv in intervals if iv["how"] == "watch+death"]
        if len(killed) < len(deaths):
            problems.append(f"{len(deaths)} holders died but only {len(killed)} killed intervals were found "
                            f"(watch polls {watch.polls}, errors {watch.errors})")
        for a, b in overlapping_holders(intervals):
            # A Redis SIGKILL loses up to a second of AOF writes, a just-begun
            # holder's lease key among them: no new lease is granted for one
            # lease TTL after the restart (lua/step_begin.lua), so even then
            # no second holder may begin beside it.
            problems.append(f"overlapping holders on {a['instance']}: {a} and {b}")
        print(f"{len(intervals)} holder intervals ({len(killed)} ended by a kill), {len(unresolved)} "
              f"unresolved begins, {len(events)} events; chaos:\n" + "\n".join(chaos.log), flush=True)
        ph.mark("checks")
        print(f"phases: {ph}", flush=True)
        assert not problems, "\n".join(problems) + "\nchaos:\n" + "\n".join(chaos.log) + "\n" + stack.diagnostics()
    finally:
        if watch:
            watch.stop()
        for w in writers.values():
            w.stop()
        stack.stop()


def test_holder_interval_checker_sees_overlaps():
    """The interval check above can fail: a second holder that began before
    a killed one died is reported; back-to-back holders are not."""
    class W:
        seen = {("x", "10"): {"instance": "x", "owner": "worker-1", "run_ms": "1000", "step": "cutover"},
                ("x", "11"): {"instance": "x", "owner": "worker-2", "run_ms": "4000", "step": "cutover"},
                ("y", "12"): {"instance": "y", "owner": "worker-2", "run_ms": "1000", "step": "catch-up"}}
    events = [{"instance": "x", "node": "worker-2", "step": "cutover", "ts": "6000", "duration_ms": "1900"},
              {"instance": "y", "node": "worker-2", "step": "catch-up", "ts": "2000", "duration_ms": "900"},
              {"instance": "y", "node": "worker-1", "step": "cutover", "ts": "3000", "duration_ms": "900"}]
    # worker-1 died at 5000 inside x's cutover while worker-2 had taken it at 4000: overlap
    ivs, unresolved = holder_intervals(events, W, {"worker-1": 5000})
    assert not unresolved
    bad = overlapping_holders(ivs)
    assert [(a["node"], b["node"], a["instance"]) for a, b in bad] == [("worker-1", "worker-2", "x")], bad
    # died at 3900, before the next holder began: nothing to report
    ivs, _ = holder_intervals(events, W, {"worker-1": 3900})
    assert overlapping_holders(ivs) == []
