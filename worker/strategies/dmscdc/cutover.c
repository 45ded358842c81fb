/* cutover — dms-cdc's step `cutover`: pg-logical's write-unavailable window
 * with DMS as the replication (pg-logical's database helpers throughout:
 * the fence, the block, the slot's flush, sequences, unblock, the pinned
 * snapshot, the comparison).
 *
 *   0. the gate: campaign window and approval (--cutover approve), the
 *      source watch, every task running and the lag under catchup_lag_bytes;
 *   1. block every login role but fleetcrypt's on the source and end their
 *      sessions; L = the source's WAL insert position after that;
 *   2. drain: every slot's confirmed_flush_lsn >= L (the DMS engine confirms
 *      a position only once the target committed it), every task still
 *      running, no apply exception on the target, row counts equal; every
 *      sequence on the target set to the source's + seq_margin (DMS does not
 *      replicate sequences); the drained mark (fenced);
 *   3. stop every task (awaited), drop the slots, publication and guard on
 *      the source (the block record kept: the retired source stays blocked);
 *   4. block the same roles on the target, switch (--cutover-method:
 *      rename swap, source → fc-…-retired, target → the original
 *      identifier; proxy, the RDS Proxies in front of the source moved to
 *      the target, shared/awsproxy.c; cname, the application's Route 53
 *      CNAME UPSERTed to the target's endpoint and awaited INSYNC,
 *      shared/awscname.c, its old TTL back once writers are in — with
 *      proxy and cname the source keeps its identifier and endpoint, as
 *      DMS's source endpoint did, and is the retired source), pin a
 *      snapshot of the target, let writers in there; downtime = block →
 *      writers in;
 *      With --dms-validation dms|both, after the tasks stopped and before
 *      the slot goes, DMS's validation-only tasks compare the still source
 *      and target (validate.c);
 *   5. the full comparison of the frozen source with the pinned snapshot
 *      (facts verify_*, read by pg-logical's verify step), unless
 *      --dms-validation dms (DMS's result is the evidence then).
 * Before the drained mark a failure lets the source's writers back in;
 * after it only forward. A re-run learns where it stopped from the world:
 * the original name is our target or the retired name exists (rename:
 * switched, maybe half), some proxy has the target (proxy), the record
 * points at the target (cname), the source's block record, the drained
 * mark. */
#include "dmscdc.h"
#include "dmscdc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscname.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "dms_db.h"
#include "log.h"
#include "pgfence.h"
#include "pgl_db_extra.h"
#include "util.h"
#include "window.h"

#define BLOCK_TIMEOUT_MS 30000
#define FLUSH_TIMEOUT_MS 120000
#define STOP_TIMEOUT_MS 120000

typedef struct dcut {
    pgl_session s;
    step_ctx *ctx;
    step_result *res;
    char orig[64], ret[64], tid[64];
    pgq *pinned[PGL_MAX_DBS];
    dms_cutover_hook hook; /* dms_cutover_with: run after the tasks stopped, before the switch */
    bool proxy, cname;     /* --cutover-method proxy | cname (else rename) */
} dcut;

static void dcut_free(dcut *c)
{
    for (int i = 0; i < PGL_MAX_DBS; i++) pgq_close(c->pinned[i]);
    pgl_session_finish(&c->s);
}

/* ---------------------------------------------------------------- the switch */
static step_rc is_ours_target(dcut *c, const char *id, bool *yes, bool *exists)
{
    *yes = *exists = false;
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = awsstep_describe(c->ctx, c->res, id, &missing, &rc);
    if (!i) return missing ? (c->res->reason[0] = 0, STEP_OK) : rc;
    *exists = true;
    *yes = awsstep_is_ours(c->ctx, i, PGL_ROLE_TARGET);
    rds_instance_free(i);
    return STEP_OK;
}

/* ---------------------------------------------------------------- proxy, cname
 * The RDS Proxies of the proxy method are shared/awsproxy.c's choice: the
 * campaign's proxy_name, else the recorded ones (fact proxy_names) and
 * every proxy whose targets include the source (or, after a crash, the
 * target); none is a failure. The CNAME is shared/awscname.c's (facts
 * cname_*, learnt at preflight, TTL lowered at catch-up). */
static step_rc no_proxy(dcut *c)
{
    PGL_REASON(c->res, "cutover_method=proxy: no RDS Proxy has %s as its target (set proxy_name)", c->orig);
    return STEP_FAIL;
}

