"""STS (Query): GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity."""
import re
import time

from .errors import AwsError
from .world import rand_alnum, rand_upper

ROLE_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")


def GetCallerIdentity(ctx, p):
    c = ctx.caller
    return {"UserId": c.get("user_id", "AIDA" + rand_upper(17)), "Account": c["account"], "Arn": c["arn"]}


def _issue(ctx, p, web=False):
    role = p.get("RoleArn", "")
    m = ROLE_RE.match(role)
    if not m:
        raise AwsError("ValidationError", f"{role} is invalid", status=400)
    session = p.get("RoleSessionName", "")
    if not re.match(r"^[\w+=,.@-]{2,64}$", session):
        raise AwsError("ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to "
                       "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
    dur = int(p.get("DurationSeconds") or 3600)
    if dur < 900 or dur > 43200:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    account, rname = m.group(1), m.group(2)
    ak = "ASIA" + rand_upper(16)
    sk = rand_alnum(40)
    token = "FQoGZXIvYXdzE" + rand_alnum(300)
    exp = time.time() + dur
    role_id = "AROA" + rand_upper(17)
    arn = f"arn:aws:sts::{account}:assumed-role/{rname}/{session}"
    with ctx.world.lock:
        ctx.world.temp_creds[ak] = {"secret": sk, "token": token, "expiration": exp, "account": account,
                                    "arn": arn, "user_id": f"{role_id}:{session}"}
    ctx.world.mark_dirty()
    ctx.resource = role
    out = {"Credentials": {"AccessKeyId": ak, "SecretAccessKey": sk, "SessionToken": token, "Expiration": exp},
           "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{session}", "Arn": arn}, "PackedPolicySize": 0}
    return out


def AssumeRole(ctx, p):
    return _issue(ctx, p)


def AssumeRoleWithWebIdentity(ctx, p):
    tok = p.get("WebIdentityToken") or ""
    if not tok.strip():
        raise AwsError("InvalidIdentityToken", "Token is empty", status=400)
    out = _issue(ctx, p, web=True)
    out.pop("PackedPolicySize", None)
    out.update({"SubjectFromWebIdentityToken": "system:serviceaccount:fleetcrypt:worker",
                "Audience": "sts.amazonaws.com", "Provider": "oidc.awssim.local"})
    return out


ACTIONS = {f.__name__: f for f in (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity)}
UNSIGNED = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
