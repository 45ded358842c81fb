"""awssim's AWS DMS: the API through /usr/bin/aws dms (JSON 1.1, SigV4), and
the change-data-capture engine behind a running task moving rows between two
real RDS PostgreSQL instances: the CdcStartPosition boundary (a transaction
committed before the LSN is not applied, one committed at/after it is, even
when its first change is before it), DMS's limitations (keyless UPDATE/DELETE
ignored unless REPLICA IDENTITY FULL, TRUNCATE and sequences not replicated,
a duplicate insert in awsdms_apply_exceptions), stop/resume without a row
applied twice, the slot's confirmed position only after the target commit,
full load (TRUNCATE_BEFORE_LOAD) + CDC with table statistics and validation,
and a task that fails when its target goes away. One emulator per module."""
import json
import os

import psycopg2
import pytest

from fclib import wait_until
from fixtures_awssim import AwsCliError, psql

PW = "s3cret-Passw0rd"
MAPPING_ALL = json.dumps({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                                     "object-locator": {"schema-name": "public", "table-name": "%"},
                                     "rule-action": "include"}]})


def _logical_group(sim):
    rds = sim.client("rds")
    try:
        rds.create_db_parameter_group(DBParameterGroupName="fc-logical", DBParameterGroupFamily="postgres15",
                                      Description="logical replication on")
        rds.modify_db_parameter_group(DBParameterGroupName="fc-logical", Parameters=[
            {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])
    except rds.exceptions.DBParameterGroupAlreadyExistsFault:
        pass
    return "fc-logical"


def _db(sim, ident, group=None):
    args = ["rds", "create-db-instance", "--db-instance-identifier", ident, "--db-instance-class", "db.t3.micro",
            "--engine", "postgres", "--master-username", "app", "--master-user-password", PW,
            "--allocated-storage", "20", "--db-name", "appdb"]
    if group:
        args += ["--db-parameter-group-name", group]
    sim.cli(*args)
    return sim.wait_instance(ident)["Endpoint"]["Port"]


def _conn(port):
    c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password=PW, dbname="appdb", connect_timeout=5)
    c.autocommit = True
    return c


def _q(port, sql):
    return psql(port, "app", PW, sql, db="appdb")


def _endpoint(sim, ident, kind, port, **pg):
    args = ["dms", "create-endpoint", "--endpoint-identifier", ident, "--endpoint-type", kind,
            "--engine-name", "postgres", "--server-name", "127.0.0.1", "--port", str(port),
            "--database-name", "appdb", "--username", "app", "--password", PW]
    if pg:
        args += ["--postgre-sql-settings", json.dumps(pg)]
    return sim.cli(*args)["Endpoint"]


def _wait_task(sim, arn, status, timeout=120):
    """Polls with botocore (awscli's start-up is slow on a busy machine); every
    action itself goes through /usr/bin/aws."""
    last = {}
    dms = sim.client("dms")

    def ok():
        t = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn",
                                                     "Values": [arn]}])["ReplicationTasks"][0]
        last["t"] = t
        if t["Status"] == "failed" and status != "failed":
            raise AssertionError(f"task failed: {t.get('LastFailureMessage')}")
        return t if t["Status"] == status else None
    try:
        return wait_until(ok, timeout, 0.2, f"task {status}")
    except AssertionError:
        raise AssertionError(f"task not {status}: {last.get('t')}\n{sim.proc.tail(30)}") from None


def _confirmed(port, slot):
    return _q(port, f"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name='{slot}'")


def _lsn_ge(port, a, b):
    return _q(port, f"SELECT '{a}'::pg_lsn >= '{b}'::pg_lsn") == "t"


def _drained(sim, sport, slot):
    """Wait until the slot's confirmed position covers the source's last commit
    (the engine confirms only after the target commit)."""
    end = _q(sport, "SELECT pg_current_wal_lsn()")
    try:
        wait_until(lambda: _lsn_ge(sport, _confirmed(sport, slot) or "0/0", end), 60, 0.2, "slot drained")
    except AssertionError:
        peek = _q(sport, f"SELECT lsn, data FROM pg_logical_slot_peek_changes('{slot}', NULL, 20)")
        raise AssertionError(f"slot {slot} confirmed {_confirmed(sport, slot)}, source end {end}; pending: "
                             f"{peek[:2000]}\n" + sim.proc.tail(20)) from None


