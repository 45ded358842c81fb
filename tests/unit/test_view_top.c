/* test_view_top — the top screen fits 80×24 (no line wider, no more lines),
 * shows the counts, throughput and failures it was given, and the ETA and
 * one-line form are right; at other sizes (a resized terminal) it still
 * fits and the counts flow onto more lines instead of being cut. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "view_top.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static top_view sample(void)
{
    top_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.campaign, sizeof v.campaign, "q4-encrypt");
    snprintf(v.state, sizeof v.state, "running");
    snprintf(v.strategy, sizeof v.strategy, "pg-logical");
    v.total = 200;
    int counts[TOP_NSTATES] = {120, 12, 1, 60, 4, 3, 0};
    memcpy(v.counts, counts, sizeof counts);
    const char *steps[] = {"prepare-source", "snapshot", "copy-encrypted", "restore", "catch-up", "cutover"};
    for (int i = 0; i < 6; i++) {
        snprintf(v.steps[i].step, sizeof v.steps[i].step, "%s", steps[i]);
        v.steps[i].n = 2;
    }
    v.nsteps = 6;
    v.inst_per_hour_5m = 33.5;
    v.inst_per_hour_60m = 28.0;
    v.steps_per_minute = 4.2;
    v.api_rate = 7.5;
    v.api_budget = 10;
    v.throttles_5m = 2;
    for (int i = 0; i < TOP_MAX_LIST; i++) {
        snprintf(v.slowest[i].id, sizeof v.slowest[i].id, "orders-db-%02d", i);
        snprintf(v.slowest[i].step, sizeof v.slowest[i].step, "copy-encrypted");
        v.slowest[i].elapsed_s = 3600 + i * 61;
        v.slowest[i].attempts = 1;
        snprintf(v.failed[i].id, sizeof v.failed[i].id, "billing-db-%d", i);
        snprintf(v.failed[i].error, sizeof v.failed[i].error,
                 "needs parameter group change + reboot: rds.logical_replication=0 on a very long parameter group name");
    }
    v.nslowest = v.nfailed = TOP_MAX_LIST;
    return v;
}

static void check_fits(const char *screen, int cols, int rows)
{
    int nlines = 0;
    const char *p = screen;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        /* visible width: bytes minus escape sequences */
        int width = 0;
        for (const char *q = p; q < nl; q++) {
            if (*q == '\x1b') {
                while (q < nl && !((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))) q++;
                continue;
            }
            width++;
        }
        if (width > cols) fail_msg("line %d is %d wide (> %d): %.*s", nlines, width, cols, (int)(nl - p), p);
        nlines++;
        p = nl + 1;
    }
    if (nlines > rows - 1) fail_msg("%d lines on a %d-row terminal", nlines, rows);
}

static void test_screen_fits_80x24_and_shows_figures(void **state)
{
    (void)state;
    top_view v = sample();
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(top_render_screen(&v, 80, 24, &out));
    check_fits(out.data, 80, 24);
    assert_non_null(strstr(out.data, "campaign q4-encrypt"));
    assert_non_null(strstr(out.data, "67/200"));
    assert_non_null(strstr(out.data, "running 12"));
    assert_non_null(strstr(out.data, "done 60"));
    assert_non_null(strstr(out.data, "33.5 inst/h (5m)"));
    assert_non_null(strstr(out.data, "7.5/10.0 req/s"));
    assert_non_null(strstr(out.data, "copy-encrypted"));
    dbuf_free(&out);

    /* a tall terminal has room for the failures too */
    dbuf_init(&out, 1 << 20);
    assert_true(top_render_screen(&v, 100, 50, &out));
    check_fits(out.data, 100, 50);
    assert_non_null(strstr(out.data, "billing-db-4"));
    assert_non_null(strstr(out.data, "1h04m"));
    dbuf_free(&out);
}

/* The screen without escapes, lines joined by spaces: what a reader sees. */
static void visible(const char *screen, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *q = screen; *q && n + 1 < cap; q++) {
        if (*q == '\x1b') {
            while (*q && !((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))) q++;
            if (!*q) break;
            continue;
        }
        out[n++] = *q == '\n' ? ' ' : *q;
    }
    out[n] = 0;
}

