"""TLS on the emulated RDS instances, as on RDS: every instance (created or
restored from a snapshot) serves TLS with a certificate from the emulator's
own "RDS CA", whose bundle the ready file names; `sslmode=verify-full`
with that bundle succeeds on the endpoint DescribeDBInstances reports, a
client trusting another CA is refused. fleetcrypt's own clients (fc_pg_tool
here, the worker through the same lib/pgq.c) default to verify-full and
take the bundle from FLEETCRYPT_RDS_CA_BUNDLE. One emulator for the module."""
import os
import stat
import subprocess

from fclib import PG_BIN
from fixtures_pg import TOOL

PW = "tls-Passw0rd-secret"


def _psql_tls(host, port, sslmode, rootcert, sql="SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
              home=None):
    env = dict(os.environ, PGPASSWORD=PW, PGCONNECT_TIMEOUT="5")
    for k in ("PGSSLMODE", "PGSSLROOTCERT"):
        env.pop(k, None)
    if home:
        env["HOME"] = home
    dsn = f"host={host} port={port} dbname=postgres user=app sslmode={sslmode}"
    if rootcert:
        dsn += f" sslrootcert={rootcert}"
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-d", dsn, "-c", sql],
                       capture_output=True, text=True, env=env, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr


def _other_ca(tmp):
    key, crt = os.path.join(tmp, "other-ca.key"), os.path.join(tmp, "other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=Not The RDS CA"],
                   check=True, capture_output=True)
    return crt


def _create(sim, ident):
    sim.cli("rds", "create-db-instance", "--db-instance-identifier", ident, "--db-instance-class", "db.t3.micro",
            "--engine", "postgres", "--master-username", "app", "--master-user-password", PW,
            "--allocated-storage", "20")
    return sim.wait_instance(ident)


def _tool_env(sim, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PGSSLMODE", "PGSSLROOTCERT", "FLEETCRYPT_PG_SSLMODE", "FLEETCRYPT_PG_SSLROOTCERT",
                        "FLEETCRYPT_RDS_CA_BUNDLE")}
    env["FC_TLS_PW"] = PW
    env.update(extra)
    return env


