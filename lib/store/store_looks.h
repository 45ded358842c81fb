/* store_looks — the Redis side of the look board: the in-run awaits of a
 * campaign (worker/strategies/shared/awsstep.c: the cutover's renames,
 * rollback's and replicas') running in different worker processes sharing
 * their DescribeDBInstances looks (issue 17: each worker asked for its own
 * instances, so two workers made two Describes at every round). Per
 * campaign, region and side ("source" or "target" account):
 *   P:{C}:looks:<region>:<side>    HASH id → entry (lib/engine/lookboard.h:
 *                                  the latest answer a look got for id,
 *                                  beginning with the wall-clock ms it was
 *                                  sent); _asking → ms the latest look was
 *                                  begun; _failed → ms of the latest one
 *                                  that failed. PEXPIRE ttl at every write;
 *   P:{C}:lookers:<region>:<side>  ZSET id → wall-clock ms until which an
 *                                  await waits for it;
 *   P:{C}:lookplans:<region>:<side> ZSET id → wall-clock ms of the await's
 *                                  next planned look.
 * Every call is one round trip (a Lua script, looks_*.lua, or the read's
 * HMGET); false on a Redis error (the caller looks on its own). All times
 * are wall-clock ms. */
#ifndef FC_STORE_LOOKS_H
#define FC_STORE_LOOKS_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The board an await uses: campaign, region, side. */
typedef struct store_looks_at {
    const char *campaign;
    const char *region;
    const char *side;
} store_looks_at;

/* id's entry (copied into entry, "" when none; cut at cap), and when the
 * latest look was begun and the latest failed (0 none). */
bool store_looks_read(store *s, const store_looks_at *at, const char *id, char *entry, size_t cap,
                      int64_t *asking_ms, int64_t *failed_ms);
/* A look is begun at now_ms: marks it (_asking, only ever later) and
 * appends up to max_ids ids awaited until now_ms or later to ids (caller
 * sargs_free; the registrations gone by are dropped). */
bool store_looks_ask(store *s, const store_looks_at *at, int64_t now_ms, int max_ids, int64_t ttl_ms, sargs *ids);
/* Publish entries: triples id, sent ms, entry in v (an entry sent before
 * the one there is dropped: never over a later look's answer; the id
 * "_failed" with entry "<ms>" records a failed look); the hash lives
 * ttl_ms after the write. *written (may be NULL): how many. */
bool store_looks_put(store *s, const store_looks_at *at, const sargs *triples, int64_t ttl_ms, int *written);
/* Register id as awaited until until_ms (a later time only extends it),
 * the set living ttl_ms; until_ms 0: take it and its plan off. */
bool store_looks_want(store *s, const store_looks_at *at, const char *id, int64_t until_ms, int64_t ttl_ms);
/* id plans its next look at own_ms: *other_ms the earliest look another
 * await plans within [from_ms, to_ms] (0 none); id's plan is recorded as
 * that one's time, else as own_ms. */
bool store_looks_plan(store *s, const store_looks_at *at, const char *id, int64_t own_ms, int64_t from_ms,
                      int64_t to_ms, int64_t now_ms, int64_t ttl_ms, int64_t *other_ms);

#endif
