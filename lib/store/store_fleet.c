/* store_fleet — see store_fleet.h. */
#include "store_fleet.h"
#include "store_int.h"
#include "store_keys.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cache_key(const store *s, const char *region, const char *kind, char *out, size_t cap)
{
    store_key(s, out, cap, "cache:%s:%s", region, kind);
}

static void wait_key(const store *s, const char *region, char *out, size_t cap)
{
    store_key(s, out, cap, "wait:%s", region);
}

bool store_cache_read(store *s, const char *region, const char *kind, const char *id, int64_t *poll_ms,
                      int64_t *next_ms, char *entry, size_t cap)
{
    char key[STORE_KEY_MAX];
    cache_key(s, region, kind, key, sizeof key);
    redisReply *r = store_cmd(s, "HMGET %s _ts _next %s", key, id);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (r) freeReplyObject(r);
        return false;
    }
    const char *ts = reply_str(r, 0), *next = reply_str(r, 1);
    *poll_ms = *ts ? strtoll(ts, NULL, 10) : 0;
    *next_ms = *next ? strtoll(next, NULL, 10) : 0;
    fc_strlcpy(entry, reply_str(r, 2), cap);
    freeReplyObject(r);
    return true;
}

bool store_cache_poll_ms(store *s, const char *region, const char *kind, int64_t *poll_ms)
{
    char key[STORE_KEY_MAX];
    cache_key(s, region, kind, key, sizeof key);
    redisReply *t = store_cmd(s, "HGET %s _ts", key);
    bool ok = t && t->type == REDIS_REPLY_STRING;
    if (ok) *poll_ms = strtoll(t->str, NULL, 10);
    if (t) freeReplyObject(t);
    return ok;
}

bool store_cache_all(store *s, const char *region, const char *kind, sargs *out)
{
    char key[STORE_KEY_MAX];
    cache_key(s, region, kind, key, sizeof key);
    redisReply *w = store_cmd(s, "HGETALL %s", key);
    bool ok = store_strs_from_reply(w, out);
    if (w) freeReplyObject(w);
    return ok;
}

bool store_cache_set_next(store *s, const char *region, const char *kind, int64_t next_ms)
{
    char key[STORE_KEY_MAX];
    cache_key(s, region, kind, key, sizeof key);
    redisReply *x = store_cmd(s, "HSET %s _next %lld", key, (long long)next_ms);
    bool ok = x && x->type != REDIS_REPLY_ERROR;
    if (x) freeReplyObject(x);
    return ok;
}

bool store_cache_replace(store *s, const char *region, const char *kind, int64_t poll_ms, int64_t next_ms,
                         const sargs *entries)
{
    char key[STORE_KEY_MAX];
    cache_key(s, region, kind, key, sizeof key);
    /* DEL, then one HSET with _ts, _next and every entry */
    sargs argv;
    sargs_init(&argv);
    sargs_add(&argv, "HSET");
    sargs_add(&argv, key);
    sargs_add(&argv, "_ts");
    sargs_addi(&argv, poll_ms);
    sargs_add(&argv, "_next");
    sargs_addi(&argv, next_ms);
    for (int i = 0; entries && i < entries->n; i++) sargs_add(&argv, entries->v[i]);
    redisReply *d = store_cmd(s, "DEL %s", key);
    if (d) freeReplyObject(d);
    redisReply *h = store_cmdargv(s, argv.n, (const char **)argv.v, NULL);
    bool ok = h && h->type != REDIS_REPLY_ERROR;
    if (h) freeReplyObject(h);
    sargs_free(&argv);
    return ok;
}

