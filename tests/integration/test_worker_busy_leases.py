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
