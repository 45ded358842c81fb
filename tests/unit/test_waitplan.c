/* test_waitplan — when the fleet poller and the in-run wait look at an AWS
 * operation (lib/engine/waitplan.c): with an expected duration the end is
 * seen with one look, within one minimum interval (the geometric plan from
 * the start needs many looks and sees it late), an overrun is backed off
 * from the expected end, no gap exceeds the maximum, the learnt estimate
 * settles at the real duration instead of drifting late, and the fleet
 * poller's denser plan for a kind's first wave. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "waitplan.h"

static const waitplan_cfg CFG = {1000, 300000};

typedef struct seen {
    int looks;
    int64_t late;    /* from the real end to the look that saw it */
    int64_t max_gap; /* longest gap between two looks */
    int64_t lo;      /* the last look that saw it unfinished (0: none) */
} seen;

/* One operation of real duration d (started at 0) watched by the plan. */
static seen watch(int64_t d, int64_t exp)
{
    seen s = {0, 0, 0, 0};
    int64_t last = -1, prev = 0;
    for (;;) {
        int64_t t = waitplan_due(&CFG, 0, last, exp, 0);
        assert_true(t > last);
        if (t - prev > s.max_gap) s.max_gap = t - prev;
        prev = t;
        s.looks++;
        if (t >= d) {
            s.late = t - d;
            return s;
        }
        s.lo = t;
        last = t;
        assert_true(s.looks < 1000);
    }
}

static void test_unknown_is_geometric(void **state)
{
    (void)state;
    assert_int_equal(waitplan_due(&CFG, 0, -1, 0, 0), 1000);          /* one minimum after the start */
    assert_int_equal(waitplan_due(&CFG, 0, 4000, 0, 0), 4000 + 3000); /* 0.75 × the age */
    assert_int_equal(waitplan_due(&CFG, 0, 2000000, 0, 0), 2000000 + 300000); /* clamped to max */
    assert_int_equal(waitplan_due(&CFG, 0, 10000, 0, 50), 10000 + 6000);   /* 0.6 × the remaining */
}

/* The fleet poller's shared look (waitplan_due_gap 25): a wait of unknown
 * duration (a kind's first wave) is seen at most 25% of its length late,
 * where the default plan sees a 16.5 s restore ~7 s late; in about 2.5× the
 * looks (one Describe for the region each); an expected end is looked at as
 * before, and an overrun still backs off by 75%. */
static void test_poller_gap_first_wave(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 15000};
    int64_t d = 16500, last = -1;
    int looks = 0, old_looks = 0;
    int64_t t = 0;
    while ((t = waitplan_due_gap(&pc, 25, 0, last, 0, 0)) < d) {
        assert_true(t > last);
        last = t;
        looks++;
    }
    looks++;
    assert_true(t - d <= d / 4);
    assert_true(looks <= 30);
    last = -1;
    int64_t o = 0;
    while ((o = waitplan_due(&pc, 0, last, 0, 0)) < d) {
        last = o;
        old_looks++;
    }
    old_looks++;
    assert_true(o - d > d / 4); /* the default plan: later than the bound */
    assert_true(looks <= 3 * old_looks);
    assert_int_equal(waitplan_due_gap(&pc, 25, 0, 4000, 0, 0), 5000);
    /* below WAITPLAN_DENSE_FROM minimums (1 s here) the default 75%, and a
     * look exactly at 1 s: the first-wave plan's first second costs 7 looks
     * (the 25% share from the first minimum: 11) */
    assert_int_equal(waitplan_due_gap(&pc, 25, 0, 100, 0, 0), 175);
    assert_int_equal(waitplan_due_gap(&pc, 25, 0, 900, 0, 0), 1000);
    assert_int_equal(waitplan_due_gap(&pc, 25, 0, 1000, 0, 0), 1250);
    int early = 0;
    for (int64_t l = -1, u = 0; (u = waitplan_due_gap(&pc, 25, 0, l, 0, 0)) <= 1000; l = u) early++;
    assert_true(early <= 7);
    assert_int_equal(waitplan_due_gap(&pc, 25, 0, 4000, 16500, 0), 16550); /* expected: unchanged */
    assert_int_equal(waitplan_due_gap(&pc, 25, 0, 20500, 16500, 0), 23500); /* overrun: 75% */
    assert_int_equal(waitplan_due_gap(&pc, 0, 0, 4000, 0, 0), 7000);        /* 0: the default 75 */
}

