/* runner — runs one step message on an executor thread: accept it against
 * the instance record and take the lease (lua/step_begin.lua), run the
 * strategy's step function, plan the transition, record it fenced with the
 * successor in the outbox (lua/step_end.lua), produce the successor and the
 * audit event. The step_ctx accessors of lib/engine/step.h are in ctx.c. */
#ifndef FC_WORKER_RUNNER_H
#define FC_WORKER_RUNNER_H

#include "pool.h"
#include "worker.h"

void *runner_thread_init(void *ud, int index);
void runner_thread_fini(void *ud, void *tstate);
bool runner_run(void *ud, void *tstate, pool *p, pool_task *t);

#endif
