/* fuzz_window — libFuzzer target for the `--window` parser (lib/window.c):
 * any text is accepted or refused with a reason; an accepted window written
 * back canonically ("Mon,Tue 01:00-05:00", or RDS's "Sat:22:00-Mon:02:00 UTC"
 * for one that spans more than a day) parses to the same window; and
 * the three clock functions agree with each other at times taken from the
 * input: inside <=> zero wait to open, the wait to open ends inside, and the
 * wait to close ends with the window still open one millisecond before. */
#include "window.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const DAYS[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

static void format(const fc_window *w, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    if (w->any_time) return;
    if (w->extra_days > 0 || w->start_min == w->end_min) { /* RDS syntax: one opening day, may span days */
        int d = 0;
        while (!(w->days & (1u << d))) d++;
        int end = w->start_min + (w->end_min > w->start_min ? w->end_min - w->start_min : w->end_min + 1440 - w->start_min) +
                  w->extra_days * 1440;
        int ed = (d + end / 1440) % 7, em = end % 1440;
        snprintf(out, cap, "%s:%02d:%02d-%s:%02d:%02d UTC", DAYS[d], w->start_min / 60, w->start_min % 60, DAYS[ed],
                 em / 60, em % 60);
        return;
    }
    for (int d = 0; d < 7; d++)
        if (w->days & (1u << d)) n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", DAYS[d]);
    snprintf(out + n, cap - n, " %02d:%02d-%02d:%02d", w->start_min / 60, w->start_min % 60, w->end_min / 60,
             w->end_min % 60);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first 8 bytes (if any) pick a time to check the clock functions at */
    int64_t t = 1767225600000LL; /* 2026-01-01 */
    if (size >= 8) {
        uint64_t v;
        memcpy(&v, data, 8);
        t += (int64_t)(v % (4000ULL * 86400000ULL)) - 2000LL * 86400000LL;
        data += 8;
        size -= 8;
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    fc_window w, back;
    char err[512] = "";
    if (!window_parse(text, &w, err, sizeof err)) {
        if (!err[0]) abort(); /* a refusal says why */
        free(text);
        return 0;
    }
    if (!w.any_time) {
        if (w.days == 0 || w.days > 0x7f) abort();
        if (w.start_min < 0 || w.start_min > 1439 || w.end_min < 1 || w.end_min > 1440) abort();
        if (w.extra_days < 0 || w.extra_days > 6) abort();
        /* equal start and end, or more days: RDS syntax, one opening day */
        if ((w.start_min == w.end_min || w.extra_days > 0) && (w.days & (w.days - 1))) abort();
    }
    char canon[128];
    format(&w, canon, sizeof canon);
    if (!window_parse(canon, &back, err, sizeof err)) abort();
    if (memcmp(&w, &back, sizeof w) != 0) abort();

    bool in = window_contains(&w, t);
    int64_t until_open = window_ms_until_open(&w, t);
    if (in != (until_open == 0)) abort();
    if (until_open < 0 || until_open > 8 * 86400000LL) abort();
    if (!in && !window_contains(&w, t + until_open)) abort();
    if (!in && until_open > 0 && window_contains(&w, t + until_open - 1)) abort();
    int64_t until_close = window_ms_until_close(&w, t);
    if (in && until_close <= 0) abort();
    if (!in && until_close != 0) abort();
    if (in && !w.any_time && until_close < 8 * 86400000LL && !window_contains(&w, t + until_close - 1)) abort();
    free(text);
    return 0;
}