/* The trade to beat: a 60 s rename seen by the geometric plan costs several
 * looks and is seen seconds late; expected, one look within the minimum. */
static void test_expected_one_look_on_time(void **state)
{
    (void)state;
    seen old = watch(60000, 0);
    seen now = watch(60000, 60000);
    assert_true(old.looks >= 5);
    assert_true(old.late > CFG.min_ms);
    assert_int_equal(now.looks, 1);
    assert_true(now.late <= CFG.min_ms);
    /* a little shorter than expected: still one look, still on time */
    now = watch(58000, 60000);
    assert_int_equal(now.looks, 1);
    assert_true(now.late <= 3000);
}

/* Longer than expected: looks from the expected end at the minimum, then
 * backing off from there, never from the start (a 60 s wait seen late by a
 * 45 s gap). */
static void test_overrun_backs_off_from_expected_end(void **state)
{
    (void)state;
    seen s = watch(66000, 60000);
    assert_true(s.looks >= 2 && s.looks <= 6);
    assert_true(s.late <= 6000 * 3 / 4 + CFG.min_ms);
    assert_int_equal(waitplan_due(&CFG, 0, 61000, 60000, 0), 62000);
}

/* A copy learnt at 5 s (the bench's 100 s copy at time scale 0.05) that
 * now takes 50 s (a 1,000 s copy), reporting a linear PercentProgress:
 * backing off from the expected end by 75% of the overrun costs about a
 * dozen looks from the 50 ms minimum; the remaining its progress implies
 * takes at most 6, the end still seen within a twentieth of the overrun,
 * and never a gap past the maximum. Without a progress (0) the old plan. */
static int64_t copy_watch(int64_t d, int64_t exp, bool with_pct, int *looks)
{
    const waitplan_cfg pc = {50, 15000};
    int64_t last = -1, t = 0;
    *looks = 0;
    for (;;) {
        int pct = with_pct && last > 0 ? (int)(last * 100 / d) : 0;
        t = waitplan_due(&pc, 0, last, exp, pct);
        assert_true(t > last);
        assert_true(last < 0 || t - last <= pc.max_ms);
        (*looks)++;
        if (t >= d) return t - d;
        last = t;
        assert_true(*looks < 1000);
    }
}

static void test_overrun_follows_progress(void **state)
{
    (void)state;
    int old_looks = 0, looks = 0;
    int64_t old_late = copy_watch(50000, 5000, false, &old_looks);
    int64_t late = copy_watch(50000, 5000, true, &looks);
    assert_true(old_looks >= 10);
    assert_true(looks <= 6);
    assert_true(late <= 45000 / 20);
    assert_true(old_late >= 0);
    /* the same on the plan: 10% after 5.05 s, 80% of 45.45 s remaining */
    const waitplan_cfg pc = {50, 60000};
    assert_int_equal(waitplan_due(&pc, 0, 5050, 5000, 10), 5050 + 36360);
    assert_int_equal(waitplan_due(&pc, 0, 5050, 5000, 0), 5100); /* no progress: 75% of the overrun */
    assert_int_equal(waitplan_due(&pc, 0, 4000, 5000, 10), 5050); /* not yet overrunning: the expected end */
}

/* P:opdur's pairs: an op learnt under its own strategy wins; a DB
 * instance's op not learnt takes 7/8 of the shortest of the same step and
 * size under another strategy; a snapshot's does not (its progress plans
 * it: a 1,000 s copy learnt elsewhere put the one look of a 10 s copy 15 s
 * late in the bench); another size, another kind: unknown. */
