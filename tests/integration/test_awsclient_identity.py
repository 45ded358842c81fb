"""AWS identity as the SDKs resolve it, end to end through the C client
(build/tests/fc_aws_call) against the loopback stand-in (SigV4 checked with
botocore): `credential_process` in a profile (JSON Version 1; its output is
never logged), container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI /
_RELATIVE_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE], taken before
IMDS), and AWS_MAX_ATTEMPTS / AWS_RETRY_MODE (environment, then the
profile's max_attempts / retry_mode) when the caller set no maximum."""
import json
import os
import stat
import sys

import pytest

from awsclient_standin import AKID, SECRET, env_for
from awsclient_util import call, ok

# fixtures of conftest.py: `standin` (awsclient_standin.py), `driver_built` (awsclient_util.py)
pytestmark = pytest.mark.usefixtures("driver_built")


def actions(s):
    return [c["action"] for c in s.calls]


def write_process(world, name, payload, exit_code=0):
    """A credential_process program printing payload (dict or raw text)."""
    path = os.path.join(world, name)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    with open(path, "w") as f:
        f.write(f"#!{sys.executable}\nimport sys\nsys.stdout.write({text!r})\nsys.exit({exit_code})\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def write_config(world, text):
    aws = os.path.join(world, ".aws")
    os.makedirs(aws, exist_ok=True)
    with open(os.path.join(aws, "config"), "w") as f:
        f.write(text)


# ---------------------------------------------------------------- credential_process

def test_credential_process_profile(standin, world):
    akid, secret, token = standin.issue_temp()
    prog = write_process(world, "creds", {"Version": 1, "AccessKeyId": akid, "SecretAccessKey": secret,
                                          "SessionToken": token, "Expiration": "2099-01-01T00:00:00Z"})
    write_config(world, f"[profile proc]\nregion = us-east-1\ncredential_process = {prog} --profile x\n"
                        "[profile cross]\nrole_arn = arn:aws:iam::222222222222:role/c\nsource_profile = proc\n")
    env = env_for(standin, world, AWS_PROFILE="proc", FLEETCRYPT_LOG_LEVEL="debug")
    env.pop("AWS_REGION")  # the region comes from the profile too
    out = call(env, "sts_get_caller_identity")
    assert ok(out)["user_id"] == akid
    # the process's output (the secret and the token) never reaches the log
    assert secret not in out["stderr"] and token not in out["stderr"]
    assert "source=process" in out["stderr"], out["stderr"][-2000:]
    # a role on top of a credential_process source profile
    standin.calls.clear()
    r = ok(call(env_for(standin, world, AWS_PROFILE="cross"), "sts_get_caller_identity"))
    assert ":assumed-role/" in r["arn"]
    assert actions(standin) == ["AssumeRole", "GetCallerIdentity"]


def test_credential_process_without_session_token(standin, world):
    prog = write_process(world, "creds", {"Version": 1, "AccessKeyId": AKID, "SecretAccessKey": SECRET})
    write_config(world, f"[default]\ncredential_process = {prog}\n")
    assert ok(call(env_for(standin, world), "sts_get_caller_identity"))["user_id"] == AKID


@pytest.mark.parametrize("payload,exit_code,what", [
    ({"Version": 2, "AccessKeyId": AKID, "SecretAccessKey": SECRET}, 0, "Version"),
    ({"Version": 1, "AccessKeyId": AKID}, 0, "SecretAccessKey"),
    ("not json at all " + SECRET, 0, "JSON"),
    ({"Version": 1, "AccessKeyId": AKID, "SecretAccessKey": SECRET}, 3, "exited with status 3"),
    ({"Version": 1, "AccessKeyId": AKID, "SecretAccessKey": SECRET, "Expiration": "tomorrow"}, 0,
     "Expiration"),
])
def test_credential_process_bad_output_fails_without_leaking(standin, world, payload, exit_code, what):
    prog = write_process(world, "creds", payload, exit_code)
    write_config(world, f"[profile proc]\ncredential_process = {prog}\n")
    out = call(env_for(standin, world, AWS_PROFILE="proc", FLEETCRYPT_LOG_LEVEL="debug"),
               "sts_get_caller_identity")
    assert not out["ok"] and out["calls"] == []
    assert what in out["error"]["message"], out["error"]
    assert SECRET not in json.dumps(out["error"]) and SECRET not in out["stderr"]


# ---------------------------------------------------------------- container credentials

def test_container_full_uri_with_token_before_imds(standin, world):
    env = env_for(standin, world, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/container/creds",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN=standin.container_token,
                  # IMDS is there and enabled: the container source comes first
                  AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url,
                  FLEETCRYPT_LOG_LEVEL="debug")
    out = call(env, "sts_get_caller_identity")
    assert ok(out)["user_id"].startswith("ASIA")
    assert actions(standin) == ["container-get", "GetCallerIdentity"]
    assert standin.container_token not in out["stderr"]


def test_container_token_file_wins_over_token(standin, world):
    tok = os.path.join(world, "eks-pod-identity-token")
    with open(tok, "w") as f:
        f.write(standin.container_token)
    env = env_for(standin, world, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/container/creds",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tok, AWS_CONTAINER_AUTHORIZATION_TOKEN="stale")
    assert ok(call(env, "sts_get_caller_identity"))["user_id"].startswith("ASIA")
    # a wrong token: the agent refuses, the chain stops there (no IMDS fallback)
    with open(tok, "w") as f:
        f.write("wrong")
    standin.calls.clear()
    env.update(AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url)
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and "401" in out["error"]["message"], out["error"]
    assert "imds-token" not in actions(standin)


def test_container_relative_uri_and_full_uri_rules(standin, world):
    # a relative URI goes to the ECS agent's fixed address: unreachable here, so
    # it fails, naming that address, and never falls back to IMDS
    env = env_for(standin, world, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/abc",
                  AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url)
    out = call(env, "sts_get_caller_identity", opts=["--timeout-ms", "500"])
    assert not out["ok"] and "169.254.170.2" in out["error"]["message"], out["error"]
    assert "imds-token" not in actions(standin)
    # plain http to a host that is neither loopback nor an agent address is refused
    env = env_for(standin, world, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.10/creds")
    out = call(env, "sts_get_caller_identity")
    assert not out["ok"] and out["error"]["code"] == "InvalidConfig", out["error"]


# ---------------------------------------------------------------- retries

def attempts(s, action):
    return [c for c in s.calls if c["action"] == action]


def throttled_attempts(standin, env, opts=()):
    standin.calls.clear()
    standin.faults["throttle"] = 100
    out = call(env, "describe_db_instances", opts=["--base-ms", "5", "--cap-ms", "20", *opts])
    standin.faults["throttle"] = 0
    assert not out["ok"] and out["error"]["code"] == "Throttling", out["error"]
    return len(attempts(standin, "DescribeDBInstances"))


def test_max_attempts_and_retry_mode(standin, world):
    keys = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET}
    assert throttled_attempts(standin, env_for(standin, world, **keys)) == 3  # standard mode
    assert throttled_attempts(standin, env_for(standin, world, AWS_MAX_ATTEMPTS="4", **keys)) == 4
    assert throttled_attempts(standin, env_for(standin, world, AWS_RETRY_MODE="legacy", **keys)) == 5
    assert throttled_attempts(standin, env_for(standin, world, AWS_RETRY_MODE="adaptive", **keys)) == 3
    # the caller's explicit maximum wins over the environment
    assert throttled_attempts(standin, env_for(standin, world, AWS_MAX_ATTEMPTS="6", **keys),
                              opts=["--max-attempts", "2"]) == 2
    # the profile's settings, under the environment's
    write_config(world, "[default]\nmax_attempts = 2\nretry_mode = standard\n")
    assert throttled_attempts(standin, env_for(standin, world, **keys)) == 2
    assert throttled_attempts(standin, env_for(standin, world, AWS_MAX_ATTEMPTS="4", **keys)) == 4
    # bad values are errors, as in the SDKs, before any request
    for bad in ({"AWS_MAX_ATTEMPTS": "0"}, {"AWS_MAX_ATTEMPTS": "three"}, {"AWS_RETRY_MODE": "fast"}):
        standin.calls.clear()
        out = call(env_for(standin, world, **keys, **bad), "describe_db_instances")
        assert not out["ok"] and out["error"]["code"] == "InvalidConfig", (bad, out["error"])
        assert standin.calls == []
