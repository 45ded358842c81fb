"""pg-logical's rollback window (--rollback-window; docs/pg-logical.md,
"Rollback window") end to end on real servers (Redis, Kafka, the AWS
emulator with a real PostgreSQL behind every instance, real workers,
coordinator and CLI).

A writer (single-row autocommit INSERTs through the identifier's endpoint,
as the master user, every acknowledged number kept) runs across the
cutover, for a while on the encrypted target, then:
- rollback: across `fleetcrypt rollback`, and on the source again: every
  acknowledged number is on the (unencrypted) source exactly once; the
  reverse replication left nothing on the source (no subscription, slot,
  publication, replication origin) nor on the kept, blocked target (no
  reverse slot or publication); a second rollback is harmless ("already
  rolled back"), a finalize refused with a reason;
- finalize: every acknowledged number on the encrypted instance exactly
  once, the done contract (nothing of fleetcrypt left on the target; the
  retired source, read from its stopped data directory, holds no
  subscription, slot, publication or origin), and a rollback refused;
- a worker SIGKILLed inside the rollback's cutover (after the target's
  block, after the drain, after the switch back): the rollback finishes with the same guarantees;
- the same rollback with --cutover-method proxy (the writer goes through
  the RDS Proxy: when the rollback ends the proxy's only target is the
  source, AVAILABLE) and cname (the writer resolves the application's
  CNAME for every connection: when the rollback ends the record has its
  original value and TTL and DNS already answers the source, Route 53's
  change made slow so that a switch back not awaiting INSYNC is caught at
  time scale 0.02; a worker killed right after the switch back's UPSERT).
Run at FLEETCRYPT_SIM_TIME_SCALE=0 (the suite's default) and 0.02.
"""
import json
import os

import pytest

from cname_util import OLD_TTL, ZONE, CnameWriter, app_cname, record, resolve
from fclib import wait_until
from pglogical_strategy_util import (FC_OBJECTS, Writer, app_schema, exactly_once, fleetcrypt_leftovers, frozen_rows,
                                     instance_state, logical_group, make_instances, retired_of, sql, submit,
                                     wait_terminal)
from test_pglogical_clusters import (SCALE as CLUSTER_SCALE, check_retired_in_place, cname_campaign_file,
                                     cname_source, csql, logical_cluster_group, make_cluster, seqs)
from test_pglogical_cutover_resume import make_proxy
from test_pglogical_strategy_flow import ProxyWriter

REVERSE = """
SELECT 'slot:'||slot_name FROM pg_replication_slots WHERE slot_name LIKE 'fc\\_%'
UNION ALL SELECT 'pub:'||pubname FROM pg_publication WHERE pubname LIKE 'fc\\_%'
UNION ALL SELECT 'sub:'||subname FROM pg_subscription WHERE subname LIKE 'fc\\_%'
UNION ALL SELECT 'origin:'||external_id FROM pg_replication_origin_status
"""


def _lines(text):
    return [x for x in text.split("\n") if x]


def _fact(stack, campaign, ident, name):
    v = stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", f"f.{name}")
    return (v or "").strip()


def _await_window(stack, campaign, ident, w, timeout=300):
    """The window open (status, top, the lag recorded) and writes
    acknowledged on the encrypted target."""
    def in_window():
        i = instance_state(stack, campaign, ident)
        terminal = i["state"] in ("done", "failed", "aborted", "skipped")
        return i if terminal or (i["step"] == "rollback-window" and i["state"] == "waiting_approval") else None
    i = wait_until(in_window, timeout, 0.3, "the rollback window open")
    assert i["state"] == "waiting_approval", f"{i}\n{stack.diagnostics()}"
    assert _fact(stack, campaign, ident, "rb_reverse") == "1"
    assert int(_fact(stack, campaign, ident, "rb_until_ms")) > 0
    n = len(w.numbers())
    # writes on the encrypted target, carried back while the window is open
    wait_until(lambda: len(w.numbers()) >= n + 60, 90, 0.1, "writes on the target")
    wait_until(lambda: _fact(stack, campaign, ident, "rb_lag_bytes").isdigit(), 30, 0.2, "reverse lag recorded")
    st = stack.cli("status", campaign)
    assert st.returncode == 0 and "rollback window: open" in st.stdout, st.stdout
    top = stack.cli("top", campaign, "-o", "json")
    assert top.returncode == 0, top.stderr
    rbw = json.loads(top.stdout)["rollback_windows"]
    assert [x["id"] for x in rbw] == [ident] and rbw[0]["ends_in_s"] > 0, rbw


