/* reconciler — an in-flight instance with no progress past its step's
 * deadline (a lost message, a dev broker restarted with its messages, a
 * wedged worker) is re-driven: its current step re-emitted as a new attempt
 * with a new epoch (lua/redrive.lua) and marked stuck until it moves. After
 * a Redis restart (run_id change: up to a second of writes may be gone)
 * every in-flight instance is re-driven at once, so no one waits for the
 * deadline on a message whose record no longer matches. */
#include "coord.h"
#include "log.h"
#include "prom.h"
#include "store_model.h"
#include "util.h"

#include <string.h>

void reconcile(coord *c)
{
    int64_t now = fc_now_ms();
    long restarts = store_restarts(c->s);
    bool restarted = restarts > c->restarts_seen;
    if (restarted) log_warn("redis restarted: re-driving every in-flight instance", "restarts=%ld", restarts);
    c->restarts_seen = restarts;
    for (int i = 0; i < c->ncamps; i++) {
        const camp_view *cv = &c->camps[i];
        if (strcmp(cv->state, "running")) continue;
        for (int k = 0; k < cv->n; k++) {
            const inst_view *iv = &cv->inst[k];
            if (strcmp(iv->state, "running") || iv->lease_held) continue;
            bool stuck = iv->deadline_ms > 0 && now > iv->deadline_ms;
            if (!stuck && !restarted) continue;
            int rc = store_redrive(c->s, cv->id, iv->id, iv->epoch, stuck ? "no progress past step deadline" : "redis restarted",
                                   now + c->deadline_s * 1000, c->cfg.node_id, stuck);
            if (rc == 1)
                prom_counter_add(prom_default(), "fc_lease_takeovers_total",
                                 "In-flight instances re-driven by the reconciler (holder gone or stuck).", NULL, 1);
            if (rc == 1) {
                /* the re-driven step runs as the next attempt */
                log_ctx_set(cv->id, iv->id, iv->step, iv->attempt + 1);
                log_warn(stuck ? "stuck instance re-driven" : "instance re-driven after redis restart", "%s", "");
                log_ctx_clear();
            }
        }
    }
}
