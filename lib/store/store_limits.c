/* store_limits — see store_limits.h. */
#include "store_int.h"
#include "store_fleet.h"
#include "store_limits.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_bucket_key(const store *s, const char *account, const char *region, const char *service, char *out,
                      size_t cap)
{
    store_key(s, out, cap, "bucket:%s:%s:%s", account && *account ? account : "-", region, service);
}

void store_slot_key(const store *s, const char *account, const char *region, const char *cls, char *out,
                    size_t cap)
{
    store_key(s, out, cap, "slots:%s:%s:%s", account && *account ? account : "-", region, cls);
}

bool store_bucket_op(store *s, const char *key, const char *op, int64_t now_ms, double rate, double burst,
                     double recover, double min_rate, store_bucket_answer *out)
{
    char now[24], rt[32], bu[32], rec[32], minr[32], debt[8];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(rt, sizeof rt, "%.6f", rate);
    snprintf(bu, sizeof bu, "%.6f", burst);
    snprintf(rec, sizeof rec, "%.6f", recover);
    snprintf(minr, sizeof minr, "%.6f", min_rate);
    snprintf(debt, sizeof debt, "%d", STORE_BUCKET_URGENT_DEBT);
    const char *keys[] = {key};
    const char *args[] = {op, now, rt, bu, rec, minr, debt};
    redisReply *r = store_script(s, "bucket", 1, keys, 7, args);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4) {
        if (r) freeReplyObject(r);
        return false;
    }
    out->granted = r->element[0]->integer == 1;
    out->wait_ms = r->element[1]->integer;
    out->rate_milli = r->element[2]->integer;
    out->tokens_milli = r->element[3]->integer;
    freeReplyObject(r);
    return true;
}

int store_slot_acquire(store *s, const char *key, const char *member, int64_t now_ms, int64_t ttl_ms, int limit)
{
    char now[24], ttl[24], lim[16];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *keys[] = {key};
    const char *args[] = {"acquire", member, now, ttl, lim};
    redisReply *r = store_script(s, "slot", 1, keys, 5, args);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return rc;
}

bool store_slot_release(store *s, const char *key, const char *member, int64_t now_ms)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *keys[] = {key};
    const char *args[] = {"release", member, now, "0", "0"};
    redisReply *r = store_script(s, "slot", 1, keys, 5, args);
    bool ok = r != NULL;
    if (r) freeReplyObject(r);
    return ok;
}

static bool wait_key(const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s:wait", key);
    return n > 0 && (size_t)n < cap;
}