/* The source keeps its identifier and endpoint (proxy, cname): it is the
 * retired source; the target keeps its own (fact target_id of restore). */
static void retired_in_place(dcut *c)
{
    step_ctx_set_fact(c->ctx, "retired_id", c->orig);
    step_ctx_set_fact(c->ctx, "retired_address", pgl_fact(c->ctx, "address"));
    step_ctx_set_fact(c->ctx, "retired_port", pgl_fact(c->ctx, "port"));
}

static step_rc switch_proxy(dcut *c, int64_t deadline)
{
    int n = 0;
    step_rc rc = awsproxy_switch(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig, pgl_cfield(c->ctx, "proxy_name"),
                                 deadline, &n);
    if (rc != STEP_OK) return rc;
    if (!n) return no_proxy(c);
    retired_in_place(c);
    return STEP_OK;
}

static step_rc switch_cname(dcut *c, int64_t deadline)
{
    step_rc rc = awscname_switch(c->ctx, c->res, pgl_fact(c->ctx, "target_address"), deadline);
    if (rc != STEP_OK) return rc;
    retired_in_place(c);
    return STEP_OK;
}

static step_rc switch_rename(dcut *c, int64_t deadline);

static step_rc do_switch(dcut *c, int64_t deadline)
{
    return c->proxy ? switch_proxy(c, deadline) : c->cname ? switch_cname(c, deadline) : switch_rename(c, deadline);
}

static const char *method_name(const dcut *c) { return c->proxy ? "proxy" : c->cname ? "cname" : "rename"; }

/* Has the switch begun? Rename: the retired name exists or the original
 * name is our target. Proxy: some proxy has the target. CNAME: the record
 * points at the target's endpoint. */
static step_rc world_switched(dcut *c, bool *begun)
{
    *begun = false;
    if (c->cname) return awscname_switched(c->ctx, c->res, pgl_fact(c->ctx, "target_address"), begun);
    if (c->proxy) {
        bool done = false;
        int n = 0;
        step_rc rc = awsproxy_state(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig,
                                    pgl_cfield(c->ctx, "proxy_name"), begun, &done, &n);
        return rc == STEP_OK && !n ? no_proxy(c) : rc;
    }
    bool ours = false, exists = false, ret_exists = false, dummy = false;
    step_rc rc = is_ours_target(c, c->orig, &ours, &exists);
    if (rc != STEP_OK) return rc;
    if ((rc = is_ours_target(c, c->ret, &dummy, &ret_exists)) != STEP_OK) return rc;
    *begun = ours || ret_exists;
    return STEP_OK;
}

static step_rc await_named(dcut *c, const char *id, const char *role, int64_t deadline, const char *hf,
                           const char *pf)
{
    rds_instance *i = NULL;
    step_rc rc = awsstep_await_instance(c->ctx, c->res, id, role, deadline, &i);
    if (rc == STEP_WAIT) {
        c->res->wait_ms = 5000;
        PGL_REASON(c->res, "cutover: waiting for %s to be available", id);
        return rc;
    }
    if (rc != STEP_OK) return rc;
    step_ctx_set_fact(c->ctx, hf, i->endpoint_address);
    step_ctx_set_factf(c->ctx, pf, "%d", i->port);
    rds_instance_free(i);
    return STEP_OK;
}

/* The rename swap, resumable at each of its two renames. */
static step_rc switch_rename(dcut *c, int64_t deadline)
{
    bool done = false, exists = false;
    step_rc rc = is_ours_target(c, c->orig, &done, &exists);
    if (rc != STEP_OK) return rc;
    if (!done) {
        if (exists) {
            if (!step_ctx_lease_ok(c->ctx)) return LEASE_LOST(c->res);
            if ((rc = awsstep_rename(c->ctx, c->res, c->orig, c->ret)) != STEP_OK) return rc;
        }
        c->res->reason[0] = 0;
        if ((rc = await_named(c, c->ret, NULL, deadline, "retired_address", "retired_port")) != STEP_OK) return rc;
        bool t_ours = false, t_exists = false;
        if ((rc = is_ours_target(c, c->tid, &t_ours, &t_exists)) != STEP_OK) return rc;
        if (t_exists) {
            if (!step_ctx_lease_ok(c->ctx)) return LEASE_LOST(c->res);
            if ((rc = awsstep_rename(c->ctx, c->res, c->tid, c->orig)) != STEP_OK) return rc;
        }
        c->res->reason[0] = 0;
    }
    if ((rc = await_named(c, c->orig, PGL_ROLE_TARGET, deadline, "target_address", "target_port")) != STEP_OK)
        return rc;
    if (!*pgl_fact(c->ctx, "retired_port") &&
        (rc = await_named(c, c->ret, NULL, deadline, "retired_address", "retired_port")) != STEP_OK)
        return rc;
    step_ctx_set_fact(c->ctx, "target_id", c->orig);
    step_ctx_set_fact(c->ctx, "retired_id", c->ret);
    return STEP_OK;
}

