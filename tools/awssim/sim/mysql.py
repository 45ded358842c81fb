"""Real MariaDB 10.11 servers behind DB instances of engines mysql and
mariadb: data dirs, my.cnf, start/stop, crash-consistent freeze copies, the
RDS users and procedures (bootstrap), replication set-up for read replicas.

As for PostgreSQL (pg.py): when the emulator runs as root every server runs
as the `mysql` OS user and its data directory is owned by it (0700). The
emulator speaks SQL to a server over its private unix socket as `rdsadmin`
(the only account with every privilege, as on RDS; it has no TCP account).
"""
import logging
import os
import shutil
import signal
import subprocess
import threading
import time

import pymysql

from . import procs

log = logging.getLogger("awssim.mysql")

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
ADMIN = "rdsadmin"
REPL_USER = "rdsrepladmin"   # the account RDS's own read replicas replicate with
BINLOG_BASE = "mysql-bin-changelog"   # RDS's binlog file names

# What RDS gives its master user on RDS for MySQL 8.0 / MariaDB (AWS, "Master
# user account privileges"); SLAVE MONITOR: MariaDB >= 10.5.9 needs it for
# SHOW REPLICA STATUS, which REPLICATION CLIENT gives on MySQL.
MASTER_PRIVS = ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, "
                "SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, "
                "REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, "
                "TRIGGER, SLAVE MONITOR")

# RDS's procedures in the mysql schema, run with rdsadmin's rights
# (SQL SECURITY DEFINER). Dynamic SQL only with QUOTE()d literals.
_CHANGE = """BEGIN
  DECLARE s TEXT;
  IF (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Slave_IO', 'Slave_SQL')) > 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Replication is running: call mysql.rds_stop_replication first';
  END IF;
  SET s = CONCAT('CHANGE MASTER TO MASTER_HOST=', QUOTE(host), ', MASTER_PORT=', CAST(port AS UNSIGNED),
                 ', MASTER_USER=', QUOTE(user_name), ', MASTER_PASSWORD=', QUOTE(user_password),
                 ', MASTER_LOG_FILE=', QUOTE(log_file), ', MASTER_LOG_POS=', CAST(log_pos AS UNSIGNED),
                 ', MASTER_SSL=', IF(ssl_encryption, 1, 0), ', MASTER_USE_GTID=no');
  SET @rds_stmt = s;
  PREPARE rds_st FROM @rds_stmt;
  EXECUTE rds_st;
  DEALLOCATE PREPARE rds_st;
  SET @rds_stmt = NULL;
  INSERT INTO mysql.rds_history(action, called_by, master_host, master_port, master_user, master_log_file,
                                master_log_pos, master_ssl)
       VALUES ('set master', USER(), host, port, user_name, log_file, log_pos, ssl_encryption);
END"""

_CHANGE_ARGS = ("(IN host VARCHAR(255), IN port INT, IN user_name VARCHAR(255), IN user_password TEXT, "
                "IN log_file VARCHAR(255), IN log_pos BIGINT UNSIGNED, IN ssl_encryption INT)")

_KILL = """BEGIN
  DECLARE u VARCHAR(128);
  SELECT USER INTO u FROM information_schema.PROCESSLIST WHERE ID = thread LIMIT 1;
  IF u IS NULL THEN
    SIGNAL SQLSTATE 'HY000' SET MESSAGE_TEXT = 'Unknown thread id';
  END IF;
  IF u IN ('rdsadmin', 'rdsrepladmin', 'system user', 'event_scheduler') THEN
    SIGNAL SQLSTATE '42000' SET MESSAGE_TEXT = 'You are not owner of thread';
  END IF;
  SET @rds_stmt = CONCAT('KILL {what} ', CAST(thread AS UNSIGNED));
  PREPARE rds_st FROM @rds_stmt;
  EXECUTE rds_st;
  DEALLOCATE PREPARE rds_st;
END"""

