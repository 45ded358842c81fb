"""A pg-logical campaign with the emulator at time scale 0.02 (issue 11,
"the emulator must behave like RDS"): every AWS duration is real, scaled
down 50× — a rename takes 1.2 s and reboots the instance, the
identifier's endpoint keeps reaching the old server for the modelled DNS
lag (1.8 s) — where every other campaign test runs at scale 0 (instant,
no lag). Two instances with an application-role writer each (keyed and
keyless table), rename cutover. Asserted:

- every instance done;
- A2: every acknowledged number exactly once on the encrypted instance
  now behind the original identifier (reached through its endpoint, and
  the endpoint really reaches that instance's server);
- the application role can log in to the encrypted instance;
- the retired source is stopped, tagged, still blocked (no application
  role may log in), holds no row the target lacks, and keeps no slot,
  publication or subscription;
- no duplicate create: none in the emulator's conflict log, and no create
  action of fleetcrypt's succeeded more than once per instance (call log);
- fleetcrypt's AWS calls per instance (the call log's entries signed with
  the stack's key; the test's own calls use a second key) stay under
  MAX_CALLS_PER_INSTANCE;
- no ModifyDBInstance of fleetcrypt's refused: the swap renames the target
  to the original identifier only once AWS has applied the source's rename
  (AWS keeps a name taken until then, and answers the source's rename with
  the new identifier pending: a second rename sent at once was a wasted,
  refused call per instance).

MAX_CALLS_PER_INSTANCE is a count, not a time: today's campaign at scale 0
(this test with FC_TS_SCALE=0) makes CALLS_AT_SCALE_0 calls per instance;
polling that does not grow with AWS's wait time stays within 1.5× of it at
any scale. Measured on the tree this test was written on, at 0.02: 47.0
and 53.5 calls per instance in two runs (DescribeDBInstances grows with
AWS's wait time: the issue's "polling is not yet flat"), so until the
polling is flat this bound can fail. FC_TS_SCALE overrides the scale
(e.g. to re-measure at 0).
"""
import os

from pglogical_strategy_util import run_checked_campaign, split_awssim

split_awssim = split_awssim   # the fixture, imported for pytest
SCALE = float(os.environ.get("FC_TS_SCALE", "0.02"))
CALLS_AT_SCALE_0 = 35.5        # 2 instances, 71 calls: measured with FC_TS_SCALE=0 on this tree
MAX_CALLS_PER_INSTANCE = 54   # ceil(1.5 * CALLS_AT_SCALE_0)
CAMPAIGN = "ts"


def refused_modifies(raw):
    bad = [(c.get("resource"), c.get("error")) for c in raw if c["action"] == "ModifyDBInstance" and c.get("error")]
    return [f"ModifyDBInstance refused {len(bad)} time(s): {bad}"] if bad else []


def test_pglogical_campaign_at_time_scale(split_awssim, world):
    run_checked_campaign(split_awssim, world, ["ts-a", "ts-b"], CAMPAIGN, f"time scale {SCALE}",
                         MAX_CALLS_PER_INSTANCE, CALLS_AT_SCALE_0, during={"time_scale": SCALE},
                         after={"time_scale": 0, "rate": {"enabled": False}}, extra_problems=refused_modifies)
