"""Operator verbs (issue 7) on the real stack with metadata-only emulator
instances and the `offline` strategy:

- pause stops new steps (the event stream stands still), resume continues
  promptly; a per-instance pause holds one instance while the others go on;
- abort of a pending instance ends it `aborted` at once; abort of a running
  `offline` instance (no undo step) fails it with the reason; retry of that
  failed instance takes it to `done`; `logs` shows its transitions;
- approve sets the fact / campaign field; unknown campaign or instance and
  bad usage exit 2 with a line naming the field;
- campaign-wide abort admits nothing more and ends the campaign `aborted`;
- `status` without a campaign lists every campaign with its counts;
- `top` runs under tmux; the captured screen shows counts and throughput
  that match Redis; after the window is resized (smaller, smaller still,
  larger) no captured line is wider than the window and the counts still
  match Redis; `top --once` off a terminal prints one line.
"""
import json
import os
import re
import shlex
import subprocess
import time

from fclib import BIN_DIR, wait_until

STATES = ["pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"]


def rec(stack, campaign, ident):
    # over RESP, not redis-cli's lines: a value may hold a newline (a reason)
    from fclib import RedisConn
    conn = RedisConn(stack.redis.port)
    try:
        flat = conn.cmd("HGETALL", f"fc:{{{campaign}}}:i:{ident}")
    finally:
        conn.close()
    return dict(zip(flat[0::2], flat[1::2]))


def xlen(stack, campaign):
    return int(stack.redis.cli("XLEN", f"fc:{{{campaign}}}:events"))


def inst(st, ident):
    return next(i for i in st["instances"] if i["id"] == ident)


def make_fleet(stack, ids, scale):
    sim = stack.sim
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=500)
    key = stack.make_key()
    sim.admin("POST", "/config", {"time_scale": scale})
    return key


def tput_expected(stack, campaign, prefix, minutes, per):
    """The same windowed rate `status`/`top` compute from P:{C}:tput."""
    now_ms = int(time.time() * 1000)
    created = int(stack.redis.cli("HGET", f"fc:{{{campaign}}}:campaign", "created_ms"))
    cur = now_ms // 60000
    total = 0
    for m in range(minutes):
        v = stack.redis.cli("HGET", f"fc:{{{campaign}}}:tput", f"{prefix}:{cur - m}")
        total += int(v or 0)
    w = min(max((now_ms - created) / 60000.0, 1.0), minutes)
    return total / w * per


class Tmux:
    def __init__(self, world):
        self.sock = f"fc-top-{os.getpid()}"
        self.world = world

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True, text=True, timeout=20)

    def start(self, env, argv):
        script = os.path.join(self.world, "top.sh")
        with open(script, "w") as f:
            for k, v in env.items():
                if k.startswith(("FLEETCRYPT_", "AWS_")):
                    f.write(f"export {k}={shlex.quote(v)}\n")
            f.write("exec " + " ".join(shlex.quote(a) for a in argv) + "\n")
        r = self.run("new-session", "-d", "-s", "top", "-x", "100", "-y", "30", f"bash {shlex.quote(script)}")
        assert r.returncode == 0, r.stderr

    def capture(self):
        return self.run("capture-pane", "-p", "-t", "top").stdout

    def size(self):
        out = self.run("display-message", "-p", "-t", "top", "#{window_width} #{window_height}").stdout.split()
        return tuple(map(int, out)) if len(out) == 2 else None

    def stop(self):
        self.run("kill-server")