/* ---------------------------------------------------------------- the databases */
/* Block a side's writers (session.c); facts blocked_roles / target_blocked_roles. */
static step_rc block_side(dcut *c, pgl_side side, fc_lsn *lsn)
{
    int roles = 0;
    step_rc rc = pgl_block_writers(&c->s, side, BLOCK_TIMEOUT_MS, lsn, &roles);
    if (rc != STEP_OK) return rc;
    step_ctx_set_factf(c->ctx, side == PGL_SOURCE ? "blocked_roles" : "target_blocked_roles", "%d", roles);
    return STEP_OK;
}

/* Every task running and no apply exception: else the target misses changes. */
static step_rc tasks_healthy(dcut *c, bool abort_on_bad)
{
    char err[1024];
    int64_t exc = 0;
    for (int i = 0; i < c->s.ndbs; i++) {
        dms_task t;
        bool found = false;
        step_rc rc = dms_task_of(c->ctx, c->res, i + 1, &t, &found);
        if (rc != STEP_OK) return rc;
        if (!found || strcmp(t.status, "running")) {
            char why[600];
            snprintf(why, sizeof why, "DMS task for database %s is %s %s %s", c->s.dbs[i],
                     found ? t.status : "missing", found ? t.stop_reason : "", found ? t.last_failure : "");
            if (abort_on_bad) return pgl_abort_now(c->ctx, c->res, why);
            PGL_REASON(c->res, "cutover: %s", why);
            return STEP_FAIL;
        }
        pgl_db_names nm;
        pgq *t2 = pgl_names_conn(&c->s, c->s.dbs[i], PGL_TARGET, PGL_AS_ADMIN, &nm, &rc);
        if (!t2) return rc;
        int64_t n = 0;
        if (!dms_db_apply_exceptions(t2, nm.schema, &n, err, sizeof err))
            return pgl_sql_fail(c->res, t2, "apply exceptions", err);
        exc += n;
    }
    step_ctx_set_factf(c->ctx, "apply_exceptions", "%lld", (long long)exc);
    if (exc > 0) {
        PGL_REASON(c->res, "cutover: DMS could not apply %lld change(s) (awsdms_apply_exceptions)", (long long)exc);
        return STEP_FAIL;
    }
    return STEP_OK;
}

static step_rc gate(dcut *c)
{
    step_ctx *ctx = c->ctx;
    fc_window w;
    char err[200];
    if (!window_parse(step_ctx_opt(ctx, "window"), &w, err, sizeof err)) {
        PGL_REASON(c->res, "%s", err);
        return STEP_FAIL;
    }
    pgl_gate_in gi;
    memset(&gi, 0, sizeof gi);
    gi.window = &w;
    gi.now_ms = fc_now_ms();
    gi.need_approval = !strcmp(step_ctx_opt(ctx, "cutover"), "approve");
    gi.approved = pgl_truthy(pgl_fact(ctx, "approved")) || pgl_opt(ctx, "approved");
    int64_t wait = 0;
    pgl_gate g = pgl_gate_check(&gi, &wait);
    step_rc rc = pgl_watch(&c->s, false, NULL);
    if (rc != STEP_OK) return rc;
    if ((rc = tasks_healthy(c, true)) != STEP_OK) return rc;
    if (g == PGL_GATE_APPROVAL) {
        step_ctx_set_fact(ctx, "waiting_approval", "1");
        c->res->wait_ms = wait;
        PGL_REASON(c->res, "waiting for approval (fleetcrypt approve %s %s)", step_ctx_campaign(ctx),
                   step_ctx_instance(ctx));
        return STEP_WAIT;
    }
    if (*pgl_fact(ctx, "waiting_approval") && strcmp(pgl_fact(ctx, "waiting_approval"), "0"))
        step_ctx_set_fact(ctx, "waiting_approval", "0");
    if (g == PGL_GATE_WINDOW) {
        c->res->wait_ms = wait < 30000 ? wait + 200 : 30000;
        PGL_REASON(c->res, "waiting for the cutover window '%s' UTC", step_ctx_opt(ctx, "window"));
        return STEP_WAIT;
    }
    int64_t lag = 0;
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&c->s, c->s.dbs[i], PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
        if (!q) return rc;
        pgl_slot_info si;
        if (!pgl_slot_status(q, nm.slot, &si, err, sizeof err)) return pgl_sql_fail(c->res, q, "slot status", err);
        if (si.lag_bytes > lag) lag = si.lag_bytes;
    }
    int64_t thr = step_ctx_opt_i64(ctx, "catchup_lag_bytes", 1024LL * 1024);
    if (lag > thr) {
        c->res->wait_ms = 2000;
        PGL_REASON(c->res, "cutover held: DMS is %lld bytes behind (over %lld)", (long long)lag, (long long)thr);
        return STEP_WAIT;
    }
    return STEP_OK;
}

