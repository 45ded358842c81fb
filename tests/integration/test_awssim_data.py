"""awssim with real PostgreSQL: rows written through an instance endpoint survive
snapshot -> encrypted copy -> restore; the restored log shows where recovery
ended; replication slots are inherited; rename swap moves endpoints; state
survives an emulator restart. One emulator for the module (CI budget)."""
import os
import re
import socket
import tempfile
import time

import pytest

from fclib import wait_until
from fixtures_awssim import psql
from fixtures_pg import tool

PW = "s3cret-Passw0rd"


def _logical_group(sim):
    rds = sim.client("rds")
    try:
        rds.create_db_parameter_group(DBParameterGroupName="fc-logical", DBParameterGroupFamily="postgres15",
                                      Description="logical replication on")
        rds.modify_db_parameter_group(DBParameterGroupName="fc-logical", Parameters=[
            {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])
    except rds.exceptions.DBParameterGroupAlreadyExistsFault:
        pass
    return "fc-logical"


def _create(sim, ident, group=None, via_cli=True):
    args = ["rds", "create-db-instance", "--db-instance-identifier", ident, "--db-instance-class", "db.t3.micro",
            "--engine", "postgres", "--master-username", "app", "--master-user-password", PW,
            "--allocated-storage", "20", "--no-storage-encrypted", "--tags", "Key=team,Value=data"]
    if group:
        args += ["--db-parameter-group-name", group]
    out = sim.cli(*args)
    assert out["DBInstance"]["DBInstanceStatus"] == "creating"
    assert out["DBInstance"]["StorageEncrypted"] is False
    return sim.wait_instance(ident)


def test_snapshot_copy_restore_roundtrip(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    kms = sim.client("kms")
    group = _logical_group(sim)
    src = _create(sim, "orders-db", group)
    port = src["Endpoint"]["Port"]
    assert src["Endpoint"]["Address"].startswith("127.1.0."), "its own address (test_awssim_addresses.py)"
    assert src["DBParameterGroups"][0] == {"DBParameterGroupName": group, "ParameterApplyStatus": "in-sync"}

    # rows + a logical slot, through the endpoint, as the master user
    psql(port, "app", PW, "CREATE TABLE t(id int primary key, v text); "
                          "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1,500) g")
    assert psql(port, "app", PW, "SHOW wal_level") == "logical"
    assert psql(port, "app", PW, "SELECT rolsuper FROM pg_roles WHERE rolname='app'") == "f"
    assert psql(port, "app", PW, "SELECT pg_has_role('app','rds_superuser','member')") == "t"
    psql(port, "app", PW, "SELECT pg_create_logical_replication_slot('fc_slot','pgoutput')")
    psql(port, "app", PW, "INSERT INTO t VALUES (501, 'after-slot')")
    rc, _, err = psql(port, "app", "wrong-password", "SELECT 1", check=False)
    assert rc != 0 and "password authentication failed" in err

    # KMS key + alias (CLI), snapshot (CLI) of the running instance
    key = sim.cli("kms", "create-key", "--description", "fleet key")["KeyMetadata"]
    sim.cli("kms", "create-alias", "--alias-name", "alias/fleet", "--target-key-id", key["KeyId"])
    assert kms.describe_key(KeyId="alias/fleet")["KeyMetadata"]["Arn"] == key["Arn"]
    snap = sim.cli("rds", "create-db-snapshot", "--db-instance-identifier", "orders-db",
                   "--db-snapshot-identifier", "orders-snap")["DBSnapshot"]
    assert snap["Status"] == "creating" and snap["Encrypted"] is False
    snap = sim.wait_snapshot("orders-snap")
    assert snap["PercentProgress"] == 100 and snap["AllocatedStorage"] == 20 and "SnapshotCreateTime" in snap
    sim.wait_instance("orders-db")

    # encrypted copy (botocore, by alias ARN)
    alias_arn = f"arn:aws:kms:us-east-1:{sim.info['account_id']}:alias/fleet"
    cp = rds.copy_db_snapshot(SourceDBSnapshotIdentifier="orders-snap", TargetDBSnapshotIdentifier="orders-enc",
                              KmsKeyId=alias_arn, CopyTags=True)["DBSnapshot"]
    assert cp["Encrypted"] is True and cp["KmsKeyId"] == key["Arn"]
    cp = sim.wait_snapshot("orders-enc")
    assert cp["SourceDBSnapshotIdentifier"].endswith(":snapshot:orders-snap")

    # restore (CLI), encryption inherited
    restored_after = int(time.time())  # after every line the snapshot holds, before the restore's start
    r = sim.cli("rds", "restore-db-instance-from-db-snapshot", "--db-instance-identifier", "orders-db-enc",
                "--db-snapshot-identifier", "orders-enc", "--db-instance-class", "db.t3.micro",
                "--db-parameter-group-name", group, "--vpc-security-group-ids", "sg-1234",
                "--db-subnet-group-name", "sub-a", "--no-multi-az", "--tags", "Key=fleetcrypt:role,Value=target")
    assert r["DBInstance"]["StorageEncrypted"] is True
    tgt = sim.wait_instance("orders-db-enc")
    assert tgt["StorageEncrypted"] is True and tgt["KmsKeyId"] == key["Arn"]
    assert tgt["VpcSecurityGroups"][0]["VpcSecurityGroupId"] == "sg-1234"
    assert tgt["DBSubnetGroup"]["DBSubnetGroupName"] == "sub-a"
    tport = tgt["Endpoint"]["Port"]
    assert tport != port
    assert psql(tport, "app", PW, "SELECT count(*), max(id) FROM t") == "501|501"
    assert psql(tport, "app", PW, "SELECT slot_name FROM pg_replication_slots") == "fc_slot"
    # independent copies: a write on the target does not reach the source
    psql(tport, "app", PW, "INSERT INTO t VALUES (9999, 'target only')")
    assert psql(port, "app", PW, "SELECT count(*) FROM t WHERE id=9999") == "0"

    # the restored log, through DescribeDBLogFiles + paged DownloadDBLogFilePortion
    files = sim.cli("rds", "describe-db-log-files", "--db-instance-identifier", "orders-db-enc")["DescribeDBLogFiles"]
    assert files and all(re.match(r"error/postgresql\.log\.\d{4}-\d\d-\d\d-\d\d$", f["LogFileName"]) for f in files)
    text, marker, pages = "", "0", 0
    for name in [f["LogFileName"] for f in files]:
        marker = "0"
        while True:
            part = rds.download_db_log_file_portion(DBInstanceIdentifier="orders-db-enc", LogFileName=name,
                                                    Marker=marker, NumberOfLines=5)
            text += part.get("LogFileData", "")
            marker = part["Marker"]
            pages += 1
            if not part["AdditionalDataPending"]:
                break
    assert pages > 1
    assert "redo starts at" in text
    # RDS keeps the source's old log files on the restored volume: the failed
    # login on the source, before its snapshot, is in the restored log too,
    # before the restored server's own start
    assert 'password authentication failed for user "app"' in text, text[:2000]
    assert text.index("password authentication failed") < text.index("redo starts at")
    m = re.search(r"invalid record length at ([0-9A-F]+/[0-9A-F]+): (wanted 24, got 0|expected at least 24, got 0)", text)
    assert m, text[-2000:]
    assert re.search(r"redo done at [0-9A-F]+/[0-9A-F]+", text)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:[^:]*:[^@]*@[^:]*:\[\d+\]:LOG:", text, re.M)
    # fleetcrypt's parser, as the find-start-lsn step calls it (RDS's prefix, the
    # restore time): the restore's recovery, by its startup process, with the
    # source's old lines before it; the source's own start is counted aside
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(text)
    try:
        found = tool("find-start-lsn", f.name, "--line-prefix", "%t:%r:%u@%d:[%p]:",
                     "--restored-after", restored_after)[1]
    finally:
        os.unlink(f.name)
    assert found["start_lsn"] == m.group(1) and found["kind"] == "record", found
    assert int(found["source_starts"]) >= 1 and found["later_recoveries"] == "0", found
    restore_start = [ln for ln in text.splitlines() if "database system was interrupted" in ln]
    assert restore_start and f":[{found['startup_pid']}]:" in restore_start[-1], (found, restore_start)
    # the CLI's own tail mode (no marker) returns the most recent lines
    tail = sim.cli("rds", "download-db-log-file-portion", "--db-instance-identifier", "orders-db-enc",
                   "--log-file-name", files[-1]["LogFileName"], "--number-of-lines", "3", "--no-paginate")
    assert tail["LogFileData"].count("\n") <= 3

    # events
    ev = rds.describe_events(SourceType="db-instance", SourceIdentifier="orders-db-enc", Duration=60)["Events"]
    assert any("restored" in e["Message"] for e in ev)
    ev = rds.describe_events(SourceType="db-snapshot", StartTime=time.time() - 600)["Events"]
    assert any("Snapshot copy finished" in e["Message"] for e in ev)
    assert any(e["SourceIdentifier"] == "orders-snap" and e["Message"] == "Manual snapshot created" for e in ev)


def _connect_probe(port, pw=PW):
    """-> the instance's system identifier, proving which server answers."""
    return psql(port, "app", pw, "SELECT system_identifier FROM pg_control_system()")


def test_rename_swap_moves_endpoint(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    a = _create(sim, "swap-a")
    b = _create(sim, "swap-b")
    pa, pb = a["Endpoint"]["Port"], b["Endpoint"]["Port"]
    psql(pa, "app", PW, "CREATE TABLE who(name text); INSERT INTO who VALUES ('a')")
    psql(pb, "app", PW, "CREATE TABLE who(name text); INSERT INTO who VALUES ('b')")
    # a long-lived connection through A's endpoint is dropped at the swap
    s = socket.create_connection(("127.0.0.1", pa))
    r = rds.modify_db_instance(DBInstanceIdentifier="swap-a", NewDBInstanceIdentifier="swap-a-retired",
                               ApplyImmediately=True)["DBInstance"]
    assert r["DBInstanceIdentifier"] in ("swap-a", "swap-a-retired")
    retired = sim.wait_instance("swap-a-retired")
    s.settimeout(5)
    assert s.recv(10) == b""
    s.close()
    out = sim.cli("rds", "modify-db-instance", "--db-instance-identifier", "swap-b",
                  "--new-db-instance-identifier", "swap-a", "--apply-immediately")
    assert out["DBInstance"]["DBInstanceIdentifier"] in ("swap-b", "swap-a")
    new_a = sim.wait_instance("swap-a")
    assert new_a["Endpoint"]["Port"] == pa, "the identifier keeps its endpoint"
    assert new_a["DbiResourceId"] == b["DbiResourceId"]
    assert psql(pa, "app", PW, "SELECT name FROM who") == "b"
    rp = retired["Endpoint"]["Port"]
    assert rp not in (pa, pb)
    assert psql(rp, "app", PW, "SELECT name FROM who") == "a"
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier="swap-b")
    ev = rds.describe_events(SourceType="db-instance", SourceIdentifier="swap-a")["Events"]
    assert any(e["Message"] == "Renamed instance from swap-b to swap-a" for e in ev)
    # stop the retired source, snapshot it while stopped, tag it
    sim.cli("rds", "stop-db-instance", "--db-instance-identifier", "swap-a-retired")
    sim.wait_instance("swap-a-retired", "stopped")
    rc, _, _ = psql(rp, "app", PW, "SELECT 1", check=False)
    assert rc != 0
    rds.create_db_snapshot(DBInstanceIdentifier="swap-a-retired", DBSnapshotIdentifier="retired-final")
    assert sim.wait_snapshot("retired-final")["Status"] == "available"
    arn = retired["DBInstanceArn"].replace("swap-a-retired", "swap-a-retired")
    sim.cli("rds", "add-tags-to-resource", "--resource-name", arn, "--tags", "Key=fleetcrypt:role,Value=retired-source")
    tags = sim.cli("rds", "list-tags-for-resource", "--resource-name", arn)["TagList"]
    assert {"Key": "fleetcrypt:role", "Value": "retired-source"} in tags
    sim.cli("rds", "remove-tags-from-resource", "--resource-name", arn, "--tag-keys", "team")
    assert all(t["Key"] != "team" for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"])
    # start again, then delete both with and without final snapshot
    rds.start_db_instance(DBInstanceIdentifier="swap-a-retired")
    sim.wait_instance("swap-a-retired")
    assert psql(rp, "app", PW, "SELECT name FROM who") == "a"


def test_parameter_group_reboot_and_proxy(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    inst = _create(sim, "pg-reboot")
    port = inst["Endpoint"]["Port"]
    assert psql(port, "app", PW, "SHOW wal_level") == "replica"
    groups = sim.cli("rds", "describe-db-parameter-groups")["DBParameterGroups"]
    assert "default.postgres15" in [g["DBParameterGroupName"] for g in groups]
    params = rds.describe_db_parameters(DBParameterGroupName="default.postgres15")["Parameters"]
    assert {p["ParameterName"]: p.get("ParameterValue") for p in params}["rds.logical_replication"] == "0"
    sim.cli("rds", "create-db-parameter-group", "--db-parameter-group-name", "pg-x",
            "--db-parameter-group-family", "postgres15", "--description", "x")
    sim.cli("rds", "modify-db-parameter-group", "--db-parameter-group-name", "pg-x", "--parameters",
            "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot",
            "ParameterName=log_min_messages,ParameterValue=info,ApplyMethod=immediate")
    user = sim.cli("rds", "describe-db-parameters", "--db-parameter-group-name", "pg-x", "--source", "user")
    assert {p["ParameterName"] for p in user["Parameters"]} == {"rds.logical_replication", "log_min_messages"}
    rds.modify_db_instance(DBInstanceIdentifier="pg-reboot", DBParameterGroupName="pg-x", ApplyImmediately=True,
                           BackupRetentionPeriod=3, VpcSecurityGroupIds=["sg-9"])
    i = sim.wait_instance("pg-reboot")
    assert i["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    assert i["BackupRetentionPeriod"] == 3 and i["VpcSecurityGroups"][0]["VpcSecurityGroupId"] == "sg-9"
    assert psql(port, "app", PW, "SHOW wal_level") == "replica"
    sim.cli("rds", "reboot-db-instance", "--db-instance-identifier", "pg-reboot")
    i = sim.wait_instance("pg-reboot")
    assert i["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"
    assert psql(port, "app", PW, "SHOW wal_level") == "logical"
    assert psql(port, "app", PW, "SHOW log_min_messages") == "info"

    # RDS Proxy: stable endpoint, target switch = cutover
    other = _create(sim, "pg-other")
    psql(port, "app", PW, "CREATE TABLE who(n text); INSERT INTO who VALUES ('first')")
    psql(other["Endpoint"]["Port"], "app", PW, "CREATE TABLE who(n text); INSERT INTO who VALUES ('second')")
    px = sim.cli("rds", "create-db-proxy", "--db-proxy-name", "fleet-proxy", "--engine-family", "POSTGRESQL",
                 "--auth", "AuthScheme=SECRETS,SecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:x,IAMAuth=DISABLED",
                 "--role-arn", "arn:aws:iam::123456789012:role/proxy", "--vpc-subnet-ids", "subnet-1", "subnet-2")
    assert px["DBProxy"]["Status"] == "creating"
    wait_until(lambda: rds.describe_db_proxies(DBProxyName="fleet-proxy")["DBProxies"][0]["Status"] == "available",
               30, what="proxy available")
    arn = rds.describe_db_proxies(DBProxyName="fleet-proxy")["DBProxies"][0]["DBProxyArn"]
    pport = int({t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
                ["fleetcrypt-sim:endpoint-port"])
    rds.register_db_proxy_targets(DBProxyName="fleet-proxy", DBInstanceIdentifiers=["pg-reboot"])
    wait_until(lambda: sim.cli("rds", "describe-db-proxy-targets", "--db-proxy-name", "fleet-proxy")
               ["Targets"][0]["TargetHealth"]["State"] == "AVAILABLE", 30, what="target available")
    assert psql(pport, "app", PW, "SELECT n FROM who") == "first"
    sim.cli("rds", "deregister-db-proxy-targets", "--db-proxy-name", "fleet-proxy",
            "--db-instance-identifiers", "pg-reboot")
    rds.register_db_proxy_targets(DBProxyName="fleet-proxy", DBInstanceIdentifiers=["pg-other"])
    wait_until(lambda: rds.describe_db_proxy_targets(DBProxyName="fleet-proxy")["Targets"][0]["TargetHealth"]["State"]
               == "AVAILABLE", 30, what="second target available")
    assert psql(pport, "app", PW, "SELECT n FROM who") == "second"
    with pytest.raises(rds.exceptions.DBProxyTargetAlreadyRegisteredFault):
        rds.register_db_proxy_targets(DBProxyName="fleet-proxy", DBInstanceIdentifiers=["pg-reboot"])

    # read replica: listed on the source, real streaming standby
    rep = sim.cli("rds", "create-db-instance-read-replica", "--db-instance-identifier", "pg-reboot-rr",
                  "--source-db-instance-identifier", "pg-reboot")["DBInstance"]
    assert rep["DBInstanceStatus"] == "creating"
    r = sim.wait_instance("pg-reboot-rr")
    assert r["ReadReplicaSourceDBInstanceIdentifier"] == "pg-reboot"
    assert sim.instance("pg-reboot")["ReadReplicaDBInstanceIdentifiers"] == ["pg-reboot-rr"]
    assert psql(r["Endpoint"]["Port"], "app", PW, "SELECT pg_is_in_recovery()") == "t"
    with pytest.raises(rds.exceptions.InvalidDBInstanceStateFault):
        rds.stop_db_instance(DBInstanceIdentifier="pg-reboot")
    # delete with final snapshot; deletion protection honoured
    rds.modify_db_instance(DBInstanceIdentifier="pg-other", DeletionProtection=True, ApplyImmediately=True)
    sim.wait_instance("pg-other")
    with pytest.raises(rds.exceptions.ClientError) as ei:
        rds.delete_db_instance(DBInstanceIdentifier="pg-other", SkipFinalSnapshot=True)
    assert ei.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rds.modify_db_instance(DBInstanceIdentifier="pg-other", DeletionProtection=False, ApplyImmediately=True)
    sim.wait_instance("pg-other")
    sim.cli("rds", "delete-db-instance", "--db-instance-identifier", "pg-other",
            "--final-db-snapshot-identifier", "pg-other-final")
    sim.wait_gone("pg-other")
    assert sim.wait_snapshot("pg-other-final")["DBInstanceIdentifier"] == "pg-other"
    sim.cli("rds", "delete-db-snapshot", "--db-snapshot-identifier", "pg-other-final")
    sim.cli("rds", "delete-db-instance", "--db-instance-identifier", "pg-reboot-rr", "--skip-final-snapshot")
    sim.wait_gone("pg-reboot-rr")


def test_restart_keeps_resources_and_data(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    inst = _create(sim, "survivor")
    port = inst["Endpoint"]["Port"]
    psql(port, "app", PW, "CREATE TABLE keep(x int); INSERT INTO keep VALUES (42)")
    rds.create_db_snapshot(DBInstanceIdentifier="survivor", DBSnapshotIdentifier="survivor-snap")
    sim.wait_snapshot("survivor-snap")
    sim.wait_instance("survivor")
    before = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    sim.restart()
    rds = sim.client("rds")
    after = sim.wait_instance("survivor", rds=rds)
    assert after["Endpoint"]["Port"] == port and after["DbiResourceId"] == inst["DbiResourceId"]
    assert psql(port, "app", PW, "SELECT x FROM keep") == "42"
    assert rds.describe_db_snapshots(DBSnapshotIdentifier="survivor-snap")["DBSnapshots"][0]["Status"] == "available"
    now = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    assert set(now) == set(before)
    for k, v in before.items():
        if v["DBInstanceStatus"] == "available":
            sim.wait_instance(k, rds=rds)
        assert now[k]["Endpoint"]["Port"] == v["Endpoint"]["Port"]
    assert sim.client("kms").describe_key(KeyId="alias/fleet")["KeyMetadata"]["KeyState"] == "Enabled"


def test_scaled_rename_reboots_and_managed_password(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    sm = sim.client("secretsmanager")
    out = sim.cli("rds", "create-db-instance", "--db-instance-identifier", "managed-pg", "--engine", "postgres",
                  "--db-instance-class", "db.t3.micro", "--master-username", "boss", "--allocated-storage", "20",
                  "--manage-master-user-password")["DBInstance"]
    secret = json_loads(sm.get_secret_value(SecretId=out["MasterUserSecret"]["SecretArn"])["SecretString"])
    inst = sim.wait_instance("managed-pg")
    port = inst["Endpoint"]["Port"]
    assert psql(port, secret["username"], secret["password"], "SELECT current_user") == "boss"
    sysid = psql(port, "boss", secret["password"], "SELECT system_identifier FROM pg_control_system()")
    # at time scale > 0 a rename goes through renaming + reboot; the endpoint follows the name
    sim.admin("POST", "/config", {"time_scale": 0.005})
    try:
        r = rds.modify_db_instance(DBInstanceIdentifier="managed-pg", NewDBInstanceIdentifier="managed-pg2",
                                   ApplyImmediately=True)["DBInstance"]
        assert r["DBInstanceStatus"] == "renaming"
        assert r["PendingModifiedValues"]["DBInstanceIdentifier"] == "managed-pg2"
        seen = set()

        def renamed():
            try:
                i = rds.describe_db_instances(DBInstanceIdentifier="managed-pg2")["DBInstances"][0]
            except rds.exceptions.DBInstanceNotFoundFault:
                return False
            seen.add(i["DBInstanceStatus"])
            return i["DBInstanceStatus"] == "available" and i
        i2 = wait_until(renamed, 30, 0.05, "rename done")
        assert "available" in seen
        p2 = i2["Endpoint"]["Port"]
        wait_until(lambda: psql(p2, "boss", secret["password"],
                                "SELECT system_identifier FROM pg_control_system()") == sysid, 30, 0.2,
                   "new name's endpoint reaches the server")
        ev = rds.describe_events(SourceType="db-instance", SourceIdentifier="managed-pg2")["Events"]
        msgs = [e["Message"] for e in ev]
        assert "Renamed instance from managed-pg to managed-pg2" in msgs and "DB instance restarted" in msgs
        # after the (scaled) DNS lag the old name's endpoint no longer answers
        wait_until(lambda: psql(port, "boss", secret["password"], "SELECT 1", check=False)[0] != 0, 30, 0.2,
                   "old endpoint released")
    finally:
        sim.admin("POST", "/config", {"time_scale": 0})


def json_loads(s):
    import json
    return json.loads(s)
