/* noop — the steps of strategy "noop" (noop.h): each records that it ran
 * and returns at once. */
#include "noop.h"

#include "util.h"

#include <stdio.h>

static step_rc noop_step(step_ctx *ctx, step_result *res)
{
    (void)res;
    char fact[64];
    snprintf(fact, sizeof fact, "noop_%s", step_ctx_step(ctx));
    step_ctx_set_fact(ctx, fact, "1");
    return STEP_OK;
}

static const step_impl fns[] = {
    {"begin", noop_step},
    {"middle", noop_step},
    {"end", noop_step},
};

const strategy_impl fc_impl_noop = {&fc_strategy_noop, fns, FC_ARRAY_LEN(fns)};
