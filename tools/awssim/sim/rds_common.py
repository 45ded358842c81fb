"""RDS: what every resource module shares. Constants (engine version, default
groups, stable states), modelled AWS durations, identifiers and ARNs, record
look-ups with RDS's not-found errors, the conflict detector, quotas, tags,
paging and filters. Imports no other RDS module."""
import base64
import re
import socket

from .errors import AwsError, invalid, missing


ENGINE_VERSION = "15.4"


FAMILY = "postgres15"


DEFAULT_PG = "default.postgres15"


DEFAULT_OG = "default:postgres-15"


# RDS for MySQL and RDS for MariaDB (a MariaDB 10.11 server behind both; see
# docs/emulator.md): engine -> (reported version, parameter group family,
# default parameter group, default option group, license model)
MY_ENGINES = {
    "mysql": ("8.0.36", "mysql8.0", "default.mysql8.0", "default:mysql-8-0", "general-public-license"),
    "mariadb": ("10.11.9", "mariadb10.11", "default.mariadb10.11", "default:mariadb-10-11", "general-public-license"),
}


def is_my(inst):
    """A MariaDB server behind it: RDS for MySQL / MariaDB, or an Aurora MySQL member."""
    return inst.get("engine") in MY_ENGINES or inst.get("engine") == AURORA_MY


def engine_of(inst):
    return inst.get("engine") or "postgres"


# Aurora PostgreSQL (rds_clusters): engine, cluster parameter group family and defaults
AURORA = "aurora-postgresql"


AURORA_FAMILY = "aurora-postgresql15"


DEFAULT_CPG = "default.aurora-postgresql15"


DEFAULT_AURORA_PG = "default.aurora-postgresql15"


DEFAULT_AURORA_OG = "default:aurora-postgresql-15"


# Aurora MySQL version 3 (MySQL 8.0 compatible; a MariaDB 10.11 server behind
# it, see docs/emulator.md): engine -> (reported version, cluster and
# instance parameter group family, default cluster group, default instance
# group, default option group, license model, default port)
AURORA_MY = "aurora-mysql"


CLUSTER_ENGINES = {
    AURORA: (ENGINE_VERSION, AURORA_FAMILY, DEFAULT_CPG, DEFAULT_AURORA_PG, DEFAULT_AURORA_OG, "postgresql-license",
             5432),
    AURORA_MY: ("8.0.mysql_aurora.3.05.2", "aurora-mysql8.0", "default.aurora-mysql8.0", "default.aurora-mysql8.0",
                "default:aurora-mysql-8-0", "general-public-license", 3306),
}


def cluster_engine(rec):
    """The engine of a cluster (or cluster snapshot) record."""
    return rec.get("engine") or AURORA


def is_my_cluster(rec):
    return cluster_engine(rec) == AURORA_MY


# Since 2026-02-18 AWS encrypts every new Aurora cluster at rest, by default
# with an AWS owned key (StorageEncryptionType sse-rds); see docs/emulator.md
DEFAULT_ENCRYPTION_SINCE = 1771372800.0   # 2026-02-18T00:00:00Z


CREATED_TAG = "fleetcrypt-sim:create-time"


META_TAG = "fleetcrypt-sim:metadata-only"


PROXY_PORT_TAG = "fleetcrypt-sim:endpoint-port"


STABLE = {"available", "stopped", "failed", "incompatible-parameters", "incompatible-restore",
          "storage-full", "inaccessible-encryption-credentials"}


SEVEN_DAYS = 7 * 86400


# modelled AWS durations: base seconds + seconds per GiB of AllocatedStorage
DUR = {"create": (240, 1.0), "backup": (60, 0.5), "snapshot": (60, 2.0), "copy": (120, 6.0),
       "restore": (300, 1.5), "modify": (45, 0), "rename": (60, 0), "reboot": (30, 0), "stop": (60, 0),
       "start": (120, 0), "delete": (60, 0), "proxy": (150, 0), "target": (20, 0), "replica": (300, 1.5),
       "dns_lag": (90, 0), "param_apply": (5, 0), "promote": (120, 0), "cluster_create": (120, 0),
       "cluster_delete": (60, 0), "failover": (30, 0), "cluster_restore": (240, 0), "cluster_snapshot": (60, 0),
       "cluster_copy": (120, 0)}


DUR_DEFAULT = dict(DUR)


