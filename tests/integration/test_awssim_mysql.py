"""RDS for MySQL / MariaDB instances in the emulator, driven by awscli: a real
MariaDB 10.11 server per instance, TLS with the emulated RDS CA, a master
user without SUPER who replicates and kills through RDS's mysql.rds_*
procedures; snapshot -> copy with a key -> restore keeps the rows (InnoDB
crash recovery); binlog_format is static (pending-reboot until a reboot);
replication between two instances; a read replica whose executed position
is read after mysql.rds_stop_replication (AWS's documented method for a
consistent position). One emulator for the module."""
import time

import pymysql
import pytest

PW = "my-Passw0rd-secret"


def _conn(sim, ident, user="admin", password=PW, db=None):
    i = sim.instance(ident)
    return pymysql.connect(host=i["Endpoint"]["Address"], port=i["Endpoint"]["Port"], user=user, password=password,
                           database=db, autocommit=True, connect_timeout=10,
                           ssl_ca=sim.info["rds_ca_bundle"], ssl_verify_cert=True, ssl_verify_identity=True)


def _q(c, sql, args=None):
    with c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _dict(c, sql):
    with c.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(sql)
        return cur.fetchall()


def _create(sim, ident, engine="mysql", *extra):
    sim.cli("rds", "create-db-instance", "--db-instance-identifier", ident, "--db-instance-class", "db.t3.micro",
            "--engine", engine, "--master-username", "admin", "--master-user-password", PW,
            "--allocated-storage", "20", *extra)
    return sim.wait_instance(ident, timeout=90)


