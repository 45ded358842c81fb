/* lookboard — see lookboard.h. */
#include "lookboard.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A field as written: "" when it could break the format or not fit. */
static const char *field(const char *v, size_t cap)
{
    if (!v || strlen(v) >= cap || strpbrk(v, "\t\r\n")) return "";
    return v;
}

bool lookboard_encode(char *out, size_t cap, const lookboard_entry *e)
{
    int n;
    if (!e->present) {
        n = snprintf(out, cap, "%" PRId64 "\t-", e->sent_ms);
    } else {
        n = snprintf(out, cap, "%" PRId64 "\t%s\t%s\t%d\t%s\t%s\t%s", e->sent_ms,
                     *field(e->status, sizeof e->status) ? e->status : "?", field(e->address, sizeof e->address),
                     e->port > 0 && e->port < 65536 ? e->port : 0, field(e->campaign, sizeof e->campaign),
                     field(e->instance, sizeof e->instance), field(e->role, sizeof e->role));
    }
    return n > 0 && (size_t)n < cap;
}

/* Copy the next tab-separated field of *p into out (cap); false when it
 * does not fit, or when it is not followed by a tab and more are wanted
 * (the last field: followed by nothing). */
static bool next_field(const char **p, char *out, size_t cap, bool last)
{
    const char *s = *p, *t = strchr(s, '\t');
    if (last ? t != NULL : t == NULL) return false;
    size_t len = t ? (size_t)(t - s) : strlen(s);
    if (len >= cap) return false;
    memcpy(out, s, len);
    out[len] = 0;
    *p = t ? t + 1 : s + len;
    return true;
}

bool lookboard_decode(const char *s, lookboard_entry *e)
{
    memset(e, 0, sizeof *e);
    if (!s || !*s || strpbrk(s, "\r\n")) return false;
    char num[24], port[8];
    const char *p = s;
    if (!next_field(&p, num, sizeof num, false) || !*num) goto bad;
    char *end = NULL;
    long long sent = strtoll(num, &end, 10);
    if (*end || sent <= 0) goto bad;
    e->sent_ms = sent;
    if (!strcmp(p, "-")) return true; /* not present */
    if (!next_field(&p, e->status, sizeof e->status, false) || !*e->status ||
        !next_field(&p, e->address, sizeof e->address, false) || !next_field(&p, port, sizeof port, false) ||
        !*port || !next_field(&p, e->campaign, sizeof e->campaign, false) ||
        !next_field(&p, e->instance, sizeof e->instance, false) || !next_field(&p, e->role, sizeof e->role, true))
        goto bad;
    long pv = strtol(port, &end, 10);
    if (*end || pv < 0 || pv > 65535) goto bad;
    e->port = (int)pv;
    e->present = true;
    return true;
bad:
    memset(e, 0, sizeof *e);
    return false;
}

lookboard_verdict lookboard_verdict_of(const lookboard_entry *e, bool have_e, int64_t asking_ms, int64_t failed_ms,
                                       int64_t accept_ms, int64_t since_ms, int64_t now_ms, int64_t join_ms)
{
    if (have_e && e->sent_ms >= accept_ms) return LOOKBOARD_USE;
    if (asking_ms > 0 && asking_ms >= accept_ms && asking_ms >= since_ms && failed_ms < asking_ms &&
        now_ms < asking_ms + join_ms)
        return LOOKBOARD_WAIT;
    return LOOKBOARD_ASK;
}
