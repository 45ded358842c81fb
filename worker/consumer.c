/* consumer — the worker's polling thread: consumer group <prefix>-workers
 * on <prefix>.steps, decode + validate every message (anything we cannot
 * accept goes to <prefix>.dlq with the reason, and its offset is stored: a
 * bad message never stalls a partition), hand valid ones to the executor
 * pool, pause partitions while the pool is full, and store each partition's
 * offset only when every earlier message of it is finished (manual offset
 * store; auto commit commits what was stored). Graceful shutdown on the
 * first signal, immediate exit on the second. */
#include "emit.h"
#include "lease_keeper.h"
#include "log.h"
#include "offsets.h"
#include "outbox_acks.h"
#include "pool.h"
#include "prom.h"
#include "registry.h"
#include "runner.h"
#include "store.h"
#include "store_model.h"
#include "util.h"
#include "worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deferred tasks held in memory before the partitions are paused anyway. */
#define DEFERRED_CAP 4096
/* A full pool waits this long for room before its partitions are paused. */
#define PAUSE_AFTER_MS 1000
/* /readyz: Redis and Kafka are checked by the main loop this often (each a
 * round trip, bounded: Redis' connect timeout, the Kafka timeout below). */
#define READY_CHECK_MS 5000
#define READY_KAFKA_TIMEOUT_MS 2000


typedef struct consumer {
    worker *w;
    rd_kafka_t *rk;
    offtrack *ot;
    pool *pool;
    char topic[160];
    bool paused;
    long dlq_count;
    store *ready_store; /* the readiness check's own Redis connection */
    int64_t ready_checked;
} consumer;

/* /readyz from the main loop (the probe only reads the verdict): an EXISTS
 * round trip to Redis over a connection of its own (the executors' are
 * theirs), a metadata round trip to Kafka through the producer. */
static void readiness_check(consumer *c, prom_server *srv)
{
    if (!srv) return;
    int64_t now = fc_mono_ms();
    if (c->ready_checked && now - c->ready_checked < READY_CHECK_MS) return;
    c->ready_checked = now;
    char rerr[256] = "", kerr[160] = "";
    bool redis_ok = false;
    if (!c->ready_store) c->ready_store = store_open(&c->w->cfg, rerr, sizeof rerr);
    if (c->ready_store) redis_ok = store_campaign_exists(c->ready_store, "readyz") >= 0;
    bool kafka_ok = kafka_producer_reachable(c->w->prod, READY_KAFKA_TIMEOUT_MS, kerr, sizeof kerr);
    char why[256];
    snprintf(why, sizeof why, "%s%s%s%s", redis_ok ? "" : "redis unreachable", !redis_ok && !kafka_ok ? "; " : "",
             kafka_ok ? "" : "kafka unreachable: ", kafka_ok ? "" : kerr);
    prom_server_set_ready(srv, redis_ok && kafka_ok, why);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    consumer *c = opaque;
    for (int i = 0; i < parts->cnt; i++) offtrack_reset(c->ot, parts->elems[i].partition);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("partitions assigned", "count=%d", parts->cnt);
        rd_kafka_assign(rk, parts);
        if (c->paused) rd_kafka_pause_partitions(rk, parts);
    } else {
        log_info("partitions revoked", "count=%d", parts->cnt);
        rd_kafka_assign(rk, NULL);
        /* no lag is this worker's until the next assignment's statistics */
        prom_gauge_clear(prom_default(), "fc_kafka_consumer_lag");
        prom_gauge_set(prom_default(), "fc_kafka_consumer_lag_messages",
                       "Messages not yet processed over this worker's assigned partitions (sum of fc_kafka_consumer_lag).",
                       NULL, 0);
    }
}

static void set_paused(consumer *c, bool pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(c->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a) return;
    if (pause) rd_kafka_pause_partitions(c->rk, a);
    else rd_kafka_resume_partitions(c->rk, a);
    rd_kafka_topic_partition_list_destroy(a);
    c->paused = pause;
    log_debug(pause ? "executors full: partitions paused" : "partitions resumed", "%s", "");
}

