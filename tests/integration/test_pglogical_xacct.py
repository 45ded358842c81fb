"""pg-logical across accounts (issue 16, part 1) on real servers (Redis,
Kafka, the AWS emulator with its second account, real PostgreSQL, the real
fleetcrypt binaries).

With --target-account-role (the emulator's role fleetcrypt-target, its
external id) the workers assume the role through STS, share the source's
snapshot with the target account, copy it there with the target account's
key (the shared snapshot's ARN as source), restore it there, replicate from
the source across the accounts and switch the application's Route 53 CNAME
(in the campaign's account) to the encrypted instance.

- CI: preflight refuses, each with a one-line reason and before anything
  changes: a source encrypted with aws/rds, a source whose customer managed
  key's policy does not let the target account use it; submit refuses
  --cutover-method rename across accounts;
- slow: the whole move with live writers through the CNAME: every
  acknowledged row exactly once on the encrypted instance in the target
  account (its key the target's), the CNAME on it, the source retired,
  its snapshot unshared and the intermediate snapshots gone in both accounts;
- slow: a worker killed between the share and the copy (crash point
  xacct.shared): the next holder copies once and the move completes;
- slow: --keep-snapshots, aborted after the copy: the source's snapshot kept
  but no longer shared with the target account;
- slow: an Aurora PostgreSQL cluster (writer + reader) moved with a live
  writer through its CNAME: its cluster snapshot shared, copied into the
  target account, restored there (groups mapped by name) with the target's
  key; every acknowledged row exactly once on the encrypted cluster, the
  CNAME on its writer Endpoint with the old TTL back, the source cluster
  retired under its identifier, nothing shared or left in either account.
"""
import json
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import (app_schema, logical_group, make_instances, retired_of, submit,
                                     wait_terminal)
from cname_util import CnameWriter, make_zone, record, resolve

ZONE = "corp.example."


class Target:
    """The emulator's second account, reached as the workers reach it: through the role."""

    def __init__(self, sim):
        self.sim = sim
        self.account = sim.info["target_account_id"]
        self.role = sim.info["target_role_arn"]
        self.external_id = sim.info["target_external_id"]
        sts = sim.client("sts")
        c = sts.assume_role(RoleArn=self.role, RoleSessionName="test", ExternalId=self.external_id)["Credentials"]
        self.creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    def client(self, service):
        return self.sim.client(service, *self.creds)

    def key(self):
        return self.client("kms").create_key(Description="target account key")["KeyMetadata"]["Arn"]

    def logical_group(self):
        logical_group(self.sim, rds=self.client("rds"))

    def instances(self):
        return self.client("rds").describe_db_instances()["DBInstances"]

    def snapshots(self):
        return self.client("rds").describe_db_snapshots()["DBSnapshots"]


def admit(sim, sg, port, cidr="172.31.0.0/16", group=None, account=None):
    """An inbound rule on the source's security group sg for TCP port: from the target account's subnets'
    CIDR (the emulator's default VPC) or, with group, from the target's security group (of account)."""
    peer = {"UserIdGroupPairs": [{"GroupId": group, "UserId": account}]} if group else {"IpRanges": [{"CidrIp": cidr}]}
    sim.client("ec2").authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peer}])


def xacct_target(sim):
    """The target account, pg-logical's parameter group in both accounts."""
    tgt = Target(sim)
    logical_group(sim)
    tgt.logical_group()
    return tgt


def xacct_cluster_target(sim):
    """The target account, the cluster parameter group by name in both
    accounts. Returns (Target, the source's RDS client, the target's)."""
    from test_pglogical_clusters import logical_cluster_group
    tgt = Target(sim)
    rds, trds = sim.client("rds"), tgt.client("rds")
    logical_cluster_group(sim)
    logical_cluster_group(sim, trds)
    return tgt, rds, trds


def sg_pair(sim, tgt, name):
    """A security group named name in each account (mapped by name across):
    (the source's id, the target's)."""
    src_sg = sim.client("ec2").create_security_group(GroupName=name, Description="app")["GroupId"]
    tgt_sg = tgt.client("ec2").create_security_group(GroupName=name, Description="app")["GroupId"]
    assert src_sg != tgt_sg
    return src_sg, tgt_sg


