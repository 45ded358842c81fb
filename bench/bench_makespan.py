#!/usr/bin/env python3
"""bench_makespan — an `offline` campaign of N metadata-only instances
(default 200) with --max-parallel P (20) and the per-step limits on
(FLEETCRYPT_LIMIT_COPY / _RESTORE = LIMIT, default 10), the emulator at time
scale SCALE (0.05: a 20 GiB instance's AWS work is ~43 s real, so AWS's
steps, not the API budget, set the pace). Its makespan (submit to the
campaign's end) against the lower bound computed from the same modelled
step durations (the emulator's table, tools/awssim/sim/rds_common.py DUR),
limits and API budget:

  - parallel: ceil(N / P) waves of one instance's AWS time T (an instance
    holds its max-parallel slot for at least T);
  - each limited class c (copy, restore): N × d_c / limit_c plus the AWS
    time before the first instance can reach it and after the last leaves it;
  - API budget: the campaign's own AWS calls (the emulator's call log)
    divided by the allowed rate (FLEETCRYPT_AWS_RATE, 10/s; minus its burst).

The lower bound is the largest. Also a Gantt chart of every instance's
steps, sampled from the instance records every 0.5 s. Usage:
  bench/run bench_makespan [N [MAX_PARALLEL [LIMIT]]]"""
import math
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcawsbench as fa  # noqa: E402
import fcbench  # noqa: E402
from fclib import RedisConn  # noqa: E402

SCALE = float(os.environ.get("FC_BENCH_SCALE", "0.05"))
RATE, BURST = 10.0, 50.0
GB = 20
STEPS = ["preflight", "rename-source", "stop-source", "snapshot", "copy-encrypted", "restore",
         "configure-target", "retire-source", "cleanup"]
# the emulator's modelled AWS work of each offline step (rds_common.DUR, 20 GiB), AWS seconds
DUR = {"rename-source": 60, "stop-source": 60, "snapshot": 60 + 2 * GB, "copy-encrypted": 120 + 6 * GB,
       "restore": 300 + 1.5 * GB, "configure-target": 45}


def lower_bound(n, p, limit, calls, modifies):
    """modifies: ModifyDBInstance calls per instance; configure-target's
    modify (backup retention) counts only when the campaign made it (a
    restore that kept the source's retention needs none)."""
    dur = dict(DUR)
    if modifies < 1.5:
        dur.pop("configure-target")
    t = sum(dur.values()) * SCALE
    parallel = math.ceil(n / p) * t
    order = [s for s in STEPS if s in dur]

    def cls(step):
        i = order.index(step)
        before = sum(dur[s] for s in order[:i]) * SCALE
        after = sum(dur[s] for s in order[i + 1:]) * SCALE
        return before + math.ceil(n / limit) * dur[step] * SCALE + after
    budget = max(0.0, (calls - BURST) / RATE)
    parts = {"parallel": parallel, "copy limit": cls("copy-encrypted"), "restore limit": cls("restore"),
             "API budget": budget, "one instance": t}
    return max(parts.values()), parts


def ideal_schedule(n, p, limit, modifies):
    """The makespan of the same policy with no overhead at all: max-parallel
    p admitted at once as slots free, each instance's steps back to back
    with the modelled durations, copy and restore each holding one of
    `limit` class slots (FIFO), nothing else (no poll or re-run latency, no
    API budget). An instance waiting for a class slot keeps its max-parallel
    slot, as in fleetcrypt, so this is above the simple bounds."""
    import heapq
    dur = dict(DUR)
    if modifies < 1.5:
        dur.pop("configure-target")
    order = [s for s in STEPS if s in dur]
    limited = {"copy-encrypted", "restore"}
    free = {c: limit for c in limited}
    queue = {c: [] for c in limited}
    ev = []     # (time, seq, instance, step index): instance ready to start step index
    seq = 0
    admitted = min(n, p)
    for k in range(admitted):
        heapq.heappush(ev, (0.0, seq, k, 0))
        seq += 1
    end = 0.0
    while ev:
        t, _, k, i = heapq.heappop(ev)
        if i > 0 and order[i - 1] in limited:     # left a class: wake its first waiter
            c = order[i - 1]
            free[c] += 1
            if queue[c]:
                k2, i2 = queue[c].pop(0)
                free[c] -= 1
                heapq.heappush(ev, (t + dur[order[i2]] * SCALE, seq, k2, i2 + 1))
                seq += 1
        if i == len(order):
            end = max(end, t)
            if admitted < n:
                heapq.heappush(ev, (t, seq, admitted, 0))
                seq += 1
                admitted += 1
            continue
        step = order[i]
        if step in limited:
            if free[step] == 0:
                queue[step].append((k, i))
                continue
            free[step] -= 1
        heapq.heappush(ev, (t + dur[step] * SCALE, seq, k, i + 1))
        seq += 1
    return end


