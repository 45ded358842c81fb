/* dmscdc — strategy "dms-cdc": minimal-downtime encryption of RDS for
 * PostgreSQL with AWS Database Migration Service as the change-data-capture
 * engine (issue 15; seeds 000 and 004 done right; operators: docs/dms.md).
 *
 * The flow: preflight (pg-logical's, then what DMS cannot carry exactly:
 * tables without a primary key not declared read-only, column types DMS
 * maps lossily) → prepare-source (fleetcrypt's roles, the DDL guard and a
 * logical slot with plugin test_decoding in every database, BEFORE the
 * snapshot) → snapshot → copy-encrypted → restore → prepare-target →
 * find-start-lsn (all five pg-logical's own step functions: the start is the
 * restored instance's exact end of WAL) → replication-instance (one per
 * campaign, shared by its instances, named from the campaign) → endpoints →
 * start-task (a CDC-only task per database, CdcStartPosition = that LSN, on
 * the prepare-source slot: no empty dummy target, so seed 000's duplicate at
 * the boundary cannot happen) → catch-up (task running, the slot's confirmed
 * position near the source's current LSN) → cutover (block every writer,
 * drain until the slot's confirmed_flush_lsn reaches the source's final LSN,
 * no apply exception, stop the task, sequences, switch by rename, RDS Proxy
 * or CNAME as pg-logical's --cutover-method, downtime) →
 * verify → replicas → cleanup (tasks and endpoints deleted, the replication
 * instance when no task of the campaign is left on it; pg-logical's cleanup),
 * and `abort` (the DMS resources, then pg-logical's abort). */
#ifndef FC_STRATEGY_DMSCDC_H
#define FC_STRATEGY_DMSCDC_H

#include "step.h"

/* The switch's option entries, declared alike by dms-cdc's and
 * dms-full-cdc's descriptors (the cutover, dms_cutover_with, reads them):
 * the method, then the campaign-file fields of the proxy and CNAME
 * switches (shared/awsproxy.c, shared/awscname.c, as pg-logical's). */
#define DMS_OPT_CUTOVER_METHOD                                                                             \
    {"cutover-method", OPT_ENUM, "rename|proxy|cname", "rename", NULL,                                     \
     "rename swap (minutes on AWS), switch the RDS Proxy in front of the source to the encrypted instance "  \
     "(seconds), or switch the application's Route 53 CNAME (instance tag fleetcrypt:cname or campaign file " \
     "field cname); DMS reads the source by its own endpoint either way",                                   \
     false}
#define DMS_OPTS_SWITCH_FIELDS                                                                             \
    {"proxy_name", OPT_STRING, NULL, "", NULL,                                                             \
     "--cutover-method proxy: the RDS Proxy to switch (default: every proxy in front of the source)", true}, \
    FC_OPTS_CNAME_FIELDS /* strategy_opts.h */

extern const strategy_def fc_strategy_dmscdc; /* descriptor.c */
extern const strategy_impl fc_impl_dmscdc;    /* strategy.c */

/* dms-cdc's own steps (the others are pg-logical's, bound in strategy.c). */
step_rc dms_step_preflight(step_ctx *ctx, step_result *res);            /* preflight.c */
step_rc dms_step_prepare_source(step_ctx *ctx, step_result *res);       /* preflight.c */
step_rc dms_step_replication_instance(step_ctx *ctx, step_result *res); /* replicate.c */
step_rc dms_step_endpoints(step_ctx *ctx, step_result *res);            /* replicate.c */
step_rc dms_step_start_task(step_ctx *ctx, step_result *res);           /* replicate.c */
step_rc dms_step_catch_up(step_ctx *ctx, step_result *res);             /* replicate.c */
step_rc dms_step_cutover(step_ctx *ctx, step_result *res);              /* cutover.c */
step_rc dms_step_verify(step_ctx *ctx, step_result *res);              /* validate.c */
step_rc dms_step_cleanup(step_ctx *ctx, step_result *res);              /* cleanup.c */
step_rc dms_step_abort(step_ctx *ctx, step_result *res);                /* cleanup.c */

#endif
