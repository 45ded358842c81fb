"""Helpers for the pg-logical strategy tests (test_pglogical_strategy_*.py):
real instances in the emulator with rds.logical_replication=1, a --db-secret
file, submitting and watching a pg-logical campaign through the real CLI, a
rate-limited writer that reconnects through the instance endpoint and
records every acknowledged number (and the longest gap between acks: the
outside probe of A4), and "nothing of fleetcrypt's left" checks.
No Python PostgreSQL driver is needed: writers are psql processes fed
through a pipe."""
import json
import os
import subprocess
import threading
import time

from fclib import PG_BIN, wait_until
from fixtures_awssim import psql

PASSWORD = "app-password-1"
MASTER = "app"
GROUP = "fc-logical"


def logical_group(sim, name=GROUP, logical=True):
    rds = sim.client("rds")
    try:
        rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres15",
                                      Description="logical replication for fleetcrypt tests")
    except rds.exceptions.DBParameterGroupAlreadyExistsFault:
        return name
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1" if logical else "0",
         "ApplyMethod": "pending-reboot"}])
    return name


def managed_secret_instance(sim, ident, group=GROUP):
    """An unencrypted PostgreSQL instance (database app, master user MASTER)
    whose master password RDS manages in Secrets Manager, available; with
    group, in that parameter group (logical_group first). Returns
    (instance, secret ARN, AWSCURRENT version id, its password)."""
    rds, sm = sim.client("rds"), sim.client("secretsmanager")
    extra = {"DBParameterGroupName": logical_group(sim, group)} if group else {}
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername=MASTER, ManageMasterUserPassword=True,
                           StorageEncrypted=False, DBName="app", BackupRetentionPeriod=0, **extra)
    src = sim.wait_instance(ident, "available", timeout=120, rds=rds)
    arn = src["MasterUserSecret"]["SecretArn"]
    v = sm.get_secret_value(SecretId=arn)
    return src, arn, v["VersionId"], json.loads(v["SecretString"])["password"]


def master_login(port, password):
    """(ok, stderr) of a master-user login to database app through the endpoint."""
    rc, out, err = psql(port, MASTER, password, "SELECT 1", db="app", check=False, timeout=15)
    return rc == 0 and out.strip() == "1", err


def make_instances(sim, ids, group=GROUP, storage=20):
    rds = sim.client("rds")
    for i in ids:
        rds.create_db_instance(DBInstanceIdentifier=i, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=storage, MasterUsername=MASTER, MasterUserPassword=PASSWORD,
                               StorageEncrypted=False, DBParameterGroupName=group, DBName="app",
                               BackupRetentionPeriod=0, Tags=[{"Key": "team", "Value": "pgl"}])
    out = {}
    for i in ids:
        out[i] = sim.wait_instance(i, "available", timeout=120, rds=rds)
    return out


def ready_source(stack, sim, ident):
    """One source in the logical-replication group with the app schema
    (app_schema), a fresh KMS key, the stack started: the key's ARN."""
    logical_group(sim)
    make_instances(sim, [ident])
    app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    return key


def endpoint(sim, ident):
    i = sim.instance(ident)
    return i["Endpoint"]["Port"]


def sql(sim, ident, text, db="app", check=True):
    return psql(endpoint(sim, ident), MASTER, PASSWORD, text, db=db, check=check)


def secret_file(world):
    path = os.path.join(world, "db-secret.json")
    with open(path, "w") as f:
        json.dump({"default": {"username": MASTER, "password": PASSWORD}}, f)
    os.chmod(path, 0o644)
    return path


def submit(stack, campaign, key_arn, ids, world, *extra):
    args = ["submit", "--campaign", campaign, "--kms-key", key_arn, "--strategy", "pg-logical",
            "--db-secret", "file:" + secret_file(world), "--yes", "--max-parallel", "6",
            "--replica-identity-full"] + list(extra) + list(ids)
    r = stack.cli(*args)
    assert r.returncode == 0, f"submit failed ({r.returncode}): {r.stderr}"
    return r


def instance_state(stack, campaign, ident):
    st = stack.status(campaign)
    for i in st["instances"]:
        if i["id"] == ident:
            return i
    raise AssertionError(f"{ident} not in status: {st}")


def wait_step(stack, campaign, ident, steps, timeout=240):
    """Until the instance is at (or past) one of `steps`, or terminal."""
    def ok():
        i = instance_state(stack, campaign, ident)
        return i if i["step"] in steps or i["state"] in ("done", "failed", "skipped", "aborted") else None
    return wait_until(ok, timeout, 0.2, f"{ident} at {steps}")


