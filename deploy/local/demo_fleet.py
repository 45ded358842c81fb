#!/usr/bin/python3
"""demo_fleet — the body of deploy/local/demo, run with the stack's environment.

Creates the fleet through /usr/bin/aws (the real awscli against the emulator),
loads data, starts live writers that record every committed row, submits one
campaign with the real `fleetcrypt` CLI, shows progress, verifies every
committed row exactly once on the encrypted instances, and prints a summary.

MySQL family (FLEETCRYPT_DEMO_MYSQL, default 2; 0: none): as many RDS for
MySQL / RDS for MariaDB instances (alternately; binlog_format=ROW from their
parameter groups, an application account writing), migrated by a second
campaign with strategy mysql-binlog, run at the same time; each must end
done with every committed row there exactly once.

Aurora MySQL (FLEETCRYPT_DEMO_AURORA_MYSQL, default 1; 0: none): as many
Aurora MySQL clusters (writer + reader, binlog_format=ROW in their cluster
parameter group, an application account writing through the cluster
endpoint; created today, so encrypted by AWS's 2026 default with an AWS
owned key, which compliance wants on the campaign's own key), re-keyed by a
third mysql-binlog campaign with --rekey (its master password
from a --db-secret file: the emulator has no RDS-managed secret for
clusters); each must end done on the campaign key with every committed row
there exactly once through the unchanged cluster endpoint.
"""
import json
import os
import random
import subprocess
import sys
import threading
import time

import psycopg2
import pymysql

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FC = os.path.join(os.environ.get("FLEETCRYPT_BIN_DIR") or os.path.join(REPO, "build", "bin"), "fleetcrypt")
AWS = "/usr/bin/aws"
HOME = os.environ["FLEETCRYPT_HOME"]
N = max(3, int(os.environ.get("FLEETCRYPT_DEMO_INSTANCES", "8")))
STRATEGY = os.environ.get("FLEETCRYPT_DEMO_STRATEGY", "pg-logical")
ROWS = int(os.environ.get("FLEETCRYPT_DEMO_ROWS", "5000"))
CAMPAIGN = "demo-" + time.strftime("%H%M%S")
KEY_ALIAS = "alias/fleetcrypt-demo"
PG_LOGICAL = "fc-demo-logical"
MY_N = max(0, int(os.environ.get("FLEETCRYPT_DEMO_MYSQL", "2")))
MY_CAMPAIGN = "demo-my-" + time.strftime("%H%M%S")
MY_GROUPS = {"mysql": ("fc-demo-mysql-row", "mysql8.0"), "mariadb": ("fc-demo-mariadb-row", "mariadb10.11")}
MY_APP, MY_APP_PW = "demoapp", "demo-App-Passw0rd"
AM_N = max(0, int(os.environ.get("FLEETCRYPT_DEMO_AURORA_MYSQL", "1")))
AM_CAMPAIGN = "demo-am-" + time.strftime("%H%M%S")
AM_GROUP = "fc-demo-aurora-mysql-row"
AM_MASTER, AM_MASTER_PW = "fcadmin", "demo-Aurora-Master-Passw0rd"


def aws(*args):
    r = subprocess.run([AWS, "--endpoint-url", os.environ["AWS_ENDPOINT_URL"], "--output", "json", *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"aws {' '.join(args[:2])}: {r.stderr.strip()}")
    return json.loads(r.stdout) if r.stdout.strip() else {}


def say(msg):
    print(msg, flush=True)


def ensure_key():
    try:
        return aws("kms", "describe-key", "--key-id", KEY_ALIAS)["KeyMetadata"]
    except RuntimeError:
        meta = aws("kms", "create-key", "--description", "fleetcrypt demo campaign key")["KeyMetadata"]
        aws("kms", "create-alias", "--alias-name", KEY_ALIAS, "--target-key-id", meta["KeyId"])
        return meta


def ensure_param_group():
    aws_create("rds", "create-db-parameter-group", "--db-parameter-group-name", PG_LOGICAL,
               "--db-parameter-group-family", "postgres15", "--description", "logical replication on")
    aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", PG_LOGICAL, "--parameters",
        "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot")


