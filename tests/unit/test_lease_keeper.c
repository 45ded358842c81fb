/* test_lease_keeper — the worker's lease heartbeat against a real
 * redis-server: a registered lease outlives its TTL while registered, dies
 * once deregistered or once the step's deadline passed, and
 * a lease found with another token is reported lost and left alone.
 * No assertion depends on how fast the machine is (see CAP_MS). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lease_keeper.h"
#include "redis_fixture.h"
#include "store_model.h"
#include "store_test.h"

/* a period well below the TTL: a keeper thread delayed by a loaded machine
 * (two cores, sanitizers) still renews in time */
#define TTL_MS 1000
#define PERIOD_MS 250

typedef struct fx {
    fc_config cfg;
    store *s;
    lease_keeper *k;
    char lease_key[256];
} fx;

static void fx_begin(fx *f, const char *prefix, const char *campaign, const char *instance)
{
    memset(f, 0, sizeof *f);
    f->s = fx_store(prefix);
    assert_non_null(f->s);
    /* the keeper opens its own connection with the same URL and prefix */
    fc_strlcpy(f->cfg.redis_url, fx_redis_url, sizeof f->cfg.redis_url);
    fc_strlcpy(f->cfg.key_prefix, store_prefix(f->s), sizeof f->cfg.key_prefix);
    store_lease_key(f->s, campaign, instance, f->lease_key, sizeof f->lease_key);
    f->k = lease_keeper_start(&f->cfg, TTL_MS, PERIOD_MS);
    assert_non_null(f->k);
}

static void fx_end(fx *f)
{
    lease_keeper_stop(f->k);
    store_close(f->s);
}

/* the lease as a step_begin leaves it: our token, PX = TTL */
static void take_lease(fx *f, const char *token, int64_t px)
{
    assert_true(store_test_cmd(f->s, NULL, 0, "SET %s %s PX %lld", f->lease_key, token, (long long)px));
}

/* the token in the lease key ("" when gone) and its PTTL */
static void lease_now(fx *f, char *token, size_t cap, long long *pttl)
{
    assert_true(store_test_cmd(f->s, token, cap, "GET %s", f->lease_key));
    char n[32];
    assert_true(store_test_cmd(f->s, n, sizeof n, "PTTL %s", f->lease_key));
    *pttl = strtoll(n, NULL, 10);
}

/* Waits are bounded by a generous cap that only ends a hung test: every
 * assertion is about order (what happened before what) and counts
 * (renewals), never about how many seconds something took, so a loaded
 * two-core machine slows the test down but cannot fail it. */
#define CAP_MS 60000

static long renewals_after(lease_hold *h, long want)
{
    int64_t until = fc_mono_ms() + CAP_MS;
    while (lease_hold_renewals(h) < want && !lease_hold_lost(h) && fc_mono_ms() < until)
        fc_sleep_ms(20);
    return lease_hold_renewals(h);
}

/* polls until the lease key is gone; returns the monotonic time it was
 * first seen gone (0 when it is still there at the cap) */
static int64_t wait_gone(fx *f)
{
    char tok[64];
    long long pttl;
    int64_t until = fc_mono_ms() + CAP_MS;
    for (;;) {
        lease_now(f, tok, sizeof tok, &pttl);
        if (!tok[0]) return fc_mono_ms();
        if (fc_mono_ms() >= until) return 0;
        fc_sleep_ms(20);
    }
}

static void test_renews_past_ttl(void **state)
{
    (void)state;
    fx f;
    fx_begin(&f, "lk1", "c1", "db1");
    int64_t t0 = fc_mono_ms();
    take_lease(&f, "tok-1", TTL_MS);
    lease_hold *h = lease_keeper_add(f.k, "c1", "db1", "prepare-source", 1, "tok-1", fc_mono_ms() + 10 * CAP_MS);
    assert_non_null(h);
    /* many renewals, and at least four TTLs since the key was set: without
     * the renewals the key would be long gone */
    long n = renewals_after(h, 4 * TTL_MS / PERIOD_MS);
    assert_true(n >= 4 * TTL_MS / PERIOD_MS);
    while (fc_mono_ms() < t0 + 4 * TTL_MS) fc_sleep_ms(20);
    char tok[64];
    long long pttl;
    lease_now(&f, tok, sizeof tok, &pttl);
    assert_string_equal(tok, "tok-1");
    assert_true(pttl > 0 && pttl <= TTL_MS); /* renewed to the TTL, never beyond */
    assert_false(lease_hold_lost(h));
    assert_false(lease_hold_expired(h));
    assert_true(lease_hold_until(h) > fc_mono_ms());

    /* deregistered: no more renewals, so the lease dies */
    lease_keeper_remove(f.k, h);
    assert_true(wait_gone(&f) > 0);
    fx_end(&f);
}

