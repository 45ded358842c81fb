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
import re
import shutil
import subprocess
import tempfile
import threading
import time

from fclib import IS_ROOT, PG_BIN, as_pg_user_cmd, pg_uid_gid, wait_until
from fixtures_awssim import psql

PASSWORD = "app-password-1"
MASTER = "app"
GROUP = "fc-logical"


def logical_group(sim, name=GROUP, logical=True, rds=None):
    """rds: another account's client (default: the campaign's account)."""
    rds = rds or sim.client("rds")
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


def make_instances(sim, ids, group=GROUP, storage=20, kms=None, sgs=None):
    """kms: {ident: key} for sources already encrypted ("" = RDS's default, aws/rds);
    sgs: VPC security group ids for every instance (default: the VPC's default group)."""
    rds = sim.client("rds")
    kms = kms or {}
    for i in ids:
        enc = {"StorageEncrypted": False}
        if i in kms:
            enc = {"StorageEncrypted": True, **({"KmsKeyId": kms[i]} if kms[i] else {})}
        rds.create_db_instance(DBInstanceIdentifier=i, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=storage, MasterUsername=MASTER, MasterUserPassword=PASSWORD,
                               DBParameterGroupName=group, DBName="app",
                               BackupRetentionPeriod=0, Tags=[{"Key": "team", "Value": "pgl"}],
                               **({"VpcSecurityGroupIds": sgs} if sgs else {}), **enc)
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
        self.errors = 0          # every session end, the writer's own stop included
        self.cutoffs = []        # wall-clock time (epoch s) of each session the server ended
        self.sessions = []       # [monotonic start, monotonic first acknowledgement or None] per session
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

    def _session(self, port, host="127.0.0.1"):
        # an application as AWS advises it: TLS verified against the (emulated) RDS CA bundle.
        # (With libpq's default `prefer` every refused login during the block would be
        # tried twice, over TLS then without, and the probe would see longer gaps than
        # an application that knows its server speaks TLS.)
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="2", PGSSLMODE="verify-full",
                   PGSSLROOTCERT=self.sim.info["rds_ca_bundle"])
        p = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-h", host, "-p", str(port),
                              "-U", self.user, "-d", self.db],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=env, bufsize=1)
        sess = [time.monotonic(), None]
        with self.lock:
            self.sessions.append(sess)

        def reader():
            for line in p.stdout:
                line = line.strip()
                if line.isdigit():
                    with self.lock:
                        now = time.monotonic()
                        if sess[1] is None:
                            sess[1] = now
                        self.acked.append((now, int(line)))
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
        tries = 0
        while not self.stop_flag.is_set():
            # an identifier keeps its endpoint port across renames: look it up
            # again only now and then, so a reconnect costs a connection
            # attempt, not an AWS describe (the probe measures the database's
            # availability, not the emulator's API latency on a loaded machine)
            if port is None or tries % 25 == 0:
                port = self._port() or port
            tries += 1
            if port:
                self._session(port)
            self.errors += 1
            if not self.stop_flag.is_set():   # not our own stop: the server refused or ended us
                with self.lock:
                    self.cutoffs.append(time.time())
            time.sleep(0.02)

    def cut_off_after(self, epoch_s):
        """Sessions the server ended (or refused) at or after epoch_s."""
        with self.lock:
            return [t for t in self.cutoffs if t >= epoch_s]

    def stop(self):
        self.stop_flag.set()
        self.t.join(timeout=20)

    def numbers(self):
        with self.lock:
            return [n for _, n in self.acked]

    def wait_more(self, n, what, timeout=60):
        """Wait until n more numbers than now are acknowledged: the writer
        commits (again), e.g. once a campaign has ended."""
        base = len(self.numbers())
        wait_until(lambda: len(self.numbers()) >= base + n, timeout, 0.1, what)

    def longest_gap(self, after=0.0):
        """Longest time between two consecutive acknowledgements (seconds)."""
        return self.longest_gap_detail(after)[0]

    def longest_gap_detail(self, after=0.0):
        """(gap, connect_s): the longest time between two consecutive
        acknowledgements, and how much of its end was this client's own
        reconnect — from the start of the session that ended the gap (its
        psql started, TLS and login) to that session's first
        acknowledgement, when the gap ended with a new session. On a loaded
        machine that is the probe's cost, not the database's downtime."""
        with self.lock:
            ts = [t for t, _ in self.acked if t >= after]
            sessions = [tuple(s) for s in self.sessions if s[1] is not None]
        if len(ts) < 2:
            return 0.0, 0.0
        gap, a, b = max((b - a, a, b) for a, b in zip(ts, ts[1:]))
        connect = next((b - s0 for s0, first in sessions if first == b and s0 >= a), 0.0)
        return gap, connect


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


