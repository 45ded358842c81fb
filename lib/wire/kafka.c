/* kafka — see kafka.h. */
#include "kafka.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kafka_producer {
    rd_kafka_t *rk;
    pthread_t poller;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_long failures;
};

/* One per message whose delivery someone wants to know: on the waiting
 * thread's stack (kafka_produce_sync), on the heap until waited for
 * (kafka_produce_start/kafka_produce_wait), or on the heap until its report
 * (kafka_produce_notify: fn is called and the record freed by dr_cb). */
struct kafka_pending {
    bool done;
    bool heap_notify;
    rd_kafka_resp_err_t err;
    kafka_producer *p;
    kafka_delivered_fn fn;
    void *ud;
};
typedef struct kafka_pending delivery;

/* librdkafka's own messages go through our logger (one line per event,
 * key=value or JSON like every other line) instead of its stderr printer. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    log_level l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    if (!log_enabled(l)) return;
    char q[1024];
    size_t n = 0;
    /* free text: quoted, embedded quotes dropped to keep the pair parseable */
    for (const char *p = buf; *p && n + 1 < sizeof q; p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) q[n++] = *p;
    q[n] = 0;
    log_emit(l, "kafka", "client=%s facility=%s detail=\"%s\"", rk ? rd_kafka_name(rk) : "", fac ? fac : "", q);
}

