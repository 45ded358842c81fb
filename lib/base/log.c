/* log — see log.h. Lines are assembled in a stack buffer and written with
 * one fwrite so lines from different threads never interleave. */
#include "log.h"
#include "cfg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <time.h>

static char g_svc[32] = "fleetcrypt";
static log_level g_level = LOG_INFO;
static bool g_json = false;
static FILE *g_stream = NULL;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local struct {
    char campaign[96];
    char instance[96];
    char step[48];
    int attempt;
} t_ctx;

void log_init(const char *svc)
{
    if (svc)
        snprintf(g_svc, sizeof g_svc, "%s", svc);
    const char *lvl = cfg_env_str(CFG_LOG_LEVEL); /* canonical spelling; NULL when unset */
    if (lvl) {
        if (!strcmp(lvl, "debug")) g_level = LOG_DEBUG;
        else if (!strcmp(lvl, "info")) g_level = LOG_INFO;
        else if (!strcmp(lvl, "warn")) g_level = LOG_WARN;
        else if (!strcmp(lvl, "error")) g_level = LOG_ERROR;
    }
    const char *fmt = cfg_env_str(CFG_LOG_FORMAT);
    g_json = fmt && !strcmp(fmt, "json");
}

void log_set_stream(void *file) { g_stream = file; }
void log_set_level(log_level lvl) { g_level = lvl; }
bool log_enabled(log_level lvl) { return lvl >= g_level; }

void log_ctx_set(const char *campaign, const char *instance, const char *step, int attempt)
{
    snprintf(t_ctx.campaign, sizeof t_ctx.campaign, "%s", campaign ? campaign : "");
    snprintf(t_ctx.instance, sizeof t_ctx.instance, "%s", instance ? instance : "");
    snprintf(t_ctx.step, sizeof t_ctx.step, "%s", step ? step : "");
    t_ctx.attempt = attempt;
}

void log_ctx_clear(void) { memset(&t_ctx, 0, sizeof t_ctx); }

static const char *level_name(log_level l)
{
    switch (l) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    default: return "error";
    }
}

/* One line under assembly. A line is never cut: values are shortened
 * (LOG_VALUE_MAX bytes each, and whatever still fits), pairs that no longer
 * fit are left out, and log_truncated=true says so; LOG_RESERVE keeps room
 * for that pair and the line's end. Values are valid UTF-8 (an invalid byte
 * becomes U+FFFD); JSON values keep their type (numbers, true/false). */
#define LOG_LINE_MAX 16384
#define LOG_VALUE_MAX 4096
#define LOG_RESERVE 48

typedef struct lbuf {
    char b[LOG_LINE_MAX];
    size_t n;
    bool first, json, truncated;
} lbuf;

static bool room(const lbuf *l, size_t need) { return l->n + need + LOG_RESERVE < sizeof l->b; }

static void put_raw(lbuf *l, const char *s, size_t n)
{
    memcpy(l->b + l->n, s, n);
    l->n += n;
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (!len || len > left) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (len == 2 && c < 0xc2) return 0;                              /* overlong */
    if (len == 3 && c == 0xe0 && p[1] < 0xa0) return 0;              /* overlong */
    if (len == 3 && c == 0xed && p[1] >= 0xa0) return 0;             /* surrogate */
    if (len == 4 && (c > 0xf4 || (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))) return 0;
    return len;
}

/* Does v read as a JSON number (or true/false)? Then JSON writes it bare. */
static bool json_scalar(const char *v, size_t n)
{
    if ((n == 4 && !memcmp(v, "true", 4)) || (n == 5 && !memcmp(v, "false", 5))) return true;
    size_t i = 0;
    if (n == 0 || n > 32) return false;
    if (v[i] == '-') i++;
    if (i == n) return false;
    if (v[i] == '0') i++;
    else if (v[i] >= '1' && v[i] <= '9')
        while (i < n && v[i] >= '0' && v[i] <= '9') i++;
    else return false;
    if (i < n && v[i] == '.') {
        size_t d = ++i;
        while (i < n && v[i] >= '0' && v[i] <= '9') i++;
        if (i == d) return false;
    }
    if (i < n && (v[i] == 'e' || v[i] == 'E')) {
        i++;
        if (i < n && (v[i] == '+' || v[i] == '-')) i++;
        size_t d = i;
        while (i < n && v[i] >= '0' && v[i] <= '9') i++;
        if (i == d) return false;
    }
    return i == n;
}

/* Append value v (n bytes): escaped, valid UTF-8, at most LOG_VALUE_MAX
 * bytes of it; quoted when JSON (unless a typed scalar the caller did not
 * quote) or when key=value text needs it. */
