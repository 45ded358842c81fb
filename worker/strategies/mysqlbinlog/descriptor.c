/* descriptor — strategy "mysql-binlog" (mysqlbinlog.h says how it works;
 * docs/mysql-binlog.md for operators): its steps, options, admission cost,
 * undo and downtime note. */
#include "mysqlbinlog.h"

#include <stdio.h>

#include "util.h"
#include "strategy_opts.h"

/* From prepare-source until the switch a failure is undone by `abort`
 * (replication user, read replica, target, snapshots; writers let in again
 * on the source), and the instance ends `failed` with its reason. */
#define UNDO "abort"
static const step_def steps[] = {
    /* name             next              class      deadline attempts on_fail */
    {"preflight", "prepare-source", NULL, 600, 8, NULL},
    {"prepare-source", "replica", NULL, 900, 8, UNDO},
    {"replica", "snapshot", NULL, 7200, 8, UNDO},
    {"snapshot", "copy-encrypted", NULL, 7200, 8, UNDO},
    {"copy-encrypted", "restore", "copy", 7200, 8, UNDO},
    {"restore", "find-binlog-position", "restore", 7200, 8, UNDO},
    {"find-binlog-position", "replicate", NULL, 1200, 8, UNDO},
    {"replicate", "catch-up", NULL, 900, 8, UNDO},
    {"catch-up", "cutover", NULL, 3600, 8, UNDO},
    /* cutover: abort refuses after the switch */
    {"cutover", "verify", "cutover", 1800, 5, UNDO},
    {"verify", "cleanup", NULL, 14400, 5, NULL},
    {"cleanup", NULL, NULL, 1800, 8, NULL},
    {"abort", NULL, NULL, 1800, 20, NULL},
};

static const opt_def opts[] = {
    {"cutover", OPT_ENUM, "auto|approve", "auto", NULL,
     "cut over as soon as caught up (auto) or wait, caught up, for `fleetcrypt approve` (approve)", false},
    {"cutover-method", OPT_ENUM, "rename|cname", "rename", NULL,
     "rename swap (the encrypted instance takes the identifier; minutes on AWS) or switch the application's "
     "Route 53 CNAME (instance tag fleetcrypt:cname or campaign file field cname) to the encrypted instance, "
     "which keeps its own identifier (instances; Aurora MySQL clusters: rename)", false},
    FC_OPT_WINDOW,
    FC_OPT_DB_SECRET,
    {"rekey", OPT_BOOL, NULL, "", NULL,
     "move a source encrypted with another KMS key (aws/rds, another CMK) to the campaign key (else it is skipped)",
     false},
    {"app-accounts", OPT_STRING, NULL, "", NULL,
     "accounts the cutover locks, 'user@host,...' (default: every account but the master user, RDS's and "
     "fleetcrypt's)", false},
    {"binlog_retention_hours", OPT_INT, "1..168", "24", NULL,
     "binlog retention set on the source with mysql.rds_set_configuration", true},
    {"catchup_lag_bytes", OPT_BYTES, NULL, "", NULL, "binlog bytes behind under which catch-up is done (1 MiB)",
     true},
    FC_OPTS_CNAME_FIELDS,
    {"switch_poll_s", OPT_INT, "1..3600", "", NULL,
     "how long the cutover polls a rename or the CNAME's INSYNC inside one run (90 s)", true},
    {"compare_budget_ms", OPT_INT, "1..86400000", "", NULL,
     "time the cutover compares inside the write-blocked window (default and at most: half of what its run has "
     "left); the tables it does not reach are compared after the switch", true},
    {"verify_chunk_rows", OPT_INT, "1..10000000", "", NULL, "rows per hashed chunk in the comparison (1000)", true},
};

const strategy_def fc_strategy_mysqlbinlog = {
    .name = "mysql-binlog",
    .summary = "restore seeded at an exact binlog position (a stopped read replica's; an Aurora MySQL restore's "
               "crash-recovery event) + binlog replication; writes stop only at cutover",
    .engines = "mysql mariadb aurora-mysql",
    .steps = steps,
    .nsteps = FC_ARRAY_LEN(steps),
    .opts = opts,
    .nopts = FC_ARRAY_LEN(opts),
    .quota_instances = 2,
    .quota_snapshots = 2,
    .uses_aws = true,
    .abort_undo = "replication user, read replica, target (instance or cluster) and snapshots, application "
                  "accounts unlocked, until the switch; after it nothing",
    .downtime_note =
        "mysql-binlog: sources stay online; application accounts are locked and their sessions ended only "
        "during each cutover (drain, compare, rename swap: minutes on AWS; Route 53's propagation, about a "
        "minute, with --cutover-method cname). The master user is never locked: "
        "applications must not write as it",
    .dry_run_note = "database checks run in the workers' preflight",
    .proxy_cluster_note = "after the cluster renames, with writers still blocked, the proxy's target is switched "
                          "to the encrypted cluster (same proxy endpoint for clients)",
    .proxy_instance_note = "after the rename swap, with writers still blocked, the proxy's target is switched to "
                           "the encrypted instance (same proxy endpoint for clients); --cutover-method cname "
                           "refuses it at preflight (the proxy would keep the retired source)",
    .required_param = "binlog_format",
    .required_value = "ROW",
    .rekey_option = "rekey",
};
