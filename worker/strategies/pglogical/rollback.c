/* rollback — pg-logical's rollback window (--rollback-window DURATION;
 * docs/pg-logical.md, "Rollback window"; db/pgl_db_reverse.h):
 *
 *  - pgl_reverse_setup, called by the cutover while the target is still
 *    blocked after the switch: per database a publication and a slot on the
 *    target (its consistent point is before any write on the target, since
 *    writers are not in yet and the forward subscription is gone), and on
 *    the old source a subscription (copy_data=false, create_slot=false, the
 *    slot above, its origin advanced to the slot's consistent point while
 *    disabled: nothing applied twice). The old source has no publication
 *    left (the cutover dropped it), so nothing replicates back in a loop
 *    (PostgreSQL 16's origin = none is not needed and not in 15). Facts
 *    rb_reverse=1, rb_until_ms (the window's end, epoch ms), rb_state=open.
 *  - step `rollback-window` (after the cutover): records the reverse lag
 *    (facts rb_lag_bytes: largest over the databases' slots, target WAL
 *    position − confirmed_flush_lsn; rb_lag_at; rb_sub_state) and waits as
 *    waiting_approval until an intent (facts rollback_requested or
 *    finalize_requested, set atomically by lua/intent.lua: fleetcrypt
 *    rollback / finalize) or the window's end; finalize then drops the
 *    subscription, slot and publication (pgl_reverse_finalize; also run by
 *    cleanup whatever path led there) and goes on to verify → replicas →
 *    cleanup, which retires the source as without the window.
 *  - step `rollback`: the cutover backwards: block writers on the target
 *    (L = its WAL position after), wait until every reverse slot has
 *    confirmed L, sequences on the source to the target's + seq_margin,
 *    drop the reverse subscription, slot and publication, switch back by
 *    the campaign's method through the cutover's dispatch (switch.c: rename
 *    back; RDS Proxy target back, the source awaited AVAILABLE; the CNAME's
 *    original value back, awaited INSYNC), then let the source's writers in
 *    (fenced). The target stays blocked and is kept. Ends the instance
 *    `aborted` through step abort (fact rb_state=rolled-back).
 * Aurora clusters (cname method only; preflight refuses the renames): the
 * same between the clusters' writers (the endpoint facts are the clusters'
 * writer endpoints); finalize's cleanup retires the source cluster.
 * Resumable by observation: the target's block record, the subscription's
 * existence (dropped only after the drain), the world's switch state;
 * fenced in both databases (a holder that lost its lease acts nowhere). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "duration.h"
#include "log.h"
#include "pgl_db_extra.h"
#include "pgl_db_reverse.h"
#include "pgfence.h"
#include "util.h"

#define RB_FLUSH_TIMEOUT_MS 120000
#define RB_BLOCK_TIMEOUT_MS 30000
#define RB_POLL_MS 2000

int64_t pgl_rollback_window_s(step_ctx *ctx)
{
    int64_t s = 0;
    const char *v = pgl_cfield(ctx, "rollback_window");
    if (!*v) v = step_ctx_opt(ctx, "rollback-window");
    return v && *v && fc_duration_parse(v, &s) ? s : 0;
}

static bool names_of(pgl_session *s, int i, pgl_db_names *nm, pgl_db_names *rv)
{
    if (!pgl_names(s, s->dbs[i], nm)) return false;
    if (!pgl_reverse_names(nm, rv)) {
        PGL_REASON(s->res, "reverse replication names do not fit (database %s)", s->dbs[i]);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- setup */
