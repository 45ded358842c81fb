"""Finding 7, end to end: prepared transactions on a pg-logical source.

A transaction prepared on the source after the slot is made would come back
to life on the restored target holding its locks while the source's COMMIT
PREPARED is replicated too. So:
- one prepared when the campaign starts: prepare-source waits (saying so in
  the instance's reason) until it ends, then the campaign finishes with its
  row and every acknowledged row exactly once on the target;
- one prepared just before the snapshot (the worker held there by the hold
  point snapshot.begin): the target refuses it at prepare-target, the undo
  runs, and the source is left writable with nothing of fleetcrypt's.
RDS's default max_prepared_transactions is 0: the sources here use a
parameter group that allows them."""
import os

from fclib import wait_until
from pglogical_strategy_util import (Writer, app_schema, aws_leftovers, exactly_once, fleetcrypt_leftovers,
                                     instance_state, make_instances, serving_instance_is, sql, submit,
                                     wait_terminal)

GROUP = "pgl-prepared"


def prepared_group(sim):
    rds = sim.client("rds")
    try:
        rds.create_db_parameter_group(DBParameterGroupName=GROUP, DBParameterGroupFamily="postgres15",
                                      Description="logical replication and prepared transactions")
    except rds.exceptions.DBParameterGroupAlreadyExistsFault:
        return
    rds.modify_db_parameter_group(DBParameterGroupName=GROUP, Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
        {"ParameterName": "max_prepared_transactions", "ParameterValue": "5", "ApplyMethod": "pending-reboot"}])


def source(stack, sim, ident):
    prepared_group(sim)
    make_instances(sim, [ident], group=GROUP)
    app_schema(sim, ident)
    return stack.make_key()["Arn"]


def test_prepared_transaction_at_start_is_waited_for(stack, awssim, world):
    sim = awssim
    ident = "pgl-px-wait"
    key = source(stack, sim, ident)
    stack.start()
    sql(sim, ident, "BEGIN; INSERT INTO a(seq) VALUES (-7); PREPARE TRANSACTION 'fc-px-wait'")
    w = Writer(sim, ident, rate=20).start()
    submit(stack, "pxw", key, [ident], world)
    waiting = wait_until(lambda: (lambda i: i if "prepared transaction" in (i.get("waiting") or "") else None)(
        instance_state(stack, "pxw", ident)), 240, 0.3, "status says it waits for the prepared transaction")
    assert waiting["step"] == "prepare-source" and waiting["state"] == "running", waiting
    assert "fc-px-wait" in waiting["waiting"], waiting
    human = stack.cli("status", "pxw", check=True).stdout
    assert "waiting: " in human and "fc-px-wait" in human, human
    sql(sim, ident, "COMMIT PREPARED 'fc-px-wait'")
    st = wait_terminal(stack, "pxw", timeout=420)
    w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    ok, detail = serving_instance_is(sim, ident)
    assert ok, detail
    assert sql(sim, ident, "SELECT count(*) FROM a WHERE seq = -7") == "1", "the prepared row, once"
    problems = exactly_once(sim, ident, w)
    assert not problems, problems


def test_transaction_prepared_just_before_the_snapshot_is_refused(stack, awssim, world):
    sim = awssim
    ident = "pgl-px-snap"
    hold = os.path.join(world, "hold")
    os.makedirs(hold)
    stack.env.update({"FLEETCRYPT_TEST_HOLD_AT": "snapshot.begin", "FLEETCRYPT_TEST_CRASH_DIR": hold})
    key = source(stack, sim, ident)
    stack.start()
    submit(stack, "pxs", key, [ident], world)
    wait_until(lambda: os.path.exists(os.path.join(hold, "snapshot.begin.held")), 240, 0.2,
               "the worker at the start of the snapshot")
    sql(sim, ident, "BEGIN; INSERT INTO a(seq) VALUES (-9); PREPARE TRANSACTION 'fc-px-snap'")
    try:
        with open(os.path.join(hold, "snapshot.begin.go"), "w"):
            pass
        st = wait_terminal(stack, "pxs", timeout=420)
        inst = st["instances"][0]
        assert inst["state"] == "failed" and inst["step"] in ("prepare-target", "abort"), \
            f"{inst}\n{stack.diagnostics()}"
        assert "prepared transaction" in (inst["error"] or "") and "fc-px-snap" in inst["error"], inst
        wait_until(lambda: aws_leftovers(sim, "pxs") == [], 120, 0.5, "target and snapshots removed")
        assert fleetcrypt_leftovers(sim, ident) == [], "fleetcrypt objects left on the source"
    finally:
        sql(sim, ident, "ROLLBACK PREPARED 'fc-px-snap'", check=False)
    sql(sim, ident, "INSERT INTO a(seq) VALUES (1)")  # writable again
