/* test_awsxml — Query encoding and hostile-input XML parsing: truncated,
 * oversized, DTD/entity expansion, external entities, deep nesting must all
 * give a clean error (ASan catches leaks and overruns). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"

/* append a literal, return its length */
static int sprintf_s_helper(char *dst, const char *lit)
{
    size_t l = strlen(lit);
    memcpy(dst, lit, l + 1);
    return (int)l;
}

static const char *OK_DOC =
    "<?xml version=\"1.0\"?>\n"
    "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
    "<DescribeDBInstancesResult><Marker>m1</Marker><DBInstances>"
    "<DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier><AllocatedStorage>20"
    "</AllocatedStorage><StorageEncrypted>false</StorageEncrypted></DBInstance>"
    "<DBInstance><DBInstanceIdentifier>db2 &amp; co</DBInstanceIdentifier></DBInstance>"
    "</DBInstances></DescribeDBInstancesResult>"
    "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
    "</DescribeDBInstancesResponse>";

static void test_parse_and_navigate(void **state)
{
    (void)state;
    aws_xml *x = NULL;
    aws_error err;
    assert_true(aws_xml_parse(OK_DOC, strlen(OK_DOC), NULL, &x, &err));
    const aws_xml_node *r = aws_xml_child(aws_xml_root(x), "DescribeDBInstancesResult");
    assert_non_null(r);
    char buf[64];
    assert_true(aws_xml_text(r, "Marker", buf, sizeof(buf)));
    assert_string_equal(buf, "m1");
    const aws_xml_node *n = aws_xml_find(r, "DBInstances/DBInstance");
    assert_non_null(n);
    int64_t v = 0;
    bool b = true;
    assert_true(aws_xml_int64(n, "AllocatedStorage", &v));
    assert_int_equal(v, 20);
    assert_true(aws_xml_bool(n, "StorageEncrypted", &b));
    assert_false(b);
    n = aws_xml_next_same(n);
    assert_true(aws_xml_text(n, "DBInstanceIdentifier", buf, sizeof(buf)));
    assert_string_equal(buf, "db2 & co");
    assert_null(aws_xml_next_same(n));
    assert_false(aws_xml_text(n, "Missing", buf, sizeof(buf)));
    assert_string_equal(buf, "");
    char small[2];
    assert_false(aws_xml_text(r, "Marker", small, sizeof(small))); /* truncated */
    aws_xml_free(x);
}

static void expect_fail(const char *doc, size_t len, const aws_xml_limits *lim, const char *code)
{
    aws_xml *x = NULL;
    aws_error err;
    memset(&err, 0, sizeof(err));
    bool ok = aws_xml_parse(doc, len, lim, &x, &err);
    if (ok) {
        aws_xml_free(x);
        fail_msg("expected %s, parse succeeded", code);
    }
    assert_null(x);
    if (strcmp(err.code, code)) fail_msg("expected code %s, got %s (%s)", code, err.code, err.message);
    assert_int_equal(err.kind, AWS_ERR_PERMANENT);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t n = strlen(OK_DOC);
    for (size_t cut = 1; cut < n - 1; cut += 7) expect_fail(OK_DOC, cut, NULL, "ParseError");
    expect_fail("", 0, NULL, "ParseError");
    expect_fail("<a><b></a>", 10, NULL, "ParseError");
    expect_fail("\x00\x01\x02", 3, NULL, "ParseError");
}

static void test_billion_laughs(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
        "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
        "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
        "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
        "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
        "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
        "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">"
        "]><lolz>&lol9;</lolz>";
    expect_fail(doc, strlen(doc), NULL, "XmlForbiddenDtd");
}

static void test_external_entity(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
                      "\"file:///etc/passwd\">]><r>&x;</r>";
    expect_fail(doc, strlen(doc), NULL, "XmlForbiddenDtd");
    const char *doc2 = "<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"http://127.0.0.1:1/x.dtd\"><r/>";
    expect_fail(doc2, strlen(doc2), NULL, "XmlForbiddenDtd");
    /* an undeclared entity reference is a well-formedness error, not expanded */
    const char *doc3 = "<r>&undeclared;</r>";
    aws_xml *x = NULL;
    aws_error err;
    if (aws_xml_parse(doc3, strlen(doc3), NULL, &x, &err)) {
        char buf[64];
        aws_xml_text(aws_xml_root(x), NULL, buf, sizeof(buf));
        assert_null(strstr(buf, "root:"));
        aws_xml_free(x);
    }
}

