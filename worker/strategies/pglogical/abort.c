/* abort — step `abort` of pg-logical (any step before the switch): undoes
 * exactly what fleetcrypt did, found by deterministic names and our tags —
 * a half-done rename is rolled back (a cluster's proxies get the source
 * back), writers are let back in,
 * subscriptions, slots, publications, the guard, fleetcrypt's schema and
 * roles are dropped, the target instance and the intermediate snapshots
 * fleetcrypt created are deleted — leaving the source writable. After the
 * switch it refuses (the source no longer replicates; going back would lose
 * the writes made on the target). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awscname.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "awsxacct.h"
#include "initial_copy.h"
#include "log.h"
#include "util.h"

/* The switch is done when the original identifier names our target (rename)
 * or the proxy already sends connections to the target. */
static step_rc switch_done(step_ctx *ctx, step_result *res, bool *done)
{
    *done = !strcmp(pgl_fact(ctx, "switched"), "1");
    if (*done) return STEP_OK;
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = pgl_describe(ctx, res, step_ctx_instance(ctx), &missing, &rc);
    if (!i && !missing) return rc;
    if (i) {
        *done = pgl_is_ours(ctx, i, PGL_ROLE_TARGET);
        rds_instance_free(i);
    }
    res->reason[0] = 0;
    return STEP_OK;
}

/* A half-done rename swap (source renamed away, target not yet in its place): put it back. */
static step_rc roll_back_rename(step_ctx *ctx, step_result *res)
{
    char ret[64];
    awsstep_name(ctx, PGL_SFX_RETIRED, ret, sizeof ret);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *src = pgl_describe(ctx, res, step_ctx_instance(ctx), &missing, &rc);
    if (src) {
        rds_instance_free(src);
        return STEP_OK; /* the source has its name */
    }
    if (!missing) return rc;
    rds_instance *r = pgl_describe(ctx, res, ret, &missing, &rc);
    if (!r) {
        if (!missing) return rc;
        PGL_REASON(res, "abort: neither %s nor %s exists", step_ctx_instance(ctx), ret);
        return STEP_FAIL;
    }
    bool avail = !strcmp(r->status, "available");
    rds_instance_free(r);
    if (!avail) {
        res->wait_ms = 2000;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", ret);
        PGL_REASON(res, "abort: waiting for %s to be available to rename it back", ret);
        return STEP_WAIT;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    rds_modify_instance_opts o;
    rds_modify_instance_opts_init(&o);
    o.identifier = ret;
    o.new_identifier = step_ctx_instance(ctx);
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_modify_db_instance(c, &o, NULL, &e)) return awsstep_fail(res, &e, "ModifyDBInstance (rename back)");
    log_warn("abort: source renamed back", "from=%s to=%s", ret, step_ctx_instance(ctx));
    res->wait_ms = 1000;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", step_ctx_instance(ctx));
    PGL_REASON(res, "abort: renaming %s back to %s", ret, step_ctx_instance(ctx));
    return STEP_WAIT;
}

/* Proxy: some proxy has the target and the source was marked drained (the
 * switch began: *switched); else a proxy that lost the source gets it back
 * and one that has the target loses it (shared/awsproxy.c): the cutover
 * registers the target early, inside the source's quiet gap, before its
 * checks (cutover.c, proxy_target_in) — a proxy with the target is the
 * switch only once the drain and the checks are done, which the drained
 * mark on the source says (an unreadable source: retried, never decided). */
static step_rc roll_back_proxy(step_ctx *ctx, step_result *res, bool *switched)
{
    *switched = false;
    const char *named = pgl_cfield(ctx, "proxy_name");
    if (!*named && !*pgl_fact(ctx, "proxy_names")) named = pgl_fact(ctx, "proxy_name"); /* an older attempt's */
    char tid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    const char *orig = step_ctx_instance(ctx);
    bool done = false;
    step_rc rc = awsproxy_state(ctx, res, AWSPROXY_INSTANCE, tid, orig, named, switched, &done, NULL);
    if (rc != STEP_OK) return rc;
    if (*switched) {
        pgl_session s;
        pgl_session_init(&s, ctx, res);
        bool drained = false;
        rc = s.ndbs > 0 ? pgl_fence_drained(&s, PGL_SOURCE, &drained) : STEP_OK; /* none: nothing was drained */
        pgl_session_finish(&s);
        if (rc != STEP_OK || drained) return rc;
        log_warn("abort: a proxy has the target but the source was never marked drained (an early registration): "
                 "given back", "target=%s", tid);
        *switched = false;
    }
    return awsproxy_roll_back(ctx, res, AWSPROXY_INSTANCE, orig, tid, named);
}

