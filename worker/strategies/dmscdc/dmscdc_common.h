/* dmscdc_common — what dms-cdc's steps share (common.c): DMS resource names,
 * the campaign's replication instance (made or found, awaited, deleted when
 * no task is left on it), the per-database endpoints and tasks, the task's
 * table mappings and settings, and the teardown of every DMS resource of
 * one instance. Database sessions, names and connections are pg-logical's
 * (pglogical_common.h): dms-cdc's slot is the slot pg-logical's names give
 * (fc_<tag>_<dbhash>), made with plugin test_decoding.
 *
 * Facts: dms_ri_index (which of the campaign's replication instances: 1 unless
 * the first was full), dms_instance_id, dms_instance_arn, dms_src_arn.<k>, dms_tgt_arn.<k>,
 * dms_task_arn.<k> (k = 1.. in the order of fact dbs), dms_task_started,
 * dms_status, lag_bytes, apply_exceptions, dms_torn_down; validate.c:
 * dms_validation_done, dms_validation_tables, dms_validation_validated,
 * dms_validation_failures, dms_validation_mismatched, dms_validation_state,
 * dms_validation_error. */
#ifndef FC_STRATEGY_DMSCDC_COMMON_H
#define FC_STRATEGY_DMSCDC_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "dbuf.h"
#include "dms.h"
#include "pglogical_common.h"
#include "step.h"

#define DMS_NAME_MAX 64

/* The campaign's replication instance: "fc-<campaign>-dms" made a valid DMS
 * identifier (letters, digits, hyphens; a letter first; no "--", no hyphen
 * last; at most 63): other characters become hyphens, a long campaign is
 * cut and an 8-hex hash of the campaign keeps it unique. Pure. */
bool dms_instance_name(const char *campaign, char *out, size_t cap);
/* The campaign's idx-th replication instance (1..999): idx 1 is
 * dms_instance_name's, idx > 1 ends "-<idx>" (made when the ones before it
 * hold as many tasks as DMS allows; docs/dms.md "Replication-instance
 * capacity"). Pure. */
bool dms_instance_name_n(const char *campaign, int idx, char *out, size_t cap);
/* This instance's replication instance index: fact dms_ri_index, 1 when unset. */
int dms_instance_index(step_ctx *ctx);
/* The table mappings of a task: every table of every schema but
 * fleetcrypt's own (`exclude_schema`). Caller frees. Pure. */
char *dms_table_mappings(const char *exclude_schema);
/* Task settings: CDC only into the restored target (DO_NOTHING: it is never
 * emptied or created), full LOB mode, control tables in `control_schema`,
 * apply errors logged to awsdms_apply_exceptions. Caller frees. Pure. */
char *dms_task_settings(const char *control_schema);
/* Settings of a validation-only task (DMS's ValidationSettings
 * EnableValidation + ValidationOnly, a full-load task that loads nothing:
 * DO_NOTHING), control tables in `control_schema`. Caller frees. Pure. */
char *dms_validation_settings(const char *control_schema);
/* Per-database names: "fc-<campaign>-<instance>-<sfx><k>" (awsstep_name). */
void dms_res_name(step_ctx *ctx, const char *sfx, int k, char *out, size_t cap);

/* Make (or find) the campaign's replication instance and wait until it is
 * available: STEP_OK with facts dms_instance_id/arn, STEP_WAIT while it is
 * being created (or still being deleted by the campaign's last cleanup),
 * FAIL/RETRY on AWS errors. Idempotent; every step that uses it calls it. */
step_rc dms_ensure_instance(step_ctx *ctx, step_result *res);
/* Delete the replication instance when no task is left on it (the
 * campaign's last instance); a task of another instance keeps it. The
 * campaign's replication instances this instance passed over (index below
 * its own) likewise: its never-started task on one may have kept it from
 * its last user's release. */
step_rc dms_release_instance(step_ctx *ctx, step_result *res);
/* Stop and delete this instance's tasks, then its endpoints (each awaited
 * gone); facts dms_torn_down. Idempotent (not found = done). */
step_rc dms_teardown(step_ctx *ctx, step_result *res);
/* How a database's task is made: dms-cdc's CDC-only task from the start
 * LSN, dms-full-cdc's full-load-and-cdc task. */
