"""dms-cdc with DMS's own validation as evidence (--dms-validation both):
per database a validation-only task at the cutover (writers blocked, the
CDC task stopped, both sides still), its result recorded as facts (tables,
validated, failures, the mismatched tables; never row values) next to the
apply exceptions, and shown by `fleetcrypt report` for each instance.

Two instances under live writers, parked at the cutover (--cutover
approve); on one, a row of the keyed table is changed on the restored
target behind DMS's back (a planted difference; the row count unchanged,
so the drain's count check passes). After approval:
- the clean instance is done; DMS validated its keyed table, reported its
  keyless one as "No primary key", no failure, no apply exception;
- the planted instance does not pass silently: its verify step fails,
  naming DMS's validation and the table; the report shows the failure.
"""
import json

import pytest

from fclib import wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (MASTER, PASSWORD, Writer, instance_state, logical_group, make_instances,
                                     sql, wait_step, wait_terminal)
from test_dmscdc import schema, submit_dms

CAMPAIGN = "dmsval"


@pytest.mark.slow
def test_dms_validation_in_facts_and_report_planted_difference_fails(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ids = ["dmsv-clean", "dmsv-plant"]
    make_instances(sim, ids)
    for i in ids:
        schema(sim, i)
    key = stack.make_key()["Arn"]
    stack.start()
    writers = {i: Writer(sim, i, rate=20).start() for i in ids}
    wait_until(lambda: all(len(w.numbers()) >= 10 for w in writers.values()), 60, 0.1, "writes before submit")
    submit_dms(stack, CAMPAIGN, key, ids, world, "--read-only-tables", "public.b", "--dms-validation", "both",
               "--cutover", "approve")
    for i in ids:
        wait_step(stack, CAMPAIGN, i, ("cutover",), timeout=300)
        wait_until(lambda i=i: instance_state(stack, CAMPAIGN, i)["state"] == "waiting_approval", 120, 0.3,
                   f"{i} parked at the cutover")
    # the planted difference: one row of a changed on the target only
    rec = f"fc:{{{CAMPAIGN}}}:i:dmsv-plant"
    tid = stack.redis.cli("HGET", rec, "f.target_id").strip()
    tport = sim.instance(tid)["Endpoint"]["Port"]
    psql(tport, MASTER, PASSWORD, "UPDATE a SET seq = seq + 1000000000 WHERE id = (SELECT min(id) FROM a)", db="app")
    for i in ids:
        stack.cli("approve", CAMPAIGN, i, check=True)
    st = wait_terminal(stack, CAMPAIGN, timeout=420)
    for w in writers.values():
        w.stop()
    by = {x["id"]: x for x in st["instances"]}
    assert by["dmsv-clean"]["state"] == "done", f"{by['dmsv-clean']}\n{stack.diagnostics()}"
    plant = by["dmsv-plant"]
    assert plant["state"] == "failed" and plant["step"] == "verify", plant
    assert "DMS validation" in plant.get("error", "") and "app/public.a" in plant["error"], plant

    def facts(i):
        r = f"fc:{{{CAMPAIGN}}}:i:{i}"
        return {k: stack.redis.cli("HGET", r, "f." + k).strip() for k in (
            "dms_validation_done", "dms_validation_tables", "dms_validation_validated", "dms_validation_failures",
            "dms_validation_mismatched", "dms_validation_state", "apply_exceptions")}
    clean, planted = facts("dmsv-clean"), facts("dmsv-plant")
    assert clean["dms_validation_done"] == "1" and clean["dms_validation_tables"] == "2", clean
    assert clean["dms_validation_validated"] == "1" and clean["dms_validation_failures"] == "0", clean
    assert clean["dms_validation_mismatched"] == "" and clean["apply_exceptions"] == "0", clean
    states = dict(ln.split("\t")[:2] for ln in clean["dms_validation_state"].splitlines())
    assert states == {"app/public.a": "Validated", "app/public.b": "No primary key"}, states
    assert planted["dms_validation_failures"] == "1" and planted["dms_validation_mismatched"] == "app/public.a", planted
    # no row value in the facts: the planted value appears nowhere
    assert "1000000" not in json.dumps(planted)

    # the report carries it for each instance
    doc = json.loads(stack.cli("report", CAMPAIGN, "--format", "json", check=True).stdout)
    rows = {r["instance"]: r for r in doc["instances"]}
    dc, dp = rows["dmsv-clean"]["dms"], rows["dmsv-plant"]["dms"]
    assert dc["apply_exceptions"] == 0 and dc["validation"]["tables"] == 2 and dc["validation"]["failures"] == 0, dc
    assert dp["validation"]["failures"] == 1 and dp["validation"]["mismatched"] == ["app/public.a"], dp
    csv = stack.cli("report", CAMPAIGN, "--format", "csv", check=True).stdout
    assert "DMS validation 0/2 tables validated, 1 failures in app/public.a" in csv, csv


@pytest.mark.slow
def test_dms_validation_only_evidence(stack, awssim, world):
    """--dms-validation dms: DMS's validation is the evidence, fleetcrypt's
    full comparison is not run (no checksums, rows_verified null), the
    instance done and every acknowledged row once; the CDC task's per-table
    statistics are in the facts and the report."""
    sim = awssim
    logical_group(sim)
    ident = "dmsv-only"
    make_instances(sim, [ident])
    schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, ident, rate=20).start()
    wait_until(lambda: len(w.numbers()) >= 10, 60, 0.1, "writes before submit")
    submit_dms(stack, "dmsvo", key, [ident], world, "--read-only-tables", "public.b", "--dms-validation", "dms")
    st = wait_terminal(stack, "dmsvo", timeout=420)
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 10, 60, 0.1, "writes after the switch")
    w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    rec = f"fc:{{dmsvo}}:i:{ident}"
    fact = lambda k: stack.redis.cli("HGET", rec, "f." + k).strip()  # noqa: E731
    assert fact("dms_validation_done") == "1" and fact("dms_validation_failures") == "0"
    assert "DMS validation" in fact("verify_how") and fact("verify_sums") == "", fact("verify_how")
    target = [int(x) for x in sql(sim, ident, "SELECT seq FROM a UNION ALL SELECT seq FROM b").split()]
    assert not set(w.numbers()) - set(target) and len(target) == len(set(target))
    row = json.loads(stack.cli("report", "dmsvo", "--format", "json", check=True).stdout)["instances"][0]
    assert row["rows_verified"] is None and row["dms"]["validation"]["validated"] == 1, row
    # the CDC task's per-table statistics (fact dms_table_stats: names and
    # counts), in the report
    stats = {t["table"]: t for t in row["dms"]["tables"]}
    assert set(stats) == {"app/public.a", "app/public.b"}, row["dms"]
    a, b = stats["app/public.a"], stats["app/public.b"]
    assert a["inserts"] > 0 and b["inserts"] > 0 and a["ddls"] == 0 and a["full_load_rows"] == 0, stats
    assert a["inserts"] + b["inserts"] <= len(target), stats
    assert row["dms"]["tables_omitted"] == 0
    for ln in fact("dms_table_stats").splitlines():
        assert len(ln.split("\t")) == 7 and ln.split("\t")[0].startswith("app/public."), ln
    csv = stack.cli("report", "dmsvo", "--format", "csv", check=True).stdout
    assert f"app/public.a ins={a['inserts']} upd=0 del=0 ddl=0 load=0" in csv, csv
