"""The emulator's state: per (account, region) stores of plain-dict records,
credentials, background operations, events, endpoints and persistence."""
import json
import logging
import os
import secrets
import string
import threading
import time
import traceback
import uuid

from .clock import Clock, ShuttingDown
from .faults import Faults
from .proxy import ProxyHub

log = logging.getLogger("awssim")

DEFAULT_ACCESS_KEY = "AKIAFLEETCRYPTLOCAL1"
DEFAULT_SECRET_KEY = "fleetcrypt/local/emulator/secret/key0000"

# the built-in second account (--target-account-id): its own credentials and
# the role the first account's principals may assume with the external id
TARGET_ACCESS_KEY = "AKIAFLEETCRYPTTARGET"
TARGET_SECRET_KEY = "fleetcrypt/local/emulator/target/key0000"
TARGET_ROLE_NAME = "fleetcrypt-target"
TARGET_EXTERNAL_ID = "fleetcrypt-local-external-id"

STATE_VERSION = 1

READER_HOST = "127.0.0.2"   # Aurora reader endpoints (see reader_endpoint)
# instance identifiers' own addresses (endpoint_address); the emulated RDS
# CA's server certificates name each of them (tls.SERVER_NAMES)
ADDRESS_POOL = tuple(f"127.1.0.{i}" for i in range(1, 255))
LOOPBACK = "127.0.0.1"


def rand_upper(n):
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def rand_alnum(n):
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def new_store(account, region):
    return {"account": account, "region": region, "instances": {}, "snapshots": {},
            "param_groups": {}, "keys": {}, "aliases": {}, "secrets": {}, "proxies": {},
            "endpoints": {}, "events": [], "subnet_groups": {}, "clusters": {}, "cluster_snapshots": {},
            "cluster_param_groups": {}, "endpoint_addrs": {}}


