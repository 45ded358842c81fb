/* metrics — the coordinator's /metrics endpoint (FLEETCRYPT_METRICS_ADDR):
 * a scrape-time collector reads, over its own Redis connection (the server
 * thread's; the loop's store is not shared), instances by state and stuck
 * instances per active campaign from the counts hash and the records, and
 * the level and rate of every AWS token bucket. Event counters (re-drives =
 * lease takeovers, leader acquisitions, outbox emits, admissions, retired
 * sources stopped again, master secrets followed) are incremented where
 * they happen. */
#include "coord.h"
#include "log.h"
#include "prom.h"
#include "store_model.h"
#include "util.h"

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
    ckeys k;
    store_ckeys(s, id, &k);
    redisReply *st = store_cmd(s, "HGET %s state", k.campaign);
    bool active = st && st->type == REDIS_REPLY_STRING && (!strcmp(st->str, "running") || !strcmp(st->str, "paused"));
    if (st) freeReplyObject(st);
    char l[192];
    for (size_t i = 0; i < FC_ARRAY_LEN(STATES); i++) {
        redisReply *c = store_cmd(s, "HGET %s %s", k.counts, STATES[i]);
        double n = c && c->type == REDIS_REPLY_STRING ? strtod(c->str, NULL) : 0;
        if (c) freeReplyObject(c);
        prom_gauge_set(r, "fc_instances", "Instances by campaign and state (from Redis counts).",
                       prom_labels(l, sizeof l, "campaign", id, "state", STATES[i], NULL), n < 0 ? 0 : n);
    }
    int stuck = 0;
    if (active) {
        int64_t now = fc_now_ms();
        redisReply *ids = store_cmd(s, "ZRANGE %s 0 -1", k.instances);
        for (size_t i = 0; ids && ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
            char rk[STORE_KEY_MAX];
            store_rec_key(s, id, ids->element[i]->str, rk, sizeof rk);
            redisReply *x = store_cmd(s, "HMGET %s state stuck_ms deadline_ms", rk);
            if (x && x->type == REDIS_REPLY_ARRAY) {
                const char *state = reply_str(x, 0);
                int64_t dl = strtoll(reply_str(x, 2), NULL, 10);
                if ((!strcmp(state, "running") || !strcmp(state, "waiting_approval")) &&
                    (*reply_str(x, 1) || (dl > 0 && dl < now)))
                    stuck++;
            }
            if (x) freeReplyObject(x);
        }
        if (ids) freeReplyObject(ids);
    }
    prom_gauge_set(r, "fc_instances_stuck", "In-flight instances past their step deadline or marked stuck.",
                   prom_labels(l, sizeof l, "campaign", id, NULL), stuck);
}

static void bucket_gauges(prom_registry *r, store *s)
{
    char pat[STORE_KEY_MAX];
    store_key(s, pat, sizeof pat, "bucket:*");
    size_t plen = strlen(store_prefix(s)) + strlen(":bucket:");
    char cursor[32] = "0";
    for (int iter = 0; iter < 100; iter++) {
        redisReply *sc = store_cmd(s, "SCAN %s MATCH %s COUNT 200", cursor, pat);
        if (!sc || sc->type != REDIS_REPLY_ARRAY || sc->elements != 2) {
            if (sc) freeReplyObject(sc);
            return;
        }
        fc_strlcpy(cursor, sc->element[0]->str, sizeof cursor);
        for (size_t i = 0; i < sc->element[1]->elements; i++) {
            const char *key = sc->element[1]->element[i]->str;
            if (strlen(key) <= plen) continue;
            redisReply *h = store_cmd(s, "HMGET %s tokens rate", key);
            if (h && h->type == REDIS_REPLY_ARRAY) {
                char l[192];
                prom_labels(l, sizeof l, "bucket", key + plen, NULL); /* account:region:service */
                prom_gauge_set(r, "fc_aws_bucket_tokens", "Tokens left in the shared AWS API bucket.", l,
                               strtod(reply_str(h, 0), NULL));
                prom_gauge_set(r, "fc_aws_bucket_rate", "Current (AIMD) request rate allowed by the bucket, req/s.",
                               l, strtod(reply_str(h, 1), NULL));
            }
            if (h) freeReplyObject(h);
        }
        freeReplyObject(sc);
        if (!strcmp(cursor, "0")) return;
    }
}

static void collect(prom_registry *r, void *ud)
{
    collector *c = ud;
    if (!c->s) {
        char err[256];
        c->s = store_open(&c->cfg, err, sizeof err);
        if (!c->s) return;
    }
    char ck[STORE_KEY_MAX];
    store_key(c->s, ck, sizeof ck, "campaigns");
    /* the most recent 200 campaigns: older ones are history */
    redisReply *ids = store_cmd(c->s, "ZREVRANGE %s 0 199", ck);
    for (size_t i = 0; ids && ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++)
        campaign_gauges(r, c->s, ids->element[i]->str);
    if (ids) freeReplyObject(ids);
    bucket_gauges(r, c->s);
}

static collector g_collector;

prom_server *coord_metrics_start(const fc_config *cfg)
{
    if (!cfg->metrics_addr[0]) return NULL;
    g_collector.cfg = *cfg;
    prom_registry *r = prom_default();
    prom_add_collector(r, collect, &g_collector);
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