static void store_offset(consumer *c, int32_t partition, int64_t off)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = off;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
    if (e) log_debug("offset not stored", "partition=%d err=\"%s\"", partition, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

static void drain_done(consumer *c)
{
    pool_task *d = pool_take_done(c->pool);
    while (d) {
        pool_task *n = d->next;
        int64_t off = offtrack_done(c->ot, d->partition, d->offset, d->generation);
        if (off >= 0) store_offset(c, d->partition, off);
        free(d);
        d = n;
    }
}

static void dead_letter(consumer *c, const rd_kafka_message_t *m, const char *reason)
{
    char err[256];
    c->dlq_count++;
    prom_counter_add(prom_default(), "fc_dlq_messages_total", "Step messages sent to the dead-letter topic.", NULL,
                     1);
    log_warn("message to dead-letter topic", "partition=%d offset=%lld reason=\"%s\"", m->partition,
             (long long)m->offset, reason);
    for (int i = 0; i < 5; i++) {
        if (emit_dead_letter(c->w->prod, &c->w->cfg, reason, c->topic, m->partition, m->offset, m->key,
                             m->key_len, m->payload, m->len, err, sizeof err))
            return;
        log_warn("dead letter not produced: retrying", "err=\"%s\"", err);
        fc_sleep_ms(500);
    }
}

static void handle(consumer *c, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("kafka consumer error", "err=\"%s\"", rd_kafka_message_errstr(m));
        return;
    }
    uint64_t gen = offtrack_generation(c->ot, m->partition);
    if (!offtrack_add(c->ot, m->partition, m->offset)) {
        log_error("offset tracker full or bad partition", "partition=%d", m->partition);
        return;
    }
    pool_task *t = calloc(1, sizeof *t);
    char err[512];
    bool ok = t && codec_decode_step(m->payload, m->len, &t->msg, err, sizeof err);
    if (ok && !registry_find(t->msg.strategy)) {
        snprintf(err, sizeof err, "unknown strategy '%s' in this build", t->msg.strategy);
        ok = false;
    }
    if (ok && !strategy_step(registry_find(t->msg.strategy)->def, t->msg.step)) {
        snprintf(err, sizeof err, "unknown step '%s' of strategy %s", t->msg.step, t->msg.strategy);
        ok = false;
    }
    if (!ok) {
        if (!t) snprintf(err, sizeof err, "out of memory");
        free(t);
        dead_letter(c, m, err);
        int64_t off = offtrack_done(c->ot, m->partition, m->offset, gen);
        if (off >= 0) store_offset(c, m->partition, off);
        return;
    }
    t->partition = m->partition;
    t->offset = m->offset;
    t->generation = gen;
    pool_submit(c->pool, t);
}

/* librdkafka statistics (statistics.interval.ms): per assigned partition of
 * the steps topic, consumer lag = high watermark − stored (else committed)
 * offset, as librdkafka computes it (consumer_lag_stored / consumer_lag). */
static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    (void)rk;
    consumer *c = opaque;
    json_error_t je;
    json_t *root = json_loadb(json, json_len, 0, &je);
    if (!root) return 0;
    json_t *parts = json_object_get(json_object_get(json_object_get(root, "topics"), c->topic), "partitions");
    const char *pk;
    json_t *pv;
    double total = 0;
    /* only the partitions assigned now: a revoked one's series goes */
    prom_gauge_clear(prom_default(), "fc_kafka_consumer_lag");
    json_object_foreach(parts, pk, pv)
    {
        if (!strcmp(pk, "-1")) continue;
        const char *fs = json_string_value(json_object_get(pv, "fetch_state"));
        if (!fs || !strcmp(fs, "none") || !strcmp(fs, "stopped")) continue; /* not ours */
        json_t *lag = json_object_get(pv, "consumer_lag_stored");
        if (!json_is_integer(lag) || json_integer_value(lag) < 0) lag = json_object_get(pv, "consumer_lag");
        long long v = json_is_integer(lag) ? json_integer_value(lag) : -1;
        if (v < 0) v = 0; /* unknown yet (nothing committed): count none */
        char l[160];
        prom_gauge_set(prom_default(), "fc_kafka_consumer_lag", "Messages not yet processed, per assigned partition.",
                       prom_labels(l, sizeof l, "topic", c->topic, "partition", pk, NULL), (double)v);
        total += (double)v;
    }
    prom_gauge_set(prom_default(), "fc_kafka_consumer_lag_messages",
                   "Messages not yet processed over this worker's assigned partitions (sum of fc_kafka_consumer_lag).",
                   NULL, total);
    json_decref(root);
    return 0; /* librdkafka frees json */
}

