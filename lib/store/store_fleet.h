/* store_fleet — the fleet poller's Redis side (lib/engine/fleetcache.c
 * holds the policy and the entry format): per region and kind ("db",
 * "snap") the cache hash P:cache:<region>:<kind> (_ts poll start ms, _next
 * next planned poll ms, <id> → entry), and the wait registrations
 * P:wait:<region> (ZSET "<kind>:<id>" → wait start ms) with their waiters
 * P:waiter:<region> (HASH "<kind>:<id>" → "<campaign>\t<instance>\t<op>"),
 * and the operation durations learnt from them P:opdur:<region>. */
#ifndef FC_STORE_FLEET_H
#define FC_STORE_FLEET_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cache's _ts and _next (0 when unset) and id's entry ("" when absent)
 * in one read. False on a Redis error. */
bool store_cache_read(store *s, const char *region, const char *kind, const char *id, int64_t *poll_ms,
                      int64_t *next_ms, char *entry, size_t cap);
/* The cache's _ts alone: true and *poll_ms when it is set. */
bool store_cache_poll_ms(store *s, const char *region, const char *kind, int64_t *poll_ms);
/* The whole cache of a kind (_ts, _next and every entry) as field/value
 * pairs appended to out (caller sargs_free): the poller's view of its last
 * poll in one read. False on a Redis error. */
bool store_cache_all(store *s, const char *region, const char *kind, sargs *out);
/* Note the next planned poll (_next). */
bool store_cache_set_next(store *s, const char *region, const char *kind, int64_t next_ms);
/* Replace the cache: _ts, _next and entries (id/entry pairs). */
bool store_cache_replace(store *s, const char *region, const char *kind, int64_t poll_ms, int64_t next_ms,
                         const sargs *entries);

/* Register a wait for member "<kind>:<id>" (keeps the first start). */
bool store_wait_add(store *s, const char *region, const char *member, int64_t now_ms);
bool store_wait_del(store *s, const char *region, const char *member);
/* Who waits on member: "<campaign>\t<instance>\t<op>" in P:waiter:<region>
 * (HASH member → waiter; dropped with the wait), so the poller can wake it;
 * op is the operation kind awaited (lib/engine/waitplan.h waitplan_opkey),
 * whose learnt duration plans the poll. */
bool store_wait_who(store *s, const char *region, const char *member, const char *campaign, const char *instance,
                    const char *op);
/* The poller learnt member's operation: its waiter keeps waiting without an
 * op (a step that waits on the same resource again, e.g. restore then its
 * backup-retention change, keeps the first start: its end is no sample). */
bool store_wait_learnt(store *s, const char *region, const char *member);
/* Every waiter of region as member/"<campaign>\t<instance>\t<op>" pairs
 * appended to out (caller sargs_free). False on a Redis error. */
bool store_waiters(store *s, const char *region, sargs *out);
/* Learnt operation durations P:opdur:<region> (HASH op → ms; waitplan.h):
 * all as op/ms pairs, one (0 when unknown), or set one. */
bool store_opdur_all(store *s, const char *region, sargs *out);
int64_t store_opdur_get(store *s, const char *region, const char *op);
bool store_opdur_set(store *s, const char *region, const char *op, int64_t ms);
/* The poller saw member settle: bring its waiter's next run forward to
 * now_ms (lua/wake.lua). 1 woken, 0 nobody to wake, -1 Redis error. */
int store_wake(store *s, const char *region, const char *member, int64_t now_ms);
/* The same for a known waiter: campaign's instance, if its record still
 * runs and waits on member (lua/wake.lua). 1 woken, 0 not, -1 Redis error. */
int store_wake_record(store *s, const char *campaign, const char *instance, const char *member, int64_t now_ms);
/* Drop the waits registered before before_ms (abandoned). */
bool store_waits_prune(store *s, const char *region, int64_t before_ms);
/* Every wait of region as member/start-ms pairs appended to out (caller
 * sargs_free). False on a Redis error. */
bool store_waits(store *s, const char *region, sargs *out);

#endif
