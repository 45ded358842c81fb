/* store — see store.h. */
#include "store_int.h"
#include "dbuf.h"
#include "fc_sql.h"
#include "log.h"
#include "prom.h"
#include "util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_SCRIPTS 32
/* A restart may lose up to one second of writes (appendfsync everysec):
 * epochs after a restart start 10 s past Redis' clock to leave margin for
 * clock steps between the old and the new server process. */
#define STORE_FLOOR_MARGIN_US "10000000"

struct store {
    redisContext *c;
    fc_redis_addr addr;
    char prefix[32];
    char floor[32];
    long restarts;
    int64_t restart_seen_ms; /* Redis time the current server was first seen, if a restart */
    bool down_logged;
    bool connecting;
    struct {
        char name[48];
        char sha[48];
    } scripts[STORE_MAX_SCRIPTS];
    int nscripts;
};

static bool store_connect(store *s, char *err, size_t errcap);

/* Commands sent to Redis by this process, every connection together: one
 * relaxed atomic add per round trip (no lock, no shared cache line written
 * by anything else). store_round_trips() reads it for /metrics. */
static atomic_uint_fast64_t g_round_trips;
#define RT() atomic_fetch_add_explicit(&g_round_trips, 1, memory_order_relaxed)

uint64_t store_round_trips(void) { return (uint64_t)atomic_load_explicit(&g_round_trips, memory_order_relaxed); }

void store_round_trips_collect(struct prom_registry *r, void *ud)
{
    (void)ud;
    static atomic_uint_fast64_t exported;
    uint64_t now = store_round_trips();
    uint64_t before = (uint64_t)atomic_exchange_explicit(&exported, now, memory_order_relaxed);
    prom_counter_add(r, "fc_redis_round_trips_total",
                     "Commands sent to Redis (each a round trip; Lua scripts count one), every connection of the "
                     "process.",
                     NULL, (double)(now - before));
}

static bool note_run_id(store *s, char *err, size_t errcap)
{
    RT();
    redisReply *r = redisCommand(s->c, "INFO server");
    if (!r || r->type != REDIS_REPLY_STRING) {
        snprintf(err, errcap, "redis INFO failed");
        if (r) freeReplyObject(r);
        return false;
    }
    char run_id[64] = "";
    const char *p = strstr(r->str, "run_id:");
    if (p) {
        p += 7;
        size_t n = strcspn(p, "\r\n");
        if (n >= sizeof run_id) n = sizeof run_id - 1;
        memcpy(run_id, p, n);
        run_id[n] = 0;
    }
    freeReplyObject(r);
    char meta[96];
    snprintf(meta, sizeof meta, "%s:meta", s->prefix);
    const char *keys[] = {meta};
    const char *args[] = {run_id, STORE_FLOOR_MARGIN_US};
    /* Scripts are cached per connection; a new connection may face a new
     * server, so forget the SHAs. */
    s->nscripts = 0;
    redisReply *m = store_script(s, "meta_runid", 1, keys, 2, args);
    if (!m || m->type != REDIS_REPLY_ARRAY || m->elements < 3) {
        snprintf(err, errcap, "redis meta_runid script failed");
        if (m) freeReplyObject(m);
        return false;
    }
    fc_strlcpy(s->floor, reply_str(m, 0), sizeof s->floor);
    s->restarts = (long)m->element[1]->integer;
    s->restart_seen_ms = s->restarts > 0 && m->elements > 3 ? strtoll(reply_str(m, 3), NULL, 10) : 0;
    if (m->element[2]->integer == 1)
        log_info("redis run_id changed: epoch floor raised", "run_id=%s floor=%s restarts=%ld", run_id,
                 s->floor, s->restarts);
    freeReplyObject(m);
    return true;
}

