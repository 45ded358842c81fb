"""A campaign from a shell whose only AWS configuration is a profile, as
issue 18 asks: AWS_CONFIG_FILE holds a `credential_process` profile with a
region (and, for the emulator, its endpoint_url); no AWS_* variable carries
keys, region or endpoint. `submit` resolves the caller through the process
(its confirmation names the caller), and the campaign (the `offline`
strategy on a metadata-only instance) runs to done. The process's output
never reaches the CLI's output."""
import json
import os
import stat
import sys

from fixtures_awssim import ACCESS_KEY, SECRET_KEY


def test_campaign_from_a_credential_process_profile(stack, world):
    stack.sim.admin("POST", "/config", {"time_scale": 0})
    stack.make_instances(["prof-a"], storage=20)
    key = stack.make_key()
    stack.sim.admin("POST", "/config", {"time_scale": 2 / 3120.0})
    stack.start()
    prog = os.path.join(world, "creds-process")
    with open(prog, "w") as f:
        f.write(f"#!{sys.executable}\nimport json\nprint(json.dumps({{'Version': 1, "
                f"'AccessKeyId': {ACCESS_KEY!r}, 'SecretAccessKey': {SECRET_KEY!r}}}))\n")
    os.chmod(prog, os.stat(prog).st_mode | stat.S_IXUSR)
    cfg = os.path.join(world, "aws-config-ops")
    with open(cfg, "w") as f:
        f.write(f"[profile ops]\nregion = us-east-1\ncredential_process = {prog}\nendpoint_url = {stack.sim.endpoint}\n")
    # the shell: no AWS_* variable but the config file's path
    env = {k: "" for k in stack.env if k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"})
    r = stack.cli("submit", "--profile", "ops", "--campaign", "prof", "--kms-key", key["Arn"], "--strategy", "offline",
                  "--yes", "prof-a", env=env)
    assert r.returncode == 0, r.stderr
    who = stack.sim.client("sts").get_caller_identity()
    assert f"as {who['Arn']} (account {who['Account']})" in r.stdout, r.stdout
    assert "region us-east-1" in r.stdout, r.stdout
    assert SECRET_KEY not in r.stdout + r.stderr
    st = stack.wait_campaign("prof", 240)
    assert st["counts"]["done"] == 1, json.dumps(st)
