#!/usr/bin/python3
"""bench_fleet_scale — fleet scale (issue 17 item 4): a `noop` campaign of N
instances (10,000) on 2 workers: the coordinator's cycle time
(fc_coordinator_cycle_seconds: mean, share of cycles within 100 ms, and the
bucket the slowest one fell in), where its time went by phase, the time
from submit to the last admission (the records' admitted_ms against the
campaign's created_ms), and Redis memory per 1,000 instances (INFO memory
used_memory: after submit and after done, less the empty stack's). The
baseline in the same run is the same campaign of N/10 instances: the cycle
ratio says how the cycle grows with the fleet.

Usage: bench_fleet_scale.py [N [MAX_PARALLEL]] (10000, 1000). Prints the
figures last on one line."""
import sys
import time

from fcbench import PREFIX, BenchStack, ids, loadavg, machine

BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60")


def run(n, max_parallel):
    s = BenchStack(workers=2, executors=8)
    try:
        s.start()
        camp = f"fs{n}"
        m0 = s.used_memory()
        c0 = s.scrape(s.coordinators[0])
        load0 = loadavg()
        t0 = time.monotonic()
        s.submit(camp, ids("noop", n), max_parallel=max_parallel)
        t_sub = time.monotonic() - t0
        m_sub = s.used_memory()  # the coordinator may have admitted some already: a record grows little
        s.wait_done(camp, timeout=3600, interval=0.5)
        wall = time.monotonic() - t0
        m_done = s.used_memory()
        c1 = s.scrape(s.coordinators[0])
        created = int(s.r.cmd("HGET", f"{PREFIX}:{{{camp}}}:campaign", "created_ms"))
        admitted = [int(x) for x in s.record_field(camp, ids("noop", n), "admitted_ms") if x]
        if len(admitted) != n:
            raise RuntimeError(f"{len(admitted)} of {n} records have admitted_ms")

        def d(k):
            return c1.get(k, 0.0) - c0.get(k, 0.0)
        cnt = d("fc_coordinator_cycle_seconds_count")
        mean = d("fc_coordinator_cycle_seconds_sum") / cnt
        within = d('fc_coordinator_cycle_seconds_bucket{le="0.1"}') / cnt
        slowest = next((b for b in BUCKETS if d(f'fc_coordinator_cycle_seconds_bucket{{le="{b}"}}') >= cnt), ">60")
        phases = {k.split('"')[1]: d(k) for k in c1 if k.startswith("fc_coordinator_phase_seconds_total{")}
        res = {"n": n, "wall": wall, "submit": t_sub, "last_admit": (max(admitted) - created) / 1000.0,
               "cycles": cnt, "mean_ms": mean * 1000, "within": within, "slowest": slowest,
               "mem_sub_per_k": (m_sub - m0) / n * 1000 / 2**20, "mem_done_per_k": (m_done - m0) / n * 1000 / 2**20,
               "load": f"{load0}->{loadavg()}"}
        print(f"  {n} instances, max-parallel {max_parallel}: done in {wall:.1f} s (submit {t_sub:.1f} s), "
              f"last admission {res['last_admit']:.1f} s after submit; load {res['load']}")
        print(f"    coordinator: {int(cnt)} cycles, mean {res['mean_ms']:.1f} ms, {within * 100:.0f}% within 100 ms, "
              f"slowest <= {slowest} s; time by phase (s): " +
              ", ".join(f"{k} {v:.2f}" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])))
        print(f"    redis used_memory per 1,000 instances: {res['mem_sub_per_k']:.2f} MiB after submit, "
              f"{res['mem_done_per_k']:.2f} MiB when done (event stream capped at ~10,000 entries)")
        return res
    finally:
        s.stop()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    mp = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    print(f"bench_fleet_scale: noop campaigns of {n // 10} and {n} instances, 2 workers x 8 executors; {machine()}")
    small = run(n // 10, min(mp, n // 10))
    big = run(n, mp)
    print(f"fleet scale {n}: coordinator cycle mean {big['mean_ms']:.1f} ms ({big['mean_ms'] / small['mean_ms']:.1f}x "
          f"the {n // 10}-instance campaign's {small['mean_ms']:.1f} ms), {big['within'] * 100:.0f}% of cycles "
          f"<= 100 ms, slowest <= {big['slowest']} s; last admission {big['last_admit']:.1f} s after submit; "
          f"redis {big['mem_done_per_k']:.2f} MiB per 1,000 instances; load {big['load']}")


if __name__ == "__main__":
    main()
