"""CLI safety (issue 18): verbs that stop or change databases ask on a
terminal and need --yes otherwise.

- `submit` (a strategy that touches AWS) off a terminal without --yes exits 2
  and enqueues nothing; its confirmation names the caller's ARN and account
  (STS GetCallerIdentity) — on a terminal, where answering "n" enqueues
  nothing, and in the --yes output;
- `abort --dry-run` (campaign-wide and named) prints what would be aborted
  and changes nothing (records, event stream, campaign flag);
- a campaign-wide `abort` off a terminal without --yes exits 2 and changes
  nothing; on a terminal it asks, "n" changes nothing, "y" aborts; a named
  instance's abort needs no confirmation.

No coordinator runs: every instance stays `pending`, so each change is the
CLI's own.
"""
import os
import pty
import select
import subprocess
import time

from fclib import BIN_DIR, RedisConn


def rec(stack, campaign, ident):
    conn = RedisConn(stack.redis.port)
    try:
        flat = conn.cmd("HGETALL", f"fc:{{{campaign}}}:i:{ident}")
    finally:
        conn.close()
    return dict(zip(flat[0::2], flat[1::2]))


def on_tty(stack, args, answer, timeout=60):
    """Run fleetcrypt with stdin/stdout on a pseudo-terminal; type `answer`
    once it asks. (exit code, everything it printed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([os.path.join(BIN_DIR, "fleetcrypt")] + [str(a) for a in args], env=stack.env,
                         stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out, sent = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk and p.poll() is not None:
                    break
                out += chunk
            if not sent and b"[y/N]" in out:
                os.write(master, answer.encode() + b"\n")
                sent = True
            if p.poll() is not None and not r:
                break
        rc = p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode(errors="replace")


def snapshot(stack, campaign, ids):
    return ({i: rec(stack, campaign, i)["state"] for i in ids},
            stack.redis.cli("XLEN", f"fc:{{{campaign}}}:events"),
            stack.redis.cli("HGET", f"fc:{{{campaign}}}:campaign", "abort_requested"),
            stack.redis.cli("HGET", f"fc:{{{campaign}}}:campaign", "state"))


def test_submit_and_abort_confirmation(stack):
    ids = ["sf-a", "sf-b", "sf-c"]
    stack.make_instances(ids)
    key = stack.make_key()
    who = stack.sim.client("sts").get_caller_identity()
    submit = ["submit", "--campaign", "sf", "--kms-key", key["Arn"], "--strategy", "offline", *ids]

    # off a terminal, no --yes: refused before anything is written
    r = stack.cli(*submit)
    assert r.returncode == 2 and "--yes" in r.stderr, (r.returncode, r.stderr)
    assert stack.redis.cli("EXISTS", "fc:{sf}:campaign") == "0"

    # on a terminal: the confirmation names the caller; "n" enqueues nothing
    rc, out = on_tty(stack, submit, "n")
    assert "[y/N]" in out and who["Arn"] in out and who["Account"] in out, out
    assert rc != 0, out
    assert stack.redis.cli("EXISTS", "fc:{sf}:campaign") == "0"

    r = stack.cli(*submit, "--yes")
    assert r.returncode == 0, r.stderr
    assert f"as {who['Arn']} (account {who['Account']})" in r.stdout, r.stdout

    before = snapshot(stack, "sf", ids)
    assert before[0] == {i: "pending" for i in ids}, before

    # --dry-run: names each instance and what would happen, changes nothing
    r = stack.cli("abort", "sf", "--dry-run")
    assert r.returncode == 0, r.stderr
    for i in ids:
        assert f"{i}: would abort (pending)" in r.stdout, r.stdout
    assert "dry run" in r.stdout and "nothing changed" in r.stdout, r.stdout
    r = stack.cli("abort", "sf", "sf-b", "--dry-run")
    assert r.returncode == 0 and "sf-b: would abort" in r.stdout and "sf-a" not in r.stdout, r.stdout
    assert snapshot(stack, "sf", ids) == before

    # campaign-wide, off a terminal, no --yes: exit 2, nothing changed
    r = stack.cli("abort", "sf")
    assert r.returncode == 2 and "--yes" in r.stderr, (r.returncode, r.stderr)
    assert snapshot(stack, "sf", ids) == before

    # on a terminal: it asks; "n" changes nothing
    rc, out = on_tty(stack, ["abort", "sf"], "n")
    assert "[y/N]" in out and "3 instance(s)" in out, out
    assert rc != 0, out
    assert snapshot(stack, "sf", ids) == before

    # a named instance needs no confirmation
    r = stack.cli("abort", "sf", "sf-a")
    assert r.returncode == 0 and rec(stack, "sf", "sf-a")["state"] == "aborted", (r.stdout, r.stderr)

    # "y" on a terminal aborts the rest
    rc, out = on_tty(stack, ["abort", "sf"], "y")
    assert rc == 0, out
    assert {i: rec(stack, "sf", i)["state"] for i in ids} == {i: "aborted" for i in ids}
    assert stack.redis.cli("HGET", "fc:{sf}:campaign", "abort_requested") == "1"


def test_region_and_profile_follow_the_sdks(stack, world):
    """No hard-coded region: AWS_REGION, AWS_DEFAULT_REGION, then the
    profile's region; --profile (on every command) picks the profile and
    --region wins over all. Without any: an error naming them."""
    cfg = os.path.join(world, "aws-config")
    with open(cfg, "w") as f:
        f.write("[default]\nregion = eu-west-1\n[profile ops]\nregion = ap-south-1\n")
    env = {"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_CONFIG_FILE": cfg}
    dry = ["submit", "--campaign", "rg", "--kms-key", "alias/none", "--strategy", "noop", "--dry-run", "rg-a"]

    def region_of(*extra, **env_extra):
        r = stack.cli(*dry, *extra, env=dict(env, **env_extra))
        assert r.returncode == 0, r.stderr
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith("campaign rg:"))
        return line.split(", region ")[1].split(",")[0]
    assert region_of() == "eu-west-1"
    assert region_of("--profile", "ops") == "ap-south-1"
    assert region_of(AWS_PROFILE="ops") == "ap-south-1"
    assert region_of("--profile", "ops", AWS_DEFAULT_REGION="sa-east-1") == "sa-east-1"
    assert region_of("--profile", "ops", AWS_REGION="ca-central-1", AWS_DEFAULT_REGION="sa-east-1") == "ca-central-1"
    assert region_of("--profile", "ops", "--region", "us-west-1", AWS_REGION="ca-central-1") == "us-west-1"
    # nothing anywhere: refused, naming where a region comes from
    r = stack.cli(*dry, env=dict(env, AWS_CONFIG_FILE="/dev/null"))
    assert r.returncode == 2 and "AWS_REGION" in r.stderr and "region" in r.stderr, (r.returncode, r.stderr)
    # --profile is a common option of every command (here one that never calls AWS)
    r = stack.cli("status", "--profile", "ops", env=env)
    assert r.returncode == 0, r.stderr
