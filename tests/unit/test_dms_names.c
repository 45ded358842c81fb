/* test_dms_names — dms-cdc's pure pieces: the campaign's replication
 * instance name is a valid DMS identifier and stable (long and odd campaign
 * names shortened with a hash, never colliding on the cut part), the task's
 * table mappings leave fleetcrypt's schema out, its settings never touch the
 * target's tables (DO_NOTHING), and the read-only table list matches quoted
 * and plain spellings only exactly; the campaign's further replication
 * instances ("-<n>") are valid and distinct too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dms_db.h"
#include "dmscdc_common.h"

static bool valid_dms_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63 || !isalpha((unsigned char)s[0]) || s[n - 1] == '-' || strstr(s, "--")) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-')) return false;
    return true;
}

static void test_instance_name(void **state)
{
    (void)state;
    char a[64], b[64];
    assert_true(dms_instance_name("dmsa2", a, sizeof a));
    assert_string_equal(a, "fc-dmsa2-dms");
    assert_true(dms_instance_name("Q4_Encrypt--all", a, sizeof a));
    assert_true(valid_dms_id(a));
    assert_true(dms_instance_name("q4-encrypt-all", b, sizeof b));
    assert_string_not_equal(a, b); /* the odd spelling is hashed, not folded onto another campaign's name */
    const char *lng = "a-very-long-campaign-name-that-goes-on-and-on-past-what-dms-allows-x";
    assert_true(dms_instance_name(lng, a, sizeof a));
    assert_true(valid_dms_id(a));
    char lng2[128];
    snprintf(lng2, sizeof lng2, "%sy", lng);
    assert_true(dms_instance_name(lng2, b, sizeof b));
    assert_true(valid_dms_id(b));
    assert_string_not_equal(a, b);
    /* stable */
    char c[64];
    assert_true(dms_instance_name(lng, c, sizeof c));
    assert_string_equal(a, c);
    assert_false(dms_instance_name("", a, sizeof a));
    assert_false(dms_instance_name("x", a, 10));
    /* the campaign's further replication instances (the first one full) */
    assert_true(dms_instance_name_n("dmsa2", 1, a, sizeof a));
    assert_string_equal(a, "fc-dmsa2-dms");
    assert_true(dms_instance_name_n("dmsa2", 2, a, sizeof a));
    assert_string_equal(a, "fc-dmsa2-dms-2");
    const char *edge[] = {lng, "Q4_Encrypt--all", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrst", NULL};
    for (int i = 0; edge[i]; i++) {
        assert_true(dms_instance_name_n(edge[i], 1, a, sizeof a));
        assert_true(dms_instance_name_n(edge[i], 123, b, sizeof b));
        assert_true(valid_dms_id(b));
        assert_string_not_equal(a, b);
    }
    assert_false(dms_instance_name_n("dmsa2", 0, a, sizeof a));
}

static void test_mappings_and_settings(void **state)
{
    (void)state;
    char *m = dms_table_mappings("fc_c1_db1");
    assert_non_null(m);
    json_error_t je;
    json_t *j = json_loads(m, 0, &je);
    assert_non_null(j);
    json_t *rules = json_object_get(j, "rules");
    assert_int_equal(json_array_size(rules), 2);
    json_t *ex = json_array_get(rules, 1);
    assert_string_equal(json_string_value(json_object_get(ex, "rule-action")), "exclude");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ex, "object-locator"), "schema-name")),
                        "fc_c1_db1");
    json_decref(j);
    free(m);

    char *s = dms_task_settings("fc_c1_db1");
    assert_non_null(s);
    j = json_loads(s, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "FullLoadSettings"),
                                                          "TargetTablePrepMode")), "DO_NOTHING");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "ControlTablesSettings"),
                                                          "ControlSchema")), "fc_c1_db1");
    assert_true(json_is_true(json_object_get(json_object_get(j, "TargetMetadata"), "FullLobMode")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "ErrorBehavior"),
                                                          "ApplyErrorInsertPolicy")), "LOG_ERROR");
    json_decref(j);
    free(s);
}

static void test_table_listed(void **state)
{
    (void)state;
    assert_true(dms_table_listed("public.b", "public.b"));
    assert_true(dms_table_listed(" public.a , public.b ", "public.b"));
    assert_true(dms_table_listed("\"Sales\".\"Log\"", "\"Sales\".\"Log\""));
    assert_true(dms_table_listed("Sales.Log", "\"Sales\".\"Log\""));
    assert_false(dms_table_listed("public.bb", "public.b"));
    assert_false(dms_table_listed("public.b", "public.bb"));
    assert_false(dms_table_listed("", "public.b"));
    assert_false(dms_table_listed(NULL, "public.b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_name),
        cmocka_unit_test(test_mappings_and_settings),
        cmocka_unit_test(test_table_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