/* Source blocked: DMS applied everything up to L; counts; sequences. */
static step_rc drain(dcut *c, fc_lsn L)
{
    char err[1024];
    step_rc rc = STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&c->s, c->s.dbs[i], PGL_SOURCE, PGL_AS_ADMIN, &nm, &rc);
        if (!q) return rc;
        /* DMS confirms the positions of the transactions it reads, not the
         * WAL after the last one (no keepalive feedback, no heartbeat):
         * one committed transaction after L in this database gives it a
         * commit to confirm at or past L */
        if (!dms_db_drain_marker(q, err, sizeof err)) return pgl_sql_fail(c->res, q, "drain marker", err);
        fc_lsn flushed = 0;
        if (!pgl_wait_flush(q, nm.slot, L, FLUSH_TIMEOUT_MS, &flushed, err, sizeof err)) {
            PGL_REASON(c->res, "cutover: DMS did not confirm the source's final position: %s", err);
            return STEP_RETRY;
        }
    }
    if ((rc = tasks_healthy(c, false)) != STEP_OK) return rc;
    int64_t rows = 0;
    int mism = 0;
    dbuf list;
    dbuf_init(&list, 4096);
    int64_t now = fc_mono_ms();
    bool late = false;
    rc = pgl_compare_all(&c->s, PGL_SOURCE, NULL, true, now + (step_ctx_run_deadline(c->ctx) - now) / 2, &rows,
                         &mism, &list, NULL, &late);
    if (late) rc = STEP_RETRY;
    if (rc == STEP_OK && mism) {
        PGL_REASON(c->res, "row counts differ at cutover: %s", list.data);
        rc = STEP_FAIL;
    }
    dbuf_free(&list);
    if (rc != STEP_OK) return rc;
    int64_t margin = step_ctx_opt_i64(c->ctx, "seq_margin", 100);
    int seqs = 0;
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        pgq *src = pgl_names_conn(&c->s, c->s.dbs[i], PGL_SOURCE, PGL_AS_ADMIN, &nm, &rc);
        if (!src) return rc;
        pgq *dst = pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc);
        if (!dst) return rc;
        int n = 0;
        if (!step_ctx_lease_ok(c->ctx)) return LEASE_LOST(c->res);
        if (!pgl_sync_sequences(src, dst, &nm, margin, &n, err, sizeof err))
            return pgl_sql_fail(c->res, dst, "sequences", err);
        seqs += n;
    }
    step_ctx_set_factf(c->ctx, "sequences_synced", "%d", seqs);
    return STEP_OK;
}

