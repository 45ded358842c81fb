/* duration — "90s", "30m", "48h", "7d" or seconds (duration.h). */
#include "duration.h"

#include <stdio.h>

bool fc_duration_parse(const char *s, int64_t *seconds)
{
    if (!s || !*s) return false;
    int64_t n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > FC_DURATION_MAX_S) return false;
    }
    if (p == s) return false;
    int64_t mul = 1;
    switch (*p) {
    case 0: break;
    case 's': mul = 1; p++; break;
    case 'm': mul = 60; p++; break;
    case 'h': mul = 3600; p++; break;
    case 'd': mul = 86400; p++; break;
    default: return false;
    }
    if (*p) return false;
    if (n > FC_DURATION_MAX_S / mul) return false;
    *seconds = n * mul;
    return true;
}

bool duration_opt_check(const char *v, char *err, size_t errcap)
{
    int64_t s = 0;
    if (!v || !*v) return true;
    if (!fc_duration_parse(v, &s) || s <= 0) {
        snprintf(err, errcap, "'%.40s' is not a duration (e.g. 90s, 30m, 48h, 7d; at most 366d)", v);
        return false;
    }
    return true;
}