# ------------------------------------------------------------------ CI campaign harness
# Shared by test_pglogical_timescale.py, test_pglogical_faults.py and
# test_chaos_short.py: an emulator whose call log tells fleetcrypt's calls
# from the test's own, an application role, A2 / frozen-source / leftover
# checks, and the holder intervals of every instance's steps.

import pytest  # noqa: E402

from fclib import PgServer, RedisConn, chown_pg, free_port, make_world_dir  # noqa: E402
from fixtures_awssim import ACCESS_KEY, AwsSim  # noqa: E402

APP_ROLE, APP_PASSWORD = "webapp", "webapp-password-1"
HARNESS_KEY = "AKIAFCTESTHARNESS001"
HARNESS_SECRET = "fleetcrypt/test/harness/secret/key00000"
SIM_ACCOUNT = "123456789012"
TERMINAL = ("done", "failed", "skipped", "aborted")


class HarnessSim(AwsSim):
    """The emulator, but the test's own calls (boto clients: writers'
    endpoint look-ups, checks, setup) are signed with a second key of the
    same account, so the call log's entries signed with ACCESS_KEY — the
    one sim.env() hands to the stack — are fleetcrypt's alone."""

    def client(self, service, access_key=None, secret_key=None, token=None, **kw):
        return super().client(service, access_key or HARNESS_KEY, secret_key or HARNESS_SECRET, token, **kw)


@pytest.fixture
def split_awssim(pg_template):
    base = make_world_dir("fc-awssim-")
    creds = os.path.join(base, "harness-credentials.json")
    with open(creds, "w") as f:
        json.dump([{"access_key_id": HARNESS_KEY, "secret_access_key": HARNESS_SECRET,
                    "account_id": SIM_ACCOUNT}], f)
    sim = HarnessSim(os.path.join(base, "home"), pg_template, ["--credentials", creds])
    try:
        sim.start()
        yield sim
    finally:
        try:
            sim.stop()
        finally:
            if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
                shutil.rmtree(base, ignore_errors=True)


def app_role(sim, ident, role=APP_ROLE, password=APP_PASSWORD):
    """An application login role (not the master user) that writes the app tables."""
    sql(sim, ident, f"CREATE ROLE {role} LOGIN PASSWORD '{password}';"
                    f"GRANT SELECT, INSERT ON a, b TO {role};"
                    f"GRANT USAGE, SELECT ON SEQUENCE wseq, a_id_seq TO {role};")


def app_login(sim, ident, role=APP_ROLE, password=APP_PASSWORD):
    """(ok, stderr) of an application-role login to database app through the identifier's endpoint."""
    rc, out, err = psql(endpoint(sim, ident), role, password, "SELECT 1", db="app", check=False, timeout=15)
    return rc == 0 and out.strip() == "1", err.strip()


def product_calls(sim):
    """The emulator's call log entries signed with fleetcrypt's key (see HarnessSim)."""
    return [c for c in sim.admin("GET", "/calls", timeout=120)["calls"] if c.get("access_key") == ACCESS_KEY]


def call_summary(calls, n_instances):
    by = {}
    for c in calls:
        by[c["action"]] = by.get(c["action"], 0) + 1
    return {"total": len(calls), "per_instance": len(calls) / max(1, n_instances),
            "by_action": dict(sorted(by.items(), key=lambda kv: -kv[1]))}


CREATE_ACTIONS = ("CreateDBInstance", "CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot",
                  "CreateDBInstanceReadReplica", "CreateKey")


def duplicate_create_calls(calls, n_instances):
    """From the call log: create actions that succeeded more often than once
    per instance (a re-run that created again instead of finding its own)."""
    ok = {}
    for c in calls:
        if c["action"] in CREATE_ACTIONS and not c.get("error") and c.get("status") == 200:
            ok[c["action"]] = ok.get(c["action"], 0) + 1
    return {a: k for a, k in ok.items() if k > n_instances}


