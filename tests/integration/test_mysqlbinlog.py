"""Strategy mysql-binlog end to end on the local stack (Redis, local Kafka,
the AWS emulator with a real MariaDB 10.11 server behind every instance of
engine mysql / mariadb, real fleetcrypt-worker / -coordinator / fleetcrypt
binaries), emulator time scale 0.

One `mysql` and one `mariadb` instance (binlog_format=ROW from their
parameter groups), each with a writer committing single-row transactions as
an application account into a keyed and a keyless table, from before
submit until after the cutover. Afterwards:

- every instance `done`;
- the identifier is encrypted with the campaign key, its endpoint (address
  and port) unchanged;
- every acknowledged number is on the encrypted instance exactly once
  (keyed and keyless table: the binlog position of the stopped read
  replica is exact at the snapshot boundary, the cutover loses nothing);
- the writer reaches the encrypted instance again after the switch (its
  account was unlocked there), the retired source is stopped, tagged
  retired-source, and its application account still locked;
- no replication user, read replica or snapshot of fleetcrypt's left.

A second test: a source whose parameter group has binlog_format MIXED fails
preflight naming the parameter, and the source is untouched."""
import json
import os
import threading
import time

import pymysql
import pytest

from fclib import wait_until
from pglogical_strategy_util import aws_leftovers, wait_terminal

PW = "my-master-Passw0rd"
MASTER = "admin"
APP, APP_PW = "webapp", "webapp-Passw0rd-1"
GROUPS = {"mysql": ("fc-my-row", "mysql8.0"), "mariadb": ("fc-maria-row", "mariadb10.11")}


def _group(sim, name, family, fmt="ROW"):
    rds = sim.client("rds")
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=family,
                                  Description="binlog_format for fleetcrypt tests")
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[
        {"ParameterName": "binlog_format", "ParameterValue": fmt, "ApplyMethod": "pending-reboot"}])
    return name


def _make(sim, ident, engine, group):
    rds = sim.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine=engine, DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername=MASTER, MasterUserPassword=PW,
                           DBParameterGroupName=group, BackupRetentionPeriod=1, StorageEncrypted=False,
                           Tags=[{"Key": "team", "Value": "mysql"}])


def _conn(sim, ident, user=MASTER, password=PW, db=None, timeout=5):
    i = sim.instance(ident)
    return pymysql.connect(host=i["Endpoint"]["Address"], port=i["Endpoint"]["Port"], user=user,
                           password=password, database=db, autocommit=True, connect_timeout=timeout,
                           read_timeout=10, write_timeout=10, ssl_ca=sim.info["rds_ca_bundle"],
                           ssl_verify_cert=True, ssl_verify_identity=True)


def _q(c, sql, args=None):
    with c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _app_schema(sim, ident, connect=None):
    c = (connect or _conn)(sim, ident)
    assert _q(c, "SELECT @@global.binlog_format")[0][0] == "ROW"
    _q(c, "CREATE DATABASE app")
    _q(c, "CREATE TABLE app.a (id BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL) ENGINE=InnoDB")
    _q(c, "CREATE TABLE app.b (seq BIGINT NOT NULL) ENGINE=InnoDB")
    _q(c, f"CREATE USER '{APP}'@'%' IDENTIFIED BY '{APP_PW}'")
    _q(c, f"GRANT SELECT, INSERT ON app.* TO '{APP}'@'%'")
    c.close()


def _secret_file(world):
    path = os.path.join(world, "my-db-secret.json")
    with open(path, "w") as f:
        json.dump({"default": {"username": MASTER, "password": PW}}, f)
    os.chmod(path, 0o644)
    return path


class Writer:
    """Single-row autocommit INSERTs as the application account through the
    identifier's endpoint (looked up again after every lost session),
    alternately into app.a (keyed) and app.b (keyless); every acknowledged
    number is kept."""

    def __init__(self, sim, ident, rate=40):
        self.sim, self.ident, self.rate = sim, ident, rate
        self.acked = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.n = 0
        self.t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t.start()
        return self

    def _connect(self):
        return _conn(self.sim, self.ident, APP, APP_PW, "app", timeout=2)

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                c = self._connect()
            except Exception:  # noqa: BLE001 - blocked, renamed, not there yet
                time.sleep(0.1)
                continue
            try:
                while not self.stop_flag.is_set():
                    self.n += 1
                    n = self.n
                    _q(c, f"INSERT INTO {'a' if n % 2 else 'b'} (seq) VALUES (%s)", (n,))
                    with self.lock:
                        self.acked.append(n)
                    time.sleep(1.0 / self.rate)
            except Exception:  # noqa: BLE001 - the server ended the session
                pass
            finally:
                try:
                    c.close()
                except Exception:  # noqa: BLE001
                    pass

    def stop(self):
        self.stop_flag.set()
        self.t.join(timeout=30)

    def numbers(self):
        with self.lock:
            return list(self.acked)


