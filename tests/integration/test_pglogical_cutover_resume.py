"""The cutover resumes from what the world shows, not from facts lost with a
worker (issue 11, findings 4 and 6). A worker is SIGKILLed at a named point
(lib/util.h fc_crashpoint, test-only) and the campaign must still end done
with every acknowledged row exactly once:

- proxy method (two proxies front the instance: both must be switched),
  killed after the whole cutover (writers already let in on
  the target) but before its outcome is recorded: the re-run learns the
  switch from the proxy's targets and must not block the now-production
  target again (the old code set every role NOLOGIN on it once more);
- rename method, killed between the swap's intent and its first rename
  (made without a Describe on a first run): the re-run must look first;
- rename method, killed between dropping the target's subscription and the
  source's slot: the re-run must finish the teardown from the drained mark
  instead of waiting for a slot nobody consumes any more (the old code
  blocked writers for two minutes per attempt and failed).
"""
import datetime
import os
import re
import time

import pytest

from fclib import wait_until
from pglogical_strategy_util import (MASTER, Writer, app_schema, frozen_rows, logical_group, make_instances, sql,
                                     submit)
from test_pglogical_strategy_flow import ProxyWriter as ProxyProbe


def crash_env(stack, world, point):
    d = os.path.join(world, "crash")
    os.makedirs(d, exist_ok=True)
    stack.env["FLEETCRYPT_TEST_CRASH_DIR"] = d
    stack.env["FLEETCRYPT_TEST_CRASH_AT"] = point
    return os.path.join(d, point)


def make_proxy(sim, ident, name=None):
    rds = sim.client("rds")
    px = rds.create_db_proxy(DBProxyName=name or f"px-{ident}", EngineFamily="POSTGRESQL",
                             Auth=[{"AuthScheme": "SECRETS", "SecretArn":
                                    "arn:aws:secretsmanager:us-east-1:000000000000:secret:x"}],
                             RoleArn="arn:aws:iam::000000000000:role/proxy",
                             VpcSubnetIds=["subnet-1", "subnet-2"])["DBProxy"]
    name = px["DBProxyName"]
    wait_until(lambda: rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]["Status"] == "available", 60)
    rds.register_db_proxy_targets(DBProxyName=name, DBInstanceIdentifiers=[ident])
    wait_until(lambda: rds.describe_db_proxy_targets(DBProxyName=name)["Targets"][0]["TargetHealth"]["State"]
               == "AVAILABLE", 60)
    return name


def run_until_terminal(stack, campaign, fired, timeout=360):
    """Wait for the campaign to end, restarting any worker the crash point killed."""
    return stack.until_terminal(campaign, timeout)[0]


def exactly_once(sim, ident, w):
    """`ident`: the identifier the encrypted instance serves under."""
    target = [int(x) for t in ("a", "b") if t in w.tables for x in sql(sim, ident, f"SELECT seq FROM {t}").split()]
    acked = w.numbers()
    assert len(acked) > 50, f"the writer acknowledged only {len(acked)} rows"
    missing = sorted(set(acked) - set(target))
    doubled = len(target) - len(set(target))
    assert not missing and doubled == 0, f"missing {missing[:10]} doubled {doubled}"


def worker_lines(stack, needle, after=None):
    """Log lines of every worker (dead ones too) containing needle; with
    after (epoch seconds), only lines logged later than that."""
    out = []
    for wk in stack.workers:
        with open(wk.log_path, errors="replace") as f:
            for ln in f:
                if needle not in ln:
                    continue
                if after is not None:
                    m = re.search(r"ts=(\S+)Z", ln)
                    ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                        tzinfo=datetime.timezone.utc).timestamp() if m else 0
                    if ts <= after:
                        continue
                out.append(ln)
    return out


def proxy_crash_campaign(stack, sim, world, ident, campaign, point, nproxies=1, faults=None):
    """A one-instance proxy cutover (nproxies proxies fronting the instance)
    with a live writer through the first, a worker killed at `point` (None:
    none; faults: emulator faults from submit to the end): ends done, the
    point fired, every acknowledged row exactly once on the encrypted
    instance. (proxies, the encrypted instance's id, the point's file)"""
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    proxies = [make_proxy(sim, ident)]
    proxies += [make_proxy(sim, ident, name=f"px{k + 2}-{ident}") for k in range(nproxies - 1)]
    key = stack.make_key()["Arn"]
    fired = crash_env(stack, world, point) if point else None
    stack.start()
    probe = ProxyProbe(sim, proxies[0]).start()
    time.sleep(1.0)
    if faults:
        sim.admin("DELETE", "/calls")
        sim.admin("POST", "/config", {"faults": faults})
    submit(stack, campaign, key, [ident], world, "--cutover-method", "proxy")
    st = run_until_terminal(stack, campaign, fired)
    if faults:
        sim.admin("POST", "/config", {"faults": {"throttle_rate": 0, "http5xx_rate": 0, "latency_ms": 0,
                                                 "alternate": {}}})
    time.sleep(1.0)
    probe.stop()
    assert not point or os.path.exists(fired), "the crash point never fired: the test proved nothing"
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    tid = f"fc-{campaign}-{ident}-target"  # with a proxy the encrypted instance keeps its own identifier
    exactly_once(sim, tid, probe)
    return proxies, tid, fired


