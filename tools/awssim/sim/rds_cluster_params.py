"""Aurora DB cluster parameter groups: CreateDBClusterParameterGroup,
CopyDBClusterParameterGroup, DescribeDBClusterParameterGroups,
DescribeDBClusterParameters, ModifyDBClusterParameterGroup,
ResetDBClusterParameterGroup, DeleteDBClusterParameterGroup. The parameters
are rds_params' catalog (the MySQL one for family aurora-mysql8.0, where
binlog_format is static); a cluster's members read their cluster group before
their own instance group (rds_params.pg_settings). Static changes (e.g.
rds.logical_replication) leave every member `pending-reboot` until it
reboots; dynamic ones reach the running servers at once."""
import re
import time

from .errors import AwsError, invalid, missing
from .rds_common import AURORA, CLUSTER_ENGINES, arn, filters, paged, tags_in
from .rds_params import CATALOG, MIN_10, MY_CATALOG, member_static, op_param_apply, validate_params

# family -> (engine, default cluster group)
FAMILIES = {v[1]: (e, v[2]) for e, v in CLUSTER_ENGINES.items()}
DEFAULTS = {v[2]: v[1] for v in CLUSTER_ENGINES.values()}   # default cluster group -> family


def cpg_catalog(family):
    return MY_CATALOG if FAMILIES.get(family, (AURORA,))[0] != AURORA else CATALOG


def _not_found(name):
    return AwsError("DBParameterGroupNotFound", f"DBClusterParameterGroup not found: {name}")


def cpg_record(st, name):
    if name in DEFAULTS:
        return {"name": name, "family": DEFAULTS[name], "params": {},
                "description": f"Default cluster parameter group for {DEFAULTS[name]}"}
    return st["cluster_param_groups"].get(name)


def check_cpg(ctx, name, engine=AURORA):
    """A cluster parameter group name given to a cluster action of `engine`
    (its default when empty); its family must be the engine's."""
    if name:
        g = cpg_record(ctx.store, name)
        if not g:
            raise _not_found(name)
        if FAMILIES.get(g["family"], (None,))[0] != engine:
            raise invalid(f"The parameter group {name} with DBParameterGroupFamily {g['family']} can't be used "
                          f"for this cluster. Use a parameter group with DBParameterGroupFamily "
                          f"{CLUSTER_ENGINES[engine][1]}.")
    return name or CLUSTER_ENGINES[engine][2]


def _render(st, g):
    return {"DBClusterParameterGroupName": g["name"], "DBParameterGroupFamily": g["family"],
            "Description": g["description"], "DBClusterParameterGroupArn": arn(st, "cluster-pg", g["name"])}


def CreateDBClusterParameterGroup(ctx, p):
    st = ctx.store
    for k in ("DBClusterParameterGroupName", "DBParameterGroupFamily", "Description"):
        if not p.get(k):
            raise missing(k)
    name = p["DBClusterParameterGroupName"].lower()
    if not re.match(r"^[a-z][a-z0-9-]{0,254}$", name) or "--" in name or name.endswith("-"):
        raise invalid(f"The parameter DBClusterParameterGroupName is not a valid identifier: {name}")
    if p["DBParameterGroupFamily"] not in FAMILIES:
        raise invalid(f"awssim supports DBParameterGroupFamily {' or '.join(sorted(FAMILIES))} only for cluster "
                      f"parameter groups, not {p['DBParameterGroupFamily']}")
    ctx.resource = name
    with ctx.world.lock:
        if name in st["cluster_param_groups"] or name in DEFAULTS:
            raise AwsError("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists")
        g = {"name": name, "family": p["DBParameterGroupFamily"], "description": p["Description"], "params": {},
             "tags": tags_in(p), "created": time.time()}
        st["cluster_param_groups"][name] = g
    return {"DBClusterParameterGroup": _render(st, g)}


def CopyDBClusterParameterGroup(ctx, p):
    """A new group with the source's family and values (user-set ones) and the given tags."""
    st = ctx.store
    for k in ("SourceDBClusterParameterGroupIdentifier", "TargetDBClusterParameterGroupIdentifier",
              "TargetDBClusterParameterGroupDescription"):
        if not p.get(k):
            raise missing(k)
    src_name = p["SourceDBClusterParameterGroupIdentifier"].split(":")[-1]
    name = p["TargetDBClusterParameterGroupIdentifier"].lower()
    if not re.match(r"^[a-z][a-z0-9-]{0,254}$", name) or "--" in name or name.endswith("-"):
        raise invalid(f"The parameter TargetDBClusterParameterGroupIdentifier is not a valid identifier: {name}")
    ctx.resource = name
    with ctx.world.lock:
        src = cpg_record(st, src_name)
        if not src:
            raise _not_found(src_name)
        if name in st["cluster_param_groups"] or name in DEFAULTS:
            raise AwsError("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists")
        g = {"name": name, "family": src["family"], "description": p["TargetDBClusterParameterGroupDescription"],
             "params": dict(src["params"]), "tags": tags_in(p), "created": time.time()}
        st["cluster_param_groups"][name] = g
    ctx.world.mark_dirty()
    return {"DBClusterParameterGroup": _render(st, g)}