def _stats(sim, arn):
    out = sim.client("dms").describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
    return {s["TableName"]: s for s in out}


@pytest.fixture(scope="module")
def dms_env(awssim_module):
    sim = awssim_module
    group = _logical_group(sim)
    sport = _db(sim, "dms-src", group)
    tport = _db(sim, "dms-tgt")
    ri = sim.cli("dms", "create-replication-instance", "--replication-instance-identifier", "fc-ri",
                 "--replication-instance-class", "dms.t3.medium", "--allocated-storage", "50",
                 "--no-publicly-accessible")["ReplicationInstance"]
    assert ri["ReplicationInstanceStatus"] == "creating"
    wait_until(lambda: sim.cli("dms", "describe-replication-instances", "--filters",
                               "Name=replication-instance-id,Values=fc-ri")["ReplicationInstances"][0]
               ["ReplicationInstanceStatus"] == "available", 120, 0.2, "replication instance available")
    return sim, sport, tport, ri["ReplicationInstanceArn"]


def test_api_shapes_and_errors(dms_env):
    sim, sport, tport, ri_arn = dms_env
    acct = sim.info["account_id"]
    assert ri_arn.startswith(f"arn:aws:dms:us-east-1:{acct}:rep:")
    ri = sim.cli("dms", "describe-replication-instances")["ReplicationInstances"]
    assert [r["ReplicationInstanceIdentifier"] for r in ri] == ["fc-ri"]
    assert ri[0]["ReplicationInstanceClass"] == "dms.t3.medium" and ri[0]["AllocatedStorage"] == 50
    with pytest.raises(AwsCliError) as e:
        sim.cli("dms", "create-replication-instance", "--replication-instance-identifier", "fc-ri",
                "--replication-instance-class", "dms.t3.medium")
    assert "ResourceAlreadyExistsFault" in e.value.stderr
    with pytest.raises(AwsCliError) as e:
        sim.cli("dms", "describe-replication-instances", "--filters", "Name=replication-instance-id,Values=nope")
    assert "ResourceNotFoundFault" in e.value.stderr

    src = _endpoint(sim, "api-src", "source", sport, SlotName="api_slot", PluginName="test-decoding")
    assert src["EndpointArn"].startswith(f"arn:aws:dms:us-east-1:{acct}:endpoint:")
    assert src["EndpointType"] == "SOURCE" and src["EngineName"] == "postgres"
    assert src["PostgreSQLSettings"]["SlotName"] == "api_slot"
    listed = sim.cli("dms", "describe-endpoints", "--filters", "Name=endpoint-id,Values=api-src")["Endpoints"]
    assert len(listed) == 1 and "Password" not in json.dumps(listed) and PW not in json.dumps(listed)
    assert [e["EndpointIdentifier"] for e in sim.cli("dms", "describe-endpoints", "--filters",
                                                     "Name=endpoint-type,Values=SOURCE")["Endpoints"]] == ["api-src"]
    bad = sim.cli("dms", "create-endpoint", "--endpoint-identifier", "api-bad", "--endpoint-type", "target",
                  "--engine-name", "postgres", "--server-name", "127.0.0.1", "--port", str(tport),
                  "--database-name", "appdb", "--username", "app", "--password", "wrong-password")["Endpoint"]
    for ep, want in ((src, "successful"), (bad, "failed")):
        c = sim.cli("dms", "test-connection", "--replication-instance-arn", ri_arn,
                    "--endpoint-arn", ep["EndpointArn"])["Connection"]
        assert c["Status"] == "testing"
        got = wait_until(lambda: next(x for x in sim.cli("dms", "describe-connections", "--filters",
                                                         f"Name=endpoint-arn,Values={ep['EndpointArn']}")
                                      ["Connections"] if x["Status"] != "testing"), 30, 0.2, "connection tested")
        assert got["Status"] == want, got
    assert "password authentication failed" in got["LastFailureMessage"]

    tgt = _endpoint(sim, "api-tgt", "target", tport)
    t = sim.cli("dms", "create-replication-task", "--replication-task-identifier", "api-task",
                "--source-endpoint-arn", src["EndpointArn"], "--target-endpoint-arn", tgt["EndpointArn"],
                "--replication-instance-arn", ri_arn, "--migration-type", "cdc",
                "--table-mappings", MAPPING_ALL, "--cdc-start-position", "0/0")["ReplicationTask"]
    assert t["Status"] == "creating" and t["ReplicationTaskArn"].startswith(f"arn:aws:dms:us-east-1:{acct}:task:")
    t = _wait_task(sim, t["ReplicationTaskArn"], "ready")
    settings = json.loads(t["ReplicationTaskSettings"])
    assert settings["ErrorBehavior"]["ApplyErrorInsertPolicy"] == "LOG_ERROR"
    # never started: only start-replication; a cdc task never takes reload-target
    for kind in ("resume-processing", "reload-target"):
        with pytest.raises(AwsCliError) as e:
            sim.cli("dms", "start-replication-task", "--replication-task-arn", t["ReplicationTaskArn"],
                    "--start-replication-task-type", kind)
        assert "InvalidResourceStateFault" in e.value.stderr
    with pytest.raises(AwsCliError) as e:
        sim.cli("dms", "stop-replication-task", "--replication-task-arn", t["ReplicationTaskArn"])
    assert "InvalidResourceStateFault" in e.value.stderr
    # an endpoint or instance in use cannot be deleted
    with pytest.raises(AwsCliError) as e:
        sim.cli("dms", "delete-endpoint", "--endpoint-arn", src["EndpointArn"])
    assert "InvalidResourceStateFault" in e.value.stderr
    sim.cli("dms", "add-tags-to-resource", "--resource-arn", t["ReplicationTaskArn"], "--tags", "Key=team,Value=db")
    tags = sim.cli("dms", "list-tags-for-resource", "--resource-arn", t["ReplicationTaskArn"])["TagList"]
    assert [(x["Key"], x["Value"]) for x in tags] == [("team", "db")]
    sim.cli("dms", "remove-tags-from-resource", "--resource-arn", t["ReplicationTaskArn"], "--tag-keys", "team")
    assert sim.cli("dms", "list-tags-for-resource", "--resource-arn", t["ReplicationTaskArn"])["TagList"] == []
    # the right password through modify-endpoint: the next test succeeds
    sim.cli("dms", "modify-endpoint", "--endpoint-arn", bad["EndpointArn"], "--password", PW)
    sim.cli("dms", "test-connection", "--replication-instance-arn", ri_arn, "--endpoint-arn", bad["EndpointArn"])
    wait_until(lambda: sim.cli("dms", "describe-connections", "--filters",
                               f"Name=endpoint-arn,Values={bad['EndpointArn']}")["Connections"][0]["Status"]
               == "successful", 30, 0.2, "connection successful after modify-endpoint")
    m = sim.cli("dms", "modify-replication-task", "--replication-task-arn", t["ReplicationTaskArn"],
                "--migration-type", "full-load")["ReplicationTask"]
    assert m["MigrationType"] == "full-load"
    _wait_task(sim, t["ReplicationTaskArn"], "ready")
    sim.cli("dms", "delete-replication-task", "--replication-task-arn", t["ReplicationTaskArn"])
    wait_until(lambda: sim.cli_raw("dms", "describe-replication-tasks", "--filters",
                                   "Name=replication-task-id,Values=api-task")[0] != 0, 60, 0.2, "task deleted")
    for ep in (src, bad, tgt):
        sim.cli("dms", "delete-endpoint", "--endpoint-arn", ep["EndpointArn"])