static void test_stops_at_deadline(void **state)
{
    (void)state;
    fx f;
    fx_begin(&f, "lk2", "c2", "db2");
    take_lease(&f, "tok-2", TTL_MS);
    int64_t deadline = fc_mono_ms() + 2 * TTL_MS;
    lease_hold *h = lease_keeper_add(f.k, "c2", "db2", "snapshot", 3, "tok-2", deadline);
    assert_non_null(h);
    /* the step never deregisters: the keeper renews it while the deadline is
     * ahead, and the lease still dies once the deadline passed */
    assert_true(renewals_after(h, 1) >= 1);
    assert_true(wait_gone(&f) > 0);
    /* the keeper marks the hold expired once the deadline passed, and it is
     * not "lost": nobody else took it */
    int64_t until = fc_mono_ms() + CAP_MS;
    while (!lease_hold_expired(h) && fc_mono_ms() < until) fc_sleep_ms(20);
    assert_true(lease_hold_expired(h));
    assert_true(fc_mono_ms() >= deadline);
    assert_false(lease_hold_lost(h));
    /* no renewal after expiry: the count stands still over several periods */
    long n = lease_hold_renewals(h);
    fc_sleep_ms(3 * PERIOD_MS);
    assert_int_equal(lease_hold_renewals(h), n);
    lease_keeper_remove(f.k, h);
    fx_end(&f);
}

static void test_reports_taken_lease(void **state)
{
    (void)state;
    fx f;
    fx_begin(&f, "lk3", "c3", "db3");
    take_lease(&f, "tok-3", TTL_MS);
    lease_hold *h = lease_keeper_add(f.k, "c3", "db3", "preflight", 1, "tok-3", fc_mono_ms() + 10 * CAP_MS);
    lease_hold *other = lease_keeper_add(f.k, "c3", "db4", "preflight", 1, "tok-4", fc_mono_ms() + 10 * CAP_MS);
    assert_non_null(h);
    assert_non_null(other);
    /* another executor took the instance (our lease had expired meanwhile) */
    take_lease(&f, "tok-other", 10 * CAP_MS);
    int64_t until = fc_mono_ms() + CAP_MS;
    while (!lease_hold_lost(h) && fc_mono_ms() < until) fc_sleep_ms(20);
    assert_true(lease_hold_lost(h));
    long n = lease_hold_renewals(h);
    fc_sleep_ms(3 * PERIOD_MS);
    assert_int_equal(lease_hold_renewals(h), n); /* a lost lease is never renewed again */
    /* the other holder's lease is left alone: our renewal would have cut
     * its PTTL down to our TTL */
    char tok[64];
    long long pttl;
    lease_now(&f, tok, sizeof tok, &pttl);
    assert_string_equal(tok, "tok-other");
    assert_true(pttl > TTL_MS);
    /* db4 never had a lease key at all: gone is lost too */
    until = fc_mono_ms() + CAP_MS;
    while (!lease_hold_lost(other) && fc_mono_ms() < until) fc_sleep_ms(20);
    assert_true(lease_hold_lost(other));
    lease_keeper_remove(f.k, h);
    lease_keeper_remove(f.k, other);
    fx_end(&f);
}

static void test_null_keeper(void **state)
{
    (void)state;
    /* a worker without a keeper: the step relies on its own renewals */
    assert_null(lease_keeper_add(NULL, "c", "i", "s", 1, "t", 0));
    assert_false(lease_hold_lost(NULL));
    assert_int_equal(lease_hold_until(NULL), 0);
    lease_keeper_remove(NULL, NULL);
    lease_keeper_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renews_past_ttl),
        cmocka_unit_test(test_stops_at_deadline),
        cmocka_unit_test(test_reports_taken_lease),
        cmocka_unit_test(test_null_keeper),
    };
    return cmocka_run_group_tests(tests, fx_redis_up, fx_redis_down);
}
