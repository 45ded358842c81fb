"""pg-logical data-plane checks against real PostgreSQL 15, as a
non-superuser (RDS's master user is a member of rds_superuser, which does not
bypass object privileges or row-level security):

- finding 10: a sequence fleetcrypt's role cannot read is never skipped: the
  sequence sync fails naming it and the GRANT to run (source, then target),
  a never-used readable sequence is told apart and left as it is;
- finding 11: verification runs with row_security off, so a table whose
  policy hides rows from the verifying role fails naming the table instead
  of comparing the visible subset; extension-owned tables are compared;
  pg_cron's cron.job is compared without `active`, and a replicated row
  cannot re-activate a job held on the target;
- finding 8: large objects of any owner are counted;
- finding 7: a transaction prepared after the slot is listed by gid (the
  step waits on that) and is what a snapshot would carry to the target.
"""
from fixtures_pg import *  # noqa: F401,F403
from fixtures_pg import MASTER, conn_a, conn_b, fc_passwords, psql, setup_master, tool, wait_caught_up
from fclib import wait_until

TAG = "chk"
ADM = "fcadm"   # stands in for the RDS master user: CREATEROLE, member of rds_superuser, not superuser


def rds_like(srv):
    setup_master(srv)
    psql(srv.port, f"""CREATE ROLE rds_superuser NOLOGIN;
                      CREATE ROLE {ADM} LOGIN CREATEROLE IN ROLE rds_superuser;
                      CREATE ROLE other NOLOGIN""")
    psql(srv.port, "GRANT CREATE ON SCHEMA public TO other", db="app")


def pair(servers, extra_conf=""):
    a, b = servers.new("src", extra_conf), servers.new("tgt", extra_conf)
    for s in (a, b):
        rds_like(s)
    return a, b


def both(a, b, sql, user=MASTER):
    for s in (a, b):
        psql(s.port, sql, db="app", user=user)


def test_unreadable_sequences_are_named_never_skipped(servers):
    src, tgt = pair(servers)
    both(src, tgt, f"""CREATE SEQUENCE public.mine; GRANT ALL ON SEQUENCE public.mine TO {ADM};
                       CREATE SEQUENCE public.unused; GRANT ALL ON SEQUENCE public.unused TO {ADM};
                       SET ROLE other; CREATE SEQUENCE public.hidden_seq; RESET ROLE""")
    psql(src.port, "SELECT nextval('public.mine'), nextval('public.mine'); SET ROLE other; "
                   "SELECT setval('public.hidden_seq', 500)", db="app", user=MASTER)
    sync = ["sync-sequences", *conn_a(src, "app", user=ADM), *conn_b(tgt, "app", user=ADM), "--tag", TAG,
            "--margin", "10"]
    rc, _, _, err = tool(*sync, check=False)
    assert rc == 1, "a sequence the role cannot read must fail the sync, not be skipped"
    assert "public.hidden_seq" in err and "source" in err and f"TO {ADM}" in err and "GRANT" in err, err
    assert "public.mine" not in err and "public.unused" not in err, err
    # readable on the source: the target's copy must be readable and settable too
    psql(src.port, f"GRANT SELECT ON SEQUENCE public.hidden_seq TO {ADM}", db="app", user=MASTER)
    rc, _, _, err = tool(*sync, check=False)
    assert rc == 1 and "public.hidden_seq" in err and "target" in err and "UPDATE" in err, err
    psql(tgt.port, f"GRANT SELECT, UPDATE ON SEQUENCE public.hidden_seq TO {ADM}", db="app", user=MASTER)
    out = tool(*sync)[1]
    assert out["sequences"] == "2", out            # mine and hidden_seq; unused is left as it is
    assert psql(tgt.port, "SELECT last_value FROM public.hidden_seq", db="app") == "510"
    assert psql(tgt.port, "SELECT last_value FROM public.mine", db="app") == "12"
    assert psql(tgt.port, "SELECT is_called FROM public.unused", db="app") == "f"
    # preflight refuses an unreadable sequence up front
    psql(src.port, "SET ROLE other; CREATE SEQUENCE public.later_seq", db="app", user=MASTER)
    rc, kv, out, err = tool("preflight", *conn_a(src, "app", user=ADM), "--tag", TAG, check=False)
    assert "public.later_seq" in out and "cannot read" in out, (out, err)
    assert int(kv.get("fatal", "0")) >= 1, out


