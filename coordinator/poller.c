/* poller — fleet-wide AWS polling for waiting steps. Per region and kind
 * (db, snap) ONE paginated DescribeDBInstances / DescribeDBSnapshots
 * (manual), filtered on the awaited identifiers (db-instance-id /
 * db-snapshot-id, 100 a call), answers every waiting instance; the result for each awaited
 * resource goes to P:cache:<region>:<kind> (lib/fleetcache.h). When to poll
 * next is planned per awaited resource and the earliest wins
 * (lib/engine/waitplan.h):
 *   - an operation of a kind seen end before (its waiter names it, P:waiter;
 *     durations learnt per kind and storage size in P:opdur:<region>): just
 *     after its expected end, then backing off from there if it overruns
 *     (a snapshot with PercentProgress p: after 0.8 × the remaining it
 *     implies); a DB instance's operation not learnt under its strategy
 *     takes 7/8 of the shortest learnt under another for the same step and
 *     size (waitplan_expected);
 *   - else not polled since it started waiting: 1 poll interval after the start;
 *   - then, for a step with a wait floor (its strategy's step_floor: the
 *     least AWS takes for its operation, × FLEETCRYPT_POLL_FLOOR_SCALE),
 *     at that floor, not backing off through it (waitplan_due_floor; a
 *     wave's floor looks shared within the workers' jitter);
 *   - a snapshot with PercentProgress p after age a: remaining ≈ a·(100−p)/p,
 *     poll again after 0.6 × remaining;
 *   - otherwise after 0.75 × its age (geometric back-off), 0.25 × for a
 *     step holding a class slot (0.12 × when its class is waited for or
 *     full) from 20 minimum intervals of age on (its
 *     end seen up to 25% late, not 75%: the class's next holder waits for
 *     it; only until the first wait of the kind ends and is learnt),
 *   - and a resource the last poll found settled only backs off by 0.75 ×
 *     its age until its waiter, woken, takes it off the list (no looks at
 *     the overrun of an end already seen: waitplan_next),
 *   - and the look goes to the latest of those that keeps every waiter
 *     within its slack (a learnt wait of a step holding no class slot, or
 *     one whose class nobody waits for and is not full, mark_sharing: up
 *     to 4 minimum intervals or 500 ms, and a sixth of its duration,
 *     late), so the waits of a kind registered over the workers' jitter
 *     share one,
 * clamped to [poll_min, poll_max]. A wait of T costs one poll when expected,
 * O(log T) otherwise, shared by every instance waiting in the region, so
 * AWS calls per instance do not grow with how long AWS takes. A poll that
 * sees an operation end learns its duration (waitplan_learn). The poll runs when planned (checked every
 * loop tick, not only every cycle: poller_due), and a waiter whose resource
 * it finds settled (available, stopped, failed, ...) is woken at once
 * (store_wake: its outbox entry is due now) instead of re-running at its
 * own planned time. */
#include "coord.h"
#include "catalog.h"
#include "fleetcache.h"
#include "log.h"
#include "ratelimit.h"
#include "rds.h"
#include "store_limits.h"
#include "util.h"
#include "waitplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* identifiers per filtered Describe: at most one page (MaxRecords 100) */
#define POLL_CHUNK 100
/* the gap after a look at a wait of unknown duration, % of its age
 * (waitplan_due_gap), for a step holding a class slot (copy, restore, ...):
 * with a binding limit every later holder of the slot waits for a late
 * sighting of the first wave; other waits keep 75 */
#define POLL_GAP_LIMITED_PCT 25
/* ... and for one whose class is contended (someone waits for a slot of it,
 * or every slot is held: the first wave of a binding limit, e.g. the
 * makespan bench's first 5 restores): its end seen up to 12% late. A wave
 * of unknown duration was often seen earlier by other waits' looks (every
 * DB poll sees every awaited instance); with those shared (mark_sharing)
 * the first restore wave's hand-overs idled 3.9 s against 1.1 s on its own
 * 25% plan. About twice the looks of 25%, for the first wave of a kind
 * only (then learnt), and only when the class binds. */
#define POLL_GAP_CONTENDED_PCT 12

