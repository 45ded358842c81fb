"""After the switch (issue 6, step 10), on real servers: one pg-logical
campaign with `--db-secret rds-managed` on an instance whose master password
RDS manages in Secrets Manager, the coordinator checking every second
(FLEETCRYPT_RETIRED_CHECK_S=1):

- the source's managed secret rotated after the cutover (RotateSecret, as
  RDS's scheduled rotation): the encrypted instance accepts the new password
  from the secret as the master user through its endpoint, the old one no
  longer works, the record follows the new version, the coordinator counts
  and logs it;
- AWS's automatic start of the stopped retired source (7 days, forced by
  the emulator's admin call): the coordinator stops it again — seen as
  stopped → starting/available → stopping/stopped, with the RDS event, the
  StopDBInstance call, the campaign event and the Prometheus counter.
"""
import json
import re
import time
import urllib.request

from fclib import wait_until
from fixtures_awssim import psql
from fixtures_stack import Stack
from pglogical_strategy_util import MASTER, managed_secret_instance, master_login, wait_terminal

import pytest

CAMPAIGN = "ret1"
IDENT = "rs-1"


def metric(proc, name):
    with open(proc.log_path, errors="replace") as f:
        m = re.search(r"metrics listening.*?port=(\d+)", f.read())
    assert m, f"no metrics port in {proc.log_path}"
    body = urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/metrics", timeout=10).read().decode()
    vals = [float(x) for x in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", body, re.M)]
    return sum(vals)


login = master_login


def can_login(port, password):
    return login(port, password)[0]


def events(stack, kind):
    out = stack.redis.cli("XRANGE", f"fc:{{{CAMPAIGN}}}:events", "-", "+")
    return [ln for ln in out.splitlines() if ln == kind]


@pytest.fixture
def rstack(world, awssim):
    s = Stack(world, awssim, env_extra={"FLEETCRYPT_RETIRED_CHECK_S": "1", "FLEETCRYPT_METRICS_ADDR": "127.0.0.1:0"})
    try:
        yield s
    finally:
        s.stop()


def test_retired_source_kept_stopped_and_master_secret_followed(rstack, awssim):
    sim, stack = awssim, rstack
    rds, sm = sim.client("rds"), sim.client("secretsmanager")
    src, arn, _, old_pw = managed_secret_instance(sim, IDENT)
    port = src["Endpoint"]["Port"]
    psql(port, MASTER, old_pw, "CREATE TABLE a(id serial PRIMARY KEY, v int); INSERT INTO a(v) VALUES (1),(2);",
         db="app")
    key = stack.make_key()["Arn"]
    stack.start()
    r = stack.cli("submit", "--campaign", CAMPAIGN, "--kms-key", key, "--strategy", "pg-logical",
                  "--db-secret", "rds-managed", "--yes", IDENT)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, CAMPAIGN, timeout=240)
    assert st["instances"][0]["state"] == "done", f"{st}\n{stack.diagnostics()}"
    rec = f"fc:{{{CAMPAIGN}}}:i:{IDENT}"
    recorded = stack.redis.cli("HGET", rec, "f.master_secret_version")
    assert recorded, "prepare-source did not record the secret's version"
    stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert stages.get(recorded) == ["AWSCURRENT"], (recorded, stages)
    retired_id = stack.redis.cli("HGET", rec, "f.retired_id")
    assert retired_id and retired_id != IDENT, retired_id
    sim.wait_instance(retired_id, "stopped", timeout=60, rds=rds)
    target = sim.instance(IDENT, rds)
    assert target["StorageEncrypted"] and "MasterUserSecret" not in target, target
    tport = target["Endpoint"]["Port"]
    assert tport == port
    assert can_login(tport, old_pw), "the encrypted instance must start with the snapshot's password"
    coord = stack.coordinators[0]

    # (b) RDS rotates the source's secret after the cutover (awscli, as an operator would)
    rot = sim.cli("secretsmanager", "rotate-secret", "--secret-id", arn)
    new_pw = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"]
    assert new_pw != old_pw
    assert sm.describe_secret(SecretId=arn)["VersionIdsToStages"][rot["VersionId"]] == ["AWSCURRENT"]
    wait_until(lambda: can_login(tport, new_pw), 30, 0.5, "the encrypted instance accepting the rotated password")
    ok, err = login(tport, old_pw)
    assert not ok and "password authentication failed" in err, f"the old password: ok={ok} {err}"
    assert psql(tport, MASTER, new_pw, "SELECT count(*) FROM a", db="app").strip() == "2"
    wait_until(lambda: stack.redis.cli("HGET", rec, "f.master_secret_version") == rot["VersionId"], 10, 0.2,
               "the record following the new secret version")
    assert stack.redis.cli("HGET", rec, "f.master_secret_synced_at").isdigit()
    assert metric(coord, "fc_master_secret_propagated_total") == 1
    assert events(stack, "master-secret-followed"), "no master-secret-followed event in the campaign stream"
    time.sleep(2.5)   # two more checks: nothing propagated twice
    assert metric(coord, "fc_master_secret_propagated_total") == 1
    modifies = [c for c in stack.calls() if c["action"] == "ModifyDBInstance" and c.get("resource") == IDENT
                and c["status"] == 200]
    assert len(modifies) >= 1

    # (a) AWS starts the retired source after 7 days stopped; the coordinator stops it again
    assert metric(coord, "fc_retired_restopped_total") == 0
    t0 = time.time()
    sim.admin("POST", f"/instances/{retired_id}/auto-restart")
    seen = []

    def back_to_stopped():
        s = sim.instance(retired_id, rds)["DBInstanceStatus"]
        if not seen or seen[-1] != s:
            seen.append(s)
        return s == "stopped" and len(seen) > 1
    wait_until(back_to_stopped, 60, 0.05, f"{retired_id} stopped again")
    assert seen[0] in ("stopped", "starting", "available"), seen
    assert {"starting", "available"} & set(seen), f"the auto-start was never observed: {seen}"
    assert "stopping" in seen or seen[-1] == "stopped", seen
    ev = [e["Message"] for e in rds.describe_events(SourceType="db-instance", SourceIdentifier=retired_id,
                                                    Duration=60)["Events"]]
    auto = [i for i, m in enumerate(ev) if "maximum allowed time being stopped" in m]
    assert auto and any("DB instance stopped" in m for m in ev[auto[-1]:]), ev
    stops = [c for c in stack.calls() if c["action"] == "StopDBInstance" and c.get("resource") == retired_id
             and c["ts"] >= t0]
    assert len(stops) == 1 and stops[0]["status"] == 200, stops
    wait_until(lambda: metric(coord, "fc_retired_restopped_total") == 1, 10, 0.2, "restopped counter")
    assert events(stack, "retired-restopped"), "no retired-restopped event in the campaign stream"
    assert "restarted by AWS, stopped again" in open(coord.log_path).read()
    # the encrypted instance is untouched and still serves the rotated password
    assert sim.instance(IDENT, rds)["DBInstanceStatus"] == "available"
    assert can_login(tport, new_pw)


