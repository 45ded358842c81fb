"""fclib — helpers and base fixtures for fleetcrypt's integration tests.

Everything here starts *real* servers from Debian packages on free loopback
ports inside a per-test directory and stops them, by pid, at teardown.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("FLEETCRYPT_BIN_DIR", os.path.join(REPO, "build", "bin"))
PG_BIN = os.environ.get("FLEETCRYPT_PG_BIN", "/usr/lib/postgresql/15/bin")
PY = "/usr/bin/python3"
AWS = "/usr/bin/aws"
IS_ROOT = os.geteuid() == 0
PG_USER = "postgres"


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=30.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; raise with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - keep polling, report the last one
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" +
                         (f" (last error: {last_exc!r})" if last_exc else ""))


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def pg_uid_gid():
    pw = pwd.getpwnam(PG_USER)
    return pw.pw_uid, pw.pw_gid


def as_pg_user_cmd(cmd):
    """Prefix a command so it runs as the unprivileged postgres user when we are root."""
    if IS_ROOT:
        return ["runuser", "-u", PG_USER, "--"] + list(cmd)
    return list(cmd)


def chown_pg(path):
    if IS_ROOT:
        uid, gid = pg_uid_gid()
        for root, dirs, files in os.walk(path):
            os.chown(root, uid, gid)
            for f in files:
                os.lchown(os.path.join(root, f), uid, gid)


def make_world_dir(prefix="fc-"):
    """A fresh directory under /tmp that the postgres user can traverse."""
    d = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("FLEETCRYPT_TEST_TMP", "/tmp"))
    os.chmod(d, 0o755)
    return d


class Proc:
    """A child process we started; stopped by pid at teardown."""

    def __init__(self, argv, log_path, env=None, cwd=None):
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  env=env, cwd=cwd, start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def stop(self, timeout=15):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=5)
        self.log.close()

    def kill(self):
        if self.alive():
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(timeout=5)

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


# ---------------------------------------------------------------- PostgreSQL
def initdb_template(dest):
    """initdb once (as postgres): trust auth on loopback, 1 MB WAL segments."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if IS_ROOT:
        os.chown(os.path.dirname(dest), *pg_uid_gid())
    subprocess.run(as_pg_user_cmd([os.path.join(PG_BIN, "initdb"), "-D", dest, "-A", "trust",
                                   "-U", "postgres", "--wal-segsize=1", "-E", "UTF8",
                                   "--locale=C.UTF-8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(os.path.join(dest, "postgresql.conf"), "a") as f:
        f.write("\n# fleetcrypt test defaults\nlisten_addresses='127.0.0.1'\n"
                "fsync=off\nsynchronous_commit=off\nfull_page_writes=off\n"
                "max_connections=100\nshared_buffers=16MB\n"
                "wal_level=logical\nmax_replication_slots=20\nmax_wal_senders=20\n")
    return dest


class PgServer:
    def __init__(self, datadir, port, log_path):
        self.datadir, self.port, self.log_path = datadir, port, log_path

    def start(self):
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write(f"port={self.port}\nunix_socket_directories='{os.path.dirname(self.datadir)}'\n")
        subprocess.run(as_pg_user_cmd([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir,
                                       "-l", self.log_path, "-w", "-t", "60", "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        return self

    def stop(self):
        subprocess.run(as_pg_user_cmd([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir,
                                       "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def dsn(self, db="postgres", user="postgres"):
        return f"host=127.0.0.1 port={self.port} dbname={db} user={user}"

    def psql(self, sql, db="postgres"):
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                            "-d", self.dsn(db), "-c", sql],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip()


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    base = make_world_dir("fc-pgtmpl-")
    path = initdb_template(os.path.join(base, "template"))
    yield path
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def world():
    d = make_world_dir()
    yield d
    if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def pg_server(world, pg_template):
    """A fresh PostgreSQL 15 server cloned from the template."""
    datadir = os.path.join(world, "pg")
    shutil.copytree(pg_template, datadir, symlinks=True)
    chown_pg(datadir)
    os.chmod(datadir, 0o700)
    srv = PgServer(datadir, free_port(), os.path.join(world, "pg.log"))
    if IS_ROOT:
        os.chown(world, *pg_uid_gid())
    srv.start()
    yield srv
    srv.stop()


# ---------------------------------------------------------------- Redis
class RedisServer:
    def __init__(self, world, port=None):
        self.dir = os.path.join(world, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "everysec",
                "--maxmemory-policy", "noeviction", "--save", "", "--daemonize", "no"]
        self.proc = Proc(argv, os.path.join(self.dir, "redis.log"))
        wait_until(lambda: port_open(self.port), 10, what=f"redis on {self.port}")
        return self

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip()

    def stop(self):
        if self.proc:
            self.proc.stop()

    def kill(self):
        if self.proc:
            self.proc.kill()


@pytest.fixture
def redis_server(world):
    srv = RedisServer(world).start()
    yield srv
    srv.stop()


# ---------------------------------------------------------------- Kafka (dev broker)
class KafkaDev:
    """fleetcrypt-kafka-dev: librdkafka's mock cluster as a standalone broker."""

    def __init__(self, world, brokers=3, partitions=6, prefix="fleetcrypt"):
        self.dir = os.path.join(world, "kafka")
        os.makedirs(self.dir, exist_ok=True)
        self.brokers, self.partitions, self.prefix = brokers, partitions, prefix
        self.info_path = os.path.join(self.dir, "kafka.json")
        self.proc = None
        self.info = None

    def start(self):
        argv = [os.path.join(BIN_DIR, "fleetcrypt-kafka-dev"), "--brokers", str(self.brokers),
                "--partitions", str(self.partitions), "--topic-prefix", self.prefix,
                "--info-file", self.info_path]
        self.proc = Proc(argv, os.path.join(self.dir, "kafka.log"))
        wait_until(lambda: os.path.exists(self.info_path), 20, what="kafka-dev info file")
        with open(self.info_path) as f:
            self.info = json.load(f)
        return self

    @property
    def bootstrap(self):
        return self.info["bootstrap"]

    def control(self, line):
        """Send one control command ("down 2", "up 2", "leaders-away 2") and return the reply."""
        with socket.create_connection(("127.0.0.1", self.info["control_port"]), timeout=10) as s:
            s.sendall((line + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            return buf.decode().strip()

    def stop(self):
        if self.proc:
            self.proc.stop()


@pytest.fixture
def kafka_dev(world):
    k = KafkaDev(world).start()
    yield k
    k.stop()


# ---------------------------------------------------------------- Redis (raw protocol)
def _resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis: " + rest.decode("utf-8", "replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode("utf-8", "replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ConnectionError(f"redis: unexpected reply {line[:40]!r}")


class RedisConn:
    """A tiny RESP client (no redis-cli fork per command), for tests that poll
    Redis many times a second. pipeline() sends several commands at once."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def pipeline(self, *cmds):
        self.sock.sendall(b"".join(self._encode(c) for c in cmds))
        return [_resp_read(self.f) for _ in cmds]

    def cmd(self, *args):
        return self.pipeline(args)[0]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