/* Undo everything in the databases, found by name: idempotent. */
static step_rc undo_databases(pgl_session *s, bool target_exists)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    char err[1024];
    step_rc rc = STEP_OK;
    if (s->ndbs == 0) return STEP_OK; /* preflight never learnt the databases: nothing was made */
    pgl_db_names nm0;
    if (!pgl_names(s, s->dbs[0], &nm0)) return STEP_FAIL;
    /* 1. writers back in on the source (only roles the block recorded) */
    {
        int restored = 0;
        pgq *a = pgl_conn(s, PGL_SOURCE, PGL_AS_ADMIN, s->dbs[0], &rc);
        if (a) {
            if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
            /* the database fence first: a cutover holder that lost its lease
             * can no longer act on this source once the undo has taken it
             * (no fence table: prepare-source never got that far) */
            step_rc fr = pgl_fence(s, PGL_SOURCE);
            if (fr == STEP_RETRY) return fr;
            res->reason[0] = 0;
            if (!pgl_unblock(a, &nm0, &restored, err, sizeof err))
                return pgl_sql_fail(res, a, "abort: letting writers back in", err);
            if (restored) step_ctx_set_factf(ctx, "abort_unblocked_roles", "%d", restored);
        } else {
            /* no admin login: it was never created (or is already dropped), so nothing was blocked */
            log_info("abort: no admin session on the source", "why=\"%s\"", res->reason);
            res->reason[0] = 0;
            rc = STEP_OK;
        }
    }
    /* 2. the target's subscriptions, if it is still reachable (it is deleted next anyway); on the
     *    initial-copy path its copy stopped and its table-sync slots on the source dropped first */
    if (pgl_ic_on(ctx) && (rc = pgl_ic_abort_copy(s, target_exists)) != STEP_OK) return rc;
    if (target_exists && *pgl_fact(ctx, "target_port")) {
        for (int i = 0; i < s->ndbs; i++) {
            pgl_db_names nm;
            if (!pgl_names(s, s->dbs[i], &nm)) return STEP_FAIL;
            step_rc r2 = STEP_OK;
            pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_MASTER, s->dbs[i], &r2);
            if (!t || !pgl_teardown_target(t, &nm, err, sizeof err))
                log_warn("abort: cannot drop the subscription on the target (the target is deleted anyway)",
                         "db=%s", s->dbs[i]);
        }
        res->reason[0] = 0;
    }
    /* 3. the source: slots, publications, guard, schema; then the roles */
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(s, s->dbs[i], PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
        if (!q) return rc;
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!pgl_teardown_source(q, &nm, false, err, sizeof err))
            return pgl_sql_fail(res, q, "abort: cleaning the source", err);
    }
    pgq *m = pgl_conn(s, PGL_SOURCE, PGL_AS_MASTER, s->dbs[0], &rc);
    if (!m) return rc;
    if (!pgl_drop_roles(m, &nm0, false, err, sizeof err))
        return pgl_sql_fail(res, m, "abort: dropping fleetcrypt's roles", err);
    return STEP_OK;
}

/* Delete the target instance if fleetcrypt made it; WAIT until it is gone. */
static step_rc delete_target(step_ctx *ctx, step_result *res, bool *exists)
{
    char tid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    bool missing = false;
    step_rc rc = STEP_OK;
    *exists = false;
    rds_instance *i = pgl_describe(ctx, res, tid, &missing, &rc);
    if (!i) {
        if (!missing) return rc;
        res->reason[0] = 0;
        return STEP_OK;
    }
    *exists = true;
    bool ours = pgl_is_ours(ctx, i, PGL_ROLE_TARGET);
    char status[48];
    fc_strlcpy(status, i->status, sizeof status);
    rds_instance_free(i);
    if (!ours) {
        log_warn("abort: an instance named like our target is not ours: left alone", "db=%s", tid);
        *exists = false;
        return STEP_OK;
    }
    if (!strcmp(status, "deleting")) {
        res->wait_ms = 2000;
        awsstep_wait_on(ctx, res, "db", tid);
        PGL_REASON(res, "abort: waiting for %s to be deleted", tid);
        return STEP_WAIT;
    }
    return STEP_OK;
}

