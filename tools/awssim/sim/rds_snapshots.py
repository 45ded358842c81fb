"""RDS DB snapshots: records, the freeze copy of an instance's data, and the
actions CreateDBSnapshot, DescribeDBSnapshots, CopyDBSnapshot,
DeleteDBSnapshot, DescribeDBSnapshotAttributes, ModifyDBSnapshotAttribute.
(Restoring creates an instance: rds_instances. Sharing with other accounts:
rds_sharing.)"""
import os
import shutil
import time

from . import kms, rds_sharing
from .errors import AwsError, missing
from .world import new_uuid
from .rds_common import (
    DEFAULT_OG, ENGINE_VERSION, MY_ENGINES, arn, busy, check_id, check_snapshot_quota, dur, filters, get_inst, get_snap,
    merge_tags, note_conflict, paged, real, ref_id, tags_in)
from .rds_servers import set_status


def render_snapshot(store, s):
    d = {"DBSnapshotIdentifier": s["id"], "DBInstanceIdentifier": s["instance_id"],
         "Engine": s.get("engine") or "postgres", "AllocatedStorage": s["allocated_storage"], "Status": s["status"],
         "Port": s.get("port", 5432), "AvailabilityZone": s.get("az"), "VpcId": "vpc-0a1b2c3d4e5f60718",
         "InstanceCreateTime": s["instance_created"], "MasterUsername": s["master_username"],
         "EngineVersion": MY_ENGINES[s["engine"]][0] if s.get("engine") in MY_ENGINES else ENGINE_VERSION,
         "LicenseModel": "general-public-license" if s.get("engine") in MY_ENGINES else "postgresql-license",
         "SnapshotType": s["type"],
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


def new_snapshot_record(ctx, sid, inst, tags):
    return {"id": sid, "uid": new_uuid(), "instance_id": inst["id"], "resource_id": inst["resource_id"],
            "type": "manual", "status": "creating", "progress": 0, "created": time.time(),
            "instance_created": inst["created"], "allocated_storage": inst["allocated_storage"],
            "master_username": inst["master_username"], "port": inst.get("requested_port", 5432),
            "az": inst["az"], "encrypted": inst["encrypted"], "kms_key_id": inst["kms_key_id"], "tags": tags,
            "option_group": inst["option_group"], "storage_type": inst.get("storage_type", "gp2"),
            "metadata_only": not real(inst), "db_name": inst.get("db_name"), "dir": None,
            "engine": inst.get("engine") or "postgres", "param_group": inst.get("param_group")}


def snapshot_data(world, store, inst, snap):
    """Copy the instance's data into the snapshot (freeze copy when running)."""
    if real(inst) and inst.get("pg", {}).get("dir") and os.path.exists(inst["pg"]["dir"]):
        dest = os.path.join(world.home, "snapshots", snap["uid"], "data")
        how = world.srv(inst).freeze_copy(inst["pg"]["dir"], dest)
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


def _fail_snap(w, st, snap, inst=None):
    def on_error(e):
        snap["status"] = "failed"
        snap["failure"] = str(e)[:500]
        if inst is not None and inst["status"] == "backing-up":
            inst["status"] = "available"
    return on_error


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


def DescribeDBSnapshots(ctx, p):
    f = filters(p, {"db-instance-id", "db-snapshot-id", "dbi-resource-id", "snapshot-type", "engine"})
    with ctx.world.lock:
        items, shown = rds_sharing.described(ctx, p, "snapshot")
        if p.get("DBInstanceIdentifier"):
            iid = ref_id(p["DBInstanceIdentifier"], "db")
            items = [s for s in items if s["instance_id"] == iid]
        if p.get("DbiResourceId"):
            items = [s for s in items if s["resource_id"] == p["DbiResourceId"]]
        if "db-instance-id" in f:
            ids = {ref_id(v, "db") for v in f["db-instance-id"]}
            items = [s for s in items if s["instance_id"] in ids]
        if "db-snapshot-id" in f:
            ids = {ref_id(v, "snapshot") for v in f["db-snapshot-id"]}
            items = [s for s in items if s["id"] in ids]
        if "dbi-resource-id" in f:
            items = [s for s in items if s["resource_id"] in f["dbi-resource-id"]]
        if "snapshot-type" in f:
            items = [s for s in items if shown[id(s)][1] in f["snapshot-type"]]
        if "engine" in f:
            items = [s for s in items if (s.get("engine") or "postgres") in f["engine"]]
        out = paged("DBSnapshots", items, lambda s: rds_sharing.shown_id(ctx, shown[id(s)][0], s, "snapshot"), p,
                    lambda s: rds_sharing.seen(ctx, shown[id(s)][0], render_snapshot(shown[id(s)][0], s), "snapshot",
                                               shown[id(s)][1]))
    return out


def CopyDBSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    if not p.get("SourceDBSnapshotIdentifier"):
        raise missing("SourceDBSnapshotIdentifier")
    tid = check_id("TargetDBSnapshotIdentifier", p.get("TargetDBSnapshotIdentifier"), 255)
    ctx.resource = tid
    with w.lock:
        sst, src = rds_sharing.resolve(ctx, p["SourceDBSnapshotIdentifier"], "snapshot", "SourceDBSnapshotIdentifier")
        if src["status"] != "available":
            raise AwsError("InvalidDBSnapshotState", f"Snapshot {src['id']} is not in available state "
                           f"(it is {src['status']}).")
        if tid in st["snapshots"]:
            note_conflict(ctx, "duplicate-create", "db-snapshot", tid, {"status": st["snapshots"][tid]["status"]})
            raise AwsError("DBSnapshotAlreadyExists", f"Cannot create the snapshot because a snapshot with the "
                           f"identifier {tid} already exists.")
        if sst is not st:
            key = rds_sharing.copy_keys(ctx, sst, src, p, "snapshot")
        else:
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
                    encrypted=bool(key), kms_key_id=key, source_arn=arn(sst, "snapshot", src["id"]), dir=None,
                    attributes={"restore": []})
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



def DescribeDBSnapshotAttributes(ctx, p):
    return rds_sharing.describe_attributes(ctx, p, "snapshot")


def ModifyDBSnapshotAttribute(ctx, p):
    return rds_sharing.modify_attribute(ctx, p, "snapshot")
