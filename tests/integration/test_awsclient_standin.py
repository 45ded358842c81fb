"""The C AWS client end to end against a loopback stand-in that verifies
SigV4 with botocore: every credential source (env, shared files + profile,
role_arn/source_profile, web identity, IMDSv2, cross-account AssumeRole with a
session token), bounded retries with jitter on throttling and 5xx, fail-fast
on a wrong secret, Marker paging. No emulator needed (see
test_awsclient_awssim.py for every action against awssim)."""
import os
import re

import pytest

from awsclient_standin import AKID, SECRET, env_for
from awsclient_util import call, ok

# fixtures of conftest.py: `standin` (awsclient_standin.py), `driver_built` (awsclient_util.py)
pytestmark = pytest.mark.usefixtures("driver_built")


def attempts(s, action):
    return [c for c in s.calls if c["action"] == action]


def test_env_credentials(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    r = ok(call(env, "sts_get_caller_identity"))
    assert r["account"] == "123456789012"
    assert r["user_id"] == AKID


def test_env_session_token_from_assume_role(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    a = ok(call(env, "sts_assume_role", "role_arn=arn:aws:iam::222222222222:role/x",
                "session_name=s1", opts=["--show-secrets"]))
    assert a["has_token"] and a["access_key_id"].startswith("ASIA")
    env2 = env_for(standin, world, AWS_ACCESS_KEY_ID=a["access_key_id"],
                   AWS_SECRET_ACCESS_KEY=a["secret_access_key"], AWS_SESSION_TOKEN=a["session_token"])
    r = ok(call(env2, "sts_get_caller_identity"))
    assert r["user_id"] == a["access_key_id"]
    assert ":assumed-role/" in r["arn"]
    # the same key without its token is refused (the token really is sent and checked)
    env3 = dict(env2)
    del env3["AWS_SESSION_TOKEN"]
    out = call(env3, "sts_get_caller_identity")
    assert not out["ok"] and out["error"]["code"] == "InvalidClientTokenId"


def test_cross_account_role_arn_option(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    r = ok(call(env, "sts_get_caller_identity",
                opts=["--role-arn", "arn:aws:iam::222222222222:role/fleetcrypt"]))
    assert ":assumed-role/" in r["arn"]
    assert [c["action"] for c in standin.calls] == ["AssumeRole", "GetCallerIdentity"]


def test_shared_files_and_profiles(standin, world):
    aws = os.path.join(world, ".aws")
    os.makedirs(aws)
    with open(os.path.join(aws, "credentials"), "w") as f:
        f.write(f"[default]\naws_access_key_id = WRONGWRONG\naws_secret_access_key = nope\n"
                f"[ops]\naws_access_key_id = {AKID}\naws_secret_access_key = {SECRET}\n")
    with open(os.path.join(aws, "config"), "w") as f:
        f.write("[profile ops]\nregion = us-east-1\n"
                "[profile cross]\nrole_arn = arn:aws:iam::222222222222:role/c\nsource_profile = ops\n")
    env = env_for(standin, world, AWS_PROFILE="ops")
    env.pop("AWS_REGION")  # region comes from the profile
    assert ok(call(env, "sts_get_caller_identity"))["user_id"] == AKID
    # default profile holds a wrong key: signature/identity rejected, one attempt
    out = call(env_for(standin, world), "sts_get_caller_identity")
    assert out["error"]["code"] == "InvalidClientTokenId" and len(out["calls"]) == 1
    # role_arn + source_profile → AssumeRole signed with ops' keys
    r = ok(call(env_for(standin, world, AWS_PROFILE="cross"), "sts_get_caller_identity"))
    assert ":assumed-role/" in r["arn"]
    # explicit file locations
    env = env_for(standin, world, AWS_PROFILE="ops", HOME="/nonexistent",
                  AWS_SHARED_CREDENTIALS_FILE=os.path.join(aws, "credentials"),
                  AWS_CONFIG_FILE=os.path.join(aws, "config"))
    assert ok(call(env, "sts_get_caller_identity"))["user_id"] == AKID
    # a named profile that does not exist fails clearly
    out = call(env_for(standin, world, AWS_PROFILE="nosuch"), "sts_get_caller_identity")
    assert out["error"]["code"] == "ProfileNotFound" and out["calls"] == []


def test_web_identity(standin, world):
    tok = os.path.join(world, "token")
    with open(tok, "w") as f:
        f.write("oidc-token-123\n")
    env = env_for(standin, world, AWS_WEB_IDENTITY_TOKEN_FILE=tok,
                  AWS_ROLE_ARN="arn:aws:iam::123456789012:role/k8s", AWS_ROLE_SESSION_NAME="pod-1")
    r = ok(call(env, "sts_get_caller_identity"))
    assert ":assumed-role/" in r["arn"]
    assert [c["action"] for c in standin.calls] == ["AssumeRoleWithWebIdentity", "GetCallerIdentity"]
    with open(tok, "w") as f:
        f.write("forged")
    out = call(env, "sts_get_caller_identity")
    assert out["error"]["code"] == "InvalidIdentityToken"


def test_imdsv2(standin, world):
    env = env_for(standin, world, AWS_EC2_METADATA_DISABLED="false",
                  AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url)
    r = ok(call(env, "sts_get_caller_identity"))
    assert r["user_id"].startswith("ASIA")
    acts = [c["action"] for c in standin.calls]
    assert acts[:3] == ["imds-token", "imds-get", "imds-get"], acts
    # disabled: no credentials at all
    out = call(env_for(standin, world, AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url),
               "sts_get_caller_identity")
    assert out["error"]["code"] == "NoCredentials"


def test_wrong_secret_fails_fast(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY="wrong")
    out = call(env, "describe_db_instances", opts=["--max-attempts", "5"])
    assert out["error"]["code"] == "SignatureDoesNotMatch"
    assert out["error"]["kind"] == "auth"
    assert len(attempts(standin, "DescribeDBInstances")) == 1
    assert len(out["calls"]) == 1


@pytest.mark.parametrize("fault,code", [("throttle", "Throttling"), ("http5xx", "ServiceUnavailable")])
def test_bounded_retries_with_jitter(standin, world, fault, code):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    gaps = []
    for _ in range(6):
        standin.calls.clear()
        standin.faults[fault] = 100
        out = call(env, "describe_db_instances", opts=["--max-attempts", "4", "--base-ms", "50",
                                                      "--cap-ms", "400"])
        assert not out["ok"] and out["error"]["code"] == code
        a = attempts(standin, "DescribeDBInstances")
        assert len(a) == 4, f"expected exactly 4 attempts, got {len(a)}"
        assert len(out["calls"]) == 4
        # the client's own record of each wait it chose ("aws call retry"
        # log lines, try=1..3 in order): full jitter within [0, min(cap,
        # base*2^n)], checked as numbers, not as seconds measured here
        retries = [(int(m.group(1)), int(m.group(2))) for m in
                   re.finditer(r"aws call retry.*?try=(\d+) delay_ms=(\d+)", out["stderr"])]
        assert [t for t, _ in retries] == [1, 2, 3], retries
        for n, (_, d) in enumerate(retries):
            assert 0 <= d <= min(400, 50 * 2 ** n), (n, d)
        # ... and really waited before the next attempt (a lower bound, which a
        # slow machine cannot break): attempts in order, each gap >= its delay
        ts = [c["t"] for c in a]
        assert ts == sorted(ts), ts
        for n, (_, d) in enumerate(retries):
            assert ts[n + 1] - ts[n] >= d / 1000.0 - 0.002, (n, d, ts)
        gaps.append([d for _, d in retries])
    # ... and not constant: the third wait varies across runs (0..200 ms drawn
    # six times: all equal has probability ~1e-11)
    assert len({g[2] for g in gaps}) > 1, gaps
    # recovery after faults: success on the last attempt
    standin.faults[fault] = 2
    out = call(env, "describe_db_instances", opts=["--max-attempts", "3", "--base-ms", "10"])
    assert out["ok"] and [c["status"] for c in out["calls"]][-1] == 200


def test_kms_throttling_is_retried(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    standin.faults["throttle"] = 1
    out = call(env, "kms_describe_key", "key=alias/x", opts=["--base-ms", "5"])
    r = ok(out)
    assert r["key_id"] == "k-1" and r["enabled"] is True
    assert [c["code"] for c in out["calls"]] == ["ThrottlingException", None]


def test_paging_walks_marker(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    r = ok(call(env, "describe_db_instances", "max_records=3", "each=1"))
    assert r["pages"] == 3
    assert r["identifiers"] == [f"db{i:02d}" for i in range(7)]
    r = ok(call(env, "describe_db_instances", "max_records=3"))
    assert [i["identifier"] for i in r["instances"]] == [f"db{i:02d}" for i in range(7)]
    assert r["instances"][0]["port"] == 5432
    r = ok(call(env, "describe_db_instances", "max_records=3", "page=1"))
    assert len(r["instances"]) == 3 and r["marker"] == "3"


def test_no_secret_in_debug_log(standin, world):
    env = env_for(standin, world, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
                  FLEETCRYPT_LOG_LEVEL="debug")
    a = ok(call(env, "sts_assume_role", "role_arn=arn:aws:iam::1:role/x", opts=["--show-secrets"]))
    env2 = env_for(standin, world, AWS_ACCESS_KEY_ID=a["access_key_id"],
                   AWS_SECRET_ACCESS_KEY=a["secret_access_key"], AWS_SESSION_TOKEN=a["session_token"],
                   FLEETCRYPT_LOG_LEVEL="debug")
    standin.faults["http5xx"] = 1
    out = call(env2, "describe_db_instances", opts=["--base-ms", "5"])
    assert out["ok"]
    log = out["stderr"]
    assert "aws call ok" in log and "aws call retry" in log
    for s in (SECRET, a["secret_access_key"], a["session_token"]):
        assert s not in log
