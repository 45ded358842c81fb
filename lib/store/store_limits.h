/* store_limits — the shared limits in Redis: the AIMD token buckets that
 * throttle every AWS call (P:bucket:<account>:<region>:<service>,
 * lua/bucket.lua) and the concurrency-class slots
 * (P:slots:<account>:<region>:<class>, lua/slot.lua). lib/aws/ratelimit.c
 * holds the policy (rates from the environment, waiting, class limits); the
 * key names and the scripts are here. A bucket or slot key is an opaque
 * handle: built by store_bucket_key / store_slot_key, passed back as is. */
#ifndef FC_STORE_LIMITS_H
#define FC_STORE_LIMITS_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The handle of a bucket or a slot class ("" or NULL account: "-"). */
void store_bucket_key(const store *s, const char *account, const char *region, const char *service, char *out,
                      size_t cap);
void store_slot_key(const store *s, const char *account, const char *region, const char *cls, char *out,
                    size_t cap);

/* One bucket operation: op "take" (one token), "urgent" (one token, going
 * up to STORE_BUCKET_URGENT_DEBT tokens into debt: a call made while
 * writers are blocked) or "throttle" (AWS said slow down: cut the rate).
 * rate, burst, recover, min_rate: the bucket's parameters (req/s, tokens,
 * req/s per second, req/s). */
#define STORE_BUCKET_URGENT_DEBT 10
typedef struct store_bucket_answer {
    bool granted;
    int64_t wait_ms;       /* until a token is due when not granted */
    int64_t rate_milli;    /* the bucket's current rate, req/s × 1000 */
    int64_t tokens_milli;  /* tokens left × 1000 */
} store_bucket_answer;
bool store_bucket_op(store *s, const char *key, const char *op, int64_t now_ms, double rate, double burst,
                     double recover, double min_rate, store_bucket_answer *out);

/* Take or refresh member's slot for ttl_ms when fewer than limit are held:
 * 1 held, 0 full, -1 Redis error. */
int store_slot_acquire(store *s, const char *key, const char *member, int64_t now_ms, int64_t ttl_ms, int limit);
/* Give member's slot back. False on a Redis error. */
bool store_slot_release(store *s, const char *key, const char *member, int64_t now_ms);
/* Who waits for a slot of key's class (ZSET "<key>:wait", "<campaign>/<instance>"
 * → since ms, oldest first; one-key commands, apart from the slot key's
 * script): a step that found the class full adds itself (keeps its first
 * time), one that took a slot after waiting removes itself, and whoever
 * releases a slot pops the oldest and wakes it (store_slot_wake), so a
 * freed slot is taken on the next outbox tick rather than at the waiter's
 * planned re-run. False on a Redis error. */
bool store_slot_wait_add(store *s, const char *key, const char *member, int64_t now_ms);
bool store_slot_wait_del(store *s, const char *key, const char *member);
/* How many wait for a slot of key's class (ZCARD of "<key>:wait"; a stale
 * member counts until the next release pops it); -1 on a Redis error. */
long long store_slot_waiting(store *s, const char *key);
/* How many slots of key's class are held (members not expired at now_ms);
 * -1 on a Redis error. */
long long store_slot_held(store *s, const char *key, int64_t now_ms);
/* Pop the oldest waiter of key and bring its re-run forward to now_ms
 * (lua/wake.lua with wait member wait_on: only if the record still runs and
 * waits on that). 1 woken, 0 nobody (or it no longer waits), -1 Redis error. */
int store_slot_wake(store *s, const char *key, const char *wait_on, int64_t now_ms);
/* store_slot_wake for a releaser that produces the waiter's message itself
 * at once instead of leaving it to the coordinator's next outbox tick (up to
 * 200 ms, at every hand-over of a binding limit; issue 17 item 2). Pops the
 * oldest waiter of key; when its record still runs and waits on wait_on, is
 * not paused, its campaign runs and its outbox entry is not yet due
 * (lua/wake_take.lua), the entry moves to due_ms (the caller's now + the
 * grace: the coordinator emits it only if the caller's produce is never
 * acknowledged) and out names the message to produce: 1. Otherwise the
 * waiter is woken as store_slot_wake does (its entry due now_ms): 0 (woken
 * that way, or nobody waits); -1 Redis error. */
typedef struct slot_handover {
    char campaign[64];
    char member[256];   /* its outbox entry (store_outbox.h), removed after the produce's ack */
    char strategy[32];
} slot_handover;
int store_slot_hand_over(store *s, const char *key, const char *wait_on, int64_t now_ms, int64_t due_ms,
                         slot_handover *out);

/* ---- what `top` and the coordinator's /metrics show of the buckets ---- */
/* Names "<account>:<region>:<service>" of the buckets of (account, region),
 * or of every bucket when account is NULL, appended to out (caller
 * sargs_free). False when a Redis error cut the listing short (out holds
 * what was found until then). */
bool store_buckets(store *s, const char *account, const char *region, sargs *out);
typedef struct store_bucket_view {
    double tokens, rate;     /* now */
    long long calls;         /* granted calls in the last calls_minutes minutes */
    long long throttles;     /* throttles in the last throttle_minutes minutes */
} store_bucket_view;
/* Read bucket name (from store_buckets): level and rate, and with minutes
 * > 0 the per-minute counters summed over the minutes up to now_ms's. False
 * on a Redis error. */
bool store_bucket_read(store *s, const char *name, int64_t now_ms, int calls_minutes, int throttle_minutes,
                       store_bucket_view *out);

#endif
