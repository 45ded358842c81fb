"""Build the awssim_rds PostgreSQL module (tools/awssim/rdsext: RDS's
permission model, see docs/emulator.md) with PGXS, out of tree, into a
directory the emulator owns; nothing is installed system-wide. Every
emulated instance loads it by absolute path (shared_preload_libraries).

The build is cached by a hash of the sources and pg_config's version, so a
shared --rdsext-dir (the tests pass one per test session) builds it once."""
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile

log = logging.getLogger("awssim.rdsext")

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rdsext")
LIB = "awssim_rds.so"


class BuildError(Exception):
    pass


def build(pg_bin, dest_dir):
    """Absolute path of the built module under dest_dir (built if missing)."""
    pg_config = os.path.join(pg_bin, "pg_config")
    if not os.path.exists(pg_config):
        pg_config = shutil.which("pg_config") or pg_config
    try:
        ver = subprocess.run([pg_config, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise BuildError(f"pg_config ({pg_config}) not usable: {e}; install postgresql-server-dev-15")
    h = hashlib.sha256(ver.encode())
    for name in sorted(os.listdir(SRC)):
        with open(os.path.join(SRC, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read())
    out = os.path.join(dest_dir, h.hexdigest()[:16])
    lib = os.path.join(out, LIB)
    if os.path.exists(lib):
        return lib
    os.makedirs(dest_dir, exist_ok=True)
    os.chmod(dest_dir, 0o755)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=dest_dir)
    try:
        for name in os.listdir(SRC):
            shutil.copy(os.path.join(SRC, name), tmp)
        r = subprocess.run(["make", "-s", f"PG_CONFIG={pg_config}", "with_llvm=no", "COPT=-Werror"],
                           cwd=tmp, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise BuildError(f"building {SRC} failed: {(r.stderr or r.stdout).strip()[-800:]}")
        os.chmod(tmp, 0o755)
        os.chmod(os.path.join(tmp, LIB), 0o755)
        try:
            os.rename(tmp, out)  # complete or absent; a concurrent build may have won
        except OSError:
            if not os.path.exists(lib):
                raise
        log.info("built %s", lib)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lib