step_rc pgl_reverse_setup(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    int64_t win = pgl_rollback_window_s(ctx);
    if (win <= 0) return STEP_OK;
    char host[256], err[1024];
    int port = 0;
    if (!pgl_endpoint(s, PGL_TARGET, host, sizeof host, &port)) {
        PGL_REASON(res, "rollback window: the target's endpoint is not known");
        return STEP_FAIL;
    }
    step_rc rc = STEP_OK;
    if (!pgl_ensure_creds(s, &rc)) return rc;
    if ((rc = pgl_fence(s, PGL_RETIRED)) != STEP_OK) return rc;
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm, rv;
        if (!names_of(s, i, &nm, &rv)) return STEP_FAIL;
        pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_ADMIN, s->dbs[i], &rc);
        if (!t) return rc;
        fc_lsn at = FC_LSN_INVALID;
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!pgl_reverse_publish(t, &rv, &at, err, sizeof err))
            return pgl_sql_fail(res, t, "rollback window: publication and slot on the target", err);
        pgq *q = pgl_conn(s, PGL_RETIRED, PGL_AS_ADMIN, s->dbs[i], &rc);
        if (!q) return rc;
        pgq_conninfo ci;
        pgl_sub_conninfo(s, &rv, host, port, s->dbs[i], &ci);
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!pgl_subscribe(q, &rv, &ci, at, err, sizeof err))
            return pgl_sql_fail(res, q, "rollback window: subscription on the old source", err);
        char l[FC_LSN_STRLEN];
        log_info("rollback window: reverse replication started", "db=%s slot=%s lsn=%s", s->dbs[i], rv.slot,
                 lsn_format(at, l));
    }
    if (!step_ctx_fact(ctx, "rb_until_ms"))
        step_ctx_set_factf(ctx, "rb_until_ms", "%lld", (long long)(fc_now_ms() + win * 1000));
    step_ctx_set_fact(ctx, "rb_reverse", "1");
    if (!*pgl_fact(ctx, "rb_state")) step_ctx_set_fact(ctx, "rb_state", "open");
    return STEP_OK;
}

/* ---------------------------------------------------------------- finalize */
/* Subscription on the old source, then slot and publication on the
 * target: gone. Idempotent; nothing to do without fact rb_reverse. */
step_rc pgl_reverse_finalize(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    if (strcmp(pgl_fact(ctx, "rb_reverse"), "1") != 0) return STEP_OK;
    char err[1024];
    step_rc rc = STEP_OK;
    if ((rc = pgl_fence(s, PGL_RETIRED)) != STEP_OK) return rc;
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm, rv;
        if (!names_of(s, i, &nm, &rv)) return STEP_FAIL;
        pgq *q = pgl_conn(s, PGL_RETIRED, PGL_AS_ADMIN, s->dbs[i], &rc);
        if (!q) return rc;
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!pgl_teardown_target(q, &rv, err, sizeof err))
            return pgl_sql_fail(res, q, "dropping the reverse subscription on the old source", err);
        pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_ADMIN, s->dbs[i], &rc);
        if (!t) return rc;
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!pgl_reverse_unpublish(t, &rv, err, sizeof err))
            return pgl_sql_fail(res, t, "dropping the reverse slot and publication on the target", err);
    }
    step_ctx_set_fact(ctx, "rb_reverse", "0");
    return STEP_OK;
}

/* ---------------------------------------------------------------- the window */
/* Reverse lag (largest over the databases) and the subscriptions' health. */
static step_rc measure(pgl_session *s, int64_t *lag, char *sub_state, size_t cap)
{
    char err[1024];
    step_rc rc = STEP_OK;
    *lag = 0;
    fc_strlcpy(sub_state, "streaming", cap);
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm, rv;
        if (!names_of(s, i, &nm, &rv)) return STEP_FAIL;
        pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_ADMIN, s->dbs[i], &rc);
        if (!t) return rc;
        pgl_slot_info si;
        if (!pgl_slot_status(t, rv.slot, &si, err, sizeof err)) return pgl_sql_fail(s->res, t, "reverse slot", err);
        if (!si.exists) {
            PGL_REASON(s->res, "rollback window: the reverse slot %s is gone from the target (database %s)", rv.slot,
                       s->dbs[i]);
            return STEP_FAIL;
        }
        if (si.lag_bytes > *lag) *lag = si.lag_bytes;
        pgq *q = pgl_conn(s, PGL_RETIRED, PGL_AS_ADMIN, s->dbs[i], &rc);
        if (!q) return rc;
        pgl_sub_info sub;
        if (!pgl_sub_status(q, &rv, &sub, err, sizeof err))
            return pgl_sql_fail(s->res, q, "reverse subscription", err);
        if (!sub.exists) fc_strlcpy(sub_state, "missing", cap);
        else if (!sub.enabled || sub.apply_errors > 0) fc_strlcpy(sub_state, "failing", cap);
        else if (!si.active && !strcmp(sub_state, "streaming")) fc_strlcpy(sub_state, "connecting", cap);
    }
    return STEP_OK;
}

