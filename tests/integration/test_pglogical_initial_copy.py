"""pg-logical's initial-copy path for an Aurora PostgreSQL cluster whose
snapshot cannot be restored under the campaign key (issue 13: an AWS owned
key, StorageEncryptionType sse-rds, and AWS — here the emulator told
owned_key_restore=refuse — refusing the restore with KmsKeyId).

With --initial-copy auto (the default) the refused restore does not fail
the source: a NEW cluster is created with the campaign key
(CreateDBCluster --kms-key-id, the source's settings, writer and reader
re-created), the schema copied, and a subscription with copy_data=true on
the slot made at prepare-source fills it; then catch-up, the cluster-rename
cutover, verify, cleanup as for a restored target (docs/clusters.md,
*When the snapshot cannot be restored*).

- test_initial_copy_live_writers: writers through the cluster endpoint run
  before, during the initial copy and through the cutover: the campaign
  ends done, the identifier is on the campaign key with the same port and
  members, every acknowledged row is there exactly once (A2), the bulk
  table is whole, roles and grants came along, nothing of fleetcrypt is
  left (objects, table-sync slots, AWS resources);
- test_initial_copy_abort[auto]: aborted while the new cluster is being
  filled: the source keeps its key, its rows and takes writes; no
  fleetcrypt object, no table-sync slot, no cluster, no snapshot left;
  [always] (slow) the same with --initial-copy always (no snapshot taken);
- test_initial_copy_worker_killed (slow): the worker is SIGKILLed right
  after CREATE SUBSCRIPTION (the copy running): the re-run must not create
  a second subscription or copy again; exactly once still holds.

Time scale: 0 unless FLEETCRYPT_SIM_TIME_SCALE says otherwise (0.02 makes
the modelled AWS durations and the rename's DNS lag real)."""
import os
import subprocess
import time

import pytest

from fclib import PG_BIN, wait_until
from pglogical_strategy_util import FC_OBJECTS, MASTER, PASSWORD, submit, wait_terminal
from test_pglogical_clusters import (ClusterWriter, cluster, csql, fleetcrypt_aws_leftovers, logical_cluster_group,
                                     make_cluster, members_view, seqs, tags_of)
from test_pglogical_cutover_resume import crash_env, run_until_terminal, worker_lines

SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE", "0") or 0)
BULK = 100000
SYNC_SLOTS = "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_%\\_sync\\_%'"


def owned_source(sim, ident, classes=("db.r6g.large", "db.r6g.xlarge")):
    """An owned-key cluster (writer + reader unless told) with the writer's
    tables, a bulk table the initial copy takes a moment over, a role and a
    grant."""
    src = make_cluster(sim, ident, list(classes), owned=True)
    assert src["StorageEncrypted"] is True and "KmsKeyId" not in src, src
    csql(src["Port"], "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                      "CREATE TABLE b(seq bigint NOT NULL);"
                      "CREATE SEQUENCE wseq;"
                      "CREATE TABLE bulk(id int PRIMARY KEY, v text NOT NULL);"
                      f"INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, {BULK}) g;"
                      "CREATE ROLE app_reader NOLOGIN;"
                      "GRANT SELECT ON a, bulk TO app_reader;")
    return src


def fact(stack, camp, ident, name):
    return stack.redis.cli("HGET", f"fc:{{{camp}}}:i:{ident}", f"f.{name}").strip()


def refuse_owned_restore(sim):
    sim.admin("POST", "/config", {"owned_key_restore": "refuse"})


def lock_table(sim, port, table):
    """A session holding ACCESS EXCLUSIVE on table (its copy waits on it) until release()."""
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGSSLMODE="verify-full", PGSSLROOTCERT=sim.info["rds_ca_bundle"])
    p = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-h", "127.0.0.1", "-p", str(port),
                          "-U", MASTER, "-d", "app"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env)
    p.stdin.write(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "locked"

    def release():
        try:
            p.stdin.write("ROLLBACK;\n")
            p.stdin.close()
        except OSError:
            pass
        p.wait(timeout=30)
    return release


def exactly_once(port, w):
    have = seqs(port)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} " \
                                         f"doubled {doubled}"


