/* test_log — key=value and JSON lines carry the fixed keys and the step
 * context, quote free text, and JSON output parses field by field; JSON
 * values are typed; lines are valid UTF-8 and never cut. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* noinline: inlined, GCC's -Wdangling-pointer (optimized builds) takes the
 * buffer open_memstream returns through &buf for a pointer to the local */
__attribute__((noinline)) static char *capture(void (*emit)(void))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    log_set_stream(f);
    emit();
    log_set_stream(NULL);
    fclose(f);
    return buf;
}

static void emit_kv(void)
{
    log_ctx_set("c1", "db-1", "snapshot", 2);
    log_info("snapshot started", "snapshot=%s progress=%d", "fc-c1-db-1-snap", 40);
    log_ctx_clear();
    log_debug("hidden", "x=%d", 1);
}

static void test_kv_format(void **state)
{
    (void)state;
    unsetenv("FLEETCRYPT_LOG_FORMAT");
    unsetenv("FLEETCRYPT_LOG_LEVEL");
    log_init("worker");
    char *out = capture(emit_kv);
    assert_non_null(strstr(out, " level=info svc=worker campaign=c1 instance=db-1 step=snapshot attempt=2 msg=\"snapshot started\" snapshot=fc-c1-db-1-snap progress=40\n"));
    assert_true(strncmp(out, "ts=", 3) == 0);
    assert_null(strstr(out, "hidden"));
    free(out);
}

static void emit_json(void)
{
    log_ctx_set("c1", "db-1", NULL, 0);
    log_warn("quote \" and newline\n", "reason=\"a b\" n=3");
    log_ctx_clear();
}

static void test_json_format(void **state)
{
    (void)state;
    setenv("FLEETCRYPT_LOG_FORMAT", "json", 1);
    log_init("coordinator");
    char *out = capture(emit_json);
    assert_non_null(strstr(out, "\"level\":\"warn\""));
    assert_non_null(strstr(out, "\"campaign\":\"c1\""));
    assert_non_null(strstr(out, "\"msg\":\"quote \\\" and newline\\n\""));
    assert_non_null(strstr(out, "\"reason\":\"a b\""));
    assert_non_null(strstr(out, "\"n\":3}")); /* a number is a number */
    free(out);
    unsetenv("FLEETCRYPT_LOG_FORMAT");
    log_init("coordinator");
}

static void emit_typed(void)
{
    log_ctx_set("c1", "db-1", "copy", 3);
    log_info("typed", "n=42 neg=-7 ratio=0.25 big=1e3 id=007 acct=012345678901 quoted=\"12\" ok=true word=abc "
                      "ver=1.2.3 dash=-");
    log_ctx_clear();
}

static json_t *parse_line(const char *out)
{
    size_t l = strlen(out);
    assert_true(l > 1 && out[l - 1] == '\n');
    assert_null(memchr(out, '\n', l - 1)); /* one line */
    json_error_t e;
    json_t *j = json_loadb(out, l - 1, 0, &e);
    if (!j) fail_msg("not one JSON object (%s): %.200s", e.text, out);
    return j;
}

/* JSON values keep their type: what reads as a JSON number (or true/false)
 * and was not quoted by the caller is a number; ids with a leading zero,
 * versions and quoted values stay strings; attempt is a number. */
static void test_json_typed_values(void **state)
{
    (void)state;
    setenv("FLEETCRYPT_LOG_FORMAT", "json", 1);
    log_init("worker");
    char *out = capture(emit_typed);
    json_t *j = parse_line(out);
    assert_true(json_is_integer(json_object_get(j, "n")) && json_integer_value(json_object_get(j, "n")) == 42);
    assert_true(json_is_integer(json_object_get(j, "neg")));
    assert_true(json_is_real(json_object_get(j, "ratio")));
    assert_true(json_is_number(json_object_get(j, "big")));
    assert_true(json_is_integer(json_object_get(j, "attempt")) && json_integer_value(json_object_get(j, "attempt")) == 3);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "id")), "007");
    assert_string_equal(json_string_value(json_object_get(j, "acct")), "012345678901");
    assert_string_equal(json_string_value(json_object_get(j, "quoted")), "12");
    assert_string_equal(json_string_value(json_object_get(j, "word")), "abc");
    assert_string_equal(json_string_value(json_object_get(j, "ver")), "1.2.3");
    assert_string_equal(json_string_value(json_object_get(j, "dash")), "-");
    json_decref(j);
    free(out);
    unsetenv("FLEETCRYPT_LOG_FORMAT");
    log_init("worker");
}

static char g_long[20000];

static void emit_bad(void)
{
    log_warn("bad \xff\xfe utf-8 \xe2\x82 and a cut \xe2\x82\xac euro", "detail=\"\xc3(\" name=ok\xc0\xaf");
    log_info("long", "detail=\"%s\" after=1", g_long);
}

/* Never an invalid line: bytes that are not UTF-8 become U+FFFD (valid
 * sequences such as the euro sign stay), and a line too long for the
 * buffer is shortened value by value, marked log_truncated, still one
 * complete JSON object (or balanced key=value line) and one line. */
static void test_valid_utf8_and_never_cut(void **state)
{
    (void)state;
    memset(g_long, 'x', sizeof g_long - 1);
    g_long[100] = '"'; /* escaped, then cut: never a dangling escape */
    setenv("FLEETCRYPT_LOG_FORMAT", "json", 1);
    log_init("worker");
    char *out = capture(emit_bad);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = 0;
    char first[4096];
    snprintf(first, sizeof first, "%s\n", out);
    json_t *j = parse_line(first); /* jansson refuses invalid UTF-8 */
    assert_non_null(strstr(json_string_value(json_object_get(j, "msg")), "\xe2\x82\xac euro"));
    assert_non_null(strstr(json_string_value(json_object_get(j, "msg")), "\xef\xbf\xbd"));
    json_decref(j);
    j = parse_line(nl + 1);
    assert_true(json_is_true(json_object_get(j, "log_truncated")));
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "long");
    assert_true(strlen(json_string_value(json_object_get(j, "detail"))) < sizeof g_long);
    json_decref(j);
    free(out);

    unsetenv("FLEETCRYPT_LOG_FORMAT");
    log_init("worker");
    out = capture(emit_bad);
    size_t lines = 0, quotes = 0;
    for (const char *p = out; *p; p++) {
        if (*p == '\n') {
            lines++;
            assert_int_equal(quotes % 2, 0); /* every quoted value closed on its line */
            quotes = 0;
        } else if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '"') {
            quotes++;
        }
    }
    assert_int_equal(lines, 2);
    assert_non_null(strstr(out, "log_truncated=true"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_format),
        cmocka_unit_test(test_json_format),
        cmocka_unit_test(test_json_typed_values),
        cmocka_unit_test(test_valid_utf8_and_never_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
