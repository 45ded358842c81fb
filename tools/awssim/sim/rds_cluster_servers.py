"""Aurora clusters on real PostgreSQL (aurora-postgresql) and MariaDB
(aurora-mysql: rds_mysql runs the servers). A cluster's volume is a data directory
(HOME/clusters/<resource id>/data): created and bootstrapped with the
cluster (the master user, as RDS), copied from a snapshot by a restore. The
writer instance runs its server on the volume; each reader is a streaming
standby of the writer (pg_basebackup -R). Failover promotes a reader, whose
data directory becomes the volume. A restored volume's first start computes
where logical replication continues (aurora_volume_logical_start_lsn());
for Aurora MySQL the writer's first start on a restored volume runs InnoDB
crash recovery and reports, as an event on the cluster, the binary log
position the restored data continues from ("Binlog position from crash
recovery is mysql-bin-changelog.NNNNNN POS"). An Aurora MySQL reader is a
MariaDB replica of the writer (a copy under a global read lock)."""
import logging
import os
import re
import shutil
import time

from . import rds_mysql
from .pg import ADMIN, qlit
from .rds_common import (
    AURORA_MY, CLUSTER_ENGINES, DEFAULT_AURORA_PG, arn, cluster_by_rid, cluster_of, dur, is_my, is_my_cluster, members_of, real,
    writer_of)
from .rds_params import pg_settings
from .rds_servers import free_port, inst_dir, set_status, start_server, stop_server, sync_cluster

log = logging.getLogger("awssim.cluster")

LSN_RE = r"([0-9A-F]+/[0-9A-F]+)"


def cluster_dir(world, cluster):
    return os.path.join(world.home, "clusters", cluster["resource_id"])


def volume(cluster):
    return cluster.setdefault("volume", {})


def cluster_event(world, store, cluster, message, categories=("notification",)):
    world.event(store, "db-cluster", cluster["id"], message, list(categories), arn(store, "cluster", cluster["id"]))


def set_cluster_status(world, store, cluster, status, event=None, categories=("notification",)):
    with world.lock:
        cluster["status"] = status
        if status in ("available", "stopped", "failed", "inaccessible-encryption-credentials"):
            cluster["op"] = None
    if event:
        cluster_event(world, store, cluster, event, categories)
    world.mark_dirty()


# ------------------------------------------------------------------ volume
def op_bootstrap_volume(world, store, cluster, password):
    """CreateDBCluster: a fresh volume with RDS's roles and the master user
    (bootstrapped on a private server that is stopped again: no instance yet)."""
    t0 = time.monotonic()
    if real(cluster) and is_my_cluster(cluster):
        d = os.path.join(cluster_dir(world, cluster), "data")
        with world.lock:
            volume(cluster)["dir"] = d
        rds_mysql.bootstrap_volume(world, store, cluster, d, password,
                                   {"param_group": CLUSTER_ENGINES[AURORA_MY][3], "cluster": cluster["resource_id"]})
    elif real(cluster):
        d = os.path.join(cluster_dir(world, cluster), "data")
        with world.lock:
            volume(cluster)["dir"] = d
        world.pg.new_datadir(d)
        port = free_port()
        world.pg.configure(d, port, pg_settings(store, {"param_group": DEFAULT_AURORA_PG,
                                                        "cluster": cluster["resource_id"]}))
        world.pg.start(d, os.path.join(cluster_dir(world, cluster), "startup.log"))
        try:
            world.pg.bootstrap(port, cluster["master_username"], password, cluster.get("db_name"))
        finally:
            world.pg.stop(d, "fast")
    world.pace(dur("cluster_create"), t0)
    set_cluster_status(world, store, cluster, "available", "DB cluster created", ["creation"])


