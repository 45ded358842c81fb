"""Aurora MySQL clusters in the emulator, driven by awscli: a real MariaDB
10.11 writer on the cluster volume and a reader replicating from it behind
the reader endpoint; binlog_format from the cluster parameter group (static:
pending-reboot until the writer reboots); RDS's procedures installed; a
cluster snapshot is a crash-consistent freeze copy taken under live writes;
RestoreDBClusterFromSnapshot --kms-key-id encrypts, and the writer's first
start runs crash recovery and reports "Binlog position from crash recovery
is mysql-bin-changelog.NNNNNN POS" (DescribeEvents, source type db-cluster):
the restored data holds exactly the source's transactions up to that
position; a cluster rename moves both endpoints. One emulator for the module."""
import re
import threading

import pymysql
import pytest

from test_awssim_mysql import _q, _wait

PW = "aur-my-Passw0rd"
CPG = "aurmy-row"


def _cluster(sim, ident):
    return sim.cli("rds", "describe-db-clusters", "--db-cluster-identifier", ident)["DBClusters"][0]


def _conn(sim, ident, host="127.0.0.1", db=None):
    return pymysql.connect(host=host, port=_cluster(sim, ident)["Port"], user="admin", password=PW, database=db,
                           autocommit=True, connect_timeout=10, ssl_ca=sim.info["rds_ca_bundle"],
                           ssl_verify_cert=True, ssl_verify_identity=True)


def _member(sim, cluster, ident, tier):
    sim.cli("rds", "create-db-instance", "--db-instance-identifier", ident, "--db-cluster-identifier", cluster,
            "--engine", "aurora-mysql", "--db-instance-class", "db.r6g.large", "--promotion-tier", str(tier))
    return sim.wait_instance(ident, timeout=180)


@pytest.fixture(scope="module")
def src(awssim_module):
    sim = awssim_module
    sim.cli("rds", "create-db-cluster-parameter-group", "--db-cluster-parameter-group-name", CPG,
            "--db-parameter-group-family", "aurora-mysql8.0", "--description", "row")
    sim.cli("rds", "create-db-cluster", "--db-cluster-identifier", "am-src", "--engine", "aurora-mysql",
            "--master-username", "admin", "--master-user-password", PW, "--db-cluster-parameter-group-name", CPG,
            "--tags", "Key=fleetcrypt-sim:create-time,Value=2025-06-01")
    _wait(lambda: _cluster(sim, "am-src")["Status"] == "available", what="cluster")
    w = _member(sim, "am-src", "am-src-0", 1)
    assert w["Engine"] == "aurora-mysql" and w["DBClusterIdentifier"] == "am-src"
    _member(sim, "am-src", "am-src-1", 2)
    return sim


def test_cluster_engine_endpoints_and_reader(src):
    c = _cluster(src, "am-src")
    assert c["Engine"] == "aurora-mysql" and c["EngineVersion"].startswith("8.0.mysql_aurora.")
    assert c["StorageEncrypted"] is False
    assert [m["IsClusterWriter"] for m in c["DBClusterMembers"]] == [True, False]
    m = _conn(src, "am-src")
    # the master user has no SUPER; RDS's procedures are there
    grants = " ".join(g for (g,) in _q(m, "SHOW GRANTS"))
    assert "SUPER" not in grants
    procs = {n for (n,) in _q(m, "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='mysql'")}
    assert {"rds_set_external_master", "rds_start_replication", "rds_kill", "rds_set_configuration"} <= procs
    _q(m, "CALL mysql.rds_set_configuration('binlog retention hours', 24)")
    _q(m, "CREATE DATABASE app")
    _q(m, "CREATE TABLE app.t (id INT PRIMARY KEY) ENGINE=InnoDB")
    _q(m, "INSERT INTO app.t VALUES (1), (2)")
    m.close()
    # the reader endpoint: a read-only server with the writer's rows
    r = _conn(src, "am-src", host="127.0.0.2")
    _wait(lambda: _q(r, "SELECT COUNT(*) FROM app.t")[0][0] == 2, what="reader has the rows")
    assert _q(r, "SELECT @@global.read_only")[0][0] == 1
    r.close()


def test_binlog_format_is_a_static_cluster_parameter(src):
    m = _conn(src, "am-src")
    assert _q(m, "SELECT @@global.binlog_format")[0][0] == "MIXED"
    m.close()
    src.cli("rds", "modify-db-cluster-parameter-group", "--db-cluster-parameter-group-name", CPG, "--parameters",
            "ParameterName=binlog_format,ParameterValue=ROW,ApplyMethod=pending-reboot")
    params = src.cli("rds", "describe-db-cluster-parameters", "--db-cluster-parameter-group-name", CPG,
                     "--source", "user")["Parameters"]
    assert [(p["ParameterName"], p["ParameterValue"], p["ApplyType"]) for p in params] == \
        [("binlog_format", "ROW", "static")]
    _wait(lambda: _cluster(src, "am-src")["DBClusterMembers"][0]["DBClusterParameterGroupStatus"] == "pending-reboot",
          what="pending-reboot")
    m = _conn(src, "am-src")
    assert _q(m, "SELECT @@global.binlog_format")[0][0] == "MIXED"
    m.close()
    src.cli("rds", "reboot-db-instance", "--db-instance-identifier", "am-src-0")
    _wait(lambda: src.cli("rds", "describe-db-instances", "--db-instance-identifier", "am-src-0")
          ["DBInstances"][0]["DBInstanceStatus"] == "available", what="rebooted")
    m = _wait(lambda: _try_conn(src, "am-src"), what="writer back")
    assert _q(m, "SELECT @@global.binlog_format")[0][0] == "ROW"
    m.close()