static bool requested(step_ctx *ctx, const char *fact) { return step_ctx_fact(ctx, fact) && *pgl_fact(ctx, fact); }

step_rc pgl_step_rollback_window(step_ctx *ctx, step_result *res)
{
    if (strcmp(pgl_fact(ctx, "rb_reverse"), "1") != 0) return STEP_OK; /* no window (or finalized) */
    if (requested(ctx, "rollback_requested")) {
        fc_strlcpy(res->next, "rollback", sizeof res->next);
        return STEP_NEXT;
    }
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    int64_t until = pgl_fact_i64(ctx, "rb_until_ms", 0), now = fc_now_ms();
    bool fin = requested(ctx, "finalize_requested");
    if (fin || now >= until) {
        step_ctx_set_fact(ctx, "rb_state", "finalizing");
        rc = pgl_reverse_finalize(&s);
        if (rc == STEP_OK) {
            step_ctx_set_fact(ctx, "rb_state", "finalized");
            awsstep_mark(ctx, "rb_finalized_at");
            log_info("rollback window closed: reverse replication removed", "why=%s",
                     fin ? "finalize" : "window end");
        }
        goto out;
    }
    int64_t lag = 0;
    char st[16];
    rc = measure(&s, &lag, st, sizeof st);
    if (rc != STEP_OK) goto out;
    step_ctx_set_factf(ctx, "rb_lag_bytes", "%lld", (long long)lag);
    step_ctx_set_factf(ctx, "rb_lag_at", "%lld", (long long)fc_now_ms());
    if (strcmp(pgl_fact(ctx, "rb_sub_state"), st) != 0) {
        step_ctx_set_fact(ctx, "rb_sub_state", st);
        if (strcmp(st, "streaming") != 0 && strcmp(st, "connecting") != 0)
            log_warn("rollback window: reverse subscription not healthy", "state=%s", st);
    }
    int64_t left = until - now;
    res->wait_ms = left < RB_POLL_MS ? left + 50 : RB_POLL_MS;
    PGL_REASON(res, STEP_APPROVAL_PREFIX " (rollback window: fleetcrypt rollback|finalize %s %s; ends in %llds); "
                    "reverse lag %lld bytes, %s",
               step_ctx_campaign(ctx), step_ctx_instance(ctx), (long long)(left / 1000), (long long)lag, st);
    rc = STEP_WAIT;
out:
    pgl_session_finish(&s);
    return rc;
}

/* ---------------------------------------------------------------- rollback */
typedef struct rb {
    pgl_session s;
    step_ctx *ctx;
    step_result *res;
    char orig[64], ret[64], tid[64];
    bool proxy, cname;
} rb;

static step_rc target_blocked(rb *r, int *blocked)
{
    pgl_db_names nm;
    step_rc rc = STEP_OK;
    char err[512];
    int64_t since = 0;
    pgq *t = pgl_names_conn(&r->s, r->s.dbs[0], PGL_TARGET, PGL_AS_ADMIN, &nm, &rc);
    if (!t) return rc;
    if (!pgl_blocked_since(t, &nm, blocked, &since, err, sizeof err))
        return pgl_sql_fail(r->res, t, "target state", err);
    return STEP_OK;
}

static step_rc block_target(rb *r, fc_lsn *L)
{
    int roles = 0;
    step_rc rc = pgl_block_writers(&r->s, PGL_TARGET, RB_BLOCK_TIMEOUT_MS, L, &roles);
    if (rc == STEP_OK) step_ctx_set_factf(r->ctx, "rb_target_blocked_roles", "%d", roles);
    return rc;
}

/* Every acknowledged write on the target is on the source: the reverse
 * slots confirmed L; then the sequences. */
