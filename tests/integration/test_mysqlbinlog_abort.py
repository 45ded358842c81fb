"""mysql-binlog abort and failure undo on the local stack (one `mariadb`
instance each, an application writer):

- abort requested at catch-up (the target replicating from the source):
  the instance ends `aborted`, the source is writable for the application
  account, fleetcrypt's replication user and schema are gone from it, no
  target, seed replica or snapshot is left, the source is unencrypted under
  its identifier;
- a difference found by the comparison inside the cutover (a row written
  straight into the target while the source is blocked; hold point
  mb.cutover.blocked): the instance aborts itself before the switch and the
  application accounts it locked on the source are unlocked again (the
  writer commits on the source afterwards), nothing of fleetcrypt's left."""
import os

from fclib import wait_until
from pglogical_strategy_util import aws_leftovers, wait_terminal
from test_mysqlbinlog import APP, APP_PW, GROUPS, MASTER, PW, Writer, _app_schema, _conn, _group, _make, _q, \
    _secret_file


def _clean_source(sim, campaign, ident, writer):
    i = sim.instance(ident)
    assert not i["StorageEncrypted"], "the source was changed"
    c = _conn(sim, ident, APP, APP_PW, "app")   # the application account logs in again
    _q(c, "INSERT INTO b (seq) VALUES (-5)")
    c.close()
    c = _conn(sim, ident)
    users = [x[0] for x in _q(c, "SELECT User FROM mysql.user")]
    assert not [u for u in users if u.startswith("fc_")], users
    assert _q(c, "SHOW DATABASES LIKE 'fleetcrypt_fc'") == ()
    c.close()
    wait_until(lambda: aws_leftovers(sim, campaign) == [], 90, 0.5, f"no AWS resource of {campaign} left")
    n = len(writer.numbers())
    wait_until(lambda: len(writer.numbers()) > n + 10, 60, 0.1, "the writer commits on the source again")


def _setup(stack, awssim, world, ident, hold_at=None):
    sim = awssim
    _make(sim, ident, "mariadb", _group(sim, *GROUPS["mariadb"]))
    sim.wait_instance(ident, "available", timeout=120)
    _app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    hold = os.path.join(world, "hold")
    os.makedirs(hold, exist_ok=True)
    if hold_at:
        stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": hold, "FLEETCRYPT_TEST_HOLD_AT": hold_at})
    stack.start()
    w = Writer(sim, ident).start()
    wait_until(lambda: len(w.numbers()) > 10, 60, 0.1, "writes before submit")
    return key, hold, w


def _submit(stack, world, campaign, key, ident):
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", ident)
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_abort_at_catch_up_leaves_the_source_as_it_was(stack, awssim, world):
    ident = "maria-ab-1"
    key, hold, w = _setup(stack, awssim, world, ident, hold_at=f"begin.catch-up.{ident}")
    _submit(stack, world, "myab", key, ident)
    held = os.path.join(hold, f"begin.catch-up.{ident}.held")
    wait_until(lambda: os.path.exists(held), 300, 0.2, "catch-up reached")
    # the target replicates from the source at this point
    r = stack.cli("abort", "myab", ident)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(hold, f"begin.catch-up.{ident}.go"), "w"):
        pass
    st = wait_terminal(stack, "myab", timeout=240)
    inst = st["instances"][0]
    assert inst["state"] == "aborted", f"{inst}\n{stack.diagnostics()}"
    _clean_source(awssim, "myab", ident, w)
    w.stop()


def test_mismatch_in_cutover_aborts_and_unlocks_the_source(stack, awssim, world):
    sim = awssim
    ident = "maria-ab-2"
    key, hold, w = _setup(stack, awssim, world, ident, hold_at="mb.cutover.blocked")
    _submit(stack, world, "mymm", key, ident)
    held = os.path.join(hold, "mb.cutover.blocked.held")
    wait_until(lambda: os.path.exists(held), 300, 0.2, "cutover blocked the source")
    # blocked: the application account cannot log in to the source
    try:
        _conn(sim, ident, APP, APP_PW, "app").close()
        logged_in = True
    except Exception:  # noqa: BLE001 - refused: locked
        logged_in = False
    assert not logged_in, "the application account could log in during the cutover's block"
    # a row only the target has: the comparison must catch it
    t = _conn(sim, f"fc-mymm-{ident}-target", MASTER, PW)
    _q(t, "INSERT INTO app.b (seq) VALUES (-99)")
    t.close()
    with open(os.path.join(hold, "mb.cutover.blocked.go"), "w"):
        pass
    st = wait_terminal(stack, "mymm", timeout=240)
    inst = st["instances"][0]
    assert inst["state"] == "aborted" and "mismatch" in inst["error"], f"{inst}\n{stack.diagnostics()}"
    _clean_source(sim, "mymm", ident, w)
    w.stop()
