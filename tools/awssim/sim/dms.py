"""AWS DMS (JSON 1.1, X-Amz-Target: AmazonDMSv20160101.*): replication
instances, endpoints (PostgreSQL), connections, replication tasks and their
table statistics, tags. The change-data-capture engine behind a running task
is dms_cdc.py. See docs/emulator.md (AWS DMS) for what is emulated and how it
differs from DMS."""
import copy
import json
import logging
import re
import secrets
import string
import time

from . import dms_cdc
from .dms_state import DUR, conn_params, dms, parse_mappings, parse_start  # noqa: F401
from .errors import AwsError

log = logging.getLogger("awssim.dms")

ENGINE_VERSION = "3.5.3"
CLASS_RE = re.compile(r"^dms\.(t2|t3|c4|c5|c6i|c7i|r4|r5|r6i|r7i)\.(micro|small|medium|large|xlarge|\d+xlarge)$")
ID_RE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}$")
# DMS's documented quotas (per account and region) and the emulator's
# tasks-per-instance capacity (settable: admin POST /config {"quotas": {...}})
QUOTAS = {"DmsReplicationInstances": 60, "DmsEndpoints": 1000, "DmsReplicationTasks": 600,
          "DmsTasksPerInstance": 200, "DmsRunningTasksPerInstance": 0}

DEFAULT_SETTINGS = {
    "TargetMetadata": {"TargetSchema": "", "SupportLobs": True, "FullLobMode": False, "LobChunkSize": 64,
                       "LimitedSizeLobMode": True, "LobMaxSize": 32},
    "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE", "CreatePkAfterFullLoad": False,
                         "StopTaskCachedChangesApplied": False, "StopTaskCachedChangesNotApplied": False,
                         "MaxFullLoadSubTasks": 8, "CommitRate": 10000},
    "ControlTablesSettings": {"ControlSchema": "", "HistoryTimeslotInMinutes": 5, "HistoryTableEnabled": False,
                              "SuspendedTablesTableEnabled": False, "StatusTableEnabled": False},
    "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR", "ApplyErrorDeletePolicy": "IGNORE_RECORD",
                      "ApplyErrorInsertPolicy": "LOG_ERROR", "ApplyErrorUpdatePolicy": "LOG_ERROR",
                      "ApplyErrorEscalationPolicy": "LOG_ERROR", "ApplyErrorEscalationCount": 0,
                      "RecoverableErrorCount": -1, "RecoverableErrorInterval": 5,
                      "RecoverableErrorThrottling": True, "RecoverableErrorThrottlingMax": 1800,
                      "TableErrorPolicy": "SUSPEND_TABLE", "FullLoadIgnoreConflicts": True},
    "ValidationSettings": {"EnableValidation": False, "ValidationMode": "ROW_LEVEL", "ThreadCount": 5,
                           "FailureMaxCount": 10000, "ValidationOnly": False, "HandleCollationDiff": False,
                           "RecordFailureDelayLimitInMinutes": 0, "SkipLobColumns": False},
    "ChangeProcessingTuning": {"BatchApplyEnabled": False, "CommitTimeout": 1, "MemoryLimitTotal": 1024},
    "Logging": {"EnableLogging": False},
}


def _rid(n=26):
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def _arn(store, kind, res_id):
    return f"arn:aws:dms:{store['region']}:{store['account']}:{kind}:{res_id}"


def _not_found(what):
    return AwsError("ResourceNotFoundFault", f"{what} not found", status=400)


def _state(msg):
    return AwsError("InvalidResourceStateFault", msg, status=400)


def _bad(msg):
    return AwsError("InvalidParameterValueException", msg, status=400)


def _quota(world, name):
    return int(world.faults.quotas.get(name, QUOTAS[name]))


def _filters(p, fields):
    """Filters -> {name: set(values)}, refusing names DMS does not take."""
    out = {}
    for f in p.get("Filters") or []:
        name = f.get("Name")
        if name not in fields:
            raise _bad(f"Invalid filter name: {name}. Valid filters: {', '.join(sorted(fields))}")
        vals = f.get("Values") or []
        if name == "endpoint-type":
            vals = [v.lower() for v in vals]    # SOURCE or source
        out.setdefault(name, set()).update(vals)
    return out


def _match(rec, flt, fields):
    return all(str(fields[n](rec)) in vals for n, vals in flt.items())


def _page(p, items, key):
    n = p.get("MaxRecords") or 100
    if n < 20 or n > 100:
        raise _bad("MaxRecords must be between 20 and 100")
    start = int(p.get("Marker") or 0)
    out = {key: items[start:start + n]}
    if start + n < len(items):
        out["Marker"] = str(start + n)
    return out