typedef struct awaited {
    char id[256];
    char op[160];   /* the operation awaited (waitplan_opkey; "" unknown) */
    int64_t start_ms;
    int64_t exp_ms; /* its learnt duration (0 unknown) */
    int64_t floor_ms; /* its step's wait floor, scaled (0 none; waitplan_due_floor) */
    const char *cls; /* the class slot its step holds (step_def.limit_class; NULL none) */
    bool limited;   /* its step holds a class slot (step_def.limit_class) */
    bool share;     /* it may be seen up to its slack late (mark_sharing) */
    bool contended; /* its class is waited for or full (mark_sharing) */
    int pct;
    bool seen;
    bool settled;   /* the last poll found it in a settled status */
} awaited;

typedef struct poll_batch {
    awaited *v;
    size_t n;
    sargs fields;   /* HSET field/value pairs */
    sargs settled;  /* "<kind>:<id>" of the awaited resources found in a settled status */
} poll_batch;

/* Statuses a wait ends on (well or badly): the waiter is woken to look. */
static bool settled(const char *status)
{
    static const char *const st[] = {"available", "stopped", "failed", "error", "storage-full",
                                      "incompatible-restore", "incompatible-parameters",
                                      "inaccessible-encryption-credentials", NULL};
    for (const char *const *p = st; *p; p++)
        if (!strcmp(status, *p)) return true;
    return false;
}

static void note_settled(poll_batch *b, awaited *a, const char *kind, const char *status)
{
    a->settled = settled(status);
    if (!a->settled) return;
    const char *id = a->id;
    char m[300];
    snprintf(m, sizeof m, "%s:%s", kind, id);
    sargs_add(&b->settled, m);
}

static awaited *find(poll_batch *b, const char *id)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->v[i].id, id)) return &b->v[i];
    return NULL;
}

static bool on_db_page(void *ud, const rds_instance_list *page)
{
    poll_batch *b = ud;
    for (size_t i = 0; i < page->n; i++) {
        const rds_instance *in = &page->v[i];
        awaited *a = find(b, in->identifier);
        if (!a) continue;
        char v[1024];
        fleetcache_encode(v, sizeof v, in->status, 0, in->storage_encrypted, in->kms_key_id, in->endpoint_address,
                          in->port);
        sargs_add(&b->fields, a->id);
        sargs_add(&b->fields, v);
        note_settled(b, a, "db", in->status);
        a->seen = true;
    }
    return true;
}

static bool on_snap_page(void *ud, const rds_snapshot_list *page)
{
    poll_batch *b = ud;
    for (size_t i = 0; i < page->n; i++) {
        const rds_snapshot *s = &page->v[i];
        awaited *a = find(b, s->id);
        if (!a) continue;
        char v[1024];
        fleetcache_encode(v, sizeof v, s->status, s->percent_progress, s->encrypted, s->kms_key_id, NULL, 0);
        sargs_add(&b->fields, a->id);
        sargs_add(&b->fields, v);
        note_settled(b, a, "snap", s->status);
        a->pct = s->percent_progress;
        a->seen = true;
    }
    return true;
}

/* When the next poll of this kind is due, from every awaited resource
 * (waitplan_next: just after its expected end when this kind of operation
 * was seen before, else backing off from its start: denser for a step
 * holding a class slot, whose lateness the class's next holder waits for;
 * one already seen settled only backs off, until its waiter takes it off
 * the list; a wait marked share (mark_sharing) shares a later look within
 * its slack). *exact: the look is one placed at an expected end; *driver
 * (may be NULL): the awaited resource that look is planned for. */