def _open_window(stack, sim, world, campaign, ident, method=None, during=None):
    """Instance set up (with its proxy or CNAME for `method`), writer
    started, campaign submitted with a window, the window open and writes
    acknowledged on the target. Returns (writer, key, method's set-up:
    proxy name or (source, zone id, record name)). `during` (emulator
    /config, e.g. AWS faults: test_issue16_faults.py) is applied just before
    submit."""
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    extra, setup = [], None
    if method == "proxy":
        setup = make_proxy(sim, ident)
        extra = ["--cutover-method", "proxy"]
    elif method == "cname":
        name = f"{ident}.{ZONE}"
        src, zid, opts = app_cname(sim, world, ident, name, "campaign.json")
        setup = (src, zid, name)
        extra = ["--cutover-method", "cname", "--file", opts]
    key = stack.make_key()["Arn"]
    stack.start()
    if method == "proxy":
        w = ProxyWriter(sim, setup).start()
    elif method == "cname":
        w = CnameWriter(sim, setup[2], setup[0]["Endpoint"]["Port"], rate=40).start()
    else:
        w = Writer(sim, ident, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    if during:
        sim.admin("POST", "/config", during)
    submit(stack, campaign, key, [ident], world, "--rollback-window", "30m", *extra)

    _await_window(stack, campaign, ident, w)
    return w, key, setup


def _report_window(stack, campaign):
    r = stack.cli("report", campaign, "-o", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    rows = data["instances"] if isinstance(data, dict) else data
    return rows[0]["rollback_window"]


def _switched_back(stack, sim, campaign, ident, method, setup):
    """Right when the rollback has ended: the application's way in reaches
    the source, and only the source."""
    if method == "proxy":
        tg = sim.client("rds").describe_db_proxy_targets(DBProxyName=setup)["Targets"]
        got = [(t["RdsResourceId"], t["TargetHealth"]["State"]) for t in tg]
        assert got == [(ident, "AVAILABLE")], f"proxy {setup}: targets {got}, expected only the source, AVAILABLE"
    elif method == "cname":
        src, zid, name = setup
        addr = src["Endpoint"]["Address"]
        # DNS answers the source already: the switch back waited for INSYNC
        assert resolve(sim, name) == addr, f"{name} resolves to {resolve(sim, name)}, not the source's {addr}"
        assert record(sim, zid, name) == (addr, OLD_TTL), record(sim, zid, name)
        insync = int(_fact(stack, campaign, ident, "cname_rb_switched_ms") or 0)
        opened = int(_fact(stack, campaign, ident, "rb_rolled_back_at") or 0)
        assert 0 < insync <= opened, f"writers let in on the source at {opened}, the record INSYNC at {insync}"


def _rollback(stack, sim, world, campaign, ident, crash=None, method=None, during=None, after=None):
    """during: as _open_window's (it stays across the rollback); after:
    emulator /config applied once the rollback ended, before the checks."""
    if crash:
        os.makedirs(crash["dir"])
        stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": crash["dir"], "FLEETCRYPT_TEST_CRASH_AT": crash["at"]})
    w, _key, setup = _open_window(stack, sim, world, campaign, ident, method, during=during)
    if method == "cname":
        # Route 53 slow to sync from here on (250 emulated s: 5 s at time scale 0.02)
        sim.admin("POST", "/config", {"route53": {"change_sync_s": 250}})
    r = stack.cli("rollback", campaign, ident)
    assert r.returncode == 0 and "requested" in r.stdout, (r.returncode, r.stdout, r.stderr)
    r2 = stack.cli("finalize", campaign, ident)
    assert r2.returncode == 3 and "refused" in r2.stdout, (r2.returncode, r2.stdout)
    st, _replaced = stack.until_terminal(campaign, 300)
    if after:
        sim.admin("POST", "/config", after)
    inst = st["instances"][0]
    assert inst["state"] == "aborted" and "rolled back" in (inst.get("reason") or inst.get("error") or ""), \
        f"{inst}\n{stack.diagnostics()}"
    _switched_back(stack, sim, campaign, ident, method, setup)
    if crash:
        for p in crash["at"].split(","):
            assert os.path.exists(os.path.join(crash["dir"], p)), f"crash point {p} never fired"
    assert _report_window(stack, campaign)["state"] == "rolled-back"
    # writes on the source again, through the same identifier
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 40, 90, 0.1, "writes on the source after the rollback")
    w.stop()
    assert not sim.instance(ident)["StorageEncrypted"], "the identifier should be the (unencrypted) source again"
    problems = exactly_once(sim, ident, w, min_acked=150)
    assert not problems, problems
    assert _lines(sql(sim, ident, REVERSE)) == [], "reverse replication left on the source"
    # the encrypted instance is kept (blocked), with nothing of the reverse path
    tid = f"fc-{campaign}-{ident}-target"
    assert sim.instance(tid)["StorageEncrypted"]
    # a second rollback is harmless, a finalize refused
    r3 = stack.cli("rollback", campaign, ident)
    assert r3.returncode == 0 and "already rolled back" in r3.stdout, (r3.returncode, r3.stdout)
    r4 = stack.cli("finalize", campaign, ident)
    assert r4.returncode == 3 and "refused" in r4.stdout, (r4.returncode, r4.stdout)
    return tid


@pytest.mark.slow  # ~105 s: over the CI budget of one helper test
def test_rollback_keeps_every_write(stack, awssim, world):
    _rollback(stack, awssim, world, "rbk", "pgl-rbk")


@pytest.mark.slow
def test_rollback_worker_killed_inside(stack, awssim, world):
    _rollback(stack, awssim, world, "rbkill", "pgl-rbkill",
              crash={"dir": os.path.join(world, "crash"), "at": "rollback.blocked,rollback.drained,rollback.switched"})


@pytest.mark.slow
def test_rollback_proxy_keeps_every_write(stack, awssim, world):
    _rollback(stack, awssim, world, "rbpx", "pgl-rbpx", method="proxy")


@pytest.mark.slow
def test_rollback_cname_keeps_every_write(stack, awssim, world):
    _rollback(stack, awssim, world, "rbcn", "pgl-rbcn", method="cname",
              crash={"dir": os.path.join(world, "crash"), "at": "rollback.cname_upserted"})


def _finalize(stack, campaign, ident, w, timeout, after=None):
    """finalize: the instance done, the window finalized, writes after it;
    the writer stopped. after: emulator /config applied once it ended."""
    r = stack.cli("finalize", campaign, ident)
    assert r.returncode == 0 and "requested" in r.stdout, (r.returncode, r.stdout, r.stderr)
    st = wait_terminal(stack, campaign, timeout=timeout)
    if after:
        stack.sim.admin("POST", "/config", after)
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    assert _fact(stack, campaign, ident, "rb_state") == "finalized"
    assert _report_window(stack, campaign)["state"] == "finalized"
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes after finalize")
    w.stop()


def _open_cluster_window(stack, sim, world, campaign, ident):
    """An Aurora cluster (writer + reader) reached through its CNAME, a
    writer resolving it for every connection, a cname campaign with a
    window: open, writes acknowledged on the encrypted cluster."""
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    name = f"{ident}.{ZONE}"
    src, zid, members = cname_source(sim, ident, name, OLD_TTL)
    opts = cname_campaign_file(world, "cluster-rb.json")
    key = stack.make_key()["Arn"]
    if CLUSTER_SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": CLUSTER_SCALE})
    stack.start()
    w = CnameWriter(sim, name, src["Port"], rate=40, tables=("a",)).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes through the CNAME before submit")
    submit(stack, campaign, key, [ident], world, "--cutover-method", "cname", "--file", opts,
           "--rollback-window", "30m")
    _await_window(stack, campaign, ident, w, timeout=900)
    return w, key, (src, zid, name, members)


def _cluster_rows_once(w, port, host, who):
    have = seqs(port, host=host)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    assert len(acked) >= 150, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and len(have) == len(set(have)), \
        f"{who}: acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {len(have) - len(set(have))}"


@pytest.mark.slow
def test_cluster_rollback_worker_killed_inside(stack, awssim, world):
    """An Aurora cluster's rollback (--cutover-method cname), a worker
    SIGKILLed after the encrypted cluster's block and after the switch
    back's UPSERT: every acknowledged row exactly once on the source cluster,
    the record back on it (INSYNC before the source's writers were let in),
    no reverse replication left on the source cluster's writer, the
    encrypted cluster kept and the source cluster not retired."""
    sim, campaign, ident = awssim, "rbcl", "pgc-rb"
    crash = os.path.join(world, "crash")
    os.makedirs(crash)
    points = "rollback.blocked,rollback.cname_upserted"
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": crash, "FLEETCRYPT_TEST_CRASH_AT": points})
    w, _key, (src, zid, name, members) = _open_cluster_window(stack, sim, world, campaign, ident)
    sim.admin("POST", "/config", {"route53": {"change_sync_s": 250}})
    r = stack.cli("rollback", campaign, ident)
    assert r.returncode == 0 and "requested" in r.stdout, (r.returncode, r.stdout, r.stderr)
    st, _replaced = stack.until_terminal(campaign, 600)
    inst = st["instances"][0]
    assert inst["state"] == "aborted" and "rolled back" in (inst.get("reason") or inst.get("error") or ""), \
        f"{inst}\n{stack.diagnostics()}"
    for p in points.split(","):
        assert os.path.exists(os.path.join(crash, p)), f"crash point {p} never fired"
    _switched_back(stack, sim, campaign, ident, "cname", ({"Endpoint": {"Address": src["Endpoint"]}}, zid, name))
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 40, 120, 0.1, "writes on the source cluster after the rollback")
    w.stop()
    rds = sim.client("rds")
    s = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
    assert s["StorageEncrypted"] is False and s["Status"] == "available", (s["StorageEncrypted"], s["Status"])
    _cluster_rows_once(w, src["Port"], src["Endpoint"], "the source cluster")
    left = [x for x in csql(src["Port"], REVERSE, host=src["Endpoint"]).split("\n") if x]
    assert left == [], f"reverse replication left on the source cluster: {left}"
    tid = f"fc-{campaign}-{ident}-target"
    assert rds.describe_db_clusters(DBClusterIdentifier=tid)["DBClusters"][0]["StorageEncrypted"]