def conflicts(sim, kind):
    return [c for c in sim.admin("GET", "/conflicts")["conflicts"] if c.get("kind") == kind]


def table_seqs(sim, ident):
    return [int(x) for x in sql(sim, ident, "SELECT seq FROM a UNION ALL SELECT seq FROM b").split()]


def exactly_once(sim, ident, writer, min_acked=20):
    """A2 on one instance: problems (empty when every acknowledged number is
    on the serving instance exactly once and nothing appears twice)."""
    tgt = table_seqs(sim, ident)
    acked = writer.numbers()
    missing = sorted(set(acked) - set(tgt))
    doubled = len(tgt) - len(set(tgt))
    out = []
    if len(acked) < min_acked:
        out.append(f"{ident}: the writer acknowledged only {len(acked)} rows")
    if missing or doubled:
        out.append(f"{ident}: acked {len(acked)} target {len(tgt)} missing {len(missing)} "
                   f"(first {missing[:10]}) doubled {doubled}")
    return out


def serving_instance_is(sim, ident):
    """The identifier's endpoint reaches the server of the instance now named
    ident (not a retired one through a stale name): (ok, detail)."""
    insts = {i["id"]: i for i in sim.admin("GET", "/instances")["instances"]}
    eps = {e["name"]: e for e in sim.admin("GET", "/endpoints")["endpoints"]}
    inst, ep = insts.get(ident), eps.get(f"db:{ident}")
    ok = bool(inst and ep and inst["real_port"] and ep["target_port"] == inst["real_port"])
    return ok, f"endpoint {ep} instance {inst and {k: inst[k] for k in ('id', 'status', 'real_port')}}"


def retired_of(sim, ident):
    """The instances tagged retired-source with fleetcrypt:original-id = ident."""
    rds = sim.client("rds")
    out = []
    for i in rds.describe_db_instances()["DBInstances"]:
        tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=i["DBInstanceArn"])["TagList"]}
        if tags.get("fleetcrypt:role") == "retired-source" and tags.get("fleetcrypt:original-id") == ident:
            out.append(i)
    return out


class FrozenCopy:
    """A stopped instance's data directory copied and started on a free port
    with trust authentication, so the test can read it as a superuser
    without starting (and changing) the instance itself. Roles stay as they
    are (a NOLOGIN role still cannot log in)."""

    SUPERUSERS = ("postgres", "rdsadmin")

    def __init__(self, sim, inst_id, world):
        self.sim, self.inst_id = sim, inst_id
        self.dir = os.path.join(world, f"frozen-{inst_id}")
        self.srv = None
        self.user = None

    def __enter__(self):
        info = self.sim.admin("GET", f"/instances/{self.inst_id}")
        assert not info["server_up"], f"{self.inst_id} still has a running server: {info}"
        assert info["data_dir"], f"{self.inst_id} has no data directory: {info}"
        os.makedirs(self.dir)
        data = os.path.join(self.dir, "data")
        shutil.copytree(info["data_dir"], data, symlinks=True,
                        ignore=shutil.ignore_patterns("postmaster.pid", "log"))
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        with open(os.path.join(data, "postgresql.auto.conf"), "a") as f:
            f.write("\nlogging_collector = off\nssl = off\n")
        chown_pg(self.dir)
        os.chmod(data, 0o700)
        if os.geteuid() == 0:
            from fclib import pg_uid_gid
            os.chown(self.dir, *pg_uid_gid())
        self.srv = PgServer(data, free_port(), os.path.join(self.dir, "pg.log")).start()
        for u in self.SUPERUSERS:
            try:
                if self._try(u):
                    self.user = u
                    break
            except subprocess.CalledProcessError:
                continue
        assert self.user, f"no superuser login on the copy of {self.inst_id} (tried {self.SUPERUSERS})"
        return self

    def _try(self, user):
        return self.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", user=user) == "t"

    def query(self, text, db="postgres", user=None):
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                            "-d", self.srv.dsn(db, user or self.user), "-c", text],
                           check=True, capture_output=True, text=True, timeout=60)
        return r.stdout.strip()

    def __exit__(self, *exc):
        if self.srv:
            self.srv.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def frozen_source_checks(sim, ident, world, target_seqs, roles=(MASTER, APP_ROLE)):
    """The retired source of ident, read from a copy of its stopped data
    directory: problems (empty when its rows are a subset of the target's,
    the application roles are still blocked, and fleetcrypt left no slot,
    publication, subscription or event trigger there; the documented
    exception is the record schema and the admin role kept for `unblock`,
    docs/pg-logical.md)."""
    retired = retired_of(sim, ident)
    if len(retired) != 1:
        return [f"{ident}: expected one retired source, got {[r['DBInstanceIdentifier'] for r in retired]}"]
    rid = retired[0]["DBInstanceIdentifier"]
    sim.wait_instance(rid, "stopped", timeout=120)
    out = []
    with FrozenCopy(sim, rid, world) as fc:
        src = [int(x) for x in fc.query("SELECT seq FROM a UNION ALL SELECT seq FROM b", db="app").split()]
        extra = sorted(set(src) - set(target_seqs))
        if extra:
            out.append(f"{ident}: {len(extra)} rows of the frozen source {rid} are not on the target "
                       f"(first {extra[:10]})")
        names = ",".join("'" + r.replace("'", "''") + "'" for r in roles)
        can = fc.query(f"SELECT rolname FROM pg_roles WHERE rolname IN ({names}) AND rolcanlogin ORDER BY 1")
        if can:
            out.append(f"{ident}: the retired source {rid} lets these roles log in again: {can.split()}")
        left = [x for x in fc.query(FC_OBJECTS, db="app").split("\n") if x]
        kept = [x for x in left if x.startswith("schema:") or (x.startswith("role:") and x.endswith("_admin"))]
        if len([x for x in kept if x.startswith("role:")]) > 1:
            out.append(f"{ident}: more than one fleetcrypt admin role on the retired source: {kept}")
        bad = [x for x in left if x not in kept]
        if bad:
            out.append(f"{ident}: fleetcrypt objects left on the retired source {rid}: {bad}")
    return out


