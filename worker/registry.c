/* registry — see registry.h. */
#include "registry.h"
#include "catalog.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define FC_STRATEGY(n) extern const strategy_impl fc_impl_##n;
#include "strategies.def"
#undef FC_STRATEGY

static const strategy_impl *const impls[] = {
#define FC_STRATEGY(n) &fc_impl_##n,
#include "strategies.def"
#undef FC_STRATEGY
};

const strategy_impl *registry_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < FC_ARRAY_LEN(impls); i++)
        if (!strcmp(impls[i]->def->name, name)) return impls[i];
    return NULL;
}

bool registry_check(char *err, size_t cap)
{
    if (!strategy_catalog_check(err, cap)) return false;
    for (size_t i = 0; i < FC_ARRAY_LEN(impls); i++) {
        const strategy_impl *si = impls[i];
        const strategy_def *sd = si->def;
        if (strategy_find(sd->name) != sd) {
            snprintf(err, cap, "strategy %s: its descriptor is not the catalog's", sd->name);
            return false;
        }
        for (size_t k = 0; k < sd->nsteps; k++)
            if (!strategy_impl_fn(si, sd->steps[k].name)) {
                snprintf(err, cap, "strategy %s: step %s has no function", sd->name, sd->steps[k].name);
                return false;
            }
        for (size_t k = 0; k < si->nfns; k++) {
            if (!strategy_step(sd, si->fns[k].step)) {
                snprintf(err, cap, "strategy %s: function for unknown step %s", sd->name, si->fns[k].step);
                return false;
            }
            for (size_t j = 0; j < k; j++)
                if (!strcmp(si->fns[j].step, si->fns[k].step)) {
                    snprintf(err, cap, "strategy %s: step %s bound twice", sd->name, si->fns[k].step);
                    return false;
                }
        }
    }
    return true;
}