static step_rc drain_back(rb *r, fc_lsn L)
{
    char err[1024];
    step_rc rc = STEP_OK;
    const char *m = pgl_cfield(r->ctx, "seq_margin");
    int64_t margin = *m ? strtoll(m, NULL, 10) : 100;
    for (int i = 0; i < r->s.ndbs; i++) {
        pgl_db_names nm, rv;
        if (!names_of(&r->s, i, &nm, &rv)) return STEP_FAIL;
        pgq *t = pgl_conn(&r->s, PGL_TARGET, PGL_AS_ADMIN, r->s.dbs[i], &rc);
        if (!t) return rc;
        fc_lsn flushed = FC_LSN_INVALID;
        if (!pgl_wait_flush(t, rv.slot, L, RB_FLUSH_TIMEOUT_MS, &flushed, err, sizeof err))
            return pgl_sql_fail(r->res, t, "rollback: draining the reverse replication", err);
        pgq *q = pgl_conn(&r->s, PGL_RETIRED, PGL_AS_ADMIN, r->s.dbs[i], &rc);
        if (!q) return rc;
        int n = 0;
        if (!pgl_sync_sequences(t, q, &nm, margin, &n, err, sizeof err))
            return pgl_sql_fail(r->res, q, "rollback: sequences on the source", err);
    }
    return STEP_OK;
}

static step_rc unblock_side(rb *r, pgl_side side, int *restored)
{
    pgl_db_names nm;
    step_rc rc = STEP_OK;
    char err[512];
    if (!pgl_names(&r->s, r->s.dbs[0], &nm)) return STEP_FAIL;
    pgq *q = pgl_fenced_begin(&r->s, side, NULL, &rc);
    if (!q) return rc;
    if (!pgl_unblock(q, &nm, restored, err, sizeof err)) {
        pgfence_rollback(q);
        return pgl_sql_fail(r->res, q, side == PGL_TARGET ? "letting writers in on the target again"
                                                          : "letting writers in on the source", err);
    }
    return pgl_fenced_commit(&r->s, q);
}

/* Are the reverse subscriptions gone (the drain finished before they were dropped)? */
static step_rc reverse_gone(rb *r, bool *gone)
{
    char err[512];
    step_rc rc = STEP_OK;
    *gone = true;
    for (int i = 0; i < r->s.ndbs; i++) {
        pgl_db_names nm, rv;
        if (!names_of(&r->s, i, &nm, &rv)) return STEP_FAIL;
        pgq *q = pgl_conn(&r->s, PGL_RETIRED, PGL_AS_ADMIN, r->s.dbs[i], &rc);
        if (!q) return rc;
        bool ex = false;
        if (!pgl_sub_exists(q, &rv, &ex, err, sizeof err)) return pgl_sql_fail(r->res, q, "reverse subscription", err);
        if (ex) *gone = false;
    }
    return STEP_OK;
}

static step_rc await_endpoint(rb *r, const char *id, const char *role, int64_t deadline, const char *hf,
                              const char *pf)
{
    rds_instance *i = NULL;
    step_rc rc = pgl_await_instance(r->ctx, r->res, id, role, deadline, &i);
    if (rc == STEP_WAIT) {
        r->res->wait_ms = 5000;
        PGL_REASON(r->res, "rollback: waiting for %s to be available", id);
    }
    if (rc != STEP_OK) return rc;
    step_ctx_set_fact(r->ctx, hf, i->endpoint_address);
    step_ctx_set_factf(r->ctx, pf, "%d", i->port);
    rds_instance_free(i);
    return STEP_OK;
}

/* The rename swap backwards: the encrypted instance (now the original
 * identifier, tagged encrypted-target) → fc-…-target, then the retired
 * source → the original identifier. Learned from the world on a re-run.
 * Writers are blocked on the target: a rename that fails only for now is
 * sent again until the switch's deadline (awsstep_rename_try). */
static step_rc switch_back_rename(rb *r, int64_t deadline)
{
    step_rc rc = STEP_OK;
    bool missing = false;
    rds_instance *o = pgl_describe(r->ctx, r->res, r->orig, &missing, &rc);
    if (!o && !missing) return rc;
    r->res->reason[0] = 0;
    bool orig_is_target = o && pgl_is_ours(r->ctx, o, PGL_ROLE_TARGET);
    rds_instance_free(o);
    if (orig_is_target) {
        if (!step_ctx_lease_ok(r->ctx)) return (PGL_REASON(r->res, "lease lost"), STEP_RETRY);
        if ((rc = awsstep_rename_try(r->ctx, r->res, r->orig, r->tid, deadline, NULL, NULL, NULL)) != STEP_OK)
            return rc;
        missing = true;
    }
    if (missing) {
        if ((rc = await_endpoint(r, r->tid, PGL_ROLE_TARGET, deadline, "target_address", "target_port")) != STEP_OK)
            return rc;
        rds_instance *ri = pgl_describe(r->ctx, r->res, r->ret, &missing, &rc);
        if (!ri && !missing) return rc;
        r->res->reason[0] = 0;
        if (ri) {
            rds_instance_free(ri);
            if (!step_ctx_lease_ok(r->ctx)) return (PGL_REASON(r->res, "lease lost"), STEP_RETRY);
            if ((rc = awsstep_rename_try(r->ctx, r->res, r->ret, r->orig, deadline, NULL, NULL, NULL)) != STEP_OK)
                return rc;
        }
    }
    if ((rc = await_endpoint(r, r->orig, NULL, deadline, "retired_address", "retired_port")) != STEP_OK) return rc;
    return await_endpoint(r, r->tid, PGL_ROLE_TARGET, deadline, "target_address", "target_port");
}

