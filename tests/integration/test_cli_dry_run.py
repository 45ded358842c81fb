"""`fleetcrypt submit --dry-run` prints an AWS-level preflight verdict for
every instance — eligible, skipped (already encrypted), failed (not found,
no logical replication for pg-logical, read replicas) — and enqueues nothing.
It exits 3 when any instance would fail preflight, 0 when every one is ok or
skipped (so a CI job can gate on it). Metadata-only emulator instances; no workers."""
from fclib import wait_until
from fixtures_stack import META_TAG, verdicts


def make(stack, ident, key=None, group=None):
    rds = stack.sim.client("rds")
    kw = {"StorageEncrypted": True, "KmsKeyId": key} if key else {"StorageEncrypted": False}
    if group:
        kw["DBParameterGroupName"] = group
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="app", MasterUserPassword="app-password-1",
                           Tags=[META_TAG], **kw)


def test_dry_run_prints_verdicts_and_enqueues_nothing(stack):
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    rds = stack.sim.client("rds")
    rds.create_db_parameter_group(DBParameterGroupName="dr-logical", DBParameterGroupFamily="postgres15",
                                  Description="logical on")
    rds.modify_db_parameter_group(DBParameterGroupName="dr-logical", Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])
    key = stack.make_key()
    make(stack, "dr-ready", group="dr-logical")
    make(stack, "dr-nolog")
    make(stack, "dr-done", key=key["Arn"], group="dr-logical")
    for i in ("dr-ready", "dr-nolog", "dr-done"):
        stack.sim.wait_instance(i, "available", timeout=60)

    r = stack.cli("submit", "--campaign", "dr1", "--kms-key", key["Arn"], "--strategy", "pg-logical",
                  "--dry-run", "dr-ready", "dr-nolog", "dr-done", "dr-missing")
    assert r.returncode == 3, (r.returncode, r.stderr)
    v = verdicts(r.stdout)
    assert v["dr-ready"][0] == "ok", r.stdout
    assert v["dr-nolog"][0] == "failed" and "rds.logical_replication" in v["dr-nolog"][1], r.stdout
    assert v["dr-done"] == ("skipped", "already encrypted with the requested key"), r.stdout
    assert v["dr-missing"][0] == "failed" and "not found" in v["dr-missing"][1], r.stdout
    assert "2 of 4 would fail preflight" in r.stdout, r.stdout
    assert "would fail preflight" in r.stderr, r.stderr  # the reason for the exit code, for a script's log
    # only ok and skipped: exit 0
    r = stack.cli("submit", "--campaign", "dr1", "--kms-key", key["Arn"], "--strategy", "pg-logical",
                  "--dry-run", "dr-ready", "dr-done")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "0 of 2 would fail preflight" in r.stdout, r.stdout

    # offline has no logical-replication requirement but says the source stops
    r = stack.cli("submit", "--campaign", "dr2", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--dry-run", "dr-nolog")
    assert r.returncode == 0, r.stderr
    assert verdicts(r.stdout)["dr-nolog"][0] == "ok" and "STOPPED" in r.stdout, r.stdout

    st = stack.cli("status", "--json", check=True)
    assert "dr1" not in st.stdout and "dr2" not in st.stdout, "a dry run enqueued a campaign"


def test_submit_rides_out_a_throttling_storm(stack):
    """An operator's submit has no step retry behind it: every AWS call it
    makes is throttled four times in a row (deterministically) and it must
    still get through (the SDKs' 3 attempts would give up), and with
    AWS_MAX_ATTEMPTS=3 it must give up with a clear error, not a crash."""
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    key = stack.make_key()
    make(stack, "dr-storm")
    stack.sim.wait_instance("dr-storm", "available", timeout=60)
    stack.sim.admin("POST", "/config", {"faults": {"throttle_streak": 4}})
    try:
        r = stack.cli("submit", "--campaign", "ds1", "--kms-key", key["Arn"], "--strategy", "offline",
                      "--dry-run", "dr-storm")
        assert r.returncode == 0, r.stdout + r.stderr
        assert verdicts(r.stdout)["dr-storm"][0] == "ok", r.stdout
        r = stack.cli("submit", "--campaign", "ds2", "--kms-key", key["Arn"], "--strategy", "offline",
                      "--dry-run", "dr-storm", env={"AWS_MAX_ATTEMPTS": "3"})
        assert r.returncode != 0 and "Throttl" in r.stderr, r.stdout + r.stderr
        r = stack.cli("submit", "--campaign", "ds3", "--kms-key", key["Arn"], "--strategy", "offline",
                      "--dry-run", "dr-storm", env={"AWS_MAX_ATTEMPTS": "many"})
        assert r.returncode != 0 and "AWS_MAX_ATTEMPTS" in r.stderr, r.stdout + r.stderr
    finally:
        stack.sim.admin("POST", "/config", {"faults": {"throttle_streak": 0}})


OLD = {"Key": "fleetcrypt-sim:create-time", "Value": "2025-06-01"}   # unencrypted, as before 2026-02-18


def make_cluster(stack, ident, group=None):
    """A metadata-only Aurora PostgreSQL cluster with a writer."""
    rds = stack.sim.client("rds")
    kw = {"DBClusterParameterGroupName": group} if group else {}
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername="app",
                          MasterUserPassword="app-password-1", Tags=[META_TAG, OLD], **kw)
    wait_until(lambda: rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]["Status"] == "available",
               60, 0.1, f"cluster {ident}")
    rds.create_db_instance(DBInstanceIdentifier=f"{ident}-0", DBClusterIdentifier=ident, Engine="aurora-postgresql",
                           DBInstanceClass="db.r6g.large", Tags=[META_TAG])
    stack.sim.wait_instance(f"{ident}-0", "available", timeout=60)


