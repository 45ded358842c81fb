"""RDS for MySQL and RDS for MariaDB: the MariaDB server behind an instance of
engine mysql or mariadb (mysql.py runs it). Start it with its parameter
group's settings and a server-id unique per instance; create, restore (InnoDB
crash recovery on the snapshot's copy) and read replicas (a copy under a
global read lock, replicating from the source at the position of that lock);
promotion. Imports no RDS action module (rds_servers and rds_instances call
it)."""
import os
import secrets
import shutil
import struct
import zlib

from .mysql import BINLOG_BASE
from .rds_common import find_by_rid, free_port
from .rds_params import my_settings


def server_id(inst):
    """Stable and unique per instance (or cluster: its bootstrap server) by
    its resource id, 1..2^31-1."""
    return zlib.crc32(inst["resource_id"].encode()) % 2147483646 + 1


def start(world, store, inst, port):
    d = inst["pg"]["dir"]
    with world.lock:
        settings = my_settings(store, inst)
    world.my.configure(d, port, server_id(inst), settings)
    pid = world.my.start(d)
    world.my.apply_retention(d)
    return pid


def create(world, inst, password):
    d = inst["pg"]["dir"]
    world.my.new_datadir(d)
    return lambda: world.my.bootstrap(d, inst["master_username"], password, inst.get("db_name"))


def restore_copy(world, snap_dir, inst):
    """The snapshot's data dir as the new instance's: the server's start runs
    InnoDB crash recovery (and binlog XA recovery) on it."""
    d = inst["pg"]["dir"]
    world.my.copy_tree(snap_dir, d)
    world.my.clean_copy(d)


def replica_copy(world, store, inst, src):
    """Copy the source under FLUSH TABLES WITH READ LOCK; remember the source
    position at the lock; the replicating account on the source."""
    d = inst["pg"]["dir"]
    pw = secrets.token_urlsafe(24)
    sd = src["pg"]["dir"]
    # not binary-logged: RDS's own account never reaches an external replica's stream
    world.my.query(sd, "SET SESSION sql_log_bin = 0",
                   "CREATE USER IF NOT EXISTS 'rdsrepladmin'@'127.0.0.1' IDENTIFIED BY " + _q(pw),
                   "ALTER USER 'rdsrepladmin'@'127.0.0.1' IDENTIFIED BY " + _q(pw),
                   "GRANT REPLICATION SLAVE, SLAVE MONITOR, BINLOG MONITOR ON *.* TO 'rdsrepladmin'@'127.0.0.1'")
    f, pos = world.my.locked_copy(sd, d)
    with world.lock:
        inst["my_repl"] = {"file": f, "pos": pos, "password": pw}
    world.mark_dirty()


def follow(world, store, inst):
    """A read replica's replication from its source (RDS sets it up itself)."""
    src = find_by_rid(store, inst.get("replica_of") or "")
    if src:
        _follow(world, inst, src)


def _follow(world, inst, src):
    r = inst.get("my_repl") or {}
    if not r:
        return
    world.my.query(inst["pg"]["dir"], "STOP SLAVE", "RESET SLAVE ALL",
                   f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={int(src['pg']['port'])}, "
                   f"MASTER_USER='rdsrepladmin', MASTER_PASSWORD={_q(r['password'])}, "
                   f"MASTER_LOG_FILE={_q(r['file'])}, MASTER_LOG_POS={int(r['pos'])}, MASTER_SSL=1, "
                   "MASTER_USE_GTID=no, MASTER_CONNECT_RETRY=1",
                   "START SLAVE")
    with world.lock:
        r.pop("password", None)   # the replica's master.info keeps it, the emulator's state does not
    world.mark_dirty()


def promote(world, inst):
    """PromoteReadReplica: replication stopped and forgotten, writable."""
    world.my.query(inst["pg"]["dir"], "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF")


def _q(s):
    return "'" + str(s).replace("\\", "\\\\").replace("'", "''") + "'"


