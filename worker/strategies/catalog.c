/* catalog — see catalog.h. */
#include "catalog.h"

#include "util.h"

#include <stdio.h>
#include <string.h>

#define FC_STRATEGY(n) extern const strategy_def fc_strategy_##n;
#include "strategies.def"
#undef FC_STRATEGY

static const strategy_def *const all[] = {
#define FC_STRATEGY(n) &fc_strategy_##n,
#include "strategies.def"
#undef FC_STRATEGY
};

const strategy_def *strategy_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < FC_ARRAY_LEN(all); i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

const strategy_def *strategy_default(void) { return all[0]; }

const strategy_def *const *strategy_all(size_t *n)
{
    *n = FC_ARRAY_LEN(all);
    return all;
}

const char *strategy_names(const char *sep)
{
    static char buf[512];
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < FC_ARRAY_LEN(all); i++) {
        int w = snprintf(buf + off, sizeof buf - off, "%s%s", i ? sep : "", all[i]->name);
        if (w < 0 || (size_t)w >= sizeof buf - off) break;
        off += (size_t)w;
    }
    return buf;
}

bool strategy_catalog_check(char *err, size_t cap)
{
    for (size_t i = 0; i < FC_ARRAY_LEN(all); i++) {
        const strategy_def *sd = all[i];
        if (!sd->name || !sd->nsteps || !sd->steps || !sd->summary || !sd->engines || !sd->downtime_note) {
            snprintf(err, cap, "strategy #%zu: name, steps, summary, engines and downtime note are required", i);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(all[j]->name, sd->name)) {
                snprintf(err, cap, "strategy %s listed twice", sd->name);
                return false;
            }
        for (size_t k = 0; k < sd->nsteps; k++) {
            const step_def *d = &sd->steps[k];
            const char *refs[] = {d->next, d->on_fail};
            for (size_t r = 0; r < 2; r++)
                if (refs[r] && !strategy_step(sd, refs[r])) {
                    snprintf(err, cap, "strategy %s: step %s names unknown step %s", sd->name, d->name, refs[r]);
                    return false;
                }
        }
        for (size_t k = 0; k < sd->nwait_floors; k++)
            if (!sd->wait_floors[k].step || !strategy_step(sd, sd->wait_floors[k].step) ||
                sd->wait_floors[k].seconds <= 0) {
                snprintf(err, cap, "strategy %s: wait floor #%zu (step %s, %d s): want a step of the strategy and > 0 s",
                         sd->name, k, sd->wait_floors[k].step ? sd->wait_floors[k].step : "(none)",
                         sd->wait_floors[k].seconds);
                return false;
            }
        if (sd->nopts > STRATEGY_MAX_OPTS) {
            snprintf(err, cap, "strategy %s: more than %d options", sd->name, STRATEGY_MAX_OPTS);
            return false;
        }
        for (size_t k = 0; k < sd->nopts; k++) {
            const opt_def *o = &sd->opts[k];
            char e[256];
            if (!o->name || !o->help || (o->type == OPT_ENUM && !o->allowed) || strategy_opt(sd, o->name) != o) {
                snprintf(err, cap, "strategy %s: option #%zu is malformed or declared twice", sd->name, k);
                return false;
            }
            if (o->def && *o->def && !opt_check(o, o->def, e, sizeof e)) {
                snprintf(err, cap, "strategy %s: option %s: its default fails its own check: %s", sd->name, o->name, e);
                return false;
            }
        }
        if (sd->rekey_option) {
            const opt_def *o = strategy_opt(sd, sd->rekey_option);
            if (!o || o->type != OPT_BOOL || o->tuning) {
                snprintf(err, cap, "strategy %s: rekey_option %s is not one of its boolean flags", sd->name,
                         sd->rekey_option);
                return false;
            }
        }
        if (sd->reboot_option) {
            const opt_def *o = strategy_opt(sd, sd->reboot_option);
            if (!o || o->type != OPT_BOOL || o->tuning || !sd->required_param) {
                snprintf(err, cap, "strategy %s: reboot_option %s is not one of its boolean flags (or no "
                         "required_param)", sd->name, sd->reboot_option);
                return false;
            }
        }
    }
    return true;
}
