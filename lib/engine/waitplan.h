/* waitplan — when to look at an AWS operation next. Without knowing how
 * long the operation takes, look one minimum after its start (a kind AWS
 * never completes in under a known time: at that wait floor instead, see
 * "Floors" below), and back off geometrically from its start (next
 * look after 0.75 × its age, or the share waitplan_due_gap is given; a snapshot's PercentProgress p after age a:
 * after 0.6 × a·(100−p)/p): a wait of T costs O(log T) looks, and its end
 * is seen up to ~40% of its age late. Knowing the duration this kind of
 * operation took before (learned per operation kind and storage size across
 * the campaign, P:opdur:<region>; waitplan_learn), the first look is placed
 * just after the expected end (one look, the end seen within one minimum
 * interval), and only an operation that overruns it is backed off from its
 * expected end (or, with a PercentProgress, looked at by the remaining it
 * implies). Every gap is clamped to [min, max]: max is the safe longest
 * interval whatever is expected. Pure functions (unit-tested in
 * tests/unit/test_waitplan.c); the fleet poller (coordinator/poller.c) and
 * the in-run wait (awsstep_await_instance: the cutover's renames, no
 * floor, their lateness being downtime) use them. */
#ifndef FC_WAITPLAN_H
#define FC_WAITPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An operation overrunning its expected end that reports PercentProgress p
 * after age a (a snapshot, a copy: linear enough in AWS and the emulator)
 * is looked at again after this % of the remaining a·(100−p)/p: each look
 * leaves a fifth of the remaining, so a copy learnt at 5 s that takes 50 s
 * costs about 4 looks instead of ~12 backing off from the expected end by
 * 75% of the overrun; a progress that speeds up is seen at most this share
 * of the remaining late (0.6 for a wait with nothing learnt: its estimate
 * is all it has). */
#define WAITPLAN_PCT_OVERRUN 80

typedef struct waitplan_cfg {
    int64_t min_ms; /* shortest gap between two looks (FLEETCRYPT_POLL_MIN_MS) */
    int64_t max_ms; /* longest gap (FLEETCRYPT_POLL_MAX_MS) */
} waitplan_cfg;

/* When to look next at an operation started at start_ms, last looked at
 * last_ms (< start_ms: not since it started), expected to take exp_ms
 * (<= 0: unknown), with PercentProgress pct (0 unknown). */
int64_t waitplan_due(const waitplan_cfg *c, int64_t start_ms, int64_t last_ms, int64_t exp_ms, int pct);
/* waitplan_due with the gap after a look at a wait of unknown duration set
 * to gap_pct % of its age (an overrun of an expected end still backs off by
 * 75% of the overrun: a kind's durations vary, and that case recurs at every
 * wave); waitplan_due takes 75 (the end seen up to ~43% late, O(log T)
 * looks). The fleet poller takes 25 for a step holding a class slot (up to
 * 25% late, about 2.5× the looks; 12 when its class is waited for or full): its look is one Describe shared by the
 * whole region, an unknown duration is only met until the first wait of the
 * kind ends (then learnt, and kept in Redis), and with a binding class limit
 * that first wave's lateness delays every later holder of the slot. The
 * denser share starts at WAITPLAN_DENSE_FROM minimum intervals of age (a
 * look lands exactly there; 20 s with the production minimum of 1 s):
 * before, the default 75% (an AWS operation that holds a class slot, a
 * copy, a restore, a rename, takes longer than that; the 25% share from the
 * first minimum spent 11 looks to reach 20 minimums, one Describe
 * each, against 7). */
#define WAITPLAN_DENSE_FROM 20
int64_t waitplan_due_gap(const waitplan_cfg *c, int gap_pct, int64_t start_ms, int64_t last_ms, int64_t exp_ms,
                         int pct);

/* Floors. Some AWS operations never complete in under a known time: a
 * restore or a create provisions a host and a volume (minutes), a stop or
 * a snapshot takes tens of seconds. A wait of such a kind with nothing
 * learnt (exp_ms <= 0) is first looked at at start + floor_ms, not one
 * minimum after its start: the waiter registers an operation its step saw
 * unfinished, and a look before the floor could only find it running (an
 * emulator at time scale 0 runs with floors off); never more than the
 * maximum after the last look (or the start); a PercentProgress plan looking later keeps
 * its own), then on the back-off from that age; learnt, the learnt
 * duration rules and the floor plays no part. An operation that beats its
 * floor is seen at most floor − its duration late, in a kind's first wave
 * only (then learnt). The floors are AWS's real seconds, given per step by
 * the strategy (strategy_def.wait_floors, lib/engine/step.h step_floor:
 * restore 180 s, snapshot, stop, rename 30 s, a copy none) and
 * conservative (below AWS's fastest); waitplan_floor_ms scales them to the clock the operation runs
 * on (FLEETCRYPT_POLL_FLOOR_SCALE: 1 against AWS, an emulator's time scale
 * against it, 0 none). floor_ms 0: waitplan_due_gap. */
int64_t waitplan_due_floor(const waitplan_cfg *c, int gap_pct, int64_t start_ms, int64_t last_ms, int64_t exp_ms,
                           int pct, int64_t floor_ms);
/* floor_s AWS seconds on a clock running scale real seconds per AWS second,
 * in ms (0 for floor_s <= 0 or scale <= 0). */
int64_t waitplan_floor_ms(int floor_s, double scale);

/* One wait watched by a shared look (the fleet poller's: one Describe per
 * region and kind covers every awaited resource). */
