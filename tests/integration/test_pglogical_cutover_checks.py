"""Checks the cutover makes with writers blocked (issue 11, finding 8): a large
object created on the source after preflight (lo_create fires no event
trigger, logical replication does not carry it) refuses the switch. The
instance ends failed naming the database; the failure's undo leaves the
source writable with nothing of fleetcrypt's on it."""
from pglogical_strategy_util import (Writer, fleetcrypt_leftovers, ready_source, sql, submit, wait_step,
                                     wait_terminal)


def test_large_object_created_after_preflight_refuses_the_switch(stack, awssim, world):
    sim = awssim
    ident = "pgl-lo"
    key = ready_source(stack, sim, ident)
    w = Writer(sim, ident, rate=20, tables=("a",)).start()
    submit(stack, "lo", key, [ident], world, "--cutover", "approve")
    wait_step(stack, "lo", ident, ("cutover",), timeout=300)
    sql(sim, ident, "SELECT lo_create(0)")          # after preflight, before the cutover
    r = stack.cli("approve", "lo", ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, "lo", timeout=300)
    inst = st["instances"][0]
    w.stop()
    assert inst["state"] == "failed", f"the switch went ahead without the large object: {inst}"
    assert "large object" in (inst.get("error") or ""), inst
    # the source is production again: writable, and nothing of fleetcrypt's left on it
    n = len(w.numbers())
    sql(sim, ident, "INSERT INTO a(seq) VALUES (-1)")
    assert n > 0
    assert fleetcrypt_leftovers(sim, ident) == [], "the failure left fleetcrypt's objects on the source"


def test_roles_and_grants_made_after_the_snapshot_reach_the_target(stack, awssim, world):
    """Finding 9 through the whole stack: a role and a grant made on the source
    while the campaign waits at the cutover are on the encrypted instance
    afterwards; the role has no password there (RDS hides hashes) and the
    instance record says so."""
    sim = awssim
    ident = "pgl-privs"
    key = ready_source(stack, sim, ident)
    submit(stack, "privs", key, [ident], world, "--cutover", "approve")
    wait_step(stack, "privs", ident, ("cutover",), timeout=300)
    sql(sim, ident, "CREATE ROLE late_reader LOGIN PASSWORD 'late-pw-1'; GRANT SELECT ON a TO late_reader;"
                    "REVOKE ALL ON b FROM PUBLIC")
    assert stack.cli("approve", "privs", ident).returncode == 0
    st = wait_terminal(stack, "privs", timeout=300)
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    # the identifier now serves the encrypted instance
    assert sql(sim, ident, "SELECT count(*) FROM pg_roles WHERE rolname = 'late_reader'") == "1"
    assert sql(sim, ident, "SELECT has_table_privilege('late_reader', 'a', 'SELECT')") == "t"
    no_pw = stack.redis.cli("HGET", f"fc:{{privs}}:i:{ident}", "f.privs_no_password")
    assert "late_reader" in no_pw, f"the role created without a password was not reported: {no_pw!r}"


def test_comparison_inside_the_block_has_a_time_budget(stack, awssim, world):
    """Finding 1's other half: nothing long inside the write-blocked window.
    A table of the target is locked (a busy database, nothing test-only),
    so the row counts with writers blocked cannot finish: within half the
    step's deadline the cutover gives the writers back and retries, never
    a block that outlives the step. Once the lock is gone the campaign
    finishes with every acknowledged row exactly once."""
    import os
    import subprocess
    import time
    from fclib import PG_BIN, wait_until
    from pglogical_strategy_util import MASTER, PASSWORD, exactly_once, instance_state
    sim = awssim
    ident = "pgl-budget"
    key = ready_source(stack, sim, ident)
    sql(sim, ident, "CREATE TABLE idle(id int PRIMARY KEY); INSERT INTO idle SELECT generate_series(1, 10)")
    w = Writer(sim, ident, rate=20).start()
    submit(stack, "bud", key, [ident], world, "--cutover", "approve")
    wait_step(stack, "bud", ident, ("cutover",), timeout=300)
    tgt = sim.instance(f"fc-bud-{ident}-target")
    locker = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p",
                               str(tgt["Endpoint"]["Port"]), "-U", MASTER, "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              text=True, env=dict(os.environ, PGPASSWORD=PASSWORD, PGSSLMODE="require"))
    try:
        locker.stdin.write("BEGIN; LOCK TABLE idle IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);\n")
        locker.stdin.flush()
        time.sleep(1.0)
        assert stack.cli("approve", "bud", ident).returncode == 0
        i = wait_until(lambda: (lambda x: x if "time budget" in (x.get("error") or "") else None)(
            instance_state(stack, "bud", ident)), 240, 0.3, "the cutover gave up the blocked window in time")
        assert i["state"] == "running" and i["step"] == "cutover", i
        # the writers are back on the source while the cutover waits to retry
        n0 = len(w.numbers())
        wait_until(lambda: len(w.numbers()) > n0 + 5, 30, 0.3, "writes on the source after the block was given up")
    finally:
        locker.kill()
        locker.wait(timeout=10)
    st = wait_terminal(stack, "bud", timeout=420)
    w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    problems = exactly_once(sim, ident, w)
    assert not problems, problems