def instance_ids(sim):
    return sorted(i["id"] for i in sim.admin("GET", "/instances")["instances"])


# ------------------------------------------------------------------ holder intervals
class LeaseWatch(threading.Thread):
    """Polls every instance record (fence, owner, run_ms, step, attempt —
    written atomically by lua/step_begin.lua when a holder takes the lease)
    every `period` s and keeps each (instance, fence) the first time it is
    seen. A holder that dies inside its step keeps its fence on the record
    until the next holder's step_begin, at least one lease TTL later, so no
    killed holder is missed; short steps that are missed are still in the
    events stream (step_end.lua: ts, node, duration_ms)."""

    FIELDS = ("fence", "owner", "run_ms", "step", "attempt")

    def __init__(self, stack, campaign, ids, period=0.1):
        super().__init__(daemon=True)
        self.stack, self.campaign, self.ids, self.period = stack, campaign, list(ids), period
        self.seen = {}            # (ident, fence) -> dict
        self.polls = 0
        self.errors = 0
        self.stop_flag = threading.Event()

    def run(self):
        conn = None
        while not self.stop_flag.is_set():
            try:
                if conn is None:
                    conn = RedisConn(self.stack.redis.port, timeout=2.0)
                cmds = []
                for i in self.ids:
                    cmds.append(("HMGET", f"fc:{{{self.campaign}}}:i:{i}") + self.FIELDS)
                    cmds.append(("GET", f"fc:{{{self.campaign}}}:lease:{i}"))
                replies = conn.pipeline(*cmds)
                now = time.time()
                self.polls += 1
                for n, ident in enumerate(self.ids):
                    rec = dict(zip(self.FIELDS, replies[2 * n]))
                    rec["token"] = replies[2 * n + 1]
                    if rec["fence"] and rec["owner"] and (ident, rec["fence"]) not in self.seen:
                        self.seen[(ident, rec["fence"])] = dict(rec, instance=ident, seen=now)
            except Exception:  # noqa: BLE001 - Redis restarting: reconnect
                self.errors += 1
                if conn:
                    conn.close()
                conn = None
            time.sleep(self.period)
        if conn:
            conn.close()

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=10)


def step_events(stack, campaign):
    """The campaign's event stream (fc:{campaign}:events): dicts."""
    rows = RedisConn(stack.redis.port).cmd("XRANGE", f"fc:{{{campaign}}}:events", "-", "+")
    return [dict(zip(f[::2], f[1::2])) for _, f in rows]


