/* descriptor — strategy "dms-cdc" (dmscdc.h says how it works; operators:
 * docs/dms.md): its steps, options, admission cost, undo and downtime note. */
#include "dmscdc.h"

#include "util.h"
#include "strategy_opts.h"

/* From prepare-source (a slot on the production source) until the switch,
 * a failure runs `abort`: DMS resources, slot, target and snapshots go, the
 * source is as before, and the instance ends failed with its reason. */
#define HOLDS_WAL "abort"
static const step_def steps[] = {
    /* name                   next                    class      deadline attempts on_fail */
    {"preflight", "prepare-source", NULL, 600, 8, NULL},
    {"prepare-source", "snapshot", NULL, 900, 8, HOLDS_WAL},
    {"snapshot", "copy-encrypted", NULL, 7200, 8, HOLDS_WAL},
    {"copy-encrypted", "restore", "copy", 7200, 8, HOLDS_WAL},
    {"restore", "prepare-target", "restore", 7200, 8, HOLDS_WAL},
    {"prepare-target", "find-start-lsn", NULL, 900, 8, HOLDS_WAL},
    {"find-start-lsn", "replication-instance", NULL, 600, 8, HOLDS_WAL},
    {"replication-instance", "endpoints", NULL, 3600, 8, HOLDS_WAL},
    {"endpoints", "start-task", NULL, 900, 8, HOLDS_WAL},
    {"start-task", "catch-up", NULL, 1800, 8, HOLDS_WAL},
    {"catch-up", "cutover", NULL, 3600, 8, HOLDS_WAL},
    {"cutover", "verify", "cutover", 1800, 5, HOLDS_WAL},
    {"verify", "replicas", NULL, 14400, 5, NULL},
    {"replicas", "cleanup", NULL, 7200, 8, NULL},
    {"cleanup", NULL, NULL, 3600, 8, NULL},
    {"abort", NULL, NULL, 3600, 20, NULL},
};

static const opt_def opts[] = {
    {"cutover", OPT_ENUM, "auto|approve", "auto", NULL,
     "switch as soon as DMS caught up (auto) or wait for `fleetcrypt approve` (approve)", false},
    DMS_OPT_CUTOVER_METHOD,
    FC_OPT_WINDOW,
    FC_OPT_DB_SECRET,
    FC_OPTS_DMS_SOURCE,
    {"dms-validation", OPT_ENUM, "fleetcrypt|dms|both", "fleetcrypt", NULL,
     "evidence that the target equals the frozen source: fleetcrypt's full comparison after the switch against the "
     "snapshot pinned there (no added downtime), DMS's validation-only tasks at the cutover with writers blocked "
     "(adds their run time to the downtime; keyless tables: row counts only), or both", false},
    FC_OPTS_DMS_TUNING,
    DMS_OPTS_SWITCH_FIELDS,
    {"initial-copy", OPT_ENUM, "never", "never", NULL,
     "pg-logical's initial-copy path is not used by dms-cdc (Aurora clusters are pg-logical's)", true},
};

const strategy_def fc_strategy_dmscdc = {
    .name = "dms-cdc",
    .summary = "snapshot + a CDC-only AWS DMS task from the restored instance's exact end of WAL",
    .engines = "postgres",
    .steps = steps,
    .nsteps = FC_ARRAY_LEN(steps),
    .opts = opts,
    .nopts = FC_ARRAY_LEN(opts),
    .quota_instances = 1,
    .quota_snapshots = 2,
    .uses_aws = true,
    .abort_undo = "DMS tasks and endpoints, slot, publication, guard, roles, target and snapshots, until the "
                  "switch; after it nothing",
    .downtime_note =
        "dms-cdc: sources stay online while AWS DMS replicates (a replication instance per campaign is billed "
        "while it runs); writes stop only during each cutover (block, drain through DMS, stop the task, "
        "sequences, switch: seconds with --cutover-method proxy, Route 53's propagation with cname, minutes for "
        "a rename swap on AWS). Tables without a primary key must be declared read-only "
        "(--read-only-tables) or they fail preflight",
    .dry_run_note = "database and DMS checks run in the workers' preflight",
    .required_param = "rds.logical_replication",
    .required_value = "1",
    .rekey_option = "rekey",
    .reboot_option = "allow-reboot",
    .proxy_instance_note = "switched to the encrypted instance with --cutover-method proxy only (the rename "
                           "swap leaves the proxy on the retired source)",
    .proxy_cluster_note = NULL,
};