def _describe(p, recs, fields, key, view, what):
    flt = _filters(p, fields)
    got = [view(r) for r in recs if _match(r, flt, fields)]
    if not got and flt:
        raise AwsError("ResourceNotFoundFault", f"No {what} found matching provided filters", status=400)
    return _page(p, got, key)


def _set_tags(d, arn, tags):
    cur = d["tags"].setdefault(arn, [])
    for t in tags or []:
        cur[:] = [x for x in cur if x["Key"] != t["Key"]] + [{"Key": t["Key"], "Value": t.get("Value", "")}]


# ------------------------------------------------------------------ replication instances
RI_FIELDS = {"replication-instance-arn": lambda r: r["ReplicationInstanceArn"],
             "replication-instance-id": lambda r: r["ReplicationInstanceIdentifier"],
             "replication-instance-class": lambda r: r["ReplicationInstanceClass"],
             "engine-version": lambda r: r["EngineVersion"]}


def _ri_view(r):
    return {k: v for k, v in r.items() if not k.startswith("_")}


def _find_ri(store, arn):
    r = dms(store)["instances"].get(arn or "")
    if not r:
        raise _not_found(f"Replication instance {arn}")
    return r


def CreateReplicationInstance(ctx, p):
    w, d = ctx.world, dms(ctx.store)
    ident = p["ReplicationInstanceIdentifier"].lower()
    cls = p["ReplicationInstanceClass"]
    ctx.resource = ident
    if not ID_RE.match(ident) or ident.endswith("-"):
        raise _bad(f"Invalid ReplicationInstanceIdentifier: {ident}")
    if not CLASS_RE.match(cls):
        raise _bad(f"Invalid ReplicationInstanceClass: {cls}")
    storage = p.get("AllocatedStorage") or 50
    if storage < 5 or storage > 6144:
        raise _bad("AllocatedStorage must be between 5 and 6144 GB")
    with w.lock:
        if any(r["ReplicationInstanceIdentifier"] == ident for r in d["instances"].values()):
            raise AwsError("ResourceAlreadyExistsFault", f"Replication instance {ident} already exists", status=400)
        if len(d["instances"]) >= _quota(w, "DmsReplicationInstances"):
            raise AwsError("ResourceQuotaExceededFault", "Replication instance quota exceeded", status=400)
        arn = _arn(ctx.store, "rep", p.get("ResourceIdentifier") or _rid())
        r = {"ReplicationInstanceIdentifier": ident, "ReplicationInstanceClass": cls,
             "ReplicationInstanceStatus": "creating", "AllocatedStorage": storage,
             "InstanceCreateTime": time.time(), "VpcSecurityGroups": [
                 {"VpcSecurityGroupId": g, "Status": "active"} for g in p.get("VpcSecurityGroupIds") or []],
             "AvailabilityZone": p.get("AvailabilityZone") or f"{ctx.store['region']}a",
             "ReplicationSubnetGroup": {"ReplicationSubnetGroupIdentifier":
                                        p.get("ReplicationSubnetGroupIdentifier") or "default",
                                        "SubnetGroupStatus": "Complete"},
             "PreferredMaintenanceWindow": p.get("PreferredMaintenanceWindow") or "sun:06:00-sun:06:30",
             "PendingModifiedValues": {}, "MultiAZ": bool(p.get("MultiAZ")),
             "EngineVersion": p.get("EngineVersion") or ENGINE_VERSION,
             "AutoMinorVersionUpgrade": p.get("AutoMinorVersionUpgrade", True),
             "KmsKeyId": p.get("KmsKeyId") or f"arn:aws:kms:{ctx.store['region']}:{ctx.store['account']}:key/"
                                               "aws-dms-default",
             "ReplicationInstanceArn": arn, "ReplicationInstancePrivateIpAddress": "127.0.0.1",
             "ReplicationInstancePrivateIpAddresses": ["127.0.0.1"],
             "PubliclyAccessible": p.get("PubliclyAccessible", True), "NetworkType": p.get("NetworkType") or "IPV4"}
        d["instances"][arn] = r
        _set_tags(d, arn, p.get("Tags"))
        out = _ri_view(r)
    w.spawn(f"dms-ri-create-{ident}", _ri_create, w, ctx.store, arn)
    return {"ReplicationInstance": out}


def _ri_create(w, store, arn):
    t0 = time.monotonic()
    w.pace(DUR["ri_create"], t0)
    with w.lock:
        r = dms(store)["instances"].get(arn)
        if r and r["ReplicationInstanceStatus"] == "creating":
            r["ReplicationInstanceStatus"] = "available"
    w.mark_dirty()


def DescribeReplicationInstances(ctx, p):
    with ctx.world.lock:
        recs = list(dms(ctx.store)["instances"].values())
        return _describe(p, recs, RI_FIELDS, "ReplicationInstances", _ri_view, "replication instances")