def _try_conn(sim, ident):
    try:
        return _conn(sim, ident)
    except pymysql.err.MySQLError:
        return None


def test_snapshot_restore_with_key_reports_the_exact_binlog_position(src):
    """Under live single-row writes: the restored cluster holds exactly the
    source's rows up to the reported position (the rows in the source's
    binary log before it, and none after)."""
    key = src.cli("kms", "create-key")["KeyMetadata"]["Arn"]
    m = _conn(src, "am-src")
    _q(m, "CREATE TABLE app.w (seq BIGINT NOT NULL) ENGINE=InnoDB")
    stop = threading.Event()
    acked = []

    def writer():
        c = _conn(src, "am-src")
        n = 0
        while not stop.is_set():
            n += 1
            _q(c, "INSERT INTO app.w VALUES (%s)", (n,))
            acked.append(n)
        c.close()
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    _wait(lambda: len(acked) >= 50, what="writes before the snapshot")
    before = len(acked)
    src.cli("rds", "create-db-cluster-snapshot", "--db-cluster-identifier", "am-src",
            "--db-cluster-snapshot-identifier", "am-snap")
    _wait(lambda: src.cli("rds", "describe-db-cluster-snapshots", "--db-cluster-snapshot-identifier", "am-snap")
          ["DBClusterSnapshots"][0]["Status"] == "available", what="snapshot")
    stop.set()
    t.join()
    # an unencrypted cluster snapshot cannot be encrypted by copying
    rc, _, err = src.cli_raw("rds", "copy-db-cluster-snapshot", "--source-db-cluster-snapshot-identifier", "am-snap",
                             "--target-db-cluster-snapshot-identifier", "am-snap-enc", "--kms-key-id", key)
    assert rc != 0 and "RestoreDBClusterFromSnapshot" in err
    c = src.cli("rds", "restore-db-cluster-from-snapshot", "--db-cluster-identifier", "am-dst", "--snapshot-identifier",
                "am-snap", "--engine", "aurora-mysql", "--kms-key-id", key)["DBCluster"]
    assert c["Engine"] == "aurora-mysql"
    _wait(lambda: _cluster(src, "am-dst")["Status"] == "available", what="restored cluster")
    _member(src, "am-dst", "am-dst-0", 1)
    c = _cluster(src, "am-dst")
    assert c["StorageEncrypted"] and c["KmsKeyId"] == key

    def event():
        evs = src.cli("rds", "describe-events", "--source-type", "db-cluster", "--source-identifier", "am-dst",
                      "--duration", "60")["Events"]
        return [e["Message"] for e in evs if e["Message"].startswith("Binlog position from crash recovery is ")]
    msgs = _wait(event, what="the crash recovery event")
    assert len(msgs) == 1, msgs
    mt = re.fullmatch(r"Binlog position from crash recovery is (mysql-bin-changelog\.\d{6}) (\d+)", msgs[0])
    assert mt, msgs
    file, pos = mt.group(1), int(mt.group(2))
    # the source's rows in its binary log up to that position = the restored rows
    rows = _q(m, "SHOW BINLOG EVENTS IN %s", (file,))
    assert any(int(r[4]) == pos for r in rows), f"{pos} is no event boundary in {file}"
    d = _conn(src, "am-dst")
    restored = sorted(x for (x,) in _q(d, "SELECT seq FROM app.w"))
    assert restored == list(range(1, len(restored) + 1)) and len(restored) >= before, (before, restored[-5:])
    total = _q(m, "SELECT COUNT(*) FROM app.w")[0][0]
    assert total > len(restored), "the writer went on after the snapshot"
    # replicating from the source at that position gives every row exactly once
    _q(m, "CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-Passw0rd'")
    _q(m, "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'")
    _q(d, "CALL mysql.rds_set_external_master('127.0.0.1', %s, 'repl', 'repl-Passw0rd', %s, %s, 0)",
       (_cluster(src, "am-src")["Port"], file, pos))
    _q(d, "CALL mysql.rds_start_replication")
    got = _wait(lambda: (lambda n: n if n == total else None)(_q(d, "SELECT COUNT(*) FROM app.w")[0][0]),
                what="replicated rows")
    assert got == total
    assert sorted(x for (x,) in _q(d, "SELECT seq FROM app.w")) == list(range(1, total + 1))
    _q(d, "CALL mysql.rds_stop_replication")
    _q(d, "CALL mysql.rds_reset_external_master")
    d.close()
    m.close()


def test_cluster_rename_moves_both_endpoints(src):
    port = _cluster(src, "am-src")["Port"]
    src.cli("rds", "modify-db-cluster", "--db-cluster-identifier", "am-src", "--new-db-cluster-identifier", "am-old",
            "--apply-immediately")
    _wait(lambda: _cluster(src, "am-old")["Status"] == "available", what="renamed")
    src.cli("rds", "modify-db-cluster", "--db-cluster-identifier", "am-dst", "--new-db-cluster-identifier", "am-src",
            "--apply-immediately")
    _wait(lambda: _cluster(src, "am-src")["Status"] == "available" and _cluster(src, "am-src")["StorageEncrypted"],
          what="the restored cluster under the name")
    assert _cluster(src, "am-src")["Port"] == port
    m = _wait(lambda: _try_conn(src, "am-src"), what="the endpoint")
    assert _q(m, "SELECT COUNT(*) FROM app.w")[0][0] > 0
    m.close()
