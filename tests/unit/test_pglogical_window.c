/* test_pglogical_window — the campaign's cutover window (lib/window.c):
 * parsing (days, ranges, lists, '*', wrap past midnight and past Sunday,
 * bad input with a reason) and, table-driven, whether a UTC time is inside
 * and how long until the window opens or closes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "window.h"

/* 2024-01-01 00:00 UTC was a Monday: day 19723 since the epoch. */
#define MONDAY_MS (19723LL * 86400000LL)
static int64_t at(int weekday, int hh, int mm)
{
    return MONDAY_MS + (int64_t)weekday * 86400000LL + ((int64_t)hh * 60 + mm) * 60000LL;
}
enum { MON, TUE, WED, THU, FRI, SAT, SUN };

static void test_parse_ok(void **state)
{
    (void)state;
    struct {
        const char *spec;
        unsigned days;
        int start, end;
        bool any;
    } t[] = {
        {"", 0x7f, 0, 1440, true},
        {"   ", 0x7f, 0, 1440, true},
        {"Mon-Fri 01:00-05:00", 0x1f, 60, 300, false},
        {"* 22:00-02:00", 0x7f, 1320, 120, false},
        {"sat,sun 00:00-24:00", 0x60, 0, 1440, false},
        {"Fri-Mon 23:30-00:30", 0x1 | 0x10 | 0x20 | 0x40, 1410, 30, false},
        {"Tue,Thu-Fri 9:05-10:00", 0x2 | 0x8 | 0x10, 545, 600, false},
        {"Wednesday 12:00-13:00", 0x4, 720, 780, false},
        {"03:00-04:00", 0x7f, 180, 240, false},
        {"MON  01:00-05:00  ", 0x1, 60, 300, false},
        /* an end at 00:00 is the end of the opening day (found by
         * fuzz_window): end_min stays in 1..1440 as window.h promises */
        {"Tue 23:00-00:00", 0x2, 1380, 1440, false},
        {"01:00-00:00", 0x7f, 60, 1440, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        fc_window w;
        char err[200] = "";
        bool ok = window_parse(t[i].spec, &w, err, sizeof err);
        if (!ok) fail_msg("'%s' should parse, got: %s", t[i].spec, err);
        if (w.days != t[i].days || w.start_min != t[i].start || w.end_min != t[i].end || w.any_time != t[i].any)
            fail_msg("'%s': expected days=%#x %d-%d any=%d, got days=%#x %d-%d any=%d", t[i].spec, t[i].days,
                     t[i].start, t[i].end, t[i].any, w.days, w.start_min, w.end_min, w.any_time);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    const char *bad[] = {"Mon-Fri", "Mon-Fri 01:00", "Mon-Fri 1-5", "Mon-Fri 25:00-05:00",
                         "Mon-Fri 01:00-05:60", "Mon-Fri 24:00-05:00", "Funday 01:00-02:00",
                         "Mon, 01:00-02:00", "Mon-Fri 01:00-05:00 extra", "* 05:00-05:00",
                         "Mon-Fri 01:00-24:01", "Mon- 01:00-02:00", "Mon-Fri 01:00_05:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fc_window w;
        char err[200] = "";
        if (window_parse(bad[i], &w, err, sizeof err)) fail_msg("'%s' should be refused", bad[i]);
        if (!strstr(err, "window '")) fail_msg("'%s': the reason should name the window, got '%s'", bad[i], err);
    }
}

static void test_contains_and_times(void **state)
{
    (void)state;
    struct {
        const char *spec;
        int64_t now;
        bool inside;
        int64_t until_open_min;  /* -1: do not check */
        int64_t until_close_min; /* -1: do not check */
    } t[] = {
        /* weekdays 01:00-05:00 */
        {"Mon-Fri 01:00-05:00", at(MON, 0, 59), false, 1, 0},
        {"Mon-Fri 01:00-05:00", at(MON, 1, 0), true, 0, 240},
        {"Mon-Fri 01:00-05:00", at(MON, 4, 59), true, 0, 1},
        {"Mon-Fri 01:00-05:00", at(MON, 5, 0), false, 20 * 60, 0},
        {"Mon-Fri 01:00-05:00", at(FRI, 6, 0), false, (2 * 24 + 19) * 60, 0},  /* → Monday 01:00 */
        {"Mon-Fri 01:00-05:00", at(SAT, 2, 0), false, (24 + 23) * 60, 0},
        {"Mon-Fri 01:00-05:00", at(SUN, 3, 0), false, 22 * 60, 0},
        /* every day, wrapping past midnight */
        {"* 22:00-02:00", at(TUE, 21, 59), false, 1, 0},
        {"* 22:00-02:00", at(TUE, 22, 0), true, 0, 240},
        {"* 22:00-02:00", at(WED, 1, 30), true, 0, 30},
        {"* 22:00-02:00", at(WED, 2, 0), false, 20 * 60, 0},
        {"* 22:00-02:00", at(SUN, 23, 0), true, 0, 180},   /* Sunday night into Monday */
        {"* 22:00-02:00", at(MON, 0, 30), true, 0, 90},
        /* the day names the opening: Fri 22:00-02:00 includes Saturday 01:00, not Friday 01:00 */
        {"Fri 22:00-02:00", at(SAT, 1, 0), true, 0, 60},
        {"Fri 22:00-02:00", at(FRI, 1, 0), false, 21 * 60, 0},
        {"Fri 22:00-02:00", at(SAT, 22, 30), false, 6 * 24 * 60 - 30, 0},
        /* range wrapping past Sunday */
        {"Sat-Mon 12:00-13:00", at(SUN, 12, 30), true, 0, 30},
        {"Sat-Mon 12:00-13:00", at(MON, 12, 0), true, 0, 60},
        {"Sat-Mon 12:00-13:00", at(TUE, 12, 0), false, 4 * 24 * 60, 0},
        /* whole days chain: the window does not close at midnight between Sat and Sun */
        {"Sat,Sun 00:00-24:00", at(SAT, 23, 0), true, 0, 25 * 60},
        {"Sat,Sun 00:00-24:00", at(FRI, 23, 0), false, 60, 0},
        /* no window: always open */
        {"", at(WED, 3, 3), true, 0, -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        fc_window w;
        char err[200];
        assert_true(window_parse(t[i].spec, &w, err, sizeof err));
        bool in = window_contains(&w, t[i].now);
        int64_t uo = window_ms_until_open(&w, t[i].now);
        int64_t uc = window_ms_until_close(&w, t[i].now);
        if (in != t[i].inside)
            fail_msg("row %zu '%s': expected inside=%d, got %d", i, t[i].spec, t[i].inside, in);
        if (t[i].until_open_min >= 0 && uo != t[i].until_open_min * 60000)
            fail_msg("row %zu '%s': expected the window to open in %lld min, got %lld ms", i, t[i].spec,
                     (long long)t[i].until_open_min, (long long)uo);
        if (t[i].until_close_min >= 0 && uc != t[i].until_close_min * 60000)
            fail_msg("row %zu '%s': expected the window to close in %lld min, got %lld ms", i, t[i].spec,
                     (long long)t[i].until_close_min, (long long)uc);
    }
}

/* Every minute of two weeks: contains() agrees with until_open()==0 and a
 * window that opens is inside at that moment. */
static void test_consistency_sweep(void **state)
{
    (void)state;
    const char *specs[] = {"Mon-Fri 01:00-05:00", "* 22:00-02:00", "Fri-Mon 23:30-00:30", "Sun 00:00-24:00",
                           "sun:02:00-sun:04:00", "sat:22:00-mon:02:00", "sun:23:00-mon:01:00",
                           "wed:06:00-thu:06:00"};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        fc_window w;
        char err[200];
        assert_true(window_parse(specs[s], &w, err, sizeof err));
        for (int64_t m = 0; m < 14 * 1440; m += 7) {
            int64_t now = MONDAY_MS + m * 60000;
            bool in = window_contains(&w, now);
            int64_t uo = window_ms_until_open(&w, now);
            if (in != (uo == 0)) fail_msg("%s at minute %lld: contains=%d until_open=%lld", specs[s], (long long)m, in, (long long)uo);
            if (!in && !window_contains(&w, now + uo))
                fail_msg("%s at minute %lld: not inside when it should open", specs[s], (long long)m);
            if (in && window_contains(&w, now + window_ms_until_close(&w, now)))
                fail_msg("%s at minute %lld: still inside when it should have closed", specs[s], (long long)m);
        }
    }
}

/* RDS's maintenance-window syntax 'ddd:hh24:mi-ddd:hh24:mi' (UTC, day names
 * any case), as `aws rds describe-db-instances` prints PreferredMaintenanceWindow:
 * one opening a week, from the first day and time to the second, which may
 * be days later (longer than 24 h too) or wrap past Sunday. */
static void test_rds_syntax(void **state)
{
    (void)state;
    struct {
        const char *spec;
        int64_t now;
        bool inside;
        int64_t until_open_min;
        int64_t until_close_min;
    } t[] = {
        {"sun:02:00-sun:04:00", at(SUN, 1, 59), false, 1, 0},
        {"sun:02:00-sun:04:00", at(SUN, 2, 0), true, 0, 120},
        {"sun:02:00-sun:04:00", at(SUN, 4, 0), false, 7 * 1440 - 120, 0},
        {"sun:02:00-sun:04:00", at(MON, 2, 30), false, 6 * 1440 - 30, 0}, /* once a week, not daily */
        {"Sun:02:00-Sun:04:00 UTC", at(SUN, 3, 0), true, 0, 60},
        /* across midnight into the next day */
        {"fri:23:30-sat:00:30", at(SAT, 0, 15), true, 0, 15},
        {"fri:23:30-sat:00:30", at(FRI, 0, 15), false, 23 * 60 + 15, 0},
        /* across Sunday into Monday */
        {"sun:23:00-mon:01:00", at(MON, 0, 30), true, 0, 30},
        {"sun:23:00-mon:01:00", at(SUN, 23, 0), true, 0, 120},
        /* longer than a day: Saturday 22:00 to Monday 02:00 */
        {"sat:22:00-mon:02:00", at(SUN, 12, 0), true, 0, 14 * 60},
        {"sat:22:00-mon:02:00", at(SAT, 21, 0), false, 60, 0},
        {"sat:22:00-mon:02:00", at(MON, 2, 0), false, 5 * 1440 + 20 * 60, 0},
        {"sat:22:00-mon:02:00", at(MON, 1, 0), true, 0, 60},
        /* exactly 24 hours */
        {"wed:06:00-thu:06:00", at(THU, 5, 59), true, 0, 1},
        {"wed:06:00-thu:06:00", at(WED, 5, 59), false, 1, 0},
        /* to midnight */
        {"tue:22:00-wed:00:00", at(TUE, 23, 0), true, 0, 60},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        fc_window w;
        char err[200] = "";
        if (!window_parse(t[i].spec, &w, err, sizeof err)) fail_msg("'%s' should parse, got: %s", t[i].spec, err);
        bool in = window_contains(&w, t[i].now);
        int64_t uo = window_ms_until_open(&w, t[i].now), uc = window_ms_until_close(&w, t[i].now);
        if (in != t[i].inside) fail_msg("row %zu '%s': expected inside=%d, got %d", i, t[i].spec, t[i].inside, in);
        if (uo != t[i].until_open_min * 60000)
            fail_msg("row %zu '%s': expected open in %lld min, got %lld ms", i, t[i].spec,
                     (long long)t[i].until_open_min, (long long)uo);
        if (uc != t[i].until_close_min * 60000)
            fail_msg("row %zu '%s': expected close in %lld min, got %lld ms", i, t[i].spec,
                     (long long)t[i].until_close_min, (long long)uc);
    }
    const char *bad[] = {"sun:02:00-sun:02:00", "sun:04:00-sun:02:00", "sun:02:00-sun", "sun:2-sun:04:00",
                         "xyz:02:00-sun:04:00", "sun:02:00-sun:04:60", "sun:24:00-mon:01:00",
                         "sun:02:00-sun:04:00 PST", "sun:02:00sun:04:00", "sun:02:00-sun:04:00-",
                         "mon:00:00-sun:24:00", "mon:03:00-sun:24:00", "sun:22:00-sun:24:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fc_window w;
        char err[200] = "";
        if (window_parse(bad[i], &w, err, sizeof err)) fail_msg("'%s' should be refused", bad[i]);
        if (!strstr(err, "window '") || !strstr(err, "UTC"))
            fail_msg("'%s': the reason should name the window and say UTC, got '%s'", bad[i], err);
    }
}

/* The other syntax takes a trailing "UTC" too, and every refusal says the
 * times are UTC. */
static void test_says_utc(void **state)
{
    (void)state;
    fc_window w;
    char err[200] = "";
    assert_true(window_parse("Mon-Fri 01:00-05:00 UTC", &w, err, sizeof err));
    assert_int_equal(w.start_min, 60);
    assert_true(window_parse("* 22:00-02:00 utc", &w, err, sizeof err));
    const char *bad[] = {"Funday 01:00-02:00", "Mon-Fri 1-5", "* 05:00-05:00", "Mon 01:00-02:00 extra"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(window_parse(bad[i], &w, err, sizeof err));
        if (!strstr(err, "UTC")) fail_msg("'%s': the reason should say UTC, got '%s'", bad[i], err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_contains_and_times),
        cmocka_unit_test(test_consistency_sweep),
        cmocka_unit_test(test_rds_syntax),
        cmocka_unit_test(test_says_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
