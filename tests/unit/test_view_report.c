/* test_view_report — JSON parses back with every figure, CSV is RFC 4180 with
 * formula cells neutralised, HTML escapes hostile text and carries every
 * instance and total; `report --select` rows: an instance no campaign held
 * shows its state now and "not migrated by fleetcrypt" in every format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "view_report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static report_table tabs[] = {{"public.orders", 120000, "md5:0123abcd"}, {"\"Sales\".\"Q<1>\"", 7, "md5:ffff"}};

static void rows(report_row r[3])
{
    memset(r, 0, 3 * sizeof *r);
    for (int i = 0; i < 3; i++) {
        snprintf(r[i].campaign, sizeof r[i].campaign, "c1");
        snprintf(r[i].strategy, sizeof r[i].strategy, "pg-logical");
        r[i].downtime_s = -1;
        r[i].rows_verified = -1;
    }
    snprintf(r[0].instance, sizeof r[0].instance, "orders-db");
    snprintf(r[0].state, sizeof r[0].state, "done");
    r[0].encrypted_after = true;
    snprintf(r[0].key_after, sizeof r[0].key_after, "arn:aws:kms:us-east-1:123456789012:key/k1");
    snprintf(r[0].cutover_at, sizeof r[0].cutover_at, "2026-11-23T22:00:00Z");
    r[0].downtime_s = 1.4;
    r[0].rows_verified = 120007;
    r[0].tables_verified = 2;
    r[0].tables = tabs;
    r[0].ntables = 2;
    snprintf(r[0].retired_source, sizeof r[0].retired_source, "fc-c1-orders-db-retired");
    snprintf(r[1].instance, sizeof r[1].instance, "billing-db");
    snprintf(r[1].state, sizeof r[1].state, "failed");
    snprintf(r[1].error, sizeof r[1].error, "=HYPERLINK(\"http://x\") <script>alert(1)</script>");
    snprintf(r[2].instance, sizeof r[2].instance, "already-db");
    snprintf(r[2].state, sizeof r[2].state, "skipped");
    r[2].encrypted_before = r[2].encrypted_after = true;
}

static const report_meta meta = {"campaign c1", "2026-11-23T23:00:00Z", "fleetcrypt test"};

static void test_json(void **state)
{
    (void)state;
    report_row r[3];
    rows(r);
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(report_render_json(&meta, r, 3, &out));
    json_error_t je;
    json_t *root = json_loads(out.data, 0, &je);
    assert_non_null(root);
    json_t *inst = json_object_get(root, "instances");
    assert_int_equal(json_array_size(inst), 3);
    json_t *o = json_array_get(inst, 0);
    assert_true(json_real_value(json_object_get(o, "downtime_s")) == 1.4);
    assert_int_equal(json_integer_value(json_object_get(o, "rows_verified")), 120007);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "tables"), 1), "table")), "\"Sales\".\"Q<1>\"");
    assert_true(json_is_null(json_object_get(json_array_get(inst, 1), "downtime_s")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "summary"), "failed")), 1);
    assert_true(json_is_null(json_object_get(o, "dms"))); /* not dms-cdc */
    json_decref(root);
    /* dms-cdc: DMS's validation and apply exceptions, in JSON and CSV */
    r[1].has_dms = true;
    r[1].dms_apply_exceptions = 0;
    r[1].dms_val_tables = 3;
    r[1].dms_val_validated = 1;
    r[1].dms_val_failures = 2;
    snprintf(r[1].dms_val_mismatched, sizeof r[1].dms_val_mismatched, "app/public.a,app/public.c");
    static const report_dms_table dtabs[] = {{"app/public.a", 5, 2, 1, 0, 100, "Mismatched records"},
                                            {"app/public.b", 0, 0, 0, -1, -1, "-"}};
    r[1].dms_tables = dtabs;
    r[1].ndms_tables = 2;
    r[1].dms_tables_more = 3;
    r[2].has_dms = true;
    r[2].dms_apply_exceptions = 4;
    r[2].dms_val_tables = r[2].dms_val_validated = r[2].dms_val_failures = -1;
    dbuf_reset(&out);
    assert_true(report_render_json(&meta, r, 3, &out));
    root = json_loads(out.data, 0, &je);
    assert_non_null(root);
    inst = json_object_get(root, "instances");
    json_t *d = json_object_get(json_array_get(inst, 1), "dms");
    json_t *v = json_object_get(d, "validation");
    assert_int_equal(json_integer_value(json_object_get(d, "apply_exceptions")), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "tables")), 3);
    assert_int_equal(json_integer_value(json_object_get(v, "failures")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "mismatched"), 1)), "app/public.c");
    json_t *tj = json_object_get(d, "tables");
    assert_int_equal(json_array_size(tj), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "tables_omitted")), 3);
    d = json_object_get(json_array_get(inst, 2), "dms");
    assert_int_equal(json_integer_value(json_object_get(d, "apply_exceptions")), 4);
    assert_true(json_is_null(json_object_get(d, "validation")));
    json_decref(root);
    dbuf_reset(&out);
    assert_true(report_render_csv(&meta, r, 3, &out));
    assert_non_null(strstr(out.data, "\"DMS validation 1/3 tables validated, 2 failures in app/public.a,app/public.c; "
                                     "apply exceptions 0\",\"app/public.a ins=5 upd=2 del=1 ddl=0 load=100 "
                                     "validation=Mismatched records; app/public.b ins=0 upd=0 del=0 ddl=? load=? "
                                     "validation=-; +3 more tables\"\r\n"));
    assert_non_null(strstr(out.data, "\"DMS validation not run; apply exceptions 4\",\"\"\r\n"));
    dbuf_free(&out);
}

