"""Real PostgreSQL servers behind DB instances: data dirs, config, start/stop,
crash-consistent freeze copies, bootstrap SQL.

When the emulator runs as root every PostgreSQL binary runs as the
`postgres` OS user and every data directory is owned by it (mode 0700).
"""
import glob
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time

from . import procs

log = logging.getLogger("awssim.pg")

AWSSIM_CONF = "awssim.conf"
INCLUDE_LINE = "include_if_exists = 'awssim.conf'   # awssim: managed settings\n"

HBA = """# awssim: managed pg_hba.conf (RDS-like: passwords required over TCP)
# unix socket (emulator's own admin access; socket directory is private)
local   all          all                        trust
local   replication  all                        trust
# rdsadmin, the only superuser, never logs in over TCP (as on RDS)
host    all          rdsadmin    all            reject
host    replication  rdsadmin    all            reject
host    rdsadmin     all         all            reject
host    all          all         127.0.0.1/32   scram-sha-256
host    replication  all         127.0.0.1/32   scram-sha-256
host    all          all         ::1/128        scram-sha-256
host    replication  all         ::1/128        scram-sha-256
"""


# The only superuser of every instance, as on RDS; the emulator uses it over
# its private unix socket only (pg_hba.conf rejects it over TCP).
ADMIN = "rdsadmin"
# What RDS grants rds_superuser (with admin option) and lets it run.
RDS_SUPERUSER_ROLES = ("pg_monitor", "pg_signal_backend", "pg_checkpoint", "rds_replication", "rds_password")


class PgError(Exception):
    pass


def qident(s):
    return '"' + str(s).replace('"', '""') + '"'


def qlit(s):
    return "'" + str(s).replace("'", "''") + "'"


