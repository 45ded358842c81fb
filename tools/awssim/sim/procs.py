"""procs — is the process a pid file names really this data directory's
server? PIDs wrap quickly (pid_max is often 32768) and a pid file survives
its server when the server is killed, so a stale file can name an unrelated
live process — another instance's server, or another emulator's. Signalling
it would kill that server (seen as a random restore failing with
`incompatible-restore` while tests ran side by side). A PostgreSQL
postmaster and a mariadbd both chdir into their data directory, so the
process is ours only when its name matches and its cwd is the directory
(or, when /proc/<pid>/cwd cannot be read, its command line names it).

DataDirOwner: what both engine managers (pg.py, mysql.py) do with their
servers' files: the engine's OS user and socket directory, chown to that
user, copy a data directory."""
import os
import pwd
import shutil
import subprocess
import tempfile


def server_pid(pidfile, prog, datadir):
    """The pid in `pidfile` if that process is alive, not a zombie, named
    `prog` (bytes, e.g. b"postgres") and running in `datadir`; else None."""
    try:
        with open(pidfile) as f:
            pid = int(f.readline().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    if prog not in cmd or state == "Z":
        return None
    want = os.path.realpath(datadir)
    try:
        cwd = os.path.realpath(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return pid if want.encode() in cmd else None
    return pid if cwd == want else None


class DataDirOwner:
    """Mixed into an engine manager that calls own_files() first and names
    its exception class in `error`."""
    error = RuntimeError

    def own_files(self, user, home, sock_name, sock_max):
        """Files belong to the OS user `user` when we run as root (root, uid,
        gid); the servers' unix sockets go in <home>/<sock_name> (sockdir), or
        in a temporary directory when that path is longer than sock_max (a
        socket path is short)."""
        self.root = os.geteuid() == 0
        if self.root:
            pw = pwd.getpwnam(user)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
        sock = os.path.join(home, sock_name)
        if len(sock) > sock_max:
            sock = tempfile.mkdtemp(prefix=f"awssim-{sock_name}-")
        os.makedirs(sock, exist_ok=True)
        os.chmod(sock, 0o700)
        self.chown(sock)
        self.sockdir = sock

    def chown(self, path, recursive=False):
        if not self.root:
            return
        if recursive:
            subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", path], check=True)
        else:
            os.chown(path, self.uid, self.gid)

    def copy_tree(self, src, dest, link=False):
        """Copy (or hard-link) a data directory; complete or absent (tmp + rename)."""
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        argv = ["cp", "-a"] + (["-l"] if link else ["--reflink=auto"]) + [src, tmp]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise self.error(f"copy of {src} failed: {r.stderr.strip()[-300:]}")
        if not link:
            self.chown(tmp, recursive=True)
        os.chmod(tmp, 0o700)
        os.rename(tmp, dest)
