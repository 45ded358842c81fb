"""Redis over TLS (issue 18): the stack runs against a TLS-only Redis
(redis-server with `--port 0 --tls-port`, a password that needs
percent-encoding) through the stunnel sidecar, as deployed (the shipped
deploy/systemd/fleetcrypt-redis-tls.conf.example with this test's addresses): Debian's
hiredis 0.14 speaks no TLS, so `rediss://` names the server and
FLEETCRYPT_REDIS_TLS_PROXY the local stunnel client that verifies it.

- plain TCP to the TLS port gets no answer (the server is TLS-only);
- a `noop` campaign runs to done with every binary (CLI, coordinator,
  worker) on `rediss://:<percent-encoded password>@…` + the proxy, and its
  keys are in the TLS-only server;
- `rediss://` without the proxy, or the proxy with a plain URL, is refused
  (the CLI exits non-zero, a service exits 2 at start) naming
  FLEETCRYPT_REDIS_TLS_PROXY and never the password.
"""
import os
import re
import shutil
import socket
import subprocess
import urllib.parse

import pytest

from fclib import BIN_DIR, REPO, Proc, free_port, wait_until
from fixtures_stack import Stack

PASSWORD = "p@ss:w/rd%tls"
EXAMPLE = os.path.join(REPO, "deploy", "systemd", "fleetcrypt-redis-tls.conf.example")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def tls_redis(world):
    d = os.path.join(world, "redis-tls")
    os.makedirs(d)
    ca_key, ca, key, csr, crt, ext = (os.path.join(d, n) for n in
                                      ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "ext.cnf"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", "/CN=fleetcrypt test Redis CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
            "-extfile", ext)
    os.chmod(key, 0o600)
    port, proxy = free_port(), free_port()
    srv = Proc(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                "--tls-cert-file", crt, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
                "--requirepass", PASSWORD, "--dir", d, "--save", "", "--appendonly", "no"],
               os.path.join(d, "redis.log"))
    # the shipped example (deploy/systemd/fleetcrypt-redis-tls.conf.example) with this test's addresses
    conf = os.path.join(d, "stunnel.conf")
    with open(EXAMPLE) as f:
        text = f.read()
    for key, value in (("accept", f"127.0.0.1:{proxy}"), ("connect", f"127.0.0.1:{port}"), ("CAfile", ca),
                       ("checkHost", "localhost")):
        text, n = re.subn(rf"(?m)^{key}\s*=.*$", f"{key} = {value}", text)
        assert n == 1, f"the example has no single '{key} =' line"
    with open(conf, "w") as f:
        f.write(text)
    tunnel = Proc([shutil.which("stunnel4") or shutil.which("stunnel"), conf], os.path.join(d, "stunnel.log"))

    def cli(*args):
        return subprocess.run(["redis-cli", "--tls", "--cacert", ca, "-p", str(port), "--no-auth-warning",
                               "-a", PASSWORD, *args], capture_output=True, text=True, timeout=20)
    try:
        wait_until(lambda: cli("PING").stdout.strip() == "PONG", 20, interval=0.2, what="TLS-only redis up")

        def tunnel_up():
            assert tunnel.alive(), tunnel.tail()
            with socket.socket() as sk:
                return sk.connect_ex(("127.0.0.1", proxy)) == 0
        wait_until(tunnel_up, 20, interval=0.2, what="stunnel listening")
        yield {"port": port, "proxy": proxy, "cli": cli}
    finally:
        tunnel.stop()
        srv.stop()


def test_stack_on_tls_only_redis(world, awssim, tls_redis):
    port = tls_redis["port"]
    # TLS only: a plain client gets no Redis answer on that port
    r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True, timeout=20)
    assert "PONG" not in r.stdout, r.stdout
    url = f"rediss://:{urllib.parse.quote(PASSWORD, safe='')}@localhost:{port}/0"
    env = {"FLEETCRYPT_REDIS_URL": url, "FLEETCRYPT_REDIS_TLS_PROXY": f"127.0.0.1:{tls_redis['proxy']}"}
    stack = Stack(world, awssim, workers=1, env_extra=env)
    try:
        stack.start()
        r = stack.cli("submit", "--campaign", "tls1", "--kms-key", "alias/none", "--strategy", "noop",
                      "--max-parallel", "3", "tls-a", "tls-b", "tls-c")
        assert r.returncode == 0, r.stderr
        st = stack.wait_campaign("tls1", 90)
        assert st["counts"]["done"] == 3, st
        # the campaign lives in the TLS-only server, not in the stack's own plain Redis
        assert tls_redis["cli"]("HGET", "fc:{tls1}:campaign", "state").stdout.strip() == "done"
        assert stack.redis.cli("EXISTS", "fc:{tls1}:campaign") == "0"
        for p in stack.workers + stack.coordinators:
            with open(p.log_path, errors="replace") as f:
                assert PASSWORD not in f.read(), p.log_path

        # the sidecar is required for rediss://, and only for it
        r = stack.cli("status", env={"FLEETCRYPT_REDIS_TLS_PROXY": ""})
        assert r.returncode != 0 and "FLEETCRYPT_REDIS_TLS_PROXY" in r.stderr, (r.returncode, r.stderr)
        assert PASSWORD not in r.stderr and "p%40ss" not in r.stderr
        r = stack.cli("status", env={"FLEETCRYPT_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
        assert r.returncode != 0 and "rediss://" in r.stderr, (r.returncode, r.stderr)
        # a service refuses to start on either (exit 2, as for every bad setting)
        w = subprocess.run([os.path.join(BIN_DIR, "fleetcrypt-worker")], env=dict(stack.env, FLEETCRYPT_REDIS_TLS_PROXY=""),
                           capture_output=True, text=True, timeout=30)
        assert w.returncode == 2 and "FLEETCRYPT_REDIS_TLS_PROXY" in w.stderr, (w.returncode, w.stderr)
        assert PASSWORD not in w.stderr
    finally:
        stack.stop()
