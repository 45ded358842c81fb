#!/usr/bin/env python3
"""bench_validation — the speed of pg-logical's table comparison (issue 17
item 6) against `COPY … TO STDOUT` of both sides piped to `sha256sum`, on
the same database.

Two PostgreSQL 15 servers on loopback (the integration tests' template,
shared_buffers 256 MB): the source is filled with generate_series (SIZE GB
of table data: a keyed table, one with a composite key, a keyless one),
stopped, and its data directory copied for the target, so both sides hold
the same rows.

- **fleetcrypt**: `fc_pg_tool verify` (tests/tools/fc_pg_tool.c, the test
  driver of the data plane), which calls `pgverify_until()` exactly as the
  cutover and the verify step do (worker/strategies/pglogical/verify.c:
  ranges of 10,000 keys, each streamed by both sides at once as COPY text
  in key order and hashed by the client; keyless tables as a multiset);
- **baseline**: for each side one `psql` running `COPY <table> TO STDOUT` for
  every table in name order, piped to `sha256sum`, both sides at once
  (`cmp <(…) <(…)`, as a shell user would write it).

Both must say "equal". Throughput = table data (heap bytes) / wall time;
the ratio is fleetcrypt's throughput over the baseline's. ROUNDS rounds,
alternating; the best of each is compared (the least disturbed by the
machine's other load), the medians are printed too.

Usage: bench/run bench_validation [SIZE_GB [ROUNDS]]   (defaults 1 2)
Never run by tests/run."""
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcbench  # noqa: E402  (sets FLEETCRYPT_BIN_DIR and sys.path first)
from fclib import IS_ROOT, PG_BIN, PgServer, chown_pg, free_port, initdb_template, make_world_dir, pg_uid_gid  # noqa: E402

TOOL = os.path.join(fcbench.BUILD, "tests", "fc_pg_tool")
TAG = "bench"
DB = "bench"
ROWS_PER_GB = 6_000_000   # t_orders' rows per GB of total table data (measured: ~150 B a row with its share)

SCHEMA = """
CREATE TABLE t_orders (id bigint PRIMARY KEY, customer int NOT NULL, status text NOT NULL,
                       amount numeric(12,2) NOT NULL, created timestamptz NOT NULL, shipped boolean,
                       note text);
CREATE TABLE t_lines (order_id bigint, line int, sku text NOT NULL, qty int NOT NULL, price numeric(10,2),
                      PRIMARY KEY (order_id, line));
CREATE TABLE t_events (at timestamptz NOT NULL, kind text NOT NULL, payload text);
"""


def fill_sql(n):
    """n rows of t_orders, n/4 orders' 4 lines each in t_lines... sized to ~80/12/8 % of the data."""
    lines = n // 8
    events = n // 6
    return f"""
INSERT INTO t_orders SELECT g, ((g * 7919) % 100000)::int, (ARRAY['new','paid','shipped','closed'])[1 + g % 4],
       ((g * 37) % 100000) / 100.0, '2024-01-01'::timestamptz + g * interval '1 second', g % 3 = 0,
       CASE WHEN g % 5 = 0 THEN NULL ELSE md5(g::text) || ' ' || repeat('x', (g % 17)::int) END
  FROM generate_series(1::bigint, {n}) g;
INSERT INTO t_lines SELECT g / 4, (g % 4)::int, 'SKU-' || (g * 13) % 50000, (1 + g % 9)::int, (g % 5000) / 10.0
  FROM generate_series(0::bigint, {lines * 4 - 1}) g;
INSERT INTO t_events SELECT '2024-01-01'::timestamptz + (g % 86400) * interval '1 second',
       (ARRAY['login','logout','view','buy'])[1 + g % 4], md5((g % 1000)::text)
  FROM generate_series(1::bigint, {events}) g;
"""


def psql(port, sql, db=DB):
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                        "-d", f"host=127.0.0.1 port={port} dbname={db} user=postgres", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql on port {port}: {r.stderr.strip()[-500:]}")
    return r.stdout.strip()


def tables(port):
    return [ln.split("|") for ln in psql(port, "SELECT quote_ident(schemaname) || '.' || quote_ident(relname), "
                                               "pg_relation_size(relid), (SELECT reltuples::bigint FROM pg_class WHERE oid = relid) FROM pg_stat_user_tables "
                                               "ORDER BY schemaname, relname").splitlines()]


def run_fleetcrypt(src, dst):
    env = dict(os.environ, FLEETCRYPT_PG_SSLMODE="disable", FLEETCRYPT_LOG_LEVEL="warn")
    args = [TOOL, "verify", "--host", "127.0.0.1", "--port", str(src.port), "--db", DB, "--user", "postgres",
            "--host2", "127.0.0.1", "--port2", str(dst.port), "--db2", DB, "--user2", "postgres",
            "--tag", TAG, "--chunk-rows", "10000", "--sslmode", "disable"]
    t0 = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    took = time.monotonic() - t0
    kv = dict(ln.split("=", 1) for ln in r.stdout.splitlines() if "=" in ln and not ln.startswith("table="))
    if r.returncode != 0 or kv.get("mismatches") != "0":
        raise RuntimeError(f"fc_pg_tool verify: rc {r.returncode}: {r.stderr[-500:]} {r.stdout[-500:]}")
    return took, int(kv["rows_verified"])


