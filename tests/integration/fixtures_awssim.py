"""Fixtures for tests that need the AWS emulator (tools/awssim).

- `awssim`: a fresh emulator per test (real PostgreSQL behind instances,
  cloned from the session's `pg_template`), torn down afterwards.
- `awssim_module`: one emulator shared by a test module (cheaper).
- `AwsSim`: start/stop/restart, botocore clients (with the newest service
  models, awscli's), `/usr/bin/aws` runner, admin API, waiters, psql.
Every PostgreSQL server the emulator started is stopped at teardown even if
the emulator itself died (by pid, from the postmaster.pid files under its home).
"""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from fclib import AWS, PG_BIN, PY, REPO, Proc, make_world_dir, wait_until


def _load_procs():
    # the emulator's own check (tools/awssim/sim/procs.py), loaded by path:
    # the sim package imports modules the tests do not need
    import importlib.util
    spec = importlib.util.spec_from_file_location("awssim_procs", os.path.join(REPO, "tools", "awssim", "sim", "procs.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


server_pid = _load_procs().server_pid

AWSSIM = os.path.join(REPO, "tools", "awssim", "awssim")
AWSCLI_DATA = "/usr/lib/python3/dist-packages/awscli/botocore/data"
ACCESS_KEY = "AKIAFLEETCRYPTLOCAL1"
SECRET_KEY = "fleetcrypt/local/emulator/secret/key0000"

__all__ = ["AwsSim", "AwsCliError", "awssim", "awssim_module", "botocore_session", "AWSSIM"]


def botocore_session():
    """A botocore session that loads awscli's newer models first (MasterUserSecret, ...)."""
    import botocore.session
    s = botocore.session.get_session()
    loader = s.get_component("data_loader")
    if os.path.isdir(AWSCLI_DATA) and AWSCLI_DATA not in loader.search_paths:
        loader.search_paths.insert(0, AWSCLI_DATA)
    return s


class AwsCliError(Exception):
    def __init__(self, rc, stderr, stdout=""):
        super().__init__(f"aws exited {rc}: {stderr.strip()[-600:]}")
        self.rc, self.stderr, self.stdout = rc, stderr, stdout


class AwsSim:
    def __init__(self, home, pg_template=None, args=(), log_path=None):
        self.home = home
        self.pg_template = pg_template
        self.args = list(args)
        self.ready_path = os.path.join(os.path.dirname(home), os.path.basename(home) + ".ready.json")
        self.log_path = log_path or os.path.join(os.path.dirname(home), os.path.basename(home) + ".log")
        self.proc = None
        self.info = None
        self.port = 0
        self.admin_port = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self, timeout=60):
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)
        argv = [AWSSIM, "--home", self.home, "--ready-file", self.ready_path,
                "--port", str(self.port), "--admin-port", str(self.admin_port), "--pg-bin", PG_BIN]
        if self.pg_template:
            # the awssim_rds module is built once per test session, beside the template
            argv += ["--pg-template", self.pg_template,
                     "--rdsext-dir", os.path.join(os.path.dirname(self.pg_template), "rdsext")]
        argv += self.args
        self.proc = Proc(argv, self.log_path)

        def ready():
            if not self.proc.alive():
                raise AssertionError("awssim exited:\n" + self.proc.tail())
            return os.path.exists(self.ready_path)
        wait_until(ready, timeout, 0.05, "awssim ready file")
        with open(self.ready_path) as f:
            self.info = json.load(f)
        self.port = int(self.info["endpoint"].rsplit(":", 1)[1])
        self.admin_port = int(self.info["admin"].rsplit(":", 1)[1])
        return self

    def stop(self, timeout=90):
        if self.proc:
            self.proc.stop(timeout)
        self.kill_leftover_servers()

    def restart(self):
        self.proc.stop(90)
        self.start()

    def kill_leftover_servers(self):
        """Safety net: SIGKILL any postmaster or mariadbd still running from
        our home, only when the process really runs in that data directory
        (the emulator's procs.server_pid): a stale pid file may name another
        test's server once PIDs wrap."""
        base = os.path.join(self.home, "instances")
        if not os.path.isdir(base):
            return
        for rid in os.listdir(base):
            data = os.path.join(base, rid, "data")
            for pidname, prog in (("postmaster.pid", b"postgres"), ("mariadbd.pid", b"mariadbd")):
                pid = server_pid(os.path.join(data, pidname), prog, data)
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

    @property
    def endpoint(self):
        return self.info["endpoint"]

    @property
    def admin_url(self):
        return self.info["admin"]

    # ---------------------------------------------------------------- clients
    def env(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, token=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        e.update({"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key,
                  "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "",
                  "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard",
                  "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
        if token:
            e["AWS_SESSION_TOKEN"] = token
        return e

    def cli_raw(self, *args, env=None, timeout=60):
        argv = [AWS, "--endpoint-url", self.endpoint, "--region", "us-east-1", "--output", "json"] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, env=env or self.env(), timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def cli(self, *args, **kw):
        rc, out, err = self.cli_raw(*args, **kw)
        if rc != 0:
            raise AwsCliError(rc, err, out)
        return json.loads(out) if out.strip() else {}

    def client(self, service, access_key=ACCESS_KEY, secret_key=SECRET_KEY, token=None, retries=1, **kw):
        from botocore.config import Config
        cfg = Config(retries={"total_max_attempts": retries, "mode": "standard"}, connect_timeout=10,
                     read_timeout=120)
        return botocore_session().create_client(
            service, region_name="us-east-1", endpoint_url=self.endpoint, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, aws_session_token=token, config=cfg, **kw)

    def admin(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    # ---------------------------------------------------------------- waiters
    def instance(self, ident, rds=None):
        rds = rds or self.client("rds")
        return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]

    def wait_instance(self, ident, status="available", timeout=120, rds=None):
        rds = rds or self.client("rds")
        last = {}

        def ok():
            i = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            last["s"] = i["DBInstanceStatus"]
            if i["DBInstanceStatus"] in ("failed", "incompatible-restore", "incompatible-parameters") and \
                    status != i["DBInstanceStatus"]:
                raise AssertionError(f"{ident} is {i['DBInstanceStatus']}: " + self.proc.tail(20))
            return i if i["DBInstanceStatus"] == status else None
        return wait_until(ok, timeout, 0.1, f"instance {ident} {status}")

    def wait_gone(self, ident, timeout=120, rds=None):
        rds = rds or self.client("rds")

        def gone():
            try:
                rds.describe_db_instances(DBInstanceIdentifier=ident)
                return False
            except rds.exceptions.DBInstanceNotFoundFault:
                return True
        wait_until(gone, timeout, 0.1, f"instance {ident} deleted")

    def wait_snapshot(self, ident, status="available", timeout=120, rds=None):
        rds = rds or self.client("rds")

        def ok():
            s = rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]
            if s["Status"] == "failed" and status != "failed":
                raise AssertionError(f"snapshot {ident} failed")
            return s if s["Status"] == status else None
        return wait_until(ok, timeout, 0.1, f"snapshot {ident} {status}")


def psql(port, user, password, sql, db="postgres", check=True, timeout=30, host="127.0.0.1"):
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                        "-h", host, "-p", str(port), "-U", user, "-d", db, "-c", sql],
                       capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"psql failed: {r.stderr}")
    return r.stdout.strip() if check else (r.returncode, r.stdout, r.stderr)


__all__.append("psql")


def _start(pg_template, args=()):
    base = make_world_dir("fc-awssim-")
    sim = AwsSim(os.path.join(base, "home"), pg_template, args)
    try:
        sim.start()
        # FLEETCRYPT_SIM_TIME_SCALE (as deploy/local/stack reads it) runs any
        # test with AWS's durations modelled: renames, reboots, DNS lag
        scale = os.environ.get("FLEETCRYPT_SIM_TIME_SCALE", "")
        if scale and float(scale) > 0:
            sim.admin("POST", "/config", {"time_scale": float(scale)})
    except BaseException:
        sim.stop()
        raise
    return base, sim


def _teardown(base, sim):
    try:
        sim.stop()
    finally:
        if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def awssim(pg_template):
    base, sim = _start(pg_template)
    yield sim
    _teardown(base, sim)


@pytest.fixture(scope="module")
def awssim_module(pg_template):
    base, sim = _start(pg_template)
    yield sim
    _teardown(base, sim)
