/* cleanup — step `cleanup` of pg-logical (after the switch): the target
 * loses fleetcrypt's schema, guard and roles and gets its held pg_cron jobs
 * back; the retired source loses the slot, publication, guard and the
 * subscription's role but keeps its block (every application role NOLOGIN)
 * and fleetcrypt's admin role as the only key, so nothing can write to it
 * again; deletion protection is applied to the target if the source had
 * it; intermediate snapshots are deleted unless keep_snapshots; the retired
 * source is tagged fleetcrypt:role=retired-source and stopped (step
 * `replicas` runs first — cleanup jumps to it until fact replicas_done — and
 * moves the read replicas off it; one attached since keeps it running: fact
 * retired_running). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "awsxacct.h"
#include "log.h"
#include "msecret.h"
#include "util.h"

/* Delete fleetcrypt's intermediate snapshots (only ones tagged as ours). */
step_rc pgl_delete_snapshots(step_ctx *ctx, step_result *res)
{
    const char *sfx[] = {PGL_SFX_SNAP, PGL_SFX_ENC};
    return awsstep_delete_snapshots(ctx, res, sfx, 2);
}

/* ---------------------------------------------------------------- cleanup */
static step_rc cleanup_databases(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    char err[1024];
    step_rc rc = pgl_reverse_finalize(s); /* a rollback window left open (abort refused in it): closed */
    if (rc != STEP_OK) return rc;
    int released = 0;
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm;
        pgq *t = pgl_names_conn(s, s->dbs[i], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
        if (!t) return rc;
        int n = 0;
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!pgl_teardown_target(t, &nm, err, sizeof err) || !pgl_cleanup_target(t, &nm, &n, err, sizeof err))
            return pgl_sql_fail(res, t, "cleaning the target", err);
        released += n;
    }
    pgl_db_names nm0;
    pgq *t0 = pgl_names_conn(s, s->dbs[0], PGL_TARGET, PGL_AS_MASTER, &nm0, &rc);
    if (!t0) return rc;
    if (!pgl_drop_roles(t0, &nm0, false, err, sizeof err))
        return pgl_sql_fail(res, t0, "dropping fleetcrypt's roles on the target", err);
    if (released > 0 || !step_ctx_fact(ctx, "jobs_released")) step_ctx_set_factf(ctx, "jobs_released", "%d", released);

    /* the retired source: still blocked; fleetcrypt's admin role is the way in */
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(s, s->dbs[i], PGL_RETIRED, PGL_AS_ADMIN, &nm, &rc);
        if (!q) return rc;
        if (!pgl_teardown_source(q, &nm, true, err, sizeof err))
            return pgl_sql_fail(res, q, "cleaning the retired source", err);
    }
    pgq *r0 = pgl_conn(s, PGL_RETIRED, PGL_AS_ADMIN, s->dbs[0], &rc);
    if (!r0) return rc;
    if (!pgl_drop_roles(r0, &nm0, true, err, sizeof err))
        return pgl_sql_fail(res, r0, "dropping the subscription's role on the retired source", err);
    return STEP_OK;
}

static step_rc retire_source(step_ctx *ctx, step_result *res)
{
    const char *rid = pgl_fact(ctx, "retired_id");
    /* step replicas moved every replica it knew of; one attached since keeps the source running */
    return awsstep_retire_instance(ctx, res, *rid ? rid : step_ctx_instance(ctx), PGL_ROLE_RETIRED);
}

/* The source's RDS-managed master secret (fact master_secret_arn), rotated
 * since prepare-source recorded its version (master_secret_version): the
 * applications read that secret, so its current password goes to the
 * switched-in instance before anything connects to it (lib/msecret.h).
 * WAITs while the target applies it; afterwards coordinator/retired.c keeps
 * following later rotations. Facts: master_secret_version,
 * master_secret_synced_at, secret_followed. */
