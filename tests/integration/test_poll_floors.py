"""Wait floors (issue 17 item 1; lib/engine/waitplan.h "Floors"): the first
wave of each kind of wait, nothing learnt yet, is looked at once, then at
the least AWS takes for its operation (the strategy's step_floor: restore
180 s, snapshot / stop / rename 30 s) on the emulator's clock
(FLEETCRYPT_POLL_FLOOR_SCALE = its time scale), not on the back-off from
the poll minimum through it.

The same offline campaign of 4 metadata-only instances (20 GiB: a 330 s
restore) on a fresh stack each time (nothing learnt in Redis), at time
scale 0.02 and the benches' poll minimum (50 ms = 2.5 emulated s): with the
floors the restore wave's fleet polls (filtered Describes) are far fewer
than without, and the campaign ends done either way. Slow (two campaigns of ~15 s each)."""
import os

import pytest

from fixtures_stack import make_stack

SCALE = 0.02


def restore_wave_polls(calls):
    """The fleet poller's DescribeDBInstances (filtered: no resource named)
    from the wave's last RestoreDBInstanceFromDBSnapshot to the first AWS
    call after the restore step (retire-source's tags): the restore wave's
    looks, the kind costing most (a 330 s restore)."""
    last = max(c["ts"] for c in calls if c["action"] == "RestoreDBInstanceFromDBSnapshot")
    after = min(c["ts"] for c in calls if c["ts"] > last and c["action"] in ("AddTagsToResource", "DeleteDBSnapshot",
                                                                              "ModifyDBInstance"))
    return [c for c in calls if c["action"] == "DescribeDBInstances" and not c.get("resource")
            and last < c["ts"] < after]


def one_campaign(world, sim, tag, floor_scale):
    env = {"FLEETCRYPT_POLL_MIN_MS": "50", "FLEETCRYPT_POLL_MAX_MS": "6000",
           "FLEETCRYPT_POLL_FLOOR_SCALE": str(floor_scale)}
    d = os.path.join(world, tag)
    os.makedirs(d, exist_ok=True)
    stack = make_stack(d, sim, env_extra=env)
    try:
        ids = [f"{tag}-{k}" for k in range(4)]
        sim.admin("POST", "/config", {"time_scale": 0, "durations": {"copy": [10, 0]}})
        stack.make_instances(ids, storage=20)
        key = stack.make_key()
        stack.start()
        sim.admin("DELETE", "/calls")
        sim.admin("POST", "/config", {"time_scale": SCALE})
        r = stack.cli("submit", "--campaign", tag, "--kms-key", key["Arn"], "--strategy", "offline",
                      "--max-parallel", "4", "--yes", *ids)
        assert r.returncode == 0, r.stderr
        st = stack.wait_campaign(tag, 240)
        sim.admin("POST", "/config", {"time_scale": 0, "durations": {}})
        assert st["counts"]["done"] == len(ids), st
        return restore_wave_polls(stack.calls())
    finally:
        stack.stop()


@pytest.mark.slow  # CI budget: two campaigns at time scale 0.02; the plan itself is unit-tested (test_waitplan)
def test_floors_spare_first_wave_polls(world, awssim):
    floored = one_campaign(world, awssim, "flr", SCALE)
    plain = one_campaign(world, awssim, "nof", 0)
    print(f"restore wave: {len(floored)} fleet polls with floors, {len(plain)} without")
    # from its 3.6 s floor: ~5 looks; backing off from the 50 ms minimum (on
    # the coordinator's 200 ms tick): ~11
    assert len(floored) + 4 <= len(plain), \
        f"restore wave: expected at least 4 fewer fleet polls with floors than the {len(plain)} without, " \
        f"got {len(floored)}"
