#!/usr/bin/env python3
"""bench_aws_calls — AWS API calls per instance for a whole pg-logical
campaign and a whole offline campaign, with emulated snapshot copies of
10 s, 100 s and 1,000 s, against a baseline in the same run on the same
emulator that drives the same AWS actions and polls each resource every
30 emulated seconds as `aws rds wait` does (fcawsbench.Baseline).

Time: the emulator runs at time scale SCALE (real seconds per AWS second)
and the copy's modelled duration is set with POST /config {"durations"}.
fleetcrypt's own poll clamps are given the same scale
(FLEETCRYPT_POLL_MIN_MS = 1 s × SCALE, at least 50 ms; _MAX_MS = 300 s ×
SCALE; the wait floors FLEETCRYPT_POLL_FLOOR_SCALE = SCALE), so in emulated
time it polls as it would against AWS; its other
timers (a busy resource's re-try after 2-5 s, leases) are not scaled.

Counts, not times: calls per instance are what the emulator's call log
saw signed with each side's key, divided by the instances. Usage:
  bench/run bench_aws_calls [N_PGLOGICAL [N_OFFLINE [WAITS...]]]
defaults 4 pg-logical (real PostgreSQL) and 8 offline (metadata-only)
instances, waits 10 100 1000; the baseline runs on metadata-only instances
(its calls do not depend on data). FC_BENCH_DUMP=DIR writes every call of
each campaign to DIR/calls-<kind><wait>.json; FC_BENCH_LOG_LEVEL=debug
(default warn) with FLEETCRYPT_KEEP_TEST_DIRS=1 keeps the workers' logs,
whose "await look" lines show each in-run look (age, expectation, shared
or asked, status)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcawsbench as fa  # noqa: E402
import fcbench  # noqa: E402

sys.path.insert(0, os.path.join(fcbench.REPO, "tests", "integration"))
import pglogical_strategy_util as pgu  # noqa: E402
from fixtures_stack import make_stack  # noqa: E402

SCALE = float(os.environ.get("FC_BENCH_SCALE", "0.05"))


def dilated_env():
    return {"FLEETCRYPT_POLL_MIN_MS": str(max(50, int(1000 * SCALE))),
            "FLEETCRYPT_POLL_MAX_MS": str(max(1000, int(300000 * SCALE))),
            "FLEETCRYPT_POLL_FLOOR_SCALE": str(SCALE),
            "FLEETCRYPT_STEP_DEADLINE_MAX_S": "0", "FLEETCRYPT_LEASE_MS": "30000",
            "FLEETCRYPT_LOG_LEVEL": os.environ.get("FC_BENCH_LOG_LEVEL", "warn")}


def meta_instances(sim, ids):
    rds = sim.client("rds")
    for i in ids:
        rds.create_db_instance(DBInstanceIdentifier=i, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="app", MasterUserPassword="app-password-1",
                               StorageEncrypted=False, BackupRetentionPeriod=0, Tags=[fa.META_TAG])
    for i in ids:
        sim.wait_instance(i, "available", timeout=120, rds=rds)


def submit(stack, strategy, campaign, key, ids, world):
    if strategy == "pg-logical":
        pgu.submit(stack, campaign, key, ids, world)
        return
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "offline", "--yes",
                  "--max-parallel", str(len(ids)), *ids)
    if r.returncode != 0:
        raise RuntimeError(f"submit {campaign}: {r.stderr}")


def one(sim, stack, world, key, strategy, wait_s, n):
    """One campaign and its baseline at copy duration wait_s: a result dict."""
    tag = "pg" if strategy == "pg-logical" else "off"
    ids = [f"{tag}{wait_s}-{k}" for k in range(n)]
    bl_ids = [f"bl{tag}{wait_s}-{k}" for k in range(n)]
    sim.admin("POST", "/config", {"time_scale": 0, "durations": {"copy": [wait_s, 0]}})
    if strategy == "pg-logical":
        pgu.setup_sources(sim, ids)
    else:
        meta_instances(sim, ids)
    meta_instances(sim, bl_ids)
    sim.admin("DELETE", "/calls")
    sim.admin("POST", "/config", {"time_scale": SCALE})
    t0 = time.monotonic()
    campaign = f"c{tag}{wait_s}"
    submit(stack, strategy, campaign, key, ids, world)
    bl = fa.Baseline(sim, SCALE, key)
    threads = bl.run_all(strategy, bl_ids)
    st = pgu.wait_campaign_terminal(stack, campaign, timeout=3600, period=1)
    took = time.monotonic() - t0
    for t in threads:
        t.join(timeout=3600)
    bl_took = max(bl.ended or [time.monotonic()]) - t0
    sim.admin("POST", "/config", {"time_scale": 0})
    fc_calls, bl_calls = sim.calls(fa.ACCESS_KEY), sim.calls(fa.BASELINE_KEY)
    if os.environ.get("FC_BENCH_DUMP"):   # every call, for finding who makes them
        with open(os.path.join(os.environ["FC_BENCH_DUMP"], f"calls-{tag}{wait_s}.json"), "w") as f:
            json.dump({"fleetcrypt": fc_calls, "baseline": bl_calls}, f)
    not_done = [f"{i['id']}:{i['state']}@{i['step']}:{i.get('error')}" for i in st["instances"] if i["state"] != "done"]
    r = {"strategy": strategy, "wait_s": wait_s, "n": n, "fc": len(fc_calls) / n, "bl": len(bl_calls) / n,
         "fc_by": fa.by_action(fc_calls), "bl_by": fa.by_action(bl_calls), "took": took, "bl_took": bl_took,
         "problems": not_done + bl.errors}
    print(f"  {strategy}, copy {wait_s} s: fleetcrypt {r['fc']:.1f} calls/instance, baseline {r['bl']:.1f}, "
          f"ratio {r['bl'] / max(r['fc'], 1e-9):.2f}x fewer; campaign {took:.0f} s, baseline {bl_took:.0f} s "
          f"(real); load {fcbench.loadavg()}", flush=True)
    print(f"    fleetcrypt by action: {fa.fmt_actions(r['fc_by'], n)}", flush=True)
    print(f"    baseline by action:   {fa.fmt_actions(r['bl_by'], n)}", flush=True)
    if r["problems"]:
        print(f"    PROBLEMS: {r['problems'][:6]}", flush=True)
    return r


def plot(results, waits):
    os.makedirs(fa.DOCS_BENCH, exist_ok=True)
    dat = os.path.join(fa.DOCS_BENCH, "aws_calls.dat")
    with open(dat, "w") as f:
        f.write("# copy_s pglogical_fc pglogical_baseline offline_fc offline_baseline\n")
        for w in waits:
            row = [w]
            for s in ("pg-logical", "offline"):
                r = next(x for x in results if x["strategy"] == s and x["wait_s"] == w)
                row += [f"{r['fc']:.2f}", f"{r['bl']:.2f}"]
            f.write(" ".join(str(x) for x in row) + "\n")
    fa.gnuplot(f"""
