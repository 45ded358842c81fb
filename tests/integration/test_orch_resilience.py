"""Orchestration under failure (issue 5, ACCEPTANCE A6 in small form):
- workers SIGKILLed at random moments (and replaced) while a campaign runs:
  every instance still ends done, the emulator saw no conflicting operations
  and no resource was created twice;
- Redis killed (SIGKILL: AOF everysec may lose the last second) and restarted,
  and the coordinator killed and restarted, mid-campaign: it still finishes.
"""
import random
import time

from test_orch_campaign import check_status_shape, max_in_flight

CREATES = ("CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot")


def prepare(stack, ids, scale):
    sim = stack.sim
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=500)
    key = stack.make_key()
    sim.admin("DELETE", "/calls")
    sim.admin("DELETE", "/conflicts")
    sim.admin("POST", "/config", {"time_scale": scale})
    stack.start()
    return key


def check_clean(stack, ids):
    calls = stack.calls()
    conflicts = stack.sim.admin("GET", "/conflicts")
    assert conflicts["count"] == 0, conflicts["conflicts"][:5]
    for action in CREATES:
        ok = [c for c in calls if c["action"] == action and not c.get("error")]
        assert len(ok) == len(ids), f"{action} succeeded {len(ok)} times for {len(ids)} instances"
    rds = stack.sim.client("rds")
    for i in ids:
        inst = rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]
        assert inst["StorageEncrypted"], i
    return calls


def test_orch_kill_workers(stack):
    """SIGKILL a worker 4 times at random moments; all done, nothing twice, no conflicts."""
    ids = [f"kill-{n:02d}" for n in range(10)]
    key = prepare(stack, ids, 3 / 3120.0)  # ~3 s copies: steps are in flight when we kill
    r = stack.cli("submit", "--campaign", "k1", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", 4, "--yes", *ids)
    assert r.returncode == 0, r.stderr
    rng = random.Random(5)
    kills = 0
    deadline = time.monotonic() + 60
    while kills < 4 and time.monotonic() < deadline:
        time.sleep(rng.uniform(2.0, 6.0))
        st = stack.status("k1")
        if st["state"] == "done":
            break
        stack.kill_worker()
        kills += 1
        stack.start_worker()
    assert kills >= 2, "campaign finished before the workers could be killed"
    st = stack.wait_campaign("k1", 240)
    check_status_shape(st, "k1", len(ids))
    assert st["counts"]["done"] == len(ids), st
    calls = check_clean(stack, ids)
    most, _ = max_in_flight(calls, ids)
    assert most <= 4


def test_orch_redis_and_coordinator_restart(stack):
    """Redis SIGKILLed and restarted from its AOF, then the coordinator killed and replaced: done."""
    ids = [f"rst-{n:02d}" for n in range(8)]
    key = prepare(stack, ids, 3 / 3120.0)
    r = stack.cli("submit", "--campaign", "r1", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", 4, "--yes", *ids)
    assert r.returncode == 0, r.stderr
    time.sleep(6)
    stack.restart_redis(hard=True)
    time.sleep(6)
    stack.restart_coordinator(hard=True)
    time.sleep(3)
    # a standby coordinator next to the active one changes nothing
    stack.start_coordinator()
    st = stack.wait_campaign("r1", 240)
    assert st["counts"]["done"] == len(ids), st
    check_clean(stack, ids)
    assert int(stack.redis.cli("HGET", "fc:meta", "restarts") or 0) >= 1