typedef struct dms_task_kind {
    const char *migration_type;                     /* "cdc" | "full-load-and-cdc" */
    char *(*settings)(const char *control_schema);  /* the task settings; caller frees */
    const char *cdc_start;                          /* CdcStartPosition; NULL: DMS takes the load's start */
    const char *what;                               /* in logs and reasons: "CDC", "full-load-and-cdc" */
} dms_task_kind;
/* The step `start-task` of both strategies: every database's task (named
 * "cdc<k>": the cutover, teardown and abort find it) made on the
 * replication instance first, then each started once with
 * start-replication and awaited running; facts dms_task_arn.<k>,
 * dms_task_started, dms_started_at. A replication instance that holds as
 * many tasks as DMS allows (CreateReplicationTask's
 * ResourceQuotaExceededFault on an instance with other instances' tasks
 * on it) sends the instance to the campaign's next one (fact dms_ri_index;
 * this instance's tasks never started there are deleted first); one that
 * cannot hold this instance's own tasks (one per database) fails the step;
 * a refusal on an empty one (the account's task quota) waits. A failed or
 * stopped task fails the step. Idempotent. */
step_rc dms_start_tasks(step_ctx *ctx, step_result *res, const dms_task_kind *kind);
/* The task of database k (1-based): describe by name; *found false when none. */
step_rc dms_task_of(step_ctx *ctx, step_result *res, int k, dms_task *t, bool *found);
/* dms-cdc's cutover with `hook` run inside the write-unavailable window:
 * after the tasks stopped and the source's slot went, before the target is
 * blocked and renamed (again on a re-run that finds the drained mark, until
 * the switch has begun: the hook must be idempotent). dms_step_cutover is
 * dms_cutover_with(ctx, res, NULL). (dms-full-cdc gives the target its
 * foreign keys and triggers back there.) */
typedef step_rc (*dms_cutover_hook)(pgl_session *s);
step_rc dms_cutover_with(step_ctx *ctx, step_result *res, dms_cutover_hook hook);
/* The same for the task named with suffix sfx ("cdc": the CDC task, "val":
 * the validation-only task of validate.c). */
step_rc dms_task_named(step_ctx *ctx, step_result *res, const char *sfx, int k, dms_task *t, bool *found);
/* --dms-validation: true when DMS's validation runs ("dms" or "both"),
 * *only when fleetcrypt's own comparison is skipped ("dms"). */
bool dms_validation_wanted(step_ctx *ctx, bool *only);
/* DMS's validation at the cutover (validate.c): per database a
 * validation-only task on the CDC task's endpoints, run after the CDC task
 * stopped (writers blocked, the source frozen, the target not yet open),
 * awaited (STEP_WAIT past a bounded wait: re-entered), its table statistics
 * recorded as facts (counts and states, never row values), the tasks
 * deleted. Idempotent (fact dms_validation_done). Never fails the cutover:
 * a task that cannot run is recorded (dms_validation_error) and the verify
 * step fails on it. */
step_rc dms_validate(step_ctx *ctx, step_result *res, pgl_session *s);
/* The validation record (facts dms_validation_*) built from tasks' table
 * statistics (validate.c; dms-full-cdc's cutover records its
 * full-load-and-cdc tasks' validation with it). strict: every state but
 * "Validated" and "No primary key" counts as mismatched (a validation-only
 * task that ran to its end); else only failed records and "Mismatched
 * records" do (a task whose validation may still be pending). Owns its
 * buffers: dms_val_tally_free. */
typedef struct {
    dbuf st, mis, errs;
    long long ntables, validated, failures;
    bool strict;
} dms_val_tally;
void dms_val_tally_init(dms_val_tally *v, bool strict);
/* One task's DescribeTableStatistics into the tally (database db). */
step_rc dms_val_tally_task(step_ctx *ctx, step_result *res, dms_val_tally *v, const char *db, const char *task_arn);
/* The facts (dms_validation_done last) and one log line `what`. */
void dms_val_tally_record(step_ctx *ctx, const dms_val_tally *v, const char *what);
void dms_val_tally_free(dms_val_tally *v);
/* A failed DMS call → step_rc (awsstep_fail) with "what" in the reason. */
step_rc dms_fail(step_result *res, const aws_error *e, const char *what);

#endif