/* Rename method: where the two servers are now, from the world (a run that
 * renamed back may have died with its endpoint facts): the source under the
 * original identifier once the retired name is gone, the target under
 * fc-…-target once it has it back. The identity check of every connection
 * (markers) still decides which server a name reaches. */
static step_rc locate(rb *r)
{
    if (r->proxy || r->cname) return STEP_OK;
    step_rc rc = STEP_OK;
    bool missing = false;
    rds_instance *ri = pgl_describe(r->ctx, r->res, r->ret, &missing, &rc);
    if (!ri && !missing) return rc;
    r->res->reason[0] = 0;
    rds_instance_free(ri);
    if (!missing) return STEP_OK; /* not renamed back yet: the facts hold */
    rds_instance *o = pgl_describe(r->ctx, r->res, r->orig, &missing, &rc);
    if (!o) return missing ? (r->res->reason[0] = 0, STEP_OK) : rc;
    if (!pgl_is_ours(r->ctx, o, PGL_ROLE_TARGET) && o->endpoint_address[0] && o->port > 0) {
        step_ctx_set_fact(r->ctx, "retired_address", o->endpoint_address);
        step_ctx_set_factf(r->ctx, "retired_port", "%d", o->port);
    }
    rds_instance_free(o);
    rds_instance *t = pgl_describe(r->ctx, r->res, r->tid, &missing, &rc);
    if (!t) return missing ? (r->res->reason[0] = 0, STEP_OK) : rc;
    if (t->endpoint_address[0] && t->port > 0) {
        step_ctx_set_fact(r->ctx, "target_address", t->endpoint_address);
        step_ctx_set_factf(r->ctx, "target_port", "%d", t->port);
    }
    rds_instance_free(t);
    return STEP_OK;
}

static step_rc rename_back(void *r, int64_t deadline) { return switch_back_rename(r, deadline); }

/* The cutover's switch backwards (switch.c): the proxies' target back to
 * the source (awaited AVAILABLE), the CNAME's original value back (awaited
 * INSYNC), or the rename swap undone. */
static step_rc switch_back(rb *r, int64_t deadline)
{
    int n = 0;
    step_rc rc = pgl_switch(r->ctx, r->res, PGL_TO_SOURCE, r->orig, r->tid, deadline, rename_back, r, &n);
    if (rc == STEP_OK && r->proxy && !n) {
        PGL_REASON(r->res, "rollback: no RDS Proxy has %s or %s as its target (set proxy_name)", r->orig, r->tid);
        return STEP_FAIL;
    }
    return rc;
}

static int64_t poll_ms(step_ctx *ctx)
{
    const char *ps = pgl_cfield(ctx, "switch_poll_s");
    return (*ps ? strtoll(ps, NULL, 10) : 90) * 1000;
}

