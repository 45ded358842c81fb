/* test_duration — durations as operators write them (lib/engine/duration.c,
 * --rollback-window): units, bare seconds, and what is refused (empty,
 * sign, unknown unit, trailing text, overflow, more than a year). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "duration.h"

static void test_ok(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t want;
    } t[] = {{"90s", 90}, {"30m", 1800}, {"48h", 172800}, {"7d", 604800}, {"3600", 3600}, {"0", 0},
             {"366d", 366LL * 86400}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t got = -1;
        assert_true(fc_duration_parse(t[i].s, &got));
        assert_int_equal(got, t[i].want);
    }
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", "h", "-5m", "+5m", "5 m", "5mm", "5w", "1.5h", "367d", "99999999999999999999",
                         "31622401"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t got = -1;
        assert_false(fc_duration_parse(bad[i], &got));
    }
    assert_false(fc_duration_parse(NULL, &(int64_t){0}));
}

static void test_validator(void **state)
{
    (void)state;
    char err[128] = "";
    assert_true(duration_opt_check("", err, sizeof err));
    assert_true(duration_opt_check("48h", err, sizeof err));
    assert_false(duration_opt_check("0", err, sizeof err));
    assert_non_null(strstr(err, "not a duration"));
    assert_false(duration_opt_check("soon", err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_validator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
