/* catalog — the descriptors of every strategy this build has
 * (strategies.def), for the CLI (submit's validation, --help and dry run,
 * abort, `fleetcrypt strategies`), the coordinator (admission cost) and the
 * worker (registry_check). Data only: linking it pulls in no step code.
 * Descriptors are static and never freed. */
#ifndef FC_STRATEGY_CATALOG_H
#define FC_STRATEGY_CATALOG_H

#include "step.h"

/* The descriptor named `name` (its user-facing name, e.g. "pg-logical"), or NULL. */
const strategy_def *strategy_find(const char *name);
/* The default strategy (submit without --strategy): strategies.def's first. */
const strategy_def *strategy_default(void);
/* Every descriptor, in strategies.def order; *n set to how many. */
const strategy_def *const *strategy_all(size_t *n);
/* "offline|pg-logical|noop": the names, joined with sep (static buffer). */
const char *strategy_names(const char *sep);
/* Self-check for tests and startup: every step's successor and on_fail is
 * in its table, no two strategies share a name, options are well formed
 * (enum lists, defaults pass their own check). */
bool strategy_catalog_check(char *err, size_t cap);

#endif