def set_durations(d):
    """Admin POST /config {"durations": {kind: [base_s, per_gib_s], ...}}: change
    modelled durations (operations started afterwards; {} or null restores the
    defaults). Kept in memory only, like the call log."""
    if not d:
        DUR.clear()
        DUR.update(DUR_DEFAULT)
        return
    for k, v in d.items():
        if k not in DUR:
            raise ValueError(f"unknown duration {k}")
        base, per = (v, 0) if isinstance(v, (int, float)) else v
        DUR[k] = (max(0.0, float(base)), max(0.0, float(per)))


def durations():
    return {k: list(v) for k, v in DUR.items()}


def dur(kind, gb=0):
    base, per = DUR[kind]
    return base + per * float(gb or 0)


ID_RE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$")


def check_id(name, value, maxlen=63):
    if not value:
        raise missing(name)
    if not ID_RE.match(value) or value.endswith("-") or len(value) > maxlen:
        raise invalid(f"The parameter {name} is not a valid identifier. Identifiers must begin with a letter; "
                      "must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
                      "or contain two consecutive hyphens.")
    return value.lower()


def arn(store, kind, name):
    return f"arn:aws:rds:{store['region']}:{store['account']}:{kind}:{name}"


def ref_id(value, kind):
    """Accept an identifier or an RDS ARN of `kind` (db, snapshot, ...)."""
    if value and value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) >= 7 and parts[2] == "rds" and parts[5] == kind:
            return parts[6].lower()
        raise invalid(f"Invalid resource name: {value}")
    return (value or "").lower()


def inst_not_found(i):
    return AwsError("DBInstanceNotFound", f"DBInstance {i} not found.")


def snap_not_found(i):
    return AwsError("DBSnapshotNotFound", f"DBSnapshot {i} not found.")


def cluster_not_found(i):
    return AwsError("DBClusterNotFoundFault", f"DBCluster {i} not found.")


def csnap_not_found(i):
    return AwsError("DBClusterSnapshotNotFoundFault", f"DBClusterSnapshot {i} not found.")


def get_cluster(ctx, ident, param="DBClusterIdentifier"):
    if not ident:
        raise missing(param)
    i = ref_id(ident, "cluster")
    c = ctx.store["clusters"].get(i)
    if not c:
        raise cluster_not_found(i)
    ctx.resource = i
    return c


def other_account(ctx, ident):
    """An ARN naming another account's resource (not found in this account's store)."""
    if ident and ident.startswith("arn:"):
        parts = ident.split(":")
        return len(parts) > 4 and parts[4] != ctx.store["account"]
    return False


def get_csnap(ctx, ident, param="DBClusterSnapshotIdentifier"):
    if not ident:
        raise missing(param)
    if other_account(ctx, ident):
        raise csnap_not_found(ident)
    s = ref_id(ident, "cluster-snapshot")
    snap = ctx.store["cluster_snapshots"].get(s)
    if not snap:
        raise csnap_not_found(s)
    return snap


def cluster_by_rid(store, rid):
    for c in store["clusters"].values():
        if c["resource_id"] == rid:
            return c
    return None


def cluster_of(store, inst):
    """The cluster an instance is a member of, or None."""
    rid = inst.get("cluster")
    return cluster_by_rid(store, rid) if rid else None


def members_of(store, cluster):
    return [i for i in store["instances"].values() if i.get("cluster") == cluster["resource_id"]]


def writer_of(store, cluster):
    for i in members_of(store, cluster):
        if i["resource_id"] == cluster.get("writer"):
            return i
    return None


def get_inst(ctx, ident, param="DBInstanceIdentifier"):
    if not ident:
        raise missing(param)
    i = ref_id(ident, "db")
    inst = ctx.store["instances"].get(i)
    if not inst:
        raise inst_not_found(i)
    ctx.resource = i
    return inst


def get_snap(ctx, ident, param="DBSnapshotIdentifier"):
    if not ident:
        raise missing(param)
    if other_account(ctx, ident):
        raise snap_not_found(ident)
    s = ref_id(ident, "snapshot")
    snap = ctx.store["snapshots"].get(s)
    if not snap:
        raise snap_not_found(s)
    return snap


def note_conflict(ctx, kind, rtype, rid, detail):
    ctx.world.faults.conflict({"kind": kind, "resource_type": rtype, "resource": rid, "action": ctx.action,
                               "caller": ctx.access_key, "account": ctx.store["account"],
                               "region": ctx.store["region"], "in_progress": detail, "request_id": ctx.request_id})