/* Before the drained mark: writers back on the source (fenced, the mark cleared). */
static void unblock_source(dcut *c, const char *why)
{
    char keep[sizeof c->res->reason];
    fc_strlcpy(keep, c->res->reason, sizeof keep);
    if (!step_ctx_lease_ok(c->ctx)) return;
    step_rc rc = STEP_OK;
    char err[512] = "";
    pgl_db_names nm;
    int restored = 0;
    pgq *q = pgl_names(&c->s, c->s.dbs[0], &nm) ? pgl_fenced_begin(&c->s, PGL_SOURCE, NULL, &rc) : NULL;
    bool ok = q && pgl_unblock(q, &nm, &restored, err, sizeof err) &&
              pgfence_set_drained(q, nm.schema, "source", false, err, sizeof err);
    if (ok) ok = pgl_fenced_commit(&c->s, q) == STEP_OK;
    else if (q) pgfence_rollback(q);
    fc_strlcpy(c->res->reason, keep, sizeof c->res->reason);
    if (!ok) {
        log_error("cutover failed and the source could NOT be unblocked: abort the instance", "why=\"%s\" err=\"%s\"",
                  why, err);
        size_t n = strlen(c->res->reason);
        snprintf(c->res->reason + n, sizeof c->res->reason - n, " (unblocking the source failed: %s)", err);
        return;
    }
    log_warn("cutover abandoned before the switch: source writable again", "why=\"%s\" roles=%d", why, restored);
}

/* Stop every task and wait (bounded, in the run) until each is stopped. */
static step_rc stop_tasks(dcut *c)
{
    aws_client *a = step_ctx_aws(c->ctx);
    if (!a) return NO_CLIENT(c->res);
    int64_t deadline = fc_mono_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        bool pending = false;
        for (int i = 0; i < c->s.ndbs; i++) {
            dms_task t;
            bool found = false;
            step_rc rc = dms_task_of(c->ctx, c->res, i + 1, &t, &found);
            if (rc != STEP_OK) return rc;
            if (!found || !strcmp(t.status, "stopped") || !strcmp(t.status, "failed") || !strcmp(t.status, "ready"))
                continue;
            pending = true;
            if (!strcmp(t.status, "stopping")) continue;
            if (!step_ctx_lease_ok(c->ctx)) return LEASE_LOST(c->res);
            aws_error e;
            aws_error_clear(&e);
            if (!dms_stop_task(a, t.arn, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND &&
                strcmp(e.code, "InvalidResourceStateFault"))
                return dms_fail(c->res, &e, "StopReplicationTask");
        }
        if (!pending) return STEP_OK;
        if (fc_mono_ms() > deadline) {
            c->res->wait_ms = 3000;
            PGL_REASON(c->res, "cutover: waiting for the DMS tasks to stop (writers stay blocked)");
            return STEP_WAIT;
        }
        fc_sleep_ms(1000);
    }
}

/* DMS's own record of what it applied, per table, as evidence next to
 * fleetcrypt's comparison (fact dms_table_stats: one
 * "db/schema.table<TAB>inserts<TAB>updates<TAB>deletes<TAB>validation
 * state<TAB>ddls<TAB>full-load rows" line per table — names and counts,
 * never values — at most DMS_STATS_MAX_TABLES lines and 60000 bytes, then
 * one "+N<TAB>more" line; `fleetcrypt report` shows it). Best effort: a
 * failure is logged, not fatal. */
#define DMS_STATS_MAX_TABLES 500
static void record_table_stats(dcut *c)
{
    if (step_ctx_fact(c->ctx, "dms_table_stats")) return;
    aws_client *a = step_ctx_aws(c->ctx);
    if (!a) return;
    dbuf b;
    dbuf_init(&b, 60000);
    long long kept = 0, more = 0;
    for (int i = 0; i < c->s.ndbs; i++) {
        char f[48];
        snprintf(f, sizeof f, "dms_task_arn.%d", i + 1);
        const char *arn = pgl_fact(c->ctx, f);
        if (!*arn) continue;
        dms_table_stats *ts = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (!dms_describe_table_statistics(a, arn, &ts, &e)) {
            log_warn("DMS table statistics not recorded", "db=%s code=%s", c->s.dbs[i], e.code);
            continue;
        }
        for (size_t k = 0; k < ts->n; k++) {
            const dms_table_stat *t = &ts->v[k];
            char line[700];
            int n = snprintf(line, sizeof line, "%s/%s.%s\t%lld\t%lld\t%lld\t%s\t%lld\t%lld\n", c->s.dbs[i],
                             t->schema, t->table, (long long)t->inserts, (long long)t->updates,
                             (long long)t->deletes, t->validation_state[0] ? t->validation_state : "-",
                             (long long)t->ddls, (long long)t->full_load_rows);
            /* room kept for the "+N more" line */
            if (more || kept >= DMS_STATS_MAX_TABLES || n < 0 || (size_t)n >= sizeof line ||
                b.len + (size_t)n + 32 > 60000 || !dbuf_appends(&b, line)) {
                more++;
                continue;
            }
            kept++;
        }
        dms_table_stats_free(ts);
    }
    if (more) dbuf_printf(&b, "+%lld\tmore\n", more);
    step_ctx_set_fact(c->ctx, "dms_table_stats", b.data ? b.data : "");
    dbuf_free(&b);
}