def test_cli_ops_verbs_and_top(stack, world):
    ids = ["ops-a", "ops-b", "ops-c", "ops-d"]
    key = make_fleet(stack, ids + ["ops-x", "ops-y"], 6 / 3120.0)  # ~6 s copies
    stack.start()
    # usage and unknown names exit 2 naming the field
    for args, field in [(("abort", "nosuch"), "campaign"), (("pause",), "CAMPAIGN"), (("retry", "x1"), "INSTANCE"),
                        (("logs", "Bad_Id", "a"), "campaign")]:
        r = stack.cli(*args)
        assert r.returncode == 2 and field in r.stderr, (args, r.returncode, r.stderr)
    r = stack.cli("submit", "--campaign", "ops", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", "3", "--yes", *ids)
    assert r.returncode == 0, r.stderr
    r = stack.cli("abort", "ops", "zz-not-there")
    assert r.returncode == 2 and "instance" in r.stderr and "zz-not-there" in r.stderr, r.stderr
    r = stack.cli("retry", "ops", "ops-a")
    assert r.returncode == 2 and "only a failed instance" in r.stderr, r.stderr

    # ops-d is 4th at max-parallel 3: still pending → aborted at once, claim released
    r = stack.cli("abort", "ops", "ops-d", check=True)
    assert "aborted" in r.stdout
    assert rec(stack, "ops", "ops-d")["state"] == "aborted"
    assert stack.redis.cli("HEXISTS", "fc:active-instances", "us-east-1/ops-d") == "0"

    tmux = Tmux(world)
    try:
        tmux.start(stack.env, [os.path.join(BIN_DIR, "fleetcrypt"), "top", "ops", "--interval", "1"])
        wait_until(lambda: "campaign ops" in tmux.capture(), 15, what="top screen")

        # campaign pause: once running steps end, nothing moves
        wait_until(lambda: all(rec(stack, "ops", i).get("step") not in ("", "preflight") for i in ids[:3]), 60,
                   what="instances past preflight")
        stack.cli("pause", "ops", check=True)
        assert stack.status("ops")["state"] == "paused"
        time.sleep(3)
        n0 = xlen(stack, "ops")
        time.sleep(6)
        assert xlen(stack, "ops") == n0, "a paused campaign recorded new transitions"
        assert rec(stack, "ops", "ops-c")["state"] == "running"
        r = stack.cli("abort", "ops", "ops-c", check=True)
        assert "abort requested" in r.stdout
        stack.cli("resume", "ops", check=True)
        t0 = time.monotonic()
        wait_until(lambda: xlen(stack, "ops") > n0, 12, what="progress after resume")
        print(f"first transition {time.monotonic() - t0:.1f}s after resume")

        # per-instance pause: ops-b holds, the others go on
        stack.cli("pause", "ops", "ops-b", check=True)
        time.sleep(2)
        b0 = rec(stack, "ops", "ops-b")
        a0 = rec(stack, "ops", "ops-a")
        wait_until(lambda: rec(stack, "ops", "ops-a")["updated_ms"] != a0["updated_ms"], 30, what="ops-a moving")
        time.sleep(4)
        b1 = rec(stack, "ops", "ops-b")
        assert (b1["step"], b1["epoch"], b1["state"]) == (b0["step"], b0["epoch"], b0["state"]), (b0, b1)

        # abort a running offline instance (requested while paused): no undo step → failed with the reason
        wait_until(lambda: rec(stack, "ops", "ops-c")["state"] == "failed", 40, what="ops-c failed by abort")
        assert "abort requested" in rec(stack, "ops", "ops-c")["error"]
        stack.cli("resume", "ops", "ops-b", check=True)
        # retry the failed one
        before = int(rec(stack, "ops", "ops-c")["attempt"])
        r = stack.cli("retry", "ops", "ops-c", check=True)
        c = rec(stack, "ops", "ops-c")
        assert c["state"] == "running" and int(c["attempt"]) == before + 1 and c["error"] == "", c
        stack.cli("approve", "ops", "ops-a", check=True)
        assert rec(stack, "ops", "ops-a")["f.approved"] == "1"

        st = stack.wait_campaign("ops", 180)
        assert st["counts"]["done"] == 3 and st["counts"]["aborted"] == 1, st["counts"]
        r = stack.cli("logs", "ops", "ops-c", check=True)
        lines = r.stdout.strip().split("\n")
        assert any("outcome=retry" in ln and "failed->running" in ln for ln in lines), r.stdout
        assert any("outcome=abort-requested" in ln for ln in lines), r.stdout
        assert any("->done" in ln for ln in lines), r.stdout
        assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z step=\S+ attempt=\S+ outcome=\S+ \w+->\w+", ln)
                   for ln in lines), r.stdout

        # top's screen after the end: counts and throughput match Redis
        time.sleep(2.5)
        screen = tmux.capture()
        counts = {s: int(stack.redis.cli("HGET", "fc:{ops}:counts", s)) for s in STATES}
        m = re.search(r"pending (\d+)\s+running (\d+)\s+approval (\d+)\s+done (\d+)\s+failed (\d+)\s+"
                      r"skipped (\d+)\s+aborted (\d+)", screen)
        assert m, screen
        shown = dict(zip(["pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"],
                         map(int, m.groups())))
        assert shown == counts, (shown, counts, screen)
        m = re.search(r"throughput ([\d.]+) inst/h \(5m\)\s+([\d.]+) inst/h \(60m\)\s+([\d.]+) steps/min", screen)
        assert m, screen
        exp = [tput_expected(stack, "ops", "i", 5, 60.0), tput_expected(stack, "ops", "i", 60, 60.0),
               tput_expected(stack, "ops", "s", 5, 1.0)]
        for got, want in zip(map(float, m.groups()), exp):
            assert want > 0 and abs(got - want) <= 0.1 * want + 0.1, (m.groups(), exp, screen)
        assert "[done]" in screen and "4/4" in screen, screen

        # resized terminal: re-laid out at once, never wider, counts still those in Redis
        for cols, rows in [(60, 20), (40, 12), (120, 40)]:
            r = tmux.run("resize-window", "-t", "top", "-x", str(cols), "-y", str(rows))
            assert r.returncode == 0, r.stderr
            wait_until(lambda: tmux.size() == (cols, rows), 5, what=f"tmux window {cols}x{rows}")
            time.sleep(1.5)  # SIGWINCH redraws at once; the 1 s refresh follows
            screen = tmux.capture()
            lines = screen.rstrip("\n").split("\n")
            assert len(lines) <= rows, (cols, rows, len(lines), screen)
            wide = [ln for ln in lines if len(ln) > cols]
            assert not wide, (cols, wide, screen)
            m = re.search(r"pending (\d+)\s+running (\d+)\s+approval (\d+)\s+done (\d+)\s+failed (\d+)\s+"
                          r"skipped (\d+)\s+aborted (\d+)", screen)
            assert m, (cols, rows, screen)
            shown = dict(zip(STATES, map(int, m.groups())))
            assert shown == counts, (cols, rows, shown, counts, screen)
            assert "campaign ops" in screen and "4/4" in screen, (cols, rows, screen)
    finally:
        tmux.stop()

    r = stack.cli("top", "ops", "--once", check=True)
    assert r.stdout.count("\n") == 1 and "campaign=ops state=done" in r.stdout and "done=3" in r.stdout, r.stdout

    # campaign-wide abort: nothing more admitted, campaign ends `aborted`
    r = stack.cli("submit", "--campaign", "ops2", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", "1", "--yes", "ops-x", "ops-y")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: rec(stack, "ops2", "ops-x")["state"] == "running", 30, what="ops-x admitted")
    stack.cli("abort", "ops2", "--yes", check=True)
    assert rec(stack, "ops2", "ops-y")["state"] == "aborted"
    wait_until(lambda: stack.status("ops2")["state"] == "aborted", 60, what="campaign ops2 aborted")
    st = stack.status("ops2")
    assert st["counts"]["aborted"] == 1 and st["counts"]["failed"] == 1, st
    assert "abort requested" in inst(st, "ops-x")["error"], st

    # status without a campaign: every campaign with its counts
    r = stack.cli("status", "--json", check=True)
    allc = {c["campaign"]: c for c in json.loads(r.stdout)["campaigns"]}
    assert allc["ops"]["counts"]["done"] == 3 and allc["ops2"]["state"] == "aborted", allc
    r = stack.cli("status", check=True)
    assert "ops2" in r.stdout and "aborted" in r.stdout


def test_cli_help_every_subcommand():
    cmds = ["submit", "status", "top", "wait", "approve", "pause", "resume", "abort", "retry", "logs", "report", "retire"]
    for c in cmds:
        r = subprocess.run([os.path.join(BIN_DIR, "fleetcrypt"), c, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and f"fleetcrypt {c}" in r.stdout and "example" in r.stdout, (c, r.stdout)