static void test_expected_from_another_strategy(void **state)
{
    (void)state;
    char *kv[] = {"pg-logical.restore.db.g4", "15000", "dms-cdc.restore.db.g4", "14000",
                  "pg-logical.copy-encrypted.snap.g4", "5000", "offline.copy-encrypted.snap.g4", "4000",
                  "pg-logical.restore.db.g5", "30000", "bad", "x"};
    int n = (int)(sizeof kv / sizeof *kv);
    assert_int_equal(waitplan_expected(kv, n, "offline.copy-encrypted.snap.g4"), 4000);
    assert_int_equal(waitplan_expected(kv, n, "pg-logical.copy-encrypted.snap.g4"), 5000);
    assert_int_equal(waitplan_expected(kv, n, "dms-cdc.copy-encrypted.snap.g4"), 0);
    assert_int_equal(waitplan_expected(kv, n, "offline.restore.db.g4"), 14000 - 14000 / 8);
    assert_int_equal(waitplan_expected(kv, n, "offline.restore.db.g3"), 0);
    assert_int_equal(waitplan_expected(kv, n, "offline.rename-source.db.g4"), 0);
    assert_int_equal(waitplan_expected(kv, n, "nodot"), 0);
    assert_int_equal(waitplan_expected(kv, 0, "offline.restore.db.g4"), 0);
}

/* Whatever is expected, no gap exceeds the maximum. */
static void test_safe_max(void **state)
{
    (void)state;
    seen s = watch(3000000, 3000000);
    assert_true(s.max_gap <= CFG.max_ms);
    assert_true(s.late <= CFG.min_ms);
    s = watch(9000000, 3000000); /* overrun three times over */
    assert_true(s.max_gap <= CFG.max_ms);
    assert_int_equal(waitplan_due(&CFG, 0, -1, 3000000, 0), CFG.max_ms);
}

/* Learning over many waits of the same kind: the estimate stays at or just
 * under the real duration (a late sighting does not push it later), and the
 * waits cost barely more than one look each. */
static void test_learn_converges(void **state)
{
    (void)state;
    assert_int_equal(waitplan_learn(0, 4000, 8000), 4000);
    assert_int_equal(waitplan_learn(0, 0, 800), 400);
    assert_int_equal(waitplan_learn(64000, 0, 70000), 63000); /* fits: pulled 1/64 shorter */
    assert_int_equal(waitplan_learn(64000, 66000, 67000), 66000);
    assert_int_equal(waitplan_learn(64000, 0, 50000), 50000);
    int64_t d = 60000, est = 0;
    int looks = 0;
    int64_t late = 0;
    for (int i = 0; i < 40; i++) {
        seen s = watch(d, est);
        if (i >= 5) {
            looks += s.looks;
            late += s.late;
        }
        est = waitplan_learn(est, s.lo, s.looks ? d + s.late : d);
        assert_true(est <= d + CFG.min_ms);
    }
    assert_true(looks <= 35 * 3 / 2);         /* ≤ 1.5 looks per wait */
    assert_true(late / 35 <= 2 * CFG.min_ms); /* seen within two minimum intervals */
}

/* The fleet poller's pull (waitplan_learn_pull, half its minimum): a
 * 16.5 s wait with a 50 ms minimum, learnt over many waits, is seen with
 * 1.3 looks each; the 1/64 pull (258 ms, five minimums) costs a burst
 * of looks at every second wait. Both stay at or under the real duration
 * plus one minimum. */