static void put_value(lbuf *l, const char *v, size_t n, bool caller_quoted)
{
    if (!caller_quoted && l->json && json_scalar(v, n)) {
        put_raw(l, v, n); /* room checked by put_kv: a scalar is short */
        return;
    }
    bool quote = l->json || n == 0;
    for (size_t i = 0; i < n && !quote; i++) {
        unsigned char c = (unsigned char)v[i];
        quote = c == ' ' || c == '"' || c == '=' || c < 0x20 || c == 0x7f || c == '\\';
    }
    if (quote) put_raw(l, "\"", 1);
    size_t i = 0;
    while (i < n) {
        if (i >= LOG_VALUE_MAX) {
            l->truncated = true;
            break;
        }
        const unsigned char *p = (const unsigned char *)v + i;
        char esc[8];
        size_t el = 0, adv = 1;
        if (*p == '"' || *p == '\\') el = (size_t)snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p == '\n') el = (size_t)snprintf(esc, sizeof esc, "\\n");
        else if (*p < 0x20 || *p == 0x7f) el = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        size_t seq = el ? 1 : utf8_seq(p, n - i);
        if (!room(l, el ? el : seq ? seq : 3)) {
            l->truncated = true;
            break;
        }
        if (el) put_raw(l, esc, el);
        else if (seq) {
            put_raw(l, (const char *)p, seq);
            adv = seq;
        } else put_raw(l, "\xef\xbf\xbd", 3); /* U+FFFD for a byte that is not UTF-8 */
        i += adv;
    }
    if (quote) put_raw(l, "\"", 1);
}

static void put_kv(lbuf *l, const char *k, const char *v, size_t vn, bool caller_quoted)
{
    size_t kl = strlen(k);
    if (!room(l, kl + 8)) {
        l->truncated = true;
        return;
    }
    if (l->json) {
        put_raw(l, l->first ? "\"" : ",\"", l->first ? 1 : 2);
        put_raw(l, k, kl);
        put_raw(l, "\":", 2);
    } else {
        if (!l->first) put_raw(l, " ", 1);
        put_raw(l, k, kl);
        put_raw(l, "=", 1);
    }
    l->first = false;
    put_value(l, v, vn, caller_quoted);
}

static void put_str(lbuf *l, const char *k, const char *v, bool typed) { put_kv(l, k, v, strlen(v), !typed); }

/* Parse "k=v k2=\"v 2\"" (what the callers format) into pairs. */
static void put_extra(lbuf *l, const char *extra)
{
    const char *p = extra;
    char key[64], val[LOG_VALUE_MAX + 8];
    while (*p) {
        while (*p == ' ') p++;
        const char *eq = strchr(p, '=');
        if (!eq) break;
        size_t kl = (size_t)(eq - p);
        if (kl >= sizeof key) kl = sizeof key - 1;
        memcpy(key, p, kl);
        key[kl] = 0;
        p = eq + 1;
        size_t vl = 0;
        bool quoted = *p == '"';
        if (quoted) {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) p++;
                if (vl + 1 < sizeof val) val[vl++] = *p;
                else l->truncated = true;
                p++;
            }
            if (*p == '"') p++;
        } else {
            while (*p && *p != ' ') {
                if (vl + 1 < sizeof val) val[vl++] = *p;
                else l->truncated = true;
                p++;
            }
        }
        val[vl] = 0;
        put_kv(l, key, val, vl, quoted);
    }
}

void log_emit(log_level lvl, const char *msg, const char *kvfmt, ...)
{
    if (lvl < g_level)
        return;
    char extra[8192] = "";
    bool cut = false;
    if (kvfmt && kvfmt[0]) {
        va_list ap;
        va_start(ap, kvfmt);
        int w = vsnprintf(extra, sizeof extra, kvfmt, ap);
        va_end(ap);
        cut = w >= (int)sizeof extra;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tsbuf[96];
    snprintf(tsbuf, sizeof tsbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);

    lbuf line; /* 16 KiB of stack, touched only as far as the line goes */
    lbuf *l = &line;
    l->n = 0;
    l->first = true;
    l->json = g_json;
    l->truncated = cut;
    if (l->json) put_raw(l, "{", 1);
    put_str(l, "ts", tsbuf, false);
    put_str(l, "level", level_name(lvl), false);
    put_str(l, "svc", g_svc, false);
    if (t_ctx.campaign[0]) put_str(l, "campaign", t_ctx.campaign, false);
    if (t_ctx.instance[0]) put_str(l, "instance", t_ctx.instance, false);
    if (t_ctx.step[0]) {
        char att[16];
        snprintf(att, sizeof att, "%d", t_ctx.attempt);
        put_str(l, "step", t_ctx.step, false);
        put_str(l, "attempt", att, true);
    }
    put_str(l, "msg", msg ? msg : "", false);
    put_extra(l, extra);
    if (l->truncated) { /* LOG_RESERVE holds this pair */
        const char *mark = l->json ? ",\"log_truncated\":true" : " log_truncated=true";
        put_raw(l, mark, strlen(mark));
    }
    if (l->json) put_raw(l, "}", 1);
    put_raw(l, "\n", 1);
    size_t n = l->n;
    const char *buf = l->b;

    FILE *out = g_stream ? g_stream : stderr;
    pthread_mutex_lock(&g_mu);
    fwrite(buf, 1, n, out);
    fflush(out);
    pthread_mutex_unlock(&g_mu);
}
