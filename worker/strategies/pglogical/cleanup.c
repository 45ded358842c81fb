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
#include "log.h"
#include "msecret.h"
#include "util.h"

static const char *const ST_STOPPED[] = {"stopped", NULL};
static const char *const ST_BAD_STOP[] = {"failed", "incompatible-parameters", NULL};

/* Delete fleetcrypt's intermediate snapshots (only ones tagged as ours). */
step_rc pgl_delete_snapshots(step_ctx *ctx, step_result *res)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    const char *sfx[] = {PGL_SFX_SNAP, PGL_SFX_ENC};
    for (size_t k = 0; k < 2; k++) {
        char id[64];
        awsstep_name(ctx, sfx[k], id, sizeof id);
        rds_snapshot *sn = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (!rds_describe_db_snapshot(c, id, &sn, &e)) {
            if (e.kind == AWS_ERR_NOT_FOUND) continue;
            return awsstep_fail(res, &e, "DescribeDBSnapshots");
        }
        bool ours = false;
        for (size_t t = 0; t < sn->n_tags; t++)
            if (!strcmp(sn->tags[t].key, "fleetcrypt:instance") && !strcmp(sn->tags[t].value, step_ctx_instance(ctx)))
                ours = true;
        bool busy = strcmp(sn->status, "available") != 0 && strcmp(sn->status, "failed") != 0;
        rds_snapshot_free(sn);
        if (!ours) continue;
        if (busy) {
            res->wait_ms = 5000;
            snprintf(res->wait_on, sizeof res->wait_on, "snap:%s", id);
            PGL_REASON(res, "waiting for snapshot %s to settle before deleting it", id);
            return STEP_WAIT;
        }
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        aws_error_clear(&e);
        if (!rds_delete_db_snapshot(c, id, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
            if (!strcmp(e.code, "InvalidDBSnapshotState")) {
                res->wait_ms = 5000;
                PGL_REASON(res, "snapshot %s busy: %.300s", id, e.message);
                return STEP_WAIT;
            }
            return awsstep_fail(res, &e, "DeleteDBSnapshot");
        }
        log_info("snapshot deleted", "snapshot=%s", id);
    }
    return STEP_OK;
}

/* ---------------------------------------------------------------- cleanup */
static step_rc cleanup_databases(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    char err[1024];
    step_rc rc = STEP_OK;
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
    if (!*rid) rid = step_ctx_instance(ctx);
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    if (step_ctx_fact(ctx, "stop_at")) {
        step_cache_view v;
        return awsstep_await(ctx, res, "db", rid, "stop_at", ST_STOPPED, ST_BAD_STOP, &v);
    }
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = pgl_describe(ctx, res, rid, &missing, &rc);
    if (!i) return rc;
    if (!pgl_has_tag(i, "fleetcrypt:role", PGL_ROLE_RETIRED)) {
        aws_tag tags[4];
        size_t nt = awsstep_tags(ctx, PGL_ROLE_RETIRED, tags, 3);
        fc_strlcpy(tags[nt].key, "fleetcrypt:original-id", sizeof tags[nt].key);
        fc_strlcpy(tags[nt].value, step_ctx_instance(ctx), sizeof tags[nt].value);
        nt++;
        if (!step_ctx_lease_ok(ctx)) {
            rds_instance_free(i);
            return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        }
        aws_error e;
        aws_error_clear(&e);
        if (!rds_add_tags_to_resource(c, i->arn, tags, nt, &e)) {
            rds_instance_free(i);
            return awsstep_fail(res, &e, "AddTagsToResource (retired source)");
        }
    }
    bool replicas = i->n_read_replica_ids > 0;
    char status[48];
    fc_strlcpy(status, i->status, sizeof status);
    rds_instance_free(i);
    if (replicas) {
        /* step replicas moved every replica it knew of; one attached since
         * keeps the source running (RDS refuses to stop it) */
        step_ctx_set_fact(ctx, "retired_running", "read replicas still attached: stop it after re-creating them");
        return STEP_OK;
    }
    if (!strcmp(status, "stopped")) return STEP_OK;
    if (strcmp(status, "available") != 0) {
        res->wait_ms = 5000;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", rid);
        PGL_REASON(res, "retired source %s is %s; waiting to stop it", rid, status);
        return STEP_WAIT;
    }
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_stop_db_instance(c, rid, NULL, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 5000;
            PGL_REASON(res, "retired source busy: %.300s", e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "StopDBInstance (retired source)");
    }
    log_info("retired source stopping", "db=%s", rid);
    awsstep_mark(ctx, "stop_at");
    res->wait_ms = 1000;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", rid);
    PGL_REASON(res, "stopping the retired source %s", rid);
    return STEP_WAIT;
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
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", tid);
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
            aws_client *c = step_ctx_aws(ctx);
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
    }
    return retire_source(ctx, res);
}
