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

SSO OIDC's CreateToken with grantType refresh_token (POST /token, restJson1),
the call an SDK makes when the cached token of an `sso_session` profile is
near its end: a token registered with refresh_token, client_id and
client_secret can be refreshed; the answer is a new access token (same
assignments, one hour) and a new refresh token, the old refresh token is
spent. An unknown or spent refresh token is 400 InvalidGrantException, a
client that is not the token's 401 InvalidClientException, another grant
type 400 UnsupportedGrantTypeException.
"""
import json
import time
from urllib.parse import parse_qs

from .world import rand_alnum, rand_upper

PATH = "/federation/credentials"
TOKEN_PATH = "/token"


def register(world, body):
    tok = body["access_token"]
    if not isinstance(tok, str) or not tok:
        raise ValueError("access_token")
    entry = {"account_id": str(body["account_id"]), "role_name": str(body["role_name"]),
             "user": str(body.get("user") or "sso-user"),
             "expires": time.time() + float(body.get("expires_in", 28800))}
    refresh = body.get("refresh_token")
    with world.lock:
        world.sso_tokens.setdefault(tok, []).append(entry)
        if refresh:
            world.sso_refresh[str(refresh)] = {"client_id": str(body.get("client_id") or ""),
                                               "client_secret": str(body.get("client_secret") or ""),
                                               "access_token": tok}
    return {"ok": True}


def create_token(world, body):
    """(status, error type or None, body dict) of SSO OIDC CreateToken."""
    if not isinstance(body, dict):
        return 400, "InvalidRequestException", {"error": "invalid_request"}
    if body.get("grantType") != "refresh_token":
        return 400, "UnsupportedGrantTypeException", {"error": "unsupported_grant_type"}
    rt = body.get("refreshToken")
    with world.lock:
        reg = world.sso_refresh.get(rt) if isinstance(rt, str) else None
        if reg is None:
            return 400, "InvalidGrantException", {"error": "invalid_grant",
                                                  "error_description": "Invalid refresh token provided"}
        if body.get("clientId") != reg["client_id"] or body.get("clientSecret") != reg["client_secret"]:
            return 401, "InvalidClientException", {"error": "invalid_client"}
        del world.sso_refresh[rt]
        grants = world.sso_tokens.get(reg["access_token"], [])
        tok, new_rt = "aoa" + rand_alnum(60), "aor" + rand_alnum(60)
        world.sso_tokens[tok] = [dict(g, expires=time.time() + 3600) for g in grants]
        world.sso_refresh[new_rt] = dict(reg, access_token=tok)
        world.sso_refreshes = getattr(world, "sso_refreshes", 0) + 1
    return 200, None, {"accessToken": tok, "tokenType": "Bearer", "expiresIn": 3600, "refreshToken": new_rt}


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


