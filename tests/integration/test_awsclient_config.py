"""AWS configuration the way awscli and the SDKs read it, end to end through
the C client (build/tests/fc_aws_call):

- `AWS_CA_BUNDLE` and the profile's `ca_bundle`: the CA an https endpoint is
  verified against (a stand-in served over TLS by a private CA: refused
  without it, accepted with either; the variable wins over the profile);
- `endpoint_url` in the profile: under `AWS_ENDPOINT_URL_<SERVICE>` and
  `AWS_ENDPOINT_URL`, above the default; `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
  drops it too;
- `AWS_USE_FIPS_ENDPOINT` / `use_fips_endpoint`: `<service>-fips.<region>`
  endpoints, not when an endpoint URL is configured; a bad value is an error;
- `sso_session` profiles (and legacy `sso_start_url` ones): the token from
  the SSO cache (~/.aws/sso/cache/<sha1>.json) and GetRoleCredentials on the
  portal (awssim's), the token never logged; an expired or missing token
  says to run `aws sso login`; a token the portal refuses fails.
"""
import hashlib
import json
import os
import subprocess
import time

import pytest

from awsclient_standin import Standin
from awsclient_util import DRIVER, call, clean_env, ok

AKID = "AKIASTANDIN000000001"
SECRET = "standin/secret/key0000"


@pytest.fixture(autouse=True)
def driver_built():
    assert os.path.exists(DRIVER), f"{DRIVER} not built"


def write_config(home, text):
    aws = os.path.join(home, ".aws")
    os.makedirs(aws, exist_ok=True)
    with open(os.path.join(aws, "config"), "w") as f:
        f.write(text)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def private_ca(world):
    d = os.path.join(world, "pki")
    os.makedirs(d)
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", "/CN=fleetcrypt test private CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
            "-extfile", ext)
    other = os.path.join(d, "other-ca.pem")  # a CA that signed nothing here
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(d, "other.key"), "-out", other,
            "-days", "2", "-subj", "/CN=unrelated CA", "-addext", "basicConstraints=critical,CA:TRUE")
    return ca, crt, key, other


def test_ca_bundle_env_and_profile(world, private_ca):
    ca, crt, key, other = private_ca
    s = Standin(tls=(crt, key)).start()
    try:
        keys = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ENDPOINT_URL": s.url}
        # the system store does not know the private CA: refused, and not retried as if transient
        out = call(clean_env(world, **keys), "sts_get_caller_identity", opts=["--max-attempts", "1"])
        assert not out["ok"] and out["error"]["code"] == "NetworkError", out["error"]
        assert ok(call(clean_env(world, AWS_CA_BUNDLE=ca, **keys), "sts_get_caller_identity"))["account"]
        write_config(world, f"[default]\nca_bundle = {ca}\n")
        assert ok(call(clean_env(world, **keys), "sts_get_caller_identity"))["account"]
        # the variable wins over the profile
        out = call(clean_env(world, AWS_CA_BUNDLE=other, **keys), "sts_get_caller_identity",
                   opts=["--max-attempts", "1"])
        assert not out["ok"], out
        # a bundle that does not exist is a configuration error, before any request
        s.calls.clear()
        out = call(clean_env(world, AWS_CA_BUNDLE=os.path.join(world, "nope.pem"), **keys),
                   "sts_get_caller_identity")
        assert not out["ok"] and out["error"]["code"] == "InvalidConfig", out["error"]
        assert "nope.pem" in out["error"]["message"] and s.calls == []
    finally:
        s.stop()


def endpoints(world, **env):
    return ok(call(clean_env(world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, **env), "endpoints"))