def DeleteReplicationInstance(ctx, p):
    w, d = ctx.world, dms(ctx.store)
    with w.lock:
        r = _find_ri(ctx.store, p["ReplicationInstanceArn"])
        ctx.resource = r["ReplicationInstanceIdentifier"]
        if r["ReplicationInstanceStatus"] != "available":
            raise _state(f"Replication instance {r['ReplicationInstanceIdentifier']} is "
                         f"{r['ReplicationInstanceStatus']}")
        if any(t["ReplicationInstanceArn"] == r["ReplicationInstanceArn"] for t in d["tasks"].values()):
            raise _state("Replication instance has replication tasks; delete them first")
        r["ReplicationInstanceStatus"] = "deleting"
        out = _ri_view(r)
    w.spawn(f"dms-ri-delete-{r['ReplicationInstanceIdentifier']}", _ri_delete, w, ctx.store, r["ReplicationInstanceArn"])
    return {"ReplicationInstance": out}


def _ri_delete(w, store, arn):
    w.pace(DUR["ri_delete"], time.monotonic())
    with w.lock:
        d = dms(store)
        d["instances"].pop(arn, None)
        d["tags"].pop(arn, None)
        for k in [k for k, c in d["connections"].items() if c["ReplicationInstanceArn"] == arn]:
            d["connections"].pop(k)
    w.mark_dirty()


# ------------------------------------------------------------------ endpoints
EP_FIELDS = {"endpoint-arn": lambda e: e["EndpointArn"], "endpoint-type": lambda e: e["EndpointType"].lower(),
             "endpoint-id": lambda e: e["EndpointIdentifier"], "engine-name": lambda e: e["EngineName"]}
PG_KEYS = ("AfterConnectScript", "CaptureDdls", "MaxFileSize", "DatabaseName", "DdlArtifactsSchema",
           "ExecuteTimeout", "FailTasksOnLobTruncation", "HeartbeatEnable", "HeartbeatSchema", "HeartbeatFrequency",
           "Port", "ServerName", "Username", "SlotName", "PluginName", "TrimSpaceInChar")


def _ep_view(e):
    return {k: v for k, v in e.items() if not k.startswith("_")}


def _find_ep(store, arn):
    e = dms(store)["endpoints"].get(arn or "")
    if not e:
        raise _not_found(f"Endpoint {arn}")
    return e


def CreateEndpoint(ctx, p):
    w, d = ctx.world, dms(ctx.store)
    ident = p["EndpointIdentifier"].lower()
    ctx.resource = ident
    if not ID_RE.match(ident) or ident.endswith("-"):
        raise _bad(f"Invalid EndpointIdentifier: {ident}")
    kind = p["EndpointType"].lower()
    if kind not in ("source", "target"):
        raise _bad(f"Invalid EndpointType: {p['EndpointType']}")
    engine = p["EngineName"]
    if engine not in ("postgres", "aurora-postgresql"):
        raise _bad(f"awssim emulates DMS endpoints for PostgreSQL only, not {engine}")
    pg = dict(p.get("PostgreSQLSettings") or {})
    server = p.get("ServerName") or pg.get("ServerName")
    port = p.get("Port") or pg.get("Port")
    db = p.get("DatabaseName") or pg.get("DatabaseName")
    user = p.get("Username") or pg.get("Username")
    pw = p.get("Password") or pg.get("Password")
    if not (server and port and db and user and pw):
        raise _bad("ServerName, Port, DatabaseName, Username and Password are required for a postgres endpoint "
                   "(awssim does not read SecretsManagerSecretId)")
    if pg.get("PluginName") and pg["PluginName"] not in ("no-preference", "test-decoding", "pglogical"):
        raise _bad(f"Invalid PluginName: {pg['PluginName']}")
    with w.lock:
        if any(e["EndpointIdentifier"] == ident for e in d["endpoints"].values()):
            raise AwsError("ResourceAlreadyExistsFault", f"Endpoint {ident} already exists", status=400)
        if len(d["endpoints"]) >= _quota(w, "DmsEndpoints"):
            raise AwsError("ResourceQuotaExceededFault", "Endpoint quota exceeded", status=400)
        arn = _arn(ctx.store, "endpoint", p.get("ResourceIdentifier") or _rid())
        settings = {k: v for k, v in pg.items() if k in PG_KEYS}
        settings.update({"ServerName": server, "Port": port, "DatabaseName": db, "Username": user})
        e = {"EndpointIdentifier": ident, "EndpointType": kind.upper(), "EngineName": engine,
             "EngineDisplayName": "PostgreSQL" if engine == "postgres" else "Amazon Aurora PostgreSQL",
             "Username": user, "ServerName": server, "Port": port, "DatabaseName": db,
             "ExtraConnectionAttributes": p.get("ExtraConnectionAttributes") or "", "Status": "active",
             "KmsKeyId": p.get("KmsKeyId") or f"arn:aws:kms:{ctx.store['region']}:{ctx.store['account']}:key/"
                                               "aws-dms-default",
             "EndpointArn": arn, "SslMode": p.get("SslMode") or "none", "PostgreSQLSettings": settings,
             "_password": pw}
        d["endpoints"][arn] = e
        _set_tags(d, arn, p.get("Tags"))
    return {"Endpoint": _ep_view(e)}