def cname_instance(sim, ident, sgs=None):
    """Source instance ident with the app tables, its (first) security group
    admitting the target account's subnets on its port, and its CNAME
    ident.ZONE on its address (TTL 4), seen in DNS. Returns (the instance,
    the CNAME, its zone id)."""
    make_instances(sim, [ident], sgs=sgs)
    app_schema(sim, ident)
    src = sim.instance(ident, sim.client("rds"))
    addr = src["Endpoint"]["Address"]
    admit(sim, src["VpcSecurityGroups"][0]["VpcSecurityGroupId"], src["Endpoint"]["Port"])
    name = f"{ident}.{ZONE}"
    zid = make_zone(sim, name, addr, 4)
    wait_until(lambda: resolve(sim, name) == addr, 60, 0.1, "the CNAME in DNS")
    return src, name, zid


def cname_opts(world, camp, ident, name):
    """The campaign file naming ident's CNAME (TTL 1 during the move)."""
    opts = os.path.join(world, f"{camp}.json")
    with open(opts, "w") as f:
        json.dump({"cname": f"{ident}={name}", "cname_ttl": 1}, f)
    return opts


def xacct_args(tgt):
    return ["--target-account-role", tgt.role, "--target-external-id", tgt.external_id]


def test_xacct_preflight_refusals(stack, awssim, world):
    """CI: aws/rds-encrypted source and a key the target account cannot use
    are refused at preflight (one line each, nothing created); so is a source
whose security groups do not admit the target account's subnets on its
port (EC2's rules: the network path back from the target); so are Aurora
    clusters: aws/rds-encrypted, a cluster parameter group missing in the
    target account or there without rds.logical_replication=1; rename is
    refused at submit."""
    sim = awssim
    tgt = xacct_target(sim)
    kms = sim.client("kms")
    cmk = kms.create_key(Description="source cmk, policy for its own account only")["KeyMetadata"]["Arn"]
    make_instances(sim, ["xa-awsrds", "xa-cmk"], kms={"xa-awsrds": "", "xa-cmk": cmk})
    # a group the target account has no namesake of
    only_here = sim.client("ec2").create_security_group(GroupName="only-here", Description="x")["GroupId"]
    make_instances(sim, ["xa-sg"], sgs=[only_here])
    # groups mapped by name, but the source's admits another network than the target's subnets
    net_sg = sim.client("ec2").create_security_group(GroupName="net-sg", Description="x")["GroupId"]
    tgt.client("ec2").create_security_group(GroupName="net-sg", Description="x")
    make_instances(sim, ["xa-net"], sgs=[net_sg])
    admit(sim, net_sg, sim.instance("xa-net", sim.client("rds"))["Endpoint"]["Port"], cidr="10.0.0.0/8")
    # Aurora clusters (one member each): aws/rds-encrypted; a cluster parameter group the target account
    # has none of; one it has without rds.logical_replication=1
    from test_pglogical_clusters import CPG, logical_cluster_group
    logical_cluster_group(sim)
    logical_cluster_group(sim, tgt.client("rds"))
    for g in ("fc-only-here", "fc-nolog"):
        logical_cluster_group(sim, group=g)
    tgt.client("rds").create_db_cluster_parameter_group(
        DBClusterParameterGroupName="fc-nolog", DBParameterGroupFamily="aurora-postgresql15", Description="x")
    clusters = {"xc-awsrds": (CPG, True), "xc-nocpg": ("fc-only-here", False), "xc-nolog": ("fc-nolog", False)}
    make_refused_clusters(sim, clusters)
    key = tgt.key()
    stack.start()

    r = stack.cli("submit", "--campaign", "xr", "--kms-key", key, "--strategy", "pg-logical", "--yes",
                  "--cutover-method", "rename", *xacct_args(tgt), "xa-cmk")
    assert r.returncode == 2 and "another account" in r.stderr and "cname" in r.stderr, r.stderr

    submit(stack, "xp", key, ["xa-awsrds", "xa-cmk", "xa-sg", "xa-net", *clusters], world, "--cutover-method", "cname",
           *xacct_args(tgt))
    st = wait_terminal(stack, "xp", timeout=120)
    by = {i["id"]: i for i in st["instances"]}
    for ident, words in (("xa-awsrds", ("aws/rds cannot be shared", "customer managed key")),
                         ("xa-cmk", ("key policy", tgt.account)),
                         ("xa-sg", ("security group only-here does not exist in the target account",)),
                         ("xa-net", ("source's security groups", net_sg, "do not admit", tgt.account,
                                     "172.31.0.0/20", "inbound rule")),
                         ("xc-awsrds", ("aws/rds cannot be shared", "customer managed key", tgt.account)),
                         ("xc-nocpg", ("DB cluster parameter group fc-only-here does not exist in the target account",
                                       "rds.logical_replication=1")),
                         ("xc-nolog", ("DB cluster parameter group fc-nolog in the target account",
                                       "does not set rds.logical_replication=1"))):
        inst = by[ident]
        why = inst.get("error") or ""
        assert inst["state"] == "failed" and inst["step"] == "preflight", inst
        assert "\n" not in why and all(w in why for w in words), why
    # nothing made in either account
    assert [s["DBSnapshotIdentifier"] for s in sim.client("rds").describe_db_snapshots()["DBSnapshots"]
            if s["DBSnapshotIdentifier"].startswith("fc-")] == []
    assert tgt.snapshots() == [] and tgt.instances() == []
    rds, trds = sim.client("rds"), tgt.client("rds")
    assert [c["DBClusterSnapshotIdentifier"] for c in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
            if c["DBClusterSnapshotIdentifier"].startswith("fc-")] == []
    assert trds.describe_db_clusters()["DBClusters"] == [] and \
        trds.describe_db_cluster_snapshots()["DBClusterSnapshots"] == []


