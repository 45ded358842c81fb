/* registry — see registry.h. */
#include "registry.h"
#include "strategies/offline.h"
#include "strategies/pglogical/pglogical.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const strategy_def *const strategies[] = {
    &offline_strategy,
    &pglogical_strategy,
};

const strategy_def *registry_find(const char *name)
{
    for (size_t i = 0; i < FC_ARRAY_LEN(strategies); i++)
        if (!strcmp(strategies[i]->name, name)) return strategies[i];
    return NULL;
}

bool registry_check(char *err, size_t cap)
{
    for (size_t i = 0; i < FC_ARRAY_LEN(strategies); i++) {
        const strategy_def *sd = strategies[i];
        const strategy_info *info = step_catalog_find(sd->name);
        if (!info || sd->nsteps == 0 || strcmp(info->first_step, sd->steps[0].name)) {
            snprintf(err, cap, "strategy %s: catalog entry missing or first step differs", sd->name);
            return false;
        }
        for (size_t k = 0; k < sd->nsteps; k++) {
            const char *n = sd->steps[k].next;
            if (n && !strategy_step(sd, n)) {
                snprintf(err, cap, "strategy %s: step %s names unknown successor %s", sd->name,
                         sd->steps[k].name, n);
                return false;
            }
        }
    }
    return true;
}
