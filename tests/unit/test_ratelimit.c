/* test_ratelimit — admission arithmetic (campaign limit, region limit, DB
 * instance and manual snapshot quota headroom, including ACCEPTANCE A7's
 * numbers), the submit-time quota refusal, and the shared token bucket with
 * AIMD and the step-class semaphores against a real redis-server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"
#include "redis_fixture.h"
#include "store_keys.h"
#include "store_limits.h"
#include "store_test.h"

static void test_admit_table(void **state)
{
    (void)state;
    struct {
        admit_input in;
        int want;
        const char *why;
    } t[] = {
        /* mp, infl, rlim, rinfl, imax, iused, ires, smax, sused, sres, icost, scost, cmax, cused, cres */
        {{3, 0, 0, 0, -1, 0, 0, -1, 0, 0, 1, 2, -1, 0, 0}, 3, "campaign max-parallel"},
        {{3, 3, 0, 0, -1, 0, 0, -1, 0, 0, 1, 2, -1, 0, 0}, 0, "campaign max-parallel"},
        {{3, 5, 0, 0, -1, 0, 0, -1, 0, 0, 1, 2, -1, 0, 0}, 0, "campaign max-parallel"},
        {{10, 0, 4, 3, -1, 0, 0, -1, 0, 0, 1, 2, -1, 0, 0}, 1, "account/region in-flight limit"},
        /* A7: N=6, DB quota 13 (2N+1), snapshot quota 6, max-parallel 5 → 3 */
        {{5, 0, 0, 0, 13, 6, 0, 6, 0, 0, 1, 2, -1, 0, 0}, 3, "manual snapshot quota"},
        /* two in flight, one made both snapshots, one made none yet */
        {{5, 2, 0, 0, 13, 6, 2, 6, 2, 2, 1, 2, -1, 0, 0}, 1, "manual snapshot quota"},
        {{5, 3, 0, 0, 13, 8, 1, 6, 6, 0, 1, 2, -1, 0, 0}, 0, "manual snapshot quota"},
        /* DB instances binding: 10 max, 9 used */
        {{5, 0, 0, 0, 10, 9, 0, 100, 0, 0, 1, 2, -1, 0, 0}, 1, "DB instance quota"},
        {{5, 0, 0, 0, 10, 9, 1, 100, 0, 0, 1, 2, -1, 0, 0}, 0, "DB instance quota"},
        /* over-used quota never goes negative */
        {{5, 0, 0, 0, 10, 12, 0, 100, 0, 0, 1, 2, -1, 0, 0}, 0, "DB instance quota"},
        /* DB clusters: in-flight clusters take the last free ones → nothing admitted */
        {{5, 0, 0, 0, 100, 0, 0, 100, 0, 0, 1, 2, 10, 8, 2}, 0, "DB cluster quota"},
        {{5, 0, 0, 0, 100, 0, 0, 100, 0, 0, 1, 2, 10, 8, 1}, 5, "campaign max-parallel"},
        /* a full cluster quota alone holds nothing (no cluster in flight) */
        {{5, 0, 0, 0, 100, 0, 0, 100, 0, 0, 1, 2, 10, 10, 0}, 5, "campaign max-parallel"},
    };
    for (size_t i = 0; i < FC_ARRAY_LEN(t); i++) {
        const char *why = NULL;
        int got = rl_admit_headroom(&t[i].in, &why);
        print_message("row %zu: got %d want %d (%s)\n", i, got, t[i].want, why);
        assert_int_equal(got, t[i].want);
        assert_string_equal(why, t[i].why);
    }
}

static void test_submit_quota(void **state)
{
    (void)state;
    char why[256];
    /* N=6 sources in use, quota 13 = 2N+1: fits */
    assert_true(rl_submit_quota_ok(13, 6, 6, 6, 0, 2, why, sizeof why));
    /* quota 11 < 2N: refused with the numbers */
    assert_false(rl_submit_quota_ok(11, 6, 6, 6, 0, 2, why, sizeof why));
    assert_non_null(strstr(why, "6 instances in use"));
    assert_non_null(strstr(why, "12 needed"));
    assert_non_null(strstr(why, "quota is 11"));
    /* snapshots: fewer than 2 free → refused */
    assert_false(rl_submit_quota_ok(100, 6, 6, 6, 5, 2, why, sizeof why));
    assert_non_null(strstr(why, "snapshot"));
    /* unknown quota (-1) is not a limit */
    assert_true(rl_submit_quota_ok(-1, 6, 600, -1, 0, 2, why, sizeof why));
}

/* A test's bucket in its own namespace: rate, burst, recover; its key in key. */
static store *test_bucket(const char *ns, double rate, double burst, double recover, rl_cfg *c, char *key,
                          size_t cap)
{
    store *s = fx_store(ns);
    assert_non_null(s);
    rl_cfg_default(c);
    c->rate = rate;
    c->burst = burst;
    c->recover = recover;
    rl_bucket_key(s, "123456789012", "us-east-1", "rds", key, cap);
    return s;
}