bool store_slot_wait_add(store *s, const char *key, const char *member, int64_t now_ms)
{
    char wk[STORE_KEY_MAX + 8];
    if (!wait_key(key, wk, sizeof wk)) return false;
    redisReply *r = store_cmd(s, "ZADD %s NX %lld %s", wk, (long long)now_ms, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_slot_wait_del(store *s, const char *key, const char *member)
{
    char wk[STORE_KEY_MAX + 8];
    if (!wait_key(key, wk, sizeof wk)) return false;
    redisReply *r = store_cmd(s, "ZREM %s %s", wk, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

long long store_slot_waiting(store *s, const char *key)
{
    char wk[STORE_KEY_MAX + 8];
    if (!wait_key(key, wk, sizeof wk)) return -1;
    redisReply *r = store_cmd(s, "ZCARD %s", wk);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return n;
}

long long store_slot_held(store *s, const char *key, int64_t now_ms)
{
    redisReply *r = store_cmd(s, "ZCOUNT %s (%lld +inf", key, (long long)now_ms);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return n;
}

/* Pop the oldest waiter of key into who ("<campaign>" NUL "<instance>"):
 * 1 popped (*inst set), 0 nobody, -1 Redis error. */
static int slot_pop(store *s, const char *key, char *who, size_t cap, const char **inst)
{
    char wk[STORE_KEY_MAX + 8];
    if (!wait_key(key, wk, sizeof wk)) return -1;
    redisReply *r = store_cmd(s, "ZPOPMIN %s", wk);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return -1;
    }
    bool have = r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING &&
                fc_strlcpy(who, r->element[0]->str, cap);
    freeReplyObject(r);
    char *slash = have ? strchr(who, '/') : NULL;
    if (!slash) return 0;
    *slash = 0;
    *inst = slash + 1;
    return 1;
}

int store_slot_wake(store *s, const char *key, const char *wait_on, int64_t now_ms)
{
    char who[256];
    const char *inst = NULL;
    int p = slot_pop(s, key, who, sizeof who, &inst);
    return p <= 0 ? p : store_wake_record(s, who, inst, wait_on, now_ms);
}

int store_slot_hand_over(store *s, const char *key, const char *wait_on, int64_t now_ms, int64_t due_ms,
                         slot_handover *out)
{
    char who[256];
    const char *inst = NULL;
    memset(out, 0, sizeof *out);
    int p = slot_pop(s, key, who, sizeof who, &inst);
    if (p <= 0) return p;
    char rk[STORE_KEY_MAX], now[24], due[24];
    ckeys k;
    store_ckeys(s, who, &k);
    store_rec_key(s, who, inst, rk, sizeof rk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    const char *keys[] = {rk, k.timers, k.campaign};
    const char *args[] = {now, wait_on, due};
    redisReply *x = store_script(s, "wake_take", 3, keys, 3, args);
    if (!x || x->type != REDIS_REPLY_ARRAY) {
        if (x) freeReplyObject(x);
        return -1;
    }
    bool taken = x->elements == 2 && x->element[0]->type == REDIS_REPLY_STRING &&
                 x->element[1]->type == REDIS_REPLY_STRING &&
                 fc_strlcpy(out->campaign, who, sizeof out->campaign) &&
                 fc_strlcpy(out->member, x->element[0]->str, sizeof out->member) &&
                 fc_strlcpy(out->strategy, x->element[1]->str, sizeof out->strategy);
    freeReplyObject(x);
    if (taken) return 1;
    memset(out, 0, sizeof *out);
    /* not one to hand over (paused, due already, no longer waiting): as before */
    return store_wake_record(s, who, inst, wait_on, now_ms) < 0 ? -1 : 0;
}

bool store_buckets(store *s, const char *account, const char *region, sargs *out)
{
    char pat[STORE_KEY_MAX], base[STORE_KEY_MAX];
    if (account) store_key(s, pat, sizeof pat, "bucket:%s:%s:*", account, region);
    else store_key(s, pat, sizeof pat, "bucket:*");
    store_key(s, base, sizeof base, "bucket:");
    size_t plen = strlen(base);
    char cursor[32] = "0";
    for (int iter = 0; iter < 100; iter++) {
        redisReply *r = store_cmd(s, "SCAN %s MATCH %s COUNT 200", cursor, pat);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            return false;
        }
        fc_strlcpy(cursor, reply_str(r, 0), sizeof cursor);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
            const char *key = keys->element[i]->str;
            if (key && strlen(key) > plen) sargs_add(out, key + plen);
        }
        freeReplyObject(r);
        if (!strcmp(cursor, "0")) return true;
    }
    return true;
}

bool store_bucket_read(store *s, const char *name, int64_t now_ms, int calls_minutes, int throttle_minutes,
                       store_bucket_view *out)
{
    memset(out, 0, sizeof *out);
    char key[STORE_KEY_MAX];
    if (!store_key(s, key, sizeof key, "bucket:%s", name)) return false;
    sargs f;
    sargs_init(&f);
    sargs_add(&f, "tokens");
    sargs_add(&f, "rate");
    int64_t cur = now_ms / 60000;
    for (int m = 0; m < calls_minutes; m++) sargs_addf(&f, "c:%lld", (long long)(cur - m));
    for (int m = 0; m < throttle_minutes; m++) sargs_addf(&f, "t:%lld", (long long)(cur - m));
    const char **argv = calloc((size_t)f.n + 2, sizeof *argv);
    if (!argv) {
        sargs_free(&f);
        return false;
    }
    argv[0] = "HMGET";
    argv[1] = key;
    for (int i = 0; i < f.n; i++) argv[2 + i] = f.v[i];
    redisReply *r = store_cmdargv(s, f.n + 2, argv, NULL);
    free(argv);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)f.n;
    if (ok) {
        out->tokens = strtod(reply_str(r, 0), NULL);
        out->rate = strtod(reply_str(r, 1), NULL);
        for (int i = 0; i < calls_minutes; i++) out->calls += strtoll(reply_str(r, (size_t)(2 + i)), NULL, 10);
        for (int i = 0; i < throttle_minutes; i++)
            out->throttles += strtoll(reply_str(r, (size_t)(2 + calls_minutes + i)), NULL, 10);
    }
    if (r) freeReplyObject(r);
    sargs_free(&f);
    return ok;
}
