"""STS (Query): GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity.

AssumeRole enforces the role's trust (iam.check_assume): a role in another
account must be declared and trust the caller, and its ExternalId must be
given when it has one (AccessDenied otherwise, as AWS); the temporary
credentials act in the role's account (its own store)."""
import re
import time

from . import iam
from .errors import AwsError
from .iam import ROLE_RE
from .world import rand_alnum, rand_upper


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
    ext = p.get("ExternalId")
    if ext is not None and not re.match(r"^[\w+=,.@:/-]{2,1224}$", ext):
        raise AwsError("ValidationError", "1 validation error detected: Value at 'externalId' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*", status=400)
    rec = None if web else iam.check_assume(ctx.world, ctx.caller, role, ext)
    ak = "ASIA" + rand_upper(16)
    sk = rand_alnum(40)
    token = "FQoGZXIvYXdzE" + rand_alnum(300)
    exp = time.time() + dur
    role_id = rec["role_id"] if rec else "AROA" + rand_upper(17)
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
