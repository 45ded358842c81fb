"""dms-cdc's cutover by RDS Proxy and by CNAME (`--cutover-method proxy` and
`cname`) on real servers (Redis, Kafka, the AWS emulator with a real
PostgreSQL behind every instance, its DMS, its RDS Proxy and its Route 53
with a DNS server, the real fleetcrypt binaries).

DMS reads the source directly (the DMS source endpoint is the source's own
address); the proxy or the CNAME is the application's path and is moved to
the encrypted instance at the cutover. No rename: the source keeps its
identifier and is retired (tagged, stopped) by cleanup.

- proxy: a writer through an RDS Proxy whose target is the source, from
  before submit to after the cutover: every acknowledged row exactly once on
  the encrypted instance, the proxy's only target the encrypted instance,
  the source retired under its own name, nothing of DMS left;
- cname: a writer resolving the application's CNAME through the emulator's
  DNS server for every connection: every acknowledged row exactly once, the
  record on the encrypted instance's address with its old TTL back, the
  source retired under its own name, nothing of DMS left.
- proxy with no RDS Proxy in front of the source: refused at preflight
  (before any slot or DMS resource), not at the cutover;
- slow: cname, the worker killed right after the switch's UPSERT: the next
  holder learns the switch from Route 53 and goes forward.
"""
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import exactly_once, logical_group, make_instances, retired_of, sql, wait_terminal
from test_dmscdc import dms_available, dms_leftovers, submit_dms
from cname_util import OLD_TTL, ZONE, CnameWriter, app_cname, record, resolve
from test_pglogical_strategy_flow import ProxyWriter



def schema(sim, ident):
    # b: the keyless table exactly_once reads, declared read-only (no writer touches it)
    sql(sim, ident, "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                    "CREATE TABLE b(seq bigint NOT NULL);"
                    "ALTER TABLE b REPLICA IDENTITY FULL;"
                    "CREATE SEQUENCE wseq;")


def make_proxy(sim, ident):
    rds = sim.client("rds")
    name = f"px-{ident}"
    rds.create_db_proxy(DBProxyName=name, EngineFamily="POSTGRESQL",
                        Auth=[{"AuthScheme": "SECRETS", "SecretArn":
                               "arn:aws:secretsmanager:us-east-1:000000000000:secret:x"}],
                        RoleArn="arn:aws:iam::000000000000:role/proxy", VpcSubnetIds=["subnet-1", "subnet-2"])
    wait_until(lambda: rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]["Status"] == "available", 60)
    rds.register_db_proxy_targets(DBProxyName=name, DBInstanceIdentifiers=[ident])
    wait_until(lambda: rds.describe_db_proxy_targets(DBProxyName=name)["Targets"][0]["TargetHealth"]["State"]
               == "AVAILABLE", 60)
    return name


def source_retired_under_its_name(sim, ident):
    retired = retired_of(sim, ident)
    assert [r["DBInstanceIdentifier"] for r in retired] == [ident], retired
    assert retired[0]["DBInstanceStatus"] in ("stopped", "stopping"), retired[0]["DBInstanceStatus"]


