/* emit — producing fleetcrypt's messages: a step command on <prefix>.steps
 * (the caller clears the outbox entry only after the broker acknowledged
 * it: awaited, awaited as a batch, or told by a delivery callback), an audit event on <prefix>.events (async),
 * and a dead letter on <prefix>.dlq with the reason also in a header. Shared
 * by the worker and the coordinator. */
#ifndef FC_EMIT_H
#define FC_EMIT_H

#include "cfg.h"
#include "codec.h"
#include "kafka.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Produce m keyed "campaign/instance" and wait for the ack. */
bool emit_step(kafka_producer *p, const fc_config *c, const fc_step_msg *m, int timeout_ms, char *err,
               size_t errcap);
/* Produce m without waiting (the coordinator's outbox starts a batch, then
 * waits for every ack: kafka_produce_start). NULL (err set) when it could
 * not be queued. Every non-NULL result goes to emit_step_wait once. */
kafka_pending *emit_step_start(kafka_producer *p, const fc_config *c, const fc_step_msg *m, int timeout_ms, char *err,
                               size_t errcap);
bool emit_step_wait(kafka_pending *d, const fc_config *c, int timeout_ms, char *err, size_t errcap);
/* Produce m and have fn(ud, ok, err) called from the producer's poll thread
 * when it was acknowledged or given up on (kafka_produce_notify): the
 * worker's successors. False (fn never called) when it could not be queued. */
bool emit_step_notify(kafka_producer *p, const fc_config *c, const fc_step_msg *m, int timeout_ms,
                      kafka_delivered_fn fn, void *ud, char *err, size_t errcap);
/* Fill a step message (schema version, issued_at, origin). */
void emit_step_fill(fc_step_msg *m, const char *campaign, const char *instance, const char *strategy,
                    const char *step, uint32_t attempt, uint64_t epoch, const char *origin,
                    const char *trace_id);
/* Fire-and-forget audit event. */
void emit_event(kafka_producer *p, const fc_config *c, const fc_step_event *e);
/* Dead letter for bytes we could not accept; waits for the ack. */
bool emit_dead_letter(kafka_producer *p, const fc_config *c, const char *reason, const char *src_topic,
                      int32_t partition, int64_t offset, const void *key, size_t key_len,
                      const void *payload, size_t len, char *err, size_t errcap);

#endif
