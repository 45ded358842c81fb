/* emit — see emit.h. */
#include "emit.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void emit_step_fill(fc_step_msg *m, const char *campaign, const char *instance, const char *strategy,
                    const char *step, uint32_t attempt, uint64_t epoch, const char *origin,
                    const char *trace_id)
{
    memset(m, 0, sizeof *m);
    m->schema_version = FC_SCHEMA_VERSION;
    fc_strlcpy(m->campaign, campaign, sizeof m->campaign);
    fc_strlcpy(m->instance, instance, sizeof m->instance);
    fc_strlcpy(m->strategy, strategy, sizeof m->strategy);
    fc_strlcpy(m->step, step, sizeof m->step);
    m->attempt = attempt;
    m->epoch = epoch;
    m->issued_at_ms = fc_now_ms();
    fc_strlcpy(m->origin, origin, sizeof m->origin);
    if (trace_id && *trace_id) fc_strlcpy(m->trace_id, trace_id, sizeof m->trace_id);
    else snprintf(m->trace_id, sizeof m->trace_id, "%016llx", (unsigned long long)fc_rand_below(UINT64_MAX));
}

/* A step message as every emit_step* produces it: encoded, for the steps
 * topic, keyed "campaign/instance". The caller frees buf. */
typedef struct step_wire {
    uint8_t *buf;
    size_t len;
    char topic[160], key[160];
} step_wire;

static bool step_wire_make(const fc_config *c, const fc_step_msg *m, step_wire *w, char *err, size_t errcap)
{
    w->buf = NULL;
    w->len = 0;
    if (!codec_encode_step(m, &w->buf, &w->len, err, errcap)) return false;
    kafka_topic_name(c, KAFKA_TOPIC_STEPS, w->topic, sizeof w->topic);
    codec_instance_key(m->campaign, m->instance, w->key, sizeof w->key);
    return true;
}

bool emit_step(kafka_producer *p, const fc_config *c, const fc_step_msg *m, int timeout_ms, char *err,
               size_t errcap)
{
    step_wire w;
    if (!step_wire_make(c, m, &w, err, errcap)) return false;
    bool ok = kafka_produce_sync(p, w.topic, w.key, w.buf, w.len, NULL, 0, timeout_ms, err, errcap);
    free(w.buf);
    return ok;
}

kafka_pending *emit_step_start(kafka_producer *p, const fc_config *c, const fc_step_msg *m, int timeout_ms, char *err,
                               size_t errcap)
{
    step_wire w;
    if (!step_wire_make(c, m, &w, err, errcap)) return NULL;
    kafka_pending *d = kafka_produce_start(p, w.topic, w.key, w.buf, w.len, timeout_ms, err, errcap);
    free(w.buf); /* copied by librdkafka */
    return d;
}

bool emit_step_wait(kafka_pending *d, const fc_config *c, int timeout_ms, char *err, size_t errcap)
{
    char topic[160];
    kafka_topic_name(c, KAFKA_TOPIC_STEPS, topic, sizeof topic);
    return kafka_produce_wait(d, topic, timeout_ms, err, errcap);
}

bool emit_step_notify(kafka_producer *p, const fc_config *c, const fc_step_msg *m, int timeout_ms,
                      kafka_delivered_fn fn, void *ud, char *err, size_t errcap)
{
    step_wire w;
    if (!step_wire_make(c, m, &w, err, errcap)) return false;
    bool ok = kafka_produce_notify(p, w.topic, w.key, w.buf, w.len, timeout_ms, fn, ud, err, errcap);
    free(w.buf);
    return ok;
}

void emit_event(kafka_producer *p, const fc_config *c, const fc_step_event *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    if (!codec_encode_event(e, &buf, &len, err, sizeof err)) {
        log_warn("event not encodable", "err=\"%s\"", err);
        return;
    }
    char topic[160], key[160];
    kafka_topic_name(c, KAFKA_TOPIC_EVENTS, topic, sizeof topic);
    codec_instance_key(e->campaign, e->instance, key, sizeof key);
    if (!kafka_produce_async(p, topic, key, buf, len, err, sizeof err))
        log_warn("event not produced", "err=\"%s\"", err);
    free(buf);
}

bool emit_dead_letter(kafka_producer *p, const fc_config *c, const char *reason, const char *src_topic,
                      int32_t partition, int64_t offset, const void *key, size_t key_len,
                      const void *payload, size_t len, char *err, size_t errcap)
{
    fc_dead_letter d;
    memset(&d, 0, sizeof d);
    fc_strlcpy(d.reason, reason, sizeof d.reason);
    fc_strlcpy(d.source_topic, src_topic, sizeof d.source_topic);
    d.source_partition = partition;
    d.source_offset = offset;
    d.source_key = key;
    d.source_key_len = key_len;
    d.payload = payload;
    d.payload_len = len > FC_MAX_MSG_BYTES / 2 ? FC_MAX_MSG_BYTES / 2 : len;
    d.ts_ms = fc_now_ms();
    fc_strlcpy(d.node, c->node_id, sizeof d.node);
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (!codec_encode_dead_letter(&d, &buf, &blen, err, errcap)) return false;
    char topic[160], k[256];
    kafka_topic_name(c, KAFKA_TOPIC_DLQ, topic, sizeof topic);
    size_t kl = key_len < sizeof k - 1 ? key_len : sizeof k - 1;
    if (key) memcpy(k, key, kl);
    k[kl] = 0;
    kafka_header h = {KAFKA_DLQ_REASON_HEADER, reason};
    bool ok = kafka_produce_sync(p, topic, key ? k : NULL, buf, blen, &h, 1, 10000, err, errcap);
    free(buf);
    return ok;
}
