"""Strategy pg-logical for Aurora PostgreSQL clusters (issue 13), on the
local stack with real servers behind the cluster (a writer on the volume, a
streaming-standby reader behind the reader endpoint).

A cluster (writer + 1 reader, rds.logical_replication=1 in its *cluster*
parameter group, unencrypted) takes live writes through its cluster
endpoint from before submit until after the campaign (the writer reconnects
through the same endpoint). The campaign ends done and:
- the identifier names a cluster encrypted with the campaign key, on the
  same cluster endpoint port (a cluster rename: clients change nothing);
  its writer and reader have the source members' names, classes, promotion
  tiers and tags;
- every acknowledged row is on the cluster exactly once (A2), and the
  reader endpoint serves the same rows;
- the start position was aurora_volume_logical_start_lsn() of the restored
  writer (fact start_lsn_source);
- nothing of fleetcrypt is left: no slot, publication, subscription, role,
  schema or event trigger on the cluster; no cluster snapshot, no cluster or
  instance named fc-<campaign>- except the retired source cluster and its
  members, which are stopped and tagged retired-source.

Time scale: 0 unless FLEETCRYPT_SIM_TIME_SCALE says otherwise (e.g. 0.02:
modelled AWS durations and the rename's DNS lag become real)."""
import os

from fclib import wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (FC_OBJECTS, MASTER, PASSWORD, Writer, submit, wait_terminal)

OLD = {"Key": "fleetcrypt-sim:create-time", "Value": "2025-06-01"}   # unencrypted, as before 2026-02-18
CPG = "fc-aur-logical"
SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE", "0") or 0)


def cluster(rds, ident):
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def logical_cluster_group(sim):
    rds = sim.client("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=CPG,
                                          DBParameterGroupFamily="aurora-postgresql15",
                                          Description="logical replication for fleetcrypt tests")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=CPG, Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])


def make_cluster(sim, ident, classes):
    rds = sim.client("rds")
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername=MASTER,
                          MasterUserPassword=PASSWORD, DatabaseName="app", BackupRetentionPeriod=2,
                          DBClusterParameterGroupName=CPG, Tags=[OLD, {"Key": "team", "Value": "aur"}])
    wait_until(lambda: cluster(rds, ident)["Status"] == "available", 180, 0.2, f"cluster {ident}")
    for n, cls in enumerate(classes):
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-{n}", DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass=cls, PromotionTier=n + 1,
                               Tags=[{"Key": "member", "Value": str(n)}])
        sim.wait_instance(f"{ident}-{n}", timeout=300, rds=rds)
    return cluster(rds, ident)


class ClusterWriter(Writer):
    """Writer through the cluster endpoint (the writer instance, whoever it is)."""

    def _port(self):
        try:
            return cluster(self.sim.client("rds"), self.ident)["Port"]
        except Exception:  # noqa: BLE001 - identifier may be mid-rename
            return None


def csql(port, text, host="127.0.0.1", check=True):
    return psql(port, MASTER, PASSWORD, text, db="app", host=host, check=check)


def seqs(port, host="127.0.0.1"):
    out = csql(port, "SELECT seq FROM a UNION ALL SELECT seq FROM b", host=host)
    return sorted(int(x) for x in out.split())


def tags_of(rds, arn):
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def fleetcrypt_aws_leftovers(rds, campaign, retired):
    """Clusters, instances and cluster snapshots named fc-<campaign>- other
    than the retired source cluster and its members."""
    pre = f"fc-{campaign}-"
    left = []
    for c in rds.describe_db_clusters()["DBClusters"]:
        if c["DBClusterIdentifier"].startswith(pre) and c["DBClusterIdentifier"] != retired:
            left.append("cluster:" + c["DBClusterIdentifier"])
    members = {m["DBInstanceIdentifier"] for m in cluster(rds, retired)["DBClusterMembers"]}
    for i in rds.describe_db_instances()["DBInstances"]:
        if i["DBInstanceIdentifier"].startswith(pre) and i["DBInstanceIdentifier"] not in members:
            left.append("db:" + i["DBInstanceIdentifier"])
    for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
        if s["DBClusterSnapshotIdentifier"].startswith(pre):
            left.append("csnap:" + s["DBClusterSnapshotIdentifier"])
    for s in rds.describe_db_snapshots()["DBSnapshots"]:
        if s["DBSnapshotIdentifier"].startswith(pre):
            left.append("snap:" + s["DBSnapshotIdentifier"])
    return left