def test_verify_refuses_rows_hidden_by_row_level_security(servers):
    src, tgt = pair(servers)
    both(src, tgt, f"""CREATE TABLE public.acct(id int PRIMARY KEY, owner text, v text);
                       INSERT INTO public.acct SELECT g, CASE WHEN g % 2 = 0 THEN 'x' ELSE '{ADM}' END, 'v'
                         FROM generate_series(1, 40) g;
                       ALTER TABLE public.acct ENABLE ROW LEVEL SECURITY;
                       CREATE POLICY mine ON public.acct USING (owner = current_user);
                       GRANT SELECT ON public.acct TO {ADM};
                       CREATE TABLE public.plain(id int PRIMARY KEY, v text);
                       INSERT INTO public.plain SELECT g, 'p' FROM generate_series(1, 10) g;
                       GRANT SELECT ON public.plain TO {ADM}""")
    # a row the verifying role cannot see differs on the target
    psql(tgt.port, "UPDATE public.acct SET v = 'changed' WHERE id = 2", db="app", user=MASTER)
    verify = ["verify", *conn_a(src, "app", user=ADM), *conn_b(tgt, "app", user=ADM), "--tag", TAG]
    rc, kv, out, err = tool(*verify, check=False)
    assert rc == 1, f"verify must not report a match when rows are hidden from it: {out}"
    assert "public.acct" in err and "row-level security" in err, err
    assert kv.get("mismatches") != "0", out
    # the owner (or BYPASSRLS) sees every row: the difference is found
    psql(src.port, f"ALTER TABLE public.acct OWNER TO {ADM}", db="app", user=MASTER)
    psql(tgt.port, f"ALTER TABLE public.acct OWNER TO {ADM}", db="app", user=MASTER)
    rc, kv, out, err = tool(*verify, check=False)
    assert rc == 1 and "1 table(s) differ" in err, (out, err)
    assert "table=public.acct keyed=1" in out and "match=0" in out.split("table=public.acct")[1].split("\n")[0]


def test_verify_compares_extension_owned_tables_and_cron_job_without_active(servers):
    src, tgt = pair(servers)
    both(src, tgt, f"""CREATE TABLE public.ext_cfg(id int PRIMARY KEY, v text);
                       INSERT INTO public.ext_cfg VALUES (1, 'a'), (2, 'b');
                       ALTER EXTENSION plpgsql ADD TABLE public.ext_cfg;
                       CREATE SCHEMA cron;
                       CREATE TABLE cron.job(jobid bigint PRIMARY KEY, schedule text, command text,
                                             active boolean NOT NULL DEFAULT true);
                       INSERT INTO cron.job VALUES (1, '* * * * *', 'select 1', true);
                       GRANT USAGE ON SCHEMA cron TO {ADM}; GRANT SELECT ON ALL TABLES IN SCHEMA cron TO {ADM};
                       GRANT SELECT ON public.ext_cfg TO {ADM}""", user="postgres")
    verify = ["verify", *conn_a(src, "app", user=ADM), *conn_b(tgt, "app", user=ADM), "--tag", TAG]
    # a held job (active = false on the target only) is not a difference
    psql(tgt.port, "UPDATE cron.job SET active = false", db="app")
    rc, _, out, err = tool(*verify, check=False)
    assert rc == 0, (out, err)
    assert "table=cron.job " in out and "table=public.ext_cfg " in out, out
    # its command is
    psql(tgt.port, "UPDATE cron.job SET command = 'select 2'", db="app")
    rc, _, out, err = tool(*verify, check=False)
    assert rc == 1 and "1 table(s) differ" in err, (out, err)
    psql(tgt.port, "UPDATE cron.job SET command = 'select 1'", db="app")
    # an extension-owned table is not excluded from the comparison
    psql(tgt.port, "UPDATE public.ext_cfg SET v = 'z' WHERE id = 2", db="app")
    rc, _, out, err = tool(*verify, check=False)
    assert rc == 1 and "1 table(s) differ" in err, (out, err)


