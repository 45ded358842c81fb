/* test_pglogical_logic — pg-logical's pure decisions (worker/strategies/
 * pglogical/logic.c), table-driven: option parsing, the per-instance tag,
 * the retained-WAL guard, catch-up readiness hysteresis, the cutover gate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pglogical_logic.h"

#define MIB (1024LL * 1024)
#define GIB (1024LL * MIB)

static void test_truthy_and_bytes(void **state)
{
    (void)state;
    assert_true(pgl_truthy("1"));
    assert_true(pgl_truthy("TRUE"));
    assert_true(pgl_truthy("yes"));
    assert_true(pgl_truthy("on"));
    assert_false(pgl_truthy(""));
    assert_false(pgl_truthy("0"));
    assert_false(pgl_truthy(NULL));
    assert_false(pgl_truthy("false"));
    struct {
        const char *in;
        bool ok;
        int64_t out;
    } t[] = {{"", true, 77}, {"0", true, 0}, {"1048576", true, MIB}, {"512M", true, 512 * MIB},
             {"10GiB", true, 10 * GIB}, {"2g", true, 2 * GIB}, {"1T", true, 1024 * GIB}, {"4KB", true, 4096},
             {"12B", true, 12}, {"-1", false, 0}, {"ten", false, 0}, {"5X", false, 0}, {"5Gx", false, 0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t v = -5;
        bool ok = pgl_parse_bytes(t[i].in, 77, &v);
        if (ok != t[i].ok || (ok && v != t[i].out))
            fail_msg("'%s': expected ok=%d %lld, got ok=%d %lld", t[i].in, t[i].ok, (long long)t[i].out, ok,
                     (long long)v);
    }
}

static bool valid_tag(const char *t)
{
    size_t n = strlen(t);
    if (n < 1 || n > 40 || !(t[0] >= 'a' && t[0] <= 'z')) return false;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_')) return false;
    return true;
}

static void test_tag(void **state)
{
    (void)state;
    char a[64], b[64];
    assert_true(pgl_make_tag("c1", "db1", a, sizeof a));
    assert_string_equal(a, "c1_db1");
    assert_true(pgl_make_tag("2024-q1", "Orders-DB", a, sizeof a));
    assert_string_equal(a, "c2024_q1_orders_db");
    /* long pairs: cut, hashed, still valid, still distinct and stable */
    const char *camp = "campaign-with-a-rather-long-name";
    assert_true(pgl_make_tag(camp, "instance-number-one-of-the-fleet", a, sizeof a));
    assert_true(pgl_make_tag(camp, "instance-number-one-of-the-fleeu", b, sizeof b));
    assert_true(valid_tag(a));
    assert_true(valid_tag(b));
    assert_string_not_equal(a, b);
    char c[64];
    assert_true(pgl_make_tag(camp, "instance-number-one-of-the-fleet", c, sizeof c));
    assert_string_equal(a, c);
    assert_true(valid_tag("c1_db1"));
}

static void test_wal_guard(void **state)
{
    (void)state;
    struct {
        int64_t retained, limit, allocated, used, min_free;
        pgl_wal_verdict v;
        const char *why;
    } t[] = {
        {10 * MIB, 0, 0, -1, 0, PGL_WAL_OK, ""},                  /* nothing known: fine */
        {10 * MIB, 64 * MIB, 0, -1, 0, PGL_WAL_OK, ""},
        {64 * MIB, 64 * MIB, 0, -1, 0, PGL_WAL_ABORT, "max_retained_wal_bytes"},
        {65 * MIB, 64 * MIB, 100 * GIB, 1 * GIB, 0, PGL_WAL_ABORT, "campaign limit"},
        {1 * GIB, 0, 100 * GIB, 80 * GIB, 0, PGL_WAL_OK, ""},     /* 20 GiB free, keep 10 */
        {1 * GIB, 0, 100 * GIB, 91 * GIB, 0, PGL_WAL_ABORT, "nearly full"},
        {1 * GIB, 0, 20 * GIB, 18 * GIB + 1, 0, PGL_WAL_ABORT, "nearly full"}, /* floor 2 GiB */
        {1 * GIB, 0, 20 * GIB, 18 * GIB, 0, PGL_WAL_OK, ""},
        {1 * MIB, 0, 1 * GIB, 100 * MIB, 0, PGL_WAL_OK, ""},       /* tiny: floor is half */
        {1 * MIB, 0, 1 * GIB, 600 * MIB, 0, PGL_WAL_ABORT, "nearly full"},
        {1 * MIB, 0, 100 * GIB, 99 * GIB, 512 * MIB, PGL_WAL_OK, ""}, /* explicit floor */
        {1 * MIB, 0, 100 * GIB, -1, 0, PGL_WAL_OK, ""},           /* usage unknown */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pgl_wal_in in = {t[i].retained, t[i].limit, t[i].allocated, t[i].used, t[i].min_free};
        char why[300];
        pgl_wal_verdict v = pgl_wal_check(&in, why, sizeof why);
        if (v != t[i].v) fail_msg("row %zu: expected verdict %d, got %d (%s)", i, t[i].v, v, why);
        if (t[i].why[0] && !strstr(why, t[i].why)) fail_msg("row %zu: reason '%s' lacks '%s'", i, why, t[i].why);
        if (v == PGL_WAL_OK && why[0]) fail_msg("row %zu: OK with a reason '%s'", i, why);
    }
}

