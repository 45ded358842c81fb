/* logic — see pglogical_logic.h. */
#include "pglogical_logic.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "step.h"
#include "util.h"

#define GIB (1024LL * 1024 * 1024)

/* the engine's option parsers (lib/engine/step.c), under the names the
 * steps and their unit tests use */
bool pgl_truthy(const char *v) { return opt_truthy(v); }

bool pgl_parse_bytes(const char *v, int64_t dflt, int64_t *out)
{
    if (!v || !*v) {
        *out = dflt;
        return true;
    }
    return opt_parse_bytes(v, out);
}

static uint32_t fnv1a32(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

bool pgl_make_tag(const char *campaign, const char *instance, char *out, size_t cap)
{
    char t[160];
    size_t n = 0;
    /* a letter first: campaign ids may start with a digit */
    if (!isalpha((unsigned char)campaign[0])) t[n++] = 'c';
    for (const char *s = campaign; *s && n < 70; s++)
        t[n++] = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : '_';
    t[n++] = '_';
    for (const char *s = instance; *s && n < 150; s++)
        t[n++] = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : '_';
    t[n] = 0;
    if (n > 40) {
        /* 31 chars + '_' + 8 hex = 40 */
        char h[9];
        snprintf(h, sizeof h, "%08x", fnv1a32(campaign, instance));
        t[31] = '_';
        memcpy(t + 32, h, 9);
    }
    return fc_strlcpy(out, t, cap);
}

pgl_wal_verdict pgl_wal_check(const pgl_wal_in *in, char *why, size_t cap)
{
    if (why && cap) why[0] = 0;
    if (in->limit_bytes > 0 && in->retained_bytes >= in->limit_bytes) {
        if (why)
            snprintf(why, cap,
                     "replication slot retains %lld bytes of WAL on the source, over the campaign "
                     "limit of %lld (max_retained_wal_bytes)",
                     (long long)in->retained_bytes, (long long)in->limit_bytes);
        return PGL_WAL_ABORT;
    }
    if (in->allocated_bytes > 0 && in->used_bytes >= 0) {
        int64_t floor = in->min_free_bytes;
        if (floor <= 0) {
            floor = in->allocated_bytes / 10;
            if (floor < GIB) floor = GIB;
            if (floor > 20 * GIB) floor = 20 * GIB;
            if (floor > in->allocated_bytes / 2) floor = in->allocated_bytes / 2;
        }
        int64_t free_bytes = in->allocated_bytes - in->used_bytes;
        if (free_bytes < floor) {
            if (why)
                snprintf(why, cap,
                         "source storage nearly full: %lld bytes free of %lld (keeping %lld), the "
                         "replication slot retains %lld bytes of WAL",
                         (long long)free_bytes, (long long)in->allocated_bytes, (long long)floor,
                         (long long)in->retained_bytes);
            return PGL_WAL_ABORT;
        }
    }
    return PGL_WAL_OK;
}

void pgl_lag_decide(const pgl_lag_in *in, pgl_lag_out *out)
{
    memset(out, 0, sizeof *out);
    if (in->lag_bytes < 0 || in->lag_bytes > in->threshold_bytes) {
        out->under_since_ms = 0;
        /* far behind: look less often; close: soon */
        out->wait_ms = in->lag_bytes > 64 * in->threshold_bytes ? 10000 : 2000;
        return;
    }
    out->under_since_ms = in->under_since_ms > 0 && in->under_since_ms <= in->now_ms ? in->under_since_ms
                                                                                      : in->now_ms;
    int64_t held = in->now_ms - out->under_since_ms;
    if (held >= in->stable_ms) {
        out->ready = true;
        return;
    }
    int64_t left = in->stable_ms - held;
    out->wait_ms = left < 1000 ? 1000 : left > 5000 ? 5000 : left;
}

pgl_gate pgl_gate_check(const pgl_gate_in *in, int64_t *wait_ms)
{
    *wait_ms = 0;
    if (in->window && !in->window->any_time) {
        int64_t until = window_ms_until_open(in->window, in->now_ms);
        if (until == 0 && in->min_window_left_ms > 0 &&
            window_ms_until_close(in->window, in->now_ms) < in->min_window_left_ms) {
            /* too close to the end: wait for the next opening */
            int64_t close = window_ms_until_close(in->window, in->now_ms);
            until = close + window_ms_until_open(in->window, in->now_ms + close);
        }
        if (until > 0) {
            *wait_ms = until;
            return PGL_GATE_WINDOW;
        }
    }
    if (in->need_approval && !in->approved) {
        *wait_ms = 5000;
        return PGL_GATE_APPROVAL;
    }
    return PGL_GATE_GO;
}

pgl_live_verdict pgl_live_judge(const pgl_live_in *in, int *strikes, int *tries)
{
    int max_strikes = in->max_strikes > 0 ? in->max_strikes : 3;
    int max_tries = in->max_tries > 0 ? in->max_tries : 20;
    *strikes = in->strikes;
    *tries = in->tries;
    if (in->target_equal) return PGL_LIVE_OK;
    if (in->source_stable) {
        /* the target saw a prefix of the source's commits between X and X',
         * and the range was the same at both ends: it should have matched */
        *strikes = in->strikes + 1;
        return *strikes >= max_strikes ? PGL_LIVE_SUSPECT : PGL_LIVE_REQUEUE;
    }
    /* rows moved under us: inconclusive, and not "in a row" any more */
    *strikes = 0;
    *tries = in->tries + 1;
    return *tries >= max_tries ? PGL_LIVE_UNSETTLED : PGL_LIVE_REQUEUE;
}

bool pgl_catchup_ready(const pgl_catchup_in *in, const char **what)
{
    *what = "";
    if (in->prewarm_on && !in->prewarm_done) {
        *what = "prewarm";
        return false;
    }
    if (in->live_on && (in->live_passes_done < 1 || in->live_striking)) {
        *what = "live validation";
        return false;
    }
    if (!in->lag_ready) {
        *what = "lag";
        return false;
    }
    return true;
}

bool pgl_xnet_reason(const char *err, const char *tacct, const char *host, int port, char *out, size_t cap)
{
    const char *m = err ? strstr(err, "could not connect to the publisher") : NULL;
    if (!m) return false;
    size_t l = strcspn(m, "\r\n");
    if (l > 300) l = 300;
    snprintf(out, cap,
             "the target instance in account %s cannot connect to the source at %s:%d: %.*s; open the path "
             "(VPC peering or a Transit Gateway, routes, network ACLs, the source's security groups on port %d); "
             "nothing has been replicated yet (abort undoes everything)",
             tacct && *tacct ? tacct : "?", host, port, (int)l, m, port);
    return true;
}
