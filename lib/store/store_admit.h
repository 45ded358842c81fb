/* store_admit — admission: many pending instances of one campaign in one
 * round trip (lua/admit_many.lua, with the atomic max-parallel check before
 * each; store_admit is a batch of one). The coordinator admits up to a
 * cycle's room at once (coordinator/admission.c). */
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
/* One pending instance: store_admit_many with one id (AD_ERROR on a Redis
 * error); member (mcap bytes) is its outbox entry when AD_OK. */
ad_status store_admit(store *s, const char *campaign, const char *instance, const char *first_step,
                      int64_t deadline_ms, int max_parallel, const char *node, const sargs *fields,
                      char *member, size_t mcap);

#endif
