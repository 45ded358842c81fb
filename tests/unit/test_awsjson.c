/* test_awsjson — JSON 1.1 parsing under hostile input and __type decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "awsjson.h"

static const char *KEY =
    "{\"KeyMetadata\":{\"KeyId\":\"1234abcd\",\"Arn\":\"arn:aws:kms:us-east-1:123456789012:key/"
    "1234abcd\",\"Enabled\":true,\"KeyState\":\"Enabled\",\"KeyManager\":\"CUSTOMER\","
    "\"CreationDate\":1.6E9}}";

static void test_parse_getters(void **state)
{
    (void)state;
    json_t *j = NULL;
    aws_error err;
    assert_true(aws_json_parse(KEY, strlen(KEY), NULL, &j, &err));
    const json_t *m = json_object_get(j, "KeyMetadata");
    char buf[128];
    bool b = false;
    double d = 0;
    assert_true(aws_json_str(m, "KeyId", buf, sizeof(buf)));
    assert_string_equal(buf, "1234abcd");
    assert_true(aws_json_bool(m, "Enabled", &b));
    assert_true(b);
    assert_true(aws_json_number(m, "CreationDate", &d));
    assert_true(d > 1.5e9);
    assert_false(aws_json_str(m, "Enabled", buf, sizeof(buf))); /* wrong type */
    assert_false(aws_json_str(m, "Missing", buf, sizeof(buf)));
    json_decref(j);
}

static void expect_fail(const char *doc, size_t len, const aws_json_limits *lim, const char *code)
{
    json_t *j = NULL;
    aws_error err;
    memset(&err, 0, sizeof(err));
    if (aws_json_parse(doc, len, lim, &j, &err)) {
        json_decref(j);
        fail_msg("expected %s, parse succeeded", code);
    }
    assert_null(j);
    if (strcmp(err.code, code)) fail_msg("expected %s, got %s (%s)", code, err.code, err.message);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t n = strlen(KEY);
    for (size_t cut = 1; cut < n; cut += 3) expect_fail(KEY, cut, NULL, "ParseError");
    expect_fail("", 0, NULL, "ParseError");
    expect_fail("{\"a\":1,\"a\":2}", 13, NULL, "ParseError"); /* duplicate keys */
    expect_fail("{\"a\":\"\\u0000\"}", 14, NULL, "ParseError");
    expect_fail("\xff\xfe{}", 4, NULL, "ParseError");
}

static void test_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 200000;
    char *doc = malloc(depth * 2 + 1);
    assert_non_null(doc);
    memset(doc, '[', depth);
    memset(doc + depth, ']', depth);
    expect_fail(doc, depth * 2, NULL, "JsonTooDeep");
    /* brackets inside strings do not count */
    const char *s = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    json_t *j = NULL;
    aws_error err;
    assert_true(aws_json_parse(s, strlen(s), NULL, &j, &err));
    json_decref(j);
    free(doc);
}

static void test_oversized(void **state)
{
    (void)state;
    aws_json_limits lim;
    aws_json_limits_default(&lim);
    lim.max_bytes = 10;
    expect_fail(KEY, strlen(KEY), &lim, "ResponseTooLarge");
}

static void test_error_type(void **state)
{
    (void)state;
    struct {
        const char *body, *code;
    } cases[] = {
        {"{\"__type\":\"com.amazonaws.kms#ThrottlingException\",\"message\":\"slow down\"}",
         "ThrottlingException"},
        {"{\"__type\":\"KMSInternalException\",\"Message\":\"x\"}", "KMSInternalException"},
        {"{\"__type\":\"NotFoundException:http://internal.amazon.com/coral/x/\"}",
         "NotFoundException"},
        {"{\"__type\":\"ResourceNotFoundException\",\"Message\":\"no secret\"}",
         "ResourceNotFoundException"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        aws_error err;
        memset(&err, 0, sizeof(err));
        assert_true(aws_json_parse_error(cases[i].body, strlen(cases[i].body), &err));
        assert_string_equal(err.code, cases[i].code);
    }
    aws_error err;
    assert_false(aws_json_parse_error("{\"x\":1}", 7, &err));
    assert_false(aws_json_parse_error("<xml/>", 6, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_getters), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_deep_nesting),  cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_error_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
