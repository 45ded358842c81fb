/* outbox_acks — the worker's side of the outbox after a successor's
 * produce (or a slot waiter's the worker handed a released slot to,
 * runner.c): the executor queues the successor and goes on (it does not wait
 * for the broker); when the broker acknowledges it, librdkafka's delivery
 * report (on the producer's poll thread) hands the outbox entry here, and
 * one thread with its own Redis connection removes the acknowledged entries
 * in batches, one ZREM per campaign (store_timers_done). A successor that
 * is never acknowledged (broker down past message.timeout.ms, shutdown)
 * keeps its entry, and the coordinator's outbox emits it when due
 * (docs/orchestration.md, "The outbox"). */
#ifndef FC_WORKER_OUTBOX_ACKS_H
#define FC_WORKER_OUTBOX_ACKS_H

#include "cfg.h"

#include <stdbool.h>

typedef struct outbox_acks outbox_acks;

outbox_acks *outbox_acks_start(const fc_config *cfg);
/* Remove what is still queued (one last batch), stop the thread, close.
 * Call after the producer is freed (no delivery report can come later).
 * Accepts NULL. */
void outbox_acks_stop(outbox_acks *a);

/* One successor's outbox entry, from the produce to its delivery report. */
typedef struct outbox_ack outbox_ack;
/* NULL when out of memory. */
outbox_ack *outbox_ack_new(outbox_acks *a, const char *campaign, const char *member);
/* kafka_delivered_fn for emit_step_notify with an outbox_ack as ud: on ok
 * the entry is queued for removal, otherwise left to the coordinator and
 * counted (fc_successor_produce_failed_total); frees the ack either way. */
void outbox_ack_delivered(void *ud, bool ok, const char *err);

#endif
