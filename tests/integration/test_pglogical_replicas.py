"""Read replicas under pg-logical (issue #6 step 1), on real servers: the
emulator with a real PostgreSQL behind every instance (a read replica is a
real streaming standby), Redis, the local Kafka, real fleetcrypt binaries.

- the emulator's PromoteReadReplica through /usr/bin/aws: the replica
  becomes standalone (modifying → available, no source, its source no
  longer lists it, an event), its server leaves recovery and takes writes;
  promoting a non-replica is InvalidDBInstanceState; a source with a
  replica cannot be stopped, and can once the replica is promoted;
- a pg-logical campaign on a source with one read replica: afterwards the
  identifier of the replica names an encrypted replica (campaign key) of the
  encrypted instance now serving under the source's name, at the same
  endpoint port, holding the source's rows and following new writes; the
  old replica is promoted, stopped and tagged retired-source (not deleted);
  the retired source is stopped.
"""
import pytest

from fclib import wait_until
from fixtures_awssim import AwsCliError, psql
from pglogical_strategy_util import (MASTER, PASSWORD, GROUP, instance_state, logical_group, sql, submit,
                                     wait_terminal)


def _tags(rds, inst):
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=inst["DBInstanceArn"])["TagList"]}


def _make_source(sim, ident, group=None):
    args = ["rds", "create-db-instance", "--db-instance-identifier", ident, "--engine", "postgres",
            "--db-instance-class", "db.t3.micro", "--allocated-storage", "20", "--master-username", MASTER,
            "--master-user-password", PASSWORD, "--no-storage-encrypted", "--db-name", "app",
            "--backup-retention-period", "1", "--tags", "Key=team,Value=pgl"]
    if group:
        args += ["--db-parameter-group-name", group]
    sim.cli(*args)
    return sim.wait_instance(ident, timeout=120)


def test_promote_read_replica_with_awscli(awssim):
    sim = awssim
    src = _make_source(sim, "prom-src")
    psql(src["Endpoint"]["Port"], MASTER, PASSWORD, "CREATE TABLE t(x int); INSERT INTO t VALUES (1),(2),(3)",
         db="app")
    sim.cli("rds", "create-db-instance-read-replica", "--db-instance-identifier", "prom-rr",
            "--source-db-instance-identifier", "prom-src", "--tags", "Key=reader,Value=yes")
    rr = sim.wait_instance("prom-rr", timeout=120)
    assert rr["ReadReplicaSourceDBInstanceIdentifier"] == "prom-src"
    port = rr["Endpoint"]["Port"]
    assert psql(port, MASTER, PASSWORD, "SELECT pg_is_in_recovery()", db="app") == "t"
    with pytest.raises(AwsCliError) as ei:
        sim.cli("rds", "stop-db-instance", "--db-instance-identifier", "prom-src")
    assert "InvalidDBInstanceState" in str(ei.value), str(ei.value)
    with pytest.raises(AwsCliError) as ei:
        sim.cli("rds", "promote-read-replica", "--db-instance-identifier", "prom-src")
    assert "InvalidDBInstanceState" in str(ei.value), str(ei.value)

    out = sim.cli("rds", "promote-read-replica", "--db-instance-identifier", "prom-rr",
                  "--backup-retention-period", "0")["DBInstance"]
    assert out["DBInstanceIdentifier"] == "prom-rr"
    assert out["DBInstanceStatus"] == "modifying", out["DBInstanceStatus"]
    rr = sim.wait_instance("prom-rr", timeout=60)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in rr, rr.get("ReadReplicaSourceDBInstanceIdentifier")
    assert rr["BackupRetentionPeriod"] == 0
    assert sim.instance("prom-src")["ReadReplicaDBInstanceIdentifiers"] == []
    assert psql(port, MASTER, PASSWORD, "SELECT pg_is_in_recovery()", db="app") == "f"
    psql(port, MASTER, PASSWORD, "INSERT INTO t VALUES (4)", db="app")
    assert psql(port, MASTER, PASSWORD, "SELECT sum(x) FROM t", db="app") == "10"
    events = sim.cli("rds", "describe-events", "--source-type", "db-instance", "--source-identifier", "prom-rr",
                     "--duration", "60")["Events"]
    assert any("promoted" in e["Message"].lower() for e in events), [e["Message"] for e in events]
    with pytest.raises(AwsCliError) as ei:
        sim.cli("rds", "promote-read-replica", "--db-instance-identifier", "prom-rr")
    assert "InvalidDBInstanceState" in str(ei.value), str(ei.value)
    # no replica left: the source can be stopped now
    assert sim.cli("rds", "stop-db-instance", "--db-instance-identifier", "prom-src")["DBInstance"][
        "DBInstanceStatus"] == "stopping"
    sim.wait_instance("prom-src", "stopped", timeout=60)