static void test_csv(void **state)
{
    (void)state;
    report_row r[3];
    rows(r);
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(report_render_csv(&meta, r, 3, &out));
    assert_true(strncmp(out.data, "\"instance\",\"campaign\",\"state\"", 29) == 0);
    assert_non_null(strstr(out.data, "\"orders-db\",\"c1\",\"done\",\"pg-logical\",\"false\",\"\",\"true\",\"arn:aws:kms:us-east-1:123456789012:key/k1\",\"2026-11-23T22:00:00Z\",\"1.400\",\"120007\",\"2\""));
    /* formula neutralised and quotes doubled */
    assert_non_null(strstr(out.data, "\"'=HYPERLINK(\"\"http://x\"\") <script>alert(1)</script>\",\"\",\"\",\"\",\"false\",\"\",\"\",\"\",\"\",\"\"\r\n"));
    int lines = 0;
    for (const char *p = out.data; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 4);
    dbuf_free(&out);
}

static void test_html(void **state)
{
    (void)state;
    report_row r[3];
    rows(r);
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(report_render_html(&meta, r, 3, &out));
    assert_null(strstr(out.data, "<script>"));
    assert_non_null(strstr(out.data, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(out.data, "<b id=\"n-instances\">3</b>"));
    assert_non_null(strstr(out.data, "<b id=\"n-rows\">120007</b>"));
    assert_non_null(strstr(out.data, "data-instance=\"billing-db\""));
    assert_non_null(strstr(out.data, "&quot;Sales&quot;.&quot;Q&lt;1&gt;&quot;"));
    assert_non_null(strstr(out.data, "<td class=\"num downtime\">1.400</td>"));
    assert_non_null(strstr(out.data, "</html>\n"));
    dbuf_free(&out);
}

/* orders-db migrated (done, now encrypted), free-db never in a campaign. */
static void select_rows(report_row r[2])
{
    memset(r, 0, 2 * sizeof *r);
    snprintf(r[0].instance, sizeof r[0].instance, "orders-db");
    snprintf(r[0].campaign, sizeof r[0].campaign, "c1");
    snprintf(r[0].state, sizeof r[0].state, "done");
    snprintf(r[0].strategy, sizeof r[0].strategy, "offline");
    r[0].encrypted_after = r[0].encrypted_now = r[0].now_known = true;
    snprintf(r[0].key_after, sizeof r[0].key_after, "arn:k1");
    snprintf(r[0].key_now, sizeof r[0].key_now, "arn:k1");
    snprintf(r[0].enc_before, sizeof r[0].enc_before, "none");
    snprintf(r[0].enc_after, sizeof r[0].enc_after, "kms-customer-managed");
    snprintf(r[0].enc_now, sizeof r[0].enc_now, "kms-customer-managed");
    snprintf(r[0].engine, sizeof r[0].engine, "postgres");
    r[0].downtime_s = 2.5;
    r[0].rows_verified = -1;
    snprintf(r[1].instance, sizeof r[1].instance, "free-db");
    snprintf(r[1].state, sizeof r[1].state, "not-migrated");
    snprintf(r[1].engine, sizeof r[1].engine, "postgres");
    snprintf(r[1].error, sizeof r[1].error, REPORT_NOT_MIGRATED);
    r[1].now_known = true;
    snprintf(r[1].enc_now, sizeof r[1].enc_now, "none");
    snprintf(r[1].enc_before, sizeof r[1].enc_before, "ignored");   /* n/a for an unmanaged row */
    r[1].unmanaged = true;
    r[1].downtime_s = -1;
    r[1].rows_verified = -1;
}

static void test_select_rows(void **state)
{
    (void)state;
    report_row r[2];
    select_rows(r);
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(report_render_json(&meta, r, 2, &out));
    json_t *root = json_loads(out.data, 0, NULL);
    assert_non_null(root);
    json_t *a = json_array_get(json_object_get(root, "instances"), 0);
    json_t *b = json_array_get(json_object_get(root, "instances"), 1);
    assert_true(json_is_true(json_object_get(a, "migrated_by_fleetcrypt")));
    assert_true(json_is_true(json_object_get(a, "encrypted_now")));
    assert_string_equal(json_string_value(json_object_get(a, "key_now")), "arn:k1");
    assert_string_equal(json_string_value(json_object_get(a, "campaign")), "c1");
    assert_true(json_is_false(json_object_get(a, "encrypted_before")));
    assert_true(json_is_null(json_object_get(b, "campaign")));
    assert_true(json_is_null(json_object_get(b, "encrypted_before")));
    assert_true(json_is_null(json_object_get(b, "encrypted_after")));
    assert_true(json_is_null(json_object_get(b, "encryption_before")));
    assert_string_equal(json_string_value(json_object_get(b, "encryption_now")), "none");
    assert_string_equal(json_string_value(json_object_get(a, "encryption_before")), "none");
    assert_string_equal(json_string_value(json_object_get(a, "encryption_after")), "kms-customer-managed");
    assert_true(json_is_false(json_object_get(b, "encrypted_now")));
    assert_true(json_is_null(json_object_get(b, "key_now")));
    assert_true(json_is_false(json_object_get(b, "migrated_by_fleetcrypt")));
    assert_string_equal(json_string_value(json_object_get(b, "engine")), "postgres");
    assert_string_equal(json_string_value(json_object_get(b, "error")), "not migrated by fleetcrypt");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "summary"), "not_migrated")), 1);
    json_decref(root);

    dbuf_reset(&out);
    assert_true(report_render_csv(&meta, r, 2, &out));
    assert_non_null(strstr(out.data, ",\"engine\",\"encrypted_now\",\"key_now\",\"migrated_by_fleetcrypt\","
                                     "\"encryption_before\",\"encryption_after\",\"encryption_now\",\"dms_evidence\",\"dms_tables\"\r\n"));
    assert_non_null(strstr(out.data, "\"free-db\",\"\",\"not-migrated\",\"\",\"\",\"\",\"\",\"\","));
    assert_non_null(strstr(out.data, "\"not migrated by fleetcrypt\",\"postgres\",\"false\",\"\",\"false\",\"\",\"\",\"none\",\"\",\"\"\r\n"));
    assert_non_null(strstr(out.data, "\"postgres\",\"true\",\"arn:k1\",\"true\",\"none\",\"kms-customer-managed\","
                                     "\"kms-customer-managed\",\"\",\"\"\r\n"));

    dbuf_reset(&out);
    assert_true(report_render_html(&meta, r, 2, &out));
    assert_non_null(strstr(out.data, "<b id=\"n-not-migrated\">1</b>"));
    assert_non_null(strstr(out.data, "<td class=\"before\"></td><td class=\"after\"></td>"));
    assert_non_null(strstr(out.data, "<td class=\"now\">unencrypted</td><td class=\"migrated\">not migrated by fleetcrypt</td>"));
    assert_non_null(strstr(out.data, "<td class=\"now\">encrypted arn:k1</td><td class=\"migrated\">yes</td>"
                                     "<td class=\"enc-before\">none</td><td class=\"enc-after\">kms-customer-managed</td>"));
    assert_non_null(strstr(out.data, "<td class=\"enc-before\"></td><td class=\"enc-after\"></td>"
                                     "<td class=\"enc-now\">none</td>"));
    dbuf_free(&out);
}

