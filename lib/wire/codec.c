/* codec — see codec.h. protobuf-c types never leave this file. */
#include "codec.h"
#include "util.h"

#include "fleetcrypt.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy a decoded string into a fixed field, rejecting overlong values and
 * control characters (a field that crossed a process boundary is untrusted). */
static bool take_str(char *dst, size_t cap, const char *src, const char *field, bool required,
                     char *err, size_t errcap)
{
    if (!src) src = "";
    if (required && !src[0]) {
        snprintf(err, errcap, "field %s is empty", field);
        return false;
    }
    size_t n = strlen(src);
    if (n >= cap) {
        snprintf(err, errcap, "field %s too long (%zu bytes, max %zu)", field, n, cap - 1);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
            snprintf(err, errcap, "field %s contains a control character", field);
            return false;
        }
    }
    memcpy(dst, src, n + 1);
    return true;
}

static bool is_token(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

bool codec_validate_step(const fc_step_msg *m, char *err, size_t errcap)
{
    if (m->schema_version == 0 || m->schema_version > FC_SCHEMA_VERSION) {
        snprintf(err, errcap, "unsupported schema_version %u (supported 1..%u)", m->schema_version,
                 FC_SCHEMA_VERSION);
        return false;
    }
    if (!fc_valid_campaign_id(m->campaign)) {
        snprintf(err, errcap, "invalid campaign id");
        return false;
    }
    if (!fc_valid_db_identifier(m->instance)) {
        snprintf(err, errcap, "invalid instance id");
        return false;
    }
    if (!m->strategy[0] || !is_token(m->strategy) || !m->step[0] || !is_token(m->step)) {
        snprintf(err, errcap, "invalid strategy or step name");
        return false;
    }
    if (m->attempt == 0 || m->attempt > 100000) {
        snprintf(err, errcap, "invalid attempt %u", m->attempt);
        return false;
    }
    if (m->epoch == 0) {
        snprintf(err, errcap, "epoch is zero");
        return false;
    }
    return true;
}

void codec_instance_key(const char *campaign, const char *instance, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", campaign, instance);
}

/* msg packed into a malloc'd buffer; refused when larger than max (0: no
 * cap). */
static bool pack(const ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *len, char *err, size_t errcap)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (max && n > max) {
        snprintf(err, errcap, "message too large (%zu bytes)", n);
        return false;
    }
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    protobuf_c_message_pack(msg, buf);
    *out = buf;
    *len = n;
    return true;
}

bool codec_encode_step(const fc_step_msg *m, uint8_t **out, size_t *len, char *err, size_t errcap)
{
    if (!codec_validate_step(m, err, errcap)) return false;
    Fleetcrypt__V1__StepCommand pb = FLEETCRYPT__V1__STEP_COMMAND__INIT;
    pb.schema_version = m->schema_version;
    pb.campaign = (char *)m->campaign;
    pb.instance = (char *)m->instance;
    pb.strategy = (char *)m->strategy;
    pb.step = (char *)m->step;
    pb.attempt = m->attempt;
    pb.epoch = m->epoch;
    pb.issued_at_ms = m->issued_at_ms;
    pb.origin = (char *)m->origin;
    pb.trace_id = (char *)m->trace_id;
    return pack(&pb.base, FC_MAX_MSG_BYTES, out, len, err, errcap);
}

bool codec_decode_step(const void *buf, size_t len, fc_step_msg *m, char *err, size_t errcap)
{
    memset(m, 0, sizeof *m);
    if (!buf || len == 0) {
        snprintf(err, errcap, "empty message");
        return false;
    }
    if (len > FC_MAX_MSG_BYTES) {
        snprintf(err, errcap, "message too large (%zu bytes)", len);
        return false;
    }
    Fleetcrypt__V1__StepCommand *pb = fleetcrypt__v1__step_command__unpack(NULL, len, buf);
    if (!pb) {
        snprintf(err, errcap, "not a valid StepCommand protobuf");
        return false;
    }
    bool ok = false;
    m->schema_version = pb->schema_version;
    m->attempt = pb->attempt;
    m->epoch = pb->epoch;
    m->issued_at_ms = pb->issued_at_ms;
    if (m->schema_version == 0 || m->schema_version > FC_SCHEMA_VERSION) {
        snprintf(err, errcap, "unsupported schema_version %u (supported 1..%u)", m->schema_version,
                 FC_SCHEMA_VERSION);
        goto cleanup;
    }
    if (!take_str(m->campaign, sizeof m->campaign, pb->campaign, "campaign", true, err, errcap) ||
        !take_str(m->instance, sizeof m->instance, pb->instance, "instance", true, err, errcap) ||
        !take_str(m->strategy, sizeof m->strategy, pb->strategy, "strategy", true, err, errcap) ||
        !take_str(m->step, sizeof m->step, pb->step, "step", true, err, errcap) ||
        !take_str(m->origin, sizeof m->origin, pb->origin, "origin", false, err, errcap) ||
        !take_str(m->trace_id, sizeof m->trace_id, pb->trace_id, "trace_id", false, err, errcap))
        goto cleanup;
    ok = codec_validate_step(m, err, errcap);
cleanup:
    fleetcrypt__v1__step_command__free_unpacked(pb, NULL);
    return ok;
}

