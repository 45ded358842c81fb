/* test_prom — exposition text is exact for counters, gauges, histograms;
 * label values are escaped; type clashes are refused; the HTTP endpoint
 * serves /metrics and 404s anything else; /healthz follows the main loop's
 * heartbeat and /readyz the readiness the main loop reported, and both
 * answer while a slow /metrics scrape is still collecting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "prom.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void test_render_exact(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    char l[256];
    prom_counter_add(r, "fc_steps_total", "Steps finished.", prom_labels(l, sizeof l, "step", "restore", "outcome", "ok", NULL), 2);
    prom_counter_add(r, "fc_steps_total", "Steps finished.", prom_labels(l, sizeof l, "step", "restore", "outcome", "ok", NULL), 1);
    prom_counter_add(r, "fc_steps_total", "Steps finished.", l, -5); /* ignored: counters never go down */
    prom_gauge_set(r, "fc_lag_bytes", "Lag.", NULL, 1.5);
    prom_gauge_set(r, "fc_steps_total", "clash", NULL, 7); /* type clash: ignored */
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(prom_render(r, &out));
    assert_string_equal(out.data,
                        "# HELP fc_steps_total Steps finished.\n# TYPE fc_steps_total counter\n"
                        "fc_steps_total{step=\"restore\",outcome=\"ok\"} 3\n"
                        "# HELP fc_lag_bytes Lag.\n# TYPE fc_lag_bytes gauge\nfc_lag_bytes 1.5\n");
    dbuf_free(&out);
    prom_registry_free(r);
}

static void test_histogram_and_escaping(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    char l[256];
    prom_labels(l, sizeof l, "reason", "a \"quoted\"\\path\nline", NULL);
    assert_string_equal(l, "reason=\"a \\\"quoted\\\"\\\\path\\nline\"");
    prom_histogram_observe(r, "fc_step_seconds", "Step duration.", NULL, 0.2);
    prom_histogram_observe(r, "fc_step_seconds", "Step duration.", NULL, 7200);
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(prom_render(r, &out));
    assert_non_null(strstr(out.data, "fc_step_seconds_bucket{le=\"0.1\"} 0\n"));
    assert_non_null(strstr(out.data, "fc_step_seconds_bucket{le=\"0.25\"} 1\n"));
    assert_non_null(strstr(out.data, "fc_step_seconds_bucket{le=\"3600\"} 1\n"));
    assert_non_null(strstr(out.data, "fc_step_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(out.data, "fc_step_seconds_sum 7200.2\n"));
    assert_non_null(strstr(out.data, "fc_step_seconds_count 2\n"));
    dbuf_free(&out);
    prom_registry_free(r);
}

static void collect(prom_registry *r, void *ud)
{
    int *calls = ud;
    (*calls)++;
    prom_gauge_set(r, "fc_collected", "Set at scrape time.", NULL, *calls);
}

static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char *buf = calloc(1, 65536);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, buf + len, 65535 - len)) > 0) len += (size_t)r;
    close(fd);
    return buf;
}

/* GET path: the answer holds every one of the NULL-terminated strings. */
static void __attribute__((sentinel)) expect_get(int port, const char *path, ...)
{
    char *body = http_get(port, path);
    va_list ap;
    va_start(ap, path);
    for (const char *want; (want = va_arg(ap, const char *));) assert_non_null(strstr(body, want));
    va_end(ap);
    free(body);
}

/* A server for r on a free loopback port. */
static prom_server *server_start(prom_registry *r)
{
    char err[256];
    prom_server *s = prom_server_start(r, "127.0.0.1:0", err, sizeof err);
    assert_non_null(s);
    return s;
}

static void test_http_endpoint(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    int calls = 0;
    assert_true(prom_add_collector(r, collect, &calls));
    prom_server *s = server_start(r);
    expect_get(prom_server_port(s), "/metrics", "HTTP/1.1 200 OK", "text/plain; version=0.0.4", "fc_collected 1\n",
               NULL);
    expect_get(prom_server_port(s), "/other", "404", NULL);
    prom_server_stop(s);
    prom_registry_free(r);
}

