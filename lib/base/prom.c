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
#define SCRAPE_QUEUE 4 /* scrapes waiting for the scrape thread; more get 503 */

struct prom_server {
    prom_registry *r;
    int fd;
    int port;
    pthread_t th;      /* accept thread: reads requests, answers the probes */
    pthread_t scraper; /* renders /metrics (collectors may block on Redis) */
    bool scraper_started;
    atomic_bool stop;
    atomic_llong beat_ms;       /* fc_mono_ms() of the last beat; 0: none yet */
    atomic_llong live_bound_ms; /* /healthz fails when the beat is older */
    atomic_bool draining;       /* graceful shutdown: alive, not ready */
    pthread_mutex_t mu;         /* guards q, qn, ready* */
    pthread_cond_t cv;
    int q[SCRAPE_QUEUE];
    int qn;
    bool ready_known, ready;
    char reason[256];
};

static void respond(int cfd, const char *status, const char *ctype, const char *body, size_t len)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, ctype, len);
    if (write(cfd, hdr, (size_t)n) < 0) return;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(cfd, body + off, len - off);
        if (w <= 0) return;
        off += (size_t)w;
    }
}

static void respond_text(int cfd, const char *status, const char *text)
{
    respond(cfd, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* "GET <path>" followed by a space or a query string. */
static bool is_get(const char *req, const char *path)
{
    size_t n = strlen(path);
    return !strncmp(req, "GET ", 4) && !strncmp(req + 4, path, n) && (req[4 + n] == ' ' || req[4 + n] == '?');
}

static void scrape(prom_server *s, int cfd)
{
    dbuf body;
    dbuf_init(&body, 64u << 20);
    if (prom_render(s->r, &body))
        respond(cfd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.data ? body.data : "", body.len);
    else
        respond_text(cfd, "500 Internal Server Error", "render failed\n");
    dbuf_free(&body);
}

static void *scraper_main(void *arg)
{
    prom_server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->qn == 0 && !atomic_load(&s->stop)) pthread_cond_wait(&s->cv, &s->mu);
        if (s->qn == 0) break; /* stopping, nothing left */
        int cfd = s->q[0];
        memmove(s->q, s->q + 1, (size_t)(s->qn - 1) * sizeof s->q[0]);
        s->qn--;
        bool stopping = atomic_load(&s->stop);
        pthread_mutex_unlock(&s->mu);
        if (stopping) respond_text(cfd, "503 Service Unavailable", "shutting down\n");
        else scrape(s, cfd);
        close(cfd);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void healthz(prom_server *s, int cfd)
{
    int64_t beat = atomic_load(&s->beat_ms), bound = atomic_load(&s->live_bound_ms);
    char msg[160];
    if (atomic_load(&s->draining)) {
        respond_text(cfd, "200 OK", "draining\n");
        return;
    }
    if (beat == 0) {
        respond_text(cfd, "503 Service Unavailable", "starting: the main loop has not run yet\n");
        return;
    }
    int64_t age = fc_mono_ms() - beat;
    if (age > bound) {
        snprintf(msg, sizeof msg, "stuck: the main loop last ran %lld ms ago (bound %lld ms)\n", (long long)age,
                 (long long)bound);
        respond_text(cfd, "503 Service Unavailable", msg);
        return;
    }
    respond_text(cfd, "200 OK", "ok\n");
}

static void readyz(prom_server *s, int cfd)
{
    char msg[300];
    if (atomic_load(&s->draining)) {
        respond_text(cfd, "503 Service Unavailable", "not ready: shutting down\n");
        return;
    }
    pthread_mutex_lock(&s->mu);
    bool known = s->ready_known, ready = s->ready;
    snprintf(msg, sizeof msg, "not ready: %s\n", s->reason[0] ? s->reason : "unknown");
    pthread_mutex_unlock(&s->mu);
    if (!known) respond_text(cfd, "503 Service Unavailable", "not ready: dependencies not checked yet\n");
    else if (!ready) respond_text(cfd, "503 Service Unavailable", msg);
    else respond_text(cfd, "200 OK", "ok\n");
}

/* Read the request head and answer it; false when cfd was handed to the
 * scrape thread (which closes it). */
static bool serve(prom_server *s, int cfd)
{
    char req[2048];
    size_t len = 0;
    req[0] = 0;
    int64_t deadline = fc_mono_ms() + 2000;
    while (len < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
        int left = (int)(deadline - fc_mono_ms());
        struct pollfd p = {.fd = cfd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) return true;
        ssize_t r = read(cfd, req + len, sizeof req - 1 - len);
        if (r <= 0) return true;
        len += (size_t)r;
        req[len] = 0;
    }
    if (is_get(req, "/healthz")) {
        healthz(s, cfd);
        return true;
    }
    if (is_get(req, "/readyz")) {
        readyz(s, cfd);
        return true;
    }
    if (!is_get(req, "/metrics")) {
        respond_text(cfd, "404 Not Found", "not found: try /metrics, /healthz or /readyz\n");
        return true;
    }
    pthread_mutex_lock(&s->mu);
    bool queued = s->qn < SCRAPE_QUEUE;
    if (queued) {
        s->q[s->qn++] = cfd;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (!queued) respond_text(cfd, "503 Service Unavailable", "too many scrapes in progress\n");
    return !queued;
}

static void *server_main(void *arg)
{
    prom_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        int cfd = accept(s->fd, NULL, NULL);
        if (cfd < 0) continue;
        if (serve(s, cfd)) close(cfd);
    }
    return NULL;
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
    char host[128] = "127.0.0.1";
    int port = 0;
    const char *colon = strrchr(addr, ':');
    if (colon) {
        size_t hl = (size_t)(colon - addr);
        if (hl > 0 && hl < sizeof host) {
            memcpy(host, addr, hl);
            host[hl] = 0;
        }
        port = atoi(colon + 1);
    } else {
        port = atoi(addr);
    }
    if (port < 0 || port > 65535) {
        snprintf(err, errcap, "metrics address %s: bad port", addr);
        return NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errcap, "metrics address %s: host must be an IPv4 address", addr);
        return NULL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        snprintf(err, errcap, "socket: %s", strerror(errno));
        return NULL;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errcap, "metrics address %s: %s", addr, strerror(errno));
        close(fd);
        return NULL;
    }
    prom_server *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    s->r = r;
    s->fd = fd;
    s->port = ntohs(sa.sin_port);
    atomic_init(&s->stop, false);
    atomic_init(&s->beat_ms, 0);
    atomic_init(&s->live_bound_ms, PROM_LIVE_BOUND_MS);
    atomic_init(&s->draining, false);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->scraper_started = pthread_create(&s->scraper, NULL, scraper_main, s) == 0;
    if (!s->scraper_started || pthread_create(&s->th, NULL, server_main, s) != 0) {
        atomic_store(&s->stop, true);
        if (s->scraper_started) {
            pthread_mutex_lock(&s->mu);
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            pthread_join(s->scraper, NULL);
        }
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        close(fd);
        free(s);
        snprintf(err, errcap, "cannot start metrics thread");
        return NULL;
    }
    log_info("metrics endpoint listening", "addr=%s:%d paths=/metrics,/healthz,/readyz", host, s->port);
    return s;
}

int prom_server_port(const prom_server *s) { return s ? s->port : 0; }

void prom_server_stop(prom_server *s)
{
    if (!s) return;
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL); /* no more scrapes queued after this */
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->scraper, NULL); /* answers (503) what was still queued */
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    close(s->fd);
    free(s);
}
