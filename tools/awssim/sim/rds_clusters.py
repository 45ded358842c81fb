"""Aurora PostgreSQL and Aurora MySQL DB clusters: rendering (members with writer/reader roles,
cluster and reader endpoints that follow the identifier), the background
operations, and the actions CreateDBCluster, DescribeDBClusters,
ModifyDBCluster (rename with the modelled DNS lag), DeleteDBCluster,
StopDBCluster, StartDBCluster, FailoverDBCluster,
RestoreDBClusterFromSnapshot. Instances join a cluster through
CreateDBInstance --db-cluster-identifier (rds_instances); the real servers
are rds_cluster_servers'."""
import re
import shutil
import time
from datetime import datetime, timezone

from . import kms, rds_sharing, rds_subnet_groups as subnets
from .errors import AwsError, combination, invalid, missing
from .world import rand_upper
from .rds_common import (
    AURORA, AURORA_MY, CLUSTER_ENGINES, CREATED_TAG, DEFAULT_ENCRYPTION_SINCE, arn, check_cluster_quota, cluster_engine,
    check_cluster_snapshot_quota, check_id, dur, filters, get_cluster, is_meta, members_of, note_conflict,
    paged, real, ref_id, tags_in, writer_of)
from .rds_cluster_params import check_cpg
from .rds_cluster_servers import (
    cluster_dir, cluster_event, failover, op_bootstrap_volume, restore_volume, set_cluster_status, volume)
from .rds_cluster_snapshots import csnap_data, enc_type, exists_error, new_csnap_record
from .rds_params import member_static
from .rds_servers import set_master_password, set_status, start_server, stop_server, sync_cluster
from .world import READER_HOST

CLUSTER_STABLE = {"available", "stopped", "failed", "inaccessible-encryption-credentials"}


def render_cluster(ctx_or_world, store, c):
    w = getattr(ctx_or_world, "world", ctx_or_world)
    writer = writer_of(store, c)
    members = []
    for i in sorted(members_of(store, c), key=lambda i: (i is not writer, i["id"])):
        members.append({"DBInstanceIdentifier": i["id"], "IsClusterWriter": i is writer,
                        "DBClusterParameterGroupStatus": i.get("param_status", "in-sync"),
                        "PromotionTier": i.get("promotion_tier", 1)})
    port = w.endpoint_port(store, c["id"], "cluster")
    d = {"AllocatedStorage": 1, "AvailabilityZones": [f"{store['region']}{z}" for z in "abc"],
         "BackupRetentionPeriod": c["backup_retention"], "DBClusterIdentifier": c["id"],
         "DBClusterParameterGroup": c["param_group"], "DBSubnetGroup": c["subnet_group"], "Status": c["status"],
         "Endpoint": w.endpoint_address(store, c["id"], "cluster"), "ReaderEndpoint": READER_HOST, "CustomEndpoints": [],
         "MultiAZ": len(members) > 1, "Engine": cluster_engine(c), "EngineVersion": CLUSTER_ENGINES[cluster_engine(c)][0],
         "Port": port,
         "MasterUsername": c["master_username"], "DBClusterOptionGroupMemberships": [],
         "PreferredBackupWindow": "03:00-03:30", "PreferredMaintenanceWindow": "sun:05:00-sun:05:30",
         "ReadReplicaIdentifiers": [], "DBClusterMembers": members,
         "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in c["sg_ids"]],
         "HostedZoneId": "Z2R2ITUGPM61AM", "StorageEncrypted": c["encrypted"], "StorageEncryptionType": enc_type(c),
         "DbClusterResourceId": c["resource_id"], "DBClusterArn": arn(store, "cluster", c["id"]),
         "AssociatedRoles": [], "IAMDatabaseAuthenticationEnabled": False, "ClusterCreateTime": c["created"],
         "EngineMode": "provisioned", "DeletionProtection": c.get("deletion_protection", False),
         "HttpEndpointEnabled": False, "ActivityStreamStatus": "stopped", "CopyTagsToSnapshot": c.get("copy_tags", False),
         "CrossAccountClone": False, "DomainMemberships": [], "TagList": list(c["tags"]),
         "AutoMinorVersionUpgrade": True, "NetworkType": "IPV4", "StorageType": "aurora"}
    if c.get("db_name"):
        d["DatabaseName"] = c["db_name"]
    if c["encrypted"] and enc_type(c) == "sse-kms":
        d["KmsKeyId"] = c["kms_key_id"]
    if c["backup_retention"] and c["status"] not in ("creating",):
        d["EarliestRestorableTime"] = c["created"]
        d["LatestRestorableTime"] = time.time() - 300
    if c.get("pending"):
        d["PendingModifiedValues"] = dict(c["pending"])
    if c["status"] == "stopped" and c.get("auto_start_wall"):
        d["AutomaticRestartTime"] = c["auto_start_wall"]
    return d


