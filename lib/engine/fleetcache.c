/* fleetcache — see fleetcache.h. */
#include "fleetcache.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fleetcache_encode(char *out, size_t cap, const char *status, int pct, bool encrypted, const char *kms)
{
    snprintf(out, cap, "%s|%d|%d|%s", status, pct, encrypted ? 1 : 0, kms ? kms : "");
}

bool fleetcache_get(store *s, const char *region, const char *kind, const char *id, int64_t since_ms,
                    step_cache_view *out)
{
    memset(out, 0, sizeof *out);
    char v[512];
    if (!store_cache_read(s, region, kind, id, &out->poll_ms, &out->next_poll_ms, v, sizeof v)) return false;
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
    return true;
}

bool fleetcache_want(store *s, const char *region, const char *member, int64_t now_ms)
{
    return store_wait_add(s, region, member, now_ms);
}

bool fleetcache_unwant(store *s, const char *region, const char *member)
{
    return store_wait_del(s, region, member);
}