def test_replicated_cron_rows_cannot_reactivate_held_jobs(servers):
    tag = "cron"
    src = servers.new("src")
    setup_master(src)
    psql(src.port, """CREATE SCHEMA cron;
                      CREATE TABLE cron.job(jobid bigint PRIMARY KEY, schedule text, command text,
                                            active boolean NOT NULL DEFAULT true);
                      INSERT INTO cron.job VALUES (1, '* * * * *', 'select 1', true),
                                                  (2, '* * * * *', 'select 2', true),
                                                  (3, '* * * * *', 'select 3', false)""", db="app")
    pw = fc_passwords(tag)
    tool("create-roles", *conn_a(src, "app"), "--tag", tag, "--admin-password-env", "FC_ADMIN_PW",
         "--sub-password-env", "FC_SUB_PW", env=pw)
    tool("prepare-source", *conn_a(src, "app"), "--tag", tag)
    snap = servers.freeze_copy(src, "snap")
    tgt = servers.restore(snap, "tgt")
    start = tool("find-start-lsn", tgt.log_path, "--segsize", 1 << 20)[1]["start_lsn"]
    assert tool("clean-target", *conn_a(tgt, "app"), "--tag", tag, "--drop-slots")[1]["jobs_held"] == "2"
    assert tool("cron-guard", *conn_a(tgt, "app"), "--tag", tag)[1]["cron_guard"] == "1"
    tool("cron-guard", *conn_a(tgt, "app"), "--tag", tag)   # idempotent
    tool("subscribe", *conn_a(tgt, "app"), *conn_b(src, "app", user=f"fc_{tag}_sub"),
         "--password2-env", "FC_SUB_PW", "--tag", tag, "--lsn", start, env=pw)
    # the source changes its jobs: rows arrive with active = true
    psql(src.port, """UPDATE cron.job SET schedule = '*/5 * * * *' WHERE jobid = 1;
                      INSERT INTO cron.job VALUES (4, '* * * * *', 'select 4', true);
                      UPDATE cron.job SET active = false WHERE jobid = 2""", db="app")
    wait_caught_up(src, tgt, tag, "app")
    wait_until(lambda: psql(tgt.port, "SELECT count(*) FROM cron.job WHERE jobid = 4", db="app") == "1", 30,
               what="replicated insert applied")
    rows = psql(tgt.port, "SELECT jobid, schedule, active FROM cron.job ORDER BY 1", db="app").splitlines()
    assert rows == ["1|*/5 * * * *|f", "2|* * * * *|f", "3|* * * * *|f", "4|* * * * *|f"], rows
    held = psql(tgt.port, f"SELECT string_agg(jobid::text, ',' ORDER BY jobid) FROM fc_{tag}.held_jobs", db="app")
    assert held == "1,4", held   # 2 was made inactive on the source: cleanup must not activate it
    # cleanup activates exactly the source's active jobs
    assert tool("cleanup-target", *conn_a(tgt, "app"), "--tag", tag)[1]["jobs_released"] in ("2",)
    rows = psql(tgt.port, "SELECT jobid, active FROM cron.job ORDER BY 1", db="app").splitlines()
    assert rows == ["1|t", "2|f", "3|f", "4|t"], rows


def test_large_objects_of_any_owner_are_counted(servers):
    src = servers.new("src")
    rds_like(src)
    lo = ["large-objects", *conn_a(src, "app", user=ADM)]
    assert tool(*lo)[1]["large_objects"] == "0"
    psql(src.port, "SET ROLE other; SELECT lo_create(0); SELECT lo_from_bytea(0, 'x')", db="app", user=MASTER)
    assert tool(*lo)[1]["large_objects"] == "2"


def test_prepared_transaction_after_the_slot_is_named_and_reaches_a_snapshot(servers):
    tag = "px"
    src = servers.new("src", "max_prepared_transactions = 5")
    setup_master(src)
    psql(src.port, "CREATE TABLE t(id int PRIMARY KEY)", db="app", user=MASTER)
    pw = fc_passwords(tag)
    tool("create-roles", *conn_a(src, "app"), "--tag", tag, "--admin-password-env", "FC_ADMIN_PW",
         "--sub-password-env", "FC_SUB_PW", env=pw)
    tool("prepare-source", *conn_a(src, "app"), "--tag", tag)
    px = ["prepared-xacts", *conn_a(src, "app")]
    assert tool(*px)[1]["prepared"] == "0"
    psql(src.port, "BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'fc-test-gid-1'", db="app", user=MASTER)
    out = tool(*px)[1]
    assert out["prepared"] == "1" and "'fc-test-gid-1'" in out["desc"] and "database app" in out["desc"], out
    # a snapshot taken now carries it: the restored copy holds it (and its locks)
    tgt = servers.restore(servers.freeze_copy(src, "snap"), "tgt")
    assert tool("prepared-xacts", *conn_a(tgt, "app"))[1]["prepared"] == "1"
    psql(src.port, "COMMIT PREPARED 'fc-test-gid-1'", db="app", user=MASTER)
    assert tool(*px)[1]["prepared"] == "0"


