"""Strategy dms-cdc end to end on real servers (Redis, local Kafka, the AWS
emulator with a real PostgreSQL behind every instance and its DMS — a
change-data-capture engine reading the source's slot and applying to the
target — real fleetcrypt binaries), emulator time scale 0.

- A2 through DMS: a campaign of two instances, each with a writer
  committing single-row INSERTs into a keyed table (a) and a keyless one
  (b: REPLICA IDENTITY FULL and declared read-only with --read-only-tables,
  so DMS carries its INSERTs) from before submit, across the snapshot and
  the cutover: every acknowledged number is on the serving instance exactly
  once, the frozen (retired) source holds nothing the target lacks; the
  identifier is encrypted with the campaign key, the source retired and
  stopped; nothing of DMS left (tasks, endpoints, the campaign's replication
  instance), no slot or fleetcrypt object left on the target.
- preflight refuses a keyless table not declared read-only, naming it, and
  leaves the source untouched (no slot made).

Needs the emulator's DMS (tools/awssim/sim/dms*.py, branch h-dmsemu).
"""
import collections

import pytest

from fclib import wait_until
from pglogical_strategy_util import (Writer, aws_leftovers, endpoint, fleetcrypt_leftovers,
                                     frozen_rows, logical_group, make_instances, secret_file, sql, wait_terminal)


def dms_available(sim):
    try:
        sim.client("dms").describe_replication_instances()
        return True
    except Exception:  # noqa: BLE001 - an emulator without DMS answers with an unknown-target error
        return False


def schema(sim, ident):
    sql(sim, ident, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                    "CREATE TABLE b(seq bigint NOT NULL);"
                    "ALTER TABLE b REPLICA IDENTITY FULL;"
                    "CREATE SEQUENCE wseq;")


def submit_dms(stack, campaign, key_arn, ids, world, *extra):
    args = ["submit", "--campaign", campaign, "--kms-key", key_arn, "--strategy", "dms-cdc",
            "--db-secret", "file:" + secret_file(world), "--yes", "--max-parallel", "4"] + list(extra) + list(ids)
    r = stack.cli(*args)
    assert r.returncode == 0, f"submit failed ({r.returncode}): {r.stderr}"
    return r


def dms_leftovers(sim, campaign):
    """Every DMS resource whose identifier names the campaign."""
    dms = sim.client("dms")
    left = []
    for t in dms.describe_replication_tasks().get("ReplicationTasks", []):
        if campaign in t["ReplicationTaskIdentifier"]:
            left.append("task:" + t["ReplicationTaskIdentifier"] + ":" + t["Status"])
    for e in dms.describe_endpoints().get("Endpoints", []):
        if campaign in e["EndpointIdentifier"]:
            left.append("endpoint:" + e["EndpointIdentifier"])
    for r in dms.describe_replication_instances().get("ReplicationInstances", []):
        if campaign in r["ReplicationInstanceIdentifier"] and r["ReplicationInstanceStatus"] != "deleting":
            left.append("instance:" + r["ReplicationInstanceIdentifier"])
    return left


def retired_id(sim, ident):
    rds = sim.client("rds")
    for i in rds.describe_db_instances()["DBInstances"]:
        tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=i["DBInstanceArn"])["TagList"]}
        if tags.get("fleetcrypt:role") == "retired-source" and tags.get("fleetcrypt:original-id") == ident:
            return i
    return None