def wait_terminal(stack, campaign, timeout=420):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = stack.status(campaign)
        except AssertionError:
            last = None
        if last and all(i["state"] in ("done", "failed", "skipped", "aborted") for i in last["instances"]):
            return last
        time.sleep(1)
    raise AssertionError(f"campaign {campaign} not finished after {timeout}s: {json.dumps(last)}\n"
                         + stack.diagnostics())


# ------------------------------------------------------------------ writer / probe
class Writer:
    """Single-row autocommit INSERTs through an instance's endpoint, as the
    master user, at `rate` per second, reconnecting whenever the session
    dies. Every acknowledged number is kept (acked) with its time."""

    def __init__(self, sim, ident, rate=50, tables=("a", "b"), db="app", user=MASTER, password=PASSWORD):
        self.sim, self.ident, self.rate, self.tables, self.db = sim, ident, rate, tables, db
        self.user, self.password = user, password
        self.acked = []          # (time, number)
        self.errors = 0
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t.start()
        return self

    def _port(self):
        try:
            return endpoint(self.sim, self.ident)
        except Exception:  # noqa: BLE001 - identifier may be mid-rename
            return None

    def _session(self, port):
        # an application as AWS advises it: TLS verified against the (emulated) RDS CA bundle.
        # (With libpq's default `prefer` every refused login during the block would be
        # tried twice, over TLS then without, and the probe would see longer gaps than
        # an application that knows its server speaks TLS.)
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="2", PGSSLMODE="verify-full",
                   PGSSLROOTCERT=self.sim.info["rds_ca_bundle"])
        p = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-h", "127.0.0.1", "-p", str(port),
                              "-U", self.user, "-d", self.db],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=env, bufsize=1)

        def reader():
            for line in p.stdout:
                line = line.strip()
                if line.isdigit():
                    with self.lock:
                        self.acked.append((time.monotonic(), int(line)))
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        k = 0
        interval = 1.0 / self.rate
        try:
            while not self.stop_flag.is_set() and p.poll() is None:
                t = self.tables[k % len(self.tables)]
                k += 1
                p.stdin.write(f"INSERT INTO {t}(seq) VALUES (nextval('wseq')) RETURNING seq;\n")
                p.stdin.flush()
                time.sleep(interval)
        except (BrokenPipeError, OSError):
            pass
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
        rt.join(timeout=5)

    def _run(self):
        port = None
        while not self.stop_flag.is_set():
            port = self._port() or port
            if port:
                self._session(port)
            self.errors += 1
            time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        self.t.join(timeout=20)

    def numbers(self):
        with self.lock:
            return [n for _, n in self.acked]

    def longest_gap(self, after=0.0):
        """Longest time between two consecutive acknowledgements (seconds)."""
        with self.lock:
            ts = [t for t, _ in self.acked if t >= after]
        return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)


def app_schema(sim, ident):
    sql(sim, ident, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                    "CREATE TABLE b(seq bigint NOT NULL);"
                    "CREATE SEQUENCE wseq;")


# ------------------------------------------------------------------ leftovers
FC_OBJECTS = """
SELECT 'slot:'||slot_name FROM pg_replication_slots WHERE slot_name LIKE 'fc\\_%'
UNION ALL SELECT 'pub:'||pubname FROM pg_publication WHERE pubname LIKE 'fc\\_%'
UNION ALL SELECT 'sub:'||subname FROM pg_subscription WHERE subname LIKE 'fc\\_%'
UNION ALL SELECT 'role:'||rolname FROM pg_roles WHERE rolname LIKE 'fc\\_%'
UNION ALL SELECT 'schema:'||nspname FROM pg_namespace WHERE nspname LIKE 'fc\\_%'
UNION ALL SELECT 'evt:'||evtname FROM pg_event_trigger WHERE evtname LIKE 'fc\\_%'
"""


def fleetcrypt_leftovers(sim, ident, db="app"):
    out = sql(sim, ident, FC_OBJECTS, db=db)
    return [x for x in out.split("\n") if x]


def aws_leftovers(sim, campaign):
    rds = sim.client("rds")
    left = []
    for i in rds.describe_db_instances()["DBInstances"]:
        if i["DBInstanceIdentifier"].startswith(f"fc-{campaign}-"):
            left.append("db:" + i["DBInstanceIdentifier"] + ":" + i["DBInstanceStatus"])
    for s in rds.describe_db_snapshots()["DBSnapshots"]:
        if s["DBSnapshotIdentifier"].startswith(f"fc-{campaign}-"):
            left.append("snap:" + s["DBSnapshotIdentifier"])
    return left
