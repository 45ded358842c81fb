"""`-o/--output json|table` on status, top, logs and report, and `logs --follow`
(issue 18), on the real stack (Redis, Kafka, the AWS emulator) with a
campaign of metadata-only instances submitted but never run (no workers):
its instances stay `pending` and every transition is an operator's (pause,
resume, abort), so what `logs` streams is known exactly.

- status/top/report: `-o json` is one JSON document whose numbers are JSON
  numbers; `-o table` is the default rendering; `--json` stays an alias on
  status; a value outside json|table is exit 2 naming `output`.
- logs: `-o json` is one JSON object per transition (JSON Lines) with typed
  values (`attempt`, `ts_ms`, `duration_ms` numbers).
- logs --follow: prints what is already recorded, then each new transition
  as it happens, and exits 0 by itself once the instance is terminal.
"""
import json
import os
import queue
import re
import signal
import subprocess
import threading

from fclib import BIN_DIR

IDS = ["out-a", "out-b"]


def submitted(stack, campaign="out1"):
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(IDS)
    key = stack.make_key()
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key["Arn"], "--strategy", "offline", "--yes", *IDS)
    assert r.returncode == 0, r.stderr
    return campaign


def test_output_json_and_table(stack):
    c = submitted(stack)

    # status: -o json is --json, typed
    j = json.loads(stack.cli("status", c, "-o", "json", check=True).stdout)
    assert j == json.loads(stack.cli("status", c, "--json", check=True).stdout) | {"throughput": j["throughput"]}
    assert j["counts"]["pending"] == 2 and type(j["counts"]["pending"]) is int, j
    assert all(type(i["attempts"]) is int for i in j["instances"]), j
    assert isinstance(j["throughput"]["instances_per_hour"], (int, float)), j
    table = stack.cli("status", c, "--output=table", check=True).stdout
    assert table.startswith(f"campaign {c}") and "out-a" in table, table
    lst = json.loads(stack.cli("status", "-o", "json", check=True).stdout)
    assert [x["campaign"] for x in lst["campaigns"]] == [c], lst
    assert type(lst["campaigns"][0]["counts"]["pending"]) is int, lst
    # the list's table has a column for every state, as the JSON does
    tbl = stack.cli("status", check=True).stdout.splitlines()
    assert tbl[0].split() == ["CAMPAIGN", "STATE", "PENDING", "RUNNING", "WAITING_APPROVAL", "DONE", "FAILED",
                              "SKIPPED", "ABORTED"], tbl
    assert tbl[1].split() == [c, "running", "2", "0", "0", "0", "0", "0", "0"], tbl

    # top: one JSON snapshot and exit (stdout is a pipe here, and there is no --once)
    t = json.loads(stack.cli("top", c, "-o", "json", check=True).stdout)
    assert t["campaign"] == c and t["state"] == "running" and t["strategy"] == "offline", t
    assert t["counts"]["pending"] == 2 and type(t["counts"]["pending"]) is int, t
    assert t["total"] == 2 and type(t["throughput"]["steps_per_minute"]) in (int, float), t
    assert "eta_s" in t and t["failed"] == [] and t["slowest"] == [], t
    line = stack.cli("top", c, "-o", "table", "--once", check=True).stdout
    assert line.count("\n") == 1 and c in line, line

    # report: -o json is --format json; -o table one row per instance
    rj = json.loads(stack.cli("report", c, "-o", "json", check=True).stdout)
    assert sorted(r["instance"] for r in rj["instances"]) == IDS, rj
    rt = stack.cli("report", c, "-o", "table", check=True).stdout.splitlines()
    assert rt[0].split()[:3] == ["INSTANCE", "CAMPAIGN", "STATE"], rt
    assert sorted(l.split()[0] for l in rt[1:] if l.strip()) == IDS, rt
    assert all(l.split()[2] == "pending" for l in rt[1:] if l.strip()), rt

    # bad values are errors naming the option, not a silent default
    for cmd in (["status", c], ["top", c], ["logs", c, "out-a"], ["report", c]):
        r = stack.cli(*cmd, "-o", "yaml")
        assert r.returncode == 2 and "output" in r.stderr, (cmd, r.returncode, r.stderr)

    # logs -o json: one typed object per transition
    stack.cli("pause", c, "out-a", check=True)
    stack.cli("resume", c, "out-a", check=True)
    out = stack.cli("logs", c, "out-a", "-o", "json", check=True).stdout.splitlines()
    evs = [json.loads(l) for l in out]
    assert [e["outcome"] for e in evs] == ["pause", "resume"], out
    e = evs[0]
    assert type(e["ts_ms"]) is int and type(e["attempt"]) is int and type(e["duration_ms"]) is int, e
    assert e["instance"] == "out-a" and e["from"] == "pending" and e["ts"].endswith("Z"), e
    table = stack.cli("logs", c, "out-a", "-o", "table", check=True).stdout
    assert "outcome=pause" in table and "outcome=resume" in table, table