class World:
    def __init__(self, cfg):
        self.cfg = cfg
        self.home = cfg.home
        self.lock = threading.RLock()
        self.clock = Clock(cfg.time_scale)
        self.faults = Faults()
        self.hub = ProxyHub()
        self.stores = {}
        self.creds = {}
        self.temp_creds = {}
        self.roles = {}          # role ARN -> iam.role_record (iam.py); persisted
        self.sso_tokens = {}     # SSO portal access token -> [assignment]; sso.py (kept in memory only)
        self.sso_refresh = {}    # SSO OIDC refresh token -> its client and access token; sso.py (memory only)
        self.ops = set()
        self.ops_lock = threading.Lock()
        self.dirty = threading.Event()
        self.pg = None           # PgManager, set by main unless metadata-only
        self.my = None           # mysql.MysqlManager (engines mysql, mariadb), set by main unless metadata-only
        self.state_path = os.path.join(self.home, "state.json")
        self.add_credentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, cfg.account_id)
        self.started = time.time()

    # ------------------------------------------------------------ credentials
    def srv(self, inst):
        """The manager of an instance's real server: MariaDB for engines mysql
        and mariadb and Aurora MySQL members, PostgreSQL otherwise."""
        return self.my if inst.get("engine") in ("mysql", "mariadb", "aurora-mysql") else self.pg

    def add_credentials(self, ak, sk, account, arn=None):
        self.creds[ak] = {"secret": sk, "account": account,
                          "arn": arn or f"arn:aws:iam::{account}:user/fleetcrypt-local",
                          "user_id": "AIDA" + rand_upper(17)}

    def lookup_key(self, ak):
        c = self.creds.get(ak)
        if c:
            return dict(c, token=None, temp=False)
        with self.lock:
            t = self.temp_creds.get(ak)
        if t:
            return dict(t, temp=True)
        return None

    # ------------------------------------------------------------ stores
    def store(self, account, region):
        key = f"{account}/{region}"
        with self.lock:
            s = self.stores.get(key)
            if s is None:
                s = self.stores[key] = new_store(account, region)
            return s

    def all_stores(self):
        with self.lock:
            return list(self.stores.values())

    # ------------------------------------------------------------ events
    def event(self, store, source_type, source_id, message, categories=(), arn=None):
        with self.lock:
            store["events"].append({"SourceIdentifier": source_id, "SourceType": source_type,
                                    "Message": message, "EventCategories": list(categories),
                                    "Date": time.time(), "SourceArn": arn})
            if len(store["events"]) > 20000:
                del store["events"][:2000]
        self.mark_dirty()

    # ------------------------------------------------------------ background operations
    def spawn(self, name, fn, *args, on_error=None):
        def run():
            try:
                fn(*args)
            except ShuttingDown:
                log.info("op %s interrupted by shutdown", name)
            except Exception as e:  # noqa: BLE001
                log.error("op %s failed: %s\n%s", name, e, traceback.format_exc())
                if on_error:
                    try:
                        with self.lock:
                            on_error(e)
                    except Exception:  # noqa: BLE001
                        log.error("on_error for %s failed: %s", name, traceback.format_exc())
            finally:
                with self.ops_lock:
                    self.ops.discard(t)
                self.mark_dirty()
        t = threading.Thread(target=run, name=name, daemon=True)
        with self.ops_lock:
            self.ops.add(t)
        t.start()
        return t

    def pace(self, aws_seconds, t0, progress=None):
        """Finish a modelled duration of `aws_seconds` that started at monotonic t0
        (real work already done counts towards it)."""
        sc = self.clock.scale
        if sc <= 0:
            if progress:
                progress(1.0)
            return
        done = (time.monotonic() - t0) / sc
        rest = aws_seconds - done
        if rest <= 0:
            if progress:
                progress(1.0)
            return
        base = done / aws_seconds if aws_seconds else 1.0
        self.clock.sleep(rest, (lambda f: progress(base + (1 - base) * f)) if progress else None)

    # ------------------------------------------------------------ endpoints
    def endpoint_port(self, store, name, kind="db"):
        """The stable loopback port of identifier `name` (allocated once, persisted)."""
        key = f"{kind}:{name}"
        with self.lock:
            port = store["endpoints"].get(key)
            ep = self.hub.get(port) if port else None
            if ep is None:
                try:
                    ep = self.hub.open(port or 0, key)
                except OSError as e:
                    log.error("cannot listen on endpoint port %s for %s: %s; allocating a new one", port, key, e)
                    ep = self.hub.open(0, key)
                store["endpoints"][key] = ep.port
                self.mark_dirty()
            if kind in ("db", "cluster") and self.own_addresses:
                self._own_address(store, key, ep, name)
            return ep.port

    @property
    def own_addresses(self):
        return getattr(self.cfg, "endpoint_addresses", "own") == "own"

    def endpoint_address(self, store, name, kind="db"):
        """Instance identifier `name`'s Endpoint.Address (kind "cluster": an
        Aurora cluster's writer Endpoint): its own address in 127.1.0.0/24,
        allocated once and persisted (as RDS gives each instance and cluster
        its own host name); 127.0.0.1 with --endpoint-addresses loopback or
        when the pool is used up. Its endpoint listens there on its port and
        on the instance's (cluster's) Port (asked for or inherited, default
        5432); the port on 127.0.0.1 keeps listening too (tools that predate
        the addresses)."""
        self.endpoint_port(store, name, kind)
        with self.lock:
            rec = store.get("endpoint_addrs", {}).get(f"{kind}:{name}")
            return rec[0] if rec else "127.0.0.1"

    def endpoint_addresses(self):
        """Every allocated address (the DNS server answers A for each)."""
        with self.lock:
            return {rec[0] for st in self.stores.values() for rec in st.get("endpoint_addrs", {}).values()}

    def _own_address(self, store, key, ep, name):
        addrs = store.setdefault("endpoint_addrs", {})
        rec = addrs.get(key)
        if rec and (ep.extra or rec[0] == LOOPBACK):
            return
        if key.startswith("cluster:"):
            dbport = (rec[1] if rec else None) or (store.get("clusters", {}).get(name) or {}).get("port") or 5432
        else:
            inst = store["instances"].get(name)
            dbport = (rec[1] if rec else None) or (inst or {}).get("requested_port") or 5432
        used = {r[0] for st in self.stores.values() for k, r in st.get("endpoint_addrs", {}).items()
                if r is not rec}
        for addr in ([rec[0]] if rec else []) + [a for a in ADDRESS_POOL if a not in used]:
            try:
                for port in dict.fromkeys((ep.port, dbport)):
                    self.hub.listen_also(ep, addr, port)
            except OSError as e:
                log.info("endpoint %s: %s:%s busy (%s); trying another address", key, addr, dbport, e)
                self.hub.unlisten_extra(ep)
                continue
            if rec != [addr, dbport]:
                addrs[key] = [addr, dbport]
                self.mark_dirty()
            return
        # kept: an endpoint's address never changes (RDS's does not), so a
        # later look, once the pool has room, must not move it
        addrs[key] = [LOOPBACK, dbport]
        self.mark_dirty()
        log.warning("endpoint %s: no address of %s free; it stays on 127.0.0.1 for good", key, "127.1.0.0/24")

    def endpoint(self, store, name, kind="db"):
        return self.hub.get(self.endpoint_port(store, name, kind))

    def reader_endpoint(self, store, cluster_id):
        """An Aurora cluster's reader endpoint: the cluster endpoint's port on
        127.0.0.2 (DBCluster has one Port; ReaderEndpoint is another address)."""
        port = self.endpoint_port(store, cluster_id, "cluster")
        with self.lock:
            ep = self.hub.get((READER_HOST, port))
            if ep is None:
                ep = self.hub.open(port, f"cluster-ro:{cluster_id}", READER_HOST)
            return ep

    # ------------------------------------------------------------ persistence
    def mark_dirty(self):
        self.dirty.set()

    def snapshot_state(self):
        with self.lock:
            return json.dumps({"version": STATE_VERSION, "saved": time.time(),
                               "stores": self.stores, "temp_creds": self.temp_creds,
                               "roles": self.roles,
                               "config": {"time_scale": self.clock.scale, **self.faults.config()},
                               "aws_clock": self.clock.aws_now()}, default=str)

    def save(self):
        data = self.snapshot_state()
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def load(self):
        if not os.path.exists(self.state_path):
            return False
        with open(self.state_path) as f:
            data = json.load(f)
        self.stores = data.get("stores", {})
        for st in self.stores.values():   # homes from before clusters were emulated
            for k, v in new_store(st["account"], st["region"]).items():
                st.setdefault(k, v)
        for arn, r in data.get("roles", {}).items():
            self.roles.setdefault(arn, r)
        now = time.time()
        self.temp_creds = {k: v for k, v in data.get("temp_creds", {}).items() if v.get("expiration", 0) > now}
        cfg = data.get("config", {})
        self.faults.apply(cfg)
        if self.cfg.time_scale_given is None and "time_scale" in cfg:
            self.clock.set_scale(cfg["time_scale"])
        self.clock.aws_offset = float(data.get("aws_clock", 0.0))
        return True

    def saver_loop(self):
        while not self.clock.stop_event.is_set():
            if self.dirty.wait(0.5):
                self.dirty.clear()
                try:
                    self.save()
                except Exception as e:  # noqa: BLE001
                    log.error("saving state failed: %s", e)
                time.sleep(0.2)


def new_uuid():
    return str(uuid.uuid4())