def _created_at(tags):
    """ClusterCreateTime: now, or the emulated past of tag fleetcrypt-sim:create-time
    (ISO date/time or epoch seconds) for clusters made before default encryption."""
    for t in tags:
        if t["Key"] == CREATED_TAG:
            v = str(t.get("Value", "")).strip()
            try:
                return float(v)
            except ValueError:
                pass
            try:
                dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise invalid(f"Tag {CREATED_TAG} must be an ISO 8601 time or epoch seconds, not {v!r}") from None
            return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    return time.time()


def _encryption(ctx, p, created, source=None):
    """(encrypted, kms key ARN or None, StorageEncryptionType) of a new cluster.
    A KmsKeyId (or StorageEncrypted alone: aws/rds) gives sse-kms; a restore
    without one keeps its snapshot's; otherwise clusters created since
    2026-02-18 are encrypted with an AWS owned key (sse-rds), older ones not."""
    w, st = ctx.world, ctx.store
    if p.get("KmsKeyId"):
        return True, kms.usable_key_arn(w, st, p["KmsKeyId"]), "sse-kms"
    if source is not None:
        if enc_type(source) == "sse-kms":
            return True, kms.usable_key_arn(w, st, source["kms_key_id"]), "sse-kms"
        if enc_type(source) == "sse-rds":
            return True, None, "sse-rds"
    elif p.get("StorageEncrypted"):
        return True, kms.usable_key_arn(w, st, "alias/aws/rds"), "sse-kms"
    if created >= DEFAULT_ENCRYPTION_SINCE:
        return True, None, "sse-rds"
    return False, None, "none"


def _new_cluster(ctx, ident, p, tags, meta, master, db_name, engine=AURORA):
    created = _created_at(tags)
    eng = CLUSTER_ENGINES[engine]
    br = p.get("BackupRetentionPeriod")
    if br is not None and (br < 1 or br > 35):
        raise invalid(f"Invalid backup retention period: {br}. Aurora keeps 1 to 35 days.")
    return {"id": ident, "resource_id": "cluster-" + rand_upper(26), "status": "creating", "op": "create",
            "master_username": master, "db_name": db_name, "engine": engine,
            "param_group": check_cpg(ctx, p.get("DBClusterParameterGroupName"), engine),
            "sg_ids": subnets.use_security_groups(ctx, list(p.get("VpcSecurityGroupIds") or [])) or [subnets.DEFAULT_SG],
            "subnet_group": subnets.use_subnet_group(ctx, p.get("DBSubnetGroupName")), "backup_retention": int(br or 1),
            "port": p.get("Port") or eng[6], "deletion_protection": bool(p.get("DeletionProtection", False)),
            "copy_tags": bool(p.get("CopyTagsToSnapshot", False)), "tags": tags, "created": created,
            "metadata_only": meta, "writer": None, "volume": {}, "pending": {}, "encrypted": False,
            "kms_key_id": None, "enc_type": "none", "option_group": p.get("OptionGroupName") or eng[4]}


def fail_cluster(cluster):
    def on_error(e):
        cluster["status"] = "failed"
        cluster["op"] = None
        cluster["failure"] = str(e)[:500]
    return on_error


def _check_engine(ctx, p):
    """The cluster engine asked for (aurora-postgresql or aurora-mysql)."""
    engine = (p.get("Engine") or "").lower()
    if engine not in CLUSTER_ENGINES:
        raise invalid(f"Invalid DB engine: {p.get('Engine')} (awssim emulates {AURORA} and {AURORA_MY} clusters only)")
    if engine == AURORA_MY and not is_meta(ctx, tags_in(p)) and not ctx.world.my:
        raise invalid(f"Invalid DB engine: {engine} (this emulator has no MariaDB server: run deploy/install-deps)")
    return engine