class Sampler(threading.Thread):
    """Every instance's step and state every `period` s (pipelined HGETs)."""

    def __init__(self, r, campaign, ids, period=0.5):
        super().__init__(daemon=True)
        self.r, self.campaign, self.ids, self.period = r, campaign, ids, period
        self.samples = []   # (t, [(state, step)...])
        self.stop_flag = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop_flag.is_set():
            cmds = [("HMGET", f"fc:{{{self.campaign}}}:i:{i}", "state", "step") for i in self.ids]
            try:
                got = []
                for k in range(0, len(cmds), 500):
                    got += self.r.pipeline(*cmds[k:k + 500])
                self.samples.append((time.monotonic() - self.t0, got))
            except Exception:  # noqa: BLE001 - a missed sample
                pass
            self.stop_flag.wait(self.period)

    def spans(self):
        """[(instance index, step, start, end)] from the samples."""
        out = []
        for k in range(len(self.ids)):
            cur, start = None, 0.0
            for t, got in self.samples:
                st = got[k] if k < len(got) else None
                step = st[1] if st and st[0] == "running" else None
                if step != cur:
                    if cur:
                        out.append((k, cur, start, t))
                    cur, start = step, t
            if cur:
                out.append((k, cur, start, self.samples[-1][0]))
        return out


def gantt(spans, makespan, lb):
    os.makedirs(fa.DOCS_BENCH, exist_ok=True)
    dat = os.path.join(fa.DOCS_BENCH, "makespan_gantt.dat")
    with open(dat, "w") as f:
        f.write("# instance step_index start_s end_s step\n")
        for k, step, a, b in spans:
            f.write(f"{k} {STEPS.index(step) if step in STEPS else len(STEPS)} {a:.2f} {b:.2f} {step}\n")
    palette = ["#999999", "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#000000"]
    keys = "\n".join(f"set style line {i + 1} lc rgb '{c}' lw 2" for i, c in enumerate(palette))
    plots = ", \\\n     ".join(
        f"'makespan_gantt.dat' using ($2=={i} ? $3 : 1/0):1:($4-$3):(0) with vectors nohead ls {i + 1} title '{s}'"
        for i, s in enumerate(STEPS))
    fa.gnuplot(f"""
set terminal svg size 900,600 dynamic font 'sans,11'
set output 'makespan_gantt.svg'
{keys}
set title 'offline campaign: the steps of each instance (makespan {makespan:.0f} s, lower bound {lb:.0f} s)'
set xlabel 'seconds since submit (real)'
set ylabel 'instance'
set key outside right
set arrow from {lb:.2f}, graph 0 to {lb:.2f}, graph 1 nohead dt 2 lc rgb 'black'
plot {plots}
""", fa.DOCS_BENCH)


def ratio_plot(made, lb, parts):
    dat = os.path.join(fa.DOCS_BENCH, "makespan.dat")
    with open(dat, "w") as f:
        f.write("# label seconds\n")
        for i, (k, v) in enumerate(list(parts.items()) + [("makespan", made)]):
            f.write(f"{i} \"{k}\" {v:.1f}\n")
    fa.gnuplot(f"""
set terminal svg size 720,380 dynamic font 'sans,12'
set output 'makespan.svg'
set title 'makespan against its lower bounds ({made / lb:.3f}x the largest)'
set style fill solid 0.6
set boxwidth 0.6
set ylabel 'seconds (real)'
set yrange [0:*]
set grid y
set xtics rotate by -20
plot 'makespan.dat' using 1:3:xtic(2) with boxes notitle, {lb:.1f} with lines dt 2 lc rgb 'black' title 'lower bound'
""", fa.DOCS_BENCH)