/* report -o table: a header, then one line per row whose whitespace-split
 * columns are instance, campaign, state, ...; "-" fills empty cells and
 * spaces inside a cell do not shift the columns. */
static void test_table(void **state)
{
    (void)state;
    report_row r[3];
    rows(r);
    snprintf(r[2].campaign, sizeof r[2].campaign, "c 1"); /* not a valid id, but never shift a column */
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(report_render_table(&meta, r, 3, &out));
    char *text = strndup(out.data, out.len);
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        char a[80], b[80], c[80], d[80], e[80], f[80], g[80], h[80], extra[8];
        int k = sscanf(line, "%79s %79s %79s %79s %79s %79s %79s %79s %7s", a, b, c, d, e, f, g, h, extra);
        if (k != 8) fail_msg("line %d has %d columns: %s", n, k, line);
        if (n == 0) {
            assert_string_equal(a, "INSTANCE");
            assert_string_equal(c, "STATE");
            continue;
        }
        assert_string_equal(a, r[n - 1].instance);
        assert_string_equal(c, r[n - 1].state);
        if (n == 1) {
            assert_string_equal(f, "2026-11-23T22:00:00Z");
            assert_string_equal(g, "1.4");
        }
        if (n == 2) assert_string_equal(g, "-");
    }
    assert_int_equal(n, 4);
    free(text);
    dbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_select_rows),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
