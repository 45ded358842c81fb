"""mysql-binlog on an Aurora MySQL cluster (issue 14): abort and a worker
SIGKILLed (crash points, lib/base/crashpoint.c), as
test_mysqlbinlog_abort.py and test_mysqlbinlog_crash.py do for instances.
A live writer through the cluster endpoint the whole time.

- a worker killed during catch-up (crash point mb.catch-up) and inside the
  cutover (mb.cutover.stopped: writers blocked on the source cluster's
  writer, replication on the target cluster stopped and reset, before the
  comparison and the cluster renames): the replacement worker finishes,
  `done`, every acknowledged row exactly once, the encrypted cluster under
  the identifier, nothing of fleetcrypt's left;
- abort at catch-up (the target cluster replicating from the source): the
  instance ends `aborted`, the source cluster is writable for the
  application account, fleetcrypt's replication user and schema are gone
  from it, no target cluster, member or cluster snapshot left.

Time scale FLEETCRYPT_SIM_TIME_SCALE (default 0.02, as
test_mysqlbinlog_aurora.py). The catch-up kill and the abort are slow
(tests/run --all)."""
import os

import pytest

from fclib import wait_until
from pglogical_strategy_util import wait_terminal
from test_mysqlbinlog import APP, APP_PW, _q, _until_terminal
from test_mysqlbinlog_aurora import (SCALE, ClusterWriter, cconn, cluster, leftovers, prepare, seqs, submit,
                                     tags_of)


def start(stack, sim, world, ident, env):
    srcs, key = prepare(stack, sim, [ident])
    d = os.path.join(world, "crash")
    os.makedirs(d, exist_ok=True)
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": d, **env})
    stack.start()
    w = ClusterWriter(sim, ident).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "writes before submit")
    sim.admin("POST", "/config", {"time_scale": SCALE})
    return srcs[ident], key, w, d


@pytest.mark.parametrize("point", [pytest.param("mb.catch-up", marks=pytest.mark.slow),
                                   pytest.param("mb.cutover.stopped", marks=pytest.mark.slow)])
def test_aurora_mysql_worker_killed_loses_nothing(point, stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    tag = point.split(".")[-1].replace("-", "")
    ident, camp = f"aurmy-k{tag}", f"aurk{tag}"
    src, key, w, d = start(stack, sim, world, ident, {"FLEETCRYPT_TEST_CRASH_AT": point})
    submit(stack, camp, key, [ident], world)
    st = _until_terminal(stack, camp, 900)
    assert os.path.exists(os.path.join(d, point)), f"crash point {point} never fired: the test proved nothing"
    sim.admin("POST", "/config", {"time_scale": 0})
    row = st["instances"][0]
    assert row["state"] == "done", f"{row}\n{stack.diagnostics()}"
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 120, 0.1, "writes after the switch")
    w.stop()
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is True and c["KmsKeyId"] == key and c["Port"] == src["Port"], c
    assert tags_of(rds, c["DBClusterArn"]).get("fleetcrypt:role") == "encrypted"
    have = seqs(sim, ident)
    acked = w.numbers()
    missing = sorted(set(acked) - set(have))
    doubled = len(have) - len(set(have))
    assert len(acked) >= 60, f"the writer acknowledged only {len(acked)} rows"
    assert not missing and doubled == 0, f"acked {len(acked)} have {len(have)} missing {missing[:10]} doubled {doubled}"
    m = cconn(sim, ident)
    assert _q(m, "SHOW REPLICA STATUS") == ()
    assert not [u for (u,) in _q(m, "SELECT User FROM mysql.user") if u.startswith("fc_")]
    m.close()
    retired = f"fc-{camp}-{ident}-retired"
    assert cluster(rds, retired)["Status"] in ("stopped", "stopping")
    wait_until(lambda: leftovers(rds, camp, retired) == [], 120, 0.5, "no AWS resource left")


@pytest.mark.slow
def test_aurora_mysql_abort_at_catch_up_leaves_the_source(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    ident, camp = "aurmy-ab", "aurab"
    src, key, w, d = start(stack, sim, world, ident, {"FLEETCRYPT_TEST_HOLD_AT": f"begin.catch-up.{ident}"})
    submit(stack, camp, key, [ident], world)
    wait_until(lambda: os.path.exists(os.path.join(d, f"begin.catch-up.{ident}.held")), 900, 0.2,
               "catch-up reached")
    assert stack.cli("abort", camp, ident).returncode == 0
    with open(os.path.join(d, f"begin.catch-up.{ident}.go"), "w"):
        pass
    row = wait_terminal(stack, camp, timeout=600)["instances"][0]
    sim.admin("POST", "/config", {"time_scale": 0})
    assert row["state"] == "aborted", f"{row}\n{stack.diagnostics()}"
    c = cluster(rds, ident)
    assert c["StorageEncrypted"] is False and c["Port"] == src["Port"] and c["Status"] == "available", c
    a = cconn(sim, ident, APP, APP_PW, "app")   # the application account logs in
    _q(a, "INSERT INTO b (seq) VALUES (-5)")
    a.close()
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) >= n + 20, 60, 0.1, "the writer commits on the source again")
    w.stop()
    m = cconn(sim, ident)
    assert not [u for (u,) in _q(m, "SELECT User FROM mysql.user") if u.startswith("fc_")]
    assert _q(m, "SHOW DATABASES LIKE 'fleetcrypt_fc'") == ()
    m.close()
    have = [x for x in seqs(sim, ident) if x >= 0]
    assert not sorted(set(w.numbers()) - set(have)) and len(have) == len(set(have))
    wait_until(lambda: leftovers(rds, camp, None) == [], 180, 0.5, "no AWS resource left")
