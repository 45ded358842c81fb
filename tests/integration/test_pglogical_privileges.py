"""Roles and privileges changed on the source after the snapshot reach the
target at the cutover (issue 11, finding 9).

Logical replication carries rows only: GRANT/REVOKE/ALTER DEFAULT PRIVILEGES
(ignored by the DDL guard) and everything about roles (instance-wide) that
changed between the snapshot and the cutover would be lost on the restored
target. `sync-privileges` (worker/strategies/pglogical/db/pgl_db_privs.c) reads both sides' catalogs and
converges the target. This test compares the catalogs of both sides with its
own queries (not the product's), before (they differ) and after (they are
equal), runs it again (nothing left to do), and checks what must never be
touched (fleetcrypt's roles, RDS-like roles) and what needs the operator (a
new login role without password, a SUPERUSER role a non-superuser cannot
reproduce). Run once as the local master user and once as a non-superuser
role with CREATEROLE (on RDS the master user is not a superuser)."""
import pytest

from fixtures_pg import *  # noqa: F401,F403
from fixtures_pg import MASTER, SUPER, conn_a, conn_b, fc_passwords, psql, setup_master, tool

TAG = "prv"
OPS = "ops"  # a non-superuser operator: CREATEROLE, member of the master user (owner of the objects)
WEAK = "weak"  # no CREATEROLE, no ownership: may change nothing

# roles the comparisons look at: everything but PostgreSQL's, fleetcrypt's,
# and new_super (reported, not reproducible by a non-superuser)
ROLE_FILTER = ("rolname NOT LIKE 'pg\\_%' AND rolname NOT LIKE 'fc\\_%' AND rolname NOT LIKE 'rds%' "
               "AND rolname NOT IN ('new_super', 'gone_elsewhere')")

CATALOG = {
    "roles": f"""SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication,
                        rolbypassrls, rolconnlimit, coalesce(rolvaliduntil::text, '')
                   FROM pg_roles WHERE {ROLE_FILTER} ORDER BY 1""",
    "members": """SELECT g.rolname, m.rolname, am.admin_option
                    FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid
                    JOIN pg_roles m ON m.oid = am.member
                   WHERE m.rolname NOT LIKE 'fc\\_%' ORDER BY 1, 2, 3""",
    "settings": """SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), s.setconfig::text
                     FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
                     LEFT JOIN pg_database d ON d.oid = s.setdatabase ORDER BY 1, 2""",
    "relacl": """SELECT c.relname, e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                        aclexplode(coalesce(c.relacl, acldefault(
                            CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) e
                  WHERE n.nspname IN ('public', 's') AND c.relkind IN ('r', 'S', 'v')
                  ORDER BY 1, 2, 3, 4""",
    "attacl": """SELECT c.relname, a.attname, e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(a.attacl) e
                  WHERE n.nspname IN ('public', 's') ORDER BY 1, 2, 3, 4, 5""",
    "nspacl": """SELECT n.nspname, e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) e
                  WHERE n.nspname IN ('public', 's') ORDER BY 1, 2, 3, 4""",
    "proacl": """SELECT p.proname, e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                        aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) e
                  WHERE n.nspname IN ('public', 's') ORDER BY 1, 2, 3, 4""",
    "datacl": """SELECT d.datname, e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) e
                  WHERE d.datname = 'app' ORDER BY 1, 2, 3, 4""",
    "lomacl": """SELECT l.oid, e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_largeobject_metadata l,
                        aclexplode(coalesce(l.lomacl, acldefault('L', l.lomowner))) e ORDER BY 1, 2, 3, 4""",
    "defacl": """SELECT d.defaclrole::regrole, coalesce(n.nspname, ''), d.defaclobjtype,
                        e.grantee::regrole, e.privilege_type, e.is_grantable
                   FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                        aclexplode(d.defaclacl) e ORDER BY 1, 2, 3, 4, 5, 6""",
}


def catalogs(srv):
    return {k: psql(srv.port, q, db="app") for k, q in CATALOG.items()}


def differing(src, tgt):
    a, b = catalogs(src), catalogs(tgt)
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def protected_state(srv):
    """What must never change on the target: fleetcrypt's roles, RDS-like ones."""
    return psql(srv.port, """
        SELECT rolname, rolcanlogin, rolsuper, rolconnlimit, coalesce(rolconfig::text, '')
          FROM pg_roles WHERE rolname LIKE 'fc\\_%' OR rolname LIKE 'rds%' ORDER BY 1""")


def admin_src(src):
    return ["--host", "127.0.0.1", "--port", src.port, "--db", "app", "--user", f"fc_{TAG}_admin",
            "--password-env", "FC_ADMIN_PW"]


