"""RDS (Query protocol): DB instances backed by real PostgreSQL servers,
snapshots (freeze copies), copies, restores, parameter groups, logs, events,
tags, quotas, read replicas and RDS Proxy.

Records are plain dicts in the per-account store (persisted as JSON). Every
action validates synchronously and returns; the work and the modelled AWS
duration run in a background operation that moves the resource through its
states.
"""
import base64
import logging
import os
import re
import shutil
import socket
import time

from . import kms, secrets as sm
from .errors import AwsError, combination, invalid, missing
from .pg import PgError, qlit
from .world import rand_alnum, rand_upper, new_uuid

log = logging.getLogger("awssim.rds")

ENGINE_VERSION = "15.4"
FAMILY = "postgres15"
DEFAULT_PG = "default.postgres15"
DEFAULT_OG = "default:postgres-15"
META_TAG = "fleetcrypt-sim:metadata-only"
PROXY_PORT_TAG = "fleetcrypt-sim:endpoint-port"
STABLE = {"available", "stopped", "failed", "incompatible-parameters", "incompatible-restore",
          "storage-full", "inaccessible-encryption-credentials"}
SEVEN_DAYS = 7 * 86400

# modelled AWS durations: base seconds + seconds per GiB of AllocatedStorage
DUR = {"create": (240, 1.0), "backup": (60, 0.5), "snapshot": (60, 2.0), "copy": (120, 6.0),
       "restore": (300, 1.5), "modify": (45, 0), "rename": (60, 0), "reboot": (30, 0), "stop": (60, 0),
       "start": (120, 0), "delete": (60, 0), "proxy": (150, 0), "target": (20, 0), "replica": (300, 1.5),
       "dns_lag": (90, 0), "param_apply": (5, 0), "promote": (120, 0)}


def dur(kind, gb=0):
    base, per = DUR[kind]
    return base + per * float(gb or 0)


# ----------------------------------------------------------------- parameters
# name: (default, apply type, data type, allowed values, description)
CATALOG = {
    "rds.logical_replication": ("0", "static", "boolean", "0,1", "Enables logical decoding (wal_level=logical)."),
    "max_replication_slots": ("20", "static", "integer", "5-262143", "Sets the maximum number of replication slots."),
    "max_wal_senders": ("20", "static", "integer", "5-262143", "Sets the maximum number of simultaneously running WAL sender processes."),
    "max_worker_processes": ("8", "static", "integer", "0-262143", "Sets the maximum number of concurrent worker processes."),
    "max_logical_replication_workers": ("4", "static", "integer", "0-262143", "Maximum number of logical replication worker processes."),
    "max_connections": ("100", "static", "integer", "6-8388607", "Sets the maximum number of concurrent connections."),
    "track_commit_timestamp": ("0", "static", "boolean", "0,1", "Collects transaction commit time."),
    "shared_preload_libraries": ("", "static", "list", "pg_stat_statements,pg_cron,pglogical", "Lists shared libraries to preload into server."),
    "log_min_messages": ("warning", "dynamic", "string", "debug5,debug4,debug3,debug2,debug1,info,notice,warning,error,log,fatal,panic", "Sets the message levels that are logged."),
    "log_statement": ("none", "dynamic", "string", "none,ddl,mod,all", "Sets the type of statements logged."),
    "log_min_duration_statement": ("-1", "dynamic", "integer", "-1-2147483647", "Minimum execution time above which statements will be logged."),
    "log_connections": ("0", "dynamic", "boolean", "0,1", "Logs each successful connection."),
    "log_disconnections": ("0", "dynamic", "boolean", "0,1", "Logs end of a session, including duration."),
    "log_checkpoints": ("1", "dynamic", "boolean", "0,1", "Logs each checkpoint."),
    "wal_sender_timeout": ("60000", "dynamic", "integer", "0-3600000", "Sets the maximum time to wait for WAL replication."),
    "wal_receiver_timeout": ("60000", "dynamic", "integer", "0-3600000", "Sets the maximum wait time to receive data from the primary."),
    "idle_in_transaction_session_timeout": ("86400000", "dynamic", "integer", "0-2147483647", "Sets the maximum allowed duration of any idling transaction."),
    "statement_timeout": ("0", "dynamic", "integer", "0-2147483647", "Sets the maximum allowed duration of any statement."),
    "max_slot_wal_keep_size": ("-1", "dynamic", "integer", "-1-2147483647", "Sets the maximum WAL size that can be reserved by replication slots."),
    "wal_keep_size": ("2048", "dynamic", "integer", "0-2147483647", "Sets the size of WAL files held for standby servers."),
    "work_mem": ("4096", "dynamic", "integer", "64-2147483647", "Sets the maximum memory to be used for query workspaces."),
    "maintenance_work_mem": ("65536", "dynamic", "integer", "1024-2147483647", "Sets the maximum memory to be used for maintenance operations."),
    "autovacuum": ("1", "dynamic", "boolean", "0,1", "Starts the autovacuum subprocess."),
    "rds.force_ssl": ("0", "dynamic", "boolean", "0,1", "Force SSL connections (not enforced by awssim)."),
    "password_encryption": ("scram-sha-256", "dynamic", "string", "md5,scram-sha-256", "Encrypt passwords."),
    "timezone": ("UTC", "dynamic", "string", "", "Sets the time zone for displaying and interpreting time stamps."),
    "session_replication_role": ("origin", "dynamic", "string", "origin,replica,local", "Sets the session's behavior for triggers and rewrite rules."),
    "synchronous_commit": ("on", "dynamic", "string", "local,on,off,remote_write,remote_apply", "Sets the current transaction's synchronization level."),
}
MIN_10 = {"max_replication_slots", "max_wal_senders"}


def group_params(store, name):
    g = store["param_groups"].get(name)
    return dict(g["params"]) if g else {}


def pg_settings(store, inst):
    """postgresql.conf settings for an instance from its parameter group."""
    params = {k: v[0] for k, v in CATALOG.items()}
    params.update(group_params(store, inst["param_group"]))
    out = {}
    for k, v in params.items():
        if k.startswith("rds."):
            continue
        if v in ("", None):
            continue
        if k in MIN_10:
            try:
                v = str(max(10, int(v)))
            except ValueError:
                pass
        out[k] = qlit(v)
    out["wal_level"] = "logical" if str(params.get("rds.logical_replication", "0")) in ("1", "on", "true") else "replica"
    return out


def static_params(store, name):
    p = {k: v[0] for k, v in CATALOG.items() if v[1] == "static"}
    p.update({k: v for k, v in group_params(store, name).items() if CATALOG.get(k, ("", "static"))[1] == "static"})
    return p


# ----------------------------------------------------------------- helpers
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# ----------------------------------------------------------------- rendering
def render_instance(ctx_or_world, store, inst):
    w = getattr(ctx_or_world, "world", ctx_or_world)
    st = store
    d = {
        "DBInstanceIdentifier": inst["id"], "DBInstanceClass": inst["class"], "Engine": "postgres",
        "DBInstanceStatus": inst["status"], "MasterUsername": inst["master_username"],
        "AllocatedStorage": inst["allocated_storage"], "PreferredBackupWindow": "03:00-03:30",
        "BackupRetentionPeriod": inst["backup_retention"], "DBSecurityGroups": [],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in inst["sg_ids"]],
        "DBParameterGroups": [{"DBParameterGroupName": inst["param_group"],
                               "ParameterApplyStatus": inst.get("param_status", "in-sync")}],
        "AvailabilityZone": inst["az"], "DBSubnetGroup": subnet_group(st, inst["subnet_group"]),
        "PreferredMaintenanceWindow": "sun:05:00-sun:05:30", "PendingModifiedValues": dict(inst.get("pending") or {}),
        "MultiAZ": inst["multi_az"], "EngineVersion": ENGINE_VERSION, "AutoMinorVersionUpgrade": True,
        "ReadReplicaDBInstanceIdentifiers": [r["id"] for r in replicas_of(st, inst)],
        "LicenseModel": "postgresql-license",
        "OptionGroupMemberships": [{"OptionGroupName": inst["option_group"], "Status": "in-sync"}],
        "PubliclyAccessible": inst.get("public", False), "StorageType": inst.get("storage_type", "gp2"),
        "DbInstancePort": 0, "StorageEncrypted": inst["encrypted"], "DbiResourceId": inst["resource_id"],
        "CACertificateIdentifier": "rds-ca-rsa2048-g1", "DomainMemberships": [],
        "CopyTagsToSnapshot": inst.get("copy_tags", False), "MonitoringInterval": 0,
        "DBInstanceArn": arn(st, "db", inst["id"]), "IAMDatabaseAuthenticationEnabled": False,
        "PerformanceInsightsEnabled": False, "DeletionProtection": inst.get("deletion_protection", False),
        "AssociatedRoles": [], "TagList": list(inst["tags"]), "CustomerOwnedIpEnabled": False,
        "ActivityStreamStatus": "stopped", "BackupTarget": "region", "NetworkType": "IPV4",
        "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": 1893456000.0},
    }
    if inst.get("db_name"):
        d["DBName"] = inst["db_name"]
    if inst["status"] != "creating" or inst.get("endpoint_ready"):
        d["InstanceCreateTime"] = inst["created"]
        d["Endpoint"] = {"Address": "127.0.0.1", "Port": w.endpoint_port(st, inst["id"]),
                         "HostedZoneId": "Z2R2ITUGPM61AM"}
        if inst["backup_retention"]:
            d["LatestRestorableTime"] = time.time() - 300
    if inst["encrypted"]:
        d["KmsKeyId"] = inst["kms_key_id"]
    src = inst.get("replica_of")
    if src:
        s = find_by_rid(st, src)
        if s:
            d["ReadReplicaSourceDBInstanceIdentifier"] = s["id"]
            d["ReplicaMode"] = "open-read-only"
    if inst.get("secret_arn"):
        d["MasterUserSecret"] = {"SecretArn": inst["secret_arn"], "SecretStatus": "active",
                                 "KmsKeyId": inst.get("secret_kms")}
    if inst["status"] == "stopped" and inst.get("auto_start_wall"):
        d["AutomaticRestartTime"] = inst["auto_start_wall"]
    return d


