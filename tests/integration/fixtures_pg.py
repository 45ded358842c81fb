"""fixtures_pg — helpers for the pg-logical data-plane tests (test_pglogical_*).

Real PostgreSQL 15 servers cloned from the session's `pg_template`; a
"snapshot + restore" is emulated exactly as the LSN-boundary research (docs/lsn-boundary.md)
did: freeze (SIGSTOP the postmaster and its children), `cp -a` the data
directory, SIGCONT, then start the copy on a new port and read its log.
The fleetcrypt side is driven through build/tests/fc_pg_tool.
Every server started here is stopped at teardown, by pid, even on failure.
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

from fclib import (IS_ROOT, PG_BIN, REPO, PgServer, as_pg_user_cmd, chown_pg, free_port,
                   pg_uid_gid, wait_until)

BUILD_DIR = os.environ.get("FLEETCRYPT_BUILD_DIR", "build")
TOOL = os.path.join(REPO, BUILD_DIR, "tests", "fc_pg_tool") if not os.path.isabs(BUILD_DIR) \
    else os.path.join(BUILD_DIR, "tests", "fc_pg_tool")
WAL_SEGSIZE = 1 << 20  # the template is initdb --wal-segsize=1
MASTER = "appmaster"   # local stand-in for the RDS master user (a superuser here)
MASTER_PW = "master secret 'quoted' \\ pw"
SUPER = "postgres"     # local stand-in for rdsadmin: never blocked, never touched


def cq(v):
    """libpq connection-string quoting of one value."""
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def psql(port, sql, db="postgres", user=SUPER, check=True, timeout=120):
    """Run SQL with psql; returns stdout stripped (rows as a|b lines)."""
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                        "-d", f"host=127.0.0.1 port={port} dbname={cq(db)} user={user}", "-c", sql],
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"psql failed on port {port} db {db} as {user}: {r.stderr.strip()}\nSQL: {sql[:300]}")
    return r.stdout.strip() if r.returncode == 0 else None


def tool(*args, env=None, check=True, timeout=180):
    """Run fc_pg_tool; returns (rc, dict of key=value lines, stdout, stderr)."""
    assert os.path.exists(TOOL), f"{TOOL} missing: build first (FLEETCRYPT_BUILD_DIR={BUILD_DIR})"
    e = dict(os.environ)
    # the plain local servers here serve no TLS: opt out of the product's verify-full default
    e.setdefault("FLEETCRYPT_PG_SSLMODE", "prefer")
    e.update(env or {})
    r = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True, env=e,
                       timeout=timeout)
    kv = {}
    for line in r.stdout.splitlines():
        if "=" in line and not line.startswith("table="):
            k, v = line.split("=", 1)
            kv[k] = v
    if check and r.returncode != 0:
        raise AssertionError(f"fc_pg_tool {' '.join(map(str, args))} failed ({r.returncode}): "
                             f"{r.stderr.strip()}\n{r.stdout}")
    return r.returncode, kv, r.stdout, r.stderr


class Servers:
    """Servers of one test; all stopped at teardown."""

    def __init__(self, world, template):
        self.world, self.template, self.all = world, template, []
        if IS_ROOT:
            os.chown(world, *pg_uid_gid())

    def new(self, name, extra_conf=""):
        d = os.path.join(self.world, name)
        shutil.copytree(self.template, d, symlinks=True)
        if extra_conf:
            with open(os.path.join(d, "postgresql.conf"), "a") as f:
                f.write(extra_conf + "\n")
        chown_pg(d)
        os.chmod(d, 0o700)
        srv = PgServer(d, free_port(), os.path.join(self.world, name + ".log"))
        self.all.append(srv)
        srv.start()
        return srv

    def freeze_copy(self, src, name):
        """Atomic crash-consistent copy of a running server (a storage snapshot)."""
        dest = os.path.join(self.world, name)
        with open(os.path.join(src.datadir, "postmaster.pid")) as f:
            pm = int(f.readline().strip())
        os.kill(pm, signal.SIGSTOP)
        kids = []
        try:
            out = subprocess.run(["pgrep", "-P", str(pm)], capture_output=True, text=True).stdout
            kids = [int(p) for p in out.split()]
            for k in kids:
                os.kill(k, signal.SIGSTOP)
            subprocess.run(["cp", "-a", src.datadir, dest], check=True)
        finally:
            for k in kids:
                try:
                    os.kill(k, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            os.kill(pm, signal.SIGCONT)
        return dest

    def restore(self, datadir, name):
        """Start a copied data directory on a new port ("restore"); returns the server."""
        for f in ("postmaster.pid", "postmaster.opts"):
            try:
                os.remove(os.path.join(datadir, f))
            except FileNotFoundError:
                pass
        srv = PgServer(datadir, free_port(), os.path.join(self.world, name + ".log"))
        self.all.append(srv)
        srv.start()
        # pg_ctl -w returns once connections are accepted: recovery is over
        wait_until(lambda: "redo done at" in open(srv.log_path, errors="replace").read(), 30,
                   what=f"{name}: recovery finished")
        return srv

    def stop_all(self):
        for s in reversed(self.all):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass


@pytest.fixture
def servers(world, pg_template):
    s = Servers(world, pg_template)
    yield s
    s.stop_all()


def setup_master(srv, dbs=("app",)):
    """The application's master user (superuser here, rds_superuser on RDS) owning the databases."""
    psql(srv.port, f"CREATE ROLE {MASTER} LOGIN SUPERUSER PASSWORD 'x'")
    for db in dbs:
        psql(srv.port, f'CREATE DATABASE "{db}" OWNER {MASTER}')