static void test_bucket_aimd(void **state)
{
    (void)state;
    rl_cfg c;
    char key[128];
    store *s = test_bucket("rlb", 10, 5, 1, &c, key, sizeof key);
    assert_non_null(strstr(key, ":bucket:123456789012:us-east-1:rds"));
    rl_answer a;
    int64_t t0 = 1700000000000;
    /* a full bucket grants `burst` requests at once, then asks to wait */
    for (int i = 0; i < 5; i++) {
        assert_true(rl_take(s, key, &c, t0, &a));
        assert_true(a.granted);
    }
    assert_true(rl_take(s, key, &c, t0, &a));
    assert_false(a.granted);
    assert_in_range(a.wait_ms, 90, 110); /* one token at 10/s */
    /* 100 ms later one token is back */
    assert_true(rl_take(s, key, &c, t0 + 100, &a));
    assert_true(a.granted);
    /* throttling halves the rate and drains the bucket */
    assert_true(rl_throttled(s, key, &c, t0 + 100, &a));
    assert_in_range((long)(a.rate * 10), 49, 51);
    assert_true(rl_take(s, key, &c, t0 + 100, &a));
    assert_false(a.granted);
    assert_true(rl_throttled(s, key, &c, t0 + 100, &a));
    assert_in_range((long)(a.rate * 100), 249, 251);
    /* never below min_rate */
    for (int i = 0; i < 20; i++) assert_true(rl_throttled(s, key, &c, t0 + 100, &a));
    assert_true(a.rate >= c.min_rate - 1e-9);
    /* additive recovery: +1 req/s per second, capped at the max rate */
    assert_true(rl_take(s, key, &c, t0 + 100 + 3000, &a));
    assert_true(a.rate > 3.0 && a.rate < 4.0);
    assert_true(rl_take(s, key, &c, t0 + 100 + 60000, &a));
    assert_in_range((long)(a.rate * 10), 99, 100);
    store_close(s);
}

/* A call made while writers are blocked (the client under a deadline)
 * takes its token ahead of the others: from an empty bucket it goes up to
 * RL_URGENT_DEBT tokens into debt, which the others' takes then repay
 * (the bucket's average rate holds). */
static void test_bucket_urgent(void **state)
{
    (void)state;
    rl_cfg c;
    char key[128];
    store *s = test_bucket("rlu", 2, 2, 0, &c, key, sizeof key);
    rl_answer a;
    int64_t t0 = 1700000000000;
    assert_true(rl_throttled(s, key, &c, t0, &a)); /* drained, 1 req/s */
    assert_true(rl_take(s, key, &c, t0, &a));
    assert_false(a.granted);
    for (int i = 0; i < RL_URGENT_DEBT; i++) {
        assert_true(rl_take_urgent(s, key, &c, t0, &a));
        assert_true(a.granted);
    }
    /* the debt has a bound; past it an urgent call waits for one token's
     * refill only, not for the debt to be repaid (that is the others' wait) */
    assert_true(rl_take_urgent(s, key, &c, t0, &a));
    assert_false(a.granted);
    assert_in_range(a.wait_ms, 990, 1010);
    /* the others repay it: one token at 1 req/s is RL_URGENT_DEBT + 1 seconds away */
    assert_true(rl_take(s, key, &c, t0, &a));
    assert_false(a.granted);
    assert_in_range(a.wait_ms, (RL_URGENT_DEBT + 1) * 1000 - 10, (RL_URGENT_DEBT + 1) * 1000 + 10);
    store_close(s);
}

static void test_slots(void **state)
{
    (void)state;
    store *s = fx_store("rls");
    assert_non_null(s);
    char key[128];
    rl_slot_key(s, "1", "r", "copy", key, sizeof key);
    assert_int_equal(rl_slot_acquire(s, key, "c/a", 60000, 2), 1);
    assert_int_equal(rl_slot_acquire(s, key, "c/b", 60000, 2), 1);
    assert_int_equal(rl_slot_acquire(s, key, "c/c", 60000, 2), 0);  /* full */
    assert_int_equal(rl_slot_acquire(s, key, "c/a", 60000, 2), 1);  /* holder refreshes */
    assert_true(rl_slot_release(s, key, "c/a"));
    assert_int_equal(rl_slot_acquire(s, key, "c/c", 60000, 2), 1);
    /* an expired holder frees its slot */
    assert_int_equal(rl_slot_acquire(s, key, "c/d", 1, 3), 1);
    fc_sleep_ms(10);
    assert_int_equal(rl_slot_acquire(s, key, "c/e", 60000, 3), 1);
    assert_int_equal(rl_slot_acquire(s, key, "c/f", 60000, 3), 0);
    assert_int_equal(rl_class_limit("copy"), 20);
    setenv("FLEETCRYPT_LIMIT_COPY", "3", 1);
    assert_int_equal(rl_class_limit("copy"), 3);
    unsetenv("FLEETCRYPT_LIMIT_COPY");
    store_close(s);
}

