"""Negative control for dms-cdc: seed 000's procedure (000_aecc65f22f239926.txt)
performed step by step against the emulator with boto3, as its authors did
it on AWS, doubles a row of a keyless table at the boundary; dms-cdc on the
same source with the same kind of writes carries every row exactly once.

Seed 000, as written:
  1. an empty target instance with the real target's identifier (the
     "dummy"; here it carries the same tables), a replication instance,
     endpoints, a CDC-only task (default settings: DMS makes its own slot)
     started, a row replicated to the dummy;
  2. the task stopped; a row inserted ("after stopping the task");
  3. the dummy deleted; a snapshot of the source; the snapshot copied under
     a KMS key and restored with the dummy's identifier; a row inserted
     ("after the snapshot");
  4. the task resumed against the restored instance (its target endpoint
     pointed at it) and a row inserted ("after resuming").
The row inserted between the stop and the snapshot is in the snapshot and
in the slot the task resumes from: the keyed table sends its second insert
to awsdms_apply_exceptions, the keyless one keeps it twice.

Then (slow test) dms-cdc runs on the same source (the seed's task and its
slot deleted first) with a writer committing into the same two tables from
before the submit across the snapshot and the cutover: every acknowledged
number once, the seed's four rows once each. In CI the seed's procedure
alone (test_seed000_procedure_doubles_keyless_row); dms-cdc's exactly-once
across the boundary is test_dmscdc.py's A2.

The restored instance gets the source's parameter group: the snapshot holds
the logical slot DMS made, and PostgreSQL does not start with a logical slot
under wal_level replica.
"""
import collections

import pytest

from fclib import wait_until
from pglogical_strategy_util import (GROUP, MASTER, PASSWORD, Writer, logical_group, make_instances, sql,
                                     wait_terminal)
from test_dmscdc import dms_available, dms_leftovers, submit_dms

SRC, TGT = "s000-src", "s000-tgt"
MAPPING_ALL = ('{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", '
               '"object-locator": {"schema-name": "public", "table-name": "%"}, "rule-action": "include"}]}')
SCHEMA = ("CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
          "CREATE TABLE b(seq bigint NOT NULL);"
          "ALTER TABLE b REPLICA IDENTITY FULL;")


def _ins(sim, ident, seq):
    """One row with number seq in the keyed table a (id = seq) and one in the keyless table b."""
    sql(sim, ident, f"INSERT INTO a(id, seq) VALUES ({seq}, {seq}); INSERT INTO b(seq) VALUES ({seq});")


def _seqs(sim, ident, table):
    return [int(x) for x in sql(sim, ident, f"SELECT seq FROM {table} ORDER BY seq").split()]


def _task(dms, arn):
    return dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn",
                                                    "Values": [arn]}])["ReplicationTasks"][0]


def _wait_task(dms, arn, status, timeout=120):
    def ok():
        t = _task(dms, arn)
        assert t["Status"] != "failed" or status == "failed", t.get("LastFailureMessage")
        return t if t["Status"] == status else None
    return wait_until(ok, timeout, 0.2, f"task {status}")


def _dms_endpoint(dms, ident, kind, port):
    return dms.create_endpoint(EndpointIdentifier=ident, EndpointType=kind, EngineName="postgres",
                               ServerName="127.0.0.1", Port=port, DatabaseName="app", Username=MASTER,
                               Password=PASSWORD)["Endpoint"]["EndpointArn"]


