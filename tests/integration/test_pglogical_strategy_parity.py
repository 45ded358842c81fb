"""A3 through the whole pg-logical strategy, and `--validate strict`.

One campaign (`--validate strict --cutover approve`), real servers (Redis,
local Kafka, the AWS emulator with real PostgreSQL behind every instance):

- pgl-a3: the awkward schema of test_pglogical_parity.py (two databases, one
  named with a space and non-ASCII; schemas and identifiers with upper case,
  spaces, quotes, non-ASCII; keyed and keyless tables; owned, free and
  descending sequences; identity columns; 1 MB text and bytea; jsonb,
  arrays, an enum, numeric; a partitioned table) plus a probe writer.
  Changes land after the snapshot (while copy/restore run) and during
  catch-up, rows moving between partitions included. After `done`: every
  table of the frozen (retired) source matches the target (checksum over an
  ordered COPY; keyless tables as sorted multisets), every sequence is at
  least source + margin, new inserts on the target do not collide, and the
  instance record shows the strict comparison ran inside the write-blocked
  window (facts, rows_verified, downtime covering it, the probe's gap).
- pgl-a3bad: one row changed on the target behind replication's back
  (session_replication_role = replica) during catch-up: the strict
  comparison finds it inside the window, the instance fails naming the
  table, nothing is switched, the source takes writes again, and the
  failure is undone at once (no slot left retaining WAL, target deleted).
"""
import hashlib
import hmac
import os
import subprocess
import time

from fclib import PG_BIN, wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (MASTER, PASSWORD, Writer, app_schema, aws_leftovers, endpoint,
                                     fleetcrypt_leftovers, instance_state, logical_group, make_instances, sql,
                                     submit, wait_step, wait_terminal)
from test_pglogical_parity import CHANGES, DATA, DBS, S1, SCHEMA, T2

CAMPAIGN = "a3s"
GOOD, BAD = "pgl-a3", "pgl-a3bad"
AFTER_SNAPSHOT = ("copy-encrypted", "restore", "prepare-target", "find-start-lsn", "subscribe", "catch-up",
                  "cutover")
# more changes during catch-up: updates on keyed and keyless rows, rows moving
# between partitions and back, deletes, big values replaced
MORE_CHANGES = f"""
UPDATE public.meas SET at = at - 365 WHERE id % 8 = 0 AND at >= '2024-01-01';
UPDATE public.meas SET at = '2024-12-31', val = -val WHERE id % 7 = 0;
DELETE FROM public.meas WHERE id % 11 = 0;
UPDATE {S1}."Orders" SET big = repeat('y', 1048576), tags = tags || ARRAY['late'] WHERE id % 10 = 1;
UPDATE {S1}."Orders" SET blob = NULL, m = 'happy' WHERE id % 10 = 5;
UPDATE public.nokey SET b = 'moved' WHERE a = 3;
DELETE FROM public.nokey WHERE a = 4;
UPDATE {T2} SET v = v + 1 WHERE k1 = 5;
INSERT INTO public.owned(v) SELECT 'catch-up ' || i FROM generate_series(1, 5) i;
"""
SESSION = "-c DateStyle=ISO -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex -c IntervalStyle=postgres"

LEAF_TABLES = """
SELECT n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname),
       coalesce((SELECT string_agg(format('%I', a.attname), ',' ORDER BY k.ord)
                   FROM pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = c.oid AND i.indisprimary), '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT LIKE 'fc\\_%'
 ORDER BY 1
"""
SEQS = ("SELECT format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value), increment_by "
        "FROM pg_sequences WHERE schemaname NOT LIKE 'fc\\_%' ORDER BY 1")


def run_sql(port, user, password, db, text, timeout=120):
    """psql returning raw bytes (COPY output is not text-safe to strip)."""
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5", PGOPTIONS=SESSION)
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                        "-p", str(port), "-U", user, "-d", db, "-c", text], capture_output=True, env=env,
                       timeout=timeout)
    assert r.returncode == 0, f"psql on port {port} db {db} failed: {r.stderr.decode(errors='replace')}"
    return r.stdout


