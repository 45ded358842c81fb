"""pg-logical for an Aurora PostgreSQL cluster that an RDS Proxy has as its
target (TRACKED_CLUSTER; issue 13): the cutover renames the clusters (the
cluster and reader endpoints follow the identifier) and then switches the
proxy's target group from the retired source cluster to the encrypted one
(DeregisterDBProxyTargets / RegisterDBProxyTargets --db-cluster-identifiers),
waiting until the new writer target is AVAILABLE. docs/clusters.md, *RDS
Proxy in front of a cluster*.

- live writer through the proxy endpoint during the whole campaign: the
  campaign ends done, the proxy's target is the encrypted cluster (its
  writer, AVAILABLE), every acknowledged row is there exactly once, the
  proxy and the cluster endpoint reach the same server, and the retired
  source is stopped; the dry run names the proxy and the proxy cutover;
- a worker SIGKILLed mid-switch (the source deregistered, the target not
  yet registered: the proxy has no target): the next holder converges;
- abort before the switch: the proxy still has the source, writes through it
  go on, nothing of fleetcrypt is left;
- offline on a cluster behind a proxy: the dry run says the proxy is
  switched; done, the proxy on the encrypted cluster with the rows;
- the live-writer campaign under AWS faults (throttles, 5xx, latency, the
  first answers of the proxy's (de)registration and of the cluster's
  rename lost): done, the same checks.

The killed, abort, offline and faults scenarios are marked slow (tests/run --all):
about 60 s each. Time scale: 0 unless FLEETCRYPT_SIM_TIME_SCALE says otherwise (e.g. 0.02:
the registration, the renames and their DNS lag take modelled time)."""
import os

import pytest

from fclib import wait_until
from fixtures_stack import verdicts
from pglogical_strategy_util import FC_OBJECTS, Writer, instance_state, secret_file, submit, wait_terminal
from test_pglogical_clusters import (SCALE, cluster, csql, fleetcrypt_aws_leftovers, logical_cluster_group,
                                     make_cluster, seqs, tags_of)
from test_pglogical_cutover_resume import crash_env, run_until_terminal

PROXY_PORT_TAG = "fleetcrypt-sim:endpoint-port"


def proxy_port(rds, name):
    p = rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]
    tags = rds.list_tags_for_resource(ResourceName=p["DBProxyArn"])["TagList"]
    return int(next(t["Value"] for t in tags if t["Key"] == PROXY_PORT_TAG))


class ProxyWriter(Writer):
    """The writer through the RDS Proxy's endpoint (the emulator's proxy port)."""

    def __init__(self, sim, proxy, **kw):
        super().__init__(sim, proxy, **kw)
        self.proxy = proxy

    def _port(self):
        try:
            return proxy_port(self.sim.client("rds"), self.proxy)
        except Exception:  # noqa: BLE001
            return None


def targets(rds, name):
    return rds.describe_db_proxy_targets(DBProxyName=name)["Targets"]


def writer_available(rds, name, ident):
    """The proxy's target group has cluster `ident` only, its writer AVAILABLE."""
    ts = targets(rds, name)
    tracked = [t["RdsResourceId"] for t in ts if t["Type"] == "TRACKED_CLUSTER"]
    rw = [t for t in ts if t["Type"] == "RDS_INSTANCE" and t.get("Role") == "READ_WRITE"]
    return tracked == [ident] and len(rw) == 1 and rw[0].get("TrackedClusterId") == ident \
        and rw[0]["TargetHealth"]["State"] == "AVAILABLE"


def cluster_behind_proxy(sim, ident, members):
    rds = sim.client("rds")
    port = make_cluster(sim, ident, members)["Port"]
    csql(port, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
               "CREATE TABLE b(seq bigint NOT NULL);"
               "CREATE SEQUENCE wseq;")
    name = f"px-{ident}"
    rds.create_db_proxy(DBProxyName=name, EngineFamily="POSTGRESQL",
                        Auth=[{"AuthScheme": "SECRETS",
                               "SecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x"}],
                        RoleArn="arn:aws:iam::000000000000:role/proxy", VpcSubnetIds=["subnet-1", "subnet-2"])
    wait_until(lambda: rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]["Status"] == "available",
               60, 0.1, "proxy")
    # awscli drives the cluster target as it does on AWS
    r = sim.cli("rds", "register-db-proxy-targets", "--db-proxy-name", name, "--db-cluster-identifiers", ident)
    assert {t["Type"] for t in r["DBProxyTargets"]} >= {"TRACKED_CLUSTER"}, r
    wait_until(lambda: writer_available(rds, name, ident), 60, 0.1, "the proxy's cluster target")
    ts = sim.cli("rds", "describe-db-proxy-targets", "--db-proxy-name", name)["Targets"]
    assert sorted((t["Type"], t["RdsResourceId"], t.get("TrackedClusterId")) for t in ts) == \
        sorted([("TRACKED_CLUSTER", ident, ident)] + [("RDS_INSTANCE", f"{ident}-{n}", ident)
                                                      for n in range(len(members))]), ts
    assert all("TargetHealth" not in t for t in ts if t["Type"] == "TRACKED_CLUSTER"), ts
    return port, name