def DeleteDBClusterParameterGroup(ctx, p):
    """Refused for the default group and for a group a cluster uses."""
    st = ctx.store
    name = p.get("DBClusterParameterGroupName")
    if not name:
        raise missing("DBClusterParameterGroupName")
    ctx.resource = name
    with ctx.world.lock:
        if name in DEFAULTS:
            raise AwsError("InvalidDBParameterGroupState", "Default parameter groups cannot be deleted.")
        if name not in st["cluster_param_groups"]:
            raise _not_found(name)
        users = [c["id"] for c in st["clusters"].values() if c["param_group"] == name]
        if users:
            raise AwsError("InvalidDBParameterGroupState", f"One or more database clusters are still members of "
                           f"this parameter group {name}, so the group cannot be deleted: {', '.join(users[:5])}")
        del st["cluster_param_groups"][name]
    ctx.world.mark_dirty()
    return {}


def DescribeDBClusterParameterGroups(ctx, p):
    st = ctx.store
    filters(p, set())
    with ctx.world.lock:
        if p.get("DBClusterParameterGroupName"):
            g = cpg_record(st, p["DBClusterParameterGroupName"])
            if not g:
                raise _not_found(p["DBClusterParameterGroupName"])
            items = [g]
        else:
            items = [cpg_record(st, d) for d in DEFAULTS] + list(st["cluster_param_groups"].values())
        return paged("DBClusterParameterGroups", items, lambda g: g["name"], p, lambda g: _render(st, g))


def DescribeDBClusterParameters(ctx, p):
    st = ctx.store
    name = p.get("DBClusterParameterGroupName")
    if not name:
        raise missing("DBClusterParameterGroupName")
    with ctx.world.lock:
        g = cpg_record(st, name)
        if not g:
            raise _not_found(name)
        items = []
        for k, (default, apply_type, dtype, allowed, desc) in cpg_catalog(g["family"]).items():
            user = k in g["params"]
            v = g["params"].get(k, default)
            src = "user" if user else ("system" if k.startswith("rds.") or k in MIN_10 else "engine-default")
            d = {"ParameterName": k, "Description": desc, "Source": src, "ApplyType": apply_type,
                 "DataType": dtype, "AllowedValues": allowed, "IsModifiable": True,
                 "ApplyMethod": "pending-reboot" if apply_type == "static" else "immediate",
                 "SupportedEngineModes": ["provisioned"]}
            if v != "":
                d["ParameterValue"] = str(v)
            items.append(d)
        if p.get("Source"):
            if p["Source"] not in ("user", "system", "engine-default"):
                raise invalid(f"Invalid source: {p['Source']}")
            items = [i for i in items if i["Source"] == p["Source"]]
        return paged("Parameters", items, lambda i: i["ParameterName"], p, lambda i: i)


def _apply_to_members(w, st, name, changed, catalog=CATALOG):
    """Members of clusters using group `name`: pending-reboot for static changes,
    dynamic changes applied to the running servers."""
    dynamic = any(catalog[k][1] == "dynamic" for k in changed)
    todo = []
    with w.lock:
        rids = {c["resource_id"] for c in st["clusters"].values() if c["param_group"] == name}
        for inst in st["instances"].values():
            if inst.get("cluster") not in rids:
                continue
            if member_static(st, inst) != inst.get("applied_static"):
                inst["param_status"] = "pending-reboot"
            elif dynamic:
                inst["param_status"] = "applying"
            if dynamic:
                todo.append(inst)
    for inst in todo:
        w.spawn(f"params-{inst['id']}", op_param_apply, w, st, inst)


def ModifyDBClusterParameterGroup(ctx, p):
    w, st = ctx.world, ctx.store
    name = p.get("DBClusterParameterGroupName")
    if not name:
        raise missing("DBClusterParameterGroupName")
    if not p.get("Parameters"):
        raise missing("Parameters")
    ctx.resource = name
    with w.lock:
        if name in DEFAULTS:
            raise AwsError("InvalidDBParameterGroupState", "Default parameter groups cannot be modified.")
        g = st["cluster_param_groups"].get(name)
        if not g:
            raise _not_found(name)
        cat = cpg_catalog(g["family"])
        new = validate_params(p["Parameters"], cat)
        g["params"].update(new)
    _apply_to_members(w, st, name, new, cat)
    w.event(st, "db-parameter-group", name,
            "Updated parameter " + ", ".join(f"{k} to {v}" for k, v in new.items()),
            ["configuration change"], arn(st, "cluster-pg", name))
    return {"DBClusterParameterGroupName": name}


def ResetDBClusterParameterGroup(ctx, p):
    w, st = ctx.world, ctx.store
    name = p.get("DBClusterParameterGroupName")
    if not name:
        raise missing("DBClusterParameterGroupName")
    ctx.resource = name
    reset_all = bool(p.get("ResetAllParameters"))
    names = [x.get("ParameterName") for x in p.get("Parameters") or []]
    if reset_all and names:
        raise invalid("You can't specify both ResetAllParameters and Parameters.")
    if not reset_all and not names:
        raise invalid("You must specify either ResetAllParameters or Parameters.")
    with w.lock:
        if name in DEFAULTS:
            raise AwsError("InvalidDBParameterGroupState", "Default parameter groups cannot be modified.")
        g = st["cluster_param_groups"].get(name)
        if not g:
            raise _not_found(name)
        cat = cpg_catalog(g["family"])
        for k in names:
            if k not in cat:
                raise invalid(f"Could not find parameter with name: {k}")
        changed = list(g["params"]) if reset_all else [k for k in names if k in g["params"]]
        for k in changed:
            g["params"].pop(k, None)
    _apply_to_members(w, st, name, changed, cat)
    return {"DBClusterParameterGroupName": name}
