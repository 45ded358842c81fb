/* campaigns — one scan per cycle of every active campaign: the campaign
 * hash and each instance's state, step, epoch, deadline and remaining quota
 * cost; and marking a campaign done once every instance is terminal (its
 * instances then leave the active-instances index) — or `aborted` when the
 * operator aborted the whole campaign (campaign field abort_requested=1).
 * The instances are read in batches of SCAN_BATCH by lua/campaign_scan.lua
 * (one round trip per batch, not one per instance: fleets of thousands);
 * bench/bench_coord_scan.c measures it against the per-instance reads.
 * A record in a final state (done, skipped, aborted: no script moves it
 * again; only `failed` can be retried) is read once: later cycles take it
 * from the previous cycle's view, and the instance list (fixed when the
 * campaign is created) is kept too. Pending records are taken from the
 * previous cycle's view as well (after its admissions) while the
 * campaign's pending count (P:{C}:counts, which every script moving an
 * instance out of pending decrements) equals the view's; otherwise they
 * are read again. So a cycle reads the instances in flight, failed, or
 * all of them when something else moved a pending one. Every SCAN_FULL_EVERY cycles, and whenever
 * the campaign's created_ms changes or it leaves the active set, the
 * campaign is read in full again. */
#include "coord.h"
#include "log.h"
#include "store_model.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void campaigns_free(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) free(c->camps[i].inst);
    free(c->camps);
    c->camps = NULL;
    c->ncamps = 0;
}

static bool terminal(const char *st)
{
    return !strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "skipped") || !strcmp(st, "aborted");
}

#define SCAN_BATCH 512
#define SCAN_FULL_EVERY 30

static bool final_state(const char *st)
{
    return !strcmp(st, "done") || !strcmp(st, "skipped") || !strcmp(st, "aborted");
}

/* What a campaign's previous scan left: its instance ids, its view, and
 * which records were final then. One per active campaign. */
typedef struct scan_cache {
    char id[48];
    char created[32];
    sargs ids;
    inst_view *last;  /* ids.n entries */
    int cycles;       /* since the last full read */
    bool handed;      /* last is the view the previous cycle ended with */
    bool seen;        /* still active this cycle */
} scan_cache;

static scan_cache *g_cache;
static int g_ncache;

static void cache_reset(scan_cache *sc)
{
    sargs_free(&sc->ids);
    free(sc->last);
    sc->last = NULL;
    sc->cycles = 0;
    sc->created[0] = 0;
}

static scan_cache *cache_get(const char *campaign)
{
    for (int i = 0; i < g_ncache; i++)
        if (!strcmp(g_cache[i].id, campaign)) return &g_cache[i];
    scan_cache *nv = realloc(g_cache, (size_t)(g_ncache + 1) * sizeof *nv);
    if (!nv) return NULL;
    g_cache = nv;
    scan_cache *sc = &g_cache[g_ncache++];
    memset(sc, 0, sizeof *sc);
    fc_strlcpy(sc->id, campaign, sizeof sc->id);
    return sc;
}

void campaigns_cache_drop(void)
{
    for (int i = 0; i < g_ncache; i++) cache_reset(&g_cache[i]);
    free(g_cache);
    g_cache = NULL;
    g_ncache = 0;
}

/* Drop the caches of campaigns no longer active (not seen this cycle). */
static void cache_sweep(void)
{
    int j = 0;
    for (int i = 0; i < g_ncache; i++) {
        if (g_cache[i].seen) {
            g_cache[i].seen = false;
            g_cache[j++] = g_cache[i];
        } else {
            cache_reset(&g_cache[i]);
        }
    }
    g_ncache = j;
}

/* Instances idx[0..n) of ids into cv->inst at the same indexes, with one
 * campaign_scan.lua call (record and lease key of each). False on a Redis
 * error or a short reply. */
