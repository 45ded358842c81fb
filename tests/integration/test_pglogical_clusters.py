"""Strategy pg-logical for Aurora PostgreSQL clusters (issue 13), on the
local stack with real servers behind the cluster (a writer on the volume, a
streaming-standby reader behind the reader endpoint).

A cluster (writer + 1 reader, rds.logical_replication=1 in its *cluster*
parameter group, unencrypted) takes live writes through its cluster
endpoint from before submit until after the campaign (the writer reconnects
through the same endpoint). The campaign ends done and:
- a second cluster on an AWS owned key (the 2026 default) is re-keyed to
  the campaign key (--rekey) with its rows;
- the identifier names a cluster encrypted with the campaign key, on the
  same cluster endpoint port (a cluster rename: clients change nothing);
  its writer and reader have the source members' names, classes, promotion
  tiers and tags;
- every acknowledged row is on the cluster exactly once (A2), and the
  reader endpoint serves the same rows;
- the start position was aurora_volume_logical_start_lsn() of the restored
  writer (fact start_lsn_source);
- nothing of fleetcrypt is left: no slot, publication, subscription, role,
  schema or event trigger on the cluster; no cluster snapshot, no cluster or
  instance named fc-<campaign>- except the retired source cluster and its
  members, which are stopped and tagged retired-source.

Boundary (test_pglogical_cluster_boundary, FC_PGL_CLUSTER_BOUNDARY_RUNS
runs, default 1; slow: tests/run --all): writers race the cluster snapshot; while the campaign
waits for approval, a control cluster restored from fleetcrypt's own
cluster snapshot shows exactly the rows whose commit record ends at or
before fleetcrypt's start LSN (read by test_decoding on a slot made before
the campaign), its aurora_volume_logical_start_lsn() is fleetcrypt's start,
and — negative control — a subscription on the same snapshot started at
the end of the commit before the last included keyless insert applies that
insert twice (a doubled row in the keyless table). After approval the campaign ends with
every acknowledged row exactly once.

Time scale: 0 unless FLEETCRYPT_SIM_TIME_SCALE says otherwise (e.g. 0.02:
modelled AWS durations and the rename's DNS lag become real)."""
import os

import pytest

from fclib import wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (FC_OBJECTS, MASTER, PASSWORD, Writer, instance_state, submit,
                                     wait_terminal)

OLD = {"Key": "fleetcrypt-sim:create-time", "Value": "2025-06-01"}   # unencrypted, as before 2026-02-18
CPG = "fc-aur-logical"
SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE", "0") or 0)


def cluster(rds, ident):
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def logical_cluster_group(sim, rds=None, group=CPG):
    rds = rds or sim.client("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=group,
                                          DBParameterGroupFamily="aurora-postgresql15",
                                          Description="logical replication for fleetcrypt tests")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])


def make_cluster(sim, ident, classes, owned=False, sgs=None):
    """Unencrypted (created as before 2026-02-18), or with owned: encrypted
    with an AWS owned key (the 2026 default); sgs: its VPC security groups."""
    rds = sim.client("rds")
    tags = [{"Key": "team", "Value": "aur"}] + ([] if owned else [OLD])
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername=MASTER,
                          MasterUserPassword=PASSWORD, DatabaseName="app", BackupRetentionPeriod=2,
                          DBClusterParameterGroupName=CPG, Tags=tags,
                          **({"VpcSecurityGroupIds": sgs} if sgs else {}))
    wait_until(lambda: cluster(rds, ident)["Status"] == "available", 180, 0.2, f"cluster {ident}")
    for n, cls in enumerate(classes):
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-{n}", DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass=cls, PromotionTier=n + 1,
                               Tags=[{"Key": "member", "Value": str(n)}])
        sim.wait_instance(f"{ident}-{n}", timeout=300, rds=rds)
    return cluster(rds, ident)


class ClusterWriter(Writer):
    """Writer through the cluster endpoint (the writer instance, whoever it is)."""

    def _port(self):
        try:
            return cluster(self.sim.client("rds"), self.ident)["Port"]
        except Exception:  # noqa: BLE001 - identifier may be mid-rename
            return None


def csql(port, text, host="127.0.0.1", check=True):
    return psql(port, MASTER, PASSWORD, text, db="app", host=host, check=check)


