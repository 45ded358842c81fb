/* timers — the outbox: every due entry of every active campaign's timer set
 * ("<instance>|<step>|<attempt>|<epoch>") is checked against the record
 * (lua/timer_take.lua), produced to <prefix>.steps, and removed only after
 * the broker acknowledged it. Covers waits coming due and successors a
 * worker recorded but did not get to produce before it died. */
#include "coord.h"
#include "emit.h"
#include "log.h"
#include "prom.h"
#include "store_outbox.h"
#include "util.h"

#include <string.h>

#define TIMERS_BATCH 200

static void campaign_timers(coord *c, const char *campaign)
{
    sargs due;
    sargs_init(&due);
    if (!store_outbox_due(c->s, campaign, fc_now_ms(), TIMERS_BATCH, &due)) {
        sargs_free(&due);
        return;
    }
    for (int i = 0; i < due.n && !*c->stop; i++) {
        const char *member = due.v[i];
        timer_entry t;
        if (!store_timer_parse(member, &t)) {
            log_ctx_set(campaign, NULL, NULL, 0);
            log_warn("malformed outbox entry removed", "member=\"%s\"", member);
            log_ctx_clear();
            store_timer_done(c->s, campaign, member);
            continue;
        }
        char strategy[32];
        tt_status st = store_timer_take(c->s, campaign, member, &t, 5000, strategy, sizeof strategy);
        if (st != TT_EMIT) continue;
        log_ctx_set(campaign, t.instance, t.step, (int)t.attempt);
        fc_step_msg m;
        emit_step_fill(&m, campaign, t.instance, strategy, t.step, t.attempt, t.epoch, "timer", NULL);
        char err[256];
        if (emit_step(c->prod, &c->cfg, &m, 10000, err, sizeof err)) {
            store_timer_done(c->s, campaign, member);
            prom_counter_add(prom_default(), "fc_outbox_emitted_total", "Outbox entries produced by the coordinator.",
                             NULL, 1);
            log_debug("outbox entry emitted", "%s", "");
            log_ctx_clear();
        } else {
            log_warn("outbox entry not produced: will retry", "err=\"%s\"", err);
            log_ctx_clear();
            break;
        }
    }
    sargs_free(&due);
}

void timers_tick(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) {
        const camp_view *cv = &c->camps[i];
        if (!strcmp(cv->state, "running") || !strcmp(cv->state, "paused")) campaign_timers(c, cv->id);
    }
}
