/* test_dfc_held — dms-full-cdc's pure pieces: the held list (the target's
 * foreign keys and triggers kept as facts) round-trips any identifier or
 * definition (tabs, newlines, backslashes), refuses a malformed line,
 * stops at its cap without a torn line; the trigger states map to the
 * ALTER TABLE clause that restores them (a disabled one to none); a key
 * recorded valid is added back NOT VALID (not on a partitioned table), one
 * recorded NOT VALID is not suffixed twice; the task settings load into truncated tables with
 * validation on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dfc_db.h"
#include "dmsfullcdc.h"

static void test_round_trip(void **state)
{
    (void)state;
    dbuf b;
    dbuf_init(&b, 4096);
    const char *k1[] = {"public", "a", "a_parent_fk", "FOREIGN KEY (p) REFERENCES ref.parent(id) DEFERRABLE", "1", "r"};
    const char *k2[] = {"we\tird", "ta\\ble\n", "c\"x", "FOREIGN KEY (\"x\ty\") REFERENCES \"s\\\".t(\"i\")", "0", "p"};
    assert_true(dfc_line_append(&b, k1, 6));
    assert_true(dfc_line_append(&b, k2, 6));
    /* two lines, no raw tab or newline inside a field */
    int nl = 0;
    for (const char *p = b.data; *p; p++) nl += *p == '\n';
    assert_int_equal(nl, 2);
    dfc_list l;
    assert_true(dfc_list_parse(b.data, DFC_FK_FIELDS, &l));
    assert_int_equal(l.n, 2);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(l.v[0].f[i], k1[i]);
        assert_string_equal(l.v[1].f[i], k2[i]);
    }
    dfc_list_free(&l);
    /* an empty record is an empty list */
    assert_true(dfc_list_parse("", DFC_TRG_FIELDS, &l));
    assert_int_equal(l.n, 0);
    dbuf_free(&b);
}

static void test_malformed(void **state)
{
    (void)state;
    dfc_list l;
    assert_false(dfc_list_parse("public\ta\tt\n", DFC_TRG_FIELDS, &l)); /* 3 of 4 fields */
    assert_false(dfc_list_parse("public\ta\tt\tO\tx\n", DFC_TRG_FIELDS, &l)); /* 5 of 4 */
    assert_true(dfc_list_parse("public\ta\tt\tO", DFC_TRG_FIELDS, &l)); /* last line without newline */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].f[3], "O");
    dfc_list_free(&l);
}

static void test_cap(void **state)
{
    (void)state;
    dbuf b;
    dbuf_init(&b, 40);
    const char *t[] = {"public", "audit_table", "audit_trigger", "O"};
    assert_true(dfc_line_append(&b, t, 4)); /* 35 bytes with its newline */
    size_t len = b.len;
    assert_false(dfc_line_append(&b, t, 4));
    assert_int_equal(b.len, len); /* no torn line */
    dfc_list l;
    assert_true(dfc_list_parse(b.data, DFC_TRG_FIELDS, &l));
    assert_int_equal(l.n, 1);
    dfc_list_free(&l);
    dbuf_free(&b);
}

static void test_clauses(void **state)
{
    (void)state;
    assert_string_equal(dfc_enable_clause("O"), "ENABLE TRIGGER");
    assert_string_equal(dfc_enable_clause("R"), "ENABLE REPLICA TRIGGER");
    assert_string_equal(dfc_enable_clause("A"), "ENABLE ALWAYS TRIGGER");
    assert_null(dfc_enable_clause("D"));
    assert_null(dfc_enable_clause(""));
    assert_null(dfc_enable_clause("OO"));
    assert_true(dfc_add_not_valid("FOREIGN KEY (p) REFERENCES ref.parent(id)", "1", "r"));
    assert_false(dfc_add_not_valid("FOREIGN KEY (p) REFERENCES ref.parent(id) NOT VALID", "0", "r"));
    assert_false(dfc_add_not_valid("FOREIGN KEY (p) REFERENCES ref.parent(id) NOT VALID", "1", "r"));
    assert_false(dfc_add_not_valid("FOREIGN KEY (p) REFERENCES ref.parent(id)", "0", "r"));
    /* PostgreSQL takes no NOT VALID foreign key on a partitioned table: added validated */
    assert_false(dfc_add_not_valid("FOREIGN KEY (p) REFERENCES ref.parent(id)", "1", "p"));
}

static void test_settings(void **state)
{
    (void)state;
    char *s = dfc_task_settings("fc_abc");
    assert_non_null(s);
    json_error_t je;
    json_t *o = json_loads(s, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "FullLoadSettings"),
                                                          "TargetTablePrepMode")), "TRUNCATE_BEFORE_LOAD");
    assert_true(json_is_true(json_object_get(json_object_get(o, "ValidationSettings"), "EnableValidation")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "ControlTablesSettings"),
                                                          "ControlSchema")), "fc_abc");
    json_decref(o);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_malformed), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_clauses), cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