def seqs(port, host="127.0.0.1"):
    out = csql(port, "SELECT seq FROM a UNION ALL SELECT seq FROM b", host=host)
    return sorted(int(x) for x in out.split())


def tags_of(rds, arn):
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def fleetcrypt_aws_leftovers(rds, campaign, retired):
    """Clusters, instances and cluster snapshots named fc-<campaign>- other
    than the retired source clusters (a list) and their members."""
    pre = f"fc-{campaign}-"
    left = []
    for c in rds.describe_db_clusters()["DBClusters"]:
        if c["DBClusterIdentifier"].startswith(pre) and c["DBClusterIdentifier"] not in retired:
            left.append("cluster:" + c["DBClusterIdentifier"])
    members = {m["DBInstanceIdentifier"] for r in retired for m in cluster(rds, r)["DBClusterMembers"]}
    for i in rds.describe_db_instances()["DBInstances"]:
        if i["DBInstanceIdentifier"].startswith(pre) and i["DBInstanceIdentifier"] not in members:
            left.append("db:" + i["DBInstanceIdentifier"])
    for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
        if s["DBClusterSnapshotIdentifier"].startswith(pre):
            left.append("csnap:" + s["DBClusterSnapshotIdentifier"])
    for s in rds.describe_db_snapshots()["DBSnapshots"]:
        if s["DBSnapshotIdentifier"].startswith(pre):
            left.append("snap:" + s["DBSnapshotIdentifier"])
    return left


def members_view(rds, c):
    out = {}
    for m in c["DBClusterMembers"]:
        i = rds.describe_db_instances(DBInstanceIdentifier=m["DBInstanceIdentifier"])["DBInstances"][0]
        user_tags = {k: v for k, v in tags_of(rds, i["DBInstanceArn"]).items()
                     if not k.startswith("fleetcrypt") and not k.startswith("aws:")}
        out[m["DBInstanceIdentifier"]] = (m["IsClusterWriter"], m["PromotionTier"], i["DBInstanceClass"], user_tags)
    return out


