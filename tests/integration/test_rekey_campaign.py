"""Re-keying (issue 13): a source already encrypted with a key other than
the campaign's (the AWS managed key `aws/rds`, another customer managed
key) is moved to the campaign key with `--rekey` (snapshot → CopyDBSnapshot
with the campaign key → restore, then the strategy as for an unencrypted
source); without it the source is `skipped` naming its key; a source
encrypted with the campaign key stays `skipped` either way.

- the emulator does what RDS does for this: an instance encrypted without
  a KmsKeyId uses `alias/aws/rds`, an AWS managed key (DescribeKey:
  KeyManager AWS); copying an encrypted snapshot without KmsKeyId keeps its
  key, with another KmsKeyId encrypts the copy with that key; a restore
  keeps the snapshot's key;
- offline and pg-logical without `--rekey`: both other-key sources
  skipped, the reason naming the key and the flag; with `--rekey` (offline,
  metadata-only instances): both done, encrypted with the campaign key;
  `submit --dry-run` says the same before anything runs; the report records
  key and encryption type (kms-aws-managed / kms-customer-managed / none)
  before and after;
- pg-logical with `--rekey` at emulator time scale 0.02 (real PostgreSQL,
  application writers): one `aws/rds` and one other-CMK source end done on
  the campaign key, every acknowledged row exactly once (the checks of
  pglogical_strategy_util.run_checked_campaign).
"""
import json

import pytest

from fixtures_stack import META_TAG, verdicts
from pglogical_strategy_util import logical_group, run_checked_campaign, split_awssim

split_awssim = split_awssim   # the fixture, imported for pytest


def aws_rds_key(sim):
    k = sim.client("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    return k


def make_encrypted(sim, ident, key=None):
    """A metadata-only instance encrypted with key (None: RDS's default, aws/rds), in a
    parameter group with logical replication on (pg-logical's dry run checks it)."""
    rds = sim.client("rds")
    kw = {"KmsKeyId": key} if key else {}
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="app", MasterUserPassword="app-password-1",
                           StorageEncrypted=True, DBParameterGroupName=logical_group(sim),
                           Tags=[META_TAG, {"Key": "team", "Value": "rekey"}], **kw)
    return sim.wait_instance(ident, "available", timeout=60, rds=rds)


def emulator_rekey_semantics(sim, other_arn):
    """What RDS does with encrypted snapshots, checked on the emulator."""
    rds = sim.client("rds")
    managed = aws_rds_key(sim)
    assert managed["KeyManager"] == "AWS", managed
    inst = make_encrypted(sim, "rk-emu")
    assert inst["StorageEncrypted"] and inst["KmsKeyId"] == managed["Arn"], inst
    rds.create_db_snapshot(DBSnapshotIdentifier="rk-emu-s", DBInstanceIdentifier="rk-emu")
    s = sim.wait_snapshot("rk-emu-s", "available", timeout=60, rds=rds)
    assert s["Encrypted"] and s["KmsKeyId"] == managed["Arn"], s

    def copied(name, **kw):
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier="rk-emu-s", TargetDBSnapshotIdentifier=name, **kw)
        return sim.wait_snapshot(name, "available", timeout=60, rds=rds)

    same = copied("rk-emu-same")
    assert same["Encrypted"] and same["KmsKeyId"] == managed["Arn"], same
    new = copied("rk-emu-new", KmsKeyId=other_arn)
    assert new["Encrypted"] and new["KmsKeyId"] == other_arn, new
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="rk-emu-r", DBSnapshotIdentifier="rk-emu-new",
                                             Tags=[META_TAG])
    r = sim.wait_instance("rk-emu-r", "available", timeout=60, rds=rds)
    assert r["StorageEncrypted"] and r["KmsKeyId"] == other_arn, r
    for n in ("rk-emu-s", "rk-emu-same", "rk-emu-new"):
        rds.delete_db_snapshot(DBSnapshotIdentifier=n)
    for n in ("rk-emu", "rk-emu-r"):
        rds.delete_db_instance(DBInstanceIdentifier=n, SkipFinalSnapshot=True)


