"""Shared pytest fixtures: real servers on free loopback ports, always torn down.

- `world`: a per-test directory that the `postgres` user can traverse
  (pytest's own tmp dirs are 0700 and root-owned, PostgreSQL runs unprivileged).
- `pg_template`: one `initdb` per test run (as `postgres` when we are root),
  copied for every server that needs a fresh cluster — much faster than initdb.
- `redis_server`, `kafka_dev`: started per test from the real binaries.
- emulator fixtures live in fixtures_awssim.py, orchestration ones in
  fixtures_stack.py, the C AWS client's `standin` and `driver_built` in
  awsclient_standin.py and awsclient_util.py; all are imported here so
  every test sees them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from fclib import *  # noqa: F401,F403  (helpers: free_port, wait_until, servers)

try:
    from fixtures_awssim import *  # noqa: F401,F403
except ImportError as e:  # the emulator fixtures may not exist yet
    if "fixtures_awssim" not in str(e):
        raise
try:
    from fixtures_stack import *  # noqa: F401,F403
except ImportError as e:
    if "fixtures_stack" not in str(e):
        raise
# the C AWS client's tests (test_awsclient_*): the loopback stand-in, the driver check
from awsclient_standin import standin  # noqa: F401,E402
from awsclient_util import driver_built  # noqa: F401,E402


# With `tests/run`'s processes (pytest-xdist, whole files per process),
# files are handed out in collection order: a long file collected last leaves
# one process running alone at the end. Longest first (rough seconds of a
# file on the 2-core CI machine, from a full run's --durations) keeps them
# busy; files not listed follow in their usual order. Order only: no test
# depends on another file's. Refreshed from the full run of 2026-12-06
# 17:34 (tests now marked slow left out).
FILE_SECONDS = {
    "test_dmscdc_faults.py": 460,
    "test_demo.py": 301,
    "test_pglogical_strategy_abort.py": 330,  # the hung-target test holds its sessions through a retry
    "test_pglogical_cutover_resume.py": 202,
    "test_dmscdc_validation.py": 200,
    "test_orch_campaign.py": 162,
    "test_pglogical_clusters.py": 146,
    "test_orch_resilience.py": 126,
    "test_mysqlbinlog_window.py": 124,
    "test_chaos_short.py": 124,  # two more crash points (cutover.target_blocked, cutover.disabled)
    "test_awssim_dms.py": 108,
    "test_pglogical_initial_copy.py": 107,
    "test_awssim_aurora_mysql.py": 106,
    "test_pglogical_strategy_flow.py": 105,
    "test_dmscdc.py": 100,
    "test_dmsfullcdc.py": 85,
    "test_pglogical_cname.py": 55,
    "test_pglogical_xacct.py": 43,  # the preflight refusals (instances, clusters); the moves are slow
    "test_pglogical_rollback.py": 0,  # slow only (eight: seven runs of 60-130 s (rename, proxy, cname, clusters), one cluster refusal of ~20 s)
    "test_poll_floors.py": 0,  # slow only (two offline campaigns at 0.02, floors on and off, ~15 s each)
    "test_offline_faults.py": 0,  # slow only (an offline campaign at 0.02 under AWS faults and lost answers, ~4.5 min)
    "test_pglogical_cluster_faults.py": 0,  # slow only (two cluster campaigns at 0.02 under AWS faults, ~2.5 min each)
    "test_issue16_faults.py": 0,  # slow only (issue 16's flows, the rename swap and the rollback's renames under AWS faults, minutes each)
    "test_dmscdc_switch.py": 15,  # CI: the preflight refusal only (the proxy and cname runs are slow)
    "test_dmscdc_capacity.py": 0,  # slow only
    "test_mysqlbinlog_cname.py": 0,  # slow only (three campaigns, ~35-45 s each at time scale 0; the refusals ~25 s)
    "test_awssim_addresses.py": 10,
    "test_awssim_xacct.py": 12,  # CI: share -> assume role -> copy -> restore and its refusals; the rest slow
    "test_awssim_clusters.py": 93,
    "test_pglogical_cutover_checks.py": 91,
    "test_pglogical_faults.py": 90,
    "test_pglogical_timescale.py": 87,
    "test_awssim_data.py": 81,
    "test_pglogical_strategy_parity.py": 78,
    "test_pglogical_replicas.py": 77,
    "test_retired_sources.py": 71,
    "test_offline_clusters.py": 70,
    "test_mysqlbinlog_crash.py": 69,
    "test_awssim_api.py": 67,
    "test_master_secret_rotation.py": 67,
    "test_mysqlbinlog.py": 65,
    "test_mysqlbinlog_aurora.py": 64,
    "test_pglogical_prepared.py": 63,
    "test_cli_ops.py": 62,
    "test_awsclient_clusters.py": 60,
    "test_cli_report.py": 60,
    "test_pglogical_catchup_live.py": 60,
    "test_pglogical_cluster_proxy.py": 59,
    "test_awssim_route53.py": 56,
    "test_mysqlbinlog_abort.py": 49,
    "test_mysqlbinlog_boundary.py": 45,
    "test_worker_busy_leases.py": 45,
    "test_pglogical_boundary.py": 44,
    "test_deploy_image.py": 41,
    "test_pglogical_data_checks.py": 41,
    "test_awssim_mysql.py": 40,
    "test_kafka_dev.py": 38,
    "test_cli_output.py": 35,
    "test_mysqlbinlog_gate.py": 35,
    "test_metrics.py": 34,
    "test_dms_seed000.py": 33,
    "test_worker_lease_heartbeat.py": 32,
    "test_mysqlbinlog_parity.py": 30,
    "test_awsclient_awssim.py": 30,
    "test_cli_wait.py": 30,
    "test_pglogical_fail_undo.py": 30,
    "test_pglogical_privileges.py": 29,
    "test_rekey_campaign.py": 28,
    "test_health.py": 28,
    "test_outbox_produce_fail.py": 24,
    "test_stack.py": 24,
    "test_mysqlbinlog_proxy.py": 24,
    "test_orch_intent.py": 24,
    "test_cli_dry_run.py": 24,
    "test_pglogical_ops.py": 23,
    "test_cli_retire.py": 22,
}


def pytest_collection_modifyitems(session, config, items):
    order = {}
    for i, item in enumerate(items):
        order.setdefault(item.fspath.basename, i)
    items.sort(key=lambda it: (-FILE_SECONDS.get(it.fspath.basename, 0), order[it.fspath.basename]))
