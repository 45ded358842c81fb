/* test_pgq — quoting and connection strings without a server: libpq
 * connection-string quoting, the redacted description (no password),
 * identifier/literal quoting through libpq (on a connection object that
 * never connected), pgq_format templates, and pgrepl's derived names and
 * passwords. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgq.h"
#include "pgrepl.h"

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
    assert_string_equal(b.data, "host='h' port='6543' dbname='d b' user='u' password='p\\'w' "
                                "sslmode='verify-full' sslrootcert='/etc/rds-ca.pem' "
                                "application_name='fleetcrypt'");
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
    /* defaults: prefer locally */
    pgq_conninfo d0 = {.host = "h"};
    pgq_conninfo_describe(&d0, desc, sizeof desc);
    assert_non_null(strstr(desc, "sslmode=prefer"));
    assert_non_null(strstr(desc, "port=5432"));
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
    pgrepl_names a, b;
    char err[256];
    assert_true(pgrepl_names_make("c1_db1", "app", &a, err, sizeof err));
    assert_true(pgrepl_names_make("c1_db1", "other db", &b, err, sizeof err));
    assert_string_equal(a.publication, "fc_c1_db1");
    assert_string_equal(a.admin_role, "fc_c1_db1_admin");
    assert_string_not_equal(a.slot, b.slot); /* slots are instance-wide: one per database */
    assert_true(strlen(a.slot) < 64);
    assert_false(pgrepl_names_make("", "app", &a, err, sizeof err));
    assert_false(pgrepl_names_make("Bad", "app", &a, err, sizeof err));
    assert_false(pgrepl_names_make("a-b", "app", &a, err, sizeof err));
    assert_false(pgrepl_names_make("a23456789012345678901234567890123456789012", "app", &a, err, sizeof err));

    char p1[65], p2[65], p3[65];
    assert_true(pgrepl_derive_password("master", "admin", "t1", p1));
    assert_true(pgrepl_derive_password("master", "admin", "t1", p2));
    assert_true(pgrepl_derive_password("master", "sub", "t1", p3));
    assert_string_equal(p1, p2);
    assert_string_not_equal(p1, p3);
    assert_int_equal(strlen(p1), 64);
    assert_false(pgrepl_derive_password("", "admin", "t1", p1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conninfo_quoting),
        cmocka_unit_test(test_conninfo_string_and_describe),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_names_and_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