static bool store_connect(store *s, char *err, size_t errcap)
{
    if (s->c) {
        redisFree(s->c);
        s->c = NULL;
    }
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    /* rediss://: the local TLS client (stunnel) carries the connection to host:port */
    s->c = redisConnectWithTimeout(s->addr.via_host, s->addr.via_port, tv);
    if (!s->c || s->c->err) {
        if (s->addr.tls)
            snprintf(err, errcap, "cannot connect to redis %s:%d through the TLS proxy %s:%d: %s", s->addr.host,
                     s->addr.port, s->addr.via_host, s->addr.via_port, s->c ? s->c->errstr : "out of memory");
        else
            snprintf(err, errcap, "cannot connect to redis %s:%d: %s", s->addr.host, s->addr.port,
                     s->c ? s->c->errstr : "out of memory");
        if (s->c) redisFree(s->c);
        s->c = NULL;
        return false;
    }
    struct timeval rt = {.tv_sec = 10, .tv_usec = 0};
    redisSetTimeout(s->c, rt);
    if (s->addr.password[0]) {
        RT();
        redisReply *r = s->addr.user[0]
                            ? redisCommand(s->c, "AUTH %s %s", s->addr.user, s->addr.password)
                            : redisCommand(s->c, "AUTH %s", s->addr.password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (!ok) {
            snprintf(err, errcap, "redis AUTH failed");
            redisFree(s->c);
            s->c = NULL;
            return false;
        }
    }
    if (s->addr.db) {
        RT();
        redisReply *r = redisCommand(s->c, "SELECT %d", s->addr.db);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (!ok) {
            snprintf(err, errcap, "redis SELECT %d failed", s->addr.db);
            redisFree(s->c);
            s->c = NULL;
            return false;
        }
    }
    s->connecting = true;
    bool noted = note_run_id(s, err, errcap);
    s->connecting = false;
    if (!noted) {
        if (s->c) redisFree(s->c);
        s->c = NULL;
        return false;
    }
    return true;
}

store *store_open(const fc_config *cfg, char *err, size_t errcap)
{
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    if (!cfg_redis_addr(cfg, &s->addr, err, errcap)) {
        free(s);
        return NULL;
    }
    fc_strlcpy(s->prefix, cfg->key_prefix, sizeof s->prefix);
    fc_strlcpy(s->floor, "0", sizeof s->floor);
    if (!store_connect(s, err, errcap)) {
        fc_wipe(&s->addr, sizeof s->addr);
        free(s);
        return NULL;
    }
    return s;
}

void store_close(store *s)
{
    if (!s) return;
    if (s->c) redisFree(s->c);
    fc_wipe(&s->addr, sizeof s->addr);
    free(s);
}

const char *store_prefix(const store *s) { return s->prefix; }
const char *store_floor(const store *s) { return s->floor; }
long store_restarts(const store *s) { return s->restarts; }
int64_t store_restart_seen_ms(const store *s) { return s->restart_seen_ms; }

bool store_key(const store *s, char *out, size_t cap, const char *fmt, ...)
{
    int n = snprintf(out, cap, "%s:", s->prefix);
    if (n < 0 || (size_t)n >= cap) return false;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return m >= 0 && (size_t)m < cap - (size_t)n;
}

/* Make sure there is a live connection (one reconnect attempt). */
static bool ensure(store *s)
{
    if (s->c && !s->c->err) return true;
    char err[256];
    if (!store_connect(s, err, sizeof err)) {
        if (!s->down_logged) log_warn("redis unavailable", "err=\"%s\"", err);
        s->down_logged = true;
        return false;
    }
    if (s->down_logged) log_info("redis reconnected", "host=%s port=%d", s->addr.host, s->addr.port);
    s->down_logged = false;
    return true;
}

redisReply *store_cmdargv(store *s, int argc, const char **argv, const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!ensure(s)) return NULL;
        RT();
        redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
        if (r) return r;
        /* broken connection: drop it; the next loop reconnects once */
        redisFree(s->c);
        s->c = NULL;
    }
    return NULL;
}

redisReply *store_vcmd(store *s, const char *fmt, va_list ap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!ensure(s)) return NULL;
        va_list aq;
        va_copy(aq, ap);
        RT();
        redisReply *r = redisvCommand(s->c, fmt, aq);
        va_end(aq);
        if (r) return r;
        redisFree(s->c);
        s->c = NULL;
    }
    return NULL;
}

redisReply *store_cmd(store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = store_vcmd(s, fmt, ap);
    va_end(ap);
    return r;
}

