/* test_lsn — LSN parsing/formatting, segment arithmetic (16 MB and 1 MB
 * segments) and the find-start-lsn log parser: every end-of-WAL wording of
 * PostgreSQL 12-17, several log_line_prefix styles, multi-recovery logs, and
 * the missing / ambiguous / contradictory cases that must fail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsn.h"

#define MB (1024u * 1024u)

static void test_parse_format(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
        fc_lsn v;
        const char *out;
    } T[] = {
        {"0/0", true, 0, "0/0"},
        {"0/790E868", true, 0x790E868, "0/790E868"},
        {"3F/64072048", true, 0x3F64072048ULL, "3F/64072048"},
        {"0/0790E868", true, 0x790E868, "0/790E868"}, /* PostgreSQL 19 zero-pads */
        {"FFFFFFFF/FFFFFFFF", true, UINT64_MAX, "FFFFFFFF/FFFFFFFF"},
        {"ab/cd", true, 0xab000000cdULL, "AB/CD"},
        {"", false, 0, NULL},
        {"/1", false, 0, NULL},
        {"1/", false, 0, NULL},
        {"1/2/3", false, 0, NULL},
        {"100000000/0", false, 0, NULL},
        {"0/123456789", false, 0, NULL},
        {"0/12 ", false, 0, NULL},
        {"g/1", false, 0, NULL},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        fc_lsn v = 123;
        bool ok = lsn_parse(T[i].in, &v);
        if (ok != T[i].ok) fail_msg("lsn_parse(\"%s\") = %d, expected %d", T[i].in, ok, T[i].ok);
        if (ok) {
            char buf[FC_LSN_STRLEN];
            assert_true(v == T[i].v);
            assert_string_equal(lsn_format(v, buf), T[i].out);
        }
    }
    assert_int_equal(lsn_cmp(1, 2), -1);
    assert_int_equal(lsn_cmp(2, 2), 0);
    assert_int_equal(lsn_cmp(3, 2), 1);
}

static void test_segments(void **state)
{
    (void)state;
    static const struct {
        const char *seg;
        uint64_t off, segsize;
        bool ok;
        const char *lsn;
    } T[] = {
        /* 16 MB: 256 segments per 4 GB log */
        {"000000010000000000000007", 0x90E000, 16 * MB, true, "0/790E000"},
        {"000000010000003F00000064", 0x72000, 16 * MB, true, "3F/64072000"},
        {"0000000200000000000000FF", 0, 16 * MB, true, "0/FF000000"},
        {"000000010000000000000100", 0, 16 * MB, false, NULL}, /* seg 256 impossible */
        {"000000010000000000000007", 16 * MB, 16 * MB, false, NULL},
        /* 1 MB: 4096 segments per log */
        {"00000001000000000000000A", 344064, 1 * MB, true, "0/A54000"},
        {"000000010000000100000FFF", 0xFE000, 1 * MB, true, "1/FFFFE000"},
        {"000000010000000000001000", 0, 1 * MB, false, NULL},
        /* 64 MB */
        {"000000010000000200000003", 0x2000, 64 * MB, true, "2/C002000"},
        {"00000000000000000000000A", 0, 1 * MB, false, NULL}, /* timeline 0 */
        {"00000001000000000000000", 0, 1 * MB, false, NULL},
        {"00000001000000000000000X", 0, 1 * MB, false, NULL},
        {"000000010000000000000001", 0, 3 * MB, false, NULL}, /* not a power of two */
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        fc_lsn v = 0;
        char err[256] = "", buf[FC_LSN_STRLEN];
        bool ok = lsn_from_segment(T[i].seg, T[i].off, T[i].segsize, &v, err, sizeof err);
        if (ok != T[i].ok) fail_msg("segment %s offset %llu: ok=%d expected %d (%s)", T[i].seg,
                                    (unsigned long long)T[i].off, ok, T[i].ok, err);
        if (ok) assert_string_equal(lsn_format(v, buf), T[i].lsn);
        else assert_true(err[0] != 0);
    }
}

/* ---- the log parser ---- */
#define RDS "2024-05-01 10:00:00 UTC::@:[4242]:LOG:  "
#define STD "2024-05-01 10:00:00.123 UTC [4242] LOG:  "
#define REDO_START RDS "redo starts at 0/1511AC0\n"
#define REDO_DONE RDS "redo done at 0/790E838 system usage: CPU: user: 0.01 s, system: 0.00 s, elapsed: 0.04 s\n"

typedef struct lcase {
    const char *name;
    const char *log;
    uint64_t segsize;
    fc_lsn not_before;
    bool ok;
    const char *start;   /* expected start_lsn */
    int kind;            /* LSN_EOW_* */
    const char *errpart; /* substring of the error when !ok */
} lcase;

