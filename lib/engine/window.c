/* window — see window.h. */
#include "window.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DAY_MS 86400000LL

static const char *const DAY_NAMES[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const DAY_FULL[7] = {"monday", "tuesday", "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};

static void seterr(char *err, size_t cap, const char *msg, const char *spec)
{
    if (err && cap) snprintf(err, cap, "window '%s': %s", spec, msg);
}

/* A day name (3 letters or full, any case) of length n at s; -1 if none. */
static int day_index(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++) {
        if (n == 3 && !strncasecmp(s, DAY_NAMES[i], 3)) return i;
        if (n == strlen(DAY_FULL[i]) && !strncasecmp(s, DAY_FULL[i], n)) return i;
    }
    return -1;
}

/* "HH:MM" at *p; allow_24 permits exactly 24:00. Advances *p. */
static bool parse_hhmm(const char **p, bool allow_24, int *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)s[0])) return false;
    int h = s[0] - '0';
    s++;
    if (isdigit((unsigned char)s[0])) h = h * 10 + (*s++ - '0');
    if (*s++ != ':') return false;
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return false;
    int m = (s[0] - '0') * 10 + (s[1] - '0');
    s += 2;
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24))) return false;
    *out = h * 60 + m;
    *p = s;
    return true;
}

/* Days part: '*' or items "Day" / "Day-Day" separated by commas. */
static bool parse_days(const char *s, size_t n, uint8_t *days)
{
    *days = 0;
    if (n == 1 && s[0] == '*') {
        *days = 0x7f;
        return true;
    }
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ',') j++;
        /* item s[i..j) */
        const char *dash = memchr(s + i, '-', j - i);
        if (dash) {
            int a = day_index(s + i, (size_t)(dash - (s + i)));
            int b = day_index(dash + 1, (size_t)(s + j - (dash + 1)));
            if (a < 0 || b < 0) return false;
            for (int d = a;; d = (d + 1) % 7) { /* ranges may wrap: Fri-Mon */
                *days |= (uint8_t)(1u << d);
                if (d == b) break;
            }
        } else {
            int a = day_index(s + i, j - i);
            if (a < 0) return false;
            *days |= (uint8_t)(1u << a);
        }
        if (j < n && j + 1 == n) return false; /* trailing comma */
        i = j + 1;
    }
    return *days != 0;
}

/* Skip spaces, an optional "UTC" (any case), spaces: true at the end of the spec. */
static bool utc_tail(const char *q)
{
    while (isspace((unsigned char)*q)) q++;
    if (!strncasecmp(q, "utc", 3)) q += 3;
    while (isspace((unsigned char)*q)) q++;
    return *q == 0;
}

/* RDS's 'ddd:hh24:mi-ddd:hh24:mi' at p (one opening a week, possibly
 * spanning days), into w as the opening day, start, end and whole days more. */
static bool parse_rds(const char *spec, const char *p, fc_window *w, char *err, size_t errcap)
{
    int d1 = day_index(p, 3), t1 = 0, d2 = -1, t2 = 0;
    const char *q = p + 4;
    bool ok = d1 >= 0 && parse_hhmm(&q, false, &t1) && *q == '-';
    if (ok) {
        q++;
        d2 = day_index(q, 3);
        ok = d2 >= 0 && q[3] == ':';
        q += ok ? 4 : 0;
    }
    /* hh24 is 00..23 as RDS writes it: "sun:24:00" is "mon:00:00" */
    ok = ok && parse_hhmm(&q, false, &t2);
    if (!ok) {
        seterr(err, errcap, "UTC times in RDS's 'ddd:hh24:mi-ddd:hh24:mi' expected (hh24 00-23), e.g. "
               "'sun:02:00-sun:04:00' or 'sun:22:00-mon:00:00'", spec);
        return false;
    }
    if (!utc_tail(q)) {
        seterr(err, errcap, "unexpected text after the times (only 'UTC' may follow: every time is UTC)", spec);
        return false;
    }
    int dur = ((d2 - d1 + 7) % 7) * 1440 + t2 - t1;
    if (dur <= 0) {
        seterr(err, errcap, "the end (UTC) is not after the start on the same day", spec);
        return false;
    }
    if (dur >= 7 * 1440) {
        seterr(err, errcap, "a whole week or more (UTC): leave the window empty for any time", spec);
        return false;
    }
    w->days = (uint8_t)(1u << d1);
    w->start_min = t1;
    w->end_min = t2 == 0 ? 1440 : t2;
    int normal = w->end_min > w->start_min ? w->end_min - w->start_min : w->end_min + 1440 - w->start_min;
    w->extra_days = (dur - normal) / 1440;
    return true;
}

