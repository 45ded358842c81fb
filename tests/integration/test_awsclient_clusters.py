"""The C client's Aurora cluster calls (lib/aws/rds_clusters.c, through
build/tests/fc_aws_call) against awssim's clusters.

A cluster parameter group (rds.logical_replication=1), a cluster and its
writer are made with awscli; the reader, everything else with fc_aws_call:
describe (members with roles and tiers, both endpoints, encryption type,
filters, every page), members' cluster/tier/encryption type, a cluster
parameter's value, the cluster quotas, snapshot, copy with a key (refused
for an unencrypted snapshot and for one under an AWS owned key, works for a
KMS-encrypted one), restore with a key (no instances; a writer added),
rename both ways (each name keeps its endpoint port), a rename whose answer
was lost (carried out, answered 500: the retry meets it), a rename left pending,
stop/start, delete with members (refused) and with a final snapshot, the
error families (not found, already exists, invalid state)."""
import json
import os
import time

import pytest

from awsclient_util import DRIVER, call, clean_env, ok
from fclib import wait_until
from fixtures_awssim import ACCESS_KEY, SECRET_KEY

PW = "s3cret-Passw0rd"
SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE", "0") or 0)


@pytest.fixture(autouse=True)
def driver_built():
    assert os.path.exists(DRIVER), f"{DRIVER} not built"


def env_of(sim, world):
    return clean_env(world, AWS_ENDPOINT_URL=sim.endpoint, AWS_REGION="us-east-1",
                     AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)


def wait_for(env, action, ident, status, timeout=180):
    def ready():
        r = call(env, action, f"id={ident}")
        assert not (r["ok"] and r["result"]["status"] == "failed"), r["result"]
        return r["ok"] and r["result"]["status"] == status and r["result"]
    return wait_until(ready, timeout, 0.2, f"{ident} {status}")


def wait_gone(env, action, ident, timeout=180):
    def gone():
        r = call(env, action, f"id={ident}")
        return not r["ok"] and r["error"]["kind"] == "not_found"
    wait_until(gone, timeout, 0.2, f"{ident} gone")


def err(out):
    assert not out["ok"], out["result"]
    return out["error"]


def lost_rename(sim, env, frm, to):
    """Rename cluster frm to `to` with every other ModifyDBCluster carried
    out and answered 500 (emulator faults "alternate": "lost", the first one
    refused): the C client's retry meets its own rename."""
    wait_for(env, "describe_db_cluster", frm, "available")
    since = time.time()
    sim.admin("POST", "/config", {"faults": {"alternate": {"ModifyDBCluster": "lost"}}})
    try:
        r = call(env, "modify_db_cluster", f"id={frm}", f"new_id={to}", "apply_immediately=true")
    finally:
        sim.admin("POST", "/config", {"faults": {"alternate": {}}})
    tries = [(c.get("error") or "ok") for c in sim.admin("GET", f"/calls?since={since}&action=ModifyDBCluster")["calls"]]
    assert tries[:1] == ["InternalFailure"] and len(tries) == 2, f"expected a lost answer, then a retry; got {tries}"
    if r["ok"] or SCALE == 0:
        assert ok(r)["identifier"] == to, r
    else:
        assert r["error"]["code"] == "InvalidDBClusterStateFault", r
    wait_for(env, "describe_db_cluster", to, "available")
    assert err(call(env, "describe_db_cluster", f"id={frm}"))["kind"] == "not_found"