static rd_kafka_t *make_consumer(consumer *c, char *err, size_t errcap)
{
    const fc_config *cfg = &c->w->cfg;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, cfg->node_id, err, errcap);
    if (!conf) return NULL;
    char group[128], e[256];
    snprintf(group, sizeof group, "%s-workers", cfg->topic_prefix);
    const char *kv[][2] = {
        {"group.id", group},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
        {"auto.commit.interval.ms", "500"},
        {"auto.offset.reset", "earliest"},
        {"queued.max.messages.kbytes", "1024"}, /* bounded prefetch */
        /* librdkafka stops fetching a partition while this many messages
         * are queued for it locally: at 100 (the value before), short steps
         * waited for fetch round trips with idle executors and idle CPU
         * (bench_control_plane: ~3x the transitions/s at 10000). The kbytes
         * bound above still caps the prefetch's memory. */
        {"queued.min.messages", "10000"},
        /* an empty fetch is answered after at most this long: a real broker
         * answers as soon as a message arrives, but one that holds the fetch
         * for the whole wait (librdkafka's mock cluster, some proxies) paces
         * every step by it. 100 ms costs 10 idle fetches/s per broker. */
        {"fetch.wait.max.ms", "100"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1000"},
        {"max.poll.interval.ms", "300000"},
        {"topic.metadata.refresh.interval.ms", "10000"},
        {"statistics.interval.ms", "5000"}, /* consumer lag for /metrics */
    };
    for (size_t i = 0; i < FC_ARRAY_LEN(kv); i++) {
        /* operator pass-through wins: only set what they did not */
        bool given = false;
        for (int k = 0; k < cfg->kafka_kv_count; k++)
            if (!strcmp(cfg->kafka_kv[k][0], kv[i][0])) given = true;
        if (given) continue;
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errcap, "kafka consumer config %s: %s", kv[i][0], e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        snprintf(err, errcap, "kafka consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (se) {
        snprintf(err, errcap, "subscribe %s: %s", c->topic, rd_kafka_err2str(se));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

int worker_run(const fc_config *cfg)
{
    worker w;
    memset(&w, 0, sizeof w);
    w.cfg = *cfg;
    w.stop = fc_stop_flag();
    step_limits_default(&w.lim);
    w.lim.deadline_cap_s = (int)cfg->step_deadline_max_s; /* 0 = no cap */
    w.lim.grace_ms = cfg->outbox_grace_ms;
    w.lease_ttl_ms = cfg->lease_ms;
    rl_cfg_from_config(&w.rate, cfg);

    char err[512];
    if (!registry_check(err, sizeof err)) {
        log_error("strategy registry inconsistent", "err=\"%s\"", err);
        return 1;
    }
    fc_stop_on_signals();

    consumer c;
    memset(&c, 0, sizeof c);
    c.w = &w;
    kafka_topic_name(cfg, KAFKA_TOPIC_STEPS, c.topic, sizeof c.topic);
    int rc = 1;
    prom_server *metrics = NULL;
    c.ot = offtrack_new();
    w.acks = outbox_acks_start(cfg);
    w.prod = w.acks ? kafka_producer_new(cfg, cfg->node_id, err, sizeof err) : NULL;
    if (!w.prod || !c.ot) {
        log_error("cannot start the producer", "err=\"%s\"", err);
        goto cleanup;
    }
    /* the heartbeat outlives the executors: started before, stopped after */
    w.keeper = lease_keeper_start(cfg, w.lease_ttl_ms, 0);
    if (!w.keeper) {
        log_error("cannot start the lease keeper", "%s", "");
        goto cleanup;
    }
    c.pool = pool_new(cfg->executors, runner_thread_init, runner_thread_fini, runner_run, &w);
    if (!c.pool) {
        log_error("cannot start executors", "%s", "");
        goto cleanup;
    }
    c.rk = make_consumer(&c, err, sizeof err);
    if (!c.rk) {
        log_error("cannot start the consumer", "err=\"%s\"", err);
        goto cleanup;
    }
    if (cfg->metrics_addr[0]) {
        prom_add_standard(prom_default());
        prom_gauge_set(prom_default(), "fc_kafka_consumer_lag_messages",
                       "Messages not yet processed over this worker's assigned partitions (sum of fc_kafka_consumer_lag).",
                       NULL, 0);
        prom_counter_add(prom_default(), "fc_dlq_messages_total", "Step messages sent to the dead-letter topic.",
                         NULL, 0);
        prom_counter_add(prom_default(), "fc_lease_lost_total",
                         "Running steps whose lease was found gone or taken by another token.", NULL, 0);
        prom_counter_add(prom_default(), "fc_lease_renew_failed_total", "Lease renewals that could not reach Redis.",
                         NULL, 0);
        prom_add_collector(prom_default(), store_round_trips_collect, NULL);
        metrics = prom_server_start(prom_default(), cfg->metrics_addr, err, sizeof err);
        if (metrics) log_info("metrics listening", "addr=%s port=%d", cfg->metrics_addr, prom_server_port(metrics));
        else log_warn("metrics endpoint not started", "addr=%s err=\"%s\"", cfg->metrics_addr, err);
    }
    size_t high = (size_t)cfg->executors * 4, low = (size_t)cfg->executors;
    log_info("worker started", "executors=%d topic=%s lease_ms=%lld heartbeat_ms=%lld", cfg->executors, c.topic,
             (long long)w.lease_ttl_ms, (long long)(w.lease_ttl_ms / 3));
    while (!*w.stop) {
        prom_server_beat(metrics); /* /healthz: this loop still turns */
        readiness_check(&c, metrics);
        /* paused, no message comes: look at the pool again soon */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c.rk, c.paused ? 10 : 200);
        if (m) {
            handle(&c, m);
            rd_kafka_message_destroy(m);
        }
        drain_done(&c);
        /* Deferred tasks (a held lease, Redis down) wait without an
         * executor: they never pause the partitions, or every other
         * instance on them would wait for those leases to expire; only
         * past DEFERRED_CAP (memory) do they. */
        size_t busy = 0, deferred = 0;
        pool_counts(c.pool, &busy, &deferred);
        if (!c.paused && (busy >= high || deferred >= DEFERRED_CAP)) {
            /* Short steps make room within milliseconds: wait for it (not
             * polling, librdkafka's bounded prefetch keeps the messages)
             * before pausing, since a pause drops what librdkafka prefetched
             * and its resume costs up to a second before the next fetch. A
             * pool still full after PAUSE_AFTER_MS (long steps) is paused. */
            int64_t until = fc_mono_ms() + PAUSE_AFTER_MS;
            while (!*w.stop && busy >= high && deferred < DEFERRED_CAP && fc_mono_ms() < until) {
                fc_sleep_ms(1);
                drain_done(&c);
                pool_counts(c.pool, &busy, &deferred);
            }
            if (busy >= high || deferred >= DEFERRED_CAP) set_paused(&c, true);
        } else if (c.paused && busy <= low && deferred < DEFERRED_CAP / 2) {
            set_paused(&c, false);
        }
        size_t depth = busy + deferred;
        prom_gauge_set(prom_default(), "fc_worker_tasks", "Step tasks queued, deferred or running in executors.",
                       NULL, (double)depth);
    }
    prom_server_set_draining(metrics); /* alive while steps checkpoint; not ready */
    log_info("worker stopping: finishing running steps", "pending=%ld", offtrack_pending(c.ot));
    /* stop fetching, let running steps finish (bounded), store offsets */
    set_paused(&c, true);
    pool_stop(c.pool, cfg->shutdown_ms);
    drain_done(&c);
    rc = 0;
cleanup:
    if (c.rk) {
        rd_kafka_consumer_close(c.rk); /* commits stored offsets, leaves the group */
        rd_kafka_destroy(c.rk);
    }
    if (c.pool) {
        pool_stop(c.pool, 0); /* joins the executors (a no-op after the stop above) */
        pool_free(c.pool);
    }
    lease_keeper_stop(w.keeper);
    kafka_producer_free(w.prod, 10000);
    outbox_acks_stop(w.acks); /* after the producer: its last delivery reports */
    offtrack_free(c.ot);
    prom_server_stop(metrics);
    store_close(c.ready_store);
    log_info("worker stopped", "dlq=%ld", c.dlq_count);
    return rc;
}