static int64_t plan_next(const coord *c, const awaited *v, size_t n, int64_t last_poll, bool *exact, size_t *driver)
{
    waitplan_cfg pc = {c->poll_min_ms, c->poll_max_ms};
    waitplan_waiter *w = calloc(n ? n : 1, sizeof *w);
    if (!w) {
        *exact = false;
        return last_poll + c->poll_min_ms;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = (waitplan_waiter){v[i].start_ms, v[i].exp_ms, v[i].pct,
                                 !v[i].limited      ? 75
                                 : v[i].contended ? POLL_GAP_CONTENDED_PCT
                                                  : POLL_GAP_LIMITED_PCT,
                                 v[i].settled, v[i].share, v[i].floor_ms};
    int64_t next = waitplan_next(&pc, w, n, last_poll, exact, driver);
    free(w);
    return next;
}

/* The step operation op runs in ("<strategy>.<step>.<kind>.<g>",
 * waitplan_opkey): the class slot it holds (NULL none) and its wait floor
 * (AWS seconds, 0 none). */
static void op_step(const char *op, const char **cls, int *floor_s)
{
    *cls = NULL;
    *floor_s = 0;
    char strat[64], step[64];
    const char *d1 = strchr(op, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || (size_t)(d1 - op) >= sizeof strat || (size_t)(d2 - d1 - 1) >= sizeof step) return;
    memcpy(strat, op, (size_t)(d1 - op));
    strat[d1 - op] = 0;
    memcpy(step, d1 + 1, (size_t)(d2 - d1 - 1));
    step[d2 - d1 - 1] = 0;
    const strategy_def *sd = strategy_find(strat);
    const step_def *sdef = sd ? strategy_step(sd, step) : NULL;
    *cls = sdef ? sdef->limit_class : NULL;
    *floor_s = strategy_wait_floor_s(sd, step);
}

/* Mark the waits that may share a later look (waitplan_may_share): those
 * of a step holding no class slot, and those whose class nobody waits for
 * (P:slots:...:<class>:wait empty) and that is not full (fewer held than
 * rl_class_limit): a late sighting of theirs delays no other instance (the
 * calls bench's 8 renames hold 8 of the 10 cutover slots, each looked at on
 * its own until now). Re-read every tick: when someone queues for the class
 * or it fills, its waits are back on their own looks at the next tick (a
 * look already due is made at once). A learnt wait's slack is up to its
 * sixth; one with nothing learnt has only its first look's (the jitter).
 * The contended ones (the rest of the class holders) take the densest
 * first-wave share, POLL_GAP_CONTENDED_PCT. One ZCARD and one ZCOUNT per
 * class in use, per tick. */
static void mark_sharing(coord *c, const char *account, const char *region, awaited *v, size_t n)
{
    const char *seen[8];
    bool ok[8];
    int ns = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].share = !v[i].cls;
        v[i].contended = v[i].cls != NULL;
        if (!v[i].cls) continue;
        int k = 0;
        while (k < ns && strcmp(seen[k], v[i].cls)) k++;
        if (k == ns) {
            if (ns == 8) continue; /* more classes than kept: on its own look */
            char key[256];
            rl_slot_key(c->s, account, region, v[i].cls, key, sizeof key);
            long long waiting = store_slot_waiting(c->s, key);
            long long held = waiting == 0 ? store_slot_held(c->s, key, fc_now_ms()) : -1;
            seen[ns] = v[i].cls;
            ok[ns++] = waitplan_may_share(true, waiting, held, rl_class_limit(v[i].cls));
        }
        v[i].share = ok[k];
        v[i].contended = !ok[k];
    }
}

/* The previous poll's view of each awaited resource (P:cache, one HGETALL):
 * its PercentProgress and whether it was settled then. The cache holds only
 * that poll's entries; one from before a's wait began is not a's. */
static void cache_seen(coord *c, const char *region, const char *kname, awaited *v, size_t n)
{
    sargs all;
    sargs_init(&all);
    int64_t ts = 0;
    if (!store_cache_all(c->s, region, kname, &all)) {
        sargs_free(&all);
        return;
    }
    for (int k = 0; k + 1 < all.n; k += 2)
        if (!strcmp(all.v[k], "_ts")) ts = strtoll(all.v[k + 1], NULL, 10);
    for (int k = 0; k + 1 < all.n; k += 2) {
        if (all.v[k][0] == '_') continue;
        awaited *a = NULL;
        for (size_t i = 0; i < n && !a; i++)
            if (!strcmp(v[i].id, all.v[k])) a = &v[i];
        if (!a) continue;
        step_cache_view cv;
        fleetcache_decode(all.v[k + 1], &cv);
        if (ts <= a->start_ms) continue; /* a poll from before a's wait */
        a->pct = cv.pct;
        a->settled = settled(cv.status);
    }
    sargs_free(&all);
}

/* A poll saw a's operation end (between the poll before, prev, and this
 * one): learn its duration for the next of its kind. */
static void learn(coord *c, const char *region, const char *kind, awaited *a, int64_t prev, int64_t now)
{
    if (!a->op[0]) return;
    int64_t lo = prev > a->start_ms ? prev - a->start_ms : 0;
    int64_t d = waitplan_learn_pull(a->exp_ms, lo, now - a->start_ms, c->poll_min_ms / 2);
    /* one sample per wait: the same waiter waiting on again is not another */
    char m[300];
    snprintf(m, sizeof m, "%s:%s", kind, a->id);
    store_wait_learnt(c->s, region, m);
    if (d > 0 && store_opdur_set(c->s, region, a->op, d))
        log_debug("operation duration learnt", "region=%s op=%s ms=%lld", region, a->op, (long long)d);
}

