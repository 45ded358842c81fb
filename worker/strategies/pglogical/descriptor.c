/* descriptor — strategy "pg-logical" (pglogical.h says how it works; every
 * step, its facts and what abort undoes: docs/pg-logical-steps.md): its
 * steps, options, admission cost, undo and downtime note. */
#include "pglogical.h"

#include "util.h"
#include "strategy_opts.h"
#include "duration.h"

/* A failure from prepare-source (which may have made a slot before it
 * failed) until the cutover switched would leave the slot retaining WAL on
 * the production source with nobody watching: those steps name `abort` as
 * their on_fail, so the failure is undone (slots, publications, guard,
 * roles, target, snapshots) and the instance ends `failed` with its
 * original reason (pgl_step_abort, fact undo_from). After the switch there
 * is no slot left, and nothing may be undone. */
#define HOLDS_WAL "abort"
static const step_def steps[] = {
    /* name             next              class      deadline attempts on_fail */
    {"preflight", "prepare-source", NULL, 600, 8, NULL},
    {"prepare-source", "snapshot", NULL, 900, 8, HOLDS_WAL},
    {"snapshot", "copy-encrypted", NULL, 7200, 8, HOLDS_WAL},
    {"copy-encrypted", "restore", "copy", 7200, 8, HOLDS_WAL},
    {"restore", "prepare-target", "restore", 7200, 8, HOLDS_WAL},
    {"prepare-target", "find-start-lsn", NULL, 900, 8, HOLDS_WAL},
    {"find-start-lsn", "subscribe", NULL, 600, 8, HOLDS_WAL},
    {"subscribe", "catch-up", NULL, 600, 8, HOLDS_WAL},
    {"catch-up", "cutover", NULL, 3600, 8, HOLDS_WAL},
    /* cutover: abort refuses after the switch and then ends the instance failed, undoing nothing */
    {"cutover", "rollback-window", "cutover", 1800, 5, HOLDS_WAL},
    /* --rollback-window: reverse replication until `fleetcrypt finalize` (or the window's end: on to
     * verify) or `fleetcrypt rollback` (to rollback, which ends through abort); without it, straight on */
    {"rollback-window", "verify", NULL, 86400, 8, NULL},
    {"verify", "replicas", NULL, 14400, 5, NULL},
    {"replicas", "cleanup", NULL, 7200, 8, NULL},
    {"cleanup", NULL, NULL, 1800, 8, NULL},
    /* not reachable by next: run by the runner on abort_requested, by a step's STEP_NEXT, or as on_fail */
    {"abort", NULL, NULL, 1800, 20, NULL},
    /* not reachable by next: the window's STEP_NEXT on `fleetcrypt rollback` */
    {"rollback", NULL, "cutover", 1800, 8, NULL},
};

/* What each step waits on, at the least (step_floor): the snapshot, the
 * restore, and cleanup's stop of the retired source (its other waits, the
 * target applying the source's rotated master password or busy with a
 * modification, take no less on AWS); not the cutover (its in-run awaits'
 * lateness is downtime) */
static const step_floor floors[] = {
    {"snapshot", STEP_FLOOR_SNAPSHOT_S},
    {"restore", STEP_FLOOR_RESTORE_S},
    {"cleanup", STEP_FLOOR_STOP_S},
};

/* Defaults the step code applies itself are left "" here and named in the
 * help line. */