def test_comparison_stops_at_its_time_budget(servers):
    """Finding 1: nothing long inside the write-blocked window. The cutover's
    comparisons (row counts; the whole strict comparison) run within half
    the time the step has left (pgverify_until): past it they stop between
    chunks, with every statement's timeout bounded by what is left, and say
    so, so the cutover gives the writers back instead of outliving its
    step. Without a budget the same comparison runs to the end."""
    src, tgt = pair(servers)
    both(src, tgt, f"""CREATE TABLE public.big(id int PRIMARY KEY, v text);
                       INSERT INTO public.big SELECT g, md5(g::text) FROM generate_series(1, 60000) g;
                       GRANT SELECT ON public.big TO {ADM}""")
    verify = ["verify", *conn_a(src, "app", user=ADM), *conn_b(tgt, "app", user=ADM), "--tag", TAG,
              "--chunk-rows", "500"]
    rc, kv, out, err = tool(*verify, check=False)
    assert rc == 0 and kv["mismatches"] == "0" and kv["rows_verified"] == "60000", (out, err)
    assert "timed_out" not in kv, out
    rc, kv, out, err = tool(*verify, "--budget-ms", "30", check=False)
    assert rc == 1 and kv.get("timed_out") == "1", (out, err)
    assert "time budget" in err, err


def test_verify_compares_whole_rows_in_every_range(servers):
    """The comparison digests whole rows even when a column is named like
    the row alias of its SQL (t, c), on a composite text key, ranges that end
    exactly at the last row, an empty table, and rows only the target has
    past the source's last key."""
    src, tgt = pair(servers)
    both(src, tgt, f"""CREATE TABLE public.named(id int PRIMARY KEY, t int, c int, v text);
                       INSERT INTO public.named SELECT g, 1, 1, 'v' || g FROM generate_series(1, 40) g;
                       CREATE TABLE public.comp(a text, b int, c numeric, PRIMARY KEY (a, b));
                       INSERT INTO public.comp SELECT 'k' || (g % 7), g, g / 3.0 FROM generate_series(1, 50) g;
                       CREATE TABLE public.exact(id int PRIMARY KEY);
                       INSERT INTO public.exact SELECT generate_series(1, 20);
                       CREATE TABLE public.empty(id int PRIMARY KEY);
                       GRANT SELECT ON public.named, public.comp, public.exact, public.empty TO {ADM}""")
    verify = ["verify", *conn_a(src, "app", user=ADM), *conn_b(tgt, "app", user=ADM), "--tag", TAG,
              "--chunk-rows", "10"]
    rc, kv, out, err = tool(*verify, check=False)
    assert rc == 0 and kv["mismatches"] == "0", (out, err)
    chunks = {ln.split()[0][6:]: int(ln.split("chunks=")[1].split()[0]) for ln in out.splitlines()
              if ln.startswith("table=")}
    assert chunks["public.exact"] == 3 and chunks["public.comp"] == 6 and chunks["public.empty"] == 1, out
    for change, undo, table in (
            ("UPDATE public.named SET v = 'x' WHERE id = 17", "UPDATE public.named SET v = 'v17' WHERE id = 17",
             "public.named"),
            ("UPDATE public.comp SET c = 0 WHERE a = 'k3' AND b = 10", "UPDATE public.comp SET c = 10 / 3.0 "
             "WHERE a = 'k3' AND b = 10", "public.comp"),
            ("INSERT INTO public.exact VALUES (21)", "DELETE FROM public.exact WHERE id = 21", "public.exact"),
            ("INSERT INTO public.comp VALUES ('z', 1, 1)", "DELETE FROM public.comp WHERE a = 'z'", "public.comp"),
            ("INSERT INTO public.empty VALUES (1)", "DELETE FROM public.empty", "public.empty")):
        psql(tgt.port, change, db="app", user=MASTER)
        rc, kv, out, err = tool(*verify, check=False)
        assert rc == 1 and "1 table(s) differ" in err, (change, out, err)
        assert "match=0" in out.split(f"table={table} ")[1].split("\n")[0], (change, out)
        psql(tgt.port, undo, db="app", user=MASTER)
    rc, kv, out, err = tool(*verify, check=False)
    assert rc == 0, (out, err)
