#!/usr/bin/env python3
"""bench_downtime — pg-logical's cutover downtime as an application sees it
(issue 17 item 5): the write-unavailable window measured by an outside
probe, against the downtime fleetcrypt records (fact `downtime_ms`).

Every instance gets a probe (pglogical_strategy_util.Writer: one psql
session, as the application role, one single-row INSERT every 10 ms,
reconnecting through the instance's endpoint — or, for the proxy method,
the RDS Proxy's — whenever the server ends or refuses it, TLS verified as
AWS advises) from before submit until after the campaign. The probe's
figure is the longest time between two acknowledged writes from 1 s before
the block (fact `cutover_block_ms`) to the end of the campaign, so anything
after the switch that interrupts writes counts too.

For each cutover method (rename, proxy) and each emulator time scale (0:
fleetcrypt's own part, the renames complete at once; SCALES, e.g. 0.05: a
rename takes 60 emulated seconds plus its reboot and DNS lag, what AWS
adds), N instances in rounds of ROUND (a fresh set of real PostgreSQL
sources per round, deleted afterwards: the shared machine never holds more
than a round's servers). Median and max per configuration.

Usage: bench/run bench_downtime [N [ROUND [SCALES...]]]  (defaults 20 5 0 0.05)
FC_BENCH_METHODS=rename,proxy picks the methods; FC_BENCH_N_SCALED the
instances per configuration at a time scale above 0 (default N: those
campaigns take minutes each). FLEETCRYPT_BASELINE_BIN_DIR names another
build's bin/ (e.g. the commit before a change, built alike in a second
worktree): a second stack runs its workers and coordinator on the same
emulator, every round once on each stack, alternating which goes first, so
the machine's load falls on both alike; the last line gives the ratio of the
medians. Never run by tests/run."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcawsbench as fa  # noqa: E402
import fcbench  # noqa: E402

sys.path.insert(0, os.path.join(fcbench.REPO, "tests", "integration"))
import pglogical_strategy_util as pgu  # noqa: E402
from fclib import wait_until  # noqa: E402

GOALS = {"rename": 0.5, "proxy": 0.25}   # median at time scale 0, seconds


class Probe(pgu.Writer):
    """The application's writer: every 10 ms, as the application role;
    through the proxy's port when proxy is given. Acks in wall-clock time."""

    def __init__(self, sim, ident, proxy=None):
        super().__init__(sim, ident, rate=100, tables=("a",), user=pgu.APP_ROLE, password=pgu.APP_PASSWORD)
        self.proxy = proxy
        self.offset = time.time() - time.monotonic()

    def _port(self):
        if not self.proxy:
            return super()._port()
        try:   # the emulator gives a proxy's port as a tag (the DBProxy shape has none)
            rds = self.sim.client("rds")
            p = rds.describe_db_proxies(DBProxyName=self.proxy)["DBProxies"][0]
            tags = rds.list_tags_for_resource(ResourceName=p["DBProxyArn"])["TagList"]
            return int(next(t["Value"] for t in tags if t["Key"] == "fleetcrypt-sim:endpoint-port"))
        except Exception:  # noqa: BLE001
            return None

    def gap(self, from_wall):
        """(longest gap between consecutive acks from from_wall on, its start as wall time)."""
        with self.lock:
            ts = [t + self.offset for t, _ in self.acked]
        best, at = 0.0, 0.0
        prev = None
        for t in ts:
            if prev is not None and t >= from_wall and t - prev > best:
                best, at = t - prev, prev
            prev = t
        return best, at


def make_proxy(sim, ident):
    rds = sim.client("rds")
    name = f"px-{ident}"
    rds.create_db_proxy(DBProxyName=name, EngineFamily="POSTGRESQL",
                        Auth=[{"AuthScheme": "SECRETS",
                               "SecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x"}],
                        RoleArn="arn:aws:iam::000000000000:role/proxy", VpcSubnetIds=["subnet-1", "subnet-2"])
    wait_until(lambda: rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]["Status"] == "available", 60)
    rds.register_db_proxy_targets(DBProxyName=name, DBInstanceIdentifiers=[ident])
    wait_until(lambda: rds.describe_db_proxy_targets(DBProxyName=name)["Targets"][0]["TargetHealth"]["State"]
               == "AVAILABLE", 60)
    return name


def clean_round(sim, prefix, proxies):
    """Delete the round's instances (sources, targets, retired) and proxies."""
    sim.admin("POST", "/config", {"time_scale": 0})
    rds = sim.client("rds")
    for p in proxies:
        try:
            rds.delete_db_proxy(DBProxyName=p)
        except Exception:  # noqa: BLE001 - best effort
            pass
    gone = []
    for i in rds.describe_db_instances()["DBInstances"]:
        ident = i["DBInstanceIdentifier"]
        if prefix in ident:
            try:
                if i.get("DeletionProtection"):
                    rds.modify_db_instance(DBInstanceIdentifier=ident, DeletionProtection=False,
                                           ApplyImmediately=True)
                rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
                gone.append(ident)
            except Exception as e:  # noqa: BLE001
                print(f"    (could not delete {ident}: {str(e)[:120]})", flush=True)
    for ident in gone:
        try:
            sim.wait_gone(ident, timeout=120, rds=rds)
        except Exception:  # noqa: BLE001
            pass