def test_pglogical_cluster_live_writer(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident = "pgc-a"
    src = make_cluster(sim, ident, ["db.r6g.large", "db.r6g.xlarge"])
    assert src["StorageEncrypted"] is False, src
    port = src["Port"]
    assert csql(port, "SHOW wal_level") == "logical"
    csql(port, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
               "CREATE TABLE b(seq bigint NOT NULL);"
               "CREATE SEQUENCE wseq;")
    members_before = members_view(rds, src)
    # a second cluster on an AWS owned key (the 2026 default), re-keyed with --rekey
    kc = make_cluster(sim, "pgc-k", ["db.r6g.large"], owned=True)
    assert kc["StorageEncrypted"] is True and "KmsKeyId" not in kc, kc
    kport = kc["Port"]
    csql(kport, "CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)")
    key = stack.make_key()["Arn"]
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()

    w = ClusterWriter(sim, ident, rate=40).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes before submit")
    submit(stack, "pgc1", key, [ident, "pgc-k"], world, "--rekey")
    st = wait_terminal(stack, "pgc1", timeout=900)
    rows = {i["id"]: i for i in st["instances"]}
    row = rows[ident]
    assert row["state"] == "done", row
    assert rows["pgc-k"]["state"] == "done", rows["pgc-k"]
    assert row.get("kind") == "cluster", row
    # writes after the switch land on the encrypted cluster: wait for some, not a time
    n_done = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n_done + 20, 120, 0.1, "writes after the switch")
    w.stop()

    def fact(name):
        return stack.redis.cli("HGET", f"fc:{{pgc1}}:i:{ident}", f"f.{name}").strip()

    assert fact("start_lsn_source") == "aurora_volume_logical_start_lsn", fact("start_lsn_source")
    assert fact("start_lsn"), "no start LSN recorded"

    # the identifier: encrypted with the campaign key, same endpoint, same members
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key, c
    assert c["Port"] == port, f"cluster endpoint port changed: {port} -> {c['Port']}"
    assert c["Status"] == "available", c["Status"]
    assert tags_of(rds, c["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert members_view(rds, c) == members_before

    # A2: every acknowledged number exactly once, through the cluster endpoint
    have = seqs(port)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} " \
                                         f"doubled {doubled}"
    # the reader endpoint serves the same rows
    wait_until(lambda: seqs(port, host="127.0.0.2") == have, 60, 0.2, "the reader serves the same rows")
    assert csql(port, "SELECT pg_is_in_recovery()", host="127.0.0.2") == "t"

    # the re-keyed cluster: the campaign key, its endpoint and rows
    k = cluster(rds, "pgc-k")
    assert k["KmsKeyId"] == key and k["Port"] == kport and k["Status"] == "available", k
    assert csql(kport, "SELECT count(*) FROM t") == "100"
    assert [x for x in csql(kport, FC_OBJECTS).split("\n") if x] == []

    # nothing of fleetcrypt's left on the cluster
    objs = [x for x in csql(port, FC_OBJECTS).split("\n") if x]
    assert objs == [], f"fleetcrypt objects left on the cluster: {objs}"
    retired = [x for x in rds.describe_db_clusters()["DBClusters"]
               if tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:role") == "retired-source"
               and tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:original-id") == ident]
    assert len(retired) == 1, retired
    ret = retired[0]
    assert ret["DBClusterIdentifier"].startswith("fc-pgc1-"), ret["DBClusterIdentifier"]
    assert ret["Status"] in ("stopped", "stopping"), ret["Status"]
    assert ret["StorageEncrypted"] is False
    assert not {m["DBInstanceIdentifier"] for m in ret["DBClusterMembers"]} & set(members_before)
    kret = [x["DBClusterIdentifier"] for x in rds.describe_db_clusters()["DBClusters"]
            if tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:original-id") == "pgc-k"]
    assert len(kret) == 1, kret
    left = fleetcrypt_aws_leftovers(rds, "pgc1", [ret["DBClusterIdentifier"]] + kret)
    assert left == [], f"fleetcrypt's AWS resources left: {left}"


BOUNDARY_RUNS = int(os.environ.get("FC_PGL_CLUSTER_BOUNDARY_RUNS", "1"))


def lsn_int(s):
    hi, lo = s.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def lsn_str(n):
    return f"{n >> 32:X}/{n & 0xFFFFFFFF:X}"


def committed(port, slot):
    """{xid: (commit end LSN, [(table, seq)])} of the writer's transactions
    decoded by test_decoding on `slot` (a COMMIT's lsn is its record's end)."""
    out = csql(port, f"SELECT lsn, xid, data FROM pg_logical_slot_peek_changes('{slot}', NULL, NULL)")
    rows, commits = {}, {}
    for line in out.splitlines():
        lsn, xid, data = line.split("|", 2)
        for t in ("a", "b"):
            if data.startswith(f"table public.{t}: INSERT:"):
                seq = int(data.split("seq[bigint]:")[1].split()[0])
                rows.setdefault(xid, []).append((t, seq))
        if data.startswith("COMMIT"):
            commits[xid] = lsn_int(lsn)
    return {x: (commits[x], rows[x]) for x in rows if x in commits}


@pytest.mark.slow
@pytest.mark.parametrize("run", range(BOUNDARY_RUNS))
def test_pglogical_cluster_boundary(run, stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp, ctl = f"pgc-b{run}", f"pgcb{run}", f"pgc-ctl{run}"
    port = make_cluster(sim, ident, ["db.r6g.large"])["Port"]
    csql(port, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
               "CREATE TABLE b(seq bigint NOT NULL);"
               "CREATE SEQUENCE wseq;")
    # the control's slots, made before fleetcrypt's (hence before its snapshot)
    csql(port, "SELECT 1 FROM pg_create_logical_replication_slot('ctl_peek', 'test_decoding');"
               "SELECT 1 FROM pg_create_logical_replication_slot('ctl_sub', 'pgoutput')")
    key = stack.make_key()["Arn"]
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()
    w = ClusterWriter(sim, ident, rate=80).start()
    wait_until(lambda: len(w.numbers()) >= 20 + 15 * run, 60, 0.05, "writes before submit")
    submit(stack, camp, key, [ident], world, "--cutover", "approve")
    wait_until(lambda: instance_state(stack, camp, ident)["state"] in ("waiting_approval", "failed", "aborted"),
               600, 0.5, "waiting for approval")
    assert instance_state(stack, camp, ident)["state"] == "waiting_approval", instance_state(stack, camp, ident)

    def fact(name):
        return stack.redis.cli("HGET", f"fc:{{{camp}}}:i:{ident}", f"f.{name}").strip()
    start = lsn_int(fact("start_lsn"))
    pub = fact("publication")
    assert pub, "no publication recorded"

    # the control: fleetcrypt's own cluster snapshot restored once more, untouched
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier=ctl, SnapshotIdentifier=f"fc-{camp}-{ident}-snap",
                                         Engine="aurora-postgresql", DBClusterParameterGroupName=CPG)
    wait_until(lambda: cluster(rds, ctl)["Status"] == "available", 300, 0.2, "control cluster")
    rds.create_db_instance(DBInstanceIdentifier=f"{ctl}-0", DBClusterIdentifier=ctl, Engine="aurora-postgresql",
                           DBInstanceClass="db.r6g.large")
    sim.wait_instance(f"{ctl}-0", timeout=300, rds=rds)
    cport = cluster(rds, ctl)["Port"]
    assert lsn_int(csql(cport, "SELECT aurora_volume_logical_start_lsn()")) == start

    # exactly the transactions whose commit ends at or before the start are in the snapshot
    txs = committed(port, "ctl_peek")
    inside = {r for end, rs in txs.values() if end <= start for r in rs}
    have = {("a", int(x)) for x in csql(cport, "SELECT seq FROM a").split()} | \
           {("b", int(x)) for x in csql(cport, "SELECT seq FROM b").split()}
    assert inside and have == inside, f"start {lsn_str(start)}: in the snapshot but not before the start " \
                                      f"{sorted(have - inside)[:5]}, before the start but not in it " \
                                      f"{sorted(inside - have)[:5]}"
    assert any(end > start for end, _ in txs.values()), "no write after the snapshot: the race did not happen"

    # negative control: a start at the end of the commit before the last included keyless insert
    # (the walsender skips a transaction whose commit record *starts* before the start
    # position, so this start sends that insert again — as "redo done at" would)
    last_b = max(end for end, rs in txs.values() if end <= start and rs[0][0] == "b")
    wrong = max(end for end, _ in txs.values() if end < last_b)
    csql(cport, f"CREATE SUBSCRIPTION ctl CONNECTION 'host=127.0.0.1 port={port} dbname=app user={MASTER} "
                f"password={PASSWORD}' PUBLICATION {pub} WITH (create_slot=false, enabled=false, "
                "copy_data=false, slot_name='ctl_sub', disable_on_error=true)")
    csql(cport, f"SELECT pg_replication_origin_advance('pg_'||oid, '{lsn_str(wrong)}') "
                "FROM pg_subscription WHERE subname='ctl'")
    csql(cport, "ALTER SUBSCRIPTION ctl ENABLE")
    try:
        wait_until(lambda: int(csql(cport, "SELECT count(*) - count(DISTINCT seq) FROM b")) > 0, 120, 0.2,
                   "the negative control applying the last included transaction twice")
    except AssertionError:
        print("control subscription:", csql(cport, "SELECT subenabled, subskiplsn FROM pg_subscription"),
              csql(cport, "SELECT * FROM pg_stat_subscription_stats"), csql(cport, "SELECT * FROM pg_stat_subscription"),
              csql(cport, "SELECT * FROM pg_replication_origin_status"), lsn_str(wrong), lsn_str(start))
        logs = rds.describe_db_log_files(DBInstanceIdentifier=f"{ctl}-0")["DescribeDBLogFiles"]
        for f in logs[-2:]:
            d = rds.download_db_log_file_portion(DBInstanceIdentifier=f"{ctl}-0", LogFileName=f["LogFileName"],
                                                 Marker="0")
            print("\n".join(x for x in d.get("LogFileData", "").splitlines() if "ERROR" in x or "FATAL" in x
                            or "replication" in x)[-3000:])
        raise
    csql(cport, "ALTER SUBSCRIPTION ctl DISABLE")
    csql(cport, "ALTER SUBSCRIPTION ctl SET (slot_name = NONE)")
    csql(cport, "DROP SUBSCRIPTION ctl")
    rds.delete_db_instance(DBInstanceIdentifier=f"{ctl}-0", SkipFinalSnapshot=True)
    csql(port, "SELECT pg_drop_replication_slot('ctl_peek'); SELECT pg_drop_replication_slot('ctl_sub')")

    r = stack.cli("approve", camp, ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, camp, timeout=900)
    row = {i["id"]: i for i in st["instances"]}[ident]
    assert row["state"] == "done", row
    n_done = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n_done + 20, 120, 0.1, "writes after the switch")
    w.stop()
    have = seqs(port)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} " \
                                         f"doubled {doubled}"


def test_pglogical_cluster_abort(stack, awssim, world):
    """abort before the switch: the target cluster, its members and the
    cluster snapshot are deleted, the source cluster keeps its name, its key
    and its writers, and loses every fleetcrypt object."""
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "pgc-ab", "pgcab"
    port = make_cluster(sim, ident, ["db.r6g.large", "db.r6g.large"])["Port"]
    csql(port, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
               "CREATE TABLE b(seq bigint NOT NULL);"
               "CREATE SEQUENCE wseq;")
    key = stack.make_key()["Arn"]
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()
    w = ClusterWriter(sim, ident, rate=30).start()
    submit(stack, camp, key, [ident], world, "--cutover", "approve")
    wait_until(lambda: instance_state(stack, camp, ident)["state"] in ("waiting_approval", "failed", "aborted"),
               600, 0.5, "waiting for approval")
    assert instance_state(stack, camp, ident)["state"] == "waiting_approval", instance_state(stack, camp, ident)
    pre = f"fc-{camp}-"
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
            if c["DBClusterIdentifier"].startswith(pre)] == [f"{pre}{ident}-target"]
    r = stack.cli("abort", camp, ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, camp, timeout=600)
    row = {i["id"]: i for i in st["instances"]}[ident]
    assert row["state"] == "aborted", row
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "writes on the source after the abort")
    w.stop()
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is False and c["Port"] == port and c["Status"] == "available", c
    left = [x["DBClusterIdentifier"] for x in rds.describe_db_clusters()["DBClusters"]
            if x["DBClusterIdentifier"].startswith(pre)]
    left += [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]
             if i["DBInstanceIdentifier"].startswith(pre)]
    left += [s["DBClusterSnapshotIdentifier"] for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
             if s["DBClusterSnapshotIdentifier"].startswith(pre)]
    assert left == [], f"fleetcrypt's AWS resources left after the abort: {left}"
    objs = [x for x in csql(port, FC_OBJECTS).split("\n") if x]
    assert objs == [], f"fleetcrypt objects left on the source: {objs}"
    have = seqs(port)
    assert not sorted(set(w.numbers()) - set(have)) and len(have) == len(set(have))