def run_baseline(src, dst, names):
    copies = " ".join(f"-c 'COPY {n} TO STDOUT'" for n in names)
    side = (f"{os.path.join(PG_BIN, 'psql')} -X -q -d 'host=127.0.0.1 port={{port}} dbname={DB} user=postgres' "
            f"{copies} | sha256sum")
    script = f"set -o pipefail; cmp <({side.format(port=src.port)}) <({side.format(port=dst.port)}) && echo equal"
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    took = time.monotonic() - t0
    if r.returncode != 0 or r.stdout.strip() != "equal":
        raise RuntimeError(f"baseline: rc {r.returncode}: {r.stderr[-500:]} {r.stdout[-200:]}")
    return took


def main(argv):
    size_gb = float(argv[0]) if argv else 1.0
    rounds = int(argv[1]) if len(argv) > 1 else 2
    if not os.path.exists(TOOL):
        print(f"{TOOL} missing: build first", file=sys.stderr)
        return 2
    print(f"bench_validation: {size_gb:g} GB of table data, {rounds} rounds; {fcbench.machine()}", flush=True)
    world = make_world_dir("fc-bench-val-")
    if IS_ROOT:
        os.chown(world, *pg_uid_gid())
    tmpl = initdb_template(os.path.join(world, "template"))
    with open(os.path.join(tmpl, "postgresql.conf"), "a") as f:
        f.write("shared_buffers=256MB\nwal_level=minimal\nmax_wal_senders=0\nmax_wal_size=4GB\n")
    servers = []
    try:
        sd = os.path.join(world, "src")
        shutil.copytree(tmpl, sd, symlinks=True)
        chown_pg(sd)
        os.chmod(sd, 0o700)
        src = PgServer(sd, free_port(), os.path.join(world, "src.log")).start()
        servers.append(src)
        t0 = time.monotonic()
        psql(src.port, f"CREATE DATABASE {DB}", db="postgres")
        psql(src.port, SCHEMA)
        psql(src.port, fill_sql(int(ROWS_PER_GB * size_gb)))
        psql(src.port, "VACUUM ANALYZE")
        psql(src.port, "CHECKPOINT")
        gen = time.monotonic() - t0
        src.stop()
        servers.remove(src)
        dd = os.path.join(world, "dst")
        subprocess.run(["cp", "-a", sd, dd], check=True)
        os.remove(os.path.join(dd, "postmaster.pid")) if os.path.exists(os.path.join(dd, "postmaster.pid")) else None
        src = PgServer(sd, free_port(), os.path.join(world, "src.log")).start()
        servers.append(src)
        dst = PgServer(dd, free_port(), os.path.join(world, "dst.log")).start()
        servers.append(dst)
        ts = tables(src.port)
        names = [t[0] for t in ts]
        heap = sum(int(t[1]) for t in ts)
        db_size = int(psql(src.port, f"SELECT pg_database_size('{DB}')"))
        print(f"  database: {db_size / 1e9:.2f} GB ({heap / 1e9:.2f} GB of table data: "
              + ", ".join(f"{t[0]} {int(t[1]) / 1e6:.0f} MB {int(t[2]):,} rows" for t in ts)
              + f"), generated in {gen:.0f} s", flush=True)
        # warm both sides' caches alike (the copy left the target's files in the page cache)
        for s in (src, dst):
            for n in names:
                psql(s.port, f"SELECT count(*) FROM {n}")
        fc, bl = [], []
        rows = 0
        for k in range(rounds):
            b = run_baseline(src, dst, names)
            bl.append(b)
            print(f"  round {k + 1}: baseline (COPY | sha256sum, both sides at once) {b:.1f} s = "
                  f"{heap / 1e6 / b:.0f} MB/s; load {fcbench.loadavg()}", flush=True)
            f_, rows = run_fleetcrypt(src, dst)
            fc.append(f_)
            print(f"  round {k + 1}: fleetcrypt (pgverify, chunks of 10,000) {f_:.1f} s = {heap / 1e6 / f_:.0f} "
                  f"MB/s, {rows / f_:,.0f} rows/s; load {fcbench.loadavg()}", flush=True)
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(world, ignore_errors=True)
    best_fc, best_bl = min(fc), min(bl)
    ratio = best_bl / best_fc
    print(f"validation {heap / 1e9:.2f} GB: fleetcrypt {heap / 1e6 / best_fc:.0f} MB/s ({best_fc:.1f} s, "
          f"{rows:,} rows), baseline COPY|sha256sum {heap / 1e6 / best_bl:.0f} MB/s ({best_bl:.1f} s), "
          f"ratio {ratio:.2f}x (goal >= 0.5: {'met' if ratio >= 0.5 else 'missed'}); medians "
          f"{statistics.median(fc):.1f} s / {statistics.median(bl):.1f} s; best of {rounds}; "
          f"load {fcbench.loadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