def subnet_group(store, name):
    name = name or "default"
    return {"DBSubnetGroupName": name, "DBSubnetGroupDescription": f"awssim subnet group {name}",
            "VpcId": "vpc-0a1b2c3d4e5f60718", "SubnetGroupStatus": "Complete",
            "Subnets": [{"SubnetIdentifier": f"subnet-0sim{z}", "SubnetAvailabilityZone": {"Name": f"{store['region']}{z}"},
                         "SubnetOutpost": {}, "SubnetStatus": "Active"} for z in "ab"],
            "SupportedNetworkTypes": ["IPV4"]}


def render_snapshot(store, s):
    d = {"DBSnapshotIdentifier": s["id"], "DBInstanceIdentifier": s["instance_id"],
         "Engine": "postgres", "AllocatedStorage": s["allocated_storage"], "Status": s["status"],
         "Port": s.get("port", 5432), "AvailabilityZone": s.get("az"), "VpcId": "vpc-0a1b2c3d4e5f60718",
         "InstanceCreateTime": s["instance_created"], "MasterUsername": s["master_username"],
         "EngineVersion": ENGINE_VERSION, "LicenseModel": "postgresql-license", "SnapshotType": s["type"],
         "OptionGroupName": s.get("option_group", DEFAULT_OG), "PercentProgress": int(s.get("progress", 0)),
         "StorageType": s.get("storage_type", "gp2"), "Encrypted": s["encrypted"],
         "DBSnapshotArn": arn(store, "snapshot", s["id"]), "IAMDatabaseAuthenticationEnabled": False,
         "ProcessorFeatures": [], "DbiResourceId": s["resource_id"], "TagList": list(s["tags"]),
         "SnapshotTarget": "region", "OriginalSnapshotCreateTime": s.get("original_created", s["created"])}
    if s["status"] != "creating" or s.get("progress", 0) > 0:
        d["SnapshotCreateTime"] = s["created"]
    if s["encrypted"]:
        d["KmsKeyId"] = s["kms_key_id"]
    if s.get("source_arn"):
        d["SourceDBSnapshotIdentifier"] = s["source_arn"]
        d["SourceRegion"] = store["region"]
    return d


def find_by_rid(store, rid):
    for i in store["instances"].values():
        if i["resource_id"] == rid:
            return i
    return None


def replicas_of(store, inst):
    return [i for i in store["instances"].values() if i.get("replica_of") == inst["resource_id"]]


# ----------------------------------------------------------------- endpoints
def sync_endpoint(world, store, name):
    """Point identifier `name`'s endpoint at the server that holds it now."""
    with world.lock:
        inst = store["instances"].get(name)
        target = None
        if inst and inst.get("pg") and inst["pg"].get("up"):
            target = inst["pg"]["port"]
        ep = world.endpoint(store, name)
    ep.set_target(target)
    sync_proxies(world, store)


def sync_proxies(world, store):
    with world.lock:
        todo = []
        for px in store["proxies"].values():
            target = None
            for t in px["targets"]:
                inst = find_by_rid(store, t["rid"])
                if inst and t.get("state") == "AVAILABLE" and inst.get("pg") and inst["pg"].get("up"):
                    target = inst["pg"]["port"]
                    break
            todo.append((world.endpoint(store, px["name"], "proxy"), target))
    for ep, target in todo:
        ep.set_target(target)


# ----------------------------------------------------------------- real servers
def inst_dir(world, inst):
    return os.path.join(world.home, "instances", inst["resource_id"])


def start_server(world, store, inst):
    """(Re)write the config and start the instance's server; mark it up."""
    pgm = world.pg
    d = inst["pg"]["dir"]
    port = inst["pg"].get("port") or free_port()
    with world.lock:
        settings = pg_settings(store, inst)
    try:
        pgm.configure(d, port, settings)
        pid = pgm.start(d, os.path.join(os.path.dirname(d), "startup.log"))
    except PgError:
        # the remembered port may be taken now: one more try on a fresh one
        port = free_port()
        pgm.configure(d, port, settings)
        pid = pgm.start(d, os.path.join(os.path.dirname(d), "startup.log"))
    with world.lock:
        inst["pg"].update({"port": port, "pid": pid, "up": True})
        inst["applied_static"] = static_params(store, inst["param_group"])
        inst["param_status"] = "in-sync"
    world.mark_dirty()
    sync_endpoint(world, store, inst["id"])


def stop_server(world, store, inst, mode="fast"):
    with world.lock:
        if inst.get("pg"):
            inst["pg"]["up"] = False
    sync_endpoint(world, store, inst["id"])
    if inst.get("pg") and inst["pg"].get("dir") and world.pg:
        world.pg.stop(inst["pg"]["dir"], mode)
    with world.lock:
        if inst.get("pg"):
            inst["pg"]["pid"] = None
    world.mark_dirty()


def real(inst):
    return not inst.get("metadata_only")


def set_status(world, store, inst, status, event=None, categories=()):
    with world.lock:
        inst["status"] = status
        if status in STABLE:
            inst["op"] = None
    if event:
        world.event(store, "db-instance", inst["id"], event, categories, arn(store, "db", inst["id"]))
    world.mark_dirty()


def fail_instance(world, store, inst, status="failed"):
    def on_error(e):
        inst["status"] = status
        inst["op"] = None
        inst["failure"] = str(e)[:500]
        store["events"].append({"SourceIdentifier": inst["id"], "SourceType": "db-instance",
                                "Message": f"DB instance failed: {str(e)[:300]}", "EventCategories": ["failure"],
                                "Date": time.time(), "SourceArn": arn(store, "db", inst["id"])})
    return on_error


