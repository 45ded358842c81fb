"""An `offline` campaign under AWS faults at a time scale above 0 (issue 17
item 1's review: the restore now carries the source's BackupRetentionPeriod
instead of a ModifyDBInstance after it, and no faulted offline run covered
that). Four instances (one with real PostgreSQL and rows), two of them with
a backup retention other than the restore's default, while every AWS call
may be throttled (throttle_rate 0.2) or refused with a 5xx (0.05), answers
LATENCY_MS late, and the first answer of each instance's snapshot, copy,
restore, stop and rename is lost (the emulator carries the request out and
answers 500, as when AWS acted but its answer never arrived).

Asserted: every instance done and verified as test_orch_campaign's
`verify_done` does (encrypted with the key, same endpoint and port, user
tags, role tag, the source's backup retention on the target, retired
sources stopped and tagged, no intermediate snapshot, same rows); each
snapshot, copy and restore carried out once per instance at AWS (a lost
answer counts: AWS acted); one rename per instance carried out, no
ModifyDBInstance but the renames; no conflicting operation but the
client's own retry of a call whose answer was lost (AWS refuses it as
already exists / busy, which the emulator logs as a conflict); the faults
really hit fleetcrypt's calls; and a bound on the calls per instance (every
attempt counts): 2 x the 30 per instance test_orch_offline_campaign allows
without faults would be a retry storm, so the bound is 45.
"""
import os

import pytest

from test_orch_campaign import run_campaign, verify_done

SCALE = float(os.environ.get("FLEETCRYPT_SIM_TIME_SCALE") or 0) or 0.002
LATENCY_MS = 100
LOST = {a: "lost" for a in ("CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot",
                            "StopDBInstance", "ModifyDBInstance")}
FAULTS = {"throttle_rate": 0.2, "http5xx_rate": 0.05, "latency_ms": LATENCY_MS, "alternate": LOST}
MAX_CALLS_PER_INSTANCE = 45


def explain(stack, st, calls):
    """What a failed instance's calls and the workers' logs say about it."""
    for i in st["instances"]:
        if i["state"] == "done":
            continue
        print(f"--- {i['id']}: {i['state']} at {i['step']}: {i['error']}", flush=True)
        for c in calls:
            if i["id"] in (c.get("resource") or ""):
                print(f"  {c['ts']:.3f} {c['action']} {c.get('resource')} {c.get('status')} {c.get('error')} "
                      f"{c.get('fault') or ''}", flush=True)
        for name in sorted(os.listdir(stack.logs)):
            with open(os.path.join(stack.logs, name), errors="replace") as f:
                for line in f:
                    if i["id"] in line:
                        print(f"  {name}: {line.rstrip()[:400]}", flush=True)


@pytest.mark.slow  # CI budget: the offline flow under faults; test_pglogical_faults covers the client in CI
@pytest.mark.timeout(900)
def test_offline_campaign_under_aws_faults(stack):
    ids = [f"oflt-{n}" for n in range(4)]
    real = ids[:1]
    retention = {ids[0]: 0, ids[-1]: 7}
    # the emulator's scale while the campaign runs: a 500 GiB copy is 3120
    # modelled seconds (6 s at 0.002), renames and reboots take time too
    st, key, before, real_rows = run_campaign(stack, "oflt", ids, real, SCALE, timeout=480, retention=retention,
                                              during={"faults": FAULTS})
    calls = stack.calls()
    stack.sim.admin("POST", "/config", {"faults": {"throttle_rate": 0, "http5xx_rate": 0, "latency_ms": 0,
                                                   "alternate": {}}})
    if st["counts"]["done"] != len(ids):
        explain(stack, st, calls)
    assert st["counts"]["done"] == len(ids), st
    for i in st["instances"]:
        assert i["state"] == "done" and i["error"] is None, i
    verify_done(stack, ids, key["Arn"], before, real_rows)

    refused = [c for c in calls if c.get("fault")]
    lost = [c for c in refused if c["fault"] == "lost"]
    print(f"faults {FAULTS}: {len(calls)} calls, {len(refused)} refused ({len(lost)} answers lost)", flush=True)
    assert len(refused) >= 10, f"only {len(refused)} calls refused: the faults did not apply"
    for action in LOST:
        assert any(c["action"] == action for c in lost), f"no {action} answer lost: {sorted({c['action'] for c in lost})}"

    def carried_out(action):
        # served, or answered 500 after AWS acted (a lost answer; a lost
        # verdict on a call AWS refused, e.g. DBSnapshotAlreadyExists, did nothing)
        return [c for c in calls if c["action"] == action and
                (not c.get("error") or (c.get("fault") == "lost" and c["error"] == "InternalFailure"))]
    for action in ("CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot"):
        done = carried_out(action)
        assert len(done) == len(ids), f"{action} carried out {len(done)} times for {len(ids)} instances: " + \
            "; ".join(f"{c['ts']:.2f} {c.get('resource')} {c.get('status')} {c.get('error')} {c.get('fault')}"
                      for c in calls if c["action"] == action)
    renames = carried_out("ModifyDBInstance")
    assert len(renames) == len(ids), f"{len(renames)} ModifyDBInstance carried out for {len(ids)} instances " \
                                     f"(only the renames: the restore sets the retention)"
    # a call whose answer was lost is sent again by the client, which AWS
    # refuses (already exists / busy): the emulator logs that refusal as a
    # conflict; any other conflict is fleetcrypt's own doing
    answered_lost = [c for c in lost if c["error"] == "InternalFailure"]
    conflicts = stack.sim.admin("GET", "/conflicts")["conflicts"]
    own = [c for c in conflicts
           if not any(x["action"] == c["action"] and x.get("resource") == c["resource"] and x["ts"] <= c["ts"]
                      for x in answered_lost)]
    assert not own, f"{len(own)} conflicting operations not a lost answer's retry: {own[:5]}"
    assert len(conflicts) <= len(answered_lost), f"{len(conflicts)} conflicts for {len(answered_lost)} lost answers"
    per_instance = len(calls) / len(ids)
    assert per_instance <= MAX_CALLS_PER_INSTANCE, f"{per_instance:.1f} AWS calls per instance under faults"