def ModifyEndpoint(ctx, p):
    w = ctx.world
    with w.lock:
        e = _find_ep(ctx.store, p["EndpointArn"])
        ctx.resource = e["EndpointIdentifier"]
        for k in ("ServerName", "Port", "DatabaseName", "Username", "SslMode", "ExtraConnectionAttributes"):
            if p.get(k) is not None:
                e[k] = p[k]
                if k in PG_KEYS:
                    e["PostgreSQLSettings"][k] = p[k]
        if p.get("Password"):
            e["_password"] = p["Password"]
        pg = p.get("PostgreSQLSettings") or {}
        for k, v in pg.items():
            if k == "Password":
                e["_password"] = v
            elif k in PG_KEYS:
                e["PostgreSQLSettings"][k] = v
                if k in e:
                    e[k] = v
        return {"Endpoint": _ep_view(e)}


def DescribeEndpoints(ctx, p):
    with ctx.world.lock:
        recs = list(dms(ctx.store)["endpoints"].values())
        return _describe(p, recs, EP_FIELDS, "Endpoints", _ep_view, "endpoints")


def DeleteEndpoint(ctx, p):
    w, d = ctx.world, dms(ctx.store)
    with w.lock:
        e = _find_ep(ctx.store, p["EndpointArn"])
        ctx.resource = e["EndpointIdentifier"]
        if any(e["EndpointArn"] in (t["SourceEndpointArn"], t["TargetEndpointArn"]) for t in d["tasks"].values()):
            raise _state(f"Endpoint {e['EndpointIdentifier']} is used by a replication task")
        d["endpoints"].pop(e["EndpointArn"])
        d["tags"].pop(e["EndpointArn"], None)
        for k in [k for k, c in d["connections"].items() if c["EndpointArn"] == e["EndpointArn"]]:
            d["connections"].pop(k)
        out = dict(_ep_view(e), Status="deleting")
    return {"Endpoint": out}


# ------------------------------------------------------------------ connections
CONN_FIELDS = {"endpoint-arn": lambda c: c["EndpointArn"],
               "replication-instance-arn": lambda c: c["ReplicationInstanceArn"]}


def TestConnection(ctx, p):
    w, d = ctx.world, dms(ctx.store)
    with w.lock:
        r = _find_ri(ctx.store, p["ReplicationInstanceArn"])
        e = _find_ep(ctx.store, p["EndpointArn"])
        ctx.resource = e["EndpointIdentifier"]
        if r["ReplicationInstanceStatus"] != "available":
            raise _state(f"Replication instance {r['ReplicationInstanceIdentifier']} is not available")
        c = {"ReplicationInstanceArn": r["ReplicationInstanceArn"], "EndpointArn": e["EndpointArn"],
             "Status": "testing", "EndpointIdentifier": e["EndpointIdentifier"],
             "ReplicationInstanceIdentifier": r["ReplicationInstanceIdentifier"]}
        d["connections"][f"{r['ReplicationInstanceArn']}|{e['EndpointArn']}"] = c
        params = conn_params(e)
    w.spawn(f"dms-test-{e['EndpointIdentifier']}", _test, w, c, params)
    return {"Connection": dict(c)}


def _test(w, c, params):
    err = dms_cdc.probe(params)
    with w.lock:
        c["Status"] = "failed" if err else "successful"
        if err:
            c["LastFailureMessage"] = err
        else:
            c.pop("LastFailureMessage", None)
    w.mark_dirty()


def DescribeConnections(ctx, p):
    with ctx.world.lock:
        recs = [dict(c) for c in dms(ctx.store)["connections"].values()]
        return _describe(p, recs, CONN_FIELDS, "Connections", dict, "connections")


# ------------------------------------------------------------------ replication tasks
TASK_FIELDS = {"replication-task-arn": lambda t: t["ReplicationTaskArn"],
               "replication-task-id": lambda t: t["ReplicationTaskIdentifier"],
               "migration-type": lambda t: t["MigrationType"],
               "endpoint-arn": lambda t: "|",   # matched specially (source or target)
               "replication-instance-arn": lambda t: t["ReplicationInstanceArn"]}
