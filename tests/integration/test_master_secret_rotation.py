"""RDS rotates the source's managed master secret in the middle of a
pg-logical campaign (`--db-secret rds-managed`, `--cutover approve`), on
real servers, the coordinator's after-the-switch follower turned off
(FLEETCRYPT_RETIRED_CHECK_S=0) so only the worker can have acted:

- while the instance is parked at cutover, the secret is rotated twice —
  `aws secretsmanager rotate-secret` (RDS's scheduled rotation) and `aws rds
  modify-db-instance --rotate-master-user-password --apply-immediately` —
  so the version prepare-source recorded is no longer even AWSPREVIOUS;
- the worker sets each new password on the restored target before its next
  master-user login there (the record's f.master_secret_version follows the
  secret; f.role_secret_version stays the prepare-source version, so
  fleetcrypt's admin and subscription logins keep working on both sides);
- `fleetcrypt approve`: the instance reaches `done`, every row a writer (an
  application role, through the endpoint) had acknowledged is on the
  encrypted instance exactly once, and afterwards the secret's current
  password logs in to the instance under its original name while the two
  earlier ones do not; no password is in Redis or in the worker's logs.
"""
import json
import time

import pytest

from fclib import wait_until
from fixtures_awssim import psql
from fixtures_stack import Stack
from pglogical_strategy_util import (MASTER, Writer, instance_state, managed_secret_instance, master_login, wait_step,
                                     wait_terminal)

CAMPAIGN = "msrot"
IDENT = "msr-1"
WRITER, WRITER_PW = "wr", "writer-pw-1"


@pytest.fixture
def mstack(world, awssim):
    s = Stack(world, awssim, env_extra={"FLEETCRYPT_RETIRED_CHECK_S": "0"})
    try:
        yield s
    finally:
        s.stop()


def current_password(sm, arn):
    v = sm.get_secret_value(SecretId=arn)
    return v["VersionId"], json.loads(v["SecretString"])["password"]


login = master_login


