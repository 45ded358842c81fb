"""Orchestration end to end (issue 5) on real servers: Redis, the local Kafka
broker, the AWS emulator (real PostgreSQL behind two instances, the others
metadata-only to save CPU), two workers and a coordinator.

- a 12-instance `offline` campaign at --max-parallel 3 finishes with every
  identifier naming an encrypted instance (requested key, same endpoint and
  port, same rows); the emulator's call log never shows more than 3
  instances in flight, nor more than 2 copies or restores in progress at
  AWS (the per-step limits at 2, binding); AWS calls per instance stay <= 30 whether a copy
  takes ~1 s or ~60 s; the retired sources are stopped and tagged; no
  conflicting operations; the status JSON has the documented shape; the
  fleet poller learnt each kind of wait's duration (P:opdur:<region>);
- quotas (A7): DB-instance quota 2N+1 and snapshot quota 6 at
  --max-parallel 5 keep <= 3 in flight and nothing fails; a quota below 2N
  makes submit exit 2 with the numbers;
- bad input: garbage on the steps topic goes to the DLQ with its reason
  while the campaign goes on; bad submit input exits 2 and enqueues nothing.
"""
import json
import os
import subprocess

import pytest

from fclib import wait_until
from fixtures_awssim import psql
from fixtures_stack import META_TAG

MUTATING = {"ModifyDBInstance", "StopDBInstance", "StartDBInstance", "CreateDBSnapshot", "CopyDBSnapshot",
            "RestoreDBInstanceFromDBSnapshot", "AddTagsToResource", "DeleteDBSnapshot"}
PASSWORD = "app-password-1"
STATE_KEYS = {"pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"}


def owner(resource, ids):
    """Which submitted instance a call's resource belongs to (ours are fc-<c>-<id>-...)."""
    if not resource:
        return None
    for i in ids:
        if resource == i or f"-{i}-" in resource or resource.endswith(f":db:{i}"):
            return i
    return None


def max_in_flight(calls, ids):
    """Most instances between their first and last mutating AWS call at once."""
    span = {}
    for c in calls:
        if c["action"] not in MUTATING or c.get("error"):
            continue
        i = owner(c.get("resource"), ids)
        if i:
            a, b = span.get(i, (c["ts"], c["ts"]))
            span[i] = (min(a, c["ts"]), max(b, c["ts"]))
    edges = sorted([(a, 1) for a, _ in span.values()] + [(b, -1) for _, b in span.values()],
                   key=lambda e: (e[0], -e[1]))
    cur = best = 0
    for _, d in edges:
        cur += d
        best = max(best, cur)
    return best, span


