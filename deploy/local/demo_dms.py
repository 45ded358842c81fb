"""deploy/local/demo-dms's fleet and campaign: strategy dms-cdc (AWS DMS as
the change-data-capture engine) on 2 PostgreSQL instances of the local
stack's emulator with live writers, DMS's validation at the cutover as
evidence (--dms-validation both), every committed row checked exactly once
afterwards, and `fleetcrypt report` printed with its DMS evidence (DMS's
validation and the apply exceptions per instance). Not part of CI.

Reuses deploy/local/demo_fleet.py's helpers (aws, key, parameter group,
RDS-managed master credentials, the CLI)."""
import json
import os
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_fleet as df  # noqa: E402

N = max(1, int(os.environ.get("FLEETCRYPT_DEMO_DMS_INSTANCES", "2")))
CAMPAIGN = "demo-dms-" + time.strftime("%H%M%S")
IDS = [f"demo-dms-{i}" for i in range(1, N + 1)]


class Writer(threading.Thread):
    """Single-row autocommit INSERTs, alternating a keyed table (orders) and
    a keyless append-only one (events, declared read-only for DMS: it takes
    no UPDATE or DELETE), reconnecting through the identifier's endpoint;
    every acknowledged number is kept."""

    def __init__(self, db):
        super().__init__(daemon=True)
        self.db, self.acked, self.stop_flag = db, [], threading.Event()

    def run(self):
        k = 0
        while not self.stop_flag.is_set():
            try:
                db = df.aws("rds", "describe-db-instances", "--db-instance-identifier",
                            self.db["DBInstanceIdentifier"])["DBInstances"][0]
                c = df.connect(dict(self.db, Endpoint=db["Endpoint"]))
                with c.cursor() as cur:
                    while not self.stop_flag.is_set():
                        t = ("orders", "events")[k % 2]
                        k += 1
                        cur.execute(f"INSERT INTO {t}(seq) VALUES (nextval('wseq')) RETURNING seq")
                        self.acked.append(cur.fetchone()[0])
                        time.sleep(0.05)
            except (psycopg2.Error, RuntimeError, KeyError, IndexError):
                time.sleep(0.2)     # blocked at the cutover, or the identifier mid-rename

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=20)


def main():
    df.ensure_key()
    df.ensure_param_group()
    df.say(f"== 4/5 creating {N} PostgreSQL instances with live writers")
    for ident in IDS:
        df.create_instance(["--db-instance-identifier", ident, "--engine", "postgres", "--engine-version", "15.4",
                            "--db-instance-class", "db.t3.micro", "--allocated-storage", "20",
                            "--master-username", "fcadmin", "--manage-master-user-password",
                            "--no-storage-encrypted", "--db-parameter-group-name", df.PG_LOGICAL,
                            "--tags", "Key=env,Value=demo-dms"])
    dbs = df.await_available(IDS, "the DMS demo instances")
    for ident in IDS:
        with df.connect(dbs[ident]) as c, c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, seq bigint NOT NULL)")
            cur.execute("CREATE TABLE IF NOT EXISTS events (seq bigint NOT NULL)")   # no key: read-only for DMS
            cur.execute("ALTER TABLE events REPLICA IDENTITY FULL")
            cur.execute("CREATE SEQUENCE IF NOT EXISTS wseq")
    writers = {i: Writer(dbs[i]) for i in IDS}
    for w in writers.values():
        w.start()
    time.sleep(2)
    df.say(f"== 5/5 campaign {CAMPAIGN}: strategy dms-cdc, DMS validation at the cutover")
    r = df.fc("submit", "--campaign", CAMPAIGN, "--kms-key", df.KEY_ALIAS, "--strategy", "dms-cdc",
              "--read-only-tables", "public.events", "--dms-validation", "both", "--max-parallel", "4", "--yes",
              *IDS, check=False)
    if r.returncode != 0:
        raise SystemExit(f"submit failed: {r.stderr.strip()}")
    t0 = time.time()
    while True:
        st = json.loads(df.fc("status", CAMPAIGN, "--json").stdout)
        df.say(df.status_line(st, t0))
        if all(i["state"] in ("done", "failed", "skipped", "aborted") for i in st["instances"]):
            break
        if time.time() - t0 > 1800:
            raise SystemExit("the campaign did not finish in 30 minutes")
        time.sleep(5)
    time.sleep(3)             # writes after the switch land on the encrypted instance
    for w in writers.values():
        w.stop()
    bad = 0
    for ident in IDS:
        db = df.aws("rds", "describe-db-instances", "--db-instance-identifier", ident)["DBInstances"][0]
        with df.connect(dict(dbs[ident], Endpoint=db["Endpoint"])) as c, c.cursor() as cur:
            cur.execute("SELECT seq FROM orders UNION ALL SELECT seq FROM events")
            rows = [x[0] for x in cur.fetchall()]
        acked = writers[ident].acked
        missing = set(acked) - set(rows)
        doubled = len(rows) - len(set(rows))
        bad += bool(missing or doubled or not db["StorageEncrypted"])
        df.say(f"   {ident}: encrypted={db['StorageEncrypted']} committed={len(acked)} missing={len(missing)} "
               f"doubled={doubled}")
    df.say(df.fc("report", CAMPAIGN, "-o", "table").stdout.rstrip())
    doc = json.loads(df.fc("report", CAMPAIGN, "--format", "json").stdout)
    for row in doc["instances"]:
        d = row.get("dms") or {}
        v = d.get("validation") or {}
        df.say(f"   {row['instance']}: {row['state']}, DMS validation {v.get('validated')}/{v.get('tables')} tables "
               f"validated, {v.get('failures')} failures, apply exceptions {d.get('apply_exceptions')}")
        bad += row["state"] != "done"
    if bad:
        raise SystemExit("demo-dms: a row was missing or doubled, or an instance did not end done")
    df.say("demo-dms: every committed row exactly once on the encrypted instances")


if __name__ == "__main__":
    main()
