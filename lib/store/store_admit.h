/* store_admit — admission in batches: many pending instances of one
 * campaign in one round trip (lua/admit_many.lua, with the atomic
 * max-parallel check before each; store_admit of store_model.h is a batch
 * of one). The coordinator admits up to a cycle's room at once
 * (coordinator/admission.c). */
#ifndef FC_STORE_ADMIT_H
#define FC_STORE_ADMIT_H

#include "store_model.h"
#include "store_outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Admit ids[0..n) in order at first_step. st[i] per instance (AD_OK,
 * AD_FULL: the campaign reached max_parallel, and every later one is
 * AD_FULL too; AD_SKIP: not pending or the campaign not running);
 * members[i] is the outbox entry of an
 * admitted one. False (every st AD_ERROR) on a Redis error. */
bool store_admit_many(store *s, const char *campaign, const char *const *ids, size_t n, const char *first_step,
                      int64_t deadline_ms, int max_parallel, const char *node, const sargs *fields, ad_status *st,
                      char (*members)[STORE_TIMER_MAX]);

#endif
