/* fleetcache — see fleetcache.h. */
#include "fleetcache.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fleetcache_encode(char *out, size_t cap, const char *status, int pct, bool encrypted, const char *kms,
                       const char *address, int port)
{
    snprintf(out, cap, "%s|%d|%d|%s|%s|%d", status, pct, encrypted ? 1 : 0, kms ? kms : "", address ? address : "",
             port);
}

/* The next '|'-separated field of *p (empty fields kept, unlike strtok). */
static const char *field(char **p)
{
    if (!*p) return "";
    char *f = *p, *bar = strchr(f, '|');
    if (bar) {
        *bar = 0;
        *p = bar + 1;
    } else {
        *p = NULL;
    }
    return f;
}

void fleetcache_decode(const char *entry, step_cache_view *out)
{
    out->present = false;
    out->status[0] = 0;
    out->pct = 0;
    out->encrypted = false;
    out->kms_key[0] = 0;
    out->address[0] = 0;
    out->port = 0;
    if (!entry || !*entry) return;
    char buf[1024];
    fc_strlcpy(buf, entry, sizeof buf);
    char *p = buf;
    out->present = true;
    fc_strlcpy(out->status, field(&p), sizeof out->status);
    out->pct = atoi(field(&p));
    out->encrypted = !strcmp(field(&p), "1");
    fc_strlcpy(out->kms_key, field(&p), sizeof out->kms_key);
    /* an entry of an older coordinator has no endpoint: "" and 0 */
    fc_strlcpy(out->address, field(&p), sizeof out->address);
    out->port = atoi(field(&p));
}

bool fleetcache_get(store *s, const char *region, const char *kind, const char *id, int64_t since_ms,
                    step_cache_view *out)
{
    memset(out, 0, sizeof *out);
    char v[1024];
    if (!store_cache_read(s, region, kind, id, &out->poll_ms, &out->next_poll_ms, v, sizeof v)) return false;
    out->fresh = out->poll_ms > since_ms;
    fleetcache_decode(v, out);
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