static void test_healthz_follows_heartbeat(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    prom_server *s = server_start(r);
    int port = prom_server_port(s);
    /* no beat yet: the main loop has not run */
    expect_get(port, "/healthz", "HTTP/1.1 503", NULL);
    prom_server_beat(s);
    expect_get(port, "/healthz", "HTTP/1.1 200 OK", NULL);
    /* a beat older than the bound: the loop is stuck */
    prom_server_set_live_bound(s, 1);
    prom_server_beat(s);
    usleep(20000);
    expect_get(port, "/healthz", "HTTP/1.1 503", "main loop", NULL);
    prom_server_stop(s);
    prom_registry_free(r);
}

static void test_readyz_reports_cached_state(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    prom_server *s = server_start(r);
    int port = prom_server_port(s);
    expect_get(port, "/readyz", "HTTP/1.1 503", NULL);
    prom_server_set_ready(s, true, NULL);
    expect_get(port, "/readyz", "HTTP/1.1 200 OK", NULL);
    prom_server_set_ready(s, false, "redis unreachable");
    expect_get(port, "/readyz?verbose", "HTTP/1.1 503", "redis unreachable", NULL);
    prom_server_stop(s);
    prom_registry_free(r);
}

static void test_draining_is_alive_not_ready(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    prom_server *s = server_start(r);
    int port = prom_server_port(s);
    prom_server_set_live_bound(s, 1);
    prom_server_beat(s);
    prom_server_set_ready(s, true, NULL);
    /* the main loop ended for a graceful shutdown: no more beats, and that
     * is no reason to restart the process while it checkpoints */
    prom_server_set_draining(s);
    usleep(20000);
    expect_get(port, "/healthz", "HTTP/1.1 200 OK", NULL);
    expect_get(port, "/readyz", "HTTP/1.1 503", "shutting down", NULL);
    prom_server_stop(s);
    prom_registry_free(r);
}

/* A collector that blocks until released: a scrape stuck on Redis. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
} gate;

static void slow_collect(prom_registry *r, void *ud)
{
    (void)r;
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

typedef struct scrape_arg {
    int port;
    char *body;
} scrape_arg;

static void *scrape_thread(void *arg)
{
    scrape_arg *a = arg;
    a->body = http_get(a->port, "/metrics");
    return NULL;
}

static void test_probes_answer_during_slow_scrape(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    assert_true(prom_add_collector(r, slow_collect, &g));
    prom_server *s = server_start(r);
    prom_server_beat(s);
    prom_server_set_ready(s, true, NULL);
    scrape_arg a = {.port = prom_server_port(s)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scrape_thread, &a), 0);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    /* the scrape is inside its collector: the probes still answer */
    expect_get(prom_server_port(s), "/healthz", "HTTP/1.1 200 OK", NULL);
    expect_get(prom_server_port(s), "/readyz", "HTTP/1.1 200 OK", NULL);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(th, NULL);
    assert_non_null(strstr(a.body, "HTTP/1.1 200 OK"));
    free(a.body);
    prom_server_stop(s);
    prom_registry_free(r);
}

static char *http_get6(int port, const char *path)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_loopback};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char *buf = calloc(1, 65536);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, buf + len, 65535 - len)) > 0) len += (size_t)r;
    close(fd);
    return buf;
}

/* The server (libmicrohttpd) listens on IPv6 addresses too ("[::1]:0",
 * "[::]:9464"), and serves every scrape that arrives while one is slow
 * (several Prometheus replicas): none is turned away. */