def start(stack, sim):
    key = stack.make_key()["Arn"]
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()
    return key


def check_switched(sim, rds, ident, camp, name, port, key, w):
    """After a done campaign: the proxy on the encrypted cluster, writes on
    through it, every acknowledged row exactly once, the source retired."""
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key and c["Port"] == port, c
    assert tags_of(rds, c["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert writer_available(rds, name, ident), targets(rds, name)
    ret = f"fc-{camp}-{ident}-retired"
    assert ret not in [t.get("TrackedClusterId") or t["RdsResourceId"] for t in targets(rds, name)]
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes through the proxy after the switch")
    w.stop()
    # the proxy reaches the encrypted cluster's writer: the server behind the cluster endpoint
    pport = proxy_port(rds, name)
    assert csql(pport, "SELECT inet_server_port()") == csql(port, "SELECT inet_server_port()")
    assert csql(pport, "SELECT pg_is_in_recovery()") == "f"
    have = seqs(port)
    acked = w.numbers()
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    missing = sorted(set(acked) - set(have))
    assert not missing and len(have) == len(set(have)), \
        f"acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {len(have) - len(set(have))}"
    # the source: retired, stopped, no longer behind the proxy (nothing writes to it)
    r = cluster(rds, ret)
    assert r["StorageEncrypted"] is False and r["Status"] in ("stopped", "stopping"), r
    assert tags_of(rds, r["DBClusterArn"]).get("fleetcrypt:role") == "retired-source"
    assert [x for x in csql(port, FC_OBJECTS).split("\n") if x] == []
    assert fleetcrypt_aws_leftovers(rds, camp, [ret]) == []


def cluster_proxy_stack(stack, sim, ident):
    """A two-member cluster behind its proxy, the stack started: (port, proxy, key)."""
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    port, name = cluster_behind_proxy(sim, ident, ["db.r6g.large", "db.r6g.large"])
    return port, name, start(stack, sim)


def writing_through(sim, name):
    w = ProxyWriter(sim, name, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes through the proxy before submit")
    return w


def test_pglogical_cluster_proxy_live_writer(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    ident, camp = "pgp-a", "pgpa"
    port, name, key = cluster_proxy_stack(stack, sim, ident)
    # the dry run names the proxy and the cutover it gets
    r = stack.cli("submit", "--campaign", camp, "--kms-key", key, "--strategy", "pg-logical", "--db-secret",
                  "file:" + secret_file(world), "--dry-run", ident)
    assert r.returncode == 0, r.stderr
    v = verdicts(r.stdout)
    assert v[ident][0] == "ok" and name in v[ident][1] and "proxy" in v[ident][1], r.stdout
    w = writing_through(sim, name)
    submit(stack, camp, key, [ident], world)
    st = wait_terminal(stack, camp, timeout=600)
    row = st["instances"][0]
    assert row["state"] == "done", row
    fact = stack.redis.cli("HGET", f"fc:{{{camp}}}:i:{ident}", "f.proxy_names").strip()
    assert fact == name, fact
    check_switched(sim, rds, ident, camp, name, port, key, w)


@pytest.mark.slow
def test_pglogical_cluster_proxy_worker_killed_mid_switch(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "pgp-k", "pgpk"
    port, name = cluster_behind_proxy(sim, ident, ["db.r6g.large"])
    # killed with the source deregistered and the target not registered: the proxy has no target
    fired = crash_env(stack, world, "cutover.proxy_deregistered")
    key = start(stack, sim)
    w = ProxyWriter(sim, name, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes through the proxy before submit")
    submit(stack, camp, key, [ident], world)
    st = run_until_terminal(stack, camp, fired, timeout=600)
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    assert st["instances"][0]["state"] == "done", st["instances"][0]
    check_switched(sim, rds, ident, camp, name, port, key, w)


@pytest.mark.slow
def test_pglogical_cluster_proxy_abort_before_switch(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "pgp-b", "pgpb"
    port, name = cluster_behind_proxy(sim, ident, ["db.r6g.large"])
    key = start(stack, sim)
    w = ProxyWriter(sim, name, rate=30).start()
    submit(stack, camp, key, [ident], world, "--cutover", "approve")
    wait_until(lambda: instance_state(stack, camp, ident)["state"] in ("waiting_approval", "failed", "aborted"),
               600, 0.5, "waiting for approval")
    assert instance_state(stack, camp, ident)["state"] == "waiting_approval", instance_state(stack, camp, ident)
    assert stack.cli("abort", camp, ident).returncode == 0
    row = wait_terminal(stack, camp, timeout=600)["instances"][0]
    assert row["state"] == "aborted", row
    # the proxy still sends its clients to the source, which takes writes
    assert writer_available(rds, name, ident), targets(rds, name)
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "writes through the proxy after the abort")
    w.stop()
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is False and c["Port"] == port and c["Status"] == "available", c
    pport = proxy_port(rds, name)
    assert csql(pport, "SELECT inet_server_port()") == csql(port, "SELECT inet_server_port()")
    have = seqs(port)
    assert not sorted(set(w.numbers()) - set(have)) and len(have) == len(set(have))
    assert [x for x in csql(port, FC_OBJECTS).split("\n") if x] == []
    assert fleetcrypt_aws_leftovers(rds, camp, []) == []
    # awscli takes the cluster off the proxy as fleetcrypt's switch does
    sim.cli("rds", "deregister-db-proxy-targets", "--db-proxy-name", name, "--db-cluster-identifiers", ident)
    assert sim.cli("rds", "describe-db-proxy-targets", "--db-proxy-name", name)["Targets"] == []


@pytest.mark.slow
def test_offline_cluster_proxy(stack, awssim, world):
    """offline: the proxy is down with the cluster for the whole run and
    reaches the encrypted cluster once the restored cluster is configured."""
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "ofp-a", "ofpa"
    port, name = cluster_behind_proxy(sim, ident, ["db.r6g.large"])
    csql(port, "INSERT INTO a(seq) SELECT g FROM generate_series(1, 100) g")
    key = start(stack, sim)
    args = ("submit", "--campaign", camp, "--kms-key", key, "--strategy", "offline")
    r = stack.cli(*args, "--dry-run", ident)
    assert r.returncode == 0, r.stderr
    v = verdicts(r.stdout)
    assert v[ident][0] == "ok" and name in v[ident][1] and "switched to the encrypted cluster" in v[ident][1], r.stdout
    r = stack.cli(*args, "--yes", ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, camp, timeout=600)
    assert st["instances"][0]["state"] == "done", st["instances"][0]
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key and c["Port"] == port, c
    assert writer_available(rds, name, ident), targets(rds, name)
    pport = proxy_port(rds, name)
    assert csql(pport, "SELECT inet_server_port()") == csql(port, "SELECT inet_server_port()")
    assert csql(pport, "SELECT count(*) FROM a") == "100"
    assert csql(pport, "SELECT pg_is_in_recovery()") == "f"


CLUSTER_PROXY_FAULTS = {"throttle_rate": 0.2, "http5xx_rate": 0.05, "latency_ms": 100,
                        "alternate": {"DeregisterDBProxyTargets": "lost", "RegisterDBProxyTargets": "lost"}}


@pytest.mark.slow  # ~90 s; the Aurora proxy cutover had never run under AWS faults
def test_pglogical_cluster_proxy_under_aws_faults(stack, awssim, world):
    """An Aurora cluster behind an RDS Proxy, a live writer through the proxy,
    the campaign under AWS faults from submit to the end: throttles (0.2),
    5xx (0.05), 100 ms latency, the first answer of the proxy's
    deregistration and registration lost, and the first answer of the
    cluster's rename to its retired name lost (AWS renamed it, the client
    saw a 500). Ends done: the proxy on the encrypted cluster's writer,
    every acknowledged row exactly once, the source retired; and the faults
    did hit the cutover's calls."""
    sim = awssim
    rds = sim.client("rds")
    ident, camp = "pgp-f", "pgpf"
    port, name, key = cluster_proxy_stack(stack, sim, ident)
    w = writing_through(sim, name)
    faults = dict(CLUSTER_PROXY_FAULTS)
    faults["alternate"] = dict(faults["alternate"],
                               **{f"ModifyDBCluster?NewDBClusterIdentifier=fc-{camp}-{ident}-retired": "lost"})
    sim.admin("DELETE", "/calls")
    sim.admin("POST", "/config", {"faults": faults})
    submit(stack, camp, key, [ident], world)
    st = wait_terminal(stack, camp, timeout=900)
    sim.admin("POST", "/config", {"faults": {"throttle_rate": 0, "http5xx_rate": 0, "latency_ms": 0,
                                             "alternate": {}}})
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    check_switched(sim, rds, ident, camp, name, port, key, w)
    calls = sim.admin("GET", "/calls")["calls"]
    lost = sorted({c.get("fault_by", c["action"]) for c in calls if c.get("fault") == "lost"})
    assert any(k.startswith("ModifyDBCluster?") for k in lost) and "RegisterDBProxyTargets" in lost, \
        f"lost answers on {lost}: the cluster rename's and the registration's expected"
    refused = sum(1 for c in calls if c.get("fault") in ("throttle", "5xx"))
    assert refused >= 5, f"only {refused} calls throttled or refused: the faults did not apply"