def campaign(n, p, limit, bin_dir=None):
    """One offline campaign on a fresh emulator and stack: (makespan s, AWS
    calls, terminal counts, the Gantt spans, load before)."""
    sim, base = fa.start_sim(["--metadata-only"], real=False)
    world = fcbench.make_world_dir("fc-bench-makespan-")
    stack = None
    try:
        env = {"FLEETCRYPT_POLL_MIN_MS": str(max(50, int(1000 * SCALE))),
               "FLEETCRYPT_POLL_MAX_MS": str(max(1000, int(300000 * SCALE))),
               "FLEETCRYPT_POLL_FLOOR_SCALE": str(SCALE),
               "FLEETCRYPT_STEP_DEADLINE_MAX_S": "0", "FLEETCRYPT_LEASE_MS": "30000",
               "FLEETCRYPT_LOG_LEVEL": os.environ.get("FC_BENCH_LOG_LEVEL", "warn"),
               "FLEETCRYPT_LIMIT_COPY": str(limit), "FLEETCRYPT_LIMIT_RESTORE": str(limit),
               "FLEETCRYPT_AWS_RATE": str(RATE), "FLEETCRYPT_AWS_BURST": str(int(BURST))}
        stack = fa.BinStack.make(world, sim, bin_dir, workers=2, executors=8, env_extra=env)
        key = stack.make_key()["Arn"]
        ids = fcbench.ids("ms", n)
        sim.admin("POST", "/config", {"time_scale": 0})
        stack.make_instances(ids, storage=GB)
        stack.start()
        r = RedisConn(stack.redis.port)
        sim.admin("DELETE", "/calls")
        sim.admin("POST", "/config", {"time_scale": SCALE})
        load0 = fcbench.loadavg()
        sampler = Sampler(RedisConn(stack.redis.port), "ms", ids)   # its own connection: not shared across threads
        sampler.start()
        t0 = time.monotonic()
        res = stack.cli("submit", "--campaign", "ms", "--kms-key", key, "--strategy", "offline", "--yes",
                        "--max-parallel", str(p), "-", stdin="\n".join(ids) + "\n", timeout=600)
        if res.returncode != 0:
            raise RuntimeError(f"submit: {res.stderr}")
        deadline = time.monotonic() + 7200
        while r.cmd("HGET", "fc:{ms}:campaign", "state") != "done":
            if time.monotonic() > deadline:
                raise RuntimeError(f"not done: {stack.diagnostics()}")
            time.sleep(0.2)
        made = time.monotonic() - t0
        sampler.stop_flag.set()
        sampler.join()
        sampler.r.close()
        sim.admin("POST", "/config", {"time_scale": 0})
        calls = sim.calls(fa.ACCESS_KEY)
        counts = {}
        for k, v in zip(*[iter(r.cmd("HGETALL", "fc:{ms}:counts") or [])] * 2):
            if k in ("done", "failed", "skipped", "aborted") and v != "0":
                counts[k] = int(v)
        r.close()
    finally:
        if stack:
            stack.stop()
        fa.stop_sim(sim, base)
        if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
            fcbench.shutil.rmtree(world, ignore_errors=True)
    if counts.get("done") != n:
        raise RuntimeError(f"not every instance done: {counts}")
    return made, calls, counts, sampler.spans(), load0


def slot_idle(calls, action, step, limit):
    """How long a class slot stood idle at each hand-over: from the end of
    an operation of the class (its AWS call + the modelled duration, the
    emulator's durations are exact) to the next operation's call, when the
    next one found every slot taken (so it waited, and the gap is overhead:
    seeing the end, the hand-over, the next step's run), in hand-over order."""
    import heapq
    starts = sorted(c["ts"] for c in calls if c["action"] == action and not c.get("error"))
    running, gaps = [], []
    for t in starts:
        if len(running) >= limit:
            e = heapq.heappop(running)
            if t > e:
                gaps.append(t - e)
        heapq.heappush(running, t + DUR[step] * SCALE)
    return gaps