static const lcase CASES[] = {
    /* record-level wordings: the exact end */
    {"pg12-15 invalid record length", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"pg16+ invalid record length", REDO_START RDS "invalid record length at 0/790E868: expected at least 24, got 0\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"prev-link", REDO_START RDS "record with incorrect prev-link 0/790E700 at 0/790E868\n" REDO_DONE, 0, 0, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    {"rmgr id", REDO_START RDS "invalid resource manager ID 112 at 0/790E868\n" REDO_DONE, 0, 0, true, "0/790E868",
     LSN_EOW_RECORD, NULL},
    {"too long", REDO_START RDS "record length 4294967295 at 0/790E868 too long\n" REDO_DONE, 0, 0, true, "0/790E868",
     LSN_EOW_RECORD, NULL},
    {"checksum", REDO_START RDS "incorrect resource manager data checksum in record at 0/790E868\n" REDO_DONE, 0, 0,
     true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"record offset (<=15)", REDO_START RDS "invalid record offset at 0/790E868\n" REDO_DONE, 0, 0, true, "0/790E868",
     LSN_EOW_RECORD, NULL},
    {"record offset (16+)", REDO_START RDS "invalid record offset at 0/790E868: expected at least 24, got 8\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"contrecord requested", REDO_START RDS "contrecord is requested by 0/790E868\n" REDO_DONE, 0, 0, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    {"no contrecord flag", REDO_START RDS "there is no contrecord flag at 0/790E868\n" REDO_DONE, 0, 0, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    {"contrecord length (<=14)", REDO_START RDS "invalid contrecord length 100 at 0/790E868\n" REDO_DONE, 0, 0, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    {"contrecord length (15+)", REDO_START RDS "invalid contrecord length 100 (expected 4000) at 0/790E868\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"zero length (legacy)", REDO_START RDS "record with zero length at 0/790E868\n" REDO_DONE, 0, 0, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    /* page-level wordings: start = redo done + 24, never the page itself */
    {"magic (<=15, 16 MB)", REDO_START RDS "invalid magic number 0000 in log segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"magic (16)", REDO_START RDS "invalid magic number 0000 in WAL segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"magic (17+ with LSN)", REDO_START RDS "invalid magic number 0000 in WAL segment 000000010000000000000007, LSN 0/7912000, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"magic LSN disagrees: wrong segsize", REDO_START RDS "invalid magic number 0000 in WAL segment 000000010000000000000007, LSN 0/7912000, offset 9510912\n" REDO_DONE,
     1 * MB, 0, false, NULL, 0, "segment"},
    {"pageaddr 16 MB", REDO_START RDS "unexpected pageaddr 0/6000000 in log segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"pageaddr 1 MB (measured)",
     STD "redo starts at 0/6007E0\n" STD "unexpected pageaddr 0/554000 in log segment 00000001000000000000000A, offset 344064\n" STD "redo done at 0/A53FD0 system usage: CPU: user: 0.00 s\n",
     1 * MB, 0, true, "0/A53FE8", LSN_EOW_PAGE, NULL},
    {"pageaddr with 16 MB on a 1 MB log: page too far", STD "redo starts at 0/6007E0\n" STD "unexpected pageaddr 0/554000 in log segment 00000001000000000000000A, offset 344064\n" STD "redo done at 0/A53FD0\n",
     0, 0, false, NULL, 0, "implausible"},
    {"info bits", REDO_START RDS "invalid info bits 0004 in log segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"out-of-sequence timeline", REDO_START RDS "out-of-sequence timeline ID 1 (after 2) in log segment 000000020000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"unexpected timeline", REDO_START RDS "unexpected timeline ID 3 in log segment 000000020000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    /* prefixes */
    {"default prefix + verbose sqlstate",
     STD "redo starts at 0/1511AC0\n" STD "00000: invalid record length at 0/790E868: wanted 24, got 0\n" STD "redo done at 0/790E838\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"no prefix, CRLF", "LOG:  redo starts at 0/1511AC0\r\nLOG:  invalid record length at 0/790E868: wanted 24, got 0\r\nLOG:  redo done at 0/790E838\r\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"no trailing newline", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "redo done at 0/790E838",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    /* multi-recovery logs: the last group wins (RDS keeps the source's old logs) */
    {"two recoveries, last wins",
     RDS "redo starts at 0/100\n" RDS "invalid record length at 0/5000: wanted 24, got 0\n" RDS "redo done at 0/4FD0\n"
     RDS "database system is ready to accept connections\n" REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE
     RDS "checkpoint starting: end-of-recovery immediate wait\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"earlier group has page form, last has record form",
     RDS "redo starts at 0/100\n" RDS "unexpected pageaddr 0/0 in log segment 000000010000000000000000, offset 40960\n" RDS "redo done at 0/9FD0\n"
     REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE, 0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"recovery restarted before finishing", RDS "redo starts at 0/100\n" REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"skipped contrecord is not an end", REDO_START RDS "successfully skipped missing contrecord at 0/7000000, overwritten at 2024-05-01 09:00:00 UTC\n"
     RDS "invalid record length at 0/790E868: expected at least 24, got 0\n" REDO_DONE, 0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"same message twice is fine", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"statement text is not a recovery line",
     REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE
     "2024-05-01 10:01:00 UTC:10.0.0.1(5000):app@db:[77]:LOG:  statement: SELECT 'redo starts at 0/1'\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"not_before satisfied", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE, 0, 0x790E000, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    /* failures */
    {"empty", "", 0, 0, false, NULL, 0, "no \"redo starts at\""},
    {"no recovery", RDS "database system is ready to accept connections\n", 0, 0, false, NULL, 0, "no \"redo starts at\""},
    {"redo not required", RDS "redo is not required\n", 0, 0, false, NULL, 0, "redo is not required"},
    {"redo done without start", RDS "redo done at 0/790E838\n", 0, 0, false, NULL, 0, "without a preceding"},
    {"unfinished", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n", 0, 0, false, NULL, 0, "no \"redo done at\""},
    {"no end-of-WAL message", REDO_START REDO_DONE, 0, 0, false, NULL, 0, "no end-of-WAL message"},
    {"end-of-WAL only in an earlier group", RDS "redo starts at 0/100\n" RDS "invalid record length at 0/5000: wanted 24, got 0\n" RDS "redo done at 0/4FD0\n" REDO_START REDO_DONE,
     0, 0, false, NULL, 0, "no end-of-WAL message"},
    {"two different ends", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "record with incorrect prev-link 0/1 at 0/790E900\n" REDO_DONE,
     0, 0, false, NULL, 0, "ambiguous"},
    {"record and page ends", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "invalid magic number 0000 in log segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, false, NULL, 0, "ambiguous"},
    {"two redo done", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE REDO_DONE, 0, 0, false, NULL, 0, "ambiguous"},
    {"end before redo done", REDO_START RDS "invalid record length at 0/790E800: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "contradictory"},
    {"end equals redo done", REDO_START RDS "invalid record length at 0/790E838: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "contradictory"},
    {"end closer than a record", REDO_START RDS "invalid record length at 0/790E840: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "contradictory"},
    {"end implausibly far", REDO_START RDS "invalid record length at 0/A90E868: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "implausible"},
    {"redo starts after redo done", RDS "redo starts at 0/8000000\n" RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE,
     0, 0, false, NULL, 0, "contradictory"},
    {"recovery target stopped replay", REDO_START RDS "recovery stopping before commit of transaction 1234, time 2024-05-01 09:00:00 UTC\n"
     RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0, "recovery stopping"},
    {"corrupt record", REDO_START RDS "record with invalid length at 0/790E868\n" REDO_DONE, 0, 0, false, NULL, 0, "did not end"},
    {"snapshot older than the slot", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE, 0, 0x8000000,
     false, NULL, 0, "predates"},
    {"bad segment name in message", REDO_START RDS "invalid magic number 0000 in log segment 000000010000000000000900, offset 0\n" REDO_DONE,
     0, 0, false, NULL, 0, "impossible"},
    {"translated messages", "LOG:  redo beginnt bei 0/1511AC0\nLOG:  Redo fertig bei 0/790E838\n", 0, 0, false, NULL, 0, "no \"redo starts at\""},
};

static void test_find_start(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const lcase *c = &CASES[i];
        lsn_log_opts o = {.wal_segment_size = c->segsize, .not_before = c->not_before};
        lsn_log_result r;
        char err[1024] = "", buf[FC_LSN_STRLEN];
        bool ok = lsn_find_start(c->log, strlen(c->log), &o, &r, err, sizeof err);
        if (ok != c->ok) fail_msg("case \"%s\": ok=%d expected %d (err: %s)", c->name, ok, c->ok, err);
        if (ok) {
            if (strcmp(lsn_format(r.start_lsn, buf), c->start) != 0)
                fail_msg("case \"%s\": start %s, expected %s", c->name, buf, c->start);
            if ((int)r.kind != c->kind) fail_msg("case \"%s\": kind %d expected %d", c->name, r.kind, c->kind);
            /* the invariant the whole project rests on */
            assert_true(r.start_lsn > r.redo_done);
            assert_true(r.start_lsn <= r.end_of_wal);
            assert_int_equal(r.exact, c->kind == LSN_EOW_RECORD);
        } else if (!strstr(err, c->errpart)) {
            fail_msg("case \"%s\": error \"%s\" does not mention \"%s\"", c->name, err, c->errpart);
        }
    }
}

/* Embedded NULs and binary junk: must not crash or read out of bounds. */
static void test_binary_junk(void **state)
{
    (void)state;
    char buf[600];
    const char *a = REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n";
    size_t n = strlen(a);
    memcpy(buf, a, n);
    buf[n] = 0; /* NUL inside the text */
    const char *b = REDO_DONE;
    memcpy(buf + n + 1, b, strlen(b));
    lsn_log_result r;
    char err[512];
    assert_true(lsn_find_start(buf, n + 1 + strlen(b), NULL, &r, err, sizeof err));
    assert_true(r.start_lsn == 0x790E868);
    assert_false(lsn_find_start(NULL, 0, NULL, &r, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_find_start),
        cmocka_unit_test(test_binary_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
