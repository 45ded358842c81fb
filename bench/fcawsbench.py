"""fcawsbench — what the AWS benchmarks (bench_aws_calls.py, bench_makespan.py)
share: the AWS emulator (tools/awssim) with three keys of one account, so
its call log tells fleetcrypt's calls (the key the stack is given) from the
benchmark's own set-up and checks (HARNESS_KEY) and from the baseline's
(BASELINE_KEY); the integration tests' stack on it; a baseline that drives
the same AWS actions as a shell loop of `aws rds` commands would, waiting
on each resource as `aws rds wait` does (Describe now, then every 30
emulated seconds); and gnuplot.

Never run by tests/run (docs/BENCHMARKS.md)."""
import json
import os
import shutil
import subprocess
import threading
import time

import fcbench  # noqa: F401  (sets FLEETCRYPT_BIN_DIR and sys.path first)
from fclib import Proc, initdb_template, make_world_dir  # noqa: E402
from fixtures_stack import make_stack  # noqa: E402
from fixtures_awssim import ACCESS_KEY, AwsSim  # noqa: E402

REPO = fcbench.REPO
HARNESS_KEY, HARNESS_SECRET = "AKIAFCBENCHHARNESS01", "fleetcrypt/bench/harness/secret/key0000"
BASELINE_KEY, BASELINE_SECRET = "AKIAFCBENCHBASELINE1", "fleetcrypt/bench/baseline/secret/key000"
ACCOUNT = "123456789012"
META_TAG = {"Key": "fleetcrypt-sim:metadata-only", "Value": "true"}
AWS_WAIT_DELAY_S = 30   # botocore's RDS waiters: Delay 30, MaxAttempts 60


class BenchSim(AwsSim):
    """The emulator; client() signs with the benchmark's own key unless told."""

    def client(self, service, access_key=None, secret_key=None, **kw):
        return super().client(service, access_key or HARNESS_KEY, secret_key or HARNESS_SECRET, **kw)

    def calls(self, key=ACCESS_KEY):
        return [c for c in self.admin("GET", "/calls", timeout=120)["calls"] if c.get("access_key") == key]


def start_sim(args=(), real=True):
    """(sim, base dir). real: a PostgreSQL template for real instances."""
    base = make_world_dir("fc-bench-aws-")
    creds = os.path.join(base, "credentials.json")
    with open(creds, "w") as f:
        json.dump([{"access_key_id": HARNESS_KEY, "secret_access_key": HARNESS_SECRET, "account_id": ACCOUNT},
                   {"access_key_id": BASELINE_KEY, "secret_access_key": BASELINE_SECRET, "account_id": ACCOUNT}], f)
    tmpl = initdb_template(os.path.join(base, "template")) if real else None
    sim = BenchSim(os.path.join(base, "home"), tmpl, ["--credentials", creds] + list(args))
    sim.start()
    sim.admin("POST", "/config", {"quotas": {"DBInstances": 1000, "ManualSnapshots": 2000}})
    return sim, base


def stop_sim(sim, base):
    try:
        sim.stop()
    finally:
        if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(base, ignore_errors=True)


