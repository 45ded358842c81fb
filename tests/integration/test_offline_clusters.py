"""Aurora PostgreSQL clusters in strategy offline (issue 13), on the local
stack with real servers behind the clusters:

- a cluster identifier is submitted like an instance identifier; a member
  submitted on its own is folded into its cluster (one record, the cluster
  id); the dry run gives a cluster verdict (members, parameter group, key);
- offline moves an unencrypted cluster (writer + reader with rows) to the
  campaign key: the identifier names an encrypted cluster (restored from the
  cluster snapshot with the key) whose writer and reader have the source
  members' names, classes, promotion tiers and tags; the cluster and reader
  endpoints serve the same rows; the retired source cluster is tagged; the
  intermediate cluster snapshot is gone; an RDS instance in the same
  campaign is done too; status and report show the cluster with its members
  and its key before and after;
- a cluster encrypted with another KMS key is skipped without --rekey (the
  key named) and re-keyed with it.
Runs at emulator time scale 1/300 (the rename's modelled lag is real)."""
import json

from fclib import wait_until
from fixtures_awssim import psql
from fixtures_stack import META_TAG, verdicts

PW = "s3cret-Passw0rd"
OLD = {"Key": "fleetcrypt-sim:create-time", "Value": "2025-06-01"}   # unencrypted, as before 2026-02-18


def cluster(rds, ident):
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def make_cluster(sim, ident, classes, kms=None, owned=False):
    """kms: encrypted with that key; owned: the 2026 default (an AWS owned
    key, sse-rds); neither: unencrypted (created as before 2026-02-18)."""
    rds = sim.client("rds")
    team = {"Key": "team", "Value": "aur"}
    kw = {"KmsKeyId": kms, "StorageEncrypted": True, "Tags": [team]} if kms else \
        {"Tags": [team]} if owned else {"Tags": [OLD, team]}
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername="app",
                          MasterUserPassword=PW, DatabaseName="shop", BackupRetentionPeriod=3, **kw)
    wait_until(lambda: cluster(rds, ident)["Status"] == "available", 120, 0.2, f"cluster {ident}")
    for n, cls in enumerate(classes):
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-{n}", DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass=cls, PromotionTier=n + 1,
                               Tags=[{"Key": "member", "Value": str(n)}])
        sim.wait_instance(f"{ident}-{n}", timeout=180, rds=rds)
    return cluster(rds, ident)


