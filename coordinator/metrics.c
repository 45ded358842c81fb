/* metrics — the coordinator's /metrics endpoint (FLEETCRYPT_METRICS_ADDR):
 * a scrape-time collector reads, over its own Redis connection (the server
 * thread's; the loop's store is not shared), instances by state and stuck
 * instances per active campaign from the counts hash and the records, and
 * the level and rate of every AWS token bucket. Event counters (re-drives =
 * lease takeovers, leader acquisitions, outbox emits, admissions, retired
 * sources stopped again, master secrets followed) are incremented where
 * they happen. Only the active coordinator exports the fleet-wide gauges
 * (fc_coordinator_leader says which). */
#include "coord.h"
#include "log.h"
#include "prom.h"
#include "store_limits.h"
#include "store_model.h"
#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATES[] = {"pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"};

typedef struct collector {
    fc_config cfg;
    store *s; /* owned by the server thread */
} collector;

static void campaign_gauges(prom_registry *r, store *s, const char *id)
{
    static const char *const sf[] = {"state"};
    store_kv st;
    bool active = false;
    if (store_campaign_read(s, id, sf, 1, &st)) {
        const char *v = kv_get(&st, "state");
        active = v && (!strcmp(v, "running") || !strcmp(v, "paused"));
        store_kv_free(&st);
    }
    char l[192];
    for (size_t i = 0; i < FC_ARRAY_LEN(STATES); i++) {
        store_kv c;
        const char *v = NULL;
        if (store_counts_read(s, id, &STATES[i], 1, &c)) v = kv_get(&c, STATES[i]);
        double n = v ? strtod(v, NULL) : 0;
        store_kv_free(&c);
        prom_gauge_set(r, "fc_instances", "Instances by campaign and state (from Redis counts).",
                       prom_labels(l, sizeof l, "campaign", id, "state", STATES[i], NULL), n < 0 ? 0 : n);
    }
    int stuck = 0;
    if (active) {
        int64_t now = fc_now_ms();
        static const char *const rf[] = {"state", "stuck_ms", "deadline_ms"};
        sargs ids;
        sargs_init(&ids);
        store_instances(s, id, &ids);
        for (int i = 0; i < ids.n; i++) {
            store_kv x;
            if (store_record_read(s, id, ids.v[i], rf, FC_ARRAY_LEN(rf), &x)) {
                const char *state = kv_str(&x, "state");
                int64_t dl = strtoll(kv_str(&x, "deadline_ms"), NULL, 10);
                if ((!strcmp(state, "running") || !strcmp(state, "waiting_approval")) &&
                    (*kv_str(&x, "stuck_ms") || (dl > 0 && dl < now)))
                    stuck++;
                store_kv_free(&x);
            }
        }
        sargs_free(&ids);
    }
    prom_gauge_set(r, "fc_instances_stuck", "In-flight instances past their step deadline or marked stuck.",
                   prom_labels(l, sizeof l, "campaign", id, NULL), stuck);
}

static void bucket_gauges(prom_registry *r, store *s)
{
    sargs names;
    sargs_init(&names);
    store_buckets(s, NULL, NULL, &names); /* what was listed before an error is still shown */
    for (int i = 0; i < names.n; i++) {
        store_bucket_view b;
        if (!store_bucket_read(s, names.v[i], 0, 0, 0, &b)) continue;
        char l[192];
        prom_labels(l, sizeof l, "bucket", names.v[i], NULL); /* account:region:service */
        prom_gauge_set(r, "fc_aws_bucket_tokens", "Tokens left in the shared AWS API bucket.", l, b.tokens);
        prom_gauge_set(r, "fc_aws_bucket_rate", "Current (AIMD) request rate allowed by the bucket, req/s.", l,
                       b.rate);
    }
    sargs_free(&names);
}

/* Is this coordinator the active one? Set by the loop (coord_metrics_leader). */
static atomic_bool g_leader;

void coord_metrics_leader(bool leader)
{
    atomic_store(&g_leader, leader);
    prom_gauge_set(prom_default(), "fc_coordinator_leader", "1 on the active coordinator, 0 on a standby.", NULL,
                   leader ? 1 : 0);
}

static void collect(prom_registry *r, void *ud)
{
    collector *c = ud;
    /* Fleet-wide figures come from Redis, the same for every coordinator:
     * only the active one exports them, so sum() over the pods counts each
     * instance once. Rebuilt at each scrape (finished campaigns past the
     * newest 200, buckets gone, a lost leadership leave nothing behind). */
    static const char *const fleet[] = {"fc_instances", "fc_instances_stuck", "fc_aws_bucket_tokens",
                                        "fc_aws_bucket_rate"};
    for (size_t i = 0; i < FC_ARRAY_LEN(fleet); i++) prom_gauge_clear(r, fleet[i]);
    if (!atomic_load(&g_leader)) return;
    if (!c->s) {
        char err[256];
        c->s = store_open(&c->cfg, err, sizeof err);
        if (!c->s) return;
    }
    /* the most recent 200 campaigns: older ones are history */
    sargs ids;
    sargs_init(&ids);
    store_campaigns(c->s, true, 200, &ids);
    for (int i = 0; i < ids.n; i++) campaign_gauges(r, c->s, ids.v[i]);
    sargs_free(&ids);
    bucket_gauges(r, c->s);
}

static collector g_collector;

prom_server *coord_metrics_start(const fc_config *cfg)
{
    if (!cfg->metrics_addr[0]) return NULL;
    g_collector.cfg = *cfg;
    prom_registry *r = prom_default();
    prom_add_collector(r, store_round_trips_collect, NULL); /* first: before collect() adds its own */
    prom_add_collector(r, collect, &g_collector);
    prom_add_standard(r);
    coord_metrics_leader(atomic_load(&g_leader));
    prom_counter_add(r, "fc_lease_takeovers_total",
                     "In-flight instances re-driven by the reconciler (holder gone or stuck).", NULL, 0);
    prom_counter_add(r, "fc_leader_acquired_total", "Times this coordinator became the active one.", NULL, 0);
    prom_counter_add(r, "fc_retired_restopped_total",
                     "Retired sources AWS restarted (7-day limit) that the coordinator stopped again.", NULL, 0);
    prom_counter_add(r, "fc_master_secret_propagated_total",
                     "Rotations of a source's managed master secret set on its encrypted instance.", NULL, 0);
    char err[256];
    prom_server *srv = prom_server_start(r, cfg->metrics_addr, err, sizeof err);
    if (srv) log_info("metrics listening", "addr=%s port=%d", cfg->metrics_addr, prom_server_port(srv));
    else log_warn("metrics endpoint not started", "addr=%s err=\"%s\"", cfg->metrics_addr, err);
    return srv;
}

void coord_metrics_stop(prom_server *srv)
{
    prom_server_stop(srv);
    store_close(g_collector.s);
    g_collector.s = NULL;
}