static void test_screen_follows_terminal_size(void **state)
{
    (void)state;
    static const struct {
        int cols, rows;
        bool all_counts, throughput;
    } sizes[] = {{60, 20, true, true}, {40, 12, true, true}, {30, 8, true, false}, {120, 40, true, true},
                 {20, 5, false, false}, {8, 3, false, false}, {1, 1, false, false}};
    static const char *const counts[] = {"pending 120", "running 12", "approval 1", "done 60",
                                         "failed 4",    "skipped 3",  "aborted 0"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        top_view v = sample();
        dbuf out;
        dbuf_init(&out, 1 << 20);
        assert_true(top_render_screen(&v, sizes[i].cols, sizes[i].rows, &out));
        check_fits(out.data, sizes[i].cols, sizes[i].rows < 2 ? 2 : sizes[i].rows);
        char vis[8192];
        visible(out.data, vis, sizeof vis);
        if (sizes[i].all_counts)
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
                if (!strstr(vis, counts[c]))
                    fail_msg("%dx%d: '%s' missing from %s", sizes[i].cols, sizes[i].rows, counts[c], vis);
        if (sizes[i].throughput && !strstr(vis, "33.5 inst/h (5m)"))
            fail_msg("%dx%d: throughput missing from %s", sizes[i].cols, sizes[i].rows, vis);
        dbuf_free(&out);
    }
}

static void test_eta(void **state)
{
    (void)state;
    top_view v = sample();
    /* 133 left at 33.5/h */
    assert_true(fabs(top_eta_seconds(&v) - 133 / 33.5 * 3600) < 1e-6);
    v.inst_per_hour_5m = 0;
    assert_true(fabs(top_eta_seconds(&v) - 133 / 28.0 * 3600) < 1e-6);
    v.inst_per_hour_60m = 0;
    assert_true(top_eta_seconds(&v) < 0);
    memset(v.counts, 0, sizeof v.counts);
    v.counts[TOP_DONE] = 200;
    assert_true(top_eta_seconds(&v) == 0);
}

static void test_line_form(void **state)
{
    (void)state;
    top_view v = sample();
    dbuf out;
    dbuf_init(&out, 4096);
    assert_true(top_render_line(&v, &out));
    assert_null(strchr(out.data, '\x1b'));
    assert_non_null(strstr(out.data, "campaign=q4-encrypt state=running progress=67/200 pending=120 running=12"));
    assert_non_null(strstr(out.data, "eta=3h58m"));
    assert_int_equal(out.data[out.len - 1], '\n');
    dbuf_free(&out);
}

/* top -o json: one object and a newline; numbers are JSON numbers; an error
 * cut inside a UTF-8 sequence (or holding bytes that are not UTF-8) still
 * serializes, as U+FFFD. */
static void test_json_snapshot(void **state)
{
    (void)state;
    top_view v = sample();
    v.now_ms = 1767225600000LL;
    snprintf(v.failed[0].error, sizeof v.failed[0].error, "bad byte \xff and a cut \xc3");
    dbuf out;
    dbuf_init(&out, 1 << 20);
    assert_true(top_render_json(&v, &out));
    assert_true(out.len > 0 && out.data[out.len - 1] == '\n');
    assert_null(memchr(out.data, '\n', out.len - 1)); /* one line */
    json_error_t je;
    json_t *o = json_loadb(out.data, out.len, 0, &je);
    if (!o) fail_msg("not JSON: %s", je.text);
    assert_string_equal(json_string_value(json_object_get(o, "campaign")), "q4-encrypt");
    json_t *c = json_object_get(o, "counts");
    assert_true(json_is_integer(json_object_get(c, "pending")));
    assert_int_equal(json_integer_value(json_object_get(c, "pending")), 120);
    assert_int_equal(json_integer_value(json_object_get(c, "waiting_approval")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "total")), 200);
    assert_int_equal(json_integer_value(json_object_get(o, "finished")), 67);
    assert_true(json_is_number(json_object_get(json_object_get(o, "throughput"), "steps_per_minute")));
    assert_true(fabs(json_number_value(json_object_get(json_object_get(o, "throughput"), "instances_per_hour_5m")) -
                     33.5) < 1e-9);
    assert_true(json_is_number(json_object_get(o, "eta_s")));
    assert_int_equal(json_array_size(json_object_get(o, "steps")), 6);
    assert_int_equal(json_array_size(json_object_get(o, "slowest")), TOP_MAX_LIST);
    json_t *f0 = json_array_get(json_object_get(o, "failed"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "error")), "bad byte \xef\xbf\xbd and a cut \xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(o, "now")), "2026-01-01T00:00:00.000Z");
    json_decref(o);
    /* no rate yet: eta is null, not a made-up number */
    v.inst_per_hour_5m = v.inst_per_hour_60m = 0;
    dbuf_reset(&out);
    assert_true(top_render_json(&v, &out));
    o = json_loadb(out.data, out.len, 0, &je);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "eta_s")));
    json_decref(o);
    dbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screen_fits_80x24_and_shows_figures),
        cmocka_unit_test(test_screen_follows_terminal_size),
        cmocka_unit_test(test_eta),
        cmocka_unit_test(test_line_form),
        cmocka_unit_test(test_json_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
