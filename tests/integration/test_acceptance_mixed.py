"""Issue 13's acceptance campaign: one pg-logical campaign over a mixed
fleet — 2 RDS PostgreSQL instances, 2 Aurora PostgreSQL clusters (writer +
1 reader each) and 1 instance encrypted with `aws/rds` (`--rekey`) — every
source with a live writer (the clusters' through their cluster endpoints),
at an emulator time scale above 0 (renames and DNS lag modelled). It ends
with every source encrypted with the campaign key, the cluster endpoints
unchanged, the readers serving the same rows, every acknowledged write
exactly once, and nothing of fleetcrypt's left on any source.
Slow (tests/run --all)."""
import pytest

import test_pglogical_clusters as tc
from fclib import wait_until
from pglogical_strategy_util import (FC_OBJECTS, Writer, app_schema, exactly_once, fleetcrypt_leftovers,
                                     logical_group, make_instances, serving_instance_is, submit, wait_terminal)

pytestmark = pytest.mark.slow

INSTANCES = ["mix-i1", "mix-i2"]
REKEY = "mix-awsrds"
CLUSTERS = ["mix-c1", "mix-c2"]


def test_mixed_fleet_campaign(stack, awssim, world):
    sim = awssim
    rds = sim.client("rds")
    sim.admin("POST", "/config", {"time_scale": 0})
    logical_group(sim)
    make_instances(sim, INSTANCES + [REKEY], kms={REKEY: ""})
    for i in INSTANCES + [REKEY]:
        app_schema(sim, i)
    assert sim.instance(REKEY)["StorageEncrypted"] is True
    tc.logical_cluster_group(sim)
    ports, readers_before = {}, {}
    for c in CLUSTERS:
        src = tc.make_cluster(sim, c, ["db.r6g.large", "db.r6g.large"])
        ports[c] = src["Port"]
        readers_before[c] = tc.members_view(rds, src)
        tc.csql(src["Port"], "CREATE TABLE a(id serial PRIMARY KEY, seq bigint NOT NULL);"
                             "CREATE TABLE b(seq bigint NOT NULL); CREATE SEQUENCE wseq;")
    key = stack.make_key()["Arn"]
    sim.admin("POST", "/config", {"time_scale": 0.02})
    stack.start()
    writers = {i: Writer(sim, i, rate=20).start() for i in INSTANCES + [REKEY]}
    writers.update({c: tc.ClusterWriter(sim, c, rate=20).start() for c in CLUSTERS})
    wait_until(lambda: all(len(w.numbers()) >= 10 for w in writers.values()), 60, 0.2, "writes before submit")
    submit(stack, "mix", key, INSTANCES + [REKEY] + CLUSTERS, world, "--rekey")
    st = wait_terminal(stack, "mix", timeout=1500)
    rows = {i["id"]: i for i in st["instances"]}
    bad = {k: (v["state"], v.get("error")) for k, v in rows.items() if v["state"] != "done"}
    assert not bad, f"{bad}\n{stack.diagnostics()}"
    # writes after the switches land on the encrypted sources: wait for some
    n = {k: len(w.numbers()) for k, w in writers.items()}
    wait_until(lambda: all(len(writers[k].numbers()) >= n[k] + 10 for k in writers), 180, 0.2,
               "writes after the switches")
    for w in writers.values():
        w.stop()
    problems = []
    for i in INSTANCES + [REKEY]:
        inst = sim.instance(i)
        if not (inst["StorageEncrypted"] and inst.get("KmsKeyId") == key):
            problems.append(f"{i}: not on the campaign key: {inst.get('KmsKeyId')}")
        ok, detail = serving_instance_is(sim, i)
        if not ok:
            problems.append(f"{i}: {detail}")
        problems += exactly_once(sim, i, writers[i])
        if fleetcrypt_leftovers(sim, i):
            problems.append(f"{i}: fleetcrypt objects left: {fleetcrypt_leftovers(sim, i)}")
    for c in CLUSTERS:
        cl = tc.cluster(rds, c)
        if not (cl["StorageEncrypted"] and cl.get("KmsKeyId") == key):
            problems.append(f"{c}: not on the campaign key: {cl.get('KmsKeyId')}")
        if cl["Port"] != ports[c]:
            problems.append(f"{c}: cluster endpoint moved {ports[c]} -> {cl['Port']}")
        if tc.members_view(rds, cl) != readers_before[c]:
            problems.append(f"{c}: members differ: {tc.members_view(rds, cl)} vs {readers_before[c]}")
        have = tc.seqs(ports[c])
        acked = writers[c].numbers()
        missing = sorted(set(acked) - set(have))
        if missing or len(have) != len(set(have)):
            problems.append(f"{c}: acked {len(acked)} have {len(have)} missing {missing[:10]} "
                            f"doubled {len(have) - len(set(have))}")
        try:
            wait_until(lambda: tc.seqs(ports[c], host="127.0.0.2") == have, 60, 0.2, f"{c}: reader rows")
        except AssertionError as e:  # noqa: PERF203
            problems.append(str(e))
        objs = [x for x in tc.csql(ports[c], FC_OBJECTS).split("\n") if x]
        if objs:
            problems.append(f"{c}: fleetcrypt objects left: {objs}")
    assert not problems, "\n".join(problems)
