/* waitplan — see waitplan.h. */
#include "waitplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

int64_t waitplan_due(const waitplan_cfg *c, int64_t start_ms, int64_t last_ms, int64_t exp_ms, int pct)
{
    return waitplan_due_gap(c, 75, start_ms, last_ms, exp_ms, pct);
}

int64_t waitplan_due_gap(const waitplan_cfg *c, int gap_pct, int64_t start_ms, int64_t last_ms, int64_t exp_ms,
                         int pct)
{
    const int64_t gap = gap_pct > 0 && gap_pct <= 100 ? gap_pct : 75;
    if (exp_ms > 0) {
        /* just after the expected end; a look made before it (another
         * resource's, the poll is shared) changes nothing but the cap */
        int64_t end = start_ms + exp_ms + c->min_ms;
        if (last_ms < start_ms) return end - start_ms > c->max_ms ? start_ms + c->max_ms : end;
        if (last_ms < end) return end - last_ms > c->max_ms ? last_ms + c->max_ms : end;
        /* overrunning: with a PercentProgress, WAITPLAN_PCT_OVERRUN % of
         * the remaining it implies (a copy of a bigger or slower kind than
         * learnt: a few looks, not O(log overrun) from the minimum); else
         * back off from the expected end, not from the start */
        int64_t over = last_ms - (start_ms + exp_ms);
        if (pct > 0 && pct < 100) {
            double rem = (double)(last_ms - start_ms) * (100 - pct) / pct;
            return last_ms + clamp64((int64_t)(rem * WAITPLAN_PCT_OVERRUN / 100), c->min_ms, c->max_ms);
        }
        return last_ms + clamp64(over * 3 / 4, c->min_ms, c->max_ms);
    }
    if (last_ms < start_ms) return start_ms + c->min_ms;
    int64_t age = last_ms - start_ms;
    int64_t iv = age * gap / 100;
    if (pct > 0 && pct < 100) {
        iv = (int64_t)((double)age * (100 - pct) / pct * 0.6);
    } else if (gap < 75 && age < WAITPLAN_DENSE_FROM * c->min_ms) {
        /* a denser share only from WAITPLAN_DENSE_FROM minimums of age on:
         * before, the default 75%, and one look exactly at that age */
        int64_t to = WAITPLAN_DENSE_FROM * c->min_ms - age;
        iv = age * 3 / 4;
        if (iv > to) iv = to;
    }
    return last_ms + clamp64(iv, c->min_ms, c->max_ms);
}

int64_t waitplan_due_floor(const waitplan_cfg *c, int gap_pct, int64_t start_ms, int64_t last_ms, int64_t exp_ms,
                           int pct, int64_t floor_ms)
{
    int64_t due = waitplan_due_gap(c, gap_pct, start_ms, last_ms, exp_ms, pct);
    /* learnt, the learnt end rules; else no look before the floor, the first
     * one (not since it started) included: the waiter registered an
     * operation its step saw unfinished, which AWS does not end sooner */
    if (floor_ms <= 0 || exp_ms > 0) return due;
    int64_t at = start_ms + floor_ms;
    if (due >= at) return due;
    int64_t from = last_ms < start_ms ? start_ms : last_ms;
    return at - from > c->max_ms ? from + c->max_ms : at;
}

int64_t waitplan_floor_ms(int floor_s, double scale)
{
    if (floor_s <= 0 || !(scale > 0)) return 0;
    return (int64_t)((double)floor_s * 1000.0 * scale + 0.5);
}

/* Waiter i's own next look (*exp_out: the duration it plans with, 0 none)
 * and how much later it may be (its slack). */