def make_refused_clusters(sim, clusters):
    """{ident: (cluster parameter group, encrypted with aws/rds)}: each with one member, created at once."""
    from test_pglogical_clusters import OLD, cluster
    from pglogical_strategy_util import MASTER, PASSWORD
    rds = sim.client("rds")
    for ident, (group, awsrds) in clusters.items():
        enc = {"StorageEncrypted": True, "KmsKeyId": "alias/aws/rds"} if awsrds else {"Tags": [OLD]}
        rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername=MASTER,
                              MasterUserPassword=PASSWORD, DatabaseName="app", DBClusterParameterGroupName=group,
                              **enc)
    for ident in clusters:
        wait_until(lambda: cluster(rds, ident)["Status"] == "available", 180, 0.2, f"cluster {ident}")
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-0", DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    for ident in clusters:
        sim.wait_instance(f"{ident}-0", timeout=300, rds=rds)


def xacct_move(stack, sim, world, campaign, ident, crash=None, during=None, after=None, timeout=420):
    """The move of test_xacct_cname_move_with_writers, checked; `during`
    (emulator /config, e.g. AWS faults) applied just before submit and
    `after` once the writes on the target are in (before the checks, whose
    own calls do not retry). Returns (status, the Target)."""
    tgt = xacct_target(sim)
    # the source's security group, mapped by name to the target account's namesake; it admits the
    # target account's subnets, by CIDR
    src_sg, tgt_sg = sg_pair(sim, tgt, "app-sg")
    src, name, zid = cname_instance(sim, ident, sgs=[src_sg])
    rds = sim.client("rds")
    src_addr, app_port = src["Endpoint"]["Address"], src["Endpoint"]["Port"]
    key = tgt.key()
    opts = cname_opts(world, campaign, ident, name)
    fired = None
    if crash:
        from test_pglogical_cutover_resume import crash_env
        fired = crash_env(stack, world, crash)
    stack.start()
    probe = CnameWriter(sim, name, app_port, rate=50, tables=("a",)).start()
    wait_until(lambda: len(probe.numbers()) > 5, 60, 0.1, "the probe writes through the CNAME")
    if during:
        sim.admin("POST", "/config", during)
    submit(stack, campaign, key, [ident], world, "--cutover-method", "cname", "--file", opts, *xacct_args(tgt))
    if crash:
        st = stack.until_terminal(campaign, timeout)[0]
        assert os.path.exists(fired), "the crash point never fired"
    else:
        st = wait_terminal(stack, campaign, timeout=timeout)
    inst = st["instances"][0]
    n_done = len(probe.numbers())
    wait_until(lambda: len(probe.numbers()) > n_done + 20, 60, 0.1, "writes on the target")
    probe.stop()
    if after:
        sim.admin("POST", "/config", after)
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"

    # encrypted in the target account with the target's key; nothing encrypted left in the source account
    enc = [i for i in tgt.instances() if i["StorageEncrypted"] and i["KmsKeyId"] == key]
    assert len(enc) == 1, tgt.instances()
    enc = enc[0]
    assert enc["DBInstanceArn"].split(":")[4] == tgt.account
    assert [g["VpcSecurityGroupId"] for g in enc["VpcSecurityGroups"]] == [tgt_sg], enc["VpcSecurityGroups"]
    assert not [i for i in rds.describe_db_instances()["DBInstances"] if i.get("KmsKeyId") == key]
    # the CNAME on it, old TTL back
    value, ttl = record(sim, zid, name)
    assert value == enc["Endpoint"]["Address"] != src_addr and ttl == 4, (value, ttl, enc["Endpoint"])
    # the source retired, its snapshot unshared and gone; the copy gone in the target account
    retired = retired_of(sim, ident)
    assert [r["DBInstanceIdentifier"] for r in retired] == [ident], retired
    assert [s for s in rds.describe_db_snapshots()["DBSnapshots"] if s["DBSnapshotIdentifier"].startswith("fc-")] == []
    assert tgt.snapshots() == [], tgt.snapshots()
    assert tgt.client("rds").describe_db_snapshots(SnapshotType="shared")["DBSnapshots"] == []
    # rows exactly once on the encrypted instance (reached at its own address and port)
    from fixtures_awssim import psql
    from pglogical_strategy_util import MASTER, PASSWORD
    rows = [int(x) for x in psql(enc["Endpoint"]["Port"], MASTER, PASSWORD, "SELECT seq FROM a", db="app").split()]
    acked = probe.numbers()
    assert len(acked) > 50, len(acked)
    missing = sorted(set(acked) - set(rows))
    assert not missing and len(rows) == len(set(rows)), (missing[:10], len(rows) - len(set(rows)))
    return st, tgt