def test_campaign_recreates_read_replica_on_encrypted_instance(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    logical_group(sim)
    ident, rid = "pgl-rr-src", "pgl-rr-reader"
    _make_source(sim, ident, GROUP)
    sql(sim, ident, "CREATE TABLE a(id serial PRIMARY KEY, v text NOT NULL);"
                    "INSERT INTO a(v) SELECT 'row ' || g FROM generate_series(1, 500) g")
    rds.create_db_instance_read_replica(DBInstanceIdentifier=rid, SourceDBInstanceIdentifier=ident,
                                        DBInstanceClass="db.t3.small",
                                        Tags=[{"Key": "reader", "Value": "yes"}])
    before = sim.wait_instance(rid, timeout=120)
    rport = before["Endpoint"]["Port"]
    wait_until(lambda: psql(rport, MASTER, PASSWORD, "SELECT count(*) FROM a", db="app") == "500", 30, 0.2,
               "replica caught up")
    key = stack.make_key()["Arn"]
    stack.start()
    submit(stack, "rrc", key, [ident], world)
    wait_terminal(stack, "rrc", timeout=300)
    inst = instance_state(stack, "rrc", ident)
    assert inst["state"] == "done", f"instance ended {inst}:\n{stack.diagnostics()}"

    # the replica's identifier: an encrypted replica of the encrypted instance, same endpoint
    primary = sim.instance(ident)
    assert primary["StorageEncrypted"] and primary["KmsKeyId"] == key
    new = sim.instance(rid)
    assert new["StorageEncrypted"], f"{rid} is not encrypted: " + stack.cli("logs", "rrc", ident).stdout[-3000:]
    assert new["KmsKeyId"] == key, f"{rid} encrypted with {new.get('KmsKeyId')}, expected {key}"
    assert new["ReadReplicaSourceDBInstanceIdentifier"] == ident, new.get("ReadReplicaSourceDBInstanceIdentifier")
    assert primary["ReadReplicaDBInstanceIdentifiers"] == [rid], primary["ReadReplicaDBInstanceIdentifiers"]
    assert new["DbiResourceId"] != before["DbiResourceId"], "the old replica still serves under its name"
    assert new["DBInstanceClass"] == "db.t3.small", new["DBInstanceClass"]
    assert new["Endpoint"]["Port"] == rport, "the replica's endpoint port changed"
    ntags = _tags(rds, new)
    assert ntags.get("reader") == "yes" and ntags.get("fleetcrypt:role") == "encrypted-replica", ntags
    # its data: the source's rows, and it follows the encrypted primary
    assert psql(rport, MASTER, PASSWORD, "SELECT pg_is_in_recovery()", db="app") == "t"
    assert psql(rport, MASTER, PASSWORD, "SELECT count(*) FROM a", db="app") == "500"
    sql(sim, ident, "INSERT INTO a(v) VALUES ('after the switch')")
    wait_until(lambda: psql(rport, MASTER, PASSWORD, "SELECT count(*) FROM a WHERE v = 'after the switch'",
                            db="app") == "1", 30, 0.2, "new write replicated to the encrypted replica")

    # the old replica: promoted, stopped, tagged retired, not deleted
    every = rds.describe_db_instances()["DBInstances"]
    old = [i for i in every if i["DbiResourceId"] == before["DbiResourceId"]]
    assert len(old) == 1, f"the old replica was deleted: {[i['DBInstanceIdentifier'] for i in every]}"
    old = old[0]
    otags = _tags(rds, old)
    assert otags.get("fleetcrypt:role") == "retired-source", otags
    assert otags.get("fleetcrypt:original-id") == rid and otags.get("fleetcrypt:replica-of") == ident, otags
    assert "ReadReplicaSourceDBInstanceIdentifier" not in old, "the old replica was not promoted"
    assert old["DBInstanceStatus"] == "stopped", old["DBInstanceStatus"]
    assert not old["StorageEncrypted"]

    # the retired source: no replica left, stopped
    retired = [i for i in every if _tags(rds, i).get("fleetcrypt:original-id") == ident]
    assert len(retired) == 1, [i["DBInstanceIdentifier"] for i in retired]
    assert retired[0]["ReadReplicaDBInstanceIdentifiers"] == []
    assert retired[0]["DBInstanceStatus"] in ("stopped", "stopping"), retired[0]["DBInstanceStatus"]
    rec = stack.cli("logs", "rrc", ident)
    assert "replicas" in rec.stdout, rec.stdout[-2000:]

    # fleetcrypt retire takes the old replica with the source: each gets its
    # own final snapshot, then is deleted; the encrypted pair is untouched
    r = stack.cli("retire", "rrc", "--force", "--yes", "--wait-timeout", 120, timeout=180)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert old["DBInstanceIdentifier"] in r.stdout and "former read replica" in r.stdout, r.stdout

    def gone(i):
        try:
            d = rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]
            return d["DBInstanceStatus"] == "deleting"
        except rds.exceptions.DBInstanceNotFoundFault:
            return True

    for was, orig in ((old["DBInstanceIdentifier"], rid), (retired[0]["DBInstanceIdentifier"], ident)):
        assert gone(was), was
        snap = rds.describe_db_snapshots(DBSnapshotIdentifier=f"fc-rrc-{orig}-final")["DBSnapshots"][0]
        assert snap["Status"] == "available" and snap["DBInstanceIdentifier"] == was, snap
    for live in (ident, rid):
        d = sim.instance(live)
        assert d["DBInstanceStatus"] == "available" and d["KmsKeyId"] == key, d
