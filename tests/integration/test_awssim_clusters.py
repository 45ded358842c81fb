"""awssim's Aurora PostgreSQL clusters, driven by awscli and botocore.

Real PostgreSQL: rows written through the cluster endpoint are on the reader
(a streaming standby behind the reader endpoint); rds.logical_replication in
the cluster parameter group takes effect after the writer reboots; a cluster
snapshot taken while writers run, restored with a KMS key, has the rows, and
aurora_volume_logical_start_lsn() on it is exactly where the source's slot
continues (every transaction whose commit ends after it is missing from the
restore, every other one is in it); copying a snapshot that is not
KMS-encrypted with a KmsKeyId is refused; renaming moves both endpoints after
the modelled DNS lag. Metadata-only: the API rules (encryption defaults,
deletion rules, filters, events, quotas)."""
import threading
import urllib.parse
import urllib.request

import pytest

from fclib import wait_until
from fixtures_awssim import AwsCliError, psql

PW = "s3cret-Passw0rd"


def raw(sim, action, **params):
    """The raw XML of one signed RDS Query call (members botocore's model lacks, e.g. StorageEncryptionType)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = urllib.parse.urlencode(dict(Action=action, Version="2014-10-31", **params))
    req = AWSRequest("POST", sim.endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("AKIAFLEETCRYPTLOCAL1", "fleetcrypt/local/emulator/secret/key0000"), "rds",
              "us-east-1").add_auth(req)
    r = urllib.request.Request(req.url, data=body.encode(), headers=dict(req.headers.items()), method="POST")
    with urllib.request.urlopen(r, timeout=30) as f:
        return f.read().decode()


def cluster(sim, ident):
    return sim.client("rds").describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def wait_cluster(sim, ident, status="available", timeout=180):
    def ok():
        c = cluster(sim, ident)
        assert c["Status"] != "failed", sim.proc.tail(30)
        return c if c["Status"] == status else None
    return wait_until(ok, timeout, 0.1, f"cluster {ident} {status}")


def wait_csnap(sim, ident, timeout=180):
    rds = sim.client("rds")

    def ok():
        s = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)["DBClusterSnapshots"][0]
        assert s["Status"] != "failed"
        return s if s["Status"] == "available" else None
    return wait_until(ok, timeout, 0.1, f"cluster snapshot {ident}")


def make_cluster(sim, ident, group=None, readers=1, extra=()):
    args = ["rds", "create-db-cluster", "--db-cluster-identifier", ident, "--engine", "aurora-postgresql",
            "--master-username", "app", "--master-user-password", PW, "--database-name", "shop"] + list(extra)
    if group:
        args += ["--db-cluster-parameter-group-name", group]
    out = sim.cli(*args)["DBCluster"]
    assert out["Status"] == "creating" and out["DBClusterMembers"] == []
    wait_cluster(sim, ident)
    for n in range(readers + 1):
        sim.cli("rds", "create-db-instance", "--db-instance-identifier", f"{ident}-{n}", "--db-cluster-identifier",
                ident, "--engine", "aurora-postgresql", "--db-instance-class", "db.r6g.large",
                "--promotion-tier", str(n + 1))
    for n in range(readers + 1):
        sim.wait_instance(f"{ident}-{n}", timeout=180)
    return cluster(sim, ident)


@pytest.mark.slow  # CI's 30 minutes (tests/run --all); the cluster campaigns in CI move rows through the same paths
def test_cluster_rows_reader_snapshot_rekey_restore_boundary_rename(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    sim.cli("rds", "create-db-cluster-parameter-group", "--db-cluster-parameter-group-name", "aur-logical",
            "--db-parameter-group-family", "aurora-postgresql15", "--description", "logical replication")
    sim.cli("rds", "modify-db-cluster-parameter-group", "--db-cluster-parameter-group-name", "aur-logical",
            "--parameters", "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot")
    params = rds.describe_db_cluster_parameters(DBClusterParameterGroupName="aur-logical", Source="user")["Parameters"]
    assert [(x["ParameterName"], x["ParameterValue"]) for x in params] == [("rds.logical_replication", "1")]

    c = make_cluster(sim, "orders")
    # created after 2026-02-18 without encryption options: an AWS owned key
    assert c["StorageEncrypted"] is True and "KmsKeyId" not in c
    assert "<StorageEncryptionType>sse-rds</StorageEncryptionType>" in raw(sim, "DescribeDBClusters",
                                                                          DBClusterIdentifier="orders")
    members = {m["DBInstanceIdentifier"]: m for m in c["DBClusterMembers"]}
    assert members["orders-0"]["IsClusterWriter"] is True and members["orders-1"]["IsClusterWriter"] is False
    assert members["orders-1"]["PromotionTier"] == 2
    # the cluster's own address (as Aurora gives each cluster its own name), the reader endpoint 127.0.0.2
    assert c["Endpoint"].startswith("127.1.0.") and c["ReaderEndpoint"] == "127.0.0.2"
    port = c["Port"]
    inst = sim.instance("orders-1")
    assert inst["DBClusterIdentifier"] == "orders" and inst["Engine"] == "aurora-postgresql"

    # rows through the cluster endpoint are on the reader (reader endpoint: a standby)
    psql(port, "app", PW, "CREATE TABLE t(id int primary key, v text); "
                          "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1,300) g", db="shop")
    wait_until(lambda: psql(port, "app", PW, "SELECT count(*) FROM t", db="shop", host="127.0.0.2") == "300",
               30, 0.1, "rows on the reader")
    assert psql(port, "app", PW, "SELECT pg_is_in_recovery()", db="shop", host="127.0.0.2") == "t"
    assert psql(port, "app", PW, "SELECT pg_is_in_recovery()", db="shop") == "f"
    assert psql(port, "app", PW, "SELECT rolsuper FROM pg_roles WHERE rolname='app'") == "f"

    # rds.logical_replication lives in the cluster group and needs the writer's reboot
    assert psql(port, "app", PW, "SHOW wal_level") == "replica"
    rds.modify_db_cluster(DBClusterIdentifier="orders", DBClusterParameterGroupName="aur-logical", ApplyImmediately=True)
    c = cluster(sim, "orders")
    assert {m["DBClusterParameterGroupStatus"] for m in c["DBClusterMembers"]} == {"pending-reboot"}
    assert c["DBClusterParameterGroup"] == "aur-logical"
    sim.cli("rds", "reboot-db-instance", "--db-instance-identifier", "orders-0")
    sim.wait_instance("orders-0")
    assert psql(port, "app", PW, "SHOW wal_level") == "logical"
    psql(port, "app", PW, "SELECT pg_create_logical_replication_slot('fc_slot', 'test_decoding')", db="shop")

    # a cluster snapshot while a writer commits row after row
    stop = threading.Event()
    ids = []

    def writer():
        n = 1000
        while not stop.is_set():
            n += 1
            rc, _, _ = psql(port, "app", PW, f"INSERT INTO t VALUES ({n}, 'w')", db="shop", check=False)
            if rc == 0:
                ids.append(n)
    th = threading.Thread(target=writer)
    th.start()
    try:
        wait_until(lambda: len(ids) > 20, 30, 0.05, "writer running")
        sim.cli("rds", "create-db-cluster-snapshot", "--db-cluster-identifier", "orders",
                "--db-cluster-snapshot-identifier", "orders-snap")
        snap = wait_csnap(sim, "orders-snap")
        n_at_snap = len(ids)
        wait_until(lambda: len(ids) > n_at_snap + 20, 30, 0.05, "writes after the snapshot")
    finally:
        stop.set()
        th.join()
    assert snap["StorageEncrypted"] is True and "KmsKeyId" not in snap
    wait_cluster(sim, "orders")

    # copy re-keys KMS-encrypted snapshots only: this one has an AWS owned key
    key = sim.cli("kms", "create-key", "--description", "campaign key")["KeyMetadata"]
    with pytest.raises(AwsCliError) as e:
        sim.cli("rds", "copy-db-cluster-snapshot", "--source-db-cluster-snapshot-identifier", "orders-snap",
                "--target-db-cluster-snapshot-identifier", "orders-copy", "--kms-key-id", key["Arn"])
    assert "InvalidParameterValue" in e.value.stderr and "AWS owned key" in e.value.stderr

    # restore with the key: encrypted with it, no instances until CreateDBInstance
    r = sim.cli("rds", "restore-db-cluster-from-snapshot", "--db-cluster-identifier", "orders-enc",
                "--snapshot-identifier", "orders-snap", "--engine", "aurora-postgresql", "--kms-key-id", key["KeyId"],
                "--db-cluster-parameter-group-name", "aur-logical")["DBCluster"]
    assert r["StorageEncrypted"] is True and r["KmsKeyId"] == key["Arn"]
    enc = wait_cluster(sim, "orders-enc")
    assert enc["DBClusterMembers"] == []
    assert "<StorageEncryptionType>sse-kms</StorageEncryptionType>" in raw(sim, "DescribeDBClusters",
                                                                          DBClusterIdentifier="orders-enc")
    # an encrypted (KMS) cluster snapshot can be copied with another key
    key2 = sim.cli("kms", "create-key", "--description", "other key")["KeyMetadata"]
    sim.cli("rds", "create-db-cluster-snapshot", "--db-cluster-identifier", "orders-enc",
            "--db-cluster-snapshot-identifier", "enc-snap")
    wait_csnap(sim, "enc-snap")
    cp = rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier="enc-snap",
                                      TargetDBClusterSnapshotIdentifier="enc-rekeyed", KmsKeyId=key2["Arn"])
    assert cp["DBClusterSnapshot"]["KmsKeyId"] == key2["Arn"]
    assert wait_csnap(sim, "enc-rekeyed")["SourceDBClusterSnapshotArn"].endswith(":cluster-snapshot:enc-snap")

    sim.cli("rds", "create-db-instance", "--db-instance-identifier", "orders-enc-0", "--db-cluster-identifier",
            "orders-enc", "--engine", "aurora-postgresql", "--db-instance-class", "db.r6g.large")
    sim.wait_instance("orders-enc-0", timeout=180)
    eport = cluster(sim, "orders-enc")["Port"]
    restored = {int(x) for x in psql(eport, "app", PW, "SELECT id FROM t WHERE id > 1000", db="shop").split()}
    assert psql(eport, "app", PW, "SELECT count(*) FROM t WHERE id <= 300", db="shop") == "300"
    assert restored and restored < set(ids)

    # the boundary: transactions committed at or after the start LSN are exactly the missing rows
    start = psql(eport, "app", PW, "SELECT aurora_volume_logical_start_lsn()", db="shop")
    changes = psql(port, "app", PW, "SELECT lsn, xid, data FROM pg_logical_slot_peek_changes('fc_slot', NULL, NULL)",
                   db="shop")
    rows, commits = {}, {}
    for line in changes.splitlines():
        lsn, xid, data = line.split("|", 2)
        if data.startswith("table public.t: INSERT: id[integer]:"):
            rows.setdefault(xid, []).append(int(data.split("id[integer]:")[1].split()[0]))
        elif data.startswith("COMMIT"):
            commits[xid] = lsn

    def lsn_int(s):
        hi, lo = s.split("/")
        return (int(hi, 16) << 32) | int(lo, 16)
    # test_decoding reports a COMMIT at the end of its record: a transaction is
    # in the restore iff its commit record ends at or before the start LSN
    def after(b):
        return {i for x, lst in rows.items() for i in lst if lsn_int(commits[x]) > b}
    assert after(lsn_int(start)) == set(ids) - restored
    # negative control: the commit before the boundary is not the boundary
    prev = max(lsn_int(v) for v in commits.values() if lsn_int(v) < lsn_int(start))
    assert after(prev) != set(ids) - restored

    # rename: both endpoints follow the identifier after the modelled DNS lag
    sim.admin("POST", "/config", {"time_scale": 0.01})
    try:
        rds.modify_db_cluster(DBClusterIdentifier="orders", NewDBClusterIdentifier="orders-old", ApplyImmediately=True)
        wait_cluster(sim, "orders-old")
        nport = cluster(sim, "orders-old")["Port"]
        assert nport != port
        wait_until(lambda: psql(nport, "app", PW, "SELECT count(*) > 0 FROM t", db="shop", check=False)[0] == 0,
                   60, 0.1, "new cluster endpoint")
        wait_until(lambda: psql(nport, "app", PW, "SELECT pg_is_in_recovery()", db="shop", host="127.0.0.2",
                                check=False)[1].strip() == "t", 60, 0.1, "new reader endpoint")
        wait_until(lambda: psql(port, "app", PW, "SELECT 1", check=False)[0] != 0, 60, 0.1, "old endpoint closed")
    finally:
        sim.admin("POST", "/config", {"time_scale": 0})
    evs = rds.describe_events(SourceType="db-cluster", SourceIdentifier="orders-old")["Events"]
    assert "Renamed cluster from orders to orders-old" in [e["Message"] for e in evs]
    evs = rds.describe_events(SourceType="db-cluster-snapshot")["Events"]
    assert "Manual cluster snapshot created" in [e["Message"] for e in evs]


def test_cluster_api_rules_metadata_only(awssim):
    sim = awssim
    rds = sim.client("rds")
    meta = ["--tags", "Key=fleetcrypt-sim:metadata-only,Value=true"]
    old = ["--tags", "Key=fleetcrypt-sim:metadata-only,Value=true", "Key=fleetcrypt-sim:create-time,Value=2025-06-01"]
    # before the default-encryption date a cluster without options is unencrypted
    c = make_cluster(sim, "legacy", extra=old)
    assert c["StorageEncrypted"] is False
    assert "<StorageEncryptionType>none</StorageEncryptionType>" in raw(sim, "DescribeDBClusters",
                                                                       DBClusterIdentifier="legacy")
    sim.cli("rds", "create-db-cluster-snapshot", "--db-cluster-identifier", "legacy",
            "--db-cluster-snapshot-identifier", "legacy-snap")
    wait_csnap(sim, "legacy-snap")
    with pytest.raises(AwsCliError) as e:   # unencrypted storage cannot be encrypted by copying
        sim.cli("rds", "copy-db-cluster-snapshot", "--source-db-cluster-snapshot-identifier", "legacy-snap",
                "--target-db-cluster-snapshot-identifier", "legacy-copy", "--kms-key-id", "alias/aws/rds")
    assert "InvalidParameterValue" in e.value.stderr and "unencrypted" in e.value.stderr
    wait_cluster(sim, "legacy")
    # explicit key: sse-kms with aws/rds
    c = sim.cli("rds", "create-db-cluster", "--db-cluster-identifier", "kmsed", "--engine", "aurora-postgresql",
                "--master-username", "app", "--master-user-password", PW, "--storage-encrypted", *meta)["DBCluster"]
    assert c["KmsKeyId"].startswith("arn:aws:kms:") and c["StorageEncrypted"] is True
    wait_cluster(sim, "kmsed")

    # members: storage/master user belong to the cluster
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.create_db_instance(DBInstanceIdentifier="x", DBClusterIdentifier="legacy", Engine="aurora-postgresql",
                               DBInstanceClass="db.r6g.large", AllocatedStorage=20)
    assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault):
        rds.create_db_instance(DBInstanceIdentifier="x", DBClusterIdentifier="nope", Engine="aurora-postgresql",
                               DBInstanceClass="db.r6g.large")
    # filters and pagination
    got = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["legacy"]}])["DBInstances"]
    assert sorted(i["DBInstanceIdentifier"] for i in got) == ["legacy-0", "legacy-1"]
    page = rds.describe_db_clusters(MaxRecords=20)
    assert {x["DBClusterIdentifier"] for x in page["DBClusters"]} == {"legacy", "kmsed"}
    assert rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": ["kmsed"]}])["DBClusters"][0][
        "DBClusterIdentifier"] == "kmsed"

    # deletion: members first, protection, final snapshot
    rds.modify_db_cluster(DBClusterIdentifier="legacy", DeletionProtection=True)
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.delete_db_cluster(DBClusterIdentifier="legacy", SkipFinalSnapshot=True)
    assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rds.modify_db_cluster(DBClusterIdentifier="legacy", DeletionProtection=False)
    with pytest.raises(rds.exceptions.InvalidDBClusterStateFault):
        rds.delete_db_cluster(DBClusterIdentifier="legacy", SkipFinalSnapshot=True)
    # deleting the writer fails over to the reader
    rds.delete_db_instance(DBInstanceIdentifier="legacy-0")
    sim.wait_gone("legacy-0")
    c = cluster(sim, "legacy")
    assert [(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in c["DBClusterMembers"]] == [("legacy-1", True)]
    rds.delete_db_instance(DBInstanceIdentifier="legacy-1")
    sim.wait_gone("legacy-1")
    rds.delete_db_cluster(DBClusterIdentifier="legacy", FinalDBSnapshotIdentifier="legacy-final")
    wait_until(lambda: not rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": ["legacy"]}])[
        "DBClusters"], 60, 0.1, "cluster deleted")
    assert wait_csnap(sim, "legacy-final")["DBClusterIdentifier"] == "legacy"
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault):
        rds.describe_db_clusters(DBClusterIdentifier="legacy")
    msgs = [e["Message"] for e in rds.describe_events(SourceType="db-cluster", SourceIdentifier="legacy")["Events"]]
    assert "DB cluster created" in msgs and "DB cluster deleted" in msgs

    # stop/start, quotas, call log
    rds.stop_db_cluster(DBClusterIdentifier="kmsed")
    wait_cluster(sim, "kmsed", "stopped")
    rds.start_db_cluster(DBClusterIdentifier="kmsed")
    wait_cluster(sim, "kmsed")
    sim.admin("POST", "/config", {"quotas": {"DBClusters": 1}})
    with pytest.raises(rds.exceptions.DBClusterQuotaExceededFault):
        rds.create_db_cluster(DBClusterIdentifier="third", Engine="aurora-postgresql", MasterUsername="app",
                              MasterUserPassword=PW)
    q = {a["AccountQuotaName"]: a for a in rds.describe_account_attributes()["AccountQuotas"]}
    assert (q["DBClusters"]["Used"], q["DBClusters"]["Max"]) == (1, 1)
    view = {c["id"]: c for c in sim.admin("GET", "/clusters")["clusters"]}
    assert view["kmsed"]["metadata_only"] is True and view["kmsed"]["encryption"] == "sse-kms"
    calls = sim.admin("GET", "/calls?action=CreateDBCluster")["calls"]
    assert [c["resource"] for c in calls][-1] == "third" and calls[-1]["error"] == "DBClusterQuotaExceededFault"


def test_cluster_parameter_group_copy_and_delete(awssim):
    """CopyDBClusterParameterGroup keeps the source's family and values and
    takes the given tags; DeleteDBClusterParameterGroup refuses the default
    group and a group a cluster uses, then deletes it."""
    rds = awssim.client("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="src-cpg",
                                          DBParameterGroupFamily="aurora-postgresql15", Description="src")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="src-cpg", Parameters=[
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "250", "ApplyMethod": "immediate"}])
    g = rds.copy_db_cluster_parameter_group(SourceDBClusterParameterGroupIdentifier="src-cpg",
                                            TargetDBClusterParameterGroupIdentifier="cpy-cpg",
                                            TargetDBClusterParameterGroupDescription="copy",
                                            Tags=[{"Key": "k", "Value": "v"}])["DBClusterParameterGroup"]
    assert g["DBParameterGroupFamily"] == "aurora-postgresql15"
    user = {p["ParameterName"]: p["ParameterValue"] for p in rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName="cpy-cpg", Source="user")["Parameters"]}
    assert user == {"log_min_duration_statement": "250"}, user
    assert rds.list_tags_for_resource(ResourceName=g["DBClusterParameterGroupArn"])["TagList"] == \
        [{"Key": "k", "Value": "v"}]
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.copy_db_cluster_parameter_group(SourceDBClusterParameterGroupIdentifier="src-cpg",
                                            TargetDBClusterParameterGroupIdentifier="cpy-cpg",
                                            TargetDBClusterParameterGroupDescription="again")
    assert e.value.response["Error"]["Code"] == "DBParameterGroupAlreadyExists"
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="default.aurora-postgresql15")
    assert e.value.response["Error"]["Code"] == "InvalidDBParameterGroupState"
    rds.create_db_cluster(DBClusterIdentifier="cpg-user", Engine="aurora-postgresql", MasterUsername="app",
                          MasterUserPassword=PW, DBClusterParameterGroupName="cpy-cpg",
                          Tags=[{"Key": "fleetcrypt-sim:metadata-only", "Value": "true"}])
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="cpy-cpg")
    assert e.value.response["Error"]["Code"] == "InvalidDBParameterGroupState"
    wait_cluster(awssim, "cpg-user")
    rds.modify_db_cluster(DBClusterIdentifier="cpg-user", DBClusterParameterGroupName="src-cpg",
                          ApplyImmediately=True)
    rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="cpy-cpg")
    names = [x["DBClusterParameterGroupName"] for x in rds.describe_db_cluster_parameter_groups()[
        "DBClusterParameterGroups"]]
    assert "cpy-cpg" not in names and "src-cpg" in names
