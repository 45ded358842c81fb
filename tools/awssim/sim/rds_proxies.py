"""RDS Proxy: proxies with one default target group of one DB instance or one
Aurora cluster (TRACKED_CLUSTER, its members RDS_INSTANCE targets; the
endpoint follows the writer), their endpoints (which follow the target's
server; a cluster target follows the cluster resource, also across a rename), and the actions CreateDBProxy,
DescribeDBProxies, DeleteDBProxy, RegisterDBProxyTargets,
DeregisterDBProxyTargets, DescribeDBProxyTargets, DescribeDBProxyTargetGroups."""
import time

from .errors import AwsError, invalid, missing
from .world import rand_alnum
from .rds_common import (
    PROXY_PORT_TAG, arn, check_id, cluster_by_rid, dur, filters, find_by_rid, get_cluster, get_inst, members_of,
    merge_tags, paged, ref_id, tags_in)
from .rds_servers import sync_proxies


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


def CreateDBProxy(ctx, p):
    w, st = ctx.world, ctx.store
    name = check_id("DBProxyName", p.get("DBProxyName"))
    for k in ("EngineFamily", "Auth", "RoleArn", "VpcSubnetIds"):
        if not p.get(k):
            raise missing(k)
    if p["EngineFamily"] not in ("POSTGRESQL", "MYSQL"):
        raise invalid(f"awssim supports EngineFamily POSTGRESQL and MYSQL only, not {p['EngineFamily']}")
    ctx.resource = name
    with w.lock:
        if name in st["proxies"]:
            raise AwsError("DBProxyAlreadyExistsFault", f"DBProxy {name} already exists.")
        rid = "prx-" + rand_alnum(17).lower()
        port = w.endpoint_port(st, name, "proxy")
        px = {"name": name, "rid": rid, "status": "creating", "engine_family": p["EngineFamily"],
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


def _health(t, server_up):
    """TargetHealth of an instance target: REGISTERING until the registration
    is done, then AVAILABLE while its server runs, UNAVAILABLE (UNREACHABLE)
    while it does not (stopped, rebooting)."""
    if t["state"] == "REGISTERING":
        return {"State": "REGISTERING", "Description": "Target is being registered"}
    if t["state"] == "AVAILABLE" and server_up:
        return {"State": "AVAILABLE"}
    return {"State": "UNAVAILABLE", "Reason": "UNREACHABLE", "Description": "Target unavailable"}


def _up(inst):
    return bool(inst and inst.get("pg") and inst["pg"].get("up") and inst["status"] not in ("stopping", "stopped"))


def _render_cluster_target(ctx, st, px, t):
    """A cluster target as AWS lists it: TRACKED_CLUSTER (the cluster
    endpoint, TrackedClusterId, no TargetHealth), then each member as
    RDS_INSTANCE with TrackedClusterId (READ_WRITE for the writer, READ_ONLY
    for readers) and its own TargetHealth."""
    c = cluster_by_rid(st, t["rid"])
    cid = c["id"] if c else t.get("id")
    out = [{"TargetArn": arn(st, "cluster", cid), "RdsResourceId": cid, "TrackedClusterId": cid,
            "Type": "TRACKED_CLUSTER", "Endpoint": "127.0.0.1",
            "Port": ctx.world.endpoint_port(st, cid, "cluster")}]
    for i in (members_of(st, c) if c else []):
        d = {"TargetArn": arn(st, "db", i["id"]), "RdsResourceId": i["id"], "TrackedClusterId": cid,
             "Type": "RDS_INSTANCE", "Role": "READ_WRITE" if i["resource_id"] == c.get("writer") else "READ_ONLY",
             "Endpoint": ctx.world.endpoint_address(st, i["id"]), "Port": ctx.world.endpoint_port(st, i["id"]),
             "TargetHealth": _health(t, _up(i))}
        out.append(d)
    return out


def _render_target(ctx, st, px, t):
    if t.get("kind") == "cluster":
        return _render_cluster_target(ctx, st, px, t)
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


def _register_cluster(ctx, p):
    w, st = ctx.world, ctx.store
    cids = p["DBClusterIdentifiers"]
    if p.get("DBInstanceIdentifiers"):
        raise invalid("Specify either DBInstanceIdentifiers or DBClusterIdentifiers, not both.")
    with w.lock:
        px = _proxy(ctx, p.get("DBProxyName"))
        _target_group(p)
        if px["status"] != "available":
            raise AwsError("InvalidDBProxyStateFault", f"DBProxy {px['name']} is not available.")
        if px["targets"] or len(cids) > 1:
            raise AwsError("DBProxyTargetAlreadyRegisteredFault", "Only one DB cluster can be registered as the "
                           "target of a DB proxy target group; deregister the current target first.")
        c = get_cluster(ctx, cids[0])
        ctx.resource = px["name"]
        if c["status"] != "available":
            raise AwsError("InvalidDBClusterStateFault", f"DBCluster {c['id']} is not in the available state.")
        t = {"rid": c["resource_id"], "id": c["id"], "kind": "cluster", "state": "REGISTERING"}
        px["targets"].append(t)
        out = {"DBProxyTargets": _render_target(ctx, st, px, t)}
    w.spawn(f"proxy-target-{px['name']}", op_proxy_target, w, st, px, t)
    return out


def RegisterDBProxyTargets(ctx, p):
    w, st = ctx.world, ctx.store
    if p.get("DBClusterIdentifiers"):
        return _register_cluster(ctx, p)
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
        for cid in p.get("DBClusterIdentifiers") or []:
            cid = ref_id(cid, "cluster")
            # the cluster the registration holds, by its name now (a renamed cluster answers to
            # its new name only; the name it had at registration only once it is gone)
            t = next((t for t in px["targets"] if t.get("kind") == "cluster" and
                      (cluster_by_rid(st, t["rid"]) or {"id": t.get("id")})["id"] == cid), None)
            if not t:
                raise AwsError("DBProxyTargetNotFoundFault", f"DB cluster {cid} is not registered with {px['name']}.")
            px["targets"].remove(t)
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
        items = []
        for t in px["targets"]:
            r = _render_target(ctx, st, px, t)
            items += r if isinstance(r, list) else [r]
        out = paged("Targets", items, lambda d: d["TargetArn"], p, lambda d: d)
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