static void test_lag_hysteresis(void **state)
{
    (void)state;
    const int64_t thr = 1 * MIB, stable = 10000;
    struct {
        int64_t now, lag, since;
        bool ready;
        int64_t since_after;
    } t[] = {
        {100000, 5 * MIB, 0, false, 0},            /* behind */
        {100000, 5 * MIB, 95000, false, 0},        /* fell behind again: the clock restarts */
        {100000, 512 * 1024, 0, false, 100000},    /* just got under */
        {105000, 512 * 1024, 100000, false, 100000},
        {110000, 512 * 1024, 100000, true, 100000}, /* under for 10 s */
        {110000, thr, 100000, true, 100000},        /* the threshold itself counts as under */
        {110000, thr + 1, 100000, false, 0},
        {110000, 0, 200000, false, 110000},         /* a clock from the future is not trusted */
        {110000, -1, 100000, false, 0},             /* unknown lag is not under */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pgl_lag_in in = {t[i].now, t[i].lag, thr, stable, t[i].since};
        pgl_lag_out out;
        pgl_lag_decide(&in, &out);
        if (out.ready != t[i].ready || out.under_since_ms != t[i].since_after)
            fail_msg("row %zu: expected ready=%d since=%lld, got ready=%d since=%lld", i, t[i].ready,
                     (long long)t[i].since_after, out.ready, (long long)out.under_since_ms);
        if (!out.ready && (out.wait_ms < 1000 || out.wait_ms > 10000))
            fail_msg("row %zu: wait %lld ms is not a short wait", i, (long long)out.wait_ms);
    }
}

#define MONDAY_MS (19723LL * 86400000LL)

static void test_gate(void **state)
{
    (void)state;
    fc_window any, night;
    char err[200];
    assert_true(window_parse("", &any, err, sizeof err));
    assert_true(window_parse("* 01:00-05:00", &night, err, sizeof err));
    int64_t noon = MONDAY_MS + 12 * 3600000LL, two = MONDAY_MS + 2 * 3600000LL,
            late = MONDAY_MS + 4 * 3600000LL + 59 * 60000LL;
    struct {
        const fc_window *w;
        int64_t now;
        bool need, approved;
        int64_t min_left;
        pgl_gate g;
        int64_t wait;
    } t[] = {
        {&any, noon, false, false, 0, PGL_GATE_GO, 0},
        {&any, noon, true, false, 0, PGL_GATE_APPROVAL, 5000},
        {&any, noon, true, true, 0, PGL_GATE_GO, 0},
        {&night, noon, false, false, 0, PGL_GATE_WINDOW, 13 * 3600000LL},
        {&night, noon, true, true, 0, PGL_GATE_WINDOW, 13 * 3600000LL}, /* approval does not open the window */
        {&night, two, true, false, 0, PGL_GATE_APPROVAL, 5000},
        {&night, two, false, false, 0, PGL_GATE_GO, 0},
        {&night, late, false, false, 0, PGL_GATE_GO, 0},
        {&night, late, false, false, 5 * 60000, PGL_GATE_WINDOW, 60000 + 20 * 3600000LL}, /* too close to the end */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pgl_gate_in in = {t[i].w, t[i].now, t[i].need, t[i].approved, t[i].min_left};
        int64_t wait = -1;
        pgl_gate g = pgl_gate_check(&in, &wait);
        if (g != t[i].g || wait != t[i].wait)
            fail_msg("row %zu: expected gate %d wait %lld, got %d wait %lld", i, t[i].g, (long long)t[i].wait, g,
                     (long long)wait);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truthy_and_bytes),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_wal_guard),
        cmocka_unit_test(test_lag_hysteresis),
        cmocka_unit_test(test_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
