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