def user_params(rds, group):
    return {p["ParameterName"]: p.get("ParameterValue") for p in
            rds.describe_db_cluster_parameters(DBClusterParameterGroupName=group, Source="user")["Parameters"]}


@pytest.mark.slow  # ~80 s; run at 0.02 too (session notes); tests/run --all
def test_pglogical_cluster_allow_reboot(stack, awssim, world):
    """A cluster whose cluster parameter group (shared with another cluster)
    lacks rds.logical_replication=1: without --allow-reboot the instance fails
    naming the parameter and the source is untouched; with it fleetcrypt puts
    the value in its own copy of the group (the shared group is never
    edited), switches the source cluster to the copy, reboots the writer;
    aborted at approval the source gets its own group back and the copy is
    deleted; run again the campaign ends done with every row, the new
    cluster and the retired source have the source's original group and the
    copy is deleted."""
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    shared = "pgc-shared"
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=shared,
                                          DBParameterGroupFamily="aurora-postgresql15", Description="shared")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=shared, Parameters=[
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "5000", "ApplyMethod": "immediate"}])
    ident = "pgc-rb"
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername=MASTER,
                          MasterUserPassword=PASSWORD, DatabaseName="app", DBClusterParameterGroupName=shared,
                          Tags=[OLD])
    wait_until(lambda: cluster(rds, ident)["Status"] == "available", 180, 0.2, f"cluster {ident}")
    rds.create_db_instance(DBInstanceIdentifier=f"{ident}-0", DBClusterIdentifier=ident, Engine="aurora-postgresql",
                           DBInstanceClass="db.r6g.large")
    sim.wait_instance(f"{ident}-0", timeout=300, rds=rds)
    # another cluster on the same group (metadata only)
    rds.create_db_cluster(DBClusterIdentifier="pgc-rb-other", Engine="aurora-postgresql", MasterUsername=MASTER,
                          MasterUserPassword=PASSWORD, DBClusterParameterGroupName=shared,
                          Tags=[OLD, {"Key": "fleetcrypt-sim:metadata-only", "Value": "true"}])
    port = cluster(rds, ident)["Port"]
    assert csql(port, "SHOW wal_level") != "logical"
    csql(port, "CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 500)")
    before = user_params(rds, shared)
    key = stack.make_key()["Arn"]
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()

    submit(stack, "pgcrb0", key, [ident], world)
    st = wait_terminal(stack, "pgcrb0", timeout=300)
    row = st["instances"][0]
    assert row["state"] == "failed" and "rds.logical_replication" in row.get("error", "") \
        and "--allow-reboot" in row.get("error", ""), row
    c = cluster(rds, ident)
    assert c["DBClusterParameterGroup"] == shared and user_params(rds, shared) == before, c
    assert not [g for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
                if g["DBClusterParameterGroupName"].startswith("fc-")]

    def closed(camp):   # a finished campaign lets go of the cluster once the coordinator closes it
        wait_until(lambda: stack.status(camp)["state"] in ("done", "aborted", "failed"), 120, 0.5, f"{camp} closed")

    closed("pgcrb0")
    # abort after the switch to the copy and the reboot: the source gets its own group back, the copy is deleted
    submit(stack, "pgcrb2", key, [ident], world, "--allow-reboot", "--cutover", "approve")
    wait_until(lambda: instance_state(stack, "pgcrb2", ident)["state"] in ("waiting_approval", "failed", "aborted"),
               600, 0.5, "waiting for approval")
    assert instance_state(stack, "pgcrb2", ident)["state"] == "waiting_approval", instance_state(stack, "pgcrb2", ident)
    assert cluster(rds, ident)["DBClusterParameterGroup"] == "fc-pgcrb2-pgc-rb-cpg"
    assert stack.cli("abort", "pgcrb2", ident).returncode == 0
    row = wait_terminal(stack, "pgcrb2", timeout=600)["instances"][0]
    assert row["state"] == "aborted", row
    assert cluster(rds, ident)["DBClusterParameterGroup"] == shared and user_params(rds, shared) == before
    assert not [g for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
                if g["DBClusterParameterGroupName"].startswith("fc-")]
    assert [x for x in csql(port, FC_OBJECTS).split("\n") if x] == []

    closed("pgcrb2")
    submit(stack, "pgcrb1", key, [ident], world, "--allow-reboot")
    st = wait_terminal(stack, "pgcrb1", timeout=600)
    row = st["instances"][0]
    assert row["state"] == "done", row
    c = cluster(rds, ident)
    assert c["KmsKeyId"] == key and c["Port"] == port, c
    assert c["DBClusterParameterGroup"] == shared, c["DBClusterParameterGroup"]
    assert csql(port, "SELECT count(*) FROM t") == "500"
    # the shared group was never edited; the other cluster still uses it
    assert user_params(rds, shared) == before
    assert cluster(rds, "pgc-rb-other")["DBClusterParameterGroup"] == shared
    # the writer was rebooted by fleetcrypt (an event on the source writer)
    ev = rds.describe_events(SourceType="db-instance", Duration=10000)["Events"]
    assert any(e["Message"] == "DB instance restarted" and e["SourceIdentifier"] == f"{ident}-0" for e in ev), \
        [(e["SourceIdentifier"], e["Message"]) for e in ev][-10:]
    retired = [x for x in rds.describe_db_clusters()["DBClusters"]
               if tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:original-id") == ident
               and tags_of(rds, x["DBClusterArn"]).get("fleetcrypt:role") == "retired-source"]
    assert len(retired) == 1 and retired[0]["DBClusterParameterGroup"] == shared, retired
    # fleetcrypt's copy of the group is gone
    assert not [g["DBClusterParameterGroupName"] for g in
                rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
                if g["DBClusterParameterGroupName"].startswith("fc-")]