def holder_intervals(events, watch, deaths):
    """Every holder's interval [begin_ms, end_ms] per instance, from what
    exists: lua/step_begin.lua records no event, so begins come from the
    LeaseWatch (run_ms, owner) or, for steps it missed, from the step_end
    event (ts - duration_ms); ends from the step_end event of that node, or
    the node's death (crash-point file time) when it died inside the step.
    deaths: node -> wall ms. Returns (intervals, unresolved)."""
    ends = [e for e in events if e.get("node") and e.get("duration_ms") not in (None, "") and e.get("instance")]
    used = set()
    out, unresolved = [], []
    seen = sorted(watch.seen.items(), key=lambda kv: int(kv[1]["run_ms"]))
    for n, ((ident, fence), h) in enumerate(seen):
        b = int(h["run_ms"])
        # the same task running its step again with the same lease token (its
        # outcome was not recorded, e.g. Redis was down): one holder, whose
        # earlier run ended before this one began
        later = [x for (i2, _f), x in seen[n + 1:] if i2 == ident]
        if later and h.get("token") and later[0].get("token") == h["token"]:
            out.append({"instance": ident, "node": h["owner"], "fence": fence, "step": h["step"],
                        "begin": b, "end": int(later[0]["run_ms"]), "how": "watch+rerun"})
            continue
        match = None
        for k, e in enumerate(ends):
            if k in used or e["instance"] != ident or e["node"] != h["owner"] or e["step"] != h["step"]:
                continue
            if int(e["ts"]) >= b:
                match = k
                break
        d = deaths.get(h["owner"])
        if match is not None and (d is None or int(ends[match]["ts"]) <= d):
            used.add(match)
            out.append({"instance": ident, "node": h["owner"], "fence": fence, "step": h["step"],
                        "begin": b, "end": int(ends[match]["ts"]), "how": "watch+event"})
        elif d is not None and d >= b:
            out.append({"instance": ident, "node": h["owner"], "fence": fence, "step": h["step"],
                        "begin": b, "end": d, "how": "watch+death"})
        else:
            unresolved.append(h)
    for k, e in enumerate(ends):
        if k not in used:
            out.append({"instance": e["instance"], "node": e["node"], "fence": None, "step": e["step"],
                        "begin": int(e["ts"]) - int(e["duration_ms"]), "end": int(e["ts"]), "how": "event"})
    return out, unresolved


def overlapping_holders(intervals, tolerance_ms=50):
    """Pairs of intervals of one instance that overlap by more than tolerance_ms."""
    bad = []
    by = {}
    for iv in intervals:
        by.setdefault(iv["instance"], []).append(iv)
    for ivs in by.values():
        ivs.sort(key=lambda x: x["begin"])
        for a_i, a in enumerate(ivs):
            for b in ivs[a_i + 1:]:
                if b["begin"] >= a["end"] - tolerance_ms:
                    break
                bad.append((a, b))
    return bad


# ------------------------------------------------------------------ one campaign with writers
def setup_sources(sim, ids, kms=None):
    """ids as real logical-replication sources with the app schema and the
    application role (kms: see make_instances): {ident: endpoint port}."""
    logical_group(sim)
    make_instances(sim, ids, kms=kms)
    for i in ids:
        app_schema(sim, i)
        app_role(sim, i)
    return {i: endpoint(sim, i) for i in ids}


def start_app_writers(sim, ids, rate=15):
    return {i: Writer(sim, i, rate=rate, user=APP_ROLE, password=APP_PASSWORD).start() for i in ids}


def wait_campaign_terminal(stack, campaign, timeout, on_tick=None, period=0.5):
    """Poll status until every instance is terminal (Redis may be down for a
    while: a failed status call is just another tick). on_tick(status or None)."""
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        try:
            st = stack.status(campaign)
        except Exception:  # noqa: BLE001
            st = None
        if st and st["instances"] and all(i["state"] in TERMINAL for i in st["instances"]):
            return st
        if on_tick:
            on_tick(st)
        time.sleep(period)
    raise AssertionError(f"campaign {campaign} not finished after {timeout}s: {json.dumps(st)}\n"
                         + stack.diagnostics())


def done_problems(st):
    return [f"{i['id']}: {i['state']} at {i['step']}: {i.get('error')}" for i in st["instances"]
            if i["state"] != "done"]


