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
    {"cutover-method", OPT_ENUM, "rename", "rename", NULL,
     "rename swap (DMS cannot read through an RDS Proxy; dms-cdc switches by rename only)", false},
    FC_OPT_WINDOW,
    FC_OPT_DB_SECRET,
    {"read-only-tables", OPT_STRING, NULL, "", NULL,
     "tables without a primary key that take no UPDATE or DELETE during the run (schema.table, comma-separated): "
     "DMS carries their INSERTs only; any other keyless table fails preflight", false},
    {"replica-identity-full", OPT_BOOL, NULL, "", NULL,
     "give tables without a primary key REPLICA IDENTITY FULL at prepare-source (else pg-logical's check fails "
     "them); DMS still needs them in --read-only-tables", false},
    {"accept-types", OPT_BOOL, NULL, "", NULL,
     "accept columns DMS does not carry exactly (unconstrained NUMERIC, OID large objects) instead of failing", false},
    {"allow-reboot", OPT_BOOL, NULL, "", NULL,
     "reboot a source whose parameter group waits for one for rds.logical_replication (inside --window)", false},
    {"rekey", OPT_BOOL, NULL, "", NULL,
     "move a source encrypted with another KMS key to the campaign key (else it is skipped)", false},
    {"dms-instance-class", OPT_STRING, NULL, "dms.t3.medium", NULL,
     "class of the campaign's DMS replication instance (one, shared by the campaign's instances)", false},
    {"dms-validation", OPT_ENUM, "fleetcrypt|dms|both", "fleetcrypt", NULL,
     "evidence that the target equals the frozen source: fleetcrypt's full comparison after the switch against the "
     "snapshot pinned there (no added downtime), DMS's validation-only tasks at the cutover with writers blocked "
     "(adds their run time to the downtime; keyless tables: row counts only), or both", false},
    {"dms-ssl-mode", OPT_ENUM, "none|require|verify-ca|verify-full", "require", NULL,
     "SslMode of DMS's endpoints", false},
    {"dms_storage_gb", OPT_INT, "5..6144", "", NULL, "the replication instance's storage (50 GB)", true},
    {"dms_subnet_group", OPT_STRING, NULL, "", NULL, "its replication subnet group (AWS's default)", true},
    {"dms_security_groups", OPT_STRING, NULL, "", NULL, "its VPC security groups, comma-separated", true},
    {"catchup_lag_bytes", OPT_BYTES, NULL, "", NULL, "lag under which DMS counts as caught up (1 MiB)", true},
    {"catchup_stable_s", OPT_INT, "0..86400", "", NULL, "how long the lag must stay under it (10 s)", true},
    {"max_retained_wal_bytes", OPT_BYTES, NULL, "", NULL, "abort when the slots retain more WAL than this", true},
    {"min_free_storage_bytes", OPT_BYTES, NULL, "", NULL, "abort when the source's free storage falls below this", true},
    {"prepared_wait_s", OPT_INT, "0..86400", "", NULL, "how long prepare-source waits for prepared transactions (600 s)", true},
    {"seq_margin", OPT_INT, "0..1000000000", "", NULL, "added to each sequence on the target at cutover (100)", true},
    {"switch_poll_s", OPT_INT, "1..3600", "", NULL, "how long the cutover polls a rename inside one run (90 s)", true},
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
        "sequences, rename swap: minutes on AWS). Tables without a primary key must be declared read-only "
        "(--read-only-tables) or they fail preflight",
    .dry_run_note = "database and DMS checks run in the workers' preflight",
    .required_param = "rds.logical_replication",
    .required_value = "1",
    .rekey_option = "rekey",
    .reboot_option = "allow-reboot",
    .proxy_cluster_note = NULL,
};
