"""RDS parameter groups: the parameter catalog, the postgresql.conf settings an
instance gets from its group, and the actions DescribeDBParameterGroups,
DescribeDBParameters, CreateDBParameterGroup, ModifyDBParameterGroup (dynamic
changes reach running servers in a background operation)."""
import re
import time

from .errors import AwsError, combination, invalid, missing
from .pg import qlit
from .rds_common import AURORA_MY, CLUSTER_ENGINES, DEFAULT_PG, FAMILY, MY_ENGINES, arn, dur, filters, is_my, paged, real, tags_in


# name: (default, apply type, data type, allowed values, description)
CATALOG = {
    "rds.logical_replication": ("0", "static", "boolean", "0,1", "Enables logical decoding (wal_level=logical)."),
    "max_replication_slots": ("20", "static", "integer", "5-262143", "Sets the maximum number of replication slots."),
    "max_wal_senders": ("20", "static", "integer", "5-262143", "Sets the maximum number of simultaneously running WAL sender processes."),
    "max_worker_processes": ("8", "static", "integer", "0-262143", "Sets the maximum number of concurrent worker processes."),
    "max_logical_replication_workers": ("4", "static", "integer", "0-262143", "Maximum number of logical replication worker processes."),
    "max_connections": ("100", "static", "integer", "6-8388607", "Sets the maximum number of concurrent connections."),
    "max_prepared_transactions": ("0", "static", "integer", "0-262143", "Sets the maximum number of simultaneously prepared transactions."),
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


# engines mysql / mariadb (families mysql8.0, mariadb10.11): what the MariaDB
# server behind them takes from the group (my.cnf at start, SET GLOBAL for
# dynamic ones); log_bin and server_id are RDS's, not the group's
MY_CATALOG = {
    "binlog_format": ("MIXED", "static", "string", "ROW,STATEMENT,MIXED", "What form of binary logging the master will use."),
    "binlog_row_image": ("FULL", "dynamic", "string", "FULL,MINIMAL,NOBLOB", "Controls whether rows should be logged in 'FULL', 'NOBLOB' or 'MINIMAL' formats."),
    "max_connections": ("151", "dynamic", "integer", "1-100000", "The number of simultaneous client connections allowed."),
    "read_only": ("{TrueIfReplica}", "dynamic", "boolean", "0,1", "When set to 1, no updates are allowed except from super users and replication threads."),
    "event_scheduler": ("OFF", "dynamic", "string", "ON,OFF", "Enable the event scheduler."),
    # RDS: without SUPER, triggers and stored functions can be created with binary logging on only when this is 1
    "log_bin_trust_function_creators": ("0", "dynamic", "boolean", "0,1", "Enforces restrictions on stored functions / triggers - logging for replication."),
    "require_secure_transport": ("0", "dynamic", "boolean", "0,1", "Whether client connections to the server are required to use secure transport."),
    "innodb_lock_wait_timeout": ("50", "dynamic", "integer", "1-1073741824", "Timeout in seconds an InnoDB transaction may wait for a row lock."),
    "lock_wait_timeout": ("31536000", "dynamic", "integer", "1-31536000", "Timeout in seconds for attempts to acquire metadata locks."),
}

MY_FAMILIES = {v[1]: (e, v[2]) for e, v in MY_ENGINES.items()}   # family -> (engine, default group)
# Aurora MySQL members' instance parameter groups (family aurora-mysql8.0)
MY_FAMILIES[CLUSTER_ENGINES[AURORA_MY][1]] = (AURORA_MY, CLUSTER_ENGINES[AURORA_MY][3])


def catalog_of(store, name):
    """The parameter catalog of group `name` (by its family)."""
    g = _pg_record(store, name)
    return MY_CATALOG if g and g["family"] in MY_FAMILIES else CATALOG


def my_settings(store, inst):
    """my.cnf settings of a mysql/mariadb instance from its parameter group
    (an Aurora MySQL member: its cluster's group first, then its own; a
    reader is read-only)."""
    params = {k: v[0] for k, v in MY_CATALOG.items()}
    params.update(cluster_group_params(store, inst))
    params.update(group_params(store, inst["param_group"]))
    out = {}
    for k, v in params.items():
        v = str(v)
        if k == "read_only":
            replica = inst.get("replica_of") or inst.get("cluster_reader")
            v = "1" if (v == "{TrueIfReplica}" and replica) or v in ("1", "on", "true") else "0"
        if k == "require_secure_transport":
            v = "ON" if v in ("1", "on", "true") else "OFF"
        out[k] = v
    return out


MIN_10 = {"max_replication_slots", "max_wal_senders"}


def group_params(store, name):
    g = store["param_groups"].get(name)
    return dict(g["params"]) if g else {}


def cluster_group_params(store, inst):
    """An Aurora member's cluster parameter group settings (rds.logical_replication
    lives there), or {} for an instance outside a cluster."""
    rid = inst.get("cluster")
    if not rid:
        return {}
    for c in store.get("clusters", {}).values():
        if c["resource_id"] == rid:
            g = store.get("cluster_param_groups", {}).get(c["param_group"])
            return dict(g["params"]) if g else {}
    return {}


def pg_settings(store, inst):
    """postgresql.conf settings for an instance from its parameter group (and,
    for an Aurora member, its cluster's parameter group first)."""
    params = {k: v[0] for k, v in CATALOG.items()}
    params.update(cluster_group_params(store, inst))
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
    cat = catalog_of(store, name)
    p = {k: v[0] for k, v in cat.items() if v[1] == "static"}
    p.update({k: v for k, v in group_params(store, name).items() if cat.get(k, ("", "static"))[1] == "static"})
    return p


def member_static(store, inst):
    """The static settings a running server has: its instance group's and, for
    an Aurora member, its cluster group's (pending-reboot until applied)."""
    p = static_params(store, inst["param_group"])
    cat = MY_CATALOG if is_my(inst) else CATALOG
    p.update({k: v for k, v in cluster_group_params(store, inst).items() if cat.get(k, ("", "static"))[1] == "static"})
    return p


def _pg_record(st, name):
    if name == DEFAULT_PG:
        return {"name": DEFAULT_PG, "family": FAMILY, "description": "Default parameter group for postgres15",
                "params": {}}
    for fam, (_engine, default) in MY_FAMILIES.items():
        if name == default:
            return {"name": default, "family": fam, "description": f"Default parameter group for {fam}",
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
            items = ([_pg_record(st, DEFAULT_PG)] + [_pg_record(st, d) for _e, d in MY_FAMILIES.values()]
                     + list(st["param_groups"].values()))
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
        for k, (default, apply_type, dtype, allowed, desc) in (MY_CATALOG if g["family"] in MY_FAMILIES
                                                               else CATALOG).items():
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
    family = p["DBParameterGroupFamily"]
    if family != FAMILY and family not in MY_FAMILIES:
        raise invalid(f"awssim supports DBParameterGroupFamily {FAMILY}, {', '.join(MY_FAMILIES)} only, "
                      f"not {family}")
    ctx.resource = name
    with ctx.world.lock:
        if name in st["param_groups"] or _pg_record(st, name):
            raise AwsError("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists")
        g = {"name": name, "family": family, "description": p["Description"], "params": {},
             "tags": tags_in(p), "created": time.time()}
        st["param_groups"][name] = g
    return {"DBParameterGroup": _render_pg(st, g)}


def validate_params(params, CATALOG=CATALOG):
    """ModifyDB(Cluster)ParameterGroup's Parameters -> {name: value}, validated against the catalog."""
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
    return new


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
        if _pg_record(st, name) and name not in st["param_groups"]:
            raise AwsError("InvalidDBParameterGroupState", "Default parameter groups cannot be modified.")
        g = st["param_groups"].get(name)
        if not g:
            raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")
        cat = catalog_of(st, name)
        new = validate_params(params, cat)
        g["params"].update(new)
        dynamic_changed = any(cat[k][1] == "dynamic" for k in new)
        todo = []
        for inst in st["instances"].values():
            if inst["param_group"] != name:
                continue
            if member_static(st, inst) != inst.get("applied_static"):
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


def op_param_apply(world, store, inst):
    t0 = time.monotonic()
    if real(inst) and inst.get("pg", {}).get("up") and is_my(inst):
        with world.lock:
            dyn = {k: v for k, v in my_settings(store, inst).items() if MY_CATALOG[k][1] == "dynamic"}
        sets = []
        for k, v in dyn.items():
            sets.append(f"SET GLOBAL {k} = " + (v if MY_CATALOG[k][2] in ("integer", "boolean") or v in ("ON", "OFF")
                                               else "'" + v.replace("'", "''") + "'"))
        world.my.query(inst["pg"]["dir"], *sets)
    elif real(inst) and inst.get("pg", {}).get("up"):
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
