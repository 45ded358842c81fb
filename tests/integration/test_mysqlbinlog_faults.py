"""A mysql-binlog campaign under AWS faults: every AWS call may be throttled
(throttle_rate 0.2), fail with a 5xx (http5xx_rate 0.05) and answers
LATENCY_MS late, at emulator time scale 0.02 (every AWS duration real, 50x
shorter), one `mysql` and one `mariadb` instance with an application writer
each (keyed and keyless table). The faults are switched on with the time
scale, just before submit, and off once the campaign is terminal.

Asserted as in test_mysqlbinlog.py (run_campaign): every instance done, the
identifier encrypted with its endpoint unchanged, every acknowledged number
exactly once on the encrypted instance, every table compared, the retired
source stopped and tagged, nothing of fleetcrypt's left; and that the
faults really refused calls fleetcrypt made (actions the test never calls)."""
import pytest

from test_mysqlbinlog import run_campaign

LATENCY_MS = 150
FAULTS = {"throttle_rate": 0.2, "http5xx_rate": 0.05, "latency_ms": LATENCY_MS}
NO_FAULTS = {"throttle_rate": 0, "http5xx_rate": 0, "latency_ms": 0}
# what the test itself calls; every other refused action was fleetcrypt's
TEST_ACTIONS = {"CreateDBParameterGroup", "ModifyDBParameterGroup", "CreateDBInstance", "DescribeDBInstances",
                "ListTagsForResource", "CreateKey", "DescribeDBSnapshots"}


class _FaultsWithTimeScale:
    """The emulator handle run_campaign gets: its time-scale switch (on just
    before submit, back to 0 once terminal) carries the faults along."""

    def __init__(self, sim):
        self._sim = sim

    def __getattr__(self, name):
        return getattr(self._sim, name)

    def admin(self, method, route, body=None, **kw):
        if method == "POST" and route == "/config" and body and "time_scale" in body:
            body = dict(body, faults=FAULTS if body["time_scale"] else NO_FAULTS)
        return self._sim.admin(method, route, body, **kw)


@pytest.mark.slow
def test_mysqlbinlog_campaign_under_aws_faults(stack, awssim, world):
    awssim.admin("DELETE", "/calls")
    run_campaign(stack, _FaultsWithTimeScale(awssim), world, "myflt", {"my-flt-a": "mysql", "maria-flt-b": "mariadb"},
                 scale=0.02)
    calls = awssim.admin("GET", "/calls", timeout=120)["calls"]
    refused = [c for c in calls if c.get("error") and c.get("action") not in TEST_ACTIONS]
    print(f"faults {FAULTS}: {len(refused)} of fleetcrypt's calls refused of {len(calls)}", flush=True)
    assert len(refused) >= 5, f"only {len(refused)} of fleetcrypt's calls were refused: the faults did not apply"
