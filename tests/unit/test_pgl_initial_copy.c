/* test_pgl_initial_copy — the schema script the initial-copy path applies
 * (worker/strategies/pglogical/initial_copy.c): pg_dump's psql
 * meta-commands \restrict and \unrestrict are removed, nothing else is (a
 * function body line may start with a backslash), whatever the last line's
 * newline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dbuf.h"

void pgl_ic_strip_meta(dbuf *d); /* UNITTEST in initial_copy.c */

static void check(const char *in, const char *want)
{
    dbuf d;
    dbuf_init(&d, 1 << 20);
    assert_true(dbuf_appends(&d, in));
    pgl_ic_strip_meta(&d);
    assert_int_equal(d.len, strlen(want));
    assert_memory_equal(d.data ? d.data : "", want, strlen(want));
    dbuf_free(&d);
}

static void test_strip_meta(void **state)
{
    (void)state;
    check("\\restrict abc123\nSET x = 1;\nCREATE TABLE t(id int);\n\\unrestrict abc123\n",
          "SET x = 1;\nCREATE TABLE t(id int);\n");
    /* the last line without a newline */
    check("CREATE TABLE t(id int);\n\\unrestrict abc123", "CREATE TABLE t(id int);\n");
    /* a body line starting with a backslash stays, and so does a \restrict inside a line */
    check("CREATE FUNCTION f() RETURNS text AS $$\n\\x is not a meta-command here\n$$ LANGUAGE sql;\n"
          "SELECT '\\restrict x';\n",
          "CREATE FUNCTION f() RETURNS text AS $$\n\\x is not a meta-command here\n$$ LANGUAGE sql;\n"
          "SELECT '\\restrict x';\n");
    check("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_strip_meta)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