def test_logs_follow_streams_until_terminal(stack):
    c = submitted(stack, "out2")
    stack.cli("pause", c, "out-a", check=True)
    p = subprocess.Popen([os.path.join(BIN_DIR, "fleetcrypt"), "logs", c, "out-a", "--follow", "-o", "json"],
                         env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in p.stdout], daemon=True).start()
    try:
        # what is recorded already comes first
        assert json.loads(lines.get(timeout=60))["outcome"] == "pause"
        # a new transition while it follows
        stack.cli("resume", c, "out-a", check=True)
        assert json.loads(lines.get(timeout=60))["outcome"] == "resume"
        assert p.poll() is None, "logs --follow ended while the instance is pending"
        # another instance's transitions are not shown; the abort ends it
        stack.cli("pause", c, "out-b", check=True)
        stack.cli("abort", c, "out-a", check=True)
        e = json.loads(lines.get(timeout=60))
        assert e["outcome"] == "abort" and e["to"] == "aborted", e
        assert p.wait(timeout=60) == 0, p.stderr.read()
        assert lines.empty()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    # interrupted while the instance is still pending: exit 0, like a reader that is done
    p = subprocess.Popen([os.path.join(BIN_DIR, "fleetcrypt"), "logs", c, "out-b", "--follow"], env=stack.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "outcome=pause" in p.stdout.readline()  # out-b was paused above
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    # an instance already terminal: --follow prints its history and ends at once
    r = stack.cli("logs", c, "out-a", "--follow", check=True)
    assert "outcome=abort" in r.stdout, r.stdout
    # table mode streams the same lines
    r = stack.cli("logs", c, "out-a", "-f", check=True)
    assert [l.split()[3] for l in r.stdout.splitlines()] == ["outcome=pause", "outcome=resume", "outcome=abort"], \
        r.stdout


def test_window_rds_syntax_and_utc(stack):
    """--window takes RDS's 'ddd:hh24:mi-ddd:hh24:mi' too; status (table)
    shows the campaign's window and says UTC; a refused window's reason says UTC."""
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(["win-a"])
    key = stack.make_key()
    base = ["submit", "--kms-key", key["Arn"], "--strategy", "pg-logical", "--yes"]
    r = stack.cli(*base, "--campaign", "w0", "--window", "sun:04:00-sun:02:00", "win-a")
    assert r.returncode == 2 and "window" in r.stderr and "UTC" in r.stderr, r.stderr
    r = stack.cli(*base, "--campaign", "w1", "--window", "sat:22:00-mon:02:00", "win-a")
    assert r.returncode == 0, r.stderr
    table = stack.cli("status", "w1", check=True).stdout
    m = re.search(r"^cutover window sat:22:00-mon:02:00 UTC: (open, closes|closed, opens) in (\d+)h(\d\d)m$",
                  table, re.M)
    assert m, table
    assert int(m.group(2)) * 60 + int(m.group(3)) <= 7 * 24 * 60, table
    # the JSON keeps the fixed keys of INTERFACES.md
    j = json.loads(stack.cli("status", "w1", "-o", "json", check=True).stdout)
    assert set(j) == {"campaign", "state", "counts", "instances", "throughput"}, j
    # a campaign without a window: any time, no line
    c = submitted(stack, "w2")
    assert "cutover window" not in stack.cli("status", c, check=True).stdout


def test_redis_url_from_a_file_stays_out_of_ps(stack, tmp_path):
    """FLEETCRYPT_REDIS_URL_FILE: the CLI reads the URL from the file; a
    running `logs --follow` has it in neither its command line nor its
    environment (what `ps e` shows). Given as --redis-url, it is overwritten
    in the process's argv once read."""
    c = submitted(stack, "out3")
    f = tmp_path / "redis-url"
    f.write_text(stack.redis.url + "\n")
    env = dict(stack.env, FLEETCRYPT_REDIS_URL_FILE=str(f))
    del env["FLEETCRYPT_REDIS_URL"]
    r = subprocess.run([os.path.join(BIN_DIR, "fleetcrypt"), "status", c, "-o", "json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["campaign"] == c, r.stderr
    p = subprocess.Popen([os.path.join(BIN_DIR, "fleetcrypt"), "logs", c, "out-a", "--follow"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stack.cli("pause", c, "out-a", check=True)
        assert "outcome=pause" in p.stdout.readline()  # connected through the URL in the file
        for part in ("cmdline", "environ"):
            with open(f"/proc/{p.pid}/{part}", "rb") as fh:
                assert stack.redis.url.encode() not in fh.read(), part
    finally:
        p.kill()
        p.wait()
    # given as a flag anyway: used, then overwritten where ps reads it
    env = dict(stack.env)
    del env["FLEETCRYPT_REDIS_URL"]
    p = subprocess.Popen([os.path.join(BIN_DIR, "fleetcrypt"), "logs", c, "out-b", "--follow",
                          "--redis-url", stack.redis.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        stack.cli("pause", c, "out-b", check=True)
        assert "outcome=pause" in p.stdout.readline()
        with open(f"/proc/{p.pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
        assert stack.redis.url.encode() not in b" ".join(argv), argv
        assert argv[argv.index(b"--redis-url") + 1] == b"x" * len(stack.redis.url), argv
    finally:
        p.kill()
        p.wait()
    env = dict(stack.env, FLEETCRYPT_REDIS_URL_FILE=str(f))
    # both set: exit 2 naming both
    r = subprocess.run([os.path.join(BIN_DIR, "fleetcrypt"), "status"], env=dict(env, FLEETCRYPT_REDIS_URL=stack.redis.url),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "FLEETCRYPT_REDIS_URL_FILE" in r.stderr, r.stderr
