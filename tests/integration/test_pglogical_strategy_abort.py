"""Strategy pg-logical: everything that ends in `abort`, on real servers
(emulator time scale 0, real PostgreSQL behind every instance).

- DDL on the source during catch-up → the instance is aborted by the DDL
  guard: writers keep writing to the source, nothing of fleetcrypt's is
  left on it, no target instance or snapshot remains;
- retained WAL over the campaign's max_retained_wal_bytes → aborted (slot
  dropped) before the source fills;
- A5: one campaign, each instance aborted (`fleetcrypt abort`) at a
  different step → every source writable by its application role, no
  publication / slot / subscription / fleetcrypt role / snapshot / target
  instance left;
- A5 for the fast steps (preflight, prepare-target, subscribe): each instance
  is caught *inside* its step by a lock the step needs, held by the test (a
  busy database, nothing test-only in fleetcrypt), aborted while the step
  waits on it, and the lock released once the undo step has taken over.
"""
import os
import subprocess
import time

import pytest

from fclib import PG_BIN, wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (MASTER, PASSWORD, Writer, app_schema, aws_leftovers, endpoint, exactly_once,
                                     fleetcrypt_leftovers, instance_state, logical_group, make_instances, sql,
                                     ready_source, submit, wait_step, wait_terminal)


def assert_clean_source(sim, campaign, ident):
    # writable by the application role (the master user here)
    sql(sim, ident, "INSERT INTO b(seq) VALUES (nextval('wseq'))")
    assert fleetcrypt_leftovers(sim, ident) == [], f"fleetcrypt objects left on {ident}"
    assert fleetcrypt_leftovers(sim, ident, db="postgres") == [], f"fleetcrypt objects left on {ident}/postgres"
    inst = sim.instance(ident)
    assert not inst["StorageEncrypted"], "the source itself must be untouched"


def wait_aws_clean(sim, campaign, timeout=60):
    wait_until(lambda: aws_leftovers(sim, campaign) == [], timeout, 0.5,
               f"no fc-{campaign}-* instance or snapshot left")


def test_ddl_during_catch_up_aborts(stack, awssim, world):
    sim = awssim
    ident = "pgl-ddl"
    key = ready_source(stack, sim, ident)
    w = Writer(sim, ident, rate=20).start()
    # the window never opens today → the instance stays in catch-up/cutover, replicating
    submit(stack, "ddl", key, [ident], world, "--cutover", "approve")
    wait_step(stack, "ddl", ident, ("catch-up", "cutover"), timeout=240)
    sql(sim, ident, "ALTER TABLE a ADD COLUMN note text")
    st = wait_terminal(stack, "ddl", timeout=180)
    w.stop()
    inst = st["instances"][0]
    assert inst["step"] == "abort", f"expected the abort step to end it, got {inst}\n{stack.diagnostics()}"
    assert_clean_source(sim, "ddl", ident)
    wait_aws_clean(sim, "ddl")
    n = len(w.numbers())
    assert n > 20, "the writer could not write during the run"
    # the record state needs the runner's abort hook (pglogical/strategy.c, hook 4)
    assert inst["state"] == "aborted", f"expected aborted, got {inst}"
    assert "schema changed" in (inst["error"] or ""), inst


def test_retained_wal_limit_aborts(stack, awssim, world):
    sim = awssim
    ident = "pgl-wal"
    key = ready_source(stack, sim, ident)
    submit(stack, "wal", key, [ident], world, "--cutover", "approve")
    # the campaign limit: low enough that bulk writes during catch-up pass it
    stack.redis.cli("HSET", "fc:{wal}:campaign", "max_retained_wal_bytes", "4M")
    wait_step(stack, "wal", ident, ("catch-up", "cutover"), timeout=240)
    # stall the apply side (a lock on the target, the subscription stays enabled and error-free)
    # so the slot holds WAL, then write a lot on the source
    import os
    import subprocess
    from fclib import PG_BIN
    tgt = sim.instance("fc-wal-pgl-wal-target")
    locker = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p",
                               str(tgt["Endpoint"]["Port"]), "-U", "app", "-d", "app"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              text=True, env=dict(os.environ, PGPASSWORD="app-password-1"))
    locker.stdin.write("BEGIN; LOCK TABLE b IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);\n")
    locker.stdin.flush()
    try:
        time.sleep(1.0)
        sql(sim, ident, "INSERT INTO b(seq) SELECT g FROM generate_series(1, 200000) g")
        st = wait_terminal(stack, "wal", timeout=180)
    finally:
        locker.kill()
        locker.wait(timeout=10)
    inst = st["instances"][0]
    assert inst["step"] == "abort", f"expected the abort step to end it, got {inst}\n{stack.diagnostics()}"
    assert_clean_source(sim, "wal", ident)
    wait_aws_clean(sim, "wal")
    # the record state needs the runner's abort hook (pglogical/strategy.c, hook 4)
    assert inst["state"] == "aborted", f"expected aborted, got {inst}"
    assert "max_retained_wal_bytes" in (inst["error"] or ""), inst