def restore_volume(world, store, cluster, snap_dir):
    """RestoreDBClusterFromSnapshot: the snapshot's files become the volume;
    crash recovery runs when the first (writer) instance starts."""
    d = os.path.join(cluster_dir(world, cluster), "data")
    if is_my_cluster(cluster):
        rds_mysql.restore_volume(world, snap_dir, d)
        with world.lock:
            volume(cluster).update({"dir": d, "restored": True, "binlog_pos": None})
        return
    world.pg.copy_tree(snap_dir, d)
    world.pg.clean_copy(d, keep_logs=True)
    for f in ("standby.signal", "recovery.signal"):
        try:
            os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass
    with world.lock:
        volume(cluster).update({"dir": d, "restored": True, "start_lsn": None})


def end_of_wal(world, d):
    """Where the WAL in data directory `d` ends (the first record it does not
    hold), read with pg_waldump from the latest checkpoint's redo point before
    the server ever starts on it; None when the tool's last error names no
    position (the caller falls back to the end-of-recovery checkpoint)."""
    r = world.pg.run([os.path.join(world.pg.bin, "pg_controldata"), "-D", d], check=False)
    m = re.search(r"Latest checkpoint's REDO location:\s+" + LSN_RE, r.stdout or "")
    if not m:
        return None
    r = world.pg.run([os.path.join(world.pg.bin, "pg_waldump"), "-p", os.path.join(d, "pg_wal"), "-s", m.group(1),
                      "-q"], check=False, timeout=600)
    err = (r.stderr or "") + (r.stdout or "")
    for pat in (r"invalid record length at " + LSN_RE, r"incorrect prev-link [0-9A-F]+/[0-9A-F]+ at " + LSN_RE,
                r"record with invalid length at " + LSN_RE, r"invalid resource manager ID \d+ at " + LSN_RE,
                r"record length \d+ at " + LSN_RE + " too long"):
        m = re.search(pat, err)
        if m:
            return m.group(1)
    m = re.search(r"invalid magic number [0-9A-F]+ in (?:WAL|log) segment ([0-9A-F]{24}), (?:LSN [0-9A-F/]+, )?offset (\d+)",
                  err)
    if m:
        seg, off = m.group(1), int(m.group(2))
        segsize = _wal_segsize(world, d)
        lsn = (int(seg[8:16], 16) * (0x100000000 // segsize) + int(seg[16:24], 16)) * segsize + off
        return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"
    log.warning("end of WAL not found by pg_waldump in %s: %s", d, err.strip()[-300:])
    return None


def _wal_segsize(world, d):
    r = world.pg.run([os.path.join(world.pg.bin, "pg_controldata"), "-D", d], check=False)
    m = re.search(r"Bytes per WAL segment:\s+(\d+)", r.stdout or "")
    return int(m.group(1)) if m else 16 * 1024 * 1024


def install_start_lsn(world, port, lsn):
    """aurora_volume_logical_start_lsn() in every database (and template1),
    callable by every role, as on Aurora."""
    dbs = world.pg.psql(port, "SELECT datname FROM pg_database WHERE datallowconn AND datname <> 'rdsadmin'")
    fn = (f"CREATE OR REPLACE FUNCTION pg_catalog.aurora_volume_logical_start_lsn() RETURNS pg_lsn "
          f"LANGUAGE sql STABLE AS $$SELECT {qlit(lsn)}::pg_lsn$$;\n"
          "GRANT EXECUTE ON FUNCTION pg_catalog.aurora_volume_logical_start_lsn() TO PUBLIC;\n")
    for db in [x for x in dbs.split("\n") if x.strip()]:
        world.pg.psql(port, fn, db=db.strip())


# ------------------------------------------------------------------ members
def op_create_member(world, store, inst, cluster):
    """CreateDBInstance --db-cluster-identifier: the first instance is the
    writer (its server runs on the volume), later ones are readers
    (streaming standbys of the writer)."""
    t0 = time.monotonic()
    is_writer = cluster.get("writer") == inst["resource_id"]
    if real(inst) and real(cluster):
        if is_writer:
            _start_writer(world, store, inst, cluster)
        else:
            writer = _wait_writer(world, store, cluster)
            _make_standby(world, store, inst, writer)
    with world.lock:
        inst["endpoint_ready"] = True
    world.pace(dur("create", inst["allocated_storage"]), t0)
    world.event(store, "db-instance", inst["id"], "DB instance created", ["creation"], arn(store, "db", inst["id"]))
    set_status(world, store, inst, "available")
    sync_cluster(world, store, cluster)


def _start_writer_my(world, store, inst, cluster):
    """Aurora MySQL: the writer's server on the volume. On a restored volume's
    first start the position its data continues from is read from its
    binary log (before recovery touches it) and reported as Aurora does."""
    vol = volume(cluster)
    d = vol["dir"]
    first = vol.get("restored") and not vol.get("binlog_pos")
    f = world.faults
    shift = f.binlog_event if not f.binlog_event_for or f.binlog_event_for in cluster["id"] else "exact"
    pos = None
    if first:
        with world.lock:
            src = cluster_by_rid(store, cluster.get("restored_from_rid") or "")
            sw = writer_of(store, src) if src else None
            live = sw["pg"]["dir"] if sw and sw.get("pg", {}).get("dir") else None
        pos = rds_mysql.crash_recovery_position(world, d, shift, live)
    with world.lock:
        inst["pg"] = {"dir": d, "port": inst.get("pg", {}).get("port") or free_port(), "up": False}
        inst["cluster_reader"] = False
    start_server(world, store, inst)
    if first:
        with world.lock:
            vol["binlog_pos"] = list(pos) if pos else ["", 0]
        for _ in range((2 if shift == "twice" else 1) if pos else 0):
            cluster_event(world, store, cluster, f"Binlog position from crash recovery is {pos[0]} {pos[1]}")
        if pos:
            log.info("cluster %s restored: binlog continues from %s %s", cluster["id"], pos[0], pos[1])


def _start_writer(world, store, inst, cluster):
    if is_my(inst):
        return _start_writer_my(world, store, inst, cluster)
    vol = volume(cluster)
    d = vol["dir"]
    first_restore_start = vol.get("restored") and not vol.get("start_lsn")
    end = end_of_wal(world, d) if first_restore_start else None
    with world.lock:
        inst["pg"] = {"dir": d, "port": inst.get("pg", {}).get("port") or free_port(), "up": False}
    start_server(world, store, inst)
    if first_restore_start:
        if end is None:   # fallback: the end-of-recovery checkpoint sits where the WAL ended
            end = world.pg.psql(inst["pg"]["port"], "SELECT redo_lsn FROM pg_control_checkpoint()").strip()
        install_start_lsn(world, inst["pg"]["port"], end)
        with world.lock:
            vol["start_lsn"] = end
        log.info("cluster %s restored: logical replication continues from %s", cluster["id"], end)


def _wait_writer(world, store, cluster, timeout=1800):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with world.lock:
            w = writer_of(store, cluster)
            if w and w.get("pg", {}).get("up"):
                return w
        if world.clock.stop_event.wait(0.2):
            break
    raise RuntimeError(f"cluster {cluster['id']} has no running writer to copy a reader from")


def _make_standby(world, store, inst, writer):
    d = os.path.join(inst_dir(world, inst), "data")
    with world.lock:
        inst["pg"] = {"dir": d, "port": inst.get("pg", {}).get("port") or free_port(), "up": False}
    if is_my(inst):
        rds_mysql.reader_copy(world, store, inst, writer)
        start_server(world, store, inst)
        rds_mysql.follow_writer(world, store, inst, writer)
        return
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    world.pg.chown(os.path.dirname(d))
    world.pg.run([os.path.join(world.pg.bin, "pg_basebackup"), "-h", world.pg.sockdir, "-p", str(writer["pg"]["port"]),
                  "-U", ADMIN, "-D", d, "-X", "stream", "-R", "-c", "fast"], timeout=1800)
    world.pg.clean_copy(d)
    os.chmod(d, 0o700)
    open(os.path.join(d, "standby.signal"), "a").close()
    world.pg.chown(d, recursive=True)
    start_server(world, store, inst)


def repoint_readers(world, store, cluster, writer):
    """After a failover: every other reader streams from the new writer
    (primary_conninfo is reloadable; the new timeline is followed)."""
    for r in members_of(store, cluster):
        if r is writer or not real(r) or not r.get("pg", {}).get("up"):
            continue
        conninfo = f"host={world.pg.sockdir} port={writer['pg']['port']} user={ADMIN}"
        world.pg.psql(r["pg"]["port"], f"ALTER SYSTEM SET primary_conninfo = {qlit(conninfo)};\n"
                                       "SELECT pg_reload_conf();")


def failover(world, store, cluster, target=None):
    """Make `target` (or the reader with the best promotion tier) the writer.
    Returns the new writer or None when the cluster has no reader."""
    with world.lock:
        old = writer_of(store, cluster)
        readers = [i for i in members_of(store, cluster) if i is not old and i["status"] not in ("deleting",)]
        if target is None and readers:
            target = sorted(readers, key=lambda i: (i.get("promotion_tier", 1), i["id"]))[0]
        if target is None:
            return None
        cluster["writer"] = target["resource_id"]
    if old is not None and real(old) and old.get("pg", {}).get("up"):
        stop_server(world, store, old)
    if is_my(target):
        return _failover_my(world, store, cluster, old, target)
    if real(target) and target.get("pg", {}).get("up"):
        world.pg.pg_ctl("-D", target["pg"]["dir"], "promote", "-w", "-t", "120", check=False)
        with world.lock:
            volume(cluster)["dir"] = target["pg"]["dir"]
        repoint_readers(world, store, cluster, target)
    if old is not None and real(old) and old.get("pg", {}).get("dir") and old["status"] not in ("deleting",):
        # the old writer comes back as a reader of the new one
        _make_standby(world, store, old, target)
    sync_cluster(world, store, cluster)
    return target


def _failover_my(world, store, cluster, old, target):
    """Aurora MySQL: the reader stops replicating and becomes writable; the
    other readers (and the old writer, unless deleted) are copied again from
    it (the emulation has no shared volume to re-attach)."""
    if real(target) and target.get("pg", {}).get("up"):
        rds_mysql.promote_reader(world, target)
        with world.lock:
            volume(cluster)["dir"] = target["pg"]["dir"]
    for r in members_of(store, cluster):
        if r is target or not real(r) or not r.get("pg", {}).get("dir") or r["status"] in ("deleting",):
            continue
        if r.get("pg", {}).get("up"):
            stop_server(world, store, r)
        _make_standby(world, store, r, target)
    sync_cluster(world, store, cluster)
    return target


def member_deleted(world, store, inst):
    """DeleteDBInstance of a member (server already stopped): a deleted writer
    hands over to a reader (failover); the volume's data stays with the
    cluster even when it lives in this instance's directory."""
    cluster = cluster_of(store, inst)
    if not cluster:
        return
    if cluster.get("writer") == inst["resource_id"]:
        new = failover(world, store, cluster)
        if new is None:
            with world.lock:
                cluster["writer"] = None
        d = inst.get("pg", {}).get("dir")
        if d and d.startswith(inst_dir(world, inst) + os.sep) and volume(cluster).get("dir") == d:
            dest = os.path.join(cluster_dir(world, cluster), f"data-{int(time.time() * 1000)}")
            os.makedirs(cluster_dir(world, cluster), exist_ok=True)
            os.rename(d, dest)
            with world.lock:
                volume(cluster)["dir"] = dest
    sync_cluster(world, store, cluster)
