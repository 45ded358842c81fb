"""deploy/kafka/create-topics: it parses (bash -n), and run against a
recording stand-in for kafka-topics.sh it creates exactly the topics the
code uses (lib/wire/kafka.h's suffixes under FLEETCRYPT_TOPIC_PREFIX), each
with replication factor 3 and min.insync.replicas 2, and no more steps
partitions than... at least as many as the workers KEDA may start."""
import os
import stat
import subprocess

import deploy_util as du
from fclib import REPO

SCRIPT = os.path.join(REPO, "deploy", "kafka", "create-topics")


def fake_kafka_topics(tmp_path):
    log = tmp_path / "calls"
    stub = tmp_path / "kafka-topics.sh"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "' + str(log) + '"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return stub, log


def run(tmp_path, *args, env=None):
    stub, log = fake_kafka_topics(tmp_path)
    e = {"PATH": "/usr/bin:/bin", "KAFKA_TOPICS": str(stub)}
    e.update(env or {})
    r = subprocess.run([SCRIPT, "--bootstrap-server", "b-1.example:9096", *args],
                       capture_output=True, text=True, env=e, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return r, calls


def creates(calls):
    out = {}
    for c in calls:
        w = c.split()
        if "--create" in w:
            topic = w[w.index("--topic") + 1]
            configs = dict(w[i + 1].split("=", 1) for i, x in enumerate(w) if x == "--config")
            out[topic] = {"partitions": int(w[w.index("--partitions") + 1]),
                          "rf": int(w[w.index("--replication-factor") + 1]), "configs": configs, "argv": w}
    return out


def expected_topics(prefix):
    sep = du.topic_separator()
    return {prefix + sep + s for s in du.topic_suffixes().values()}


def test_script_parses():
    r = subprocess.run(["bash", "-n", SCRIPT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.access(SCRIPT, os.X_OK)


def test_creates_exactly_the_topics_the_code_uses(tmp_path):
    r, calls = run(tmp_path)
    assert r.returncode == 0, r.stderr
    made = creates(calls)
    default_prefix = du.config_table()["FLEETCRYPT_TOPIC_PREFIX"]["default"]
    assert set(made) == expected_topics(default_prefix)
    for t, m in made.items():
        assert m["rf"] == 3, t
        assert m["configs"]["min.insync.replicas"] == "2", t
        assert int(m["configs"]["retention.ms"]) > 0, t
        assert m["configs"].get("unclean.leader.election.enable") == "false", t
        assert "--if-not-exists" in m["argv"] and "--bootstrap-server" in m["argv"]
    steps = made[default_prefix + du.topic_separator() + du.topic_suffixes()["steps"]]
    assert steps["partitions"] >= 12, "the steps topic bounds how many workers can share the work"


def test_prefix_from_the_environment_and_flag(tmp_path):
    r, calls = run(tmp_path, env={"FLEETCRYPT_TOPIC_PREFIX": "prod-fc"})
    assert r.returncode == 0, r.stderr
    assert set(creates(calls)) == expected_topics("prod-fc")
    (tmp_path / "calls").unlink()
    r, calls = run(tmp_path, "--prefix", "x1", env={"FLEETCRYPT_TOPIC_PREFIX": "prod-fc"})
    assert r.returncode == 0, r.stderr
    assert set(creates(calls)) == expected_topics("x1")


def test_dry_run_calls_nothing_and_bad_input_is_refused(tmp_path):
    r, calls = run(tmp_path, "--dry-run")
    assert r.returncode == 0 and not calls
    assert all(t in r.stdout for t in expected_topics("fleetcrypt"))
    r, calls = run(tmp_path, "--prefix", "bad prefix!")
    assert r.returncode == 2 and not calls
    r, calls = run(tmp_path, "--no-such-flag")
    assert r.returncode == 2 and not calls
    r = subprocess.run([SCRIPT], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "bootstrap" in r.stderr