static void test_learn_pull_poller(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 60000};
    assert_int_equal(waitplan_learn_pull(64000, 0, 70000, 500), 63500);
    assert_int_equal(waitplan_learn_pull(64000, 0, 70000, 5000), 63000); /* never more than 1/64 */
    assert_int_equal(waitplan_learn_pull(64000, 63900, 70000, 25), 63975);
    int looks[2] = {0, 0};
    for (int mode = 0; mode < 2; mode++) {
        int64_t d = 16500, est = 0;
        for (int i = 0; i < 40; i++) {
            int64_t last = -1, lo = 0, t = 0;
            int n = 0;
            while ((t = waitplan_due(&pc, 0, last, est, 0)) < d) {
                lo = t;
                last = t;
                n++;
            }
            n++;
            if (i >= 5) looks[mode] += n;
            est = mode ? waitplan_learn_pull(est, lo, t, pc.min_ms / 2) : waitplan_learn(est, lo, t);
            assert_true(est <= d + pc.min_ms);
        }
    }
    assert_true(looks[1] <= 35 * 14 / 10); /* ≤ 1.4 looks per wait (46 in 35) */
    assert_true(looks[0] > looks[1] * 3 / 2); /* 1/64: 88 */
}

/* The fleet poller's shared look over many waiters (waitplan_next): a
 * campaign's hand-over leaves 8 waits of a kind whose ends fall within one
 * poll interval, each learnt a little under its real duration, and each
 * waiter takes its wait off the list only ack ms after a look saw it
 * settled (the wake, Kafka, the step's run: 300 ms on the bench's scaled
 * clock, six 50 ms minimums). One Describe covers every waiter. The old
 * plan (the earliest of each waiter's own plan, settled or not) kept
 * looking at the overrun of waits already seen ended until their waiters
 * left; now those only back off, so the 8 cost at most 2 looks, and each
 * end is still seen within one interval after its expected end (or its
 * real one, when later). */
typedef struct fleet_run {
    int looks;
    int64_t worst_late; /* from max(real end, expected end) to the look that saw it */
} fleet_run;

static fleet_run fleet_share(const waitplan_cfg *pc, int64_t *start, int64_t *real, int64_t exp, int n, int64_t ack,
                             bool use_settled, bool share)
{
    waitplan_waiter w[16];
    int64_t seen_at[16], gone[16];
    fleet_run fr = {0, 0};
    for (int i = 0; i < n; i++) {
        w[i] = (waitplan_waiter){start[i], exp, 0, 75, false, share, 0};
        seen_at[i] = -1;
        gone[i] = INT64_MAX;
    }
    int64_t last = -1, t = 0;
    for (;;) {
        /* the waiters still listed at t (the poller re-reads the list each tick) */
        waitplan_waiter cur[16];
        size_t m = 0;
        int64_t next_gone = INT64_MAX;
        for (int i = 0; i < n; i++) {
            if (gone[i] <= t) continue;
            if (gone[i] < next_gone) next_gone = gone[i];
            cur[m] = w[i];
            if (!use_settled) cur[m].settled = false;
            m++;
        }
        if (!m) break;
        bool exact = false;
        int64_t due = waitplan_next(pc, cur, m, last, &exact, NULL);
        if (due > next_gone) { /* someone leaves first: plan again then */
            t = next_gone;
            continue;
        }
        if (due < t) due = t;
        assert_true(last < 0 || due - last <= pc->max_ms);
        t = last = due;
        fr.looks++;
        for (int i = 0; i < n; i++) {
            if (gone[i] <= t) continue;
            w[i].settled = real[i] <= t;
            if (w[i].settled && seen_at[i] < 0) {
                seen_at[i] = t;
                gone[i] = t + ack;
                int64_t from = real[i] > start[i] + exp ? real[i] : start[i] + exp;
                if (t - from > fr.worst_late) fr.worst_late = t - from;
            }
        }
        assert_true(fr.looks < 1000);
    }
    return fr;
}

static fleet_run fleet(const waitplan_cfg *pc, int64_t *start, int64_t *real, int64_t exp, int n, int64_t ack,
                       bool use_settled)
{
    return fleet_share(pc, start, real, exp, n, ack, use_settled, false);
}

/* 8 waits of a kind registered over 300 ms (the workers' jitter: after the
 * AWS call and the step's end; 6 minimums of 50 ms), ending as learnt:
 * each planned alone at its own expected end costs a look each; sharing
 * (their steps hold no class slot, or one nobody waits for) costs at most
 * 3, each end seen at most its slack (4 minimums or
 * WAITPLAN_SHARE_JITTER_MS, and a sixth of its duration) late; a step
 * holding a contended class slot (share false) keeps its own look. */
