"""A stale pid file must never name another process (tools/awssim/sim/
procs.py). PIDs wrap (pid_max is often 32768): a pid file left by a killed
server can name a live server of another instance or another test, and the
emulator's start/stop and the fixtures' safety net would SIGKILL it — the
cause of restores failing now and then with `incompatible-restore` while
test files ran side by side. A process named like the server but running in
another directory is not the server; one running in the directory is."""
import os
import subprocess
import sys

from fixtures_awssim import server_pid


def seen(pid):
    """What /proc shows of `pid`, for a failure message."""
    out = {}
    for what in ("cmdline", "stat"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                out[what] = f.read()[:200]
        except OSError as e:
            out[what] = repr(e)
    try:
        out["cwd"] = os.readlink(f"/proc/{pid}/cwd")
    except OSError as e:
        out["cwd"] = repr(e)
    return out


def test_stale_pid_file_never_names_another_process(tmp_path):
    ours, other = tmp_path / "ours", tmp_path / "other"
    ours.mkdir()
    other.mkdir()
    # a live process whose command line says "postgres", running elsewhere
    # it says "ready" once running: the checks below never race its start
    p = subprocess.Popen([sys.executable, "-c", "import sys, time; print('ready', flush=True); time.sleep(60)", "postgres"],
                         cwd=str(other), stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        (ours / "postmaster.pid").write_text(f"{p.pid}\n{ours}\n")
        assert server_pid(str(ours / "postmaster.pid"), b"postgres", str(ours)) is None
        # the same process, seen from the directory it runs in, is the server
        (other / "postmaster.pid").write_text(f"{p.pid}\n{other}\n")
        assert server_pid(str(other / "postmaster.pid"), b"postgres", str(other)) == p.pid, seen(p.pid)
        assert server_pid(str(other / "postmaster.pid"), b"mariadbd", str(other)) is None
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    assert server_pid(str(other / "postmaster.pid"), b"postgres", str(other)) is None  # gone
    assert server_pid(str(tmp_path / "nope.pid"), b"postgres", str(other)) is None
    (ours / "bad.pid").write_text("x\n")
    assert server_pid(str(ours / "bad.pid"), b"postgres", str(ours)) is None
    assert os.path.isdir(str(ours))
