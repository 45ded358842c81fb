/* prom — see prom.h. Families and series are small arrays under one mutex:
 * fleetcrypt's label sets are bounded (strategies × steps × states × actions),
 * so linear search is simpler and fast enough. */
#include "prom.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <unistd.h>

typedef enum { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM } prom_type;

static const double k_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
#define NBUCKETS (sizeof k_buckets / sizeof k_buckets[0])

typedef struct series {
    char *labels;    /* owned, "" when none */
    double value;    /* counter/gauge value; histogram sum */
    double count;    /* histogram count */
    double buckets[NBUCKETS];
} series;

typedef struct family {
    char *name;
    const char *help;
    prom_type type;
    series *s;
    size_t n, cap;
} family;

struct prom_registry {
    pthread_mutex_t mu;
    family *f;
    size_t n, cap;
    struct {
        prom_collector_fn fn;
        void *ud;
    } collectors[8];
    int ncollectors;
};

prom_registry *prom_registry_new(void)
{
    prom_registry *r = calloc(1, sizeof *r);
    if (r) pthread_mutex_init(&r->mu, NULL);
    return r;
}

void prom_registry_free(prom_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->f[i].n; j++) free(r->f[i].s[j].labels);
        free(r->f[i].s);
        free(r->f[i].name);
    }
    free(r->f);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static prom_registry *g_default;
static void make_default(void) { g_default = prom_registry_new(); }

prom_registry *prom_default(void)
{
    pthread_once(&g_once, make_default);
    return g_default;
}

char *prom_labels(char *buf, size_t cap, ...)
{
    va_list ap;
    va_start(ap, cap);
    size_t n = 0;
    buf[0] = 0;
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (!v) v = "";
        if (n + strlen(k) + 4 >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s=\"", n ? "," : "", k);
        for (const char *p = v; *p && n + 3 < cap; p++) {
            if (*p == '\\' || *p == '"') {
                buf[n++] = '\\';
                buf[n++] = *p;
            } else if (*p == '\n') {
                buf[n++] = '\\';
                buf[n++] = 'n';
            } else {
                buf[n++] = *p;
            }
        }
        if (n + 1 < cap) buf[n++] = '"';
        buf[n] = 0;
    }
    va_end(ap);
    return buf;
}

static bool valid_name(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
            return false;
    return true;
}

/* Find or create the series; called with r->mu held. NULL on type clash. */
static series *get_series(prom_registry *r, const char *name, const char *help, prom_type t, const char *labels)
{
    if (!labels) labels = "";
    family *fam = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->f[i].name, name)) {
            fam = &r->f[i];
            break;
        }
    if (!fam) {
        if (!valid_name(name)) return NULL;
        if (r->n == r->cap) {
            size_t nc = r->cap ? r->cap * 2 : 16;
            family *nf = realloc(r->f, nc * sizeof *nf);
            if (!nf) return NULL;
            r->f = nf;
            r->cap = nc;
        }
        fam = &r->f[r->n];
        memset(fam, 0, sizeof *fam);
        fam->name = strdup(name);
        if (!fam->name) return NULL;
        fam->help = help ? help : "";
        fam->type = t;
        r->n++;
    }
    if (fam->type != t) return NULL;
    for (size_t j = 0; j < fam->n; j++)
        if (!strcmp(fam->s[j].labels, labels)) return &fam->s[j];
    if (fam->n == fam->cap) {
        size_t nc = fam->cap ? fam->cap * 2 : 8;
        series *ns = realloc(fam->s, nc * sizeof *ns);
        if (!ns) return NULL;
        fam->s = ns;
        fam->cap = nc;
    }
    series *s = &fam->s[fam->n];
    memset(s, 0, sizeof *s);
    s->labels = strdup(labels);
    if (!s->labels) return NULL;
    fam->n++;
    return s;
}

