/* test_pgl_db_privs — the pure part of the privilege sync
 * (worker/strategies/pglogical/db/pgl_db_privs.c): a list-valued role
 * setting as PostgreSQL stores it in pg_db_role_setting ('s, "$user", public') split into the elements that
 * are re-applied one literal each; malformed values are refused rather
 * than guessed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgl_db_privs.h"

static void expect_split(const char *v, int n, const char *const *want)
{
    char *el[8];
    int got = pgl_privs_split_list(v, el, 8);
    assert_int_equal(got, n);
    for (int i = 0; i < got; i++) {
        assert_string_equal(el[i], want[i]);
        free(el[i]);
    }
}

static void test_split_plain_and_quoted(void **state)
{
    (void)state;
    expect_split("public", 1, (const char *const[]){"public"});
    expect_split("s, \"$user\", public", 3, (const char *const[]){"s", "$user", "public"});
    expect_split("\"My Schema\",\"a,b\"", 2, (const char *const[]){"My Schema", "a,b"});
    expect_split("\"say \"\"hi\"\"\"", 1, (const char *const[]){"say \"hi\""});
    expect_split("\"\"", 1, (const char *const[]){""});
    expect_split("", 0, NULL);
}

static void test_split_refuses_malformed(void **state)
{
    (void)state;
    char *el[8];
    assert_int_equal(pgl_privs_split_list("\"unterminated", el, 8), -1);
    assert_int_equal(pgl_privs_split_list("a,,b", el, 8), -1);
    assert_int_equal(pgl_privs_split_list("a b", el, 8), -1);
    assert_int_equal(pgl_privs_split_list("a,", el, 8), -1);
    assert_int_equal(pgl_privs_split_list("a,b,c", el, 2), -1); /* more than max */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_plain_and_quoted),
        cmocka_unit_test(test_split_refuses_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
