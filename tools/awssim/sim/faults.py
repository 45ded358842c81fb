"""Throttling, injected faults, quotas, the call log and the conflict detector."""
import random
import threading
import time

DEFAULT_RATE = 12.0     # RDS API: 12 requests/s per account and region
DEFAULT_BURST = 300


class TokenBucket:
    def __init__(self, rate, burst):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = float(burst)
        self.t = time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _matches(key, action, params):
    """Does an alternate key "Action?Param=Value" name this request?"""
    name, sep, cond = key.partition("?")
    if not sep or name != action or not params:
        return False
    param, _, value = cond.partition("=")
    return params.get(param) == value


def _turn(value):
    """An alternate value "kind" or "kind*N" -> (kind, N requests refused
    before one is served; 1 without *N), None when not one."""
    kind, sep, n = str(value).partition("*")
    if kind not in ("throttle", "5xx", "lost") or (sep and not (n.isdigit() and 1 <= int(n) <= 9)):
        return None
    return kind, int(n) if sep else 1


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rate = DEFAULT_RATE
        self.burst = DEFAULT_BURST
        self.rate_enabled = True
        self.buckets = {}
        self.http5xx_rate = 0.0
        self.throttle_rate = 0.0
        self.throttle_streak = 0    # deterministic: every call throttled this many times in a row, then served
        self.streak_n = 0
        self.latency_ms = 0
        # deterministic, per action: {action: "throttle" | "5xx" | "lost"};
        # that action's requests are refused and served in turn, the first
        # one refused, so every call a client retries once is refused once
        # and then served (one action's calls taken in sequence); "kind*N":
        # N refused in a row, then one served; "lost":
        # the refused request is carried out first and its answer replaced
        # by a 500 (AWS did it, the response was lost); {} for none
        self.alternate = {}
        self.alternate_n = {}
        # AWS behaviour not documented either way (docs/emulator.md): a
        # RestoreDBClusterFromSnapshot with KmsKeyId of a snapshot encrypted
        # with an AWS owned key is served ("allow", the default) or refused
        self.owned_key_restore = "allow"
        # tests' negative controls (docs/emulator.md): the Aurora MySQL
        # restore's "Binlog position from crash recovery" event exact (the
        # default), one transaction early or late, or sent twice; only for
        # restored clusters whose identifier contains binlog_event_for
        # (every one when it is "")
        self.binlog_event = "exact"
        self.binlog_event_for = ""
        self.quotas = {"DBInstances": 40, "ManualSnapshots": 100, "DBClusters": 40, "ManualClusterSnapshots": 100}
        self.rng = random.Random()
        self.calls = []
        self.max_calls = 200000
        self.conflicts = []

    # ---- config
    def config(self):
        with self.lock:
            return {"rate": {"rate": self.rate, "burst": self.burst, "enabled": self.rate_enabled},
                    "faults": {"http5xx_rate": self.http5xx_rate, "throttle_rate": self.throttle_rate,
                               "throttle_streak": self.throttle_streak, "latency_ms": self.latency_ms,
                               "alternate": dict(self.alternate)},
                    "quotas": dict(self.quotas), "owned_key_restore": self.owned_key_restore,
                    "binlog_event": self.binlog_event, "binlog_event_for": self.binlog_event_for}

    def apply(self, cfg):
        with self.lock:
            r = cfg.get("rate")
            if isinstance(r, dict):
                if "rate" in r:
                    self.rate = float(r["rate"])
                if "burst" in r:
                    self.burst = float(r["burst"])
                if "enabled" in r:
                    self.rate_enabled = bool(r["enabled"])
                self.buckets = {}
            f = cfg.get("faults")
            if isinstance(f, dict):
                if "http5xx_rate" in f:
                    self.http5xx_rate = max(0.0, min(1.0, float(f["http5xx_rate"])))
                if "throttle_rate" in f:
                    self.throttle_rate = max(0.0, min(1.0, float(f["throttle_rate"])))
                if "throttle_streak" in f:
                    self.throttle_streak = max(0, min(50, int(f["throttle_streak"])))
                    self.streak_n = 0
                if "latency_ms" in f:
                    self.latency_ms = max(0, int(f["latency_ms"]))
                if isinstance(f.get("alternate"), dict):
                    self.alternate = {str(a): k for a, k in f["alternate"].items() if _turn(k)}
                    self.alternate_n = {}
            if cfg.get("binlog_event") in ("exact", "early", "late", "twice"):
                self.binlog_event = cfg["binlog_event"]
            if isinstance(cfg.get("binlog_event_for"), str):
                self.binlog_event_for = cfg["binlog_event_for"]
            if cfg.get("owned_key_restore") in ("allow", "refuse"):
                self.owned_key_restore = cfg["owned_key_restore"]
            q = cfg.get("quotas")
            if isinstance(q, dict):
                for k, v in q.items():
                    self.quotas[k] = int(v)

    # ---- per request
    def admit(self, account, region, service, action=None, params=None):
        """-> (verdict, alternate key or None): verdict None, 'throttle',
        '5xx' or 'lost' (serve, then answer 500); the key when an alternate
        entry decided it. params: the request's Query parameters, for
        alternate keys "Action?Param=Value" (that action's requests with
        that parameter value only, their turns counted apart)."""
        with self.lock:
            key = next((k for k in self.alternate if k == action or _matches(k, action, params)), None)
            if key:
                kind, refused = _turn(self.alternate[key])
                n = self.alternate_n[key] = self.alternate_n.get(key, 0) + 1
                if n % (refused + 1):
                    return kind, key
            return self._random(account, region, service), None

    def _random(self, account, region, service):
        """The random faults and the token bucket (the lock held)."""
        if self.http5xx_rate and self.rng.random() < self.http5xx_rate:
            return "5xx"
        if self.throttle_rate and self.rng.random() < self.throttle_rate:
            return "throttle"
        if self.throttle_streak:
            self.streak_n += 1
            if self.streak_n % (self.throttle_streak + 1):
                return "throttle"
        if not self.rate_enabled:
            return None
        key = (account, region, service)
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = TokenBucket(self.rate, self.burst)
        return None if b.take() else "throttle"

    def latency(self):
        return self.latency_ms / 1000.0

    # ---- call log
    def log_call(self, entry):
        with self.lock:
            self.calls.append(entry)
            if len(self.calls) > self.max_calls:
                del self.calls[: len(self.calls) - self.max_calls]

    def get_calls(self, since=None, action=None, service=None):
        with self.lock:
            out = list(self.calls)
        if since is not None:
            out = [c for c in out if c["ts"] >= since]
        if action:
            out = [c for c in out if c["action"] == action]
        if service:
            out = [c for c in out if c["service"] == service]
        return out

    def clear_calls(self):
        with self.lock:
            self.calls = []

    # ---- conflicts
    def conflict(self, entry):
        entry.setdefault("ts", time.time())
        with self.lock:
            self.conflicts.append(entry)
            if len(self.conflicts) > 10000:
                del self.conflicts[:1000]

    def get_conflicts(self):
        with self.lock:
            return list(self.conflicts)

    def clear_conflicts(self):
        with self.lock:
            self.conflicts = []