def test_endpoint_url_in_profile(world):
    s = Standin().start()
    try:
        write_config(world, f"[default]\nendpoint_url = {s.url}\n")
        env = clean_env(world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
        assert ok(call(env, "sts_get_caller_identity"))["account"]
        assert [c["action"] for c in s.calls] == ["GetCallerIdentity"]
    finally:
        s.stop()
    write_config(world, "[default]\nendpoint_url = http://127.0.0.1:1/\n[profile other]\n"
                        "endpoint_url = http://127.0.0.1:2\n")
    e = endpoints(world)
    assert e["rds"] == e["kms"] == e["sts"] == e["secretsmanager"] == "http://127.0.0.1:1", e
    assert endpoints(world, AWS_PROFILE="other")["rds"] == "http://127.0.0.1:2"
    # the environment wins: the service's variable, then the global one
    e = endpoints(world, AWS_ENDPOINT_URL_RDS="http://127.0.0.1:3")
    assert e["rds"] == "http://127.0.0.1:3" and e["kms"] == "http://127.0.0.1:1", e
    assert endpoints(world, AWS_ENDPOINT_URL="http://127.0.0.1:4")["sts"] == "http://127.0.0.1:4"
    # ignoring configured endpoints drops the profile's too
    e = endpoints(world, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true", AWS_REGION="eu-west-1")
    assert e["rds"] == "https://rds.eu-west-1.amazonaws.com", e


def test_services_section(world):
    """`services = NAME` and `[services NAME]`: a service's endpoint_url
    under the environment's, above the profile's global one."""
    write_config(world, "[default]\nendpoint_url = http://127.0.0.1:1\nservices = local\n"
                        "[services local]\nrds =\n  endpoint_url = http://127.0.0.1:7/  # inline comment\n"
                        "  max_attempts = 2\nsecrets_manager =\n  endpoint_url = http://127.0.0.1:8\n"
                        "[services unused]\nkms =\n  endpoint_url = http://127.0.0.1:9\n"
                        "[profile plain]\nendpoint_url = http://127.0.0.1:2\n")
    e = endpoints(world)
    assert e["rds"] == "http://127.0.0.1:7" and e["secretsmanager"] == "http://127.0.0.1:8", e
    assert e["kms"] == e["sts"] == "http://127.0.0.1:1", e
    assert endpoints(world, AWS_PROFILE="plain")["rds"] == "http://127.0.0.1:2"
    # the environment wins over the services section, the global variable too
    assert endpoints(world, AWS_ENDPOINT_URL_RDS="http://127.0.0.1:3")["rds"] == "http://127.0.0.1:3"
    assert endpoints(world, AWS_ENDPOINT_URL="http://127.0.0.1:4")["rds"] == "http://127.0.0.1:4"
    e = endpoints(world, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true", AWS_REGION="eu-west-1")
    assert e["rds"] == "https://rds.eu-west-1.amazonaws.com", e
    # a profile naming a services section that does not exist is an error, as in the SDKs
    write_config(world, "[default]\nservices = missing\n")
    out = call(clean_env(world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET), "endpoints")
    assert not out["ok"] and out["error"]["code"] == "InvalidConfig", out["error"]
    assert "missing" in out["error"]["message"], out["error"]


def test_fips_endpoints(world):
    e = endpoints(world, AWS_USE_FIPS_ENDPOINT="true", AWS_REGION="us-west-2")
    assert e["rds"] == "https://rds-fips.us-west-2.amazonaws.com", e
    assert e["kms"] == "https://kms-fips.us-west-2.amazonaws.com", e
    assert e["sts"] == "https://sts-fips.us-west-2.amazonaws.com", e
    assert e["secretsmanager"] == "https://secretsmanager-fips.us-west-2.amazonaws.com", e
    assert endpoints(world, AWS_USE_FIPS_ENDPOINT="false")["rds"] == "https://rds.us-east-1.amazonaws.com"
    write_config(world, "[default]\nuse_fips_endpoint = true\n")
    assert endpoints(world)["rds"] == "https://rds-fips.us-east-1.amazonaws.com"
    # the variable wins over the profile
    assert endpoints(world, AWS_USE_FIPS_ENDPOINT="false")["rds"] == "https://rds.us-east-1.amazonaws.com"
    # a configured endpoint URL is used as it is
    assert endpoints(world, AWS_ENDPOINT_URL_RDS="http://127.0.0.1:5")["rds"] == "http://127.0.0.1:5"
    out = call(clean_env(world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_USE_FIPS_ENDPOINT="yes"),
               "endpoints")
    assert not out["ok"] and out["error"]["code"] == "InvalidConfig", out["error"]
    assert "AWS_USE_FIPS_ENDPOINT" in out["error"]["message"], out["error"]


# ---------------------------------------------------------------- SSO

def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def sso_cache(home, key, token, expires, **extra):
    d = os.path.join(home, ".aws", "sso", "cache")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(key.encode()).hexdigest() + ".json")
    with open(path, "w") as f:
        json.dump({"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": token,
                   "expiresAt": iso(expires), **extra}, f)
    return path


def test_sso_session_profile(awssim, world):
    info = awssim.info
    account = info["account_id"]
    token = "aoa-sso-access-token-" + "x" * 40
    awssim.admin("POST", "/sso/tokens", {"access_token": token, "account_id": account,
                                         "role_name": "FleetcryptOperator", "user": "alice@example.com"})
    write_config(world, "[profile op]\nsso_session = corp\n"
                        f"sso_account_id = {account}\nsso_role_name = FleetcryptOperator\nregion = us-east-1\n"
                        "[sso-session corp]\nsso_region = us-east-1\n"
                        "sso_start_url = https://corp.awsapps.com/start\nsso_registration_scopes = sso:account:access\n"
                        "[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n"
                        f"sso_account_id = {account}\nsso_role_name = FleetcryptOperator\n")
    cache = sso_cache(world, "corp", token, time.time() + 3600)
    env = clean_env(world, AWS_ENDPOINT_URL=info["endpoint"], AWS_PROFILE="op", FLEETCRYPT_LOG_LEVEL="debug")
    out = call(env, "sts_get_caller_identity")
    r = ok(out)
    assert r["account"] == account and "assumed-role/AWSReservedSSO_FleetcryptOperator_" in r["arn"], r
    assert r["arn"].endswith("/alice@example.com"), r
    assert "source=sso" in out["stderr"], out["stderr"][-2000:]
    assert token not in out["stderr"]
    portal = awssim.admin("GET", "/calls?action=GetRoleCredentials")["calls"]
    assert len(portal) == 1 and portal[0]["status"] == 200, portal

    # a legacy profile: the cache is keyed by the start URL
    sso_cache(world, "https://legacy.awsapps.com/start", token, time.time() + 3600)
    assert ok(call(dict(env, AWS_PROFILE="legacy"), "sts_get_caller_identity"))["account"] == account

    # an expired token: no request, the hint to log in again
    os.remove(cache)
    sso_cache(world, "corp", token, time.time() - 60)
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and "aws sso login --sso-session corp" in out["error"]["message"], out["error"]
    # no token at all
    os.remove(cache)
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and "aws sso login --sso-session corp" in out["error"]["message"], out["error"]
    # a token the portal does not know
    sso_cache(world, "corp", "not-a-token", time.time() + 3600)
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and "UnauthorizedException" in json.dumps(out["error"]), out["error"]
    # a role the user has no assignment for
    write_config(world, f"[profile op]\nsso_session = corp\nsso_account_id = {account}\nsso_role_name = Admin\n"
                        "[sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://corp.awsapps.com/start\n")
    sso_cache(world, "corp", token, time.time() + 3600)
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and "ForbiddenException" in json.dumps(out["error"]), out["error"]


def test_sso_token_refresh(awssim, world):
    """An sso_session profile's token near its end (15 minutes, as the SDKs)
    is refreshed with SSO OIDC CreateToken when the cache holds a refresh
    token and a registration that has not expired; the cache is rewritten
    (0600) with the new token. A refresh that fails leaves a token that is
    still valid in use; an expired one then says to log in again. Legacy
    profiles never refresh."""
    info = awssim.info
    account = info["account_id"]
    token, refresh = "aoa-near-end-" + "t" * 40, "aor-refresh-" + "r" * 40
    client = {"clientId": "fc-client-id", "clientSecret": "fc-client-secret-" + "s" * 30,
              "registrationExpiresAt": iso(time.time() + 86400)}
    awssim.admin("POST", "/sso/tokens", {"access_token": token, "account_id": account, "role_name": "Operator",
                                         "user": "bob@example.com", "expires_in": 600, "refresh_token": refresh,
                                         "client_id": client["clientId"], "client_secret": client["clientSecret"]})
    write_config(world, f"[profile op]\nsso_session = corp\nsso_account_id = {account}\nsso_role_name = Operator\n"
                        "region = us-east-1\n[sso-session corp]\nsso_region = us-east-1\n"
                        "sso_start_url = https://corp.awsapps.com/start\n"
                        f"[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n"
                        f"sso_account_id = {account}\nsso_role_name = Operator\n")
    cache = sso_cache(world, "corp", token, time.time() + 300, refreshToken=refresh, **client)
    env = clean_env(world, AWS_ENDPOINT_URL=info["endpoint"], AWS_PROFILE="op", FLEETCRYPT_LOG_LEVEL="debug")

    def refreshes():
        return awssim.admin("GET", "/calls?action=CreateToken")["calls"]

    out = call(env, "sts_get_caller_identity")
    assert ok(out)["account"] == account
    assert [c["status"] for c in refreshes()] == [200], refreshes()
    with open(cache) as f:
        now = json.load(f)
    assert now["accessToken"] != token and now["refreshToken"] != refresh, "the cache still holds the old token"
    assert now["clientSecret"] == client["clientSecret"] and now["startUrl"] == "https://corp.awsapps.com/start"
    left = aws_time(now["expiresAt"]) - time.time()
    assert 3000 < left <= 3600, now["expiresAt"]
    assert oct(os.stat(cache).st_mode & 0o777) == "0o600"
    for secret in (token, refresh, now["accessToken"], now["refreshToken"], client["clientSecret"]):
        assert secret not in out["stderr"], "a token or the client secret was logged"
    # a fresh token: no refresh
    assert ok(call(env, "sts_get_caller_identity"))["account"] == account
    assert len(refreshes()) == 1, refreshes()

    # a refresh the service refuses (a spent refresh token), the token still valid: the token is used
    sso_cache(world, "corp", now["accessToken"], time.time() + 120, refreshToken=refresh, **client)
    out = call(env, "sts_get_caller_identity")
    assert ok(out)["account"] == account
    assert refreshes()[-1]["status"] == 400, refreshes()
    # ... the same with an expired token: log in again, saying the refresh failed
    sso_cache(world, "corp", now["accessToken"], time.time() - 60, refreshToken=refresh, **client)
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and "aws sso login --sso-session corp" in out["error"]["message"], out["error"]
    assert "InvalidGrantException" in out["error"]["message"], out["error"]
    # an expired token with a good refresh token: refreshed, then used
    sso_cache(world, "corp", token, time.time() - 60, refreshToken=now["refreshToken"], **client)
    assert ok(call(env, "sts_get_caller_identity"))["account"] == account
    assert refreshes()[-1]["status"] == 200, refreshes()
    # a registration that has expired: no refresh is attempted
    n = len(refreshes())
    with open(cache) as f:
        cur = json.load(f)
    sso_cache(world, "corp", cur["accessToken"], time.time() + 120, refreshToken=cur["refreshToken"],
              **dict(client, registrationExpiresAt=iso(time.time() - 10)))
    assert ok(call(env, "sts_get_caller_identity"))["account"] == account
    assert len(refreshes()) == n, refreshes()
    # a legacy profile never refreshes
    sso_cache(world, "https://legacy.awsapps.com/start", cur["accessToken"], time.time() + 120,
              refreshToken=cur["refreshToken"], **client)
    assert ok(call(dict(env, AWS_PROFILE="legacy"), "sts_get_caller_identity"))["account"] == account
    assert len(refreshes()) == n, refreshes()


def aws_time(s):
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