PROCEDURES = {
    "rds_set_external_master": (_CHANGE_ARGS, _CHANGE),
    "rds_set_external_source": (_CHANGE_ARGS, _CHANGE),
    "rds_reset_external_master": ("()", """BEGIN
  STOP SLAVE; RESET SLAVE ALL;
  INSERT INTO mysql.rds_history(action, called_by) VALUES ('reset master', USER());
END"""),
    "rds_reset_external_source": ("()", """BEGIN
  STOP SLAVE; RESET SLAVE ALL;
  INSERT INTO mysql.rds_history(action, called_by) VALUES ('reset master', USER());
END"""),
    "rds_start_replication": ("()", """BEGIN
  START SLAVE;
  INSERT INTO mysql.rds_history(action, called_by) VALUES ('start slave', USER());
  SELECT 'Replica running normally.' AS Message;
END"""),
    "rds_stop_replication": ("()", """BEGIN
  STOP SLAVE;
  INSERT INTO mysql.rds_history(action, called_by) VALUES ('stop slave', USER());
  SELECT 'Replica is down or disabled' AS Message;
END"""),
    "rds_set_configuration": ("(IN name VARCHAR(64), IN value VARCHAR(255))", """BEGIN
  DECLARE h BIGINT;
  IF name NOT IN ('binlog retention hours', 'source delay', 'target delay') THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid configuration name';
  END IF;
  IF name = 'binlog retention hours' THEN
    IF value IS NOT NULL AND (CAST(value AS SIGNED) < 1 OR CAST(value AS SIGNED) > 168) THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog retention hours must be between 1 and 168';
    END IF;
    SET h = CAST(value AS SIGNED);
    SET GLOBAL binlog_expire_logs_seconds = IF(h IS NULL, 300, h * 3600);
  END IF;
  UPDATE mysql.rds_configuration SET mysql.rds_configuration.value = value WHERE mysql.rds_configuration.name = name;
END"""),
    "rds_show_configuration": ("()", """BEGIN
  SELECT name, value, description FROM mysql.rds_configuration ORDER BY name;
END"""),
    "rds_kill": ("(IN thread BIGINT UNSIGNED)", _KILL.replace("{what}", "CONNECTION")),
    "rds_kill_query": ("(IN thread BIGINT UNSIGNED)", _KILL.replace("{what}", "QUERY")),
}

RDS_TABLES = """
CREATE TABLE IF NOT EXISTS mysql.rds_configuration (
  name VARCHAR(100) NOT NULL PRIMARY KEY, value VARCHAR(100), description VARCHAR(300) NOT NULL) ENGINE=InnoDB;
INSERT IGNORE INTO mysql.rds_configuration VALUES
  ('binlog retention hours', NULL, 'binlog retention hours specifies the duration in hours before binary logs are automatically deleted.'),
  ('source delay', '0', 'source delay specifies replication delay in seconds between current instance and its master.'),
  ('target delay', '0', 'target delay specifies replication delay in seconds between current instance and its future read-replica.');
CREATE TABLE IF NOT EXISTS mysql.rds_history (
  action_timestamp TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), called_by VARCHAR(255), action VARCHAR(20),
  mysql_version VARCHAR(50) DEFAULT NULL, master_host VARCHAR(255), master_port INT, master_user VARCHAR(255),
  master_log_file VARCHAR(50), master_log_pos BIGINT UNSIGNED, master_ssl TINYINT) ENGINE=InnoDB;
"""


class MyError(Exception):
    pass


def qlit(s):
    return "'" + str(s).replace("\\", "\\\\").replace("'", "''") + "'"


def available():
    return os.path.exists(MARIADBD) and os.path.exists(INSTALL_DB)