ACTIVE = ("starting", "running", "stopping")


def merged_settings(text):
    s = copy.deepcopy(DEFAULT_SETTINGS)
    if text:
        try:
            given = json.loads(text)
        except ValueError:
            raise _bad("ReplicationTaskSettings is not valid JSON") from None
        if not isinstance(given, dict):
            raise _bad("ReplicationTaskSettings must be a JSON object")
        for k, v in given.items():
            if isinstance(v, dict) and isinstance(s.get(k), dict):
                s[k].update(v)
            else:
                s[k] = v
    prep = s["FullLoadSettings"].get("TargetTablePrepMode")
    if prep not in ("DO_NOTHING", "TRUNCATE_BEFORE_LOAD", "DROP_AND_CREATE"):
        raise _bad(f"Invalid TargetTablePrepMode: {prep}")
    v = s["ValidationSettings"]
    if v.get("ValidationOnly") and not v.get("EnableValidation"):
        raise _bad("ValidationOnly requires EnableValidation")
    if v.get("ValidationOnly") and prep != "DO_NOTHING":
        raise _bad("A validation-only task requires TargetTablePrepMode DO_NOTHING")
    return s


def _task_view(t, with_settings=True):
    out = {k: v for k, v in t.items() if not k.startswith("_")}
    if not with_settings:
        out.pop("TableMappings", None)
        out.pop("ReplicationTaskSettings", None)
    return out


def _find_task(store, arn):
    t = dms(store)["tasks"].get(arn or "")
    if not t:
        raise _not_found(f"Replication task {arn}")
    return t


def CreateReplicationTask(ctx, p):
    w, d = ctx.world, dms(ctx.store)
    ident = p["ReplicationTaskIdentifier"].lower()
    ctx.resource = ident
    if not ID_RE.match(ident) or ident.endswith("-"):
        raise _bad(f"Invalid ReplicationTaskIdentifier: {ident}")
    mt = p["MigrationType"]
    if mt not in ("full-load", "cdc", "full-load-and-cdc"):
        raise _bad(f"Invalid MigrationType: {mt}")
    if p.get("CdcStartTime") is not None:
        raise _bad("CdcStartTime is not supported for a PostgreSQL source; use CdcStartPosition")
    if p.get("CdcStartPosition") and mt == "full-load":
        raise _bad("CdcStartPosition is valid only for a task with CDC")
    parse_start(p.get("CdcStartPosition"))
    parse_mappings(p["TableMappings"])
    settings = merged_settings(p.get("ReplicationTaskSettings"))
    with w.lock:
        r = _find_ri(ctx.store, p["ReplicationInstanceArn"])
        se = _find_ep(ctx.store, p["SourceEndpointArn"])
        te = _find_ep(ctx.store, p["TargetEndpointArn"])
        if se["EndpointType"] != "SOURCE" or te["EndpointType"] != "TARGET":
            raise _bad("SourceEndpointArn must be a source endpoint and TargetEndpointArn a target endpoint")
        if r["ReplicationInstanceStatus"] != "available":
            raise _state(f"Replication instance {r['ReplicationInstanceIdentifier']} is not available")
        if any(t["ReplicationTaskIdentifier"] == ident for t in d["tasks"].values()):
            raise AwsError("ResourceAlreadyExistsFault", f"Replication task {ident} already exists", status=400)
        if len(d["tasks"]) >= _quota(w, "DmsReplicationTasks"):
            raise AwsError("ResourceQuotaExceededFault", "Replication task quota exceeded", status=400)
        on_ri = sum(1 for t in d["tasks"].values() if t["ReplicationInstanceArn"] == r["ReplicationInstanceArn"])
        if on_ri >= _quota(w, "DmsTasksPerInstance"):
            raise AwsError("ResourceQuotaExceededFault", "Replication tasks per replication instance quota "
                           "exceeded", status=400)
        arn = _arn(ctx.store, "task", p.get("ResourceIdentifier") or _rid())
        t = {"ReplicationTaskIdentifier": ident, "SourceEndpointArn": se["EndpointArn"],
             "TargetEndpointArn": te["EndpointArn"], "ReplicationInstanceArn": r["ReplicationInstanceArn"],
             "MigrationType": mt, "TableMappings": p["TableMappings"],
             "ReplicationTaskSettings": json.dumps(settings), "Status": "creating",
             "ReplicationTaskCreationDate": time.time(), "ReplicationTaskArn": arn,
             "ReplicationTaskStats": {"FullLoadProgressPercent": 0, "ElapsedTimeMillis": 0, "TablesLoaded": 0,
                                      "TablesLoading": 0, "TablesQueued": 0, "TablesErrored": 0},
             "_runs": 0, "_tables": {}}
        if p.get("CdcStartPosition"):
            t["CdcStartPosition"] = p["CdcStartPosition"]
        if p.get("CdcStopPosition"):
            t["CdcStopPosition"] = p["CdcStopPosition"]
        if p.get("TaskData"):
            t["TaskData"] = p["TaskData"]
        d["tasks"][arn] = t
        _set_tags(d, arn, p.get("Tags"))
        out = _task_view(t)
    w.spawn(f"dms-task-create-{ident}", _to_ready, w, ctx.store, arn, "creating", DUR["task_create"])
    return {"ReplicationTask": out}