static void update(prom_registry *r, const char *name, const char *help, prom_type t, const char *labels,
                   double v, int op /* 0 add, 1 set, 2 observe */)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    series *s = get_series(r, name, help, t, labels);
    if (s) {
        if (op == 0) s->value += v;
        else if (op == 1) s->value = v;
        else {
            s->value += v;
            s->count += 1;
            for (size_t b = 0; b < NBUCKETS; b++)
                if (v <= k_buckets[b]) s->buckets[b] += 1;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

void prom_counter_add(prom_registry *r, const char *name, const char *help, const char *labels, double v)
{
    if (v < 0) return; /* counters only go up */
    update(r, name, help, PROM_COUNTER, labels, v, 0);
}
void prom_gauge_set(prom_registry *r, const char *name, const char *help, const char *labels, double v)
{
    update(r, name, help, PROM_GAUGE, labels, v, 1);
}
void prom_gauge_add(prom_registry *r, const char *name, const char *help, const char *labels, double v)
{
    update(r, name, help, PROM_GAUGE, labels, v, 0);
}
void prom_histogram_observe(prom_registry *r, const char *name, const char *help, const char *labels, double v)
{
    update(r, name, help, PROM_HISTOGRAM, labels, v, 2);
}

void prom_gauge_clear(prom_registry *r, const char *name)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        family *f = &r->f[i];
        if (strcmp(f->name, name)) continue;
        for (size_t j = 0; j < f->n; j++) free(f->s[j].labels);
        f->n = 0;
        break;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ------------------------------------------------------------ process metrics */
/* Seconds since the epoch the machine booted (/proc/stat btime); 0 unknown. */
static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    double bt = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "btime ", 6)) {
            bt = strtod(line + 6, NULL);
            break;
        }
    if (f) fclose(f);
    return bt;
}