static int64_t waiter_due(const waitplan_cfg *c, const waitplan_waiter *w, int64_t last_ms, int64_t *exp_out,
                          int64_t *slack)
{
    int64_t exp = w->exp_ms;
    int gap = w->gap_pct;
    bool seen_end = w->settled && last_ms >= w->start_ms && (exp <= 0 || last_ms >= w->start_ms + exp);
    if (seen_end) {
        exp = 0;
        gap = 75;
    }
    /* seen ended (before its floor, or at once): no floor to wait for */
    int64_t floor = seen_end ? 0 : w->floor_ms;
    *exp_out = exp > 0 ? exp : 0;
    *slack = 0;
    if (w->share && exp > 0) {
        *slack = WAITPLAN_SHARE_MIN * c->min_ms;
        if (*slack < WAITPLAN_SHARE_JITTER_MS) *slack = WAITPLAN_SHARE_JITTER_MS;
        if (exp / 6 < *slack) *slack = exp / 6;
    } else if (w->share && exp <= 0 && last_ms < w->start_ms) {
        /* nothing learnt and not looked at since it began: its first look
         * (one minimum after the start) may wait out the jitter over which
         * the rest of its wave registers, no end being due that soon */
        *slack = WAITPLAN_SHARE_JITTER_MS;
    } else if (w->share && exp <= 0 && floor > 0 && last_ms < w->start_ms + floor) {
        /* nothing learnt, its floor not reached: its look at the floor may
         * wait out the same jitter, so a wave's floor looks are one */
        *slack = WAITPLAN_SHARE_JITTER_MS;
    }
    int64_t due = waitplan_due_floor(c, gap, w->start_ms, last_ms, exp, w->pct, floor);
    /* overrunning: the back-off from the expected end starts at the slack */
    if (*slack > 0 && exp > 0 && last_ms >= w->start_ms + exp && due < last_ms + *slack) due = last_ms + *slack;
    return due;
}

int64_t waitplan_next(const waitplan_cfg *c, const waitplan_waiter *w, size_t n, int64_t last_ms, bool *exact,
                      size_t *driver)
{
    int64_t best = INT64_MAX, cap = INT64_MAX;
    *exact = false;
    for (size_t i = 0; i < n; i++) {
        int64_t exp, slack;
        int64_t due = waiter_due(c, &w[i], last_ms, &exp, &slack);
        if (due < best) {
            best = due;
            *exact = exp > 0;
            if (driver) *driver = i;
        }
        if (due <= INT64_MAX - slack && due + slack < cap) cap = due + slack;
    }
    if (n < 2 || cap <= best) return best;
    /* share: the latest due that keeps every waiter within its slack (a
     * due itself: never past the maximum gap after the last look) */
    int64_t t = best;
    for (size_t i = 0; i < n; i++) {
        int64_t exp, slack;
        int64_t due = waiter_due(c, &w[i], last_ms, &exp, &slack);
        if (due > t && due <= cap) {
            t = due;
            *exact = exp > 0;
            if (driver) *driver = i;
        }
    }
    return t;
}

bool waitplan_may_share(bool holds_class, long long waiting, long long held, int limit)
{
    if (!holds_class) return true;
    return waiting == 0 && held >= 0 && held < limit;
}

int64_t waitplan_learn(int64_t old_ms, int64_t lo_ms, int64_t hi_ms)
{
    return waitplan_learn_pull(old_ms, lo_ms, hi_ms, old_ms / 64);
}

int64_t waitplan_learn_pull(int64_t old_ms, int64_t lo_ms, int64_t hi_ms, int64_t pull_ms)
{
    if (lo_ms < 0) lo_ms = 0;
    if (hi_ms < lo_ms) hi_ms = lo_ms;
    if (old_ms <= 0) return lo_ms > 0 ? lo_ms : hi_ms / 2;
    if (pull_ms < 0 || pull_ms > old_ms / 64) pull_ms = old_ms / 64;
    return clamp64(old_ms - pull_ms, lo_ms, hi_ms);
}

int64_t waitplan_expected(char *const *kv, int n, const char *op)
{
    const char *tail = strchr(op, '.');
    /* only a DB instance's wait (".db."): a snapshot's PercentProgress
     * plans its first wave better than another campaign's copy */
    if (tail && !strstr(tail, ".db.")) tail = NULL;
    int64_t sib = 0;
    for (int j = 0; j + 1 < n; j += 2) {
        int64_t d = strtoll(kv[j + 1], NULL, 10);
        if (!strcmp(kv[j], op)) return d > 0 ? d : 0;
        const char *t = strchr(kv[j], '.');
        if (tail && t && d > 0 && !strcmp(t, tail) && (!sib || d < sib)) sib = d;
    }
    return sib - sib / 8;
}

void waitplan_opkey(char *out, size_t cap, const char *strategy, const char *step, const char *kind, int storage_gb)
{
    if (storage_gb <= 0) {
        snprintf(out, cap, "%s.%s.%s.g?", strategy, step, kind);
        return;
    }
    int g = 0;
    while ((storage_gb >> (g + 1)) > 0) g++;
    snprintf(out, cap, "%s.%s.%s.g%d", strategy, step, kind, g);
}