def test_pglogical_cluster_owned_key_restore_refused(stack, awssim, world):
    """Whether AWS restores a cluster snapshot encrypted with an AWS owned key
    under a customer managed key is not documented (docs/clusters.md,
    *AWS owned keys*). With the emulator told to refuse it
    (owned_key_restore=refuse), a --rekey --initial-copy never campaign over
    such a cluster ends failed with a reason that says so and names the way
    left (a new cluster filled by logical replication with initial copy,
    which --initial-copy auto takes: test_pglogical_initial_copy.py), and abort leaves the
    source as it was: its key, no fleetcrypt object, no snapshot, no cluster."""
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp = "pgc-ow", "pgcow"
    src = make_cluster(sim, ident, ["db.r6g.large"], owned=True)
    assert src["StorageEncrypted"] is True and "KmsKeyId" not in src, src
    port = src["Port"]
    csql(port, "CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)")
    key = stack.make_key()["Arn"]
    sim.admin("POST", "/config", {"owned_key_restore": "refuse"})
    try:
        stack.start()
        # --initial-copy never: without it (auto) the refusal takes the initial-copy
        # path (test_pglogical_initial_copy.py)
        submit(stack, camp, key, [ident], world, "--rekey", "--initial-copy", "never")
        st = wait_terminal(stack, camp, timeout=600)
    finally:
        sim.admin("POST", "/config", {"owned_key_restore": "allow"})
    row = st["instances"][0]
    err = row.get("error") or ""
    assert row["state"] == "failed", row
    assert "the source is encrypted with an AWS owned key and AWS refused" in err and "initial copy" in err, err
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and "KmsKeyId" not in c and c["Port"] == port, c
    assert csql(port, "SELECT count(*) FROM t") == "50"
    assert [x for x in csql(port, FC_OBJECTS).split("\n") if x] == []
    assert fleetcrypt_aws_leftovers(rds, camp, []) == []