def sync(src, tgt, dst_user, pw, db="app", phase="all", also=None):
    """Counts as a dict; the tool's log lines under "_log". also: a second
    database synced with db at once (the cutover's form)."""
    args = admin_src(src)
    args[args.index("--db") + 1] = db
    more = ["--also-db", also] if also else []
    _, kv, _, log = tool("sync-privileges", *args, "--host2", "127.0.0.1", "--port2", tgt.port,
                         "--db2", db, "--user2", dst_user, "--tag", TAG, "--phase", phase, *more, env=pw)
    kv["_log"] = log
    return kv


COUNTS = ("roles_created", "roles_altered", "roles_dropped", "memberships", "settings",
          "object_acls", "default_acls")


def scenario(servers):
    """A source with application roles and grants, its snapshot restored as the
    target, then roles and privileges changed on the source (every catalog)."""
    src = servers.new("src")
    setup_master(src)
    psql(src.port, f"""
        CREATE ROLE app_rw LOGIN PASSWORD 'x';
        CREATE ROLE app_ro LOGIN;
        CREATE ROLE some_group NOLOGIN;
        CREATE ROLE app_owner NOLOGIN;
        CREATE ROLE doomed NOLOGIN;
        CREATE ROLE gone_elsewhere NOLOGIN;
        GRANT CONNECT ON DATABASE postgres TO gone_elsewhere;
        DO $$ BEGIN CREATE ROLE rdstopmgr NOLOGIN;  -- RDS-like, never touched (the emulator may have it)
              EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        CREATE ROLE {OPS} LOGIN CREATEROLE;
        GRANT {MASTER} TO {OPS};
        CREATE ROLE {WEAK} LOGIN;""")
    psql(src.port, """
        CREATE TABLE t(id bigserial PRIMARY KEY, v text, note text);
        CREATE VIEW tv AS SELECT id, v FROM t;
        CREATE SCHEMA s;
        CREATE TABLE s.u(id int PRIMARY KEY);
        CREATE FUNCTION f(a int, b text) RETURNS int LANGUAGE sql AS 'SELECT 1';
        CREATE PROCEDURE "Odd Proc"(x int) LANGUAGE sql AS 'SELECT 1';
        SELECT lo_create(4242);
        GRANT SELECT, INSERT, UPDATE ON t TO app_rw;
        GRANT USAGE ON SEQUENCE t_id_seq TO app_rw;
        GRANT SELECT ON t, tv TO app_ro;
        -- most objects owned by an application role: the target user acts
        -- with its rights (as the superuser here, as a member, or borrowing
        -- the membership with CREATEROLE)
        ALTER TABLE t OWNER TO app_owner;
        ALTER TABLE s.u OWNER TO app_owner;
        ALTER SCHEMA s OWNER TO app_owner;
        ALTER FUNCTION f(int, text) OWNER TO app_owner;""", db="app", user=MASTER)
    pw = fc_passwords(TAG)
    tool("create-roles", *conn_a(src, "app", user=MASTER), "--tag", TAG, "--admin-password-env",
         "FC_ADMIN_PW", "--sub-password-env", "FC_SUB_PW", env=pw)
    tool("prepare-source", *conn_a(src, "app", user=MASTER), "--tag", TAG)

    tgt = servers.restore(servers.freeze_copy(src, "snap"), "tgt")
    protected_before = protected_state(tgt)

    # after the snapshot, on the source: roles ...
    psql(src.port, f"""
        CREATE ROLE new_reader LOGIN;
        CREATE ROLE new_super SUPERUSER NOLOGIN;
        CREATE ROLE rds_newthing NOLOGIN;
        ALTER ROLE rdstopmgr CONNECTION LIMIT 3;
        ALTER ROLE fc_{TAG}_sub CONNECTION LIMIT 5;
        GRANT some_group TO app_rw;
        GRANT some_group TO app_ro WITH ADMIN OPTION;
        ALTER ROLE app_rw CONNECTION LIMIT 7;
        ALTER ROLE app_rw SET work_mem = '8MB';
        ALTER ROLE app_ro IN DATABASE app SET search_path = s, "$user", public;
        ALTER ROLE app_ro CREATEDB VALID UNTIL '2031-01-01 00:00:00+00';
        DROP ROLE doomed;
        REVOKE CONNECT ON DATABASE postgres FROM gone_elsewhere;
        DROP ROLE gone_elsewhere;""")
    # ... and privileges (as the superuser: grants on the owners' behalf)
    psql(src.port, f"""
        GRANT SELECT ON t TO new_reader;
        REVOKE INSERT ON t FROM app_rw;
        GRANT SELECT ON t TO app_rw WITH GRANT OPTION;
        GRANT UPDATE (note) ON t TO app_ro;
        GRANT USAGE ON SCHEMA s TO new_reader;
        GRANT SELECT ON s.u TO some_group;
        REVOKE EXECUTE ON FUNCTION f(int, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION f(int, text) TO app_ro;
        GRANT EXECUTE ON PROCEDURE "Odd Proc"(int) TO app_rw;
        GRANT SELECT ON SEQUENCE t_id_seq TO new_reader;
        GRANT SELECT ON LARGE OBJECT 4242 TO app_ro;
        REVOKE CONNECT, TEMPORARY ON DATABASE app FROM PUBLIC;
        GRANT CONNECT ON DATABASE app TO app_rw, app_ro, new_reader;
        ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public GRANT SELECT ON TABLES TO new_reader;
        ALTER DEFAULT PRIVILEGES FOR ROLE {MASTER} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;""", db="app")

    return src, tgt, pw, protected_before


