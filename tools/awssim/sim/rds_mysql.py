"""RDS for MySQL and RDS for MariaDB: the MariaDB server behind an instance of
engine mysql or mariadb (mysql.py runs it). Start it with its parameter
group's settings and a server-id unique per instance; create, restore (InnoDB
crash recovery on the snapshot's copy) and read replicas (a copy under a
global read lock, replicating from the source at the position of that lock);
promotion. Imports no RDS action module (rds_servers and rds_instances call
it)."""
import secrets
import zlib

from .rds_common import find_by_rid
from .rds_params import my_settings


def server_id(inst):
    """Stable and unique per instance (its resource id), 1..2^31-1."""
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
    world.my.query(sd, "CREATE USER IF NOT EXISTS 'rdsrepladmin'@'127.0.0.1' IDENTIFIED BY " + _q(pw),
                   "ALTER USER 'rdsrepladmin'@'127.0.0.1' IDENTIFIED BY " + _q(pw),
                   "GRANT REPLICATION SLAVE, SLAVE MONITOR, BINLOG MONITOR ON *.* TO 'rdsrepladmin'@'127.0.0.1'")
    f, pos = world.my.locked_copy(sd, d)
    with world.lock:
        inst["my_repl"] = {"file": f, "pos": pos, "password": pw}
    world.mark_dirty()


def follow(world, store, inst):
    """A read replica's replication from its source (RDS sets it up itself)."""
    src = find_by_rid(store, inst.get("replica_of") or "")
    r = inst.get("my_repl") or {}
    if not src or not r:
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
