/* pool — the worker's executor pool: N threads run step tasks handed over
 * by the polling thread (which never runs a step). Tasks may be deferred
 * (re-run after a delay without holding a thread: a busy lease, Redis
 * briefly down). Finished tasks come back to the polling thread through a
 * completion list so it can store offsets. Each thread owns per-thread state
 * made by thread_init (a Redis connection, AWS clients). */
#ifndef FC_WORKER_POOL_H
#define FC_WORKER_POOL_H

#include "codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pool_task {
    fc_step_msg msg;
    int32_t partition;
    int64_t offset;
    uint64_t generation;     /* assignment generation of the partition */
    int64_t not_before_ms;   /* deferred: run at/after this (monotonic ms) */
    int deferrals;
    char token[128];         /* lease token, kept across deferrals */
    struct pool_task *next;
} pool_task;

typedef struct pool pool;
typedef void *(*pool_thread_init)(void *ud, int index);
typedef void (*pool_thread_fini)(void *ud, void *tstate);
/* Run one task. Return true when finished (it goes to the completion list),
 * false after pool_defer() took it back. */
typedef bool (*pool_run)(void *ud, void *tstate, pool *p, pool_task *t);

pool *pool_new(int nthreads, pool_thread_init init, pool_thread_fini fini, pool_run run, void *ud);
/* Takes ownership of t. */
void pool_submit(pool *p, pool_task *t);
/* From a run callback: re-queue t to run after delay_ms. */
void pool_defer(pool *p, pool_task *t, int64_t delay_ms);
/* From a run callback: take the ready queue's first task (NULL when it is
 * empty or the pool stops), to be run next on this same thread as soon as
 * the callback returns (it counts as running from now; pool_stop never
 * drops it). Lets an executor do the next task's first Redis round trip
 * together with the current one's last (runner.c). At most one per run. */
pool_task *pool_take_next(pool *p);
/* Queued + deferred + running tasks. */
size_t pool_depth(pool *p);
/* Tasks queued or running (work that fills the executors), and tasks
 * deferred (waiting on a held lease or Redis): the consumer pauses on the
 * first, and on the second only past a memory cap. */
void pool_counts(pool *p, size_t *busy, size_t *deferred);
/* Detach the list of finished tasks (caller frees each with free()). */
pool_task *pool_take_done(pool *p);
/* Stop: drop tasks not started (returned through *dropped for the caller to
 * free), wait up to timeout_ms for running ones, join the threads. Tasks
 * still running after the timeout are abandoned (threads detached never:
 * we wait, the step is bounded by its AWS timeouts). */
void pool_stop(pool *p, int64_t timeout_ms);
void pool_free(pool *p);

#endif
