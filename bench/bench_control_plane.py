#!/usr/bin/python3
"""bench_control_plane — control-plane throughput (issue 17 item 3): step
transitions per second through Kafka and Redis for a `noop` campaign of N
instances (3 steps that return at once: transitions = N x 3), with 1 and 2
workers of E executors, against the same campaign on 1 worker with 1
executor measured in the same run (the ratio is the figure; the absolute
rates depend on the load of this shared machine). Per configuration:

- rate over the wall time, submit to the campaign's `done` (Redis polled
  every 50 ms), and over the event stream's span (first admission to the
  last step outcome, Redis timestamps), and the coordinator's part of the
  difference: submit to the first admission, the last outcome to `done`;
- Redis commands per step: INFO commandstats delta around the campaign,
  divided by the transitions (everything: submit, coordinator, workers);
- round trips per step, counted client-side (fc_redis_round_trips_total on
  /metrics): the workers', and the coordinator's;
- where the coordinator's time went (fc_coordinator_phase_seconds_total);
- CPU seconds each process used during the campaign (/proc/PID/stat:
  Redis, the Kafka stand-in, the coordinator, the workers), against the
  wall time: whether the run was short of CPU or waiting;
- a raw baseline: the workers' number of round trips as PINGs from one
  connection (redis-benchmark), to show what Redis alone would cost.

Besides the 1 x 1 baseline, two same-run comparisons on 2 workers x E:
with the consumer settings of before (queued.min.messages 100 instead of
10000, fetch.wait.max.ms librdkafka's 500 instead of 100; through
FLEETCRYPT_LIBRDKAFKA, the operator's override), and, when FLEETCRYPT_BASELINE_BIN_DIR names another build's
bin/ (e.g. the commit before a change, built alike), with that build's
worker and coordinator.

Usage: bench_control_plane.py [N [E]] (2000, 8). Prints the figures last
on one line."""
import os
import subprocess
import sys
import time

from fcbench import PREFIX, BenchStack, ids, loadavg, machine

STEPS = 3


