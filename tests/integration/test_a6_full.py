"""ACCEPTANCE A6 in full (slow: `tests/run --all`): a pg-logical campaign of
20+ instances (FC_A6_INSTANCES, default 22) on real PostgreSQL servers, a
light writer committing continuously into a keyed and a keyless table on
every source from before submit until after cutover (A2), while

- workers are SIGKILLed at random moments across the whole campaign and
  replaced (3 workers, so a kill always leaves others), including workers
  holding the lease of an instance at `cutover`;
- Redis is SIGKILLed once and restarted from its AOF (everysec);
- the coordinator is SIGKILLed once and replaced;
- one broker of the local Kafka cluster is down for 30 s.

Afterwards every instance is `done` and meets the "done" contract, A2 holds
on every one of them (every acknowledged number on the target exactly once,
the subscription never logged an apply error), and the emulator recorded no
`overlap` conflict (two conflicting operations on one instance at once).
The chaos schedule is random; FC_A6_SEED replays one (the seed is printed).
"""
import os
import random
import time

import pytest

from fixtures_stack import make_stack
from pglogical_strategy_util import (Writer, app_schema, endpoint, logical_group, make_instances, sql, submit)
from test_pglogical_strategy_flow import check_done_contract

N = int(os.environ.get("FC_A6_INSTANCES", "22"))
CAMPAIGN = "a6"
TERMINAL = ("done", "failed", "skipped", "aborted")


def _status(stack):
    try:
        return stack.status(CAMPAIGN)
    except Exception:  # noqa: BLE001 - Redis restarting, CLI refused: try again next tick
        return None


def _lease_holder(stack, ident):
    """The live worker Proc holding ident's lease right now, or None."""
    try:
        tok = stack.redis.cli("GET", f"fc:{{{CAMPAIGN}}}:lease:{ident}")
    except Exception:  # noqa: BLE001
        return None
    if not tok:
        return None
    node = tok.split("/", 1)[0]                      # "worker-<seq>"
    for w in stack.live_workers():
        if os.path.basename(w.log_path) == f"{node}.log":
            return w
    return None


class Chaos:
    """The failure schedule, driven from the test's polling loop."""

    def __init__(self, stack, rng, t0):
        self.stack, self.rng, self.t0 = stack, rng, t0
        self.log = []
        self.kills = 0
        self.cutover_kills = 0
        self.next_kill = t0 + rng.uniform(8, 20)
        self.redis_at = t0 + rng.uniform(25, 55)
        self.coord_at = t0 + rng.uniform(55, 85)
        self.broker_at = t0 + rng.uniform(80, 110)
        self.broker = rng.choice((1, 2, 3))
        self.broker_up_at = None
        self.pending_restart = []        # (time, ) replacement workers to start
        self.done = {"redis": False, "coord": False, "broker": False}

    def note(self, what):
        self.log.append(f"{time.monotonic() - self.t0:7.1f}s {what}")
        print(self.log[-1], flush=True)

    def _kill(self, w, why):
        self.stack.kill_worker(w)
        self.kills += 1
        self.note(f"SIGKILL {os.path.basename(w.log_path)} ({why})")
        self.pending_restart.append(time.monotonic() + self.rng.uniform(1, 6))

    def tick(self, st):
        now = time.monotonic()
        s = self.stack
        for t in list(self.pending_restart):
            if now >= t:
                self.pending_restart.remove(t)
                w = s.start_worker()
                self.note(f"started {os.path.basename(w.log_path)}")
        # a worker running a cutover right now: kill it (at most 3 times)
        if st and self.cutover_kills < 3 and len(s.live_workers()) >= 2:
            for i in st["instances"]:
                if i["step"] == "cutover" and i["state"] == "running":
                    w = _lease_holder(s, i["id"])
                    if w and self.rng.random() < 0.5:
                        self.cutover_kills += 1
                        self._kill(w, f"holds {i['id']} at cutover")
                        break
        if now >= self.next_kill and len(s.live_workers()) >= 2:
            self._kill(self.rng.choice(s.live_workers()), "random moment")
            self.next_kill = now + self.rng.uniform(10, 25)
        if not self.done["redis"] and now >= self.redis_at:
            self.done["redis"] = True
            s.restart_redis(hard=True)
            self.note("Redis SIGKILLed and restarted from its AOF")
        if not self.done["coord"] and now >= self.coord_at:
            self.done["coord"] = True
            s.restart_coordinator(hard=True)
            self.note("coordinator SIGKILLed and replaced")
        if not self.done["broker"] and now >= self.broker_at:
            self.done["broker"] = True
            reply = s.kafka.control(f"down {self.broker}")
            assert reply.startswith(f"ok down {self.broker}"), reply
            self.broker_up_at = now + 30
            self.note(f"Kafka broker {self.broker} down: {reply}")
        if self.broker_up_at and now >= self.broker_up_at:
            reply = s.kafka.control(f"up {self.broker}")
            assert reply.startswith(f"ok up {self.broker}"), reply
            self.broker_up_at = None
            self.note(f"Kafka broker {self.broker} up again")

    def finish(self):
        """Whatever is still pending happens now (a short campaign)."""
        if self.broker_up_at:
            self.stack.kafka.control(f"up {self.broker}")
            self.note(f"Kafka broker {self.broker} up again (at the end)")
        for _ in self.pending_restart:
            self.stack.start_worker()
        self.pending_restart = []