def aws_create(*args):
    """An aws create-… call; a resource that already exists (a demo re-run) is fine."""
    try:
        return aws(*args)
    except RuntimeError as e:
        if "AlreadyExists" not in str(e):
            raise
        return None


def create_instance(args):
    aws_create("rds", "create-db-instance", *args)


def await_available(ids, what):
    """{identifier: DescribeDBInstances entry} once every one of ids is available."""
    deadline = time.time() + 300
    while time.time() < deadline:
        dbs = {d["DBInstanceIdentifier"]: d for d in aws("rds", "describe-db-instances")["DBInstances"]}
        if all(dbs.get(i, {}).get("DBInstanceStatus") == "available" for i in ids):
            return dbs
        time.sleep(1)
    raise RuntimeError(f"{what} did not become available in 5 minutes")


def fleet_ids():
    return [f"demo-db-{i}" for i in range(1, N + 1)]


def create_fleet(key):
    say(f"   creating {N} instances (PostgreSQL 15, unencrypted; 1 already encrypted, 1 without logical replication)")
    for i, ident in enumerate(fleet_ids(), 1):
        args = ["--db-instance-identifier", ident, "--engine", "postgres",
                "--engine-version", "15.4", "--db-instance-class", "db.t3.micro", "--allocated-storage", "20",
                "--master-username", "fcadmin", "--manage-master-user-password",
                "--tags", "Key=env,Value=demo"]
        if i == N:  # already encrypted with the campaign key -> skipped
            args += ["--storage-encrypted", "--kms-key-id", key["Arn"], "--db-parameter-group-name", PG_LOGICAL]
        elif i == N - 1:  # default parameter group: no logical replication -> failed, untouched
            args += ["--no-storage-encrypted"]
        else:
            args += ["--no-storage-encrypted", "--db-parameter-group-name", PG_LOGICAL]
        create_instance(args)
    return await_available(fleet_ids(), "the fleet")


CREDS = {}


def password_of(db):
    """The master credentials, read once per identifier from the RDS-managed
    secret. The encrypted instance that takes over an identifier holds the
    same roles (restored from the snapshot) but no MasterUserSecret of its
    own, so the cached credentials are what the application keeps using."""
    ident = db["DBInstanceIdentifier"]
    if ident not in CREDS:
        arn = db["MasterUserSecret"]["SecretArn"]
        CREDS[ident] = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", arn)["SecretString"])
    return CREDS[ident]


def connect(db, autocommit=True):
    cred = password_of(db)
    c = psycopg2.connect(host=db["Endpoint"]["Address"], port=db["Endpoint"]["Port"], dbname="postgres",
                         user=cred["username"], password=cred["password"], connect_timeout=5)
    c.autocommit = autocommit
    return c


