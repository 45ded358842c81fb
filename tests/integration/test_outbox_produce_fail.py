"""A successor whose produce fails is not lost (issue 17: the worker no
longer waits for its successor's ack; docs/orchestration.md, "The outbox").

A `noop` campaign runs; three of its instances find their lease held (the
test sets the lease keys before submitting), so the worker keeps their
first step deferred in memory, already consumed. When every other
instance is done, every broker of the Kafka stand-in goes down and the
held leases are released: the deferred steps run and the worker produces
their successors into a dead cluster, where they are given up on after
message.timeout.ms (shortened to 2 s through the operator pass-through;
the worker logs each). Their outbox entries must stay, so that once the
brokers are back the coordinator emits them and every instance finishes —
by the outbox, not by the reconciler's re-drive (the step deadline is 60 s
and nothing may be re-driven). Timed by what the logs and the campaign
show, never by a fixed sleep."""
import json

from fclib import wait_until
from fixtures_stack import make_stack

N = 300
HELD = [f"pf-{i:04d}" for i in range(3)]
BROKERS = (1, 2, 3)
GIVEN_UP = "successor not produced"


def logs(procs):
    text = ""
    for p in procs:
        with open(p.log_path, errors="replace") as f:
            text += f.read()
    return text


def test_successor_produce_failure_is_reemitted(world, awssim):
    stack = make_stack(world, awssim, workers=1, executors=4,
                       env_extra={"FLEETCRYPT_LIBRDKAFKA": "message.timeout.ms=2000",
                                  "FLEETCRYPT_STEP_DEADLINE_MAX_S": "0"})
    try:
        stack.start()
        stack.hold_leases("pf", HELD, 120000)
        stack.submit_noop("pf", [f"pf-{i:04d}" for i in range(N)], N)
        st = stack.wait_done_count("pf", N - len(HELD), 180, "every instance but the held ones done")
        held = {i["id"]: i for i in st["instances"] if i["id"] in HELD}
        assert all(i["state"] == "running" and i["step"] == "begin" for i in held.values()), held
        assert GIVEN_UP not in logs(stack.workers)

        for b in BROKERS:
            assert stack.kafka.control(f"down {b} keep").startswith("ok"), b
        try:
            stack.release_leases("pf", HELD)
            wait_until(lambda: GIVEN_UP in logs(stack.workers) or None, 60, 0.5,
                       "a successor given up on by the worker's producer")
        finally:
            for b in BROKERS:
                stack.kafka.control(f"up {b}")
        st = stack.wait_campaign("pf", 240)
        assert st["counts"]["done"] == N, json.dumps(st["counts"])
        assert sum(v for k, v in st["counts"].items() if k != "done") == 0, st["counts"]
        redriven = [ln for ln in logs(stack.coordinators).splitlines() if "re-driven" in ln]
        assert not redriven, f"finished by the reconciler, not the outbox: {redriven[:3]}"
    finally:
        stack.stop()
