"""awssim control plane (metadata-only emulator, no PostgreSQL): SigV4 errors,
quotas, throttling, injected 5xx/latency, bad requests, pagination/filters,
call log and conflict detector, STS temporary credentials, KMS, Secrets
Manager, time scale and the 7-day auto-start, a 50-instance fleet."""
import datetime
import json
import os
import shutil
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from fclib import make_world_dir, wait_until
from fixtures_awssim import ACCESS_KEY, SECRET_KEY, AwsSim

OTHER_KEY, OTHER_SECRET, OTHER_ACCOUNT = "AKIAOTHERACCOUNT0001", "other/secret/key/for/tests/000000000000", "210987654321"


@pytest.fixture(scope="module")
def meta():
    base = make_world_dir("fc-awssim-meta-")
    cred = os.path.join(base, "creds.json")
    with open(cred, "w") as f:
        json.dump([{"access_key_id": OTHER_KEY, "secret_access_key": OTHER_SECRET, "account_id": OTHER_ACCOUNT}], f)
    sim = AwsSim(os.path.join(base, "home"), None, ["--metadata-only", "--credentials", cred])
    try:
        sim.start()
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def _reset(meta):
    meta.admin("POST", "/config", {"time_scale": 0, "rate": {"rate": 1000, "burst": 1000},
                                   "faults": {"http5xx_rate": 0, "throttle_rate": 0, "latency_ms": 0},
                                   "quotas": {"DBInstances": 1000, "ManualSnapshots": 1000}})
    yield


def code(exc):
    return exc.value.response["Error"]["Code"]


def create(rds, ident, **kw):
    args = dict(DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine="postgres",
                MasterUsername="app", MasterUserPassword="passw0rd!", AllocatedStorage=20)
    args.update(kw)
    return rds.create_db_instance(**args)["DBInstance"]


