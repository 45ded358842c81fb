/* dmsfullcdc — strategy "dms-full-cdc": minimal-downtime encryption of RDS
 * for PostgreSQL by the procedure of seed 002 done right: the target
 * restored from the encrypted snapshot, then filled again by an AWS DMS
 * full-load-and-cdc task with its foreign keys and triggers held, and
 * given them back exactly as they were inside the cutover (issue 15;
 * operators: docs/dms-full-cdc.md).
 *
 * The flow (dms-cdc's and pg-logical's steps where they are the same):
 * preflight (dms-cdc's, then identity columns GENERATED ALWAYS refused: DMS's
 * apply cannot insert into them), prepare-source (dms-cdc's: roles, guard,
 * the test_decoding slot DMS reads) → snapshot → copy-encrypted → restore → prepare-target
 * (pg-logical's; with --dms-target empty no snapshot: the target created
 * empty with the source's configuration and given the source's schema,
 * empty.c) → hold-target (record every foreign key and every enabled
 * user trigger of the target as facts, then drop the keys and disable the
 * triggers) → replication-instance → endpoints (dms-cdc's) → start-task (a
 * full-load-and-cdc task per database, TargetTablePrepMode
 * TRUNCATE_BEFORE_LOAD, validation on, on the prepare-source slot) →
 * catch-up (the full load complete with no table in error, then dms-cdc's
 * catch-up) → cutover (dms-cdc's block, drain, sequences, stop; then, still
 * inside the window, every key added back NOT VALID and every trigger given
 * its recorded state; rename swap) → validate-keys (VALIDATE CONSTRAINT with
 * writers back) → verify → replicas → cleanup / abort (dms-cdc's). */
#ifndef FC_STRATEGY_DMSFULLCDC_H
#define FC_STRATEGY_DMSFULLCDC_H

#include "step.h"

extern const strategy_def fc_strategy_dmsfullcdc; /* descriptor.c */
extern const strategy_impl fc_impl_dmsfullcdc;    /* strategy.c */

/* dms-full-cdc's own steps (the others are dms-cdc's and pg-logical's). */
step_rc dfc_step_preflight(step_ctx *ctx, step_result *res);     /* preflight.c */
step_rc dfc_step_restore(step_ctx *ctx, step_result *res);       /* empty.c */
step_rc dfc_step_prepare_target(step_ctx *ctx, step_result *res); /* empty.c */
step_rc dfc_step_hold_target(step_ctx *ctx, step_result *res);   /* hold.c */
step_rc dfc_step_start_task(step_ctx *ctx, step_result *res);    /* load.c */
step_rc dfc_step_catch_up(step_ctx *ctx, step_result *res);      /* load.c */
step_rc dfc_step_cutover(step_ctx *ctx, step_result *res);       /* hold.c */
step_rc dfc_step_validate_keys(step_ctx *ctx, step_result *res); /* hold.c */

/* --dms-target empty (empty.c): asked for by the campaign? */
bool dfc_empty_wanted(step_ctx *ctx);
/* Preflight, once the checks passed: put the instance on the empty-target
 * path (facts initial_copy=1, initial_copy_why, q_snap 0). Idempotent. */
void dfc_empty_choose(step_ctx *ctx);

/* The task settings: full load into existing tables emptied first
 * (TRUNCATE_BEFORE_LOAD), validation on, full LOB mode, control tables in
 * `control_schema`, apply errors logged. Caller frees. Pure. */
char *dfc_task_settings(const char *control_schema);
/* Inside the cutover (tasks stopped): the tasks' own validation recorded
 * as dms-cdc's facts dms_validation_* for the report. Idempotent. */
struct pgl_session;
step_rc dfc_record_validation(struct pgl_session *s);            /* load.c */

#endif