def conn_a(srv, db, user=SUPER):
    return ["--host", "127.0.0.1", "--port", srv.port, "--db", db, "--user", user]


def conn_b(srv, db, user=SUPER):
    return ["--host2", "127.0.0.1", "--port2", srv.port, "--db2", db, "--user2", user]


def fc_passwords(tag):
    """The passwords workers derive from the master secret (nothing stored)."""
    env = {"FC_MASTER_SECRET": MASTER_PW}
    admin = tool("derive-password", "--tag", tag, "--secret-env", "FC_MASTER_SECRET",
                 "--purpose", "admin", env=env)[1]["password"]
    sub = tool("derive-password", "--tag", tag, "--secret-env", "FC_MASTER_SECRET",
               "--purpose", "sub", env=env)[1]["password"]
    return {"FC_ADMIN_PW": admin, "FC_SUB_PW": sub}


class Writer:
    """pgbench committing single-row transactions, rate-limited for CI's 2 cores."""

    def __init__(self, world, port, db, user, script, rate=150, clients=2, name="writer"):
        self.path = os.path.join(world, name + ".sql")
        with open(self.path, "w") as f:
            f.write(script)
        os.chmod(self.path, 0o644)
        self.log = open(os.path.join(world, name + ".log"), "wb")
        self.p = subprocess.Popen(
            [os.path.join(PG_BIN, "pgbench"), "-n", "-h", "127.0.0.1", "-p", str(port), "-U", user,
             "-c", str(clients), "-j", "1", "-R", str(rate), "-T", "600", "-f", self.path, db],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=5)
        self.log.close()


@pytest.fixture
def writers():
    ws = []
    yield ws
    for w in ws:
        w.stop()


def read_log(srv):
    with open(srv.log_path, errors="replace") as f:
        return f.read()


def wait_caught_up(src, tgt, tag, db, timeout=60):
    """Until the subscription's slot confirmed everything the source has written."""
    lsn = psql(src.port, "SELECT pg_current_wal_insert_lsn()", db=db)
    tool("wait-flush", *conn_a(src, db), "--tag", tag, "--lsn", lsn, "--timeout-ms", timeout * 1000)