def apply_errors(sim, ident):
    rds = sim.client("rds")
    text = ""
    for f in rds.describe_db_log_files(DBInstanceIdentifier=ident)["DescribeDBLogFiles"]:
        text += rds.download_db_log_file_portion(DBInstanceIdentifier=ident, LogFileName=f["LogFileName"],
                                                 Marker="0")["LogFileData"]
    return [ln for ln in text.splitlines() if "duplicate key" in ln or
            ("logical replication" in ln and "ERROR" in ln)]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a6_full(world, awssim):
    sim = awssim
    seed = int(os.environ.get("FC_A6_SEED", str(random.randrange(1 << 30))))
    print(f"A6 seed {seed} (FC_A6_SEED={seed} replays this schedule)", flush=True)
    rng = random.Random(seed)
    # every in-flight instance needs one more DB instance, every retired source stays
    sim.admin("POST", "/config", {"time_scale": 0, "quotas": {"DBInstances": 2 * N + 10}})
    logical_group(sim)
    ids = [f"a6-{n:02d}" for n in range(N)]
    make_instances(sim, ids)
    for i in ids:
        app_schema(sim, i)
    ports = {i: endpoint(sim, i) for i in ids}
    sim.admin("DELETE", "/calls")
    sim.admin("DELETE", "/conflicts")

    stack = make_stack(world, sim, workers=3, executors=4)
    writers = {}
    try:
        key = stack.make_key()["Arn"]
        stack.start()
        writers = {i: Writer(sim, i, rate=3).start() for i in ids}
        time.sleep(2.0)
        submit(stack, CAMPAIGN, key, ids, world)
        t0 = time.monotonic()
        chaos = Chaos(stack, rng, t0)
        deadline = t0 + 1320
        st = None
        while time.monotonic() < deadline:
            st = _status(stack)
            if st and all(i["state"] in TERMINAL for i in st["instances"]):
                break
            chaos.tick(st)
            time.sleep(0.5)
        else:
            raise AssertionError(f"campaign not finished after {deadline - t0:.0f}s: {st}\n"
                                 + "\n".join(chaos.log) + "\n" + stack.diagnostics())
        took = time.monotonic() - t0
        chaos.note(f"all {N} instances terminal")
        chaos.finish()
        time.sleep(2.0)           # writes after the last switch land on the target
        for w in writers.values():
            w.stop()
        print("\n".join(chaos.log), flush=True)

        # the checks below make many AWS calls: not through the campaign's rate limit
        sim.admin("POST", "/config", {"rate": {"enabled": False}})

        # ---- the chaos really happened, during the campaign
        assert all(chaos.done.values()), f"campaign ended ({took:.0f}s) before the schedule ran: {chaos.log}"
        assert chaos.kills >= 4, f"only {chaos.kills} worker kills: {chaos.log}"

        # ---- A2 on every instance (done or not): 0 missing, 0 doubled, no apply error
        problems = []
        for i in ids:
            tgt = [int(x) for x in sql(sim, i, "SELECT seq FROM a UNION ALL SELECT seq FROM b").split()]
            acked = writers[i].numbers()
            missing = sorted(set(acked) - set(tgt))
            doubled = len(tgt) - len(set(tgt))
            if len(acked) < 50 or missing or doubled:
                problems.append(f"{i}: acked {len(acked)} target {len(tgt)} missing {missing[:10]} "
                                f"doubled {doubled}")
            bad = apply_errors(sim, i)
            if bad:
                problems.append(f"{i}: apply errors {bad[:3]}")
        # ---- every instance done
        not_done = [(i["id"], i["state"], i["step"], i.get("error")) for i in st["instances"]
                    if i["state"] != "done"]
        assert not problems and not not_done, \
            "A2 broken:\n" + "\n".join(problems) + f"\nnot done: {not_done}\n" + stack.diagnostics()
        for wk in stack.workers:
            with open(wk.log_path, errors="replace") as f:
                assert "VERIFICATION MISMATCH" not in f.read(), wk.log_path

        # ---- the "done" contract on every instance
        for i in ids:
            check_done_contract(sim, CAMPAIGN, i, key, ports[i])

        # ---- no two conflicting operations on one instance at once
        conflicts = sim.admin("GET", "/conflicts")["conflicts"]
        overlaps = [c for c in conflicts if c.get("kind") == "overlap"]
        assert not overlaps, f"{len(overlaps)} overlapping operations: {overlaps[:5]}"
        print(f"A6: {N} instances done in {took:.0f}s, {chaos.kills} worker kills "
              f"({chaos.cutover_kills} at cutover), {len(conflicts)} duplicate-create records", flush=True)
    finally:
        for w in writers.values():
            w.stop()
        stack.stop()