def table_digests(port, user, password, db):
    """{schema.table (unquoted, as fleetcrypt reports it): (rows, sha256, lines
    of public.a)}: keyed tables as a COPY ordered by the primary key, keyless
    ones as the sorted multiset of their COPY lines."""
    out = {}
    for line in run_sql(port, user, password, db, LEAF_TABLES).decode().splitlines():
        name, quoted, pk = line.split("|")
        if pk:
            data = run_sql(port, user, password, db, f"COPY (SELECT * FROM {quoted} ORDER BY {pk}) TO STDOUT")
            rows = data.split(b"\n")[:-1] if data else []
        else:
            data = run_sql(port, user, password, db, f"COPY {quoted} TO STDOUT")
            rows = sorted(data.split(b"\n")[:-1]) if data else []
        out[name] = (len(rows), hashlib.sha256(b"\n".join(rows)).hexdigest(), rows if name == "public.a" else None)
    return out


def sequences(port, user, password, db):
    out = {}
    for line in run_sql(port, user, password, db, SEQS).decode().splitlines():
        name, last, inc = line.split("|")
        out[name] = (int(last), int(inc))
    return out


FACTS = ("verify_how", "verify_mismatches", "verify_tables", "verify_done", "verify_sums", "verify_sums_dropped",
         "verify_started_ms", "verify_ms", "switched", "cutover_block_ms", "downtime_ms", "undo_from", "undo_reason")


def facts(stack, ident):
    """The facts the cutover recorded on the instance record (f.<name>)."""
    key = f"fc:{{{CAMPAIGN}}}:i:{ident}"
    return {n: v for n in FACTS if (v := stack.redis.cli("HGET", key, "f." + n))}


def admin_login(campaign, ident):
    """fleetcrypt's admin role on the retired source and its password, derived
    from the master secret as documented (HMAC-SHA256, nothing stored)."""
    tag = f"{campaign}_{ident}".lower().replace("-", "_")
    assert len(tag) <= 40, tag
    pw = hmac.new(PASSWORD.encode(), f"fleetcrypt/admin/{tag}".encode(), hashlib.sha256).hexdigest()
    return f"fc_{tag}_admin", pw


def awkward_instance(sim, ident):
    app_schema(sim, ident)                     # a, b, wseq: the probe writer's tables
    sql(sim, ident, f'CREATE DATABASE "{DBS[1]}"', db="postgres")
    for db in DBS:
        sql(sim, ident, SCHEMA, db=db)
        sql(sim, ident, DATA, db=db)


