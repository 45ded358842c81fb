"""Orchestration under failure (issue 5, ACCEPTANCE A6 in small form):
- a worker SIGKILLed 4 times (and replaced) while a campaign runs: every
  instance still ends done, the emulator saw no conflicting operations and
  no resource was created twice;
- Redis killed (SIGKILL: AOF everysec may lose the last second) and restarted,
  and the coordinator killed and restarted, mid-campaign: it still finishes.
Every fault is timed by what the campaign shows (a step reached, a number
of instances done), never by a sleep, and every test ends with nothing left
behind: no fleetcrypt-named AWS resource but the retired sources, no lease.
"""
from fclib import wait_until
from test_orch_campaign import check_status_shape, max_in_flight

CREATES = ("CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot")
# the offline strategy's steps (worker/strategies/offline.c)
STEPS = ("preflight", "rename-source", "stop-source", "snapshot", "copy-encrypted", "restore",
         "configure-target", "retire-source", "cleanup")


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


def wait_state(stack, campaign, pred, what, timeout=180):
    """Poll status until pred(status) holds; the campaign must not be done
    yet (the fault would then come too late to mean anything)."""
    def ok():
        try:
            st = stack.status(campaign)
        except AssertionError:
            return None  # Redis restarting
        assert st["state"] != "done", f"campaign {campaign} finished before {what}"
        return st if pred(st) else None
    return wait_until(ok, timeout, 0.2, what)


def n_done(st):
    return sum(1 for i in st["instances"] if i["state"] == "done")


def n_pending(st):
    return sum(1 for i in st["instances"] if i["state"] == "pending")


def at_step(st, steps):
    return [i["id"] for i in st["instances"] if i["state"] == "running" and i.get("step") in steps]


def check_no_orphans(stack, campaign, ids):
    """Nothing fleetcrypt made is left: no fc-<campaign>-* instance but one
    retired source per instance, no fc-<campaign>-* snapshot, and no lease
    in Redis (leases go with their last step; a TTL-expired one would also
    be gone within the wait)."""
    rds = stack.sim.client("rds")
    named = [i["DBInstanceIdentifier"] for page in rds.get_paginator("describe_db_instances").paginate()
             for i in page["DBInstances"] if i["DBInstanceIdentifier"].startswith(f"fc-{campaign}-")]
    retired = sorted(n for n in named if n.endswith("-retired"))
    assert sorted(set(named) - set(retired)) == [], f"fleetcrypt instances left: {sorted(set(named) - set(retired))}"
    assert len(retired) == len(ids), f"expected one retired source per instance: {retired}"
    snaps = [s["DBSnapshotIdentifier"] for page in rds.get_paginator("describe_db_snapshots").paginate()
             for s in page["DBSnapshots"] if s["DBSnapshotIdentifier"].startswith(f"fc-{campaign}-")]
    assert snaps == [], f"fleetcrypt snapshots left: {snaps}"

    def no_lease():
        left = stack.redis.cli("KEYS", f"fc:{{{campaign}}}:lease:*")
        return True if not left.strip() else None
    wait_until(no_lease, 90, 0.5, f"no lease of {campaign} left in Redis "
               f"({stack.redis.cli('KEYS', f'fc:{{{campaign}}}:lease:*')!r})")


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
    """SIGKILL a worker 4 times while steps run; all done, nothing twice, no conflicts, nothing left."""
    ids = [f"kill-{n:02d}" for n in range(10)]
    key = prepare(stack, ids, 3 / 3120.0)  # ~3 s copies: steps are in flight when we kill
    r = stack.cli("submit", "--campaign", "k1", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", 4, "--yes", *ids)
    assert r.returncode == 0, r.stderr
    # kill points, by what the campaign shows: an AWS copy in flight, then
    # after each of the first three instances is done (with steps running)
    points = [("a snapshot copy in flight", lambda st: at_step(st, ("snapshot", "copy-encrypted"))),
              ("1 instance done", lambda st: n_done(st) >= 1 and at_step(st, STEPS)),
              ("2 instances done", lambda st: n_done(st) >= 2 and at_step(st, STEPS)),
              ("3 instances done", lambda st: n_done(st) >= 3 and at_step(st, STEPS))]
    kills = 0
    for what, pred in points:
        wait_state(stack, "k1", pred, what)
        stack.kill_worker()
        kills += 1
        stack.start_worker()
    assert kills == 4
    st = stack.wait_campaign("k1", 240)
    check_status_shape(st, "k1", len(ids))
    assert st["counts"]["done"] == len(ids), st
    calls = check_clean(stack, ids)
    most, _ = max_in_flight(calls, ids)
    assert most <= 4
    check_no_orphans(stack, "k1", ids)


def test_orch_redis_and_coordinator_restart(stack):
    """Redis SIGKILLed and restarted from its AOF, then the coordinator killed and replaced: done."""
    ids = [f"rst-{n:02d}" for n in range(8)]
    key = prepare(stack, ids, 3 / 3120.0)
    # 3 at a time: after the first wave is done, instances are still waiting
    # for admission, which only a coordinator gives
    r = stack.cli("submit", "--campaign", "r1", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", 3, "--yes", *ids)
    assert r.returncode == 0, r.stderr
    # Redis dies while AWS operations are in flight
    st = wait_state(stack, "r1", lambda st: at_step(st, ("snapshot", "copy-encrypted", "restore")),
                    "an AWS operation in flight")
    stack.restart_redis(hard=True)
    # the coordinator dies once the campaign moved on after the Redis restart,
    # while an instance still waits for admission: the campaign cannot end
    # without the new coordinator (killed later, the remaining instances
    # could all finish on the old coordinator's admissions)
    d0 = n_done(st)
    st = wait_state(stack, "r1", lambda st: n_done(st) > d0 and n_pending(st) >= 1,
                    "an instance done after the Redis restart, one still pending")
    stack.restart_coordinator(hard=True)
    # a standby coordinator next to the active one changes nothing
    d1 = n_done(st)
    wait_state(stack, "r1", lambda st: n_done(st) > d1, "an instance done under the new coordinator")
    stack.start_coordinator()
    st = stack.wait_campaign("r1", 240)
    assert st["counts"]["done"] == len(ids), st
    check_clean(stack, ids)
    assert int(stack.redis.cli("HGET", "fc:meta", "restarts") or 0) >= 1
    check_no_orphans(stack, "r1", ids)
