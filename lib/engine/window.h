/* window — a campaign's recurring cutover window in UTC, as the CLI takes it:
 *   'Mon-Fri 01:00-05:00'   Monday to Friday, 01:00 to 05:00
 *   '* 22:00-02:00'         every day, 22:00 to 02:00 the next morning
 *   'Sat,Sun 00:00-24:00'   whole days; day lists and ranges combine
 *   'Fri-Mon 23:30-00:30'   day ranges may wrap past Sunday
 * The day names the day the window OPENS: 'Fri 22:00-02:00' includes
 * Saturday 01:00. An empty string means "any time". Start == end is refused
 * (ambiguous: empty or all day? write 00:00-24:00).
 * RDS's maintenance-window syntax is taken too, as `aws rds` prints
 * PreferredMaintenanceWindow: 'ddd:hh24:mi-ddd:hh24:mi', one opening a week
 * from the first day and time to the second ('sun:02:00-sun:04:00',
 * 'sat:22:00-mon:02:00': longer than a day, 'sun:23:00-mon:01:00': past
 * Sunday); the same day and time twice, or an end before the start on the
 * same day, is refused. Every time is UTC; either syntax may end with
 * "UTC". Pure functions, no clock: callers pass the time. */
#ifndef FC_WINDOW_H
#define FC_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc_window {
    bool any_time;      /* empty spec: no restriction */
    uint8_t days;       /* bit d set = the window opens on weekday d (0 = Monday … 6 = Sunday) */
    int start_min;      /* minutes after midnight UTC, 0..1439 */
    int end_min;        /* 1..1440; <= start_min means it ends the next day */
    int extra_days;     /* whole days more (RDS syntax spanning more than a day; 0..6) */
} fc_window;

/* Parse a window spec; false with a one-line reason in err. */
bool window_parse(const char *spec, fc_window *w, char *err, size_t errcap);
/* The validator of a strategy's --window option (opt_def): window_parse,
 * its reason prefixed with "--window: ". */
bool window_opt_check(const char *spec, char *err, size_t errcap);
/* Is the wall-clock time now_ms (epoch ms, UTC) inside the window? */
bool window_contains(const fc_window *w, int64_t now_ms);
/* Milliseconds until the window next opens (0 when inside it now). */
int64_t window_ms_until_open(const fc_window *w, int64_t now_ms);
/* Milliseconds until the open window closes (0 when outside it). */
int64_t window_ms_until_close(const fc_window *w, int64_t now_ms);

#endif