def busy(ctx, inst):
    """Conflict detector: a mutating call while another operation runs on the instance."""
    if inst["status"] not in STABLE or inst.get("op"):
        note_conflict(ctx, "overlap", "db-instance", inst["id"],
                      {"status": inst["status"], "operation": inst.get("op")})
        return True
    return False


def require_status(ctx, inst, allowed, what=None):
    b = busy(ctx, inst)
    if inst["status"] not in allowed or (b and inst["status"] in STABLE):
        raise AwsError("InvalidDBInstanceState",
                       what or f"Instance {inst['id']} is not in available state.")


def quota(ctx, name):
    return ctx.world.faults.quotas.get(name, 10 ** 9)


def used_instances(store):
    return len(store["instances"])


def used_snapshots(store):
    return sum(1 for s in store["snapshots"].values() if s["type"] == "manual")


def used_cluster_snapshots(store):
    return sum(1 for s in store["cluster_snapshots"].values() if s["type"] == "manual")


def check_cluster_quota(ctx):
    if len(ctx.store["clusters"]) >= quota(ctx, "DBClusters"):
        raise AwsError("DBClusterQuotaExceededFault", "DB Cluster quota exceeded")


def check_cluster_snapshot_quota(ctx):
    if used_cluster_snapshots(ctx.store) >= quota(ctx, "ManualClusterSnapshots"):
        raise AwsError("SnapshotQuotaExceeded", "Cannot create more than "
                       f"{quota(ctx, 'ManualClusterSnapshots')} manual cluster snapshots")


def check_instance_quota(ctx):
    if used_instances(ctx.store) >= quota(ctx, "DBInstances"):
        raise AwsError("InstanceQuotaExceeded", "DB Instance quota exceeded")


def check_snapshot_quota(ctx):
    if used_snapshots(ctx.store) >= quota(ctx, "ManualSnapshots"):
        raise AwsError("SnapshotQuotaExceeded", "Cannot create more than "
                       f"{quota(ctx, 'ManualSnapshots')} manual snapshots")


def tags_in(p):
    out = []
    for t in p.get("Tags") or []:
        if "Key" not in t:
            raise invalid("Tag keys must not be empty")
        out.append({"Key": t["Key"], "Value": t.get("Value", "")})
    return out


def merge_tags(old, new):
    d = {t["Key"]: t.get("Value", "") for t in old}
    for t in new:
        d[t["Key"]] = t.get("Value", "")
    return [{"Key": k, "Value": v} for k, v in d.items()]


def is_meta(ctx, tags):
    if ctx.world.cfg.metadata_only:
        return True
    return any(t["Key"] == META_TAG and str(t.get("Value", "")).lower() == "true" for t in tags)


def paged(name, items, key, p, render, **kw):
    """One page of items as {name: [render(x)...], "Marker": ...} (see page)."""
    pg_, marker = page(items, key, p, **kw)
    out = {name: [render(x) for x in pg_]}
    if marker:
        out["Marker"] = marker
    return out


def page(items, key, p, lo=20, hi=100, default=100):
    mr = p.get("MaxRecords")
    if mr is None:
        mr = default
    elif mr < lo or mr > hi:
        raise invalid(f"Invalid value {mr} for MaxRecords. Must be between {lo} and {hi}")
    items = sorted(items, key=key)
    if p.get("Marker"):
        try:
            last = base64.urlsafe_b64decode(p["Marker"].encode()).decode()
        except Exception:
            raise invalid("Invalid marker") from None
        items = [x for x in items if str(key(x)) > last]
    out = items[:mr]
    marker = None
    if len(items) > mr:
        marker = base64.urlsafe_b64encode(str(key(out[-1])).encode()).decode()
    return out, marker


def filters(p, allowed):
    out = {}
    for f in p.get("Filters") or []:
        n = f.get("Name")
        if n not in allowed:
            raise invalid(f"Unrecognized filter name: {n}")
        out.setdefault(n, set()).update(v for v in (f.get("Values") or []))
    return out


def find_by_rid(store, rid):
    for i in store["instances"].values():
        if i["resource_id"] == rid:
            return i
    return None


def replicas_of(store, inst):
    return [i for i in store["instances"].values() if i.get("replica_of") == inst["resource_id"]]


def real(inst):
    return not inst.get("metadata_only")


def free_port():
    """A loopback TCP port nobody listens on now (a new server's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
