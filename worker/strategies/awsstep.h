/* awsstep — helpers shared by steps that drive AWS: error → step_rc,
 * waiting on the fleet poller's cache, resource names, tags. */
#ifndef FC_STRATEGY_AWSSTEP_H
#define FC_STRATEGY_AWSSTEP_H

#include "aws.h"
#include "rds.h"
#include "step.h"

/* Map a failed AWS call to RETRY (throttling, transient) or FAIL (auth,
 * permanent, not found), with "what: code: message" as the reason. */
step_rc awsstep_fail(step_result *res, const aws_error *e, const char *what);
/* Wait until the poller saw resource kind:id (after the fact since_fact, a
 * wall-clock ms recorded when we acted) in one of the ok statuses (NULL-
 * terminated); a bad status fails. Returns OK, FAIL or WAIT (with wait_on
 * and a wait time aligned on the next planned poll). */
step_rc awsstep_await(step_ctx *ctx, step_result *res, const char *kind, const char *id,
                      const char *since_fact, const char *const *ok, const char *const *bad,
                      step_cache_view *view);
/* Name of our resource: fc-<campaign>-<instance>-<suffix> (see step.h). */
void awsstep_name(step_ctx *ctx, const char *suffix, char *out, size_t cap);
/* Tags every resource we create carries. Fills up to cap tags, returns n. */
size_t awsstep_tags(step_ctx *ctx, const char *role, aws_tag *tags, size_t cap);
/* After the switch: the encrypted instance now serving under `id` loses the
 * role tag encrypted-target (the only role the worker's IAM policy lets it
 * delete, so an abort can remove an unswitched copy) and becomes
 * fleetcrypt:role=encrypted. Idempotent (fact "target_promoted"). */
step_rc awsstep_promote_target(step_ctx *ctx, step_result *res, const char *id);
/* Record "<fact> = now (ms)". */
void awsstep_mark(step_ctx *ctx, const char *fact);
int64_t awsstep_fact_i64(step_ctx *ctx, const char *fact, int64_t dflt);
/* Does key (id or ARN) name the same KMS key as want (ARN)? */
bool awsstep_same_key(const char *key, const char *want);

#endif
