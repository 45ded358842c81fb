"""The IAM Identity Center (SSO) portal's GetRoleCredentials, the one call
an `sso_session` profile makes after `aws sso login` cached its token:

    GET /federation/credentials?role_name=R&account_id=A
    x-amz-sso_bearer_token: <access token>

Tokens are registered through the admin API (POST /sso/tokens) with the
account and role they are assigned and the user's name; an unknown or
expired token is 401 UnauthorizedException, a role or account not assigned
403 ForbiddenException, as the portal answers (restJson1: the type in the
x-amzn-ErrorType header, a message in the body). The credentials are
temporary ones the endpoint accepts (an assumed-role ARN
AWSReservedSSO_<role>_<id>/<user>), valid one hour.
"""
import json
import time
from urllib.parse import parse_qs

from .world import rand_alnum, rand_upper

PATH = "/federation/credentials"


def register(world, body):
    tok = body["access_token"]
    if not isinstance(tok, str) or not tok:
        raise ValueError("access_token")
    entry = {"account_id": str(body["account_id"]), "role_name": str(body["role_name"]),
             "user": str(body.get("user") or "sso-user"),
             "expires": time.time() + float(body.get("expires_in", 28800))}
    with world.lock:
        world.sso_tokens.setdefault(tok, []).append(entry)
    return {"ok": True}


def get_role_credentials(world, query, headers):
    """(status, error type or None, body dict)."""
    q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    tok = headers.get("x-amz-sso_bearer_token") or ""
    role, account = q.get("role_name", ""), q.get("account_id", "")
    if not role or not account:
        return 400, "InvalidRequestException", {"message": "role_name and account_id are required"}
    with world.lock:
        grants = [g for g in world.sso_tokens.get(tok, []) if g["expires"] > time.time()]
    if not tok or not grants:
        return 401, "UnauthorizedException", {"message": "Session token not found or invalid"}
    grant = next((g for g in grants if g["account_id"] == account and g["role_name"] == role), None)
    if grant is None:
        return 403, "ForbiddenException", {"message": "No access"}
    ak, sk, token = "ASIA" + rand_upper(16), rand_alnum(40), "IQoJb3JpZ2luX2VjE" + rand_alnum(300)
    exp = time.time() + 3600
    rid = rand_upper(16)
    arn = f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_{role}_{rid.lower()}/{grant['user']}"
    with world.lock:
        world.temp_creds[ak] = {"secret": sk, "token": token, "expiration": exp, "account": account, "arn": arn,
                                "user_id": f"AROA{rid}:{grant['user']}"}
    world.mark_dirty()
    return 200, None, {"roleCredentials": {"accessKeyId": ak, "secretAccessKey": sk, "sessionToken": token,
                                           "expiration": int(exp * 1000)}}


