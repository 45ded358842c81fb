/* store_admit — see store_admit.h. */
#include "store_admit.h"
#include "store_int.h"
#include "util.h"

#include <string.h>

bool store_admit_many(store *s, const char *campaign, const char *const *ids, size_t n, const char *first_step,
                      int64_t deadline_ms, int max_parallel, const char *node, const sargs *fields, ad_status *st,
                      char (*members)[STORE_TIMER_MAX])
{
    for (size_t i = 0; i < n; i++) {
        st[i] = AD_ERROR;
        members[i][0] = 0;
    }
    if (n == 0) return true;
    ckeys k;
    store_ckeys(s, campaign, &k);
    sargs keys, a;
    sargs_init(&keys);
    sargs_init(&a);
    sargs_add(&keys, k.counts);
    sargs_add(&keys, k.timers);
    sargs_add(&keys, k.events);
    sargs_add(&keys, k.seq);
    sargs_add(&keys, k.campaign);
    for (size_t i = 0; i < n; i++) {
        char rk[STORE_KEY_MAX];
        store_rec_key(s, campaign, ids[i], rk, sizeof rk);
        sargs_add(&keys, rk);
    }
    sargs_addi(&a, fc_now_ms());
    sargs_add(&a, store_floor(s));
    sargs_add(&a, first_step);
    sargs_addi(&a, deadline_ms);
    sargs_addi(&a, max_parallel);
    sargs_add(&a, node);
    int nf = fields ? fields->n / 2 : 0;
    sargs_addi(&a, nf);
    for (int i = 0; i < nf * 2; i++) sargs_add(&a, fields->v[i]);
    redisReply *r = store_script(s, "admit_many", keys.n, (const char *const *)keys.v, a.n,
                                 (const char *const *)a.v);
    sargs_free(&keys);
    sargs_free(&a);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == n;
    for (size_t i = 0; ok && i < n; i++) {
        const redisReply *e = r->element[i];
        if (reply_is_status(e, 0, "ok")) {
            st[i] = AD_OK;
            fc_strlcpy(members[i], reply_str(e, 2), STORE_TIMER_MAX);
        } else if (reply_is_status(e, 0, "full")) st[i] = AD_FULL;
        else if (reply_is_status(e, 0, "skip")) st[i] = AD_SKIP;
    }
    if (r) freeReplyObject(r);
    return ok;
}

ad_status store_admit(store *s, const char *campaign, const char *instance, const char *first_step,
                      int64_t deadline_ms, int max_parallel, const char *node, const sargs *fields,
                      char *member, size_t mcap)
{
    /* a batch of one (lua/admit_many.lua): the same writes, the same check */
    ad_status st;
    char m[1][STORE_TIMER_MAX];
    if (!store_admit_many(s, campaign, &instance, 1, first_step, deadline_ms, max_parallel, node, fields, &st, m))
        return AD_ERROR;
    if (st == AD_OK) fc_strlcpy(member, m[0], mcap);
    return st;
}
