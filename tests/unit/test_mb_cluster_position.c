/* test_mb_cluster_position — mysql-binlog's Aurora MySQL position source
 * (worker/strategies/mysqlbinlog/cluster.c): the restore's event "Binlog
 * position from crash recovery is FILE POS" parsed strictly, and only an
 * event of THIS restore taken: one of the target cluster, dated at or after
 * its creation; two are ambiguous (the caller refuses), an older one is
 * another restore's (counted, never taken), none is missing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mb_common.h"

static void test_parse(void **state)
{
    (void)state;
    char f[128];
    int64_t p = 0;
    assert_true(mb_parse_recovery_event("Binlog position from crash recovery is mysql-bin-changelog.000005 940", f,
                                        sizeof f, &p));
    assert_string_equal(f, "mysql-bin-changelog.000005");
    assert_int_equal(p, 940);
    assert_true(mb_parse_recovery_event("Binlog position from crash recovery is mysql-bin-changelog.000005 940\n", f,
                                        sizeof f, &p));
    const char *bad[] = {
        NULL,
        "",
        "Binlog position from crash recovery is ",
        "Binlog position from crash recovery is mysql-bin-changelog.000005",
        "Binlog position from crash recovery is mysql-bin-changelog.000005 ",
        "Binlog position from crash recovery is mysql-bin-changelog.000005 3",       /* inside the magic */
        "Binlog position from crash recovery is mysql-bin-changelog.000005 940 1",   /* more than a position */
        "Binlog position from crash recovery is mysql-bin-changelog.000005 -940",
        "Binlog position from crash recovery is mysql-bin-changelog.000005 94x",
        "Binlog position from crash recovery is my'file 940",
        "binlog position from crash recovery is mysql-bin-changelog.000005 940",
        "DB cluster restored from snapshot fc-snap",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_false(mb_parse_recovery_event(bad[k], f, sizeof f, &p));
    char tiny[8];
    assert_false(mb_parse_recovery_event("Binlog position from crash recovery is mysql-bin-changelog.000005 940", tiny,
                                         sizeof tiny, &p));
}

static rds_event ev(const char *id, const char *type, const char *date, const char *msg)
{
    rds_event e;
    memset(&e, 0, sizeof e);
    snprintf(e.source_id, sizeof e.source_id, "%s", id);
    snprintf(e.source_type, sizeof e.source_type, "%s", type);
    snprintf(e.date, sizeof e.date, "%s", date);
    e.message = (char *)msg;
    return e;
}

#define MSG5 "Binlog position from crash recovery is mysql-bin-changelog.000005 940"
#define MSG7 "Binlog position from crash recovery is mysql-bin-changelog.000007 120"
/* the target cluster was created at 2026-12-06T10:00:00Z */
#define CREATED 1796551200000LL

static void test_pick(void **state)
{
    (void)state;
    char f[128];
    int64_t p = 0;
    int older = 0;
    const char *t = "fc-c-db-target";
    /* exactly one of this restore, among other events and other clusters' */
    rds_event one[] = {
        ev(t, "db-cluster", "2026-12-06T10:00:01Z", "DB cluster restored from snapshot fc-c-db-snap"),
        ev("other", "db-cluster", "2026-12-06T10:05:00Z", MSG7),
        ev(t, "db-instance", "2026-12-06T10:05:00Z", MSG7),
        ev(t, "db-cluster", "2026-12-06T10:04:00.250Z", MSG5),
    };
    assert_int_equal(mb_pick_recovery_event(one, 4, t, CREATED, f, sizeof f, &p, &older), 1);
    assert_string_equal(f, "mysql-bin-changelog.000005");
    assert_int_equal(p, 940);
    assert_int_equal(older, 0);
    /* two: ambiguous (the caller refuses), even when they agree */
    rds_event two[] = {ev(t, "db-cluster", "2026-12-06T10:04:00Z", MSG5),
                       ev(t, "db-cluster", "2026-12-06T10:04:01Z", MSG5)};
    assert_int_equal(mb_pick_recovery_event(two, 2, t, CREATED, f, sizeof f, &p, &older), 2);
    /* an event from an earlier cluster of the same name: another restore's, never taken */
    rds_event old[] = {ev(t, "db-cluster", "2026-12-06T09:59:59Z", MSG7)};
    assert_int_equal(mb_pick_recovery_event(old, 1, t, CREATED, f, sizeof f, &p, &older), 0);
    assert_int_equal(older, 1);
    rds_event both[] = {ev(t, "db-cluster", "2026-12-06T09:30:00Z", MSG7),
                        ev(t, "db-cluster", "2026-12-06T10:04:00Z", MSG5)};
    assert_int_equal(mb_pick_recovery_event(both, 2, t, CREATED, f, sizeof f, &p, &older), 1);
    assert_string_equal(f, "mysql-bin-changelog.000005");
    assert_int_equal(older, 1);
    /* missing; an unreadable date is not ours */
    assert_int_equal(mb_pick_recovery_event(NULL, 0, t, CREATED, f, sizeof f, &p, &older), 0);
    rds_event undated[] = {ev(t, "db-cluster", "yesterday", MSG5)};
    assert_int_equal(mb_pick_recovery_event(undated, 1, t, CREATED, f, sizeof f, &p, &older), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