def test_rotation_during_campaign_reaches_done(mstack, awssim):
    sim, stack = awssim, mstack
    rds, sm = sim.client("rds"), sim.client("secretsmanager")
    src, arn, v0, pw0 = managed_secret_instance(sim, IDENT)
    port = src["Endpoint"]["Port"]
    psql(port, MASTER, pw0,
         f"CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL); CREATE SEQUENCE wseq;"
         f"CREATE ROLE {WRITER} LOGIN PASSWORD '{WRITER_PW}';"
         f"GRANT INSERT, SELECT ON a TO {WRITER}; GRANT USAGE ON SEQUENCE a_id_seq, wseq TO {WRITER};", db="app")
    key = stack.make_key()["Arn"]
    stack.start()
    w = Writer(sim, IDENT, rate=20, tables=("a",), user=WRITER, password=WRITER_PW).start()
    try:
        r = stack.cli("submit", "--campaign", CAMPAIGN, "--kms-key", key, "--strategy", "pg-logical",
                      "--db-secret", "rds-managed", "--cutover", "approve", "--yes", IDENT)
        assert r.returncode == 0, r.stderr
        rec = f"fc:{{{CAMPAIGN}}}:i:{IDENT}"
        wait_step(stack, CAMPAIGN, IDENT, ("cutover",), timeout=240)
        wait_until(lambda: instance_state(stack, CAMPAIGN, IDENT)["state"] == "waiting_approval", 60, 0.3,
                   "parked at cutover")
        assert stack.redis.cli("HGET", rec, "f.master_secret_version") == v0
        tid = stack.redis.cli("HGET", rec, "f.target_id")
        tport = sim.instance(tid, rds)["Endpoint"]["Port"]
        assert login(tport, pw0)[0], "the restored target starts with the snapshot's password"

        def follows(version, pw):
            """the worker moved the target to `version` (record) and it accepts `pw`."""
            i = instance_state(stack, CAMPAIGN, IDENT)
            assert i["state"] in ("running", "waiting_approval"), f"{i}\n{stack.diagnostics()}"
            return stack.redis.cli("HGET", rec, "f.master_secret_version") == version and login(tport, pw)[0]

        # rotation 1: Secrets Manager's rotation of the RDS-managed secret
        v1 = sim.cli("secretsmanager", "rotate-secret", "--secret-id", arn)["VersionId"]
        v, pw1 = current_password(sm, arn)
        assert v == v1 and pw1 != pw0
        assert not login(port, pw0)[0] and login(port, pw1)[0], "RDS sets the rotated password on the source"
        wait_until(lambda: follows(v1, pw1), 60, 0.5, "the target following rotation 1 while parked")
        # rotation 2: the RDS API's; v0 is now neither AWSCURRENT nor AWSPREVIOUS
        sim.cli("rds", "modify-db-instance", "--db-instance-identifier", IDENT, "--rotate-master-user-password",
                "--apply-immediately")
        wait_until(lambda: current_password(sm, arn)[0] != v1, 30, 0.2, "rotation 2")
        v2, pw2 = current_password(sm, arn)
        assert v0 not in sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        wait_until(lambda: follows(v2, pw2), 60, 0.5, "the target following rotation 2 while parked")
        assert instance_state(stack, CAMPAIGN, IDENT)["step"] == "cutover"
        n0 = len(w.numbers())
        time.sleep(1.5)
        assert len(w.numbers()) > n0, "the writer stopped while parked"

        assert stack.cli("approve", CAMPAIGN, IDENT).returncode == 0
        st = wait_terminal(stack, CAMPAIGN, timeout=180)
        time.sleep(1.0)   # writes after the switch land on the encrypted instance
    finally:
        w.stop()
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    enc = sim.instance(IDENT, rds)
    assert enc["StorageEncrypted"] and enc["Endpoint"]["Port"] == port, enc

    # the secret's current password is the encrypted instance's; the earlier ones are not
    vn, pwn = current_password(sm, arn)
    assert vn == v2
    assert login(port, pwn)[0], "the current secret password must log in to the encrypted instance"
    for old in (pw0, pw1):
        ok, err = login(port, old)
        assert not ok and "password authentication failed" in err, f"a pre-rotation password: ok={ok} {err}"
    assert stack.redis.cli("HGET", rec, "f.master_secret_version") == v2
    assert stack.redis.cli("HGET", rec, "f.role_secret_version") == v0
    assert stack.redis.cli("HGET", rec, "f.master_secret_pending") == "0"

    # every acknowledged row exactly once on the encrypted instance
    target = [int(x) for x in psql(port, MASTER, pwn, "SELECT seq FROM a ORDER BY seq", db="app").split()]
    acked = w.numbers()
    assert len(acked) > 20, f"writer acknowledged only {len(acked)} rows"
    missing = sorted(set(acked) - set(target))
    doubled = len(target) - len(set(target))
    assert not missing and doubled == 0, f"missing {missing[:10]} doubled {doubled}"
    left = psql(port, MASTER, pwn, "SELECT rolname FROM pg_roles WHERE rolname LIKE 'fc\\_%' UNION ALL "
                "SELECT subname FROM pg_subscription WHERE subname LIKE 'fc\\_%'", db="app")
    assert left == "", f"fleetcrypt roles/subscriptions left on the encrypted instance: {left}"

    # two follows by the worker (ModifyDBInstance MasterUserPassword on the target), no secret anywhere
    modifies = [c for c in stack.calls() if c["action"] == "ModifyDBInstance" and c.get("resource") == tid
                and c["status"] == 200]
    assert len(modifies) >= 2, modifies
    dump = stack.redis.cli("HGETALL", rec)
    logs = "".join(open(p.log_path, errors="replace").read() for p in stack.workers + stack.coordinators)
    for pw in (pw0, pw1, pw2):
        assert pw not in dump, "a master password in the Redis record"
        assert pw not in logs, "a master password in a log"
