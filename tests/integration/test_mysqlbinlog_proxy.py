"""mysql-binlog for a source behind an RDS Proxy (issue 14): an RDS for
MariaDB instance that a proxy has as its target (RDS_INSTANCE), and an
Aurora MySQL cluster that a proxy has as its target (TRACKED_CLUSTER).

The cutover blocks the writers, renames (the source's endpoint name reaches
the encrypted instance / cluster) and then, writers still blocked on the
source, switches the proxy from the retired source to the encrypted one
(Deregister/RegisterDBProxyTargets), waiting until the new target is
AVAILABLE (shared/awsproxy.c; docs/mysql-binlog.md, *RDS Proxy*).

- instance, live writer through the proxy endpoint across snapshot and
  cutover: done; preflight recorded the proxy (fact proxy_names); the
  proxy's only target is the encrypted instance, AVAILABLE; writes go on
  through the proxy after the switch and reach the encrypted instance; every
  acknowledged row exactly once; the retired source stopped;
- instance, abort at catch-up: the proxy still has the source, writes go on
  through it, nothing of fleetcrypt's left (slow);
- instance, a worker SIGKILLed between the proxy's deregistration and its
  registration (crash point cutover.proxy_deregistered: the proxy has no
  target): the next holder registers the encrypted instance; done, exactly
  once (slow);
- Aurora MySQL cluster, live writer through the proxy: done, the proxy's
  cluster target the encrypted cluster (writer AVAILABLE), rows exactly once.

Time scale: 0 unless FLEETCRYPT_SIM_TIME_SCALE says otherwise (e.g. 0.02:
the registration, the renames and their DNS lag take modelled time)."""
import os

import pymysql
import pytest

from fclib import wait_until
from pglogical_strategy_util import aws_leftovers, wait_terminal
from test_mysqlbinlog import (APP, APP_PW, GROUPS, MASTER, PW, Writer, _app_schema, _conn, _group, _make, _q,
                              _secret_file, _tags, _until_terminal)
from test_mysqlbinlog_aurora import cconn, cluster, leftovers, make_cluster, row_group, tags_of

PROXY_PORT_TAG = "fleetcrypt-sim:endpoint-port"
SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE") or 0)


def proxy_port(rds, name):
    p = rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]
    tags = rds.list_tags_for_resource(ResourceName=p["DBProxyArn"])["TagList"]
    return int(next(t["Value"] for t in tags if t["Key"] == PROXY_PORT_TAG))


def pconn(sim, name, user=MASTER, password=PW, db=None, timeout=5):
    return pymysql.connect(host="127.0.0.1", port=proxy_port(sim.client("rds"), name), user=user, password=password,
                           database=db, autocommit=True, connect_timeout=timeout, read_timeout=10,
                           write_timeout=10, ssl_ca=sim.info["rds_ca_bundle"], ssl_verify_cert=True,
                           ssl_verify_identity=True)


class ProxyWriter(Writer):
    """The application's writer through the RDS Proxy's endpoint (`ident` is the proxy's name)."""

    def _connect(self):
        return pconn(self.sim, self.ident, APP, APP_PW, "app", timeout=2)


def targets(rds, name):
    return rds.describe_db_proxy_targets(DBProxyName=name)["Targets"]


def instance_target(rds, name, ident):
    """The proxy's target group has instance `ident` only, AVAILABLE."""
    ts = targets(rds, name)
    return [(t["Type"], t["RdsResourceId"], t["TargetHealth"]["State"]) for t in ts] == \
        [("RDS_INSTANCE", ident, "AVAILABLE")]


def cluster_target(rds, name, ident):
    ts = targets(rds, name)
    tracked = [t["RdsResourceId"] for t in ts if t["Type"] == "TRACKED_CLUSTER"]
    rw = [t for t in ts if t["Type"] == "RDS_INSTANCE" and t.get("Role") == "READ_WRITE"]
    return tracked == [ident] and len(rw) == 1 and rw[0].get("TrackedClusterId") == ident \
        and rw[0]["TargetHealth"]["State"] == "AVAILABLE"


