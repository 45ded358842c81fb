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
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SPAN (16u * 1024u * 1024u)
#define MAX_STARTS 10000 /* server starts kept from one log */
#define RDS_LINE_PREFIX "%t:%r:%u@%d:[%p]:"

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

/* ---- log_line_prefix: which lines a background process wrote ----
 * The prefix is compiled once and matched anchored at the start of every
 * line *as the prefix of a process without a client session*: the session
 * fields (%u %d %r %h %a %i %L) must be empty, %q ends the prefix. A client
 * session's line (a failed login with a crafted user name, RAISE LOG) has a
 * non-empty user/database/remote field under RDS's "%t:%r:%u@%d:[%p]:" and
 * so never matches; under prefixes without session fields it still carries
 * its own pid, which is not the startup process's. */
#define MAX_PTOK 48

typedef struct ptok {
    char esc;        /* 0 = literal */
    const char *lit; /* literal text (into the format string) */
    size_t litlen;
    int pad;         /* |padding| of "%-10p" / "%10p" */
} ptok;

typedef struct pfmt {
    ptok t[MAX_PTOK];
    int n;
    bool has_pid, has_time;
} pfmt;

static bool compile_prefix(const char *f, pfmt *pf, char *err, size_t errcap)
{
    memset(pf, 0, sizeof *pf);
    for (size_t i = 0; f[i];) {
        if (pf->n >= MAX_PTOK) {
            seterr(err, errcap, "log_line_prefix \"%.80s\" is too long", f);
            return false;
        }
        ptok *t = &pf->t[pf->n];
        if (f[i] != '%' || f[i + 1] == '%') {
            /* literal run ("%%" is a literal '%': keep it as its own token) */
            if (f[i] == '%') {
                t->lit = f + i;
                t->litlen = 1;
                i += 2;
            } else {
                size_t k = i;
                while (f[k] && f[k] != '%') k++;
                t->lit = f + i;
                t->litlen = k - i;
                i = k;
            }
            pf->n++;
            continue;
        }
        i++;
        int sign = 1, pad = 0;
        if (f[i] == '-') sign = -1, i++;
        while (f[i] >= '0' && f[i] <= '9') pad = pad * 10 + (f[i++] - '0');
        (void)sign;
        if (!f[i]) break; /* a trailing '%' prints nothing */
        t->esc = f[i++];
        t->pad = pad > 1000 ? 1000 : pad;
        if (t->esc == 'p') pf->has_pid = true;
        if (t->esc == 't' || t->esc == 'm' || t->esc == 'n') pf->has_time = true;
        pf->n++;
        if (t->esc == 'q') break; /* the rest is for client sessions only */
    }
    if (!pf->has_pid) {
        seterr(err, errcap,
               "log_line_prefix \"%.80s\" has no %%p: the startup process's lines cannot be told from "
               "any session's (refusing)", f);
        return false;
    }
    return true;
}

typedef struct linfo {
    int pid;
    bool has_time;  /* a time escape matched and its zone is understood */
    bool bad_zone;  /* a time escape matched with a zone we cannot convert */
    char zone[16];
    int64_t time;   /* Unix seconds */
} linfo;

static bool isdig(char c) { return c >= '0' && c <= '9'; }