def test_dms_cdc_exactly_once_two_instances(stack, awssim, world):
    sim = awssim
    if not dms_available(sim):
        pytest.fail("the emulator has no DMS (merge h-dmsemu): dms-cdc cannot run")
    logical_group(sim)
    ids = ["dms-a2-1", "dms-a2-2"]
    make_instances(sim, ids)
    ports = {}
    for i in ids:
        schema(sim, i)
        ports[i] = endpoint(sim, i)
    key = stack.make_key()["Arn"]
    stack.start()
    writers = {i: Writer(sim, i, rate=40).start() for i in ids}
    wait_until(lambda: all(len(w.numbers()) >= 20 for w in writers.values()), 60, 0.1, "writes before submit")
    submit_dms(stack, "dmsa2", key, ids, world, "--read-only-tables", "public.b")
    st = wait_terminal(stack, "dmsa2", timeout=420)
    # writes after the switch land on the target: wait for some, not a time
    marks = {i: len(w.numbers()) for i, w in writers.items()}
    for i, w in writers.items():
        wait_until(lambda w=w, i=i: len(w.numbers()) >= marks[i] + 20, 60, 0.1, f"writes after the switch ({i})")
        w.stop()
    for inst in st["instances"]:
        assert inst["state"] == "done", f"instance ended {inst}:\n{stack.diagnostics()}"
    rds = sim.client("rds")
    for i in ids:
        # A2: every acknowledged number once on the serving instance
        tgt_a = [int(x) for x in sql(sim, i, "SELECT seq FROM a ORDER BY seq").split()]
        tgt_b = [int(x) for x in sql(sim, i, "SELECT seq FROM b ORDER BY seq").split()]
        target = tgt_a + tgt_b
        acked = writers[i].numbers()
        assert len(acked) > 60, f"{i}: the writer acknowledged only {len(acked)} rows"
        missing = sorted(set(acked) - set(target))
        doubled = len(target) - len(set(target))
        assert not missing and doubled == 0, f"{i}: missing {missing[:10]} doubled {doubled}"
        # the identifier is the encrypted instance, same port
        inst = sim.instance(i, rds)
        assert inst["StorageEncrypted"] and inst["KmsKeyId"] == key, inst
        assert inst["Endpoint"]["Port"] == ports[i]
        # the source retired: stopped and tagged; it holds nothing the target lacks
        ret = retired_id(sim, i)
        assert ret is not None, f"{i}: no retired source"
        assert ret["DBInstanceStatus"] in ("stopped", "stopping"), ret["DBInstanceStatus"]
        src_a = [int(r[0]) for r in frozen_rows(sim, ret["DBInstanceIdentifier"], "SELECT seq FROM a")]
        src_b = [int(r[0]) for r in frozen_rows(sim, ret["DBInstanceIdentifier"], "SELECT seq FROM b")]
        assert len(src_a) > 20, f"{i}: the retired source holds only {len(src_a)} rows of a"
        assert not set(src_a) - set(tgt_a), f"{i}: the target lacks rows of a"
        assert not (collections.Counter(src_b) - collections.Counter(tgt_b)), f"{i}: the target lacks rows of b"
        # sequences set on the target at the cutover: a new insert does not collide
        nxt = int(sql(sim, i, "SELECT nextval('wseq')").strip())
        assert nxt > max(target), f"{i}: wseq {nxt} not past {max(target)}"
        assert fleetcrypt_leftovers(sim, i) == [], f"{i}: fleetcrypt objects left on the target"
        # DMS's own evidence: it applied inserts into a, and logged no apply exception
        stats = stack.redis.cli("HGET", f"fc:{{dmsa2}}:i:{i}", "f.dms_table_stats")
        rows = {ln.split("\t")[0]: ln.split("\t") for ln in stats.splitlines() if ln}
        assert "app/public.a" in rows and int(rows["app/public.a"][1]) > 0, stats
        assert stack.redis.cli("HGET", f"fc:{{dmsa2}}:i:{i}", "f.apply_exceptions").strip() == "0"
    # nothing of fleetcrypt's left in RDS but the retired sources, nothing in DMS
    left = [x for x in aws_leftovers(sim, "dmsa2") if not x.startswith("db:") or "retired" not in x]
    assert left == [], f"intermediate AWS resources left: {left}"
    assert dms_leftovers(sim, "dmsa2") == [], f"DMS resources left: {dms_leftovers(sim, 'dmsa2')}"


def test_dms_cdc_preflight_refuses_keyless_table(stack, awssim, world):
    """No DMS call is made before preflight passes: runs on an emulator without DMS too."""
    sim = awssim
    logical_group(sim)
    ident = "dms-keyless"
    make_instances(sim, [ident])
    sql(sim, ident, "CREATE TABLE k(id int PRIMARY KEY, v text);"
                    "CREATE TABLE nokey_events(v text);"
                    "ALTER TABLE nokey_events REPLICA IDENTITY FULL;")
    key = stack.make_key()["Arn"]
    stack.start()
    submit_dms(stack, "dmskl", key, [ident], world)
    st = wait_terminal(stack, "dmskl", timeout=180)
    inst = st["instances"][0]
    assert inst["state"] == "failed", inst
    assert inst["step"] == "preflight", inst
    assert "nokey_events" in (inst.get("error") or ""), inst
    assert "read-only-tables" in inst["error"], inst
    # the source untouched: no slot, no fleetcrypt object, nothing in DMS
    assert fleetcrypt_leftovers(sim, ident) == [], "preflight left objects on the source"
    if dms_available(sim):
        assert dms_leftovers(sim, "dmskl") == []
    assert sql(sim, ident, "SELECT count(*) FROM pg_replication_slots").strip() == "0"