static const char *script_sha(store *s, const char *name, bool reload)
{
    int idx = -1;
    for (int i = 0; i < s->nscripts; i++)
        if (!strcmp(s->scripts[i].name, name)) idx = i;
    if (idx >= 0 && !reload) return s->scripts[idx].sha;
    const char *body = fc_lua_get(name);
    const char *prelude = fc_lua_get("_prelude");
    if (!body || !prelude) {
        log_error("no such embedded lua script", "script=%s", body ? "_prelude" : name);
        return NULL;
    }
    if (!s->c) return NULL;
    /* every script gets the shared helpers of lua/_prelude.lua in front */
    dbuf text;
    dbuf_init(&text, 1u << 20);
    if (!dbuf_appends(&text, prelude) || !dbuf_appends(&text, "\n") || !dbuf_appends(&text, body)) {
        dbuf_free(&text);
        log_error("lua script too large", "script=%s", name);
        return NULL;
    }
    RT();
    redisReply *r = redisCommand(s->c, "SCRIPT LOAD %s", text.data);
    dbuf_free(&text);
    if (!r) {
        redisFree(s->c);
        s->c = NULL;
        return NULL;
    }
    if (r->type != REDIS_REPLY_STRING) {
        log_error("redis SCRIPT LOAD failed", "script=%s err=\"%s\"", name,
                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return NULL;
    }
    if (idx < 0) {
        if (s->nscripts >= STORE_MAX_SCRIPTS) {
            log_error("too many lua scripts for the SHA cache", "script=%s", name);
            freeReplyObject(r);
            return NULL;
        }
        idx = s->nscripts++;
        fc_strlcpy(s->scripts[idx].name, name, sizeof s->scripts[idx].name);
    }
    fc_strlcpy(s->scripts[idx].sha, r->str, sizeof s->scripts[idx].sha);
    freeReplyObject(r);
    return s->scripts[idx].sha;
}

static redisReply *script_call(store *s, const char *name, int nkeys, const char *const *keys, int nargs,
                               const char *const *args, bool may_reconnect);

redisReply *store_script(store *s, const char *name, int nkeys, const char *const *keys, int nargs,
                         const char *const *args)
{
    return script_call(s, name, nkeys, keys, nargs, args, true);
}

redisReply *store_script_here(store *s, const char *name, int nkeys, const char *const *keys, int nargs,
                              const char *const *args)
{
    return script_call(s, name, nkeys, keys, nargs, args, false);
}

bool store_ready(store *s) { return ensure(s); }

static redisReply *script_call(store *s, const char *name, int nkeys, const char *const *keys, int nargs,
                               const char *const *args, bool may_reconnect)
{
    int argc = 3 + nkeys + nargs;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    if (!argv) return NULL;
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++) argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++) argv[3 + nkeys + i] = args[i];
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        /* note_run_id calls us while connecting: do not recurse into ensure() */
        if (!s->c || s->c->err) {
            if (!may_reconnect || s->connecting || !ensure(s)) break;
        }
        const char *sha = script_sha(s, name, attempt > 0);
        if (!sha) continue;
        argv[1] = sha;
        RT();
        r = redisCommandArgv(s->c, argc, argv, NULL);
        if (!r) {
            redisFree(s->c);
            s->c = NULL;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
            freeReplyObject(r);
            r = NULL;
            continue;
        }
        break;
    }
    free(argv);
    if (r && r->type == REDIS_REPLY_ERROR) {
        log_error("redis script failed", "script=%s err=\"%.200s\"", name, r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

int store_scripts_here(store *s, const store_call *calls, int n, redisReply **replies, bool *ran)
{
    for (int i = 0; i < n; i++) {
        replies[i] = NULL;
        ran[i] = false;
    }
    if (n < 1 || n > STORE_PIPE_MAX || !s->c || s->c->err) return 0;
    /* every SHA first: a script not loaded yet is loaded by a command of
     * its own, which must not run with replies of this batch pending */
    const char *sha[STORE_PIPE_MAX];
    for (int i = 0; i < n; i++) {
        sha[i] = script_sha(s, calls[i].name, false);
        if (!sha[i] || !s->c) return 0;
    }
    int sent = 0, got = 0;
    for (int i = 0; i < n; i++) {
        const store_call *c = &calls[i];
        int argc = 3 + c->nkeys + c->nargs;
        const char **argv = calloc((size_t)argc, sizeof *argv);
        if (!argv) break;
        char nk[16];
        snprintf(nk, sizeof nk, "%d", c->nkeys);
        argv[0] = "EVALSHA";
        argv[1] = sha[i];
        argv[2] = nk;
        for (int k = 0; k < c->nkeys; k++) argv[3 + k] = c->keys[k];
        for (int k = 0; k < c->nargs; k++) argv[3 + c->nkeys + k] = c->args[k];
        int rc = redisAppendCommandArgv(s->c, argc, argv, NULL); /* copies the arguments */
        free(argv);
        if (rc != REDIS_OK) break;
        sent++;
    }
    if (sent > 0) RT(); /* one round trip for the batch */
    for (int i = 0; i < sent && s->c; i++) {
        void *rp = NULL;
        if (redisGetReply(s->c, &rp) != REDIS_OK || !rp) {
            /* broken: the rest of the replies are lost with the connection */
            redisFree(s->c);
            s->c = NULL;
            break;
        }
        redisReply *r = rp;
        if (r->type == REDIS_REPLY_ERROR) {
            /* NOSCRIPT: not run; the caller's store_script reloads it */
            if (strncmp(r->str, "NOSCRIPT", 8)) {
                ran[i] = true;
                log_error("redis script failed", "script=%s err=\"%.200s\"", calls[i].name, r->str);
            }
            freeReplyObject(r);
            continue;
        }
        replies[i] = r;
        ran[i] = true;
        got++;
    }
    return got;
}

void sargs_init(sargs *a) { memset(a, 0, sizeof *a); }

void sargs_free(sargs *a)
{
    if (!a) return;
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

void sargs_add(sargs *a, const char *s)
{
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 16;
        char **nv = realloc(a->v, (size_t)nc * sizeof *nv);
        if (!nv) abort(); /* out of memory: nothing sensible to do */
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n] = strdup(s ? s : "");
    if (!a->v[a->n]) abort();
    a->n++;
}

void sargs_addf(sargs *a, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sargs_add(a, buf);
}

void sargs_addi(sargs *a, int64_t v) { sargs_addf(a, "%lld", (long long)v); }

const char *reply_str(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) return "";
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) return e->str;
    return "";
}