static void test_fleet_share_within_jitter(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 60000};
    int64_t start[8], real[8];
    const int64_t d = 16500, exp = d - pc.min_ms / 2;
    for (int i = 0; i < 8; i++) {
        start[i] = 1000 + (i * 300) / 7;
        real[i] = start[i] + d;
    }
    fleet_run alone = fleet_share(&pc, start, real, exp, 8, 300, true, false);
    fleet_run shared = fleet_share(&pc, start, real, exp, 8, 300, true, true);
    assert_true(alone.looks >= 6);
    assert_true(shared.looks <= 3);
    assert_true(shared.worst_late <= WAITPLAN_SHARE_JITTER_MS);
    /* a short wait's slack is a sixth of it: a 800 ms wait, 133 ms */
    waitplan_waiter w[2] = {{0, 800, 0, 75, false, true, 0}, {30, 800, 0, 75, false, true, 0}};
    bool exact = false;
    assert_int_equal(waitplan_next(&pc, w, 2, 10, &exact, NULL), 880);
    assert_true(exact);
    w[0].exp_ms = 400; /* 450 and 880: too far apart to share */
    assert_int_equal(waitplan_next(&pc, w, 2, 10, &exact, NULL), 450);
    w[0].exp_ms = 800;
    w[0].share = false; /* the earlier one holds a class slot: looked at on time */
    assert_int_equal(waitplan_next(&pc, w, 2, 10, &exact, NULL), 850);
    /* overrunning without a progress: a sharing waiter's back-off from its
     * expected end starts at its slack, not at the minimum (a group of
     * restores, learnt under the fastest, overrunning by 0-4 s: a look every
     * minimum at first, each finding one or none ended) */
    waitplan_waiter over = {0, 16000, 0, 75, false, true, 0};
    assert_int_equal(waitplan_next(&pc, &over, 1, 16060, &exact, NULL), 16060 + WAITPLAN_SHARE_JITTER_MS);
    over.share = false;
    assert_int_equal(waitplan_next(&pc, &over, 1, 16060, &exact, NULL), 16060 + 50);
    fleet_run late_alone, late_shared;
    for (int i = 0; i < 8; i++) real[i] = start[i] + d + i * 500; /* ends spread over 3.5 s */
    late_alone = fleet_share(&pc, start, real, exp, 8, 300, true, false);
    late_shared = fleet_share(&pc, start, real, exp, 8, 300, true, true);
    /* fewer looks shared; seen no later than alone but for the slack */
    assert_true(late_shared.worst_late <= late_alone.worst_late + WAITPLAN_SHARE_JITTER_MS);
    assert_true(late_shared.looks + 2 <= late_alone.looks);
}

static void test_fleet_group_ends_within_one_interval(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 60000};
    int64_t start[8], real[8];
    const int64_t d = 16500, exp = d - pc.min_ms / 2; /* learnt: pulled half a minimum under */
    for (int i = 0; i < 8; i++) {
        start[i] = 1000 + i * 6; /* 8 ends within 42 ms: one interval */
        real[i] = start[i] + d + (i % 3) * 5;
    }
    fleet_run now = fleet(&pc, start, real, exp, 8, 300, true);
    fleet_run old = fleet(&pc, start, real, exp, 8, 300, false);
    assert_true(now.looks <= 2);
    assert_true(now.worst_late <= pc.min_ms);
    assert_true(old.looks > now.looks + 2); /* the old plan: 6 looks */
    /* seen settled before its expected end: the look at that end stays (a
     * status that has not moved yet, a modify AWS has not begun) */
    waitplan_waiter early = {0, 10000, 0, 75, true, false, 0};
    bool exact = false;
    assert_int_equal(waitplan_next(&pc, &early, 1, 4000, &exact, NULL), 10050);
    assert_true(exact);
    /* seen settled past it (or with none): backs off by 75% of its age */
    waitplan_waiter past = {0, 10000, 0, 25, true, false, 0};
    assert_int_equal(waitplan_next(&pc, &past, 1, 10050, &exact, NULL), 10050 + 7537);
    assert_false(exact);
    past.exp_ms = 0;
    assert_int_equal(waitplan_next(&pc, &past, 1, 4000, &exact, NULL), 7000);
    /* a waiter that wants another status is still looked at within max */
    past.start_ms = 0;
    assert_int_equal(waitplan_next(&pc, &past, 1, 100000, &exact, NULL), 100000 + 60000);
    assert_int_equal(waitplan_next(&pc, NULL, 0, 100, &exact, NULL), INT64_MAX);
}

