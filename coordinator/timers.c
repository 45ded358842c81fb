/* timers — the outbox: every due entry of every active campaign's timer set
 * ("<instance>|<step>|<attempt>|<epoch>") is checked against the record
 * (lua/timer_take_many.lua, a batch per round trip), produced to
 * <prefix>.steps (the batch without waiting, then every ack awaited), and
 * removed only after the broker acknowledged it. Covers waits coming due and successors a
 * worker recorded but did not get to produce before it died. The wake
 * member (STORE_OUTBOX_WAKE) is removed here and sets c->wake_admit: the
 * loop then admits on this tick (loop.c). */
#include "coord.h"
#include "emit.h"
#include "log.h"
#include "prom.h"
#include "store_outbox.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Entries read, checked (one timer_take_many.lua round trip) and produced
 * together; a tick takes up to TIMERS_ROUNDS batches of a campaign. */
#define TIMERS_BATCH 500
#define TIMERS_ROUNDS 8

/* One batch of a campaign's due entries: every entry still expected is
 * produced without waiting, then every ack awaited (one linger and one ack
 * round for the batch instead of one each), then the acknowledged entries
 * are removed in one ZREM. An entry whose produce failed stays and is tried
 * again next tick. Returns the number of due entries read when all went
 * well (so the caller may take another batch), -1 after any failure. */
static int campaign_batch(coord *c, const char *campaign)
{
    sargs due;
    sargs_init(&due);
    if (!store_outbox_due(c->s, campaign, fc_now_ms(), TIMERS_BATCH, &due)) {
        sargs_free(&due);
        return -1;
    }
    int n = 0, nbad = 0, rc = due.n;
    timer_entry *t = calloc((size_t)due.n + 1, sizeof *t);
    const char **members = calloc((size_t)due.n + 1, sizeof *members);
    const char **bad = calloc((size_t)due.n + 1, sizeof *bad);
    tt_status *st = calloc((size_t)due.n + 1, sizeof *st);
    kafka_pending **pend = calloc((size_t)due.n + 1, sizeof *pend);
    if (!t || !members || !bad || !st || !pend) {
        rc = -1;
        goto out;
    }
    for (int i = 0; i < due.n; i++) {
        if (!strcmp(due.v[i], STORE_OUTBOX_WAKE)) { /* an instance left the in-flight set */
            c->wake_admit = true;
            bad[nbad++] = due.v[i];
        } else if (store_timer_parse(due.v[i], &t[n])) {
            members[n++] = due.v[i];
        } else {
            log_ctx_set(campaign, NULL, NULL, 0);
            log_warn("malformed outbox entry removed", "member=\"%s\"", due.v[i]);
            log_ctx_clear();
            bad[nbad++] = due.v[i];
        }
    }
    if (nbad) store_timers_done(c->s, campaign, bad, nbad);
    char strategy[32] = "";
    if (n && !store_timers_take(c->s, campaign, members, t, n, 5000, st, strategy, sizeof strategy)) {
        rc = -1;
        goto out;
    }
    char err[256];
    for (int i = 0; i < n && !*c->stop; i++) {
        if (st[i] != TT_EMIT) continue;
        fc_step_msg m;
        emit_step_fill(&m, campaign, t[i].instance, strategy, t[i].step, t[i].attempt, t[i].epoch, "timer", NULL);
        pend[i] = emit_step_start(c->prod, &c->cfg, &m, 10000, err, sizeof err);
        if (!pend[i]) {
            log_ctx_set(campaign, t[i].instance, t[i].step, (int)t[i].attempt);
            log_warn("outbox entry not produced: will retry", "err=\"%s\"", err);
            log_ctx_clear();
            rc = -1;
            break;
        }
    }
    int nack = 0;
    for (int i = 0; i < n; i++) {
        if (!pend[i]) continue;
        if (emit_step_wait(pend[i], &c->cfg, 10000, err, sizeof err)) {
            members[nack++] = members[i]; /* compacted in place: i >= nack */
            log_ctx_set(campaign, t[i].instance, t[i].step, (int)t[i].attempt);
            log_debug("outbox entry emitted", "%s", "");
            log_ctx_clear();
        } else {
            log_ctx_set(campaign, t[i].instance, t[i].step, (int)t[i].attempt);
            log_warn("outbox entry not produced: will retry", "err=\"%s\"", err);
            log_ctx_clear();
            rc = -1;
        }
    }
    if (nack) {
        if (!store_timers_done(c->s, campaign, members, nack)) rc = -1;
        prom_counter_add(prom_default(), "fc_outbox_emitted_total", "Outbox entries produced by the coordinator.",
                         NULL, nack);
    }
out:
    free(t);
    free(members);
    free(bad);
    free(st);
    free(pend);
    sargs_free(&due);
    return rc;
}

static void campaign_timers(coord *c, const char *campaign)
{
    for (int round = 0; round < TIMERS_ROUNDS && !*c->stop; round++)
        if (campaign_batch(c, campaign) < TIMERS_BATCH) break;
}

void timers_tick(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) {
        const camp_view *cv = &c->camps[i];
        if (!strcmp(cv->state, "running") || !strcmp(cv->state, "paused")) campaign_timers(c, cv->id);
    }
}