def fact(stack, campaign, ident, name):
    v = stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", f"f.{name}")
    v = (v or "").strip()
    return int(v) if v.lstrip("-").isdigit() else None


def one_round(sim, stack, world, key, method, scale, tag, ids):
    proxies = {}
    sim.admin("POST", "/config", {"time_scale": 0})      # the sources are set up at full speed
    pgu.setup_sources(sim, ids)
    if method == "proxy":
        for i in ids:
            proxies[i] = make_proxy(sim, i)
    probes = {i: Probe(sim, i, proxies.get(i)).start() for i in ids}
    out = []
    try:
        wait_until(lambda: all(len(p.acked) > 20 for p in probes.values()), 60, 0.2, "every probe writing")
        sim.admin("POST", "/config", {"time_scale": scale})
        extra = ["--cutover-method", "proxy"] if method == "proxy" else []
        pgu.submit(stack, tag, key, ids, world, *extra)
        st = pgu.wait_campaign_terminal(stack, tag, timeout=1800, period=1)
        time.sleep(1.5)        # writes after the switch land on the target
    finally:
        for p in probes.values():
            p.stop()
    states = {i["id"]: i for i in st["instances"]}
    for i in ids:
        block = fact(stack, tag, i, "cutover_block_ms")
        down = fact(stack, tag, i, "downtime_ms")
        p = probes[i]
        gap, at = p.gap(block / 1000.0 - 1.0) if block else (None, None)
        r = {"id": i, "method": method, "scale": scale, "state": states[i]["state"],
             "error": states[i].get("error"), "recorded": down / 1000.0 if down is not None else None,
             "probe": gap, "gap_from_block": (at - block / 1000.0) if block and at else None,
             "acked": len(p.acked)}
        out.append(r)
    clean_round(sim, tag, list(proxies.values()))
    return out


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


def summary(rs):
    probe = [r["probe"] for r in rs if r["probe"] is not None]
    rec = [r["recorded"] for r in rs if r["recorded"] is not None]
    return {"n": len(rs), "done": sum(r["state"] == "done" for r in rs),
            "probe_med": statistics.median(probe) if probe else None, "probe_max": max(probe) if probe else None,
            "rec_med": statistics.median(rec) if rec else None, "rec_max": max(rec) if rec else None,
            "diff_max": max((abs(r["probe"] - r["recorded"]) for r in rs
                             if r["probe"] is not None and r["recorded"] is not None), default=None)}


def plot(results, configs):
    os.makedirs(fa.DOCS_BENCH, exist_ok=True)
    dat = os.path.join(fa.DOCS_BENCH, "downtime.dat")
    with open(dat, "w") as f:
        f.write("# one block per configuration (method, time scale): rank probe_s recorded_s, "
                "sorted by the probe's figure\n")
        for m, s in configs:
            rs = sorted((r for r in results if r["method"] == m and r["scale"] == s and r["probe"] is not None),
                        key=lambda r: r["probe"])
            f.write(f"# {m} scale {s}\n")
            for k, r in enumerate(rs, 1):
                f.write(f"{k} {r['probe']:.3f} {fmt(r['recorded'])}\n")
            f.write("\n\n")
    plots = []
    for n, (m, s) in enumerate(configs):
        plots.append(f"'downtime.dat' index {n} using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc {n + 1} "
                     f"title '{m}, scale {s:g}: probe'")
        plots.append(f"'' index {n} using 1:3 with points pt 4 ps 0.8 lc {n + 1} "
                     f"title '{m}, scale {s:g}: recorded'")
    fa.gnuplot(f"""
set terminal svg size 760,500 dynamic font 'sans,12'
set output 'downtime.svg'
set title 'pg-logical cutover: write-unavailable window per instance'
set xlabel 'instance (sorted by the probe figure)'
set ylabel 'longest gap between acknowledged writes (s, log scale)'
set logscale y
set key below
set grid
set yrange [0.1:100]
plot {', '.join(plots)}, 0.5 with lines lw 1 lc rgb 'gray' title 'goal rename 0.5 s', \\
     0.25 with lines lw 1 lc rgb 'black' title 'goal proxy 0.25 s'
""", fa.DOCS_BENCH)