def by_action(calls):
    out = {}
    for c in calls:
        out[c["action"]] = out.get(c["action"], 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def fmt_actions(d, n):
    return ", ".join(f"{a} {k / n:.2f}" for a, k in d.items())


# ------------------------------------------------------------------ the baseline
class Baseline:
    """One instance's campaign as a shell loop of `aws rds` commands would run
    it: each action once, and after each, `aws rds wait`'s polling (Describe
    at once, then every 30 emulated seconds until the wanted status).
    Signed with BASELINE_KEY. scale: the emulator's time scale (real seconds
    per AWS second)."""

    def __init__(self, sim, scale, kms_arn):
        self.sim, self.scale, self.kms = sim, scale, kms_arn
        self.errors = []
        self.ended = []     # monotonic end time of each instance's run

    def _rds(self):
        return self.sim.client("rds", BASELINE_KEY, BASELINE_SECRET, retries=5)

    def _wait(self, rds, fn, key, ident, want):
        while True:
            try:
                got = fn(**{key: ident})
                item = next(iter(v for k, v in got.items() if isinstance(v, list)))[0]
                st = item.get("DBInstanceStatus") or item.get("Status")
                if st in want:
                    return
            except rds.exceptions.ClientError as e:
                if "NotFound" not in str(e):
                    raise
            time.sleep(AWS_WAIT_DELAY_S * self.scale)

    def wait_db(self, rds, ident, want=("available",)):
        self._wait(rds, rds.describe_db_instances, "DBInstanceIdentifier", ident, want)

    def wait_snap(self, rds, ident):
        self._wait(rds, rds.describe_db_snapshots, "DBSnapshotIdentifier", ident, ("available",))

    def run(self, strategy, ident):
        """The AWS actions of fleetcrypt's `strategy` (offline or pg-logical) for one instance."""
        rds = self._rds()
        snap, enc, ret = f"bl-{ident}-snap", f"bl-{ident}-enc", f"{ident}-retired"
        tgt = f"bl-{ident}-tgt"
        src = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]   # preflight
        if strategy == "offline":
            # rename the source away, stop it, snapshot it, copy, restore under the name
            rds.modify_db_instance(DBInstanceIdentifier=ident, NewDBInstanceIdentifier=ret, ApplyImmediately=True)
            self.wait_db(rds, ret)
            rds.stop_db_instance(DBInstanceIdentifier=ret)
            self.wait_db(rds, ret, ("stopped",))
            of, target = ret, ident
        else:
            of, target = ident, tgt
        rds.create_db_snapshot(DBSnapshotIdentifier=snap, DBInstanceIdentifier=of)
        self.wait_snap(rds, snap)
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier=snap, TargetDBSnapshotIdentifier=enc, KmsKeyId=self.kms)
        self.wait_snap(rds, enc)
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=target, DBSnapshotIdentifier=enc,
                                                 DBInstanceClass=src["DBInstanceClass"],
                                                 Tags=[META_TAG])
        self.wait_db(rds, target)
        rds.modify_db_instance(DBInstanceIdentifier=target, BackupRetentionPeriod=1, ApplyImmediately=True)
        self.wait_db(rds, target)
        if strategy != "offline":
            # (replication runs between the databases: no AWS call) then the rename swap
            rds.modify_db_instance(DBInstanceIdentifier=ident, NewDBInstanceIdentifier=ret, ApplyImmediately=True)
            self.wait_db(rds, ret)
            rds.modify_db_instance(DBInstanceIdentifier=tgt, NewDBInstanceIdentifier=ident, ApplyImmediately=True)
            self.wait_db(rds, ident)
            rds.stop_db_instance(DBInstanceIdentifier=ret)
            self.wait_db(rds, ret, ("stopped",))
        arn = rds.describe_db_instances(DBInstanceIdentifier=ret)["DBInstances"][0]["DBInstanceArn"]
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "retired", "Value": "true"}])
        rds.delete_db_snapshot(DBSnapshotIdentifier=snap)
        rds.delete_db_snapshot(DBSnapshotIdentifier=enc)

    def run_all(self, strategy, ids):
        """Every instance at once (one thread each, as `xargs -P`)."""
        def one(i):
            try:
                self.run(strategy, i)
                self.ended.append(time.monotonic())
            except Exception as e:  # noqa: BLE001 - reported by the caller
                self.errors.append(f"{i}: {type(e).__name__}: {str(e)[:300]}")
        ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in ids]
        for t in ts:
            t.start()
        return ts


# ------------------------------------------------------------------ plots
def gnuplot(script, cwd):
    """Run a gnuplot script (gnuplot-nox); False with a note when it is missing."""
    if not shutil.which("gnuplot"):
        print("  (gnuplot not installed: no plot; deploy/install-deps installs gnuplot-nox)", flush=True)
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, cwd=cwd)
    if r.returncode != 0:
        print(f"  gnuplot failed: {r.stderr[-500:]}", flush=True)
        return False
    return True


DOCS_BENCH = os.path.join(REPO, "docs", "bench")


class BinStack:
    """make_stack's Stack with the workers and coordinator from another build
    (bin_dir: the binaries before a change, for a same-run comparison;
    None: this build's)."""

    @staticmethod
    def make(world, sim, bin_dir, **kw):
        stack = make_stack(world, sim, **kw)
        if bin_dir:
            def _proc(name, binary):
                stack.seq += 1
                env = dict(stack.env, FLEETCRYPT_NODE_ID=f"{name}-{stack.seq}")
                return Proc([os.path.join(bin_dir, binary)], os.path.join(stack.logs, f"{name}-{stack.seq}.log"),
                            env=env)
            stack._proc = _proc
        return stack