def _tool(port, env, *extra):
    return subprocess.run([TOOL, "--host", "127.0.0.1", "--port", str(port), "--db", "postgres", "--user", "app",
                           "--password-env", "FC_TLS_PW", *extra, "list-databases"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_verify_full_against_the_emulated_rds_ca(awssim_module, tmp_path):
    sim = awssim_module
    bundle = sim.info.get("rds_ca_bundle")
    assert bundle and os.path.isfile(bundle), f"ready file names no CA bundle: {sim.info}"
    with open(bundle) as f:
        assert "BEGIN CERTIFICATE" in f.read()
    assert not stat.S_IMODE(os.stat(bundle).st_mode) & 0o022

    inst = _create(sim, "tls-db")
    host, port = inst["Endpoint"]["Address"], inst["Endpoint"]["Port"]
    # the endpoint's own address, and the names the certificate carries besides
    for h in (host, "127.0.0.1", "localhost"):
        rc, out, err = _psql_tls(h, port, "verify-full", bundle)
        assert rc == 0, f"verify-full to {h}:{port} failed: {err}"
        assert out == "t"
    # server side: ssl=on, key owned by the server's user, 0600
    rc, out, err = _psql_tls(host, port, "verify-full", bundle, sql="SHOW ssl_key_file")
    assert rc == 0, err
    st = os.stat(out)
    assert stat.S_IMODE(st.st_mode) == 0o600
    rc, data_dir, err = _psql_tls(host, port, "verify-full", bundle, sql="SHOW data_directory")
    assert rc == 0, err
    assert st.st_uid == os.stat(data_dir).st_uid

    # a client that trusts another CA is refused
    rc, _, err = _psql_tls(host, port, "verify-full", _other_ca(str(tmp_path)))
    assert rc != 0 and "certificate verify failed" in err, err
    # verify-ca with the bundle works too
    rc, _, err = _psql_tls(host, port, "verify-ca", bundle)
    assert rc == 0, err

    # a restored instance has its own certificate from the same CA
    sim.cli("rds", "create-db-snapshot", "--db-instance-identifier", "tls-db", "--db-snapshot-identifier", "tls-snap")
    sim.wait_snapshot("tls-snap")
    sim.wait_instance("tls-db")
    sim.cli("rds", "restore-db-instance-from-db-snapshot", "--db-instance-identifier", "tls-db-restored",
            "--db-snapshot-identifier", "tls-snap")
    r = sim.wait_instance("tls-db-restored")
    rc, out, err = _psql_tls(r["Endpoint"]["Address"], r["Endpoint"]["Port"], "verify-full", bundle)
    assert rc == 0 and out == "t", err
    rc, rkey, err = _psql_tls(r["Endpoint"]["Address"], r["Endpoint"]["Port"], "verify-full", bundle,
                              sql="SHOW ssl_key_file")
    assert rc == 0, err
    assert rkey != out and os.path.isfile(rkey)


def test_fleetcrypt_clients_default_to_verify_full(awssim_module, tmp_path):
    sim = awssim_module
    bundle = sim.info["rds_ca_bundle"]
    inst = sim.instance("tls-db") if _exists(sim, "tls-db") else _create(sim, "tls-db")
    port = inst["Endpoint"]["Port"]
    empty_home = str(tmp_path)  # no ~/.postgresql/root.crt

    # default: verify-full, the bundle from FLEETCRYPT_RDS_CA_BUNDLE
    r = _tool(port, _tool_env(sim, HOME=empty_home, FLEETCRYPT_RDS_CA_BUNDLE=bundle))
    assert r.returncode == 0, r.stderr
    # default without any CA: verify-full refuses (libpq finds no root certificate)
    r = _tool(port, _tool_env(sim, HOME=empty_home))
    assert r.returncode != 0 and "root certificate" in r.stderr, r.stderr
    # a wrong CA through FLEETCRYPT_PG_SSLROOTCERT (wins over the bundle) is refused
    other = _other_ca(str(tmp_path))
    r = _tool(port, _tool_env(sim, HOME=empty_home, FLEETCRYPT_RDS_CA_BUNDLE=bundle,
                              FLEETCRYPT_PG_SSLROOTCERT=other))
    assert r.returncode != 0 and "certificate verify failed" in r.stderr, r.stderr
    # libpq's own PGSSLROOTCERT / PGSSLMODE are honoured when fleetcrypt's are unset
    r = _tool(port, _tool_env(sim, HOME=empty_home, PGSSLROOTCERT=bundle))
    assert r.returncode == 0, r.stderr
    r = _tool(port, _tool_env(sim, HOME=empty_home, PGSSLMODE="require"))
    assert r.returncode == 0, r.stderr
    # an explicit opt-out is possible (self-managed servers without TLS)
    r = _tool(port, _tool_env(sim, HOME=empty_home, FLEETCRYPT_PG_SSLMODE="require"))
    assert r.returncode == 0, r.stderr


def _exists(sim, ident):
    rds = sim.client("rds")
    try:
        rds.describe_db_instances(DBInstanceIdentifier=ident)
        return True
    except rds.exceptions.DBInstanceNotFoundFault:
        return False


def test_issuing_a_certificate_leaves_the_process_umask_alone(tmp_path):
    """The emulator is one process of many threads: while one instance's
    server key is being written, another thread creates a restored
    instance's directory. The umask is process-wide, so issuing a key must
    not narrow it: a 0700 root-owned instance directory is one the
    'postgres' user cannot enter, and the restore ends incompatible-restore
    ("could not access directory ... Permission denied")."""
    import sys
    import threading
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "awssim"))
    from sim import tls
    ca = tls.RdsCa(str(tmp_path / "home"))
    ca.ensure()
    old = os.umask(0o022)
    stop = threading.Event()
    narrowed = []

    def make_dirs():
        n = 0
        while not stop.is_set():
            d = tmp_path / "inst" / f"d{n}"
            os.makedirs(d)
            mode = stat.S_IMODE(os.stat(d).st_mode)
            if mode != 0o755:
                narrowed.append(oct(mode))
            n += 1

    t = threading.Thread(target=make_dirs)
    try:
        t.start()
        for i in range(6):
            ca.issue(str(tmp_path / f"i{i}"))
    finally:
        stop.set()
        t.join()
        os.umask(old)
    assert not narrowed, f"directories made while a key was issued got modes {sorted(set(narrowed))}"
    key = tmp_path / "i0" / "tls" / "server.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
