/* registry — the step functions of every strategy this worker can run
 * (worker/strategies/strategies.def: one line per strategy). The consumer
 * loop never changes when a strategy is added. */
#ifndef FC_WORKER_REGISTRY_H
#define FC_WORKER_REGISTRY_H

#include "step.h"

/* The strategy named `name` ("pg-logical"), or NULL. */
const strategy_impl *registry_find(const char *name);
/* Startup self-check: the catalog is consistent (strategy_catalog_check)
 * and every strategy binds exactly its descriptor's steps, each once. */
bool registry_check(char *err, size_t cap);

#endif
