/* mysqlbinlog — strategy "mysql-binlog": minimal-downtime encryption of RDS
 * for MySQL and RDS for MariaDB instances (engines mysql, mariadb) by an
 * encrypted restore seeded at an exact binlog position and continued with
 * binlog replication from the source (issue 14; operators:
 * docs/mysql-binlog.md).
 *
 * RDS reports no binlog position for a restore of an instance snapshot, so
 * the seed follows AWS's documented method: a read replica of the source,
 * its replication stopped (mysql.rds_stop_replication), its executed
 * position read from SHOW REPLICA STATUS (Relay_Master_Log_File /
 * Exec_Master_Log_Pos; MySQL 8.0.22+ spells them Relay_Source_Log_File /
 * Exec_Source_Log_Pos), the snapshot taken of the stopped replica, copied
 * with the campaign key and restored with the source's configuration. The
 * restored target replicates from the source from that position
 * (mysql.rds_set_external_master, rds_start_replication) until cutover.
 *
 * Aurora MySQL clusters (engine aurora-mysql, fact kind=cluster; cluster.c)
 * need no replica: a cluster snapshot of the running source is restored
 * with the campaign key, and the position is the one Aurora reports for
 * that restore (event "Binlog position from crash recovery is FILE POS");
 * the cutover swaps by cluster rename.
 *
 * Steps (descriptor.c; one file per group): preflight, prepare-source
 * (preflight.c, source.c), replica, snapshot, copy-encrypted, restore,
 * find-binlog-position (seed.c; clusters: cluster.c), replicate, catch-up (replicate.c), cutover (cutover.c), verify
 * (verify.c), cleanup and abort (cleanup.c). Shared helpers: mb_common.h. */
#ifndef FC_STRATEGY_MYSQLBINLOG_H
#define FC_STRATEGY_MYSQLBINLOG_H

#include "step.h"

extern const strategy_def fc_strategy_mysqlbinlog; /* mysqlbinlog/descriptor.c */
extern const strategy_impl fc_impl_mysqlbinlog;     /* the step functions (strategy.c) */

step_rc mb_step_preflight(step_ctx *ctx, step_result *res);
step_rc mb_step_prepare_source(step_ctx *ctx, step_result *res);
step_rc mb_step_replica(step_ctx *ctx, step_result *res);
step_rc mb_step_snapshot(step_ctx *ctx, step_result *res);
step_rc mb_step_copy_encrypted(step_ctx *ctx, step_result *res);
step_rc mb_step_restore(step_ctx *ctx, step_result *res);
step_rc mb_step_find_position(step_ctx *ctx, step_result *res);
step_rc mb_step_replicate(step_ctx *ctx, step_result *res);
step_rc mb_step_catch_up(step_ctx *ctx, step_result *res);
step_rc mb_step_cutover(step_ctx *ctx, step_result *res);
step_rc mb_step_verify(step_ctx *ctx, step_result *res);
step_rc mb_step_cleanup(step_ctx *ctx, step_result *res);
step_rc mb_step_abort(step_ctx *ctx, step_result *res);

#endif