static bool fixed_dec(const char *s, size_t n, size_t at, int w, int *v)
{
    if (at + (size_t)w > n) return false;
    int x = 0;
    for (int k = 0; k < w; k++) {
        if (!isdig(s[at + (size_t)k])) return false;
        x = x * 10 + (s[at + (size_t)k] - '0');
    }
    *v = x;
    return true;
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD HH:MM:SS[.mmm] ZONE" at s+*i; zone = [A-Za-z0-9+-]+ */
static bool parse_ts(const char *s, size_t n, size_t *i, bool ms, linfo *li, bool record)
{
    size_t p = *i;
    int Y, M, D, h, mi, se, x;
    if (!fixed_dec(s, n, p, 4, &Y) || p + 19 > n || s[p + 4] != '-' || !fixed_dec(s, n, p + 5, 2, &M) ||
        s[p + 7] != '-' || !fixed_dec(s, n, p + 8, 2, &D) || s[p + 10] != ' ' || !fixed_dec(s, n, p + 11, 2, &h) ||
        s[p + 13] != ':' || !fixed_dec(s, n, p + 14, 2, &mi) || s[p + 16] != ':' || !fixed_dec(s, n, p + 17, 2, &se))
        return false;
    p += 19;
    if (ms) {
        if (p >= n || s[p] != '.' || !fixed_dec(s, n, p + 1, 3, &x)) return false;
        p += 4;
    }
    if (p >= n || s[p] != ' ') return false;
    p++;
    size_t z = p;
    while (p < n && (isdig(s[p]) || (s[p] >= 'A' && s[p] <= 'Z') || (s[p] >= 'a' && s[p] <= 'z') || s[p] == '+' ||
                     s[p] == '-'))
        p++;
    if (p == z || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || se > 60) return false;
    *i = p;
    if (!record) return true;
    size_t zl = p - z;
    int64_t off = 0;
    bool zok = false;
    if ((zl == 3 && (!memcmp(s + z, "UTC", 3) || !memcmp(s + z, "GMT", 3) || !memcmp(s + z, "UCT", 3))) ||
        (zl == 1 && s[z] == 'Z'))
        zok = true;
    else if ((s[z] == '+' || s[z] == '-') && (zl == 3 || zl == 5)) {
        int hh, mm = 0;
        if (fixed_dec(s, z + zl, z + 1, 2, &hh) && (zl == 3 || fixed_dec(s, z + zl, z + 3, 2, &mm))) {
            off = (int64_t)(hh * 3600 + mm * 60) * (s[z] == '+' ? 1 : -1);
            zok = true;
        }
    }
    li->has_time = zok;
    li->bad_zone = !zok;
    size_t k = zl < sizeof li->zone - 1 ? zl : sizeof li->zone - 1;
    memcpy(li->zone, s + z, k);
    li->zone[k] = 0;
    if (zok) li->time = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + se - off;
    return true;
}

static size_t skip_sp(const char *s, size_t n, size_t i, int max)
{
    while (max-- > 0 && i < n && s[i] == ' ') i++;
    return i;
}

/* Match tokens [ti..] at s+i; on success *end = where the prefix ends. */
static bool pmatch_prefix(const pfmt *pf, int ti, const char *s, size_t n, size_t i, linfo *li, size_t *end)
{
    for (; ti < pf->n; ti++) {
        const ptok *t = &pf->t[ti];
        if (!t->esc) {
            if (n - i < t->litlen || memcmp(s + i, t->lit, t->litlen) != 0) return false;
            i += t->litlen;
            continue;
        }
        size_t st = i;
        i = skip_sp(s, n, i, t->pad); /* right-justified padding */
        switch (t->esc) {
        case 'q':
            *end = i;
            return true;
        case 'u': case 'd': case 'r': case 'h': case 'a': case 'i': case 'L':
            break; /* empty for a process without a client session */
        case 'p': case 'l': case 'x': case 'P': case 'Q': {
            if (t->esc == 'Q' && i < n && s[i] == '-') i++;
            size_t k = i;
            while (k < n && isdig(s[k]) && k - i < 12) k++;
            if (k == i && t->esc != 'P') return false;
            if (t->esc == 'p') {
                if (k - i > 9) return false;
                int v = 0;
                for (size_t q = i; q < k; q++) v = v * 10 + (s[q] - '0');
                li->pid = v;
            }
            i = k;
            break;
        }
        case 't': case 'm': case 's':
            if (!parse_ts(s, n, &i, t->esc == 'm', li, t->esc != 's')) return false;
            break;
        case 'n': {
            size_t k = i;
            int64_t v = 0;
            while (k < n && isdig(s[k]) && k - i < 15) v = v * 10 + (s[k++] - '0');
            if (k == i || k + 4 > n || s[k] != '.') return false;
            int ms;
            if (!fixed_dec(s, n, k + 1, 3, &ms)) return false;
            i = k + 4;
            li->time = v;
            li->has_time = true;
            break;
        }
        case 'c': {
            size_t k = i;
            while (k < n && hexval(s[k]) >= 0) k++;
            if (k == i || k >= n || s[k] != '.') return false;
            k++;
            size_t k2 = k;
            while (k2 < n && hexval(s[k2]) >= 0) k2++;
            if (k2 == k) return false;
            i = k2;
            break;
        }
        case 'v': { /* "" or "N/N" */
            size_t k = i;
            while (k < n && isdig(s[k])) k++;
            if (k > i && k < n && s[k] == '/') {
                size_t k2 = k + 1;
                while (k2 < n && isdig(s[k2])) k2++;
                if (k2 > k + 1) i = k2;
            }
            break;
        }
        case 'e':
            if (n - i < 5) return false;
            for (int k = 0; k < 5; k++)
                if (!(isdig(s[i + (size_t)k]) || (s[i + (size_t)k] >= 'A' && s[i + (size_t)k] <= 'Z'))) return false;
            i += 5;
            break;
        case 'b': { /* backend type: lower-case words; try the longest first */
            size_t k = i;
            while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || s[k] == ' ') && k - i < 64) k++;
            for (size_t e = k; e > i; e--) {
                linfo save = *li;
                size_t j = skip_sp(s, n, e, t->pad - (int)(e - st));
                if (pmatch_prefix(pf, ti + 1, s, n, j, li, end)) return true;
                *li = save;
            }
            return false;
        }
        default:
            break; /* unknown escapes print nothing */
        }
        if (t->pad > 0) i = skip_sp(s, n, i, t->pad - (int)(i - st)); /* left-justified padding */
    }
    *end = i;
    return true;
}