def cname_campaign_file(world, fname, fields=None):
    import json
    from cname_util import LOW_TTL
    path = os.path.join(world, fname)
    with open(path, "w") as f:
        json.dump(dict(fields or {}, cname_ttl=LOW_TTL), f)
    return path


def cname_cluster_campaign(stack, sim, world, camp, ident, name, port, key, opts, *extra, during=None, after=None):
    """A --cutover-method cname campaign of cluster ident with a writer
    resolving `name` for every connection (on the application's port) from
    before submit until writes land after the switch; returns the writer.
    `during` (emulator /config, e.g. AWS faults) is applied just before
    submit, `after` once the writer stopped (before the callers' checks)."""
    from cname_util import CnameWriter
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()
    w = CnameWriter(sim, name, port, rate=40, tables=("a",)).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes through the CNAME before submit")
    if during:
        sim.admin("POST", "/config", during)
    submit(stack, camp, key, [ident], world, "--cutover-method", "cname", "--file", opts, *extra)
    # a crash point armed (crash_env): every worker it kills is replaced
    crashing = "FLEETCRYPT_TEST_CRASH_AT" in stack.env
    st = stack.until_terminal(camp, 900)[0] if crashing else wait_terminal(stack, camp, timeout=900)
    row = st["instances"][0]
    assert row["state"] == "done" and row.get("kind") == "cluster", f"{row}\n{stack.diagnostics()}"
    n_done = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n_done + 20, 120, 0.1, "writes through the CNAME after the switch")
    w.stop()
    if after:
        sim.admin("POST", "/config", after)
    return w


