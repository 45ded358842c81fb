/* lsn — LSN helpers and the find-start-lsn log parser; see lsn.h and
 * docs/lsn-boundary.md. The message texts are those of PostgreSQL 12-17
 * (xlogreader.c, xlogrecovery.c, xlog.c); where a release changed a wording
 * ("wanted 24" -> "expected at least 24", "log segment" -> "WAL segment",
 * ", LSN X/Y" added before the offset) every form is accepted. */
#include "lsn.h"
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_SPAN (16u * 1024u * 1024u)
#define MAX_LINE_SCAN 4096 /* bytes of a line searched for the severity tag */

static void seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* 1..8 hex digits into *v; returns digits consumed, 0 on failure. */
static size_t parse_hex32(const char *s, size_t n, uint32_t *v)
{
    size_t i = 0;
    uint32_t x = 0;
    while (i < n && hexval(s[i]) >= 0) {
        if (i == 8) return 0; /* too long for a 32-bit half */
        x = (x << 4) | (uint32_t)hexval(s[i]);
        i++;
    }
    if (i == 0) return 0;
    *v = x;
    return i;
}

bool lsn_parse_prefix(const char *s, size_t n, fc_lsn *out, size_t *used)
{
    uint32_t hi, lo;
    size_t a = parse_hex32(s, n, &hi);
    if (a == 0 || a >= n || s[a] != '/') return false;
    size_t b = parse_hex32(s + a + 1, n - a - 1, &lo);
    if (b == 0) return false;
    /* a ninth hex digit means this is not an LSN we understand */
    if (a + 1 + b < n && hexval(s[a + 1 + b]) >= 0) return false;
    *out = ((fc_lsn)hi << 32) | lo;
    if (used) *used = a + 1 + b;
    return true;
}

bool lsn_parse(const char *s, fc_lsn *out)
{
    if (!s) return false;
    size_t n = strlen(s), used = 0;
    fc_lsn v;
    if (!lsn_parse_prefix(s, n, &v, &used) || used != n) return false;
    *out = v;
    return true;
}

