/* registry — every strategy this worker can run. Adding a strategy adds its
 * table here (and its name to lib/step.c's catalog); the consumer loop never
 * changes. */
#ifndef FC_WORKER_REGISTRY_H
#define FC_WORKER_REGISTRY_H

#include "step.h"

const strategy_def *registry_find(const char *name);
/* Startup self-check: every catalog entry this worker claims has a table
 * whose first step is the catalog's. */
bool registry_check(char *err, size_t cap);

#endif