static step_rc teardown_source(dcut *c)
{
    char err[1024];
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        step_rc rc = STEP_OK;
        pgq *q = pgl_names_conn(&c->s, c->s.dbs[i], PGL_SOURCE, PGL_AS_ADMIN, &nm, &rc);
        if (!q) return rc;
        if (!step_ctx_lease_ok(c->ctx)) return LEASE_LOST(c->res);
        c->s.fenced[PGL_SOURCE] = false;
        if ((rc = pgl_fence(&c->s, PGL_SOURCE)) != STEP_OK) return rc;
        if (!pgl_teardown_source(q, &nm, true, err, sizeof err))
            return pgl_sql_fail(c->res, q, "dropping the slot", err);
    }
    return STEP_OK;
}

static step_rc before_switch(dcut *c, int64_t *t0)
{
    step_rc rc = pgl_fence(&c->s, PGL_SOURCE);
    if (rc != STEP_OK) return rc;
    pgl_db_names nm0;
    pgq *q = pgl_names_conn(&c->s, c->s.dbs[0], PGL_SOURCE, PGL_AS_ADMIN, &nm0, &rc);
    if (!q) return rc;
    int blocked = 0;
    int64_t since = 0;
    bool drained = false;
    char err[512];
    if (!pgl_blocked_since(q, &nm0, &blocked, &since, err, sizeof err))
        return pgl_sql_fail(c->res, q, "cutover state", err);
    if ((rc = pgl_fence_drained(&c->s, PGL_SOURCE, &drained)) != STEP_OK) return rc;
    if (!drained) {
        if (blocked == 0) {
            if ((rc = gate(c)) != STEP_OK) return rc;
            *t0 = fc_now_ms();
            log_info("cutover: blocking writers", "db=%s", c->orig);
        } else if (since > 0 && *t0 <= 0) {
            *t0 = since;
        }
        step_ctx_set_factf(c->ctx, "cutover_block_ms", "%lld", (long long)*t0);
        int64_t now = fc_mono_ms();
        pgl_session_answer_by(&c->s, now + (step_ctx_run_deadline(c->ctx) - now) * 3 / 4);
        fc_lsn L = 0;
        rc = block_side(c, PGL_SOURCE, &L);
        for (int i = 0; rc == STEP_OK && i < c->s.ndbs; i++) {
            pgl_db_names nm;
            pgq *d = pgl_names_conn(&c->s, c->s.dbs[i], PGL_SOURCE, PGL_AS_ADMIN, &nm, &rc);
            if (!d) break;
            int count = 0;
            char events[400] = "", e2[512];
            if (!pgl_ddl_check(d, &nm, &count, events, sizeof events, e2, sizeof e2)) {
                rc = pgl_sql_fail(c->res, d, "DDL guard", e2);
            } else if (count > 0) {
                char why[480];
                snprintf(why, sizeof why, "schema changed on the source (database %s): %.380s", c->s.dbs[i], events);
                unblock_source(c, why);
                pgl_session_answer_by(&c->s, 0);
                return pgl_abort_now(c->ctx, c->res, why);
            }
        }
        if (rc == STEP_OK) {
            char l[FC_LSN_STRLEN];
            step_ctx_set_fact(c->ctx, "cutover_lsn", lsn_format(L, l));
            fc_crashpoint("dmscdc.cutover.blocked");
            rc = drain(c, L);
        }
        if (rc == STEP_OK) rc = pgl_fence_mark_drained(&c->s, PGL_SOURCE, true);
        pgl_session_answer_by(&c->s, 0);
        if (rc != STEP_OK) {
            unblock_source(c, c->res->reason);
            return rc;
        }
    } else if (since > 0 && *t0 <= 0) {
        *t0 = since;
    }
    /* from here on only forward */
    if ((rc = stop_tasks(c)) != STEP_OK) return rc;
    record_table_stats(c);
    /* DMS's validation as evidence (--dms-validation dms|both): both sides
     * still, inside the downtime window */
    if (dms_validation_wanted(c->ctx, NULL) && (rc = dms_validate(c->ctx, c->res, &c->s)) != STEP_OK) return rc;
    fc_crashpoint("dmscdc.cutover.stopped");
    if ((rc = teardown_source(c)) != STEP_OK || !c->hook) return rc;
    return c->hook(&c->s);
}