def _to_ready(w, store, arn, from_status, secs):
    w.pace(secs, time.monotonic())
    with w.lock:
        t = dms(store)["tasks"].get(arn)
        if t and t["Status"] == from_status:
            t["Status"] = "ready" if not t["_runs"] else "stopped"
    w.mark_dirty()


def DescribeReplicationTasks(ctx, p):
    with ctx.world.lock:
        recs = list(dms(ctx.store)["tasks"].values())
        flt = _filters(p, TASK_FIELDS)
        eps = flt.pop("endpoint-arn", None)
        got = [_task_view(t, not p.get("WithoutSettings")) for t in recs if _match(t, flt, TASK_FIELDS)
               and (eps is None or t["SourceEndpointArn"] in eps or t["TargetEndpointArn"] in eps)]
        if not got and (flt or eps):
            raise AwsError("ResourceNotFoundFault", "No Tasks found matching provided filters", status=400)
        return _page(p, got, "ReplicationTasks")


def ModifyReplicationTask(ctx, p):
    w = ctx.world
    with w.lock:
        t = _find_task(ctx.store, p["ReplicationTaskArn"])
        ctx.resource = t["ReplicationTaskIdentifier"]
        if t["Status"] not in ("ready", "stopped", "failed"):
            raise _state(f"Replication task {t['ReplicationTaskIdentifier']} is {t['Status']}; "
                         "it can be modified when ready, stopped or failed")
        mt = p.get("MigrationType") or t["MigrationType"]
        if mt not in ("full-load", "cdc", "full-load-and-cdc"):
            raise _bad(f"Invalid MigrationType: {mt}")
        if p.get("CdcStartTime") is not None:
            raise _bad("CdcStartTime is not supported for a PostgreSQL source; use CdcStartPosition")
        parse_start(p.get("CdcStartPosition"))
        if p.get("TableMappings"):
            parse_mappings(p["TableMappings"])
        settings = None
        if p.get("ReplicationTaskSettings"):
            cur = json.loads(t["ReplicationTaskSettings"])
            merged_settings(p["ReplicationTaskSettings"])   # refuses what CreateReplicationTask refuses
            for k, v in json.loads(p["ReplicationTaskSettings"]).items():
                if isinstance(v, dict) and isinstance(cur.get(k), dict):
                    cur[k].update(v)
                else:
                    cur[k] = v
            settings = json.dumps(merged_settings(json.dumps(cur)))
        if p.get("ReplicationTaskIdentifier"):
            new = p["ReplicationTaskIdentifier"].lower()
            if new != t["ReplicationTaskIdentifier"] and any(
                    x["ReplicationTaskIdentifier"] == new for x in dms(ctx.store)["tasks"].values()):
                raise AwsError("ResourceAlreadyExistsFault", f"Replication task {new} already exists", status=400)
            t["ReplicationTaskIdentifier"] = new
        t["MigrationType"] = mt
        for k in ("TableMappings", "CdcStartPosition", "CdcStopPosition", "TaskData"):
            if p.get(k):
                t[k] = p[k]
        if settings:
            t["ReplicationTaskSettings"] = settings
        t["_prev_status"] = t["Status"]
        t["Status"] = "modifying"
        out = _task_view(t)
    w.spawn(f"dms-task-modify-{t['ReplicationTaskIdentifier']}", _modified, w, ctx.store, t["ReplicationTaskArn"])
    return {"ReplicationTask": out}


def _modified(w, store, arn):
    w.pace(DUR["task_modify"], time.monotonic())
    with w.lock:
        t = dms(store)["tasks"].get(arn)
        if t and t["Status"] == "modifying":
            t["Status"] = t.pop("_prev_status", "ready")
            if t["Status"] == "failed":
                t["Status"] = "stopped" if t["_runs"] else "ready"
    w.mark_dirty()