def _until_terminal(stack, campaign, timeout):
    """wait_terminal, replacing every worker a crash point killed."""
    return stack.until_terminal(campaign, timeout)[0]


def _tags(rds, arn):
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def test_mysql_and_mariadb_exactly_once_across_snapshot_and_cutover(stack, awssim, world):
    run_campaign(stack, awssim, world, "mybl", {"my-bl-a": "mysql", "maria-bl-b": "mariadb"})


# CI runs the scaled MySQL path through test_mysqlbinlog_aurora.py (time scale 0.02); this one in --all
@pytest.mark.slow
def test_exactly_once_at_time_scale(stack, awssim, world):
    """The same at emulator time scale 0.02 (every AWS duration real, 50x
    shorter: a rename takes seconds and the old endpoint keeps answering for
    the modelled DNS lag)."""
    run_campaign(stack, awssim, world, "myts", {"my-ts-a": "mysql", "maria-ts-b": "mariadb"}, scale=0.02)


def run_campaign(stack, awssim, world, campaign, ids, scale=0, crash_at=None):
    """crash_at: a crash point (FLEETCRYPT_TEST_CRASH_AT) the first worker to
    reach SIGKILLs itself at; dead workers are replaced and the campaign must
    still end done, exactly once."""
    sim = awssim
    crash_dir = os.path.join(world, "crash")
    if crash_at:
        os.makedirs(crash_dir, exist_ok=True)
        stack.env.update({"FLEETCRYPT_TEST_CRASH_DIR": crash_dir, "FLEETCRYPT_TEST_CRASH_AT": crash_at})
    for ident, engine in ids.items():
        _make(sim, ident, engine, _group(sim, *GROUPS[engine]))
    before = {}
    for ident in ids:
        before[ident] = sim.wait_instance(ident, "available", timeout=120)["Endpoint"]
        _app_schema(sim, ident)
    key = stack.make_key()["Arn"]
    stack.start()
    writers = {ident: Writer(sim, ident).start() for ident in ids}
    wait_until(lambda: all(len(w.numbers()) > 20 for w in writers.values()), 60, 0.1, "writes before submit")
    if scale:
        sim.admin("POST", "/config", {"time_scale": scale})
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--yes", "--max-parallel", "4", *ids)
    assert r.returncode == 0, f"submit failed ({r.returncode}): {r.stdout}\n{r.stderr}"
    st = _until_terminal(stack, campaign, 600)
    if crash_at:
        assert os.path.exists(os.path.join(crash_dir, crash_at)), f"crash point {crash_at} never fired"
    sim.admin("POST", "/config", {"time_scale": 0})
    # writes after the switch land on the encrypted instance: wait for some, not a time
    marks = {ident: len(w.numbers()) for ident, w in writers.items()}
    wait_until(lambda: all(len(writers[i].numbers()) >= marks[i] + 20 for i in ids), 60, 0.1,
               "writes after the switch")
    for w in writers.values():
        w.stop()
    rds = sim.client("rds")
    for inst in st["instances"]:
        assert inst["state"] == "done", f"instance ended {inst}:\n{stack.diagnostics()}"
    for ident, engine in ids.items():
        i = sim.instance(ident, rds)
        assert i["Engine"] == engine
        assert i["StorageEncrypted"] and i["KmsKeyId"] == key, (i["StorageEncrypted"], i.get("KmsKeyId"))
        assert i["Endpoint"]["Address"] == before[ident]["Address"]
        assert i["Endpoint"]["Port"] == before[ident]["Port"]
        assert _tags(rds, i["DBInstanceArn"]).get("fleetcrypt:role") == "encrypted"
        c = _conn(sim, ident)
        a = [x[0] for x in _q(c, "SELECT seq FROM app.a ORDER BY seq")]
        b = [x[0] for x in _q(c, "SELECT seq FROM app.b ORDER BY seq")]
        # no replication left on the encrypted instance, no fleetcrypt account
        assert _q(c, "SHOW REPLICA STATUS") == ()
        users = [x[0] for x in _q(c, "SELECT User FROM mysql.user")]
        assert not [u for u in users if u.startswith("fc_")], users
        c.close()
        acked = writers[ident].numbers()
        assert len(acked) > 100, f"{ident}: writer acknowledged only {len(acked)} rows"
        target = a + b
        missing = sorted(set(acked) - set(target))
        doubled = len(target) - len(set(target))
        assert not missing and doubled == 0, f"{ident}: missing {missing[:10]} doubled {doubled}"
        # the seed position came from the stopped replica; every table was compared by hashes
        fact = lambda name: stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", "f." + name)  # noqa: E731
        assert fact("seed_file").startswith("mysql-bin-changelog.") and int(fact("seed_pos")) > 4
        sums = [ln.split("\t") for ln in fact("verify_sums").splitlines() if ln]
        assert {r[0] for r in sums} >= {"app.a", "app.b"}, sums
        assert fact("verify_mismatches") == "0" and fact("verify_done") == "1"
        down = [i for i in st["instances"] if i["id"] == ident][0]["downtime_s"]
        assert float(down) > 0 and not fact("downtime_unknown"), (down, fact("downtime_unknown"))
        # the retired source: stopped, tagged
        retired = [x for x in rds.describe_db_instances()["DBInstances"]
                   if _tags(rds, x["DBInstanceArn"]).get("fleetcrypt:role") == "retired-source"
                   and _tags(rds, x["DBInstanceArn"]).get("fleetcrypt:original-id") == ident]
        assert len(retired) == 1, retired
        assert retired[0]["DBInstanceStatus"] in ("stopped", "stopping"), retired[0]["DBInstanceStatus"]
    left = [x for x in aws_leftovers(sim, campaign) if "retired" not in x]
    assert left == [], f"fleetcrypt's AWS resources left: {left}"


