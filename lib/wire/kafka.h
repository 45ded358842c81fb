/* kafka — librdkafka set-up shared by every binary: configuration from
 * fc_config (bootstrap list + librdkafka.* pass-through for SASL/TLS),
 * topic names, and a producer whose sends can be awaited (the worker stores
 * a consumer offset only after the successor message is acknowledged). */
#ifndef FC_KAFKA_H
#define FC_KAFKA_H

#include "cfg.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

/* Topic suffixes: "<prefix>.steps", "<prefix>.events", "<prefix>.dlq". */
#define KAFKA_TOPIC_STEPS "steps"
#define KAFKA_TOPIC_EVENTS "events"
#define KAFKA_TOPIC_DLQ "dlq"
#define KAFKA_DLQ_REASON_HEADER "fleetcrypt-dlq-reason"

/* New conf with bootstrap.servers, client.id and every pass-through pair
 * applied. Caller owns the result (rd_kafka_new takes it over on success). */
rd_kafka_conf_t *kafka_conf_new(const fc_config *c, const char *client_id, char *err, size_t errcap);
/* Set name=value on conf unless the operator gave name (FLEETCRYPT_LIBRDKAFKA
 * pass-through): fleetcrypt's defaults, the operator's word wins. False (err
 * set) when librdkafka rejects the value. */
bool kafka_conf_default(const fc_config *c, rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                        size_t errcap);
void kafka_topic_name(const fc_config *c, const char *suffix, char *out, size_t cap);

typedef struct kafka_producer kafka_producer;

/* Producer with a background poll thread serving delivery reports.
 * Defaults the operator's settings (FLEETCRYPT_LIBRDKAFKA[_CONFIG], -X, -F;
 * either librdkafka name of a setting) always override: acks=all,
 * enable.idempotence=true (only when acks is all: librdkafka refuses it
 * otherwise), linger.ms 2, message.timeout.ms 120000. Weaker settings are
 * logged once as a warning. */
kafka_producer *kafka_producer_new(const fc_config *c, const char *client_id, char *err, size_t errcap);
/* The producer's effective value of a librdkafka setting (tests, diagnostics;
 * never a secret's name). */
bool kafka_producer_conf_get(kafka_producer *p, const char *name, char *out, size_t cap);
/* Flush (up to timeout_ms), purge what is left (its notify callbacks run
 * with ok false), stop the poll thread, destroy. Accepts NULL. */
void kafka_producer_free(kafka_producer *p, int timeout_ms);

typedef struct kafka_header {
    const char *name;
    const char *value;
} kafka_header;

/* Produce and wait until the broker acknowledged it (or timeout_ms passed).
 * Thread-safe: many threads may wait at once. */
bool kafka_produce_sync(kafka_producer *p, const char *topic, const char *key, const void *val,
                        size_t len, const kafka_header *hdrs, size_t nhdrs, int timeout_ms,
                        char *err, size_t errcap);
/* Produce without waiting: the message is queued (waiting up to timeout_ms
 * for room in librdkafka's local queue) and the pending delivery returned;
 * NULL (err set) when it could not be queued. Many may be started before
 * one is waited for: a batch costs one linger and one ack round, not one
 * each. kafka_produce_wait must be called exactly once for each. */
typedef struct kafka_pending kafka_pending;
kafka_pending *kafka_produce_start(kafka_producer *p, const char *topic, const char *key, const void *val,
                                   size_t len, int timeout_ms, char *err, size_t errcap);
/* Wait for a started message's delivery report and free it: true when the
 * broker acknowledged it. Waits past timeout_ms if it must (the report comes
 * by librdkafka's message.timeout.ms at the latest). */
bool kafka_produce_wait(kafka_pending *d, const char *topic, int timeout_ms, char *err, size_t errcap);
/* Produce and be told: fn(ud, ok, err) runs once on the producer's poll
 * thread when the broker acknowledged the message (ok) or librdkafka gave up
 * on it (message.timeout.ms, a fatal error, shutdown's purge). Keep fn short
 * and non-blocking. False (err set, fn never called) when the message could
 * not be queued within timeout_ms. */
typedef void (*kafka_delivered_fn)(void *ud, bool ok, const char *err);
bool kafka_produce_notify(kafka_producer *p, const char *topic, const char *key, const void *val, size_t len,
                          int timeout_ms, kafka_delivered_fn fn, void *ud, char *err, size_t errcap);
/* Fire and forget (audit events): failures are counted and logged. */
bool kafka_produce_async(kafka_producer *p, const char *topic, const char *key, const void *val,
                         size_t len, char *err, size_t errcap);
long kafka_producer_failures(const kafka_producer *p);
/* Readiness: one metadata round trip to any broker of the cluster, waiting
 * at most timeout_ms (blocks the caller that long when no broker answers:
 * call it from a loop that can wait, never from a probe handler). */
bool kafka_producer_reachable(kafka_producer *p, int timeout_ms, char *err, size_t errcap);

#endif