/* After the switch: the target's name reaches it; pin, writers in, downtime. */
static step_rc open_target(dcut *c, int64_t t0, int64_t deadline)
{
    step_rc rc = STEP_OK;
    char err[512];
    pgq *q = NULL;
    while (!(q = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], &rc))) {
        if ((rc != STEP_WAIT && rc != STEP_RETRY) || fc_mono_ms() > deadline) {
            if (rc == STEP_RETRY) rc = STEP_WAIT;
            if (c->res->wait_ms <= 0) c->res->wait_ms = 5000;
            return rc;
        }
        if (!step_ctx_lease_ok(c->ctx)) return LEASE_LOST(c->res);
        fc_sleep_ms(500);
    }
    c->res->reason[0] = 0;
    pgl_db_names nm0;
    if (!pgl_names(&c->s, c->s.dbs[0], &nm0)) return STEP_FAIL;
    if ((rc = pgl_fence(&c->s, PGL_TARGET)) != STEP_OK) return rc;
    int blocked = 0;
    int64_t since = 0;
    if (!pgl_blocked_since(q, &nm0, &blocked, &since, err, sizeof err))
        return pgl_sql_fail(c->res, q, "target state", err);
    if (blocked == 0) {
        if (!step_ctx_fact(c->ctx, "downtime_ms")) step_ctx_set_fact(c->ctx, "downtime_unknown", "1");
        return STEP_OK;
    }
    if (t0 <= 0) t0 = since > 0 ? since : fc_now_ms();
    for (int i = 0; i < c->s.ndbs; i++) {
        step_rc r2 = STEP_OK;
        pgq *p = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[i], &r2);
        if (!p) return r2;
        c->pinned[i] = p; /* the pin owns it now */
        c->s.conn[PGL_TARGET][PGL_AS_ADMIN][i] = NULL;
        if (!pgl_pin_snapshot(p, err, sizeof err)) return pgl_sql_fail(c->res, p, "pinning the snapshot", err);
    }
    q = pgl_fenced_begin(&c->s, PGL_TARGET, NULL, &rc);
    if (!q) return rc;
    int restored = 0;
    if (!pgl_unblock(q, &nm0, &restored, err, sizeof err)) {
        pgfence_rollback(q);
        return pgl_sql_fail(c->res, q, "letting writers in on the target", err);
    }
    if ((rc = pgl_fenced_commit(&c->s, q)) != STEP_OK) return rc;
    int64_t down = fc_now_ms() - t0;
    if (down < 0) down = 0;
    step_ctx_set_factf(c->ctx, "downtime_ms", "%lld", (long long)down);
    awsstep_mark(c->ctx, "switched_at");
    char d[32];
    snprintf(d, sizeof d, "%.3f", (double)down / 1000.0);
    step_ctx_set_field(c->ctx, "downtime_s", d);
    log_info("cutover: writers in on the target", "downtime_ms=%lld roles=%d", (long long)down, restored);
    return STEP_OK;
}

step_rc dms_step_cutover(step_ctx *ctx, step_result *res)
{
    return dms_cutover_with(ctx, res, NULL);
}