def load_data(db):
    with connect(db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, writer_seq bigint UNIQUE,"
                    " customer text NOT NULL, amount numeric(12,2), created timestamptz DEFAULT now())")
        cur.execute("CREATE TABLE IF NOT EXISTS audit_log (seq bigint, note text)")  # no key on purpose
        cur.execute("ALTER TABLE audit_log REPLICA IDENTITY FULL")
        cur.execute("SELECT count(*) FROM orders")
        if cur.fetchone()[0] == 0:
            cur.execute("INSERT INTO orders (customer, amount) SELECT 'customer-' || g, (g %% 997) * 1.25"
                        " FROM generate_series(1, %s) g", (ROWS,))
            cur.execute("INSERT INTO audit_log SELECT g, 'seed ' || g FROM generate_series(1, %s) g", (ROWS // 10,))


class Writer(threading.Thread):
    """Commits one number every ~50 ms through the instance endpoint, into
    orders (keyed, writer_seq UNIQUE) and audit_log (no key) in one
    statement, and records every commit that succeeded; reconnects across
    the cutover. A row applied twice can only show in audit_log: a UNIQUE
    column would refuse the second copy, so orders alone cannot see doubles."""

    def __init__(self, db):
        super().__init__(daemon=True)
        self.db, self.stop, self.committed, self.errors = db, threading.Event(), [], 0
        self.seq = 10_000_000 + random.randint(0, 1000) * 100_000

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = connect(self.db)
                self.seq += 1
                with conn.cursor() as cur:
                    cur.execute("WITH o AS (INSERT INTO orders (writer_seq, customer, amount) VALUES (%s, 'live', 1)"
                                " RETURNING writer_seq) INSERT INTO audit_log (seq, note) SELECT writer_seq, 'live'"
                                " FROM o", (self.seq,))
                self.committed.append(self.seq)
            except Exception:  # noqa: BLE001 - downtime window: count and reconnect
                self.errors += 1
                try:
                    conn and conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                time.sleep(0.2)
            time.sleep(0.05)


def live_rows(db):
    """(writer_seq of orders, seq of audit_log's live rows) as the instance holds them."""
    with connect(db) as c, c.cursor() as cur:
        cur.execute("SELECT writer_seq FROM orders WHERE writer_seq IS NOT NULL")
        keyed = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT seq FROM audit_log WHERE note = 'live'")
        keyless = [r[0] for r in cur.fetchall()]
    c.close()
    return keyed, keyless


def missing_doubled(committed, keyed, keyless):
    """Committed numbers absent from either table; extra copies in the keyless one."""
    missing = (set(committed) - set(keyed)) | (set(committed) - set(keyless))
    doubled = (len(keyed) - len(set(keyed))) + (len(keyless) - len(set(keyless)))
    return missing, doubled


# ---- the MySQL family (strategy mysql-binlog) ----

def my_ids():
    """{identifier: engine}: RDS for MySQL and RDS for MariaDB, alternately."""
    return {f"demo-my-{i}": ("mysql" if i % 2 else "mariadb") for i in range(1, MY_N + 1)}


def my_create_fleet():
    if not MY_N:
        return {}
    say(f"   creating {MY_N} MySQL-family instances (RDS for MySQL / MariaDB, unencrypted, binlog_format=ROW)")
    for engine, (group, family) in MY_GROUPS.items():
        aws_create("rds", "create-db-parameter-group", "--db-parameter-group-name", group, "--db-parameter-group-family",
                   family, "--description", "row-based binary log for mysql-binlog")
        aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", group, "--parameters",
            "ParameterName=binlog_format,ParameterValue=ROW,ApplyMethod=pending-reboot")
    for ident, engine in my_ids().items():
        create_instance(["--db-instance-identifier", ident, "--engine", engine,
                         "--db-instance-class", "db.t3.micro", "--allocated-storage", "20", "--master-username",
                         "fcadmin", "--manage-master-user-password", "--no-storage-encrypted",
                         "--backup-retention-period", "1", "--db-parameter-group-name", MY_GROUPS[engine][0],
                         "--tags", "Key=env,Value=demo"])
    return await_available(my_ids(), "the MySQL instances")


def my_connect(db, user=None, password=None):
    """TLS, verified against the emulator's RDS CA bundle when the stack names one."""
    cred = password_of(db)
    ca = os.environ.get("FLEETCRYPT_RDS_CA_BUNDLE")
    return pymysql.connect(host=db["Endpoint"]["Address"], port=db["Endpoint"]["Port"],
                           user=user or cred["username"], password=password or cred["password"],
                           database="app" if user else None, autocommit=True, connect_timeout=5, read_timeout=10,
                           write_timeout=10, ssl={"ca": ca} if ca else {"check_hostname": False})


def my_load_data(db):
    c = my_connect(db)
    with c.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS app")
        cur.execute("CREATE TABLE IF NOT EXISTS app.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, writer_seq BIGINT"
                    " UNIQUE, customer VARCHAR(64) NOT NULL, amount DECIMAL(12,2), created DATETIME(6)"
                    " DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB")
        cur.execute("CREATE TABLE IF NOT EXISTS app.audit_log (seq BIGINT, note VARCHAR(64)) ENGINE=InnoDB")
        cur.execute("SELECT COUNT(*) FROM app.orders")
        if cur.fetchone()[0] == 0:
            rows = [(f"customer-{g}", (g % 997) * 1.25) for g in range(1, ROWS + 1)]
            cur.executemany("INSERT INTO app.orders (customer, amount) VALUES (%s, %s)", rows)
            cur.executemany("INSERT INTO app.audit_log (seq, note) VALUES (%s, %s)",
                            [(g, f"seed {g}") for g in range(1, ROWS // 10 + 1)])
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE User = %s", (MY_APP,))
        if cur.fetchone()[0] == 0:
            cur.execute(f"CREATE USER '{MY_APP}'@'%' IDENTIFIED BY '{MY_APP_PW}'")
            cur.execute(f"GRANT SELECT, INSERT ON app.* TO '{MY_APP}'@'%'")
    c.close()


class MyWriter(Writer):
    """The application (its own account: the cutover locks application
    accounts, never the master user) committing one number every ~50 ms into
    orders (keyed) and audit_log (no key) in one transaction."""

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = my_connect(self.db, MY_APP, MY_APP_PW)
                    conn.autocommit(False)
                self.seq += 1
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO orders (writer_seq, customer, amount) VALUES (%s, 'live', 1)", (self.seq,))
                    cur.execute("INSERT INTO audit_log (seq, note) VALUES (%s, 'live')", (self.seq,))
                conn.commit()
                self.committed.append(self.seq)
            except Exception:  # noqa: BLE001 - the cutover's block: count and reconnect
                self.errors += 1
                try:
                    conn and conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                time.sleep(0.2)
            time.sleep(0.05)


# ---- Aurora MySQL clusters (strategy mysql-binlog, cluster engine) ----

def am_ids():
    return [f"demo-am-{i}" for i in range(1, AM_N + 1)]


def am_cluster(ident):
    return aws("rds", "describe-db-clusters", "--db-cluster-identifier", ident)["DBClusters"][0]


def am_db(ident):
    """The cluster as my_connect's db: its cluster endpoint and the master
    credentials the demo gave it (no RDS-managed secret for clusters here)."""
    c = am_cluster(ident)
    CREDS[ident] = {"username": AM_MASTER, "password": AM_MASTER_PW}
    return {"DBInstanceIdentifier": ident, "Endpoint": {"Address": c["Endpoint"], "Port": c["Port"]}}


def am_create_fleet():
    if not AM_N:
        return {}
    say(f"   creating {AM_N} Aurora MySQL cluster(s) (writer + reader, binlog_format=ROW; AWS's 2026 default encrypts"
        " them with an AWS owned key: re-keyed to the campaign key with --rekey)")
    aws_create("rds", "create-db-cluster-parameter-group", "--db-cluster-parameter-group-name", AM_GROUP,
               "--db-parameter-group-family", "aurora-mysql8.0", "--description", "row-based binary log for mysql-binlog")
    aws("rds", "modify-db-cluster-parameter-group", "--db-cluster-parameter-group-name", AM_GROUP, "--parameters",
        "ParameterName=binlog_format,ParameterValue=ROW,ApplyMethod=pending-reboot")
    for ident in am_ids():
        aws_create("rds", "create-db-cluster", "--db-cluster-identifier", ident, "--engine", "aurora-mysql",
                   "--master-username", AM_MASTER, "--master-user-password", AM_MASTER_PW,
                   "--backup-retention-period", "1", "--db-cluster-parameter-group-name", AM_GROUP,
                   "--tags", "Key=env,Value=demo")
    deadline = time.time() + 300
    while time.time() < deadline and not all(am_cluster(i)["Status"] == "available" for i in am_ids()):
        time.sleep(1)
    for ident in am_ids():
        for n, tier in ((0, "1"), (1, "2")):
            aws_create("rds", "create-db-instance", "--db-instance-identifier", f"{ident}-{n}", "--db-cluster-identifier",
                       ident, "--engine", "aurora-mysql", "--db-instance-class", "db.r6g.large", "--promotion-tier", tier)
    await_available([f"{i}-{n}" for i in am_ids() for n in (0, 1)], "the Aurora MySQL clusters")
    return {i: am_db(i) for i in am_ids()}


def am_secret_file():
    path = os.path.join(HOME, "demo-aurora-mysql-secret.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"default": {"username": AM_MASTER, "password": AM_MASTER_PW}}, f)
    return path


def my_live_rows(db):
    c = my_connect(db)
    with c.cursor() as cur:
        cur.execute("SELECT writer_seq FROM app.orders WHERE writer_seq IS NOT NULL")
        keyed = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT seq FROM app.audit_log WHERE note = 'live'")
        keyless = [r[0] for r in cur.fetchall()]
    c.close()
    return keyed, keyless


def fc(*args, check=True):
    r = subprocess.run([FC, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"fleetcrypt {' '.join(args)} (exit {r.returncode}): {r.stderr.strip()}")
    return r


def submit():
    extra = ["--replica-identity-full"] if STRATEGY == "pg-logical" else []
    return fc("submit", "--campaign", CAMPAIGN, "--kms-key", KEY_ALIAS, "--strategy", STRATEGY,
              "--max-parallel", "4", "--yes", *extra, *fleet_ids(), check=False)


def status_line(st, t0):
    c = st["counts"]
    return (f"   [{time.time() - t0:6.0f}s] {st.get('campaign', '')[:16]:<16} running={c['running']} "
            f"pending={c['pending']} done={c['done']} failed={c['failed']} skipped={c['skipped']}  "
            + " ".join(f"{i['id'].replace('demo-db-', '#').replace('demo-my-', 'my#').replace('demo-am-', 'am#')}:{i['step']}"
                       for i in st["instances"] if i["state"] in ("running", "pending")))


def main():
    key = ensure_key()
    ensure_param_group()
    say("== 4/5 creating the fleet")
    dbs = create_fleet(key)
    for ident in fleet_ids():
        load_data(dbs[ident])
    mydbs = my_create_fleet()
    mydbs.update(am_create_fleet())
    for ident in [*my_ids(), *am_ids()]:
        my_load_data(mydbs[ident])
    writers = {i: Writer(dbs[i]) for i in fleet_ids()}
    writers.update({i: MyWriter(mydbs[i]) for i in [*my_ids(), *am_ids()]})
    for w in writers.values():
        w.start()
    say(f"   {len(writers)} live writers committing a row every ~50 ms")

    say(f"== 5/5 campaign {CAMPAIGN}: strategy {STRATEGY}, key {KEY_ALIAS}")
    sub = submit()
    sys.stdout.write(sub.stdout)
    if sub.returncode != 0:
        say(f"demo: submit refused (exit {sub.returncode}): {sub.stderr.strip()}")
        return 1
    campaigns = [CAMPAIGN]
    if MY_N:
        say(f"   and campaign {MY_CAMPAIGN}: strategy mysql-binlog over {', '.join(my_ids())}")
        sub = fc("submit", "--campaign", MY_CAMPAIGN, "--kms-key", KEY_ALIAS, "--strategy", "mysql-binlog",
                 "--max-parallel", "4", "--yes", *my_ids(), check=False)
        sys.stdout.write(sub.stdout)
        if sub.returncode != 0:
            say(f"demo: submit refused (exit {sub.returncode}): {sub.stderr.strip()}")
            return 1
        campaigns.append(MY_CAMPAIGN)
    if AM_N:
        say(f"   and campaign {AM_CAMPAIGN}: strategy mysql-binlog --rekey over Aurora MySQL {', '.join(am_ids())}")
        sub = fc("submit", "--campaign", AM_CAMPAIGN, "--kms-key", KEY_ALIAS, "--strategy", "mysql-binlog",
                 "--db-secret", "file:" + am_secret_file(), "--rekey", "--max-parallel", "4", "--yes", *am_ids(),
                 check=False)
        sys.stdout.write(sub.stdout)
        if sub.returncode != 0:
            say(f"demo: submit refused (exit {sub.returncode}): {sub.stderr.strip()}")
            return 1
        campaigns.append(AM_CAMPAIGN)
    t0 = time.time()
    last = {}
    final, took = {}, {}
    while len(final) < len(campaigns):
        for camp in campaigns:
            if camp in final:
                continue
            st = json.loads(fc("status", camp, "--json").stdout)
            st.setdefault("campaign", camp)
            line = status_line(st, t0)
            if line != last.get(camp):
                say(line)
                last[camp] = line
            if st["state"] in ("done", "aborted"):
                final[camp], took[camp] = st, time.time() - t0
        if time.time() - t0 > 1800:
            say("demo: campaign did not finish in 30 minutes")
            return 1
        time.sleep(2)
    time.sleep(1)
    for w in writers.values():
        w.stop.set()
    for w in writers.values():
        w.join(5)

    say("\n== verification")
    dbs = {d["DBInstanceIdentifier"]: d for d in aws("rds", "describe-db-instances")["DBInstances"]}
    ok = True
    rows = []
    instances = [i for camp in campaigns for i in final[camp]["instances"]]
    for inst in instances:
        ident = inst["id"]
        db = dbs.get(ident)
        w = writers[ident]
        verdict = inst["state"]
        detail = inst.get("error") or ""
        aurora = ident in am_ids()
        mysql = ident in my_ids() or aurora
        if aurora:  # the cluster under its own name, its endpoint unchanged
            cl = am_cluster(ident)
            db = dict(am_db(ident), StorageEncrypted=cl["StorageEncrypted"], KmsKeyId=cl.get("KmsKeyId"))
            if db["Endpoint"]["Address"] != mydbs[ident]["Endpoint"]["Address"]:
                db["StorageEncrypted"] = False  # a moved endpoint fails the check
        if inst["state"] == "done":
            enc = db and db.get("StorageEncrypted") and key["KeyId"] in (db.get("KmsKeyId") or "")
            missing, doubled = missing_doubled(w.committed, *(my_live_rows(db) if mysql else live_rows(db)))
            good = enc and not missing and doubled == 0 and len(w.committed) > 0
            ok &= bool(good)
            detail = (f"encrypted={'yes' if enc else 'NO'} live rows committed={len(w.committed)} "
                      f"missing={len(missing)} doubled={doubled}"
                      + (" [aurora-mysql]" if aurora else f" [{my_ids()[ident]}]" if mysql else ""))
        elif mysql:
            ok = False  # every MySQL-family instance must end done
        elif ident == f"demo-db-{N}":
            ok &= inst["state"] == "skipped"  # already encrypted with the campaign key
        elif ident == f"demo-db-{N - 1}" and STRATEGY == "pg-logical":
            # no rds.logical_replication: refused with that reason, the source untouched
            # (still unencrypted, never renamed or stopped, every committed row there once)
            untouched = bool(db) and not db.get("StorageEncrypted") and db.get("DBInstanceStatus") == "available"
            if untouched:
                missing, doubled = missing_doubled(w.committed, *live_rows(db))
                untouched = not missing and doubled == 0
            ok &= inst["state"] == "failed" and "rds.logical_replication" in detail and untouched
            detail += f" [source untouched: {'yes' if untouched else 'NO'}]"
        else:
            ok = False
        rows.append((ident, verdict, inst.get("downtime_s"), inst.get("rows_verified"), detail))
    say(f"\n{'instance':<12} {'result':<9} {'downtime':>9} {'rows verified':>14}  detail")
    for ident, verdict, dt, rv, detail in rows:
        dts = f"{dt:.2f}s" if isinstance(dt, (int, float)) else "-"
        rvs = str(rv) if rv is not None else "-"
        say(f"{ident:<12} {verdict:<9} {dts:>9} {rvs:>14}  {detail}")
    for camp in campaigns:
        st = final[camp]
        tp = st.get("throughput", {})
        say(f"\ncampaign {camp}: {st['state']} in {took[camp]:.0f}s; "
            f"{tp.get('instances_per_hour', 0):.1f} instances/hour, {tp.get('steps_per_minute', 0):.1f} steps/minute")
    say("demo: OK" if ok else "demo: FAILED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