class PgManager(procs.DataDirOwner):
    error = PgError

    def __init__(self, home, pg_bin, template=None, fsync="off", superuser="postgres"):
        self.home = home
        self.bin = pg_bin
        self.template = template
        self.fsync = fsync
        # a --pg-template's bootstrap superuser; every instance renames it to ADMIN
        self.template_superuser = superuser
        self.superuser = ADMIN
        self.template_admin = None  # ADMIN when this emulator ran initdb itself
        self.rds_lib = None  # awssim_rds module (sim/rdsext.py), preloaded by every instance
        self.own_files("postgres", home, "sock", 80)
        self.ca = None  # tls.RdsCa: when set, every instance serves TLS with a certificate from it

    # ------------------------------------------------------------ helpers
    def run(self, argv, check=True, timeout=600, input=None):
        kw = {}
        if self.root:
            kw = {"user": self.uid, "group": self.gid, "extra_groups": []}
        env = dict(os.environ, LC_ALL="C.UTF-8", PGTZ="UTC")
        env.pop("PGPASSWORD", None)
        if self.root:
            # the server's own home, as on RDS: libpq inside the server (a subscription
            # over TLS) looks for ~/.postgresql/ and must not find root's unreadable one
            env["HOME"] = pwd.getpwuid(self.uid).pw_dir
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                           cwd="/", env=env, **kw)
        if check and r.returncode != 0:
            raise PgError(f"{os.path.basename(argv[0])} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-800:]}")
        return r

    def check_access(self, path):
        """Fail early when the postgres user cannot traverse --home."""
        if not self.root:
            return None
        r = subprocess.run(["test", "-x", path, "-a", "-r", path], user=self.uid, group=self.gid,
                           extra_groups=[], cwd="/")
        if r.returncode != 0:
            return (f"--home {path} is not traversable by the 'postgres' user (PostgreSQL cannot run as "
                    f"root); use a directory whose every parent is world-executable, e.g. under /tmp")
        return None

    def ensure_template(self):
        if self.template:
            if not os.path.exists(os.path.join(self.template, "PG_VERSION")):
                raise PgError(f"--pg-template {self.template} is not a PostgreSQL data directory")
            return self.template
        t = os.path.join(self.home, "template")
        if os.path.exists(os.path.join(t, "PG_VERSION")):
            self.template = t
            return t
        shutil.rmtree(t, ignore_errors=True)
        os.makedirs(t, mode=0o700)
        self.chown(t)
        log.info("initdb into %s", t)
        self.run([os.path.join(self.bin, "initdb"), "-D", t, "-A", "trust", "-U", ADMIN,
                  "-E", "UTF8", "--locale=C.UTF-8"], timeout=300)
        self.template = t
        self.template_admin = ADMIN
        return t

    # ------------------------------------------------------------ data dirs
    def new_datadir(self, dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        self.chown(os.path.dirname(dest))
        self.copy_tree(self.ensure_template(), dest)
        for f in ("postmaster.pid", "postmaster.opts"):
            try:
                os.unlink(os.path.join(dest, f))
            except FileNotFoundError:
                pass

    def clean_copy(self, dest, keep_logs=False):
        """Make a copied data dir startable on its own: no lock file. Snapshots
        and restores keep the log folder, as RDS does: a restored instance
        lists and serves the source's old log files (DescribeDBLogFiles,
        DownloadDBLogFilePortion) and appends its own lines to the file of the
        current hour when the name is the same. Other copies get fresh logs."""
        for f in ("postmaster.pid", "postmaster.opts"):
            try:
                os.unlink(os.path.join(dest, f))
            except FileNotFoundError:
                pass
        if not keep_logs:
            shutil.rmtree(os.path.join(dest, "log"), ignore_errors=True)

    def dir_size(self, path):
        total = 0
        for root, _dirs, files in os.walk(path):
            for f in files:
                try:
                    total += os.lstat(os.path.join(root, f)).st_size
                except OSError:
                    pass
        return total

    def configure(self, datadir, port, settings):
        """Write pg_hba.conf and awssim.conf (included last by postgresql.conf)."""
        conf = os.path.join(datadir, "postgresql.conf")
        with open(conf) as f:
            text = f.read()
        if "include_if_exists = 'awssim.conf'" not in text:
            with open(conf, "a") as f:
                f.write("\n" + INCLUDE_LINE)
        base = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": qlit(self.sockdir),
            "logging_collector": "on",
            "log_directory": "'log'",
            "log_filename": "'postgresql.log.%Y-%m-%d-%H'",
            "log_rotation_age": "60",
            "log_rotation_size": "0",
            "log_line_prefix": "'%t:%r:%u@%d:[%p]:'",
            "log_timezone": "'UTC'",
            "timezone": "'UTC'",
            "fsync": "off" if self.fsync == "off" else "on",
            "password_encryption": "'scram-sha-256'",
            "shared_buffers": "16MB",
            "max_connections": "100",
            "max_replication_slots": "20",
            "max_wal_senders": "20",
            "wal_level": "replica",
        }
        if self.fsync == "off":
            base["synchronous_commit"] = "off"
        if self.ca:
            # TLS as on RDS: a certificate per instance (its own dir, not the data
            # dir a snapshot copies) from the emulated RDS CA
            crt, key = self.ca.issue(os.path.dirname(datadir))
            base.update({"ssl": "on", "ssl_cert_file": qlit(crt), "ssl_key_file": qlit(key)})
        if self.rds_lib:
            base["shared_preload_libraries"] = qlit(self.rds_lib)
        base.update(settings)
        lines = ["# awssim: managed, rewritten at every start\n"]
        for k, v in base.items():
            lines.append(f"{k} = {v}\n")
        self._write(os.path.join(datadir, AWSSIM_CONF), "".join(lines))
        self._write(os.path.join(datadir, "pg_hba.conf"), HBA)

    def _write(self, path, text):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        if self.root:
            os.chown(tmp, self.uid, self.gid)
        os.replace(tmp, path)

    # ------------------------------------------------------------ server control
    def pg_ctl(self, *args, timeout=600, check=True):
        return self.run([os.path.join(self.bin, "pg_ctl")] + list(args), timeout=timeout, check=check)

    def start(self, datadir, startup_log):
        stale = self.running_pid(datadir)
        if stale:
            log.warning("stopping stale server %s for %s", stale, datadir)
            self.stop(datadir, "immediate")
        for f in ("postmaster.pid",):
            try:
                os.unlink(os.path.join(datadir, f))
            except FileNotFoundError:
                pass
        if not os.path.exists(startup_log):
            open(startup_log, "a").close()
            if self.root:
                os.chown(startup_log, self.uid, self.gid)
        r = self.pg_ctl("-D", datadir, "-l", startup_log, "-w", "-t", "600", "start", check=False)
        if r.returncode != 0:
            tail = ""
            try:
                with open(startup_log, errors="replace") as f:
                    tail = f.read()[-600:]
            except OSError:
                pass
            raise PgError(f"PostgreSQL did not start: {r.stderr.strip()[-300:]} {tail}")
        return self.running_pid(datadir)

    def stop(self, datadir, mode="fast"):
        if not self.running_pid(datadir):
            return
        self.pg_ctl("-D", datadir, "-m", mode, "-w", "-t", "120", "stop", check=False)
        if self.running_pid(datadir):
            pid = self.running_pid(datadir)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def reload(self, datadir):
        if self.running_pid(datadir):
            self.pg_ctl("-D", datadir, "reload", check=False)

    def running_pid(self, datadir):
        """The postmaster of datadir, if it runs (procs.server_pid: a stale
        pid file never names another process)."""
        return procs.server_pid(os.path.join(datadir, "postmaster.pid"), b"postgres", datadir)

    # ------------------------------------------------------------ SQL
    def psql(self, port, sql, db="postgres", timeout=120, user=None):
        r = self.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                      "-h", self.sockdir, "-p", str(port), "-U", user or self.superuser, "-d", db, "-f", "-"],
                     input=sql, timeout=timeout)
        return r.stdout

    def adopt_admin(self, port):
        """A template made by initdb -U <other> (--pg-template, or a home from
        before the RDS permission model): rename its bootstrap superuser to
        rdsadmin. A session cannot rename its own role, hence the short-lived
        helper superuser."""
        old, tmp = self.template_superuser, "awssim_adopt"
        if old == ADMIN or self.template_admin == ADMIN:
            return
        psql = [os.path.join(self.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sockdir,
                "-p", str(port), "-U", old, "-d", "postgres", "-c", f"CREATE ROLE {tmp} SUPERUSER LOGIN"]
        if self.run(psql, check=False).returncode != 0:
            return  # no such role: the template's superuser is rdsadmin already
        self.psql(port, f"ALTER ROLE {qident(old)} RENAME TO {ADMIN};", user=tmp)
        self.psql(port, f"DROP ROLE {tmp};")

    def bootstrap(self, port, master, password, dbname=None):
        """RDS's roles: rdsadmin the only superuser; the master user a member
        of rds_superuser (CREATEROLE, CREATEDB, REPLICATION through
        rds_replication), not a superuser. What stock PostgreSQL reserves to
        superusers and RDS allows rds_superuser is the awssim_rds module's
        (rdsext/rdsext.c) or the grants below, made in template1 first so
        that every later database has them."""
        self.adopt_admin(port)
        roles = ", ".join(RDS_SUPERUSER_ROLES)
        sql = f"""
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='rds_superuser') THEN
    CREATE ROLE rds_superuser NOLOGIN CREATEROLE CREATEDB;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='rds_replication') THEN CREATE ROLE rds_replication NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='rds_password') THEN CREATE ROLE rds_password NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname={qlit(master)}) THEN
    CREATE ROLE {qident(master)} LOGIN;
  END IF;
END$$;
GRANT {roles} TO rds_superuser WITH ADMIN OPTION;
ALTER ROLE {qident(master)} LOGIN NOSUPERUSER CREATEDB CREATEROLE REPLICATION PASSWORD {qlit(password)};
GRANT rds_superuser TO {qident(master)} WITH ADMIN OPTION;
"""
        self.psql(port, sql)
        # replication origins (pg-logical's start position), per database
        grants = """
SELECT format('GRANT EXECUTE ON FUNCTION %s TO rds_superuser', p.oid::regprocedure)
  FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND (p.proname LIKE 'pg\_replication\_origin\_%' OR p.proname = 'pg_show_replication_origin_status')\gexec
GRANT SELECT ON pg_catalog.pg_replication_origin_status TO rds_superuser;
"""
        for db in ("template1", "postgres"):
            self.psql(port, grants, db=db)
        # as on RDS: the master owns postgres and template1; rdsadmin has its own database
        sql = (f"ALTER DATABASE postgres OWNER TO {qident(master)};\n"
               f"ALTER DATABASE template1 OWNER TO {qident(master)};\n"
               "SELECT 'CREATE DATABASE rdsadmin TEMPLATE template0' "
               "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname='rdsadmin')\\gexec\n")
        if dbname and dbname != "postgres":
            sql += (f"SELECT 'CREATE DATABASE {qident(dbname)} OWNER {qident(master)}' "
                    f"WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname={qlit(dbname)})\\gexec\n")
        self.psql(port, sql)

    def set_password(self, port, user, password):
        self.psql(port, f"ALTER ROLE {qident(user)} PASSWORD {qlit(password)};")

    # ------------------------------------------------------------ snapshots
    def freeze_copy(self, datadir, dest):
        """Crash-consistent copy of a running server: SIGSTOP postmaster and
        children, cp -a, SIGCONT. Keeps pg_replslot (unlike pg_basebackup)."""
        pm = self.running_pid(datadir)
        if not pm:
            self.copy_tree(datadir, dest)
            self.clean_copy(dest, keep_logs=True)
            return "stopped"
        stopped = []
        try:
            os.kill(pm, signal.SIGSTOP)
            stopped.append(pm)
            for kid in _children(pm):
                try:
                    os.kill(kid, signal.SIGSTOP)
                    stopped.append(kid)
                except OSError:
                    pass
            self.copy_tree(datadir, dest)
        finally:
            for p in reversed(stopped):
                try:
                    os.kill(p, signal.SIGCONT)
                except OSError:
                    pass
        self.clean_copy(dest, keep_logs=True)
        return "frozen"

    # ------------------------------------------------------------ logs
    def log_files(self, datadir):
        out = []
        for p in sorted(glob.glob(os.path.join(datadir, "log", "postgresql.log.*"))):
            try:
                st = os.stat(p)
            except OSError:
                continue
            out.append({"LogFileName": "error/" + os.path.basename(p),
                        "LastWritten": int(st.st_mtime * 1000), "Size": st.st_size, "path": p})
        return out


def _children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(d))
    return kids


def wait_port(port, timeout=30):
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