@pytest.mark.slow
def test_xacct_cname_move_with_writers(stack, awssim, world):
    st, _tgt = xacct_move(stack, awssim, world, "xm", "xa-move")
    tgt_acct = awssim.info["target_account_id"]
    assert tgt_acct in json.dumps(st), "status does not show the target account"


@pytest.mark.slow
def test_xacct_worker_killed_between_share_and_copy(stack, awssim, world):
    xacct_move(stack, awssim, world, "xk", "xa-kill", crash="xacct.shared")


@pytest.mark.slow
def test_xacct_offline(stack, awssim, world):
    """offline across accounts: the copy restored under the source's own
    identifier in the target account with the target's key and the rows;
    the source retired in its account; snapshots unshared and gone in both."""
    from fixtures_awssim import psql
    from pglogical_strategy_util import MASTER, PASSWORD, sql
    sim = awssim
    tgt = xacct_target(sim)
    ident = "xa-off"
    make_instances(sim, [ident])
    sql(sim, ident, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 500)")
    key = tgt.key()
    # the target account's security group, named by the campaign file (ids do not cross accounts)
    sim.admin("POST", f"/accounts/{tgt.account}/security-groups", {"ids": ["sg-0app"]})
    opts = os.path.join(world, "xo.json")
    with open(opts, "w") as f:
        json.dump({"target_security_groups": "sg-0app"}, f)
    stack.start()
    r = stack.cli("submit", "--campaign", "xo", "--kms-key", key, "--strategy", "offline", "--yes",
                  "--file", opts, *xacct_args(tgt), ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, "xo", timeout=420)
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    assert inst.get("target_account") == tgt.account, inst
    moved = tgt.client("rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    assert moved["StorageEncrypted"] and moved["KmsKeyId"] == key, moved
    assert [g["VpcSecurityGroupId"] for g in moved["VpcSecurityGroups"]] == ["sg-0app"], moved["VpcSecurityGroups"]
    out = psql(moved["Endpoint"]["Port"], MASTER, PASSWORD, "SELECT count(*), count(DISTINCT id) FROM t", db="app")
    assert out.strip() == "500|500", out
    retired = retired_of(sim, ident)
    assert len(retired) == 1 and not retired[0]["StorageEncrypted"], retired
    rds = sim.client("rds")
    assert [s for s in rds.describe_db_snapshots()["DBSnapshots"] if s["DBSnapshotIdentifier"].startswith("fc-")] == []
    assert tgt.snapshots() == [] and tgt.client("rds").describe_db_snapshots(SnapshotType="shared")["DBSnapshots"] == []


@pytest.mark.slow
def test_xacct_cluster_cname_move_with_writer(stack, awssim, world):
    xacct_cluster_move(stack, awssim, world, "xc", "xa-clu")


@pytest.mark.slow
def test_xacct_cluster_worker_killed_between_share_and_copy(stack, awssim, world):
    """A worker killed right after the cluster snapshot is shared (crash
    point xacct.shared, in the cluster's copy step): the next holder finds
    it shared, copies once and the move completes with nothing left."""
    from test_pglogical_cutover_resume import crash_env
    fired = crash_env(stack, world, "xacct.shared")
    xacct_cluster_move(stack, awssim, world, "xck", "xa-cluk")
    assert os.path.exists(fired), "the crash point never fired"


def xacct_cluster_move(stack, sim, world, camp="xc", ident="xa-clu", during=None, after=None):
    """The cluster move of test_xacct_cluster_cname_move_with_writer, checked
    (during/after: as xacct_move's). Returns the Target."""
    from test_pglogical_clusters import (CPG, check_cname_switched, check_retired_in_place, cname_cluster_campaign,
                                         cname_source, tags_of)
    sim.admin("POST", "/config", {"time_scale": 0})
    tgt, rds, trds = xacct_cluster_target(sim)
    src_sg, tgt_sg = sg_pair(sim, tgt, "aur-sg")
    name = ident + "." + ZONE
    # named by the campaign file, not a tag
    src, zid, members_before = cname_source(sim, ident, name, 4, sgs=[src_sg], tag=False)
    admit(sim, src_sg, src["Port"], group=tgt_sg, account=tgt.account)   # the target's group, by reference
    key = tgt.key()
    opts = cname_opts(world, camp, ident, name)
    w = cname_cluster_campaign(stack, sim, world, camp, ident, name, src["Port"], key, opts, *xacct_args(tgt),
                               during=during, after=after)

    # encrypted in the target account with the target's key, its groups mapped by name
    enc = [c for c in trds.describe_db_clusters()["DBClusters"] if c["StorageEncrypted"] and c.get("KmsKeyId") == key]
    assert len(enc) == 1, [c["DBClusterIdentifier"] for c in trds.describe_db_clusters()["DBClusters"]]
    enc = enc[0]
    assert enc["DBClusterArn"].split(":")[4] == tgt.account
    assert enc["DBClusterParameterGroup"] == CPG
    assert [g["VpcSecurityGroupId"] for g in enc["VpcSecurityGroups"]] == [tgt_sg], enc["VpcSecurityGroups"]
    assert tags_of(trds, enc["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c.get("KmsKeyId") == key]
    check_cname_switched(sim, zid, name, enc, src["Endpoint"], src["Port"], w, 4, len(members_before))
    check_retired_in_place(rds, ident, members_before)
    # nothing shared or left in either account
    assert [c["DBClusterSnapshotIdentifier"] for c in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
            if c["DBClusterSnapshotIdentifier"].startswith("fc-")] == []
    assert trds.describe_db_cluster_snapshots()["DBClusterSnapshots"] == []
    assert trds.describe_db_cluster_snapshots(SnapshotType="shared")["DBClusterSnapshots"] == []
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
            if c["DBClusterIdentifier"].startswith("fc-")] == []
    assert [c["DBClusterIdentifier"] for c in trds.describe_db_clusters()["DBClusters"]] == [enc["DBClusterIdentifier"]]
    return tgt


@pytest.mark.slow
def test_xacct_abort_keep_snapshots_unshares(stack, awssim, world):
    """--keep-snapshots across accounts, aborted after the copy: the source's
    snapshot is kept (the operator asked for it) but no longer shared with
    the target account (the share was fleetcrypt's and outlives no move)."""
    sim = awssim
    tgt = xacct_target(sim)
    ident = "xa-keep"
    _src, name, _zid = cname_instance(sim, ident)
    opts = cname_opts(world, "xkeep", ident, name)
    stack.start()
    submit(stack, "xkeep", tgt.key(), [ident], world, "--cutover-method", "cname", "--file", opts,
           "--keep-snapshots", *xacct_args(tgt))
    from pglogical_strategy_util import wait_step
    wait_step(stack, "xkeep", ident, ("catch-up", "cutover"), timeout=300)
    r = stack.cli("abort", "xkeep", ident, "--yes")
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, "xkeep", timeout=300)
    assert st["instances"][0]["state"] == "aborted", st["instances"][0]
    rds = sim.client("rds")
    sid = f"fc-xkeep-{ident}-snap"
    assert [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBSnapshotIdentifier=sid)["DBSnapshots"]] \
        == [sid], "the kept snapshot is gone"
    attrs = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=sid)["DBSnapshotAttributesResult"]
    shared = [v for a in attrs["DBSnapshotAttributes"] if a["AttributeName"] == "restore" for v in a["AttributeValues"]]
    assert tgt.account not in shared, f"the kept snapshot is still shared with the target account: {attrs}"
    assert tgt.client("rds").describe_db_snapshots(SnapshotType="shared")["DBSnapshots"] == []