def test_cluster_calls(awssim, world):
    sim = awssim
    env = env_of(sim, world)
    # ---- set-up with awscli: cluster parameter group, cluster, writer
    sim.cli("rds", "create-db-cluster-parameter-group", "--db-cluster-parameter-group-name", "aur-logical",
            "--db-parameter-group-family", "aurora-postgresql15", "--description", "logical replication")
    sim.cli("rds", "modify-db-cluster-parameter-group", "--db-cluster-parameter-group-name", "aur-logical",
            "--parameters", "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot")
    sim.cli("rds", "create-db-cluster", "--db-cluster-identifier", "orders", "--engine", "aurora-postgresql",
            "--master-username", "app", "--master-user-password", PW, "--database-name", "shop",
            "--db-cluster-parameter-group-name", "aur-logical", "--tags", "Key=team,Value=db")
    wait_for(env, "describe_db_cluster", "orders", "available")
    sim.cli("rds", "create-db-instance", "--db-instance-identifier", "orders-0", "--db-cluster-identifier", "orders",
            "--engine", "aurora-postgresql", "--db-instance-class", "db.r6g.large", "--promotion-tier", "1")
    # the reader through CreateDBInstance with DBClusterIdentifier (class, tier, tags)
    r = ok(call(env, "create_db_instance", "id=orders-1", "cluster_id=orders", "class=db.r6g.large",
                "promotion_tier=2", "tags=role:reader"))
    assert r["cluster_id"] == "orders" and r["promotion_tier"] == 2
    for i in ("orders-0", "orders-1"):
        wait_for(env, "describe_db_instance", i, "available")

    # ---- describe: members, endpoints, encryption type, parameter group
    c = ok(call(env, "describe_db_cluster", "id=orders"))
    assert c["status"] == "available" and c["engine"] == "aurora-postgresql" and c["engine_version"]
    # the cluster endpoint is the cluster's own address (a CNAME can tell clusters apart)
    assert c["endpoint"].startswith("127.1.0.") and c["reader_endpoint"] == "127.0.0.2" and c["port"] > 0
    assert c["writer"] == "orders-0"
    tiers = {m["instance_id"]: (m["is_writer"], m["promotion_tier"]) for m in c["members"]}
    assert tiers == {"orders-0": (True, 1), "orders-1": (False, 2)}
    # created after 2026-02-18 without encryption options: an AWS owned key, no KmsKeyId
    assert c["storage_encrypted"] is True and c["storage_encryption_type"] == "sse-rds" and c["kms_key_id"] == ""
    assert c["param_group"] == "aur-logical" and c["master_username"] == "app" and c["db_name"] == "shop"
    assert c["tags"] == {"team": "db"} and c["arn"].endswith(":cluster:orders") and c["resource_id"]
    assert c["subnet_group"] and c["vpc_security_group_ids"] and c["backup_retention"] >= 1
    assert c["deletion_protection"] is False and c["pending_identifier"] == ""
    orders_port = c["port"]
    reader = ok(call(env, "describe_db_instance", "id=orders-1"))
    assert (reader["cluster_id"], reader["promotion_tier"], reader["storage_encryption_type"]) == \
        ("orders", 2, "sse-rds")
    assert reader["tags"] == {"role": "reader"}
    members = ok(call(env, "describe_db_instances", "filter_name=db-cluster-id", "filter_values=orders"))
    assert sorted(i["identifier"] for i in members["instances"]) == ["orders-0", "orders-1"]
    p = ok(call(env, "describe_db_cluster_parameters", "name=aur-logical", "param=rds.logical_replication"))
    assert (p["value"], p["source"]) == ("1", "user") and p["count"] > 1
    q = ok(call(env, "describe_account_attributes"))["quotas"]
    assert q["DBClusters"]["used"] == 1 and q["DBClusters"]["max"] > 0
    assert q["ManualClusterSnapshots"]["used"] == 0 and q["ManualClusterSnapshots"]["max"] > 0

    # ---- a pre-2026 (unencrypted) metadata-only cluster through CreateDBCluster
    legacy = ok(call(env, "create_db_cluster", "id=legacy", "master_username=app", f"master_password={PW}",
                     "tags=fleetcrypt-sim:create-time:2025-06-01,fleetcrypt-sim:metadata-only:true"))
    assert legacy["identifier"] == "legacy" and legacy["status"] == "creating" and legacy["members"] == []
    legacy = wait_for(env, "describe_db_cluster", "legacy", "available")
    assert legacy["storage_encrypted"] is False and legacy["storage_encryption_type"] == "none"
    assert legacy["writer"] is None

    # every page, filters
    allc = ok(call(env, "describe_db_clusters"))
    assert sorted(x["identifier"] for x in allc["clusters"]) == ["legacy", "orders"] and allc["marker"] == ""
    each = ok(call(env, "describe_db_clusters", "filter_name=engine", "filter_values=aurora-postgresql",
                   "max_records=20", "each=1"))
    assert each["pages"] == 1 and sorted(each["identifiers"]) == ["legacy", "orders"]
    one = ok(call(env, "describe_db_clusters", "filter_name=db-cluster-id", "filter_values=legacy"))
    assert [x["identifier"] for x in one["clusters"]] == ["legacy"]

    # ---- errors: not found, invalid state, already exists
    assert err(call(env, "describe_db_cluster", "id=nope"))["kind"] == "not_found"
    assert err(call(env, "describe_db_cluster_snapshot", "id=nope"))["kind"] == "not_found"
    assert err(call(env, "describe_db_cluster_parameters", "name=nope"))["kind"] == "not_found"
    e = err(call(env, "delete_db_cluster", "id=orders"))      # members remain
    assert e["code"] == "InvalidDBClusterStateFault" and e["invalid_state"] and e["kind"] == "permanent"
    dup = err(call(env, "create_db_cluster", "id=orders", "master_username=app", f"master_password={PW}"))
    assert dup["code"] == "DBClusterAlreadyExistsFault" and dup["already_exists"] and not dup["invalid_state"]

    # ---- snapshot
    s = ok(call(env, "create_db_cluster_snapshot", "id=orders-snap", "cluster_id=orders", "tags=k:v"))
    assert s["cluster_id"] == "orders" and s["status"] == "creating"
    s = wait_for(env, "describe_db_cluster_snapshot", "orders-snap", "available")
    assert s["percent_progress"] == 100 and s["encrypted"] is True and s["storage_encryption_type"] == "sse-rds"
    assert s["kms_key_id"] == "" and s["snapshot_type"] == "manual" and s["tags"] == {"k": "v"}
    assert s["engine"] == "aurora-postgresql" and s["master_username"] == "app"
    wait_for(env, "describe_db_cluster", "orders", "available")
    again = err(call(env, "create_db_cluster_snapshot", "id=orders-snap", "cluster_id=orders"))
    assert again["already_exists"], again
    snaps = ok(call(env, "describe_db_cluster_snapshots", "cluster_id=orders"))
    assert [x["id"] for x in snaps["snapshots"]] == ["orders-snap"]
    ok(call(env, "create_db_cluster_snapshot", "id=legacy-snap", "cluster_id=legacy"))
    ls = wait_for(env, "describe_db_cluster_snapshot", "legacy-snap", "available")
    assert ls["encrypted"] is False and ls["storage_encryption_type"] == "none"
    each = ok(call(env, "describe_db_cluster_snapshots", "snapshot_type=manual", "each=1"))
    assert sorted(each["identifiers"]) == ["legacy-snap", "orders-snap"]

    # ---- copy with a key: refused unencrypted and under an AWS owned key
    key = ok(call(env, "kms_create_key", "description=campaign"))
    key2 = ok(call(env, "kms_create_key", "description=campaign 2"))
    for src in ("legacy-snap", "orders-snap"):
        e = err(call(env, "copy_db_cluster_snapshot", f"source_id={src}", f"target_id={src}-k",
                     f"kms_key_id={key['arn']}"))
        assert e["code"] == "InvalidParameterValue" and e["kind"] == "permanent"
        assert err(call(env, "describe_db_cluster_snapshot", f"id={src}-k"))["kind"] == "not_found"

    # ---- restore with a key: encrypted with it whatever the snapshot's; no instances
    rc = ok(call(env, "restore_db_cluster_from_snapshot", "id=orders-enc", "snapshot_id=orders-snap",
                 f"kms_key_id={key['arn']}", "param_group=aur-logical", "port=5432",
                 "deletion_protection=false", "tags=fleetcrypt:campaign:c1,team:db"))
    assert rc["identifier"] == "orders-enc" and rc["members"] == []
    rc = wait_for(env, "describe_db_cluster", "orders-enc", "available")
    assert rc["storage_encryption_type"] == "sse-kms" and rc["kms_key_id"] == key["arn"]
    assert rc["param_group"] == "aur-logical" and rc["deletion_protection"] is False
    assert rc["tags"] == {"fleetcrypt:campaign": "c1", "team": "db"} and rc["members"] == []
    ok(call(env, "create_db_instance", "id=orders-enc-0", "cluster_id=orders-enc", "class=db.r6g.large",
            "promotion_tier=1"))
    w = wait_for(env, "describe_db_instance", "orders-enc-0", "available")
    assert w["cluster_id"] == "orders-enc" and w["storage_encryption_type"] == "sse-kms"
    assert w["kms_key_id"] == key["arn"]
    assert ok(call(env, "describe_db_cluster", "id=orders-enc"))["writer"] == "orders-enc-0"

    # ---- copy a KMS-encrypted snapshot with another key: the re-key path
    ok(call(env, "create_db_cluster_snapshot", "id=enc-snap", "cluster_id=orders-enc"))
    es = wait_for(env, "describe_db_cluster_snapshot", "enc-snap", "available")
    assert es["storage_encryption_type"] == "sse-kms" and es["kms_key_id"] == key["arn"]
    cp = ok(call(env, "copy_db_cluster_snapshot", "source_id=enc-snap", "target_id=enc-snap-k2",
                 f"kms_key_id={key2['arn']}", "copy_tags=true", "tags=copy:1"))
    assert cp["id"] == "enc-snap-k2" and cp["source_arn"].endswith(":cluster-snapshot:enc-snap")
    cp = wait_for(env, "describe_db_cluster_snapshot", "enc-snap-k2", "available")
    assert (cp["encrypted"], cp["kms_key_id"], cp["storage_encryption_type"]) == (True, key2["arn"], "sse-kms")
    assert cp["tags"] == {"copy": "1"}

    # ---- rename both ways: the name keeps its endpoint port, members keep their names
    wait_for(env, "describe_db_cluster", "orders", "available")
    enc_port = ok(call(env, "describe_db_cluster", "id=orders-enc"))["port"]
    old = ok(call(env, "modify_db_cluster", "id=orders", "new_id=orders-old", "apply_immediately=true"))
    assert old["identifier"] in ("orders", "orders-old")
    wait_for(env, "describe_db_cluster", "orders-old", "available")
    ok(call(env, "modify_db_cluster", "id=orders-enc", "new_id=orders", "apply_immediately=true"))
    swapped = wait_for(env, "describe_db_cluster", "orders", "available")
    assert swapped["resource_id"] == rc["resource_id"] and swapped["port"] == orders_port
    assert swapped["writer"] == "orders-enc-0"
    assert ok(call(env, "describe_db_instance", "id=orders-enc-0"))["cluster_id"] == "orders"
    assert err(call(env, "describe_db_cluster", "id=orders-enc"))["kind"] == "not_found"
    # and back
    ok(call(env, "modify_db_cluster", "id=orders", "new_id=orders-enc", "apply_immediately=true"))
    back = wait_for(env, "describe_db_cluster", "orders-enc", "available")
    assert back["port"] == enc_port
    ok(call(env, "modify_db_cluster", "id=orders-old", "new_id=orders", "apply_immediately=true"))
    back = wait_for(env, "describe_db_cluster", "orders", "available")
    assert back["resource_id"] == c["resource_id"] and back["port"] == orders_port and back["writer"] == "orders-0"

    # ---- a rename carried out but answered 500 (a lost answer): the retry finds
    # the old name gone; done, since the new name is there (rds_rename_carried_out).
    # At time scale > 0 the emulator renames in the background and the retry
    # meets the rename in progress (InvalidDBClusterStateFault): the caller waits
    lost_rename(sim, env, "legacy", "legacy-r")
    lost_rename(sim, env, "legacy-r", "legacy")

    # ---- an RDS Proxy with the cluster as its target (pg-logical's proxy switch: docs/clusters.md)
    sim.cli("rds", "create-db-proxy", "--db-proxy-name", "orders-px", "--engine-family", "POSTGRESQL",
            "--auth", "AuthScheme=SECRETS,SecretArn=arn:aws:secretsmanager:us-east-1:000000000000:secret:x",
            "--role-arn", "arn:aws:iam::000000000000:role/proxy", "--vpc-subnet-ids", "subnet-1", "subnet-2")
    wait_until(lambda: sim.cli("rds", "describe-db-proxies", "--db-proxy-name", "orders-px")["DBProxies"][0]
               ["Status"] == "available", 60, 0.1, "proxy")
    ok(call(env, "register_db_proxy_cluster", "name=orders-px", "cluster_id=orders"))

    def px_targets():
        return {(t["type"], t["rds_resource_id"], t["tracked_cluster_id"], t["role"], t["health_state"])
                for t in ok(call(env, "describe_db_proxy_targets", "name=orders-px"))["targets"]}
    wait_until(lambda: ("RDS_INSTANCE", "orders-0", "orders", "READ_WRITE", "AVAILABLE") in px_targets(), 60, 0.1,
               "the cluster's writer registered")
    assert ("TRACKED_CLUSTER", "orders", "orders", "", "") in px_targets(), px_targets()
    assert err(call(env, "register_db_proxy_cluster", "name=orders-px", "cluster_id=legacy"))["code"] == \
        "DBProxyTargetAlreadyRegisteredFault"
    ok(call(env, "deregister_db_proxy_cluster", "name=orders-px", "cluster_id=orders"))
    assert px_targets() == set()
    sim.cli("rds", "delete-db-proxy", "--db-proxy-name", "orders-px")

    # ---- modify: retention and parameter group; a rename without ApplyImmediately waits
    m = ok(call(env, "modify_db_cluster", "id=orders-enc", "backup_retention=5", "apply_immediately=true"))
    assert m["backup_retention"] == 5
    pend = ok(call(env, "modify_db_cluster", "id=legacy", "new_id=legacy2"))
    assert pend["identifier"] == "legacy" and pend["pending_identifier"] == "legacy2"
    assert ok(call(env, "describe_db_cluster", "id=legacy"))["pending_identifier"] == "legacy2"

    # ---- stop / start
    st = ok(call(env, "stop_db_cluster", "id=legacy"))
    assert st["status"] == "stopping"
    wait_for(env, "describe_db_cluster", "legacy", "stopped")
    assert err(call(env, "stop_db_cluster", "id=legacy"))["invalid_state"]
    ok(call(env, "start_db_cluster", "id=legacy"))
    wait_for(env, "describe_db_cluster", "legacy", "available")

    # ---- delete: snapshots, members then clusters (one with a final snapshot)
    for sid in ("enc-snap", "enc-snap-k2", "legacy-snap"):
        d = ok(call(env, "delete_db_cluster_snapshot", f"id={sid}"))
        assert d["id"] == sid
        wait_gone(env, "describe_db_cluster_snapshot", sid)
    assert err(call(env, "delete_db_cluster_snapshot", "id=enc-snap"))["kind"] == "not_found"
    ok(call(env, "delete_db_instance", "id=orders-enc-0"))
    wait_gone(env, "describe_db_instance", "orders-enc-0")
    d = ok(call(env, "delete_db_cluster", "id=orders-enc"))
    assert d["status"] == "deleting"
    wait_gone(env, "describe_db_cluster", "orders-enc")
    ok(call(env, "delete_db_cluster", "id=legacy", "final_snapshot_id=legacy-final"))
    wait_gone(env, "describe_db_cluster", "legacy")
    fin = wait_for(env, "describe_db_cluster_snapshot", "legacy-final", "available")
    assert fin["cluster_id"] == "legacy"
    assert err(call(env, "delete_db_cluster", "id=legacy"))["kind"] == "not_found"
    assert json.dumps(ok(call(env, "describe_db_clusters", "filter_name=db-cluster-id",
                              "filter_values=legacy"))["clusters"]) == "[]"