def most_at_aws(calls, action, seconds):
    """Most operations of `action` in progress at AWS at once: each from its
    call to the call + its modelled duration (the emulator's durations are
    exact and start no earlier than the call). A class slot is held from
    before the call until the step sees the end, so a limit of L that holds
    never shows more than L here."""
    starts = sorted(c["ts"] for c in calls if c["action"] == action and not c.get("error"))
    edges = sorted([(t, 1) for t in starts] + [(t + seconds, -1) for t in starts], key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, d in edges:
        cur += d
        best = max(best, cur)
    return best


def check_status_shape(st, campaign, n):
    assert set(st) == {"campaign", "state", "counts", "instances", "throughput"}, st.keys()
    assert st["campaign"] == campaign
    assert st["state"] in {"running", "paused", "done", "aborted"}
    assert set(st["counts"]) == STATE_KEYS, st["counts"]
    assert sum(st["counts"].values()) == n
    assert len(st["instances"]) == n
    for i in st["instances"]:
        assert set(i) >= {"id", "state", "step", "attempts", "error", "downtime_s", "rows_verified"}, i
        assert isinstance(i["attempts"], int)
        assert i["error"] is None or isinstance(i["error"], str)
        assert i["rows_verified"] is None or isinstance(i["rows_verified"], int)
    assert set(st["throughput"]) == {"instances_per_hour", "steps_per_minute"}


def verify_done(stack, ids, key_arn, before, real_rows):
    """INTERFACES.md 'done': encrypted with the key, same endpoint, rows, retired source kept."""
    rds = stack.sim.client("rds")
    for i in ids:
        inst = rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]
        assert inst["StorageEncrypted"] is True, f"{i} not encrypted"
        assert inst["KmsKeyId"] == key_arn, f"{i}: key {inst['KmsKeyId']} != {key_arn}"
        assert inst["Endpoint"]["Address"] == before[i]["Endpoint"]["Address"], i
        assert inst["Endpoint"]["Port"] == before[i]["Endpoint"]["Port"], i
        tags = {t["Key"]: t["Value"] for t in inst.get("TagList", [])}
        assert tags.get("team") == "orch", f"{i}: user tags not carried over: {tags}"
        # serving instances are no longer deletable under the worker's IAM policy
        assert tags.get("fleetcrypt:role") == "encrypted", f"{i}: role tag {tags.get('fleetcrypt:role')}"
        # the source's backup retention, set by the restore itself
        want = before[i]["BackupRetentionPeriod"]
        assert inst["BackupRetentionPeriod"] == want, f"{i}: backup retention {inst['BackupRetentionPeriod']} != {want}"
    retired = [d for d in rds.describe_db_instances()["DBInstances"]
               if {t["Key"]: t["Value"] for t in d.get("TagList", [])}.get("fleetcrypt:role") == "retired-source"]
    assert len(retired) == len(ids), [d["DBInstanceIdentifier"] for d in retired]
    for d in retired:
        assert d["DBInstanceStatus"] == "stopped", (d["DBInstanceIdentifier"], d["DBInstanceStatus"])
        assert d["StorageEncrypted"] is False
    snaps = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]]
    assert not [s for s in snaps if s.startswith("fc-")], f"intermediate snapshots left: {snaps}"
    for i, rows in real_rows.items():
        port = before[i]["Endpoint"]["Port"]
        got = psql(port, "app", PASSWORD, "select count(*), coalesce(sum(v), 0) from t", db="postgres")
        assert got == rows, f"{i}: rows {got} != {rows}"


def run_campaign(stack, campaign, ids, real, scale, max_parallel=3, timeout=240, extra_args=(), retention=None,
                 during=None):
    """retention: {id: days} set on those sources first (the default is 1);
    during: more emulator config (e.g. faults) from submit to the end."""
    sim = stack.sim
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, real=real, storage=500)
    real_rows = {}
    rds = sim.client("rds")
    for i, days in (retention or {}).items():
        rds.modify_db_instance(DBInstanceIdentifier=i, BackupRetentionPeriod=days, ApplyImmediately=True)
        sim.wait_instance(i, "available", timeout=60, rds=rds)
    before = {i: rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0] for i in ids}
    for i in real:
        port = before[i]["Endpoint"]["Port"]
        psql(port, "app", PASSWORD, "create table t(id serial primary key, v int); "
             "insert into t(v) select g from generate_series(1, 500) g")
        real_rows[i] = psql(port, "app", PASSWORD, "select count(*), sum(v) from t")
    key = stack.make_key()
    sim.admin("DELETE", "/calls")
    sim.admin("DELETE", "/conflicts")
    sim.admin("POST", "/config", {"time_scale": scale, **(during or {})})
    # the wait floors on the emulator's clock (this test's own time scale)
    stack.env["FLEETCRYPT_POLL_FLOOR_SCALE"] = str(scale)
    stack.start()
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key["Arn"], "--strategy", "offline",
                  "--max-parallel", max_parallel, "--yes", *extra_args, *ids)
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign(campaign, timeout)
    return st, key, before, real_rows


