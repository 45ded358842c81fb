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
/* RDS's log_line_prefix "%t:%r:%u@%d:[%p]:": background processes (the
 * postmaster 4200, the restored server's startup process 4242) have empty
 * remote/user/database fields; client sessions do not. */
#define RDS "2024-05-01 10:00:00 UTC::@:[4242]:LOG:  "
#define PM "2024-05-01 10:00:00 UTC::@:[4200]:LOG:  "
#define STD "2024-05-01 10:00:00.123 UTC [4242] LOG:  "
#define STDPM "2024-05-01 10:00:00.101 UTC [4200] LOG:  "
#define STDPFX "%m [%p] "
/* the restored server's first start: a crash recovery (crash-consistent snapshot) */
#define BOOT PM "starting PostgreSQL 15.4 on x86_64-pc-linux-gnu, compiled by gcc, 64-bit\n" \
    RDS "database system was interrupted; last known up at 2024-05-01 09:55:00 UTC\n" \
    RDS "database system was not properly shut down; automatic recovery in progress\n"
#define REDO_START BOOT RDS "redo starts at 0/1511AC0\n"
#define EOW RDS "invalid record length at 0/790E868: wanted 24, got 0\n"
#define REDO_DONE RDS "redo done at 0/790E838 system usage: CPU: user: 0.01 s, system: 0.00 s, elapsed: 0.04 s\n"
#define READY PM "database system is ready to accept connections\n"
#define RESTORE REDO_START EOW REDO_DONE READY
#define STDBOOT STDPM "starting PostgreSQL 15.4\n" STD "database system was interrupted; last known up at 2024-05-01 09:55:00 UTC\n" \
    STD "database system was not properly shut down; automatic recovery in progress\n"
/* The source's own old log (RDS keeps it on the restored volume): a crash
 * recovery of the source a day earlier, then normal running. */
#define SRC "2024-04-30 08:00:00 UTC::@:[100]:LOG:  "
#define SRCPM "2024-04-30 08:00:00 UTC::@:[99]:LOG:  "
#define SRC_OLD SRCPM "starting PostgreSQL 15.4\n" SRC "database system was interrupted; last known up at 2024-04-30 07:00:00 UTC\n" \
    SRC "database system was not properly shut down; automatic recovery in progress\n" SRC "redo starts at 0/100\n" \
    SRC "invalid record length at 0/5000: wanted 24, got 0\n" SRC "redo done at 0/4FD0\n" \
    SRCPM "database system is ready to accept connections\n" \
    "2024-04-30 09:00:00 UTC::@:[101]:LOG:  checkpoint complete: wrote 3 buffers\n"
/* restored_after: 2024-05-01 09:59:00 UTC, after the source's lines, before the restore's start */
#define AFTER 1714557540
#define AFTER_SAME_SECOND 1714557600 /* 10:00:00, the second the restore starts in */
/* A second crash of the restored instance, later: new startup process 4300. */
#define CRASH2 "2024-05-01 11:00:00 UTC::@:[4200]:LOG:  server process (PID 5000) was terminated by signal 9: Killed\n" \
    "2024-05-01 11:00:00 UTC::@:[4200]:LOG:  terminating any other active server processes\n" \
    "2024-05-01 11:00:00 UTC::@:[4200]:LOG:  all server processes terminated; reinitializing\n" \
    "2024-05-01 11:00:01 UTC::@:[4300]:LOG:  database system was interrupted; last known up at 2024-05-01 10:55:00 UTC\n" \
    "2024-05-01 11:00:01 UTC::@:[4300]:LOG:  database system was not properly shut down; automatic recovery in progress\n" \
    "2024-05-01 11:00:01 UTC::@:[4300]:LOG:  redo starts at 0/7A00000\n" \
    "2024-05-01 11:00:01 UTC::@:[4300]:LOG:  invalid record length at 0/7B0E868: wanted 24, got 0\n" \
    "2024-05-01 11:00:01 UTC::@:[4300]:LOG:  redo done at 0/7B0E838\n" \
    "2024-05-01 11:00:01 UTC::@:[4200]:LOG:  database system is ready to accept connections\n"
