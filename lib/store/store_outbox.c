/* store_outbox — see store_outbox.h. */
#include "store_int.h"
#include "store_outbox.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool store_timer_parse(const char *member, timer_entry *out)
{
    char buf[STORE_TIMER_MAX];
    if (!fc_strlcpy(buf, member, sizeof buf)) return false;
    char *save = NULL;
    char *a = strtok_r(buf, "|", &save);
    char *b = strtok_r(NULL, "|", &save);
    char *c = strtok_r(NULL, "|", &save);
    char *d = strtok_r(NULL, "|", &save);
    if (!a || !b || !c || !d || strtok_r(NULL, "|", &save)) return false;
    char *end = NULL;
    unsigned long att = strtoul(c, &end, 10);
    if (*end || att == 0 || att > 1000000) return false;
    unsigned long long ep = strtoull(d, &end, 10);
    if (*end || ep == 0) return false;
    if (!fc_strlcpy(out->instance, a, sizeof out->instance) || !fc_strlcpy(out->step, b, sizeof out->step))
        return false;
    out->attempt = (uint32_t)att;
    out->epoch = ep;
    return true;
}

bool store_outbox_due(store *s, const char *campaign, int64_t now_ms, int limit, sargs *members)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %d", k.timers, (long long)now_ms, limit);
    bool ok = store_strs_from_reply(r, members);
    if (r) freeReplyObject(r);
    return ok;
}

tt_status store_timer_take(store *s, const char *campaign, const char *member, const timer_entry *t,
                           int64_t postpone_ms, char *strategy, size_t scap)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX], att[16], ep[24], now[24], pp[24];
    store_rec_key(s, campaign, t->instance, rk, sizeof rk);
    snprintf(att, sizeof att, "%u", t->attempt);
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)t->epoch);
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    snprintf(pp, sizeof pp, "%lld", (long long)postpone_ms);
    const char *keys[] = {rk, k.timers, k.campaign};
    const char *args[] = {member, t->instance, t->step, att, ep, now, pp};
    redisReply *r = store_script(s, "timer_take", 3, keys, 7, args);
    tt_status st = TT_ERROR;
    if (r && reply_is_status(r, 0, "emit")) {
        st = TT_EMIT;
        fc_strlcpy(strategy, reply_str(r, 1), scap);
    } else if (r && reply_is_status(r, 0, "paused")) st = TT_PAUSED;
    else if (r && reply_is_status(r, 0, "stale")) st = TT_STALE;
    if (r) freeReplyObject(r);
    return st;
}

bool store_timer_done(store *s, const char *campaign, const char *member)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "ZREM %s %s", k.timers, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_timers_done(store *s, const char *campaign, const char *const *members, int n)
{
    if (n <= 0) return true;
    ckeys k;
    store_ckeys(s, campaign, &k);
    const char **argv = calloc((size_t)n + 2, sizeof *argv);
    if (!argv) return false;
    argv[0] = "ZREM";
    argv[1] = k.timers;
    for (int i = 0; i < n; i++) argv[2 + i] = members[i];
    redisReply *r = store_cmdargv(s, n + 2, argv, NULL);
    free(argv);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_timers_take(store *s, const char *campaign, const char *const *members, const timer_entry *t, int n,
                       int64_t postpone_ms, tt_status *st, char *strategy, size_t scap)
{
    for (int i = 0; i < n; i++) st[i] = TT_ERROR;
    if (n <= 0) return true;
    ckeys k;
    store_ckeys(s, campaign, &k);
    sargs keys, args;
    sargs_init(&keys);
    sargs_init(&args);
    sargs_add(&keys, k.timers);
    sargs_add(&keys, k.campaign);
    sargs_addi(&args, fc_now_ms());
    sargs_addi(&args, postpone_ms);
    for (int i = 0; i < n; i++) {
        char rk[STORE_KEY_MAX];
        store_rec_key(s, campaign, t[i].instance, rk, sizeof rk);
        sargs_add(&keys, rk);
        sargs_add(&args, members[i]);
        sargs_add(&args, t[i].instance);
        sargs_add(&args, t[i].step);
        sargs_addf(&args, "%u", t[i].attempt);
        sargs_addf(&args, "%llu", (unsigned long long)t[i].epoch);
    }
    redisReply *r = store_script(s, "timer_take_many", keys.n, (const char *const *)keys.v, args.n,
                                 (const char *const *)args.v);
    sargs_free(&keys);
    sargs_free(&args);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)n + 1;
    if (ok) {
        fc_strlcpy(strategy, reply_str(r, 0), scap);
        for (int i = 0; i < n; i++) {
            const char *v = reply_str(r, (size_t)i + 1);
            st[i] = !strcmp(v, "emit") ? TT_EMIT : !strcmp(v, "paused") ? TT_PAUSED : !strcmp(v, "stale") ? TT_STALE
                                                                                                       : TT_ERROR;
        }
    }
    if (r) freeReplyObject(r);
    return ok;
}
