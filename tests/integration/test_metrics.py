"""Prometheus metrics (issue 7): workers and the coordinator serve /metrics
at FLEETCRYPT_METRICS_ADDR (port 0 → the bound port is logged). Scraped
during and after a small `offline` campaign (metadata-only instances) and
parsed with the real text-format parser (Debian's python3-prometheus-client):
step counters are non-zero and move, the step-duration histogram, AWS call
counters and the consumer-lag gauges exist, and the coordinator's
instances-by-state gauges match Redis. With two coordinators only the active
one exports the fleet-wide gauges (fc_instances, fc_instances_stuck,
fc_aws_bucket_*) and fc_coordinator_leader 1; every service exports
fc_build_info{version} and the process_* metrics.
"""
import os
import re
import subprocess
import time
import urllib.request

import pytest
# a declared test dependency (deploy/install-deps, checked by CMake): an
# import failure fails the test run, never a skip
from prometheus_client import parser

from fclib import BIN_DIR, wait_until
from fixtures_stack import Stack

# the offline strategy's steps (worker/strategies/offline.c)
OFFLINE_STEPS = ("preflight", "rename-source", "stop-source", "snapshot", "copy-encrypted", "restore",
                 "configure-target", "retire-source", "cleanup")


def port_of(proc):
    def find():
        with open(proc.log_path, errors="replace") as f:
            m = re.search(r"metrics listening.*?port=(\d+)", f.read())
        return int(m.group(1)) if m else None
    return wait_until(find, 15, interval=0.2, what=f"metrics port in {proc.log_path}")


def scrape(port):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for fam in parser.text_string_to_metric_families(body):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(m, name, **want):
    return sum(v for labels, v in m.get(name, []) if all(labels.get(k) == x for k, x in want.items()))


@pytest.fixture
def mstack(world, awssim):
    s = Stack(world, awssim, env_extra={"FLEETCRYPT_METRICS_ADDR": "127.0.0.1:0"})
    try:
        yield s
    finally:
        s.stop()


def test_metrics_scraped_during_campaign(mstack):
    stack = mstack
    ids = ["met-a", "met-b", "met-c"]
    sim = stack.sim
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=500)
    key = stack.make_key()
    sim.admin("POST", "/config", {"time_scale": 4 / 3120.0})
    stack.start()
    wports = [port_of(w) for w in stack.workers]
    cport = port_of(stack.coordinators[0])
    r = stack.cli("submit", "--campaign", "met", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", "3", "--yes", *ids)
    assert r.returncode == 0, r.stderr

    def started():
        return sum(total(scrape(p), "fc_steps_started_total") for p in wports)
    wait_until(lambda: started() > 0, 60, interval=0.5, what="a step counted")
    mid = [scrape(p) for p in wports]
    first = sum(total(m, "fc_steps_finished_total") for m in mid)
    # the lag gauge is there while the campaign runs (statistics every 5 s)
    wait_until(lambda: all("fc_kafka_consumer_lag_messages" in scrape(p) for p in wports), 20, interval=0.5, what="lag gauge")
    st = stack.wait_campaign("met", 180)
    assert st["counts"]["done"] == 3
    end = [scrape(p) for p in wports]
    finished = sum(total(m, "fc_steps_finished_total") for m in end)
    # the counters move: more finished at the end than mid-campaign, and at
    # least every step of every instance once
    assert finished > first, (first, finished)
    assert finished >= len(ids) * len(OFFLINE_STEPS), finished
    for step in OFFLINE_STEPS:
        assert sum(total(m, "fc_steps_started_total", strategy="offline", step=step) for m in end) >= len(ids), step
    assert sum(total(m, "fc_step_duration_seconds_count", strategy="offline") for m in end) > 0
    assert sum(total(m, "fc_aws_calls_total", service="rds") for m in end) > 0
    for m in end:
        assert "fc_kafka_consumer_lag_messages" in m and "fc_dlq_messages_total" in m, sorted(m)
        # a gauge is never named like a counter
        assert not any(k.startswith("fc_kafka_consumer_lag_total") for k in m), sorted(m)
        assert total(m, "fc_dlq_messages_total") == 0, m["fc_dlq_messages_total"]
    # every step message was processed: each worker's lag drains to 0 and its
    # total is the sum of its per-partition gauges (statistics every 5 s)
    for p in wports:
        def drained(p=p):
            m = scrape(p)
            lag = total(m, "fc_kafka_consumer_lag_messages")
            return m if lag == 0 and total(m, "fc_kafka_consumer_lag") == lag else None
        wait_until(drained, 30, interval=0.5, what=f"consumer lag 0 on the worker at :{p}")

    time.sleep(1)
    c = scrape(cport)
    for state in ("pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"):
        want = int(stack.redis.cli("HGET", "fc:{met}:counts", state))
        assert total(c, "fc_instances", campaign="met", state=state) == want, (state, c.get("fc_instances"))
    assert total(c, "fc_instances_stuck", campaign="met") == 0
    assert "fc_lease_takeovers_total" in c and "fc_leader_acquired_total" in c
    assert total(c, "fc_leader_acquired_total") >= 1
    assert any(k == "fc_aws_bucket_tokens" for k in c), sorted(c)


def test_only_the_active_coordinator_exports_fleet_counts(mstack):
    stack = mstack
    stack.n_workers = 1
    stack.start()
    stack.start_coordinator()
    cports = [port_of(c) for c in stack.coordinators]
    wport = port_of(stack.workers[0])
    r = stack.cli("submit", "--campaign", "lead", "--kms-key", "alias/none", "--strategy", "noop",
                  "--max-parallel", "2", "lead-a", "lead-b")
    assert r.returncode == 0, r.stderr
    stack.wait_campaign("lead", 60)

    def roles():
        ms = [scrape(p) for p in cports]
        leaders = [m for m in ms if total(m, "fc_coordinator_leader") == 1]
        standby = [m for m in ms if "fc_coordinator_leader" in m and total(m, "fc_coordinator_leader") == 0]
        return (leaders[0], standby[0]) if len(leaders) == 1 and len(standby) == 1 else None
    leader, standby = wait_until(roles, 30, interval=0.5, what="one active and one standby coordinator")
    assert total(leader, "fc_instances", campaign="lead", state="done") == 2, leader.get("fc_instances")
    # the standby exports no fleet-wide series: sum() over coordinators counts each instance once
    for name in ("fc_instances", "fc_instances_stuck", "fc_aws_bucket_tokens", "fc_aws_bucket_rate"):
        assert name not in standby, (name, standby.get(name))
    version = subprocess.run([os.path.join(BIN_DIR, "fleetcrypt"), "--version"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    for m in (leader, standby, scrape(wport)):
        assert m["fc_build_info"] == [({"version": version}, 1.0)], m.get("fc_build_info")
        for name in ("process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds"):
            assert total(m, name) > 0, (name, sorted(m))
        assert "process_cpu_seconds_total" in m, sorted(m)
