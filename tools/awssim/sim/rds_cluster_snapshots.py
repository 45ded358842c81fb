"""Aurora DB cluster snapshots: records, the freeze copy of a cluster's volume
(the writer's running server, or the volume at rest), and the actions
CreateDBClusterSnapshot, DescribeDBClusterSnapshots, CopyDBClusterSnapshot,
DeleteDBClusterSnapshot, DescribeDBClusterSnapshotAttributes,
ModifyDBClusterSnapshotAttribute. (Restoring creates a cluster: rds_clusters.)

Copying re-keys an encrypted (KMS) snapshot only: an unencrypted snapshot, or
one encrypted with an AWS owned key (sse-rds), copied with KmsKeyId is
refused; RestoreDBClusterFromSnapshot with KmsKeyId is the way to a KMS key
for both (see docs/emulator.md for the sources and the choice)."""
import os
import shutil
import time

from . import kms, rds_sharing
from .errors import AwsError, invalid, missing
from .world import new_uuid
from .rds_common import (
    CLUSTER_ENGINES, arn, cluster_engine, is_my_cluster, check_cluster_snapshot_quota, check_id, filters, get_cluster, get_csnap, dur,
    merge_tags, note_conflict, paged, real, ref_id, tags_in, writer_of)
from .rds_cluster_servers import set_cluster_status, volume


def enc_type(rec):
    return rec.get("enc_type") or ("sse-kms" if rec.get("encrypted") else "none")


def render_csnap(store, s):
    eng = CLUSTER_ENGINES[cluster_engine(s)]
    d = {"AvailabilityZones": [f"{store['region']}{z}" for z in "abc"], "DBClusterSnapshotIdentifier": s["id"],
         "DBClusterIdentifier": s["cluster_id"], "Engine": cluster_engine(s), "EngineMode": "provisioned",
         "AllocatedStorage": s.get("allocated_storage", 0), "Status": s["status"], "Port": s.get("port", eng[6]),
         "VpcId": "vpc-0a1b2c3d4e5f60718", "ClusterCreateTime": s["cluster_created"],
         "MasterUsername": s["master_username"], "EngineVersion": eng[0], "LicenseModel": eng[5],
         "SnapshotType": s["type"], "PercentProgress": int(s.get("progress", 0)), "StorageEncrypted": s["encrypted"],
         "StorageEncryptionType": enc_type(s), "DBClusterSnapshotArn": arn(store, "cluster-snapshot", s["id"]),
         "IAMDatabaseAuthenticationEnabled": False, "TagList": list(s["tags"])}
    if s["status"] != "creating" or s.get("progress", 0) > 0:
        d["SnapshotCreateTime"] = s["created"]
    if s["encrypted"] and s.get("kms_key_id"):
        d["KmsKeyId"] = s["kms_key_id"]
    if s.get("source_arn"):
        d["SourceDBClusterSnapshotArn"] = s["source_arn"]
    return d


def new_csnap_record(ctx, sid, cluster, tags):
    return {"id": sid, "uid": new_uuid(), "cluster_id": cluster["id"], "cluster_rid": cluster["resource_id"],
            "type": "manual", "status": "creating", "progress": 0, "created": time.time(),
            "cluster_created": cluster["created"], "allocated_storage": 0, "master_username": cluster["master_username"],
            "port": cluster.get("port", 5432), "engine": cluster_engine(cluster), "encrypted": cluster["encrypted"], "kms_key_id": cluster.get("kms_key_id"),
            "enc_type": enc_type(cluster), "tags": tags, "metadata_only": not real(cluster),
            "db_name": cluster.get("db_name"), "dir": None, "attributes": {"restore": []}}


def _srv(rec):
    """The server manager of a cluster's (or cluster snapshot's) engine."""
    return (lambda world: world.my) if is_my_cluster(rec) else (lambda world: world.pg)


def csnap_data(world, store, cluster, snap):
    """The volume's files into the snapshot: a freeze copy of the writer's
    running server (crash-consistent: a restore runs crash recovery), else
    the volume as it lies."""
    w = writer_of(store, cluster)
    src = None
    marker = "mysql" if is_my_cluster(cluster) else "PG_VERSION"
    if real(cluster):
        if w is not None and real(w) and w.get("pg", {}).get("up"):
            src = w["pg"]["dir"]
        elif volume(cluster).get("dir") and os.path.exists(os.path.join(volume(cluster)["dir"], marker)):
            src = volume(cluster)["dir"]
    if src:
        dest = os.path.join(world.home, "cluster-snapshots", snap["uid"], "data")
        how = _srv(cluster)(world).freeze_copy(src, dest)
        with world.lock:
            snap.update({"dir": dest, "copy_method": how, "metadata_only": False})
    else:
        with world.lock:
            snap["metadata_only"] = True