static void test_opkey(void **state)
{
    (void)state;
    char k[96];
    waitplan_opkey(k, sizeof k, "offline", "restore", "db", 20);
    assert_string_equal(k, "offline.restore.db.g4");
    waitplan_opkey(k, sizeof k, "offline", "restore", "db", 31);
    assert_string_equal(k, "offline.restore.db.g4");
    waitplan_opkey(k, sizeof k, "offline", "restore", "db", 32);
    assert_string_equal(k, "offline.restore.db.g5");
    waitplan_opkey(k, sizeof k, "offline", "snapshot", "snap", 0);
    assert_string_equal(k, "offline.snapshot.snap.g?");
}

/* A campaign's wave on the bench's scaled clock (minimum 50 ms): 7 waits
 * of a kind registered over 160 ms and one 300 ms ahead of them (the
 * instance whose preflight ran alone: it runs ahead all campaign long), a
 * learnt 3 s rename or stop. Those lags are the workers' own, in real
 * milliseconds, not scaled with the minimum: a slack of 4 minimums (200 ms)
 * gave the straggler a look of its own at every wave; the slack now covers
 * WAITPLAN_SHARE_JITTER_MS (still at most a sixth of the wait), so the wave
 * is one look, none seen later than that slack. With the production minimum
 * (1 s) nothing changes: 4 minimums are more. */
static void test_fleet_share_straggler(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 15000};
    int64_t start[8], real[8];
    const int64_t d = 3000, exp = d - pc.min_ms / 2;
    start[0] = 1000;
    for (int i = 1; i < 8; i++) start[i] = 1300 + (i - 1) * 160 / 6;
    for (int i = 0; i < 8; i++) real[i] = start[i] + d;
    fleet_run fr = fleet_share(&pc, start, real, exp, 8, 300, true, true);
    assert_int_equal(fr.looks, 1);
    assert_true(fr.worst_late <= WAITPLAN_SHARE_JITTER_MS);
    /* a short wait keeps a short slack: a sixth of 600 ms */
    waitplan_waiter w[2] = {{0, 600, 0, 75, false, true, 0}, {200, 600, 0, 75, false, true, 0}};
    bool exact = false;
    assert_int_equal(waitplan_next(&pc, w, 2, 10, &exact, NULL), 650); /* 650 and 850: 200 apart > 100 */
    /* production minimum: the slack stays 4 minimums (4 s), capped by a sixth */
    const waitplan_cfg prod = {1000, 300000};
    waitplan_waiter p2[2] = {{0, 60000, 0, 75, false, true, 0}, {4500, 60000, 0, 75, false, true, 0}};
    assert_int_equal(waitplan_next(&prod, p2, 2, 10, &exact, NULL), 61000); /* 4.5 s apart: not shared */
    p2[1].start_ms = 3500;
    assert_int_equal(waitplan_next(&prod, p2, 2, 10, &exact, NULL), 64500);
}

/* A kind's first wave (nothing learnt) registered over 300 ms: each wait's
 * first look, one minimum after its own start, was a Describe of its own
 * (the calls bench's first offline campaign: 2-3 per wave); sharing, the
 * first looks are one (each at most WAITPLAN_SHARE_JITTER_MS later, long
 * before any end), and the back-off after it is unchanged: no end seen
 * later than alone. */