def test_cdc_boundary_limitations_resume(dms_env):
    sim, sport, tport, ri_arn = dms_env
    ddl = ("CREATE TABLE k(id int PRIMARY KEY, v text); CREATE TABLE nk(a int, b text); "
           "CREATE TABLE nkf(a int, b text); ALTER TABLE nkf REPLICA IDENTITY FULL; "
           "CREATE TABLE tr(id int PRIMARY KEY); CREATE SEQUENCE s;")
    _q(sport, ddl)
    _q(sport, "SELECT pg_create_logical_replication_slot('dms_slot', 'test_decoding')")
    _q(tport, ddl)
    _q(tport, "INSERT INTO k VALUES (50, 'already on target')")  # the duplicate the source will insert
    src, tgt = _conn(sport), _conn(tport)
    cur = src.cursor()
    # an in-flight transaction: its first change before the start LSN, its commit after
    inflight = _conn(sport)
    inflight.autocommit = False
    inflight.cursor().execute("INSERT INTO k VALUES (3, 'in-flight')")
    cur.execute("INSERT INTO k VALUES (1, 'before')")      # committed before the LSN: not applied
    cur.execute("SELECT pg_current_wal_lsn()")
    start = cur.fetchone()[0]
    cur.execute("INSERT INTO k VALUES (2, 'at')")          # first record at the LSN: applied
    inflight.commit()                                      # committed after: applied whole
    cur.execute("INSERT INTO tr VALUES (1), (2); INSERT INTO nk VALUES (1, 'x'), (2, 'y'); "
                "INSERT INTO nkf VALUES (1, 'x'), (2, 'y'); SELECT nextval('s'), nextval('s')")

    se = _endpoint(sim, "cdc-src", "source", sport, SlotName="dms_slot", PluginName="test-decoding",
                   HeartbeatEnable=True, HeartbeatFrequency=1)
    te = _endpoint(sim, "cdc-tgt", "target", tport)
    t = sim.cli("dms", "create-replication-task", "--replication-task-identifier", "cdc-task",
                "--source-endpoint-arn", se["EndpointArn"], "--target-endpoint-arn", te["EndpointArn"],
                "--replication-instance-arn", ri_arn, "--migration-type", "cdc", "--table-mappings", MAPPING_ALL,
                "--cdc-start-position", start)["ReplicationTask"]
    arn = t["ReplicationTaskArn"]
    assert t["CdcStartPosition"] == start
    _wait_task(sim, arn, "ready")
    sim.cli("dms", "start-replication-task", "--replication-task-arn", arn,
            "--start-replication-task-type", "start-replication")
    _wait_task(sim, arn, "running")
    cur.execute("UPDATE k SET v='updated' WHERE id=2; DELETE FROM k WHERE id=3; "
                "UPDATE nk SET b='changed' WHERE a=1; DELETE FROM nk WHERE a=2; "
                "UPDATE nkf SET b='changed' WHERE a=1; DELETE FROM nkf WHERE a=2; "
                "TRUNCATE tr; INSERT INTO k VALUES (50, 'from source'), (51, 'after dup')")
    _drained(sim, sport, "dms_slot")

    rows = _q(tport, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM k")
    # 1 (before the LSN) never applied, 3 applied then deleted, 50 the duplicate kept as it was
    assert rows == "2:updated,50:already on target,51:after dup", rows
    assert _q(tport, "SELECT string_agg(a || ':' || b, ',' ORDER BY a) FROM nk") == "1:x,2:y"  # ignored
    assert _q(tport, "SELECT string_agg(a || ':' || b, ',' ORDER BY a) FROM nkf") == "1:changed"
    assert _q(tport, "SELECT count(*) FROM tr") == "2"                                          # no TRUNCATE
    assert _q(tport, "SELECT last_value, is_called FROM s") == "1|f"                             # no sequence
    exc = _q(tport, 'SELECT "TABLE_OWNER", "TABLE_NAME", "ERROR" FROM public.awsdms_apply_exceptions')
    assert exc.count("\n") == 0 and exc.startswith("public|k|") and "duplicate key" in exc, exc
    task_name = _q(tport, 'SELECT "TASK_NAME" FROM public.awsdms_apply_exceptions')
    assert task_name == arn.rsplit(":", 1)[1]
    st = _stats(sim, arn)
    assert st["k"]["Inserts"] == 4 and st["k"]["Updates"] == 1 and st["k"]["Deletes"] == 1, st["k"]
    assert st["nkf"]["Updates"] == 1 and st["k"]["TableState"] == "Table completed"

    # stop, write while stopped, resume: everything once (a keyless table shows doubles)
    sim.cli("dms", "stop-replication-task", "--replication-task-arn", arn)
    t = _wait_task(sim, arn, "stopped")
    assert t["StopReason"] == "Stop Reason NORMAL" and t["RecoveryCheckpoint"].startswith("checkpoint:V1#")
    cur.execute("INSERT INTO nk VALUES (3, 'while stopped'); INSERT INTO k VALUES (60, 'while stopped')")
    sim.cli("dms", "start-replication-task", "--replication-task-arn", arn,
            "--start-replication-task-type", "resume-processing")
    _wait_task(sim, arn, "running")
    cur.execute("INSERT INTO nk VALUES (4, 'after resume')")
    _drained(sim, sport, "dms_slot")
    assert _q(tport, "SELECT string_agg(a::text, ',' ORDER BY a) FROM nk") == "1,2,3,4"
    assert _q(tport, "SELECT count(*) FROM k WHERE id=60") == "1"
    assert _q(tport, "SELECT count(*) FROM public.awsdms_apply_exceptions") == "1"

    # the target goes away: the task fails with DMS's stop reason
    sim.cli("rds", "stop-db-instance", "--db-instance-identifier", "dms-tgt")
    sim.wait_instance("dms-tgt", "stopped")
    cur.execute("SELECT pg_current_wal_lsn()")
    before70 = cur.fetchone()[0]
    cur.execute("INSERT INTO k VALUES (70, 'target down')")
    t = _wait_task(sim, arn, "failed")
    assert t["StopReason"] == "Stop Reason RECOVERABLE_ERROR" and t["LastFailureMessage"], t
    # nothing confirmed past what the target has: the slot still holds the row's transaction
    assert _lsn_ge(sport, before70, _confirmed(sport, "dms_slot"))
    assert "target down" in _q(sport, "SELECT string_agg(data, ' ') FROM "
                                      "pg_logical_slot_peek_changes('dms_slot', NULL, NULL)")
    sim.cli("rds", "start-db-instance", "--db-instance-identifier", "dms-tgt")
    sim.wait_instance("dms-tgt")
    sim.cli("dms", "start-replication-task", "--replication-task-arn", arn,
            "--start-replication-task-type", "resume-processing")
    _wait_task(sim, arn, "running")
    _drained(sim, sport, "dms_slot")
    assert _q(tport, "SELECT count(*) FROM k WHERE id=70") == "1"
    sim.cli("dms", "stop-replication-task", "--replication-task-arn", arn)
    _wait_task(sim, arn, "stopped")
    for c in (src, tgt, inflight):
        c.close()


def test_full_load_and_cdc_with_validation(dms_env):
    sim, sport, tport, ri_arn = dms_env
    _q(sport, "CREATE TABLE fl(id int PRIMARY KEY, v text); INSERT INTO fl SELECT g, 'v' || g "
              "FROM generate_series(1, 300) g; CREATE TABLE fl2(id bigint PRIMARY KEY, n numeric, d date); "
              "INSERT INTO fl2 VALUES (1, 1.5, '2020-01-01'), (2, NULL, NULL)")
    _q(tport, "CREATE TABLE fl(id int PRIMARY KEY, v text); INSERT INTO fl VALUES (9999, 'junk')")
    se = _endpoint(sim, "fl-src", "source", sport)
    te = _endpoint(sim, "fl-tgt", "target", tport)
    mapping = json.dumps({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                                     "object-locator": {"schema-name": "public", "table-name": "fl%"},
                                     "rule-action": "include"}]})
    settings = json.dumps({"FullLoadSettings": {"TargetTablePrepMode": "TRUNCATE_BEFORE_LOAD"},
                           "ValidationSettings": {"EnableValidation": True}})
    t = sim.cli("dms", "create-replication-task", "--replication-task-identifier", "fl-task",
                "--source-endpoint-arn", se["EndpointArn"], "--target-endpoint-arn", te["EndpointArn"],
                "--replication-instance-arn", ri_arn, "--migration-type", "full-load-and-cdc",
                "--table-mappings", mapping, "--replication-task-settings", settings)["ReplicationTask"]
    arn = t["ReplicationTaskArn"]
    _wait_task(sim, arn, "ready")
    sim.cli("dms", "start-replication-task", "--replication-task-arn", arn,
            "--start-replication-task-type", "start-replication")
    _wait_task(sim, arn, "running")
    wait_until(lambda: all(s["TableState"] == "Table completed" for s in _stats(sim, arn).values())
               and len(_stats(sim, arn)) == 2, 60, 0.2, "full load done")
    st = _stats(sim, arn)
    assert st["fl"]["FullLoadRows"] == 300 and st["fl2"]["FullLoadRows"] == 2
    assert _q(tport, "SELECT count(*), min(id), max(id) FROM fl") == "300|1|300"
    assert _q(tport, "SELECT n, d FROM fl2 WHERE id=1") == "1.5|2020-01-01"
    _q(sport, "INSERT INTO fl VALUES (301, 'cdc'); UPDATE fl SET v='u' WHERE id=1")
    slot = _q(sport, "SELECT slot_name FROM pg_replication_slots ORDER BY slot_name").split("\n")
    assert any(s.startswith("awsdms_") for s in slot), slot
    wait_until(lambda: _q(tport, "SELECT count(*) FROM fl WHERE id=301 OR (id=1 AND v='u')") == "2",
               60, 0.2, "cdc after full load")
    wait_until(lambda: _stats(sim, arn)["fl"]["ValidationState"] == "Validated", 60, 0.2, "validated")
    t = sim.cli("dms", "describe-replication-tasks", "--filters",
                f"Name=replication-task-arn,Values={arn}")["ReplicationTasks"][0]
    assert t["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert t["ReplicationTaskStats"]["TablesLoaded"] == 2
    sim.cli("dms", "stop-replication-task", "--replication-task-arn", arn)
    _wait_task(sim, arn, "stopped")

    # a validation-only task finds a row changed on the target behind DMS's back
    _q(tport, "UPDATE fl SET v='tampered' WHERE id=5")
    vs = json.dumps({"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
                     "ValidationSettings": {"EnableValidation": True, "ValidationOnly": True}})
    v = sim.cli("dms", "create-replication-task", "--replication-task-identifier", "fl-validate",
                "--source-endpoint-arn", se["EndpointArn"], "--target-endpoint-arn", te["EndpointArn"],
                "--replication-instance-arn", ri_arn, "--migration-type", "full-load",
                "--table-mappings", mapping, "--replication-task-settings", vs)["ReplicationTask"]
    _wait_task(sim, v["ReplicationTaskArn"], "ready")
    sim.cli("dms", "start-replication-task", "--replication-task-arn", v["ReplicationTaskArn"],
            "--start-replication-task-type", "start-replication")
    t = _wait_task(sim, v["ReplicationTaskArn"], "stopped")
    assert t["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    st = {x["TableName"]: x for x in sim.cli("dms", "describe-table-statistics", "--replication-task-arn",
                                              v["ReplicationTaskArn"])["TableStatistics"]}
    assert st["fl"]["ValidationState"] == "Mismatched records" and st["fl"]["ValidationFailedRecords"] == 1
    assert st["fl2"]["ValidationState"] == "Validated"
    got = _q(tport, 'SELECT "TABLE_NAME", "KEY", "FAILURE_TYPE" FROM public.awsdms_validation_failures_v1')
    assert got.startswith("fl|") and got.endswith("|RECORD_DIFF") and '["5"]' in got, got