static void poll_kind(coord *c, region_aws *r, int kind, awaited *v, size_t n)
{
    const char *kname = kind == 0 ? "db" : "snap";
    int64_t now = fc_now_ms();
    /* last poll time survives a coordinator takeover through the cache */
    if (!r->last_poll_ms[kind]) {
        int64_t ts;
        if (store_cache_poll_ms(c->s, r->region, kname, &ts)) r->last_poll_ms[kind] = ts;
    }
    /* what the previous poll found feeds the plan: a snapshot's pct, and
     * which resources it saw settled (one read of the cache) */
    cache_seen(c, r->region, kname, v, n);
    bool exact = false;
    int64_t next = plan_next(c, v, n, r->last_poll_ms[kind], &exact, NULL);
    if (now < next) {
        if (next != r->next_poll_ms[kind]) {
            store_cache_set_next(c->s, r->region, kname, next);
            r->next_poll_ms[kind] = next;
        }
        r->next_poll_exact[kind] = exact;
        return;
    }
    poll_batch b;
    memset(&b, 0, sizeof b);
    b.v = v;
    b.n = n;
    sargs_init(&b.fields);
    sargs_init(&b.settled);
    int64_t started = fc_now_ms();
    aws_error e;
    aws_error_clear(&e);
    /* only the awaited resources, POLL_CHUNK identifiers per filter (one
     * page each), not every instance or snapshot in the account page by
     * page: a fleet's account holds far more than the few in flight */
    bool ok = true;
    const char **idv = calloc(n ? n : 1, sizeof *idv);
    if (!idv) {
        sargs_free(&b.fields);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        idv[i] = v[i].id;
        v[i].settled = false; /* this poll's view replaces the last one's */
    }
    for (size_t at = 0; ok && at < n; at += POLL_CHUNK) {
        aws_filter f = {kind == 0 ? "db-instance-id" : "db-snapshot-id", idv + at,
                        n - at < POLL_CHUNK ? n - at : POLL_CHUNK};
        rds_describe_opts o;
        memset(&o, 0, sizeof o);
        o.max_records = 100;
        o.filters = &f;
        o.nfilters = 1;
        if (kind == 0) {
            ok = rds_describe_db_instances_each(r->c, &o, on_db_page, &b, &e);
        } else {
            o.snapshot_type = "manual";
            ok = rds_describe_db_snapshots_each(r->c, &o, on_snap_page, &b, &e);
        }
    }
    free(idv);
    if (!ok) {
        log_warn("fleet poll failed", "region=%s kind=%s code=%s", r->region, kname, e.code);
        sargs_free(&b.fields);
        sargs_free(&b.settled);
        r->last_poll_ms[kind] = started; /* back off like a poll */
        return;
    }
    int64_t prev_poll = r->last_poll_ms[kind];
    r->last_poll_ms[kind] = started;
    size_t drv = 0;
    int64_t nxt = plan_next(c, v, n, started, &exact, &drv);
    /* replace the cache: _ts, _next and every entry */
    store_cache_replace(c->s, r->region, kname, started, nxt, &b.fields);
    r->next_poll_ms[kind] = nxt;
    r->next_poll_exact[kind] = exact;
    /* a waiter whose resource settled runs now, not at its planned re-run
     * (the poll's time + a margin, through the outbox): the cache holds
     * the answer already, so this adds no AWS call */
    int64_t wake_at = fc_now_ms();
    int woken = 0;
    for (int k = 0; k < b.settled.n; k++) {
        if (store_wake(c->s, r->region, b.settled.v[k], wake_at) == 1) woken++;
        /* first seen settled (its waiter still names the operation): a
         * sample, whether or not the waiter was woken (one whose re-run was
         * already due, or running, is not: its end is learnt all the same,
         * and the waiter no longer plans looks at its overrun) */
        const char *colon = strchr(b.settled.v[k], ':');
        awaited *a = colon ? find(&b, colon + 1) : NULL;
        if (a) learn(c, r->region, kname, a, prev_poll, started);
    }
    log_debug("fleet poll",
              "region=%s kind=%s awaited=%zu found=%d settled=%d woken=%d next_in_ms=%lld exact=%d driver=%s "
              "driver_op=%s driver_age_ms=%lld driver_exp_ms=%lld",
              r->region, kname, n, b.fields.n / 2, b.settled.n, woken, (long long)(nxt - fc_now_ms()), exact ? 1 : 0,
              n ? v[drv].id : "", n ? v[drv].op : "", n ? (long long)(started - v[drv].start_ms) : 0LL,
              n ? (long long)v[drv].exp_ms : 0LL);
    for (size_t i = 0; i < n; i++)
        log_debug("fleet poll waiter", "kind=%s id=%s op=%s age_ms=%lld exp_ms=%lld floor_ms=%lld pct=%d settled=%d",
                  kname, v[i].id, v[i].op, (long long)(started - v[i].start_ms), (long long)v[i].exp_ms,
                  (long long)v[i].floor_ms, v[i].pct, v[i].settled ? 1 : 0);
    sargs_free(&b.settled);
    sargs_free(&b.fields);
}