def test_rekey_offline_and_skips(stack, world):
    sim = stack.sim
    sim.admin("POST", "/config", {"time_scale": 0})
    other = stack.make_key()
    key = stack.make_key(alias="alias/rk-campaign")
    emulator_rekey_semantics(sim, other["Arn"])
    managed = aws_rds_key(sim)
    make_encrypted(sim, "rk-aws")
    make_encrypted(sim, "rk-cmk", other["Arn"])
    make_encrypted(sim, "rk-same", key["Arn"])
    ids = ["rk-aws", "rk-cmk", "rk-same"]
    was = {"rk-aws": managed["Arn"], "rk-cmk": other["Arn"], "rk-same": key["Arn"]}

    # dry run: the verdicts before anything runs (the campaign key given by its alias)
    for strategy in ("offline", "pg-logical"):
        r = stack.cli("submit", "--campaign", "rkd", "--kms-key", "alias/rk-campaign", "--strategy", strategy,
                      "--dry-run", *ids)
        assert r.returncode == 0, r.stderr
        v = verdicts(r.stdout)
        for i in ("rk-aws", "rk-cmk"):
            assert v[i][0] == "skipped", r.stdout
            assert f"already encrypted with another key ({was[i]}); --rekey to move it to the campaign key" \
                in v[i][1], r.stdout
        assert v["rk-same"] == ("skipped", "already encrypted with the requested key"), r.stdout
        r = stack.cli("submit", "--campaign", "rkd", "--kms-key", "alias/rk-campaign", "--strategy", strategy,
                      "--dry-run", "--rekey", *ids)
        assert r.returncode == 0, r.stderr
        v = verdicts(r.stdout)
        for i in ("rk-aws", "rk-cmk"):
            assert v[i][0] == "ok" and v[i][1].startswith(f"eligible (re-key from {was[i]})"), r.stdout
        assert v["rk-same"] == ("skipped", "already encrypted with the requested key"), r.stdout

    sim.admin("POST", "/config", {"time_scale": 1 / 300.0})
    stack.start()
    secret = world + "/db-secret.json"
    with open(secret, "w") as f:
        json.dump({"default": {"username": "app", "password": "app-password-1"}}, f)
    # without --rekey: skipped with the key named, by both strategies
    for campaign, strategy, extra in (("rkn-off", "offline", ()),
                                      ("rkn-pgl", "pg-logical", ("--db-secret", "file:" + secret))):
        r = stack.cli("submit", "--campaign", campaign, "--kms-key", "alias/rk-campaign", "--strategy", strategy,
                      "--max-parallel", 3, "--yes", *extra, *ids)
        assert r.returncode == 0, r.stderr
        st = stack.wait_campaign(campaign, 120)
        rows = {i["id"]: i for i in st["instances"]}
        for i in ("rk-aws", "rk-cmk"):
            assert rows[i]["state"] == "skipped", rows[i]
            assert was[i] in rows[i]["error"] and "--rekey" in rows[i]["error"], rows[i]
        assert rows["rk-same"]["state"] == "skipped", rows["rk-same"]
        assert "already encrypted with the requested key" in rows["rk-same"]["error"], rows["rk-same"]
    rds = sim.client("rds")
    for i in ids:
        assert sim.instance(i, rds)["KmsKeyId"] == was[i], i
    # the report of a skipped source: the same key and type before and after
    doc = json.loads(stack.cli("report", "rkn-off", "--format", "json", check=True).stdout)
    rep = {i["instance"]: i for i in doc["instances"]}
    assert rep["rk-aws"]["encryption_before"] == rep["rk-aws"]["encryption_after"] == "kms-aws-managed", rep["rk-aws"]
    assert rep["rk-aws"]["key_before"] == rep["rk-aws"]["key_after"] == managed["Arn"], rep["rk-aws"]
    assert rep["rk-cmk"]["encryption_before"] == "kms-customer-managed", rep["rk-cmk"]

    # with --rekey (offline): both other-key sources end done on the campaign key
    r = stack.cli("submit", "--campaign", "rky-off", "--kms-key", "alias/rk-campaign", "--strategy", "offline",
                  "--max-parallel", 3, "--yes", "--rekey", *ids)
    assert r.returncode == 0, r.stderr
    st = stack.wait_campaign("rky-off", 180)
    rows = {i["id"]: i for i in st["instances"]}
    assert rows["rk-aws"]["state"] == "done" and rows["rk-cmk"]["state"] == "done", st
    assert rows["rk-same"]["state"] == "skipped", st
    for i in ("rk-aws", "rk-cmk"):
        inst = sim.instance(i, rds)
        assert inst["StorageEncrypted"] and inst["KmsKeyId"] == key["Arn"], inst

    def fact(campaign, ident, name):
        return stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", f"f.{name}").strip()

    assert fact("rky-off", "rk-aws", "source_key_manager") == "AWS"
    assert fact("rky-off", "rk-cmk", "source_key_manager") == "CUSTOMER"
    assert fact("rky-off", "rk-aws", "source_kms") == managed["Arn"]

    # the compliance report: old and new key and the encryption type
    doc = json.loads(stack.cli("report", "rky-off", "--format", "json", check=True).stdout)
    rep = {i["instance"]: i for i in doc["instances"]}
    assert rep["rk-aws"]["key_before"] == managed["Arn"] and rep["rk-aws"]["key_after"] == key["Arn"], rep["rk-aws"]
    assert rep["rk-aws"]["encryption_before"] == "kms-aws-managed", rep["rk-aws"]
    assert rep["rk-cmk"]["key_before"] == other["Arn"] and rep["rk-cmk"]["encryption_before"] == "kms-customer-managed"
    for i in ("rk-aws", "rk-cmk", "rk-same"):
        assert rep[i]["encryption_after"] == "kms-customer-managed", rep[i]
    csv_out = stack.cli("report", "rky-off", "--format", "csv", check=True).stdout
    assert "encryption_before" in csv_out.splitlines()[0] and "kms-aws-managed" in csv_out, csv_out


@pytest.mark.slow   # CI: pg-logical --rekey runs in test_pglogical_clusters (an AWS-owned-key cluster)
def test_rekey_pglogical_at_time_scale(split_awssim, world):
    """pg-logical --rekey with writers at time scale 0.02: an aws/rds source
    and another-CMK source end done on the campaign key, A2 on both."""
    sim = split_awssim
    other = sim.client("kms").create_key(Description="another CMK")["KeyMetadata"]["Arn"]
    # calls per instance: the time-scale test's bound (54) plus preflight's DescribeKey of the source key
    run_checked_campaign(sim, world, ["rkp-aws", "rkp-cmk"], "rkp", "re-key at time scale 0.02", 55, 35.5,
                         during={"time_scale": 0.02}, after={"time_scale": 0, "rate": {"enabled": False}},
                         source_kms={"rkp-aws": "", "rkp-cmk": other}, submit_args=("--rekey",))