@pytest.mark.slow  # CI budget: the emulator's own restart; the strategies' tests drive its tasks
def test_running_task_survives_emulator_restart(dms_env):
    sim, sport, tport, ri_arn = dms_env
    for port in (sport, tport):
        _q(port, "CREATE TABLE rs(n int)")    # keyless: a change applied twice would show
    se = _endpoint(sim, "rs-src", "source", sport, HeartbeatEnable=True)
    te = _endpoint(sim, "rs-tgt", "target", tport)
    mapping = MAPPING_ALL.replace('"table-name": "%"', '"table-name": "rs"')
    t = sim.cli("dms", "create-replication-task", "--replication-task-identifier", "rs-task",
                "--source-endpoint-arn", se["EndpointArn"], "--target-endpoint-arn", te["EndpointArn"],
                "--replication-instance-arn", ri_arn, "--migration-type", "cdc",
                "--table-mappings", mapping)["ReplicationTask"]
    arn = t["ReplicationTaskArn"]
    _wait_task(sim, arn, "ready")
    sim.cli("dms", "start-replication-task", "--replication-task-arn", arn,
            "--start-replication-task-type", "start-replication")
    _wait_task(sim, arn, "running")
    _q(sport, "INSERT INTO rs VALUES (1)")
    wait_until(lambda: _q(tport, "SELECT count(*) FROM rs") == "1", 60, 0.2, "row before restart")
    slot = "awsdms_" + arn.rsplit(":", 1)[1].lower()       # DMS's own slot, made at the first start
    assert _q(sport, f"SELECT plugin FROM pg_replication_slots WHERE slot_name = '{slot}'") == "test_decoding"
    sim.restart()
    sim.wait_instance("dms-src")
    sim.wait_instance("dms-tgt")
    _q(sport, "INSERT INTO rs VALUES (2)")
    _wait_task(sim, arn, "running")
    _drained(sim, sport, slot)
    assert _q(tport, "SELECT string_agg(n::text, ',' ORDER BY n) FROM rs") == "1,2"
    sim.cli("dms", "stop-replication-task", "--replication-task-arn", arn)
    _wait_task(sim, arn, "stopped")
    # deleting the task drops the slot DMS created for it
    sim.cli("dms", "delete-replication-task", "--replication-task-arn", arn)
    wait_until(lambda: _q(sport, f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'") == "0",
               60, 0.2, "own slot dropped")


def test_time_scaled_status_transitions(awssim_module):
    sim = awssim_module
    scale = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE") or 0.02)
    old = sim.admin("GET", "/config")["time_scale"]
    sim.admin("POST", "/config", {"time_scale": scale})
    try:
        ri = sim.cli("dms", "create-replication-instance", "--replication-instance-identifier", "scaled-ri",
                     "--replication-instance-class", "dms.t3.micro")["ReplicationInstance"]
        assert ri["ReplicationInstanceStatus"] == "creating"
        assert sim.client("dms").describe_replication_instances(Filters=[
            {"Name": "replication-instance-id", "Values": ["scaled-ri"]}])["ReplicationInstances"][0][
            "ReplicationInstanceStatus"] == "creating"
        wait_until(lambda: sim.cli("dms", "describe-replication-instances", "--filters",
                                   "Name=replication-instance-id,Values=scaled-ri")["ReplicationInstances"][0]
                   ["ReplicationInstanceStatus"] == "available", 120, 0.2, "scaled instance available")
        got = sim.cli("dms", "delete-replication-instance", "--replication-instance-arn",
                      ri["ReplicationInstanceArn"])["ReplicationInstance"]
        assert got["ReplicationInstanceStatus"] == "deleting"
        wait_until(lambda: sim.cli_raw("dms", "describe-replication-instances", "--filters",
                                       "Name=replication-instance-id,Values=scaled-ri")[0] != 0,
                   120, 0.2, "scaled instance deleted")
    finally:
        sim.admin("POST", "/config", {"time_scale": old})


def test_capacity_and_rate_limit(dms_env):
    sim, sport, tport, ri_arn = dms_env
    dms = sim.client("dms")
    se = _endpoint(sim, "cap-src", "source", sport)
    te = _endpoint(sim, "cap-tgt", "target", tport)
    mapping = MAPPING_ALL.replace('"table-name": "%"', '"table-name": "nothing_here"')
    arns = []
    for i in (1, 2):
        t = dms.create_replication_task(ReplicationTaskIdentifier=f"cap-{i}", SourceEndpointArn=se["EndpointArn"],
                                        TargetEndpointArn=te["EndpointArn"], ReplicationInstanceArn=ri_arn,
                                        MigrationType="cdc", TableMappings=mapping)["ReplicationTask"]
        arns.append(t["ReplicationTaskArn"])
        _wait_task(sim, t["ReplicationTaskArn"], "ready")
    sim.admin("POST", "/config", {"quotas": {"DmsRunningTasksPerInstance": 1}})
    try:
        dms.start_replication_task(ReplicationTaskArn=arns[0], StartReplicationTaskType="start-replication")
        _wait_task(sim, arns[0], "running")
        dms.start_replication_task(ReplicationTaskArn=arns[1], StartReplicationTaskType="start-replication")
        t = _wait_task(sim, arns[1], "failed")
        assert t["StopReason"] == "Stop Reason FATAL_ERROR" and "capacity" in t["LastFailureMessage"]
    finally:
        sim.admin("POST", "/config", {"quotas": {"DmsRunningTasksPerInstance": 0}})
    dms.stop_replication_task(ReplicationTaskArn=arns[0])
    _wait_task(sim, arns[0], "stopped")

    # DMS's API goes through the emulator's token bucket, one per service
    sim.admin("POST", "/config", {"rate": {"rate": 0.5, "burst": 2}})
    try:
        codes = []
        for _ in range(4):
            try:
                dms.describe_replication_tasks()
                codes.append("ok")
            except dms.exceptions.ClientError as e:
                codes.append(e.response["Error"]["Code"])
        assert "ThrottlingException" in codes and codes[0] == "ok", codes
    finally:
        sim.admin("POST", "/config", {"rate": {"rate": 12, "burst": 300}})