def serving_problems(sim, campaign, ident, key_arn, port_before):
    """The identifier serves the encrypted instance (campaign key, same port,
    role tag encrypted), reached through its endpoint, and the application
    role can log in there."""
    out = []
    rds = sim.client("rds")
    inst = sim.instance(ident, rds)
    if not inst["StorageEncrypted"] or inst.get("KmsKeyId") != key_arn:
        out.append(f"{ident}: not encrypted with the campaign key ({inst['StorageEncrypted']}, {inst.get('KmsKeyId')})")
    if inst["Endpoint"]["Port"] != port_before:
        out.append(f"{ident}: the endpoint port changed ({port_before} -> {inst['Endpoint']['Port']})")
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=inst["DBInstanceArn"])["TagList"]}
    if tags.get("fleetcrypt:role") != "encrypted":
        out.append(f"{ident}: serving instance tagged fleetcrypt:role={tags.get('fleetcrypt:role')}")
    ok, detail = serving_instance_is(sim, ident)
    if not ok:
        out.append(f"{ident}: the endpoint does not reach the instance named {ident}: {detail}")
    ok, err = app_login(sim, ident)
    if not ok:
        out.append(f"{ident}: the application role {APP_ROLE} cannot log in to the encrypted instance: {err}")
    left = fleetcrypt_leftovers(sim, ident)
    if left:
        out.append(f"{ident}: fleetcrypt objects left on the target: {left}")
    return out


def campaign_problems(sim, world, campaign, ids, key_arn, ports, writers):
    """Every per-instance check of the CI campaign tests, collected (not the
    first failure only): A2, the serving instance, the frozen source."""
    out = []
    for i in ids:
        for check in (lambda: exactly_once(sim, i, writers[i], min_acked=50),
                      lambda: serving_problems(sim, campaign, i, key_arn, ports[i]),
                      lambda: frozen_source_checks(sim, i, world, table_seqs(sim, i))):
            try:
                out += check()
            except Exception as e:  # noqa: BLE001 - report it with the others
                out.append(f"{i}: check raised {type(e).__name__}: {str(e)[:400]}")
    left = [x for x in aws_leftovers(sim, campaign) if not (x.startswith("db:") and "retired" in x)]
    if left:
        out.append(f"intermediate AWS resources left: {left}")
    # the test creates no snapshot (BackupRetentionPeriod 0): any left is fleetcrypt's
    snaps = [x.get("id") for x in sim.admin("GET", "/snapshots")["snapshots"]]
    if snaps:
        out.append(f"snapshots left: {snaps}")
    dup = conflicts(sim, "duplicate-create")
    if dup:
        out.append(f"{len(dup)} duplicate creates: {dup[:5]}")
    return out


class Phases:
    """Where a long test's time goes, printed at the end (for the CI budget)."""

    def __init__(self):
        self.t = time.monotonic()
        self.marks = []

    def mark(self, name):
        now = time.monotonic()
        self.marks.append((name, now - self.t))
        self.t = now

    def __str__(self):
        return " ".join(f"{n}={s:.1f}s" for n, s in self.marks)


