"""procs — is the process a pid file names really this data directory's
server? PIDs wrap quickly (pid_max is often 32768) and a pid file survives
its server when the server is killed, so a stale file can name an unrelated
live process — another instance's server, or another emulator's. Signalling
it would kill that server (seen as a random restore failing with
`incompatible-restore` while tests ran side by side). A PostgreSQL
postmaster and a mariadbd both chdir into their data directory, so the
process is ours only when its name matches and its cwd is the directory
(or, when /proc/<pid>/cwd cannot be read, its command line names it)."""
import os


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