def signed(sim, service, body, target=None, secret=SECRET_KEY, key=ACCESS_KEY, when=None, token=None):
    """A hand-signed request (for clock skew and raw protocol tests) -> (status, body bytes)."""
    url = sim.endpoint + "/"
    headers = {"Content-Type": "application/x-amz-json-1.1" if target else
               "application/x-www-form-urlencoded; charset=utf-8"}
    if target:
        headers["X-Amz-Target"] = target
    if token:
        headers["X-Amz-Security-Token"] = token
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    when = when or datetime.datetime.utcnow()
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    req.context["timestamp"] = stamp
    req.headers["X-Amz-Date"] = stamp
    signer = SigV4Auth(Credentials(key, secret, token), service, "us-east-1")
    cr = signer.canonical_request(req)
    sig = signer.signature(signer.string_to_sign(req, cr), req)
    hs = signer.headers_to_sign(req)
    req.headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={signer.scope(req)}, "
                                    f"SignedHeaders={signer.signed_headers(hs)}, Signature={sig}")
    r = urllib.request.Request(url, data=body if isinstance(body, bytes) else body.encode(),
                               headers=dict(req.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ------------------------------------------------------------------ signatures
def test_signature_errors(meta):
    bad = meta.client("rds", secret_key="wrong-secret")
    with pytest.raises(ClientError) as e:
        bad.describe_db_instances()
    assert code(e) == "SignatureDoesNotMatch" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        meta.client("kms", secret_key="wrong-secret").list_aliases()
    assert code(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        meta.client("sts", access_key="AKIANOSUCHKEY0000000").get_caller_identity()
    assert code(e) == "InvalidClientTokenId" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        meta.client("secretsmanager", access_key="AKIANOSUCHKEY0000000").list_secrets() \
            if hasattr(meta.client("secretsmanager"), "list_secrets") else None
    assert code(e) in ("InvalidClientTokenId",)
    rc, _, err = meta.cli_raw("rds", "describe-db-instances", env=meta.env(secret_key="nope"))
    assert rc != 0 and "SignatureDoesNotMatch" in err
    rc, _, err = meta.cli_raw("kms", "list-aliases", env=meta.env(access_key="AKIANOSUCHKEY0000000"))
    assert rc != 0 and "InvalidClientTokenId" in err
    # skewed clock: 20 minutes off -> RequestExpired (Query and JSON)
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    st, body = signed(meta, "rds", "Action=DescribeDBInstances&Version=2014-10-31", when=old)
    assert st == 400 and b"<Code>RequestExpired</Code>" in body
    st, body = signed(meta, "kms", "{}", target="TrentService.ListAliases", when=old)
    assert st == 400 and json.loads(body)["__type"] == "RequestExpired"
    # 10 minutes off is still fine
    st, body = signed(meta, "rds", "Action=DescribeDBInstances&Version=2014-10-31",
                      when=datetime.datetime.utcnow() - datetime.timedelta(minutes=10))
    assert st == 200 and b'xmlns="http://rds.amazonaws.com/doc/2014-10-31/"' in body
    # tampered body after signing
    st, body = signed(meta, "kms", "{}", target="TrentService.ListAliases", secret="x")
    assert st == 403 and json.loads(body)["__type"] == "SignatureDoesNotMatch"
    # no auth at all
    req = urllib.request.Request(meta.endpoint + "/", data=b"Action=DescribeDBInstances&Version=2014-10-31",
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(req, timeout=10)
    assert he.value.code == 403 and b"MissingAuthenticationToken" in he.value.read()


def test_bad_requests(meta):
    st, body = signed(meta, "rds", "Action=NoSuchAction&Version=2014-10-31")
    assert st == 400 and b"<Code>InvalidAction</Code>" in body and b"<RequestId>" in body
    st, body = signed(meta, "rds", "Action=CreateDBSnapshot&Version=2014-10-31&DBInstanceIdentifier=x")
    assert st == 400 and b"<Code>MissingParameter</Code>" in body and b"DBSnapshotIdentifier" in body
    st, body = signed(meta, "rds", "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=abc")
    assert st == 400 and b"<Code>InvalidParameterValue</Code>" in body
    st, body = signed(meta, "rds", "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=5")
    assert st == 400 and b"<Code>InvalidParameterValue</Code>" in body
    st, body = signed(meta, "kms", "not json", target="TrentService.DescribeKey")
    assert st == 400 and json.loads(body)["__type"] == "SerializationException"
    st, body = signed(meta, "kms", "{}", target="TrentService.Bogus")
    assert st == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    st, body = signed(meta, "kms", "{}", target="TrentService.DescribeKey")
    assert st == 400 and json.loads(body)["__type"] == "ValidationException"
    st, body = signed(meta, "rds", "Action=DescribeDBInstances&Filters.Filter.1.Name=bogus&"
                                   "Filters.Filter.1.Values.Value.1=x&Version=2014-10-31")
    assert st == 400 and b"InvalidParameterValue" in body
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(urllib.request.Request(meta.endpoint + "/nope", method="GET"), timeout=10)
    assert he.value.code == 404
    big = b"Action=DescribeDBInstances&x=" + b"a" * (2 << 20)
    try:
        st, body = signed(meta, "rds", big)
        assert st == 413
    except (ConnectionError, urllib.error.URLError):
        pass  # the server may close before reading the oversized body
    rds = meta.client("rds")
    with pytest.raises(ClientError) as e:
        rds.describe_db_instances(DBInstanceIdentifier="does-not-exist")
    assert code(e) == "DBInstanceNotFound" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        rds.describe_db_snapshots(DBSnapshotIdentifier="nope")
    assert code(e) == "DBSnapshotNotFound"
    with pytest.raises(ClientError) as e:
        create(rds, "bad--name")
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        create(rds, "mm", ManageMasterUserPassword=True)
    assert code(e) == "InvalidParameterCombination"


# ------------------------------------------------------------------ quotas, throttling, faults
def test_quotas(meta):
    rds = meta.client("rds")
    used = {q["AccountQuotaName"]: q for q in rds.describe_account_attributes()["AccountQuotas"]}["DBInstances"]["Used"]
    meta.admin("POST", "/config", {"quotas": {"DBInstances": used + 2, "ManualSnapshots": 0}})
    create(rds, "quota-1")
    create(rds, "quota-2")
    with pytest.raises(ClientError) as e:
        create(rds, "quota-3")
    assert code(e) == "InstanceQuotaExceeded"
    rc, _, err = meta.cli_raw("rds", "create-db-instance", "--db-instance-identifier", "quota-4", "--engine", "postgres",
                              "--db-instance-class", "db.t3.micro", "--master-username", "a",
                              "--master-user-password", "passw0rd!", "--allocated-storage", "20")
    assert rc != 0 and "InstanceQuotaExceeded" in err
    q = {x["AccountQuotaName"]: x for x in meta.cli("rds", "describe-account-attributes")["AccountQuotas"]}
    assert q["DBInstances"]["Used"] == used + 2 and q["DBInstances"]["Max"] == used + 2
    meta.wait_instance("quota-1", rds=rds)
    rds.stop_db_instance(DBInstanceIdentifier="quota-1")
    meta.wait_instance("quota-1", "stopped", rds=rds)
    with pytest.raises(ClientError) as e:   # stopped instances count
        create(rds, "quota-3")
    assert code(e) == "InstanceQuotaExceeded"
    with pytest.raises(ClientError) as e:
        rds.create_db_snapshot(DBInstanceIdentifier="quota-1", DBSnapshotIdentifier="qs")
    assert code(e) == "SnapshotQuotaExceeded"
    meta.admin("POST", "/config", {"quotas": {"ManualSnapshots": 1000}})
    rds.create_db_snapshot(DBInstanceIdentifier="quota-1", DBSnapshotIdentifier="qs")   # a stopped instance
    assert meta.wait_snapshot("qs", rds=rds)["Status"] == "available"


def test_throttling_5xx_latency(meta):
    meta.admin("POST", "/config", {"rate": {"rate": 1, "burst": 3}})
    rds, kms = meta.client("rds"), meta.client("kms")
    codes = []
    for _ in range(8):
        try:
            rds.describe_db_instances(MaxRecords=20)
            codes.append("ok")
        except ClientError as e:
            codes.append(e.response["Error"]["Code"])
            assert e.response["Error"]["Message"] == "Rate exceeded"
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert codes[:3] == ["ok"] * 3 and "Throttling" in codes
    kcodes = []
    for _ in range(6):
        try:
            kms.list_aliases()
        except ClientError as e:
            kcodes.append(e.response["Error"]["Code"])
    assert "ThrottlingException" in kcodes
    # awscli retries throttling by itself: with a near-empty bucket even its
    # retries are refused, so the CLI must surface the error
    meta.admin("POST", "/config", {"rate": {"rate": 0.001, "burst": 1}})
    try:
        rds.describe_db_instances(MaxRecords=20)
    except ClientError:
        pass
    rc, _, err = meta.cli_raw("rds", "describe-db-instances")
    assert rc != 0 and "Throttling" in err
    meta.admin("POST", "/config", {"rate": {"rate": 1, "burst": 3}})
    time.sleep(1.1)
    rds.describe_db_instances()          # the bucket refills
    meta.admin("POST", "/config", {"rate": {"rate": 1000, "burst": 1000}, "faults": {"http5xx_rate": 1.0}})
    seen = set()
    for _ in range(10):
        with pytest.raises(ClientError) as e:
            rds.describe_db_instances()
        seen.add((code(e), e.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert seen <= {("InternalFailure", 500), ("ServiceUnavailable", 503)} and seen
    with pytest.raises(ClientError) as e:
        kms.list_aliases()
    assert code(e) in ("InternalFailure", "ServiceUnavailable")
    meta.admin("POST", "/config", {"faults": {"http5xx_rate": 0, "throttle_rate": 1.0}})
    with pytest.raises(ClientError) as e:
        rds.describe_db_instances()
    assert code(e) == "Throttling"
    meta.admin("POST", "/config", {"faults": {"throttle_rate": 0, "latency_ms": 300}})
    t0 = time.monotonic()
    rds.describe_db_instances()
    assert time.monotonic() - t0 >= 0.3
    cfg = meta.admin("GET", "/config")
    assert cfg["faults"]["latency_ms"] == 300 and cfg["rate"]["rate"] == 1000
    # alternate: the action's requests refused and served in turn, the first
    # refused; "lost": carried out, then answered 500; other actions untouched
    meta.admin("POST", "/config", {"faults": {"latency_ms": 0, "alternate": {
        "DescribeDBInstances": "throttle", "CreateDBParameterGroup": "lost"}}})
    got = []
    for _ in range(4):
        try:
            rds.describe_db_instances()
            got.append("ok")
        except ClientError as err:
            got.append(err.response["Error"]["Code"])
    assert got == ["Throttling", "ok", "Throttling", "ok"], got
    kms.list_aliases()
    with pytest.raises(ClientError) as e:
        rds.create_db_parameter_group(DBParameterGroupName="alt-lost", DBParameterGroupFamily="postgres15",
                                      Description="x")
    assert code(e) == "InternalFailure"
    assert rds.describe_db_parameter_groups(DBParameterGroupName="alt-lost")["DBParameterGroups"]
    meta.admin("POST", "/config", {"faults": {"alternate": {}}})
    assert meta.admin("GET", "/config")["faults"]["alternate"] == {}


# ------------------------------------------------------------------ call log, conflicts, pagination
def test_call_log_conflicts_pagination(meta):
    rds = meta.client("rds")
    meta.admin("DELETE", "/calls")
    meta.admin("DELETE", "/conflicts")
    t0 = time.time()
    ids = [f"page-{i:02d}" for i in range(25)]
    for i in ids:
        create(rds, i, Tags=[{"Key": "fleet", "Value": "p"}])
    meta.admin("POST", "/config", {"time_scale": 0.01})   # slow enough to overlap
    create(rds, "slowpoke")
    with pytest.raises(ClientError) as e:
        rds.create_db_snapshot(DBInstanceIdentifier="slowpoke", DBSnapshotIdentifier="too-early")
    assert code(e) == "InvalidDBInstanceState"
    with pytest.raises(ClientError) as e:
        create(rds, "slowpoke")
    assert code(e) == "DBInstanceAlreadyExists"
    meta.admin("POST", "/config", {"time_scale": 0})
    conf = meta.admin("GET", "/conflicts")["conflicts"]
    kinds = {(c["kind"], c["resource"], c["action"]) for c in conf}
    assert ("overlap", "slowpoke", "CreateDBSnapshot") in kinds
    assert ("duplicate-create", "slowpoke", "CreateDBInstance") in kinds
    calls = meta.admin("GET", f"/calls?since={t0}&action=CreateDBInstance")
    assert calls["count"] == 27
    c = calls["calls"][0]
    assert c["service"] == "rds" and c["access_key"] == ACCESS_KEY and c["resource"] == "page-00" and c["status"] == 200
    assert [x["error"] for x in calls["calls"] if x["status"] != 200] == ["DBInstanceAlreadyExists"]
    # pagination: MaxRecords/Marker, both clients
    first = rds.describe_db_instances(MaxRecords=20, Filters=[{"Name": "db-instance-id", "Values": ids}])
    assert len(first["DBInstances"]) == 20 and first["Marker"]
    second = rds.describe_db_instances(MaxRecords=20, Marker=first["Marker"],
                                       Filters=[{"Name": "db-instance-id", "Values": ids}])
    assert len(second["DBInstances"]) == 5 and "Marker" not in second
    got = [i["DBInstanceIdentifier"] for i in first["DBInstances"] + second["DBInstances"]]
    assert got == sorted(ids)
    out = meta.cli("rds", "describe-db-instances", "--filters", "Name=db-instance-id,Values=page-01,page-02")
    assert {i["DBInstanceIdentifier"] for i in out["DBInstances"]} == {"page-01", "page-02"}
    rid = out["DBInstances"][0]["DbiResourceId"]
    out = meta.cli("rds", "describe-db-instances", "--filters", f"Name=dbi-resource-id,Values={rid}")
    assert len(out["DBInstances"]) == 1
    everything = meta.cli("rds", "describe-db-instances", "--page-size", "20")   # the CLI follows Markers
    assert set(ids) <= {i["DBInstanceIdentifier"] for i in everything["DBInstances"]}


# ------------------------------------------------------------------ STS, KMS, Secrets Manager
def test_sts_temporary_credentials(meta):
    ident = meta.cli("sts", "get-caller-identity")
    assert ident["Account"] == meta.info["account_id"]
    sts = meta.client("sts")
    r = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/fleetcrypt-worker", RoleSessionName="w1")
    c = r["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and c["SessionToken"]
    tmp = meta.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
    who = tmp.get_caller_identity()
    assert who["Arn"] == "arn:aws:sts::123456789012:assumed-role/fleetcrypt-worker/w1"
    meta.client("rds", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"],
                token=c["SessionToken"]).describe_db_instances()
    env = meta.env(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert "DBInstances" in meta.cli("rds", "describe-db-instances", env=env)
    with pytest.raises(ClientError) as e:
        meta.client("rds", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"],
                    token="wrong-token").describe_db_instances()
    assert code(e) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as e:     # a temporary key without its token
        meta.client("kms", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"]).list_aliases()
    assert code(e) == "InvalidClientTokenId"
    # web identity (unsigned, as the SDKs send it) through the CLI
    w = meta.cli("sts", "assume-role-with-web-identity", "--role-arn", "arn:aws:iam::123456789012:role/irsa",
                 "--role-session-name", "pod", "--web-identity-token", "eyJhbGciOi.fake.token")
    wc = w["Credentials"]
    assert meta.client("sts", access_key=wc["AccessKeyId"], secret_key=wc["SecretAccessKey"],
                       token=wc["SessionToken"]).get_caller_identity()["Arn"].endswith("assumed-role/irsa/pod")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::account:role/x", RoleSessionName="x1")
    assert code(e) == "ValidationError"


def test_second_account_isolated(meta):
    create(meta.client("rds"), "acct-one")
    other = meta.client("rds", access_key=OTHER_KEY, secret_key=OTHER_SECRET)
    assert other.describe_db_instances()["DBInstances"] == []
    assert meta.client("sts", access_key=OTHER_KEY, secret_key=OTHER_SECRET).get_caller_identity()["Account"] == OTHER_ACCOUNT


def test_kms_and_secrets(meta):
    kms, rds = meta.client("kms"), meta.client("kms"), 
    rds = meta.client("rds")
    k = meta.cli("kms", "create-key", "--description", "campaign")["KeyMetadata"]
    meta.cli("kms", "create-alias", "--alias-name", "alias/campaign", "--target-key-id", k["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:123456789012:alias/campaign"
    for ref in (k["KeyId"], k["Arn"], "alias/campaign", alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == k["KeyId"]
        assert meta.cli("kms", "describe-key", "--key-id", ref)["KeyMetadata"]["Arn"] == k["Arn"]
    aliases = {a["AliasName"]: a for a in meta.cli("kms", "list-aliases")["Aliases"]}
    assert "alias/aws/rds" in aliases and aliases["alias/campaign"]["TargetKeyId"] == k["KeyId"]
    aws_rds = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    assert aws_rds["KeyManager"] == "AWS"
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/nope")
    assert code(e) == "NotFoundException"
    # encrypted instance with the default key; copies honour key state
    enc = create(rds, "enc-default", StorageEncrypted=True)
    assert enc["StorageEncrypted"] and enc["KmsKeyId"] == aws_rds["Arn"]
    create(rds, "plain")
    meta.wait_instance("plain", rds=rds)
    rds.create_db_snapshot(DBInstanceIdentifier="plain", DBSnapshotIdentifier="plain-snap")
    meta.wait_snapshot("plain-snap", rds=rds)
    meta.cli("kms", "disable-key", "--key-id", k["KeyId"])
    assert kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier="plain-snap", TargetDBSnapshotIdentifier="c1",
                             KmsKeyId="alias/campaign")
    assert code(e) == "KMSKeyNotAccessibleFault"
    with pytest.raises(ClientError) as e:
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier="plain-snap", TargetDBSnapshotIdentifier="c1",
                             KmsKeyId="alias/does-not-exist")
    assert code(e) == "KMSKeyNotAccessibleFault"
    kms.enable_key(KeyId=k["KeyId"])
    c1 = rds.copy_db_snapshot(SourceDBSnapshotIdentifier="plain-snap", TargetDBSnapshotIdentifier="c1",
                              KmsKeyId="alias/campaign")["DBSnapshot"]
    assert c1["Encrypted"] and c1["KmsKeyId"] == k["Arn"]
    with pytest.raises(ClientError) as e:
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier="plain-snap", TargetDBSnapshotIdentifier="c1")
    assert code(e) == "DBSnapshotAlreadyExists"
    meta.wait_snapshot("c1", rds=rds)
    snaps = rds.describe_db_snapshots(Filters=[{"Name": "db-snapshot-id", "Values": ["c1", "plain-snap"]},
                                               {"Name": "snapshot-type", "Values": ["manual"]}])["DBSnapshots"]
    assert {s["DBSnapshotIdentifier"]: s["Encrypted"] for s in snaps} == {"c1": True, "plain-snap": False}
    # Secrets Manager
    sec = meta.cli("secretsmanager", "create-secret", "--name", "fleet/db", "--secret-string",
                   json.dumps({"username": "u", "password": "p"}))
    got = meta.cli("secretsmanager", "get-secret-value", "--secret-id", sec["ARN"])
    assert json.loads(got["SecretString"]) == {"username": "u", "password": "p"}
    assert meta.cli("secretsmanager", "describe-secret", "--secret-id", "fleet/db")["Name"] == "fleet/db"
    sm = meta.client("secretsmanager")
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="nope")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name="fleet/db", SecretString="x")
    assert code(e) == "ResourceExistsException"
    # RDS-managed master password
    out = meta.cli("rds", "create-db-instance", "--db-instance-identifier", "managed", "--engine", "postgres",
                   "--db-instance-class", "db.t3.micro", "--master-username", "admin1", "--allocated-storage", "20",
                   "--manage-master-user-password")["DBInstance"]
    mus = out["MasterUserSecret"]
    assert mus["SecretStatus"] == "active" and mus["SecretArn"].startswith("arn:aws:secretsmanager:")
    val = json.loads(sm.get_secret_value(SecretId=mus["SecretArn"])["SecretString"])
    assert val["username"] == "admin1" and len(val["password"]) >= 16
    assert meta.instance("managed", rds=rds)["MasterUserSecret"]["SecretArn"] == mus["SecretArn"]


# ------------------------------------------------------------------ time
def test_time_scale_states_and_auto_start(meta):
    rds = meta.client("rds")
    meta.admin("POST", "/config", {"time_scale": 0.005})   # 1 AWS s = 5 ms
    create(rds, "slow-1", AllocatedStorage=100)
    seen = set()
    wait_until(lambda: seen.add(meta.instance("slow-1", rds=rds)["DBInstanceStatus"]) or "available" in seen,
               30, 0.05, "slow-1 available")
    assert {"creating", "backing-up", "available"} <= seen
    rds.create_db_snapshot(DBInstanceIdentifier="slow-1", DBSnapshotIdentifier="slow-snap")
    progress = set()

    def snap_done():
        s = rds.describe_db_snapshots(DBSnapshotIdentifier="slow-snap")["DBSnapshots"][0]
        progress.add(s["PercentProgress"])
        return s["Status"] == "available"
    wait_until(snap_done, 30, 0.05, "slow-snap")
    assert any(0 < p < 100 for p in progress), progress
    meta.wait_instance("slow-1", rds=rds)
    rds.stop_db_instance(DBInstanceIdentifier="slow-1")
    assert meta.instance("slow-1", rds=rds)["DBInstanceStatus"] == "stopping"
    meta.wait_instance("slow-1", "stopped", rds=rds)
    meta.admin("POST", "/advance", {"seconds": 7 * 86400 + 60})
    meta.wait_instance("slow-1", "available", timeout=30, rds=rds)
    ev = rds.describe_events(SourceType="db-instance", SourceIdentifier="slow-1")["Events"]
    assert any("maximum allowed time being stopped" in e["Message"] for e in ev)
    meta.admin("POST", "/config", {"time_scale": 0})


def test_modelled_durations_settable(meta):
    """POST /config {"durations"}: a kind's modelled AWS duration (the
    benchmarks' 10/100/1000 s copies), shown by GET /config, {} restores the
    defaults, an unknown kind is refused."""
    rds = meta.client("rds")
    assert meta.admin("GET", "/config")["durations"]["copy"] == [120, 6.0]
    create(rds, "dur-1")
    meta.wait_instance("dur-1", rds=rds)
    rds.create_db_snapshot(DBInstanceIdentifier="dur-1", DBSnapshotIdentifier="dur-snap")
    wait_until(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="dur-snap")["DBSnapshots"][0]["Status"]
               == "available", 30, 0.05, "dur-snap")
    got = meta.admin("POST", "/config", {"durations": {"copy": [1000000, 0]}, "time_scale": 0.005})
    assert got["durations"]["copy"] == [1000000, 0] and got["durations"]["snapshot"] == [60, 2.0]
    rds.copy_db_snapshot(SourceDBSnapshotIdentifier="dur-snap", TargetDBSnapshotIdentifier="dur-copy")
    time.sleep(1)   # 1e6 AWS s at 5 ms each: the copy cannot have finished
    assert rds.describe_db_snapshots(DBSnapshotIdentifier="dur-copy")["DBSnapshots"][0]["Status"] != "available"
    assert meta.admin("POST", "/config", {"durations": {}, "time_scale": 0})["durations"]["copy"] == [120, 6.0]
    wait_until(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="dur-copy")["DBSnapshots"][0]["Status"]
               == "available", 30, 0.05, "dur-copy at time scale 0")
    with pytest.raises(urllib.error.HTTPError) as e:
        meta.admin("POST", "/config", {"durations": {"teleport": [1, 0]}})
    assert e.value.code == 400


# ------------------------------------------------------------------ fleet scale
def test_fifty_instance_fleet_metadata_only(meta):
    rds = meta.client("rds")
    k = meta.client("kms").create_key()["KeyMetadata"]
    t0 = time.monotonic()
    n = 50
    for i in range(n):
        create(rds, f"fleet-{i:02d}")

    def all_in(prefix, status, snaps=False):
        if snaps:
            items = rds.describe_db_snapshots(Filters=[{"Name": "db-snapshot-id",
                                                        "Values": [f"{prefix}{i:02d}" for i in range(n)]}],
                                              MaxRecords=100)["DBSnapshots"]
            return len(items) == n and all(s["Status"] == status for s in items)
        items = rds.describe_db_instances(Filters=[{"Name": "db-instance-id",
                                                    "Values": [f"{prefix}{i:02d}" for i in range(n)]}])["DBInstances"]
        return len(items) == n and all(i["DBInstanceStatus"] == status for i in items)
    wait_until(lambda: all_in("fleet-", "available"), 60, 0.1, "fleet available")
    for i in range(n):
        rds.create_db_snapshot(DBInstanceIdentifier=f"fleet-{i:02d}", DBSnapshotIdentifier=f"fs-{i:02d}")
    wait_until(lambda: all_in("fs-", "available", True), 60, 0.1, "snapshots")
    for i in range(n):
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier=f"fs-{i:02d}", TargetDBSnapshotIdentifier=f"fe-{i:02d}",
                             KmsKeyId=k["Arn"])
    wait_until(lambda: all_in("fe-", "available", True), 60, 0.1, "copies")
    for i in range(n):
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=f"fleet-enc-{i:02d}",
                                                 DBSnapshotIdentifier=f"fe-{i:02d}")
    wait_until(lambda: all_in("fleet-enc-", "available"), 60, 0.1, "restores")
    enc = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ["fleet-enc-07"]}])["DBInstances"][0]
    assert enc["StorageEncrypted"] and enc["KmsKeyId"] == k["Arn"]
    assert time.monotonic() - t0 < 60
    by_action = meta.admin("GET", "/calls?action=RestoreDBInstanceFromDBSnapshot")["count"]
    assert by_action >= n
