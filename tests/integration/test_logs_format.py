"""Structured logs (issue 7): a tiny `offline` campaign (two metadata-only
emulator instances) with FLEETCRYPT_LOG_FORMAT=json for the coordinator and
the workers. Every line of their logs parses as one JSON object with the
fixed keys ts, level, svc, msg and no key twice (the step context is not
repeated as an extra pair; librdkafka's messages go through the same
logger); every line about an instance (it has an
`instance` key) also carries campaign, step and attempt, set with
log_ctx_set() rather than ad-hoc pairs; the step lines of both instances are
there (coordinator admission and worker steps); no line holds the
emulator's secret access key.
"""
import glob
import json
import os

import pytest

from fixtures_awssim import SECRET_KEY
from fixtures_stack import make_stack

IDS = ["lg-a", "lg-b"]
FIXED = ("ts", "level", "svc", "msg")
CTX = ("campaign", "instance", "step", "attempt")


@pytest.fixture
def json_stack(world, awssim):
    s = make_stack(world, awssim, env_extra={"FLEETCRYPT_LOG_FORMAT": "json"})
    try:
        yield s
    finally:
        s.stop()


def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    assert not dup, f"duplicate keys {dup}"
    return dict(pairs)


def test_logs_json_context(json_stack):
    stack = json_stack
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(IDS, storage=20)
    key = stack.make_key()
    stack.sim.admin("POST", "/config", {"time_scale": 1 / 300.0})
    stack.start()
    r = stack.cli("submit", "--campaign", "lg", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", 2, "--yes", *IDS)
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("lg", 120)
    assert st["counts"]["done"] == len(IDS), st
    for p in stack.workers + stack.coordinators:
        p.stop(timeout=30)

    paths = sorted(glob.glob(os.path.join(stack.logs, "worker-*.log")) +
                   glob.glob(os.path.join(stack.logs, "coordinator-*.log")))
    assert len(paths) == 3, paths
    seen = {"coordinator": set(), "worker": set()}
    nlines = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        assert SECRET_KEY not in text, f"{path} holds the secret access key"
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line, object_pairs_hook=no_dupes)
            except (ValueError, AssertionError) as e:
                raise AssertionError(f"{path}:{n}: not JSON ({e}): {line[:300]}") from None
            nlines += 1
            assert isinstance(doc, dict), f"{path}:{n}: {line[:300]}"
            missing = [k for k in FIXED if k not in doc]
            assert not missing, f"{path}:{n}: missing {missing}: {line[:300]}"
            if "instance" in doc or "step" in doc:
                missing = [k for k in CTX if k not in doc]
                assert not missing, f"{path}:{n}: a line about an instance lacks {missing}: {line[:300]}"
                assert doc["campaign"] == "lg" and doc["instance"] in IDS, f"{path}:{n}: {line[:300]}"
                assert int(doc["attempt"]) >= 1 and doc["step"], f"{path}:{n}: {line[:300]}"
                seen[doc["svc"] if doc["svc"] in seen else "worker"].add(doc["instance"])
    assert nlines > 10
    # both services logged about both instances with their context
    assert seen["coordinator"] == set(IDS), seen
    assert seen["worker"] == set(IDS), seen
