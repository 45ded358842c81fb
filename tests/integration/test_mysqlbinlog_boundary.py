"""mysql-binlog's negative controls at the binlog boundary: the seed
position (fact seed_pos, read from the stopped read replica) moved by one
application transaction while the instance restores (hold point
begin.restore.<id>), with a writer committing single-row transactions into a
keyed and a keyless table:

- one transaction too late: the target misses that row — the comparison
  inside the cutover finds the difference and the instance aborts itself
  before the switch (the source keeps serving, writers let in again);
- one transaction too early: the target applies that row a second time —
  a duplicate key stops replication (the instance fails, undone) or, for
  the keyless table, the comparison finds the extra row (aborted).

Either way the instance never reaches `done` and the source is left
writable with nothing of fleetcrypt's on it: the boundary is checked, not
assumed. (The exact position passing is test_mysqlbinlog.py.)"""
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import aws_leftovers, wait_terminal
from test_mysqlbinlog import APP, APP_PW, GROUPS, Writer, _app_schema, _conn, _group, _make, _q, _secret_file


def _events(sim, ident, file):
    c = _conn(sim, ident)
    rows = _q(c, "SHOW BINLOG EVENTS IN %s", (file,))
    c.close()
    # (Log_name, Pos, Event_type, Server_id, End_log_pos, Info)
    return [(int(r[1]), r[2], int(r[4]), r[5] or "") for r in rows]


def _transactions(events):
    """[(start, end, touches_app)] of every transaction (Gtid/BEGIN .. Xid/COMMIT)."""
    out, start, app = [], None, False
    for pos, typ, end, info in events:
        if typ in ("Gtid", "Anonymous_Gtid") or (typ == "Query" and info.startswith("BEGIN")):
            if start is None:
                start, app = pos, False
        if typ == "Table_map" and "(app." in info:
            app = True
        if start is not None and (typ == "Xid" or (typ == "Query" and info.startswith("COMMIT"))):
            out.append((start, end, app))
            start = None
    return out


def check_caught(sim, ident, inst, shift, connect=_conn):
    """A position one transaction off never reaches done (no row value in the
    reason); the source serves as before: the application account writes,
    nothing of fleetcrypt's left on it. connect: how to reach the source."""
    assert inst["state"] in ("aborted", "failed"), f"a seed one transaction {shift} was not caught: {inst}"
    assert "verification mismatch" in inst["error"] or "SQL error 1062 on table app.a" in inst["error"], inst
    assert "Duplicate entry" not in inst["error"], f"a row value in the reason: {inst['error']}"
    c = connect(sim, ident, APP, APP_PW, "app")
    _q(c, "INSERT INTO b (seq) VALUES (-7)")
    c.close()
    c = connect(sim, ident)
    assert not [u for (u,) in _q(c, "SELECT User FROM mysql.user") if u.startswith("fc_")]
    c.close()


@pytest.mark.parametrize("shift", ["late", "early"])
def test_seed_one_transaction_off_is_caught(shift, stack, awssim, world):
    sim = awssim
    ident = f"maria-nc-{shift}"
    campaign = f"nc{shift}"
    _make(sim, ident, "mariadb", _group(sim, *GROUPS["mariadb"]))
    sim.wait_instance(ident, "available", timeout=120)
    _app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    hold = os.path.join(world, "hold")
    os.makedirs(hold)
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": hold, "FLEETCRYPT_TEST_HOLD_AT": f"begin.restore.{ident}"})
    stack.start()
    w = Writer(sim, ident).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "writes before submit")
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", ident)
    assert r.returncode == 0, (r.stdout, r.stderr)
    wait_until(lambda: os.path.exists(os.path.join(hold, f"begin.restore.{ident}.held")), 300, 0.2, "restore")
    rkey = f"fc:{{{campaign}}}:i:{ident}"
    file = stack.redis.cli("HGET", rkey, "f.seed_file").strip()
    pos = int(stack.redis.cli("HGET", rkey, "f.seed_pos"))
    # the writer has committed past the seed by now: transactions on both sides of it
    wait_until(lambda: any(s >= pos and app for s, _, app in _transactions(_events(sim, ident, file))), 60, 0.2,
               "an application transaction after the seed")
    txs = _transactions(_events(sim, ident, file))
    assert any(e == pos for _, e, _ in txs), f"the seed {pos} is not a transaction boundary: {txs[-5:]}"
    if shift == "late":
        moved = next(e for s, e, app in txs if s >= pos and app)    # skip the first application transaction
    else:
        moved = [s for s, e, app in txs if e <= pos and app][-1]   # apply the last one again
    assert moved != pos
    stack.redis.cli("HSET", rkey, "f.seed_pos", str(moved))
    with open(os.path.join(hold, f"begin.restore.{ident}.go"), "w"):
        pass
    st = wait_terminal(stack, campaign, timeout=300)
    inst = st["instances"][0]
    print(f"negative control {shift}: {inst['state']}: {inst['error']}")
    check_caught(sim, ident, inst, shift)
    wait_until(lambda: aws_leftovers(sim, campaign) == [], 90, 0.5, "no AWS resource left")
    w.stop()