def test_initial_copy_live_writers(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "pgc-ic", "pgcic"
    src = owned_source(sim, ident)
    port = src["Port"]
    members_before = members_view(rds, src)
    key = stack.make_key()["Arn"]
    # the dry run says what happens if AWS refuses the restore, and what `always` and `never` do
    for opt, says in (((), "instead (--initial-copy auto; reads the whole database"),
                      (("--initial-copy", "always"), "--initial-copy always: a new cluster with the campaign key"),
                      (("--initial-copy", "never"), "the source fails (--initial-copy never)")):
        r = submit(stack, camp + "d", key, [ident], world, "--rekey", "--dry-run", *opt)
        line = next(x for x in r.stdout.splitlines() if x.strip().startswith(ident + " "))
        assert " ok " in line and says in line, r.stdout
    refuse_owned_restore(sim)
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()
    mono_to_epoch = time.time() - time.monotonic()
    w = ClusterWriter(sim, ident, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    submit(stack, camp, key, [ident], world, "--rekey")
    st = wait_terminal(stack, camp, timeout=900)
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    n_done = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n_done + 20, 120, 0.1, "writes after the switch")
    w.stop()

    # the way was the initial copy, chosen because the restore was refused
    assert fact(stack, camp, ident, "initial_copy") == "1"
    assert "refused" in fact(stack, camp, ident, "initial_copy_why"), fact(stack, camp, ident, "initial_copy_why")
    assert fact(stack, camp, ident, "start_lsn_source") == "initial-copy"
    # writes were acknowledged while the tables were being copied
    sub_at = int(fact(stack, camp, ident, "ic_sub_at")) / 1000.0
    ready_at = int(fact(stack, camp, ident, "ic_ready_at")) / 1000.0
    during = [n for t, n in w.acked if sub_at <= t + mono_to_epoch <= ready_at]
    assert during, f"no write acknowledged during the initial copy ({sub_at}..{ready_at})"

    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key, c
    assert c.get("StorageEncryptionType", "sse-kms") == "sse-kms", c
    assert c["Port"] == port and c["Status"] == "available", c
    assert c["DBClusterParameterGroup"] == src["DBClusterParameterGroup"], c
    assert tags_of(rds, c["DBClusterArn"]).get("team") == "aur"
    assert members_view(rds, c) == members_before

    exactly_once(port, w)
    assert csql(port, "SELECT count(*), sum(id) FROM bulk") == f"{BULK}|{BULK * (BULK + 1) // 2}"
    assert csql(port, "SELECT has_table_privilege('app_reader', 'bulk', 'SELECT')") == "t"
    wait_until(lambda: seqs(port, host="127.0.0.2") == seqs(port), 60, 0.2, "the reader serves the same rows")
    assert [x for x in csql(port, FC_OBJECTS).split("\n") if x] == []
    assert csql(port, "SELECT count(*) FROM pg_subscription") == "0"
    retired = [x["DBClusterIdentifier"] for x in rds.describe_db_clusters()["DBClusters"]
               if tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:original-id") == ident]
    assert len(retired) == 1, retired
    assert fleetcrypt_aws_leftovers(rds, camp, retired) == []


@pytest.mark.parametrize("mode", ["auto", pytest.param("always", marks=pytest.mark.slow)])
def test_initial_copy_abort(mode, stack, awssim, world):
    """auto: the restore refused, then the path; always: the path from
    preflight on (no snapshot, the restore never tried)."""
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = f"pgc-ica-{mode}", f"pgcica{mode}"
    src = owned_source(sim, ident, ["db.r6g.large"])
    port = src["Port"]
    key = stack.make_key()["Arn"]
    if mode == "auto":
        refuse_owned_restore(sim)
    hold = os.path.join(world, "hold")
    os.makedirs(hold, exist_ok=True)
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": hold, "FLEETCRYPT_TEST_HOLD_AT": "pgl.ic.schema,pgl.ic.subscribed"})
    stack.start()
    w = ClusterWriter(sim, ident, rate=40).start()
    submit(stack, camp, key, [ident], world, "--rekey", "--initial-copy", mode)
    wait_until(lambda: os.path.exists(os.path.join(hold, "pgl.ic.schema.held")), 600, 0.2, "the schema copied")
    # the bulk table's copy will wait on this lock: the copy is running when abort comes
    release = lock_table(sim, port, "bulk")
    try:
        open(os.path.join(hold, "pgl.ic.schema.go"), "w").close()
        wait_until(lambda: os.path.exists(os.path.join(hold, "pgl.ic.subscribed.held")), 600, 0.2,
                   "the subscription with copy_data")
        wait_until(lambda: csql(port, SYNC_SLOTS) != "", 60, 0.2, "a table-sync slot of the copy on the source")
        assert cluster(rds, f"fc-{camp}-{ident}-target")["KmsKeyId"] == key
        r = stack.cli("abort", camp, ident)
        assert r.returncode == 0, r.stderr
        open(os.path.join(hold, "pgl.ic.subscribed.go"), "w").close()
        st = wait_terminal(stack, camp, timeout=600)
    finally:
        release()
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "the source takes writes after the abort")
    w.stop()
    row = st["instances"][0]
    assert row["state"] == "aborted", f"{row}\n{stack.diagnostics()}"
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and "KmsKeyId" not in c and c["Port"] == port, c
    assert csql(port, "SELECT count(*) FROM bulk") == str(BULK)
    assert [x for x in csql(port, FC_OBJECTS).split("\n") if x] == []
    assert csql(port, SYNC_SLOTS) == "", "table-sync slots left on the source"
    assert worker_lines(stack, "table-sync slot dropped on the source"), "abort never dropped the copy's slot"
    assert fleetcrypt_aws_leftovers(rds, camp, []) == []
    assert fact(stack, camp, ident, "initial_copy") == "1"
    if mode == "always":
        assert fact(stack, camp, ident, "snap_at") == "", "--initial-copy always took a snapshot"


@pytest.mark.slow
def test_initial_copy_worker_killed(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "pgc-ick", "pgcick"
    src = owned_source(sim, ident)
    port = src["Port"]
    key = stack.make_key()["Arn"]
    refuse_owned_restore(sim)
    fired = crash_env(stack, world, "pgl.ic.subscribed")
    stack.start()
    w = ClusterWriter(sim, ident, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    submit(stack, camp, key, [ident], world, "--rekey")
    st = run_until_terminal(stack, camp, fired, timeout=900)
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes after the switch")
    w.stop()
    assert cluster(rds, ident)["KmsKeyId"] == key
    exactly_once(port, w)
    assert csql(port, "SELECT count(*) FROM bulk") == str(BULK)
    # the re-run found the subscription and made no second one (a second copy would double rows)
    made = worker_lines(stack, 'msg="initial copy subscription created" db=app ')
    found = worker_lines(stack, 'msg="initial copy subscription exists" db=app ')
    assert len(made) == 1 and found, f"created {len(made)} times, found {len(found)} times"


def test_awscli_create_cluster_with_campaign_key(awssim):
    """The emulator action the path adds, through awscli: CreateDBCluster
    with --kms-key-id makes an sse-kms cluster on that key (metadata only:
    no servers, to keep it cheap)."""
    sim = awssim
    key = sim.client("kms").create_key(Description="campaign")["KeyMetadata"]["Arn"]
    out = sim.cli("rds", "create-db-cluster", "--db-cluster-identifier", "fc-ic-cli-target",
                  "--engine", "aurora-postgresql", "--master-username", "app", "--master-user-password",
                  "s3cret-pass-123", "--storage-encrypted", "--kms-key-id", key,
                  "--tags", "Key=fleetcrypt-sim:metadata-only,Value=true")["DBCluster"]
    assert out["KmsKeyId"] == key and out["StorageEncrypted"] is True, out
    wait_until(lambda: cluster(sim.client("rds"), "fc-ic-cli-target")["Status"] == "available", 60, 0.1, "cluster")
    c = sim.cli("rds", "describe-db-clusters", "--db-cluster-identifier", "fc-ic-cli-target")["DBClusters"][0]
    assert c["KmsKeyId"] == key and c.get("StorageEncryptionType", "sse-kms") == "sse-kms", c