@pytest.mark.slow
def test_cluster_finalize_retires_the_source(stack, awssim, world):
    """An Aurora cluster's window closed by finalize: every acknowledged row
    exactly once on the encrypted cluster, nothing of fleetcrypt's (nor of
    the reverse path) left on it, the source cluster retired in place as the
    cluster flow retires it (tagged, stopped, members kept) with no
    subscription, slot, publication or origin in its writer's data."""
    sim, campaign, ident = awssim, "rbclf", "pgc-rbf"
    w, key, (src, zid, name, members) = _open_cluster_window(stack, sim, world, campaign, ident)
    _finalize(stack, campaign, ident, w, 900)
    rds = sim.client("rds")
    enc = rds.describe_db_clusters(DBClusterIdentifier=f"fc-{campaign}-{ident}-target")["DBClusters"][0]
    assert enc["StorageEncrypted"] and enc.get("KmsKeyId") == key
    assert record(sim, zid, name) == (enc["Endpoint"], OLD_TTL), record(sim, zid, name)
    _cluster_rows_once(w, src["Port"], enc["Endpoint"], "the encrypted cluster")
    left = [x for x in csql(src["Port"], FC_OBJECTS, host=enc["Endpoint"]).split("\n") if x]
    assert left == [], f"fleetcrypt objects left on the encrypted cluster: {left}"
    check_retired_in_place(rds, ident, members)
    writer = next(m["DBInstanceIdentifier"] for m in
                  rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]["DBClusterMembers"]
                  if m["IsClusterWriter"])
    left = frozen_rows(sim, writer, " ".join(REVERSE.split()))
    assert left == [], f"reverse replication left on the retired source cluster: {left}"