static step_rc delete_target_now(step_ctx *ctx, step_result *res)
{
    char tid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    aws_client *c = awsxacct_client_for(ctx, tid);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_delete_db_instance(c, tid, NULL, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 3000;
            awsstep_wait_on(ctx, res, "db", tid);
            PGL_REASON(res, "abort: %s busy (%.200s); deleting it when it settles", tid, e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "DeleteDBInstance (abort: target)");
    }
    log_warn("abort: target instance deleted", "db=%s", tid);
    res->wait_ms = 2000;
    awsstep_wait_on(ctx, res, "db", tid);
    PGL_REASON(res, "abort: deleting %s", tid);
    return STEP_WAIT;
}

static step_rc abort_inner(step_ctx *ctx, step_result *res);

/* abort runs on request (ends `aborted`) or as the on_fail of a step that
 * may hold WAL (lib/step.h "failure undo", facts undo_from/undo_reason):
 * then the same undo runs and the instance ends `failed` with the original
 * reason, saying the source was cleaned — or, past the switch, that nothing
 * was undone. */
step_rc pgl_step_abort(step_ctx *ctx, step_result *res)
{
    if (!strcmp(pgl_fact(ctx, "rb_state"), "rolled-back")) {
        /* reached from step rollback (rollback.c): nothing to undo */
        PGL_REASON(res, "rolled back to the source by fleetcrypt rollback (every write made on the encrypted "
                        "instance carried back; the encrypted instance is kept, blocked)");
        return STEP_OK;
    }
    if (!strcmp(pgl_fact(ctx, "rb_state"), "rolling-back") || !strcmp(pgl_fact(ctx, "rb_state"), "switched-back")) {
        /* a rollback half done must finish (writers may be blocked on both sides) */
        PGL_REASON(res, "abort refused: a rollback is in progress; finishing it");
        step_ctx_set_fact(ctx, "abort_refused", res->reason);
        fc_strlcpy(res->next, "rollback", sizeof res->next);
        return STEP_NEXT;
    }
    char from[48], why[STEP_REASON_MAX];
    fc_strlcpy(from, pgl_fact(ctx, "undo_from"), sizeof from);
    fc_strlcpy(why, pgl_fact(ctx, "undo_reason"), sizeof why);
    step_rc rc = abort_inner(ctx, res);
    if (!from[0]) return rc;
    if (rc == STEP_OK) {
        step_ctx_set_fact(ctx, "undo_done", "1");
        PGL_REASON(res, "failed at %s; slot dropped, source untouched (fleetcrypt's objects and target removed): "
                        "%.380s", from, why);
        fc_strlcpy(res->next, from, sizeof res->next); /* the record shows the step that failed */
        log_warn("failure undone: no slot left on the source", "failed_step=%s", from);
        return STEP_FAIL;
    }
    if (rc == STEP_NEXT && *pgl_fact(ctx, "abort_refused")) {
        /* past the switch: the failure stands, nothing is undone */
        PGL_REASON(res, "failed at %s after the switch (nothing undone; the source has no slot left): %.380s",
                   from, why);
        res->next[0] = 0;
        return STEP_FAIL;
    }
    if (rc == STEP_FAIL) {
        char e[STEP_REASON_MAX];
        fc_strlcpy(e, res->reason, sizeof e);
        PGL_REASON(res, "failed at %s: %.200s; undoing it failed too (fleetcrypt retry runs the undo again): %.200s",
                   from, why, e);
        res->next[0] = 0; /* the record stays at abort, so retry resumes the undo */
    }
    return rc;
}

