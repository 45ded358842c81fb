/* initial_copy — pg-logical's initial-copy path for an Aurora PostgreSQL
 * cluster whose snapshot cannot be restored under the campaign key (an AWS
 * owned key, StorageEncryptionType sse-rds, docs/clusters.md "When the
 * snapshot cannot be restored"): a NEW cluster created with the campaign key
 * (CreateDBCluster --kms-key-id and the source's settings; its writer and
 * readers as for a restore), the roles and the schema copied, then a
 * subscription WITH copy_data on the slot made at prepare-source. From
 * catch-up on, the steps are the restored target's.
 *
 * Chosen by option --initial-copy (auto|never|always; fact initial_copy=1,
 * initial_copy_why): always from preflight (no snapshot is taken), auto when
 * AWS refuses the restore of an sse-rds snapshot under the campaign key
 * (fact owned_key_refused, set by shared/awscluster.c), never: that refusal
 * fails the source as before.
 *
 * Facts: initial_copy, initial_copy_why, ic_create_at (CreateDBCluster
 * sent), target_sysid (the new cluster's system identifier: it is not the
 * source's), ic_roles_created, ic_no_password (login roles created without
 * a password: names only), ic_schema_done, ic_sub_at, ic_tables (ready/all),
 * ic_ready_at. */
#ifndef FC_STRATEGY_PGL_INITIAL_COPY_H
#define FC_STRATEGY_PGL_INITIAL_COPY_H

#include <stdbool.h>

#include "pglogical_common.h"

/* Is this source on the initial-copy path (fact initial_copy=1)? */
bool pgl_ic_on(step_ctx *ctx);
/* Preflight: --initial-copy always puts a cluster on the path (an instance
 * fails: the path is built for clusters). STEP_OK otherwise. */
step_rc pgl_ic_preflight(step_ctx *ctx, step_result *res, bool cluster);
/* The restore failed (res->reason says why): when it was AWS refusing an
 * AWS-owned-key snapshot under the campaign key and the campaign allows it
 * (--initial-copy auto|always), switch to the path (facts) and return true
 * with res->reason cleared; false leaves res as it is. */
bool pgl_ic_take_over(step_ctx *ctx, step_result *res);
/* restore: CreateDBCluster tid with the campaign key and the source's
 * settings unless it exists. STEP_OK once it exists (the caller then adds
 * the members as for a restore), STEP_WAIT after sending the create. */
step_rc pgl_ic_create_cluster(step_ctx *ctx, step_result *res, const char *tid);
/* prepare-target, before the restored target's cleaning: roles, fleetcrypt's
 * roles, the databases and each database's schema on the new cluster. */
step_rc pgl_ic_prepare_target(pgl_session *s);
/* find-start-lsn: nothing to find (the copy is consistent with each table's
 * own sync slot); facts start_lsn (the slot's), start_lsn_source. */
step_rc pgl_ic_start(step_ctx *ctx, step_result *res);
/* subscribe: per database, the subscription with copy_data (once: an
 * existing one is never made again), then WAIT until every table is ready. */
step_rc pgl_ic_subscribe(step_ctx *ctx, step_result *res);
/* abort: the table-synchronisation slots the new cluster made on the source
 * (named after its system identifier), dropped (an active one's walsender
 * ended first); WAIT while one is still active. */
step_rc pgl_ic_drop_sync_slots(pgl_session *s);
/* abort, before the target's subscriptions are dropped: each disabled
 * (when the new cluster still exists), then pgl_ic_drop_sync_slots — a
 * DROP SUBSCRIPTION while the copy runs would wait for the publisher's
 * active table-sync slot. */
step_rc pgl_ic_abort_copy(pgl_session *s, bool target_exists);

#endif