/* Each awaited resource's operation (its waiter's op) and that operation's
 * learnt duration: two reads per region, whatever the fleet's size. */
static void expectations(coord *c, const char *region, awaited *dbs, size_t nd, awaited *snaps, size_t ns)
{
    sargs who, dur;
    sargs_init(&who);
    sargs_init(&dur);
    if (store_waiters(c->s, region, &who) && store_opdur_all(c->s, region, &dur)) {
        for (int k = 0; k + 1 < who.n; k += 2) {
            const char *m = who.v[k];
            const char *op = strchr(who.v[k + 1], '\t');
            op = op ? strchr(op + 1, '\t') : NULL;
            if (!op || !op[1]) continue;
            op++;
            awaited *v = !strncmp(m, "db:", 3) ? dbs : !strncmp(m, "snap:", 5) ? snaps : NULL;
            size_t n = v == dbs ? nd : ns;
            const char *id = strchr(m, ':') + 1;
            for (size_t i = 0; v && i < n; i++) {
                if (strcmp(v[i].id, id)) continue;
                fc_strlcpy(v[i].op, op, sizeof v[i].op);
                int floor_s = 0;
                op_step(op, &v[i].cls, &floor_s);
                v[i].limited = v[i].cls != NULL;
                v[i].exp_ms = waitplan_expected(dur.v, dur.n, op);
                v[i].floor_ms = waitplan_floor_ms(floor_s, c->poll_floor_scale);
                break;
            }
        }
    }
    sargs_free(&who);
    sargs_free(&dur);
}

void poller_tick(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) {
        const camp_view *cv = &c->camps[i];
        if (strcmp(cv->state, "running") && strcmp(cv->state, "paused")) continue;
        region_aws *r = coord_region(c, cv->region, cv->account);
        if (!r) continue;
        bool seen_before = false;
        for (int j = 0; j < i; j++)
            if (!strcmp(c->camps[j].region, cv->region) && !strcmp(c->camps[j].account, cv->account) &&
                (!strcmp(c->camps[j].state, "running") || !strcmp(c->camps[j].state, "paused")))
                seen_before = true;
        if (seen_before) continue; /* one poll per region, not per campaign */
        /* waits abandoned for a day (instance failed mid-wait) are dropped */
        store_waits_prune(c->s, cv->region, fc_now_ms() - 86400000);
        sargs w;
        sargs_init(&w);
        if (!store_waits(c->s, cv->region, &w)) {
            sargs_free(&w);
            continue;
        }
        size_t cap = (size_t)w.n / 2 + 1;
        awaited *dbs = calloc(cap, sizeof *dbs), *snaps = calloc(cap, sizeof *snaps);
        size_t nd = 0, ns = 0;
        for (int k = 0; dbs && snaps && k + 1 < w.n; k += 2) {
            const char *m = w.v[k];
            int64_t start = strtoll(w.v[k + 1], NULL, 10);
            awaited *a = NULL;
            if (!strncmp(m, "db:", 3)) {
                a = &dbs[nd++];
                fc_strlcpy(a->id, m + 3, sizeof a->id);
            } else if (!strncmp(m, "snap:", 5)) {
                a = &snaps[ns++];
                fc_strlcpy(a->id, m + 5, sizeof a->id);
            }
            if (a) a->start_ms = start;
        }
        sargs_free(&w);
        expectations(c, cv->region, dbs, nd, snaps, ns);
        mark_sharing(c, cv->account, cv->region, dbs, nd);
        mark_sharing(c, cv->account, cv->region, snaps, ns);
        if (nd) poll_kind(c, r, 0, dbs, nd);
        if (ns) poll_kind(c, r, 1, snaps, ns);
        /* nothing awaited of a kind: no poll of it is due (the loop's poller_due) */
        if (!nd) r->next_poll_ms[0] = 0;
        if (!ns) r->next_poll_ms[1] = 0;
        free(dbs);
        free(snaps);
    }
}