def check_cname_switched(sim, zid, name, enc, src_addr, port, w, old_ttl, n_members):
    """The record on the encrypted cluster's Endpoint with its old TTL back,
    its members there, every acknowledged row exactly once on it (through
    the application's port) and nothing of fleetcrypt's in its databases."""
    from cname_util import record, resolve
    assert record(sim, zid, name) == (enc["Endpoint"], old_ttl) and enc["Endpoint"] != src_addr, \
        (record(sim, zid, name), enc["Endpoint"], src_addr)
    assert resolve(sim, name) == enc["Endpoint"]
    assert len(enc["DBClusterMembers"]) == n_members
    have = seqs(port, host=enc["Endpoint"])
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and len(have) == len(set(have)), \
        f"acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {len(have) - len(set(have))}"
    assert [x for x in csql(port, FC_OBJECTS, host=enc["Endpoint"]).split("\n") if x] == []


def check_retired_in_place(rds, ident, members_before):
    """The source cluster kept its identifier and members: tagged retired-source, stopped."""
    s = cluster(rds, ident)
    t = tags_of(rds, s["DBClusterArn"])
    assert t.get("fleetcrypt:role") == "retired-source" and t.get("fleetcrypt:original-id") == ident, t
    assert s["Status"] in ("stopped", "stopping") and s["StorageEncrypted"] is False, s["Status"]
    assert set(members_view(rds, s)) == set(members_before)


