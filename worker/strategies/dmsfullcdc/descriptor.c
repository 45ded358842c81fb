/* descriptor — strategy "dms-full-cdc" (dmsfullcdc.h says how it works;
 * operators: docs/dms-full-cdc.md): its steps, options, admission cost, undo
 * and downtime note. The options are dms-cdc's (its steps read them). */
#include "dmsfullcdc.h"

#include "dmscdc.h"

#include "util.h"
#include "strategy_opts.h"

/* From prepare-source (a slot on the production source) until the switch,
 * a failure runs `abort`: DMS resources, slot, target and snapshots go, the
 * source is as before (the keys and triggers were held on the target only),
 * and the instance ends failed with its reason. */
#define HOLDS_WAL "abort"
static const step_def steps[] = {
    /* name                   next                    class      deadline attempts on_fail */
    {"preflight", "prepare-source", NULL, 600, 8, NULL},
    {"prepare-source", "snapshot", NULL, 900, 8, HOLDS_WAL},
    {"snapshot", "copy-encrypted", NULL, 7200, 8, HOLDS_WAL},
    {"copy-encrypted", "restore", "copy", 7200, 8, HOLDS_WAL},
    {"restore", "prepare-target", "restore", 7200, 8, HOLDS_WAL},
    {"prepare-target", "hold-target", NULL, 900, 8, HOLDS_WAL},
    {"hold-target", "replication-instance", NULL, 900, 8, HOLDS_WAL},
    {"replication-instance", "endpoints", NULL, 3600, 8, HOLDS_WAL},
    {"endpoints", "start-task", NULL, 900, 8, HOLDS_WAL},
    {"start-task", "catch-up", NULL, 1800, 8, HOLDS_WAL},
    {"catch-up", "cutover", NULL, 86400, 8, HOLDS_WAL},
    {"cutover", "validate-keys", "cutover", 1800, 5, HOLDS_WAL},
    {"validate-keys", "verify", NULL, 14400, 8, NULL},
    {"verify", "replicas", NULL, 14400, 5, NULL},
    {"replicas", "cleanup", NULL, 7200, 8, NULL},
    {"cleanup", NULL, NULL, 3600, 8, NULL},
    {"abort", NULL, NULL, 3600, 20, NULL},
};

static const opt_def opts[] = {
    {"cutover", OPT_ENUM, "auto|approve", "auto", NULL,
     "switch as soon as DMS loaded and caught up (auto) or wait for `fleetcrypt approve` (approve)", false},
    DMS_OPT_CUTOVER_METHOD,
    FC_OPT_WINDOW,
    FC_OPT_DB_SECRET,
    FC_OPTS_DMS_SOURCE,
    FC_OPTS_DMS_TUNING,
    DMS_OPTS_SWITCH_FIELDS,
    {"dms-target", OPT_ENUM, "restore|empty", "restore", NULL,
     "restore the target from the encrypted snapshot (restore), or create it empty with the source's "
     "configuration and the campaign key and copy the source's schema with pg_dump --schema-only (empty: no "
     "snapshot; login roles come without passwords)",
     false},
    {"initial-copy", OPT_ENUM, "never", "never", NULL,
     "pg-logical's initial-copy path is not used (DMS's full load fills the target)", true},
};

const strategy_def fc_strategy_dmsfullcdc = {
    .name = "dms-full-cdc",
    .summary = "snapshot restore, then an AWS DMS full-load-and-cdc task with the target's foreign keys and "
               "triggers held and given back at the cutover",
    .engines = "postgres",
    .steps = steps,
    .nsteps = FC_ARRAY_LEN(steps),
    .opts = opts,
    .nopts = FC_ARRAY_LEN(opts),
    .quota_instances = 1,
    .quota_snapshots = 2,
    .uses_aws = true,
    .abort_undo = "DMS tasks and endpoints, slot, publication, guard, roles, target and snapshots, until the "
                  "switch (the keys and triggers were held on the target only); after it nothing",
    .downtime_note =
        "dms-full-cdc: sources stay online while AWS DMS reloads every table and replicates (a replication "
        "instance per campaign is billed while it runs); writes stop only during each cutover (block, drain "
        "through DMS, stop the task, sequences, foreign keys added back NOT VALID and triggers re-enabled, switch "
        "by rename, RDS Proxy or CNAME; the keys are validated after writers are back). Tables without a primary key must be declared "
        "read-only (--read-only-tables) or they fail preflight",
    .dry_run_note = "database and DMS checks run in the workers' preflight",
    .required_param = "rds.logical_replication",
    .required_value = "1",
    .rekey_option = "rekey",
    .reboot_option = "allow-reboot",
    .proxy_instance_note = "switched to the encrypted instance with --cutover-method proxy only (the rename "
                           "swap leaves the proxy on the retired source)",
    .proxy_cluster_note = NULL,
};
