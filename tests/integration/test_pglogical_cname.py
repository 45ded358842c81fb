"""pg-logical with --cutover-method cname (issue 16, part 2) on real servers
(Redis, Kafka, the AWS emulator with real PostgreSQL behind every instance,
its Route 53 and DNS server, the real fleetcrypt binaries).

The application reaches its database through a CNAME of its own
(db1.corp.example. -> the source's Endpoint.Address, each instance its own
address in the emulator): the probe resolves the name through the
emulator's DNS server (FLEETCRYPT_DNS_ADDR's server, the ready file's `dns`)
for every connection and connects to the address it gets on the port the
application was given (the source's Endpoint.Port; a restored instance
keeps its snapshot's Port, as on RDS).

- CI: the record named by the instance tag fleetcrypt:cname: every
  acknowledged row exactly once on the encrypted instance, the CNAME on the
  encrypted instance's Endpoint.Address afterwards with its old TTL back,
  the source keeps its identifier (retired: tagged, stopped), and the
  downtime the resolving probe saw agrees with fleetcrypt's downtime_s
  within a tolerance derived from the probe's own reconnect cadence;
- slow: the record named by the campaign file field `cname`, aborted after
  the TTL was lowered: record value and TTL restored;
- slow: the worker killed right after the switch's UPSERT (crash point
  cutover.cname_upserted): the next holder learns the switch from Route 53,
  waits for INSYNC, never blocks the target again, rows exactly once.
"""
import os

import pytest

from cname_util import OLD_TTL, ZONE, CnameWriter, abort_after_ttl_lowered, app_cname, record, resolve
from pglogical_strategy_util import (Writer, app_schema, exactly_once, logical_group, make_instances,
                                     retired_of, submit, wait_terminal)


def test_cname_cutover_downtime_and_record(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ident = "pgl-cname"
    name = "db1." + ZONE
    make_instances(sim, [ident])
    app_schema(sim, ident)
    rds = sim.client("rds")
    src, zid, opts = app_cname(sim, world, ident, name, "cname-campaign.json")
    src_addr, app_port = src["Endpoint"]["Address"], src["Endpoint"]["Port"]
    key = stack.make_key()["Arn"]
    stack.start()
    probe = CnameWriter(sim, name, app_port, rate=100, tables=("a",)).start()
    probe.wait_more(6, "the probe writes through the CNAME")
    submit(stack, "cn1", key, [ident], world, "--cutover-method", "cname", "--file", opts)
    st = wait_terminal(stack, "cn1", timeout=300)
    inst = st["instances"][0]
    probe.wait_more(20, "writes on the target")
    probe.stop()
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"

    # the identifier was not swapped: the encrypted instance serves under its own name
    enc = [i for i in rds.describe_db_instances()["DBInstances"]
           if i["StorageEncrypted"] and i["KmsKeyId"] == key]
    assert len(enc) == 1, [i["DBInstanceIdentifier"] for i in enc]
    enc = enc[0]
    assert enc["DBInstanceIdentifier"] != ident
    value, ttl = record(sim, zid, name)
    assert value == enc["Endpoint"]["Address"] != src_addr, (value, enc["Endpoint"], src_addr)
    assert ttl == OLD_TTL, f"the old TTL is not back: {ttl}"
    assert resolve(sim, name) == enc["Endpoint"]["Address"]   # fleetcrypt waited for INSYNC
    retired = retired_of(sim, ident)
    assert [r["DBInstanceIdentifier"] for r in retired] == [ident], retired
    assert retired[0]["DBInstanceStatus"] in ("stopped", "stopping")

    # rows exactly once on the instance the name reaches now
    problems = exactly_once(sim, enc["DBInstanceIdentifier"], probe, min_acked=50)
    assert not problems, problems
    # downtime: fleetcrypt's record vs the resolving probe's longest gap; the
    # probe sees the end of the outage only at its next connection attempt
    # after it, so the tolerance is its own attempt spacing during the gap
    recorded = float(inst["downtime_s"])
    g0, g1, measured = probe.gap()
    tol = 2 * probe.attempt_spacing(g0, g1) + 2.0 / probe.rate
    assert abs(recorded - measured) <= tol, \
        f"fleetcrypt recorded {recorded:.3f}s, the probe saw {measured:.3f}s (tolerance {tol:.3f}s)"


@pytest.mark.slow
def test_cname_abort_after_ttl_lowered_restores_record(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ident = "pgl-cname-ab"
    name = "app." + ZONE
    make_instances(sim, [ident])
    app_schema(sim, ident)
    # named by the campaign file's field cname, not by a tag
    src, zid, opts = app_cname(sim, world, ident, name, "cname-abort.json", tag=False,
                               fields={"cname": f"{ident}={name}"})
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, ident, rate=20, tables=("a",)).start()
    try:
        submit(stack, "cnab", key, [ident], world, "--cutover-method", "cname", "--cutover", "approve",
               "--file", opts)
        abort_after_ttl_lowered(stack, sim, "cnab", ident, zid, name, src["Endpoint"]["Address"], w, 240)
    finally:
        w.stop()


@pytest.mark.slow
def test_cname_crash_after_upsert_resumes_forward(stack, awssim, world):
    from test_pglogical_cutover_resume import crash_env, run_until_terminal, worker_lines
    sim = awssim
    logical_group(sim)
    ident = "pgl-cname-cr"
    name = "cr." + ZONE
    make_instances(sim, [ident])
    app_schema(sim, ident)
    rds = sim.client("rds")
    src, zid, opts = app_cname(sim, world, ident, name, "cname-crash.json")
    key = stack.make_key()["Arn"]
    fired = crash_env(stack, world, "cutover.cname_upserted")
    stack.start()
    probe = CnameWriter(sim, name, src["Endpoint"]["Port"], rate=50, tables=("a",)).start()
    probe.wait_more(6, "the probe writes through the CNAME")
    submit(stack, "cncr", key, [ident], world, "--cutover-method", "cname", "--file", opts)
    st = run_until_terminal(stack, "cncr", fired)
    probe.wait_more(20, "writes on the target")
    probe.stop()
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    tid = f"fc-cncr-{ident}-target"
    enc = sim.instance(tid, rds)
    assert record(sim, zid, name) == (enc["Endpoint"]["Address"], OLD_TTL)
    assert worker_lines(stack, "the switch had happened"), "the re-run did not learn the switch from Route 53"
    again = worker_lines(stack, 'msg="writers blocked"', after=os.path.getmtime(fired))
    assert not again, f"writers were blocked again after the switch: {again}"
    problems = exactly_once(sim, tid, probe, min_acked=50)
    assert not problems, problems