def cname_source(sim, ident, name, old_ttl, sgs=None, tag=True):
    """A cluster (writer + reader) with the writer's tables, its CNAME `name`
    on its Endpoint (TTL old_ttl; named by the cluster tag unless not tag),
    seen in DNS. Returns (cluster, zone id, members)."""
    from cname_util import make_zone, resolve
    rds = sim.client("rds")
    src = make_cluster(sim, ident, ["db.r6g.large", "db.r6g.large"], sgs=sgs)
    csql(src["Port"], "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                      "CREATE TABLE b(seq bigint NOT NULL);"
                      "CREATE SEQUENCE wseq;", host=src["Endpoint"])
    zid = make_zone(sim, name, src["Endpoint"], old_ttl)
    if tag:
        rds.add_tags_to_resource(ResourceName=src["DBClusterArn"], Tags=[{"Key": "fleetcrypt:cname", "Value": name}])
    wait_until(lambda: resolve(sim, name) == src["Endpoint"], 60, 0.1, "the CNAME in DNS")
    return src, zid, members_view(rds, src)


@pytest.mark.slow
def test_pglogical_cluster_cname_live_writer(stack, awssim, world):
    """--cutover-method cname for an Aurora PostgreSQL cluster (issue 16):
    the application reaches the cluster through its own CNAME (value: the
    source cluster's writer Endpoint, named by the cluster tag
    fleetcrypt:cname) and a writer that resolves it for every connection.
    Afterwards the record is on the encrypted cluster's Endpoint with its
    old TTL back; every acknowledged row exactly once there; the source
    cluster keeps its identifier and members (retired: tagged, stopped);
    nothing else of fleetcrypt's is left."""
    cluster_cname_move(stack, awssim, world)


def cluster_cname_move(stack, sim, world, during=None, after=None):
    """The campaign of test_pglogical_cluster_cname_live_writer, checked
    (during/after: as cname_cluster_campaign's)."""
    from cname_util import OLD_TTL, ZONE
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_cluster_group(sim)
    ident, camp, name = "pgc-cn", "pgccn", "orders." + ZONE
    src, zid, members_before = cname_source(sim, ident, name, OLD_TTL)
    opts = cname_campaign_file(world, "cluster-cname.json")
    key = stack.make_key()["Arn"]
    w = cname_cluster_campaign(stack, sim, world, camp, ident, name, src["Port"], key, opts, during=during, after=after)

    # the encrypted cluster keeps fleetcrypt's name; the record follows it
    enc = [c for c in rds.describe_db_clusters()["DBClusters"] if c["StorageEncrypted"] and c.get("KmsKeyId") == key]
    assert len(enc) == 1, [c["DBClusterIdentifier"] for c in enc]
    enc = enc[0]
    assert enc["DBClusterIdentifier"] == f"fc-{camp}-{ident}-target", enc["DBClusterIdentifier"]
    assert tags_of(rds, enc["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    check_cname_switched(sim, zid, name, enc, src["Endpoint"], src["Port"], w, OLD_TTL, len(members_before))
    check_retired_in_place(rds, ident, members_before)
    left = fleetcrypt_aws_leftovers(rds, camp, [enc["DBClusterIdentifier"]])
    assert left == [], f"fleetcrypt's AWS resources left: {left}"
