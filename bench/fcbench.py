"""fcbench — what the stack benchmarks (bench/bench_*.py) share: the local
stack of the integration tests (tests/integration/fixtures_stack.py: Redis,
the Kafka stand-in tools/kafka-dev, workers, one coordinator) started from
FLEETCRYPT_BUILD_DIR's binaries with /metrics on every process, and the
measurements read around a `noop` campaign: Redis INFO (commandstats,
memory), each process's /metrics, the campaign's event stream and records,
a process's /proc status. No AWS emulator: `noop` makes no AWS call, and the
endpoint given to the processes is a closed port, so one would fail.

Never run by tests/run: benchmarks print ratios against a baseline measured
in the same run and never fail on time (docs/BENCHMARKS.md)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("FLEETCRYPT_BUILD_DIR", os.path.join(REPO, "build")))
os.environ["FLEETCRYPT_BIN_DIR"] = os.path.join(BUILD, "bin")  # read by fclib at import
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from fclib import Proc, RedisConn, make_world_dir, wait_until  # noqa: E402
from fixtures_stack import Stack  # noqa: E402

PREFIX = "fc"  # FLEETCRYPT_KEY_PREFIX of the test stack


class NoAws:
    """Stands in for the emulator fixture: credentials that reach nothing."""
    endpoint = "http://127.0.0.1:9"
    info = {}

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLEETCRYPT_"))}
        e.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                  "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"})
        return e


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def machine():
    """One line naming the machine and the build, for the figures' header."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    build_type = ""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(("CMAKE_BUILD_TYPE:", "FC_SANITIZE:")):
                    build_type += line.strip().split("=", 1)[1] + " " if line.strip().split("=", 1)[1] else ""
    except OSError:
        pass
    rv = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    redis = next((w for w in rv if w.startswith("v=")), "v=?")
    return (f"{os.cpu_count()} CPU ({cpu}), load {loadavg()}, build {os.path.basename(BUILD)} "
            f"({build_type.strip() or 'default'}), redis {redis[2:]}")


class BenchStack(Stack):
    """The test stack with /metrics on every process (any free port) and a
    Redis connection for measurements."""

    def __init__(self, workers, executors, env_extra=None, bin_dir=None):
        # bin_dir: run the workers and coordinator from another build (the
        # binaries before a change, for a same-run comparison); Redis, the
        # Kafka stand-in and the CLI stay this build's
        self.bin_dir = bin_dir
        self.world = make_world_dir("fc-bench-")
        # production defaults, not the tests' short deadlines and leases
        env = {"FLEETCRYPT_METRICS_ADDR": "127.0.0.1:0", "FLEETCRYPT_STEP_DEADLINE_MAX_S": "0",
               "FLEETCRYPT_LEASE_MS": "30000", "FLEETCRYPT_POLL_MIN_MS": "1000"}
        env.update(env_extra or {})
        super().__init__(self.world, NoAws(), workers=workers, executors=executors, env_extra=env)
        self.r = RedisConn(self.redis.port)

    def _proc(self, name, binary):
        if not self.bin_dir:
            return super()._proc(name, binary)
        self.seq += 1
        env = dict(self.env, FLEETCRYPT_NODE_ID=f"{name}-{self.seq}")
        return Proc([os.path.join(self.bin_dir, binary)], os.path.join(self.logs, f"{name}-{self.seq}.log"), env=env)

    def start(self):
        super().start()
        # every partition assigned (the group settled), every /metrics up
        wait_until(lambda: sum(self._assigned(w) for w in self.workers) == self.kafka.partitions, 60,
                   interval=0.2, what="partitions assigned to the workers")
        for p in self.workers + self.coordinators:
            wait_until(lambda p=p: self.metrics_port(p), 20, what=f"metrics port of {p.log_path}")
        wait_until(lambda: self.r.cmd("EXISTS", f"{PREFIX}:coordinator:leader"), 20, what="an active coordinator")
        time.sleep(1)
        return self

    @staticmethod
    def _assigned(p):
        n = 0
        with open(p.log_path, errors="replace") as f:
            for line in f:
                if "partitions assigned" in line:
                    m = re.search(r"count=(\d+)", line)
                    n = int(m.group(1)) if m else 0
                elif "partitions revoked" in line:
                    n = 0
        return n

    @staticmethod
    def metrics_port(p):
        with open(p.log_path, errors="replace") as f:
            for line in f:
                if "metrics listening" in line:
                    m = re.search(r"port=(\d+)", line)
                    if m:
                        return int(m.group(1))
        return 0

    def stop(self):
        try:
            self.r.close()
        finally:
            super().stop()
            if os.environ.get("FLEETCRYPT_KEEP_TEST_DIRS") != "1":
                shutil.rmtree(self.world, ignore_errors=True)

    # ------------------------------------------------------------ measurements
    def scrape(self, p):
        """A process's /metrics as {"name{labels}": value}."""
        port = self.metrics_port(p)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def scrape_sum(self, procs, name):
        return sum(self.scrape(p).get(name, 0.0) for p in procs)

    def info(self, section):
        text = self.r.cmd("INFO", section)
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def commandstats(self):
        """{command: calls} from INFO commandstats."""
        out = {}
        for k, v in self.info("commandstats").items():
            m = re.search(r"calls=(\d+)", v)
            if k.startswith("cmdstat_") and m:
                out[k[8:]] = int(m.group(1))
        return out

    def used_memory(self):
        return int(self.info("memory")["used_memory"])

    def submit(self, campaign, ids, max_parallel, options=None):
        """Submit a noop campaign (through a campaign file when options are
        given: tuning options exist only there). Returns after the CLI."""
        spec = {"campaign": campaign, "strategy": "noop", "kms_key": "alias/none", "max_parallel": max_parallel,
                "instances": list(ids)}
        spec.update(options or {})
        path = os.path.join(self.world, f"{campaign}.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        r = self.cli("submit", "--file", path, "--yes", timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"submit {campaign}: exit {r.returncode}: {r.stderr}")

    def campaign_state(self, campaign):
        return self.r.cmd("HGET", f"{PREFIX}:{{{campaign}}}:campaign", "state")

    def counts(self, campaign):
        flat = self.r.cmd("HGETALL", f"{PREFIX}:{{{campaign}}}:counts") or []
        return {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def wait_done(self, campaign, timeout, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.campaign_state(campaign) == "done":
                return time.monotonic()
            time.sleep(interval)
        raise RuntimeError(f"campaign {campaign} not done after {timeout}s: {self.counts(campaign)}\n"
                           + self.diagnostics())

    def events(self, campaign):
        """The campaign's event stream as dicts (capped at ~10,000 entries)."""
        out = []
        for _id, fields in self.r.cmd("XRANGE", f"{PREFIX}:{{{campaign}}}:events", "-", "+") or []:
            out.append({fields[i]: fields[i + 1] for i in range(0, len(fields), 2)})
        return out

    def record_field(self, campaign, ids, field, batch=500):
        """One field of many instance records (pipelined HGETs)."""
        out = []
        for i in range(0, len(ids), batch):
            cmds = [("HGET", f"{PREFIX}:{{{campaign}}}:i:{x}", field) for x in ids[i:i + batch]]
            out.extend(self.r.pipeline(*cmds))
        return out


def proc_status(pid):
    """VmRSS and VmHWM of a process, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    return out


def ids(prefix, n):
    return [f"{prefix}-{i:05d}" for i in range(n)]