def cluster_group(stack, name, logical):
    rds = stack.sim.client("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=name, DBParameterGroupFamily="aurora-postgresql15",
                                          Description="dry run")
    if logical:
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=name, Parameters=[
            {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])


def test_dry_run_checks_the_cluster_parameter_group(stack):
    """For an Aurora cluster the dry run reads rds.logical_replication in the
    *cluster* parameter group (DescribeDBClusterParameters) and the writer's
    DBClusterParameterGroupStatus: missing → failed naming the parameter and
    the group (ok with --allow-reboot, which sets it in fleetcrypt's own copy
    and reboots the writer); set but not applied → failed (ok with
    --allow-reboot: the writer is rebooted); a strategy without the
    requirement (offline) does not check it."""
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    key = stack.make_key()
    cluster_group(stack, "drc-logical", True)
    cluster_group(stack, "drc-later", False)
    make_cluster(stack, "drc-ready", "drc-logical")
    make_cluster(stack, "drc-nolog")
    make_cluster(stack, "drc-pend", "drc-later")
    stack.sim.client("rds").modify_db_cluster_parameter_group(DBClusterParameterGroupName="drc-later", Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])

    args = ["submit", "--campaign", "drc1", "--kms-key", key["Arn"], "--strategy", "pg-logical", "--dry-run",
            "drc-ready", "drc-nolog", "drc-pend"]
    r = stack.cli(*args)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    v = verdicts(r.stdout)
    assert v["drc-ready"][0] == "ok" and "eligible cluster" in v["drc-ready"][1], r.stdout
    kind, text = v["drc-nolog"]
    assert kind == "failed", r.stdout
    assert "rds.logical_replication" in text and "cluster parameter group default.aurora-postgresql15" in text, text
    assert "--allow-reboot" in text, text
    kind, text = v["drc-pend"]
    assert kind == "failed" and "drc-pend-0" in text and "pending-reboot" in text, r.stdout
    assert "2 of 3 would fail preflight" in r.stdout, r.stdout

    r = stack.cli(*args, "--allow-reboot")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    v = verdicts(r.stdout)
    assert v["drc-nolog"][0] == "ok" and "copy" in v["drc-nolog"][1] and "reboot" in v["drc-nolog"][1], r.stdout
    assert v["drc-pend"][0] == "ok" and "reboot" in v["drc-pend"][1], r.stdout

    r = stack.cli("submit", "--campaign", "drc2", "--kms-key", key["Arn"], "--strategy", "offline", "--dry-run",
                  "drc-nolog")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert verdicts(r.stdout)["drc-nolog"][0] == "ok", r.stdout
