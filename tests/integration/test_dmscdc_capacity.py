"""dms-cdc when the campaign's replication instance is full (slow).

The emulator holds at most two tasks per replication instance here
(quota DmsTasksPerInstance 2, as DMS's "tasks per replication instance"
quota refuses CreateReplicationTask with ResourceQuotaExceededFault: one
instance's two tasks, for its databases app and postgres); a campaign of
three instances, each with a writer, all admitted at once:
the instance refused on a full replication instance moves to the
campaign's next one (fact dms_ri_index, fc-<campaign>-dms-<n>), every
instance ends done with every acknowledged row once on the serving
instance, and nothing of DMS is left (tasks, endpoints, every replication
instance the campaign made). docs/dms.md "Replication-instance capacity".
"""
import pytest

from fclib import wait_until
from pglogical_strategy_util import Writer, exactly_once, logical_group, make_instances, wait_terminal
from test_dmscdc import dms_available, dms_leftovers, schema, submit_dms
from test_dmscdc_faults import _writes_after

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_dms_cdc_spills_to_a_second_replication_instance(stack, awssim, world):
    sim = awssim
    if not dms_available(sim):
        pytest.fail("the emulator has no DMS: dms-cdc cannot run")
    sim.admin("POST", "/config", {"quotas": {"DmsTasksPerInstance": 2}})
    logical_group(sim)
    ids = ["dms-cap-1", "dms-cap-2", "dms-cap-3"]
    make_instances(sim, ids)
    for i in ids:
        schema(sim, i)
    key = stack.make_key()["Arn"]
    stack.start()
    writers = {i: Writer(sim, i, rate=20, tables=("a",)).start() for i in ids}
    wait_until(lambda: all(len(w.numbers()) >= 10 for w in writers.values()), 60, 0.1, "writes before submit")
    submit_dms(stack, "dmscap", key, ids, world, "--read-only-tables", "public.b")
    try:
        st = wait_terminal(stack, "dmscap", timeout=600)
    except AssertionError as e:
        raise AssertionError(f"{e}\nDMS: {dms_leftovers(sim, 'dmscap')}\n{stack.diagnostics()}") from None
    _writes_after(writers)
    for inst in st["instances"]:
        assert inst["state"] == "done", f"instance ended {inst}:\n{stack.diagnostics()}"
    idx = {}
    for i in ids:
        problems = exactly_once(sim, i, writers[i])
        assert not problems, problems
        idx[i] = int(stack.redis.cli("HGET", f"fc:{{dmscap}}:i:{i}", "f.dms_ri_index").strip() or "1")
    # one instance's tasks per replication instance: at least one instance moved on
    assert max(idx.values()) >= 2, f"no instance moved to a second replication instance: {idx}"
    assert dms_leftovers(sim, "dmscap") == [], f"DMS resources left: {dms_leftovers(sim, 'dmscap')}"