def idle_line(calls, limit):
    parts = []
    for cls, action, step in (("copy", "CopyDBSnapshot", "copy-encrypted"),
                              ("restore", "RestoreDBInstanceFromDBSnapshot", "restore")):
        g = slot_idle(calls, action, step, limit)
        first, rest = g[:limit], g[limit:]
        parts.append(f"{cls} {sum(g) / max(1, len(g)):.2f} over {len(g)} hand-overs (the first {len(first)}: "
                     f"{sum(first) / max(1, len(first)):.2f}, the others: {sum(rest) / max(1, len(rest)):.2f})")
    return "slot idle per hand-over, mean s: " + "; ".join(parts)


def step_means(spans):
    per = {}
    for _, step, a, b in spans:
        per.setdefault(step, []).append(b - a)
    return ", ".join(f"{st} {sum(v) / len(v):.2f} ({DUR.get(st, 0) * SCALE:.2f})"
                     for st in STEPS for v in [per.get(st)] if v)


def main(argv):
    n = int(argv[0]) if len(argv) > 0 else 200
    p = int(argv[1]) if len(argv) > 1 else 20
    limit = int(argv[2]) if len(argv) > 2 else 10
    print(f"bench_makespan: offline x{n} (metadata-only), max-parallel {p}, copy/restore limit {limit}, emulator "
          f"time scale {SCALE}; {fcbench.machine()}", flush=True)
    # FLEETCRYPT_BASELINE_BIN_DIR: the same campaign first with another build's
    # workers and coordinator (the commit before a change), same run
    before_dir = os.environ.get("FLEETCRYPT_BASELINE_BIN_DIR")
    before = None
    if before_dir:
        bm, bcalls, _, bspans, bload = campaign(n, p, limit, before_dir)
        before = bm
        print(f"  binaries of {before_dir}: done in {bm:.1f} s; {len(bcalls) / n:.1f} AWS calls/instance; "
              f"load {bload}->{fcbench.loadavg()}", flush=True)
        print("    step spans, mean s (modelled AWS work): " + step_means(bspans), flush=True)
        print("    " + idle_line(bcalls, limit), flush=True)
    made, calls, counts, spans, load0 = campaign(n, p, limit)
    by = fa.by_action(calls)
    lb, parts = lower_bound(n, p, limit, len(calls), by.get("ModifyDBInstance", 0) / n)
    print(f"  done in {made:.1f} s; counts {counts}; {len(calls)} AWS calls ({len(calls) / n:.1f}/instance): "
          f"{fa.fmt_actions(by, n)}; load {load0}->{fcbench.loadavg()}", flush=True)
    print("  lower bounds (s): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()), flush=True)
    ideal = ideal_schedule(n, p, limit, by.get("ModifyDBInstance", 0) / n)
    print(f"  the same policy with no overhead (simulated): {ideal:.1f} s; makespan / that {made / ideal:.3f}",
          flush=True)
    print("  step spans, mean s (modelled AWS work): " + step_means(spans), flush=True)
    print("  " + idle_line(calls, limit), flush=True)
    gantt(spans, made, lb)
    ratio_plot(made, lb, parts)
    print(f"makespan {n} offline, max-parallel {p}, limits {limit}: {made:.1f} s, lower bound {lb:.1f} s "
          f"({max(parts, key=parts.get)}), ratio {made / lb:.3f} (goal <= 1.05: "
          f"{'met' if made / lb <= 1.05 else 'missed by ' + format(made / lb - 1.05, '.3f')}); "
          f"no-overhead schedule {ideal:.1f} s, ratio {made / ideal:.3f}; " +
          (f"before-binaries {before:.1f} s, ratio {before / lb:.3f} (this build {before / made:.2f}x faster); "
           if before else "") +
          f"{len(calls) / n:.1f} AWS calls/instance; time scale {SCALE}; load {load0}->{fcbench.loadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