@pytest.mark.parametrize("copy_s", [1, pytest.param(60, marks=pytest.mark.slow)], ids=["copy1s", "copy60s"])
def test_orch_offline_campaign(stack, copy_s):
    """12 instances (2 with real PostgreSQL + rows) at max-parallel 3 → all done, verified;
    at ~60 s copies a smaller fleet proves the AWS-calls-per-instance bound holds too."""
    # copy = 120 + 6*GiB modelled seconds = 3120 s for 500 GiB
    scale = copy_s / 3120.0
    if copy_s == 1:
        ids = [f"orch-{n:02d}" for n in range(12)]
        real = ids[:2]
        # the copy and restore limits bind (3 in flight, 2 slots): a released
        # slot is handed over to the class's oldest waiter (runner.c), and
        # the limit must hold exactly (checked on the emulator's clock below)
        stack.env.update({"FLEETCRYPT_LIMIT_COPY": "2", "FLEETCRYPT_LIMIT_RESTORE": "2"})
    else:
        ids = ["long-a", "long-b", "long-c"]
        real = []
    # sources whose backup retention is not a restore's default (1): the
    # restore sets it (no ModifyDBInstance after it)
    retention = {ids[0]: 0, ids[-1]: 7} if copy_s == 1 else {ids[0]: 0}
    st, key, before, real_rows = run_campaign(stack, "c1", ids, real, scale, timeout=150 + 3 * copy_s,
                                              retention=retention)
    check_status_shape(st, "c1", len(ids))
    assert st["counts"]["done"] == len(ids), st
    for i in st["instances"]:
        assert i["state"] == "done" and i["error"] is None, i
        assert isinstance(i["downtime_s"], float) and i["downtime_s"] > 0, i
    verify_done(stack, ids, key["Arn"], before, real_rows)
    calls = stack.calls()
    most, span = max_in_flight(calls, ids)
    assert len(span) == len(ids)
    assert most <= 3, f"{most} instances in flight at once (max-parallel 3)"
    if copy_s == 1:
        # modelled seconds at 500 GiB (rds_common.DUR) on the emulator's scale
        for action, modelled in (("CopyDBSnapshot", 120 + 6 * 500), ("RestoreDBInstanceFromDBSnapshot", 300 + 1.5 * 500)):
            at_once = most_at_aws(calls, action, modelled * scale)
            assert at_once <= 2, f"{at_once} {action} in progress at once (limit 2)"
    per_instance = len(calls) / len(ids)
    by = {}
    for c in calls:
        by[c["action"]] = by.get(c["action"], 0) + 1
    print(f"copy ~{copy_s}s: {per_instance:.1f} AWS calls per instance: {by}")
    assert per_instance <= 30, f"{per_instance:.1f} AWS calls per instance (>30): {by}"
    conflicts = stack.sim.admin("GET", "/conflicts")
    assert conflicts["count"] == 0, conflicts
    # the fleet poller learnt how long each kind of wait took, per storage size
    # (500 GiB: g8), for later instances' first look (lib/engine/waitplan.h)
    keys = stack.redis.cli("KEYS", "fc:opdur:*").split()
    assert len(keys) == 1, keys
    flat = stack.redis.cli("HGETALL", keys[0]).split()
    learnt = dict(zip(flat[::2], (int(v) for v in flat[1::2])))
    for op in ("rename-source.db", "stop-source.db", "snapshot.snap", "copy-encrypted.snap", "restore.db"):
        assert 0 < learnt.get(f"offline.{op}.g8", 0) < 150000, f"offline.{op}.g8 not learnt: {learnt}"
    # every resource created once
    for action in ("CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot"):
        assert by.get(action, 0) == len(ids), f"{action}: {by.get(action)} calls for {len(ids)} instances"
    # one ModifyDBInstance per instance, its rename: the backup retention is
    # the restore's (BackupRetentionPeriod), not a modify after it
    assert by.get("ModifyDBInstance", 0) == len(ids), f"ModifyDBInstance: {by.get('ModifyDBInstance')} calls: {by}"
    # the first admission took the quota the submit had just read (campaign
    # field quota_seen): one DescribeAccountAttributes before any instance
    # moved, the CLI's, not the CLI's and the coordinator's
    first = min(c["ts"] for c in calls if c["action"] == "ModifyDBInstance")
    quota = [c for c in calls if c["action"] == "DescribeAccountAttributes" and c["ts"] < first]
    assert len(quota) == 1, f"{len(quota)} DescribeAccountAttributes before the first rename"
    # a campaign of instances, none an Aurora member: the submit asks no DescribeDBClusters
    assert by.get("DescribeDBClusters", 0) == 0, f"DescribeDBClusters: {by.get('DescribeDBClusters')} calls"