@pytest.mark.slow
def test_dmscdc_proxy_switch(stack, awssim, world):
    sim = awssim
    if not dms_available(sim):
        pytest.fail("the emulator has no DMS: dms-cdc cannot run")
    logical_group(sim)
    ident = "dms-px"
    camp = "dmspx"
    make_instances(sim, [ident])
    schema(sim, ident)
    proxy = make_proxy(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    probe = ProxyWriter(sim, proxy).start()
    try:
        probe.wait_more(6, "the probe writes through the proxy")
        submit_dms(stack, camp, key, [ident], world, "--cutover-method", "proxy", "--read-only-tables", "public.b")
        st = wait_terminal(stack, camp, timeout=420)
        probe.wait_more(20, "writes through the proxy after the switch")
    finally:
        probe.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    rds = sim.client("rds")
    tid = f"fc-{camp}-{ident}-target"
    enc = sim.instance(tid, rds)
    assert enc["StorageEncrypted"] and enc["KmsKeyId"] == key, enc
    targets = [t.get("RdsResourceId") for t in rds.describe_db_proxy_targets(DBProxyName=proxy)["Targets"]
               if t.get("Type") == "RDS_INSTANCE"]
    assert targets == [tid], f"the proxy's targets: {targets}"
    source_retired_under_its_name(sim, ident)
    problems = exactly_once(sim, tid, probe, min_acked=50)
    assert not problems, problems
    assert dms_leftovers(sim, camp) == [], f"DMS resources left: {dms_leftovers(sim, camp)}"


@pytest.mark.slow
def test_dmscdc_cname_switch(stack, awssim, world):
    sim = awssim
    if not dms_available(sim):
        pytest.fail("the emulator has no DMS: dms-cdc cannot run")
    logical_group(sim)
    ident = "dms-cn"
    camp = "dmscn"
    name = "dms1." + ZONE
    make_instances(sim, [ident])
    schema(sim, ident)
    rds = sim.client("rds")
    src, zid, opts = app_cname(sim, world, ident, name, "dms-cname.json")
    src_addr, app_port = src["Endpoint"]["Address"], src["Endpoint"]["Port"]
    key = stack.make_key()["Arn"]
    stack.start()
    probe = CnameWriter(sim, name, app_port, rate=50, tables=("a",)).start()
    try:
        probe.wait_more(6, "the probe writes through the CNAME")
        submit_dms(stack, camp, key, [ident], world, "--cutover-method", "cname", "--read-only-tables", "public.b",
                   "--file", opts)
        st = wait_terminal(stack, camp, timeout=420)
        probe.wait_more(20, "writes through the CNAME after the switch")
    finally:
        probe.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    tid = f"fc-{camp}-{ident}-target"
    enc = sim.instance(tid, rds)
    assert enc["StorageEncrypted"] and enc["KmsKeyId"] == key, enc
    value, ttl = record(sim, zid, name)
    assert value == enc["Endpoint"]["Address"] != src_addr, (value, enc["Endpoint"], src_addr)
    assert ttl == OLD_TTL, f"the old TTL is not back: {ttl}"
    assert resolve(sim, name) == enc["Endpoint"]["Address"]
    source_retired_under_its_name(sim, ident)
    problems = exactly_once(sim, tid, probe, min_acked=50)
    assert not problems, problems
    assert dms_leftovers(sim, camp) == [], f"DMS resources left: {dms_leftovers(sim, camp)}"


def test_dmscdc_proxy_none_refused_at_preflight(stack, awssim, world):
    """--cutover-method proxy with no RDS Proxy in front of the source fails at
    preflight, naming the source, before anything is made (no slot, nothing in
    DMS): not at the cutover, after the writers were blocked and the slot went."""
    sim = awssim
    logical_group(sim)
    ident = "dms-nopx"
    camp = "dmsnopx"
    make_instances(sim, [ident])
    schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    submit_dms(stack, camp, key, [ident], world, "--cutover-method", "proxy", "--read-only-tables", "public.b")
    st = wait_terminal(stack, camp, timeout=300)
    inst = st["instances"][0]
    assert inst["state"] == "failed" and inst["step"] == "preflight", f"{inst}\n{stack.diagnostics()}"
    assert "RDS Proxy" in (inst.get("error") or "") and ident in inst["error"], inst
    assert sql(sim, ident, "SELECT count(*) FROM pg_replication_slots").strip() == "0"
    if dms_available(sim):
        assert dms_leftovers(sim, camp) == []


@pytest.mark.slow
def test_dmscdc_cname_crash_after_upsert_resumes_forward(stack, awssim, world):
    """The worker killed right after the switch's UPSERT (crash point
    cutover.cname_upserted, shared/awscname.c): the next holder learns the
    switch from Route 53 and goes forward, never blocks writers again; rows
    exactly once, the record on the encrypted instance with its old TTL."""
    from test_pglogical_cutover_resume import crash_env, run_until_terminal, worker_lines
    sim = awssim
    if not dms_available(sim):
        pytest.fail("the emulator has no DMS: dms-cdc cannot run")
    logical_group(sim)
    ident = "dms-cncr"
    camp = "dmscncr"
    name = "dmscr." + ZONE
    make_instances(sim, [ident])
    schema(sim, ident)
    rds = sim.client("rds")
    src, zid, opts = app_cname(sim, world, ident, name, "dms-cname-crash.json")
    key = stack.make_key()["Arn"]
    fired = crash_env(stack, world, "cutover.cname_upserted")
    stack.start()
    probe = CnameWriter(sim, name, src["Endpoint"]["Port"], rate=50, tables=("a",)).start()
    try:
        probe.wait_more(6, "the probe writes through the CNAME")
        submit_dms(stack, camp, key, [ident], world, "--cutover-method", "cname", "--read-only-tables", "public.b",
                   "--file", opts)
        st = run_until_terminal(stack, camp, fired, timeout=480)
        probe.wait_more(20, "writes on the target")
    finally:
        probe.stop()
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    tid = f"fc-{camp}-{ident}-target"
    enc = sim.instance(tid, rds)
    assert record(sim, zid, name) == (enc["Endpoint"]["Address"], OLD_TTL)
    assert worker_lines(stack, "the switch had happened"), "the re-run did not learn the switch from Route 53"
    again = worker_lines(stack, "cutover: blocking writers", after=os.path.getmtime(fired))
    assert not again, f"writers were blocked again after the switch: {again}"
    source_retired_under_its_name(sim, ident)
    problems = exactly_once(sim, tid, probe, min_acked=50)
    assert not problems, problems
    assert dms_leftovers(sim, camp) == [], f"DMS resources left: {dms_leftovers(sim, camp)}"