bool reply_is_status(const redisReply *r, size_t i, const char *want)
{
    return !strcmp(reply_str(r, i), want);
}

static char *dup_or_die(const char *v)
{
    char *d = strdup(v);
    if (!d) abort(); /* out of memory: nothing sensible to do */
    return d;
}

static void kv_push(store_kv *out, const char *f, const char *v)
{
    char **nv = realloc(out->kv, (out->n + 1) * 2 * sizeof *nv);
    if (!nv) abort();
    out->kv = nv;
    out->kv[2 * out->n] = dup_or_die(f);
    out->kv[2 * out->n + 1] = dup_or_die(v);
    out->n++;
}

void store_kv_free(store_kv *kv)
{
    if (!kv) return;
    for (size_t i = 0; i < 2 * kv->n; i++) free(kv->kv[i]);
    free(kv->kv);
    kv->kv = NULL;
    kv->n = 0;
}

void store_kv_from_pairs(const redisReply *r, store_kv *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING) kv_push(out, k->str, v->str);
    }
}

void store_kv_from_hmget(const redisReply *r, const char *const *fields, size_t n, store_kv *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < n && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) kv_push(out, fields[i], r->element[i]->str);
}

bool store_strs_from_reply(const redisReply *r, sargs *out)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) return false;
    for (size_t i = 0; i < r->elements; i++) sargs_add(out, reply_str(r, i));
    return true;
}

const char *kv_get(const store_kv *kv, const char *field)
{
    for (size_t i = 0; kv && i < kv->n; i++)
        if (!strcmp(kv->kv[2 * i], field)) return kv->kv[2 * i + 1];
    return NULL;
}

const char *kv_str(const store_kv *kv, const char *field)
{
    const char *v = kv_get(kv, field);
    return v ? v : "";
}

int64_t kv_get_i64(const store_kv *kv, const char *field, int64_t dflt)
{
    const char *v = kv_get(kv, field);
    if (!v || !*v) return dflt;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    return (end && *end == 0) ? (int64_t)n : dflt;
}
