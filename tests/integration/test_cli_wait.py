"""`fleetcrypt wait CAMPAIGN [--for done|terminal] [--timeout S]` (issue 18)
on the real stack with metadata-only emulator instances and the `offline`
strategy. Exit codes for scripts and CI: 0 every instance done (or
skipped), 3 an instance failed, 4 the campaign or an instance was aborted,
5 the timeout passed first, 2 bad usage or an unknown campaign, 1 Redis
unreachable. `--for done` (the default) answers as soon as the outcome is
known (a failure or an abort does not wait for the rest); `--for terminal`
waits until nothing is pending or in flight.
"""
import time

from fclib import wait_until
from test_cli_ops import make_fleet, rec

WAIT_OK, WAIT_FAILED, WAIT_ABORTED, WAIT_TIMEOUT = 0, 3, 4, 5


def wait(stack, *args, timeout=300):
    return stack.cli("wait", *args, "--interval", "0.5", timeout=timeout)


def test_cli_wait_exit_codes(stack):
    key = make_fleet(stack, ["wt-a", "wt-b", "wt-c", "wt-d"], 4 / 3120.0)
    stack.start()

    # usage: exit 2 naming what is wrong
    for args, what in [((), "CAMPAIGN"), (("nosuch",), "no such campaign"), (("x", "--for", "soon"), "for"),
                       (("x", "--timeout", "-1"), "timeout"), (("x", "y"), "one campaign")]:
        r = stack.cli("wait", *args)
        assert r.returncode == 2 and what in r.stderr, (args, r.returncode, r.stderr)

    # a campaign that succeeds: 0, the final counts on stdout
    r = stack.cli("submit", "--campaign", "wa", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", "2", "--yes", "wt-a", "wt-b")
    assert r.returncode == 0, r.stderr
    r = wait(stack, "wa", "--timeout", "240")
    assert r.returncode == WAIT_OK, (r.returncode, r.stdout, r.stderr)
    assert "done=2" in r.stdout and "failed=0" in r.stdout, r.stdout
    assert rec(stack, "wa", "wt-a")["state"] == "done" and rec(stack, "wa", "wt-b")["state"] == "done"
    r = wait(stack, "wa", "--for", "terminal")
    assert r.returncode == WAIT_OK, (r.returncode, r.stdout, r.stderr)

    # paused: nothing finishes, the timeout answers
    r = stack.cli("submit", "--campaign", "wb", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", "1", "--yes", "wt-c", "wt-d")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: rec(stack, "wb", "wt-c")["state"] == "running", 30, what="wt-c admitted")
    stack.cli("pause", "wb", check=True)
    r = wait(stack, "wb", "--timeout", "2")
    assert r.returncode == WAIT_TIMEOUT and "timeout" in r.stderr, (r.returncode, r.stdout, r.stderr)

    # a pending instance aborted: --for done answers at once, --for terminal
    # still waits for wt-c (in flight, paused)
    r = stack.cli("abort", "wb", "wt-d", check=True)
    assert rec(stack, "wb", "wt-d")["state"] == "aborted"
    r = wait(stack, "wb", "--for", "done", "--timeout", "120")
    assert r.returncode == WAIT_ABORTED and "aborted=1" in r.stdout, (r.returncode, r.stdout, r.stderr)
    r = wait(stack, "wb", "--for", "terminal", "--timeout", "2")
    assert r.returncode == WAIT_TIMEOUT, (r.returncode, r.stdout, r.stderr)

    # the running offline instance aborted: it fails (no undo step); once
    # nothing is in flight the campaign ends with a failure
    assert rec(stack, "wb", "wt-c")["state"] == "running"
    stack.cli("abort", "wb", "wt-c", check=True)
    stack.cli("resume", "wb", check=True)
    t0 = time.monotonic()
    r = wait(stack, "wb", "--for", "terminal", "--timeout", "120")
    assert r.returncode == WAIT_FAILED, (r.returncode, r.stdout, r.stderr)
    assert rec(stack, "wb", "wt-c")["state"] == "failed"
    assert "failed=1" in r.stdout and "aborted=1" in r.stdout, r.stdout
    print(f"wait --for terminal returned {time.monotonic() - t0:.1f}s after resume")