/* One server start: the startup process's "database system was ..." line
 * and what that process (same pid) logged until the start's window closed
 * (the next start, "ready to accept connections", a shutdown or a
 * crash-restart of the postmaster). */
typedef struct group {
    size_t line;         /* the "database system was ..." line */
    int pid;             /* the startup process */
    bool has_time;
    int64_t time;
    bool clean;          /* "was shut down at": no crash recovery */
    bool open;           /* window still open at the end of the log */
    bool ready;          /* its server accepted connections afterwards */
    bool in_progress;    /* "automatic recovery in progress" */
    size_t not_required_line;
    int n_start;         /* "redo starts at" lines */
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

static bool starts(const char *m, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(m, s, k) == 0;
}

static bool is_start(const char *m, size_t n, bool *clean)
{
    *clean = starts(m, n, "database system was shut down at ") ||
             starts(m, n, "database system was shut down in recovery at ");
    return *clean || starts(m, n, "database system was interrupted") ||
           starts(m, n, "database system shutdown was interrupted");
}

static bool recovering(const group *g)
{
    return !g->clean || g->n_start > 0 || g->in_progress || g->not_required_line;
}

static void set_conflict(group *g, size_t lineno, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_conflict(group *g, size_t lineno, const char *fmt, ...)
{
    if (g->conflict) return;
    g->conflict = true;
    g->conflict_line = lineno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->conflict_msg, sizeof g->conflict_msg, fmt, ap);
    va_end(ap);
}

/* g[i] continues the recovery of g[i-1]: that one replayed WAL, never
 * finished ("redo done at") nor opened for connections, and its window was
 * closed by a restart. Nothing was written in between, so the WAL end is the
 * same. */
static bool continues(const group *gs, size_t i)
{
    return i > 0 && recovering(&gs[i - 1]) && !gs[i - 1].have_done && !gs[i - 1].ready && !gs[i - 1].open &&
           !gs[i - 1].not_required_line && recovering(&gs[i]);
}

static void fmt_time(int64_t t, char *out, size_t cap_)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    /* the result is checked so that -O2's -Wformat-truncation (release
     * builds) accepts the wide ranges it infers for y, m and d */
    int n = snprintf(out, cap_, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld UTC", (long long)y, (long long)m,
                     (long long)d, (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60));
    if (n < 0 && cap_) out[0] = 0;
}