class MysqlManager(procs.DataDirOwner):
    error = MyError

    def __init__(self, home, fsync="off"):
        self.home = home
        self.fsync = fsync
        self.own_files("mysql", home, "msock", 70)
        self.template = None
        self._template_lock = threading.Lock()
        self.ca = None   # tls.RdsCa: every server serves TLS with a certificate from it

    def run(self, argv, check=True, timeout=600):
        kw = {"user": self.uid, "group": self.gid, "extra_groups": []} if self.root else {}
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/",
                           env=dict(os.environ, LC_ALL="C.UTF-8", TZ="UTC"), **kw)
        if check and r.returncode != 0:
            raise MyError(f"{os.path.basename(argv[0])} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-800:]}")
        return r

    def sock(self, datadir):
        # per instance, by its resource id (the instance dir's name)
        return os.path.join(self.sockdir, os.path.basename(os.path.dirname(datadir)) + ".sock")

    # ------------------------------------------------------------ data dirs
    def ensure_template(self):
        with self._template_lock:  # concurrent first creates build it once
            return self._ensure_template()

    def _ensure_template(self):
        t = os.path.join(self.home, "mysql-template")
        if os.path.isdir(os.path.join(t, "mysql")):
            self.template = t
            return t
        shutil.rmtree(t, ignore_errors=True)
        os.makedirs(t, mode=0o700)
        self.chown(t)
        log.info("mariadb-install-db into %s", t)
        tmp = os.path.join(self.home, "mysql-template.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp, mode=0o700)
        self.chown(tmp)
        # its own tmpdir: the bootstrap's temporary tables were once deleted
        # under it in the shared /tmp ("Error on delete of '/tmp/#sql-temptable-…'")
        self.run([INSTALL_DB, "--no-defaults", f"--datadir={t}", "--auth-root-authentication-method=normal",
                  "--skip-test-db", "--skip-name-resolve", f"--tmpdir={tmp}"], timeout=300)
        shutil.rmtree(tmp, ignore_errors=True)
        self.template = t
        return t

    def new_datadir(self, dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        self.copy_tree(self.ensure_template(), dest)

    def clean_copy(self, dest, drop_binlogs=False):
        """A copied data dir, startable on its own: no pid file, no replication
        of the source (RDS: a restored instance does not replicate); the
        binary logs stay (crash recovery resolves prepared transactions from
        them) unless drop_binlogs (a read replica made under a global read
        lock: nothing is in doubt)."""
        for f in os.listdir(dest):
            if (f in ("mariadbd.pid", "master.info", "relay-log.info", "multi-master.info") or "relay-bin" in f
                    or (drop_binlogs and f.startswith(BINLOG_BASE + "."))):
                try:
                    os.unlink(os.path.join(dest, f))
                except FileNotFoundError:
                    pass

    # ------------------------------------------------------------ config, start, stop
    def configure(self, datadir, port, server_id, settings, read_only=False):
        inst_dir = os.path.dirname(datadir)
        logdir = os.path.join(inst_dir, "log")
        tmpdir = os.path.join(inst_dir, "tmp")   # the server's own, not the shared /tmp (as on RDS)
        for d in (logdir, tmpdir):
            os.makedirs(d, mode=0o700, exist_ok=True)
            self.chown(d)
        lines = ["# awssim: managed, rewritten at every start\n", "[mariadbd]\n",
                 f"datadir={datadir}\n", f"socket={self.sock(datadir)}\n", f"port={port}\n",
                 "bind-address=127.0.0.1\n", "skip-name-resolve\n", f"pid-file={datadir}/mariadbd.pid\n",
                 f"log-error={logdir}/mysql-error.log\n", f"tmpdir={tmpdir}\n", f"log-bin={BINLOG_BASE}\n",
                 "relay-log=relaylog-relay-bin\n", f"server-id={server_id}\n", "log-slave-updates=ON\n",
                 "innodb_buffer_pool_size=16M\n", "innodb_log_file_size=16M\n", "performance_schema=OFF\n",
                 "skip-slave-start=OFF\n", "character-set-server=utf8mb4\n", "collation-server=utf8mb4_general_ci\n",
                 "default-time-zone=+00:00\n", "max_allowed_packet=64M\n", "explicit_defaults_for_timestamp=ON\n"]
        if self.fsync == "off":
            lines += ["innodb_flush_log_at_trx_commit=2\n", "sync_binlog=0\n"]
        if read_only:
            lines.append("read_only=ON\n")
        if self.ca:
            crt, key = self.ca.issue(inst_dir)
            for p in (crt, key, os.path.dirname(crt)):
                self.chown(p)
            lines += [f"ssl_cert={crt}\n", f"ssl_key={key}\n", f"ssl_ca={self.ca.bundle}\n"]
        for k, v in settings.items():
            lines.append(f"{k}={v}\n")
        cnf = os.path.join(inst_dir, "my.cnf")
        with open(cnf + ".tmp", "w") as f:
            f.write("".join(lines))
        os.chmod(cnf + ".tmp", 0o644)
        os.replace(cnf + ".tmp", cnf)
        return cnf

    def start(self, datadir, timeout=600):
        stale = self.running_pid(datadir)
        if stale:
            log.warning("stopping stale server %s for %s", stale, datadir)
            self.stop(datadir, "immediate")
        cnf = os.path.join(os.path.dirname(datadir), "my.cnf")
        kw = {"user": self.uid, "group": self.gid, "extra_groups": []} if self.root else {}
        p = subprocess.Popen([MARIADBD, f"--defaults-file={cnf}"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", start_new_session=True,
                             **kw)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if p.poll() is not None:
                raise MyError(f"MariaDB did not start (exit {p.returncode}): {self.error_tail(datadir)}")
            try:
                self.query(datadir, "SELECT 1")
                # reap it in the background when it ends (no zombie)
                import threading
                threading.Thread(target=p.wait, daemon=True).start()
                return p.pid
            except MyError:
                time.sleep(0.1)
        p.kill()
        raise MyError(f"MariaDB did not start in {timeout}s: {self.error_tail(datadir)}")

    def error_tail(self, datadir):
        try:
            with open(os.path.join(os.path.dirname(datadir), "log", "mysql-error.log"), errors="replace") as f:
                return f.read()[-600:]
        except OSError:
            return ""

    def stop(self, datadir, mode="fast"):
        pid = self.running_pid(datadir)
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGKILL if mode == "immediate" else signal.SIGTERM)
        except OSError:
            return
        end = time.monotonic() + 120
        while time.monotonic() < end and self.running_pid(datadir) == pid:
            time.sleep(0.05)
        if self.running_pid(datadir) == pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.2)

    def running_pid(self, datadir):
        """The mariadbd of datadir, if it runs (procs.server_pid: a stale pid
        file never names another process)."""
        return procs.server_pid(os.path.join(datadir, "mariadbd.pid"), b"mariadbd", datadir)

    # ------------------------------------------------------------ SQL (as rdsadmin, unix socket)
    def connect(self, datadir, user=None, timeout=10):
        try:
            return pymysql.connect(unix_socket=self.sock(datadir), user=user or ADMIN, connect_timeout=timeout,
                                   autocommit=True, charset="utf8mb4")
        except pymysql.err.OperationalError as e:
            if user is None and e.args and e.args[0] == 1045:
                # a fresh data dir: the bootstrap account is still root
                return pymysql.connect(unix_socket=self.sock(datadir), user="root", connect_timeout=timeout,
                                       autocommit=True, charset="utf8mb4")
            raise

    def query(self, datadir, *stmts):
        try:
            c = self.connect(datadir)
        except pymysql.err.MySQLError as e:
            raise MyError(str(e)) from None
        rows = None
        try:
            with c.cursor() as cur:
                for s in stmts:
                    cur.execute(s)
                    rows = cur.fetchall()
        except pymysql.err.MySQLError as e:
            raise MyError(str(e)) from None
        finally:
            c.close()
        return rows

    def bootstrap(self, datadir, master, password, dbname=None):
        """RDS's accounts: rdsadmin (every privilege, socket only) renamed from
        the install's root; no other root; the master user '%' with RDS's
        master privileges and no SUPER; RDS's tables and procedures in the
        mysql schema, DEFINER rdsadmin."""
        stmts = ["DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1'",
                 "DELETE FROM mysql.global_priv WHERE User='root' AND Host NOT IN ('localhost')",
                 "FLUSH PRIVILEGES"]
        have = self.query(datadir, "SELECT COUNT(*) FROM mysql.global_priv WHERE User='rdsadmin'")
        if not have[0][0]:
            stmts.append("RENAME USER 'root'@'localhost' TO 'rdsadmin'@'localhost'")
        self.query(datadir, *stmts)
        stmts = [f"CREATE USER IF NOT EXISTS {qlit(master)}@'%' IDENTIFIED BY {qlit(password)}",
                 f"ALTER USER {qlit(master)}@'%' IDENTIFIED BY {qlit(password)}",
                 f"GRANT {MASTER_PRIVS} ON *.* TO {qlit(master)}@'%' WITH GRANT OPTION"]
        stmts += [s for s in RDS_TABLES.split(";\n") if s.strip()]
        for name, (args, body) in PROCEDURES.items():
            stmts.append(f"DROP PROCEDURE IF EXISTS mysql.{name}")
            stmts.append(f"CREATE DEFINER='rdsadmin'@'localhost' PROCEDURE mysql.{name}{args} "
                         f"SQL SECURITY DEFINER {body}")
        if dbname:
            stmts.append(f"CREATE DATABASE IF NOT EXISTS `{dbname.replace('`', '``')}`")
        stmts.append("SET GLOBAL binlog_expire_logs_seconds = 300")
        self.query(datadir, *stmts)

    def apply_retention(self, datadir):
        """At every start: the server purges binary logs after the retention
        rds_set_configuration set (NULL, RDS's default: after 5 minutes)."""
        try:
            rows = self.query(datadir, "SELECT value FROM mysql.rds_configuration WHERE name='binlog retention hours'")
        except MyError:
            rows = None   # before bootstrap
        h = rows[0][0] if rows else None
        secs = int(h) * 3600 if h not in (None, "") else 300
        self.query(datadir, f"SET GLOBAL binlog_expire_logs_seconds = {secs}")

    def set_password(self, datadir, user, password):
        self.query(datadir, f"ALTER USER {qlit(user)}@'%' IDENTIFIED BY {qlit(password)}")

    # ------------------------------------------------------------ snapshots, replicas
    def freeze_copy(self, datadir, dest):
        """Crash-consistent copy of a running server: SIGSTOP mariadbd (one
        process), cp -a, SIGCONT; the copy needs InnoDB crash recovery."""
        pid = self.running_pid(datadir)
        if not pid:
            self.copy_tree(datadir, dest)
            self.clean_copy(dest)
            return "stopped"
        try:
            os.kill(pid, signal.SIGSTOP)
            self.copy_tree(datadir, dest)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        self.clean_copy(dest)
        return "frozen"

    def locked_copy(self, datadir, dest):
        """A copy under FLUSH TABLES WITH READ LOCK and the binlog position at
        it (how a read replica starts): (file, pos)."""
        c = self.connect(datadir)
        try:
            with c.cursor() as cur:
                cur.execute("FLUSH TABLES WITH READ LOCK")
                cur.execute("SHOW MASTER STATUS")
                row = cur.fetchone()
                self.copy_tree(datadir, dest)
                cur.execute("UNLOCK TABLES")
        finally:
            c.close()
        self.clean_copy(dest, drop_binlogs=True)
        return row[0], int(row[1])

    def log_files(self, datadir):
        out = []
        d = os.path.join(os.path.dirname(datadir), "log")
        for n in ("mysql-error.log",):
            p = os.path.join(d, n)
            try:
                st = os.stat(p)
            except OSError:
                continue
            out.append({"LogFileName": "error/" + n, "LastWritten": int(st.st_mtime * 1000), "Size": st.st_size,
                        "path": p})
        return out