def members_view(rds, c):
    out = {}
    for m in c["DBClusterMembers"]:
        i = rds.describe_db_instances(DBInstanceIdentifier=m["DBInstanceIdentifier"])["DBInstances"][0]
        user_tags = {k: v for k, v in tags_of(rds, i["DBInstanceArn"]).items()
                     if not k.startswith("fleetcrypt") and not k.startswith("aws:")}
        out[m["DBInstanceIdentifier"]] = (m["IsClusterWriter"], m["PromotionTier"], i["DBInstanceClass"], user_tags)
    return out


def test_pglogical_cluster_live_writer(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident = "pgc-a"
    src = make_cluster(sim, ident, ["db.r6g.large", "db.r6g.xlarge"])
    assert src["StorageEncrypted"] is False, src
    port = src["Port"]
    assert csql(port, "SHOW wal_level") == "logical"
    csql(port, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
               "CREATE TABLE b(seq bigint NOT NULL);"
               "CREATE SEQUENCE wseq;")
    members_before = members_view(rds, src)
    key = stack.make_key()["Arn"]
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()

    w = ClusterWriter(sim, ident, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    submit(stack, "pgc1", key, [ident], world)
    st = wait_terminal(stack, "pgc1", timeout=900)
    row = {i["id"]: i for i in st["instances"]}[ident]
    assert row["state"] == "done", row
    assert row.get("kind") == "cluster", row
    # writes after the switch land on the encrypted cluster: wait for some, not a time
    n_done = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n_done + 20, 120, 0.1, "writes after the switch")
    w.stop()

    def fact(name):
        return stack.redis.cli("HGET", f"fc:{{pgc1}}:i:{ident}", f"f.{name}").strip()

    assert fact("start_lsn_source") == "aurora_volume_logical_start_lsn", fact("start_lsn_source")
    assert fact("start_lsn"), "no start LSN recorded"

    # the identifier: encrypted with the campaign key, same endpoint, same members
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key, c
    assert c["Port"] == port, f"cluster endpoint port changed: {port} -> {c['Port']}"
    assert c["Status"] == "available", c["Status"]
    assert tags_of(rds, c["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert members_view(rds, c) == members_before

    # A2: every acknowledged number exactly once, through the cluster endpoint
    have = seqs(port)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} " \
                                         f"doubled {doubled}"
    # the reader endpoint serves the same rows
    wait_until(lambda: seqs(port, host="127.0.0.2") == have, 60, 0.2, "the reader serves the same rows")
    assert csql(port, "SELECT pg_is_in_recovery()", host="127.0.0.2") == "t"

    # nothing of fleetcrypt's left on the cluster
    objs = [x for x in csql(port, FC_OBJECTS).split("\n") if x]
    assert objs == [], f"fleetcrypt objects left on the cluster: {objs}"
    retired = [x for x in rds.describe_db_clusters()["DBClusters"]
               if tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:role") == "retired-source"
               and tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:original-id") == ident]
    assert len(retired) == 1, retired
    ret = retired[0]
    assert ret["DBClusterIdentifier"].startswith("fc-pgc1-"), ret["DBClusterIdentifier"]
    assert ret["Status"] in ("stopped", "stopping"), ret["Status"]
    assert ret["StorageEncrypted"] is False
    assert not {m["DBInstanceIdentifier"] for m in ret["DBClusterMembers"]} & set(members_before)
    left = fleetcrypt_aws_leftovers(rds, "pgc1", ret["DBClusterIdentifier"])
    assert left == [], f"fleetcrypt's AWS resources left: {left}"
