"""`fleetcrypt retire` (issue 7) after an `offline` campaign of two
metadata-only emulator instances: it says what it will delete, refuses
before the retention period (exit 2, naming the date) and without --yes off
a terminal; with --force --yes it takes the tagged final snapshot
fc-<campaign>-<instance>-final, waits for it, and deletes only the retired
sources; the encrypted instances are untouched; a second run is a no-op.
"""
from fclib import wait_until
from test_cli_report import small_campaign

IDS = ["ret-a", "ret-b"]


def rec(stack, campaign, ident):
    flat = stack.redis.cli("HGETALL", f"fc:{{{campaign}}}:i:{ident}").split("\n")
    return dict(zip(flat[0::2], flat[1::2]))


def mutating(stack):
    return [c for c in stack.calls() if c["action"] in ("CreateDBSnapshot", "DeleteDBInstance")]


def test_cli_retire(stack):
    key = small_campaign(stack, "ret1", IDS)
    rds = stack.sim.client("rds")
    retired = {i: f"fc-ret1-{i}-retired" for i in IDS}
    stack.sim.admin("DELETE", "/calls")

    # before the retention period: says what, refuses with the date, touches nothing
    r = stack.cli("retire", "ret1", "--yes")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "until" in r.stderr and "--force" in r.stderr, r.stderr
    for i in IDS:
        assert retired[i] in r.stdout and f"fc-ret1-{i}-final" in r.stdout, r.stdout
    # not a terminal and no --yes
    r = stack.cli("retire", "ret1", "--force", stdin="")
    assert r.returncode == 2 and "--yes" in r.stderr, r.stderr
    # dry run
    r = stack.cli("retire", "ret1", "--force", "--dry-run")
    assert r.returncode == 0 and "dry run" in r.stdout, r.stderr
    # unknown names
    assert stack.cli("retire", "nope", "--force", "--yes").returncode == 2
    assert stack.cli("retire", "ret1", "other-db", "--force", "--yes").returncode == 2
    assert mutating(stack) == []
    assert len(rds.describe_db_instances()["DBInstances"]) == 4

    r = stack.cli("retire", "ret1", "--force", "--yes", "--wait-timeout", 120, timeout=180)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "snapshot" in r.stdout and "deleted" in r.stdout, r.stdout

    def gone(ident):
        try:
            d = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            return d["DBInstanceStatus"] == "deleting"
        except rds.exceptions.DBInstanceNotFoundFault:
            return True

    for i in IDS:
        assert gone(retired[i]), retired[i]
        snap = rds.describe_db_snapshots(DBSnapshotIdentifier=f"fc-ret1-{i}-final")["DBSnapshots"][0]
        assert snap["Status"] == "available" and snap["DBInstanceIdentifier"] == retired[i], snap
        assert snap.get("Encrypted") is False
        tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(
            ResourceName=snap["DBSnapshotArn"])["TagList"]}
        assert tags.get("fleetcrypt:campaign") == "ret1" and tags.get("fleetcrypt:role") == "final-snapshot", tags
        # the encrypted instance is untouched
        d = rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]
        assert d["DBInstanceStatus"] == "available" and d["StorageEncrypted"] is True
        assert d["KmsKeyId"] == key["Arn"]
        rr = rec(stack, "ret1", i)
        assert rr["state"] == "done" and rr["final_snapshot"] == f"fc-ret1-{i}-final" and int(rr["retired_at"]) > 0
    deletes = [c for c in mutating(stack) if c["action"] == "DeleteDBInstance"]
    assert len(deletes) == 2, deletes
    wait_until(lambda: all(gone(retired[i]) for i in IDS), 30)

    # second run: nothing to do, no AWS change
    n = len(mutating(stack))
    r = stack.cli("retire", "ret1", "--force", "--yes")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "nothing to retire" in r.stdout, r.stdout
    assert len(mutating(stack)) == n
    r = stack.cli("retire", "--help", check=True)
    assert "fleetcrypt retire" in r.stdout and "example" in r.stdout
    # the report still names the retired source and says it is gone
    r = stack.cli("report", "ret1", check=True)
    assert "final snapshot fc-ret1-ret-a-final" in r.stdout
