/* test_myq — lib/my/myq's templates (identifiers backtick-quoted with
 * backticks doubled, literals escaped by Connector/C, malformed templates
 * refused), column lookup by either spelling, and mysql-binlog's binlog
 * position order (file sequence before offset). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "myq.h"
#include "util.h"
#include "strategies/mysqlbinlog/mb_common.h"

static void check(myq *q, const char *tmpl, int n, const char *const *args, const char *want)
{
    char *s = myq_format(q, tmpl, n, args);
    if (!want) {
        assert_null(s);
        return;
    }
    assert_non_null(s);
    assert_string_equal(s, want);
    myq_free_sql(s);
}

static void test_format(void **state)
{
    (void)state;
    myq *q = myq_unconnected();
    assert_non_null(q);
    const char *a1[] = {"we`ird", "it's \\ \"x\""};
    check(q, "SELECT %L FROM %I", 2, (const char *const[]){a1[1], a1[0]},
          "SELECT 'it\\'s \\\\ \\\"x\\\"' FROM `we``ird`");
    const char *a2[] = {"app", "t"};
    check(q, "%I.%I", 2, a2, "`app`.`t`");
    const char *a3[] = {"42"};
    check(q, "KILL %R; 100%%", 1, a3, "KILL 42; 100%");
    check(q, "%I %I", 1, a2, NULL);   /* too few arguments */
    check(q, "%I", 2, a2, NULL);      /* too many */
    check(q, "%s", 1, a2, NULL);      /* not a placeholder */
    const char *nul[] = {NULL};
    check(q, "%L", 1, nul, NULL);
    check(q, "", 0, NULL, "");
    myq_close(q);
}

static void test_get_either_spelling(void **state)
{
    (void)state;
    char *names[] = {strdup("Relay_Master_Log_File"), strdup("Exec_Master_Log_Pos")};
    char *cells[] = {strdup("mysql-bin-changelog.000002"), NULL};
    myq_res r = {.nrows = 1, .ncols = 2, .names = names, .cells = cells};
    assert_string_equal(myq_get(&r, 0, "Relay_Source_Log_File|Relay_Master_Log_File"), "mysql-bin-changelog.000002");
    assert_string_equal(myq_get(&r, 0, "relay_master_log_file"), "mysql-bin-changelog.000002");
    assert_null(myq_get(&r, 0, "Exec_Source_Log_Pos|Exec_Master_Log_Pos")); /* SQL NULL */
    assert_null(myq_get(&r, 0, "Relay_Source_Log_File"));
    assert_null(myq_get(&r, 1, "Relay_Master_Log_File"));
    free(names[0]);
    free(names[1]);
    free(cells[0]);
}

static void test_position_order(void **state)
{
    (void)state;
    assert_int_equal(mb_pos_cmp("b.000001", 10, "b.000001", 10), 0);
    assert_true(mb_pos_cmp("b.000001", 9, "b.000001", 10) < 0);
    assert_true(mb_pos_cmp("b.000002", 4, "b.000001", 900000) > 0);   /* a later file wins over a larger offset */
    assert_true(mb_pos_cmp("b.000999", 4, "b.001000", 4) < 0);
    assert_true(mb_pos_cmp("b.1000000", 4, "b.999999", 4) > 0);       /* past six digits */
}

static void test_versions(void **state)
{
    (void)state;
    assert_true(mb_version_at_least("8.0.36", 8, 0, 23));
    assert_false(mb_version_at_least("8.0.22", 8, 0, 23));
    assert_true(mb_version_at_least("8.4.3", 8, 0, 23));
    assert_true(mb_version_at_least("10.11.6", 10, 4, 0));
    assert_false(mb_version_at_least("10.3.39", 10, 4, 0));
    assert_true(mb_version_at_least("5.7.44", 5, 7, 6));
    assert_false(mb_version_at_least("", 5, 7, 6));
}

static void test_sql_error_where(void **state)
{
    (void)state;
    char w[160];
    mb_sql_error_where("Could not execute Write_rows_v1 event on table app.a; Duplicate entry '102' for key "
                       "'PRIMARY', Error_code: 1062",
                       w, sizeof w);
    assert_string_equal(w, " on table app.a");
    mb_sql_error_where("Duplicate entry 'secret' for key 'PRIMARY'", w, sizeof w);
    assert_string_equal(w, "");
    mb_sql_error_where(NULL, w, sizeof w);
    assert_string_equal(w, "");
}

/* A server that accepts (the kernel completes the TCP handshake) and never
 * says a word — a stopped mysqld: the connect gives up at its bound, well
 * before its 30 s read timeout, with the bound's error. */
static void test_silent_server_bound(void **state)
{
    (void)state;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 4), 0);
    socklen_t n = sizeof a;
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &n), 0);
    unsigned code = 0;
    char err[300] = "";
    int64_t t0 = fc_mono_ms();
    myq_opts o = {.host = "127.0.0.1", .port = ntohs(a.sin_port), .user = "u", .password = "p",
                  .timeout_s = 30, .code_out = &code, .answer_by = t0 + 300};
    myq *q = myq_connect(&o, err, sizeof err);
    assert_null(q);
    assert_non_null(strstr(err, "no answer from the server in time"));
    assert_true(myq_transient(code));
    /* gave up at the bound, not at the 30 s read timeout */
    assert_true(fc_mono_ms() - t0 < 30000);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_get_either_spelling),
        cmocka_unit_test(test_position_order),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_sql_error_where),
        cmocka_unit_test(test_silent_server_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