def op_csnap(world, store, cluster, snap, then=None):
    t0 = time.monotonic()
    csnap_data(world, store, cluster, snap)

    def prog(f):
        snap["progress"] = int(f * 100)
    world.pace(dur("cluster_snapshot"), t0, prog)
    with world.lock:
        snap["status"], snap["progress"] = "available", 100
    world.event(store, "db-cluster-snapshot", snap["id"], "Manual cluster snapshot created", ["creation"],
                arn(store, "cluster-snapshot", snap["id"]))
    if then and cluster["status"] == "backing-up":
        set_cluster_status(world, store, cluster, then)


def op_ccopy(world, store, src, snap):
    t0 = time.monotonic()
    world.event(store, "db-cluster-snapshot", snap["id"], f"Started copy of cluster snapshot {src['id']} to {snap['id']}",
                ["notification"], arn(store, "cluster-snapshot", snap["id"]))
    if src.get("dir") and os.path.exists(src["dir"]):
        dest = os.path.join(world.home, "cluster-snapshots", snap["uid"], "data")
        _srv(src)(world).copy_tree(src["dir"], dest, link=True)
        with world.lock:
            snap.update({"dir": dest, "metadata_only": False})
    else:
        snap["metadata_only"] = True

    def prog(f):
        snap["progress"] = int(f * 100)
    world.pace(dur("cluster_copy"), t0, prog)
    if snap["encrypted"] and snap.get("kms_key_id") and kms.key_state(world, store, snap["kms_key_id"]) != "Enabled":
        with world.lock:
            snap["status"] = "failed"
        world.event(store, "db-cluster-snapshot", snap["id"], "Cluster snapshot copy failed: KMS key not accessible",
                    ["failure"], arn(store, "cluster-snapshot", snap["id"]))
        return
    with world.lock:
        snap["status"], snap["progress"] = "available", 100
    world.event(store, "db-cluster-snapshot", snap["id"],
                f"Cluster snapshot copy finished: {src['id']} copied to {snap['id']}", ["notification"],
                arn(store, "cluster-snapshot", snap["id"]))


def fail_csnap(snap, cluster=None):
    def on_error(e):
        snap["status"] = "failed"
        snap["failure"] = str(e)[:500]
        if cluster is not None and cluster["status"] == "backing-up":
            cluster["status"] = "available"
            cluster["op"] = None
    return on_error


def exists_error(sid):
    return AwsError("DBClusterSnapshotAlreadyExistsFault", f"Cannot create the cluster snapshot because one with the "
                    f"identifier {sid} already exists.")


def CreateDBClusterSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    sid = check_id("DBClusterSnapshotIdentifier", p.get("DBClusterSnapshotIdentifier"), 255)
    with w.lock:
        c = get_cluster(ctx, p.get("DBClusterIdentifier"))
        if c["status"] != "available" or c.get("op"):
            note_conflict(ctx, "overlap", "db-cluster", c["id"], {"status": c["status"], "operation": c.get("op")})
            raise AwsError("InvalidDBClusterStateFault", f"DBCluster {c['id']} is not in the available state.")
        if sid in st["cluster_snapshots"]:
            note_conflict(ctx, "duplicate-create", "db-cluster-snapshot", sid, {"status": st["cluster_snapshots"][sid]["status"]})
            raise exists_error(sid)
        check_cluster_snapshot_quota(ctx)
        tags = tags_in(p)
        if c.get("copy_tags"):
            tags = merge_tags(c["tags"], tags)
        snap = new_csnap_record(ctx, sid, c, tags)
        st["cluster_snapshots"][sid] = snap
        c["status"], c["op"] = "backing-up", "snapshot"
        out = render_csnap(st, snap)
    w.event(st, "db-cluster-snapshot", sid, "Creating manual cluster snapshot", ["creation"],
            arn(st, "cluster-snapshot", sid))
    w.spawn(f"csnapshot-{sid}", op_csnap, w, st, c, snap, "available", on_error=fail_csnap(snap, c))
    ctx.resource = sid
    return {"DBClusterSnapshot": out}


def DescribeDBClusterSnapshots(ctx, p):
    f = filters(p, {"db-cluster-id", "db-cluster-snapshot-id", "snapshot-type", "engine"})
    with ctx.world.lock:
        items, shown = rds_sharing.described(ctx, p, "cluster-snapshot")
        if p.get("DBClusterIdentifier"):
            cid = ref_id(p["DBClusterIdentifier"], "cluster")
            items = [s for s in items if s["cluster_id"] == cid]
        if "db-cluster-id" in f:
            ids = {ref_id(v, "cluster") for v in f["db-cluster-id"]}
            items = [s for s in items if s["cluster_id"] in ids]
        if "db-cluster-snapshot-id" in f:
            ids = {ref_id(v, "cluster-snapshot") for v in f["db-cluster-snapshot-id"]}
            items = [s for s in items if s["id"] in ids]
        if "snapshot-type" in f:
            items = [s for s in items if shown[id(s)][1] in f["snapshot-type"]]
        if "engine" in f:
            items = [s for s in items if cluster_engine(s) in f["engine"]]
        return paged("DBClusterSnapshots", items,
                     lambda s: rds_sharing.shown_id(ctx, shown[id(s)][0], s, "cluster-snapshot"), p,
                     lambda s: rds_sharing.seen(ctx, shown[id(s)][0], render_csnap(shown[id(s)][0], s), "cluster-snapshot",
                                            shown[id(s)][1]))


def CopyDBClusterSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    if not p.get("SourceDBClusterSnapshotIdentifier"):
        raise missing("SourceDBClusterSnapshotIdentifier")
    tid = check_id("TargetDBClusterSnapshotIdentifier", p.get("TargetDBClusterSnapshotIdentifier"), 255)
    ctx.resource = tid
    with w.lock:
        sst, src = rds_sharing.resolve(ctx, p["SourceDBClusterSnapshotIdentifier"], "cluster-snapshot",
                                       "SourceDBClusterSnapshotIdentifier")
        if src["status"] != "available":
            raise AwsError("InvalidDBClusterSnapshotStateFault", f"DBClusterSnapshot {src['id']} is not in the "
                           f"available state (it is {src['status']}).")
        if tid in st["cluster_snapshots"]:
            note_conflict(ctx, "duplicate-create", "db-cluster-snapshot", tid, {"status": st["cluster_snapshots"][tid]["status"]})
            raise exists_error(tid)
        key = src.get("kms_key_id") if enc_type(src) == "sse-kms" else None
        if sst is not st and enc_type(src) == "sse-kms":
            key = rds_sharing.copy_keys(ctx, sst, src, p, "cluster-snapshot")
        elif p.get("KmsKeyId"):
            if enc_type(src) == "none":
                raise invalid("Cannot copy an unencrypted DB cluster snapshot with a KMS key: encryption cannot "
                              "be added by copying; restore the snapshot with RestoreDBClusterFromSnapshot and "
                              "KmsKeyId instead.")
            if enc_type(src) == "sse-rds":
                raise invalid("Cannot copy a DB cluster snapshot encrypted with an AWS owned key with a KMS key; "
                              "restore the snapshot with RestoreDBClusterFromSnapshot and KmsKeyId instead.")
            key = kms.usable_key_arn(w, st, p["KmsKeyId"])
        if enc_type(src) == "sse-kms" and sst is st:
            kms.usable_key_arn(w, st, src["kms_key_id"])
        check_cluster_snapshot_quota(ctx)
        tags = tags_in(p)
        if p.get("CopyTags"):
            tags = merge_tags(src["tags"], tags)
        snap = dict(src, id=tid, uid=new_uuid(), status="creating", progress=0, created=time.time(), type="manual",
                    tags=tags, kms_key_id=key, source_arn=arn(sst, "cluster-snapshot", src["id"]), dir=None,
                    attributes={"restore": []})
        st["cluster_snapshots"][tid] = snap
        out = render_csnap(st, snap)
    w.spawn(f"ccopy-{tid}", op_ccopy, w, st, src, snap, on_error=fail_csnap(snap))
    return {"DBClusterSnapshot": out}


def DeleteDBClusterSnapshot(ctx, p):
    w, st = ctx.world, ctx.store
    with w.lock:
        snap = get_csnap(ctx, p.get("DBClusterSnapshotIdentifier"))
        ctx.resource = snap["id"]
        if snap["status"] not in ("available", "failed"):
            note_conflict(ctx, "overlap", "db-cluster-snapshot", snap["id"], {"status": snap["status"]})
            raise AwsError("InvalidDBClusterSnapshotStateFault", f"Cannot delete the cluster snapshot because it is "
                           f"{snap['status']}.")
        del st["cluster_snapshots"][snap["id"]]
        out = render_csnap(st, dict(snap, status="deleted"))
    if snap.get("dir"):
        w.spawn(f"rmcsnap-{snap['id']}", shutil.rmtree, os.path.dirname(snap["dir"]), True)
    w.event(st, "db-cluster-snapshot", snap["id"], "Deleted manual cluster snapshot", ["deletion"],
            arn(st, "cluster-snapshot", snap["id"]))
    return {"DBClusterSnapshot": out}



def DescribeDBClusterSnapshotAttributes(ctx, p):
    return rds_sharing.describe_attributes(ctx, p, "cluster-snapshot")


def ModifyDBClusterSnapshotAttribute(ctx, p):
    return rds_sharing.modify_attribute(ctx, p, "cluster-snapshot")
