/* catchup — step `catch-up` of pg-logical: the subscription
 * applies what the source wrote since the snapshot. Each run is short and
 * returns STEP_WAIT with a short wait_ms until the target is ready for the
 * cutover. Every run:
 *  1. watches the source (pgl_watch): lag per slot into facts for
 *     status/top, retained WAL against the campaign limit and free storage,
 *     the DDL guard, the set of databases and the subscription's health;
 *     any of those going wrong jumps to `abort`, which frees the slot
 *     before the source fills;
 *  2. prewarms the target for at most prewarm_budget_ms: a restored
 *     instance fetches its blocks lazily from storage, so every table (with
 *     pg_prewarm already installed in a database: also its TOAST table and
 *     indexes) is read once before the cutover; progress in facts, so a
 *     crashed run resumes at the block it reached;
 *  3. validates key ranges live for at most live_budget_ms (method in
 *     db/pgl_db_live.h): a chunk that keeps differing while the source's
 *     range stands still is reported as suspect (fact + WARN, table and key
 *     number, counts, digests); the authoritative comparison stays the cutover's.
 * Ready when the largest lag stayed under the threshold for a while, the
 * prewarm is done and one validation pass is complete.
 *
 * Campaign options (optional): catchup_lag_bytes (default 1 MiB),
 * catchup_stable_s (10), prewarm (on|off, default on), prewarm_budget_ms
 * (2000), live_validate (on|off, default on), live_budget_ms (2000),
 * live_chunk_rows (5000), live_strikes (3).
 *
 * Facts: lag_ok_since, caught_up; prewarm_total (relations, fixed at the
 * first run), prewarm_done, prewarm_bytes, prewarm_pos ("db:rel:block",
 * the next block), prewarm_method, prewarm_complete; live validation's state
 * (JSON, pgl_live_state_dump) is kept in fc_<tag>.live_state on the target (it holds key
 * values: never in Redis), live_pass, live_passes_done, live_chunks_total
 * (planned), live_chunks_ok, live_chunks_pending, live_chunks_suspect,
 * live_chunks_unsettled, live_rows_ok, live_suspects (one
 * "db schema.table chunk N (source n rows, target m rows)" per line: chunks
 * are named by number, logs carry counts and digests, never key values), live_keyless_skipped (tables
 * without a primary key are not validated during catch-up), live_error. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awscname.h"
#include "log.h"
#include "lsn.h"
#include "pgl_db_live.h"
#include "util.h"

#define DEFAULT_LAG_BYTES (1024LL * 1024)
#define DEFAULT_STABLE_S 10
#define DEFAULT_BUDGET_MS 2000
#define DEFAULT_CHUNK_ROWS 5000
#define PREWARM_STEP_BLOCKS 4096 /* blocks per call: 32 MiB at 8 KiB */
#define LIVE_POLL_MS 100         /* waiting for the target inside a run's budget */
#define LIVE_STATEMENT_MS 60000