/* A later clean reboot of the restored instance (no WAL replayed). */
#define REBOOT "2024-05-01 10:30:00 UTC::@:[4200]:LOG:  received fast shutdown request\n" \
    "2024-05-01 10:30:00 UTC::@:[4200]:LOG:  database system is shut down\n" \
    "2024-05-01 10:30:05 UTC::@:[6000]:LOG:  starting PostgreSQL 15.4\n" \
    "2024-05-01 10:30:05 UTC::@:[6002]:LOG:  database system was shut down at 2024-05-01 10:30:00 UTC\n" \
    "2024-05-01 10:30:05 UTC::@:[6000]:LOG:  database system is ready to accept connections\n"
/* Client sessions writing recovery-looking text (a failed login with a
 * crafted user name; RAISE LOG from any session): another pid, and non-empty
 * remote/user/database fields. The RAISE LOG ones name an end 1 MB past the
 * true one. */
#define INJ_USER "2024-05-01 10:01:00 UTC:10.0.0.9(5000):x:[4242]:LOG:  redo starts at 0/0@postgres:[900]:FATAL:  " \
    "password authentication failed for user \"x:[4242]:LOG:  redo starts at 0/0\"\n"
#define INJ_RAISE "2024-05-01 10:01:00 UTC:10.0.0.9(5001):app@db:[901]:LOG:  redo starts at 0/7A00000\n" \
    "2024-05-01 10:01:00 UTC:10.0.0.9(5001):app@db:[901]:LOG:  invalid record length at 0/7B0E868: wanted 24, got 0\n" \
    "2024-05-01 10:01:00 UTC:10.0.0.9(5001):app@db:[901]:LOG:  redo done at 0/7B0E838\n"
#define INJ_RAISE_STD "2024-05-01 10:01:00.500 UTC [901] LOG:  redo starts at 0/7A00000\n" \
    "2024-05-01 10:01:00.500 UTC [901] LOG:  database system was interrupted; last known up at 2024-05-01 09:55:00 UTC\n" \
    "2024-05-01 10:01:00.500 UTC [901] LOG:  redo starts at 0/7A00000\n" \
    "2024-05-01 10:01:00.500 UTC [901] LOG:  invalid record length at 0/7B0E868: wanted 24, got 0\n" \
    "2024-05-01 10:01:00.500 UTC [901] LOG:  redo done at 0/7B0E838\n"

typedef struct lcase {
    const char *name;
    const char *log;
    uint64_t segsize;
    fc_lsn not_before;
    bool ok;
    const char *start;   /* expected start_lsn */
    int kind;            /* LSN_EOW_* */
    const char *errpart; /* substring of the error when !ok */
    const char *prefix;  /* log_line_prefix (NULL: RDS's) */
    int64_t after;       /* restored_after (0: not given) */
    int incomplete;      /* when !ok: 1 = must be flagged incomplete, -1 = must not, 0 = either */
} lcase;

