/* fleetcache — see fleetcache.h. */
#include "fleetcache.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fleetcache_key(const store *s, const char *region, const char *kind, char *out, size_t cap)
{
    store_key(s, out, cap, "cache:%s:%s", region, kind);
}

void fleetcache_wait_key(const store *s, const char *region, char *out, size_t cap)
{
    store_key(s, out, cap, "wait:%s", region);
}

void fleetcache_encode(char *out, size_t cap, const char *status, int pct, bool encrypted, const char *kms)
{
    snprintf(out, cap, "%s|%d|%d|%s", status, pct, encrypted ? 1 : 0, kms ? kms : "");
}

bool fleetcache_get(store *s, const char *region, const char *kind, const char *id, int64_t since_ms,
                    step_cache_view *out)
{
    memset(out, 0, sizeof *out);
    char key[256];
    fleetcache_key(s, region, kind, key, sizeof key);
    redisReply *r = store_cmd(s, "HMGET %s _ts _next %s", key, id);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (r) freeReplyObject(r);
        return false;
    }
    const char *ts = reply_str(r, 0), *next = reply_str(r, 1), *v = reply_str(r, 2);
    out->poll_ms = *ts ? strtoll(ts, NULL, 10) : 0;
    out->next_poll_ms = *next ? strtoll(next, NULL, 10) : 0;
    out->fresh = out->poll_ms > since_ms;
    if (*v) {
        char buf[512];
        fc_strlcpy(buf, v, sizeof buf);
        char *save = NULL;
        char *st = strtok_r(buf, "|", &save);
        char *pct = strtok_r(NULL, "|", &save);
        char *enc = strtok_r(NULL, "|", &save);
        char *kms = strtok_r(NULL, "|", &save);
        out->present = true;
        fc_strlcpy(out->status, st ? st : "", sizeof out->status);
        out->pct = pct ? atoi(pct) : 0;
        out->encrypted = enc && !strcmp(enc, "1");
        fc_strlcpy(out->kms_key, kms ? kms : "", sizeof out->kms_key);
    }
    freeReplyObject(r);
    return true;
}

bool fleetcache_want(store *s, const char *region, const char *member, int64_t now_ms)
{
    char key[256];
    fleetcache_wait_key(s, region, key, sizeof key);
    redisReply *r = store_cmd(s, "ZADD %s NX %lld %s", key, (long long)now_ms, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

bool fleetcache_unwant(store *s, const char *region, const char *member)
{
    char key[256];
    fleetcache_wait_key(s, region, key, sizeof key);
    redisReply *r = store_cmd(s, "ZREM %s %s", key, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}
