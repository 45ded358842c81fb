"""A1 — the demo, as the README runs it: `deploy/local/demo` (with the suite's
binaries instead of a second build). A fleet of 8 unencrypted instances with
data and live writers: demo-db-8 already encrypted with the campaign key
(→ skipped), demo-db-7 without rds.logical_replication=1 (→ failed with that
reason, source untouched), the rest done with every committed row present
once; alongside, two MySQL-family instances and an Aurora MySQL cluster
(mysql-binlog), each done with every committed row present once. The summary must print per-instance result, downtime, rows verified
and the campaign's throughput, and the demo's own verdict must be OK.
"""
import os
import re
import shutil
import subprocess

import pytest

from fclib import REPO, make_world_dir

N = 8


@pytest.mark.timeout(900)
def test_demo_fleet():
    home = make_world_dir("fc-demo-")   # the emulator's PostgreSQL runs as postgres: every parent traversable
    try:
        run_demo(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def emulator_failures(home):
    """The emulator's own account of failed operations (its log is deleted
    with the home): what made an instance `failed`/`incompatible-restore`."""
    path = os.path.join(home, "logs", "awssim.log")
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return f"(no {path})"
    keep = []
    for i, line in enumerate(lines):
        if " failed: " in line or "Traceback" in line or "PgError" in line or "ERROR" in line:
            keep.extend(lines[i:i + 12])
    return "emulator log:\n" + "\n".join(keep[-120:])


def run_demo(home):
    env = dict(os.environ, FLEETCRYPT_DEMO_HOME=home, FLEETCRYPT_DEMO_INSTANCES=str(N))
    assert env.get("FLEETCRYPT_BIN_DIR"), "tests/run sets FLEETCRYPT_BIN_DIR"
    r = subprocess.run([os.path.join(REPO, "deploy/local/demo")], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=840)
    out = r.stdout
    assert r.returncode == 0 and "demo: OK" in out, \
        f"demo exit {r.returncode}\n{out[-6000:]}\n{r.stderr[-3000:]}\n{emulator_failures(home)}"
    assert "using the binaries in" in out, "the demo rebuilt instead of using the suite's binaries"

    table = out.split("== verification", 1)[1]
    rows = {m.group(1): m for m in re.finditer(
        r"^(demo-db-\d+)\s+(done|failed|skipped|aborted|running|pending)\s+(\S+)\s+(\S+)\s+(.*)$", table, re.M)}
    assert sorted(rows) == sorted(f"demo-db-{i}" for i in range(1, N + 1)), table
    tput = re.search(r"campaign demo-\S+: done in (\d+)s; ([\d.]+) instances/hour, ([\d.]+) steps/minute", table)
    assert tput and float(tput.group(2)) > 0 and float(tput.group(3)) > 0, table[-800:]
    run_s = float(tput.group(1))
    for i in range(1, N - 1):
        m = rows[f"demo-db-{i}"]
        assert m.group(2) == "done", m.group(0)
        downtime = float(m.group(3).rstrip("s"))
        # pg-logical blocks writers only at the cutover: a small part of the
        # run measured in the same demo (no wall-clock bound: CI machines vary)
        assert 0 < downtime < run_s / 4, f"implausible downtime for a {run_s:.0f}s campaign: {m.group(0)}"
        assert int(m.group(4)) > 5000, f"rows verified: {m.group(0)}"   # 5000 loaded + live rows
        detail = m.group(5)
        assert "encrypted=yes" in detail and "missing=0" in detail and "doubled=0" in detail, detail
        assert int(re.search(r"live rows committed=(\d+)", detail).group(1)) > 50, detail
    failed = rows[f"demo-db-{N - 1}"]
    assert failed.group(2) == "failed" and failed.group(3) == "-", failed.group(0)
    assert "rds.logical_replication" in failed.group(5) and "source untouched: yes" in failed.group(5), \
        failed.group(0)
    skipped = rows[f"demo-db-{N}"]
    assert skipped.group(2) == "skipped" and "already encrypted" in skipped.group(5), skipped.group(0)
    # the MySQL family alongside: RDS for MySQL, RDS for MariaDB and an Aurora MySQL cluster, each done
    # on the campaign key with every committed row there once
    my = {m.group(1): m for m in re.finditer(r"^(demo-(?:my|am)-\d+)\s+(\S+)\s+\S+\s+\S+\s+(.*)$", table, re.M)}
    assert sorted(my) == ["demo-am-1", "demo-my-1", "demo-my-2"], table
    for ident, m in my.items():
        assert m.group(2) == "done", m.group(0)
        assert "encrypted=yes" in m.group(3) and "missing=0" in m.group(3) and "doubled=0" in m.group(3), m.group(0)
    assert "[aurora-mysql]" in my["demo-am-1"].group(3), my["demo-am-1"].group(0)
    # the stack it started is gone again
    left = subprocess.run(["pgrep", "-f", home], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"demo left processes behind: {left.stdout}"