def proxies_reach_only(sim, proxies, tid):
    rds = sim.client("rds")
    for px in proxies:
        ids = [t["RdsResourceId"] for t in rds.describe_db_proxy_targets(DBProxyName=px)["Targets"]]
        assert ids == [tid], f"proxy {px} targets {ids}, expected only {tid}"


@pytest.mark.slow  # CI's 30 minutes (tests/run --all)
def test_proxy_rerun_after_switch_does_not_block_the_live_target(stack, awssim, world):
    # a second proxy fronting the same instance: both must be switched
    proxies, tid, fired = proxy_crash_campaign(stack, awssim, world, "pgl-rs-proxy", "rsproxy", "step.cutover", 2)
    # after the crash the re-run learned the switch from the proxy ...
    assert worker_lines(stack, "the switch had happened"), "the re-run did not learn the switch from AWS"
    # ... and never blocked anything again (the old code made every role of the
    # now-production target NOLOGIN once more and ended its sessions)
    again = worker_lines(stack, 'msg="writers blocked"', after=os.path.getmtime(fired))
    assert not again, f"writers were blocked again after the switch: {again}"
    # every proxy fronting the instance now reaches the encrypted instance only
    proxies_reach_only(awssim, proxies, tid)


@pytest.mark.slow  # ~80 s; the proxy method's early deregistration (issue 17 item 5)
def test_proxy_killed_with_the_source_off_the_proxy_goes_forward(stack, awssim, world):
    """The proxy method deregisters the source from its RDS Proxy inside the
    source's quiet gap, long before the drained mark and the target's
    registration. A worker killed right after that (crash point
    cutover.proxy_source_out: the proxy has no target, the source blocked):
    the next holder resumes from what the world shows — the source blocked,
    no proxy with the target — and the campaign ends done, the proxy on the
    encrypted instance only, every acknowledged row exactly once."""
    proxies, tid, _ = proxy_crash_campaign(stack, awssim, world, "pgl-rs-pxout", "rspxout", "cutover.proxy_source_out")
    proxies_reach_only(awssim, proxies, tid)


@pytest.mark.slow  # ~80 s; the proxy method's early registration of the target (issue 17 item 5)
def test_proxy_killed_after_the_early_registration_drains_before_the_switch(stack, awssim, world):
    """The proxy method registers the target with the RDS Proxy inside the
    source's quiet gap, before the drain and the checks (cutover.c,
    proxy_target_in). A worker killed right after that (crash point
    cutover.proxy_target_in: the proxy has the target, the source blocked
    and not marked drained) must not be taken for the switch — the old rule
    "a proxy has the target: go forward" would let the writers in on a
    target that never finished its drain. The next holder takes the target
    off the proxy, resumes the block, drains and switches: done, the proxy
    on the encrypted instance only, every acknowledged row exactly once."""
    proxies, tid, _ = proxy_crash_campaign(stack, awssim, world, "pgl-rs-pxin", "rspxin", "cutover.proxy_target_in")
    proxies_reach_only(awssim, proxies, tid)
    # the re-run drained and made the window's checks and copies before its switch (the killed run recorded
    # none of them): going forward would have let the writers in with the target's sequences never carried
    for f in ("sequences_synced", "privs_synced"):
        got = stack.redis.cli("HGET", "fc:{rspxin}:i:pgl-rs-pxin", f"f.{f}").strip()
        assert got, f"fact {f} missing: the re-run let the writers in on the target without the window's checks"
    assert worker_lines(stack, "an early registration, not the switch"), \
        "the re-run did not see the early registration (it went forward, or the crash point fired elsewhere)"


