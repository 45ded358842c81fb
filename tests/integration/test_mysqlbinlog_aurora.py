"""Strategy mysql-binlog for Aurora MySQL clusters (issue 14), on the local
stack with real MariaDB servers behind the cluster (a writer on the volume,
a reader replicating from it behind the reader endpoint).

A cluster (writer + 1 reader, binlog_format=ROW in its *cluster* parameter
group, unencrypted) takes single-row transactions as an application account
through its cluster endpoint into a keyed and a keyless table, from before
submit until after the campaign (the writer reconnects through the same
endpoint). The campaign ends done and:
- the identifier names a cluster encrypted with the campaign key, on the same
  cluster endpoint port (a cluster rename: clients change nothing); its
  writer and reader have the source members' names, classes and tiers;
- the binlog position came from the restore's event "Binlog position from
  crash recovery is ..." (fact seed_source), and every acknowledged row is
  on the cluster exactly once; the reader endpoint serves the same rows;
- nothing of fleetcrypt is left: no replication user, no cluster snapshot,
  no cluster or instance named fc-<campaign>- except the retired source
  cluster and its members, which are stopped and tagged retired-source.

Negative controls (the emulator's fault binlog_event, for one cluster):
the restore's event one transaction late, in the same campaign as the
exactly-once cluster — the target misses that row and the comparison inside
the cutover aborts it before the switch; one transaction early (slow) — a
row applied twice; the event sent twice (slow) — refused as ambiguous.
Time scale FLEETCRYPT_SIM_TIME_SCALE (default 0.02)."""
import os

import pymysql
import pytest

from fclib import wait_until
from pglogical_strategy_util import wait_terminal
from test_mysqlbinlog import APP, APP_PW, MASTER, PW, Writer, _app_schema, _q, _secret_file
from test_mysqlbinlog_boundary import check_caught

OLD = {"Key": "fleetcrypt-sim:create-time", "Value": "2025-06-01"}   # unencrypted, as before 2026-02-18
CPG = "fc-aurmy-row"
SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE") or 0.02)
READER_HOST = "127.0.0.2"


def cluster(rds, ident):
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def row_group(sim):
    rds = sim.client("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=CPG, DBParameterGroupFamily="aurora-mysql8.0",
                                          Description="binlog_format ROW for fleetcrypt tests")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=CPG, Parameters=[
        {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "pending-reboot"}])


def make_cluster(sim, ident, classes):
    rds = sim.client("rds")
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-mysql", MasterUsername=MASTER,
                          MasterUserPassword=PW, BackupRetentionPeriod=2, DBClusterParameterGroupName=CPG,
                          Tags=[{"Key": "team", "Value": "aurmy"}, OLD])
    wait_until(lambda: cluster(rds, ident)["Status"] == "available", 180, 0.2, f"cluster {ident}")
    for n, cls in enumerate(classes):
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-{n}", DBClusterIdentifier=ident, Engine="aurora-mysql",
                               DBInstanceClass=cls, PromotionTier=n + 1, Tags=[{"Key": "member", "Value": str(n)}])
        sim.wait_instance(f"{ident}-{n}", timeout=300, rds=rds)
    return cluster(rds, ident)


def cconn(sim, ident, user=MASTER, password=PW, db=None, host="127.0.0.1", timeout=5):
    c = cluster(sim.client("rds"), ident)
    return pymysql.connect(host=host, port=c["Port"], user=user, password=password, database=db, autocommit=True,
                           connect_timeout=timeout, read_timeout=10, write_timeout=10,
                           ssl_ca=sim.info["rds_ca_bundle"], ssl_verify_cert=True, ssl_verify_identity=True)


class ClusterWriter(Writer):
    """Writer through the cluster endpoint (looked up again after every lost session)."""

    def _connect(self):
        return cconn(self.sim, self.ident, APP, APP_PW, "app", timeout=2)


def seqs(sim, ident, host="127.0.0.1"):
    c = cconn(sim, ident, host=host)
    out = [x[0] for x in _q(c, "SELECT seq FROM app.a UNION ALL SELECT seq FROM app.b")]
    c.close()
    return sorted(out)


def tags_of(rds, arn):
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def members_view(rds, c):
    out = {}
    for m in c["DBClusterMembers"]:
        i = rds.describe_db_instances(DBInstanceIdentifier=m["DBInstanceIdentifier"])["DBInstances"][0]
        out[m["DBInstanceIdentifier"]] = (m["IsClusterWriter"], m["PromotionTier"], i["DBInstanceClass"])
    return out


def leftovers(rds, campaign, retired):
    pre = f"fc-{campaign}-"
    left = [f"cluster:{c['DBClusterIdentifier']}" for c in rds.describe_db_clusters()["DBClusters"]
            if c["DBClusterIdentifier"].startswith(pre) and c["DBClusterIdentifier"] != retired]
    members = {m["DBInstanceIdentifier"] for m in cluster(rds, retired)["DBClusterMembers"]} if retired else set()
    left += [f"db:{i['DBInstanceIdentifier']}" for i in rds.describe_db_instances()["DBInstances"]
             if i["DBInstanceIdentifier"].startswith(pre) and i["DBInstanceIdentifier"] not in members]
    left += [f"csnap:{s['DBClusterSnapshotIdentifier']}"
             for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
             if s["DBClusterSnapshotIdentifier"].startswith(pre)]
    return left


