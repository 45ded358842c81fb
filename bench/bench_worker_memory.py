#!/usr/bin/python3
"""bench_worker_memory — worker memory (issue 17 item 7): one worker's RSS
(/proc/<pid>/status VmRSS, and its high-water mark VmHWM) idle, then with
100 and with 1,000 `noop` instances in flight (tuning option hold_s keeps
every step waiting, re-run at most every 5 s, so the instances stay
`running` and each one passes through the worker repeatedly). The baseline
is the idle worker of the same run: the figures are its growth, per
instance, from 100 to 1,000.

Usage: bench_worker_memory.py [N [HOLD_S]] (1000, 120). Prints the figures
last on one line."""
import sys
import time

from fcbench import BenchStack, ids, loadavg, machine, proc_status


def in_flight(s, camp, n, since):
    """Wait until every instance of camp is running and the worker has run
    at least n steps (each instance once) since `since`."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        c = s.counts(camp)
        runs = s.scrape_sum(s.workers, 'fc_steps_started_total{strategy="noop",step="begin"}') - since
        if c.get("running", 0) == n and runs >= n:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{camp}: not all {n} in flight: {s.counts(camp)}")


def sample(s, secs=10):
    """Worst VmRSS over secs (the instances keep being re-run), and VmHWM."""
    pid = s.workers[0].pid
    rss = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        rss = max(rss, proc_status(pid)["VmRSS"])
        time.sleep(0.25)
    return rss, proc_status(pid)["VmHWM"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    hold = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    small = max(1, n // 10)
    print(f"bench_worker_memory: 1 worker x 8 executors, noop hold_s={hold}; {machine()}")
    s = BenchStack(workers=1, executors=8)
    try:
        s.start()
        idle, _ = sample(s, 3)
        print(f"  idle: VmRSS {idle / 1024:.1f} MiB; load {loadavg()}")
        base = s.scrape_sum(s.workers, 'fc_steps_started_total{strategy="noop",step="begin"}')
        s.submit("mem1", ids("a", small), max_parallel=small, options={"hold_s": hold})
        in_flight(s, "mem1", small, base)
        r1, h1 = sample(s)
        print(f"  {small} in flight: VmRSS {r1 / 1024:.1f} MiB (VmHWM {h1 / 1024:.1f}); load {loadavg()}")
        base = s.scrape_sum(s.workers, 'fc_steps_started_total{strategy="noop",step="begin"}')
        s.submit("mem2", ids("b", n - small), max_parallel=n - small, options={"hold_s": hold})
        in_flight(s, "mem2", n - small, base)
        if s.counts("mem1").get("running", 0) != small:
            print(f"  (warning: the first {small} are no longer all in flight: {s.counts('mem1')}; raise HOLD_S)")
        r2, h2 = sample(s)
        print(f"  {n} in flight: VmRSS {r2 / 1024:.1f} MiB (VmHWM {h2 / 1024:.1f}); load {loadavg()}")
        per = (r2 - r1) / (n - small)
        print(f"worker memory: {n} in flight VmRSS {r2 / 1024:.1f} MiB (peak VmHWM {h2 / 1024:.1f} MiB), "
              f"{small} in flight {r1 / 1024:.1f} MiB, idle {idle / 1024:.1f} MiB; growth {small}->{n} "
              f"{(r2 - r1) / 1024:.1f} MiB = {per:.2f} kB per instance ({r2 / idle:.2f}x idle); load {loadavg()}")
    finally:
        s.stop()


if __name__ == "__main__":
    main()