static void process_collect(prom_registry *r, void *ud)
{
    (void)ud;
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (p && tck > 0 && page > 0) {
        /* fields from 3 on: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14)
         * stime(15) cutime cstime priority nice threads itrealvalue starttime(22) vsize(23) rss(24) */
        unsigned long long v[22] = {0};
        int k = 0;
        for (const char *q = p + 2; *q && k < 22; k++) {
            while (*q == ' ') q++;
            v[k] = strtoull(q, NULL, 10);
            while (*q && *q != ' ') q++;
        }
        if (k >= 22) {
            update(r, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", PROM_COUNTER,
                   NULL, (double)(v[11] + v[12]) / (double)tck, 1);
            update(r, "process_virtual_memory_bytes", "Virtual memory size in bytes.", PROM_GAUGE, NULL,
                   (double)v[20], 1);
            update(r, "process_resident_memory_bytes", "Resident memory size in bytes.", PROM_GAUGE, NULL,
                   (double)v[21] * (double)page, 1);
            double bt = boot_time();
            if (bt > 0)
                update(r, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                       PROM_GAUGE, NULL, bt + (double)v[19] / (double)tck, 1);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int fds = 0;
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.') fds++;
        closedir(d);
        update(r, "process_open_fds", "Number of open file descriptors.", PROM_GAUGE, NULL, fds - 1, 1); /* not d's */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        update(r, "process_max_fds", "Maximum number of open file descriptors.", PROM_GAUGE, NULL,
               rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur, 1);
}

void prom_add_standard(prom_registry *r)
{
    if (!r) return;
    char l[96];
    prom_gauge_set(r, "fc_build_info", "fleetcrypt's version; always 1.", prom_labels(l, sizeof l, "version",
                                                                                     FC_VERSION, NULL), 1);
    pthread_mutex_lock(&r->mu);
    bool have = false;
    for (int i = 0; i < r->ncollectors; i++) have = have || r->collectors[i].fn == process_collect;
    pthread_mutex_unlock(&r->mu);
    if (!have) prom_add_collector(r, process_collect, NULL);
}

bool prom_add_collector(prom_registry *r, prom_collector_fn fn, void *ud)
{
    pthread_mutex_lock(&r->mu);
    bool ok = r->ncollectors < 8;
    if (ok) {
        r->collectors[r->ncollectors].fn = fn;
        r->collectors[r->ncollectors].ud = ud;
        r->ncollectors++;
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static void fmt_num(char *out, size_t cap, double v)
{
    if (isinf(v)) snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v)) snprintf(out, cap, "NaN");
    else if (v == (double)(long long)v && fabs(v) < 1e15) snprintf(out, cap, "%lld", (long long)v);
    else {
        /* shortest form that reads back exactly */
        snprintf(out, cap, "%.15g", v);
        if (strtod(out, NULL) != v) snprintf(out, cap, "%.17g", v);
    }
}

static bool render_series(dbuf *out, const char *name, const char *suffix, const char *labels,
                          const char *extra, double v)
{
    char num[64];
    fmt_num(num, sizeof num, v);
    bool has = labels && *labels, hasx = extra && *extra;
    if (!has && !hasx) return dbuf_printf(out, "%s%s %s\n", name, suffix, num);
    return dbuf_printf(out, "%s%s{%s%s%s} %s\n", name, suffix, has ? labels : "", has && hasx ? "," : "",
                       hasx ? extra : "", num);
}

bool prom_render(prom_registry *r, dbuf *out)
{
    int nc;
    pthread_mutex_lock(&r->mu);
    nc = r->ncollectors;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < nc; i++) r->collectors[i].fn(r, r->collectors[i].ud);

    bool ok = true;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && ok; i++) {
        family *f = &r->f[i];
        if (f->n == 0) continue; /* cleared: nothing to say */
        const char *type = f->type == PROM_COUNTER ? "counter" : f->type == PROM_GAUGE ? "gauge" : "histogram";
        ok = dbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type);
        for (size_t j = 0; j < f->n && ok; j++) {
            series *s = &f->s[j];
            if (f->type != PROM_HISTOGRAM) {
                ok = render_series(out, f->name, "", s->labels, NULL, s->value);
                continue;
            }
            for (size_t b = 0; b < NBUCKETS && ok; b++) {
                char le[48], num[32];
                fmt_num(num, sizeof num, k_buckets[b]);
                snprintf(le, sizeof le, "le=\"%s\"", num);
                ok = render_series(out, f->name, "_bucket", s->labels, le, s->buckets[b]);
            }
            ok = ok && render_series(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", s->count) &&
                 render_series(out, f->name, "_sum", s->labels, NULL, s->value) &&
                 render_series(out, f->name, "_count", s->labels, NULL, s->count);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* ------------------------------------------------------------ HTTP server */
/* libmicrohttpd, a thread per connection: a probe never waits behind a
 * scrape, and every scrape that arrives is served. Renders run one at a
 * time (collectors hold one Redis connection each). */
#define PROM_MAX_CONNECTIONS 32

struct prom_server {
    prom_registry *r;
    struct MHD_Daemon *d;
    int port;
    atomic_llong beat_ms;       /* fc_mono_ms() of the last beat; 0: none yet */
    atomic_llong live_bound_ms; /* /healthz fails when the beat is older */
    atomic_bool draining;       /* graceful shutdown: alive, not ready */
    pthread_mutex_t render_mu;  /* one render at a time */
    pthread_mutex_t mu;         /* guards ready* */
    bool ready_known, ready;
    char reason[256];
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
                               size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return respond(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

static enum MHD_Result scrape(prom_server *s, struct MHD_Connection *c)
{
    dbuf body;
    dbuf_init(&body, 64u << 20);
    pthread_mutex_lock(&s->render_mu);
    bool ok = prom_render(s->r, &body);
    pthread_mutex_unlock(&s->render_mu);
    enum MHD_Result rc = ok ? respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                                      body.data ? body.data : "", body.len)
                            : respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "render failed\n");
    dbuf_free(&body);
    return rc;
}

static enum MHD_Result healthz(prom_server *s, struct MHD_Connection *c)
{
    int64_t beat = atomic_load(&s->beat_ms), bound = atomic_load(&s->live_bound_ms);
    char msg[160];
    if (atomic_load(&s->draining)) return respond_text(c, MHD_HTTP_OK, "draining\n");
    if (beat == 0) return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "starting: the main loop has not run yet\n");
    int64_t age = fc_mono_ms() - beat;
    if (age > bound) {
        snprintf(msg, sizeof msg, "stuck: the main loop last ran %lld ms ago (bound %lld ms)\n", (long long)age,
                 (long long)bound);
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    return respond_text(c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result readyz(prom_server *s, struct MHD_Connection *c)
{
    char msg[300];
    if (atomic_load(&s->draining)) return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: shutting down\n");
    pthread_mutex_lock(&s->mu);
    bool known = s->ready_known, ready = s->ready;
    snprintf(msg, sizeof msg, "not ready: %s\n", s->reason[0] ? s->reason : "unknown");
    pthread_mutex_unlock(&s->mu);
    if (!known) return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: dependencies not checked yet\n");
    if (!ready) return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    return respond_text(c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    prom_server *s = cls;
    if (*upload_data_size) { /* no body is read: drop it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (!strcmp(url, "/healthz")) return healthz(s, c);
    if (!strcmp(url, "/readyz")) return readyz(s, c);
    if (!strcmp(url, "/metrics")) return scrape(s, c);
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

void prom_server_beat(prom_server *s)
{
    if (s) atomic_store(&s->beat_ms, (long long)fc_mono_ms());
}

void prom_server_set_live_bound(prom_server *s, int64_t ms)
{
    if (s && ms > 0) atomic_store(&s->live_bound_ms, (long long)ms);
}

void prom_server_set_draining(prom_server *s)
{
    if (s) atomic_store(&s->draining, true);
}

void prom_server_set_ready(prom_server *s, bool ready, const char *reason)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->ready_known = true;
    s->ready = ready;
    snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&s->mu);
}

prom_server *prom_server_start(prom_registry *r, const char *addr, char *err, size_t errcap)
{
    /* HOST:PORT with HOST an IPv4 address or a bracketed IPv6 one ("[::]:9464"); PORT alone: 127.0.0.1 */
    char host[128] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    const char *hs = addr, *he = colon;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errcap, "metrics address %s: want [IPv6]:PORT", addr);
            return NULL;
        }
        hs = addr + 1;
        he = rb;
        colon = rb + 1;
    }
    if (colon && he > hs) {
        size_t hl = (size_t)(he - hs);
        if (hl >= sizeof host) {
            snprintf(err, errcap, "metrics address %s: host too long", addr);
            return NULL;
        }
        memcpy(host, hs, hl);
        host[hl] = 0;
    }
    char *end = NULL;
    long port = strtol(colon ? colon + 1 : addr, &end, 10);
    if (end == (colon ? colon + 1 : addr) || *end || port < 0 || port > 65535) {
        snprintf(err, errcap, "metrics address %s: bad port", addr);
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    bool v6 = strchr(host, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1) {
            snprintf(err, errcap, "metrics address %s: not an IPv6 address", addr);
            return NULL;
        }
    } else {
        struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
            snprintf(err, errcap, "metrics address %s: host must be an IPv4 address or [IPv6]", addr);
            return NULL;
        }
    }
    prom_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->r = r;
    atomic_init(&s->beat_ms, 0);
    atomic_init(&s->live_bound_ms, PROM_LIVE_BOUND_MS);
    atomic_init(&s->draining, false);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->render_mu, NULL);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)PROM_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                            MHD_OPTION_END);
    const union MHD_DaemonInfo *di = s->d ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!s->d || !di) {
        snprintf(err, errcap, "metrics address %s: cannot listen", addr);
        if (s->d) MHD_stop_daemon(s->d);
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->render_mu);
        free(s);
        return NULL;
    }
    s->port = di->port;
    log_info("metrics endpoint listening", "addr=%s%s%s:%d paths=/metrics,/healthz,/readyz", v6 ? "[" : "", host,
             v6 ? "]" : "", s->port);
    return s;
}

int prom_server_port(const prom_server *s) { return s ? s->port : 0; }

void prom_server_stop(prom_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d); /* waits for the connections' threads */
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->render_mu);
    free(s);
}
