/* pglogical — strategy "pg-logical": minimal-downtime encryption of RDS for
 * PostgreSQL by a snapshot seeded with native logical replication from a
 * slot made before the snapshot (DESIGN.md §4, issue 6). The table and the
 * engine hooks it assumes are in strategy.c; each step's facts, idempotence
 * and what abort undoes are in docs/pg-logical-steps.md. */
#ifndef FC_STRATEGY_PGLOGICAL_H
#define FC_STRATEGY_PGLOGICAL_H

#include "step.h"

extern const strategy_def fc_strategy_pglogical; /* pglogical/descriptor.c */
extern const strategy_impl fc_impl_pglogical;     /* the step functions */

/* The steps, in table order, one file each named after the step
 * (preflight.c, prepare_source.c, snapshot.c, copy_encrypted.c, restore.c,
 * prepare_target.c, find_start_lsn.c, subscribe.c, catchup.c, cutover.c,
 * verify.c, replicas.c, cleanup.c, abort.c). */
step_rc pgl_step_preflight(step_ctx *ctx, step_result *res);
step_rc pgl_step_prepare_source(step_ctx *ctx, step_result *res);
step_rc pgl_step_snapshot(step_ctx *ctx, step_result *res);
step_rc pgl_step_copy_encrypted(step_ctx *ctx, step_result *res);
step_rc pgl_step_restore(step_ctx *ctx, step_result *res);
step_rc pgl_step_prepare_target(step_ctx *ctx, step_result *res);
step_rc pgl_step_find_start_lsn(step_ctx *ctx, step_result *res);
step_rc pgl_step_subscribe(step_ctx *ctx, step_result *res);
step_rc pgl_step_catch_up(step_ctx *ctx, step_result *res);
step_rc pgl_step_cutover(step_ctx *ctx, step_result *res);
step_rc pgl_step_verify(step_ctx *ctx, step_result *res);
step_rc pgl_step_replicas(step_ctx *ctx, step_result *res);
step_rc pgl_step_cleanup(step_ctx *ctx, step_result *res);
step_rc pgl_step_abort(step_ctx *ctx, step_result *res);
step_rc pgl_step_rollback_window(step_ctx *ctx, step_result *res);
step_rc pgl_step_rollback(step_ctx *ctx, step_result *res);

#endif