set terminal svg size 720,480 dynamic font 'sans,12'
set output 'aws_calls.svg'
set title 'AWS API calls per instance against the snapshot copy time'
set xlabel 'emulated snapshot copy (s, log scale)'
set ylabel 'AWS calls per instance'
set logscale x
set yrange [0:*]
set key below
set grid
plot 'aws_calls.dat' using 1:2 with linespoints lw 2 title 'fleetcrypt pg-logical', \\
     '' using 1:3 with linespoints dt 2 title 'baseline pg-logical (aws rds wait, 30 s)', \\
     '' using 1:4 with linespoints lw 2 title 'fleetcrypt offline', \\
     '' using 1:5 with linespoints dt 2 title 'baseline offline (aws rds wait, 30 s)', \\
     25 with lines lc rgb 'gray' dt 3 title 'goal pg-logical 25', 12 with lines lc rgb 'black' dt 3 title 'goal offline 12'
""", fa.DOCS_BENCH)


def main(argv):
    n_pg = int(argv[0]) if len(argv) > 0 else 4
    n_off = int(argv[1]) if len(argv) > 1 else 8
    waits = [int(x) for x in argv[2:]] or [10, 100, 1000]
    print(f"bench_aws_calls: pg-logical x{n_pg} (real PostgreSQL), offline x{n_off} (metadata-only), copies "
          f"{waits} s, emulator time scale {SCALE}; {fcbench.machine()}", flush=True)
    sim, base = fa.start_sim()
    world = fcbench.make_world_dir("fc-bench-calls-")
    stack = None
    results = []
    try:
        stack = make_stack(world, sim, workers=2, executors=4, env_extra=dilated_env())
        key = stack.make_key()["Arn"]
        stack.start()
        for strategy, n in (("pg-logical", n_pg), ("offline", n_off)):
            for w in waits:
                results.append(one(sim, stack, world, key, strategy, w, n))
    finally:
        if stack:
            stack.stop()
        stop_sim(sim, base)
        if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
            fcbench.shutil.rmtree(world, ignore_errors=True)
    if len(waits) > 1:
        plot(results, waits)
    parts = []
    bad = []
    for s, goal in (("pg-logical", 25), ("offline", 12)):
        rs = [r for r in results if r["strategy"] == s]
        first, last = rs[0], rs[-1]
        figs = ", ".join(f"{r['wait_s']}s {r['fc']:.1f} (baseline {r['bl']:.1f}, {r['bl'] / r['fc']:.1f}x)" for r in rs)
        parts.append(f"{s} calls/instance {figs}; goal <= {goal}: "
                     f"{'met' if max(r['fc'] for r in rs) <= goal else 'missed'}; "
                     f"{last['wait_s']}s/{first['wait_s']}s {last['fc'] / first['fc']:.2f}")
        bad += [p for r in rs for p in r["problems"]]
    print("aws calls: " + "; ".join(parts) + f"; time scale {SCALE}; load {fcbench.loadavg()}", flush=True)
    return 1 if bad else 0


def stop_sim(sim, base):
    fa.stop_sim(sim, base)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
