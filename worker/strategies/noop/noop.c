/* noop — the steps of strategy "noop" (noop.h): each records that it ran
 * and returns at once. */
#include "noop.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>

/* Each step records fact noop_<step> = 1 and returns STEP_OK; with the
 * tuning option hold_s it first records noop_<step>_since (ms of its first
 * run) and waits until hold_s seconds after it, re-run at most every 5 s. */
#define NOOP_RECHECK_MS 5000

static step_rc noop_step(step_ctx *ctx, step_result *res)
{
    char fact[64];
    const char *step = step_ctx_step(ctx);
    int64_t hold_ms = step_ctx_opt_i64(ctx, "hold_s", 0) * 1000;
    if (hold_ms > 0) {
        snprintf(fact, sizeof fact, "noop_%s_since", step);
        const char *since = step_ctx_fact(ctx, fact);
        int64_t now = fc_now_ms(), t0 = since && *since ? strtoll(since, NULL, 10) : 0;
        if (t0 <= 0) {
            t0 = now;
            step_ctx_set_factf(ctx, fact, "%lld", (long long)now);
        }
        int64_t left = t0 + hold_ms - now;
        if (left > 0) {
            res->wait_ms = left < NOOP_RECHECK_MS ? left : NOOP_RECHECK_MS;
            snprintf(res->reason, sizeof res->reason, "noop: holding %lld ms more", (long long)left);
            return STEP_WAIT;
        }
    }
    snprintf(fact, sizeof fact, "noop_%s", step);
    step_ctx_set_fact(ctx, fact, "1");
    return STEP_OK;
}

static const step_impl fns[] = {
    {"begin", noop_step},
    {"middle", noop_step},
    {"end", noop_step},
};

const strategy_impl fc_impl_noop = {&fc_strategy_noop, fns, FC_ARRAY_LEN(fns)};