ABORT_AT = ["prepare-source", "snapshot", "copy-encrypted", "restore", "find-start-lsn", "catch-up",
            "cutover"]  # parked at cutover: waiting for approval, before any block or switch


def test_abort_at_every_step(stack, awssim, world):
    """A5: one campaign, each instance aborted at a different step."""
    sim = awssim
    logical_group(sim)
    ids = [f"pgl-ab{k}" for k in range(len(ABORT_AT))]
    make_instances(sim, ids)
    for i in ids:
        app_schema(sim, i)
    key = stack.make_key()["Arn"]
    # slow the AWS side a little so every step can be caught; a database step
    # that may take only milliseconds (find-start-lsn) is held at its start
    # for its instance (hold point begin.<step>.<instance>, lease held)
    sim.admin("POST", "/config", {"time_scale": 0.002})
    hold = os.path.join(world, "hold")
    os.makedirs(hold)
    fast = {"find-start-lsn"}
    stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": hold, "FLEETCRYPT_TEST_HOLD_AT": ",".join(
        f"begin.{step}.{ident}" for ident, step in zip(ids, ABORT_AT) if step in fast)})
    stack.start()
    submit(stack, "a5", key, ids, world, "--cutover", "approve")
    for ident, step in zip(ids, ABORT_AT):
        wait_step(stack, "a5", ident, (step,), timeout=240)
        r = stack.cli("abort", "a5", ident)
        assert r.returncode == 0, f"fleetcrypt abort a5 {ident} failed: {r.stderr.strip()}"
        if step in fast:
            with open(os.path.join(hold, f"begin.{step}.{ident}.go"), "w"):
                pass
    st = wait_terminal(stack, "a5", timeout=420)
    for i in st["instances"]:
        assert i["state"] == "aborted", i
    for ident in ids:
        assert_clean_source(sim, "a5", ident)
    wait_aws_clean(sim, "a5")