def _wait(pred, timeout=60, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def src(awssim_module):
    sim = awssim_module
    i = _create(sim, "my-src")
    assert i["Engine"] == "mysql" and i["DBParameterGroups"][0]["DBParameterGroupName"] == "default.mysql8.0"
    c = _conn(sim, "my-src")
    _q(c, "CREATE DATABASE app")
    _q(c, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
    _q(c, "INSERT INTO app.t VALUES (1,'a'),(2,'b'),(3,'c')")
    c.close()
    return sim


def test_master_user_over_tls_has_no_super_but_the_rds_procedures(src):
    c = _conn(src, "my-src")
    cipher = _q(c, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    assert cipher and cipher[0][1], "connection is not TLS"
    grants = " ".join(r[0] for r in _q(c, "SHOW GRANTS"))
    assert "SUPER" not in grants and "ALL PRIVILEGES" not in grants
    assert "REPLICATION SLAVE" in grants and "CREATE USER" in grants
    with pytest.raises(pymysql.err.MySQLError):
        _q(c, "SET GLOBAL binlog_expire_logs_seconds = 1")
    with pytest.raises(pymysql.err.MySQLError):
        _q(c, "STOP SLAVE")
    _q(c, "CALL mysql.rds_set_configuration('binlog retention hours', 24)")
    conf = {r["name"]: r["value"] for r in _dict(c, "CALL mysql.rds_show_configuration")}
    assert conf["binlog retention hours"] == "24"
    assert _q(c, "SELECT @@global.binlog_expire_logs_seconds")[0][0] == 24 * 3600
    assert _q(c, "SELECT @@global.log_bin")[0][0] == 1
    # rds_kill ends another session of the master user
    other = _conn(src, "my-src")
    tid = _q(other, "SELECT CONNECTION_ID()")[0][0]
    _q(c, "CALL mysql.rds_kill(%s)", (tid,))
    with pytest.raises(pymysql.err.MySQLError):
        _q(other, "SELECT 1")
    # but not rdsadmin's
    with pytest.raises(pymysql.err.MySQLError):
        _q(c, "CALL mysql.rds_kill_query(%s)", (10 ** 9,))
    c.close()


def test_server_ids_unique(src):
    _create(src, "my-other", "mariadb")
    a, b = _conn(src, "my-src"), _conn(src, "my-other")
    assert _q(a, "SELECT @@server_id")[0][0] != _q(b, "SELECT @@server_id")[0][0]
    assert src.instance("my-other")["Engine"] == "mariadb"


def test_snapshot_copy_with_key_restore_has_rows(src):
    key = src.cli("kms", "create-key")["KeyMetadata"]["Arn"]
    src.cli("rds", "create-db-snapshot", "--db-instance-identifier", "my-src", "--db-snapshot-identifier", "my-s1")
    src.wait_snapshot("my-s1")
    s = src.cli("rds", "copy-db-snapshot", "--source-db-snapshot-identifier", "my-s1",
                "--target-db-snapshot-identifier", "my-s1-enc", "--kms-key-id", key)["DBSnapshot"]
    assert s["Engine"] == "mysql"
    s = src.wait_snapshot("my-s1-enc")
    assert s["Encrypted"] and s["KmsKeyId"] == key
    src.cli("rds", "restore-db-instance-from-db-snapshot", "--db-instance-identifier", "my-restored",
            "--db-snapshot-identifier", "my-s1-enc")
    i = src.wait_instance("my-restored", timeout=90)
    assert i["Engine"] == "mysql" and i["StorageEncrypted"]
    c = _conn(src, "my-restored")
    assert _q(c, "SELECT id, v FROM app.t ORDER BY id") == ((1, "a"), (2, "b"), (3, "c"))
    # crash recovery ran on the copy
    files = src.cli("rds", "describe-db-log-files", "--db-instance-identifier", "my-restored")["DescribeDBLogFiles"]
    assert [f["LogFileName"] for f in files] == ["error/mysql-error.log"]
    log = src.cli("rds", "download-db-log-file-portion", "--db-instance-identifier", "my-restored",
                  "--log-file-name", "error/mysql-error.log")["LogFileData"]
    assert "InnoDB: Starting crash recovery" in log


def test_binlog_format_is_static(src):
    src.cli("rds", "create-db-parameter-group", "--db-parameter-group-name", "my-row",
            "--db-parameter-group-family", "mysql8.0", "--description", "row")
    src.cli("rds", "modify-db-parameter-group", "--db-parameter-group-name", "my-row", "--parameters",
            "ParameterName=binlog_format,ParameterValue=ROW,ApplyMethod=pending-reboot")
    src.cli("rds", "modify-db-instance", "--db-instance-identifier", "my-src", "--db-parameter-group-name", "my-row",
            "--apply-immediately")
    i = src.wait_instance("my-src")
    assert i["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    c = _conn(src, "my-src")
    assert _q(c, "SELECT @@global.binlog_format")[0][0] == "MIXED"
    c.close()
    src.cli("rds", "reboot-db-instance", "--db-instance-identifier", "my-src")
    i = src.wait_instance("my-src")
    assert i["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"
    c = _conn(src, "my-src")
    assert _q(c, "SELECT @@global.binlog_format")[0][0] == "ROW"
    # the retention set before the reboot holds
    assert _q(c, "SELECT @@global.binlog_expire_logs_seconds")[0][0] == 24 * 3600


def test_replication_between_instances_through_rds_procedures(src):
    _create(src, "my-target")
    s = _conn(src, "my-src")
    _q(s, "CREATE USER 'repl'@'%' IDENTIFIED BY 'Repl-passw0rd'")
    _q(s, "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'")
    _q(s, "FLUSH TABLES WITH READ LOCK")
    f, pos = _q(s, "SHOW MASTER STATUS")[0][:2]
    t = _conn(src, "my-target")
    _q(t, "CREATE DATABASE app")
    _q(t, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
    for row in _q(s, "SELECT id, v FROM app.t"):
        _q(t, "INSERT INTO app.t VALUES (%s, %s)", row)
    _q(s, "UNLOCK TABLES")
    ep = src.instance("my-src")["Endpoint"]
    _q(t, "CALL mysql.rds_set_external_master(%s, %s, 'repl', 'Repl-passw0rd', %s, %s, 1)",
       (ep["Address"], ep["Port"], f, pos))
    _q(t, "CALL mysql.rds_start_replication")
    _q(s, "INSERT INTO app.t VALUES (10, 'moved')")
    _wait(lambda: _q(t, "SELECT v FROM app.t WHERE id=10") == (("moved",),), what="row replicated")
    st = _dict(t, "SHOW REPLICA STATUS")[0]
    assert st["Slave_IO_Running"] == "Yes" and st["Master_SSL_Allowed"] == "Yes"
    _q(t, "CALL mysql.rds_stop_replication")
    _q(t, "CALL mysql.rds_reset_external_master")
    assert _dict(t, "SHOW REPLICA STATUS") == ()


def test_read_replica_position_after_stop(src):
    src.cli("rds", "create-db-instance-read-replica", "--db-instance-identifier", "my-rr",
            "--source-db-instance-identifier", "my-src")
    i = src.wait_instance("my-rr", timeout=90)
    assert i["ReadReplicaSourceDBInstanceIdentifier"] == "my-src" and i["Engine"] == "mysql"
    s = _conn(src, "my-src")
    _q(s, "INSERT INTO app.t VALUES (20, 'to-replica')")
    r = _conn(src, "my-rr")
    _wait(lambda: _q(r, "SELECT v FROM app.t WHERE id=20") == (("to-replica",),), what="row on the replica")
    with pytest.raises(pymysql.err.MySQLError):
        _q(r, "INSERT INTO app.t VALUES (21, 'x')")   # read_only, no SUPER
    _q(r, "CALL mysql.rds_stop_replication")
    st = _dict(r, "SHOW REPLICA STATUS")[0]
    _q(s, "INSERT INTO app.t VALUES (22, 'after-stop')")
    f, pos = _q(s, "SHOW MASTER STATUS")[0][:2]
    assert st["Slave_SQL_Running"] == "No"
    assert st["Relay_Master_Log_File"] and int(st["Exec_Master_Log_Pos"]) > 4
    assert (st["Relay_Master_Log_File"], int(st["Exec_Master_Log_Pos"])) < (f, int(pos))
    assert _q(r, "SELECT COUNT(*) FROM app.t WHERE id=22")[0][0] == 0
    src.cli("rds", "create-db-snapshot", "--db-instance-identifier", "my-rr", "--db-snapshot-identifier", "my-rr-s")
    src.wait_snapshot("my-rr-s")
    src.cli("rds", "promote-read-replica", "--db-instance-identifier", "my-rr")
    _wait(lambda: "ReadReplicaSourceDBInstanceIdentifier" not in src.instance("my-rr")
          and src.instance("my-rr")["DBInstanceStatus"] == "available", what="promoted")
    r = _conn(src, "my-rr")
    _q(r, "INSERT INTO app.t VALUES (23, 'writable')")


def test_replica_snapshot_restores_exactly_the_stopped_position(src):
    """The snapshot of the stopped replica holds every source row up to the
    position SHOW REPLICA STATUS gave, and none after it."""
    src.cli("rds", "restore-db-instance-from-db-snapshot", "--db-instance-identifier", "my-rr-restored",
            "--db-snapshot-identifier", "my-rr-s")
    src.wait_instance("my-rr-restored", timeout=90)
    c = _conn(src, "my-rr-restored")
    ids = [r[0] for r in _q(c, "SELECT id FROM app.t ORDER BY id")]
    assert 20 in ids and 22 not in ids and 23 not in ids
    assert _dict(c, "SHOW REPLICA STATUS") == ()   # a restore does not replicate


def test_rename_moves_the_endpoint(src):
    src.cli("rds", "modify-db-instance", "--db-instance-identifier", "my-rr-restored",
            "--new-db-instance-identifier", "my-renamed", "--apply-immediately")
    src.wait_instance("my-renamed")
    c = _conn(src, "my-renamed")
    assert 20 in [r[0] for r in _q(c, "SELECT id FROM app.t")]