def run(label, n, workers, executors, env_extra=None, bin_dir=None):
    s = BenchStack(workers=workers, executors=executors, env_extra=env_extra, bin_dir=bin_dir)
    try:
        s.start()
        camp = f"cp{workers}x{executors}"
        wk, co = s.workers, s.coordinators
        rt_w0 = s.scrape_sum(wk, "fc_redis_round_trips_total")
        rt_c0 = s.scrape_sum(co, "fc_redis_round_trips_total")
        ph0 = s.scrape(co[0])
        procs = {"redis": int(s.info("server")["process_id"]), "kafka-dev": s.kafka.proc.pid,
                 "coordinator": co[0].pid}
        for i, w in enumerate(wk):
            procs[f"worker{i + 1}"] = w.pid
        cpu0 = {k: cpu_seconds(p) for k, p in procs.items()}
        cs0 = s.commandstats()
        load0 = loadavg()
        t0 = time.monotonic()
        s.submit(camp, ids("noop", n), max_parallel=n)
        t_sub = time.monotonic()
        t1 = s.wait_done(camp, timeout=600)
        cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in procs.items()}
        cs1 = s.commandstats()
        rt_w = s.scrape_sum(wk, "fc_redis_round_trips_total") - rt_w0
        rt_c = s.scrape_sum(co, "fc_redis_round_trips_total") - rt_c0
        ph1 = s.scrape(co[0])
        ev = s.events(camp)
        counts = s.counts(camp)
        if counts.get("done") != n:
            raise RuntimeError(f"{label}: not every instance done: {counts}")
        steps = [e for e in ev if e.get("from") == "running" and e.get("step") in ("begin", "middle", "end")]
        starts = [int(e["ts"]) for e in ev if e.get("event") not in ("submitted",)]
        trans = n * STEPS
        if len(steps) != trans:
            raise RuntimeError(f"{label}: {len(steps)} step outcomes in the event stream, expected {trans}")
        last = max(int(e["ts"]) for e in steps)
        span = (last - min(starts)) / 1000.0
        # the coordinator's part of the wall time (Redis timestamps): submit
        # to the first admission, and the last step's outcome to `done`
        sub = [int(e["ts"]) for e in ev if e.get("event") == "submitted"]
        start_lat = (min(starts) - sub[0]) / 1000.0 if sub else float("nan")
        fin = s.r.cmd("HGET", f"{PREFIX}:{{{camp}}}:campaign", "finished_ms")
        finish_lat = (int(fin) - last) / 1000.0 if fin else float("nan")
        wall = t1 - t0
        calls = {k: cs1.get(k, 0) - cs0.get(k, 0) for k in cs1}
        calls = {k: v for k, v in calls.items() if v > 0}
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:12]
        phases = {}
        for k, v in ph1.items():
            if k.startswith("fc_coordinator_phase_seconds_total{"):
                phases[k.split('"')[1]] = v - ph0.get(k, 0.0)
        raw = raw_baseline(s, int(rt_w))
        res = {
            "label": label, "workers": workers, "executors": executors, "wall": wall, "submit": t_sub - t0,
            "span": span, "rate_wall": trans / wall, "rate_span": trans / span, "start": start_lat,
            "finish": finish_lat,
            "cmds_per_step": sum(calls.values()) / trans, "rt_worker": rt_w / trans, "rt_coord": rt_c / trans,
            "raw_s": raw, "load": f"{load0}->{loadavg()}", "cpu": sum(cpu.values()),
            "cpu_wk": sum(v for k, v in cpu.items() if k.startswith("worker") or k == "kafka-dev"),
        }
        print(f"  {label}: {n} instances, {trans} transitions in {wall:.2f} s wall "
              f"(submit {res['submit']:.2f} s) = {res['rate_wall']:.0f}/s; "
              f"event stream span {span:.2f} s = {res['rate_span']:.0f}/s; submit to first admission "
              f"{start_lat:.2f} s, last outcome to done {finish_lat:.2f} s; load {res['load']}")
        print(f"    redis commands/step {res['cmds_per_step']:.2f} (" +
              ", ".join(f"{k} {v / trans:.2f}" for k, v in top) + ")")
        print(f"    round trips/step: workers {res['rt_worker']:.2f}, coordinator {res['rt_coord']:.2f}; "
              f"the workers' {int(rt_w)} round trips as raw PINGs on 1 connection: {raw:.2f} s")
        print(f"    cpu seconds {res['cpu']:.2f} in {wall:.2f} s wall "
              f"({res['cpu'] / trans * 1000:.2f} ms per transition): " +
              ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
        print("    coordinator time by phase (s): " +
              ", ".join(f"{k} {v:.2f}" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])))
        return res
    finally:
        s.stop()


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def raw_baseline(s, n):
    """Seconds for n PINGs, one connection, no pipelining."""
    if n <= 0:
        return 0.0
    t = time.monotonic()
    subprocess.run(["redis-benchmark", "-p", str(s.redis.port), "-n", str(n), "-c", "1", "-P", "1", "-q",
                    "-t", "ping_mbulk"], check=True, capture_output=True)
    return time.monotonic() - t


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    e = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    print(f"bench_control_plane: noop campaign of {n} instances x {STEPS} steps; {machine()}")
    # FC_BENCH_QUICK=1: only 2 workers and the other build's binaries, twice each
    # (FC_BENCH_ROUNDS times) alternating (a shared machine: the same-run ratio
    # without the other configurations)
    before_dir = os.environ.get("FLEETCRYPT_BASELINE_BIN_DIR")
    if os.environ.get("FC_BENCH_QUICK") and before_dir:
        quick(n, e, before_dir, rounds=int(os.environ.get("FC_BENCH_ROUNDS", "2")))
        return
    base = run("baseline 1 worker x 1 executor", n, 1, 1)
    one = run(f"1 worker x {e} executors", n, 1, e)
    two = run(f"2 workers x {e} executors", n, 2, e)
    fw = run(f"2 workers x {e} executors, the consumer settings of before (queued.min.messages=100, "
             "fetch.wait.max.ms=500)", n, 2, e,
             env_extra={"FLEETCRYPT_LIBRDKAFKA": "queued.min.messages=100,fetch.wait.max.ms=500"})
    before = run(f"2 workers x {e} executors, binaries of {before_dir}", n, 2, e,
                 bin_dir=before_dir) if before_dir else None
    goal = 5000
    print(f"control plane {n}x{STEPS}: baseline(1x1) {base['rate_wall']:.0f}/s, "
          f"1x{e} {one['rate_wall']:.0f}/s ({one['rate_wall'] / base['rate_wall']:.2f}x), "
          f"2x{e} {two['rate_wall']:.0f}/s ({two['rate_wall'] / base['rate_wall']:.2f}x) transitions/s wall; "
          f"2x{e} vs old consumer settings {fw['rate_wall']:.0f}/s: {two['rate_wall'] / fw['rate_wall']:.2f}x; " +
          (f"vs before-binaries {before['rate_wall']:.0f}/s: {two['rate_wall'] / before['rate_wall']:.2f}x; "
           if before else "") +
          f"stream-span 2x{e} {two['rate_span']:.0f}/s; goal {goal}/s wall: 1x{e} {verdict(one['rate_wall'], goal)}, "
          f"2x{e} {verdict(two['rate_wall'], goal)}; "
          f"redis cmds/step {two['cmds_per_step']:.2f}, round trips/step worker {two['rt_worker']:.2f} "
          f"+ coordinator {two['rt_coord']:.2f}; cpu {two['cpu'] / (n * STEPS) * 1000:.2f} ms per transition; "
          f"load {two['load']}")