def StartReplicationTask(ctx, p):
    from . import dms_cdc
    w, d = ctx.world, dms(ctx.store)
    kind = p["StartReplicationTaskType"]
    with w.lock:
        t = _find_task(ctx.store, p["ReplicationTaskArn"])
        ctx.resource = t["ReplicationTaskIdentifier"]
        if kind not in ("start-replication", "resume-processing", "reload-target"):
            raise _bad(f"Invalid StartReplicationTaskType: {kind}")
        if t["Status"] not in ("ready", "stopped", "failed"):
            raise _state(f"Replication task {t['ReplicationTaskIdentifier']} is {t['Status']}; "
                         "it can be started when ready, stopped or failed")
        mt = t["MigrationType"]
        if not t["_runs"] and kind != "start-replication":
            raise _state("The only valid StartReplicationTaskType for the first run of a task is start-replication")
        if kind == "reload-target" and mt == "cdc":
            raise _state("reload-target is not valid for a task with migration type cdc")
        if kind == "resume-processing" and mt == "full-load" and t.get("StopReason", "").endswith(
                "FULL_LOAD_ONLY_FINISHED"):
            raise _state("A full-load task that finished cannot be resumed; use reload-target")
        if p.get("CdcStartTime") is not None:
            raise _bad("CdcStartTime is not supported for a PostgreSQL source; use CdcStartPosition")
        if p.get("CdcStartPosition"):
            if mt == "full-load":
                raise _bad("CdcStartPosition is valid only for a task with CDC")
            parse_start(p["CdcStartPosition"])
            t["CdcStartPosition"] = p["CdcStartPosition"]
        if p.get("CdcStopPosition"):
            t["CdcStopPosition"] = p["CdcStopPosition"]
        r = _find_ri(ctx.store, t["ReplicationInstanceArn"])
        if r["ReplicationInstanceStatus"] != "available":
            raise _state(f"Replication instance {r['ReplicationInstanceIdentifier']} is not available")
        cap = _quota(w, "DmsRunningTasksPerInstance")
        running = sum(1 for x in d["tasks"].values()
                      if x["ReplicationInstanceArn"] == t["ReplicationInstanceArn"] and x["Status"] in ACTIVE)
        t["_runs"] += 1
        t["Status"] = "starting"
        for k in ("StopReason", "LastFailureMessage"):
            t.pop(k, None)
        now = time.time()
        st = t["ReplicationTaskStats"]
        st["StartDate"] = now
        st.pop("StopDate", None)
        if kind != "resume-processing":
            st["FreshStartDate"] = now
        t["ReplicationTaskStartDate"] = now
        out = _task_view(t)
        over = bool(cap) and running >= cap
    runner = dms_cdc.Runner(w, ctx.store, t["ReplicationTaskArn"], kind, capacity_blocked=over)
    dms_cdc.register(w, runner)
    w.spawn(f"dms-task-{t['ReplicationTaskIdentifier']}", runner.run, on_error=runner.crashed)
    return {"ReplicationTask": out}


def StopReplicationTask(ctx, p):
    from . import dms_cdc
    w = ctx.world
    with w.lock:
        t = _find_task(ctx.store, p["ReplicationTaskArn"])
        ctx.resource = t["ReplicationTaskIdentifier"]
        if t["Status"] not in ("running", "starting"):
            raise _state(f"Replication task {t['ReplicationTaskIdentifier']} is {t['Status']}, not running")
        t["Status"] = "stopping"
        out = _task_view(t)
    dms_cdc.stop(w, t["ReplicationTaskArn"])
    return {"ReplicationTask": out}


def DeleteReplicationTask(ctx, p):
    w = ctx.world
    with w.lock:
        t = _find_task(ctx.store, p["ReplicationTaskArn"])
        ctx.resource = t["ReplicationTaskIdentifier"]
        if t["Status"] in ACTIVE or t["Status"] in ("creating", "modifying", "deleting"):
            raise _state(f"Replication task {t['ReplicationTaskIdentifier']} is {t['Status']}; stop it first")
        t["Status"] = "deleting"
        out = _task_view(t)
    w.spawn(f"dms-task-delete-{t['ReplicationTaskIdentifier']}", _task_delete, w, ctx.store, t["ReplicationTaskArn"])
    return {"ReplicationTask": out}


def _task_delete(w, store, arn):
    from . import dms_cdc
    w.pace(DUR["task_delete"], time.monotonic())
    with w.lock:
        d = dms(store)
        t = d["tasks"].get(arn)
        se = d["endpoints"].get(t["SourceEndpointArn"]) if t else None
        params = conn_params(se) if se else None
        own_slot = t.get("_own_slot") if t else None
    if own_slot and params:
        dms_cdc.drop_slot(params, own_slot)   # the slot DMS created for the task goes with it
    with w.lock:
        d["tasks"].pop(arn, None)
        d["tags"].pop(arn, None)
    w.mark_dirty()


# ------------------------------------------------------------------ table statistics
STAT_FIELDS = {"schema-name": lambda s: s["SchemaName"], "table-name": lambda s: s["TableName"],
               "table-state": lambda s: s["TableState"]}