def test_offline_clusters(stack, world):
    sim = stack.sim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    key = stack.make_key(alias="alias/aur-campaign")
    other = stack.make_key()
    ca = make_cluster(sim, "aur-a", ["db.r6g.large", "db.r6g.xlarge"])
    assert ca["StorageEncrypted"] is False, ca
    make_cluster(sim, "aur-b", ["db.r6g.large"], kms=other["Arn"])
    cc = make_cluster(sim, "aur-c", ["db.r6g.large"], owned=True)
    assert cc["StorageEncrypted"] is True and "KmsKeyId" not in cc, cc
    stack.make_instances(["aur-i"])
    port = ca["Port"]
    psql(port, "app", PW, "CREATE TABLE t(id int primary key, v text); "
         "INSERT INTO t SELECT g, 'r' || g FROM generate_series(1, 250) g", db="shop")
    wait_until(lambda: psql(port, "app", PW, "SELECT count(*) FROM t", db="shop", host="127.0.0.2") == "250",
               30, 0.2, "rows on the reader")

    # dry run: a member folds into its cluster; cluster verdicts
    r = stack.cli("submit", "--campaign", "aur-d", "--kms-key", "alias/aur-campaign", "--strategy", "offline",
                  "--dry-run", "aur-a-1", "aur-b", "aur-i")
    assert r.returncode == 0, r.stderr
    assert "aur-a-1 is a member of cluster aur-a" in r.stdout, r.stdout
    v = verdicts(r.stdout)
    assert "aur-a-1" not in v, r.stdout
    assert v["aur-a"][0] == "ok" and "cluster" in v["aur-a"][1], r.stdout
    assert "aur-a-0 (writer" in v["aur-a"][1] and "aur-a-1 (reader" in v["aur-a"][1], r.stdout
    assert v["aur-b"][0] == "skipped" and other["Arn"] in v["aur-b"][1] and "--rekey" in v["aur-b"][1], r.stdout
    assert v["aur-i"][0] == "ok", r.stdout
    r = stack.cli("submit", "--campaign", "aur-d", "--kms-key", "alias/aur-campaign", "--strategy", "offline",
                  "--dry-run", "--select", "engine=aurora-postgresql,encrypted=false")
    assert r.returncode == 0, r.stderr
    assert set(verdicts(r.stdout)) == {"aur-a"}, r.stdout
    r = stack.cli("submit", "--campaign", "aur-d", "--kms-key", "alias/aur-campaign", "--strategy", "offline",
                  "--dry-run", "--rekey", "--select", "engine=aurora-postgresql,encrypted=not-campaign-key")
    assert r.returncode == 0, r.stderr
    v = verdicts(r.stdout)
    assert set(v) == {"aur-a", "aur-b", "aur-c"}, r.stdout
    assert v["aur-c"][0] == "ok" and "an AWS owned key (sse-rds)" in v["aur-c"][1], r.stdout

    sim.admin("POST", "/config", {"time_scale": 1 / 300.0})
    stack.start()
    r = stack.cli("submit", "--campaign", "aur1", "--kms-key", "alias/aur-campaign", "--strategy", "offline",
                  "--max-parallel", 4, "--yes", "aur-a", "aur-a-0", "aur-b", "aur-c", "aur-i")
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("aur1", 200)
    rows = {i["id"]: i for i in st["instances"]}
    assert set(rows) == {"aur-a", "aur-b", "aur-c", "aur-i"}, rows
    assert rows["aur-c"]["state"] == "skipped" and "AWS owned key" in rows["aur-c"]["error"], rows["aur-c"]
    assert rows["aur-a"]["state"] == "done" and rows["aur-i"]["state"] == "done", st
    assert rows["aur-b"]["state"] == "skipped" and other["Arn"] in rows["aur-b"]["error"], rows["aur-b"]
    assert rows["aur-a"].get("kind") == "cluster", rows["aur-a"]
    assert rows["aur-a"].get("members") == ["aur-a-0", "aur-a-1"], rows["aur-a"]

    def fact(campaign, ident, name):
        return stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", f"f.{name}").strip()

    # quota reservations released once the cluster and its members exist
    assert (fact("aur1", "aur-a", "q_clu"), fact("aur1", "aur-a", "q_inst"), fact("aur1", "aur-a", "q_snap")) == \
        ("0", "0", "0")

    # the identifier names an encrypted cluster with the same members
    new = cluster(rds, "aur-a")
    assert new["StorageEncrypted"] is True and new["KmsKeyId"] == key["Arn"], new
    assert new["BackupRetentionPeriod"] == 3 and new["Port"] == port, new
    members = {m["DBInstanceIdentifier"]: m for m in new["DBClusterMembers"]}
    assert set(members) == {"aur-a-0", "aur-a-1"}, members
    assert members["aur-a-0"]["IsClusterWriter"] and not members["aur-a-1"]["IsClusterWriter"], members
    for n, cls in enumerate(["db.r6g.large", "db.r6g.xlarge"]):
        inst = sim.instance(f"aur-a-{n}", rds)
        assert inst["DBClusterIdentifier"] == "aur-a" and inst["DBInstanceClass"] == cls, inst
        assert inst["PromotionTier"] == n + 1, inst
        assert {"Key": "member", "Value": str(n)} in inst.get("TagList", []), inst
    tags = {t["Key"]: t["Value"] for t in new.get("TagList", [])}
    assert tags.get("team") == "aur" and tags.get("fleetcrypt:role") == "encrypted", tags
    # both endpoints serve the rows
    assert psql(port, "app", PW, "SELECT count(*) FROM t", db="shop") == "250"
    wait_until(lambda: psql(port, "app", PW, "SELECT count(*) FROM t", db="shop", host="127.0.0.2") == "250",
               60, 0.5, "rows behind the reader endpoint")
    assert psql(port, "app", PW, "SELECT pg_is_in_recovery()", db="shop", host="127.0.0.2") == "t"
    # the retired source: kept, stopped, tagged; no fleetcrypt snapshot left
    retired = [c for c in rds.describe_db_clusters()["DBClusters"]
               if {"Key": "fleetcrypt:original-id", "Value": "aur-a"} in c.get("TagList", [])]
    assert len(retired) == 1 and retired[0]["StorageEncrypted"] is False, retired
    assert {"Key": "fleetcrypt:role", "Value": "retired-source"} in retired[0]["TagList"], retired
    snaps = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert not [s for s in snaps if "aur1" in s["DBClusterSnapshotIdentifier"]], snaps
    assert sim.instance("aur-i", rds)["KmsKeyId"] == key["Arn"]

    # report: the cluster with its members, key and encryption type before and after
    doc = json.loads(stack.cli("report", "aur1", "--format", "json", check=True).stdout)
    rep = {i["instance"]: i for i in doc["instances"]}
    assert rep["aur-a"]["kind"] == "cluster" and rep["aur-a"]["members"] == ["aur-a-0", "aur-a-1"], rep["aur-a"]
    assert rep["aur-a"]["encryption_before"] == "none" and rep["aur-a"]["key_after"] == key["Arn"], rep["aur-a"]
    assert rep["aur-a"]["encryption_after"] == "kms-customer-managed", rep["aur-a"]
    assert rep["aur-b"]["key_before"] == other["Arn"], rep["aur-b"]
    text = stack.cli("status", "aur1", check=True).stdout
    assert "aur-a-0" in text and "aur-a-1" in text, text

    # --rekey: the other-key cluster moves to the campaign key
    r = stack.cli("submit", "--campaign", "aur2", "--kms-key", "alias/aur-campaign", "--strategy", "offline",
                  "--yes", "--rekey", "aur-b", "aur-c")
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("aur2", 150)
    assert all(i["state"] == "done" for i in st["instances"]), st
    for ident in ("aur-b", "aur-c"):
        b = cluster(rds, ident)
        assert b["KmsKeyId"] == key["Arn"] and [m["DBInstanceIdentifier"] for m in b["DBClusterMembers"]] == \
            [f"{ident}-0"], b
    rep = {i["instance"]: i for i in
           json.loads(stack.cli("report", "aur2", "--format", "json", check=True).stdout)["instances"]}
    assert rep["aur-b"]["key_before"] == other["Arn"] and rep["aur-b"]["key_after"] == key["Arn"], rep
    assert rep["aur-b"]["encryption_before"] == "kms-customer-managed", rep
    assert rep["aur-c"]["encryption_before"] == "aws-owned" and rep["aur-c"]["key_before"] is None, rep
    assert rep["aur-c"]["encryption_after"] == "kms-customer-managed", rep