def main(argv):
    n = int(argv[0]) if len(argv) > 0 else 20
    rnd = int(argv[1]) if len(argv) > 1 else 5
    scales = [float(x) for x in argv[2:]] or [0.0, 0.05]
    methods = os.environ.get("FC_BENCH_METHODS", "rename,proxy").split(",")
    n_scaled = int(os.environ.get("FC_BENCH_N_SCALED", str(n)))
    before_dir = os.environ.get("FLEETCRYPT_BASELINE_BIN_DIR")
    builds = ["this"] + (["before"] if before_dir else [])
    configs = [(m, s) for s in scales for m in methods]
    print(f"bench_downtime: pg-logical cutover, {n} instances per configuration ({n_scaled} above time scale 0) "
          f"in rounds of {rnd}, probe every "
          f"10 ms, methods {methods}, emulator time scales {scales}"
          + (f", against the binaries of {before_dir}" if before_dir else "") + f"; {fcbench.machine()}", flush=True)
    sim, base = fa.start_sim()
    worlds, stacks, keys = {}, {}, {}
    results = []
    try:
        env = {"FLEETCRYPT_STEP_DEADLINE_MAX_S": "0", "FLEETCRYPT_LEASE_MS": "30000"}
        for b in builds:
            worlds[b] = fcbench.make_world_dir(f"fc-bench-down-{b}-")
            stacks[b] = fa.BinStack.make(worlds[b], sim, before_dir if b == "before" else None, workers=2,
                                         executors=4, env_extra=env)
            keys[b] = stacks[b].make_key()["Arn"]
            stacks[b].start()
        for m, s in configs:
            rs = []
            t0 = time.monotonic()
            nn = n if s == 0 else n_scaled
            for k in range(0, nn, rnd):
                order = builds if (k // rnd) % 2 == 0 else builds[::-1]
                for b in order:
                    tag = f"dt{m[0]}{int(s * 1000)}{b[0]}r{k // rnd}"
                    ids = [f"{tag}-{j}" for j in range(min(rnd, nn - k))]
                    for r in one_round(sim, stacks[b], worlds[b], keys[b], m, s, tag, ids):
                        r["build"] = b
                        rs.append(r)
            results += rs
            for b in builds:
                bs = [r for r in rs if r["build"] == b]
                sm = summary(bs)
                print(f"  {m}, time scale {s}" + (f", {b} build" if before_dir else "") + f": {sm['done']}/{sm['n']} "
                      f"done ({time.monotonic() - t0:.0f} s so far); probe "
                      f"median {fmt(sm['probe_med'])} s, max {fmt(sm['probe_max'])} s; fleetcrypt recorded median "
                      f"{fmt(sm['rec_med'])} s, max {fmt(sm['rec_max'])} s; largest |probe - recorded| "
                      f"{fmt(sm['diff_max'])} s; load {fcbench.loadavg()}", flush=True)
                print("    per instance (probe/recorded s): " + ", ".join(
                    f"{fmt(r['probe'])}/{fmt(r['recorded'])}" for r in bs), flush=True)
                bad = [f"{r['id']}: {r['state']} {r['error']}" for r in bs if r["state"] != "done"]
                if bad:
                    print(f"    PROBLEMS: {bad[:5]}", flush=True)
    finally:
        for b, st in stacks.items():
            st.stop()
        fa.stop_sim(sim, base)
        if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
            for w in worlds.values():
                fcbench.shutil.rmtree(w, ignore_errors=True)
    if os.environ.get("FC_BENCH_DUMP"):
        with open(os.path.join(os.environ["FC_BENCH_DUMP"], "downtime.json"), "w") as f:
            json.dump(results, f, indent=1)
    plot([r for r in results if r["build"] == "this"], configs)
    parts = []
    for m, s in configs:
        sm = summary([r for r in results if r["method"] == m and r["scale"] == s and r["build"] == "this"])
        goal = ""
        if s == 0 and m in GOALS:
            ok = sm["probe_med"] is not None and sm["probe_med"] <= GOALS[m]
            goal = f" (goal median <= {GOALS[m]}: {'met' if ok else 'missed'})"
        before = ""
        if before_dir:
            sb = summary([r for r in results if r["method"] == m and r["scale"] == s and r["build"] == "before"])
            if sb["probe_med"] and sm["probe_med"]:
                before = (f"; before-binaries probe median {fmt(sb['probe_med'])} s, recorded median "
                          f"{fmt(sb['rec_med'])} s (this build's window {sb['probe_med'] / sm['probe_med']:.2f}x "
                          f"shorter)")
        parts.append(f"{m} scale {s:g} probe median {fmt(sm['probe_med'])} s max {fmt(sm['probe_max'])} s, "
                     f"recorded median {fmt(sm['rec_med'])} s max {fmt(sm['rec_max'])} s{goal}{before}")
    print(f"downtime x{n}" + (f" (x{n_scaled} above scale 0)" if n_scaled != n else "") + ": " + "; ".join(parts) + f"; load {fcbench.loadavg()}", flush=True)
    return 1 if any(r["state"] != "done" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