/* "off", "0", "false", "no" → off; anything else (default) on */
static bool opt_on(step_ctx *ctx, const char *name)
{
    const char *v = pgl_cfield(ctx, name);
    return !(!strcasecmp(v, "off") || !strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no"));
}

static int64_t opt_i64(step_ctx *ctx, const char *name, int64_t dflt)
{
    const char *v = pgl_cfield(ctx, name);
    int64_t n = *v ? strtoll(v, NULL, 10) : dflt;
    return n > 0 ? n : dflt;
}

/* An SQL failure inside prewarm/validation: transient (connection, timeout)
 * → stop this run and go on next time; anything else → *fatal. */
static bool sql_transient(const pgq *q, const char *what, const char *err)
{
    step_result scratch;
    memset(&scratch, 0, sizeof scratch);
    return pgl_sql_fail(&scratch, q, what, err) == STEP_RETRY;
}

/* ---------------------------------------------------------------- prewarm */
/* Database d's relations to prewarm on the target (caller frees *rels), its
 * connection, and where pg_prewarm is installed (ext_schema, when *ext). */
static step_rc prewarm_list(pgl_session *s, int d, pgq **tp, bool *ext, char *ext_schema, size_t cap,
                            pgl_live_rel **rels, int *n)
{
    step_rc rc = STEP_OK;
    char err[1024];
    *ext = false;
    *rels = NULL;
    *n = 0;
    pgl_db_names nm;
    pgq *t = pgl_names_conn(s, s->dbs[d], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
    if (!t) return rc;
    if (!pgl_live_prewarm_ext(t, ext, ext_schema, cap, err, sizeof err) ||
        !pgl_live_prewarm_rels(t, &nm, *ext, rels, n, err, sizeof err))
        return pgl_sql_fail(s->res, t, "prewarm", err);
    *tp = t;
    return STEP_OK;
}

static step_rc prewarm_total(pgl_session *s, int64_t *total)
{
    *total = 0;
    for (int d = 0; d < s->ndbs; d++) {
        pgq *t = NULL;
        bool ext = false;
        char ext_schema[PGL_LIVE_NAME];
        pgl_live_rel *rels = NULL;
        int n = 0;
        step_rc rc = prewarm_list(s, d, &t, &ext, ext_schema, sizeof ext_schema, &rels, &n);
        if (rc != STEP_OK) return rc;
        free(rels);
        *total += n;
    }
    return STEP_OK;
}

/* Read relations from the saved position until the budget is spent.
 * *complete when every relation has been read once. */
static step_rc prewarm_run(pgl_session *s, int64_t budget_ms, bool *complete)
{
    step_ctx *ctx = s->ctx;
    *complete = pgl_fact_i64(ctx, "prewarm_complete", 0) == 1;
    if (*complete) return STEP_OK;
    int64_t t0 = fc_mono_ms();
    step_rc rc = STEP_OK;
    char err[1024];
    int64_t total = pgl_fact_i64(ctx, "prewarm_total", -1);
    if (total < 0) {
        rc = prewarm_total(s, &total);
        if (rc != STEP_OK) return rc;
        step_ctx_set_factf(ctx, "prewarm_total", "%lld", (long long)total);
        log_info("prewarming the target", "relations=%lld", (long long)total);
    }
    int db = 0, rel = 0;
    long long blk = 0;
    if (sscanf(pgl_fact(ctx, "prewarm_pos"), "%d:%d:%lld", &db, &rel, &blk) != 3 || db < 0 || rel < 0 || blk < 0)
        db = rel = 0, blk = 0;
    int64_t done = pgl_fact_i64(ctx, "prewarm_done", 0);
    int64_t bytes = pgl_fact_i64(ctx, "prewarm_bytes", 0);
    bool out_of_time = false, any_ext = false, any_read = false;
    for (; db < s->ndbs && !out_of_time; db++, rel = 0, blk = 0) {
        pgq *t = NULL;
        bool ext = false;
        char ext_schema[PGL_LIVE_NAME];
        pgl_live_rel *rels = NULL;
        int n = 0;
        rc = prewarm_list(s, db, &t, &ext, ext_schema, sizeof ext_schema, &rels, &n);
        if (rc != STEP_OK) return rc;
        any_ext |= ext;
        /* without pg_prewarm before PostgreSQL 14 a table can only be read whole */
        bool whole = !ext && pgq_server_version(t) < 140000;
        for (; rel < n; rel++, blk = 0) {
            const pgl_live_rel *r = &rels[rel];
            while (blk < r->blocks) {
                if (fc_mono_ms() - t0 >= budget_ms) {
                    out_of_time = true;
                    break;
                }
                int64_t last = whole ? r->blocks - 1 : blk + PREWARM_STEP_BLOCKS - 1;
                if (last >= r->blocks) last = r->blocks - 1;
                int64_t got = 0;
                if (!pgl_live_prewarm_read(t, r, ext ? ext_schema : NULL, blk, last, &got, err, sizeof err)) {
                    free(rels);
                    return pgl_sql_fail(s->res, t, "prewarm", err);
                }
                any_read = true;
                bytes += got * (r->block_size > 0 ? r->block_size : 8192);
                blk = last + 1;
            }
            if (out_of_time) break;
            done++;
        }
        free(rels);
        if (out_of_time) break;
    }
    if (any_read || !*pgl_fact(ctx, "prewarm_method"))
        step_ctx_set_fact(ctx, "prewarm_method", any_ext ? "pg_prewarm" : "seqread");
    step_ctx_set_factf(ctx, "prewarm_pos", "%d:%d:%lld", db, rel, blk);
    step_ctx_set_factf(ctx, "prewarm_done", "%lld", (long long)done);
    step_ctx_set_factf(ctx, "prewarm_bytes", "%lld", (long long)bytes);
    if (!out_of_time) {
        *complete = true;
        step_ctx_set_fact(ctx, "prewarm_complete", "1");
        log_info("target prewarmed", "relations=%lld bytes=%lld", (long long)done, (long long)bytes);
    }
    return STEP_OK;
}

/* ---------------------------------------------------------------- live validation */
typedef struct live_run {
    pgl_session *s;
    pgl_live_state *st;
    pgl_live_table *tables; /* keyed tables of every database, in pass order */
    int ntables;
    bool session_set[2][PGL_MAX_DBS];
    int64_t chunk_rows;
    int max_strikes;
    bool stop;            /* transient trouble: go on next run */
} live_run;

static pgq *live_conn(live_run *lr, pgl_side side, int db, step_rc *rc)
{
    pgq *q = pgl_conn(lr->s, side, PGL_AS_MASTER, lr->s->dbs[db], rc);
    if (!q) return NULL;
    bool *set = &lr->session_set[side == PGL_SOURCE ? 0 : 1][db];
    if (!*set) {
        char err[512];
        if (!pgl_live_session(q, LIVE_STATEMENT_MS, err, sizeof err)) {
            *rc = pgl_sql_fail(lr->s->res, q, "live validation", err);
            return NULL;
        }
        *set = true;
    }
    return q;
}

/* SQL trouble: transient → stop for this run; else live validation off. */
static void live_trouble(live_run *lr, const pgq *q, const char *err)
{
    if (sql_transient(q, "live validation", err)) {
        log_warn("live validation paused until the next run", "err=\"%s\"", err);
        lr->stop = true;
        return;
    }
    log_warn("live validation stopped (the cutover's comparison still runs)", "err=\"%s\"", err);
    step_ctx_set_fact(lr->s->ctx, "live_error", err);
    lr->st->off = true;
    lr->stop = true;
}

static step_rc live_load_tables(live_run *lr, int *keyless)
{
    pgl_session *s = lr->s;
    step_rc rc = STEP_OK;
    char err[1024];
    *keyless = 0;
    lr->tables = NULL;
    lr->ntables = 0;
    for (int d = 0; d < s->ndbs; d++) {
        pgl_db_names nm;
        if (!pgl_names(s, s->dbs[d], &nm)) return STEP_FAIL;
        pgq *q = live_conn(lr, PGL_SOURCE, d, &rc);
        if (!q) return rc;
        pgl_live_table *t = NULL;
        int n = 0, kl = 0;
        if (!pgl_live_tables(q, &nm, d, &t, &n, &kl, err, sizeof err))
            return pgl_sql_fail(s->res, q, "live validation", err);
        pgl_live_table *all = realloc(lr->tables, (size_t)(lr->ntables + n + 1) * sizeof *all);
        if (!all) {
            free(t);
            PGL_REASON(s->res, "out of memory");
            return STEP_RETRY;
        }
        memcpy(all + lr->ntables, t, (size_t)n * sizeof *t);
        lr->tables = all;
        lr->ntables += n;
        *keyless += kl;
        free(t);
    }
    return STEP_OK;
}

/* The chunk's slot has confirmed its LSN: digest the target and judge. */
static step_rc live_check(live_run *lr, int i, bool *removed)
{
    pgl_live_state *st = lr->st;
    pgl_live_chunk *c = &st->q[i];
    step_rc rc = STEP_OK;
    char err[1024], count[32], md5[33];
    *removed = false;
    pgq *dst = live_conn(lr, PGL_TARGET, c->t.db, &rc);
    if (!dst) return rc;
    if (!pgl_live_digest(dst, c, count, md5, err, sizeof err)) {
        live_trouble(lr, dst, err);
        return STEP_OK;
    }
    pgl_live_in in;
    memset(&in, 0, sizeof in);
    in.target_equal = !strcmp(count, c->count) && !strcmp(md5, c->md5);
    in.strikes = c->strikes;
    in.tries = c->tries;
    in.max_strikes = lr->max_strikes;
    pgl_live_chunk again;
    memset(&again, 0, sizeof again);
    if (!in.target_equal) {
        /* the source again, after the target's digest: did the range move? */
        pgq *src = live_conn(lr, PGL_SOURCE, c->t.db, &rc);
        if (!src) return rc;
        again.t = c->t;
        bool empty = false;
        if (!pgl_live_key_copy(&again.lo, c->lo.n, (const char *const *)c->lo.v) ||
            !pgl_live_key_copy(&again.hi, c->hi.n, (const char *const *)c->hi.v)) {
            pgl_live_key_free(&again.lo);
            pgl_live_key_free(&again.hi);
            PGL_REASON(lr->s->res, "out of memory");
            return STEP_RETRY;
        }
        bool ok = pgl_live_capture(src, &again, false, 0, &empty, err, sizeof err);
        pgl_live_key_free(&again.lo);
        pgl_live_key_free(&again.hi);
        if (!ok) {
            live_trouble(lr, src, err);
            return STEP_OK;
        }
        in.source_stable = !strcmp(again.count, c->count) && !strcmp(again.md5, c->md5);
    }
    int strikes = 0, tries = 0;
    pgl_live_verdict v = pgl_live_judge(&in, &strikes, &tries);
    /* the chunk by table and number, with counts and digests: never its key values */
    char name[700];
    pgl_live_chunk_text(lr->s->dbs[c->t.db], c, name, sizeof name);
    switch (v) {
    case PGL_LIVE_OK:
        st->ok++;
        st->rows_ok += strtoll(c->count, NULL, 10);
        break;
    case PGL_LIVE_SUSPECT: {
        char line[900];
        snprintf(line, sizeof line, "%s (source %s rows, target %s rows)", name, c->count, count);
        if (pgl_live_suspect_add(st, line)) st->suspect++;
        log_warn("live validation: chunk differs on the target", "db=%s table=%s.%s chunk=%lld strikes=%d "
                 "src_rows=%s dst_rows=%s src_md5=%s dst_md5=%s", lr->s->dbs[c->t.db], c->t.schema, c->t.name,
                 (long long)c->no, strikes, c->count, count, c->md5, md5);
        break;
    }
    case PGL_LIVE_UNSETTLED:
        st->unsettled++;
        log_info("live validation: chunk keeps changing, left to the cutover's comparison",
                 "db=%s table=%s.%s chunk=%lld", lr->s->dbs[c->t.db], c->t.schema, c->t.name, (long long)c->no);
        break;
    case PGL_LIVE_REQUEUE:
        c->strikes = strikes;
        c->tries = tries;
        fc_strlcpy(c->lsn, again.lsn, sizeof c->lsn);
        fc_strlcpy(c->count, again.count, sizeof c->count);
        fc_strlcpy(c->md5, again.md5, sizeof c->md5);
        return STEP_OK;
    }
    pgl_live_queue_remove(st, i);
    *removed = true;
    return STEP_OK;
}

/* Plan and capture the next chunk of the pass (or move to the next table). */
static step_rc live_plan(live_run *lr)
{
    pgl_live_state *st = lr->st;
    if (!st->have_cur) {
        int idx = pgl_live_next_table(lr->tables, lr->ntables, NULL);
        if (idx >= lr->ntables) {
            st->end = true;
            return STEP_OK;
        }
        st->cur = lr->tables[idx];
        pgl_live_key_free(&st->cur_lo);
        st->cur_no = 0;
        st->have_cur = true;
    }
    step_rc rc = STEP_OK;
    pgq *src = live_conn(lr, PGL_SOURCE, st->cur.db, &rc);
    if (!src) return rc;
    pgl_live_chunk c;
    memset(&c, 0, sizeof c);
    c.t = st->cur;
    if (!pgl_live_key_copy(&c.lo, st->cur_lo.n, (const char *const *)st->cur_lo.v)) {
        PGL_REASON(lr->s->res, "out of memory");
        return STEP_RETRY;
    }
    bool empty = false;
    char err[1024];
    if (!pgl_live_capture(src, &c, true, lr->chunk_rows, &empty, err, sizeof err)) {
        pgl_live_key_free(&c.lo);
        pgl_live_key_free(&c.hi);
        live_trouble(lr, src, err);
        return STEP_OK;
    }
    if (empty) {
        pgl_live_key_free(&c.lo);
        pgl_live_key_free(&c.hi);
        int idx = pgl_live_next_table(lr->tables, lr->ntables, &st->cur);
        pgl_live_key_free(&st->cur_lo);
        st->cur_no = 0;
        if (idx >= lr->ntables) {
            st->have_cur = false;
            st->end = true;
        } else {
            st->cur = lr->tables[idx];
        }
        return STEP_OK;
    }
    if (!pgl_live_key_copy(&st->cur_lo, c.hi.n, (const char *const *)c.hi.v)) {
        pgl_live_key_free(&c.lo);
        pgl_live_key_free(&c.hi);
        PGL_REASON(lr->s->res, "out of memory");
        return STEP_RETRY;
    }
    c.no = ++st->cur_no;
    st->q[st->nq++] = c; /* the queue owns c's keys now */
    st->total++;
    return STEP_OK;
}

/* One run of live validation, bounded by budget_ms. */
static step_rc live_validate(pgl_session *s, pgl_live_state *st, int64_t budget_ms)
{
    step_ctx *ctx = s->ctx;
    int64_t t0 = fc_mono_ms();
    live_run lr;
    memset(&lr, 0, sizeof lr);
    lr.s = s;
    lr.st = st;
    lr.chunk_rows = opt_i64(ctx, "live_chunk_rows", DEFAULT_CHUNK_ROWS);
    lr.max_strikes = (int)opt_i64(ctx, "live_strikes", 3);
    int keyless = 0;
    step_rc rc = live_load_tables(&lr, &keyless);
    if (rc != STEP_OK) goto out;
    step_ctx_set_factf(ctx, "live_keyless_skipped", "%d", keyless);
    while (!lr.stop && !st->off && fc_mono_ms() - t0 < budget_ms) {
        bool progressed = false;
        /* 1. chunks whose LSN the subscription has confirmed */
        fc_lsn flushed[PGL_MAX_DBS];
        bool have_flush[PGL_MAX_DBS];
        memset(have_flush, 0, sizeof have_flush);
        for (int i = 0; i < st->nq && !lr.stop && fc_mono_ms() - t0 < budget_ms;) {
            pgl_live_chunk *c = &st->q[i];
            int d = c->t.db;
            if (d < 0 || d >= s->ndbs) { /* the database list changed: the watch aborts */
                pgl_live_queue_remove(st, i);
                continue;
            }
            if (!have_flush[d]) {
                pgl_db_names nm;
                char err[1024];
                if (!pgl_names(s, s->dbs[d], &nm)) {
                    rc = STEP_FAIL;
                    goto out;
                }
                pgq *src = live_conn(&lr, PGL_SOURCE, d, &rc);
                if (!src) goto out;
                pgl_slot_info si;
                if (!pgl_slot_status(src, nm.slot, &si, err, sizeof err)) {
                    rc = pgl_sql_fail(s->res, src, "slot status", err);
                    goto out;
                }
                flushed[d] = si.confirmed_flush;
                have_flush[d] = true;
            }
            fc_lsn x;
            if (!lsn_parse(c->lsn, &x)) {
                pgl_live_queue_remove(st, i);
                continue;
            }
            if (lsn_cmp(flushed[d], x) < 0) {
                i++;
                continue;
            }
            bool removed = false;
            rc = live_check(&lr, i, &removed);
            if (rc != STEP_OK) goto out;
            progressed = true;
            if (!removed) i++;
        }
        if (lr.stop || st->off || fc_mono_ms() - t0 >= budget_ms) break;
        /* 2. the next chunk of the pass */
        if (st->nq < PGL_LIVE_QMAX && !st->end) {
            rc = live_plan(&lr);
            if (rc != STEP_OK) goto out;
            progressed = true;
        }
        /* 3. the pass is complete: the next one starts at the next run */
        if (st->end && st->nq == 0) {
            st->passes_done++;
            log_info("live validation pass complete", "pass=%d chunks_ok=%lld suspect=%lld unsettled=%lld",
                     st->pass, (long long)st->ok, (long long)st->suspect, (long long)st->unsettled);
            st->pass++;
            st->end = false;
            st->have_cur = false;
            pgl_live_key_free(&st->cur_lo);
            break;
        }
        if (!progressed) {
            if (st->nq == 0) break;
            fc_sleep_ms(LIVE_POLL_MS); /* the target is applying; bounded by the budget */
        }
    }
out:
    free(lr.tables);
    return rc;
}

static step_rc live_run_step(pgl_session *s, pgl_catchup_in *ci)
{
    step_ctx *ctx = s->ctx;
    pgl_live_state st;
    char err[1024];
    /* the state holds key values: it lives on the target, never in Redis */
    step_rc rc = STEP_OK;
    pgl_db_names nm;
    pgq *t0 = pgl_names_conn(s, s->dbs[0], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
    if (!t0) return rc;
    char *saved = NULL;
    if (!pgl_live_state_load(t0, &nm, &saved, err, sizeof err)) return pgl_sql_fail(s->res, t0, "live validation", err);
    if (!pgl_live_state_parse(saved, &st, err, sizeof err))
        log_warn("live validation state unreadable: starting over", "err=\"%s\"", err);
    free(saved);
    if (*pgl_fact(ctx, "live_state")) step_ctx_set_fact(ctx, "live_state", ""); /* kept keys before: gone */
    if (!st.off) rc = live_validate(s, &st, opt_i64(ctx, "live_budget_ms", DEFAULT_BUDGET_MS));
    char *json = pgl_live_state_dump(&st);
    if (json) {
        step_rc r2 = STEP_OK;
        pgq *t1 = pgl_names_conn(s, s->dbs[0], PGL_TARGET, PGL_AS_MASTER, &nm, &r2);
        if (!t1 || !pgl_live_state_store(t1, &nm, json, err, sizeof err))
            log_warn("live validation state not saved: the next run repeats this one's work", "err=\"%s\"",
                     t1 ? err : s->res->reason);
    }
    free(json);
    step_ctx_set_factf(ctx, "live_pass", "%d", st.pass);
    step_ctx_set_factf(ctx, "live_passes_done", "%d", st.passes_done);
    step_ctx_set_factf(ctx, "live_chunks_total", "%lld", (long long)st.total);
    step_ctx_set_factf(ctx, "live_chunks_ok", "%lld", (long long)st.ok);
    step_ctx_set_factf(ctx, "live_chunks_pending", "%d", st.nq);
    step_ctx_set_factf(ctx, "live_chunks_suspect", "%lld", (long long)st.suspect);
    step_ctx_set_factf(ctx, "live_chunks_unsettled", "%lld", (long long)st.unsettled);
    step_ctx_set_factf(ctx, "live_rows_ok", "%lld", (long long)st.rows_ok);
    step_ctx_set_fact(ctx, "live_suspects", st.suspects);
    /* stopped by an error: the cutover's comparison alone decides */
    ci->live_on = !st.off;
    ci->live_passes_done = st.passes_done;
    ci->live_striking = pgl_live_queue_has_strikes(&st);
    pgl_live_state_free(&st);
    return rc;
}

/* ---------------------------------------------------------------- the step */
step_rc pgl_step_catch_up(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    int64_t lag = -1;
    step_rc rc = pgl_watch(&s, true, &lag);
    pgl_catchup_in ci;
    memset(&ci, 0, sizeof ci);
    ci.prewarm_on = opt_on(ctx, "prewarm");
    ci.live_on = opt_on(ctx, "live_validate");
    if (rc == STEP_OK && ci.prewarm_on)
        rc = prewarm_run(&s, opt_i64(ctx, "prewarm_budget_ms", DEFAULT_BUDGET_MS), &ci.prewarm_done);
    if (rc == STEP_OK && ci.live_on) rc = live_run_step(&s, &ci);
    pgl_session_finish(&s);
    if (rc != STEP_OK) return rc;
    if (!ci.prewarm_on) step_ctx_set_fact(ctx, "prewarm_method", "off");
    /* --cutover-method cname: the record's TTL lowered now, its old TTL
     * waited out while catching up (shared/awscname.c) */
    bool cname_ready = true;
    int64_t cname_wait = 0;
    if (!strcmp(pgl_cfield(ctx, "cutover_method"), "cname")) {
        const char *t = pgl_cfield(ctx, "cname_ttl");
        rc = awscname_lower_ttl(ctx, res, *t ? strtoll(t, NULL, 10) : 5, &cname_ready, &cname_wait);
        if (rc != STEP_OK) return rc;
    }

    pgl_lag_in in;
    memset(&in, 0, sizeof in);
    in.now_ms = fc_now_ms();
    in.lag_bytes = lag;
    in.threshold_bytes = pgl_opt_bytes(ctx, "catchup_lag_bytes", DEFAULT_LAG_BYTES);
    int64_t stable_s = DEFAULT_STABLE_S;
    const char *st = pgl_cfield(ctx, "catchup_stable_s");
    if (*st) stable_s = strtoll(st, NULL, 10);
    in.stable_ms = stable_s * 1000;
    in.under_since_ms = pgl_fact_i64(ctx, "lag_ok_since", 0);
    pgl_lag_out out;
    pgl_lag_decide(&in, &out);
    step_ctx_set_factf(ctx, "lag_ok_since", "%lld", (long long)out.under_since_ms);
    ci.lag_ready = out.ready;
    const char *missing = "";
    if (pgl_catchup_ready(&ci, &missing) && !cname_ready) {
        res->wait_ms = cname_wait; /* res->reason: awscname_lower_ttl's */
        return STEP_WAIT;
    }
    if (pgl_catchup_ready(&ci, &missing)) {
        log_info("caught up", "lag_bytes=%lld prewarm=%s live_chunks_ok=%s live_chunks_suspect=%s", (long long)lag,
                 ci.prewarm_on ? "done" : "off", pgl_fact(ctx, "live_chunks_ok"), pgl_fact(ctx, "live_chunks_suspect"));
        step_ctx_set_fact(ctx, "caught_up", "1");
        return STEP_OK;
    }
    /* prewarm or validation left: come back soon to keep the work flowing */
    res->wait_ms = out.ready || strcmp(missing, "lag") ? 1000 : out.wait_ms;
    PGL_REASON(res,
               "catching up: lag %lld bytes (ready under %lld for %llds); prewarm %s/%s relations; live "
               "validation pass %s, %s/%s chunks ok, %s suspect",
               (long long)lag, (long long)in.threshold_bytes, (long long)stable_s,
               ci.prewarm_on ? pgl_fact(ctx, "prewarm_done") : "off", pgl_fact(ctx, "prewarm_total"),
               ci.live_on ? pgl_fact(ctx, "live_pass") : "off", pgl_fact(ctx, "live_chunks_ok"),
               pgl_fact(ctx, "live_chunks_total"), pgl_fact(ctx, "live_chunks_suspect"));
    return STEP_WAIT;
}