# ----------------------------------------------------------------- operations
def op_create(world, store, inst, password, from_snapshot=None, replica_source=None):
    t0 = time.monotonic()
    gb = inst["allocated_storage"]
    kind = "restore" if from_snapshot else "replica" if replica_source else "create"
    if real(inst):
        d = os.path.join(inst_dir(world, inst), "data")
        with world.lock:
            inst["pg"] = {"dir": d, "port": inst.get("pg", {}).get("port") or free_port(), "up": False}
        if from_snapshot:
            world.pg.copy_tree(from_snapshot, d)
            world.pg.clean_copy(d, keep_logs=True)  # RDS keeps the source's old logs
            for f in ("standby.signal", "recovery.signal"):
                try:
                    os.unlink(os.path.join(d, f))
                except FileNotFoundError:
                    pass
            start_server(world, store, inst)
        elif replica_source:
            src_port = replica_source["pg"]["port"]
            if os.path.exists(d):
                shutil.rmtree(d)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            world.pg.chown(os.path.dirname(d))
            world.pg.run([os.path.join(world.pg.bin, "pg_basebackup"), "-h", world.pg.sockdir, "-p", str(src_port),
                          "-U", world.pg.superuser, "-D", d, "-X", "stream", "-R", "-c", "fast"], timeout=1800)
            world.pg.clean_copy(d)
            os.chmod(d, 0o700)
            open(os.path.join(d, "standby.signal"), "a").close()
            world.pg.chown(d, recursive=True)
            start_server(world, store, inst)
        else:
            world.pg.new_datadir(d)
            start_server(world, store, inst)
            world.pg.bootstrap(inst["pg"]["port"], inst["master_username"], password, inst.get("db_name"))
    with world.lock:
        inst["endpoint_ready"] = True
    world.pace(dur(kind, gb), t0)
    if from_snapshot:
        world.event(store, "db-instance", inst["id"],
                    f"DB instance restored from snapshot {inst.get('restored_from', '')}".strip(),
                    ["restoration"], arn(store, "db", inst["id"]))
    elif not replica_source:
        world.event(store, "db-instance", inst["id"], "DB instance created", ["creation"], arn(store, "db", inst["id"]))
    else:
        world.event(store, "db-instance", inst["id"], "Replication for the Read Replica resumed.",
                    ["read replica"], arn(store, "db", inst["id"]))
    if inst["backup_retention"] and not replica_source:
        set_status(world, store, inst, "backing-up", "Backing up DB instance", ["backup"])
        t1 = time.monotonic()
        world.pace(dur("backup", gb), t1)
        world.event(store, "db-instance", inst["id"], "Finished DB Instance backup", ["backup"],
                    arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")


def snapshot_data(world, store, inst, snap):
    """Copy the instance's data into the snapshot (freeze copy when running)."""
    if real(inst) and inst.get("pg", {}).get("dir") and os.path.exists(inst["pg"]["dir"]):
        dest = os.path.join(world.home, "snapshots", snap["uid"], "data")
        how = world.pg.freeze_copy(inst["pg"]["dir"], dest)
        with world.lock:
            snap["dir"] = dest
            snap["copy_method"] = how
            snap["metadata_only"] = False
    else:
        with world.lock:
            snap["metadata_only"] = True


def op_snapshot(world, store, inst, snap, then_status=None):
    t0 = time.monotonic()
    snapshot_data(world, store, inst, snap)

    def prog(f):
        snap["progress"] = int(f * 100)
    world.pace(dur("snapshot", snap["allocated_storage"]), t0, prog)
    with world.lock:
        snap["status"] = "available"
        snap["progress"] = 100
    world.event(store, "db-snapshot", snap["id"], "Manual snapshot created", ["creation"], arn(store, "snapshot", snap["id"]))
    if then_status and inst["status"] in ("backing-up",):
        set_status(world, store, inst, then_status)
    elif then_status is None and inst["status"] == "backing-up":
        set_status(world, store, inst, "available")
    world.mark_dirty()


def op_copy(world, store, src, snap):
    t0 = time.monotonic()
    world.event(store, "db-snapshot", snap["id"], f"Started copy of snapshot {src['id']} to {snap['id']}",
                ["notification"], arn(store, "snapshot", snap["id"]))
    if src.get("dir") and os.path.exists(src["dir"]):
        dest = os.path.join(world.home, "snapshots", snap["uid"], "data")
        world.pg.copy_tree(src["dir"], dest, link=True)
        with world.lock:
            snap["dir"] = dest
            snap["metadata_only"] = False
    else:
        snap["metadata_only"] = True

    def prog(f):
        snap["progress"] = int(f * 100)
    world.pace(dur("copy", snap["allocated_storage"]), t0, prog)
    if snap["encrypted"] and kms.key_state(world, store, snap["kms_key_id"]) != "Enabled":
        with world.lock:
            snap["status"] = "failed"
        world.event(store, "db-snapshot", snap["id"], "Snapshot copy failed: KMS key not accessible",
                    ["failure"], arn(store, "snapshot", snap["id"]))
        return
    with world.lock:
        snap["status"] = "available"
        snap["progress"] = 100
    world.event(store, "db-snapshot", snap["id"], f"Snapshot copy finished: {src['id']} copied to {snap['id']}",
                ["notification"], arn(store, "snapshot", snap["id"]))


def do_rename(world, store, inst, new, dns_lag):
    old = inst["id"]
    with world.lock:
        old_ep = world.endpoint(store, old)
        old_target = old_ep.effective()
        store["instances"].pop(old, None)
        inst["id"] = new
        store["instances"][new] = inst
        (inst.get("pending") or {}).pop("DBInstanceIdentifier", None)
        new_ep = world.endpoint(store, new)
    if dns_lag > 0:
        # RDS DNS lags both ways: the vacated name keeps reaching this server,
        # and the taken name keeps reaching whatever it reached before (a
        # cached record of the server that had it, even when that server was
        # renamed away moments ago), until the lag passes
        old_ep.pin(old_target, dns_lag)
        new_ep.pin(new_ep.effective() or new_ep.last_real, dns_lag)
    sync_endpoint(world, store, old)
    sync_endpoint(world, store, new)
    world.event(store, "db-instance", new, f"Renamed instance from {old} to {new}", ["notification"],
                arn(store, "db", new))


def op_modify(world, store, inst, changes):
    t0 = time.monotonic()
    scale = world.clock.scale
    if "rename" in changes:
        new = changes["rename"]
        set_status(world, store, inst, "renaming")
        world.pace(dur("rename"), t0)
        lag = dur("dns_lag") * scale
        do_rename(world, store, inst, new, lag)
        if scale > 0 and real(inst):
            set_status(world, store, inst, "rebooting")
            stop_server(world, store, inst)
            start_server(world, store, inst)
            world.event(store, "db-instance", inst["id"], "DB instance restarted", ["availability"],
                        arn(store, "db", inst["id"]))
    if changes.get("rotate"):
        rec = store["secrets"].get(inst.get("secret_arn"))
        if rec:
            sm.rotate_managed(world, store, rec)
            world.event(store, "db-instance", inst["id"], "Reset master credentials", ["configuration change"],
                        arn(store, "db", inst["id"]))
    if "password" in changes and real(inst) and inst["pg"].get("up"):
        world.pg.set_password(inst["pg"]["port"], inst["master_username"], changes["password"])
        world.event(store, "db-instance", inst["id"], "Reset master credentials", ["configuration change"],
                    arn(store, "db", inst["id"]))
    if changes.get("other"):
        world.pace(dur("modify"), t0)
        world.event(store, "db-instance", inst["id"], "Finished applying modification to DB instance",
                    ["configuration change"], arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")


def op_reboot(world, store, inst):
    t0 = time.monotonic()
    if real(inst):
        stop_server(world, store, inst)
        start_server(world, store, inst)
    with world.lock:
        inst["param_status"] = "in-sync"
        inst["applied_static"] = static_params(store, inst["param_group"])
    world.pace(dur("reboot"), t0)
    set_status(world, store, inst, "available", "DB instance restarted", ["availability"])


def op_stop(world, store, inst, snap=None):
    t0 = time.monotonic()
    if snap:
        snapshot_data(world, store, inst, snap)
        with world.lock:
            snap["status"] = "available"
            snap["progress"] = 100
    if real(inst):
        stop_server(world, store, inst)
    world.pace(dur("stop"), t0)
    with world.lock:
        inst["stopped_at_aws"] = world.clock.aws_now()
        inst["auto_start_wall"] = time.time() + SEVEN_DAYS * max(world.clock.scale, 0) if world.clock.scale > 0 else None
    set_status(world, store, inst, "stopped", "DB instance stopped", ["notification"])


def op_start(world, store, inst, auto=False):
    t0 = time.monotonic()
    if auto:
        world.event(store, "db-instance", inst["id"], "DB instance is being started due to it exceeding the "
                    "maximum allowed time being stopped.", ["notification"], arn(store, "db", inst["id"]))
    if real(inst):
        start_server(world, store, inst)
        pw = inst.pop("pending_password", None)
        if pw:   # a managed secret rotated while the instance was stopped
            world.pg.set_password(inst["pg"]["port"], inst["master_username"], pw)
    world.pace(dur("start"), t0)
    with world.lock:
        inst["stopped_at_aws"] = None
        inst["auto_start_wall"] = None
    set_status(world, store, inst, "available", "DB instance started", ["notification"])


def apply_master_password(world, store, inst, password):
    """Set the master password as RDS does when it rotates the managed secret:
    at once on a running server, else when the instance next starts."""
    with world.lock:
        up = real(inst) and inst.get("pg", {}).get("up") and inst["status"] not in ("stopped", "stopping")
        if not up and real(inst):
            inst["pending_password"] = password
    if up:
        world.pg.set_password(inst["pg"]["port"], inst["master_username"], password)
    world.mark_dirty()


def force_auto_restart(world, store, inst):
    """Admin: the instance counts as stopped for 7 days from now on, so the
    housekeeping loop starts it within a second (as AWS does after 7 days)."""
    with world.lock:
        if inst["status"] != "stopped":
            return False
        inst["stopped_at_aws"] = world.clock.aws_now() - SEVEN_DAYS
    world.mark_dirty()
    return True


def op_delete(world, store, inst, final=None):
    t0 = time.monotonic()
    if final:
        snapshot_data(world, store, inst, final)
        with world.lock:
            final["status"] = "available"
            final["progress"] = 100
        world.event(store, "db-snapshot", final["id"], "Manual snapshot created", ["creation"],
                    arn(store, "snapshot", final["id"]))
    if real(inst):
        stop_server(world, store, inst, "immediate")
    world.pace(dur("delete"), t0)
    # promote read replicas of a deleted source
    for r in replicas_of(store, inst):
        with world.lock:
            r["replica_of"] = None
        if real(r) and r.get("pg", {}).get("up"):
            world.pg.pg_ctl("-D", r["pg"]["dir"], "promote", "-w", check=False)
    with world.lock:
        if store["instances"].get(inst["id"]) is inst:
            del store["instances"][inst["id"]]
        inst["deleted"] = True
        if inst.get("secret_arn"):
            store["secrets"].pop(inst["secret_arn"], None)
    sync_endpoint(world, store, inst["id"])
    shutil.rmtree(inst_dir(world, inst), ignore_errors=True)
    world.event(store, "db-instance", inst["id"], "DB instance deleted", ["deletion"], arn(store, "db", inst["id"]))


def op_promote(world, store, inst, retention):
    """PromoteReadReplica: the server leaves recovery (pg_ctl promote) and the
    instance no longer follows its source."""
    t0 = time.monotonic()
    if real(inst) and inst.get("pg", {}).get("up"):
        # check=False: after an emulator restart mid-promotion the server may already be promoted
        world.pg.pg_ctl("-D", inst["pg"]["dir"], "promote", "-w", "-t", "120", check=False)
    with world.lock:
        inst["replica_of"] = None
        inst["backup_retention"] = retention
    world.pace(dur("promote"), t0)
    world.event(store, "db-instance", inst["id"], "Read replica promoted to a standalone DB instance",
                ["read replica"], arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")


def op_param_apply(world, store, inst):
    t0 = time.monotonic()
    if real(inst) and inst.get("pg", {}).get("up"):
        with world.lock:
            settings = pg_settings(store, inst)
            settings.update({k: qlit(v) for k, v in inst.get("applied_static", {}).items()
                             if not k.startswith("rds.") and v not in ("", None)})
            settings["wal_level"] = ("logical" if str(inst.get("applied_static", {}).get("rds.logical_replication", "0"))
                                     in ("1", "on") else "replica")
        world.pg.configure(inst["pg"]["dir"], inst["pg"]["port"], settings)
        world.pg.reload(inst["pg"]["dir"])
    world.pace(dur("param_apply"), t0)
    with world.lock:
        if inst.get("param_status") == "applying":
            inst["param_status"] = "in-sync"
    world.mark_dirty()


def op_proxy_create(world, store, px):
    t0 = time.monotonic()
    world.pace(dur("proxy"), t0)
    with world.lock:
        px["status"] = "available"
        px["updated"] = time.time()
    world.mark_dirty()


def op_proxy_target(world, store, px, t):
    t0 = time.monotonic()
    world.pace(dur("target"), t0)
    with world.lock:
        if t in px["targets"]:
            t["state"] = "AVAILABLE"
    sync_proxies(world, store)
    world.mark_dirty()


# ----------------------------------------------------------------- actions: instances
def _sg(p):
    return list(p.get("VpcSecurityGroupIds") or []) or ["sg-0awssimdefault0001"]


def _check_pg(ctx, name):
    if name and name != DEFAULT_PG and name not in ctx.store["param_groups"]:
        raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")
    return name or DEFAULT_PG


def new_instance_record(ctx, ident, p, tags, meta):
    st = ctx.store
    return {"id": ident, "resource_id": "db-" + rand_upper(26), "class": p.get("DBInstanceClass") or "db.t3.micro",
            "status": "creating", "master_username": p.get("MasterUsername"), "db_name": p.get("DBName"),
            "allocated_storage": int(p.get("AllocatedStorage") or 20), "created": time.time(),
            "encrypted": False, "kms_key_id": None, "param_group": _check_pg(ctx, p.get("DBParameterGroupName")),
            "param_status": "in-sync", "sg_ids": _sg(p), "subnet_group": p.get("DBSubnetGroupName") or "default",
            "option_group": p.get("OptionGroupName") or DEFAULT_OG, "multi_az": bool(p.get("MultiAZ", False)),
            "backup_retention": int(p.get("BackupRetentionPeriod", 1) if p.get("BackupRetentionPeriod") is not None else 1),
            "az": p.get("AvailabilityZone") or f"{st['region']}a", "requested_port": p.get("Port") or 5432,
            "deletion_protection": bool(p.get("DeletionProtection", False)), "tags": tags, "metadata_only": meta,
            "copy_tags": bool(p.get("CopyTagsToSnapshot", False)), "public": bool(p.get("PubliclyAccessible", False)),
            "storage_type": p.get("StorageType") or "gp2", "pending": {}, "pg": {}, "op": "create",
            "applied_static": static_params(st, _check_pg(ctx, p.get("DBParameterGroupName")))}


def CreateDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBInstanceIdentifier", p.get("DBInstanceIdentifier"))
    ctx.resource = ident
    if (p.get("Engine") or "").lower() != "postgres":
        raise invalid(f"Invalid DB engine: {p.get('Engine')} (awssim emulates RDS for PostgreSQL only)")
    if not p.get("MasterUsername"):
        raise missing("MasterUsername")
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,62}$", p["MasterUsername"]) or p["MasterUsername"].lower() in ("rdsadmin",):
        raise invalid("MasterUsername is not valid for engine postgres")
    manage = bool(p.get("ManageMasterUserPassword"))
    pw = p.get("MasterUserPassword")
    if manage and pw:
        raise combination("You can't specify MasterUserPassword and ManageMasterUserPassword at the same time.")
    if not manage:
        if not pw:
            raise missing("MasterUserPassword")
        if len(pw) < 8 or len(pw) > 128 or any(c in pw for c in '/@" ') or not pw.isprintable():
            raise invalid("The parameter MasterUserPassword is not a valid password. Only printable ASCII "
                          "characters besides '/', '@', '\"', ' ' may be used.")
    gb = p.get("AllocatedStorage")
    if gb is None:
        raise invalid("The AllocatedStorage parameter is required for engine postgres")
    if gb < 20 or gb > 65536:
        raise invalid(f"Invalid storage size for engine name postgres and storage type gp2: {gb}")
    if p.get("KmsKeyId") and not p.get("StorageEncrypted"):
        raise combination("KmsKeyId is only valid with StorageEncrypted=true")
    br = p.get("BackupRetentionPeriod")
    if br is not None and (br < 0 or br > 35):
        raise invalid(f"Invalid backup retention period: {br}")
    tags = tags_in(p)
    with w.lock:
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {"status": st["instances"][ident]["status"]})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        check_instance_quota(ctx)
        inst = new_instance_record(ctx, ident, p, tags, is_meta(ctx, tags))
        if p.get("StorageEncrypted"):
            inst["encrypted"] = True
            inst["kms_key_id"] = kms.usable_key_arn(w, st, p.get("KmsKeyId") or "alias/aws/rds")
        if manage:
            pw = rand_alnum(28)
            skms = kms.usable_key_arn(w, st, p.get("MasterUserSecretKmsKeyId") or "alias/aws/secretsmanager")
            rec = sm.create_secret(w, st, f"rds!{inst['resource_id'].lower()}", sm.secret_json(p["MasterUsername"], pw),
                                   skms, f"Secret associated with primary RDS DB instance: {arn(st, 'db', ident)}",
                                   [{"Key": "aws:rds:primaryDBInstanceArn", "Value": arn(st, "db", ident)}],
                                   owning="rds")
            inst["secret_arn"] = rec["ARN"]
            inst["secret_kms"] = skms
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"create-{ident}", op_create, w, st, inst, pw, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def DescribeDBInstances(ctx, p):
    st = ctx.store
    f = filters(p, {"db-cluster-id", "db-instance-id", "dbi-resource-id", "domain", "engine"})
    with ctx.world.lock:
        if p.get("DBInstanceIdentifier"):
            items = [get_inst(ctx, p["DBInstanceIdentifier"])]
        else:
            items = list(st["instances"].values())
        if "db-instance-id" in f:
            ids = {ref_id(v, "db") for v in f["db-instance-id"]}
            items = [i for i in items if i["id"] in ids]
        if "dbi-resource-id" in f:
            items = [i for i in items if i["resource_id"] in f["dbi-resource-id"]]
        if "engine" in f:
            items = [i for i in items if "postgres" in f["engine"]]
        if "db-cluster-id" in f or "domain" in f:
            items = []
        out = paged("DBInstances", items, lambda i: i["id"], p, lambda i: render_instance(ctx, st, i))
    return out


def ModifyDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        b = busy(ctx, inst)
        if inst["status"] != "available" or b:
            raise AwsError("InvalidDBInstanceState", f"Database instance is not in available state.")
        apply_now = bool(p.get("ApplyImmediately", False))
        changes = {}
        new = p.get("NewDBInstanceIdentifier")
        if new:
            new = check_id("NewDBInstanceIdentifier", new)
            if new != inst["id"]:
                if new in st["instances"]:
                    raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
                if apply_now:
                    changes["rename"] = new
                else:
                    inst["pending"]["DBInstanceIdentifier"] = new
        if p.get("DBParameterGroupName"):
            name = _check_pg(ctx, p["DBParameterGroupName"])
            if name != inst["param_group"]:
                inst["param_group"] = name
                if static_params(st, name) != inst.get("applied_static") and real(inst):
                    inst["param_status"] = "pending-reboot"
                elif not real(inst):
                    inst["param_status"] = "pending-reboot"
        if p.get("VpcSecurityGroupIds") is not None:
            inst["sg_ids"] = _sg(p)
        if p.get("BackupRetentionPeriod") is not None:
            br = p["BackupRetentionPeriod"]
            if br < 0 or br > 35:
                raise invalid(f"Invalid backup retention period: {br}")
            inst["backup_retention"] = br
        if p.get("DeletionProtection") is not None:
            inst["deletion_protection"] = bool(p["DeletionProtection"])
        if p.get("CopyTagsToSnapshot") is not None:
            inst["copy_tags"] = bool(p["CopyTagsToSnapshot"])
        if p.get("PubliclyAccessible") is not None:
            inst["public"] = bool(p["PubliclyAccessible"])
        if p.get("RotateMasterUserPassword"):
            if not inst.get("secret_arn"):
                raise combination("RotateMasterUserPassword needs ManageMasterUserPassword turned on.")
            if not apply_now:
                raise combination("RotateMasterUserPassword needs ApplyImmediately.")
            changes["rotate"] = True
        if p.get("MasterUserPassword"):
            if inst.get("secret_arn"):
                raise combination("You can't specify MasterUserPassword for an instance with "
                                  "ManageMasterUserPassword turned on.")
            changes["password"] = p["MasterUserPassword"]
        for key, field in (("DBInstanceClass", "class"), ("AllocatedStorage", "allocated_storage"),
                           ("MultiAZ", "multi_az"), ("StorageType", "storage_type")):
            if p.get(key) is not None and p[key] != inst.get(field):
                if apply_now:
                    inst[field] = p[key]
                    changes["other"] = True
                else:
                    inst["pending"][key] = p[key]
        if p.get("OptionGroupName"):
            inst["option_group"] = p["OptionGroupName"]
        result = render_instance(ctx, st, inst)
        if changes:
            if "rename" in changes and w.clock.scale <= 0:
                # time scale 0: the rename is done before the call returns
                do_rename(w, st, inst, changes.pop("rename"), 0)
                result = render_instance(ctx, st, inst)
            if changes:
                inst["status"] = "renaming" if "rename" in changes else "modifying"
                inst["op"] = "modify"
                result = render_instance(ctx, st, inst)
                if "rename" in changes:
                    result["PendingModifiedValues"]["DBInstanceIdentifier"] = changes["rename"]
                w.spawn(f"modify-{inst['id']}", op_modify, w, st, inst, changes,
                        on_error=fail_instance(w, st, inst))
    w.mark_dirty()
    return {"DBInstance": result}


def RebootDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        require_status(ctx, inst, {"available", "incompatible-parameters"})
        inst["status"] = "rebooting"
        inst["op"] = "reboot"
        out = render_instance(ctx, st, inst)
    w.spawn(f"reboot-{inst['id']}", op_reboot, w, st, inst, on_error=fail_instance(w, st, inst, "incompatible-parameters"))
    return {"DBInstance": out}


def StopDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        require_status(ctx, inst, {"available"}, f"Instance {inst['id']} is not in available state.")
        if inst.get("replica_of"):
            raise AwsError("InvalidDBInstanceState", "Cannot stop a read replica instance.")
        if replicas_of(st, inst):
            raise AwsError("InvalidDBInstanceState", f"Cannot stop instance {inst['id']} because it has read replicas.")
        snap = None
        if p.get("DBSnapshotIdentifier"):
            sid = check_id("DBSnapshotIdentifier", p["DBSnapshotIdentifier"], 255)
            if sid in st["snapshots"]:
                raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with "
                               f"the identifier {sid} already exists.")
            check_snapshot_quota(ctx)
            snap = new_snapshot_record(ctx, sid, inst, [])
            st["snapshots"][sid] = snap
        inst["status"] = "stopping"
        inst["op"] = "stop"
        out = render_instance(ctx, st, inst)
    w.spawn(f"stop-{inst['id']}", op_stop, w, st, inst, snap, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def StartDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        require_status(ctx, inst, {"stopped"}, f"Instance {inst['id']} is not stopped, it is {inst['status']}.")
        if inst["encrypted"] and kms.key_state(w, st, inst["kms_key_id"]) != "Enabled":
            raise AwsError("KMSKeyNotAccessibleFault", "The KMS key of this instance is not accessible.")
        inst["status"] = "starting"
        inst["op"] = "start"
        out = render_instance(ctx, st, inst)
    w.spawn(f"start-{inst['id']}", op_start, w, st, inst, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def DeleteDBInstance(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        if busy(ctx, inst) or inst["status"] in ("deleting",):
            if inst["status"] not in STABLE | {"backing-up", "creating"}:
                raise AwsError("InvalidDBInstanceState", f"Instance {inst['id']} is already being deleted."
                               if inst["status"] == "deleting" else
                               f"Instance {inst['id']} is currently {inst['status']}; cannot delete.")
        if inst.get("deletion_protection"):
            raise combination("Cannot delete protected DB Instance, please disable deletion protection and try again.")
        skip = bool(p.get("SkipFinalSnapshot", False))
        fid = p.get("FinalDBSnapshotIdentifier")
        if skip and fid:
            raise combination("Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier")
        if not skip and not fid:
            raise combination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        final = None
        if fid:
            fid = check_id("FinalDBSnapshotIdentifier", fid, 255)
            if fid in st["snapshots"]:
                raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with "
                               f"the identifier {fid} already exists.")
            check_snapshot_quota(ctx)
            final = new_snapshot_record(ctx, fid, inst, inst["tags"] if inst.get("copy_tags") else [])
            st["snapshots"][fid] = final
        inst["status"] = "deleting"
        inst["op"] = "delete"
        out = render_instance(ctx, st, inst)
    w.spawn(f"delete-{inst['id']}", op_delete, w, st, inst, final, on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def CreateDBInstanceReadReplica(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBInstanceIdentifier", p.get("DBInstanceIdentifier"))
    with w.lock:
        src = get_inst(ctx, p.get("SourceDBInstanceIdentifier"), "SourceDBInstanceIdentifier")
        ctx.resource = ident
        busy(ctx, src)
        if src["status"] != "available":
            raise AwsError("InvalidDBInstanceState", f"Instance {src['id']} is not in available state.")
        if not src["backup_retention"]:
            raise AwsError("InvalidDBInstanceState", "Automated backups are not enabled for this database "
                           "instance. To enable automated backups, use ModifyDBInstance to set the backup "
                           "retention period to a non-zero value.")
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        check_instance_quota(ctx)
        tags = tags_in(p)
        q = dict(p, AllocatedStorage=src["allocated_storage"], MasterUsername=src["master_username"],
                 DBParameterGroupName=p.get("DBParameterGroupName") or src["param_group"],
                 BackupRetentionPeriod=0, DBName=src.get("db_name"))
        inst = new_instance_record(ctx, ident, q, tags, src.get("metadata_only") or is_meta(ctx, tags))
        inst["encrypted"], inst["kms_key_id"] = src["encrypted"], src["kms_key_id"]
        inst["replica_of"] = src["resource_id"]
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"replica-{ident}", op_create, w, st, inst, None, None, src if real(inst) else None,
            on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


def PromoteReadReplica(ctx, p):
    w, st = ctx.world, ctx.store
    br = p.get("BackupRetentionPeriod")
    if br is not None and (br < 0 or br > 35):
        raise invalid(f"Invalid backup retention period: {br}")
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        if not inst.get("replica_of"):
            raise AwsError("InvalidDBInstanceState", f"DB Instance {inst['id']} is not a read replica.")
        require_status(ctx, inst, {"available"}, f"Instance {inst['id']} is not in available state.")
        if br == 0 and replicas_of(st, inst):
            raise invalid("The backup retention period can't be 0 for a source of read replicas.")
        inst["status"] = "modifying"
        inst["op"] = "promote"
        out = render_instance(ctx, st, inst)
    w.spawn(f"promote-{inst['id']}", op_promote, w, st, inst, 1 if br is None else br,
            on_error=fail_instance(w, st, inst))
    return {"DBInstance": out}


# ----------------------------------------------------------------- actions: snapshots
def new_snapshot_record(ctx, sid, inst, tags):
    return {"id": sid, "uid": new_uuid(), "instance_id": inst["id"], "resource_id": inst["resource_id"],
            "type": "manual", "status": "creating", "progress": 0, "created": time.time(),
            "instance_created": inst["created"], "allocated_storage": inst["allocated_storage"],
            "master_username": inst["master_username"], "port": inst.get("requested_port", 5432),
            "az": inst["az"], "encrypted": inst["encrypted"], "kms_key_id": inst["kms_key_id"], "tags": tags,
            "option_group": inst["option_group"], "storage_type": inst.get("storage_type", "gp2"),
            "metadata_only": not real(inst), "db_name": inst.get("db_name"), "dir": None}


def CreateDBSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    sid = check_id("DBSnapshotIdentifier", p.get("DBSnapshotIdentifier"), 255)
    with w.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
        b = busy(ctx, inst)
        if inst["status"] not in ("available", "stopped") or b:
            raise AwsError("InvalidDBInstanceState", f"Cannot create a snapshot because the database instance "
                           f"{inst['id']} is not currently in the available state.")
        if sid in st["snapshots"]:
            note_conflict(ctx, "duplicate-create", "db-snapshot", sid, {"status": st["snapshots"][sid]["status"]})
            raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with the "
                           f"identifier {sid} already exists.")
        check_snapshot_quota(ctx)
        tags = tags_in(p)
        if inst.get("copy_tags"):
            tags = merge_tags(inst["tags"], tags)
        snap = new_snapshot_record(ctx, sid, inst, tags)
        st["snapshots"][sid] = snap
        then = None
        if inst["status"] == "available":
            inst["status"] = "backing-up"
            then = "available"
        world_event_args = (st, "db-snapshot", sid, "Creating manual snapshot", ["creation"], arn(st, "snapshot", sid))
        out = render_snapshot(st, snap)
    w.event(*world_event_args)
    w.spawn(f"snapshot-{sid}", op_snapshot, w, st, inst, snap, then, on_error=_fail_snap(w, st, snap, inst))
    ctx.resource = sid
    return {"DBSnapshot": out}


def _fail_snap(w, st, snap, inst=None):
    def on_error(e):
        snap["status"] = "failed"
        snap["failure"] = str(e)[:500]
        if inst is not None and inst["status"] == "backing-up":
            inst["status"] = "available"
    return on_error


def DescribeDBSnapshots(ctx, p):
    st = ctx.store
    f = filters(p, {"db-instance-id", "db-snapshot-id", "dbi-resource-id", "snapshot-type", "engine"})
    with ctx.world.lock:
        if p.get("DBSnapshotIdentifier"):
            items = [get_snap(ctx, p["DBSnapshotIdentifier"])]
        else:
            items = list(st["snapshots"].values())
        if p.get("DBInstanceIdentifier"):
            iid = ref_id(p["DBInstanceIdentifier"], "db")
            items = [s for s in items if s["instance_id"] == iid]
        if p.get("DbiResourceId"):
            items = [s for s in items if s["resource_id"] == p["DbiResourceId"]]
        if p.get("SnapshotType"):
            if p["SnapshotType"] not in ("automated", "manual", "shared", "public", "awsbackup"):
                raise invalid(f"Invalid snapshot type: {p['SnapshotType']}")
            items = [s for s in items if s["type"] == p["SnapshotType"]]
        if "db-instance-id" in f:
            ids = {ref_id(v, "db") for v in f["db-instance-id"]}
            items = [s for s in items if s["instance_id"] in ids]
        if "db-snapshot-id" in f:
            ids = {ref_id(v, "snapshot") for v in f["db-snapshot-id"]}
            items = [s for s in items if s["id"] in ids]
        if "dbi-resource-id" in f:
            items = [s for s in items if s["resource_id"] in f["dbi-resource-id"]]
        if "snapshot-type" in f:
            items = [s for s in items if s["type"] in f["snapshot-type"]]
        if "engine" in f:
            items = [s for s in items if "postgres" in f["engine"]]
        out = paged("DBSnapshots", items, lambda s: s["id"], p, lambda s: render_snapshot(st, s))
    return out


def CopyDBSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    if not p.get("SourceDBSnapshotIdentifier"):
        raise missing("SourceDBSnapshotIdentifier")
    tid = check_id("TargetDBSnapshotIdentifier", p.get("TargetDBSnapshotIdentifier"), 255)
    ctx.resource = tid
    with w.lock:
        src = get_snap(ctx, p["SourceDBSnapshotIdentifier"], "SourceDBSnapshotIdentifier")
        if src["status"] != "available":
            raise AwsError("InvalidDBSnapshotState", f"Snapshot {src['id']} is not in available state "
                           f"(it is {src['status']}).")
        if tid in st["snapshots"]:
            note_conflict(ctx, "duplicate-create", "db-snapshot", tid, {"status": st["snapshots"][tid]["status"]})
            raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with the "
                           f"identifier {tid} already exists.")
        if src["encrypted"]:
            kms.usable_key_arn(w, st, src["kms_key_id"])
        key = None
        if p.get("KmsKeyId"):
            key = kms.usable_key_arn(w, st, p["KmsKeyId"])
        elif src["encrypted"]:
            key = src["kms_key_id"]
        check_snapshot_quota(ctx)
        tags = tags_in(p)
        if p.get("CopyTags"):
            tags = merge_tags(src["tags"], tags)
        snap = dict(src, id=tid, uid=new_uuid(), status="creating", progress=0, created=time.time(),
                    original_created=src.get("original_created", src["created"]), type="manual", tags=tags,
                    encrypted=bool(key), kms_key_id=key, source_arn=arn(st, "snapshot", src["id"]), dir=None)
        if p.get("OptionGroupName"):
            snap["option_group"] = p["OptionGroupName"]
        st["snapshots"][tid] = snap
        out = render_snapshot(st, snap)
    w.spawn(f"copy-{tid}", op_copy, w, st, src, snap, on_error=_fail_snap(w, st, snap))
    return {"DBSnapshot": out}


def DeleteDBSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        snap = get_snap(ctx, p.get("DBSnapshotIdentifier"))
        ctx.resource = snap["id"]
        if snap["status"] not in ("available", "failed"):
            note_conflict(ctx, "overlap", "db-snapshot", snap["id"], {"status": snap["status"]})
            raise AwsError("InvalidDBSnapshotState", f"Cannot delete the snapshot because it is {snap['status']}.")
        del st["snapshots"][snap["id"]]
        out = render_snapshot(st, dict(snap, status="deleted"))
    if snap.get("dir"):
        d = os.path.dirname(snap["dir"])
        w.spawn(f"rmsnap-{snap['id']}", shutil.rmtree, d, True)
    w.event(st, "db-snapshot", snap["id"], "Deleted manual snapshot", ["deletion"], arn(st, "snapshot", snap["id"]))
    return {"DBSnapshot": out}


def RestoreDBInstanceFromDBSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBInstanceIdentifier", p.get("DBInstanceIdentifier"))
    if p.get("BackupRetentionPeriod") is not None:
        raise invalid("BackupRetentionPeriod is not a parameter of RestoreDBInstanceFromDBSnapshot")
    with w.lock:
        snap = get_snap(ctx, p.get("DBSnapshotIdentifier"))
        ctx.resource = ident
        if snap["status"] != "available":
            raise AwsError("InvalidDBSnapshotState", f"Snapshot {snap['id']} is not available.")
        if ident in st["instances"]:
            note_conflict(ctx, "duplicate-create", "db-instance", ident, {"status": st["instances"][ident]["status"]})
            raise AwsError("DBInstanceAlreadyExists", "DB instance already exists")
        if snap["encrypted"]:
            kms.usable_key_arn(w, st, snap["kms_key_id"])
        check_instance_quota(ctx)
        tags = tags_in(p)
        q = dict(p, AllocatedStorage=max(int(p.get("AllocatedStorage") or 0), snap["allocated_storage"]),
                 MasterUsername=snap["master_username"], BackupRetentionPeriod=1, DBName=snap.get("db_name"))
        meta = snap.get("metadata_only") or not snap.get("dir") or is_meta(ctx, tags)
        inst = new_instance_record(ctx, ident, q, tags, meta)
        inst["encrypted"], inst["kms_key_id"] = snap["encrypted"], snap["kms_key_id"]
        inst["restored_from"] = snap["id"]
        if p.get("StorageType") is None:
            inst["storage_type"] = snap.get("storage_type", "gp2")
        st["instances"][ident] = inst
        w.endpoint_port(st, ident)
        out = render_instance(ctx, st, inst)
    w.spawn(f"restore-{ident}", op_create, w, st, inst, None, None if meta else snap["dir"],
            on_error=fail_instance(w, st, inst, "incompatible-restore"))
    return {"DBInstance": out}


# ----------------------------------------------------------------- parameter groups
def _pg_record(st, name):
    if name == DEFAULT_PG:
        return {"name": DEFAULT_PG, "family": FAMILY, "description": "Default parameter group for postgres15",
                "params": {}}
    return st["param_groups"].get(name)


def _render_pg(st, g):
    return {"DBParameterGroupName": g["name"], "DBParameterGroupFamily": g["family"],
            "Description": g["description"], "DBParameterGroupArn": arn(st, "pg", g["name"])}


def DescribeDBParameterGroups(ctx, p):
    st = ctx.store
    filters(p, set())
    with ctx.world.lock:
        if p.get("DBParameterGroupName"):
            g = _pg_record(st, p["DBParameterGroupName"])
            if not g:
                raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {p['DBParameterGroupName']}")
            items = [g]
        else:
            items = [_pg_record(st, DEFAULT_PG)] + list(st["param_groups"].values())
        out = paged("DBParameterGroups", items, lambda g: g["name"], p, lambda g: _render_pg(st, g))
    return out


def DescribeDBParameters(ctx, p):
    st = ctx.store
    name = p.get("DBParameterGroupName")
    if not name:
        raise missing("DBParameterGroupName")
    with ctx.world.lock:
        g = _pg_record(st, name)
        if not g:
            raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")
        items = []
        for k, (default, apply_type, dtype, allowed, desc) in CATALOG.items():
            user = k in g["params"]
            v = g["params"].get(k, default)
            src = "user" if user else ("system" if k.startswith("rds.") or k in MIN_10 else "engine-default")
            d = {"ParameterName": k, "Description": desc, "Source": src, "ApplyType": apply_type,
                 "DataType": dtype, "AllowedValues": allowed, "IsModifiable": True,
                 "ApplyMethod": "pending-reboot" if apply_type == "static" else "immediate"}
            if v != "":
                d["ParameterValue"] = str(v)
            items.append(d)
        if p.get("Source"):
            if p["Source"] not in ("user", "system", "engine-default"):
                raise invalid(f"Invalid source: {p['Source']}")
            items = [i for i in items if i["Source"] == p["Source"]]
        return paged("Parameters", items, lambda i: i["ParameterName"], p, lambda i: i)


def CreateDBParameterGroup(ctx, p):
    st = ctx.store
    for k in ("DBParameterGroupName", "DBParameterGroupFamily", "Description"):
        if not p.get(k):
            raise missing(k)
    name = p["DBParameterGroupName"].lower()
    if not re.match(r"^[a-z][a-z0-9-]{0,254}$", name) or "--" in name or name.endswith("-"):
        raise invalid(f"The parameter DBParameterGroupName is not a valid identifier: {name}")
    if p["DBParameterGroupFamily"] != FAMILY:
        raise invalid(f"awssim supports DBParameterGroupFamily {FAMILY} only, not {p['DBParameterGroupFamily']}")
    ctx.resource = name
    with ctx.world.lock:
        if name in st["param_groups"] or name == DEFAULT_PG:
            raise AwsError("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists")
        g = {"name": name, "family": FAMILY, "description": p["Description"], "params": {},
             "tags": tags_in(p), "created": time.time()}
        st["param_groups"][name] = g
    return {"DBParameterGroup": _render_pg(st, g)}


def ModifyDBParameterGroup(ctx, p):
    w, st = ctx.world, ctx.store
    name = p.get("DBParameterGroupName")
    if not name:
        raise missing("DBParameterGroupName")
    params = p.get("Parameters")
    if not params:
        raise missing("Parameters")
    ctx.resource = name
    with w.lock:
        if name == DEFAULT_PG:
            raise AwsError("InvalidDBParameterGroupState", "Default parameter groups cannot be modified.")
        g = st["param_groups"].get(name)
        if not g:
            raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")
        new = {}
        for prm in params:
            k = prm.get("ParameterName")
            if not k or k not in CATALOG:
                raise invalid(f"Could not find parameter with name: {k}")
            if "ParameterValue" not in prm:
                raise invalid(f"Value for parameter {k} is missing")
            apply_type = CATALOG[k][1]
            method = prm.get("ApplyMethod") or ("pending-reboot" if apply_type == "static" else "immediate")
            if apply_type == "static" and method == "immediate":
                raise combination(f"cannot use immediate apply method for static parameter {k}")
            v = str(prm["ParameterValue"])
            if CATALOG[k][2] == "boolean" and v not in ("0", "1", "on", "off", "true", "false"):
                raise invalid(f"Invalid parameter value: {v} for: {k} allowed values are: 0,1")
            if CATALOG[k][2] == "integer":
                try:
                    int(v)
                except ValueError:
                    raise invalid(f"Invalid parameter value: {v} for: {k}") from None
            new[k] = v
        g["params"].update(new)
        dynamic_changed = any(CATALOG[k][1] == "dynamic" for k in new)
        todo = []
        for inst in st["instances"].values():
            if inst["param_group"] != name:
                continue
            if static_params(st, name) != inst.get("applied_static"):
                inst["param_status"] = "pending-reboot"
            elif dynamic_changed:
                inst["param_status"] = "applying"
            if dynamic_changed:
                todo.append(inst)
    for inst in todo:
        w.spawn(f"params-{inst['id']}", op_param_apply, w, st, inst)
    w.event(st, "db-parameter-group", name, "Updated parameter " + ", ".join(f"{k} to {v}" for k, v in new.items()),
            ["configuration change"], arn(st, "pg", name))
    return {"DBParameterGroupName": name}


# ----------------------------------------------------------------- logs
def _log_files(ctx, inst):
    if not real(inst) or not inst.get("pg", {}).get("dir") or not ctx.world.pg:
        return []
    return ctx.world.pg.log_files(inst["pg"]["dir"])


def DescribeDBLogFiles(ctx, p):
    with ctx.world.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
    files = _log_files(ctx, inst)
    if p.get("FilenameContains"):
        files = [f for f in files if p["FilenameContains"] in f["LogFileName"]]
    if p.get("FileLastWritten"):
        files = [f for f in files if f["LastWritten"] >= p["FileLastWritten"]]
    if p.get("FileSize"):
        files = [f for f in files if f["Size"] >= p["FileSize"]]
    return paged("DescribeDBLogFiles", files, lambda f: f["LogFileName"], p,
                 lambda f: {k: f[k] for k in ("LogFileName", "LastWritten", "Size")}, lo=1, hi=1000, default=1000)


MAX_PORTION = 1 << 20


def DownloadDBLogFilePortion(ctx, p):
    with ctx.world.lock:
        inst = get_inst(ctx, p.get("DBInstanceIdentifier"))
    name = p.get("LogFileName")
    if not name:
        raise missing("LogFileName")
    f = next((x for x in _log_files(ctx, inst) if x["LogFileName"] == name), None)
    if not f:
        raise AwsError("DBLogFileNotFoundFault", f"DBLog File: {name}, is not found on the DB instance")
    with open(f["path"], "rb") as fh:
        data = fh.read()
    n = p.get("NumberOfLines")
    marker = p.get("Marker")
    if marker is None and n is None:
        n, marker = 10000, None
    if marker is None:
        # the most recent N lines
        lines = data.splitlines(keepends=True)
        start = sum(len(x) for x in lines[:max(0, len(lines) - n)])
    else:
        try:
            start = int(marker.split(":")[-1])
        except ValueError:
            raise invalid(f"Invalid marker: {marker}") from None
        start = max(0, min(start, len(data)))
    rest = data[start:]
    lines = rest.splitlines(keepends=True)
    if n is not None:
        lines = lines[:n]
    chunk = b"".join(lines)
    if len(chunk) > MAX_PORTION:
        chunk = chunk[:MAX_PORTION]
    end = start + len(chunk)
    return {"LogFileData": chunk.decode("utf-8", "replace"), "Marker": str(end),
            "AdditionalDataPending": end < len(data)}


# ----------------------------------------------------------------- events
SOURCE_TYPES = {"db-instance", "db-parameter-group", "db-security-group", "db-snapshot", "db-cluster",
                "db-cluster-snapshot", "custom-engine-version", "db-proxy", "blue-green-deployment"}


def DescribeEvents(ctx, p):
    st = ctx.store
    now = time.time()
    end = p.get("EndTime") or now
    if p.get("StartTime") is not None:
        start = p["StartTime"]
    elif p.get("Duration") is not None:
        start = end - int(p["Duration"]) * 60
    else:
        start = now - 3600
    stype = p.get("SourceType")
    if stype and stype not in SOURCE_TYPES:
        raise invalid(f"Invalid source type: {stype}")
    sid = p.get("SourceIdentifier")
    if sid and not stype:
        raise invalid("SourceType must be specified with SourceIdentifier")
    cats = set(p.get("EventCategories") or [])
    with ctx.world.lock:
        evs = [dict(e, seq=i) for i, e in enumerate(st["events"])]
    out = []
    for e in evs:
        if not (start <= e["Date"] <= end):
            continue
        if stype and e["SourceType"] != stype:
            continue
        if sid and e["SourceIdentifier"] != sid.lower() and e["SourceIdentifier"] != sid:
            continue
        if cats and not cats.intersection(e["EventCategories"]):
            continue
        out.append(e)
    return paged("Events", out, lambda e: f"{e['seq']:012d}", p,
                 lambda e: {k: v for k, v in e.items() if k != "seq" and v is not None})


# ----------------------------------------------------------------- tags
def _tagged(ctx, name):
    if not name:
        raise missing("ResourceName")
    parts = name.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "rds":
        raise invalid(f"Invalid resource name: {name}")
    kind, rid = parts[5], parts[6]
    st = ctx.store
    if kind == "db":
        r = st["instances"].get(rid)
        if not r:
            raise inst_not_found(rid)
    elif kind == "snapshot":
        r = st["snapshots"].get(rid)
        if not r:
            raise snap_not_found(rid)
    elif kind == "pg":
        r = st["param_groups"].get(rid)
        if not r:
            raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {rid}")
        r.setdefault("tags", [])
    elif kind == "db-proxy":
        r = next((x for x in st["proxies"].values() if x["rid"] == rid), None)
        if not r:
            raise AwsError("DBProxyNotFoundFault", f"DBProxy {rid} not found")
    else:
        raise invalid(f"Unsupported resource type for tagging: {kind}")
    ctx.resource = rid
    return r


def AddTagsToResource(ctx, p):
    with ctx.world.lock:
        r = _tagged(ctx, p.get("ResourceName"))
        r["tags"] = merge_tags(r["tags"], tags_in(p))
    return {}


def ListTagsForResource(ctx, p):
    with ctx.world.lock:
        r = _tagged(ctx, p.get("ResourceName"))
        return {"TagList": list(r["tags"])}


def RemoveTagsFromResource(ctx, p):
    keys = set(p.get("TagKeys") or [])
    with ctx.world.lock:
        r = _tagged(ctx, p.get("ResourceName"))
        r["tags"] = [t for t in r["tags"] if t["Key"] not in keys]
    return {}


# ----------------------------------------------------------------- account
def DescribeAccountAttributes(ctx, p):
    st = ctx.store
    q = ctx.world.faults.quotas
    with ctx.world.lock:
        used = {"DBInstances": used_instances(st), "ManualSnapshots": used_snapshots(st),
                "AllocatedStorage": sum(i["allocated_storage"] for i in st["instances"].values()),
                "DBParameterGroups": len(st["param_groups"]), "ReadReplicasPerMaster": max(
                    [len(replicas_of(st, i)) for i in st["instances"].values()] or [0]),
                "DBProxies": len(st["proxies"])}
    maxes = {"DBInstances": q.get("DBInstances", 40), "ManualSnapshots": q.get("ManualSnapshots", 100),
             "AllocatedStorage": q.get("AllocatedStorage", 100000), "DBParameterGroups": q.get("DBParameterGroups", 50),
             "ReadReplicasPerMaster": 15, "DBProxies": 20, "DBSubnetGroups": 50, "OptionGroups": 20,
             "EventSubscriptions": 20, "ReservedDBInstances": 40, "DBSecurityGroups": 25,
             "AuthorizationsPerDBSecurityGroup": 20, "SubnetsPerDBSubnetGroup": 20, "DBClusters": 40,
             "DBClusterParameterGroups": 50, "ManualClusterSnapshots": 100}
    return {"AccountQuotas": [{"AccountQuotaName": k, "Used": used.get(k, 0), "Max": v} for k, v in maxes.items()]}


# ----------------------------------------------------------------- RDS Proxy
def _proxy(ctx, name):
    if not name:
        raise missing("DBProxyName")
    px = ctx.store["proxies"].get(name)
    if not px:
        raise AwsError("DBProxyNotFoundFault", f"DBProxy {name} not found.")
    ctx.resource = name
    return px


def render_proxy(ctx, st, px):
    return {"DBProxyName": px["name"], "DBProxyArn": arn(st, "db-proxy", px["rid"]), "Status": px["status"],
            "EngineFamily": px["engine_family"], "VpcId": "vpc-0a1b2c3d4e5f60718",
            "VpcSecurityGroupIds": px["sg_ids"], "VpcSubnetIds": px["subnets"], "Auth": px["auth"],
            "RoleArn": px["role_arn"], "Endpoint": "127.0.0.1", "RequireTLS": px["require_tls"],
            "IdleClientTimeout": px["idle"], "DebugLogging": px["debug"], "CreatedDate": px["created"],
            "UpdatedDate": px["updated"]}


def CreateDBProxy(ctx, p):
    w, st = ctx.world, ctx.store
    name = check_id("DBProxyName", p.get("DBProxyName"))
    for k in ("EngineFamily", "Auth", "RoleArn", "VpcSubnetIds"):
        if not p.get(k):
            raise missing(k)
    if p["EngineFamily"] != "POSTGRESQL":
        raise invalid(f"awssim supports EngineFamily POSTGRESQL only, not {p['EngineFamily']}")
    ctx.resource = name
    with w.lock:
        if name in st["proxies"]:
            raise AwsError("DBProxyAlreadyExistsFault", f"DBProxy {name} already exists.")
        rid = "prx-" + rand_alnum(17).lower()
        port = w.endpoint_port(st, name, "proxy")
        px = {"name": name, "rid": rid, "status": "creating", "engine_family": "POSTGRESQL",
              "sg_ids": list(p.get("VpcSecurityGroupIds") or ["sg-0awssimdefault0001"]),
              "subnets": list(p["VpcSubnetIds"]), "auth": p["Auth"], "role_arn": p["RoleArn"],
              "require_tls": bool(p.get("RequireTLS", False)), "idle": int(p.get("IdleClientTimeout") or 1800),
              "debug": bool(p.get("DebugLogging", False)), "created": time.time(), "updated": time.time(),
              "targets": [], "tags": merge_tags(tags_in(p), [{"Key": PROXY_PORT_TAG, "Value": str(port)}])}
        st["proxies"][name] = px
        out = render_proxy(ctx, st, px)
    w.spawn(f"proxy-{name}", op_proxy_create, w, st, px)
    return {"DBProxy": out}


def DescribeDBProxies(ctx, p):
    st = ctx.store
    filters(p, set())
    with ctx.world.lock:
        items = [_proxy(ctx, p["DBProxyName"])] if p.get("DBProxyName") else list(st["proxies"].values())
        out = paged("DBProxies", items, lambda x: x["name"], p, lambda x: render_proxy(ctx, st, x))
    return out


def DeleteDBProxy(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        px = _proxy(ctx, p.get("DBProxyName"))
        out = render_proxy(ctx, st, dict(px, status="deleting"))
        del st["proxies"][px["name"]]
        port = st["endpoints"].pop(f"proxy:{px['name']}", None)
    if port:
        w.hub.close_port(port)
    return {"DBProxy": out}


def _target_group(p):
    tg = p.get("TargetGroupName") or "default"
    if tg != "default":
        raise AwsError("DBProxyTargetGroupNotFoundFault", f"Target group {tg} not found (awssim has 'default' only).")
    return tg


def _render_target(ctx, st, px, t):
    inst = find_by_rid(st, t["rid"])
    iid = inst["id"] if inst else t.get("id")
    d = {"TargetArn": arn(st, "db", iid), "RdsResourceId": iid, "Type": "RDS_INSTANCE", "Role": "READ_WRITE",
         "TargetHealth": {"State": t["state"]}}
    if inst:
        d["Endpoint"] = "127.0.0.1"
        d["Port"] = ctx.world.endpoint_port(st, iid)
    if t["state"] != "AVAILABLE":
        d["TargetHealth"]["Description"] = "Target is being registered" if t["state"] == "REGISTERING" else "Target unavailable"
        if t["state"] == "UNAVAILABLE":
            d["TargetHealth"]["Reason"] = "CONNECTION_FAILED"
    return d


def RegisterDBProxyTargets(ctx, p):
    w, st = ctx.world, ctx.store
    if p.get("DBClusterIdentifiers"):
        raise invalid("awssim proxies support DB instance targets only")
    ids = p.get("DBInstanceIdentifiers") or []
    if not ids:
        raise missing("DBInstanceIdentifiers")
    with w.lock:
        px = _proxy(ctx, p.get("DBProxyName"))
        _target_group(p)
        if px["status"] != "available":
            raise AwsError("InvalidDBProxyStateFault", f"DBProxy {px['name']} is not available.")
        new = []
        for i in ids:
            inst = get_inst(ctx, i)
            ctx.resource = px["name"]
            if any(t["rid"] == inst["resource_id"] for t in px["targets"]):
                raise AwsError("DBProxyTargetAlreadyRegisteredFault", f"DB instance {inst['id']} is already registered.")
            if px["targets"] or len(ids) > 1:
                raise AwsError("DBProxyTargetAlreadyRegisteredFault", "Only one DB instance can be registered "
                               "as the target of a DB proxy target group; deregister the current target first.")
            if inst["status"] not in ("available", "backing-up", "modifying"):
                raise AwsError("InvalidDBInstanceState", f"DB instance {inst['id']} is not available.")
            t = {"rid": inst["resource_id"], "id": inst["id"], "state": "REGISTERING"}
            px["targets"].append(t)
            new.append(t)
        out = {"DBProxyTargets": [_render_target(ctx, st, px, t) for t in new]}
    for t in new:
        w.spawn(f"proxy-target-{px['name']}", op_proxy_target, w, st, px, t)
    return out


def DeregisterDBProxyTargets(ctx, p):
    w, st = ctx.world, ctx.store
    ids = p.get("DBInstanceIdentifiers") or []
    with w.lock:
        px = _proxy(ctx, p.get("DBProxyName"))
        _target_group(p)
        for i in ids:
            iid = ref_id(i, "db")
            inst = st["instances"].get(iid)
            rid = inst["resource_id"] if inst else None
            t = next((t for t in px["targets"] if t["rid"] == rid or t.get("id") == iid), None)
            if not t:
                raise AwsError("DBProxyTargetNotFoundFault", f"DB instance {iid} is not registered with {px['name']}.")
            px["targets"].remove(t)
    sync_proxies(w, st)
    w.mark_dirty()
    return {}


def DescribeDBProxyTargets(ctx, p):
    st = ctx.store
    with ctx.world.lock:
        px = _proxy(ctx, p.get("DBProxyName"))
        _target_group(p)
        items = list(px["targets"])
        out = paged("Targets", items, lambda t: t["rid"], p, lambda t: _render_target(ctx, st, px, t))
    return out


def DescribeDBProxyTargetGroups(ctx, p):
    st = ctx.store
    with ctx.world.lock:
        px = _proxy(ctx, p.get("DBProxyName"))
        _target_group(p)
        return {"TargetGroups": [{"DBProxyName": px["name"], "TargetGroupName": "default",
                                  "TargetGroupArn": arn(st, "target-group", "prx-tg-" + px["rid"][4:]),
                                  "IsDefault": True, "Status": "available",
                                  "ConnectionPoolConfig": {"MaxConnectionsPercent": 100,
                                                           "MaxIdleConnectionsPercent": 50,
                                                           "ConnectionBorrowTimeout": 120,
                                                           "SessionPinningFilters": []},
                                  "CreatedDate": px["created"], "UpdatedDate": px["updated"]}]}


ACTIONS = {f.__name__: f for f in (
    CreateDBInstance, DescribeDBInstances, ModifyDBInstance, RebootDBInstance, StopDBInstance, StartDBInstance,
    DeleteDBInstance, CreateDBInstanceReadReplica, PromoteReadReplica, CreateDBSnapshot, DescribeDBSnapshots, CopyDBSnapshot,
    DeleteDBSnapshot, RestoreDBInstanceFromDBSnapshot, DescribeDBParameterGroups, DescribeDBParameters,
    CreateDBParameterGroup, ModifyDBParameterGroup, DescribeDBLogFiles, DownloadDBLogFilePortion, DescribeEvents,
    AddTagsToResource, ListTagsForResource, RemoveTagsFromResource, DescribeAccountAttributes, CreateDBProxy,
    DescribeDBProxies, DeleteDBProxy, RegisterDBProxyTargets, DeregisterDBProxyTargets, DescribeDBProxyTargets,
    DescribeDBProxyTargetGroups)}


# ----------------------------------------------------------------- housekeeping & recovery
def housekeeping(world):
    """Every second: restart instances stopped for 7 emulated days."""
    while not world.clock.stop_event.wait(1.0):
        now_aws = world.clock.aws_now()
        for st in world.all_stores():
            with world.lock:
                due = [i for i in st["instances"].values() if i["status"] == "stopped" and not i.get("op")
                       and i.get("stopped_at_aws") is not None and now_aws - i["stopped_at_aws"] >= SEVEN_DAYS]
                for inst in due:
                    inst["status"] = "starting"
                    inst["op"] = "start"
            for inst in due:
                world.spawn(f"autostart-{inst['id']}", op_start, world, st, inst, True,
                            on_error=fail_instance(world, st, inst))


def recover(world):
    """After a restart: bring every resource back to a consistent state and
    start the servers of running instances at their endpoints."""
    for st in world.all_stores():
        with world.lock:
            for key in list(st["endpoints"]):
                kind, name = key.split(":", 1)
                world.endpoint_port(st, name, kind)
            insts = list(st["instances"].values())
            snaps = list(st["snapshots"].values())
            for px in st["proxies"].values():
                if px["status"] == "creating":
                    px["status"] = "available"
                for t in px["targets"]:
                    t["state"] = "AVAILABLE"
        for s in snaps:
            if s["status"] == "creating":
                ok = s.get("dir") and os.path.exists(os.path.join(s["dir"], "PG_VERSION"))
                with world.lock:
                    if ok or s.get("metadata_only"):
                        s["status"], s["progress"] = "available", 100
                    else:
                        s["status"] = "failed"
        starters = []
        for inst in insts:
            t = _recover_instance(world, st, inst)
            if t:
                starters.append(t)
        # servers of running instances are up before the emulator reports ready
        for t in starters:
            t.join(300)


def _recover_instance(world, st, inst):
    status = inst["status"]
    with world.lock:
        if inst.get("pg"):
            inst["pg"]["up"] = False
    if status == "deleting":
        world.spawn(f"delete-{inst['id']}", op_delete, world, st, inst, None, on_error=fail_instance(world, st, inst))
        return
    if status in ("stopped", "stopping"):
        with world.lock:
            inst["status"], inst["op"] = "stopped", None
            if inst.get("stopped_at_aws") is None:
                inst["stopped_at_aws"] = world.clock.aws_now()
        if real(inst) and inst.get("pg", {}).get("dir") and world.pg:
            world.pg.stop(inst["pg"]["dir"], "fast")
        return
    if status in ("failed", "incompatible-restore"):
        return
    if not real(inst):
        set_status(world, st, inst, "available")
        return
    d = inst.get("pg", {}).get("dir")
    if status == "creating" and (not d or not os.path.exists(os.path.join(d or "", "PG_VERSION"))
                                 or not inst.get("endpoint_ready")):
        if inst.get("restored_from") and inst["restored_from"] in st["snapshots"]:
            snap = st["snapshots"][inst["restored_from"]]
            world.spawn(f"restore-{inst['id']}", op_create, world, st, inst, None, snap.get("dir"),
                        on_error=fail_instance(world, st, inst, "incompatible-restore"))
        elif inst.get("secret_arn") or inst.get("replica_of"):
            with world.lock:
                inst["status"] = "failed"
        else:
            with world.lock:
                inst["status"] = "failed"
                inst["failure"] = "emulator restarted while the instance was being created"
        return

    def restart():
        start_server(world, st, inst)
        set_status(world, st, inst, "available")
    return world.spawn(f"recover-{inst['id']}", restart, on_error=fail_instance(world, st, inst))
