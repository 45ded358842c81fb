"""Secrets Manager (JSON 1.1, X-Amz-Target: secretsmanager.*).

RotateSecret works on RDS-managed secrets (`rds!db-…`, OwningService rds)
as RDS's scheduled rotation does: a new random password is set on the
owning instance first, then stored as a new version that becomes
AWSCURRENT (the old one AWSPREVIOUS). Other secrets would need a rotation
Lambda, which the emulator does not run."""
import json
import time

from .errors import AwsError
from .world import new_uuid, rand_alnum
from . import kms
from .rds_servers import apply_master_password


def _arn(store, name):
    return f"arn:aws:secretsmanager:{store['region']}:{store['account']}:secret:{name}-{rand_alnum(6)}"


def create_secret(world, store, name, value, kms_key=None, description="", tags=None, owning=None):
    """Create and return the record (caller holds no lock)."""
    with world.lock:
        if any(s["Name"] == name for s in store["secrets"].values()):
            raise AwsError("ResourceExistsException", f"The operation failed because the secret {name} already exists.")
        arn = _arn(store, name)
        vid = new_uuid()
        rec = {"ARN": arn, "Name": name, "Description": description, "KmsKeyId": kms_key,
               "CreatedDate": time.time(), "LastChangedDate": time.time(), "Tags": tags or [],
               "versions": {vid: {"SecretString": value, "CreatedDate": time.time(), "stages": ["AWSCURRENT"]}},
               "current": vid, "OwningService": owning}
        store["secrets"][arn] = rec
    world.mark_dirty()
    return rec


def find(store, ref):
    if not ref:
        return None
    s = store["secrets"].get(ref)
    if s:
        return s
    for s in store["secrets"].values():
        if s["Name"] == ref or s["ARN"].startswith(ref + "-") and ref.startswith("arn:"):
            return s
    return None


def _get(ctx, p):
    ref = p.get("SecretId")
    if not ref:
        raise AwsError("InvalidParameterException", "SecretId is required")
    s = find(ctx.store, ref)
    if not s or s.get("DeletedDate"):
        raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    ctx.resource = s["Name"]
    return s


def CreateSecret(ctx, p):
    name = p.get("Name")
    if not name:
        raise AwsError("InvalidParameterException", "Name is required")
    if "SecretString" not in p and "SecretBinary" not in p:
        raise AwsError("InvalidRequestException", "awssim needs SecretString or SecretBinary")
    key = p.get("KmsKeyId")
    if key:
        r = kms.find_key(ctx.world, ctx.store, key)
        if not r:
            raise AwsError("ResourceNotFoundException", f"KMS key {key} not found")
        if r[1]["KeyState"] != "Enabled":
            raise AwsError("KMSInvalidStateException" if False else "InvalidRequestException",
                           f"KMS key {key} is not enabled")
        key = r[1]["Arn"]
    rec = create_secret(ctx.world, ctx.store, name, p.get("SecretString", p.get("SecretBinary")), key,
                        p.get("Description", ""), p.get("Tags"))
    ctx.resource = name
    return {"ARN": rec["ARN"], "Name": rec["Name"], "VersionId": rec["current"]}


def GetSecretValue(ctx, p):
    s = _get(ctx, p)
    vid = p.get("VersionId") or s["current"]
    stage = p.get("VersionStage")
    if stage and stage != "AWSCURRENT":
        vid = next((v for v, d in s["versions"].items() if stage in d["stages"]), None)
    v = s["versions"].get(vid) if vid else None
    if not v:
        raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value.")
    out = {"ARN": s["ARN"], "Name": s["Name"], "VersionId": vid, "VersionStages": v["stages"],
           "CreatedDate": v["CreatedDate"]}
    out["SecretString"] = v["SecretString"]
    return out


def _make_current(s, vid, value):
    """New version `vid` becomes AWSCURRENT; the previous current becomes
    AWSPREVIOUS (caller holds the world lock)."""
    old = s.get("current")
    for v, d in s["versions"].items():
        d["stages"] = [x for x in d["stages"] if x not in ("AWSCURRENT", "AWSPREVIOUS")]
        if v == old and v != vid:
            d["stages"].append("AWSPREVIOUS")
    s["versions"][vid] = {"SecretString": value, "CreatedDate": time.time(), "stages": ["AWSCURRENT"]}
    s["current"] = vid
    s["LastChangedDate"] = time.time()


def PutSecretValue(ctx, p):
    s = _get(ctx, p)
    vid = p.get("ClientRequestToken") or new_uuid()
    with ctx.world.lock:
        _make_current(s, vid, p.get("SecretString"))
    ctx.world.mark_dirty()
    return {"ARN": s["ARN"], "Name": s["Name"], "VersionId": vid, "VersionStages": ["AWSCURRENT"]}


def rotate_managed(world, store, s, vid=None):
    """RDS's rotation of the managed master secret `s`: a new password on the
    owning instance, then a new AWSCURRENT version. Returns the version id.
    Raises AwsError when the secret has no owning instance."""
    with world.lock:
        inst = next((i for i in store["instances"].values() if i.get("secret_arn") == s["ARN"]), None)
        if inst is None:
            raise AwsError("InvalidRequestException", "The DB instance that manages this secret does not exist.")
        if vid and vid in s["versions"]:
            return vid     # the same request again: idempotent, as ClientRequestToken is on AWS
        cur = json.loads(s["versions"][s["current"]]["SecretString"] or "{}")
        user = cur.get("username") or inst["master_username"]
    pw = rand_alnum(28)
    apply_master_password(world, store, inst, pw)
    vid = vid or new_uuid()
    with world.lock:
        _make_current(s, vid, secret_json(user, pw))
        s["LastRotatedDate"] = time.time()
    world.mark_dirty()
    return vid


def RotateSecret(ctx, p):
    s = _get(ctx, p)
    if s.get("OwningService") != "rds":
        raise AwsError("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret "
                       "(awssim rotates only RDS-managed secrets).")
    vid = rotate_managed(ctx.world, ctx.store, s, p.get("ClientRequestToken"))
    return {"ARN": s["ARN"], "Name": s["Name"], "VersionId": vid}


def DescribeSecret(ctx, p):
    s = _get(ctx, p)
    out = {"ARN": s["ARN"], "Name": s["Name"], "Description": s.get("Description", ""),
           "LastChangedDate": s["LastChangedDate"], "CreatedDate": s["CreatedDate"], "Tags": s.get("Tags") or [],
           "VersionIdsToStages": {v: d["stages"] for v, d in s["versions"].items() if d["stages"]}}
    if s.get("KmsKeyId"):
        out["KmsKeyId"] = s["KmsKeyId"]
    if s.get("OwningService"):
        out["OwningService"] = s["OwningService"]
    if s.get("OwningService") == "rds":
        out["RotationEnabled"] = True   # RDS rotates its managed secrets (every 7 days by default)
        out["RotationRules"] = {"AutomaticallyAfterDays": 7}
    if s.get("LastRotatedDate"):
        out["LastRotatedDate"] = s["LastRotatedDate"]
    return out


def DeleteSecret(ctx, p):
    s = _get(ctx, p)
    with ctx.world.lock:
        ctx.store["secrets"].pop(s["ARN"], None)
    return {"ARN": s["ARN"], "Name": s["Name"], "DeletionDate": time.time()}


def secret_json(username, password):
    return json.dumps({"username": username, "password": password})


ACTIONS = {f.__name__: f for f in (CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret, DeleteSecret,
                                   RotateSecret)}