def DescribeTableStatistics(ctx, p):
    with ctx.world.lock:
        t = _find_task(ctx.store, p["ReplicationTaskArn"])
        ctx.resource = t["ReplicationTaskIdentifier"]
        if t["Status"] in ("creating", "deleting") or (t["Status"] == "ready" and not t["_runs"]):
            raise _state(f"Replication task {t['ReplicationTaskIdentifier']} is {t['Status']}: no table statistics")
        recs = [dict(s) for _k, s in sorted(t["_tables"].items())]
        flt = _filters(p, STAT_FIELDS)
        got = [s for s in recs if _match(s, flt, STAT_FIELDS)]
        n = p.get("MaxRecords") or 100
        if n < 10 or n > 500:
            raise _bad("MaxRecords must be between 10 and 500")
        start = int(p.get("Marker") or 0)
        out = {"ReplicationTaskArn": t["ReplicationTaskArn"], "TableStatistics": got[start:start + n]}
        if start + n < len(got):
            out["Marker"] = str(start + n)
        return out


# ------------------------------------------------------------------ tags
def _all_arns(store):
    d = dms(store)
    return set(d["instances"]) | set(d["endpoints"]) | set(d["tasks"])


def AddTagsToResource(ctx, p):
    with ctx.world.lock:
        if p["ResourceArn"] not in _all_arns(ctx.store):
            raise _not_found(f"Resource {p['ResourceArn']}")
        _set_tags(dms(ctx.store), p["ResourceArn"], p["Tags"])
    return {}


def RemoveTagsFromResource(ctx, p):
    with ctx.world.lock:
        if p["ResourceArn"] not in _all_arns(ctx.store):
            raise _not_found(f"Resource {p['ResourceArn']}")
        cur = dms(ctx.store)["tags"].setdefault(p["ResourceArn"], [])
        cur[:] = [x for x in cur if x["Key"] not in set(p.get("TagKeys") or [])]
    return {}


def ListTagsForResource(ctx, p):
    with ctx.world.lock:
        arns = [p["ResourceArn"]] if p.get("ResourceArn") else list(p.get("ResourceArnList") or [])
        if not arns:
            raise _bad("ResourceArn or ResourceArnList is required")
        out = []
        for a in arns:
            if a not in _all_arns(ctx.store):
                raise _not_found(f"Resource {a}")
            out += [dict(x, ResourceArn=a) for x in dms(ctx.store)["tags"].get(a, [])]
    return {"TagList": out}


ACTIONS = {f.__name__: f for f in (
    CreateReplicationInstance, DescribeReplicationInstances, DeleteReplicationInstance,
    CreateEndpoint, ModifyEndpoint, DescribeEndpoints, DeleteEndpoint, TestConnection, DescribeConnections,
    CreateReplicationTask, DescribeReplicationTasks, ModifyReplicationTask, StartReplicationTask,
    StopReplicationTask, DeleteReplicationTask, DescribeTableStatistics,
    AddTagsToResource, RemoveTagsFromResource, ListTagsForResource)}


def recover(w):
    """After an emulator restart: operations in flight finish, and a task that
    was running resumes from its checkpoint (as DMS resumes a task after a
    replication instance restart)."""
    for store in w.all_stores():
        d = store.get("dms")
        if not d:
            continue
        with w.lock:
            ris = [(a, r["ReplicationInstanceStatus"]) for a, r in d["instances"].items()]
            tasks = [(a, t["Status"]) for a, t in d["tasks"].items()]
            for c in d["connections"].values():
                if c["Status"] == "testing":
                    c["Status"] = "failed"
                    c["LastFailureMessage"] = "The test was interrupted; test the connection again"
        for arn, st in ris:
            if st == "creating":
                w.spawn("dms-ri-create", _ri_create, w, store, arn)
            elif st == "deleting":
                w.spawn("dms-ri-delete", _ri_delete, w, store, arn)
        for arn, st in tasks:
            with w.lock:
                t = d["tasks"][arn]
                if st in ("creating", "modifying"):
                    t["Status"] = "stopped" if t["_runs"] else "ready"
                elif st == "stopping":
                    t["Status"], t["StopReason"] = "stopped", "Stop Reason NORMAL"
            if st == "deleting":
                w.spawn("dms-task-delete", _task_delete, w, store, arn)
            elif st in ("starting", "running"):
                with w.lock:
                    t["Status"] = "starting"
                r = dms_cdc.Runner(w, store, arn, "resume-processing" if t.get("_checkpoint") or t.get("_loaded")
                           else "start-replication", recovered=True)
                dms_cdc.register(w, r)
                w.spawn("dms-task-resume", r.run, on_error=r.crashed)
