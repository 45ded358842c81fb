"""The subscription's connection string against real PostgreSQL 15: it
carries only what the target server itself can use (no sslrootcert path of
the worker's; sslmode=require when the worker reached the source over
verified TLS), and its password reaches neither the target's log nor
fleetcrypt's output, when CREATE SUBSCRIPTION fails as when it succeeds,
even with the target logging every statement."""
import os
import subprocess

from fixtures_pg import *  # noqa: F401,F403
from fixtures_pg import MASTER, conn_a, conn_b, fc_passwords, psql, setup_master, tool
from fclib import IS_ROOT, free_port, pg_uid_gid

MARK = "7f3a9cLEAKMARK"
SECRET = "su'b" + MARK + "\\pw"
LOUD = "log_statement = 'all'\nlog_min_error_statement = 'info'\nlog_error_verbosity = 'verbose'"


def _log(srv):
    with open(srv.log_path, errors="replace") as f:
        return f.read()


def _tls_files(world):
    """A CA and a server certificate for 127.0.0.1/localhost, readable by the server."""
    d = os.path.join(world, "tls")
    os.makedirs(d, exist_ok=True)
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                              "server.crt"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=test CA")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "2", "-extfile", ext)
    os.chmod(key, 0o600)
    os.chmod(d, 0o755)
    os.chmod(crt, 0o644)
    if IS_ROOT:
        os.chown(key, *pg_uid_gid())
    return ca, f"ssl = on\nssl_cert_file = '{crt}'\nssl_key_file = '{key}'"


def test_failed_create_subscription_leaks_no_password(servers):
    tgt = servers.new("tgt", extra_conf=LOUD)
    setup_master(tgt)
    dead = free_port()  # nothing listens: CREATE SUBSCRIPTION cannot reach the publisher
    rc, _, out, err = tool("subscribe", *conn_a(tgt, "app"),
                           "--host2", "127.0.0.1", "--port2", dead, "--db2", "app", "--user2", "fc_leak_sub",
                           "--password2-env", "FC_SUB_PW", "--tag", "leak", "--lsn", "0/3000000",
                           env={"FC_SUB_PW": SECRET}, check=False)
    assert rc != 0, out
    assert "subscription" in err and "publisher" in err, err  # it did fail at CREATE SUBSCRIPTION
    assert MARK not in out + err
    log = _log(tgt)
    assert "could not connect to the publisher" in log, log[-2000:]
    assert MARK not in log, "the subscription password reached the target's log"
    assert psql(tgt.port, "SELECT count(*) FROM pg_subscription") == "0"


def test_subscription_over_tls_carries_no_client_file(servers, world):
    ca, tls_conf = _tls_files(world)
    tag = "tls"
    src = servers.new("src", extra_conf=tls_conf + "\nwal_level = logical\n" + LOUD)
    setup_master(src)
    psql(src.port, "CREATE TABLE t(id bigserial PRIMARY KEY, v text)", db="app", user=MASTER)
    pw = fc_passwords(tag)
    tool("create-roles", *conn_a(src, "app"), "--tag", tag, "--admin-password-env", "FC_ADMIN_PW",
         "--sub-password-env", "FC_SUB_PW", env=pw)
    tool("prepare-source", *conn_a(src, "app"), "--tag", tag)
    snap = servers.freeze_copy(src, "snap")
    tgt = servers.restore(snap, "tgt")
    start = tool("find-start-lsn", tgt.log_path, "--segsize", 1 << 20)[1]["start_lsn"]
    tool("clean-target", *conn_a(tgt, "app"), "--tag", tag, "--drop-slots")
    # the product's default: verify-full with our CA for every connection the tool opens
    env = dict(pw, FLEETCRYPT_PG_SSLMODE="", FLEETCRYPT_PG_SSLROOTCERT="", FLEETCRYPT_RDS_CA_BUNDLE=ca)
    tool("subscribe", *conn_a(tgt, "app"), *conn_b(src, "app", user=f"fc_{tag}_sub"),
         "--password2-env", "FC_SUB_PW", "--tag", tag, "--lsn", start, env=env)
    ci = psql(tgt.port, "SELECT subconninfo FROM pg_subscription", db="app")
    assert "sslmode='require'" in ci, ci
    assert "sslrootcert" not in ci and ca not in ci, ci
    assert pw["FC_SUB_PW"] not in _log(tgt), "the subscription password reached the target's log"
    # the subscription's walsender on the source runs over TLS
    psql(src.port, "INSERT INTO t(v) VALUES ('over tls')", db="app", user=MASTER)
    from fclib import wait_until
    wait_until(lambda: psql(tgt.port, "SELECT count(*) FROM t WHERE v = 'over tls'", db="app") == "1", 30,
               what="row replicated")
    assert psql(src.port, "SELECT bool_and(s.ssl) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)") == "t"