/* A released slot wakes the oldest waiter of its class: its outbox entry
 * comes due now, only while its record still waits on that slot. */
static void test_slot_waiters(void **state)
{
    (void)state;
    store *s = fx_store("rlw");
    assert_non_null(s);
    char key[256], rk[STORE_KEY_MAX], rk2[STORE_KEY_MAX], v[64];
    rl_slot_key(s, "1", "r", "restore", key, sizeof key);
    ckeys k;
    store_ckeys(s, "c", &k);
    store_rec_key(s, "c", "a", rk, sizeof rk);
    store_rec_key(s, "c", "b", rk2, sizeof rk2);
    assert_true(store_test_cmd(s, NULL, 0, "HSET %s state running timer a|restore|3|9 wait_on slot:restore", rk));
    assert_true(store_test_cmd(s, NULL, 0, "HSET %s state running timer b|restore|2|9 wait_on snap:x", rk2));
    assert_true(store_test_cmd(s, NULL, 0, "ZADD %s 900000 a|restore|3|9 900000 b|restore|2|9", k.timers));
    assert_true(store_slot_wait_add(s, key, "c/b", 100));
    assert_true(store_slot_wait_add(s, key, "c/a", 200));
    assert_true(store_slot_wait_add(s, key, "c/b", 300)); /* keeps its first time: still the oldest */
    /* b no longer waits on the slot: popped, not woken */
    assert_int_equal(store_slot_wake(s, key, "slot:restore", 5000), 0);
    assert_true(store_test_cmd(s, v, sizeof v, "ZSCORE %s b|restore|2|9", k.timers));
    assert_string_equal(v, "900000");
    assert_int_equal(store_slot_wake(s, key, "slot:restore", 5000), 1);
    assert_true(store_test_cmd(s, v, sizeof v, "ZSCORE %s a|restore|3|9", k.timers));
    assert_string_equal(v, "5000");
    assert_int_equal(store_slot_wake(s, key, "slot:restore", 5000), 0); /* nobody left */
    assert_true(store_slot_wait_add(s, key, "c/a", 400));
    assert_true(store_slot_wait_del(s, key, "c/a"));
    assert_int_equal(store_slot_wake(s, key, "slot:restore", 6000), 0);
    store_close(s);
}

static void test_quota_seen(void **state)
{
    (void)state;
    rl_quota_seen q = {.at_ms = 1000000, .inst_max = 40, .inst_used = 12, .snap_max = 100, .snap_used = 3,
                       .clu_max = -1, .clu_used = 0},
                  r;
    char buf[RL_QUOTA_SEEN_CAP];
    rl_quota_seen_format(&q, buf, sizeof buf);
    assert_true(rl_quota_seen_parse(buf, 1002000, 5000, &r));
    assert_int_equal(r.at_ms, 1000000);
    assert_int_equal(r.inst_max, 40);
    assert_int_equal(r.inst_used, 12);
    assert_int_equal(r.snap_max, 100);
    assert_int_equal(r.snap_used, 3);
    assert_int_equal(r.clu_max, -1);
    assert_int_equal(r.clu_used, 0);
    /* too old, or from the future: not used */
    assert_false(rl_quota_seen_parse(buf, 1005001, 5000, &r));
    assert_false(rl_quota_seen_parse(buf, 999999, 5000, &r));
    /* malformed or out of range: not used */
    assert_false(rl_quota_seen_parse("", 1000000, 5000, &r));
    assert_false(rl_quota_seen_parse("1000000 40 12 100 3 -1", 1000000, 5000, &r));
    assert_false(rl_quota_seen_parse("1000000 40 12 100 3 -1 0 7", 1000000, 5000, &r));
    assert_false(rl_quota_seen_parse("1000000 40 -2 100 3 -1 0", 1000000, 5000, &r));
    assert_false(rl_quota_seen_parse("1000000 -5 1 100 3 -1 0", 1000000, 5000, &r));
    assert_false(rl_quota_seen_parse("1000000 40x 12 100 3 -1 0", 1000000, 5000, &r));
    assert_false(rl_quota_seen_parse("1000000 99999999999 12 100 3 -1 0", 1000000, 5000, &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_table),
        cmocka_unit_test(test_submit_quota),
        cmocka_unit_test(test_quota_seen),
        cmocka_unit_test(test_bucket_aimd),
        cmocka_unit_test(test_bucket_urgent),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_slot_waiters),
    };
    return cmocka_run_group_tests(tests, fx_redis_up, fx_redis_down);
}
