/* test_pgq — quoting and connection strings without a server: libpq
 * connection-string quoting, the redacted description (no password),
 * identifier/literal quoting through libpq (on a connection object that
 * never connected), pgq_format templates, and pgl_db's derived names and
 * passwords. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgq.h"
#include "pgl_db.h"

/* A PGconn that never connected: enough for PQescapeIdentifier/Literal. */
static pgq *offline(void)
{
    pgq *q = calloc(1, sizeof *q);
    q->conn = PQconnectStart("host=127.0.0.1 port=1 dbname=x connect_timeout=1");
    assert_non_null(q->conn);
    return q;
}

static void test_conninfo_quoting(void **state)
{
    (void)state;
    static const struct {
        const char *key, *val, *want;
    } T[] = {
        {"host", "db.example.com", "host='db.example.com'"},
        {"password", "it's", "password='it\\'s'"},
        {"password", "back\\slash", "password='back\\\\slash'"},
        {"dbname", "my db", "dbname='my db'"},
        {"dbname", "", "dbname=''"},
        {"user", "ünïcødé", "user='ünïcødé'"},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        dbuf b;
        dbuf_init(&b, 1024);
        assert_true(pgq_conninfo_append(&b, T[i].key, T[i].val));
        assert_string_equal(b.data, T[i].want);
        dbuf_free(&b);
    }
}

static void test_conninfo_string_and_describe(void **state)
{
    (void)state;
    pgq_conninfo ci = {.host = "h", .port = 6543, .dbname = "d b", .user = "u", .password = "p'w",
                       .sslmode = "verify-full", .sslrootcert = "/etc/rds-ca.pem"};
    dbuf b;
    dbuf_init(&b, 4096);
    assert_true(pgq_conninfo_string(&ci, &b));
    /* a server uses this string: require instead of verify-full, no CA path of ours */
    assert_string_equal(b.data, "host='h' port='6543' dbname='d b' user='u' password='p\\'w' "
                                "sslmode='require' application_name='fleetcrypt'");
    /* libpq must read back exactly what we meant */
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(b.data, &errmsg);
    assert_non_null(opts);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0) assert_string_equal(o->val, "p'w");
        if (strcmp(o->keyword, "dbname") == 0) assert_string_equal(o->val, "d b");
    }
    PQconninfoFree(opts);
    dbuf_free_secure(&b);

    char desc[256];
    pgq_conninfo_describe(&ci, desc, sizeof desc);
    assert_null(strstr(desc, "p'w"));
    assert_non_null(strstr(desc, "sslmode=verify-full"));
    /* defaults: verify-full (no TLS variable set) */
    unsetenv("FLEETCRYPT_PG_SSLMODE");
    unsetenv("PGSSLMODE");
    pgq_conninfo d0 = {.host = "h"};
    pgq_conninfo_describe(&d0, desc, sizeof desc);
    assert_non_null(strstr(desc, "sslmode=verify-full"));
    assert_non_null(strstr(desc, "port=5432"));
}

static void clear_tls_env(void)
{
    unsetenv("FLEETCRYPT_PG_SSLMODE");
    unsetenv("FLEETCRYPT_PG_SSLROOTCERT");
    unsetenv("FLEETCRYPT_RDS_CA_BUNDLE");
    unsetenv("PGSSLMODE");
    unsetenv("PGSSLROOTCERT");
}

static void test_tls_defaults(void **state)
{
    (void)state;
    clear_tls_env();
    /* nothing set: verify-full, libpq's own root certificate default */
    assert_string_equal(pgq_default_sslmode(), "verify-full");
    assert_null(pgq_default_sslrootcert());
    /* libpq's variables are honoured when fleetcrypt's are unset */
    setenv("PGSSLMODE", "require", 1);
    setenv("PGSSLROOTCERT", "/libpq/root.crt", 1);
    assert_string_equal(pgq_default_sslmode(), "require");
    assert_string_equal(pgq_default_sslrootcert(), "/libpq/root.crt");
    /* the RDS CA bundle wins over PGSSLROOTCERT; FLEETCRYPT_PG_SSLROOTCERT over both */
    setenv("FLEETCRYPT_RDS_CA_BUNDLE", "/rds/bundle.pem", 1);
    assert_string_equal(pgq_default_sslrootcert(), "/rds/bundle.pem");
    setenv("FLEETCRYPT_PG_SSLROOTCERT", "/fc/root.pem", 1);
    assert_string_equal(pgq_default_sslrootcert(), "/fc/root.pem");
    /* FLEETCRYPT_PG_SSLMODE wins over PGSSLMODE; empty means unset */
    setenv("FLEETCRYPT_PG_SSLMODE", "verify-ca", 1);
    assert_string_equal(pgq_default_sslmode(), "verify-ca");
    setenv("FLEETCRYPT_PG_SSLMODE", "", 1);
    assert_string_equal(pgq_default_sslmode(), "require");
    unsetenv("PGSSLMODE");
    assert_string_equal(pgq_default_sslmode(), "verify-full");

    /* a connection without an explicit mode takes the default */
    pgq_conninfo ci = {.host = "h", .dbname = "d"};
    char desc[256];
    pgq_conninfo_describe(&ci, desc, sizeof desc);
    assert_non_null(strstr(desc, "sslmode=verify-full"));
    clear_tls_env();
}

