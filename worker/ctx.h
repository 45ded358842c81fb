/* ctx — what runner.c and ctx.c share: an executor thread's state
 * (runner_thread: its Redis connection and per-region AWS sessions, owned
 * by the thread, freed by runner_thread_fini) and the step_ctx a step
 * function receives (on the runner's stack for one run; every pointer in it
 * is borrowed from the runner's task and reply). Private to worker/. */
#ifndef FC_WORKER_CTX_H
#define FC_WORKER_CTX_H

#include "codec.h"
#include "lease_keeper.h"
#include "pool.h"
#include "session.h"
#include "step.h"
#include "store_model.h"
#include "worker.h"

#define MAX_REGIONS 4

typedef struct aws_slot {
    char region[32];
    aws_session *sess;
    aws_client *c; /* the session's client */
} aws_slot;

/* A session in another account, through --target-account-role (AssumeRole
 * with the campaign's external id, renewed by the provider before expiry):
 * one per (region, role, external id) per thread; credentials never leave it. */
#define MAX_TARGETS 4
typedef struct aws_target_slot {
    char region[32];
    char role[256];
    char external_id[256];
    aws_session *sess;
    aws_client *c;
} aws_target_slot;

typedef struct runner_thread {
    worker *w;
    store *s;
    aws_slot aws[MAX_REGIONS];
    int naws;
    aws_target_slot tgt[MAX_TARGETS];
    int ntgt;
    /* the next task's step_begin, done with the last one's step_end in one
     * round trip (runner.c): pre_task is the task it belongs to (NULL: none),
     * pre_at when its lease was taken (monotonic ms, before the send) */
    pool_task *pre_task;
    step_begin_out pre;
    int64_t pre_at;
} runner_thread;

struct step_ctx {
    runner_thread *t;
    worker *w;
    const fc_step_msg *msg;
    const strategy_def *sd;
    const step_def *def;
    char *opts[STRATEGY_MAX_OPTS]; /* sd->opts' checked values, resolved once per run */
    store_kv rec, camp;
    const char *token;
    const char *fence;
    int64_t lease_until; /* monotonic ms, our estimate */
    lease_hold *hold;    /* the keeper's heartbeat for this run (may be NULL) */
    int64_t run_deadline; /* monotonic ms: this run's step deadline */
    sargs fields;        /* record fields written with the outcome */
};

/* Release a concurrency-class slot this run took (step_ctx_slot). */
void ctx_slot_release(step_ctx *ctx, const char *cls);

#endif
