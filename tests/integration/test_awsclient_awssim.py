"""Every typed call of the C AWS client (through build/tests/fc_aws_call)
against the project's emulator, awssim (SigV4 checked with botocore):
RDS instance/snapshot/parameter/log/event/tag/quota/proxy calls, KMS, STS
(incl. a session token from AssumeRole) and Secrets Manager; fault injection
through the admin API shows bounded retries.
Uses the `awssim` fixture when fixtures_awssim.py provides it, else starts
tools/awssim/awssim itself from its ready-file contract."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from awsclient_util import DRIVER, call, clean_env, ok
from fclib import REPO, Proc, make_world_dir, wait_until

SIM = os.path.join(REPO, "tools", "awssim", "awssim")


@pytest.fixture(autouse=True)
def driver_built():
    assert os.path.exists(DRIVER), f"{DRIVER} not built"


@pytest.fixture
def sim(request):
    try:
        s = request.getfixturevalue("awssim")
        info = s if isinstance(s, dict) else getattr(s, "info", None) or vars(s)
        yield info
        return
    except pytest.FixtureLookupError:
        pass
    home = make_world_dir("fc-awssim-")
    ready = os.path.join(home, "ready.json")
    p = Proc([SIM, "--home", home, "--port", "0", "--admin-port", "0", "--ready-file", ready,
              "--time-scale", "0"], os.path.join(home, "awssim.log"))
    try:
        wait_until(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 60,
                   what="awssim ready file")
        with open(ready) as f:
            yield json.load(f)
    finally:
        p.stop()
        subprocess.run(["rm", "-rf", home])


def admin(info, method, path, body=None):
    req = urllib.request.Request(info["admin"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        data = r.read()
    return json.loads(data) if data else None


def env_of(info, world, **kw):
    base = {"AWS_ENDPOINT_URL": info["endpoint"], "AWS_REGION": info["region"],
            "AWS_ACCESS_KEY_ID": info["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": info["secret_access_key"]}
    base.update(kw)
    return clean_env(world, **base)


def wait_status(env, ident, want, action="describe_db_instance", timeout=180):
    def ready():
        r = call(env, action, f"id={ident}")
        return r["ok"] and r["result"]["status"] == want and r["result"]
    return wait_until(ready, timeout, interval=0.5, what=f"{ident} {want}")


def test_sts_kms_secrets(sim, world):
    env = env_of(sim, world)
    me = ok(call(env, "sts_get_caller_identity"))
    assert me["account"] == sim["account_id"]
    key = ok(call(env, "kms_create_key", "description=fleet key"))
    assert key["enabled"] and key["key_state"] == "Enabled" and key["key_manager"] == "CUSTOMER"
    ok(call(env, "kms_create_alias", "alias=alias/fleet", f"key={key['key_id']}"))
    for ref in (key["key_id"], key["arn"], "alias/fleet",
                f"arn:aws:kms:{sim['region']}:{sim['account_id']}:alias/fleet"):
        assert ok(call(env, "kms_describe_key", f"key={ref}"))["arn"] == key["arn"]
    missing = call(env, "kms_describe_key", "key=alias/nope")
    assert missing["error"]["kind"] == "not_found"
    aliases = ok(call(env, "kms_list_aliases"))["aliases"]
    assert any(a["name"] == "alias/fleet" and a["target_key_id"] == key["key_id"] for a in aliases)
    arn = ok(call(env, "secrets_create_secret", "name=db/creds",
                  'secret_string={"username":"u","password":"p@ss"}'))["arn"]
    v = ok(call(env, "secrets_get_value", "id=db/creds", opts=["--show-secrets"]))
    assert v["arn"] == arn and json.loads(v["secret_string"])["password"] == "p@ss"
    # a session token (AssumeRole credentials) is signed and accepted
    a = ok(call(env, "sts_assume_role", f"role_arn=arn:aws:iam::{sim['account_id']}:role/fc",
                "session_name=t1", opts=["--show-secrets"]))
    assert a["has_token"]
    env2 = clean_env(world, AWS_ENDPOINT_URL=sim["endpoint"], AWS_ACCESS_KEY_ID=a["access_key_id"],
                     AWS_SECRET_ACCESS_KEY=a["secret_access_key"], AWS_SESSION_TOKEN=a["session_token"])
    me2 = ok(call(env2, "sts_get_caller_identity"))
    assert me2["account"] == sim["account_id"]
    assert ok(call(env2, "kms_describe_key", "key=alias/fleet"))["key_id"] == key["key_id"]
    # web identity against the emulator's STS (unsigned call)
    w = call(env, "sts_assume_role_with_web_identity",
             f"role_arn=arn:aws:iam::{sim['account_id']}:role/k8s", "session_name=pod",
             "token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJwb2QifQ.")
    assert w["ok"], w["error"]


def test_wrong_secret_fails_fast(sim, world):
    env = env_of(sim, world, AWS_SECRET_ACCESS_KEY="not-the-secret")
    out = call(env, "describe_db_instances", opts=["--max-attempts", "5"])
    assert out["error"]["code"] == "SignatureDoesNotMatch" and len(out["calls"]) == 1


def test_fault_injection_bounded_retries(sim, world):
    env = env_of(sim, world)
    admin(sim, "POST", "/config", {"faults": {"throttle_rate": 1.0}})
    try:
        out = call(env, "describe_db_instances", opts=["--max-attempts", "4", "--base-ms", "20"])
        assert not out["ok"] and out["error"]["kind"] == "throttle"
        assert len(out["calls"]) == 4
    finally:
        admin(sim, "POST", "/config", {"faults": {"throttle_rate": 0.0}})
    admin(sim, "POST", "/config", {"faults": {"http5xx_rate": 1.0}})
    try:
        out = call(env, "sts_get_caller_identity", opts=["--max-attempts", "3", "--base-ms", "20"])
        assert not out["ok"] and out["error"]["kind"] == "transient" and len(out["calls"]) == 3
    finally:
        admin(sim, "POST", "/config", {"faults": {"http5xx_rate": 0.0}})


def test_rds_lifecycle(sim, world):
    env = env_of(sim, world)
    tags = "tags=fleetcrypt:campaign:c1,team:db"
    r = ok(call(env, "create_db_instance", "id=src1", "engine=postgres", "storage=20",
                "master_password=Sup3rSecret!", "encrypted=false", "backup_retention=3", tags))
    assert r["identifier"] == "src1" and r["storage_encrypted"] is False
    inst = wait_status(env, "src1", "available")
    assert inst["engine"] == "postgres" and inst["port"] > 0 and inst["endpoint_address"]
    assert inst["backup_retention"] == 3 and inst["tags"]["team"] == "db"
    assert inst["db_parameter_groups"] and inst["db_parameter_groups"][0]["name"]
    pg = inst["db_parameter_groups"][0]["name"]
    # fleet-wide describe with filters through the paginator (AWS allows
    # MaxRecords 20..100; multi-page walking is covered by the stand-in test)
    ok(call(env, "create_db_instance", "id=src2", "engine=postgres", "master_password=Sup3rSecret!"))
    r = ok(call(env, "describe_db_instances", "filter_name=engine", "filter_values=postgres",
                "max_records=20", "each=1"))
    assert r["pages"] >= 1 and {"src1", "src2"} <= set(r["identifiers"])
    # tags, parameters, quotas, events, logs
    ok(call(env, "add_tags_to_resource", f"arn={inst['arn']}", "tags=extra:1"))
    assert ok(call(env, "list_tags_for_resource", f"arn={inst['arn']}"))["tags"]["extra"] == "1"
    params = ok(call(env, "describe_db_parameters", f"name={pg}"))["parameters"]
    assert any(p["name"] == "rds.logical_replication" for p in params)
    assert ok(call(env, "describe_db_parameter_groups", f"name={pg}"))["groups"][0]["name"] == pg
    q = ok(call(env, "describe_account_attributes"))["quotas"]
    assert q["DBInstances"]["used"] >= 2
    ev = ok(call(env, "describe_events", "source_id=src1", "source_type=db-instance", "duration=600"))
    assert isinstance(ev["events"], list)
    files = ok(call(env, "describe_db_log_files", "id=src1"))["files"]
    assert files, "no log files"
    portion = ok(call(env, "download_db_log_file_portion", "id=src1", f"file={files[0]['name']}",
                      "all=1"))
    assert portion["portions"] >= 1
    # snapshot → encrypted copy → restore
    key = ok(call(env, "kms_create_key", "description=k"))
    ok(call(env, "create_db_snapshot", "id=snap1", "instance_id=src1", tags))
    snap = wait_status(env, "snap1", "available", action="describe_db_snapshot")
    assert snap["instance_id"] == "src1" and snap["encrypted"] is False
    snaps = ok(call(env, "describe_db_snapshots", "instance_id=src1", "snapshot_type=manual"))
    assert [s["id"] for s in snaps["snapshots"]] == ["snap1"]
    ok(call(env, "copy_db_snapshot", "source_id=snap1", "target_id=snap1-enc",
            f"kms_key_id={key['arn']}", "copy_tags=true"))
    enc = wait_status(env, "snap1-enc", "available", action="describe_db_snapshot")
    assert enc["encrypted"] is True and enc["kms_key_id"] == key["arn"]
    # BackupRetentionPeriod: 0-35 as AWS (36 refused), taken by the restore
    bad = call(env, "restore_db_instance_from_db_snapshot", "id=tgt1", "snapshot_id=snap1-enc", "backup_retention=36")
    assert not bad["ok"] and bad["error"]["code"] == "InvalidParameterValue", bad
    ok(call(env, "restore_db_instance_from_db_snapshot", "id=tgt1", "snapshot_id=snap1-enc",
            f"param_group={pg}", "multi_az=false", "deletion_protection=false", "backup_retention=0", tags))
    tgt = wait_status(env, "tgt1", "available")
    assert tgt["storage_encrypted"] is True and tgt["kms_key_id"] == key["arn"]
    assert tgt["backup_retention"] == 0
    # modify (retention + rename), reboot, stop/start
    ok(call(env, "modify_db_instance", "id=tgt1", "backup_retention=5", "apply_immediately=true"))
    assert wait_status(env, "tgt1", "available")["backup_retention"] == 5
    ok(call(env, "reboot_db_instance", "id=tgt1"))
    wait_status(env, "tgt1", "available")
    ok(call(env, "stop_db_instance", "id=src2"))
    wait_status(env, "src2", "stopped")
    ok(call(env, "start_db_instance", "id=src2"))
    wait_status(env, "src2", "available")
    ok(call(env, "modify_db_instance", "id=src2", "new_id=src2-retired", "apply_immediately=true"))
    wait_status(env, "src2-retired", "available")
    # read replica, proxy + targets
    rr = call(env, "create_db_instance_read_replica", "id=src1-rr", "source_id=src1")
    assert rr["ok"], rr["error"]
    # default groups are read-only on AWS (and in awssim): a clean permanent error
    m = call(env, "modify_db_parameter_group", f"name={pg}", "param=rds.logical_replication",
             "value=1", "apply_method=pending-reboot")
    assert m["ok"] or (m["error"]["code"] == "InvalidDBParameterGroupState"
                       and m["error"]["kind"] == "permanent" and len(m["calls"]) == 1), m["error"]
    secret = ok(call(env, "secrets_create_secret", "name=proxy/creds",
                     'secret_string={"username":"postgres","password":"Sup3rSecret!"}'))["arn"]
    px = ok(call(env, "create_db_proxy", "name=px1", "engine_family=POSTGRESQL",
                 f"role_arn=arn:aws:iam::{sim['account_id']}:role/proxy", f"secret_arn={secret}",
                 "subnets=subnet-1,subnet-2"))
    assert px["name"] == "px1"
    assert ok(call(env, "describe_db_proxies", "name=px1"))["proxies"][0]["name"] == "px1"
    # a new proxy takes a while to become available above time scale 0 (AWS: minutes); targets wait for it
    wait_until(lambda: ok(call(env, "describe_db_proxies", "name=px1"))["proxies"][0]["status"] == "available",
               120, 0.1, "proxy px1 available")
    ok(call(env, "register_db_proxy_targets", "name=px1", "ids=tgt1"))
    t = ok(call(env, "describe_db_proxy_targets", "name=px1"))["targets"]
    assert any(x["rds_resource_id"] == "tgt1" for x in t), t
    ok(call(env, "deregister_db_proxy_targets", "name=px1", "ids=tgt1"))
    # deletes; not-found afterwards
    ok(call(env, "delete_db_snapshot", "id=snap1"))
    ok(call(env, "delete_db_instance", "id=src2-retired"))
    nf = call(env, "describe_db_snapshot", "id=snap1")
    for _ in range(100):
        if not nf["ok"]:
            break
        time.sleep(0.2)
        nf = call(env, "describe_db_snapshot", "id=snap1")
    assert nf["error"]["kind"] == "not_found"
