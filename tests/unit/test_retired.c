/* test_retired — the pure decisions after the switch, table-driven: when the
 * coordinator stops a retired source again (coordinator/retired.c) and when
 * a source's managed master secret must be set on the encrypted instance
 * (lib/msecret.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "msecret.h"

static void test_should_stop(void **state)
{
    (void)state;
    struct {
        const char *status, *rec;
        bool retired, want;
    } t[] = {
        {"available", "done", false, true},        /* AWS started it again */
        {"stopped", "done", false, false},         /* still stopped */
        {"starting", "done", false, false},        /* busy: next period */
        {"stopping", "done", false, false},
        {"backing-up", "done", false, false},      /* a retire's final snapshot */
        {"available", "running", false, false},    /* cleanup still owns it */
        {"available", "failed", false, false},
        {"available", "", false, false},           /* no record: not ours to touch */
        {"available", NULL, false, false},
        {"available", "done", true, false},        /* retire finished (retired_at) */
        {NULL, "done", false, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool got = retired_should_stop(t[i].status, t[i].rec, t[i].retired);
        if (got != t[i].want)
            fail_msg("row %zu (%s, %s, retired=%d): expected %d, got %d", i, t[i].status ? t[i].status : "NULL",
                     t[i].rec ? t[i].rec : "NULL", t[i].retired, t[i].want, got);
    }
}

static void test_secret_decide(void **state)
{
    (void)state;
    const char *arn = "arn:aws:secretsmanager:us-east-1:1:secret:rds!db-abc-XyZ123";
    const char *own = "arn:aws:secretsmanager:us-east-1:1:secret:rds!db-def-QqQ999";
    struct {
        const char *arn, *recorded, *current, *target_secret;
        msecret_action want;
    } t[] = {
        {arn, "v1", "v1", "", MSECRET_IN_SYNC},
        {arn, "v1", "v2", "", MSECRET_PROPAGATE},          /* rotated since recorded */
        {arn, "", "v2", "", MSECRET_PROPAGATE},            /* never recorded: once, idempotent */
        {arn, NULL, "v2", NULL, MSECRET_PROPAGATE},
        {arn, "v1", "v2", own, MSECRET_TARGET_MANAGED},     /* the target has its own secret now */
        {arn, "v1", "v1", own, MSECRET_TARGET_MANAGED},
        {arn, "v1", "v2", arn, MSECRET_PROPAGATE},          /* same ARN is not "its own" */
        {"", "v1", "v2", "", MSECRET_NO_SECRET},
        {NULL, "v1", "v2", "", MSECRET_NO_SECRET},
        {arn, "v1", "", "", MSECRET_NO_SECRET},             /* no AWSCURRENT: nothing to follow */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        msecret_action got = msecret_decide(t[i].arn, t[i].recorded, t[i].current, t[i].target_secret);
        if (got != t[i].want)
            fail_msg("row %zu: expected %s, got %s", i, msecret_action_name(t[i].want), msecret_action_name(got));
    }
    assert_string_equal(msecret_action_name(MSECRET_PROPAGATE), "propagate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_should_stop),
        cmocka_unit_test(test_secret_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