@pytest.mark.parametrize("dst_user", [MASTER, OPS])
def test_privileges_changed_after_snapshot_reach_the_target(servers, dst_user):
    src, tgt, pw, protected_before = scenario(servers)
    before = differing(src, tgt)
    assert set(before) >= {"roles", "members", "settings", "relacl", "attacl", "nspacl", "proacl",
                           "datacl", "lomacl", "defacl"}, f"the scenario must change every catalog: {before.keys()}"

    # the cutover: the source blocked (every login role NOLOGIN, recorded)
    blk = tool("cutover-block", *admin_src(src), "--tag", TAG, "--protect", SUPER, env=pw)[1]
    assert "new_reader" in blk["roles"].split(","), blk

    out = sync(src, tgt, dst_user, pw)
    assert int(out["roles_created"]) == 2, out  # new_reader, new_super (without SUPERUSER)
    assert int(out["roles_dropped"]) == 1, out
    assert int(out["roles_altered"]) == 2, out  # app_rw, app_ro
    assert int(out["memberships"]) == 2, out
    assert int(out["settings"]) == 2, out
    # t, t.note, t_id_seq, s, s.u, f(), "Odd Proc"(), database app, large object 4242
    assert int(out["object_acls"]) == 9, out
    assert int(out["default_acls"]) == 2, out
    assert out["refused"] == "0" and out["unconverged"] == "0", out
    assert out["no_password"].split(",") == ["new_reader"], out
    assert out["not_reproduced"].split(",") == ["new_super"], out
    # its grant in a database this run did not sync (postgres) keeps it: reported, not forced
    assert out["not_dropped"] == "gone_elsewhere", out

    # the non-superuser acted with app_owner's rights by borrowing its membership for each
    # statement, and no membership of its own is left behind
    borrowed = 'owner=app_owner borrowed=1' in out["_log"]
    assert borrowed == (dst_user == OPS), out["_log"]
    assert psql(tgt.port, f"SELECT count(*) FROM pg_auth_members WHERE member = '{dst_user}'::regrole "
                          "AND roleid = 'app_owner'::regrole") == "0"

    after = differing(src, tgt)
    assert not after, f"target differs from the source after sync-privileges: {after}"
    assert psql(tgt.port, "SELECT rolsuper FROM pg_roles WHERE rolname = 'new_super'") == "f"

    # fleetcrypt's roles and RDS's own are left alone
    assert protected_state(tgt) == protected_before
    assert psql(tgt.port, "SELECT count(*) FROM pg_roles WHERE rolname = 'rds_newthing'") == "0"

    # the new login role waits for the target's unblock, like every blocked role
    assert psql(tgt.port, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'new_reader'") == "f"
    assert psql(tgt.port, f"SELECT count(*) FROM fc_{TAG}.blocked_roles WHERE role = 'new_reader'",
                db="app") == "1"

    # idempotent: nothing left to do
    again = sync(src, tgt, dst_user, pw)
    assert all(again[k] == "0" for k in COUNTS), again
    assert again["refused"] == "0" and again["unconverged"] == "0", again
    assert not differing(src, tgt)

    if dst_user == MASTER:  # the postgres database is owned by the (real) superuser
        # the cutover's order: privileges of every database, then the drops
        other = sync(src, tgt, dst_user, pw, db="postgres", phase="privileges")
        assert other["object_acls"] == "1", other  # REVOKE CONNECT ON DATABASE postgres FROM gone_elsewhere
        dropped = sync(src, tgt, dst_user, pw, phase="drop")
        assert dropped["roles_dropped"] == "1" and dropped["not_dropped"] == "", dropped
        assert psql(tgt.port, "SELECT count(*) FROM pg_roles WHERE rolname = 'gone_elsewhere'") == "0"

    # after unblock on both sides, LOGIN is the same too
    tool("unblock", *admin_src(src), "--tag", TAG, env=pw)
    tool("unblock", *conn_a(tgt, "app", user=MASTER), "--tag", TAG)
    q = f"SELECT rolname, rolcanlogin FROM pg_roles WHERE {ROLE_FILTER} ORDER BY 1"
    assert psql(src.port, q) == psql(tgt.port, q)
    assert psql(tgt.port, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'new_reader'") == "t"


def test_what_the_target_user_cannot_change_is_reported(servers):
    """A target user with neither CREATEROLE nor the owners' rights: nothing
    can be applied; every refusal is counted and named, what still differs
    is counted as unconverged, nothing is claimed as done."""
    src, tgt, pw, _ = scenario(servers)
    tool("cutover-block", *admin_src(src), "--tag", TAG, "--protect", SUPER, env=pw)
    # the block record must be readable (else the sync fails rather than guess LOGIN)
    rc, _, _, err = tool("sync-privileges", *admin_src(src), "--host2", "127.0.0.1", "--port2", tgt.port,
                         "--db2", "app", "--user2", WEAK, "--tag", TAG, env=pw, check=False)
    assert rc == 1 and "block record" in err, err
    psql(tgt.port, f"GRANT USAGE ON SCHEMA fc_{TAG} TO {WEAK};"
                   f"GRANT SELECT, INSERT, DELETE ON fc_{TAG}.blocked_roles TO {WEAK}", db="app")
    out = sync(src, tgt, WEAK, pw)
    assert all(out[k] == "0" for k in ("roles_created", "roles_altered", "roles_dropped", "memberships",
                                        "settings")), out
    assert int(out["refused"]) > 0 and int(out["unconverged"]) > 0, out
    # names what was refused (roles sort first; list cut at 1 KiB)
    assert "CREATE ROLE new_reader (42501)" in out["refused_what"], out
    left = differing(src, tgt)
    assert {"roles", "members", "settings", "relacl", "defacl"} <= set(left), left
    assert out["no_password"] == "", "a role that was not created is not reported as created"
    # still refused on a second run, still reported
    again = sync(src, tgt, WEAK, pw)
    assert int(again["refused"]) > 0 and int(again["unconverged"]) > 0, again


@pytest.mark.slow
def test_every_database_at_once(servers):
    """The cutover's form (pgl_sync_privileges_each, pgl_sync_sequences_each:
    each listing sent on every database's sessions, both sides, before any
    answer is read): the changes of two databases land each in its own
    database, as one database at a time did; a second run finds nothing; each
    database's sequences are carried."""
    src, tgt, pw, _ = scenario(servers)
    adm = f"fc_{TAG}_admin"
    for srv in (src, tgt):  # a second database's objects, alike on both sides
        psql(srv.port, f"CREATE TABLE w(id bigserial PRIMARY KEY); CREATE TABLE w2(id int);"
                       f"GRANT SELECT, UPDATE ON SEQUENCE w_id_seq TO {adm}", db="postgres")
        psql(srv.port, f"GRANT SELECT, UPDATE ON SEQUENCE t_id_seq TO {adm}", db="app")
    psql(src.port, "GRANT SELECT ON w TO app_ro; GRANT INSERT ON w2 TO app_rw;"
                   "INSERT INTO w SELECT FROM generate_series(1, 5)", db="postgres")
    psql(src.port, "SELECT nextval('t_id_seq') FROM generate_series(1, 3)", db="app")
    tool("cutover-block", *admin_src(src), "--tag", TAG, "--protect", SUPER, env=pw)

    assert sync(src, tgt, MASTER, pw, phase="roles")["roles_created"] == "2"
    both = sync(src, tgt, MASTER, pw, phase="privileges", also="postgres")
    # app's 9 (test above); postgres's 3: the database (gone_elsewhere's CONNECT), w, w2
    assert both["object_acls"] == "12" and both["default_acls"] == "2", both
    assert both["refused"] == "0" and both["unconverged"] == "0", both
    assert "db=app objects=9" in both["_log"] and "db=postgres objects=3" in both["_log"], both["_log"]
    # doomed, and gone_elsewhere: its grant in postgres went with that database's privileges
    assert sync(src, tgt, MASTER, pw, phase="drop")["roles_dropped"] == "2"
    assert not differing(src, tgt)
    q = CATALOG["relacl"].replace("('public', 's')", "('public')")
    assert psql(src.port, q, db="postgres") == psql(tgt.port, q, db="postgres")
    again = sync(src, tgt, MASTER, pw, phase="privileges", also="postgres")
    assert again["object_acls"] == "0" and again["default_acls"] == "0", again

    seq = tool("sync-sequences", *admin_src(src), *conn_b(tgt, "app", user=MASTER), "--tag", TAG,
               "--margin", "10", "--also-db", "postgres", env=pw)[1]
    assert seq["sequences"] == "2", seq
    assert psql(tgt.port, "SELECT last_value FROM t_id_seq", db="app") == "13"  # 3 + 10
    assert psql(tgt.port, "SELECT last_value FROM w_id_seq", db="postgres") == "15"  # 5 + 10
