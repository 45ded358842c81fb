/* prom — Prometheus metrics: a small thread-safe registry of counters,
 * gauges and histograms (labelled series created on first use) and an HTTP
 * endpoint serving the text exposition format (version 0.0.4) at /metrics,
 * plus the Kubernetes-style probes /healthz and /readyz of the process that
 * runs it. Label values are escaped here; callers never build exposition
 * text. */
#ifndef FC_PROM_H
#define FC_PROM_H

#include "dbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prom_registry prom_registry;
typedef struct prom_server prom_server;

prom_registry *prom_registry_new(void);
void prom_registry_free(prom_registry *r); /* accepts NULL */
/* The process-wide registry (created on first use, never freed). */
prom_registry *prom_default(void);

/* Build a label set from NULL-terminated key/value pairs:
 *   prom_labels(buf, sizeof buf, "step", "restore", "strategy", "offline", NULL)
 * Values are escaped (\\, \", \n). Returns buf. */
char *prom_labels(char *buf, size_t cap, ...) __attribute__((sentinel));

/* name must match [a-zA-Z_:][a-zA-Z0-9_:]*; help is static text.
 * labels is a prom_labels() string or NULL. A name keeps the type of its
 * first use; a use with another type is ignored (and logged once). */
void prom_counter_add(prom_registry *r, const char *name, const char *help, const char *labels, double v);
void prom_gauge_set(prom_registry *r, const char *name, const char *help, const char *labels, double v);
void prom_gauge_add(prom_registry *r, const char *name, const char *help, const char *labels, double v);
/* Histograms use the default duration buckets (seconds):
 * .05 .1 .25 .5 1 2.5 5 10 30 60 120 300 600 1800 3600 +Inf */
void prom_histogram_observe(prom_registry *r, const char *name, const char *help, const char *labels, double v);

/* A collector runs at every scrape before rendering (e.g. to read gauges
 * from Redis). At most 8 per registry. */
typedef void (*prom_collector_fn)(prom_registry *r, void *ud);
bool prom_add_collector(prom_registry *r, prom_collector_fn fn, void *ud);

/* Drop every series of a family (a gauge whose label sets come and go:
 * revoked partitions, what only the active coordinator reports). A family
 * without series is not rendered. */
void prom_gauge_clear(prom_registry *r, const char *name);

/* What every service exports: fc_build_info{version="FC_VERSION"} 1 and,
 * collected at each scrape from /proc/self, the client libraries' process
 * metrics: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds, process_max_fds. Each service adds them beside its own. */
void prom_add_standard(prom_registry *r);

/* Render the whole registry in text format into out. */
bool prom_render(prom_registry *r, dbuf *out);

/* Serve GET /metrics, /healthz and /readyz on addr ("host:port"; port 0
 * picks one). The accept thread answers the probes itself from state in
 * memory; a /metrics request is handed to a scrape thread (collectors may
 * read Redis), so a slow scrape never delays a probe. Both threads run
 * until prom_server_stop(). */
prom_server *prom_server_start(prom_registry *r, const char *addr, char *err, size_t errcap);
int prom_server_port(const prom_server *s);
void prom_server_stop(prom_server *s); /* accepts NULL */

/* Liveness: the main loop calls prom_server_beat() every iteration;
 * GET /healthz answers 200 while the last beat is at most the live bound
 * old (PROM_LIVE_BOUND_MS unless set), 503 before the first beat or once
 * the loop stopped beating (stuck). All accept NULL (no server: no-op). */
#define PROM_LIVE_BOUND_MS 60000
void prom_server_beat(prom_server *s);
void prom_server_set_live_bound(prom_server *s, int64_t ms);
/* Readiness: the main loop checks its dependencies (Redis, Kafka) at its
 * own pace and reports here; GET /readyz answers the cached verdict (200,
 * or 503 with reason), 503 before the first report. reason is copied
 * (NULL or "" when ready); it names what is unreachable, never a secret. */
void prom_server_set_ready(prom_server *s, bool ready, const char *reason);
/* Graceful shutdown: the main loop has ended on purpose (running work is
 * finishing). From now on /healthz answers 200 "draining" without beats (a
 * restart would cut the checkpoint short) and /readyz 503 "shutting down". */
void prom_server_set_draining(prom_server *s);

#endif
