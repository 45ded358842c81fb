/* test_awsmemo — the worker's short-lived memory of AWS yeses
 * (worker/strategies/shared/awsmemo.c): what pg-logical's preflight uses to
 * ask DescribeDBParameters once per parameter group and campaign instead of
 * once per instance (issue 17). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "awsmemo.h"
#include "util.h"

static void test_remembered_within_its_age(void **state)
{
    (void)state;
    awsmemo_reset();
    assert_false(awsmemo_seen("c1\tlogical_replication\tpg-a", 60000));
    awsmemo_put("c1\tlogical_replication\tpg-a");
    assert_true(awsmemo_seen("c1\tlogical_replication\tpg-a", 60000));
    /* another campaign, another group: not the same answer */
    assert_false(awsmemo_seen("c2\tlogical_replication\tpg-a", 60000));
    assert_false(awsmemo_seen("c1\tlogical_replication\tpg-b", 60000));
    /* older than asked for: asked again */
    fc_sleep_ms(30);
    assert_false(awsmemo_seen("c1\tlogical_replication\tpg-a", 10));
    awsmemo_put("c1\tlogical_replication\tpg-a"); /* refreshed */
    assert_true(awsmemo_seen("c1\tlogical_replication\tpg-a", 10));
}

static void test_full_table_replaces_the_oldest(void **state)
{
    (void)state;
    awsmemo_reset();
    char k[64];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "c\tg%d", i);
        awsmemo_put(k);
    }
    assert_true(awsmemo_seen("c\tg199", 60000)); /* the newest stays */
    int kept = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "c\tg%d", i);
        kept += awsmemo_seen(k, 60000);
    }
    assert_true(kept > 0 && kept < 200);
    char longkey[400];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    awsmemo_put(longkey); /* too long: not kept, not truncated into another key */
    assert_false(awsmemo_seen(longkey, 60000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remembered_within_its_age),
        cmocka_unit_test(test_full_table_replaces_the_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
