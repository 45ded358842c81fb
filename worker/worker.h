/* worker — state shared by the worker's polling thread and its executors. */
#ifndef FC_WORKER_H
#define FC_WORKER_H

#include "cfg.h"
#include "kafka.h"
#include "ratelimit.h"
#include "step.h"

#include <signal.h>
#include <stdint.h>

struct lease_keeper;
struct outbox_acks;

typedef struct worker {
    fc_config cfg;
    kafka_producer *prod;
    step_limits lim;
    rl_cfg rate;
    int64_t lease_ttl_ms;      /* FLEETCRYPT_LEASE_MS (default 30000) */
    struct lease_keeper *keeper; /* renews running steps' leases (lease_keeper.h) */
    struct outbox_acks *acks;    /* removes acknowledged successors' outbox entries (outbox_acks.h) */
    volatile sig_atomic_t *stop;
} worker;

/* Run the worker until a signal asks it to stop. Returns the exit code. */
int worker_run(const fc_config *cfg);

#endif