# ------------------------------------------------------------------ reading a stopped instance
def frozen_rows(sim, ident, query, db="app", timeout=120):
    """Rows of `query` (one line of SQL) on a STOPPED instance, read by the
    test itself: a single-user backend on a copy of the instance's data
    directory. No endpoint, no login and nothing of the product is involved,
    so a source whose roles the cutover blocked is readable, and the answer
    does not depend on fleetcrypt's own verify. Returns a list of tuples of
    text values (NULL as None)."""
    sim.wait_instance(ident, "stopped", timeout=120)
    v = wait_until(lambda: (lambda x: x if not x.get("server_up") else None)(sim.admin("GET", f"/instances/{ident}")),
                   60, 0.5, f"{ident}'s server down")
    base = tempfile.mkdtemp(prefix="fc-frozen-")
    try:
        data = os.path.join(base, "data")
        shutil.copytree(v["data_dir"], data, symlinks=False)  # a pg_wal link is copied, not shared
        for f in ("postmaster.pid", "postmaster.opts"):
            if os.path.exists(os.path.join(data, f)):
                os.unlink(os.path.join(data, f))
        if IS_ROOT:
            uid, gid = pg_uid_gid()
            for root, dirs, files in os.walk(base):
                os.chown(root, uid, gid)
                for f in files:
                    os.chown(os.path.join(root, f), uid, gid, follow_symlinks=False)
        os.chmod(data, 0o700)
        cmd = [os.path.join(PG_BIN, "postgres"), "--single", "-D", data, "-c", "listen_addresses=",
               "-c", "shared_preload_libraries=", "-c", "ssl=off", "-c", "archive_mode=off",
               "-c", f"unix_socket_directories={base}", db]
        r = subprocess.run(as_pg_user_cmd(cmd), input=query.strip().replace("\n", " ") + "\n",
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0 and "ERROR" not in r.stderr, \
            f"single-user read of {ident} failed (rc={r.returncode}): {r.stderr[-2000:]}"
        rows, cur, in_header = [], [], True
        for line in r.stdout.splitlines():
            if line.strip() == "----":
                if in_header:
                    in_header = False
                else:
                    rows.append(tuple(cur))
                cur = []
                continue
            m = re.match(r'^\s*(?:backend> )?\s*\d+: \S+ = (?:"(.*)"|<NULL>)\t\(typeid', line)
            if m and not in_header:
                cur.append(m.group(1))
        return rows
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ one CI campaign, run and checked
def run_checked_campaign(sim, world, ids, campaign, label, max_calls, calls_at_scale_0, during=None,
                         after=None, extra_problems=None, source_kms=None, submit_args=()):
    """The campaign of test_pglogical_timescale.py / test_pglogical_faults.py:
    sources set up at time scale 0, a stack of two workers, application-role
    writers, `during` (emulator /config) applied just before submit and
    `after` once the campaign ended (before the checks). Fails with every
    problem found: not done, A2, duplicate creates, leftovers, more than
    max_calls AWS calls per instance, and extra_problems(raw_calls).
    source_kms: sources already encrypted (make_instances' kms; a re-key
    campaign passes submit_args=("--rekey",))."""
    from fixtures_stack import make_stack
    ph = Phases()
    sim.admin("POST", "/config", {"time_scale": 0})      # the sources are set up at full speed
    ports = setup_sources(sim, ids, kms=source_kms)
    # the wait floors on the emulator's clock: the time scale `during` sets
    floors = {"FLEETCRYPT_POLL_FLOOR_SCALE": str(during["time_scale"])} if "time_scale" in (during or {}) else {}
    stack = make_stack(world, sim, workers=2, executors=4, env_extra=floors)
    writers = {}
    try:
        ph.mark("sources")
        key = stack.make_key()["Arn"]
        stack.start()
        sim.admin("DELETE", "/calls")
        sim.admin("DELETE", "/conflicts")
        writers = start_app_writers(sim, ids)
        time.sleep(1.5)
        if during:
            sim.admin("POST", "/config", during)
        submit(stack, campaign, key, ids, world, *submit_args)
        ph.mark("stack+submit")
        t0 = time.monotonic()
        st = wait_campaign_terminal(stack, campaign, timeout=420)
        ph.mark("campaign")
        took = time.monotonic() - t0
        time.sleep(1.5)          # writes after the switch (and the DNS lag) land on the target
        for w in writers.values():
            w.stop()
        if after:
            sim.admin("POST", "/config", after)
        raw = product_calls(sim)
        calls = call_summary(raw, len(ids))
        print(f"{label}: campaign {took:.0f}s, {calls['total']} AWS calls "
              f"({calls['per_instance']:.1f}/instance): {calls['by_action']}", flush=True)
        problems = done_problems(st)
        dup = duplicate_create_calls(raw, len(ids))
        if dup:
            problems.append(f"created more than once per instance (call log): {dup}")
        problems += campaign_problems(sim, world, campaign, ids, key, ports, writers)
        if extra_problems:
            problems += extra_problems(raw)
        if calls["per_instance"] > max_calls:
            problems.append(f"{calls['per_instance']:.1f} AWS calls per instance > {max_calls} "
                            f"(scale 0, no faults: {calls_at_scale_0}): {calls['by_action']}")
        ph.mark("checks")
        print(f"phases: {ph}", flush=True)
        assert not problems, "\n".join(problems) + "\n" + stack.diagnostics()
    finally:
        for w in writers.values():
            w.stop()
        stack.stop()
