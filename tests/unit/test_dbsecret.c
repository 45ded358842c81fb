/* test_dbsecret — --db-secret references parse strictly, the file forms
 * (plain, default + per-instance) resolve, errors never quote the secret. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbsecret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_parse(void **state)
{
    (void)state;
    struct {
        const char *ref;
        bool ok;
        dbsecret_kind kind;
        const char *canon;
    } cases[] = {
        {NULL, true, DBSECRET_RDS_MANAGED, "rds-managed"},
        {"", true, DBSECRET_RDS_MANAGED, "rds-managed"},
        {"rds-managed", true, DBSECRET_RDS_MANAGED, "rds-managed"},
        {"arn:aws:secretsmanager:us-east-1:123456789012:secret:app-db-AbCdEf", true, DBSECRET_ARN,
         "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-db-AbCdEf"},
        {"file:/etc/fleetcrypt/db.json", true, DBSECRET_FILE, "file:/etc/fleetcrypt/db.json"},
        {"file:relative.json", false, 0, NULL},
        {"arn:aws:s3:::bucket", false, 0, NULL},
        {"hunter2", false, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dbsecret_ref r;
        char err[256] = "", canon[1100];
        bool ok = dbsecret_parse(cases[i].ref, &r, err, sizeof err);
        if (ok != cases[i].ok) fail_msg("case %zu (%s): expected %d got %d (%s)", i, cases[i].ref ? cases[i].ref : "NULL", cases[i].ok, ok, err);
        if (!ok) {
            assert_null(strstr(err, "hunter2"));
            continue;
        }
        assert_int_equal(r.kind, cases[i].kind);
        dbsecret_format(&r, canon, sizeof canon);
        assert_string_equal(canon, cases[i].canon);
    }
}

static void test_json_forms(void **state)
{
    (void)state;
    db_credentials c;
    char err[256];
    assert_true(dbsecret_from_json("{\"username\":\"app\",\"password\":\"pw1\",\"engine\":\"postgres\"}", "db1", &c, err, sizeof err));
    assert_string_equal(c.username, "app");
    assert_string_equal(c.password, "pw1");
    const char *file = "{\"default\":{\"username\":\"u0\",\"password\":\"p0\"},"
                       "\"instances\":{\"db2\":{\"username\":\"u2\",\"password\":\"p2\"}}}";
    assert_true(dbsecret_from_json(file, "db2", &c, err, sizeof err));
    assert_string_equal(c.username, "u2");
    assert_true(dbsecret_from_json(file, "db9", &c, err, sizeof err));
    assert_string_equal(c.password, "p0");
    assert_false(dbsecret_from_json("{\"instances\":{\"db2\":{\"username\":\"u2\",\"password\":\"p2\"}}}", "db3", &c, err, sizeof err));
    assert_non_null(strstr(err, "db3"));
    assert_false(dbsecret_from_json("{\"username\":\"u\"}", "db1", &c, err, sizeof err));
    assert_false(dbsecret_from_json("not json s3cr3t-value", "db1", &c, err, sizeof err));
    assert_null(strstr(err, "s3cr3t"));
}

static void test_resolve_file(void **state)
{
    (void)state;
    char path[] = "/tmp/fc-dbsecret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *body = "{\"username\":\"fc\",\"password\":\"secret-pw\"}";
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    char ref[128], err[256];
    snprintf(ref, sizeof ref, "file:%s", path);
    dbsecret_ref r;
    assert_true(dbsecret_parse(ref, &r, err, sizeof err));
    db_credentials *c = NULL;
    assert_true(dbsecret_resolve(NULL, &r, "db1", NULL, &c, err, sizeof err));
    assert_string_equal(c->password, "secret-pw");
    db_credentials_free(c);
    /* the version-aware form: same credentials, a file has no version */
    char ver[64] = "stale";
    c = NULL;
    assert_true(dbsecret_resolve_version(NULL, &r, "db1", NULL, "v-ignored", &c, ver, sizeof ver, err, sizeof err));
    assert_string_equal(c->username, "fc");
    assert_string_equal(c->password, "secret-pw");
    assert_string_equal(ver, "");
    db_credentials_free(c);
    unlink(path);
    assert_false(dbsecret_resolve(NULL, &r, "db1", NULL, &c, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    /* rds-managed without a secret ARN on the instance: a clear reason */
    assert_true(dbsecret_parse("rds-managed", &r, err, sizeof err));
    assert_false(dbsecret_resolve(NULL, &r, "db1", "", &c, err, sizeof err));
    assert_non_null(strstr(err, "ManageMasterUserPassword"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_json_forms),
        cmocka_unit_test(test_resolve_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
