/* lease_keeper — the worker's lease heartbeat: while an executor runs a
 * step, one keeper thread per worker process (its own Redis connection:
 * a store connection is not thread-safe) renews the step's instance lease
 * every period (TTL/3), so a step blocked in one long call (a lock wait, a
 * slow AWS call with retries) keeps its lease and nobody else begins the
 * same instance meanwhile. A renewal that finds the lease gone or taken
 * marks the registration lost (step_ctx_lease_ok then refuses to act).
 * Renewal stops at the step's deadline: a hung executor cannot hold an
 * instance forever. A dead process renews nothing, so its leases expire
 * after their TTL as before. */
#ifndef FC_WORKER_LEASE_KEEPER_H
#define FC_WORKER_LEASE_KEEPER_H

#include "cfg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct lease_keeper lease_keeper;
/* One running step's registration; owned by the keeper, valid until
 * lease_keeper_remove(). */
typedef struct lease_hold lease_hold;

/* Start the keeper thread. ttl_ms: the lease TTL each renewal sets;
 * period_ms: how often each lease is renewed (0: ttl_ms / 3). The Redis
 * connection is opened by the thread (retried while Redis is down). NULL
 * when the thread cannot be started. */
lease_keeper *lease_keeper_start(const fc_config *cfg, int64_t ttl_ms, int64_t period_ms);
/* Stop and join the thread, free every registration. Accepts NULL. */
void lease_keeper_stop(lease_keeper *k);

/* Register a running step whose lease (token) was just taken or renewed.
 * deadline_mono_ms: monotonic time after which it is no longer renewed.
 * NULL when k is NULL or out of memory (the step then relies on its own
 * cooperative renewals only). */
lease_hold *lease_keeper_add(lease_keeper *k, const char *campaign, const char *instance, const char *step,
                             uint32_t attempt, const char *token, int64_t deadline_mono_ms);
/* Deregister (after the step's outcome was recorded); frees h. Accepts NULL. */
void lease_keeper_remove(lease_keeper *k, lease_hold *h);

/* True once a renewal found the lease gone or held by another token. */
bool lease_hold_lost(const lease_hold *h);
/* Mark lost (the step's own renewal found it gone): no more renewals. */
void lease_hold_set_lost(lease_hold *h);
/* Monotonic ms until which the lease is known to be held (start of the
 * last successful renewal + TTL); 0 before the first renewal. */
int64_t lease_hold_until(const lease_hold *h);
/* True once the step ran past its deadline and renewal stopped. */
bool lease_hold_expired(const lease_hold *h);
/* Successful renewals so far (tests, logs). */
long lease_hold_renewals(const lease_hold *h);

#endif
