"""Strategy pg-logical, step catch-up: prewarm of the restored target and
live chunk validation while replication runs, on real servers (Redis, local
Kafka, the AWS emulator with a real PostgreSQL behind every instance), with
a writer committing into both instances throughout.

One campaign, two instances, `--cutover approve` so both park at the
cutover once caught up (campaign file: small chunks, a longer stable lag):
- pgl-live-ok has pg_prewarm installed (by the test, on the source: the
  restored target inherits it) → prewarm_method pg_prewarm; prewarm_done
  reaches prewarm_total; every keyed table validated in chunks
  (live_chunks_ok ≥ the chunks its rows need), 0 suspects, the keyless
  table reported skipped; then approved and run to done;
- pgl-live-bad has no pg_prewarm → prewarm by sequential reads; as soon as
  it is in catch-up the test corrupts one row of a table the writer never
  touches, on the target, with session_replication_role = replica: the
  live validation reports exactly that table and chunk as suspect
  (fact + WARN log by chunk number, without the row's value or any primary
  key value — z's keys are distinctive text, grepped for in the worker logs
  and the instance records); then aborted.
"""
import json
import os

from fclib import wait_until
from fixtures_awssim import psql
from pglogical_strategy_util import (MASTER, PASSWORD, Writer, app_schema, instance_state, logical_group,
                                     make_instances, sql, submit, wait_step, wait_terminal)

CAMPAIGN = "live"
OK, BAD = "pgl-live-ok", "pgl-live-bad"
CHUNK = 200
BIG_ROWS = 3000          # 15 chunks of CHUNK rows
Z_ROWS = 500             # 3 chunks: (start]..[zk-0200], (zk-0200]..[zk-0400], (zk-0400]..[zk-0500]
SECRET_VALUE = "corrupted-on-target-7f3a"
KEY_PREFIX = "zkey-b41c-"  # z's primary key values: must never reach a log or Redis


def fact(stack, ident, name):
    v = stack.redis.cli("HGET", f"fc:{{{CAMPAIGN}}}:i:{ident}", f"f.{name}")
    return v.strip() if v else ""


def schema(sim, ident):
    app_schema(sim, ident)
    sql(sim, ident, f"CREATE TABLE big(id int PRIMARY KEY, pad text NOT NULL);"
                    f"INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, {BIG_ROWS}) g;"
                    f"CREATE TABLE z(id text PRIMARY KEY, v text NOT NULL);"
                    f"INSERT INTO z SELECT '{KEY_PREFIX}' || lpad(g::text, 4, '0'), 'v' || g "
                    f"FROM generate_series(1, {Z_ROWS}) g;")