static void test_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 100000, n = 0;
    char *doc = malloc(depth * 7 + 16);
    assert_non_null(doc);
    for (size_t i = 0; i < depth; i++) n += (size_t)sprintf_s_helper(doc + n, "<a>");
    for (size_t i = 0; i < depth; i++) n += (size_t)sprintf_s_helper(doc + n, "</a>");
    /* libxml2's own limit (256) or ours (40), either way a clean error */
    aws_xml *x = NULL;
    aws_error err;
    assert_false(aws_xml_parse(doc, n, NULL, &x, &err));
    assert_null(x);
    free(doc);

    /* 50 levels: well-formed, but deeper than our limit of 40 */
    char d2[50 * 8 + 8];
    n = 0;
    for (int i = 0; i < 50; i++) n += (size_t)sprintf_s_helper(d2 + n, "<a>");
    n += (size_t)sprintf_s_helper(d2 + n, "x");
    for (int i = 0; i < 50; i++) n += (size_t)sprintf_s_helper(d2 + n, "</a>");
    expect_fail(d2, n, NULL, "XmlTooDeep");
}

static void test_oversized(void **state)
{
    (void)state;
    aws_xml_limits lim;
    aws_xml_limits_default(&lim);
    lim.max_bytes = 64;
    expect_fail(OK_DOC, strlen(OK_DOC), &lim, "ResponseTooLarge");
    aws_xml_limits_default(&lim);
    lim.max_nodes = 5;
    expect_fail(OK_DOC, strlen(OK_DOC), &lim, "XmlTooLarge");
}

static void test_error_body(void **state)
{
    (void)state;
    const char *e = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>"
                    "<Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance x not "
                    "found.</Message></Error><RequestId>abc-123</RequestId></ErrorResponse>";
    aws_error err;
    memset(&err, 0, sizeof(err));
    assert_true(aws_xml_parse_error(e, strlen(e), &err));
    assert_string_equal(err.code, "DBInstanceNotFound");
    assert_string_equal(err.request_id, "abc-123");
    assert_string_equal(err.message, "DBInstance x not found.");
    assert_false(aws_xml_parse_error("<html>oops</html>", 17, &err));
}

static void test_query_encoding(void **state)
{
    (void)state;
    aws_query q;
    const char *sgs[] = {"sg-1", "sg 2"};
    aws_query_init(&q, "DescribeDBInstances", "2014-10-31");
    aws_query_add(&q, "DBInstanceIdentifier", "a+b=c&d/é");
    aws_query_add(&q, "Skipped", NULL);
    aws_query_add_int(&q, "MaxRecords", 20);
    aws_query_add_bool(&q, "ApplyImmediately", true);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", sgs, 2);
    assert_false(q.failed);
    assert_string_equal(q.body.data,
                        "Action=DescribeDBInstances&Version=2014-10-31"
                        "&DBInstanceIdentifier=a%2Bb%3Dc%26d%2F%C3%A9&MaxRecords=20"
                        "&ApplyImmediately=true&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-1"
                        "&VpcSecurityGroupIds.VpcSecurityGroupId.2=sg%202");
    aws_query_free(&q);
}

static void test_free_secure(void **state)
{
    (void)state;
    const char *doc = "<R><Credentials><SecretAccessKey>s3cr3t</SecretAccessKey></Credentials></R>";
    aws_xml *x = NULL;
    aws_error err;
    assert_true(aws_xml_parse(doc, strlen(doc), NULL, &x, &err));
    aws_xml_free_secure(x);
    aws_xml_free_secure(NULL);
    aws_xml_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_navigate), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_billion_laughs),     cmocka_unit_test(test_external_entity),
        cmocka_unit_test(test_deep_nesting),       cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_error_body),         cmocka_unit_test(test_query_encoding),
        cmocka_unit_test(test_free_secure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