def CreateDBCluster(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBClusterIdentifier", p.get("DBClusterIdentifier"))
    ctx.resource = ident
    engine = _check_engine(ctx, p)
    if p.get("ManageMasterUserPassword"):
        raise invalid("awssim does not emulate ManageMasterUserPassword for clusters")
    master = p.get("MasterUsername")
    if not master:
        raise missing("MasterUsername")
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,62}$", master) or master.lower() == "rdsadmin":
        raise invalid(f"MasterUsername {master} is not valid for engine {engine}")
    pw = p.get("MasterUserPassword")
    if not pw:
        raise missing("MasterUserPassword")
    if len(pw) < 8 or len(pw) > 128 or any(c in pw for c in '/@" ') or not pw.isprintable():
        raise invalid("The parameter MasterUserPassword is not a valid password. Only printable ASCII "
                      "characters besides '/', '@', '\"', ' ' may be used.")
    if p.get("StorageEncrypted") is False and p.get("KmsKeyId"):
        raise combination("KmsKeyId is only valid with StorageEncrypted=true")
    tags = tags_in(p)
    with w.lock:
        if ident in st["clusters"]:
            note_conflict(ctx, "duplicate-create", "db-cluster", ident, {"status": st["clusters"][ident]["status"]})
            raise AwsError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
        check_cluster_quota(ctx)
        c = _new_cluster(ctx, ident, p, tags, is_meta(ctx, tags), master, p.get("DatabaseName"), engine)
        c["encrypted"], c["kms_key_id"], c["enc_type"] = _encryption(ctx, p, c["created"])
        st["clusters"][ident] = c
        out = render_cluster(ctx, st, c)
    w.spawn(f"ccreate-{ident}", op_bootstrap_volume, w, st, c, pw, on_error=fail_cluster(c))
    return {"DBCluster": out}


def DescribeDBClusters(ctx, p):
    st = ctx.store
    f = filters(p, {"clone-group-id", "db-cluster-id", "db-cluster-resource-id", "domain", "engine"})
    with ctx.world.lock:
        if p.get("DBClusterIdentifier"):
            items = [get_cluster(ctx, p["DBClusterIdentifier"])]
        else:
            items = list(st["clusters"].values())
        if "db-cluster-id" in f:
            ids = {ref_id(v, "cluster") for v in f["db-cluster-id"]}
            items = [c for c in items if c["id"] in ids]
        if "db-cluster-resource-id" in f:
            items = [c for c in items if c["resource_id"] in f["db-cluster-resource-id"]]
        if "engine" in f:
            items = [c for c in items if cluster_engine(c) in f["engine"]]
        if "clone-group-id" in f or "domain" in f:
            items = []
        return paged("DBClusters", items, lambda c: c["id"], p, lambda c: render_cluster(ctx, st, c))


def _sync_name(world, store, name):
    """Point both endpoints of cluster name `name` at what holds it now (nothing
    when no cluster has it)."""
    with world.lock:
        c = store["clusters"].get(name)
    if c:
        sync_cluster(world, store, c)
    else:
        world.endpoint(store, name, "cluster").set_target(None)
        world.reader_endpoint(store, name).set_target(None)


def do_cluster_rename(world, store, c, new, dns_lag):
    old = c["id"]
    with world.lock:
        eps_old = (world.endpoint(store, old, "cluster"), world.reader_endpoint(store, old))
        eps_new = (world.endpoint(store, new, "cluster"), world.reader_endpoint(store, new))
        before_old = [e.effective() for e in eps_old]
        store["clusters"].pop(old, None)
        c["id"] = new
        store["clusters"][new] = c
        c.get("pending", {}).pop("DBClusterIdentifier", None)
    if dns_lag > 0:
        # as for instances: cached DNS records keep both names' old answers for the lag
        for e, t in zip(eps_old, before_old):
            e.pin(t, dns_lag)
        for e in eps_new:
            e.pin(e.effective() or e.last_real, dns_lag)
    _sync_name(world, store, old)
    _sync_name(world, store, new)
    cluster_event(world, store, c, f"Renamed cluster from {old} to {new}")


def op_cluster_modify(world, store, c, changes):
    t0 = time.monotonic()
    if "rename" in changes:
        world.pace(dur("rename"), t0)
        do_cluster_rename(world, store, c, changes["rename"], dur("dns_lag") * world.clock.scale)
    if "password" in changes:
        wr = writer_of(store, c)
        if wr is not None and real(wr) and wr.get("pg", {}).get("up"):
            set_master_password(world, wr, changes["password"])
        cluster_event(world, store, c, "Reset master credentials", ["configuration change"])
    if changes.get("other"):
        world.pace(dur("modify"), t0)
    set_cluster_status(world, store, c, "available")