bool store_wait_add(store *s, const char *region, const char *member, int64_t now_ms)
{
    char key[STORE_KEY_MAX];
    wait_key(s, region, key, sizeof key);
    redisReply *r = store_cmd(s, "ZADD %s NX %lld %s", key, (long long)now_ms, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

static void waiter_key(const store *s, const char *region, char *out, size_t cap)
{
    store_key(s, out, cap, "waiter:%s", region);
}

bool store_wait_del(store *s, const char *region, const char *member)
{
    char key[STORE_KEY_MAX], wk[STORE_KEY_MAX];
    wait_key(s, region, key, sizeof key);
    waiter_key(s, region, wk, sizeof wk);
    redisReply *r = store_cmd(s, "ZREM %s %s", key, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    redisReply *h = store_cmd(s, "HDEL %s %s", wk, member);
    if (h) freeReplyObject(h);
    return ok;
}

bool store_wait_who(store *s, const char *region, const char *member, const char *campaign, const char *instance,
                    const char *op)
{
    char wk[STORE_KEY_MAX], who[512];
    waiter_key(s, region, wk, sizeof wk);
    snprintf(who, sizeof who, "%s\t%s\t%s", campaign, instance, op ? op : "");
    redisReply *r = store_cmd(s, "HSET %s %s %s", wk, member, who);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

int store_wake(store *s, const char *region, const char *member, int64_t now_ms)
{
    char wk[STORE_KEY_MAX], who[512];
    waiter_key(s, region, wk, sizeof wk);
    redisReply *r = store_cmd(s, "HGET %s %s", wk, member);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r) freeReplyObject(r);
        return -1;
    }
    bool have = r->type == REDIS_REPLY_STRING;
    if (have) fc_strlcpy(who, r->str, sizeof who);
    freeReplyObject(r);
    char *tab = have ? strchr(who, '\t') : NULL;
    if (!tab) return 0;
    *tab = 0;
    char *op = strchr(tab + 1, '\t'); /* "<campaign>\t<instance>\t<op>" (no op: an older worker's) */
    if (op) *op = 0;
    return store_wake_record(s, who, tab + 1, member, now_ms);
}

int store_wake_record(store *s, const char *campaign, const char *instance, const char *member, int64_t now_ms)
{
    char rk[STORE_KEY_MAX], now[24];
    ckeys k;
    store_ckeys(s, campaign, &k);
    store_rec_key(s, campaign, instance, rk, sizeof rk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *keys[] = {rk, k.timers};
    const char *args[] = {now, member};
    redisReply *x = store_script(s, "wake", 2, keys, 2, args);
    int rc = x && x->type == REDIS_REPLY_INTEGER ? (int)x->integer : -1;
    if (x) freeReplyObject(x);
    return rc;
}

bool store_waits_prune(store *s, const char *region, int64_t before_ms)
{
    char key[STORE_KEY_MAX];
    wait_key(s, region, key, sizeof key);
    /* their waiters go with them */
    char wk[STORE_KEY_MAX];
    waiter_key(s, region, wk, sizeof wk);
    redisReply *old = store_cmd(s, "ZRANGEBYSCORE %s -inf %lld", key, (long long)before_ms);
    if (old && old->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < old->elements; i++) {
            redisReply *h = store_cmd(s, "HDEL %s %s", wk, reply_str(old, i));
            if (h) freeReplyObject(h);
        }
    if (old) freeReplyObject(old);
    redisReply *x = store_cmd(s, "ZREMRANGEBYSCORE %s -inf %lld", key, (long long)before_ms);
    bool ok = x && x->type == REDIS_REPLY_INTEGER;
    if (x) freeReplyObject(x);
    return ok;
}

bool store_waits(store *s, const char *region, sargs *out)
{
    char key[STORE_KEY_MAX];
    wait_key(s, region, key, sizeof key);
    redisReply *w = store_cmd(s, "ZRANGE %s 0 -1 WITHSCORES", key);
    bool ok = store_strs_from_reply(w, out);
    if (w) freeReplyObject(w);
    return ok;
}

static bool hash_all(store *s, const char *key, sargs *out)
{
    redisReply *w = store_cmd(s, "HGETALL %s", key);
    bool ok = store_strs_from_reply(w, out);
    if (w) freeReplyObject(w);
    return ok;
}

bool store_waiters(store *s, const char *region, sargs *out)
{
    char wk[STORE_KEY_MAX];
    waiter_key(s, region, wk, sizeof wk);
    return hash_all(s, wk, out);
}

static void opdur_key(const store *s, const char *region, char *out, size_t cap)
{
    store_key(s, out, cap, "opdur:%s", region);
}

bool store_opdur_all(store *s, const char *region, sargs *out)
{
    char k[STORE_KEY_MAX];
    opdur_key(s, region, k, sizeof k);
    return hash_all(s, k, out);
}

int64_t store_opdur_get(store *s, const char *region, const char *op)
{
    char k[STORE_KEY_MAX];
    opdur_key(s, region, k, sizeof k);
    redisReply *r = store_cmd(s, "HGET %s %s", k, op);
    int64_t v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    if (r) freeReplyObject(r);
    return v > 0 ? v : 0;
}

bool store_opdur_set(store *s, const char *region, const char *op, int64_t ms)
{
    char k[STORE_KEY_MAX];
    opdur_key(s, region, k, sizeof k);
    redisReply *r = store_cmd(s, "HSET %s %s %lld", k, op, (long long)ms);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_wait_learnt(store *s, const char *region, const char *member)
{
    char wk[STORE_KEY_MAX], who[512];
    waiter_key(s, region, wk, sizeof wk);
    redisReply *r = store_cmd(s, "HGET %s %s", wk, member);
    bool have = r && r->type == REDIS_REPLY_STRING;
    if (have) fc_strlcpy(who, r->str, sizeof who);
    if (r) freeReplyObject(r);
    if (!have) return true;
    char *op = strchr(who, '\t');
    op = op ? strchr(op + 1, '\t') : NULL;
    if (!op || !op[1]) return true;
    op[1] = 0;
    redisReply *h = store_cmd(s, "HSET %s %s %s", wk, member, who);
    bool ok = h && h->type == REDIS_REPLY_INTEGER;
    if (h) freeReplyObject(h);
    return ok;
}