static bool scan_batch(coord *c, camp_view *cv, const sargs *ids, const int *idx, size_t n, store_scan_row *rows)
{
    const char *bids[SCAN_BATCH] = {NULL};
    for (size_t i = 0; i < n; i++) bids[i] = ids->v[idx[i]];
    /* leases only where the reconciler may act: past the deadline, or every
     * in-flight one when Redis restarted since its last pass */
    int64_t past = store_restarts(c->s) > c->restarts_seen ? 0 : fc_now_ms();
    if (!store_campaign_scan(c->s, cv->id, bids, n, past, rows)) return false;
    for (size_t i = 0; i < n; i++) {
        const store_scan_row *e = &rows[i];
        inst_view *iv = &cv->inst[idx[i]];
        fc_strlcpy(iv->id, ids->v[idx[i]], sizeof iv->id);
        fc_strlcpy(iv->state, e->state, sizeof iv->state);
        fc_strlcpy(iv->step, e->step, sizeof iv->step);
        fc_strlcpy(iv->epoch, e->epoch, sizeof iv->epoch);
        iv->deadline_ms = e->deadline_ms;
        iv->q_inst = e->q_inst_set ? e->q_inst : 1;
        iv->q_snap = e->q_snap_set ? e->q_snap : 2;
        iv->q_clu = e->q_clu;
        iv->attempt = e->attempt;
        if (!strcmp(iv->state, "pending")) cv->pending++;
        else if (terminal(iv->state)) cv->terminal++;
        else {
            cv->inflight++;
            iv->lease_held = e->lease_held;
        }
    }
    return true;
}

static void scan_one(coord *c, camp_view *cv)
{
    static const char *const fields[] = {"state",        "strategy",        "region",    "account",
                                         "max_parallel", "abort_requested", "created_ms", "quota_seen"};
    store_kv h;
    if (!store_campaign_read(c->s, cv->id, fields, FC_ARRAY_LEN(fields), &h)) return;
    fc_strlcpy(cv->state, kv_str(&h, "state"), sizeof cv->state);
    fc_strlcpy(cv->strategy, kv_str(&h, "strategy"), sizeof cv->strategy);
    fc_strlcpy(cv->region, kv_str(&h, "region"), sizeof cv->region);
    fc_strlcpy(cv->account, kv_str(&h, "account"), sizeof cv->account);
    cv->max_parallel = atoi(kv_str(&h, "max_parallel"));
    if (cv->max_parallel <= 0) cv->max_parallel = 1;
    cv->abort_requested = !strcmp(kv_str(&h, "abort_requested"), "1");
    fc_strlcpy(cv->quota_seen, kv_str(&h, "quota_seen"), sizeof cv->quota_seen);
    char created[32];
    fc_strlcpy(created, kv_str(&h, "created_ms"), sizeof created);
    store_kv_free(&h);
    if (strcmp(cv->state, "running") && strcmp(cv->state, "paused")) return;
    scan_cache *sc = cache_get(cv->id);
    if (!sc) return;
    sc->seen = true;
    if (strcmp(sc->created, created) || sc->cycles >= SCAN_FULL_EVERY || !sc->last || !sc->handed) {
        cache_reset(sc);
        fc_strlcpy(sc->created, created, sizeof sc->created);
        sargs_init(&sc->ids);
        if (!store_instances(c->s, cv->id, &sc->ids)) {
            cache_reset(sc);
            return;
        }
    }
    sc->cycles++;
    sc->handed = false;
    size_t nids = (size_t)sc->ids.n;
    /* pending ones from the last view when the pending count agrees */
    bool reuse_pending = false;
    if (sc->last) {
        static const char *const cf[] = {"pending"};
        store_kv cnt;
        if (store_counts_read(c->s, cv->id, cf, 1, &cnt)) {
            const char *v = kv_get(&cnt, "pending");
            long want = v ? strtol(v, NULL, 10) : -1, have = 0;
            for (size_t i = 0; i < nids; i++) have += !strcmp(sc->last[i].state, "pending");
            reuse_pending = want == have;
            store_kv_free(&cnt);
        }
    }
    cv->inst = calloc(nids ? nids : 1, sizeof *cv->inst);
    store_scan_row *rows = calloc(SCAN_BATCH, sizeof *rows);
    int *idx = calloc(SCAN_BATCH, sizeof *idx);
    bool ok = cv->inst && rows && idx;
    size_t n = 0;
    for (size_t i = 0; ok && i < nids; i++) {
        if (sc->last && final_state(sc->last[i].state)) {
            cv->inst[i] = sc->last[i]; /* final: as the last read saw it */
            cv->terminal++;
            continue;
        }
        if (reuse_pending && !strcmp(sc->last[i].state, "pending")) {
            cv->inst[i] = sc->last[i];
            cv->pending++;
            continue;
        }
        idx[n++] = (int)i;
        if (n == SCAN_BATCH) {
            ok = scan_batch(c, cv, &sc->ids, idx, n, rows);
            n = 0;
        }
    }
    if (ok && n) ok = scan_batch(c, cv, &sc->ids, idx, n, rows);
    if (ok) {
        cv->n = (int)nids; /* campaigns_scan keeps this view (after admission) as the next sc->last */
    } else {
        /* a partial view could look finished or under the limits: skip the
         * campaign this cycle (the next cycle scans it again, in full) */
        if (cv->inst) log_warn("campaign scan incomplete; skipped this cycle", "campaign=%s", cv->id);
        free(cv->inst);
        cv->inst = NULL;
        cv->n = cv->pending = cv->inflight = cv->terminal = 0;
        cache_reset(sc);
    }
    free(rows);
    free(idx);
}