static step_rc follow_master_secret(step_ctx *ctx, step_result *res)
{
    const char *arn = pgl_fact(ctx, "master_secret_arn");
    if (!*arn || step_ctx_fact(ctx, "secret_followed")) return STEP_OK;
    const char *tid = pgl_fact(ctx, "target_id");
    msecret_result mr;
    step_rc rc = pgl_msecret_follow(ctx, res, tid, arn, pgl_fact(ctx, "master_secret_version"), true,
                                    "master secret", "following the master secret", &mr);
    if (rc != STEP_OK) return rc;
    if (mr.propagated) {
        step_ctx_set_fact(ctx, "master_secret_version", mr.version);
        awsstep_mark(ctx, "master_secret_synced_at");
        res->wait_ms = 2000;
        awsstep_wait_on(ctx, res, "db", tid);
        PGL_REASON(res, "the source's master secret was rotated: its password is being set on %s", tid);
        return STEP_WAIT; /* re-run: in sync once the target is available again */
    }
    if (mr.action == MSECRET_TARGET_MANAGED)
        log_info("the encrypted instance manages its own master secret: the source's is not followed", "db=%s", tid);
    if (mr.action == MSECRET_IN_SYNC && !*pgl_fact(ctx, "master_secret_version"))
        step_ctx_set_fact(ctx, "master_secret_version", mr.version);
    step_ctx_set_fact(ctx, "secret_followed", msecret_action_name(mr.action));
    return STEP_OK;
}

step_rc pgl_step_cleanup(step_ctx *ctx, step_result *res)
{
    step_rc rc = STEP_OK;
    /* read replicas first (step replicas): the retired source cannot be
     * stopped while any is attached; also reached when an abort refused
     * after the switch sends the instance straight here */
    if (!step_ctx_fact(ctx, "replicas_done")) {
        fc_strlcpy(res->next, "replicas", sizeof res->next);
        PGL_REASON(res, "read replicas are re-created before cleanup");
        return STEP_NEXT;
    }
    /* before the first connection to the target as the master user */
    if ((rc = follow_master_secret(ctx, res)) != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "cleanup_db_done")) {
        pgl_session s;
        pgl_session_init(&s, ctx, res);
        rc = s.ndbs ? cleanup_databases(&s) : STEP_OK;
        pgl_session_finish(&s);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "cleanup_db_done", "1");
    }
    if (awscluster_is(ctx)) return pgl_cluster_finish(ctx, res);
    /* the switched-in instance is production now: not deletable by abort */
    rc = awsstep_promote_target(ctx, res, pgl_fact(ctx, "target_id"));
    if (rc != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "protect_done")) {
        if (pgl_fact_i64(ctx, "deletion_protection", 0) == 1) {
            aws_client *c = awsxacct_client_for(ctx, pgl_fact(ctx, "target_id"));
            if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
            rds_modify_instance_opts o;
            rds_modify_instance_opts_init(&o);
            o.identifier = pgl_fact(ctx, "target_id");
            o.deletion_protection = 1;
            o.apply_immediately = true;
            aws_error e;
            aws_error_clear(&e);
            if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
            if (!rds_modify_db_instance(c, &o, NULL, &e)) {
                if (!strcmp(e.code, "InvalidDBInstanceState")) {
                    res->wait_ms = 5000;
                    PGL_REASON(res, "target busy: %.300s", e.message);
                    return STEP_WAIT;
                }
                return awsstep_fail(res, &e, "ModifyDBInstance (deletion protection)");
            }
        }
        step_ctx_set_fact(ctx, "protect_done", "1");
    }
    if (!pgl_opt(ctx, "keep_snapshots") && !step_ctx_fact(ctx, "snapshots_deleted")) {
        rc = pgl_delete_snapshots(ctx, res);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "snapshots_deleted", "1");
    } else if (pgl_opt(ctx, "keep_snapshots") && (rc = awsxacct_unshare_kept(ctx, res, PGL_SFX_SNAP, false)) != STEP_OK) {
        return rc; /* kept, but no longer shared with the target account */
    }
    return retire_source(ctx, res);
}
