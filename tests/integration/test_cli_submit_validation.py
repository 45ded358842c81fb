"""submit refuses bad option values with exit 2 and one line naming the
option, before it touches Redis or AWS (nothing listens at the Redis URL
given here, so reaching it would be a different error)."""
import os
import subprocess

import pytest

from fclib import BIN_DIR, free_port

FC = os.path.join(BIN_DIR, "fleetcrypt")


@pytest.mark.parametrize("args,expect", [
    (["--cutover", "never"], "--cutover must be one of auto|approve"),
    (["--cutover-method", "dns"], "--cutover-method must be one of rename|proxy|cname"),
    (["--strategy", "mysql-binlog", "--cutover-method", "proxy"], "--cutover-method must be one of rename|cname"),
    (["--validate", "maybe"], "--validate must be one of normal|strict"),
    (["--prewarm", "sometimes"], "--prewarm must be one of on|off"),
    (["--live-validate", "yes"], "--live-validate must be one of on|off"),
    (["--db-secret", "hunter2"], "--db-secret must be rds-managed"),
    (["--db-secret", "file:relative.json"], "absolute path"),
    (["--max-parallel", "0"], "--max-parallel"),
    (["--window", "Someday 25:00-26:00"], "--window"),
    (["--rollback-window", "soon"], "not a duration"),
    (["--strategy", "teleport"], "strategy teleport is not available"),
    (["--target-account-role", "fleetcrypt-target"], "--target-account-role: want a role ARN"),
    (["--target-account-role", "arn:aws:iam::210987654321:role/t", "--target-external-id", "a b"],
     "--target-external-id: 2 to 1224"),
    (["--target-external-id", "xyz123"], "--target-external-id needs --target-account-role"),
    (["--target-account-role", "arn:aws:iam::210987654321:role/t", "--cutover-method", "proxy"],
     "cannot switch clients into another account"),
    (["--target-account-role", "arn:aws:iam::210987654321:role/t", "--cutover-method", "cname"],
     "--kms-key must be the target account's key ARN"),
    (["--target-account-role", "arn:aws:iam::210987654321:role/t", "--cutover-method", "cname",
      "--kms-key", "arn:aws:kms:us-east-1:210987654321:key/k", "--rollback-window", "1h"],
     "--rollback-window does not work across accounts yet"),
])
def test_bad_option_values_exit_2_with_one_line(args, expect):
    env = dict(os.environ, FLEETCRYPT_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    r = subprocess.run([FC, "submit", "--campaign", "c1", "--kms-key", "alias/k", *args, "db-1"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], r.stderr
    # a mistyped --db-secret may be a pasted password: never echo it back
    assert "hunter2" not in r.stderr