/* The previous cycle's views, as admission left them, become the caches'
 * last views (taken over, not copied). */
static void cache_keep_views(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) {
        camp_view *cv = &c->camps[i];
        if (!cv->inst) continue;
        for (int j = 0; j < g_ncache; j++) {
            scan_cache *sc = &g_cache[j];
            if (strcmp(sc->id, cv->id) || sc->ids.n != cv->n) continue;
            free(sc->last);
            sc->last = cv->inst;
            sc->handed = true;
            cv->inst = NULL;
            break;
        }
    }
}

bool campaigns_scan(coord *c)
{
    cache_keep_views(c);
    campaigns_free(c);
    sargs ids;
    sargs_init(&ids);
    if (!store_campaigns(c->s, false, 0, &ids)) {
        sargs_free(&ids);
        return false;
    }
    c->camps = calloc(ids.n ? (size_t)ids.n : 1, sizeof *c->camps);
    if (!c->camps) {
        sargs_free(&ids);
        return false;
    }
    for (int i = 0; i < ids.n; i++) {
        camp_view *cv = &c->camps[c->ncamps++];
        fc_strlcpy(cv->id, ids.v[i], sizeof cv->id);
        scan_one(c, cv);
    }
    cache_sweep();
    sargs_free(&ids);
    return true;
}

void campaigns_finish(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) {
        camp_view *cv = &c->camps[i];
        if (strcmp(cv->state, "running") || cv->n == 0 || cv->pending || cv->inflight) continue;
        const char *end = cv->abort_requested ? "aborted" : "done";
        if (store_campaign_set_state(c->s, cv->id, "running", end) != 1) continue;
        fc_strlcpy(cv->state, end, sizeof cv->state);
        char **members = calloc((size_t)cv->n, sizeof *members);
        if (!members) continue;
        for (int k = 0; k < cv->n; k++) {
            size_t len = strlen(cv->region) + strlen(cv->inst[k].id) + 2;
            members[k] = malloc(len);
            if (members[k]) snprintf(members[k], len, "%s/%s", cv->region, cv->inst[k].id);
        }
        store_active_release(c->s, cv->id, (const char *const *)members, cv->n);
        for (int k = 0; k < cv->n; k++) free(members[k]);
        free(members);
        log_ctx_set(cv->id, NULL, NULL, 0);
        log_info("campaign finished", "state=%s instances=%d", end, cv->n);
        log_ctx_clear();
    }
}