def ModifyDBCluster(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        c = get_cluster(ctx, p.get("DBClusterIdentifier"))
        if c["status"] != "available" or c.get("op"):
            note_conflict(ctx, "overlap", "db-cluster", c["id"], {"status": c["status"], "operation": c.get("op")})
            raise AwsError("InvalidDBClusterStateFault", f"DBCluster {c['id']} is not in the available state.")
        apply_now = bool(p.get("ApplyImmediately", False))
        changes = {}
        new = p.get("NewDBClusterIdentifier")
        if new:
            new = check_id("NewDBClusterIdentifier", new)
            if new != c["id"]:
                if new in st["clusters"]:
                    raise AwsError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
                if apply_now:
                    changes["rename"] = new
                else:
                    c["pending"]["DBClusterIdentifier"] = new
        if p.get("DBClusterParameterGroupName"):
            name = check_cpg(ctx, p["DBClusterParameterGroupName"])
            if name != c["param_group"]:
                c["param_group"] = name
                for i in members_of(st, c):
                    if member_static(st, i) != i.get("applied_static") or not real(i):
                        i["param_status"] = "pending-reboot"
        if p.get("VpcSecurityGroupIds") is not None:
            c["sg_ids"] = subnets.use_security_groups(ctx, list(p["VpcSecurityGroupIds"])) or [subnets.DEFAULT_SG]
        if p.get("BackupRetentionPeriod") is not None:
            br = p["BackupRetentionPeriod"]
            if br < 1 or br > 35:
                raise invalid(f"Invalid backup retention period: {br}. Aurora keeps 1 to 35 days.")
            c["backup_retention"] = br
        if p.get("DeletionProtection") is not None:
            c["deletion_protection"] = bool(p["DeletionProtection"])
        if p.get("CopyTagsToSnapshot") is not None:
            c["copy_tags"] = bool(p["CopyTagsToSnapshot"])
        if p.get("MasterUserPassword"):
            pw = p["MasterUserPassword"]
            if len(pw) < 8 or any(ch in pw for ch in '/@" '):
                raise invalid("The parameter MasterUserPassword is not a valid password.")
            changes["password"] = pw
        if p.get("Port") is not None:
            c["port"] = p["Port"]
        result = render_cluster(ctx, st, c)
        if changes:
            if "rename" in changes and w.clock.scale <= 0:
                do_cluster_rename(w, st, c, changes.pop("rename"), 0)
                result = render_cluster(ctx, st, c)
            if changes:
                c["status"] = "renaming" if "rename" in changes else "modifying"
                c["op"] = "modify"
                result = render_cluster(ctx, st, c)
                if "rename" in changes:
                    result.setdefault("PendingModifiedValues", {})["DBClusterIdentifier"] = changes["rename"]
                w.spawn(f"cmodify-{c['id']}", op_cluster_modify, w, st, c, changes, on_error=fail_cluster(c))
    w.mark_dirty()
    return {"DBCluster": result}


def op_cluster_delete(world, store, c, final=None):
    t0 = time.monotonic()
    if final:
        csnap_data(world, store, c, final)
        with world.lock:
            final["status"], final["progress"] = "available", 100
        world.event(store, "db-cluster-snapshot", final["id"], "Manual cluster snapshot created", ["creation"],
                    arn(store, "cluster-snapshot", final["id"]))
    world.pace(dur("cluster_delete"), t0)
    with world.lock:
        if store["clusters"].get(c["id"]) is c:
            del store["clusters"][c["id"]]
        c["deleted"] = True
    _sync_name(world, store, c["id"])
    shutil.rmtree(cluster_dir(world, c), ignore_errors=True)
    cluster_event(world, store, c, "DB cluster deleted", ["deletion"])


def DeleteDBCluster(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        c = get_cluster(ctx, p.get("DBClusterIdentifier"))
        if c["status"] not in CLUSTER_STABLE or c.get("op"):
            note_conflict(ctx, "overlap", "db-cluster", c["id"], {"status": c["status"], "operation": c.get("op")})
            raise AwsError("InvalidDBClusterStateFault", f"DBCluster {c['id']} is {c['status']}; cannot delete.")
        if c.get("deletion_protection"):
            raise combination("Cannot delete protected Cluster, please disable deletion protection and try again.")
        if [i for i in members_of(st, c) if i["status"] != "deleting"]:
            raise AwsError("InvalidDBClusterStateFault", "Cluster cannot be deleted, it still contains DB instances "
                           "in non-deleting state.")
        skip = bool(p.get("SkipFinalSnapshot", False))
        fid = p.get("FinalDBSnapshotIdentifier")
        if skip and fid:
            raise combination("FinalDBSnapshotIdentifier can not be specified when SkipFinalSnapshot is true.")
        if not skip and not fid:
            raise combination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        final = None
        if fid:
            fid = check_id("FinalDBSnapshotIdentifier", fid, 255)
            if fid in st["cluster_snapshots"]:
                raise exists_error(fid)
            check_cluster_snapshot_quota(ctx)
            final = new_csnap_record(ctx, fid, c, list(c["tags"]) if c.get("copy_tags") else [])
            st["cluster_snapshots"][fid] = final
        c["status"], c["op"] = "deleting", "delete"
        out = render_cluster(ctx, st, c)
    w.spawn(f"cdelete-{c['id']}", op_cluster_delete, w, st, c, final, on_error=fail_cluster(c))
    return {"DBCluster": out}


def op_cluster_stop(world, store, c):
    t0 = time.monotonic()
    wr = writer_of(store, c)
    for i in sorted(members_of(store, c), key=lambda i: i is wr):   # readers first, then the writer
        if real(i) and i.get("pg", {}).get("up"):
            stop_server(world, store, i)
        set_status(world, store, i, "stopped")
    world.pace(dur("stop"), t0)
    sync_cluster(world, store, c)
    set_cluster_status(world, store, c, "stopped", "DB cluster stopped")


def op_cluster_start(world, store, c):
    t0 = time.monotonic()
    wr = writer_of(store, c)
    for i in sorted(members_of(store, c), key=lambda i: i is not wr):   # the writer first
        if real(i) and i.get("pg", {}).get("dir"):
            start_server(world, store, i)
        set_status(world, store, i, "available")
    pw = c.pop("pending_password", None)
    if pw and wr is not None and real(wr):
        set_master_password(world, wr, pw)
    world.pace(dur("start"), t0)
    sync_cluster(world, store, c)
    set_cluster_status(world, store, c, "available", "DB cluster started")


def _members_busy(st, c):
    return [i["id"] for i in members_of(st, c) if i["status"] not in ("available", "stopped") or i.get("op")]


def StopDBCluster(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        c = get_cluster(ctx, p.get("DBClusterIdentifier"))
        if c["status"] != "available" or c.get("op") or _members_busy(st, c):
            note_conflict(ctx, "overlap", "db-cluster", c["id"], {"status": c["status"], "operation": c.get("op")})
            raise AwsError("InvalidDBClusterStateFault", f"DbCluster {c['id']} is in {c['status']} state but "
                           "expected it to be one of available.")
        c["status"], c["op"] = "stopping", "stop"
        for i in members_of(st, c):
            i["status"], i["op"] = "stopping", "stop"
        out = render_cluster(ctx, st, c)
    w.spawn(f"cstop-{c['id']}", op_cluster_stop, w, st, c, on_error=fail_cluster(c))
    return {"DBCluster": out}


def StartDBCluster(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        c = get_cluster(ctx, p.get("DBClusterIdentifier"))
        if c["status"] != "stopped" or c.get("op"):
            note_conflict(ctx, "overlap", "db-cluster", c["id"], {"status": c["status"], "operation": c.get("op")})
            raise AwsError("InvalidDBClusterStateFault", f"DbCluster {c['id']} is in {c['status']} state but "
                           "expected it to be one of stopped.")
        if enc_type(c) == "sse-kms" and kms.key_state(w, st, c["kms_key_id"]) != "Enabled":
            raise AwsError("KMSKeyNotAccessibleFault", "The KMS key of this cluster is not accessible.")
        c["status"], c["op"] = "starting", "start"
        for i in members_of(st, c):
            i["status"], i["op"] = "starting", "start"
        out = render_cluster(ctx, st, c)
    w.spawn(f"cstart-{c['id']}", op_cluster_start, w, st, c, on_error=fail_cluster(c))
    return {"DBCluster": out}


def op_failover(world, store, c, target):
    t0 = time.monotonic()
    cluster_event(world, store, c, f"Started cross AZ failover to DB instance: {target['id']}", ["failover"])
    for i in members_of(store, c):
        set_status(world, store, i, "rebooting") if i is target else None
    new = failover(world, store, c, target)
    world.pace(dur("failover"), t0)
    for i in members_of(store, c):
        if i["status"] in ("rebooting", "available"):
            set_status(world, store, i, "available")
    cluster_event(world, store, c, f"Completed failover to DB instance: {new['id'] if new else target['id']}",
                  ["failover"])
    set_cluster_status(world, store, c, "available")


def FailoverDBCluster(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        c = get_cluster(ctx, p.get("DBClusterIdentifier"))
        if c["status"] != "available" or c.get("op") or _members_busy(st, c):
            note_conflict(ctx, "overlap", "db-cluster", c["id"], {"status": c["status"], "operation": c.get("op")})
            raise AwsError("InvalidDBClusterStateFault", f"DBCluster {c['id']} is not in the available state.")
        wr = writer_of(st, c)
        readers = sorted((i for i in members_of(st, c) if i is not wr), key=lambda i: (i.get("promotion_tier", 1), i["id"]))
        if p.get("TargetDBInstanceIdentifier"):
            tid = ref_id(p["TargetDBInstanceIdentifier"], "db")
            target = next((i for i in readers if i["id"] == tid), None)
            if target is None:
                raise AwsError("InvalidDBInstanceState", f"DB instance {tid} is not a reader of cluster {c['id']}.")
        elif readers:
            target = readers[0]
        else:
            raise AwsError("InvalidDBClusterStateFault", f"Cluster {c['id']} has no reader to fail over to.")
        c["status"], c["op"] = "failing-over", "failover"
        out = render_cluster(ctx, st, c)
    w.spawn(f"failover-{c['id']}", op_failover, w, st, c, target, on_error=fail_cluster(c))
    return {"DBCluster": out}


def op_cluster_restore(world, store, c, snap):
    t0 = time.monotonic()
    if real(c) and snap.get("dir"):
        restore_volume(world, store, c, snap["dir"])
    world.pace(dur("cluster_restore"), t0)
    set_cluster_status(world, store, c, "available", f"DB cluster restored from snapshot {snap['id']}",
                       ["restoration"])


def RestoreDBClusterFromSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    ident = check_id("DBClusterIdentifier", p.get("DBClusterIdentifier"))
    engine = _check_engine(ctx, p)
    with w.lock:
        if not p.get("SnapshotIdentifier"):
            raise missing("SnapshotIdentifier")
        if p["SnapshotIdentifier"].startswith("arn:") and p["SnapshotIdentifier"].split(":")[5:6] == ["snapshot"]:
            raise invalid("awssim restores Aurora clusters from DB cluster snapshots only")
        _sst, snap = rds_sharing.resolve(ctx, p["SnapshotIdentifier"], "cluster-snapshot", "SnapshotIdentifier")
        ctx.resource = ident
        if snap["status"] != "available":
            raise AwsError("InvalidDBClusterSnapshotStateFault", f"DBClusterSnapshot {snap['id']} is not available.")
        if cluster_engine(snap) != engine:
            raise invalid(f"The engine {engine} does not match the engine of DB cluster snapshot {snap['id']} "
                          f"({cluster_engine(snap)}).")
        if ident in st["clusters"]:
            note_conflict(ctx, "duplicate-create", "db-cluster", ident, {"status": st["clusters"][ident]["status"]})
            raise AwsError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
        if enc_type(snap) == "sse-kms":
            kms.usable_key_arn(w, st, snap["kms_key_id"], ctx.caller)
        if p.get("KmsKeyId") and enc_type(snap) == "sse-rds" and w.faults.owned_key_restore == "refuse":
            raise invalid("Cannot restore a DB cluster snapshot encrypted with an AWS owned key with a KMS key "
                          "(awssim: owned_key_restore=refuse).")
        check_cluster_quota(ctx)
        tags = tags_in(p)
        meta = snap.get("metadata_only") or not snap.get("dir") or is_meta(ctx, tags)
        c = _new_cluster(ctx, ident, p, tags, meta, snap["master_username"], snap.get("db_name"), engine)
        c["encrypted"], c["kms_key_id"], c["enc_type"] = _encryption(ctx, p, c["created"], snap)
        c["restored_from"] = snap["id"]
        c["restored_from_rid"] = snap.get("cluster_rid")
        st["clusters"][ident] = c
        out = render_cluster(ctx, st, c)
    w.spawn(f"crestore-{ident}", op_cluster_restore, w, st, c, snap, on_error=fail_cluster(c))
    return {"DBCluster": out}
