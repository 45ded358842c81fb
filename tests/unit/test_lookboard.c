/* test_lookboard — the look board of the in-run awaits across worker
 * processes: its entries (lib/engine/lookboard.c: encode, decode, what an
 * await does with them) and its Redis side against a real redis-server
 * (lib/store/store_looks.c: registrations that expire and come off, an
 * answer never written over a later one, a read that returns both in one
 * call). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lookboard.h"
#include "redis_fixture.h"
#include "store_looks.h"

static lookboard_entry ready_entry(void)
{
    lookboard_entry e = {.sent_ms = 1700000000123, .present = true, .port = 5432};
    fc_strlcpy(e.status, "available", sizeof e.status);
    fc_strlcpy(e.address, "db1.x.rds.amazonaws.com", sizeof e.address);
    fc_strlcpy(e.campaign, "c1", sizeof e.campaign);
    fc_strlcpy(e.instance, "db1", sizeof e.instance);
    fc_strlcpy(e.role, "encrypted-target", sizeof e.role);
    return e;
}

static void test_entries_round_trip(void **state)
{
    (void)state;
    char buf[600];
    lookboard_entry e = ready_entry(), d;
    assert_true(lookboard_encode(buf, sizeof buf, &e));
    assert_true(lookboard_decode(buf, &d));
    assert_int_equal(d.sent_ms, e.sent_ms);
    assert_true(d.present);
    assert_string_equal(d.status, "available");
    assert_string_equal(d.address, e.address);
    assert_int_equal(d.port, 5432);
    assert_string_equal(d.campaign, "c1");
    assert_string_equal(d.instance, "db1");
    assert_string_equal(d.role, "encrypted-target");
    /* not found */
    lookboard_entry g = {.sent_ms = 42};
    assert_true(lookboard_encode(buf, sizeof buf, &g));
    assert_string_equal(buf, "42\t-");
    assert_true(lookboard_decode(buf, &d));
    assert_false(d.present);
    assert_int_equal(d.sent_ms, 42);
    /* too small a buffer */
    assert_false(lookboard_encode(buf, 8, &e));
    /* a tag holding a tab is written empty: the fields stay in place */
    fc_strlcpy(e.role, "x\ty", sizeof e.role);
    assert_true(lookboard_encode(buf, sizeof buf, &e));
    assert_true(lookboard_decode(buf, &d));
    assert_string_equal(d.role, "");
    assert_string_equal(d.instance, "db1");
}

static void test_malformed_entries_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", "x\t-", "0\t-", "-5\t-", "12", "12\t", "12\tavailable", "12\tavailable\th\t5432\tc\ti",
                         "12\tavailable\th\t5432\tc\ti\tr\textra", "12\tavailable\th\tport\tc\ti\tr",
                         "12\tavailable\th\t70000\tc\ti\tr", "12\t\th\t5432\tc\ti\tr", "12\t-\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        lookboard_entry d;
        memset(&d, 0x5a, sizeof d);
        if (lookboard_decode(bad[k], &d)) fail_msg("decoded a malformed entry: \"%s\"", bad[k]);
        assert_false(d.present);
        assert_int_equal(d.sent_ms, 0);
    }
    lookboard_entry d;
    assert_true(lookboard_decode("12\tavailable\th\t5432\tc\ti\tr", &d));
}

static void test_verdicts(void **state)
{
    (void)state;
    lookboard_entry e = {.sent_ms = 1000};
    /* an answer sent at or after the bound is used */
    assert_int_equal(lookboard_verdict_of(&e, true, 0, 0, 1000, 500, 1200, 2000), LOOKBOARD_USE);
    assert_int_equal(lookboard_verdict_of(&e, true, 0, 0, 1001, 500, 1200, 2000), LOOKBOARD_ASK);
    assert_int_equal(lookboard_verdict_of(&e, false, 0, 0, 900, 500, 1200, 2000), LOOKBOARD_ASK);
    /* a look begun after the bound and the registration: wait for it */
    assert_int_equal(lookboard_verdict_of(&e, true, 1100, 0, 1050, 500, 1200, 2000), LOOKBOARD_WAIT);
    /* ... not one begun before the bound or before the registration (it did not read this instance) */
    assert_int_equal(lookboard_verdict_of(&e, true, 1040, 0, 1050, 500, 1200, 2000), LOOKBOARD_ASK);
    assert_int_equal(lookboard_verdict_of(&e, true, 1100, 0, 1050, 1101, 1200, 2000), LOOKBOARD_ASK);
    /* ... nor one that failed, nor one begun too long ago (its worker died asking) */
    assert_int_equal(lookboard_verdict_of(&e, true, 1100, 1100, 1050, 500, 1200, 2000), LOOKBOARD_ASK);
    assert_int_equal(lookboard_verdict_of(&e, true, 1100, 1099, 1050, 500, 1200, 2000), LOOKBOARD_WAIT);
    assert_int_equal(lookboard_verdict_of(&e, true, 1100, 0, 1050, 500, 3100, 2000), LOOKBOARD_ASK);
    assert_int_equal(lookboard_verdict_of(&e, true, 1100, 0, 1050, 500, 3099, 2000), LOOKBOARD_WAIT);
}