def seed000_procedure(sim, key_arn):
    """Seed 000's steps; returns the rows of a and b on its final target and
    the count of apply exceptions DMS logged for a."""
    rds, dms = sim.client("rds"), sim.client("dms")
    port = lambda i: sim.instance(i, rds)["Endpoint"]["Port"]  # noqa: E731
    # 1. the dummy target (same identifier as the real target will have), DMS, a CDC-only task started
    rds.create_db_instance(DBInstanceIdentifier=TGT, Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername=MASTER, MasterUserPassword=PASSWORD, DBName="app",
                           BackupRetentionPeriod=0, StorageEncrypted=False)
    sim.wait_instance(TGT, "available", timeout=120, rds=rds)
    sql(sim, TGT, SCHEMA)
    ri = dms.create_replication_instance(ReplicationInstanceIdentifier="s000-ri",
                                         ReplicationInstanceClass="dms.t3.medium",
                                         AllocatedStorage=50)["ReplicationInstance"]["ReplicationInstanceArn"]
    wait_until(lambda: dms.describe_replication_instances(Filters=[{
        "Name": "replication-instance-arn", "Values": [ri]}])["ReplicationInstances"][0]
        ["ReplicationInstanceStatus"] == "available", 120, 0.2, "replication instance available")
    src_ep = _dms_endpoint(dms, "s000-src-ep", "source", port(SRC))
    tgt_ep = _dms_endpoint(dms, "s000-tgt-ep", "target", port(TGT))
    arn = dms.create_replication_task(ReplicationTaskIdentifier="s000-cdc-only", SourceEndpointArn=src_ep,
                                      TargetEndpointArn=tgt_ep, ReplicationInstanceArn=ri, MigrationType="cdc",
                                      TableMappings=MAPPING_ALL)["ReplicationTask"]["ReplicationTaskArn"]
    _wait_task(dms, arn, "ready")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    _wait_task(dms, arn, "running")
    _ins(sim, SRC, 1)                                   # "Verify replication to the dummy"
    wait_until(lambda: _seqs(sim, TGT, "b") == [1], 60, 0.2, "row 1 replicated to the dummy")
    # 2. the task stopped; a row after the stop
    dms.stop_replication_task(ReplicationTaskArn=arn)
    _wait_task(dms, arn, "stopped")
    _ins(sim, SRC, 2)                                   # "After stopping the AWS DMS task"
    # 3. the dummy deleted; snapshot, encrypted copy, restore under the dummy's identifier
    rds.delete_db_instance(DBInstanceIdentifier=TGT, SkipFinalSnapshot=True)
    sim.wait_gone(TGT, timeout=120, rds=rds)
    rds.create_db_snapshot(DBSnapshotIdentifier="s000-snap", DBInstanceIdentifier=SRC)
    sim.wait_snapshot("s000-snap", "available", timeout=120, rds=rds)
    _ins(sim, SRC, 3)                                   # "After taking the snapshot"
    rds.copy_db_snapshot(SourceDBSnapshotIdentifier="s000-snap", TargetDBSnapshotIdentifier="s000-snap-enc",
                         KmsKeyId=key_arn)
    sim.wait_snapshot("s000-snap-enc", "available", timeout=120, rds=rds)
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=TGT, DBSnapshotIdentifier="s000-snap-enc",
                                             DBInstanceClass="db.t3.micro",
                                             # the source's group: the snapshot holds DMS's logical slot, which
                                             # a server with wal_level below logical refuses to start with
                                             DBParameterGroupName=GROUP)
    sim.wait_instance(TGT, "available", timeout=120, rds=rds)
    # 4. the task pointed at the restored instance (its address, if it moved) and resumed
    if port(TGT) != dms.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [tgt_ep]}])[
            "Endpoints"][0]["Port"]:
        dms.modify_endpoint(EndpointArn=tgt_ep, Port=port(TGT))
        wait_until(lambda: dms.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [tgt_ep]}])[
            "Endpoints"][0]["Port"] == port(TGT), 30, 0.2, "target endpoint moved")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    _wait_task(dms, arn, "running")
    _ins(sim, SRC, 4)                                   # "After resuming the AWS DMS task"
    wait_until(lambda: 4 in _seqs(sim, TGT, "b"), 60, 0.2, "row 4 replicated to the restored target")
    got = {"a": _seqs(sim, TGT, "a"), "b": _seqs(sim, TGT, "b")}
    exc = int(sql(sim, TGT, "SELECT count(*) FROM awsdms_apply_exceptions WHERE \"TABLE_NAME\" = 'a'").strip())
    # the seed's cleanup: the task (and the slot DMS made for it), endpoints, replication instance
    dms.stop_replication_task(ReplicationTaskArn=arn)
    _wait_task(dms, arn, "stopped")
    dms.delete_replication_task(ReplicationTaskArn=arn)
    wait_until(lambda: not [t for t in dms.describe_replication_tasks()["ReplicationTasks"]
                            if t["ReplicationTaskArn"] == arn], 60, 0.2, "seed task deleted")
    for ep in (src_ep, tgt_ep):
        dms.delete_endpoint(EndpointArn=ep)
    dms.delete_replication_instance(ReplicationInstanceArn=ri)
    return got, exc


def _source(sim):
    assert dms_available(sim), "the emulator has no DMS"
    logical_group(sim)
    make_instances(sim, [SRC])
    sql(sim, SRC, SCHEMA + "CREATE SEQUENCE wseq START 1000;")


def _seed000_doubles(sim, key):
    got, exc = seed000_procedure(sim, key)
    assert got["a"] == [1, 2, 3, 4], got          # keyed: the second insert of 2 was refused ...
    assert exc == 1, f"apply exceptions for a: {exc}"      # ... and logged by DMS
    assert collections.Counter(got["b"]) == collections.Counter([1, 2, 2, 3, 4]), \
        f"seed 000 did not double the keyless row at the boundary: {got['b']}"
    assert sql(sim, SRC, "SELECT count(*) FROM pg_replication_slots").strip() == "0", "the seed's slot is left"


def test_seed000_procedure_doubles_keyless_row(awssim):
    """CI: the negative control alone (the emulator and boto3, no fleetcrypt)."""
    sim = awssim
    _source(sim)
    _seed000_doubles(sim, sim.client("kms").create_key(Description="seed 000")["KeyMetadata"]["Arn"])


@pytest.mark.slow
def test_seed000_doubles_keyless_row_dms_cdc_does_not(stack, awssim, world):
    sim = awssim
    _source(sim)
    key = stack.make_key()["Arn"]
    # seed 000: the row inserted between the task's stop and the snapshot is applied twice
    _seed000_doubles(sim, key)

    # dms-cdc on the same source, writes from before the submit across snapshot and cutover
    stack.start()
    w = Writer(sim, SRC, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    submit_dms(stack, "dms000", key, [SRC], world, "--read-only-tables", "public.b")
    st = wait_terminal(stack, "dms000", timeout=420)
    mark = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= mark + 20, 60, 0.1, "writes after the switch")
    w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    a, b = _seqs(sim, SRC, "a"), _seqs(sim, SRC, "b")
    acked = w.numbers()
    assert len(acked) > 40, f"the writer acknowledged only {len(acked)} rows"
    # the seed's rows once each, every acknowledged number once (a and b alternate)
    assert [x for x in a if x < 1000] == [1, 2, 3, 4] and [x for x in b if x < 1000] == [1, 2, 3, 4], (a, b)
    target = [x for x in a + b if x >= 1000]
    missing = sorted(set(acked) - set(target))
    doubled = len(target) - len(set(target))
    assert not missing and doubled == 0, f"dms-cdc: missing {missing[:10]} doubled {doubled}"
    assert stack.redis.cli("HGET", "fc:{dms000}:i:" + SRC, "f.apply_exceptions").strip() == "0"
    assert dms_leftovers(sim, "dms000") == []
