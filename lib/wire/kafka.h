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
void kafka_topic_name(const fc_config *c, const char *suffix, char *out, size_t cap);

typedef struct kafka_producer kafka_producer;

/* Idempotent producer (acks=all) with a background poll thread serving
 * delivery reports. */
kafka_producer *kafka_producer_new(const fc_config *c, const char *client_id, char *err, size_t errcap);
/* Flush (up to timeout_ms), stop the poll thread, destroy. Accepts NULL. */
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
/* Fire and forget (audit events): failures are counted and logged. */
bool kafka_produce_async(kafka_producer *p, const char *topic, const char *key, const void *val,
                         size_t len, char *err, size_t errcap);
long kafka_producer_failures(const kafka_producer *p);
/* Readiness: one metadata round trip to any broker of the cluster, waiting
 * at most timeout_ms (blocks the caller that long when no broker answers:
 * call it from a loop that can wait, never from a probe handler). */
bool kafka_producer_reachable(kafka_producer *p, int timeout_ms, char *err, size_t errcap);

#endif