step_rc dms_cutover_with(step_ctx *ctx, step_result *res, dms_cutover_hook hook)
{
    dcut c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.res = res;
    c.hook = hook;
    pgl_session_init(&c.s, ctx, res);
    fc_strlcpy(c.orig, step_ctx_instance(ctx), sizeof c.orig);
    awsstep_name(ctx, PGL_SFX_RETIRED, c.ret, sizeof c.ret);
    awsstep_name(ctx, PGL_SFX_TARGET, c.tid, sizeof c.tid);
    c.proxy = !strcmp(pgl_cfield(ctx, "cutover_method"), "proxy");
    c.cname = !strcmp(pgl_cfield(ctx, "cutover_method"), "cname");
    int64_t poll_s = step_ctx_opt_i64(ctx, "switch_poll_s", 90);
    step_rc rc = STEP_OK;
    if (c.s.ndbs == 0) {
        PGL_REASON(res, "no databases recorded");
        rc = STEP_FAIL;
        goto out;
    }
    bool switched = !strcmp(pgl_fact(ctx, "switched"), "1");
    int64_t t0 = pgl_fact_i64(ctx, "cutover_block_ms", 0);
    bool look = !switched && *pgl_fact(ctx, "cutover_block_ms");
    if (!switched && !look) {
        /* a crashed attempt takes its facts with it: a source that does not
         * answer as itself, or is blocked, may have been renamed already */
        step_rc r2 = STEP_OK;
        pgl_db_names nm0;
        pgq *q = pgl_names_conn(&c.s, c.s.dbs[0], PGL_SOURCE, PGL_AS_ADMIN, &nm0, &r2);
        int blocked = 0;
        int64_t since = 0;
        char e2[256];
        if (!q || !pgl_blocked_since(q, &nm0, &blocked, &since, e2, sizeof e2) || blocked > 0) look = true;
        res->reason[0] = 0;
        res->wait_ms = 0;
    }
    if (look) {
        /* a crashed attempt may have renamed already: learned from AWS */
        bool begun = false;
        if ((rc = world_switched(&c, &begun)) != STEP_OK) goto out;
        if (begun) {
            log_warn("cutover: the switch had happened (learned from AWS): going forward", "method=%s retired=%s "
                     "target=%s", method_name(&c), c.proxy || c.cname ? c.orig : c.ret, c.tid);
            if ((rc = do_switch(&c, fc_mono_ms() + poll_s * 1000)) != STEP_OK) goto out;
            switched = true;
        }
    }
    if (!switched) {
        if ((rc = before_switch(&c, &t0)) != STEP_OK) goto out;
        if ((rc = block_side(&c, PGL_TARGET, NULL)) != STEP_OK) goto out;
        for (int i = 0; i < c.s.ndbs; i++) {
            pgl_conn_drop(&c.s, PGL_SOURCE, PGL_AS_ADMIN, c.s.dbs[i]);
            pgl_conn_drop(&c.s, PGL_SOURCE, PGL_AS_MASTER, c.s.dbs[i]);
            pgl_conn_drop(&c.s, PGL_TARGET, PGL_AS_ADMIN, c.s.dbs[i]);
            pgl_conn_drop(&c.s, PGL_TARGET, PGL_AS_MASTER, c.s.dbs[i]);
        }
        memset(c.s.fenced, 0, sizeof c.s.fenced);
        if ((rc = do_switch(&c, fc_mono_ms() + poll_s * 1000)) != STEP_OK) goto out;
    }
    step_ctx_set_fact(ctx, "switched", "1");
    if ((rc = open_target(&c, t0, fc_mono_ms() + poll_s * 1000)) != STEP_OK) goto out;
    bool dms_only = false;
    if (dms_validation_wanted(ctx, &dms_only) && dms_only && !step_ctx_fact(ctx, "verify_done")) {
        /* --dms-validation dms: DMS's validation at the cutover is the
         * evidence (verify fails on its failures); tables it cannot validate
         * (no primary key) had their row counts compared at the drain */
        /* (no rows_verified: fleetcrypt counted none; the report shows null) */
        const char *mis = pgl_fact(ctx, "dms_validation_mismatched");
        step_ctx_set_fact(ctx, "verify_how", "DMS validation-only task at the cutover (row counts at the drain for "
                                             "tables without a primary key)");
        step_ctx_set_fact(ctx, "verify_mismatches", *mis ? "1" : "0");
        step_ctx_set_fact(ctx, "verify_tables", mis);
        step_ctx_set_fact(ctx, "verify_done", "1");
    }
    if (c.pinned[0] && !step_ctx_fact(ctx, "verify_done")) {
        int mism = 0;
        dbuf list;
        dbuf_init(&list, 4096);
        if (pgl_verify_full(&c.s, c.pinned, "dms-cdc: snapshot of the target at the switch", &mism, &list) != STEP_OK)
            step_ctx_set_fact(ctx, "verify_error", res->reason);
        res->reason[0] = 0;
        res->wait_ms = 0;
        dbuf_free(&list);
    }
    /* writers are in: the CNAME's old TTL back (costs no downtime), after
     * the comparison against the switch's snapshot: a Route 53 error here
     * re-runs the step, which no longer has that snapshot (as in
     * pg-logical's cutover; found under AWS faults by test_issue16_faults.py) */
    if (c.cname && (rc = awscname_restore_ttl(ctx, res)) != STEP_OK) goto out;
    rc = STEP_OK;
out:
    dcut_free(&c);
    return rc;
}