def test_offline_records_master_secret_and_coordinator_follows(rstack, awssim):
    """The offline strategy records the source's managed secret (ARN and
    AWSCURRENT version) at preflight like pg-logical, so the coordinator
    follows a rotation after `done` with the same rules: once, then in sync."""
    sim, stack = awssim, rstack
    rds, sm = sim.client("rds"), sim.client("secretsmanager")
    ident, campaign = "rs-off", "retoff"
    src, arn, v0, old_pw = managed_secret_instance(sim, ident, group=None)
    port = src["Endpoint"]["Port"]
    key = stack.make_key()["Arn"]
    stack.start()
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "offline", "--yes", ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, campaign, timeout=180)
    assert st["instances"][0]["state"] == "done", f"{st}\n{stack.diagnostics()}"
    rec = f"fc:{{{campaign}}}:i:{ident}"
    assert stack.redis.cli("HGET", rec, "f.master_secret_arn") == arn
    assert stack.redis.cli("HGET", rec, "f.master_secret_version") == v0
    enc = sim.instance(ident, rds)
    assert enc["StorageEncrypted"] and enc["Endpoint"]["Port"] == port
    assert can_login(port, old_pw), "the encrypted instance starts with the snapshot's password"
    coord = stack.coordinators[0]
    assert metric(coord, "fc_master_secret_propagated_total") == 0, "nothing to follow before a rotation"

    rot = sim.cli("secretsmanager", "rotate-secret", "--secret-id", arn)
    new_pw = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"]
    wait_until(lambda: can_login(port, new_pw), 30, 0.5, "the encrypted instance accepting the rotated password")
    ok, err = login(port, old_pw)
    assert not ok and "password authentication failed" in err, f"the old password: ok={ok} {err}"
    wait_until(lambda: stack.redis.cli("HGET", rec, "f.master_secret_version") == rot["VersionId"], 10, 0.2,
               "the record following the new secret version")
    time.sleep(2.5)   # more checks: propagated exactly once
    assert metric(coord, "fc_master_secret_propagated_total") == 1


@pytest.mark.slow
def test_offline_xacct_master_secret_followed_in_target_account(rstack, awssim):
    """Across accounts (--target-account-role): the source's managed secret
    stays in the source account, the encrypted instance lives in the target
    account under the source's identifier. A rotation after `done` reaches
    that instance: the coordinator assumes the campaign's target role (as
    the workers do) to set the password there; the external id is in no
    log."""
    from test_pglogical_xacct import Target, xacct_args
    sim, stack = awssim, rstack
    tgt = Target(sim)
    sm = sim.client("secretsmanager")
    ident, campaign = "rs-xoff", "retxoff"
    src, arn, v0, old_pw = managed_secret_instance(sim, ident, group=None)
    key = tgt.key()
    stack.start()
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "offline", "--yes",
                  *xacct_args(tgt), ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, campaign, timeout=300)
    assert st["instances"][0]["state"] == "done", f"{st}\n{stack.diagnostics()}"
    rec = f"fc:{{{campaign}}}:i:{ident}"
    assert stack.redis.cli("HGET", rec, "f.master_secret_version") == v0
    moved = tgt.client("rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    port = moved["Endpoint"]["Port"]
    assert moved["StorageEncrypted"] and moved["KmsKeyId"] == key
    assert can_login(port, old_pw), "the moved instance starts with the snapshot's password"

    rot = sim.cli("secretsmanager", "rotate-secret", "--secret-id", arn)
    new_pw = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"]
    wait_until(lambda: can_login(port, new_pw), 30, 0.5,
               "the instance in the target account accepting the rotated password")
    ok, err = login(port, old_pw)
    assert not ok and "password authentication failed" in err, f"the old password: ok={ok} {err}"
    wait_until(lambda: stack.redis.cli("HGET", rec, "f.master_secret_version") == rot["VersionId"], 10, 0.2,
               "the record following the new secret version")
    coord = stack.coordinators[0]
    time.sleep(2.5)   # more checks: propagated exactly once
    assert metric(coord, "fc_master_secret_propagated_total") == 1
    out = stack.redis.cli("XRANGE", f"fc:{{{campaign}}}:events", "-", "+")
    assert "master-secret-followed" in out.splitlines(), out[-2000:]
    for p in [coord, *stack.workers]:
        with open(p.log_path, errors="replace") as f:
            assert tgt.external_id not in f.read(), f"the external id is in {p.log_path}"