bool lsn_find_start(const char *text, size_t len, const lsn_log_opts *opts,
                    lsn_log_result *res, char *err, size_t errcap)
{
    uint64_t segsize = opts && opts->wal_segment_size ? opts->wal_segment_size : FC_WAL_SEGSIZE_DEFAULT;
    uint64_t max_span = opts && opts->max_record_span ? opts->max_record_span : DEFAULT_MAX_SPAN;
    fc_lsn not_before = opts ? opts->not_before : FC_LSN_INVALID;
    int64_t after = opts ? opts->restored_after : 0;
    const char *prefix = opts && opts->line_prefix ? opts->line_prefix : RDS_LINE_PREFIX;
    char a[FC_LSN_STRLEN], b[FC_LSN_STRLEN], ta[40];

    memset(res, 0, sizeof *res);
    if (err && errcap) err[0] = 0;
    if (!lsn_valid_segsize(segsize)) {
        seterr(err, errcap, "invalid WAL segment size %" PRIu64, segsize);
        return false;
    }
    pfmt pf;
    if (!compile_prefix(prefix, &pf, err, errcap)) return false;
    if (after > 0 && !pf.has_time) {
        seterr(err, errcap, "log_line_prefix \"%.80s\" has no time (%%t/%%m/%%n): the source's old log lines "
                            "cannot be told from the restored server's", prefix);
        return false;
    }
    if (!text) len = 0;

    group *gs = NULL;
    size_t ng = 0, gcap = 0;
    bool cur_open = false; /* gs[ng-1]'s window */
    size_t stray_line = 0;
    bool ok = false;
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        size_t n = 0;
        while (pos + n < len && line[n] != '\n') n++;
        pos += n + (pos + n < len ? 1 : 0);
        lineno++;
        if (n > 0 && line[n - 1] == '\r') n--;

        /* only lines of processes without a client session, severity LOG */
        linfo li;
        memset(&li, 0, sizeof li);
        size_t pe = 0;
        if (!pmatch_prefix(&pf, 0, line, n, 0, &li, &pe)) continue;
        if (n - pe < 6 || memcmp(line + pe, "LOG:  ", 6) != 0) continue;
        const char *m = line + pe + 6;
        size_t mn = n - pe - 6;
        while (mn > 0 && *m == ' ') m++, mn--;
        /* log_error_verbosity=verbose puts the SQLSTATE first: "00000: " */
        if (mn >= 7 && m[5] == ':' && m[6] == ' ') {
            bool code = true;
            for (int k = 0; k < 5; k++)
                if (!((m[k] >= '0' && m[k] <= '9') || (m[k] >= 'A' && m[k] <= 'Z'))) code = false;
            if (code) m += 7, mn -= 7;
        }

        bool clean = false;
        if (is_start(m, mn, &clean)) {
            if (li.bad_zone && after > 0) {
                seterr(err, errcap,
                       "line %zu: the time zone \"%s\" of the log cannot be compared with the restore time: "
                       "set log_timezone to UTC (refusing)", lineno, li.zone);
                goto out;
            }
            if (ng == MAX_STARTS) {
                seterr(err, errcap, "more than %d server starts in the log: refusing", MAX_STARTS);
                goto out;
            }
            if (ng == gcap) {
                size_t nc = gcap ? gcap * 2 : 8;
                group *ngs = realloc(gs, nc * sizeof *gs);
                if (!ngs) {
                    seterr(err, errcap, "out of memory");
                    goto out;
                }
                gs = ngs;
                gcap = nc;
            }
            if (ng && cur_open) gs[ng - 1].open = false;
            group *g = &gs[ng++];
            memset(g, 0, sizeof *g);
            g->line = lineno;
            g->pid = li.pid;
            g->has_time = li.has_time;
            g->time = li.time;
            g->clean = clean;
            g->open = true;
            cur_open = true;
            continue;
        }
        bool ready = starts(m, mn, "database system is ready to accept connections");
        if (ready || starts(m, mn, "starting PostgreSQL ") ||
            starts(m, mn, "all server processes terminated; reinitializing") ||
            starts(m, mn, "database system is shut down")) {
            if (ng && cur_open) {
                gs[ng - 1].open = false;
                gs[ng - 1].ready = ready;
                cur_open = false;
            }
            continue;
        }
        cap c;
        if (!ng || !cur_open || li.pid != gs[ng - 1].pid) {
            /* not the open start's startup process: never counts */
            if (!stray_line && (pmatch(m, mn, "redo starts at %L", &c) || pmatch(m, mn, "redo done at %L", &c)))
                stray_line = lineno;
            continue;
        }
        group *g = &gs[ng - 1];
        if (starts(m, mn, "database system was not properly shut down")) {
            g->in_progress = true;
            continue;
        }
        if (pmatch(m, mn, "redo starts at %L", &c)) {
            if (++g->n_start > 1) {
                char q[120];
                copy_msg(q, sizeof q, m, mn);
                set_conflict(g, lineno, "a second \"redo starts at\" from startup process %d (line %zu: \"%s\"): "
                                        "injected or mixed logs", g->pid, lineno, q);
                continue;
            }
            g->redo_start = c.lsn;
            g->start_line = lineno;
            continue;
        }
        if (pmatch(m, mn, "redo done at %L", &c)) {
            if (g->have_done || !g->n_start) {
                char q[120];
                copy_msg(q, sizeof q, m, mn);
                set_conflict(g, lineno, "%s \"redo done at\" from startup process %d (line %zu: \"%s\")",
                             g->have_done ? "a second" : "a", g->pid, lineno, q);
                continue;
            }
            g->have_done = true;
            g->done = c.lsn;
            g->done_line = lineno;
            continue;
        }
        if (starts(m, mn, "redo is not required")) {
            g->not_required_line = lineno;
            continue;
        }

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
                    goto out;
                }
                if (c.has_page_lsn && c.page_lsn != p) {
                    seterr(err, errcap,
                           "line %zu: segment %s offset %" PRIu64 " gives %s with %" PRIu64
                           "-byte segments but the message says LSN %s: wrong WAL segment size?",
                           lineno, c.seg, c.offset, lsn_format(p, a), segsize,
                           lsn_format(c.page_lsn, b));
                    goto out;
                }
                matched = true;
                kind = LSN_EOW_PAGE;
                at = p;
            }
        }
        if (matched) {
            char q[200];
            copy_msg(q, sizeof q, m, mn);
            if (g->have_done) {
                set_conflict(g, lineno, "an end-of-WAL message after \"redo done at\" (line %zu: \"%s\")", lineno, q);
                continue;
            }
            if (g->n_eow > 0 && (g->eow != at || g->kind != kind)) {
                set_conflict(g, lineno, "more than one end-of-WAL position (\"%s\" on line %zu, and \"%s\" on line %zu)",
                             g->eow_msg, g->eow_line, q, lineno);
                continue;
            }
            if (g->n_eow == 0) {
                g->kind = kind;
                g->eow = at;
                g->eow_line = lineno;
                copy_msg(g->eow_msg, sizeof g->eow_msg, m, mn);
            }
            g->n_eow++;
            continue;
        }
        if (g->have_done) continue;
        for (size_t k = 0; k < sizeof BREAKING / sizeof BREAKING[0]; k++) {
            if (starts(m, mn, BREAKING[k]) && !g->broken) {
                g->broken = true;
                g->broken_line = lineno;
                copy_msg(g->broken_msg, sizeof g->broken_msg, m, mn);
            }
        }
    }

    /* ---- which start is the restore's ---- */
    for (size_t i = 0; i < ng; i++)
        if (recovering(&gs[i]) && !continues(gs, i)) res->recoveries++;
    if (ng == 0) {
        res->incomplete = true;
        if (stray_line)
            seterr(err, errcap,
                   "no \"redo starts at\" from a server start's startup process: recovery lines (line %zu) "
                   "without a \"database system was ...\" line of their process before them (log incomplete?)",
                   stray_line);
        else
            seterr(err, errcap,
                   "no \"redo starts at\" line: no server start in this log (wrong file, log truncated, "
                   "non-English lc_messages, log_min_messages above LOG, or a log_line_prefix other than "
                   "\"%.80s\")", prefix);
        goto out;
    }
    size_t head = ng, last;
    int later = 0;
    if (after > 0) {
        size_t c0 = ng;
        for (size_t i = 0; i < ng; i++) {
            if (!gs[i].has_time) {
                seterr(err, errcap, "line %zu: a server start without a readable time: refusing", gs[i].line);
                goto out;
            }
            if (gs[i].time >= after) {
                if (c0 == ng) c0 = i;
            } else if (c0 != ng) {
                seterr(err, errcap,
                       "the log is not in time order: the server start on line %zu is older than the one on "
                       "line %zu (log files given out of order?)", gs[i].line, gs[c0].line);
                goto out;
            }
        }
        res->source_starts = (int)(c0 == ng ? ng : c0);
        fmt_time(after, ta, sizeof ta);
        if (c0 == ng) {
            res->incomplete = true;
            seterr(err, errcap,
                   "no server start at or after %s (the restore): the restored server's lines are not in the "
                   "log yet (%zu start(s) of the source's old logs before it)", ta, ng);
            goto out;
        }
        /* The restore's first start replays WAL: the snapshot is of a running
         * server. A start without recovery in the restore's own second may
         * be the source's (log times have one-second resolution). */
        for (head = c0; head < ng && !recovering(&gs[head]); head++) {
            if (gs[head].time > after) {
                seterr(err, errcap,
                       "the restored server's first start (line %zu, pid %d) did not replay WAL: the snapshot "
                       "was of a shut-down server or its start is missing from the log; a later recovery would "
                       "be the restored instance's own, not the snapshot's end (refusing)", gs[head].line,
                       gs[head].pid);
                goto out;
            }
        }
        if (head == ng) {
            res->incomplete = true;
            seterr(err, errcap, "no server start at or after %s replayed WAL (yet)", ta);
            goto out;
        }
    } else {
        for (size_t i = 0; i < ng; i++) {
            if (!recovering(&gs[i]) || continues(gs, i)) continue;
            if (head == ng) {
                head = i;
                continue;
            }
            seterr(err, errcap,
                   "ambiguous: %d crash recoveries in the log (server starts on lines %zu and %zu) and no "
                   "restore time to tell the restore's (the first after it) from the source's old ones or "
                   "the restored instance's own later ones", res->recoveries, gs[head].line, gs[i].line);
            goto out;
        }
        if (head == ng) {
            res->incomplete = true;
            seterr(err, errcap, "no \"redo starts at\": no server start in this log replayed WAL (%zu start(s), "
                                "none a crash recovery)", ng);
            goto out;
        }
    }
    last = head;
    while (last + 1 < ng && continues(gs, last + 1)) last++;
    for (size_t i = last + 1; i < ng; i++)
        if (recovering(&gs[i]) && !continues(gs, i)) later++;
    res->later_recoveries = later;
    if (after > 0 && later > 0 && gs[head].time == after) {
        seterr(err, errcap,
               "ambiguous: the server start on line %zu is in the same second as the restore time %s, and a "
               "later start (another crash recovery) follows: cannot tell which is the restore's", gs[head].line, ta);
        goto out;
    }
    group *g = &gs[last];
    res->startup_pid = g->pid;
    res->start_line = gs[head].line;
    for (size_t i = head; i < last; i++) {
        if (gs[i].n_eow && (!g->n_eow || gs[i].eow != g->eow || gs[i].kind != g->kind)) {
            seterr(err, errcap,
                   "ambiguous: the interrupted recovery (start on line %zu) and its continuation (line %zu) name "
                   "different ends of WAL", gs[i].line, g->line);
            goto out;
        }
    }

    if (g->not_required_line) {
        seterr(err, errcap,
               "no WAL was replayed (\"redo is not required\" at line %zu): the snapshot was "
               "of a cleanly shut-down server, its end of WAL is not in the log",
               g->not_required_line);
        goto out;
    }
    if (g->conflict) {
        seterr(err, errcap, "ambiguous: the restore's recovery (server start on line %zu): %s", g->line,
               g->conflict_msg);
        goto out;
    }
    if (!g->n_start) {
        res->incomplete = g->open;
        seterr(err, errcap, "the restore's server start (line %zu, pid %d) has no \"redo starts at\"%s", g->line,
               g->pid, g->open ? " yet" : "");
        goto out;
    }
    if (!g->have_done) {
        res->incomplete = g->open;
        seterr(err, errcap,
               "the restore's recovery (\"redo starts at\" on line %zu, startup process %d) has no \"redo done "
               "at\": %s", g->start_line, g->pid,
               g->open ? "recovery still running or the log is incomplete" : "recovery did not finish");
        goto out;
    }
    if (g->broken) {
        seterr(err, errcap,
               "the restore's recovery did not end at the end of WAL: \"%s\" on line %zu",
               g->broken_msg, g->broken_line);
        goto out;
    }
    if (g->n_eow == 0) {
        seterr(err, errcap,
               "the restore's recovery (lines %zu-%zu, redo done at %s) has no end-of-WAL message "
               "(WAL may have ended at a segment boundary): refusing to guess",
               g->start_line, g->done_line, lsn_format(g->done, a));
        goto out;
    }

    res->redo_start = g->redo_start;
    res->redo_done = g->done;
    res->redo_done_line = g->done_line;
    res->end_of_wal = g->eow;
    res->eow_line = g->eow_line;
    res->kind = g->kind;
    fc_strlcpy(res->eow_message, g->eow_msg, sizeof res->eow_message);

    if (g->redo_start > g->done) {
        seterr(err, errcap, "contradictory: redo starts at %s after redo done at %s",
               lsn_format(g->redo_start, a), lsn_format(g->done, b));
        goto out;
    }
    if (g->eow <= g->done || g->eow - g->done < FC_LSN_MIN_RECORD) {
        seterr(err, errcap,
               "contradictory: end of WAL %s (line %zu) is not at least %d bytes after redo "
               "done at %s (line %zu)",
               lsn_format(g->eow, a), g->eow_line, FC_LSN_MIN_RECORD, lsn_format(g->done, b),
               g->done_line);
        goto out;
    }
    if (g->eow - g->done > max_span) {
        seterr(err, errcap,
               "implausible: end of WAL %s is %" PRIu64 " bytes after redo done at %s, more "
               "than the longest expected record (%" PRIu64 " bytes)",
               lsn_format(g->eow, a), (uint64_t)(g->eow - g->done), lsn_format(g->done, b), max_span);
        goto out;
    }
    if (not_before != FC_LSN_INVALID && g->eow < not_before) {
        seterr(err, errcap,
               "the restored WAL ends at %s, before %s (the replication slots' start): the "
               "snapshot predates prepare-source and rows would be lost",
               lsn_format(g->eow, a), lsn_format(not_before, b));
        goto out;
    }
    if (g->kind == LSN_EOW_RECORD) {
        res->start_lsn = g->eow;
        res->exact = true;
    } else {
        /* The page P bounds the end from above only: a record cut across P
         * started before it. Any origin in (R, E] is exact, and E >= R + 24. */
        res->start_lsn = g->done + FC_LSN_MIN_RECORD;
        res->exact = false;
    }
    ok = true;