@pytest.mark.slow  # ~90 s; abort after the proxy method's early registration (issue 17 item 5)
def test_proxy_aborted_after_the_early_registration_gives_the_proxy_back(stack, awssim, world):
    """A worker killed right after the early registration (crash point
    cutover.proxy_target_in: the proxy has the target, the source is
    blocked, not marked drained), then the instance aborted before any
    worker resumes it: a proxy with the target is not the switch without
    the drained mark (abort.c, roll_back_proxy), so the abort takes the
    target off the proxy, gives the proxy the source again and lets the
    writers back in there. The instance ends aborted; writes through the
    proxy go on, on the source, every acknowledged row there exactly once."""
    sim = awssim
    ident, camp = "pgl-rs-pxab", "rspxab"
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    name = make_proxy(sim, ident)
    key = stack.make_key()["Arn"]
    fired = crash_env(stack, world, "cutover.proxy_target_in")
    stack.n_workers = 1  # nobody resumes the cutover before the abort
    stack.start()
    probe = ProxyProbe(sim, name).start()
    time.sleep(1.0)
    submit(stack, camp, key, [ident], world, "--cutover-method", "proxy")
    wait_until(lambda: os.path.exists(fired), 300, 0.2, "the worker killed after the early registration")
    r = stack.cli("abort", camp, ident)
    assert r.returncode == 0, r.stderr
    st = run_until_terminal(stack, camp, fired)
    inst = st["instances"][0]
    assert inst["state"] == "aborted", f"{inst}\n{stack.diagnostics()}"
    assert worker_lines(stack, "never marked drained"), "the abort did not see the early registration"
    proxies_reach_only(sim, [name], ident)
    n = len(probe.numbers())
    try:
        wait_until(lambda: len(probe.numbers()) >= n + 20, 60, 0.1, "writes through the proxy after the abort")
    finally:
        probe.stop()
    exactly_once(sim, ident, probe)


# the proxy switch's calls: the first answer of each lost (AWS acted), and
# every call throttled or refused with a 5xx now and then
PROXY_FAULTS = {"throttle_rate": 0.2, "http5xx_rate": 0.05, "latency_ms": 100,
                "alternate": {"DeregisterDBProxyTargets": "lost", "RegisterDBProxyTargets": "lost"}}


@pytest.mark.slow  # CI's 30 minutes (tests/run --all)
def test_proxy_cutover_under_aws_faults(stack, awssim, world):
    """The proxy method under AWS faults (throttle 0.2, 5xx 0.05, 100 ms
    latency, the first answer of the deregistration in the source's quiet
    gap and of the target's registration lost): two proxies front the
    instance, a writer through the first; the campaign ends done, both
    proxies reach the encrypted instance only, every acknowledged row
    exactly once, and the faults hit the proxy calls."""
    proxies, tid, _ = proxy_crash_campaign(stack, awssim, world, "pgl-rs-pxflt", "rspxflt", None, 2,
                                           faults=PROXY_FAULTS)
    proxies_reach_only(awssim, proxies, tid)
    calls = awssim.admin("GET", "/calls")["calls"]
    lost = sorted({c["action"] for c in calls if c.get("fault") == "lost"})
    assert lost == ["DeregisterDBProxyTargets", "RegisterDBProxyTargets"], \
        f"lost answers on {lost}, expected both proxy (de)registrations"
    refused = sum(1 for c in calls if c.get("fault") in ("throttle", "5xx"))
    assert refused >= 5, f"only {refused} calls throttled or refused: the faults did not apply"


# the proxy calls made with the writers blocked refused for now past the
# AWS client's three tries: the early deregistration (source's quiet gap)
# with 5xx, the target's registration (the switch) throttled
PROXY_REFUSED = {"throttle_rate": 0, "http5xx_rate": 0, "latency_ms": 0,
                 "alternate": {"DeregisterDBProxyTargets": "5xx*4", "RegisterDBProxyTargets": "throttle*4"}}


@pytest.mark.slow  # CI's 30 minutes (tests/run --all)
def test_proxy_calls_refused_past_the_client_retries(stack, awssim, world):
    """The proxy method's calls inside the window failing for now more
    times in a row than the AWS client tries: each is sent again until its
    deadline (awsstep_blocked_budget) instead of ending the cutover with the
    writers blocked until its re-run: done, the proxy on the encrypted
    instance only, every acknowledged row exactly once, one cutover run."""
    proxies, tid, _ = proxy_crash_campaign(stack, awssim, world, "pgl-rs-pxref", "rspxref", None,
                                           faults=PROXY_REFUSED)
    proxies_reach_only(awssim, proxies, tid)
    calls = awssim.admin("GET", "/calls")["calls"]
    for action, kind in PROXY_REFUSED["alternate"].items():
        hit = sum(1 for c in calls if c["action"] == action and c.get("fault_by") == action)
        assert hit >= 4, f"{action}: {hit} refused as {kind}: the fault did not apply"
    runs = [ln for ln in worker_lines(stack, "step=cutover") if "step finished" in ln]
    assert len(runs) == 1 and "outcome=ok" in runs[0], \
        "a proxy call failing for now ended a cutover run, writers blocked until the next:\n" + "\n".join(runs)


