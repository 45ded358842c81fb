"""mysql-binlog's cutover gate (issue 14), as pg-logical has it:

- `--cutover approve`: the instance, caught up, waits at the cutover in
  state `waiting_approval` while the application keeps writing to the
  source (nothing blocked, nothing switched) and the target keeps
  replicating; `fleetcrypt approve` lets it cut over: done, every
  acknowledged row exactly once;
- `--window`: a window that opens a little later (RDS's
  'ddd:hh24:mi-ddd:hh24:mi' form, UTC, from the real clock): the instance
  waits at the cutover ("waiting for the cutover window"), the source stays
  writable; the writers are blocked only once the window is open (fact
  cutover_block_ms at or after its opening); done, exactly once.

Time scale: 0 unless FLEETCRYPT_SIM_TIME_SCALE says otherwise (e.g. 0.02)."""
import datetime
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import instance_state, wait_terminal
from test_mysqlbinlog import GROUPS, Writer, _app_schema, _conn, _group, _make, _q, _secret_file

SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE") or 0)


def ready(stack, sim, ident):
    sim.admin("POST", "/config", {"time_scale": 0})
    _make(sim, ident, "mariadb", _group(sim, *GROUPS["mariadb"]))
    sim.wait_instance(ident, "available", timeout=120)
    _app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, ident).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "writes before submit")
    if SCALE:
        sim.admin("POST", "/config", {"time_scale": SCALE})
    return key, w


def submit(stack, world, camp, key, ident, *extra):
    r = stack.cli("submit", "--campaign", camp, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", *extra, ident)
    assert r.returncode == 0, (r.stdout, r.stderr)


def fact(stack, camp, ident, name):
    return stack.redis.cli("HGET", f"fc:{{{camp}}}:i:{ident}", f"f.{name}").strip()


def still_open_for_writes(sim, ident, w):
    """The source takes the application's writes, and is the unencrypted source."""
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "writes on the source while the cutover waits")
    assert not sim.instance(ident)["StorageEncrypted"]


def check_done(stack, sim, camp, ident, key, w, st):
    sim.admin("POST", "/config", {"time_scale": 0})
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    i = sim.instance(ident)
    assert i["StorageEncrypted"] and i["KmsKeyId"] == key, i
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes after the switch")
    w.stop()
    c = _conn(sim, ident)
    have = sorted(x[0] for x in _q(c, "SELECT seq FROM app.a UNION ALL SELECT seq FROM app.b"))
    c.close()
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    assert len(acked) > 100 and not missing and len(have) == len(set(have)), \
        f"acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {len(have) - len(set(have))}"


def test_cutover_approve_waits_caught_up_until_approved(stack, awssim, world):
    sim = awssim
    ident, camp = "maria-gt-a", "mygta"
    key, w = ready(stack, sim, ident)
    submit(stack, world, camp, key, ident, "--cutover", "approve")
    wait_until(lambda: instance_state(stack, camp, ident)["state"] in ("waiting_approval", "done", "failed",
                                                                      "aborted"), 600, 0.5, "waiting for approval")
    i = instance_state(stack, camp, ident)
    assert i["state"] == "waiting_approval" and i["step"] == "cutover", i
    # caught up: measured by the gate while it waits
    assert int(fact(stack, camp, ident, "lag_bytes")) >= 0
    still_open_for_writes(sim, ident, w)
    i = instance_state(stack, camp, ident)
    assert i["state"] == "waiting_approval" and not fact(stack, camp, ident, "cutover_block_ms"), i
    r = stack.cli("approve", camp, ident)
    assert r.returncode == 0, r.stderr
    check_done(stack, sim, camp, ident, key, w, wait_terminal(stack, camp, timeout=600))


def _window_from(start):
    end = start + datetime.timedelta(minutes=60)
    fmt = "%a:%H:%M"
    return f"{start.strftime(fmt).lower()}-{end.strftime(fmt).lower()}"


@pytest.mark.slow
def test_cutover_waits_for_the_window(stack, awssim, world):
    sim = awssim
    ident, camp = "maria-gt-w", "mygtw"
    key, w = ready(stack, sim, ident)
    now = datetime.datetime.now(datetime.timezone.utc)
    # opens at a minute boundary at least 100 s from now (the instance is at its cutover before)
    opens = (now + datetime.timedelta(seconds=160)).replace(second=0, microsecond=0)
    submit(stack, world, camp, key, ident, "--window", _window_from(opens))
    def at_gate():
        i = instance_state(stack, camp, ident)
        return "window" in (i.get("waiting") or "") or i["state"] in ("done", "failed", "aborted")
    wait_until(at_gate, 300, 0.5, "waiting for the window")
    i = instance_state(stack, camp, ident)
    assert i["step"] == "cutover" and "waiting for the cutover window" in (i.get("waiting") or ""), i
    still_open_for_writes(sim, ident, w)
    st = wait_terminal(stack, camp, timeout=900)
    blocked = int(fact(stack, camp, ident, "cutover_block_ms"))
    assert blocked >= opens.timestamp() * 1000, (blocked, opens)
    check_done(stack, sim, camp, ident, key, w, st)