static step_rc rollback_inner(rb *r)
{
    step_ctx *ctx = r->ctx;
    step_result *res = r->res;
    step_rc rc = STEP_OK;
    bool gone = false;
    if ((rc = locate(r)) != STEP_OK) return rc;
    if (!strcmp(pgl_fact(ctx, "rb_state"), "switched-back")) goto open_source;
    if ((rc = pgl_fence(&r->s, PGL_RETIRED)) != STEP_OK) return rc;
    if ((rc = reverse_gone(r, &gone)) != STEP_OK) return rc;
    if (!gone) {
        int64_t t0 = fc_now_ms();
        int blocked = 0;
        if ((rc = target_blocked(r, &blocked)) != STEP_OK) return rc;
        if (!blocked) step_ctx_set_factf(ctx, "rb_block_ms", "%lld", (long long)t0);
        log_info("rollback: blocking writers on the target", "db=%s", r->orig);
        fc_lsn L = 0;
        rc = block_target(r, &L);
        if (rc == STEP_OK) {
            fc_crashpoint("rollback.blocked");
            rc = drain_back(r, L);
        }
        if (rc != STEP_OK) {
            /* not drained: the target keeps serving, the rollback is retried */
            int restored = 0;
            char keep[sizeof res->reason];
            fc_strlcpy(keep, res->reason, sizeof keep);
            if (step_ctx_lease_ok(ctx) && unblock_side(r, PGL_TARGET, &restored) == STEP_OK)
                log_warn("rollback not drained: writers back on the target", "why=\"%s\"", keep);
            fc_strlcpy(res->reason, keep, sizeof res->reason);
            return rc;
        }
        char l[FC_LSN_STRLEN];
        step_ctx_set_fact(ctx, "rb_final_lsn", lsn_format(L, l));
    }
    /* drained (or dropped after a drain): only forward from here */
    if ((rc = pgl_reverse_finalize(&r->s)) != STEP_OK) return rc;
    for (int i = 0; i < r->s.ndbs; i++) {
        pgl_conn_drop(&r->s, PGL_RETIRED, PGL_AS_ADMIN, r->s.dbs[i]);
        pgl_conn_drop(&r->s, PGL_TARGET, PGL_AS_ADMIN, r->s.dbs[i]);
    }
    memset(r->s.fenced, 0, sizeof r->s.fenced);
    fc_crashpoint("rollback.drained");
    if ((rc = switch_back(r, fc_mono_ms() + poll_ms(ctx))) != STEP_OK) return rc;
    fc_crashpoint("rollback.switched");
    step_ctx_set_fact(ctx, "rb_state", "switched-back");
open_source:;
    int restored = 0;
    int64_t deadline = fc_mono_ms() + poll_ms(ctx);
    for (;;) {
        rc = pgl_fence(&r->s, PGL_RETIRED);
        if (rc == STEP_OK) rc = unblock_side(r, PGL_RETIRED, &restored);
        if (rc != STEP_WAIT && rc != STEP_RETRY) break;
        if (fc_mono_ms() > deadline || !step_ctx_lease_ok(ctx)) return rc;
        fc_sleep_ms(500);
    }
    if (rc != STEP_OK) return rc;
    int64_t t0 = pgl_fact_i64(ctx, "rb_block_ms", 0);
    int64_t down = t0 > 0 ? fc_now_ms() - t0 : -1;
    if (down >= 0) step_ctx_set_factf(ctx, "rb_downtime_ms", "%lld", (long long)down);
    step_ctx_set_fact(ctx, "rb_state", "rolled-back");
    awsstep_mark(ctx, "rb_rolled_back_at");
    log_info("rolled back: writers on the source again", "roles=%d downtime_ms=%lld", restored, (long long)down);
    return STEP_OK;
}

step_rc pgl_step_rollback(step_ctx *ctx, step_result *res)
{
    if (!strcmp(pgl_fact(ctx, "rb_state"), "rolled-back")) goto done;
    rb r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.res = res;
    pgl_session_init(&r.s, ctx, res);
    fc_strlcpy(r.orig, step_ctx_instance(ctx), sizeof r.orig);
    awsstep_name(ctx, PGL_SFX_RETIRED, r.ret, sizeof r.ret);
    awsstep_name(ctx, PGL_SFX_TARGET, r.tid, sizeof r.tid);
    r.proxy = pgl_cutover_method(ctx) == PGL_METHOD_PROXY;
    r.cname = pgl_cutover_method(ctx) == PGL_METHOD_CNAME;
    step_ctx_set_fact(ctx, "rb_state", strcmp(pgl_fact(ctx, "rb_state"), "switched-back") ? "rolling-back"
                                                                                          : "switched-back");
    step_rc rc = rollback_inner(&r);
    pgl_session_finish(&r.s);
    if (rc != STEP_OK) return rc;
done:
    fc_strlcpy(res->next, STEP_ABORT_NAME, sizeof res->next);
    return STEP_NEXT;
}