def make_proxy(sim, name, register):
    rds = sim.client("rds")
    rds.create_db_proxy(DBProxyName=name, EngineFamily="MYSQL",
                        Auth=[{"AuthScheme": "SECRETS",
                               "SecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x"}],
                        RoleArn="arn:aws:iam::000000000000:role/proxy", VpcSubnetIds=["subnet-1", "subnet-2"])
    wait_until(lambda: rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]["Status"] == "available",
               60, 0.1, "proxy")
    rds.register_db_proxy_targets(DBProxyName=name, **register)


def seqs_via(c):
    out = [x[0] for x in _q(c, "SELECT seq FROM app.a UNION ALL SELECT seq FROM app.b")]
    c.close()
    return sorted(out)


def exactly_once(acked, have):
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {doubled}"


def fact(stack, camp, ident, name):
    return stack.redis.cli("HGET", f"fc:{{{camp}}}:i:{ident}", f"f.{name}").strip()


def submit(stack, world, camp, key, ident, *extra):
    r = stack.cli("submit", "--campaign", camp, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", *extra, ident)
    assert r.returncode == 0, (r.stdout, r.stderr)


def instance_behind_proxy(stack, sim, ident, name):
    sim.admin("POST", "/config", {"time_scale": 0})
    _make(sim, ident, "mariadb", _group(sim, *GROUPS["mariadb"]))
    sim.wait_instance(ident, "available", timeout=120)
    _app_schema(sim, ident)
    make_proxy(sim, name, {"DBInstanceIdentifiers": [ident]})
    rds = sim.client("rds")
    wait_until(lambda: instance_target(rds, name, ident), 60, 0.1, "the proxy's instance target")
    key = stack.make_key()["Arn"]
    stack.start()
    w = ProxyWriter(sim, name).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "writes through the proxy before submit")
    if SCALE:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    return key, w


def test_instance_behind_proxy_switched_exactly_once(stack, awssim, world):
    switched_exactly_once(stack, awssim, world, "maria-px-a", "px-maria-a", "mypxa")


@pytest.mark.slow
def test_instance_behind_proxy_worker_killed_mid_switch(stack, awssim, world):
    d = os.path.join(world, "crash")
    os.makedirs(d, exist_ok=True)
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": d, "FLEETCRYPT_TEST_CRASH_AT": "cutover.proxy_deregistered"})
    switched_exactly_once(stack, awssim, world, "maria-px-k", "px-maria-k", "mypxk", crashed=d)


def switched_exactly_once(stack, awssim, world, ident, name, camp, crashed=None):
    sim = awssim
    rds = sim.client("rds")
    key, w = instance_behind_proxy(stack, sim, ident, name)
    before = sim.instance(ident)["Endpoint"]
    # the dry run names the proxy and says the cutover switches it
    r = stack.cli("submit", "--campaign", camp, "--kms-key", key, "--strategy", "mysql-binlog", "--db-secret",
                  "file:" + _secret_file(world), "--dry-run", ident)
    assert r.returncode == 0, r.stderr
    assert f"behind RDS Proxy {name}: after the rename swap" in r.stdout, r.stdout
    submit(stack, world, camp, key, ident)
    st = _until_terminal(stack, camp, 600) if crashed else wait_terminal(stack, camp, timeout=600)
    if crashed:
        assert os.path.exists(os.path.join(crashed, "cutover.proxy_deregistered")), "the crash point never fired"
    sim.admin("POST", "/config", {"time_scale": 0})
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    assert fact(stack, camp, ident, "proxy_names") == name
    i = sim.instance(ident)
    assert i["StorageEncrypted"] and i["KmsKeyId"] == key and i["Endpoint"]["Port"] == before["Port"], i
    assert _tags(rds, i["DBInstanceArn"]).get("fleetcrypt:role") == "encrypted"
    # the proxy's only target: the encrypted instance, AVAILABLE
    assert instance_target(rds, name, ident), targets(rds, name)
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes through the proxy after the switch")
    w.stop()
    # the proxy reaches the encrypted instance's server
    p = pconn(sim, name)
    c = _conn(sim, ident)
    assert _q(p, "SELECT @@server_id") == _q(c, "SELECT @@server_id")
    c.close()
    exactly_once(w.numbers(), seqs_via(p))
    retired = [x for x in rds.describe_db_instances()["DBInstances"]
               if _tags(rds, x["DBInstanceArn"]).get("fleetcrypt:original-id") == ident
               and _tags(rds, x["DBInstanceArn"]).get("fleetcrypt:role") == "retired-source"]
    assert len(retired) == 1 and retired[0]["DBInstanceStatus"] in ("stopped", "stopping"), retired
    left = [x for x in aws_leftovers(sim, camp) if "retired" not in x]
    assert left == [], left