out:
    free(gs);
    if (!ok) {
        res->start_lsn = FC_LSN_INVALID;
        if (err && errcap && !err[0]) seterr(err, errcap, "refused");
    }
    return ok;
}

bool lsn_check_server_bounds(const lsn_log_result *r, fc_lsn checkpoint_redo, fc_lsn current_wal,
                             char *err, size_t errcap)
{
    char a[FC_LSN_STRLEN], b[FC_LSN_STRLEN];
    if (err && errcap) err[0] = 0;
    fc_lsn end = r->kind == LSN_EOW_RECORD ? r->end_of_wal : r->start_lsn;
    if (checkpoint_redo != FC_LSN_INVALID && end > checkpoint_redo) {
        seterr(err, errcap,
               "the end of WAL %s read from the log (startup process %d, start on line %zu) is past the redo "
               "location %s of the server's latest checkpoint (pg_control_checkpoint()), which its "
               "end-of-recovery checkpoint put at that end: the recovery in the log is not this server's",
               lsn_format(end, a), r->startup_pid, r->start_line, lsn_format(checkpoint_redo, b));
        return false;
    }
    if (current_wal == FC_LSN_INVALID || r->start_lsn > current_wal) {
        seterr(err, errcap,
               "the start %s read from the log (startup process %d, start on line %zu) is past the server's "
               "WAL insert position %s (pg_current_wal_lsn()): the recovery in the log is not this server's",
               lsn_format(r->start_lsn, a), r->startup_pid, r->start_line, lsn_format(current_wal, b));
        return false;
    }
    return true;
}