def verdict(rate, goal):
    """'met' or how far short a rate is of the goal (a ratio, never a time bound)."""
    return "met" if rate >= goal else f"missed ({goal / rate:.2f}x short)"


def quick(n, e, before_dir, rounds=2):
    """2 workers x e executors, this build against before_dir's, alternating."""
    new, old = [], []
    for _ in range(rounds):
        old.append(run(f"2 workers x {e} executors, binaries of {before_dir}", n, 2, e, bin_dir=before_dir))
        new.append(run(f"2 workers x {e} executors", n, 2, e))

    def med(rs, k):
        v = sorted(r[k] for r in rs)
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    print("  stream span /s, this build: " + ", ".join(f"{r['rate_span']:.0f}" for r in new) +
          "; before-binaries: " + ", ".join(f"{r['rate_span']:.0f}" for r in old))
    print("  cpu ms/transition (workers + kafka-dev), this build: " +
          ", ".join(f"{r['cpu'] / (n * STEPS) * 1000:.2f} ({r['cpu_wk'] / (n * STEPS) * 1000:.2f})" for r in new) +
          "; before-binaries: " +
          ", ".join(f"{r['cpu'] / (n * STEPS) * 1000:.2f} ({r['cpu_wk'] / (n * STEPS) * 1000:.2f})" for r in old))
    print(f"control plane {n}x{STEPS} 2x{e}, median of {rounds}: this build {med(new, 'rate_wall'):.0f}/s wall, "
          f"{med(new, 'rate_span'):.0f}/s stream span, {med(new, 'cmds_per_step'):.2f} redis cmds/step, "
          f"cpu {med(new, 'cpu') / (n * STEPS) * 1000:.2f} ms/transition; before-binaries "
          f"{med(old, 'rate_wall'):.0f}/s wall, {med(old, 'rate_span'):.0f}/s span, "
          f"{med(old, 'cmds_per_step'):.2f} cmds/step, cpu {med(old, 'cpu') / (n * STEPS) * 1000:.2f} ms/transition; "
          f"submit to first admission {med(new, 'start'):.2f} s / {med(old, 'start'):.2f} s, "
          f"last outcome to done {med(new, 'finish'):.2f} s / {med(old, 'finish'):.2f} s; "
          f"ratio wall {med(new, 'rate_wall') / med(old, 'rate_wall'):.2f}x, "
          f"span {med(new, 'rate_span') / med(old, 'rate_span'):.2f}x; load {loadavg()}")


if __name__ == "__main__":
    main()