bool window_parse(const char *spec, fc_window *w, char *err, size_t errcap)
{
    memset(w, 0, sizeof *w);
    if (!spec) spec = "";
    const char *p = spec;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) {
        w->any_time = true;
        w->days = 0x7f;
        w->start_min = 0;
        w->end_min = 1440;
        return true;
    }
    if (isalpha((unsigned char)p[0]) && isalpha((unsigned char)p[1]) && isalpha((unsigned char)p[2]) && p[3] == ':')
        return parse_rds(spec, p, w, err, errcap);
    /* days, then one or more spaces, then HH:MM-HH:MM; a spec starting with
     * the time means every day */
    const char *times = p;
    if (!isdigit((unsigned char)*p)) {
        const char *sp = p;
        while (*sp && !isspace((unsigned char)*sp)) sp++;
        if (!parse_days(p, (size_t)(sp - p), &w->days)) {
            seterr(err, errcap, "days must be '*', a day (Mon) or a range (Mon-Fri), comma-separated, then "
                   "HH:MM-HH:MM in UTC", spec);
            return false;
        }
        times = sp;
        while (isspace((unsigned char)*times)) times++;
    } else {
        w->days = 0x7f;
    }
    const char *q = times;
    if (!parse_hhmm(&q, false, &w->start_min) || *q++ != '-' || !parse_hhmm(&q, true, &w->end_min)) {
        seterr(err, errcap, "expected 'DAYS HH:MM-HH:MM' in UTC, e.g. 'Mon-Fri 01:00-05:00', or RDS's "
               "'sun:02:00-sun:04:00'", spec);
        return false;
    }
    if (!utc_tail(q)) {
        seterr(err, errcap, "unexpected text after the times (only 'UTC' may follow: every time is UTC)", spec);
        return false;
    }
    if (w->start_min == w->end_min) {
        seterr(err, errcap, "start and end (UTC) are equal (use 00:00-24:00 for a whole day)", spec);
        return false;
    }
    if (w->end_min == 0) w->end_min = 1440; /* "…-00:00" ends at midnight: 24:00, end_min in 1..1440 */
    return true;
}

static int weekday_of_day(int64_t day) /* day: days since the epoch; 1970-01-01 was a Thursday */
{
    int64_t d = (day + 3) % 7;
    if (d < 0) d += 7;
    return (int)d;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* The open interval [open, close) in epoch ms of the window opening on day
 * `day`, if the window opens that day. */
static bool opening(const fc_window *w, int64_t day, int64_t *open, int64_t *close)
{
    if (!(w->days & (1u << weekday_of_day(day)))) return false;
    *open = day * DAY_MS + (int64_t)w->start_min * 60000;
    int64_t end = w->end_min > w->start_min ? w->end_min : w->end_min + 1440;
    *close = day * DAY_MS + (end + (int64_t)w->extra_days * 1440) * 60000;
    return true;
}

/* The opening containing now, if any. */
static bool current(const fc_window *w, int64_t now_ms, int64_t *open, int64_t *close)
{
    int64_t today = floor_div(now_ms, DAY_MS);
    for (int64_t day = today - 1 - w->extra_days; day <= today; day++) { /* an opening lasts < 8 days */
        int64_t o, c;
        if (opening(w, day, &o, &c) && now_ms >= o && now_ms < c) {
            *open = o;
            *close = c;
            return true;
        }
    }
    return false;
}

bool window_contains(const fc_window *w, int64_t now_ms)
{
    if (w->any_time) return true;
    int64_t o, c;
    return current(w, now_ms, &o, &c);
}

int64_t window_ms_until_open(const fc_window *w, int64_t now_ms)
{
    if (window_contains(w, now_ms)) return 0;
    int64_t today = floor_div(now_ms, DAY_MS);
    for (int64_t day = today; day <= today + 8; day++) {
        int64_t o, c;
        if (opening(w, day, &o, &c) && o > now_ms) return o - now_ms;
    }
    return 7 * DAY_MS; /* unreachable for a parsed window */
}

int64_t window_ms_until_close(const fc_window *w, int64_t now_ms)
{
    if (w->any_time) return INT64_MAX;
    int64_t o, c;
    if (!current(w, now_ms, &o, &c)) return 0;
    /* consecutive openings chain: 'Mon-Sun 00:00-24:00' never closes */
    for (int i = 0; i < 8; i++) {
        int64_t o2, c2;
        if (!current(w, c, &o2, &c2)) break;
        c = c2;
    }
    return c - now_ms;
}

bool window_opt_check(const char *spec, char *err, size_t errcap)
{
    fc_window w;
    char e[256];
    if (window_parse(spec, &w, e, sizeof e)) return true;
    snprintf(err, errcap, "--window: %s", e);
    return false;
}
