/* restore — step `restore` of pg-logical: the encrypted copy restored as
 * the target instance (fc-<campaign>-<instance>-target) with the source's
 * settings, on the restore path shared with the offline strategy
 * (awsstep.h). Create on the first run, look first on a later one
 * (step_ctx_intent), our tags, waits answered by the
 * coordinator's fleet poller (STEP_WAIT with wait_on "db:<id>"), never a
 * sleep. Every run first watches the source (retained WAL, DDL). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

#define ST_AVAILABLE awsstep_st_available
#define ST_BAD_DB awsstep_st_bad_db

static int fact_int(step_ctx *ctx, const char *f, int dflt) { return (int)pgl_fact_i64(ctx, f, dflt); }

step_rc pgl_step_restore(step_ctx *ctx, step_result *res)
{
    step_rc rc = pgl_watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    if (awscluster_is(ctx)) return pgl_cluster_restore(ctx, res);
    const char *key = pgl_cfield(ctx, "kms_key_arn");
    char tid[64], eid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    awsstep_name(ctx, PGL_SFX_ENC, eid, sizeof eid);
    step_ctx_set_fact(ctx, "target_id", tid);
    step_cache_view v;
    bool missing = false;

    /* 1. create (or find what an earlier attempt created) */
    if (!step_ctx_fact(ctx, "restore_at")) {
        /* the first run restores without looking; a later one looks first
         * (an earlier run may have started it: step_ctx_intent) */
        step_intent in = step_ctx_intent(ctx, "restore_try");
        if (in == STEP_INTENT_NO) return LEASE_LOST(res);
        if (in == STEP_INTENT_FIRST) return awsstep_start_restore(ctx, res, tid, eid, 0, false);
        rds_instance *i = pgl_describe(ctx, res, tid, &missing, &rc);
        if (!i && !missing) return rc;
        if (i) {
            bool ours = pgl_is_ours(ctx, i, PGL_ROLE_TARGET);
            /* what step 3 compares (an earlier run's restore set it) */
            if (ours) step_ctx_set_factf(ctx, "target_backup_retention", "%d", i->backup_retention);
            rds_instance_free(i);
            if (!ours) {
                PGL_REASON(res, "identifier %s is taken by an instance fleetcrypt did not create", tid);
                return STEP_FAIL;
            }
            awsstep_mark(ctx, "restore_at");
        } else {
            res->reason[0] = 0;
            /* deletion protection comes at cleanup: abort must be able to delete the target */
            return awsstep_start_restore(ctx, res, tid, eid, 0, false);
        }
    }
    /* 2. wait for it */
    rc = awsstep_await(ctx, res, "db", tid, "restore_at", ST_AVAILABLE, ST_BAD_DB, &v);
    if (rc != STEP_OK) return rc;
    if (!v.encrypted || !awsstep_same_key(v.kms_key, key)) {
        PGL_REASON(res, "restored %s is not encrypted with %s (kms %s)", tid, key, v.kms_key);
        return STEP_FAIL;
    }
    /* 3. the backup retention, when the restore's answer shows another than
     * the source's (the restore asks for it: normally nothing to do) */
    int want = fact_int(ctx, "backup_retention", -1), have = fact_int(ctx, "target_backup_retention", -1);
    if (want >= 0 && want != have) {
        if (step_ctx_fact(ctx, "configure_at")) {
            rc = awsstep_await(ctx, res, "db", tid, "configure_at", ST_AVAILABLE, ST_BAD_DB, &v);
            if (rc != STEP_OK) return rc;
        } else {
            return awsstep_set_backup_retention(ctx, res, tid, want);
        }
    }
    /* 4. its endpoint, for the database steps: from the poll that saw it
     * available (the fleet poller's cache carries it) and the ARN the
     * restore call answered (fact restore_arn), without describing it again */
    const char *arn = step_ctx_fact(ctx, "restore_arn");
    if (v.address[0] && v.port > 0 && arn && *arn) {
        step_ctx_set_fact(ctx, "target_address", v.address);
        step_ctx_set_factf(ctx, "target_port", "%d", v.port);
        step_ctx_set_fact(ctx, "target_arn", arn);
        step_ctx_set_fact(ctx, "target_kms", v.kms_key);
        awsstep_mark(ctx, "restored_at");
        return STEP_OK;
    }
    rds_instance *i = pgl_describe(ctx, res, tid, &missing, &rc);
    if (!i) return rc;
    if (!i->endpoint_address[0] || i->port <= 0) {
        rds_instance_free(i);
        res->wait_ms = 2000;
        PGL_REASON(res, "target %s has no endpoint yet", tid);
        return STEP_WAIT;
    }
    step_ctx_set_fact(ctx, "target_address", i->endpoint_address);
    step_ctx_set_factf(ctx, "target_port", "%d", i->port);
    step_ctx_set_fact(ctx, "target_arn", i->arn);
    step_ctx_set_fact(ctx, "target_kms", i->kms_key_id);
    rds_instance_free(i);
    awsstep_mark(ctx, "restored_at");
    return STEP_OK;
}