@pytest.mark.slow
def test_cluster_rollback_window_by_renames_refused(stack, awssim, world):
    """An Aurora cluster cut over by its renames has no rollback window yet:
    preflight refuses the option with its one-line reason and changes nothing."""
    sim, campaign, ident = awssim, "rbclr", "pgc-rbr"
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    make_cluster(sim, ident, ["db.r6g.large"])
    key = stack.make_key()["Arn"]
    stack.start()
    submit(stack, campaign, key, [ident], world, "--rollback-window", "30m")
    inst = wait_terminal(stack, campaign, timeout=300)["instances"][0]
    why = inst.get("error") or ""
    assert inst["state"] == "failed" and inst["step"] == "preflight" and \
        "needs --cutover-method cname" in why and "\n" not in why, inst
    rds = sim.client("rds")
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]] == [ident]


@pytest.mark.slow
def test_finalize_leaves_nothing(stack, awssim, world):
    finalize_instance(stack, awssim, world, "rbfin", "pgl-rbfin")


def finalize_instance(stack, sim, world, campaign, ident, during=None, after=None):
    """An instance's window opened, then finalized: nothing of the reverse
    path left on either side. during/after: as _rollback's."""
    w, key, _setup = _open_window(stack, sim, world, campaign, ident, during=during)
    _finalize(stack, campaign, ident, w, 300, after=after)
    assert sim.instance(ident)["StorageEncrypted"] and sim.instance(ident)["KmsKeyId"] == key
    problems = exactly_once(sim, ident, w, min_acked=150)
    assert not problems, problems
    assert fleetcrypt_leftovers(sim, ident) == [], "fleetcrypt objects left on the target"
    assert _lines(sql(sim, ident, REVERSE)) == [], "reverse replication left on the target"
    retired = retired_of(sim, ident)
    assert len(retired) == 1, retired
    left = frozen_rows(sim, retired[0]["DBInstanceIdentifier"], " ".join(REVERSE.split()))
    assert left == [], f"reverse replication left on the retired source: {left}"
    r2 = stack.cli("rollback", campaign, ident)
    assert r2.returncode == 3 and "refused" in r2.stdout, (r2.returncode, r2.stdout)