def prepare(stack, sim, idents):
    sim.admin("POST", "/config", {"time_scale": 0})
    row_group(sim)
    out = {}
    for ident in idents:
        src = make_cluster(sim, ident, ["db.r6g.large", "db.r6g.xlarge"])
        assert src["StorageEncrypted"] is False and src["Engine"] == "aurora-mysql", src
        _app_schema(sim, ident, cconn)
        out[ident] = src
    return out, stack.make_key()["Arn"]


def submit(stack, campaign, key, idents, world):
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", "--max-parallel", "4", *idents)
    assert r.returncode == 0, (r.stdout, r.stderr)


def caught(sim, ident, inst, shift):
    """As for instances (test_mysqlbinlog_boundary.check_caught), through the
    cluster endpoint; the source cluster still unencrypted."""
    check_caught(sim, ident, inst, shift, cconn)
    assert cluster(sim.client("rds"), ident)["StorageEncrypted"] is False


def test_aurora_mysql_exactly_once_and_a_late_position_caught(stack, awssim, world):
    """aurmy-a: exactly once. aurmy-nc, in the same campaign: the emulator
    reports its restore's position one transaction late (fault binlog_event
    late): the target misses that row, and the comparison inside the
    cutover catches it before the switch."""
    sim = awssim
    rds = sim.client("rds")
    ident, nc = "aurmy-a", "aurmy-nc"
    srcs, key = prepare(stack, sim, [ident, nc])
    port = srcs[ident]["Port"]
    before = members_view(rds, srcs[ident])
    stack.start()
    writers = {i: ClusterWriter(sim, i).start() for i in (ident, nc)}
    wait_until(lambda: all(len(w.numbers()) > 20 for w in writers.values()), 60, 0.1, "writes before submit")
    sim.admin("POST", "/config", {"time_scale": SCALE, "binlog_event": "late", "binlog_event_for": nc})
    submit(stack, "aurmy1", key, [ident, nc], world)
    st = wait_terminal(stack, "aurmy1", timeout=600)
    sim.admin("POST", "/config", {"time_scale": 0, "binlog_event": "exact", "binlog_event_for": ""})
    rows = {i["id"]: i for i in st["instances"]}
    row = rows[ident]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    w = writers[ident]
    n_done = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n_done + 20, 120, 0.1, "writes after the switch")
    for x in writers.values():
        x.stop()

    def fact(name, i=ident):
        return stack.redis.cli("HGET", f"fc:{{aurmy1}}:i:{i}", f"f.{name}").strip()

    assert fact("kind") == "cluster"
    assert fact("seed_source") == "crash-recovery event", fact("seed_source")
    assert fact("seed_file").startswith("mysql-bin-changelog.") and int(fact("seed_pos")) > 4
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key, c
    assert c["Port"] == port, f"cluster endpoint port changed: {port} -> {c['Port']}"
    assert tags_of(rds, c["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert members_view(rds, c) == before
    have = seqs(sim, ident)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {doubled}"
    wait_until(lambda: seqs(sim, ident, READER_HOST) == have, 60, 0.2, "the reader serves the same rows")
    m = cconn(sim, ident)
    assert _q(m, "SHOW REPLICA STATUS") == ()
    assert not [u for (u,) in _q(m, "SELECT User FROM mysql.user") if u.startswith("fc_")]
    m.close()
    retired = [x for x in rds.describe_db_clusters()["DBClusters"]
               if tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:role") == "retired-source"]
    assert len(retired) == 1 and retired[0]["Status"] in ("stopped", "stopping"), retired
    # the negative control: caught, undone
    assert fact("seed_source", nc) == "crash-recovery event"
    caught(sim, nc, rows[nc], "late")
    wait_until(lambda: leftovers(rds, "aurmy1", retired[0]["DBClusterIdentifier"]) == [], 120, 0.5,
               "no AWS resource left")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["early", "twice"])
def test_aurora_mysql_position_early_or_ambiguous_is_caught(fault, stack, awssim, world):
    """One transaction early: the target applies that row twice (a
    duplicate key stops replication, or the comparison finds the doubled
    keyless row). Two position events for the restore: refused as
    ambiguous at find-binlog-position. Either way undone."""
    sim = awssim
    rds = sim.client("rds")
    ident = f"aurmy-{fault}"
    campaign = f"aurnc{fault}"
    _, key = prepare(stack, sim, [ident])
    stack.start()
    w = ClusterWriter(sim, ident).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "writes before submit")
    sim.admin("POST", "/config", {"time_scale": SCALE, "binlog_event": fault, "binlog_event_for": ident})
    submit(stack, campaign, key, [ident], world)
    st = wait_terminal(stack, campaign, timeout=600)
    sim.admin("POST", "/config", {"time_scale": 0, "binlog_event": "exact", "binlog_event_for": ""})
    inst = st["instances"][0]
    w.stop()
    if fault == "twice":
        assert inst["state"] == "failed" and "ambiguous" in inst["error"] and "find-binlog-position" in \
            inst["error"], inst
        assert not stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", "f.seed_pos").strip()
    else:
        caught(sim, ident, inst, fault)
    wait_until(lambda: leftovers(rds, campaign, None) == [], 120, 0.5, "no AWS resource left")