def rename_crash_campaign(stack, sim, world, ident, campaign, point):
    """A one-instance rename cutover with a live writer, a worker killed at
    `point`: ends done, the point fired, every acknowledged row exactly once."""
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    fired = crash_env(stack, world, point)
    stack.start()
    w = Writer(sim, ident, rate=40).start()
    time.sleep(1.0)
    submit(stack, campaign, key, [ident], world)
    st = run_until_terminal(stack, campaign, fired)
    time.sleep(1.0)
    w.stop()
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    exactly_once(sim, ident, w)


@pytest.mark.slow  # CI's 30 minutes (tests/run --all)
def test_rename_rerun_after_subscription_dropped_finishes_teardown(stack, awssim, world):
    rename_crash_campaign(stack, awssim, world, "pgl-rs-td", "rstd", "cutover.teardown")
    # the re-run never waited for the slot to flush again (no subscription is left to consume it)
    assert not worker_lines(stack, "confirmed only"), "the re-run waited on a slot nobody consumes"


@pytest.mark.slow  # CI's 30 minutes (tests/run --all)
def test_rename_rerun_between_the_renames_finishes(stack, awssim, world):
    """Killed between the swap's two renames, which the first run makes
    without describing the source (issue 17): the re-run learns the half-done
    swap from AWS, looks, renames the target and ends done with every
    acknowledged row exactly once."""
    rename_crash_campaign(stack, awssim, world, "pgl-rs-sw", "rssw", "cutover.source_renamed")
    rds = awssim.client("rds")
    assert rds.describe_db_instances(DBInstanceIdentifier="fc-rssw-pgl-rs-sw-retired")["DBInstances"], \
        "no retired source"


@pytest.mark.slow  # CI's 30 minutes (tests/run --all)
def test_paused_holder_cannot_unblock_behind_the_next_one(stack, awssim, world):
    """Finding 1 end to end: the worker running the cutover is frozen (SIGSTOP)
    inside the blocked window — during the strict comparison — until its
    lease has passed to another worker, which finishes the cutover; then it
    is let go (SIGCONT). Before the database fence it would have gone on and
    let writers back in on the source after the switch (their writes lost on
    the retired source). Now the database refuses it ("fenced out"), the
    retired source stays blocked, and every acknowledged row is on the
    target exactly once."""
    import signal as _signal
    sim = awssim
    logical_group(sim)
    ident = "pgl-fence-e2e"
    make_instances(sim, [ident])
    app_schema(sim, ident)
    # a table big enough that the strict comparison takes a while
    sql(sim, ident, "CREATE TABLE big(id bigint PRIMARY KEY, pad text);"
                    "INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g")
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, ident, rate=30).start()
    time.sleep(1.0)
    submit(stack, "fe2e", key, [ident], world, "--validate", "strict")
    holder = None
    deadline = time.monotonic() + 300
    while holder is None and time.monotonic() < deadline:
        for wk in stack.workers:
            with open(wk.log_path, errors="replace") as f:
                if 'msg="cutover: blocking writers"' in f.read():
                    holder = wk
        time.sleep(0.05)
    assert holder is not None, f"the cutover never began:\n{stack.diagnostics()}"
    holder.signal(_signal.SIGSTOP)
    try:
        st = run_until_terminal(stack, "fe2e", None, timeout=300)
    finally:
        holder.signal(_signal.SIGCONT)
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    # let the frozen one run on until its step ends (its outcome is fenced in Redis)
    def after_block():
        return open(holder.log_path, errors="replace").read().split('msg="cutover: blocking writers"', 1)[1]
    wait_until(lambda: "outcome will be fenced" in after_block(), 180,
               what="the paused holder finished its run and noticed it lost the instance")
    time.sleep(2.0)
    w.stop()
    exactly_once(sim, ident, w)
    assert "source writable again" not in after_block(), \
        "the paused holder let writers back in on the source after another holder took over"
    # the retired source is still blocked (cleanup stopped it: read its catalog directly)
    retired = f"fc-fe2e-{ident}-retired"
    rows = frozen_rows(sim, retired, f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{MASTER}'")
    assert rows == [("f",)], f"the retired source lets its writers in again: rolcanlogin={rows}"
