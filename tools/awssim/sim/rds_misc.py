"""RDS, the rest: log files (DescribeDBLogFiles, DownloadDBLogFilePortion),
events (DescribeEvents), tags on instances, snapshots, parameter groups and
proxies (AddTagsToResource, ListTagsForResource, RemoveTagsFromResource) and
quotas (DescribeAccountAttributes)."""
import time

from .errors import AwsError, invalid, missing
from .rds_common import (
    cluster_not_found, csnap_not_found, get_inst, used_cluster_snapshots, inst_not_found, merge_tags, paged, real, replicas_of, snap_not_found, tags_in, used_instances,
    used_snapshots)


def _log_files(ctx, inst):
    if not real(inst) or not inst.get("pg", {}).get("dir") or not ctx.world.srv(inst):
        return []
    return ctx.world.srv(inst).log_files(inst["pg"]["dir"])


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
    elif kind in ("cluster", "cluster-snapshot", "cluster-pg"):
        coll, err = {"cluster": ("clusters", cluster_not_found), "cluster-snapshot": ("cluster_snapshots", csnap_not_found),
                     "cluster-pg": ("cluster_param_groups", lambda i: AwsError(
                         "DBParameterGroupNotFound", f"DBClusterParameterGroup not found: {i}"))}[kind]
        r = st[coll].get(rid)
        if not r:
            raise err(rid)
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


def DescribeAccountAttributes(ctx, p):
    st = ctx.store
    q = ctx.world.faults.quotas
    with ctx.world.lock:
        used = {"DBInstances": used_instances(st), "ManualSnapshots": used_snapshots(st),
                "AllocatedStorage": sum(i["allocated_storage"] for i in st["instances"].values()),
                "DBParameterGroups": len(st["param_groups"]), "ReadReplicasPerMaster": max(
                    [len(replicas_of(st, i)) for i in st["instances"].values()] or [0]),
                "DBProxies": len(st["proxies"]), "DBClusters": len(st["clusters"]),
                "DBClusterParameterGroups": len(st["cluster_param_groups"]),
                "ManualClusterSnapshots": used_cluster_snapshots(st)}
    maxes = {"DBInstances": q.get("DBInstances", 40), "ManualSnapshots": q.get("ManualSnapshots", 100),
             "AllocatedStorage": q.get("AllocatedStorage", 100000), "DBParameterGroups": q.get("DBParameterGroups", 50),
             "ReadReplicasPerMaster": 15, "DBProxies": 20, "DBSubnetGroups": 50, "OptionGroups": 20,
             "EventSubscriptions": 20, "ReservedDBInstances": 40, "DBSecurityGroups": 25,
             "AuthorizationsPerDBSecurityGroup": 20, "SubnetsPerDBSubnetGroup": 20, "DBClusters": q.get("DBClusters", 40),
             "DBClusterParameterGroups": 50, "ManualClusterSnapshots": q.get("ManualClusterSnapshots", 100)}
    return {"AccountQuotas": [{"AccountQuotaName": k, "Used": used.get(k, 0), "Max": v} for k, v in maxes.items()]}