@pytest.mark.slow
def test_instance_behind_proxy_abort_keeps_the_proxy_on_the_source(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    ident, name, camp = "maria-px-b", "px-maria-b", "mypxb"
    hold = os.path.join(world, "hold")
    os.makedirs(hold, exist_ok=True)
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": hold, "FLEETCRYPT_TEST_HOLD_AT": f"begin.catch-up.{ident}"})
    key, w = instance_behind_proxy(stack, sim, ident, name)
    submit(stack, world, camp, key, ident)
    wait_until(lambda: os.path.exists(os.path.join(hold, f"begin.catch-up.{ident}.held")), 600, 0.2,
               "catch-up reached")
    assert fact(stack, camp, ident, "proxy_names") == name
    assert stack.cli("abort", camp, ident).returncode == 0
    with open(os.path.join(hold, f"begin.catch-up.{ident}.go"), "w"):
        pass
    row = wait_terminal(stack, camp, timeout=300)["instances"][0]
    sim.admin("POST", "/config", {"time_scale": 0})
    assert row["state"] == "aborted", f"{row}\n{stack.diagnostics()}"
    assert instance_target(rds, name, ident), targets(rds, name)
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "writes through the proxy after the abort")
    w.stop()
    assert not sim.instance(ident)["StorageEncrypted"]
    exactly_once(w.numbers(), seqs_via(pconn(sim, name)))
    c = _conn(sim, ident)
    assert not [u for (u,) in _q(c, "SELECT User FROM mysql.user") if u.startswith("fc_")]
    assert _q(c, "SHOW DATABASES LIKE 'fleetcrypt_fc'") == ()
    c.close()
    wait_until(lambda: aws_leftovers(sim, camp) == [], 90, 0.5, "no AWS resource left")


@pytest.mark.slow  # the shared cluster proxy switch runs in CI through test_pglogical_cluster_proxy
def test_aurora_mysql_cluster_behind_proxy(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    row_group(sim)
    ident, name, camp = "aurmy-px", "px-aurmy", "aurpx"
    src = make_cluster(sim, ident, ["db.r6g.large"])
    _app_schema(sim, ident, cconn)
    make_proxy(sim, name, {"DBClusterIdentifiers": [ident]})
    wait_until(lambda: cluster_target(rds, name, ident), 60, 0.1, "the proxy's cluster target")
    key = stack.make_key()["Arn"]
    stack.start()
    # the dry run names the proxy and says it is switched
    r = stack.cli("submit", "--campaign", camp, "--kms-key", key, "--strategy", "mysql-binlog", "--db-secret",
                  "file:" + _secret_file(world), "--dry-run", ident)
    assert r.returncode == 0, r.stderr
    assert name in r.stdout and "does not switch proxies" not in r.stdout, r.stdout
    w = ProxyWriter(sim, name).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "writes through the proxy before submit")
    if SCALE:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    submit(stack, world, camp, key, ident)
    st = wait_terminal(stack, camp, timeout=900)
    sim.admin("POST", "/config", {"time_scale": 0})
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    assert fact(stack, camp, ident, "proxy_names") == name
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key and c["Port"] == src["Port"], c
    assert tags_of(rds, c["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert cluster_target(rds, name, ident), targets(rds, name)
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes through the proxy after the switch")
    w.stop()
    p = pconn(sim, name)
    m = cconn(sim, ident)
    assert _q(p, "SELECT @@server_id") == _q(m, "SELECT @@server_id")
    m.close()
    exactly_once(w.numbers(), seqs_via(p))
    retired = f"fc-{camp}-{ident}-retired"
    assert cluster(rds, retired)["Status"] in ("stopped", "stopping")
    wait_until(lambda: leftovers(rds, camp, retired) == [], 120, 0.5, "no AWS resource left")