def _submit_when_free(stack, args, campaign):
    """Submit the same instance again: its claim goes when the coordinator
    ends the last campaign, a moment after that campaign's instances end."""
    out = {}

    def submitted():
        out["r"] = stack.cli(*args, "--campaign", campaign)
        return out["r"].returncode == 0 or "already in active campaign" not in out["r"].stderr
    wait_until(submitted, 60, 0.5, f"{campaign} submitted once the last campaign let the instance go")
    return out["r"]


def test_statement_binlog_fails_preflight_and_leaves_the_source(stack, awssim, world):
    """binlog_format MIXED in the group, then ROW in the group but not applied
    (static, pending-reboot): preflight fails naming the parameter each
    time, and the source is untouched. Then, ROW applied, an enabled event
    with the event scheduler on: refused (the target would run it too)."""
    sim = awssim
    _make(sim, "my-bl-mixed", "mysql", _group(sim, "fc-my-mixed", "mysql8.0", fmt="MIXED"))
    sim.wait_instance("my-bl-mixed", "available", timeout=120)
    key = stack.make_key()["Arn"]
    stack.start()
    args = ["submit", "--kms-key", key, "--strategy", "mysql-binlog", "--db-secret", "file:" + _secret_file(world),
            "--yes", "my-bl-mixed"]
    r = stack.cli(*args, "--campaign", "mymix0")
    assert r.returncode == 0, (r.stdout, r.stderr)
    inst = wait_terminal(stack, "mymix0", timeout=120)["instances"][0]
    assert inst["state"] == "failed" and "binlog_format is MIXED" in json.dumps(inst), inst
    rds = sim.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="my-bl-mixed",
                           DBParameterGroupName=_group(sim, "fc-my-row", "mysql8.0"),
                           ApplyImmediately=True)
    wait_until(lambda: sim.instance("my-bl-mixed")["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot",
               60, 0.2, "pending-reboot")
    r = _submit_when_free(stack, args, "mymix")
    assert r.returncode == 0, (r.stdout, r.stderr)
    st = wait_terminal(stack, "mymix", timeout=120)
    inst = st["instances"][0]
    assert inst["state"] == "failed" and "binlog_format" in json.dumps(inst) and "reboot" in json.dumps(inst), inst
    c = _conn(sim, "my-bl-mixed")
    assert _q(c, "SELECT @@global.binlog_format")[0][0] == "MIXED"
    users = [x[0] for x in _q(c, "SELECT User FROM mysql.user")]
    assert not [u for u in users if u.startswith("fc_")], users
    c.close()
    assert aws_leftovers(sim, "mymix") == [] and aws_leftovers(sim, "mymix0") == []
    assert not sim.instance("my-bl-mixed")["StorageEncrypted"]
    # ROW applied; an enabled event and the scheduler on
    rds.reboot_db_instance(DBInstanceIdentifier="my-bl-mixed")
    wait_until(lambda: sim.instance("my-bl-mixed")["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"
               and sim.instance("my-bl-mixed")["DBInstanceStatus"] == "available", 120, 0.5, "rebooted")
    rds.modify_db_parameter_group(DBParameterGroupName="fc-my-row", Parameters=[
        {"ParameterName": "event_scheduler", "ParameterValue": "ON", "ApplyMethod": "immediate"}])
    c = _conn(sim, "my-bl-mixed")
    wait_until(lambda: _q(c, "SELECT @@global.event_scheduler")[0][0] == "ON", 60, 0.2, "event scheduler on")
    _q(c, "CREATE DATABASE IF NOT EXISTS ev")
    _q(c, "CREATE EVENT ev.tick ON SCHEDULE EVERY 1 HOUR DO SELECT 1")
    c.close()
    r = _submit_when_free(stack, args, "myev")
    assert r.returncode == 0, (r.stdout, r.stderr)
    inst = wait_terminal(stack, "myev", timeout=120)["instances"][0]
    assert inst["state"] == "failed" and "event scheduler" in inst["error"], inst
    assert aws_leftovers(sim, "myev") == []