char *lsn_format(fc_lsn lsn, char out[FC_LSN_STRLEN])
{
    snprintf(out, FC_LSN_STRLEN, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
    return out;
}

int lsn_cmp(fc_lsn a, fc_lsn b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

bool lsn_valid_segsize(uint64_t s)
{
    return s >= (1u << 20) && s <= (1u << 30) && (s & (s - 1)) == 0;
}

bool lsn_from_segment(const char *fname, uint64_t offset, uint64_t segsize, fc_lsn *out,
                      char *err, size_t errcap)
{
    if (!lsn_valid_segsize(segsize)) {
        seterr(err, errcap, "invalid WAL segment size %" PRIu64 " (power of two, 1 MB to 1 GB)", segsize);
        return false;
    }
    if (!fname || strlen(fname) != 24) {
        seterr(err, errcap, "WAL segment name must be 24 hex digits");
        return false;
    }
    uint32_t tli, log, seg;
    if (parse_hex32(fname, 8, &tli) != 8 || parse_hex32(fname + 8, 8, &log) != 8 ||
        parse_hex32(fname + 16, 8, &seg) != 8) {
        seterr(err, errcap, "WAL segment name %.24s is not 24 hex digits", fname);
        return false;
    }
    uint64_t per_log = UINT64_C(0x100000000) / segsize; /* segments per 4 GB "log" */
    if (tli == 0 || seg >= per_log) {
        seterr(err, errcap,
               "WAL segment %s is impossible with %" PRIu64 "-byte segments (seg %" PRIu32
               " >= %" PRIu64 " per log, or timeline 0): wrong segment size?",
               fname, segsize, seg, per_log);
        return false;
    }
    if (offset >= segsize) {
        seterr(err, errcap, "offset %" PRIu64 " is past the end of a %" PRIu64 "-byte segment",
               offset, segsize);
        return false;
    }
    uint64_t segno = (uint64_t)log * per_log + seg;
    *out = segno * segsize + offset;
    return true;
}

/* ------------------------------------------------------------ log parser */

typedef struct cap {
    fc_lsn lsn;        /* %L: the position the message is about */
    bool has_lsn;
    char seg[25];      /* %G: WAL segment file name */
    uint64_t offset;
    fc_lsn page_lsn;   /* %G: ", LSN X/Y" (PostgreSQL 17+) */
    bool has_page_lsn;
    bool has_seg;
} cap;

static size_t parse_dec(const char *s, size_t n, uint64_t *v)
{
    size_t i = 0;
    uint64_t x = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (x > (UINT64_MAX - 9) / 10) return 0;
        x = x * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == 0) return 0;
    *v = x;
    return i;
}

static bool lit(const char *m, size_t n, size_t *i, const char *s)
{
    size_t k = strlen(s);
    if (n - *i < k || memcmp(m + *i, s, k) != 0) return false;
    *i += k;
    return true;
}

/* Prefix-match msg against pat: literals, %L (the LSN of interest), %A (any
 * other LSN), %u (unsigned), %d (signed), %h (hex word), %G (WAL segment
 * clause: "log|WAL segment NAME[, LSN X/Y], offset N"). */
static bool pmatch(const char *m, size_t n, const char *pat, cap *c)
{
    size_t i = 0;
    memset(c, 0, sizeof *c);
    for (const char *p = pat; *p; p++) {
        if (*p != '%') {
            if (i >= n || m[i] != *p) return false;
            i++;
            continue;
        }
        p++;
        size_t used = 0;
        uint64_t num;
        fc_lsn l;
        switch (*p) {
        case 'L':
        case 'A':
            if (!lsn_parse_prefix(m + i, n - i, &l, &used)) return false;
            if (*p == 'L') {
                c->lsn = l;
                c->has_lsn = true;
            }
            i += used;
            break;
        case 'u':
            if ((used = parse_dec(m + i, n - i, &num)) == 0) return false;
            i += used;
            break;
        case 'd':
            if (i < n && m[i] == '-') i++;
            if ((used = parse_dec(m + i, n - i, &num)) == 0) return false;
            i += used;
            break;
        case 'h': {
            size_t k = 0;
            while (i + k < n && hexval(m[i + k]) >= 0) k++;
            if (k == 0) return false;
            i += k;
            break;
        }
        case 'G':
            if (!lit(m, n, &i, "log segment ") && !lit(m, n, &i, "WAL segment ")) return false;
            if (n - i < 24) return false;
            for (size_t k = 0; k < 24; k++)
                if (hexval(m[i + k]) < 0) return false;
            if (i + 24 < n && hexval(m[i + 24]) >= 0) return false;
            memcpy(c->seg, m + i, 24);
            c->seg[24] = 0;
            c->has_seg = true;
            i += 24;
            if (lit(m, n, &i, ", LSN ")) {
                if (!lsn_parse_prefix(m + i, n - i, &c->page_lsn, &used)) return false;
                c->has_page_lsn = true;
                i += used;
            }
            if (!lit(m, n, &i, ", offset ")) return false;
            if ((used = parse_dec(m + i, n - i, &c->offset)) == 0) return false;
            i += used;
            break;
        default:
            return false; /* bad pattern: a bug, caught by the unit tests */
        }
    }
    return true;
}

/* End-of-WAL wordings that name the record that could not be read. */
static const char *const RECORD_EOW[] = {
    "invalid record length at %L",        /* ": wanted 24, got 0" (<=15) / ": expected at least 24, got 0" (16+) */
    "record with incorrect prev-link %A at %L",
    "invalid resource manager ID %u at %L",
    "record length %u at %L too long",
    "incorrect resource manager data checksum in record at %L",
    "invalid record offset at %L",        /* 16+ adds ": expected at least N, got M" */
    "contrecord is requested by %L",
    "there is no contrecord flag at %L",
    "invalid contrecord length %u at %L",               /* <=14 */
    "invalid contrecord length %u (expected %d) at %L", /* 15+ */
    "record with zero length at %L",      /* pre-9.5 wording, harmless to accept */
};

/* End-of-WAL wordings that name a WAL page (segment + offset). */
static const char *const PAGE_EOW[] = {
    "invalid magic number %h in %G",
    "invalid info bits %h in %G",
    "unexpected pageaddr %A in %G",
    "out-of-sequence timeline ID %u (after %u) in %G",
    "unexpected timeline ID %u in %G",
};

/* Messages that end or break replay in a way the start LSN cannot be read
 * from: inside the final recovery they fail the search. */
static const char *const BREAKING[] = {
    "recovery stopping ",          /* a recovery target: WAL after it was not replayed */
    "recovery has paused",
    "record with invalid length at",
    "out-of-order block_id",
    "invalid block_id",
    "BKPBLOCK_",
    "BKPIMAGE_",
    "neither BKPIMAGE_",
    "WAL file is from different database system",
    "could not restore image",
    "could not decompress image",
    "invalid compressed image",
};

typedef struct group {
    bool active;
    fc_lsn redo_start;
    size_t start_line;
    bool have_done;
    fc_lsn done;
    size_t done_line;
    int n_eow;
    lsn_eow_kind kind;
    fc_lsn eow;          /* record LSN, or page LSN for page-level */
    size_t eow_line;
    char eow_msg[256];
    bool conflict;
    char conflict_msg[256];
    size_t conflict_line;
    bool broken;
    char broken_msg[256];
    size_t broken_line;
} group;

static void copy_msg(char *dst, size_t cap_, const char *m, size_t n)
{
    size_t k = n < cap_ - 1 ? n : cap_ - 1;
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)m[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[k] = 0;
}

static const char *find_tag(const char *s, size_t n, const char *tag, size_t tlen)
{
    if (n < tlen) return NULL;
    for (size_t i = 0; i + tlen <= n; i++)
        if (s[i] == tag[0] && memcmp(s + i, tag, tlen) == 0) return s + i;
    return NULL;
}

static bool starts(const char *m, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(m, s, k) == 0;
}

bool lsn_find_start(const char *text, size_t len, const lsn_log_opts *opts,
                    lsn_log_result *res, char *err, size_t errcap)
{
    uint64_t segsize = opts && opts->wal_segment_size ? opts->wal_segment_size : FC_WAL_SEGSIZE_DEFAULT;
    uint64_t max_span = opts && opts->max_record_span ? opts->max_record_span : DEFAULT_MAX_SPAN;
    fc_lsn not_before = opts ? opts->not_before : FC_LSN_INVALID;
    char a[FC_LSN_STRLEN], b[FC_LSN_STRLEN];

    memset(res, 0, sizeof *res);
    if (err && errcap) err[0] = 0;
    if (!lsn_valid_segsize(segsize)) {
        seterr(err, errcap, "invalid WAL segment size %" PRIu64, segsize);
        return false;
    }
    if (!text) len = 0;

    group g;
    memset(&g, 0, sizeof g);
    int groups = 0;
    size_t stray_done_line = 0, not_required_line = 0;
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        size_t n = 0;
        while (pos + n < len && line[n] != '\n') n++;
        pos += n + (pos + n < len ? 1 : 0);
        lineno++;
        if (n > 0 && line[n - 1] == '\r') n--;

        /* The severity tag: PostgreSQL writes "LOG:  " (two spaces). Recovery
         * lines come from the startup process, whose user/database prefix
         * fields are empty, so the first tag on the line is the severity. */
        const char *tag = find_tag(line, n < MAX_LINE_SCAN ? n : MAX_LINE_SCAN, "LOG:  ", 6);
        if (!tag) continue;
        const char *m = tag + 6;
        size_t mn = n - (size_t)(m - line);
        while (mn > 0 && *m == ' ') m++, mn--;
        /* log_error_verbosity=verbose puts the SQLSTATE first: "00000: " */
        if (mn >= 7 && m[5] == ':' && m[6] == ' ') {
            bool code = true;
            for (int k = 0; k < 5; k++)
                if (!((m[k] >= '0' && m[k] <= '9') || (m[k] >= 'A' && m[k] <= 'Z'))) code = false;
            if (code) m += 7, mn -= 7;
        }

        cap c;
        if (pmatch(m, mn, "redo starts at %L", &c)) {
            memset(&g, 0, sizeof g);
            g.active = true;
            g.redo_start = c.lsn;
            g.start_line = lineno;
            groups++;
            continue;
        }
        if (pmatch(m, mn, "redo done at %L", &c)) {
            if (!g.active) {
                stray_done_line = lineno;
                continue;
            }
            if (g.have_done) {
                /* a second "redo done" without a new "redo starts": refuse */
                if (!g.conflict) {
                    g.conflict = true;
                    g.conflict_line = lineno;
                    copy_msg(g.conflict_msg, sizeof g.conflict_msg, m, mn);
                }
                continue;
            }
            g.have_done = true;
            g.done = c.lsn;
            g.done_line = lineno;
            continue;
        }
        if (starts(m, mn, "redo is not required")) {
            not_required_line = lineno;
            continue;
        }
        if (!g.active || g.have_done) continue; /* only lines inside the final replay matter */

        bool matched = false;
        lsn_eow_kind kind = LSN_EOW_RECORD;
        fc_lsn at = 0;
        for (size_t k = 0; k < sizeof RECORD_EOW / sizeof RECORD_EOW[0] && !matched; k++) {
            if (pmatch(m, mn, RECORD_EOW[k], &c) && c.has_lsn) {
                matched = true;
                kind = LSN_EOW_RECORD;
                at = c.lsn;
            }
        }
        for (size_t k = 0; k < sizeof PAGE_EOW / sizeof PAGE_EOW[0] && !matched; k++) {
            if (pmatch(m, mn, PAGE_EOW[k], &c) && c.has_seg) {
                char e2[200];
                fc_lsn p;
                if (!lsn_from_segment(c.seg, c.offset, segsize, &p, e2, sizeof e2)) {
                    seterr(err, errcap, "line %zu: %s", lineno, e2);
                    return false;
                }
                if (c.has_page_lsn && c.page_lsn != p) {
                    seterr(err, errcap,
                           "line %zu: segment %s offset %" PRIu64 " gives %s with %" PRIu64
                           "-byte segments but the message says LSN %s: wrong WAL segment size?",
                           lineno, c.seg, c.offset, lsn_format(p, a), segsize,
                           lsn_format(c.page_lsn, b));
                    return false;
                }
                matched = true;
                kind = LSN_EOW_PAGE;
                at = p;
            }
        }
        if (matched) {
            if (g.n_eow > 0 && (g.eow != at || g.kind != kind)) {
                if (!g.conflict) {
                    g.conflict = true;
                    g.conflict_line = lineno;
                    copy_msg(g.conflict_msg, sizeof g.conflict_msg, m, mn);
                }
                continue;
            }
            if (g.n_eow == 0) {
                g.kind = kind;
                g.eow = at;
                g.eow_line = lineno;
                copy_msg(g.eow_msg, sizeof g.eow_msg, m, mn);
            }
            g.n_eow++;
            continue;
        }
        for (size_t k = 0; k < sizeof BREAKING / sizeof BREAKING[0]; k++) {
            if (starts(m, mn, BREAKING[k]) && !g.broken) {
                g.broken = true;
                g.broken_line = lineno;
                copy_msg(g.broken_msg, sizeof g.broken_msg, m, mn);
            }
        }
    }

    res->recoveries = groups;
    if (groups == 0) {
        if (not_required_line)
            seterr(err, errcap,
                   "no WAL was replayed (\"redo is not required\" at line %zu): the snapshot was "
                   "of a cleanly shut-down server, its end of WAL is not in the log",
                   not_required_line);
        else if (stray_done_line)
            seterr(err, errcap,
                   "\"redo done at\" at line %zu without a preceding \"redo starts at\": the log "
                   "is incomplete", stray_done_line);
        else
            seterr(err, errcap,
                   "no \"redo starts at\" line: no recovery in this log (wrong file, log "
                   "truncated, non-English lc_messages, or log_min_messages above LOG)");
        return false;
    }
    if (!g.have_done) {
        seterr(err, errcap,
               "the last recovery (\"redo starts at\" on line %zu) has no \"redo done at\": "
               "recovery did not finish or the log is incomplete", g.start_line);
        return false;
    }
    if (g.conflict) {
        seterr(err, errcap,
               "ambiguous: the last recovery (line %zu) has more than one end-of-WAL position "
               "(\"%s\" on line %zu, and \"%s\" on line %zu)",
               g.start_line, g.eow_msg, g.eow_line, g.conflict_msg, g.conflict_line);
        return false;
    }
    if (g.broken) {
        seterr(err, errcap,
               "the last recovery did not end at the end of WAL: \"%s\" on line %zu",
               g.broken_msg, g.broken_line);
        return false;
    }
    if (g.n_eow == 0) {
        seterr(err, errcap,
               "the last recovery (lines %zu-%zu, redo done at %s) has no end-of-WAL message "
               "(WAL may have ended at a segment boundary): refusing to guess",
               g.start_line, g.done_line, lsn_format(g.done, a));
        return false;
    }

    res->redo_start = g.redo_start;
    res->redo_done = g.done;
    res->redo_done_line = g.done_line;
    res->end_of_wal = g.eow;
    res->eow_line = g.eow_line;
    res->kind = g.kind;
    fc_strlcpy(res->eow_message, g.eow_msg, sizeof res->eow_message);

    if (g.redo_start > g.done) {
        seterr(err, errcap, "contradictory: redo starts at %s after redo done at %s",
               lsn_format(g.redo_start, a), lsn_format(g.done, b));
        return false;
    }
    if (g.eow <= g.done || g.eow - g.done < FC_LSN_MIN_RECORD) {
        seterr(err, errcap,
               "contradictory: end of WAL %s (line %zu) is not at least %d bytes after redo "
               "done at %s (line %zu)",
               lsn_format(g.eow, a), g.eow_line, FC_LSN_MIN_RECORD, lsn_format(g.done, b),
               g.done_line);
        return false;
    }
    if (g.eow - g.done > max_span) {
        seterr(err, errcap,
               "implausible: end of WAL %s is %" PRIu64 " bytes after redo done at %s, more "
               "than the longest expected record (%" PRIu64 " bytes)",
               lsn_format(g.eow, a), (uint64_t)(g.eow - g.done), lsn_format(g.done, b), max_span);
        return false;
    }
    if (not_before != FC_LSN_INVALID && g.eow < not_before) {
        seterr(err, errcap,
               "the restored WAL ends at %s, before %s (the replication slots' start): the "
               "snapshot predates prepare-source and rows would be lost",
               lsn_format(g.eow, a), lsn_format(not_before, b));
        return false;
    }
    if (g.kind == LSN_EOW_RECORD) {
        res->start_lsn = g.eow;
        res->exact = true;
    } else {
        /* The page P bounds the end from above only: a record cut across P
         * started before it. Any origin in (R, E] is exact, and E >= R + 24. */
        res->start_lsn = g.done + FC_LSN_MIN_RECORD;
        res->exact = false;
    }
    return true;
}
