"""Helpers for test_awsclient_*: run build/tests/fc_aws_call and parse its JSON."""
import json
import os
import subprocess

import pytest

from fclib import REPO

BUILD = os.environ.get("FLEETCRYPT_BUILD_DIR", "build")
DRIVER = os.path.join(REPO, BUILD, "tests", "fc_aws_call") if not os.path.isabs(BUILD) else \
    os.path.join(BUILD, "tests", "fc_aws_call")


@pytest.fixture
def driver_built():
    """For a module's pytestmark (pytest.mark.usefixtures): a missing driver is
    a failure, not a skip (build it: FLEETCRYPT_BUILD_DIR)."""
    assert os.path.exists(DRIVER), f"{DRIVER} not built"


def clean_env(home, **extra):
    """An environment with no AWS_* leaking in from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": home, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "ASAN_OPTIONS": "detect_leaks=1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def call(env, action, *args, opts=(), timeout=120):
    argv = [DRIVER, *opts, action, *args]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    try:
        out = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"fc_aws_call {action}: no JSON (rc={r.returncode})\n"
                             f"stdout={r.stdout!r}\nstderr={r.stderr[-3000:]}")
    assert r.returncode == (0 if out["ok"] else 1), r.stderr[-2000:]
    out["stderr"] = r.stderr
    return out


def ok(out):
    assert out["ok"], f"expected success, got {out['error']}\n{out['stderr'][-2000:]}"
    return out["result"]
