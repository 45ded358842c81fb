/* descriptor — strategy "offline" (offline.h says how it works): its steps,
 * options, admission cost, undo and downtime note. */
#include "offline.h"

#include "util.h"
#include "strategy_opts.h"

static const step_def steps[] = {
    /* name             next                class      deadline attempts on_fail */
    {"preflight", "rename-source", NULL, 300, 8, NULL},
    {"rename-source", "stop-source", "cutover", 1800, 8, NULL},
    {"stop-source", "snapshot", NULL, 1800, 8, NULL},
    {"snapshot", "copy-encrypted", NULL, 7200, 8, NULL},
    {"copy-encrypted", "restore", "copy", 7200, 8, NULL},
    {"restore", "configure-target", "restore", 7200, 8, NULL},
    {"configure-target", "retire-source", NULL, 1800, 8, NULL},
    {"retire-source", "cleanup", NULL, 600, 8, NULL},
    {"cleanup", NULL, NULL, 900, 8, NULL},
};

/* What each step waits on, at the least (step_floor; the cutover class's
 * rename-source waits on the fleet poller, its lateness inside the offline
 * downtime of minutes) */
static const step_floor floors[] = {
    {"rename-source", STEP_FLOOR_RENAME_S},
    {"stop-source", STEP_FLOOR_STOP_S},
    {"snapshot", STEP_FLOOR_SNAPSHOT_S},
    {"restore", STEP_FLOOR_RESTORE_S},
};

static const opt_def opts[] = {
    {"rekey", OPT_BOOL, NULL, "", NULL,
     "move a source encrypted with another KMS key (aws/rds, another CMK) to the campaign key (else it is skipped)",
     false},
    FC_OPTS_TARGET_ACCOUNT,
    {"replicas", OPT_ENUM, "fail|ignore", "fail", NULL,
     "a source with read replicas fails preflight (fail) or is encrypted without them (ignore)", true},
};

const strategy_def fc_strategy_offline = {
    .name = "offline",
    .summary = "stop each source, snapshot, copy with the key, restore under the same name (downtime: the whole run)",
    .engines = "postgres aurora-postgresql",
    .steps = steps,
    .nsteps = FC_ARRAY_LEN(steps),
    .opts = opts,
    .nopts = FC_ARRAY_LEN(opts),
    .wait_floors = floors,
    .nwait_floors = FC_ARRAY_LEN(floors),
    .quota_instances = 1,
    .quota_snapshots = 2,
    .uses_aws = true,
    .abort_undo = NULL,
    .downtime_note = "offline: each source instance is STOPPED first and stays unavailable for the whole run "
                     "(snapshot, encrypted copy, restore, rename swap)",
    .dry_run_note = "it will be STOPPED for the whole run",
    .required_param = NULL,
    .required_value = NULL,
    .rekey_option = "rekey",
    .proxy_cluster_note = "after the restore the proxy's target is switched to the encrypted cluster (same proxy "
                          "endpoint for clients; down with the cluster for the whole run)",
};