static void test_fleet_share_first_looks(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 15000};
    int64_t start[8], real[8];
    for (int i = 0; i < 8; i++) {
        start[i] = 1000 + (i * 300) / 7;
        real[i] = start[i] + 3000;
    }
    fleet_run alone = fleet_share(&pc, start, real, 0, 8, 300, true, false);
    fleet_run shared = fleet_share(&pc, start, real, 0, 8, 300, true, true);
    assert_true(shared.looks + 4 <= alone.looks);
    assert_true(shared.worst_late <= alone.worst_late);
    /* a later look of an unknown wait keeps no slack */
    waitplan_waiter w[2] = {{0, 0, 0, 75, false, true, 0}, {10, 0, 0, 75, false, true, 0}};
    bool exact = true;
    assert_int_equal(waitplan_next(&pc, w, 2, 1000, &exact, NULL), 1000 + 742);
    assert_false(exact);
}

/* Who may share a later look (waitplan_may_share): a wait of a step that
 * holds no class slot; or one whose class nobody waits for and is not full
 * (a late sighting then delays no other instance: the calls bench's 8
 * renames hold 8 of the 10 cutover slots, its copies and restores 8 of 20);
 * not when someone waits for a slot of its class or every slot is held (the
 * next to come will wait: the first restore wave of a binding limit), nor
 * when that could not be read. */
static void test_may_share(void **state)
{
    (void)state;
    assert_true(waitplan_may_share(false, 0, 0, 0));
    assert_true(waitplan_may_share(false, -1, -1, 0));
    assert_true(waitplan_may_share(true, 0, 8, 10));
    assert_false(waitplan_may_share(true, 1, 8, 10));
    assert_false(waitplan_may_share(true, 0, 10, 10));
    assert_false(waitplan_may_share(true, 0, 11, 10));
    assert_false(waitplan_may_share(true, -1, 8, 10));
    assert_false(waitplan_may_share(true, 0, -1, 10));
    assert_false(waitplan_may_share(true, 0, 0, 0));
}

/* Floors (waitplan_due_floor): a kind AWS never completes in under floor_ms
 * (a restore provisions a host and a volume: minutes), with nothing learnt,
 * is first looked at at its floor — a look one minimum after its start
 * would only find it running (the waiter registers an operation its step
 * saw unfinished; the emulator at time scale 0 runs with floors off) —
 * then on the back-off from there: the calls bench's first restore wave
 * (16.5 s on its 50 ms minimum) cost ~19 looks on the back-off from the
 * minimum, against a handful from a 9 s floor (180 s at time scale 0.05),
 * and is seen no later. Learnt, the floor plays no part; floor 0: the plan
 * without floors, unchanged. */