# ------------------------------------------------------------------ Aurora MySQL
def bootstrap_volume(world, store, cluster, d, password, settings_inst):
    """CreateDBCluster of engine aurora-mysql: a fresh data dir with RDS's
    accounts, tables and procedures, bootstrapped on a private server that
    is stopped again (no instance yet)."""
    world.my.new_datadir(d)
    with world.lock:
        settings = my_settings(store, settings_inst)
    world.my.configure(d, free_port(), server_id(cluster), settings)
    world.my.start(d)
    try:
        world.my.bootstrap(d, cluster["master_username"], password, cluster.get("db_name"))
    finally:
        world.my.stop(d)


def restore_volume(world, snap_dir, d):
    """RestoreDBClusterFromSnapshot: the snapshot's files (binary logs kept:
    crash recovery resolves prepared transactions from them)."""
    world.my.copy_tree(snap_dir, d)
    world.my.clean_copy(d)


GTID_EVENT, XID_EVENT, QUERY_EVENT, FORMAT_DESCRIPTION_EVENT = 162, 16, 2, 15
_FL_STANDALONE = 1


def _last_binlog(d):
    idx = os.path.join(d, BINLOG_BASE + ".index")
    try:
        with open(idx) as f:
            names = [os.path.basename(x.strip()) for x in f if x.strip()]
    except OSError:
        names = []
    if not names:
        names = sorted(n for n in os.listdir(d) if n.startswith(BINLOG_BASE + ".") and n[-6:].isdigit())
    return names[-1] if names else None


def binlog_group_ends(path):
    """The end of every complete event group (transaction) in binary log
    `path`, in order, and the end of the last complete one (or of the file's
    own header events): crash recovery commits exactly the transactions
    whose group the binary log holds whole (it is the two-phase commit's
    coordinator), so the recovered data continues from there. None when it
    is no binary log."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\xfebin":
        return None
    off = safe = 4
    ends = []
    crc = 0
    in_group = standalone = False
    while off + 19 <= len(data):
        typ = data[off + 4]
        length = struct.unpack_from("<I", data, off + 9)[0]
        end = off + length
        if length < 19 or end > len(data):
            break   # the frozen copy caught this event half written
        body = data[off + 19:end - crc]
        if typ == FORMAT_DESCRIPTION_EVENT:
            crc = 4 if data[end - 5] == 1 else 0
        if typ == GTID_EVENT:
            in_group, standalone = True, bool(body[12] & _FL_STANDALONE) if len(body) > 12 else False
        elif in_group:
            done = standalone or typ == XID_EVENT
            if typ == QUERY_EVENT and not done and len(body) >= 13:
                db_len, sv_len = body[8], struct.unpack_from("<H", body, 11)[0]
                q = body[13 + sv_len + db_len + 1:].strip().upper()
                done = q in (b"COMMIT", b"ROLLBACK")
            if done:
                in_group = False
                safe = end
                ends.append(end)
        else:
            safe = end
        off = end
    return ends, safe


def crash_recovery_position(world, d, shift="exact", live_dir=None):
    """(file, position) from which a restored volume's data continues in the
    source's binary log: its last binary log file, at the end of the last
    whole transaction in it (read before the server starts on the copy).
    shift (tests' negative controls): "early" one transaction before it,
    "late" one after it (read from the source's live file in live_dir)."""
    name = _last_binlog(d)
    if not name:
        return None
    r = binlog_group_ends(os.path.join(d, name))
    if not r:
        return None
    ends, pos = r
    if shift == "early" and len(ends) >= 2 and ends[-1] == pos:
        pos = ends[-2]
    elif shift == "late" and live_dir:
        for _ in range(100):   # the source's next transaction may still be on its way
            live = binlog_group_ends(os.path.join(live_dir, name))
            later = [e for e in (live[0] if live else []) if e > pos]
            if later:
                pos = later[0]
                break
            world.clock.stop_event.wait(0.1)
    return name, pos


def reader_copy(world, store, inst, writer):
    """An Aurora MySQL reader: a copy of the writer under a global read lock,
    replicating from it (the emulated stand-in for Aurora's shared volume)."""
    d = inst["pg"]["dir"]
    if os.path.exists(d):
        shutil.rmtree(d)
    with world.lock:
        inst["cluster_reader"] = True
    replica_copy(world, store, inst, writer)


def follow_writer(world, store, inst, writer):
    _follow(world, inst, writer)


def promote_reader(world, inst):
    with world.lock:
        inst["cluster_reader"] = False
    promote(world, inst)