rd_kafka_conf_t *kafka_conf_new(const fc_config *c, const char *client_id, char *err, size_t errcap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    char e[256];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->kafka_brokers, e, sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", client_id, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errcap, "kafka config: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (int i = 0; i < c->kafka_kv_count; i++) {
        if (rd_kafka_conf_set(conf, c->kafka_kv[i][0], c->kafka_kv[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            /* the value may be a password: name only the key */
            snprintf(err, errcap, "kafka setting %s rejected: %s", c->kafka_kv[i][0], e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

void kafka_topic_name(const fc_config *c, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%s", c->topic_prefix, suffix);
}

/* librdkafka's aliases: the operator may use either name of a setting. */
static const char *const k_aliases[][2] = {
    {"acks", "request.required.acks"},
    {"linger.ms", "queue.buffering.max.ms"},
    {"bootstrap.servers", "metadata.broker.list"},
    {"message.timeout.ms", "delivery.timeout.ms"},
};

/* The operator's value of name (or of its alias), NULL when not given. */
static const char *operator_value(const fc_config *c, const char *name)
{
    const char *alias = NULL;
    for (size_t i = 0; i < sizeof k_aliases / sizeof k_aliases[0]; i++) {
        if (!strcmp(k_aliases[i][0], name)) alias = k_aliases[i][1];
        if (!strcmp(k_aliases[i][1], name)) alias = k_aliases[i][0];
    }
    const char *v = NULL;
    for (int k = 0; k < c->kafka_kv_count; k++) /* the last one given wins, as librdkafka applies them */
        if (!strcmp(c->kafka_kv[k][0], name) || (alias && !strcmp(c->kafka_kv[k][0], alias))) v = c->kafka_kv[k][1];
    return v;
}

bool kafka_conf_default(const fc_config *c, rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                        size_t errcap)
{
    if (operator_value(c, name)) return true; /* the operator's value stays */
    if (rd_kafka_conf_set(conf, name, value, err, errcap) != RD_KAFKA_CONF_OK) return false;
    return true;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_producer *p = opaque;
    delivery *d = m->_private;
    if (m->err) {
        atomic_fetch_add(&p->failures, 1);
        if (!d)
            log_warn("kafka delivery failed", "topic=%s err=\"%s\"", rd_kafka_topic_name(m->rkt),
                     rd_kafka_err2str(m->err));
    }
    if (d && d->heap_notify) {
        d->fn(d->ud, m->err == RD_KAFKA_RESP_ERR_NO_ERROR, m->err ? rd_kafka_err2str(m->err) : "");
        free(d);
    } else if (d) {
        pthread_mutex_lock(&p->mu);
        d->err = m->err;
        d->done = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *poll_main(void *arg)
{
    kafka_producer *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

kafka_producer *kafka_producer_new(const fc_config *c, const char *client_id, char *err, size_t errcap)
{
    kafka_producer *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = NULL;
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    conf = kafka_conf_new(c, client_id, err, errcap);
    if (!conf) goto fail;
    char e[256];
    /* Durable by default (idempotent, acks=all), never over the operator's
     * word: idempotence needs acks=all, so an operator's weaker acks leaves
     * it off. The outbox re-emits what was never acknowledged, and a step
     * run twice is fenced by its lease epoch: weaker settings cost
     * duplicates and re-drives, never a lost step. */
    const char *acks = operator_value(c, "acks"), *idem = operator_value(c, "enable.idempotence");
    bool acks_all = !acks || !strcmp(acks, "all") || !strcmp(acks, "-1");
    if ((!idem && acks_all && rd_kafka_conf_set(conf, "enable.idempotence", "true", e, sizeof e) != RD_KAFKA_CONF_OK) ||
        !kafka_conf_default(c, conf, "acks", "all", e, sizeof e) ||
        !kafka_conf_default(c, conf, "linger.ms", "2", e, sizeof e) ||
        !kafka_conf_default(c, conf, "message.timeout.ms", "120000", e, sizeof e)) {
        snprintf(err, errcap, "kafka producer config: %s", e);
        goto fail;
    }
    if (!acks_all || (idem && strcmp(idem, "true")))
        log_warn("kafka producer: the operator's settings are weaker than fleetcrypt's default (acks=all, "
                 "idempotent)",
                 "acks=%s enable.idempotence=%s", acks ? acks : "all", idem ? idem : acks_all ? "true" : "false");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!p->rk) {
        snprintf(err, errcap, "kafka producer: %s", e);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    if (pthread_create(&p->poller, NULL, poll_main, p) != 0) {
        snprintf(err, errcap, "cannot start producer poll thread");
        rd_kafka_destroy(p->rk);
        p->rk = NULL;
        goto fail;
    }
    return p;
fail:
    if (conf) rd_kafka_conf_destroy(conf);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    return NULL;
}

bool kafka_producer_conf_get(kafka_producer *p, const char *name, char *out, size_t cap)
{
    size_t n = cap;
    return p && rd_kafka_conf_get(rd_kafka_conf(p->rk), name, out, &n) == RD_KAFKA_CONF_OK;
}

void kafka_producer_free(kafka_producer *p, int timeout_ms)
{
    if (!p) return;
    rd_kafka_flush(p->rk, timeout_ms);
    /* what could not be delivered in time: purged, so every notify callback
     * runs (ok false) and frees its record before the poll thread stops */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(p->rk, 1000);
    atomic_store(&p->stop, true);
    pthread_join(p->poller, NULL);
    rd_kafka_destroy(p->rk);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static rd_kafka_resp_err_t produce(kafka_producer *p, const char *topic, const char *key, const void *val,
                                   size_t len, const kafka_header *hdrs, size_t nhdrs, delivery *d)
{
    rd_kafka_headers_t *h = NULL;
    if (nhdrs) {
        h = rd_kafka_headers_new(nhdrs);
        for (size_t i = 0; i < nhdrs; i++)
            rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, -1);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (e && h) rd_kafka_headers_destroy(h);
    return e;
}

/* Enqueue, waiting for room in the local queue until deadline. */
static rd_kafka_resp_err_t produce_until(kafka_producer *p, const char *topic, const char *key, const void *val,
                                         size_t len, const kafka_header *hdrs, size_t nhdrs, delivery *d,
                                         int64_t deadline)
{
    rd_kafka_resp_err_t e;
    while ((e = produce(p, topic, key, val, len, hdrs, nhdrs, d)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
           fc_mono_ms() < deadline)
        fc_sleep_ms(20);
    return e;
}

/* Wait for d's delivery report. Past timeout_ms the message still
 * references d, so keep waiting for its report (success or librdkafka's
 * message.timeout.ms) before d may go. */
static bool wait_delivery(kafka_producer *p, delivery *d, const char *topic, int64_t deadline, char *err,
                          size_t errcap)
{
    pthread_mutex_lock(&p->mu);
    while (!d->done) {
        int64_t left = deadline - fc_mono_ms();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = left < 200 ? left : 200;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    bool timely = d->done;
    while (!d->done)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (d->err) {
        snprintf(err, errcap, "produce to %s: %s%s", topic, rd_kafka_err2str(d->err), timely ? "" : " (after timeout)");
        return false;
    }
    return true;
}

bool kafka_produce_sync(kafka_producer *p, const char *topic, const char *key, const void *val,
                        size_t len, const kafka_header *hdrs, size_t nhdrs, int timeout_ms,
                        char *err, size_t errcap)
{
    delivery d = {.done = false, .err = RD_KAFKA_RESP_ERR_NO_ERROR, .p = p};
    int64_t deadline = fc_mono_ms() + timeout_ms;
    rd_kafka_resp_err_t e = produce_until(p, topic, key, val, len, hdrs, nhdrs, &d, deadline);
    if (e) {
        snprintf(err, errcap, "produce to %s: %s", topic, rd_kafka_err2str(e));
        return false;
    }
    return wait_delivery(p, &d, topic, deadline, err, errcap);
}

/* A delivery record on the heap, for p (NULL, err set, when out of memory). */
static delivery *delivery_new(kafka_producer *p, char *err, size_t errcap)
{
    delivery *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    d->p = p;
    return d;
}

/* Queue a message reporting to the heap record d (delivery_new). False
 * (err set, d freed) when it could not be queued within timeout_ms. */
static bool produce_heap(kafka_producer *p, const char *topic, const char *key, const void *val, size_t len,
                         delivery *d, int timeout_ms, char *err, size_t errcap)
{
    rd_kafka_resp_err_t e = produce_until(p, topic, key, val, len, NULL, 0, d, fc_mono_ms() + timeout_ms);
    if (e) {
        snprintf(err, errcap, "produce to %s: %s", topic, rd_kafka_err2str(e));
        free(d);
        return false;
    }
    return true;
}

kafka_pending *kafka_produce_start(kafka_producer *p, const char *topic, const char *key, const void *val,
                                   size_t len, int timeout_ms, char *err, size_t errcap)
{
    delivery *d = delivery_new(p, err, errcap);
    if (!d) return NULL;
    return produce_heap(p, topic, key, val, len, d, timeout_ms, err, errcap) ? d : NULL;
}

bool kafka_produce_wait(kafka_pending *d, const char *topic, int timeout_ms, char *err, size_t errcap)
{
    bool ok = wait_delivery(d->p, d, topic, fc_mono_ms() + timeout_ms, err, errcap);
    free(d);
    return ok;
}

bool kafka_produce_notify(kafka_producer *p, const char *topic, const char *key, const void *val, size_t len,
                          int timeout_ms, kafka_delivered_fn fn, void *ud, char *err, size_t errcap)
{
    delivery *d = delivery_new(p, err, errcap);
    if (!d) return false;
    d->heap_notify = true;
    d->fn = fn;
    d->ud = ud;
    return produce_heap(p, topic, key, val, len, d, timeout_ms, err, errcap);
}

bool kafka_produce_async(kafka_producer *p, const char *topic, const char *key, const void *val,
                         size_t len, char *err, size_t errcap)
{
    rd_kafka_resp_err_t e = produce(p, topic, key, val, len, NULL, 0, NULL);
    if (e) {
        atomic_fetch_add(&p->failures, 1);
        snprintf(err, errcap, "produce to %s: %s", topic, rd_kafka_err2str(e));
        return false;
    }
    return true;
}

long kafka_producer_failures(const kafka_producer *p) { return atomic_load(&((kafka_producer *)p)->failures); }

bool kafka_producer_reachable(kafka_producer *p, int timeout_ms, char *err, size_t errcap)
{
    if (!p) {
        snprintf(err, errcap, "no producer");
        return false;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errcap, "%s", rd_kafka_err2str(e));
        return false;
    }
    bool any = md->broker_cnt > 0;
    rd_kafka_metadata_destroy(md);
    if (!any) snprintf(err, errcap, "no broker in the metadata");
    return any;
}