def test_awkward_schemas_and_strict_validation(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    make_instances(sim, [GOOD, BAD])
    awkward_instance(sim, GOOD)
    app_schema(sim, BAD)
    sql(sim, BAD, "INSERT INTO a(seq) SELECT g FROM generate_series(1, 500) g;"
                  "INSERT INTO b(seq) SELECT g FROM generate_series(1, 300) g")
    bad_rows_before = sql(sim, BAD, "SELECT count(*), sum(seq) FROM a")
    key = stack.make_key()["Arn"]
    stack.start()
    probe = Writer(sim, GOOD, rate=25, tables=("a",)).start()
    try:
        submit(stack, CAMPAIGN, key, [GOOD, BAD], world, "--cutover", "approve", "--validate", "strict")

        # after the snapshot: changes the slot must carry (the subscription does not exist yet, or just began)
        wait_step(stack, CAMPAIGN, GOOD, AFTER_SNAPSHOT, timeout=240)
        sql(sim, GOOD, CHANGES, db=DBS[0])

        # during catch-up: the rest, in both databases
        wait_step(stack, CAMPAIGN, GOOD, ("catch-up", "cutover"), timeout=240)
        sql(sim, GOOD, CHANGES, db=DBS[1])
        for db in DBS:
            sql(sim, GOOD, MORE_CHANGES, db=db)

        # the bad one: a row the source will never touch again, changed on the target only
        wait_step(stack, CAMPAIGN, BAD, ("catch-up", "cutover"), timeout=240)
        tgt = sim.instance(f"fc-{CAMPAIGN}-{BAD}-target")["Endpoint"]["Port"]
        psql(tgt, MASTER, PASSWORD, "SET session_replication_role = replica;"
                                    "UPDATE a SET seq = seq + 1000000 WHERE id = 7", db="app")

        for ident in (GOOD, BAD):
            wait_step(stack, CAMPAIGN, ident, ("cutover",), timeout=240)
        assert stack.cli("approve", CAMPAIGN).returncode == 0
        st = wait_terminal(stack, CAMPAIGN, timeout=300)
        time.sleep(1.0)   # probe writes after the switch land on the target
    finally:
        probe.stop()
    inst = {i["id"]: i for i in st["instances"]}
    good, bad = inst[GOOD], inst[BAD]
    assert good["state"] == "done", f"{good}\n{stack.diagnostics()}"

    # ------------------------------------------------ strict: the negative case
    bf = facts(stack, BAD)
    assert bad["state"] == "failed" and bad["step"] == "cutover", f"{bad}\n{stack.diagnostics()}"
    assert "verification (strict) found differences" in (bad["error"] or ""), bad
    assert "app.public.a " in bad["error"] and "public.b " not in bad["error"], bad["error"]
    assert bf.get("verify_how", "").startswith("strict"), bf
    assert bf.get("verify_mismatches") == "1" and "app.public.a " in bf.get("verify_tables", ""), bf
    assert bf.get("switched", "0") != "1" and bad["downtime_s"] is None, "a strict mismatch must not switch"
    src = sim.instance(BAD)
    assert not src["StorageEncrypted"], "the identifier must still name the unencrypted source"
    # the source's writers are back (the master user is an application role here), its data untouched
    assert sql(sim, BAD, "SELECT rolcanlogin FROM pg_roles WHERE rolname = current_user") == "t"
    assert sql(sim, BAD, "SELECT count(*), sum(seq) FROM a") == bad_rows_before
    sql(sim, BAD, "INSERT INTO b(seq) VALUES (-1)")
    # failed but never switched: a failed instance must not hold WAL, so its failure was undone
    # at once (finding 5): no slot/publication left, the failure and its tables kept
    assert "slot dropped, source untouched" in bad["error"], bad["error"]
    assert fleetcrypt_leftovers(sim, BAD) == [] and fleetcrypt_leftovers(sim, BAD, db="postgres") == []
    assert bf.get("undo_from") == "cutover" and "verification (strict) found differences" in bf.get("undo_reason", "")

    # ------------------------------------------------ strict: inside the window, counted in the downtime
    gf = facts(stack, GOOD)
    assert gf.get("verify_how") == "strict, inside the window" and gf.get("verify_mismatches") == "0", gf
    assert gf.get("verify_done") == "1" and gf.get("switched") == "1", gf
    block, down = int(gf["cutover_block_ms"]), int(gf["downtime_ms"])
    v0, vms = int(gf["verify_started_ms"]), int(gf["verify_ms"])
    assert block <= v0 and v0 + vms <= block + down, \
        f"strict comparison [{v0}, +{vms} ms] outside the blocked window [{block}, +{down} ms]"
    assert abs(float(good["downtime_s"]) - down / 1000.0) < 0.002, (good["downtime_s"], down)
    gap = probe.longest_gap()
    assert gap >= vms / 1000.0, f"the probe wrote during the strict comparison (longest gap {gap:.3f}s, " \
                                f"comparison {vms} ms)"
    sums = [ln.split("\t") for ln in gf["verify_sums"].splitlines() if ln]
    assert gf.get("verify_sums_dropped") == "0", gf.get("verify_sums_dropped")

    # ------------------------------------------------ A3: the frozen source against the target
    rds = sim.client("rds")
    retired = f"fc-{CAMPAIGN}-{GOOD}-retired"
    assert rds.describe_db_instances(DBInstanceIdentifier=retired)["DBInstances"][0]["DBInstanceStatus"] == "stopped"
    rc, _, err = sim.cli_raw("rds", "start-db-instance", "--db-instance-identifier", retired)   # /usr/bin/aws
    assert rc == 0, f"aws rds start-db-instance {retired}: {err}"
    sim.wait_instance(retired, "available", timeout=120, rds=rds)
    rport = endpoint(sim, retired)
    tport = endpoint(sim, GOOD)
    user, pw = admin_login(CAMPAIGN, GOOD)
    total = 0
    recorded = {}
    for row in sums:
        name = row[0] if "/" in row[0] else f"{DBS[0]}/{row[0]}"
        recorded[name] = int(row[1])
    for db in DBS:
        s = table_digests(rport, user, pw, db)
        t = table_digests(tport, MASTER, PASSWORD, db)
        assert len(s) >= 6 and set(s) == set(t), (db, sorted(s), sorted(t))
        for name, (rows, digest, lines) in s.items():
            assert recorded.get(f"{db}/{name}") == rows, \
                f"{db}/{name}: fleetcrypt verified {recorded.get(f'{db}/{name}')} rows, the frozen source has {rows}"
            total += rows
            if name == "public.a":
                # the probe kept writing after the switch: the source's rows are a prefix of the target's
                missing = set(lines) - set(t[name][2])
                assert not missing, f"{db}/public.a: {len(missing)} source rows missing on the target"
                continue
            assert (rows, digest) == t[name][:2], \
                f"{db}/{name}: source {rows} rows {digest[:12]}, target {t[name][0]} rows {t[name][1][:12]}"
        # every sequence on the target at least source + margin (below, for descending ones)
        ss, ts = sequences(rport, user, pw, db), sequences(tport, MASTER, PASSWORD, db)
        assert set(ss) == set(ts) and len(ss) >= 5, (ss, ts)
        for name, (sv, inc) in ss.items():
            tv = ts[name][0]
            assert (tv >= sv + 100 * inc) if inc > 0 else (tv <= sv + 100 * inc), \
                f"{db} sequence {name}: source {sv}, target {tv} (increment {inc})"
        # new inserts on the target do not collide
        run_sql(tport, MASTER, PASSWORD, db,
                f"""INSERT INTO {S1}."Orders"("Customer Name") VALUES ('new after cutover');
                    INSERT INTO public.owned(v) VALUES ('new');
                    INSERT INTO public.meas(at, val) VALUES ('2024-03-01', 1), ('2023-03-01', 2);
                    INSERT INTO {T2} VALUES (1000, 'after', 0);
                    SELECT nextval('public.free_seq'), nextval('{S1}."Desc Seq"')""")
    assert int(good["rows_verified"]) == total == sum(recorded.values()), \
        (good["rows_verified"], total, sum(recorded.values()))
    acked = set(probe.numbers())
    on_target = {int(x) for x in sql(sim, GOOD, "SELECT seq FROM a").split()}
    assert len(acked) > 20 and acked <= on_target, f"{len(acked - on_target)} acknowledged probe rows lost"
    # the undone failure stays failed: nothing of fleetcrypt's left on the source or in AWS, writers still in
    assert instance_state(stack, CAMPAIGN, BAD)["state"] == "failed", \
        f"{instance_state(stack, CAMPAIGN, BAD)}\n{stack.diagnostics()}"
    assert fleetcrypt_leftovers(sim, BAD) == [] and fleetcrypt_leftovers(sim, BAD, db="postgres") == []
    sql(sim, BAD, "INSERT INTO b(seq) VALUES (-2)")
    wait_until(lambda: not [x for x in aws_leftovers(sim, CAMPAIGN) if BAD in x], 120, 1.0,
               "the failed instance's target and snapshots deleted")
    print(f"A3 strict: {total} rows verified in {vms} ms inside a {down} ms window; probe gap {gap:.3f}s")