def poll_groups(calls, action):
    """The fleet poller's calls of `action` (no resource named: not a
    per-instance Describe; after the campaign's first rename, so not the
    CLI's look-up at submit nor the coordinator's retired-source listing at
    start) grouped into polls: the pages of one poll come back to back,
    polls are at least FLEETCRYPT_POLL_MIN_MS (700) apart."""
    first = min(c["ts"] for c in calls if c["action"] == "ModifyDBInstance")
    ts = sorted(c["ts"] for c in calls if c["action"] == action and not c.get("resource") and c["ts"] > first)
    groups = []
    for t in ts:
        if groups and t - groups[-1][-1] < 0.3:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


@pytest.mark.slow  # CI budget: call efficiency, measured by bench/bench_aws_calls.py too
def test_orch_poll_filtered_in_a_crowded_account(stack):
    """The fleet poller asks only for the awaited resources (one Describe
    with a db-instance-id / db-snapshot-id filter per 100 of them), not for
    every instance in the account page by page: with 250 other instances in
    the account each poll of the instances is one call, not three."""
    sim = stack.sim
    sim.admin("POST", "/config", {"time_scale": 0, "quotas": {"DBInstances": 1000}})
    rds = sim.client("rds")
    for n in range(250):
        rds.create_db_instance(DBInstanceIdentifier=f"bystander-{n:03d}", Engine="postgres",
                               DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="app",
                               MasterUserPassword="app-password-1", Tags=[META_TAG])
    ids = ["crowd-a", "crowd-b"]
    st, _, _, _ = run_campaign(stack, "crowd", ids, [], 0.002)
    assert st["counts"]["done"] == len(ids), st
    calls = stack.calls()
    for action in ("DescribeDBInstances",):
        groups = poll_groups(calls, action)
        assert groups, f"no fleet poll of {action}"
        assert max(len(g) for g in groups) == 1, \
            f"{action}: polls of {sorted({len(g) for g in groups})} pages (the whole account, not the awaited)"


def test_orch_quota_admission(stack):
    """A7: N=6, DB-instance quota 2N+1, snapshot quota 6, max-parallel 5 → ≤3 in flight, none fails."""
    sim = stack.sim
    ids = [f"quota-{n}" for n in range(6)]
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=500)
    key = stack.make_key()
    sim.admin("POST", "/config", {"quotas": {"DBInstances": 2 * len(ids) + 1, "ManualSnapshots": 6},
                                  "time_scale": 1 / 3120.0})
    sim.admin("DELETE", "/calls")
    stack.start()
    r = stack.cli("submit", "--campaign", "q1", "--kms-key", key["KeyId"], "--strategy", "offline",
                  "--max-parallel", 5, "--yes", *ids)
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("q1", 180)
    assert st["counts"]["done"] == len(ids), st
    calls = stack.calls()
    quota_errors = [c for c in calls if c.get("error") in ("SnapshotQuotaExceeded", "InstanceQuotaExceeded")]
    assert not quota_errors, quota_errors[:3]
    most, _ = max_in_flight(calls, ids)
    assert most <= 3, f"{most} in flight with a snapshot quota of 6"


