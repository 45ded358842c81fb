"""The emulator's PostgreSQL instances follow RDS for PostgreSQL's permission
model (docs/emulator.md, "Permission model"): the master user is not a
superuser but a member of rds_superuser; the only superuser is rdsadmin,
which cannot log in over TCP; what RDS lets rds_superuser do that stock
PostgreSQL 15 reserves to superusers works (FOR ALL TABLES publications,
subscriptions, event triggers, replication origins, rds_replication), and
what RDS refuses is refused. One emulator and one instance for the module."""
import pytest

from fixtures_awssim import psql

PW = "perm-Passw0rd-1"
MASTER = "app"


@pytest.fixture(scope="module")
def inst(awssim_module):
    sim = awssim_module
    rds = sim.client("rds")
    rds.create_db_parameter_group(DBParameterGroupName="perm-logical", DBParameterGroupFamily="postgres15",
                                  Description="logical replication on")
    rds.modify_db_parameter_group(DBParameterGroupName="perm-logical", Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])
    rds.create_db_instance(DBInstanceIdentifier="perm-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername=MASTER, MasterUserPassword=PW, DBName="app",
                           StorageEncrypted=False, BackupRetentionPeriod=0, DBParameterGroupName="perm-logical")
    i = sim.wait_instance("perm-db", rds=rds)
    port = i["Endpoint"]["Port"]
    q(port, "CREATE TABLE t(id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
    return port


def q(port, sql, user=MASTER, password=PW):
    return psql(port, user, password, sql, db="app")


def refused(port, sql, *needles, user=MASTER, password=PW):
    rc, out, err = psql(port, user, password, sql, db="app", check=False)
    assert rc != 0, f"{sql!r} was allowed: {out}"
    assert any(n in err for n in needles), f"{sql!r}: unexpected error {err!r}"
    return err


# ------------------------------------------------------------------ roles
def test_master_is_rds_superuser_member_not_superuser(inst):
    row = q(inst, f"SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                  f"FROM pg_roles WHERE rolname = '{MASTER}'")
    assert row == "f|t|t|t|f"
    assert q(inst, f"SELECT pg_has_role('{MASTER}', 'rds_superuser', 'member')") == "t"
    assert q(inst, "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolsuper") == "rdsadmin"
    granted = q(inst, "SELECT string_agg(r.rolname || ':' || m.admin_option, ',' ORDER BY r.rolname) "
                      "FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                      "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'rds_superuser'")
    for role in ("pg_monitor", "pg_signal_backend", "rds_password", "rds_replication"):
        assert f"{role}:true" in granted.split(","), granted
    assert "pg_read_server_files" not in granted and "pg_execute_server_program" not in granted


def test_rdsadmin_cannot_log_in_over_tcp(inst):
    for pw in (PW, ""):
        rc, _, err = psql(inst, "rdsadmin", pw, "SELECT 1", db="postgres", check=False)
        assert rc != 0
        assert "rejects connection" in err, err
    rc, _, err = psql(inst, MASTER, PW, "SELECT 1", db="rdsadmin", check=False)
    assert rc != 0 and "rejects connection" in err, err
    assert q(inst, "SELECT string_agg(datname || ':' || datdba::regrole, ',' ORDER BY datname) FROM pg_database "
                   "WHERE datname IN ('postgres', 'template1', 'rdsadmin')") == \
        f"postgres:{MASTER},rdsadmin:rdsadmin,template1:{MASTER}"


def test_rdsadmin_cannot_be_altered(inst):
    refused(inst, "ALTER ROLE rdsadmin PASSWORD 'x-x-x-x'", "must be superuser", "permission denied")
    refused(inst, "ALTER ROLE rdsadmin NOSUPERUSER", "must be superuser", "permission denied")


def test_rds_replication_gives_and_takes_replication(inst):
    q(inst, "CREATE ROLE perm_sub LOGIN PASSWORD 'sub-Passw0rd-1'")
    assert q(inst, "SELECT rolreplication FROM pg_roles WHERE rolname = 'perm_sub'") == "f"
    q(inst, "GRANT rds_replication TO perm_sub")
    assert q(inst, "SELECT rolreplication FROM pg_roles WHERE rolname = 'perm_sub'") == "t"
    # as on RDS, rds_superuser still manages such roles (PostgreSQL alone wants a superuser)
    q(inst, "ALTER ROLE perm_sub NOLOGIN")
    q(inst, "ALTER ROLE perm_sub LOGIN PASSWORD 'sub-Passw0rd-2'")
    assert q(inst, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'perm_sub'") == "t"
    q(inst, f"ALTER ROLE {MASTER} PASSWORD '{PW}'")
    refused(inst, "ALTER ROLE perm_sub BYPASSRLS", "must be superuser")
    refused(inst, "ALTER ROLE perm_sub NOREPLICATION", "must be superuser")
    q(inst, "REVOKE rds_replication FROM perm_sub")
    assert q(inst, "SELECT rolreplication FROM pg_roles WHERE rolname = 'perm_sub'") == "f"
    q(inst, "CREATE ROLE perm_admin LOGIN PASSWORD 'adm-Passw0rd-1' IN ROLE rds_superuser")
    assert q(inst, "SELECT rolreplication FROM pg_roles WHERE rolname = 'perm_admin'") == "t"
    q(inst, "DROP ROLE perm_sub; DROP ROLE perm_admin")


# ------------------------------------------------------------------ allowed
def test_publication_for_all_tables(inst):
    q(inst, "CREATE PUBLICATION perm_pub FOR ALL TABLES WITH (publish_via_partition_root = false)")
    assert q(inst, "SELECT pubowner::regrole, puballtables FROM pg_publication WHERE pubname = 'perm_pub'") \
        == f"{MASTER}|t"
    q(inst, "ALTER PUBLICATION perm_pub SET (publish = 'insert, update')")
    q(inst, "DROP PUBLICATION perm_pub")
    assert q(inst, "SELECT count(*) FROM pg_publication") == "0"


def test_subscription_and_replication_origin(inst):
    conn = f"host=127.0.0.1 port={inst} dbname=app user={MASTER} password={PW}"
    q(inst, f"CREATE SUBSCRIPTION perm_sub CONNECTION '{conn}' PUBLICATION nothing "
            "WITH (connect = false, slot_name = 'perm_slot')")
    assert q(inst, "SELECT subowner::regrole, subenabled FROM pg_subscription WHERE subname = 'perm_sub'") \
        == f"{MASTER}|f"
    q(inst, "SELECT pg_replication_origin_advance('pg_' || oid, '0/1000'::pg_lsn) "
            "FROM pg_subscription WHERE subname = 'perm_sub'")
    assert q(inst, "SELECT remote_lsn FROM pg_replication_origin_status s JOIN pg_subscription p "
                   "ON s.external_id = 'pg_' || p.oid WHERE p.subname = 'perm_sub'") == "0/1000"
    q(inst, "ALTER SUBSCRIPTION perm_sub SET (slot_name = NONE)")
    q(inst, "DROP SUBSCRIPTION perm_sub")
    q(inst, "SELECT pg_replication_origin_create('perm_origin')")
    assert q(inst, "SELECT pg_replication_origin_oid('perm_origin') IS NOT NULL") == "t"
    q(inst, "SELECT pg_replication_origin_drop('perm_origin')")


def test_logical_slot_as_master(inst):
    q(inst, "SELECT pg_create_logical_replication_slot('perm_slot2', 'pgoutput')")
    q(inst, "SELECT pg_drop_replication_slot('perm_slot2')")


def test_event_trigger(inst):
    q(inst, "CREATE FUNCTION perm_evt() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN NULL; END$$")
    q(inst, "CREATE EVENT TRIGGER perm_evt ON ddl_command_end EXECUTE FUNCTION perm_evt()")
    assert q(inst, "SELECT evtowner::regrole FROM pg_event_trigger WHERE evtname = 'perm_evt'") == MASTER
    q(inst, "ALTER EVENT TRIGGER perm_evt DISABLE")
    q(inst, "DROP EVENT TRIGGER perm_evt")
    q(inst, "DROP FUNCTION perm_evt()")


# ------------------------------------------------------------------ refused
def test_refused_like_rds(inst):
    refused(inst, "ALTER SYSTEM SET work_mem = '8MB'", "ALTER SYSTEM")
    refused(inst, "COPY (SELECT 1) TO PROGRAM 'true'", "PROGRAM", "superuser", "pg_execute_server_program")
    refused(inst, "COPY t FROM '/etc/hostname'", "server file", "superuser", "pg_read_server_files")
    refused(inst, "COPY t TO '/tmp/perm-out'", "server file", "superuser", "pg_write_server_files")
    refused(inst, "SELECT pg_read_file('PG_VERSION')", "permission denied")
    refused(inst, "SELECT lo_import('/etc/hostname')", "permission denied", "superuser")
    for role in ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program"):
        refused(inst, f"GRANT {role} TO {MASTER}", "not allowed on RDS", "permission denied")
        refused(inst, f"CREATE ROLE perm_x IN ROLE {role}", "not allowed on RDS", "permission denied")
    refused(inst, "CREATE ROLE perm_super SUPERUSER", "superuser")
    refused(inst, f"ALTER ROLE {MASTER} SUPERUSER", "superuser")
    refused(inst, "GRANT rdsadmin TO app", "superuser", "permission denied", "not allowed on RDS")
    refused(inst, "CREATE FUNCTION perm_c() RETURNS int AS 'libc.so.6', 'getpid' LANGUAGE c",
            "permission denied for language c")
    refused(inst, "CREATE LANGUAGE plperlu", "superuser", "permission denied", "not allowed on RDS",
            "extension", "not available", "could not open")
    assert q(inst, "SELECT count(*) FROM pg_roles WHERE rolname IN ('perm_super', 'perm_x')") == "0"


def test_rds_settings_only_through_parameter_groups(inst):
    refused(inst, "SET rds.logical_replication = 0", "rds.", "parameter group")
    refused(inst, "SET rds.anything = 'x'", "rds.", "parameter group")
    refused(inst, "SELECT set_config('rds.anything', 'x', false)", "rds")
    refused(inst, "ALTER DATABASE app SET rds.anything = 'x'", "rds.", "parameter group")
    refused(inst, f"ALTER ROLE {MASTER} SET rds.anything = 'x'", "rds.", "parameter group")


def test_subscription_without_password_refused(inst):
    refused(inst, f"CREATE SUBSCRIPTION perm_nopw CONNECTION 'host=127.0.0.1 port={inst} dbname=app "
                  f"user={MASTER}' PUBLICATION p WITH (connect = false)", "password")
    refused(inst, "CREATE SUBSCRIPTION perm_sock CONNECTION 'dbname=app user=rdsadmin password=x' "
                  "PUBLICATION p WITH (connect = false)", "host", "password")


def test_rds_extensions_and_session_replication_role(inst):
    q(inst, "CREATE EXTENSION pg_prewarm")
    assert q(inst, "SELECT extowner::regrole FROM pg_extension WHERE extname = 'pg_prewarm'") == MASTER
    q(inst, "DROP EXTENSION pg_prewarm")
    assert q(inst, "SET session_replication_role = replica; SHOW session_replication_role") == "replica"
    refused(inst, "CREATE EXTENSION file_fdw", "permission denied")
    refused(inst, "SET log_statement = 'none'", "permission denied")