static const opt_def opts[] = {
    {"cutover", OPT_ENUM, "auto|approve", "auto", NULL,
     "switch as soon as caught up (auto) or wait for `fleetcrypt approve` (approve)", false},
    {"cutover-method", OPT_ENUM, "rename|proxy|cname", "rename", NULL,
     "rename swap (minutes on AWS), switch an RDS Proxy's target (seconds), or switch the application's Route 53 "
     "CNAME (the instance's or Aurora cluster's tag fleetcrypt:cname, or campaign file field cname) to the "
     "encrypted instance or cluster", false},
    FC_OPT_WINDOW,
    {"rollback-window", OPT_STRING, NULL, "", duration_opt_check,
     "keep the old source as a read-only standby fed back by logical replication for DURATION (e.g. 48h) after "
     "the switch: `fleetcrypt rollback` cuts back without losing a write, `fleetcrypt finalize` (or the "
     "window's end) retires it (Aurora clusters: with --cutover-method cname only)",
     false},
    FC_OPT_DB_SECRET,
    FC_OPTS_TARGET_ACCOUNT,
    {"validate", OPT_ENUM, "normal|strict", "normal", NULL,
     "compare every table after the switch (normal) or inside the blocked window too (strict)", false},
    {"prewarm", OPT_ENUM, "on|off", "on", NULL, "read the restored target's tables during catch-up", false},
    {"live-validate", OPT_ENUM, "on|off", "on", NULL, "compare chunks of tables during catch-up", false},
    {"replica-identity-full", OPT_BOOL, NULL, "", NULL,
     "give tables without a primary key REPLICA IDENTITY FULL (else they fail preflight)", false},
    {"allow-reboot", OPT_BOOL, NULL, "", NULL,
     "reboot a source whose parameter group waits for one (inside --window); for an Aurora cluster also set "
     "rds.logical_replication=1 in a fleetcrypt-owned copy of its cluster parameter group", false},
    {"rekey", OPT_BOOL, NULL, "", NULL,
     "move a source encrypted with another KMS key (aws/rds, another CMK) to the campaign key (else it is skipped)",
     false},
    {"initial-copy", OPT_ENUM, "auto|never|always", "auto", NULL,
     "Aurora clusters: fill a new cluster made with the campaign key by logical replication with initial copy "
     "(reads the whole database) instead of restoring the snapshot: auto when AWS refuses to restore an "
     "AWS-owned-key snapshot under the campaign key, always, or never (the source fails)", false},
    {"proxy_name", OPT_STRING, NULL, "", NULL, "the RDS Proxy to switch (default: every proxy in front of the source)", true},
    FC_OPTS_CNAME_FIELDS,
    {"catchup_lag_bytes", OPT_BYTES, NULL, "", NULL, "lag under which catch-up counts as caught up (1 MiB)", true},
    {"catchup_stable_s", OPT_INT, "0..86400", "", NULL, "how long the lag must stay under it (10 s)", true},
    {"max_retained_wal_bytes", OPT_BYTES, NULL, "", NULL, "abort when the slots retain more WAL than this (no limit)", true},
    {"min_free_storage_bytes", OPT_BYTES, NULL, "", NULL, "abort when the source's free storage falls below this", true},
    {"prepared_wait_s", OPT_INT, "0..86400", "", NULL, "how long prepare-source waits for prepared transactions (600 s)", true},
    {"seq_margin", OPT_INT, "0..1000000000", "", NULL, "added to each sequence on the target at cutover (100)", true},
    {"switch_poll_s", OPT_INT, "1..3600", "", NULL, "how long the cutover polls a rename inside one run (90 s)", true},
    {"prewarm_budget_ms", OPT_INT, "1..600000", "", NULL, "prewarm time per catch-up run (2000 ms)", true},
    {"live_budget_ms", OPT_INT, "1..600000", "", NULL, "live validation time per catch-up run (2000 ms)", true},
    {"live_chunk_rows", OPT_INT, "1..10000000", "", NULL, "rows per live-validation chunk (5000)", true},
    {"live_strikes", OPT_INT, "1..100", "", NULL, "unstable passes before a chunk is suspect (3)", true},
};

const strategy_def fc_strategy_pglogical = {
    .name = "pg-logical",
    .summary = "snapshot + logical replication from a slot made before it; writes stop only at each cutover",
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
    .abort_undo = "slots, publications, guard, roles, target and snapshots, until the switch; after it nothing",
    .downtime_note =
        "pg-logical: sources stay online; writes stop only during each cutover (block, drain, switch: seconds "
        "with --cutover-method proxy, Route 53's propagation (about a minute) with cname, minutes for a rename swap on AWS, where the rename and its DNS take that "
        "long). Passwords changed on a source after its snapshot are NOT carried over (RDS does not expose "
        "password hashes): do not rotate database passwords during the campaign",
    .dry_run_note = "database checks run in the workers' preflight",
    .required_param = "rds.logical_replication",
    .required_value = "1",
    .rekey_option = "rekey",
    .reboot_option = "allow-reboot",
    .proxy_instance_note = "switched to the encrypted instance with --cutover-method proxy only (the rename "
                           "swap leaves the proxy on the retired source)",
    .proxy_cluster_note = "the proxy cutover will be used: after the cluster renames, the proxy's target is "
                          "switched to the encrypted cluster (same proxy endpoint for clients)",
};
