/* store_outbox — the outbox protocol, one place: the campaign's timer set
 * P:{C}:timers holds "<instance>|<step>|<attempt>|<epoch>" → due ms. Entries
 * are written by the fenced scripts (admit_many.lua, step_end.lua, redrive.lua,
 * approve/pause/retry.lua); the coordinator lists the due ones
 * (store_outbox_due), checks each against the record
 * (store_timer_take, lua/timer_take.lua: emit, postpone while paused, or
 * drop when stale) and produces it; whoever produced a successor removes
 * the entry after the broker's ack (store_timer_done: the worker for the
 * successor it recorded, the coordinator for the entries it emitted).
 * docs/orchestration.md tells the invariants. */
#ifndef FC_STORE_OUTBOX_H
#define FC_STORE_OUTBOX_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_TIMER_MAX 256
/* Not an entry: the outbox member (score 0) that lua/step_end.lua writes
 * when an instance leaves the in-flight states, so the coordinator's next
 * outbox tick (200 ms) runs admission at once instead of at its next 1 s
 * cycle. The coordinator removes it before it scans; an idle campaign's
 * outbox stays empty, so the wake costs nothing when nothing finished. */
#define STORE_OUTBOX_WAKE "!admit"

/* A parsed outbox entry "<instance>|<step>|<attempt>|<epoch>". */
typedef struct timer_entry {
    char instance[72];
    char step[48];
    uint32_t attempt;
    uint64_t epoch;
} timer_entry;
bool store_timer_parse(const char *member, timer_entry *out);

/* Up to limit entries of campaign due at now_ms, earliest first, appended
 * to members (caller sargs_free). False on a Redis error. */
bool store_outbox_due(store *s, const char *campaign, int64_t now_ms, int limit, sargs *members);

typedef enum { TT_EMIT = 0, TT_PAUSED, TT_STALE, TT_ERROR } tt_status;
/* Check a due entry against the record: TT_EMIT (strategy set: produce it),
 * TT_PAUSED (postponed by postpone_ms), TT_STALE (removed). */
tt_status store_timer_take(store *s, const char *campaign, const char *member, const timer_entry *t,
                           int64_t postpone_ms, char *strategy, size_t scap);
/* Remove one outbox entry (after its message was acknowledged, or a
 * malformed one). */
bool store_timer_done(store *s, const char *campaign, const char *member);
/* Remove many entries of one campaign in one round trip (ZREM with every
 * member): what a worker's or the coordinator's batch of acknowledged
 * messages leaves behind. */
bool store_timers_done(store *s, const char *campaign, const char *const *members, int n);
/* store_timer_take for n due entries of one campaign in one round trip
 * (lua/timer_take_many.lua, same decisions): st[i] per entry; strategy is
 * the campaign's. False (every st TT_ERROR) on a Redis error. */
bool store_timers_take(store *s, const char *campaign, const char *const *members, const timer_entry *t, int n,
                       int64_t postpone_ms, tt_status *st, char *strategy, size_t scap);

#endif
