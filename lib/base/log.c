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

/* Append s to buf[*n] escaped for JSON (json=true) or quoted for key=value
 * when it contains spaces, quotes or '='. */
static void put_value(char *buf, size_t cap, size_t *n, const char *s, bool json)
{
    bool quote = json || s[0] == '\0' || strpbrk(s, " \"=\t\n") != NULL;
    if (*n + 1 < cap && quote) buf[(*n)++] = '"';
    for (const char *p = s; *p && *n + 7 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') { buf[(*n)++] = '\\'; buf[(*n)++] = (char)c; }
        else if (c == '\n') { buf[(*n)++] = '\\'; buf[(*n)++] = 'n'; }
        else if (c < 0x20) { *n += (size_t)snprintf(buf + *n, cap - *n, "\\u%04x", c); }
        else buf[(*n)++] = (char)c;
    }
    if (*n + 1 < cap && quote) buf[(*n)++] = '"';
}

static void put_kv(char *buf, size_t cap, size_t *n, bool *first, const char *k, const char *v, bool json)
{
    if (*n + strlen(k) + 4 >= cap) return;
    if (json) {
        *n += (size_t)snprintf(buf + *n, cap - *n, "%s\"%s\":", *first ? "" : ",", k);
    } else {
        *n += (size_t)snprintf(buf + *n, cap - *n, "%s%s=", *first ? "" : " ", k);
    }
    *first = false;
    put_value(buf, cap, n, v, json);
}

/* Parse "k=v k2=v2" (v may be "quoted") into pairs for the JSON form. */
static void put_extra(char *buf, size_t cap, size_t *n, bool *first, const char *extra, bool json)
{
    if (!json) {
        if (extra[0] && *n + 2 < cap) {
            *n += (size_t)snprintf(buf + *n, cap - *n, " %s", extra);
        }
        return;
    }
    const char *p = extra;
    char key[64], val[1024];
    while (*p) {
        while (*p == ' ') p++;
        const char *eq = strchr(p, '=');
        if (!eq) break;
        size_t kl = (size_t)(eq - p);
        if (kl >= sizeof key) kl = sizeof key - 1;
        memcpy(key, p, kl); key[kl] = 0;
        p = eq + 1;
        size_t vl = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"' && vl + 1 < sizeof val) {
                if (*p == '\\' && p[1]) p++;
                val[vl++] = *p++;
            }
            if (*p == '"') p++;
        } else {
            while (*p && *p != ' ' && vl + 1 < sizeof val) val[vl++] = *p++;
        }
        val[vl] = 0;
        put_kv(buf, cap, n, first, key, val, true);
    }
}

void log_emit(log_level lvl, const char *msg, const char *kvfmt, ...)
{
    if (lvl < g_level)
        return;
    char extra[2048] = "";
    if (kvfmt && kvfmt[0]) {
        va_list ap;
        va_start(ap, kvfmt);
        vsnprintf(extra, sizeof extra, kvfmt, ap);
        va_end(ap);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tsbuf[96];
    snprintf(tsbuf, sizeof tsbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);

    char line[4096];
    size_t n = 0;
    bool first = true;
    if (g_json) line[n++] = '{';
    put_kv(line, sizeof line, &n, &first, "ts", tsbuf, g_json);
    put_kv(line, sizeof line, &n, &first, "level", level_name(lvl), g_json);
    put_kv(line, sizeof line, &n, &first, "svc", g_svc, g_json);
    if (t_ctx.campaign[0]) put_kv(line, sizeof line, &n, &first, "campaign", t_ctx.campaign, g_json);
    if (t_ctx.instance[0]) put_kv(line, sizeof line, &n, &first, "instance", t_ctx.instance, g_json);
    if (t_ctx.step[0]) {
        char att[16];
        snprintf(att, sizeof att, "%d", t_ctx.attempt);
        put_kv(line, sizeof line, &n, &first, "step", t_ctx.step, g_json);
        put_kv(line, sizeof line, &n, &first, "attempt", att, g_json);
    }
    put_kv(line, sizeof line, &n, &first, "msg", msg ? msg : "", g_json);
    put_extra(line, sizeof line, &n, &first, extra, g_json);
    if (g_json && n + 1 < sizeof line) line[n++] = '}';
    if (n >= sizeof line - 1) n = sizeof line - 2;
    line[n++] = '\n';

    FILE *out = g_stream ? g_stream : stderr;
    pthread_mutex_lock(&g_mu);
    fwrite(line, 1, n, out);
    fflush(out);
    pthread_mutex_unlock(&g_mu);
}
