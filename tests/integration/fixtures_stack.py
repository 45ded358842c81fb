"""Fixtures for orchestration tests: the whole fleetcrypt stack on real servers.

`stack` starts Redis (AOF on), the local Kafka broker, the AWS emulator, N
workers and one coordinator from FLEETCRYPT_BIN_DIR, each with its own log
under the test's world dir, and can kill / restart any of them. Everything is
stopped by pid at teardown, even when the test failed.
"""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from fclib import BIN_DIR, KafkaDev, Proc, RedisServer, wait_until

__all__ = ["Stack", "stack", "make_stack"]

META_TAG = {"Key": "fleetcrypt-sim:metadata-only", "Value": "true"}


class Stack:
    def __init__(self, world, sim, workers=2, executors=4, env_extra=None):
        self.world, self.sim = world, sim
        self.redis = RedisServer(world).start()
        self.kafka = KafkaDev(world).start()
        self.n_workers = workers
        self.workers = []
        self.coordinators = []
        self.logs = os.path.join(world, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.seq = 0
        env = dict(sim.env())
        # sim.env() pins awscli to one attempt for the emulator's own tests;
        # fleetcrypt's binaries keep their own retry policy
        env.pop("AWS_MAX_ATTEMPTS", None)
        env.pop("AWS_RETRY_MODE", None)
        env.update({
            "AWS_ENDPOINT_URL": sim.endpoint,
            "FLEETCRYPT_KAFKA_BROKERS": self.kafka.bootstrap,
            "FLEETCRYPT_REDIS_URL": self.redis.url,
            "FLEETCRYPT_TOPIC_PREFIX": "fleetcrypt",
            "FLEETCRYPT_KEY_PREFIX": "fc",
            "FLEETCRYPT_EXECUTORS": str(executors),
            "FLEETCRYPT_STEP_DEADLINE_MAX_S": "25",
            "FLEETCRYPT_LEASE_MS": "8000",
            "FLEETCRYPT_POLL_MIN_MS": "700",
            # the wait floors (AWS's least seconds for a restore, a snapshot,
            # ...) on the emulator's clock: FLEETCRYPT_SIM_TIME_SCALE (as the
            # emulator fixture sets it), else none: a test that sets its own
            # time scale keeps the plan without floors (env_extra may say)
            "FLEETCRYPT_POLL_FLOOR_SCALE": os.environ.get("FLEETCRYPT_SIM_TIME_SCALE") or "0",
            "FLEETCRYPT_LOG_LEVEL": "info",
        })
        if (sim.info or {}).get("rds_ca_bundle"):
            # the product's default sslmode=verify-full, against the emulated RDS CA
            env["FLEETCRYPT_RDS_CA_BUNDLE"] = sim.info["rds_ca_bundle"]
        env.update(env_extra or {})
        self.env = env

    # ------------------------------------------------------------ processes
    def _proc(self, name, binary):
        self.seq += 1
        env = dict(self.env, FLEETCRYPT_NODE_ID=f"{name}-{self.seq}")
        return Proc([os.path.join(BIN_DIR, binary)], os.path.join(self.logs, f"{name}-{self.seq}.log"), env=env)

    def start_worker(self):
        p = self._proc("worker", "fleetcrypt-worker")
        self.workers.append(p)
        return p

    def start_coordinator(self):
        p = self._proc("coordinator", "fleetcrypt-coordinator")
        self.coordinators.append(p)
        return p

    def start(self):
        for _ in range(self.n_workers):
            self.start_worker()
        self.start_coordinator()
        time.sleep(0.5)
        for p in self.workers + self.coordinators:
            assert p.alive(), f"{p.argv[0]} exited at start:\n{p.tail()}"
        return self

    def live_workers(self):
        return [w for w in self.workers if w.alive()]

    def kill_worker(self, w=None):
        w = w or random.choice(self.live_workers())
        os.kill(w.pid, signal.SIGKILL)
        w.p.wait(timeout=10)
        w.log.close()
        return w

    def restart_coordinator(self, hard=False):
        for c in self.coordinators:
            if c.alive():
                if hard:
                    c.kill()
                else:
                    c.stop()
        return self.start_coordinator()

    def restart_redis(self, hard=False):
        if hard:
            self.redis.kill()
        else:
            self.redis.stop()
        port = self.redis.port
        self.redis = RedisServer(self.world, port=port).start()

    def stop(self):
        # SIGTERM every process first so their graceful shutdowns (Kafka group
        # leave, in-flight steps) overlap instead of adding up
        for p in self.workers + self.coordinators:
            p.signal(signal.SIGTERM)
        for p in self.workers + self.coordinators:
            try:
                p.stop(timeout=30)
            except Exception:  # noqa: BLE001 - keep tearing down
                p.kill()
        self.kafka.stop()
        self.redis.stop()

    # ------------------------------------------------------------ CLI
    def cli(self, *args, stdin=None, check=False, timeout=120, env=None):
        r = subprocess.run([os.path.join(BIN_DIR, "fleetcrypt")] + [str(a) for a in args],
                           env=dict(self.env, **env) if env else self.env,
                           input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"fleetcrypt {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
        return r

    def status(self, campaign):
        r = self.cli("status", campaign, "--json", check=True)
        return json.loads(r.stdout)

    def wait_campaign(self, campaign, timeout, on_tick=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.status(campaign)
            except AssertionError:
                last = None  # Redis restarting
            if last and last["state"] == "done":
                return last
            if on_tick:
                on_tick(last)
            time.sleep(1)
        raise AssertionError(f"campaign {campaign} not done after {timeout}s: {json.dumps(last)}\n"
                             + self.diagnostics())

    def until_terminal(self, campaign, timeout, interval=1.0):
        """Wait until every instance of the campaign is terminal, starting a
        new worker for every one that died (a crash point killed it); returns
        (status, workers replaced)."""
        deadline = time.monotonic() + timeout
        replaced = set()
        while time.monotonic() < deadline:
            for w in list(self.workers):
                if id(w) not in replaced and not w.alive():
                    replaced.add(id(w))
                    self.start_worker()
            try:
                st = self.status(campaign)
            except AssertionError:
                st = None  # Redis restarting
            if st and all(i["state"] in ("done", "failed", "skipped", "aborted") for i in st["instances"]):
                return st, len(replaced)
            time.sleep(interval)
        raise AssertionError(f"campaign {campaign} not terminal in {timeout}s:\n{self.diagnostics()}")

    def submit_noop(self, campaign, ids, max_parallel):
        """Submit a `noop` campaign of ids (nothing asks AWS); asserts that the CLI succeeded."""
        r = self.cli("submit", f"--campaign={campaign}", "--kms-key", "alias/none", "--strategy", "noop",
                     "--max-parallel", str(max_parallel), "--yes", "-", stdin="\n".join(ids) + "\n")
        assert r.returncode == 0, r.stderr
        return r

    def wait_done_count(self, campaign, n, timeout, what):
        """The campaign's status once at least n of its instances are done."""
        def enough():
            st = self.status(campaign)
            return st if st["counts"].get("done", 0) >= n else None
        return wait_until(enough, timeout, 0.5, what)

    def lease_key(self, campaign, instance):
        return f"{self.env['FLEETCRYPT_KEY_PREFIX']}:{{{campaign}}}:lease:{instance}"

    def hold_leases(self, campaign, ids, ms):
        """Hold the instance leases of ids for ms, as another worker would."""
        for i in ids:
            self.redis.cli("SET", self.lease_key(campaign, i), "held-by-the-test", "PX", str(ms))

    def release_leases(self, campaign, ids):
        for i in ids:
            self.redis.cli("DEL", self.lease_key(campaign, i))

    def diagnostics(self):
        out = []
        for p in self.coordinators[-1:] + self.workers[-2:]:
            out.append(f"--- {p.log_path}\n{p.tail(25)}")
        return "\n".join(out)

    # ------------------------------------------------------------ emulator helpers
    def make_key(self, alias=None):
        kms = self.sim.client("kms")
        key = kms.create_key(Description="fleetcrypt test key")["KeyMetadata"]
        if alias:
            kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return key

    def make_instances(self, ids, real=(), storage=20):
        rds = self.sim.client("rds")
        for i in ids:
            tags = [] if i in real else [META_TAG]
            rds.create_db_instance(DBInstanceIdentifier=i, Engine="postgres", DBInstanceClass="db.t3.micro",
                                   AllocatedStorage=storage, MasterUsername="app",
                                   MasterUserPassword="app-password-1", StorageEncrypted=False,
                                   Tags=tags + [{"Key": "team", "Value": "orch"}])
        for i in ids:
            self.sim.wait_instance(i, "available", timeout=120, rds=rds)

    def calls(self):
        return self.sim.admin("GET", "/calls")["calls"]


def verdicts(stdout):
    """A dry run's verdict lines (`<id> ok|skipped|failed <why>`) as {id: (verdict, why)}."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in ("ok", "skipped", "failed"):
            out[parts[0]] = (parts[1], parts[2])
    return out


def make_stack(world, sim, **kw):
    return Stack(world, sim, **kw)


@pytest.fixture
def stack(world, awssim):
    s = Stack(world, awssim)
    try:
        yield s
    finally:
        s.stop()