def test_prewarm_and_live_validation(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    make_instances(sim, [OK, BAD])
    for ident in (OK, BAD):
        schema(sim, ident)
    sql(sim, OK, "CREATE EXTENSION pg_prewarm")
    key = stack.make_key()["Arn"]
    stack.start()
    writers = [Writer(sim, ident, rate=20).start() for ident in (OK, BAD)]
    opts = os.path.join(world, "live-campaign.json")
    with open(opts, "w") as f:
        json.dump({"live_chunk_rows": CHUNK, "catchup_stable_s": 12}, f)
    try:
        submit(stack, CAMPAIGN, key, [OK, BAD], world, "--cutover", "approve", "--file", opts)

        # corrupt one row on the bad instance's target as soon as it is in catch-up
        wait_step(stack, CAMPAIGN, BAD, ("catch-up", "cutover"), timeout=240)
        assert instance_state(stack, CAMPAIGN, BAD)["step"] == "catch-up", \
            "the instance left catch-up before the test could corrupt its target"
        tport = sim.instance(f"fc-{CAMPAIGN}-{BAD}-target")["Endpoint"]["Port"]
        psql(tport, MASTER, PASSWORD, "SET session_replication_role = replica;"
             f"UPDATE z SET v = '{SECRET_VALUE}' WHERE id = '{KEY_PREFIX}0007'", db="app")

        for ident in (OK, BAD):
            wait_step(stack, CAMPAIGN, ident, ("cutover",), timeout=180)
            wait_until(lambda i=ident: fact(stack, i, "waiting_approval") == "1", 60, 0.5,
                       f"{ident} parked at the cutover")
        f_ok = {n: fact(stack, OK, n) for n in (
            "prewarm_total", "prewarm_done", "prewarm_bytes", "prewarm_method", "prewarm_complete",
            "live_chunks_ok", "live_chunks_total", "live_chunks_suspect", "live_passes_done",
            "live_keyless_skipped", "live_suspects", "live_error", "caught_up")}
        f_bad = {n: fact(stack, BAD, n) for n in (
            "prewarm_total", "prewarm_done", "prewarm_method", "live_chunks_ok", "live_chunks_suspect",
            "live_suspects", "live_error")}

        # prewarm: every relation read once, with pg_prewarm where it is installed
        assert f_ok["caught_up"] == "1", f_ok
        assert int(f_ok["prewarm_total"]) >= 4 + 3, f_ok   # a, b, big, z + their indexes
        assert f_ok["prewarm_done"] == f_ok["prewarm_total"] and f_ok["prewarm_complete"] == "1", f_ok
        assert f_ok["prewarm_method"] == "pg_prewarm", f_ok
        assert int(f_ok["prewarm_bytes"]) >= 8192 * 10, f_ok
        assert f_bad["prewarm_method"] == "seqread", f_bad
        assert int(f_bad["prewarm_total"]) == 4 and f_bad["prewarm_done"] == "4", f_bad  # tables only

        # live validation on the clean instance: every chunk of big and z validated, no suspect
        assert f_ok["live_error"] == "", f_ok
        assert int(f_ok["live_passes_done"]) >= 1, f_ok
        assert int(f_ok["live_chunks_ok"]) >= BIG_ROWS // CHUNK + Z_ROWS // CHUNK + 1, f_ok
        assert f_ok["live_chunks_suspect"] == "0" and f_ok["live_suspects"] == "", f_ok
        assert f_ok["live_keyless_skipped"] == "1", f_ok

        # the corrupted row: exactly its table and range, suspect; the other chunks fine
        assert f_bad["live_error"] == "", f_bad
        assert f_bad["live_chunks_suspect"] == "1", f_bad
        assert f_bad["live_suspects"].splitlines() == [
            f"app public.z chunk 1 (source {CHUNK} rows, target {CHUNK} rows)"], f_bad
        assert int(f_bad["live_chunks_ok"]) >= BIG_ROWS // CHUNK, f_bad
        logs = "".join(open(w.log_path).read() for w in stack.workers)
        assert "live validation: chunk differs on the target" in logs and "table=public.z" in logs
        assert "table=public.z chunk=1 " in logs, "the WARN names the chunk by number"
        assert SECRET_VALUE not in logs, "a row value reached the worker log"
        assert KEY_PREFIX not in logs, "a primary-key value reached the worker log"
        for ident in (OK, BAD):
            rec = stack.redis.cli("HGETALL", f"fc:{{{CAMPAIGN}}}:i:{ident}")
            assert SECRET_VALUE not in rec and KEY_PREFIX not in rec, f"a row or key value reached Redis: {ident}"

        # the clean one goes on to done; the corrupted one is aborted
        assert stack.cli("approve", CAMPAIGN, OK).returncode == 0
        assert stack.cli("abort", CAMPAIGN, BAD).returncode == 0
        st = wait_terminal(stack, CAMPAIGN, timeout=240)
    finally:
        for w in writers:
            w.stop()
    states = {i["id"]: i["state"] for i in st["instances"]}
    assert states == {OK: "done", BAD: "aborted"}, f"{states}\n{stack.diagnostics()}"
