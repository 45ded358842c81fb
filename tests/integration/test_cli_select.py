"""`fleetcrypt submit --select` (issue 7): the selector is resolved with one
paginated DescribeDBInstances (engine as a server-side filter; encrypted,
tag:KEY and id-prefix client-side) and then behaves exactly as if the ids
had been given. Metadata-only emulator instances with different engines'
worth of tags and encryption; no workers are started (a submitted campaign
just stays pending). Checks: --dry-run prints exactly the matching ids, a
real submit enqueues exactly them (status --json), "select" in a campaign
file works, an empty match and malformed selectors exit 2 naming the bad
term and enqueue nothing.
"""
import json
import re

from fixtures_stack import META_TAG


def make(stack, ident, tags, key=None):
    rds = stack.sim.client("rds")
    kw = {"StorageEncrypted": True, "KmsKeyId": key} if key else {"StorageEncrypted": False}
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="app", MasterUserPassword="app-password-1",
                           Tags=[META_TAG] + [{"Key": k, "Value": v} for k, v in tags.items()], **kw)
    return ident


def selected(stdout):
    for line in stdout.splitlines():
        if line.startswith("selected "):
            return sorted(line.split("':", 1)[1].split())
    raise AssertionError(f"no 'selected' line in {stdout!r}")


def test_cli_select(stack, tmp_path):
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    key = stack.make_key()
    other = stack.make_key()
    make(stack, "sel-dev-a", {"env": "dev"})
    make(stack, "sel-dev-b", {"env": "dev", "team": "x"})
    make(stack, "sel-prod-a", {"env": "prod"})
    make(stack, "sel-dev-enc", {"env": "dev"}, key=other["Arn"])
    make(stack, "zz-dev-c", {"env": "dev"})
    for i in ("sel-dev-a", "sel-dev-b", "sel-prod-a", "sel-dev-enc", "zz-dev-c"):
        stack.sim.wait_instance(i, "available", timeout=60)
    base = ["submit", "--campaign", "s1", "--kms-key", key["Arn"], "--strategy", "offline"]

    before = len(stack.calls())
    r = stack.cli(*base, "--select", "engine=postgres,encrypted=false,tag:env=dev", "--dry-run")
    assert r.returncode == 0, r.stderr
    # the selector is resolved with one paginated DescribeDBInstances: no call
    # of this run names a single instance
    describes = [c for c in stack.calls()[before:] if c.get("action") == "DescribeDBInstances"]
    assert describes, "no DescribeDBInstances call seen"
    assert all(c.get("resource") is None for c in describes), [c.get("resource") for c in describes]
    assert selected(r.stdout) == ["sel-dev-a", "sel-dev-b", "zz-dev-c"], r.stdout
    assert "3 instance(s)" in r.stdout

    r = stack.cli(*base, "--select", "tag:env=dev,id-prefix=sel-", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert selected(r.stdout) == ["sel-dev-a", "sel-dev-b", "sel-dev-enc"], r.stdout
    r = stack.cli(*base, "--select", "encrypted=true", "--dry-run")
    assert r.returncode == 0 and selected(r.stdout) == ["sel-dev-enc"], (r.stdout, r.stderr)
    # selector plus explicit ids: the union
    r = stack.cli(*base, "--select", "tag:env=prod", "sel-dev-a", "--dry-run")
    assert r.returncode == 0 and "campaign s1: 2 instance(s)" in r.stdout, r.stdout
    assert selected(r.stdout) == ["sel-prod-a"], r.stdout  # the explicit id is not "selected"...
    assert re.search(r"^\s*sel-dev-a\b", r.stdout, re.M), r.stdout  # ...but is in the campaign

    # errors: exit 2, the bad term named, nothing enqueued
    for sel, word in [("engine=postgres,bogus", "bogus"), ("colour=red", "colour"),
                      ("encrypted=maybe", "encrypted=maybe"), ("tag:env=", "tag:env="),
                      ("engine=postgres,,tag:env=dev", "''"), ("", "empty")]:
        r = stack.cli(*base, "--select", sel, "--yes")
        assert r.returncode == 2, (sel, r.returncode, r.stderr)
        assert r.stderr.count("\n") == 1 and "select" in r.stderr and word in r.stderr, (sel, r.stderr)
    r = stack.cli(*base, "--select", "engine=mysql", "--yes")
    assert r.returncode == 2 and "matched no instance" in r.stderr, r.stderr
    r = stack.cli(*base, "--select", "tag:env=staging", "--yes")
    assert r.returncode == 2 and "matched no instance" in r.stderr, r.stderr
    r = stack.cli("status", "--json", check=True)
    assert "s1" not in r.stdout, r.stdout

    # a real submit enqueues exactly the selected instances
    r = stack.cli(*base, "--select", "engine=postgres,encrypted=false,tag:env=dev", "--yes")
    assert r.returncode == 0, r.stderr
    st = stack.status("s1")
    assert sorted(i["id"] for i in st["instances"]) == ["sel-dev-a", "sel-dev-b", "zz-dev-c"], st
    # existing validation still applies: the same instances cannot join another campaign
    r = stack.cli("submit", "--campaign", "s2", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--select", "tag:env=dev,encrypted=false", "--yes")
    assert r.returncode == 2 and "already in active campaign s1" in r.stderr, r.stderr

    # "select" in a campaign file
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"campaign": "s3", "kms_key": key["Arn"], "strategy": "offline",
                             "select": "tag:env=prod"}))
    r = stack.cli("submit", "--file", f, "--dry-run")
    assert r.returncode == 0 and selected(r.stdout) == ["sel-prod-a"], (r.stdout, r.stderr)
    f.write_text(json.dumps({"campaign": "s3", "kms_key": key["Arn"], "select": 7}))
    r = stack.cli("submit", "--file", f, "--dry-run")
    assert r.returncode == 2 and "select" in r.stderr, r.stderr