static void test_ipv6_and_many_scrapes(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    char err[256];
    prom_server *s = prom_server_start(r, "[::1]:0", err, sizeof err);
    if (!s) fail_msg("[::1]:0: %s", err);
    prom_server_beat(s);
    char *body = http_get6(prom_server_port(s), "/healthz");
    assert_non_null(strstr(body, "HTTP/1.1 200 OK"));
    free(body);
    prom_server_stop(s);

    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    assert_true(prom_add_collector(r, slow_collect, &g));
    s = prom_server_start(r, "127.0.0.1:0", err, sizeof err);
    assert_non_null(s);
    enum { N = 8 };
    scrape_arg a[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        a[i] = (scrape_arg){.port = prom_server_port(s)};
        assert_int_equal(pthread_create(&th[i], NULL, scrape_thread, &a[i]), 0);
    }
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    usleep(200000); /* the others arrive while the first is inside its collector */
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (!strstr(a[i].body, "HTTP/1.1 200 OK")) fail_msg("scrape %d: %.80s", i, a[i].body);
        free(a[i].body);
    }
    prom_server_stop(s);
    prom_registry_free(r);
}

/* A family's series can be dropped (revoked partitions, campaigns and
 * buckets a coordinator no longer reports): the family's HELP/TYPE stays
 * out of the text while it has no series. */
static void test_gauge_clear(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    char l[128];
    prom_gauge_set(r, "fc_lag", "Lag.", prom_labels(l, sizeof l, "partition", "0", NULL), 4);
    prom_gauge_set(r, "fc_lag", "Lag.", prom_labels(l, sizeof l, "partition", "1", NULL), 5);
    prom_gauge_set(r, "fc_other", "Other.", NULL, 1);
    prom_gauge_clear(r, "fc_lag");
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(prom_render(r, &out));
    assert_string_equal(out.data, "# HELP fc_other Other.\n# TYPE fc_other gauge\nfc_other 1\n");
    prom_gauge_set(r, "fc_lag", "Lag.", prom_labels(l, sizeof l, "partition", "1", NULL), 2);
    dbuf_reset(&out);
    assert_true(prom_render(r, &out));
    assert_non_null(strstr(out.data, "# TYPE fc_lag gauge\nfc_lag{partition=\"1\"} 2\n"));
    assert_null(strstr(out.data, "partition=\"0\""));
    dbuf_free(&out);
    prom_registry_free(r);
}

static double sample(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* What every service exports besides its own: fc_build_info and the
 * process_* metrics of the Prometheus client libraries. */
static void test_standard_metrics(void **state)
{
    (void)state;
    prom_registry *r = prom_registry_new();
    prom_add_standard(r);
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(prom_render(r, &out));
    char want[128];
    snprintf(want, sizeof want, "# TYPE fc_build_info gauge\nfc_build_info{version=\"%s\"} 1\n", FC_VERSION);
    assert_non_null(strstr(out.data, want));
    assert_non_null(strstr(out.data, "# TYPE process_cpu_seconds_total counter\n"));
    assert_true(sample(out.data, "process_cpu_seconds_total") >= 0);
    assert_true(sample(out.data, "process_resident_memory_bytes") > 1e5);
    assert_true(sample(out.data, "process_virtual_memory_bytes") >= sample(out.data, "process_resident_memory_bytes"));
    assert_true(sample(out.data, "process_open_fds") >= 3);
    assert_true(sample(out.data, "process_max_fds") >= sample(out.data, "process_open_fds"));
    /* the start time is a Unix time in seconds, not after now */
    double start = sample(out.data, "process_start_time_seconds");
    assert_true(start > 1.5e9 && start <= (double)time(NULL) + 1);
    /* collected at each scrape: more open descriptors show */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    double before = sample(out.data, "process_open_fds");
    dbuf_reset(&out);
    assert_true(prom_render(r, &out));
    assert_true(sample(out.data, "process_open_fds") >= before + 2);
    close(fds[0]);
    close(fds[1]);
    dbuf_free(&out);
    prom_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_gauge_clear),
        cmocka_unit_test(test_standard_metrics),
        cmocka_unit_test(test_histogram_and_escaping),
        cmocka_unit_test(test_http_endpoint),
        cmocka_unit_test(test_healthz_follows_heartbeat),
        cmocka_unit_test(test_readyz_reports_cached_state),
        cmocka_unit_test(test_draining_is_alive_not_ready),
        cmocka_unit_test(test_probes_answer_during_slow_scrape),
        cmocka_unit_test(test_ipv6_and_many_scrapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
