/* store_looks — see store_looks.h. */
#include "store_looks.h"
#include "store_int.h"
#include "store_keys.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct looks_keys {
    char looks[STORE_KEY_MAX], lookers[STORE_KEY_MAX], plans[STORE_KEY_MAX];
} looks_keys;

/* The keys of a board; false when a name does not fit. */
static bool keys_of(const store *s, const store_looks_at *at, looks_keys *k)
{
    if (!at || !at->campaign || !at->region || !at->side) return false;
    return store_key(s, k->looks, sizeof k->looks, "{%s}:looks:%s:%s", at->campaign, at->region, at->side) &&
           store_key(s, k->lookers, sizeof k->lookers, "{%s}:lookers:%s:%s", at->campaign, at->region, at->side) &&
           store_key(s, k->plans, sizeof k->plans, "{%s}:lookplans:%s:%s", at->campaign, at->region, at->side);
}

static int64_t ms_of(const char *v)
{
    long long x = v && *v ? strtoll(v, NULL, 10) : 0;
    return x > 0 ? x : 0;
}

bool store_looks_read(store *s, const store_looks_at *at, const char *id, char *entry, size_t cap,
                      int64_t *asking_ms, int64_t *failed_ms)
{
    if (cap) entry[0] = 0;
    *asking_ms = *failed_ms = 0;
    looks_keys k;
    if (!keys_of(s, at, &k)) return false;
    redisReply *r = store_cmd(s, "HMGET %s %s _asking _failed", k.looks, id);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (r) freeReplyObject(r);
        return false;
    }
    if (cap) fc_strlcpy(entry, reply_str(r, 0), cap);
    *asking_ms = ms_of(reply_str(r, 1));
    *failed_ms = ms_of(reply_str(r, 2));
    freeReplyObject(r);
    return true;
}

bool store_looks_ask(store *s, const store_looks_at *at, int64_t now_ms, int max_ids, int64_t ttl_ms, sargs *ids)
{
    looks_keys k;
    if (!keys_of(s, at, &k)) return false;
    char now[24], most[16], ttl[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(most, sizeof most, "%d", max_ids > 0 ? max_ids : 0);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *keys[] = {k.looks, k.lookers};
    const char *args[] = {now, most, ttl};
    redisReply *r = store_script(s, "looks_ask", 2, keys, 3, args);
    bool ok = r && store_strs_from_reply(r, ids);
    if (r) freeReplyObject(r);
    return ok;
}

bool store_looks_put(store *s, const store_looks_at *at, const sargs *triples, int64_t ttl_ms, int *written)
{
    if (written) *written = 0;
    if (!triples || triples->n % 3) return false;
    if (!triples->n) return true;
    looks_keys k;
    if (!keys_of(s, at, &k)) return false;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char **args = calloc((size_t)triples->n + 1, sizeof *args);
    if (!args) return false;
    args[0] = ttl;
    for (int i = 0; i < triples->n; i++) args[1 + i] = triples->v[i];
    const char *keys[] = {k.looks};
    redisReply *r = store_script(s, "looks_put", 1, keys, triples->n + 1, args);
    free(args);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok && written) *written = (int)r->integer;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_looks_want(store *s, const store_looks_at *at, const char *id, int64_t until_ms, int64_t ttl_ms)
{
    looks_keys k;
    if (!keys_of(s, at, &k)) return false;
    char until[24], ttl[24];
    snprintf(until, sizeof until, "%lld", (long long)(until_ms > 0 ? until_ms : 0));
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *keys[] = {k.lookers, k.plans};
    const char *args[] = {id, until, ttl};
    redisReply *r = store_script(s, "looks_want", 2, keys, 3, args);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_looks_plan(store *s, const store_looks_at *at, const char *id, int64_t own_ms, int64_t from_ms,
                      int64_t to_ms, int64_t now_ms, int64_t ttl_ms, int64_t *other_ms)
{
    *other_ms = 0;
    looks_keys k;
    if (!keys_of(s, at, &k)) return false;
    char own[24], from[24], to[24], ttl[24], now[24];
    snprintf(own, sizeof own, "%lld", (long long)own_ms);
    snprintf(from, sizeof from, "%lld", (long long)from_ms);
    snprintf(to, sizeof to, "%lld", (long long)to_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *keys[] = {k.plans};
    const char *args[] = {id, own, from, to, ttl, now};
    redisReply *r = store_script(s, "looks_plan", 1, keys, 6, args);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok && r->integer > 0) *other_ms = r->integer;
    if (r) freeReplyObject(r);
    return ok;
}