@pytest.mark.slow
def test_xacct_offline_cluster(stack, awssim, world):
    """offline of an Aurora PostgreSQL cluster across accounts: its cluster
    snapshot shared, copied into the target account by ARN, restored there
    under the cluster's own identifier with the target's key, its groups
    mapped by name, the writer and reader re-created under their names; the
    rows there; the source cluster retired in its account; the snapshots
    unshared and gone in both accounts."""
    from test_pglogical_clusters import CPG, cluster, csql, make_cluster, members_view, tags_of
    sim = awssim
    tgt, rds, trds = xacct_cluster_target(sim)
    src_sg, tgt_sg = sg_pair(sim, tgt, "aur-off-sg")
    ident, camp = "xa-oclu", "xoc"
    src = make_cluster(sim, ident, ["db.r6g.large", "db.r6g.large"], sgs=[src_sg])
    members_before = members_view(rds, src)
    csql(src["Port"], "CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 400)",
         host=src["Endpoint"])
    key = tgt.key()
    stack.start()
    r = stack.cli("submit", "--campaign", camp, "--kms-key", key, "--strategy", "offline", "--yes",
                  *xacct_args(tgt), ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, camp, timeout=600)
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    assert inst.get("target_account") == tgt.account, inst

    moved = cluster(trds, ident)
    assert moved["StorageEncrypted"] and moved["KmsKeyId"] == key, moved
    assert moved["DBClusterArn"].split(":")[4] == tgt.account
    assert moved["DBClusterParameterGroup"] == CPG
    assert [g["VpcSecurityGroupId"] for g in moved["VpcSecurityGroups"]] == [tgt_sg], moved["VpcSecurityGroups"]
    assert tags_of(trds, moved["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    assert members_view(trds, moved) == members_before, (members_view(trds, moved), members_before)
    out = csql(moved["Port"], "SELECT count(*), count(DISTINCT id) FROM t", host=moved["Endpoint"])
    assert out.strip() == "400|400", out
    # the source retired in its account (renamed, stopped, tagged), nothing encrypted with the key there
    ret = cluster(rds, f"fc-{camp}-{ident}-retired")
    t = tags_of(rds, ret["DBClusterArn"])
    assert t.get("fleetcrypt:role") == "retired-source" and t.get("fleetcrypt:original-id") == ident, t
    assert ret["Status"] in ("stopped", "stopping") and not ret["StorageEncrypted"], ret["Status"]
    assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c.get("KmsKeyId") == key]
    # nothing shared or left in either account
    assert [c["DBClusterSnapshotIdentifier"] for c in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
            if c["DBClusterSnapshotIdentifier"].startswith("fc-")] == []
    assert trds.describe_db_cluster_snapshots()["DBClusterSnapshots"] == []
    assert trds.describe_db_cluster_snapshots(SnapshotType="shared")["DBClusterSnapshots"] == []
    assert [c["DBClusterIdentifier"] for c in trds.describe_db_clusters()["DBClusters"]] == [ident]


@pytest.mark.slow
def test_xacct_cluster_abort_after_copy(stack, awssim, world):
    """A cross-account cluster move aborted after the copy in the target
    account (parked for approval, its target cluster restored there): the
    target cluster, its members and the copy gone from the target account,
    the source's cluster snapshot unshared and deleted, the CNAME still on
    the source, which keeps its key and takes writes (unblocked), every
    acknowledged row once on it and nothing of fleetcrypt's in it."""
    from cname_util import CnameWriter, record
    from pglogical_strategy_util import FC_OBJECTS, instance_state
    from test_pglogical_clusters import SCALE, cluster, cname_source, csql, seqs
    sim = awssim
    sim.admin("POST", "/config", {"time_scale": 0})
    tgt, rds, trds = xacct_cluster_target(sim)
    ident, camp = "xa-cab", "xcab"
    name = ident + "." + ZONE
    src, zid, _ = cname_source(sim, ident, name, 4, tag=False)
    admit(sim, src["VpcSecurityGroups"][0]["VpcSecurityGroupId"], src["Port"])
    key = tgt.key()
    opts = cname_opts(world, camp, ident, name)
    if SCALE > 0:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    stack.start()
    w = CnameWriter(sim, name, src["Port"], rate=30, tables=("a",)).start()
    wait_until(lambda: len(w.numbers()) >= 20, 60, 0.1, "writes through the CNAME before submit")
    submit(stack, camp, key, [ident], world, "--cutover-method", "cname", "--file", opts, "--cutover", "approve",
           *xacct_args(tgt))
    wait_until(lambda: instance_state(stack, camp, ident)["state"] in ("waiting_approval", "failed", "aborted"),
               900, 0.5, "waiting for approval")
    assert instance_state(stack, camp, ident)["state"] == "waiting_approval", \
        f"{instance_state(stack, camp, ident)}\n{stack.diagnostics()}"
    # the copy made it into the target account and the target cluster is restored there
    assert [c["DBClusterIdentifier"] for c in trds.describe_db_clusters()["DBClusters"]] == [f"fc-{camp}-{ident}-target"]
    r = stack.cli("abort", camp, ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, camp, timeout=600)
    row = st["instances"][0]
    assert row["state"] == "aborted", f"{row}\n{stack.diagnostics()}"
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "writes on the source after the abort")
    w.stop()
    # the source: its identifier, key, endpoint and the CNAME kept, nothing of fleetcrypt's in it
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is False and c["Status"] == "available" and c["Endpoint"] == src["Endpoint"], c
    assert record(sim, zid, name) == (src["Endpoint"], 4), record(sim, zid, name)
    assert [x for x in csql(src["Port"], FC_OBJECTS, host=src["Endpoint"]).split("\n") if x] == []
    have = seqs(src["Port"], host=src["Endpoint"])
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    assert not missing and len(have) == len(set(have)), (missing[:10], len(have) - len(set(have)))
    # nothing shared or left in either account
    pre = f"fc-{camp}-"
    left = [x["DBClusterIdentifier"] for x in rds.describe_db_clusters()["DBClusters"]
            if x["DBClusterIdentifier"].startswith(pre)]
    left += [s["DBClusterSnapshotIdentifier"] for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
             if s["DBClusterSnapshotIdentifier"].startswith(pre)]
    assert left == [], f"left in the source account: {left}"
    assert trds.describe_db_clusters()["DBClusters"] == [] and trds.describe_db_instances()["DBInstances"] == []
    assert trds.describe_db_cluster_snapshots()["DBClusterSnapshots"] == []
    assert trds.describe_db_cluster_snapshots(SnapshotType="shared")["DBClusterSnapshots"] == []