def test_orch_submit_refusals(stack):
    """Quota below 2N, a missing key, bad ids, a malformed file, an unknown strategy → exit 2, nothing enqueued."""
    sim = stack.sim
    ids = [f"ref-{n}" for n in range(4)]
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=20)
    key = stack.make_key(alias="alias/orch-test")
    sim.admin("POST", "/config", {"quotas": {"DBInstances": 2 * len(ids) - 1}})
    r = stack.cli("submit", "--campaign", "r1", "--kms-key", key["Arn"], "--strategy", "offline", "--yes", *ids)
    assert r.returncode == 2, (r.returncode, r.stderr)
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "quota" in line and f"{len(ids)} instances in use" in line and f"quota is {2 * len(ids) - 1}" in line, line
    sim.admin("POST", "/config", {"quotas": {"DBInstances": 1000}})
    bad = [
        (["--kms-key", "alias/does-not-exist", "--strategy", "offline", *ids], "not found"),
        (["--kms-key", key["Arn"], "--strategy", "offline", "Bad_Id!"], "invalid instance id"),
        (["--kms-key", key["Arn"], "--strategy", "nope", *ids], "strategy nope is not available in this build"),
        (["--kms-key", key["Arn"], "--strategy", "offline", "--max-parallel", "0", *ids], "max-parallel"),
    ]
    for args, want in bad:
        r = stack.cli("submit", "--campaign", "r1", "--yes", *args)
        assert r.returncode == 2 and want in r.stderr, (args, r.returncode, r.stderr)
    f = os.path.join(stack.world, "bad.json")
    with open(f, "w") as fh:
        fh.write('{"campaign": "r1", "instances": [')
    r = stack.cli("submit", "--file", f, "--kms-key", key["Arn"], "--strategy", "offline", "--yes")
    assert r.returncode == 2 and "campaign file" in r.stderr, r.stderr
    assert stack.redis.cli("--scan", "--pattern", "fc:{r1}*") == ""
    # the alias form works, from stdin, and a second submit of the same id is refused
    r = stack.cli("submit", "--campaign", "r1", "--kms-key", "alias/orch-test", "--strategy", "offline",
                  "--yes", "--dry-run", "-", stdin="\n".join(ids) + "\n")
    assert r.returncode == 0, r.stderr
    assert stack.redis.cli("--scan", "--pattern", "fc:{r1}*") == ""
    r = stack.cli("submit", "--campaign", "r1", "--kms-key", "alias/orch-test", "--strategy", "offline",
                  "--yes", "-", stdin="\n".join(ids) + "\n")
    assert r.returncode == 0, r.stderr
    r = stack.cli("submit", "--campaign", "r2", "--kms-key", key["Arn"], "--strategy", "offline", "--yes", ids[0])
    assert r.returncode == 2 and "already in active campaign r1" in r.stderr, r.stderr
    st = stack.status("r1")
    check_status_shape(st, "r1", len(ids))
    assert st["counts"]["pending"] == len(ids)


def test_orch_dlq_garbage(stack):
    """Garbage on the steps topic → DLQ with a reason header; the campaign still finishes."""
    sim = stack.sim
    ids = ["dlq-a", "dlq-b", "dlq-c"]
    sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(ids, storage=20)
    key = stack.make_key()
    stack.start()
    topic = "fleetcrypt.steps"
    for n, payload in enumerate([b"\x00\x01garbage", b"not a protobuf at all", b"\xff" * 64]):
        subprocess.run(["kcat", "-P", "-b", stack.kafka.bootstrap, "-t", topic, "-k", f"junk{n}"],
                       input=payload, check=True, timeout=30)
    r = stack.cli("submit", "--campaign", "d1", "--kms-key", key["Arn"], "--strategy", "offline", "--yes", *ids)
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("d1", 120)
    assert st["counts"]["done"] == len(ids), st
    def dlq_lines():
        out = subprocess.run(["kcat", "-C", "-b", stack.kafka.bootstrap, "-t", "fleetcrypt.dlq", "-o", "beginning",
                              "-e", "-q", "-f", "%k|%h\n"], capture_output=True, text=True, timeout=60).stdout
        got = sorted({line for line in out.splitlines() if line.startswith("junk")})
        return got if len(got) == 3 else None
    lines = wait_until(dlq_lines, 60, 1.0, "3 dead letters with keys junk0..2 on fleetcrypt.dlq")
    for line in lines:
        assert "fleetcrypt-dlq-reason=" in line, line
    for w in stack.workers:
        assert w.alive(), w.tail()
