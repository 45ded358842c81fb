/* fleetcache — the fleet-wide poller's view of AWS resources in Redis.
 * The active coordinator polls each region with ONE paginated
 * DescribeDBInstances / DescribeDBSnapshots per cycle and writes the state of
 * every awaited resource into P:cache:<region>:<kind> ("db" | "snap"),
 * together with when the poll ran (_ts) and when the next one is planned
 * (_next). Waiting steps read it instead of calling AWS, and register what
 * they wait for in P:wait:<region> (ZSET "<kind>:<id>" → wait start ms).
 * The Redis side (keys, commands) is lib/store/store_fleet.c. */
#ifndef FC_FLEETCACHE_H
#define FC_FLEETCACHE_H

#include "step.h"
#include "store_fleet.h"

#include <stdbool.h>
#include <stdint.h>

/* Encode one entry: "status|pct|encrypted|kms_key|address|port" (a DB
 * instance's endpoint, so a step that needs it does not describe the
 * instance again; a snapshot: address NULL, port 0). */
void fleetcache_encode(char *out, size_t cap, const char *status, int pct, bool encrypted, const char *kms,
                       const char *address, int port);
/* Decode one entry (fleetcache_encode's) into out's present, status, pct,
 * encrypted, kms_key, address and port (entry "" or NULL: not present);
 * leaves fresh and the poll times alone. */
void fleetcache_decode(const char *entry, step_cache_view *out);
/* Read the entry of id; false on Redis error. out->fresh when the last poll
 * ran after since_ms. */
bool fleetcache_get(store *s, const char *region, const char *kind, const char *id, int64_t since_ms,
                    step_cache_view *out);
/* A step waits for "<kind>:<id>" (keeps the first start time). */
bool fleetcache_want(store *s, const char *region, const char *member, int64_t now_ms);
bool fleetcache_unwant(store *s, const char *region, const char *member);

#endif