# ------------------------------------------------------------------ A5: the fast steps
class Locker:
    """One session holding a lock (idle in transaction) on a server until
    release(): `lock_sql` runs inside BEGIN; `granted_sql` (another session)
    says when the lock is held. Closing the session rolls back, so the lock
    goes at once (a session sleeping in pg_sleep would keep it)."""

    def __init__(self, port, db, lock_sql, granted_sql, su=None):
        """su: (socket dir, real port) of an emulated instance: the lock is taken
        as rdsadmin over the emulator's private socket — a catalog lock needs
        the superuser, which the master user is not (as on RDS)."""
        self.port, self.db, self.granted_sql, self.su = port, db, granted_sql, su
        env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="5")
        host, lport, user = ("127.0.0.1", port, MASTER) if not su else (su[0], su[1], "rdsadmin")
        self.p = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                                   host, "-p", str(lport), "-U", user, "-d", db],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=env)
        self.p.stdin.write(f"BEGIN;\n{lock_sql};\n")
        self.p.stdin.flush()
        wait_until(self._granted, 20, 0.1, f"lock held on port {port}: {lock_sql}")

    def _granted(self):
        if self.p.poll() is not None:
            raise AssertionError(f"lock session ended: {self.p.stderr.read()}")
        return int(self.query(self.granted_sql)) > 0

    def query(self, text):
        if self.su:   # the master user may not log in (a target before its switch)
            return psql(self.su[1], "rdsadmin", PASSWORD, text, db=self.db, host=self.su[0])
        return psql(self.port, MASTER, PASSWORD, text, db=self.db)

    def waiting_steps(self):
        """fleetcrypt sessions (application_name) waiting on a lock on this server."""
        return int(self.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                              "AND backend_type = 'client backend' AND application_name = 'fleetcrypt'"))

    def release(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("ROLLBACK;\n")
                self.p.stdin.close()
                self.p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait(timeout=10)


# instance → the step it is aborted in; each step is held by a lock only it needs:
#   preflight      — its per-database checks count pg_largeobject_metadata (source);
#   prepare-target — it drops the publication the target inherited: the test
#                    holds that object (COMMENT ON PUBLICATION in an open transaction);
#   subscribe      — CREATE SUBSCRIPTION makes the subscription's replication origin
#                    under an EXCLUSIVE lock on pg_replication_origin (target): the
#                    test holds ROW EXCLUSIVE there. Readers are not blocked: a
#                    catalog lock readers wait on would also stop new sessions
#                    (the relcache init file is rebuilt after DDL and reads every
#                    catalog that has a syscache).
# prepare-target/subscribe locks are taken on the restored target's server while
# the emulator still reports it `creating` (restore paced at time scale 0.02).
CAUGHT = {"pgl-at0": "preflight", "pgl-at1": "prepare-target", "pgl-at2": "subscribe"}
TERMINAL = ("done", "failed", "skipped", "aborted")
BEFORE = {"prepare-target": ("snapshot", "copy-encrypted", "restore"),
          "subscribe": ("snapshot", "copy-encrypted", "restore", "prepare-target", "find-start-lsn")}


def _target_server(sim, tid):
    """(real port, status) of a restored target once its server runs, else None."""
    import urllib.error
    try:
        v = sim.admin("GET", f"/instances/{tid}")
    except urllib.error.HTTPError:
        return None
    return (v["real_port"], v["status"]) if v.get("server_up") and v.get("real_port") else None


def _lock_target(sim, campaign, ident, step):
    tid = f"fc-{campaign}-{ident}-target"
    got = _target_server(sim, tid)
    if not got:
        return None
    port, status = got
    if step == "prepare-target":
        pub = psql(port, MASTER, PASSWORD, "SELECT pubname FROM pg_publication WHERE pubname LIKE 'fc\\_%'", db="app")
        assert pub, f"{tid}: the publication fleetcrypt made before the snapshot is not on the restored target"
        lk = Locker(port, "app", f"COMMENT ON PUBLICATION \"{pub}\" IS 'held by the A5 test'",
                    "SELECT count(*) FROM pg_locks l JOIN pg_publication p ON l.objid = p.oid "
                    "WHERE l.locktype = 'object' AND l.classid = 'pg_publication'::regclass AND l.granted")
    else:
        v = sim.admin("GET", f"/instances/{tid}")
        lk = Locker(port, "app", "LOCK TABLE pg_catalog.pg_replication_origin IN ROW EXCLUSIVE MODE",
                    "SELECT count(*) FROM pg_locks WHERE relation = 'pg_catalog.pg_replication_origin'::regclass "
                    "AND mode = 'RowExclusiveLock' AND granted", su=(v["sock_dir"], v["real_port"]))
    return lk, status


@pytest.mark.slow  # 110 s; test_abort_at_every_step stays in CI
def test_abort_inside_fast_steps(stack, awssim, world):
    """A5 for preflight, prepare-target and subscribe: aborted while the step runs."""
    sim = awssim
    campaign = "a5t"
    logical_group(sim)
    ids = list(CAUGHT)
    make_instances(sim, ids)
    for i in ids:
        app_schema(sim, i)
    key = stack.make_key()["Arn"]
    v0 = sim.admin("GET", "/instances/pgl-at0")
    lockers = {"pgl-at0": Locker(endpoint(sim, "pgl-at0"), "app",
                                 "LOCK TABLE pg_catalog.pg_largeobject_metadata IN ACCESS EXCLUSIVE MODE",
                                 "SELECT count(*) FROM pg_locks WHERE relation = "
                                 "'pg_catalog.pg_largeobject_metadata'::regclass AND mode = 'AccessExclusiveLock' "
                                 "AND granted", su=(v0["sock_dir"], v0["real_port"]))}
    try:
        sim.admin("POST", "/config", {"time_scale": 0.02})
        stack.start()
        submit(stack, campaign, key, ids, world, "--cutover", "approve")
        phase = {i: "blocking" for i in ids}
        deadline = time.monotonic() + 240
        while any(p != "released" for p in phase.values()):
            assert time.monotonic() < deadline, f"not every instance caught and aborted: {phase}\n" + \
                stack.diagnostics()
            for ident, step in CAUGHT.items():
                rec = instance_state(stack, campaign, ident)
                if ident not in lockers:
                    got = _lock_target(sim, campaign, ident, step)
                    if got:
                        lockers[ident], status = got
                        # the lock must be in place before the step it holds can have run
                        rec = instance_state(stack, campaign, ident)
                        assert rec["step"] in BEFORE[step] and rec["state"] == "running", \
                            f"{ident}: target locked too late (emulator: {status}): {rec}"
                    continue
                lk = lockers[ident]
                if phase[ident] == "blocking":
                    assert rec["state"] not in TERMINAL, f"{ident} ended before it could be aborted: {rec}"
                    if lk.waiting_steps() > 0:
                        rec = instance_state(stack, campaign, ident)
                        assert rec["step"] == step, f"{ident}: a fleetcrypt session waits on our lock at " \
                                                    f"step {rec['step']}, expected {step}"
                        r = stack.cli("abort", campaign, ident)
                        assert r.returncode == 0, f"fleetcrypt abort {campaign} {ident}: {r.stderr.strip()}"
                        phase[ident] = "abort-requested"
                elif phase[ident] == "abort-requested":
                    if rec["step"] == "abort" or rec["state"] in TERMINAL:
                        lk.release()
                        phase[ident] = "released"
            time.sleep(0.2)
        st = wait_terminal(stack, campaign, timeout=180)
    finally:
        for lk in lockers.values():
            lk.release()
    for i in st["instances"]:
        assert i["state"] == "aborted", f"{i}\n{stack.diagnostics()}"
    for ident, step in CAUGHT.items():
        # (that the step was running is proven above: its session waited on our lock)
        log = stack.cli("logs", campaign, ident, check=True).stdout
        left = [ln for ln in log.splitlines() if f"step={step} " in ln and "outcome=next" in ln
                and "next=abort" in ln]
        assert left, f"{ident}: the undo step was not entered from {step}:\n{log}"
        worker_logs = "".join(open(w.log_path, errors="replace").read() for w in stack.workers)
        assert any("operator abort" in ln and f"from_step={step}" in ln and ident in ln
                   for ln in worker_logs.splitlines()), f"{ident}: no worker logged the abort from {step}"
        assert_clean_source(sim, campaign, ident)
    wait_aws_clean(sim, campaign)


@pytest.mark.slow  # CI's 30 minutes (tests/run --all); test_ddl_during_catch_up_aborts stays in CI
def test_ddl_between_gate_and_block_aborts(stack, awssim, world):
    """Finding 12: DDL that lands after the gate's last look and before the
    writers are blocked cannot be replicated: the re-check inside the block
    must find it and abort, giving the source back to its writers. The test
    holds the worker at that exact point (hold point cutover.gated)."""
    sim = awssim
    ident = "pgl-gddl"
    hold = os.path.join(world, "hold")
    os.makedirs(hold)
    stack.env.update({"FLEETCRYPT_TEST_HOLD_AT": "cutover.gated", "FLEETCRYPT_TEST_CRASH_DIR": hold})
    key = ready_source(stack, sim, ident)
    w = Writer(sim, ident, rate=20).start()
    submit(stack, "gddl", key, [ident], world)
    held = os.path.join(hold, "cutover.gated.held")
    wait_until(lambda: os.path.exists(held), 240, 0.2, "the cutover reached the point after its gate")
    sql(sim, ident, "ALTER TABLE a ADD COLUMN note text")
    with open(os.path.join(hold, "cutover.gated.go"), "w"):
        pass
    st = wait_terminal(stack, "gddl", timeout=180)
    w.stop()
    inst = st["instances"][0]
    assert inst["step"] == "abort", f"expected the abort step to end it, got {inst}\n{stack.diagnostics()}"
    assert "schema changed" in (inst["error"] or "") and "just before the block" in inst["error"], inst
    assert inst["state"] == "aborted", inst
    assert_clean_source(sim, "gddl", ident)
    wait_aws_clean(sim, "gddl")



@pytest.mark.parametrize("window", [None, pytest.param("45s", marks=pytest.mark.slow)], ids=["plain", "window"])
def test_target_that_stops_answering_gives_the_writers_back(stack, awssim, world, window):
    """Finding 1's other half, on the full stack: while the source's writers
    are blocked, a target that stops answering (its host hung, packets
    dropped: here every fleetcrypt session on it is SIGSTOPped, so neither
    statement_timeout nor lock_timeout can fire) must not keep them blocked.
    Every query of the window has a client-side bound; past it the cutover
    lets the writers back in while the target is still silent, and once the
    target answers again the cutover finishes with every acknowledged row
    there once. The retry meets the first attempt's hung sessions again:
    plain, the target's block inside the window cannot end them and, with
    the slots still there, gives the writers back; with a rollback window
    (torn down inside the window, no way back after the drained mark) they
    are ended before the mark, and failing to end them gives the writers
    back there."""
    import signal
    sim = awssim
    ident, campaign = "pgl-hung", "hung"
    hold = os.path.join(world, "hold")
    os.makedirs(hold)
    stack.env.update({"FLEETCRYPT_TEST_HOLD_AT": "cutover.gated", "FLEETCRYPT_TEST_CRASH_DIR": hold})
    key = ready_source(stack, sim, ident)
    w = Writer(sim, ident, rate=20).start()
    submit(stack, campaign, key, [ident], world, *(["--rollback-window", window] if window else []))
    wait_until(lambda: os.path.exists(os.path.join(hold, "cutover.gated.held")), 240, 0.2,
               "the cutover reached the point after its gate")
    v = sim.admin("GET", f"/instances/fc-{campaign}-{ident}-target")
    stopped = set()

    def silence():
        """SIGSTOP every fleetcrypt session on the target (new ones too)."""
        pids = psql(v["real_port"], "rdsadmin", PASSWORD,
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'fleetcrypt' "
                    "AND backend_type = 'client backend'", db="postgres", host=v["sock_dir"])
        for pid in (int(x) for x in pids.split()):
            if pid not in stopped:
                os.kill(pid, signal.SIGSTOP)
                stopped.add(pid)

    def logs():
        out = ""
        for p in stack.workers:
            with open(p.log_path, errors="replace") as f:
                out += f.read()
        return out
    back = "cutover abandoned before the switch: source writable again"
    try:
        silence()
        with open(os.path.join(hold, "cutover.gated.go"), "w"):
            pass
        wait_until(lambda: silence() or back in logs(), 240, 0.2,
                   "the cutover giving the writers back while the target is silent")
        n = len(w.numbers())
        wait_until(lambda: len(w.numbers()) >= n + 10, 120, 0.2, "writes on the source while the target is silent")
        assert stopped, "no fleetcrypt session on the target was ever silenced"
        # The retry, with the first attempt's sessions still hung: it blocks
        # and drains the source on fresh sessions, then the target's own
        # block inside the window cannot end the hung ones (a stopped
        # backend ignores SIGTERM). Past the drained mark, with the slots
        # still there, the writers must come back again, not wait for the
        # hung sessions to die.
        wait_until(lambda: logs().count(back) >= 2, 300, 0.5,
                   "the retry giving the writers back after it could not block the target")
        again = [ln for ln in logs().splitlines() if back in ln and "attempt=1 " not in ln]
        assert any(" on the target" in ln for ln in again), \
            f"the retry gave the writers back for another reason than the target's block: {again}"
        n = len(w.numbers())
        wait_until(lambda: len(w.numbers()) >= n + 10, 120, 0.2,
                   "writes on the source after the retry could not block the target")
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    st = wait_terminal(stack, campaign, timeout=300)
    w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    problems = exactly_once(sim, ident, w)
    assert problems == [], problems