/* trailing fields (prefix, after, incomplete) default to zero */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
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
     STDBOOT STD "redo starts at 0/6007E0\n" STD "unexpected pageaddr 0/554000 in log segment 00000001000000000000000A, offset 344064\n" STD "redo done at 0/A53FD0 system usage: CPU: user: 0.00 s\n",
     1 * MB, 0, true, "0/A53FE8", LSN_EOW_PAGE, NULL, STDPFX},
    {"pageaddr with 16 MB on a 1 MB log: page too far", STDBOOT STD "redo starts at 0/6007E0\n" STD "unexpected pageaddr 0/554000 in log segment 00000001000000000000000A, offset 344064\n" STD "redo done at 0/A53FD0\n",
     0, 0, false, NULL, 0, "implausible", STDPFX},
    {"info bits", REDO_START RDS "invalid info bits 0004 in log segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"out-of-sequence timeline", REDO_START RDS "out-of-sequence timeline ID 1 (after 2) in log segment 000000020000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    {"unexpected timeline", REDO_START RDS "unexpected timeline ID 3 in log segment 000000020000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, true, "0/790E850", LSN_EOW_PAGE, NULL},
    /* prefixes */
    {"default prefix + verbose sqlstate",
     STDBOOT STD "redo starts at 0/1511AC0\n" STD "00000: invalid record length at 0/790E868: wanted 24, got 0\n" STD "redo done at 0/790E838\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, STDPFX},
    {"padded and %q prefix", "[ 4200] 2024-05-01 10:00:00 UTC LOG:  starting PostgreSQL 15.4\n"
     "[ 4242] 2024-05-01 10:00:00 UTC LOG:  database system was interrupted; last known up at 2024-05-01 09:55:00 UTC\n"
     "[ 4242] 2024-05-01 10:00:00 UTC LOG:  redo starts at 0/1511AC0\n"
     "[ 4242] 2024-05-01 10:00:00 UTC LOG:  invalid record length at 0/790E868: wanted 24, got 0\n"
     "[ 4242] 2024-05-01 10:00:00 UTC LOG:  redo done at 0/790E838\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, "[%5p] %t %q%u@%d "},
    {"CRLF", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\r\n" RDS "redo done at 0/790E838\r\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"no %p in the prefix: refused", "LOG:  database system was interrupted; last known up at 2024-05-01 09:55:00 UTC\n"
     "LOG:  redo starts at 0/1511AC0\nLOG:  invalid record length at 0/790E868: wanted 24, got 0\nLOG:  redo done at 0/790E838\n",
     0, 0, false, NULL, 0, "%p", "", -1},
    {"no trailing newline", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "redo done at 0/790E838",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    /* the source's old logs on the restored volume (RDS keeps them) */
    {"source's old recovery before the restore's: the restore's, by time",
     SRC_OLD RESTORE RDS "checkpoint starting: end-of-recovery immediate wait\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, NULL, AFTER},
    {"source's old recovery has page form, the restore's record form", SRC_OLD REDO_START EOW REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, NULL, AFTER},
    {"source's old recovery only: the restore's start is not in the log yet", SRC_OLD,
     0, 0, false, NULL, 0, "no server start", NULL, AFTER, 1},
    {"source's old recovery, restore still replaying", SRC_OLD REDO_START EOW,
     0, 0, false, NULL, 0, "no \"redo done at\"", NULL, AFTER, 1},
    {"source's old recovery and the restore's, no restore time: ambiguous", SRC_OLD RESTORE,
     0, 0, false, NULL, 0, "ambiguous", NULL, 0, -1},
    {"end-of-WAL only in the source's old recovery", SRC_OLD REDO_START REDO_DONE,
     0, 0, false, NULL, 0, "no end-of-WAL message", NULL, AFTER},
    {"restore starts in the boundary's second, source's lines before it", SRC_OLD RESTORE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, NULL, AFTER_SAME_SECOND},
    {"source's old recovery only, no restore time: caught by not_before", SRC_OLD,
     0, 0x790E000, false, NULL, 0, "predates", NULL, 0},
    {"log files out of time order", RESTORE SRC_OLD, 0, 0, false, NULL, 0, "time order", NULL, AFTER, -1},
    {"time zone that cannot be compared", "2024-05-01 10:00:00 CEST::@:[4242]:LOG:  database system was interrupted; last known up at x\n"
     "2024-05-01 10:00:00 CEST::@:[4242]:LOG:  redo starts at 0/1511AC0\n",
     0, 0, false, NULL, 0, "log_timezone", NULL, AFTER, -1},
    /* two crash recoveries of the restored instance */
    {"double recovery: the restore's (first after the restore time) is used", RESTORE CRASH2,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, NULL, AFTER},
    {"double recovery without a restore time: refused as ambiguous", RESTORE CRASH2,
     0, 0, false, NULL, 0, "ambiguous", NULL, 0, -1},
    {"double recovery, first start in the boundary's second: refused as ambiguous", RESTORE CRASH2,
     0, 0, false, NULL, 0, "ambiguous", NULL, AFTER_SAME_SECOND, -1},
    {"restored instance rebooted cleanly later: still the first start's recovery", RESTORE REBOOT,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, NULL, AFTER},
    {"first start after the restore did not replay WAL, a later one did", REBOOT CRASH2,
     0, 0, false, NULL, 0, "did not replay WAL", NULL, AFTER, -1},
    {"recovery interrupted and continued by the next start",
     BOOT RDS "redo starts at 0/1511AC0\n"
     "2024-05-01 10:00:01 UTC::@:[4200]:LOG:  startup process (PID 4242) was terminated by signal 9: Killed\n"
     "2024-05-01 10:00:01 UTC::@:[4200]:LOG:  all server processes terminated; reinitializing\n"
     "2024-05-01 10:00:02 UTC::@:[4250]:LOG:  database system was interrupted while in recovery at 2024-05-01 10:00:00 UTC\n"
     "2024-05-01 10:00:02 UTC::@:[4250]:LOG:  redo starts at 0/1511AC0\n"
     "2024-05-01 10:00:02 UTC::@:[4250]:LOG:  invalid record length at 0/790E868: wanted 24, got 0\n"
     "2024-05-01 10:00:02 UTC::@:[4250]:LOG:  redo done at 0/790E838\n" READY CRASH2,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, NULL, AFTER},
    /* injected lines: other sessions' text never counts */
    {"crafted user name in a failed login is ignored", RESTORE INJ_USER, 0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL,
     NULL, AFTER},
    {"RAISE LOG from a client session is ignored (RDS prefix)", RESTORE INJ_RAISE, 0, 0, true, "0/790E868",
     LSN_EOW_RECORD, NULL, NULL, AFTER},
    {"RAISE LOG from a client session is ignored (no restore time)", RESTORE INJ_RAISE, 0, 0, true, "0/790E868",
     LSN_EOW_RECORD, NULL},
    {"RAISE LOG inside the recovery window, another pid", REDO_START INJ_RAISE EOW REDO_DONE, 0, 0, true, "0/790E868",
     LSN_EOW_RECORD, NULL, NULL, AFTER},
    {"RAISE LOG imitating a whole restart (default prefix, only the pid differs), restore time given",
     STDBOOT STD "redo starts at 0/1511AC0\n" STD "invalid record length at 0/790E868: wanted 24, got 0\n" STD "redo done at 0/790E838\n"
     STDPM "database system is ready to accept connections\n" INJ_RAISE_STD,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL, STDPFX, AFTER},
    {"newline-injected lines with the startup pid: duplicate, refused",
     REDO_START "2024-05-01 10:00:00 UTC:10.0.0.9(5000):x\n" RDS "redo starts at 0/7A00000\n" RDS
     "invalid record length at 0/7B0E868: wanted 24, got 0@postgres:[900]:FATAL:  the database system is starting up\n" EOW REDO_DONE,
     0, 0, false, NULL, 0, "\"redo starts at\"", NULL, AFTER, -1},
    {"statement text is not a recovery line",
     REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE
     "2024-05-01 10:01:00 UTC:10.0.0.1(5000):app@db:[77]:LOG:  statement: SELECT 'redo starts at 0/1'\n",
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"skipped contrecord is not an end", REDO_START RDS "successfully skipped missing contrecord at 0/7000000, overwritten at 2024-05-01 09:00:00 UTC\n"
     RDS "invalid record length at 0/790E868: expected at least 24, got 0\n" REDO_DONE, 0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"same message twice is fine", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE,
     0, 0, true, "0/790E868", LSN_EOW_RECORD, NULL},
    {"not_before satisfied", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE, 0, 0x790E000, true,
     "0/790E868", LSN_EOW_RECORD, NULL},
    /* failures */
    {"empty", "", 0, 0, false, NULL, 0, "no \"redo starts at\""},
    {"no recovery", READY, 0, 0, false, NULL, 0, "no \"redo starts at\""},
    {"redo not required", BOOT RDS "redo is not required\n", 0, 0, false, NULL, 0, "redo is not required"},
    {"recovery lines without a server start", RDS "redo starts at 0/1511AC0\n" EOW REDO_DONE, 0, 0, false, NULL, 0,
     "no \"redo starts at\""},
    {"unfinished", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n", 0, 0, false, NULL, 0, "no \"redo done at\"",
     NULL, 0, 1},
    {"no end-of-WAL message", REDO_START REDO_DONE, 0, 0, false, NULL, 0, "no end-of-WAL message"},
    {"two different ends", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "record with incorrect prev-link 0/1 at 0/790E900\n" REDO_DONE,
     0, 0, false, NULL, 0, "ambiguous"},
    {"record and page ends", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" RDS "invalid magic number 0000 in log segment 000000010000000000000007, offset 9510912\n" REDO_DONE,
     0, 0, false, NULL, 0, "ambiguous"},
    {"two redo done", REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE REDO_DONE, 0, 0, false, NULL, 0, "ambiguous"},
    {"an end-of-WAL message after redo done", REDO_START EOW REDO_DONE RDS "invalid record length at 0/790E900: wanted 24, got 0\n",
     0, 0, false, NULL, 0, "ambiguous"},
    {"end before redo done", REDO_START RDS "invalid record length at 0/790E800: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "contradictory"},
    {"end equals redo done", REDO_START RDS "invalid record length at 0/790E838: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "contradictory"},
    {"end closer than a record", REDO_START RDS "invalid record length at 0/790E840: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "contradictory"},
    {"end implausibly far", REDO_START RDS "invalid record length at 0/A90E868: wanted 24, got 0\n" REDO_DONE, 0, 0, false, NULL, 0,
     "implausible"},
    {"redo starts after redo done", BOOT RDS "redo starts at 0/8000000\n" RDS "invalid record length at 0/790E868: wanted 24, got 0\n" REDO_DONE,
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
#pragma GCC diagnostic pop

/* Every case is checked and every failure printed (then the test fails):
 * one run shows all the cases a change breaks. */
static void test_find_start(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const lcase *c = &CASES[i];
        lsn_log_opts o = {.wal_segment_size = c->segsize, .not_before = c->not_before,
                          .line_prefix = c->prefix, .restored_after = c->after};
        lsn_log_result r;
        char err[1024] = "", buf[FC_LSN_STRLEN];
        bool ok = lsn_find_start(c->log, strlen(c->log), &o, &r, err, sizeof err);
        if (ok != c->ok) {
            print_error("case \"%s\": ok=%d expected %d (err: %s; start %s)\n", c->name, ok, c->ok, err,
                        ok ? lsn_format(r.start_lsn, buf) : "-");
            bad++;
            continue;
        }
        if (ok) {
            if (strcmp(lsn_format(r.start_lsn, buf), c->start) != 0) {
                print_error("case \"%s\": start %s, expected %s\n", c->name, buf, c->start);
                bad++;
            }
            if ((int)r.kind != c->kind) {
                print_error("case \"%s\": kind %d expected %d\n", c->name, r.kind, c->kind);
                bad++;
            }
            /* the invariant the whole project rests on */
            assert_true(r.start_lsn > r.redo_done);
            assert_true(r.start_lsn <= r.end_of_wal);
            assert_int_equal(r.exact, c->kind == LSN_EOW_RECORD);
            if (r.startup_pid <= 0 || r.start_line == 0) {
                print_error("case \"%s\": no startup pid / start line reported\n", c->name);
                bad++;
            }
        } else {
            if (!strstr(err, c->errpart)) {
                print_error("case \"%s\": error \"%s\" does not mention \"%s\"\n", c->name, err, c->errpart);
                bad++;
            }
            if ((c->incomplete == 1 && !r.incomplete) || (c->incomplete == -1 && r.incomplete)) {
                print_error("case \"%s\": incomplete=%d, expected %d (%s)\n", c->name, r.incomplete, c->incomplete, err);
                bad++;
            }
        }
    }
    if (bad) fail_msg("%d find-start-lsn case(s) wrong", bad);
}

/* Which recovery was used, and what was left aside, is reported. */
static void test_find_start_report(void **state)
{
    (void)state;
    const char *log = SRC_OLD RESTORE CRASH2;
    lsn_log_opts o = {.restored_after = AFTER};
    lsn_log_result r;
    char err[512];
    assert_true(lsn_find_start(log, strlen(log), &o, &r, err, sizeof err));
    assert_int_equal(r.startup_pid, 4242);
    assert_int_equal(r.recoveries, 3);
    assert_int_equal(r.later_recoveries, 1);
    assert_int_equal(r.source_starts, 1);
    assert_int_equal(r.start_line, 10); /* 8 lines of SRC_OLD, then "starting PostgreSQL" */
}

/* The server's own word: the end can never be past the latest checkpoint's
 * redo (the end-of-recovery checkpoint's redo is the end; later ones move
 * forward), nor the start past the WAL insert position. */
static void test_server_bounds(void **state)
{
    (void)state;
    lsn_log_result rec = {.start_lsn = 0x790E868, .end_of_wal = 0x790E868, .redo_done = 0x790E838,
                          .kind = LSN_EOW_RECORD, .exact = true, .startup_pid = 4242, .start_line = 10};
    lsn_log_result page = {.start_lsn = 0x790E850, .end_of_wal = 0x7912000, .redo_done = 0x790E838,
                           .kind = LSN_EOW_PAGE, .startup_pid = 4242, .start_line = 10};
    char err[600];
    /* right after the restore: redo == the end; later: past it */
    assert_true(lsn_check_server_bounds(&rec, 0x790E868, 0x790F000, err, sizeof err));
    assert_true(lsn_check_server_bounds(&rec, 0x9000000, 0x9000100, err, sizeof err));
    /* the role may not read pg_control_checkpoint(): the insert position only */
    assert_true(lsn_check_server_bounds(&rec, FC_LSN_INVALID, 0x790E868, err, sizeof err));
    /* an end past the checkpoint's redo: a recovery that is not this server's */
    assert_false(lsn_check_server_bounds(&rec, 0x790E800, 0x9000000, err, sizeof err));
    assert_non_null(strstr(err, "pg_control_checkpoint()"));
    assert_non_null(strstr(err, "0/790E868"));
    assert_non_null(strstr(err, "4242"));
    /* a start past the insert position */
    assert_false(lsn_check_server_bounds(&rec, FC_LSN_INVALID, 0x790E860, err, sizeof err));
    assert_non_null(strstr(err, "pg_current_wal_lsn()"));
    assert_false(lsn_check_server_bounds(&rec, 0x790E868, FC_LSN_INVALID, err, sizeof err));
    /* page form: the page is only an upper bound of the end (PostgreSQL <= 14
     * resumes writing before it), so only the start is held to the redo */
    assert_true(lsn_check_server_bounds(&page, 0x790E868, 0x790F000, err, sizeof err));
    assert_false(lsn_check_server_bounds(&page, 0x790E840, 0x790F000, err, sizeof err));
}

/* Embedded NULs and binary junk: must not crash or read out of bounds. */
static void test_binary_junk(void **state)
{
    (void)state;
    char buf[2000];
    const char *a = REDO_START RDS "invalid record length at 0/790E868: wanted 24, got 0\n";
    size_t n = strlen(a);
    memcpy(buf, a, n);
    buf[n] = 0; /* NUL inside the text: a junk line of its own */
    buf[n + 1] = '\n';
    const char *b = REDO_DONE;
    memcpy(buf + n + 2, b, strlen(b));
    lsn_log_result r;
    char err[512];
    assert_true(lsn_find_start(buf, n + 2 + strlen(b), NULL, &r, err, sizeof err));
    assert_true(r.start_lsn == 0x790E868);
    /* a NUL at the start of a recovery line: that line is not the startup
     * process's (the prefix is anchored), so "redo done at" is missing */
    buf[n + 1] = 0;
    assert_false(lsn_find_start(buf, n + 2 + strlen(b), NULL, &r, err, sizeof err));
    assert_non_null(strstr(err, "no \"redo done at\""));
    assert_false(lsn_find_start(NULL, 0, NULL, &r, err, sizeof err));
}

/* FC_LSN_SEED_DIR=dir: write every table case's log to dir/<case> — the
 * seed corpus of the fuzz_lsn_log target (tests/fuzz/seeds/fuzz_lsn_log). */
static void dump_seeds(const char *dir)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char name[200], path[512];
        size_t k = 0;
        for (const char *p = CASES[i].name; *p && k < sizeof name - 1; p++)
            name[k++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) ? *p : '_';
        name[k] = 0;
        snprintf(path, sizeof path, "%s/%02zu_%s", dir, i, name);
        FILE *f = fopen(path, "wb");
        if (!f) continue;
        fwrite(CASES[i].log, 1, strlen(CASES[i].log), f);
        fclose(f);
    }
}

int main(void)
{
    if (getenv("FC_LSN_SEED_DIR")) dump_seeds(getenv("FC_LSN_SEED_DIR"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_find_start),
        cmocka_unit_test(test_find_start_report),
        cmocka_unit_test(test_server_bounds),
        cmocka_unit_test(test_binary_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
