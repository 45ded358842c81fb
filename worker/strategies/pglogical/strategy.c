/* strategy — the step functions of strategy "pg-logical", bound to the
 * steps of its descriptor (descriptor.c; see pglogical.h; every
 * step, its facts, its idempotence and what abort undoes at each point:
 * docs/pg-logical-steps.md).
 *
 * ENGINE HOOKS THIS STRATEGY ASSUMES (wired by the runner / coordinator / CLI):
 *  1. Campaign fields, read with step_ctx_campaign_field(): kms_key_arn,
 *     region, strategy, cutover_mode (auto|approve), cutover_method
 *     (rename|proxy|cname; cname, cname_ttl: shared/awscname.h), window ('DAYS HH:MM-HH:MM' UTC, "" = any time),
 *     validate (normal|strict), replica_identity_full, allow_reboot,
 *     keep_snapshots (truthy: 1/true/yes/on), db_secret (the --db-secret
 *     reference string), max_retained_wal_bytes (bytes, K/M/G/T suffixes
 *     allowed, "" = no limit). Optional extras, all with defaults:
 *     proxy_name, catchup_lag_bytes (1 MiB), catchup_stable_s (10),
 *     min_free_storage_bytes, seq_margin (100), switch_poll_s (90),
 *     prewarm (on|off, default on), prewarm_budget_ms (2000),
 *     live_validate (on|off, default on), live_budget_ms (2000),
 *     live_chunk_rows (5000), live_strikes (3) — catch-up's prewarm and
 *     live validation (catchup.c).
 *  2. Approval arrives as instance fact `approved=1` or campaign field
 *     `approved=1` (fleetcrypt approve). While waiting for it, cutover
 *     returns STEP_WAIT with res->reason starting "waiting for approval"
 *     and sets fact `waiting_approval=1` (back to 0 once approved); the
 *     record state `waiting_approval` is the runner's mapping of that.
 *  3. Abort: when the instance has `abort_requested=1` the runner runs this
 *     table's step `abort` (not reachable by `next`). abort decides from the
 *     facts and from what it observes what to undo and returns STEP_OK when
 *     everything is undone: the runner then marks the instance `aborted`
 *     (res->reason says why). abort may also return WAIT/RETRY like any
 *     step. After the switch abort refuses: it returns STEP_NEXT to
 *     `verify` or `cleanup` with res->reason "abort refused: …" and fact
 *     abort_refused; the runner should clear abort_requested then.
 *  4. Steps themselves abort the instance (DDL on the source, retained WAL
 *     over the limit or the disk nearly full, a failed subscription, a
 *     database added or dropped) by returning STEP_NEXT with res->next =
 *     "abort" and facts abort_reason=<why>, abort_auto=1; the runner must
 *     treat the `abort` step's STEP_OK as "aborted" whichever way it got
 *     there (step_plan would otherwise call abort's OK "done").
 *  5. Facts set by a step are written with its outcome, whatever the rc
 *     (WAIT included), and step_ctx_fact() sees facts set earlier in the
 *     same run (runner.c does both).
 *  6. Fact `dbs` holds the database names one per line; the worker's IAM
 *     policy must allow rds:DeleteDBInstance on instances tagged
 *     fleetcrypt:role=encrypted-target (abort deletes the target), which
 *     deploy/iam/fleetcrypt-worker-policy.json does not grant yet.
 *  8. Failure undo (lib/step.h): steps from prepare-source to cutover name
 *     `abort` as on_fail; a STEP_FAIL there (or retries given up) runs
 *     abort with facts undo_from/undo_reason (written by lua/step_end.lua),
 *     and abort ends the instance `failed` at undo_from (STEP_FAIL with
 *     res->next) once everything is undone — not `aborted`.
 *  7. Step `replicas` (replicas.c) re-creates the source's read
 *     replicas on the encrypted instance and retires the old ones; cleanup
 *     jumps back to it (STEP_NEXT) until fact replicas_done is set, so an
 *     abort refused after the switch that resumes at cleanup still passes
 *     through it. IAM: rds:CreateDBInstanceReadReplica, rds:PromoteReadReplica,
 *     rds:ModifyDBInstance (renames), rds:StopDBInstance, rds:AddTagsToResource.
 */
#include "pglogical.h"

#include "util.h"

static const step_impl fns[] = {
    {"preflight", pgl_step_preflight},
    {"prepare-source", pgl_step_prepare_source},
    {"snapshot", pgl_step_snapshot},
    {"copy-encrypted", pgl_step_copy_encrypted},
    {"restore", pgl_step_restore},
    {"prepare-target", pgl_step_prepare_target},
    {"find-start-lsn", pgl_step_find_start_lsn},
    {"subscribe", pgl_step_subscribe},
    {"rollback-window", pgl_step_rollback_window},
    {"rollback", pgl_step_rollback},
    {"catch-up", pgl_step_catch_up},
    {"cutover", pgl_step_cutover},
    {"verify", pgl_step_verify},
    {"replicas", pgl_step_replicas},
    {"cleanup", pgl_step_cleanup},
    {"abort", pgl_step_abort},
};

const strategy_impl fc_impl_pglogical = {&fc_strategy_pglogical, fns, FC_ARRAY_LEN(fns)};
