"""systemd units (deploy/systemd/) and CMake's install() rules: `cmake
--install` of the suite's build into a temporary prefix installs the four
binaries, the bash completion, the units (their paths pointing into that
prefix), the credential loader and the docs; `systemd-analyze verify`
accepts the coordinator and a worker instance with no warning; the units
carry the hardening the deployment promises."""
import os
import shutil
import subprocess

import pytest

import deploy_util as du
from fclib import REPO

UNITS = ("fleetcrypt-coordinator.service", "fleetcrypt-worker@.service", "fleetcrypt.target",
         "fleetcrypt-redis-tls.service")
HARDENING = {
    "DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "", "SystemCallArchitectures": "native",
}


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    build = du.build_dir()
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        pytest.skip(f"no configured build in {build}")
    # the install rules are part of the configure: re-run it so this tree's rules are the ones used
    subprocess.run(["cmake", build], capture_output=True, text=True, check=True, timeout=300)
    root = tmp_path_factory.mktemp("install") / "usr" / "local"
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(root)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return root


def unit(prefix, name):
    # repeated keys (LoadCredential=, Environment=): keep them all
    values = {}
    section = None
    with open(prefix / "lib" / "systemd" / "system" / name) as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif "=" in line and not line.startswith(("#", ";")):
                k, v = line.split("=", 1)
                values.setdefault((section, k.strip()), []).append(v.strip())
    return values


def test_install_puts_everything_in_place(prefix):
    for b in du.installed_binaries():
        assert os.access(prefix / "bin" / b, os.X_OK), f"{b} not installed"
    assert {"fleetcrypt", "fleetcrypt-worker", "fleetcrypt-coordinator", "fleetcrypt-kafka-dev"} <= set(du.installed_binaries())
    assert (prefix / "share" / "bash-completion" / "completions" / "fleetcrypt").is_file()
    for u in UNITS:
        assert (prefix / "lib" / "systemd" / "system" / u).is_file(), u
    assert os.access(prefix / "libexec" / "fleetcrypt" / "with-credentials", os.X_OK)
    assert (prefix / "share" / "doc" / "fleetcrypt" / "OPERATIONS.md").is_file()
    assert (prefix / "share" / "doc" / "fleetcrypt" / "fleetcrypt.env.example").is_file()
    assert (prefix / "share" / "doc" / "fleetcrypt" / "fleetcrypt-redis-tls.conf.example").is_file()
    for u in UNITS:
        text = (prefix / "lib" / "systemd" / "system" / u).read_text()
        assert "@" + "FC_" not in text, f"{u}: a placeholder was not substituted"


def test_systemd_analyze_verify_accepts_the_units(prefix):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    d = prefix / "lib" / "systemd" / "system"
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(d / "fleetcrypt-coordinator.service"),
                        str(d / "fleetcrypt-worker@9465.service"), str(d / "fleetcrypt.target"),
                        str(d / "fleetcrypt-redis-tls.service")],
                       capture_output=True, text=True, timeout=120)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not out, out


def test_units_are_hardened_and_read_secrets_as_credentials(prefix):
    table = du.config_table()
    for name in ("fleetcrypt-coordinator.service", "fleetcrypt-worker@.service"):
        u = unit(prefix, name)
        for k, v in HARDENING.items():
            assert u.get(("Service", k)) == [v], f"{name}: {k}={u.get(('Service', k))}, want {v}"
        assert u[("Service", "EnvironmentFile")] == ["/etc/fleetcrypt/fleetcrypt.env"]
        creds = [c.split(":", 1)[0] for c in u.get(("Service", "LoadCredential"), [])]
        assert {"FLEETCRYPT_REDIS_URL", "FLEETCRYPT_LIBRDKAFKA"} <= set(creds), f"{name}: secrets must be credentials"
        for c in creds:
            assert c in table, f"{name}: credential {c} is not a configuration variable"
        for e in u.get(("Service", "Environment"), []):
            var = e.split("=", 1)[0].strip('"')
            assert var in table, f"{name}: Environment= sets {var}, which no binary reads"
            assert not any(s in var for s in ("REDIS_URL", "LIBRDKAFKA", "PASSWORD", "SECRET")), f"{name}: {var} in clear"
        start = u[("Service", "ExecStart")][0].split()
        assert start[0] == str(prefix / "libexec" / "fleetcrypt" / "with-credentials")
        assert start[1] == str(prefix / "bin" / name.split("@")[0].replace(".service", ""))
    w = unit(prefix, "fleetcrypt-worker@.service")
    env = dict(e.split("=", 1) for e in w.get(("Service", "Environment"), []))
    shutdown_ms = int(env.get("FLEETCRYPT_SHUTDOWN_MS", table["FLEETCRYPT_SHUTDOWN_MS"]["default"]))
    stop = w[("Service", "TimeoutStopSec")][0]
    assert stop.endswith("s") and int(stop[:-1]) >= shutdown_ms / 1000 + 20, "stop timeout shorter than the drain"
    assert env["FLEETCRYPT_METRICS_ADDR"].endswith(":%i"), "the instance name is the worker's metrics port"


def test_redis_tls_sidecar_unit(prefix):
    """The stunnel client a rediss:// URL goes through (hiredis 0.14 has no
    TLS): hardened like the services, started before them and stopped with
    the target, reading /etc/fleetcrypt/redis-tls.conf (the example is
    deploy/systemd/fleetcrypt-redis-tls.conf.example; test_redis_tls.py runs it)."""
    u = unit(prefix, "fleetcrypt-redis-tls.service")
    for k, v in HARDENING.items():
        assert u.get(("Service", k)) == [v], f"redis-tls: {k}={u.get(('Service', k))}, want {v}"
    start = u[("Service", "ExecStart")][0].split()
    assert os.path.basename(start[0]) == "stunnel4" and start[1] == "/etc/fleetcrypt/redis-tls.conf", start
    assert u.get(("Unit", "PartOf")) == ["fleetcrypt.target"]
    assert u.get(("Install", "WantedBy")) == ["fleetcrypt.target"]
    for name in ("fleetcrypt-coordinator.service", "fleetcrypt-worker@.service"):
        after = " ".join(unit(prefix, name).get(("Unit", "After"), []))
        assert "fleetcrypt-redis-tls.service" in after, f"{name} must start after the TLS sidecar"


def test_with_credentials_exports_each_credential_as_its_variable(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "FLEETCRYPT_REDIS_URL").write_text("redis://:pw@h:6379/0\n")
    (creds / "FLEETCRYPT_LIBRDKAFKA").write_text("security.protocol=SSL")
    (creds / "not-a-variable").write_text("x")
    env = {"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(creds)}
    r = subprocess.run([os.path.join(REPO, "deploy", "systemd", "with-credentials"), "/usr/bin/env"],
                       capture_output=True, text=True, env=env, check=True)
    got = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    assert got["FLEETCRYPT_REDIS_URL"] == "redis://:pw@h:6379/0"
    assert got["FLEETCRYPT_LIBRDKAFKA"] == "security.protocol=SSL"
    assert "not-a-variable" not in got
    r = subprocess.run([os.path.join(REPO, "deploy", "systemd", "with-credentials"), "/usr/bin/env"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode != 0 and "CREDENTIALS_DIRECTORY" in r.stderr