static void test_floor_first_wave(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 15000};
    const int64_t d = 16500, floor = 9000;
    int looks = 0, old = 0;
    int64_t last = -1, t = 0, o = 0;
    while ((t = waitplan_due_floor(&pc, 25, 0, last, 0, 0, floor)) < d) {
        assert_true(t > last);
        if (looks == 0) assert_int_equal(t, floor); /* the first look at the floor, none before */
        last = t;
        looks++;
    }
    looks++;
    last = -1;
    while ((o = waitplan_due_gap(&pc, 25, 0, last, 0, 0)) < d) {
        last = o;
        old++;
    }
    old++;
    assert_true(looks <= 5);
    assert_true(looks + 11 <= old);
    assert_true(t - d <= o - d + pc.min_ms); /* seen no later than without the floor (within a minimum) */
    /* an operation that beats its floor: seen at the floor, floor − d late */
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, 50, 0, 0, floor), floor);
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, -1, 0, 0, floor), floor);
    /* a floor under the first look's minimum: the minimum */
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, -1, 0, 0, 20), 50);
    /* a floor past the maximum: one maximum after the start, then on */
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, -1, 0, 0, 60000), 15000);
    /* past the floor: the back-off from its age, as without one */
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, 10000, 0, 0, floor), waitplan_due_gap(&pc, 25, 0, 10000, 0, 0));
    /* learnt: the floor plays no part */
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, 50, 12000, 0, floor), 12050);
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, -1, 12000, 0, floor), 12050);
    /* a PercentProgress that would look sooner waits for the floor; one later keeps its plan */
    assert_int_equal(waitplan_due_floor(&pc, 75, 0, 1000, 0, 50, floor), floor);
    assert_int_equal(waitplan_due_floor(&pc, 75, 0, 8000, 0, 10, floor), 8000 + 15000);
    /* never more than the maximum after the last look */
    assert_int_equal(waitplan_due_floor(&pc, 25, 0, 50, 0, 0, 60000), 15050);
    /* floor 0 (FLEETCRYPT_POLL_FLOOR_SCALE=0, or a kind without one): unchanged */
    for (int64_t l = -1; l < 40000; l = l * 3 / 2 + 37)
        for (int p = 0; p < 100; p += 33)
            assert_int_equal(waitplan_due_floor(&pc, 25, 0, l, 0, p, 0), waitplan_due_gap(&pc, 25, 0, l, 0, p));
    /* the scaled floor: AWS seconds × FLEETCRYPT_POLL_FLOOR_SCALE */
    assert_int_equal(waitplan_floor_ms(180, 1.0), 180000);
    assert_int_equal(waitplan_floor_ms(180, 0.05), 9000);
    assert_int_equal(waitplan_floor_ms(180, 0.0), 0);
    assert_int_equal(waitplan_floor_ms(0, 1.0), 0);
    assert_int_equal(waitplan_floor_ms(-5, 1.0), 0);
}

/* The shared look (waitplan_next) of a first wave with a floor, registered
 * over 300 ms: its first look is at the floors, one for the wave (each may
 * wait out the jitter), not a look per wait; a wait a look already found
 * settled (over before its floor) is not held to it. */
static void test_fleet_floor_shared(void **state)
{
    (void)state;
    const waitplan_cfg pc = {50, 15000};
    const int64_t floor = 9000;
    waitplan_waiter w[4];
    for (int i = 0; i < 4; i++) w[i] = (waitplan_waiter){1000 + i * 100, 0, 0, 25, false, true, floor};
    bool exact = true;
    int64_t first = 1050; /* a look of another kind's wave */
    int64_t t = waitplan_next(&pc, w, 4, -1, &exact, NULL);
    assert_false(exact);
    assert_int_equal(t, 1300 + floor); /* the latest floor, within the jitter of the earliest */
    for (int i = 0; i < 4; i++) assert_true(t - (w[i].start_ms + floor) <= WAITPLAN_SHARE_JITTER_MS);
    /* not sharing (a contended class): the earliest floor */
    for (int i = 0; i < 4; i++) w[i].share = false;
    assert_int_equal(waitplan_next(&pc, w, 4, first, &exact, NULL), 1000 + floor);
    /* one found settled at its first look: a 75% back-off, not the floor */
    w[0].settled = true;
    assert_int_equal(waitplan_next(&pc, w, 1, 1400, &exact, NULL), 1400 + 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_is_geometric),
        cmocka_unit_test(test_expected_one_look_on_time),
        cmocka_unit_test(test_overrun_backs_off_from_expected_end),
        cmocka_unit_test(test_safe_max),
        cmocka_unit_test(test_learn_converges),
        cmocka_unit_test(test_opkey),
        cmocka_unit_test(test_poller_gap_first_wave),
        cmocka_unit_test(test_learn_pull_poller),
        cmocka_unit_test(test_fleet_group_ends_within_one_interval),
        cmocka_unit_test(test_overrun_follows_progress),
        cmocka_unit_test(test_expected_from_another_strategy),
        cmocka_unit_test(test_fleet_share_within_jitter),
        cmocka_unit_test(test_fleet_share_straggler),
        cmocka_unit_test(test_may_share),
        cmocka_unit_test(test_fleet_share_first_looks),
        cmocka_unit_test(test_floor_first_wave),
        cmocka_unit_test(test_fleet_floor_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