static void test_server_side_sslmode(void **state)
{
    (void)state;
    /* what a subscription on the target server uses: it cannot read our CA file */
    assert_string_equal(pgq_server_sslmode("verify-full"), "require");
    assert_string_equal(pgq_server_sslmode("verify-ca"), "require");
    assert_string_equal(pgq_server_sslmode("require"), "require");
    assert_string_equal(pgq_server_sslmode("prefer"), "prefer");
    assert_string_equal(pgq_server_sslmode("allow"), "allow");
    assert_string_equal(pgq_server_sslmode("disable"), "disable");
    clear_tls_env();
    assert_string_equal(pgq_server_sslmode(NULL), "require"); /* the default is verify-full */
}

static void test_redact(void **state)
{
    (void)state;
    static const struct {
        const char *in, *secret, *want;
    } T[] = {
        {"password=s3cret failed", "s3cret", "password=*** failed"},
        {"a s3cret b s3cret", "s3cret", "a *** b ***"},
        /* libpq-quoted (\' and \\) and SQL-quoted ('') forms of the secret */
        {"password='it\\'s\\\\x'", "it's\\x", "password='***'"},
        {"CONNECTION 'password=''it\\''s'''", "it's", "CONNECTION 'password=''***'''"},
        {"nothing here", "s3cret", "nothing here"},
        {"empty secret keeps text", "", "empty secret keeps text"},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        char buf[256];
        strcpy(buf, T[i].in);
        pgq_redact(buf, T[i].secret);
        assert_string_equal(buf, T[i].want);
    }
    pgq_redact(NULL, "x"); /* accepts NULL */
    char b2[32] = "keep";
    pgq_redact(b2, NULL);
    assert_string_equal(b2, "keep");
}

static void test_escaping(void **state)
{
    (void)state;
    pgq *q = offline();
    static const struct {
        const char *in, *ident, *lit;
    } T[] = {
        {"plain", "\"plain\"", "'plain'"},
        {"Upper Case", "\"Upper Case\"", "'Upper Case'"},
        {"we\"ird", "\"we\"\"ird\"", "'we\"ird'"},
        {"it's", "\"it's\"", "'it''s'"},
        {"ünï", "\"ünï\"", "'ünï'"},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        char *id = pgq_ident(q, T[i].in);
        char *li = pgq_literal(q, T[i].in);
        assert_non_null(id);
        assert_non_null(li);
        assert_string_equal(id, T[i].ident);
        assert_string_equal(li, T[i].lit);
        PQfreemem(id);
        PQfreemem(li);
    }
    /* backslashes in literals: libpq switches to E'' form */
    char *li = pgq_literal(q, "a\\b");
    assert_non_null(li);
    assert_string_equal(li, " E'a\\\\b'");
    PQfreemem(li);

    const char *args[] = {"My \"Table\"", "x'y", "1, 2"};
    char *s = pgq_format(q, "SELECT %L FROM %I -- %R 100%%", 3, (const char *const[]){args[1], args[0], args[2]});
    assert_non_null(s);
    assert_string_equal(s, "SELECT 'x''y' FROM \"My \"\"Table\"\"\" -- 1, 2 100%");
    free(s);
    /* wrong argument counts are refused, not guessed */
    assert_null(pgq_format(q, "%I %I", 1, args));
    assert_null(pgq_format(q, "%I", 2, args));
    assert_null(pgq_format(q, "%s", 1, args));
    pgq_close(q);
}

static void test_names_and_passwords(void **state)
{
    (void)state;
    pgl_db_names a, b;
    char err[256];
    assert_true(pgl_names_make("c1_db1", "app", &a, err, sizeof err));
    assert_true(pgl_names_make("c1_db1", "other db", &b, err, sizeof err));
    assert_string_equal(a.publication, "fc_c1_db1");
    assert_string_equal(a.admin_role, "fc_c1_db1_admin");
    assert_string_not_equal(a.slot, b.slot); /* slots are instance-wide: one per database */
    assert_true(strlen(a.slot) < 64);
    assert_false(pgl_names_make("", "app", &a, err, sizeof err));
    assert_false(pgl_names_make("Bad", "app", &a, err, sizeof err));
    assert_false(pgl_names_make("a-b", "app", &a, err, sizeof err));
    assert_false(pgl_names_make("a23456789012345678901234567890123456789012", "app", &a, err, sizeof err));

    char p1[65], p2[65], p3[65];
    assert_true(pgl_derive_password("master", "admin", "t1", p1));
    assert_true(pgl_derive_password("master", "admin", "t1", p2));
    assert_true(pgl_derive_password("master", "sub", "t1", p3));
    assert_string_equal(p1, p2);
    assert_string_not_equal(p1, p3);
    assert_int_equal(strlen(p1), 64);
    assert_false(pgl_derive_password("", "admin", "t1", p1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conninfo_quoting),
        cmocka_unit_test(test_conninfo_string_and_describe),
        cmocka_unit_test(test_tls_defaults),
        cmocka_unit_test(test_server_side_sslmode),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_names_and_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
