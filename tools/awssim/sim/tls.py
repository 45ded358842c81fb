"""The emulated RDS certificate authority: one CA per --home (the openssl
command), its certificate as the CA bundle clients verify against
(`<home>/ca/rds-ca-bundle.pem`, named in the ready file as `rds_ca_bundle`),
and a server certificate per instance, valid for every name its endpoint is
reached by (DescribeDBInstances reports 127.0.0.1; localhost too), so
`sslmode=verify-full` succeeds as it does against RDS with Amazon's bundle.

The CA key never leaves <home>/ca (0700, the emulator's user); an instance's
key is in <instance dir>/tls/server.key, owned by the server's user, 0600.
"""
import logging
import os
import secrets
import shutil
import subprocess
import threading

from .world import ADDRESS_POOL

log = logging.getLogger("awssim.tls")

CA_SUBJECT = "/C=US/O=fleetcrypt awssim/OU=Amazon RDS (emulated)/CN=Amazon RDS awssim Root CA RSA2048 G1"
# 127.0.0.2: Aurora reader endpoints; ADDRESS_POOL: instance identifiers' own
# addresses (an identifier's address may reach any server after a rename)
SERVER_NAMES = ("localhost", "127.0.0.1", "127.0.0.2") + ADDRESS_POOL
CA_DAYS = 3650
SERVER_DAYS = 397


class TlsError(Exception):
    pass


def _openssl(*args):
    # Keys are written by openssl with a narrow umask of its own (the child's
    # only): os.umask is process-wide, and a narrowed umask in this thread
    # would make another thread's new instance directory 0700, one the
    # 'postgres' user cannot enter.
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=120, umask=0o077)
    if r.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {(r.stderr or r.stdout).strip()[-400:]}")
    return r.stdout


class RdsCa:
    def __init__(self, home, chown=None):
        self.dir = os.path.join(home, "ca")
        self.key = os.path.join(self.dir, "rds-ca.key")
        self.bundle = os.path.join(self.dir, "rds-ca-bundle.pem")
        self.chown = chown or (lambda path: None)
        self.lock = threading.Lock()

    def ensure(self):
        """Create the CA once per home; later starts reuse it (clients keep trusting it)."""
        with self.lock:
            if os.path.isfile(self.key) and os.path.isfile(self.bundle):
                return self.bundle
            os.makedirs(self.dir, exist_ok=True)
            os.chmod(self.dir, 0o755)
            tmp_key, tmp_crt = self.key + ".tmp", self.bundle + ".tmp"
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", tmp_key,
                     "-out", tmp_crt, "-days", str(CA_DAYS), "-subj", CA_SUBJECT,
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
            os.chmod(tmp_key, 0o600)
            os.chmod(tmp_crt, 0o644)
            os.replace(tmp_key, self.key)
            os.replace(tmp_crt, self.bundle)
            log.info("emulated RDS CA created: bundle %s", self.bundle)
            return self.bundle

    def issue(self, inst_dir, names=SERVER_NAMES):
        """Server certificate and key for one instance (reused while the CA is the same).
        Returns (cert_path, key_path)."""
        self.ensure()
        d = os.path.join(inst_dir, "tls")
        crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        names_file = os.path.join(d, "names")
        with self.lock:
            try:
                with open(names_file) as f:
                    same_names = f.read() == ",".join(names)
            except OSError:
                same_names = False
            if same_names and os.path.isfile(crt) and os.path.isfile(key) and self._signed_by_ca(crt):
                return crt, key
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            os.chmod(d, 0o755)
            csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "server.ext")
            sans = ",".join(("IP:" if _is_ip(n) else "DNS:") + n for n in names)
            with open(ext, "w") as f:
                f.write(f"subjectAltName={sans}\nbasicConstraints=critical,CA:FALSE\n"
                        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
            _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}")
            _openssl("x509", "-req", "-in", csr, "-CA", self.bundle, "-CAkey", self.key, "-sha256",
                     "-set_serial", "0x" + secrets.token_hex(16), "-days", str(SERVER_DAYS),
                     "-extfile", ext, "-out", crt)
            os.unlink(csr)
            os.unlink(ext)
            os.chmod(key, 0o600)   # PostgreSQL refuses a key others can read
            os.chmod(crt, 0o644)
            with open(names_file, "w") as f:
                f.write(",".join(names))
            self.chown(key)
            self.chown(crt)
            self.chown(d)
            return crt, key

    def _signed_by_ca(self, crt):
        r = subprocess.run(["openssl", "verify", "-CAfile", self.bundle, crt], capture_output=True, text=True,
                           timeout=60)
        return r.returncode == 0


def _is_ip(name):
    return all(p.isdigit() for p in name.split(".")) or ":" in name
