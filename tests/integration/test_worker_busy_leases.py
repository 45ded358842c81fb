"""A worker never stalls its partitions behind steps that wait on a held
lease. Steps whose instance lease is held elsewhere are deferred in the
worker (never dropped: the holder may be inside a cutover); they must not
count as work that fills the executors, or the worker pauses its
partitions and every other instance on them waits until those leases
expire.

A `noop` campaign of 60 instances on one worker with 2 executors (so it
pauses at 8 tasks in hand); 12 instances find their lease held by the test
for 10 minutes. Every other instance must finish while the leases are
still held; released, the held ones finish too."""
import json
import os

from fclib import RedisConn, wait_until
from fixtures_stack import make_stack

N = 60
HELD = [f"bl-{i:04d}" for i in range(0, N, 5)]   # 12, spread over the partitions


def test_held_leases_do_not_stall_the_partitions(world, awssim):
    stack = make_stack(world, awssim, workers=1, executors=2)
    try:
        stack.start()
        stack.hold_leases("bl", HELD, 600000)
        stack.submit_noop("bl", [f"bl-{i:04d}" for i in range(N)], N)
        st = stack.wait_done_count("bl", N - len(HELD), 120,
                                   "every instance but the held ones done while the leases are held")
        assert st["counts"]["done"] == N - len(HELD), json.dumps(st["counts"])
        stack.release_leases("bl", HELD)
        st = stack.wait_campaign("bl", 180)
        assert st["counts"]["done"] == N, json.dumps(st["counts"])
    finally:
        stack.stop()


def test_redelivery_waits_on_a_live_holder_however_long(world, awssim):
    """A step message whose lease is held by a live holder (renewed, as a
    cutover's keeper renews it) is deferred for as long as the holder lives,
    never dropped after some number of tries: once the lease is let go, that
    very message runs the step. Dropped, the step would wait for the
    reconciler to re-drive it at its deadline (minutes of blocked writers in a
    real cutover) — a `redrive` event here."""
    stack = make_stack(world, awssim, workers=1, executors=2,
                       env_extra={"FLEETCRYPT_STEP_DEADLINE_MAX_S": "600"})
    lease = stack.lease_key("rd", "rd-0001")
    holder = RedisConn(stack.redis.port)
    try:
        stack.start()
        holder.cmd("SET", lease, "held-by-the-test", "PX", "250")
        stack.submit_noop("rd", ["rd-0001"], 1)
        busy = "lease still busy"
        log = stack.workers[0].log_path

        def deferred_long():
            holder.cmd("SET", lease, "held-by-the-test", "PX", "250")   # the live holder renews
            with open(log, errors="replace") as f:
                return busy in f.read()
        # the worker says so after its 60th deferral: far more tries than any cap
        wait_until(deferred_long, 300, 0.08, "the redelivered message deferred 60 times on the live holder")
        holder.cmd("DEL", lease)
        st = stack.wait_campaign("rd", 300)
        assert st["counts"].get("done", 0) == 1, json.dumps(st["counts"])
        events = holder.cmd("XRANGE", "fc:{rd}:events", "-", "+")
        events = [dict(zip(e[1][::2], e[1][1::2])) for e in events]
        first = [(e.get("event"), e.get("attempt")) for e in events if e.get("step") == "begin"]
        # the one delivery ran the step: no re-drive, no second attempt
        assert first and all(kind != "redrive" and attempt == "1" for kind, attempt in first), first
    finally:
        holder.close()
        stack.stop()