bool codec_encode_event(const fc_step_event *e, uint8_t **out, size_t *len, char *err, size_t errcap)
{
    Fleetcrypt__V1__StepEvent pb = FLEETCRYPT__V1__STEP_EVENT__INIT;
    pb.schema_version = e->schema_version ? e->schema_version : FC_SCHEMA_VERSION;
    pb.campaign = (char *)e->campaign;
    pb.instance = (char *)e->instance;
    pb.strategy = (char *)e->strategy;
    pb.step = (char *)e->step;
    pb.attempt = e->attempt;
    pb.epoch = e->epoch;
    pb.outcome = (char *)e->outcome;
    pb.from_state = (char *)e->from_state;
    pb.to_state = (char *)e->to_state;
    pb.next_step = (char *)e->next_step;
    pb.reason = (char *)e->reason;
    pb.ts_ms = e->ts_ms;
    pb.duration_ms = e->duration_ms;
    pb.node = (char *)e->node;
    return pack(&pb.base, FC_MAX_MSG_BYTES, out, len, err, errcap);
}

bool codec_decode_event(const void *buf, size_t len, fc_step_event *e, char *err, size_t errcap)
{
    memset(e, 0, sizeof *e);
    if (!buf || len == 0 || len > FC_MAX_MSG_BYTES) {
        snprintf(err, errcap, "bad event length %zu", len);
        return false;
    }
    Fleetcrypt__V1__StepEvent *pb = fleetcrypt__v1__step_event__unpack(NULL, len, buf);
    if (!pb) {
        snprintf(err, errcap, "not a valid StepEvent protobuf");
        return false;
    }
    e->schema_version = pb->schema_version;
    e->attempt = pb->attempt;
    e->epoch = pb->epoch;
    e->ts_ms = pb->ts_ms;
    e->duration_ms = pb->duration_ms;
    bool ok = e->schema_version >= 1 && e->schema_version <= FC_SCHEMA_VERSION &&
              take_str(e->campaign, sizeof e->campaign, pb->campaign, "campaign", true, err, errcap) &&
              take_str(e->instance, sizeof e->instance, pb->instance, "instance", true, err, errcap) &&
              take_str(e->strategy, sizeof e->strategy, pb->strategy, "strategy", false, err, errcap) &&
              take_str(e->step, sizeof e->step, pb->step, "step", false, err, errcap) &&
              take_str(e->outcome, sizeof e->outcome, pb->outcome, "outcome", false, err, errcap) &&
              take_str(e->from_state, sizeof e->from_state, pb->from_state, "from_state", false, err, errcap) &&
              take_str(e->to_state, sizeof e->to_state, pb->to_state, "to_state", false, err, errcap) &&
              take_str(e->next_step, sizeof e->next_step, pb->next_step, "next_step", false, err, errcap) &&
              take_str(e->reason, sizeof e->reason, pb->reason, "reason", false, err, errcap) &&
              take_str(e->node, sizeof e->node, pb->node, "node", false, err, errcap);
    if (!ok && !err[0]) snprintf(err, errcap, "unsupported schema_version %u", e->schema_version);
    fleetcrypt__v1__step_event__free_unpacked(pb, NULL);
    return ok;
}

bool codec_encode_dead_letter(const fc_dead_letter *d, uint8_t **out, size_t *len, char *err, size_t errcap)
{
    Fleetcrypt__V1__DeadLetter pb = FLEETCRYPT__V1__DEAD_LETTER__INIT;
    pb.schema_version = FC_SCHEMA_VERSION;
    pb.reason = (char *)d->reason;
    pb.source_topic = (char *)d->source_topic;
    pb.source_partition = d->source_partition;
    pb.source_offset = d->source_offset;
    pb.source_key.data = (uint8_t *)d->source_key;
    pb.source_key.len = d->source_key ? d->source_key_len : 0;
    pb.payload.data = (uint8_t *)d->payload;
    pb.payload.len = d->payload ? d->payload_len : 0;
    pb.ts_ms = d->ts_ms;
    pb.node = (char *)d->node;
    /* A dead letter may carry a message up to the broker's limit: no
     * FC_MAX_MSG_BYTES cap here, nothing must be lost. */
    return pack(&pb.base, 0, out, len, err, errcap);
}

bool codec_decode_dead_letter(const void *buf, size_t len, fc_dead_letter *d, void **arena, char *err, size_t errcap)
{
    memset(d, 0, sizeof *d);
    *arena = NULL;
    Fleetcrypt__V1__DeadLetter *pb = fleetcrypt__v1__dead_letter__unpack(NULL, len, buf);
    if (!pb) {
        snprintf(err, errcap, "not a valid DeadLetter protobuf");
        return false;
    }
    fc_strlcpy(d->reason, pb->reason ? pb->reason : "", sizeof d->reason);
    fc_strlcpy(d->source_topic, pb->source_topic ? pb->source_topic : "", sizeof d->source_topic);
    fc_strlcpy(d->node, pb->node ? pb->node : "", sizeof d->node);
    d->source_partition = pb->source_partition;
    d->source_offset = pb->source_offset;
    d->source_key = pb->source_key.data;
    d->source_key_len = pb->source_key.len;
    d->payload = pb->payload.data;
    d->payload_len = pb->payload.len;
    d->ts_ms = pb->ts_ms;
    *arena = pb;
    return true;
}

void codec_dead_letter_free(void *arena)
{
    if (arena) fleetcrypt__v1__dead_letter__free_unpacked(arena, NULL);
}