static step_rc abort_inner(step_ctx *ctx, step_result *res)
{
    bool proxy = !strcmp(pgl_cfield(ctx, "cutover_method"), "proxy");
    bool cname = !strcmp(pgl_cfield(ctx, "cutover_method"), "cname");
    bool cluster = awscluster_is(ctx);
    bool switched = false;
    step_rc rc = STEP_OK;
    /* 0. past the switch: refuse */
    if (cname) {
        /* (an instance's or a cluster's) record on the target: the switch
         * began (shared/awscname.c); else its value and TTL back */
        if (!strcmp(pgl_fact(ctx, "switched"), "1")) switched = true;
        else if ((rc = awscname_switched(ctx, res, pgl_fact(ctx, "target_address"), &switched)) != STEP_OK) return rc;
        if (!switched && (rc = awscname_roll_back(ctx, res)) != STEP_OK) return rc;
    } else if (cluster) {
        /* a cluster's switch is its renames; its proxies are switched only
         * after them (shared/awsproxy.c): before that they still have the source */
        proxy = false;
        if ((rc = pgl_cluster_switch_done(ctx, res, &switched)) != STEP_OK) return rc;
    } else if (proxy) {
        if (!strcmp(pgl_fact(ctx, "switched"), "1")) switched = true;
        else if ((rc = roll_back_proxy(ctx, res, &switched)) != STEP_OK) return rc;
    } else if ((rc = switch_done(ctx, res, &switched)) != STEP_OK) {
        return rc;
    }
    if (switched) {
        /* the cutover finishes an interrupted switch (target still blocked), then verify, cleanup */
        const char *next = !step_ctx_fact(ctx, "downtime_ms") ? "cutover"
                           : strcmp(pgl_fact(ctx, "verify_done"), "1") ? "verify" : "cleanup";
        PGL_REASON(res, "abort refused: the switch is done (the original %s is now the encrypted instance and "
                        "took writes); finishing with %s", proxy ? "proxy target" : cname ? "CNAME" : "identifier", next);
        step_ctx_set_fact(ctx, "abort_refused", res->reason);
        log_warn("abort refused after the switch", "next=%s", next);
        fc_strlcpy(res->next, next, sizeof res->next);
        return STEP_NEXT;
    }
    /* 1. a half-done rename goes back first: the source needs its name (and endpoint) */
    if (!proxy && !cname && (rc = cluster ? pgl_cluster_roll_back(ctx, res) : roll_back_rename(ctx, res)) != STEP_OK)
        return rc;
    /* ... and a cluster's proxy that lost it gets the source back */
    if (cluster) {
        char tid[64];
        awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
        if ((rc = awscluster_proxy_roll_back(ctx, res, step_ctx_instance(ctx), tid)) != STEP_OK) return rc;
    }
    /* 2. the databases: writers back in, replication objects and roles gone */
    bool target_exists = false;
    rc = cluster ? pgl_cluster_target_exists(ctx, res, &target_exists) : delete_target(ctx, res, &target_exists);
    if (rc != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "abort_db_done")) {
        pgl_session s;
        pgl_session_init(&s, ctx, res);
        rc = undo_databases(&s, target_exists);
        pgl_session_finish(&s);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "abort_db_done", "1");
    }
    /* 3. the target instance */
    if (target_exists) return cluster ? pgl_cluster_delete_target(ctx, res) : delete_target_now(ctx, res);
    /* 4. intermediate snapshots */
    if (!pgl_opt(ctx, "keep_snapshots")) {
        rc = cluster ? pgl_cluster_delete_snapshot(ctx, res) : pgl_delete_snapshots(ctx, res);
        if (rc != STEP_OK) return rc;
    } else if ((rc = awsxacct_unshare_kept(ctx, res, PGL_SFX_SNAP, cluster)) != STEP_OK) {
        return rc; /* kept, but no longer shared with the target account */
    }
    /* 5. a cluster switched to fleetcrypt's copy of its parameter group (--allow-reboot) gets its own back */
    if (cluster && (rc = pgl_cluster_param_restore(ctx, res, step_ctx_instance(ctx), NULL)) != STEP_OK) return rc;
    const char *why = pgl_fact(ctx, "abort_reason");
    if (*why)
        PGL_REASON(res, "aborted: %s", why);
    else
        PGL_REASON(res, "aborted on request");
    step_ctx_set_fact(ctx, "aborted", "1");
    log_warn("instance aborted: the source is writable and nothing of fleetcrypt's is left", "why=\"%s\"", why);
    return STEP_OK;
}
