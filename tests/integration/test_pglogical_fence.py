"""The lease's fence reaches the database (issue 11, finding 1), and a server
is known by its identity, not its name (finding 2). Against real PostgreSQL 15
through fc_pg_tool (lib/pgfence.c):

- a holder whose fencing number is older than the newest one that acted on the
  source is refused there: it cannot let writers in again after another
  holder took over (the lost-rows path of a cutover that outlived its lease);
- the fence survives in the restored copy, and the copy shares the source's
  system identifier, so only fleetcrypt's marker (not replicated, not
  inherited once re-marked) tells source and target apart.
"""
from fixtures_pg import *  # noqa: F401,F403
from fixtures_pg import SUPER, psql, tool
from test_pglogical_ops import admin_args, can_connect, prepared_source


def test_stale_holder_cannot_unblock_the_source(servers):
    tag = "fnc"
    src, pw, _ = prepared_source(servers, tag)
    psql(src.port, "CREATE ROLE app_rw LOGIN PASSWORD 'x'", db="app")
    tool("cutover-block", *admin_args(src, tag), "--protect", SUPER, env=pw)
    assert not can_connect(src.port, "app_rw")[0]

    # holder 100 (the first worker) took the fence; holder 200 (the one the
    # reconciler handed the instance to) took it after
    assert tool("fence-take", "100", *admin_args(src, tag), env=pw)[1]["fence"] == "taken"
    assert tool("fence-take", "200", *admin_args(src, tag), env=pw)[1]["fence"] == "taken"
    # the drained mark, one statement (pgfence_take_drained): refused to the stale holder, nothing marked
    drained = f"SELECT drained::text || ' ' || holder::text FROM fc_{tag}.fence WHERE id = 'source'"
    rc, kv, _, err = tool("fence-drain", "100", *admin_args(src, tag), env=pw, check=False)
    assert rc != 0 and kv["fence"] == "refused" and "newer holder" in err, (kv, err)
    assert psql(src.port, drained, db="app") == "false 200"
    assert tool("fence-drain", "200", *admin_args(src, tag), env=pw)[1]["fence"] == "taken"
    assert psql(src.port, drained, db="app") == "true 200"
    # the first one wakes up and tries to give the source back to its writers
    rc, kv, _, err = tool("fence-unblock", "100", *admin_args(src, tag), env=pw, check=False)
    assert rc != 0 and kv["fence"] == "refused", (kv, err)
    assert "newer holder" in err, err
    assert not can_connect(src.port, "app_rw")[0], "a stale holder let writers in"
    # nor can it take the fence back
    assert tool("fence-take", "150", *admin_args(src, tag), env=pw, check=False)[1]["fence"] == "refused"
    # the current holder can
    kv = tool("fence-unblock", "200", *admin_args(src, tag), env=pw)[1]
    assert kv["fence"] == "ours" and int(kv["roles_restored"]) >= 1
    assert can_connect(src.port, "app_rw")[0]
    # and a later holder may take over from it
    assert tool("fence-take", "300", *admin_args(src, tag), env=pw)[1]["fence"] == "taken"


def test_restored_copy_is_told_apart_by_its_marker(servers):
    tag = "idn"
    src, pw, _ = prepared_source(servers, tag)
    tool("mark", "fleetcrypt idn source aaaa", *admin_args(src, tag), env=pw)
    psql(src.port, "CHECKPOINT")   # the test servers commit asynchronously: the comment must be in the copy
    copy = servers.restore(servers.freeze_copy(src, "copy"), "copy")
    a = tool("identity", *admin_args(src, tag), env=pw)[1]
    b = tool("identity", *admin_args(copy, tag), env=pw)[1]
    # a name proves nothing and neither does the system identifier: a restore shares it
    assert a["sysid"] == b["sysid"] and a["sysid"]
    assert a["marker"] == b["marker"] == "fleetcrypt idn source aaaa"
    tool("mark", "fleetcrypt idn target bbbb", *admin_args(copy, tag), env=pw)
    assert tool("identity", *admin_args(copy, tag), env=pw)[1]["marker"] == "fleetcrypt idn target bbbb"
    assert tool("identity", *admin_args(src, tag), env=pw)[1]["marker"] == "fleetcrypt idn source aaaa"
    # the copy has the fence table too (created before the "snapshot")
    assert tool("fence-take", "5", *admin_args(copy, tag), env=pw)[1]["fence"] == "taken"


def test_block_leaves_no_writer_behind_under_reconnect_storm(servers):
    """Finding 12 (end_sessions): clients reconnect as fast as they can while
    the block runs; a backend that authenticated just before NOLOGIN took
    effect may not be listed yet. After the block returns no session of a
    blocked role exists and no row arrives any more. And L is flushed when
    the block returns (the test servers commit asynchronously, and the
    terminated writers' aborts are never flushed by themselves): the
    walsenders send only flushed WAL, so an L past the flush would make the
    drain wait for the WAL writer (issue 17 item 5)."""
    import os
    import subprocess
    import threading
    import time
    from fclib import PG_BIN
    tag = "storm"
    src, pw, _ = prepared_source(servers, tag)
    psql(src.port, "CREATE ROLE app_rw LOGIN PASSWORD 'x'; GRANT ALL ON t, t_id_seq TO app_rw", db="app")
    # the WAL writer as slow as it goes: what is not flushed by the block stays so
    psql(src.port, "ALTER SYSTEM SET wal_writer_delay = '10s'")
    psql(src.port, "SELECT pg_reload_conf()")
    stop = threading.Event()

    def storm():
        env = dict(os.environ, PGPASSWORD="x", PGCONNECT_TIMEOUT="2", PGSSLMODE="disable")
        while not stop.is_set():
            subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-h", "127.0.0.1", "-p", str(src.port),
                            "-U", "app_rw", "-d", "app", "-c",
                            "INSERT INTO t(v) VALUES ('s'); SELECT pg_sleep(0.3); INSERT INTO t(v) VALUES ('s')"],
                           capture_output=True, env=env, timeout=30)
    threads = [threading.Thread(target=storm, daemon=True) for _ in range(6)]
    for th in threads:
        th.start()
    try:
        time.sleep(1.0)
        assert int(psql(src.port, "SELECT count(*) FROM t", db="app")) > 0, "the storm never wrote"
        lsn = tool("cutover-block", *admin_args(src, tag), "--protect", SUPER, env=pw)[1]["lsn"]
        flushed = psql(src.port, f"SELECT pg_current_wal_flush_lsn() >= '{lsn}'::pg_lsn", db="app")
        n0 = int(psql(src.port, "SELECT count(*) FROM t", db="app"))
        left = psql(src.port, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app_rw'", db="app")
        time.sleep(1.5)
        n1 = int(psql(src.port, "SELECT count(*) FROM t", db="app"))
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=30)
    assert left == "0", f"{left} session(s) of a blocked role survived the block"
    assert n1 == n0, f"{n1 - n0} row(s) arrived after the block returned"
    assert flushed == "t", f"L {lsn} lies past the flushed WAL: the drain would wait for the WAL writer"
