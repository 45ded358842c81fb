"""deploy/local/stack: up starts real servers on free ports, env prints what a
shell can eval, kcat and redis-cli reach them, down leaves none of our
processes behind, and up is idempotent."""
import os
import subprocess

from fclib import REPO, BIN_DIR

STACK = os.path.join(REPO, "deploy", "local", "stack")


def run_stack(home, *args, check=True):
    env = dict(os.environ, FLEETCRYPT_HOME=home, FLEETCRYPT_BIN_DIR=BIN_DIR)
    return subprocess.run([STACK, *args], env=env, capture_output=True, text=True,
                          check=check, timeout=240)


def pids(home):
    run = os.path.join(home, "run")
    out = {}
    for f in os.listdir(run) if os.path.isdir(run) else []:
        if f.endswith(".pid"):
            out[f[:-4]] = int(open(os.path.join(run, f)).read())
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_stack_up_env_down(world):
    home = os.path.join(world, "stackhome")
    try:
        run_stack(home, "up")
        first = pids(home)
        assert {"redis", "kafka"} <= set(first), first
        assert all(alive(p) for p in first.values()), first

        run_stack(home, "up")  # idempotent: nothing restarted
        assert pids(home) == first

        env_out = run_stack(home, "env").stdout
        env = {}
        for line in env_out.splitlines():
            assert line.startswith("export "), line
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'")
        for k in ("FLEETCRYPT_KAFKA_BROKERS", "FLEETCRYPT_REDIS_URL"):
            assert env.get(k), f"{k} missing from: {env_out}"
        meta = subprocess.run(["kcat", "-b", env["FLEETCRYPT_KAFKA_BROKERS"], "-L"],
                              capture_output=True, text=True, check=True, timeout=30).stdout
        assert 'topic "fleetcrypt.steps"' in meta
        pong = subprocess.run(["redis-cli", "-u", env["FLEETCRYPT_REDIS_URL"], "ping"],
                              capture_output=True, text=True, check=True, timeout=10).stdout
        assert pong.strip() == "PONG"
        if "awssim" in first:
            for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                      "AWS_SECRET_ACCESS_KEY", "FLEETCRYPT_AWSSIM_ADMIN", "FLEETCRYPT_RDS_CA_BUNDLE",
                      "FLEETCRYPT_SIM_TARGET_ACCOUNT_ID", "FLEETCRYPT_SIM_TARGET_ROLE_ARN",
                      "FLEETCRYPT_SIM_TARGET_EXTERNAL_ID", "FLEETCRYPT_SIM_TARGET_ACCESS_KEY_ID",
                      "FLEETCRYPT_SIM_TARGET_SECRET_ACCESS_KEY"):
                assert env.get(k), f"{k} missing from: {env_out}"
            with open(env["FLEETCRYPT_RDS_CA_BUNDLE"]) as f:
                assert "BEGIN CERTIFICATE" in f.read()
            # the workers verify every instance against that CA (the default sslmode, verify-full)
            for name in (n for n in first if n.startswith("worker-")):
                with open(f"/proc/{first[name]}/environ", "rb") as f:
                    wenv = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
                assert wenv.get(b"FLEETCRYPT_RDS_CA_BUNDLE", b"").decode() == env["FLEETCRYPT_RDS_CA_BUNDLE"]
        status = run_stack(home, "status").stdout
        assert "redis        running" in status and "kafka        running" in status
    finally:
        run_stack(home, "down", check=False)
    for name, pid in first.items():
        assert not alive(pid), f"{name} (pid {pid}) still running after down"
    assert pids(home) == {}