static void test_board_in_redis(void **state)
{
    (void)state;
    store *s = fx_store("lb");
    assert_non_null(s);
    store_looks_at at = {"c1", "eu-west-1", "source"}, other = {"c1", "eu-west-1", "target"};
    int64_t now = 1000000, asking = -1, failed = -1;
    assert_true(store_looks_want(s, &at, "db1", now + 5000, 60000));
    assert_true(store_looks_want(s, &at, "db2", now + 100, 60000));
    assert_true(store_looks_want(s, &at, "db2", now + 50, 60000)); /* an earlier time does not shorten it */
    assert_true(store_looks_want(s, &other, "db9", now + 5000, 60000));
    char entry[600];
    assert_true(store_looks_read(s, &at, "db1", entry, sizeof entry, &asking, &failed));
    assert_string_equal(entry, "");
    assert_int_equal(asking, 0);
    assert_int_equal(failed, 0);
    sargs ids;
    sargs_init(&ids);
    assert_true(store_looks_ask(s, &at, now, 100, 60000, &ids));
    assert_int_equal(ids.n, 2);
    sargs_free(&ids);
    assert_true(store_looks_read(s, &at, "db1", entry, sizeof entry, &asking, &failed));
    assert_int_equal(asking, now);
    /* db2's time has passed: dropped; a look begun earlier does not move the mark back */
    sargs_init(&ids);
    assert_true(store_looks_ask(s, &at, now + 101, 100, 60000, &ids));
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.v[0], "db1");
    sargs_free(&ids);
    sargs_init(&ids);
    assert_true(store_looks_ask(s, &at, now + 50, 100, 60000, &ids));
    sargs_free(&ids);
    assert_true(store_looks_read(s, &at, "db1", entry, sizeof entry, &asking, &failed));
    assert_int_equal(asking, now + 101);
    /* answers: a later one replaces, an earlier one does not */
    sargs t;
    sargs_init(&t);
    sargs_add(&t, "db1");
    sargs_addi(&t, 2000);
    sargs_add(&t, "2000\t-");
    int written = -1;
    assert_true(store_looks_put(s, &at, &t, 60000, &written));
    assert_int_equal(written, 1);
    sargs_free(&t);
    sargs_init(&t);
    sargs_add(&t, "db1");
    sargs_addi(&t, 1999);
    sargs_add(&t, "1999\tavailable\th\t5432\tc1\tdb1\tr");
    sargs_add(&t, "_failed");
    sargs_addi(&t, now + 101);
    sargs_addf(&t, "%lld", (long long)(now + 101));
    assert_true(store_looks_put(s, &at, &t, 60000, &written));
    assert_int_equal(written, 1);
    sargs_free(&t);
    assert_true(store_looks_read(s, &at, "db1", entry, sizeof entry, &asking, &failed));
    assert_string_equal(entry, "2000\t-");
    assert_int_equal(failed, now + 101);
    sargs_init(&t);
    sargs_add(&t, "db1");
    sargs_addi(&t, 2500);
    sargs_add(&t, "2500\trebooting\t\t0\tc1\tdb1\tr");
    assert_true(store_looks_put(s, &at, &t, 60000, &written));
    assert_int_equal(written, 1);
    sargs_free(&t);
    assert_true(store_looks_read(s, &at, "db1", entry, sizeof entry, &asking, &failed));
    assert_string_equal(entry, "2500\trebooting\t\t0\tc1\tdb1\tr");
    /* the other side's board is its own */
    assert_true(store_looks_read(s, &other, "db1", entry, sizeof entry, &asking, &failed));
    assert_string_equal(entry, "");
    sargs_init(&ids);
    assert_true(store_looks_ask(s, &other, now, 100, 60000, &ids));
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.v[0], "db9");
    sargs_free(&ids);
    /* plans: the earliest other's within the window, recorded as this one's */
    int64_t got = -1;
    assert_true(store_looks_plan(s, &at, "db1", now + 900, now, now + 800, now, 60000, &got));
    assert_int_equal(got, 0);
    assert_true(store_looks_plan(s, &at, "db2", now + 1000, now, now + 950, now, 60000, &got));
    assert_int_equal(got, now + 900);
    assert_true(store_looks_plan(s, &at, "db3", now + 2000, now, now + 899, now, 60000, &got));
    assert_int_equal(got, 0); /* outside its window */
    assert_true(store_looks_plan(s, &at, "db1", now + 1500, now + 1, now + 1400, now, 60000, &got));
    assert_int_equal(got, now + 900); /* db2's plan, recorded as db1's look */
    /* taken off: its registration and its plan */
    assert_true(store_looks_want(s, &at, "db1", 0, 60000));
    assert_true(store_looks_want(s, &at, "db2", 0, 60000));
    assert_true(store_looks_plan(s, &at, "db3", now + 2000, now, now + 1999, now, 60000, &got));
    assert_int_equal(got, 0);
    sargs_init(&ids);
    assert_true(store_looks_ask(s, &at, now, 100, 60000, &ids));
    assert_int_equal(ids.n, 0);
    sargs_free(&ids);
    /* at most max ids */
    char id[16];
    for (int k = 0; k < 5; k++) {
        snprintf(id, sizeof id, "m%d", k);
        assert_true(store_looks_want(s, &at, id, now + 5000, 60000));
    }
    sargs_init(&ids);
    assert_true(store_looks_ask(s, &at, now, 3, 60000, &ids));
    assert_int_equal(ids.n, 3);
    sargs_free(&ids);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_round_trip),
        cmocka_unit_test(test_malformed_entries_refused),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_board_in_redis),
    };
    return cmocka_run_group_tests(tests, fx_redis_up, fx_redis_down);
}