typedef struct waitplan_waiter {
    int64_t start_ms;
    int64_t exp_ms;  /* its learnt duration (<= 0 unknown) */
    int pct;         /* PercentProgress (0 unknown) */
    int gap_pct;     /* waitplan_due_gap's share for an unknown duration */
    bool settled;    /* the last look (at last_ms) found it in a settled status */
    bool share;      /* it may be looked at up to its slack late to share a look
                      * with others (waitplan_next; false: on its own plan) */
    int64_t floor_ms; /* its kind's floor (waitplan_due_floor; 0 none) */
} waitplan_waiter;

/* A sharing waiter's slack: this many minimum intervals or
 * WAITPLAN_SHARE_JITTER_MS, whichever is more, and at most a sixth of its
 * expected duration (none without one). The waits of a kind are registered
 * over the workers' jitter (after the AWS call and the step's end: 100-300
 * ms; and an instance whose preflight ran alone runs ~300 ms ahead of a
 * batch all campaign long), so their expected ends lie apart by that much
 * and each got a look of its own. That jitter is real time, not a multiple
 * of the poll minimum: with the production minimum (1 s) 4 minimums cover
 * it; on a scaled clock (the benches' 50 ms) the jitter floor does. */
#define WAITPLAN_SHARE_MIN 4
#define WAITPLAN_SHARE_JITTER_MS 500
/* A sharing waiter with nothing learnt (exp_ms <= 0) has a slack only
 * before its first look: WAITPLAN_SHARE_JITTER_MS, so a wave's first looks
 * (each one minimum after its own start) are one; its later back-off looks
 * are on its own plan, no later. */

/* Whether a wait may share a later look (waitplan_waiter.share): one of a
 * step holding no class slot (holds_class false); or one whose class nobody
 * waits for (waiting, the class's queue: 0) and that is not full (held <
 * limit): its late sighting then delays no other instance. Someone queued,
 * every slot held (the next to come will wait: the first wave of a binding
 * limit) or a count that could not be read (< 0): its own look, on time. */
bool waitplan_may_share(bool holds_class, long long waiting, long long held, int limit);

/* When the next shared look is due: the earliest of every waiter's
 * waitplan_due_gap, except that a waiter the last look already found
 * settled at or past its expected end (or with none) counts as an unknown
 * wait backing off by 75% of its age: its end is seen, its waiter woken,
 * and until that waiter takes it off the list (a Kafka round trip and a
 * step run, several minimum intervals on a scaled clock) a look at its
 * overrun back-off (every minimum interval) finds nothing new. Should its
 * waiter want another status, the 75% plan keeps looking (every gap within
 * max). A settled status seen before the expected end keeps the look at
 * that end (a status that may not have moved yet: a modify AWS has not
 * begun). *exact: the earliest is a look placed at an expected end or its
 * overrun (the loop wakes for it); *driver (may be NULL): its index. n == 0:
 * INT64_MAX. Sharing: when every waiter tolerates a later look (each due
 * plus its slack, WAITPLAN_SHARE_MIN; a waiter without share or seen ended
 * has none), the look goes to the latest due within that bound, so waits
 * whose expected ends lie within the workers' jitter are seen by one look,
 * none later than its slack; and a sharing waiter overrunning its expected
 * end (no progress to go by) backs off from there starting at its slack,
 * not at the minimum (a group learnt under its fastest member). */
int64_t waitplan_next(const waitplan_cfg *c, const waitplan_waiter *w, size_t n, int64_t last_ms, bool *exact,
                      size_t *driver);

/* The learnt duration after one wait: the end lies in (lo_ms, hi_ms] from
 * the start (lo: the last look that saw it unfinished, 0 if none; hi: the
 * look that saw it end). A first sample takes lo (hi/2 without one: an
 * estimate from below costs one more look, one from above a late end at
 * every wait until it shrinks); later ones keep the estimate if it fits, pulled 1/64 shorter so a faster run is noticed, and
 * else move it to the nearer bound: the estimate stays just at or under the
 * real duration instead of drifting late with each late sighting. */
int64_t waitplan_learn(int64_t old_ms, int64_t lo_ms, int64_t hi_ms);
/* waitplan_learn with the pull of an estimate that fits at most pull_ms
 * (and never more than 1/64). The fleet poller pulls by half its minimum
 * interval: its next look goes one minimum after the expected end, so an
 * estimate pulled further under the real duration than that makes the next
 * wait of the kind a burst of looks (a 16.5 s restore's 1/64 is 258 ms, five
 * 50 ms minimums: about four looks instead of one, at every second wait). */
int64_t waitplan_learn_pull(int64_t old_ms, int64_t lo_ms, int64_t hi_ms, int64_t pull_ms);

/* The learnt duration of op ("<strategy>.<step>.<kind>.<g>") among kv (n
 * strings: P:opdur's op/ms pairs), 0 unknown. A DB instance's op ("db")
 * not learnt takes 7/8 of the shortest learnt for the same step and size
 * under another strategy (pg-logical's and offline's restore are the same
 * AWS operation): its first wave is looked at near that end, not on the
 * back-off from its start; from below (the other's may carry more data),
 * so a shorter real duration is not seen late, and a longer one is backed
 * off from there; its own end is then learnt under op. Not a snapshot's
 * ("snap"): its PercentProgress plans the first wave from its own pace
 * (waitplan_due), where another campaign's copy of another length would
 * put the one look far past a short copy's end. */
int64_t waitplan_expected(char *const *kv, int n, const char *op);

/* The operation kind learnt under: "<strategy>.<step>.<kind>.<g>" with g the
 * storage size's power of two (storage_gb <= 0: "g?"). */
void waitplan_opkey(char *out, size_t cap, const char *strategy, const char *step, const char *kind, int storage_gb);

#endif
