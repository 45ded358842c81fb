"""Strategy `noop` (issue 12): a 1,000-instance campaign runs to `done`
through Kafka and Redis on the local stack, and nothing asks AWS for it —
not submit, not the coordinator's admission, not the workers (the
emulator's call log does not grow). Its instance identifiers exist
nowhere. It is what the control-plane benchmark drives."""
import json

from fclib import wait_until
from fixtures_stack import make_stack

N = 1000


def test_noop_thousand_instances_no_aws(world, awssim):
    stack = make_stack(world, awssim, workers=2, executors=8)
    try:
        stack.start()
        before = len(stack.calls())
        ids = "\n".join(f"noop-{i:04d}" for i in range(N)) + "\n"
        r = stack.cli("submit", "--campaign=nq", "--kms-key", "alias/none", "--strategy", "noop",
                      "--max-parallel", "300", "--yes", "-", stdin=ids)
        assert r.returncode == 0, r.stderr
        assert f"{N} instance(s)" in r.stdout, r.stdout

        last = {}

        def done():
            st = stack.status("nq")
            last["counts"] = st["counts"]
            return st if st["state"] == "done" else None
        try:
            st = wait_until(done, timeout=420, interval=2, what="noop campaign done")
        except AssertionError as e:
            raise AssertionError(f"{e}; counts {last.get('counts')}\n{stack.diagnostics()}") from None
        assert st["counts"]["done"] == N, json.dumps(st["counts"])
        assert sum(v for k, v in st["counts"].items() if k != "done") == 0, st["counts"]
        for i in st["instances"]:
            assert i["state"] == "done" and i["step"] in ("end", "", None), i
        calls = stack.calls()[before:]
        assert not calls, f"{len(calls)} AWS calls for a noop campaign, e.g. {calls[:3]}"
    finally:
        stack.stop()
