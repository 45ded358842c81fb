/* view_top — renders `fleetcrypt top`: an 80×24-safe screen refreshed in
 * place on a terminal, or one progress line per refresh when stdout is not a
 * TTY. Pure functions of a view model, so they are tested without Redis;
 * the caller fills top_view from Redis. */
#ifndef FC_VIEW_TOP_H
#define FC_VIEW_TOP_H

#include "dbuf.h"

#include <stdbool.h>
#include <stdint.h>

enum { TOP_PENDING = 0, TOP_RUNNING, TOP_WAITING_APPROVAL, TOP_DONE, TOP_FAILED, TOP_SKIPPED, TOP_ABORTED, TOP_NSTATES };
extern const char *const top_state_names[TOP_NSTATES]; /* "pending", "running", … as in INTERFACES.md */

#define TOP_MAX_STEPS 24
#define TOP_MAX_LIST 5

typedef struct top_instance {
    char id[64];
    char step[48];
    int attempts;
    double elapsed_s;  /* in the current step */
    char error[200];
} top_instance;

typedef struct top_view {
    char campaign[48];
    char state[16];          /* running | paused | done | aborted */
    char strategy[32];
    int total;
    int counts[TOP_NSTATES];
    struct {
        char step[48];
        int n;
    } steps[TOP_MAX_STEPS];  /* in-flight instances per step, strategy order */
    int nsteps;
    double inst_per_hour_5m, inst_per_hour_60m, steps_per_minute;
    double api_rate, api_budget; /* requests/s used and allowed (0 = unknown) */
    long throttles_5m;
    int stuck;               /* in-flight instances past their step deadline */
    top_instance slowest[TOP_MAX_LIST];
    int nslowest;
    top_instance failed[TOP_MAX_LIST];
    int nfailed;
    struct {
        char id[64];
        int64_t ends_in_s;   /* pg-logical's open rollback window: until its end */
        int64_t lag_bytes;   /* reverse lag; < 0 not measured yet */
    } rollback[TOP_MAX_LIST];
    int nrollback;
    int64_t now_ms;
} top_view;

/* Seconds until every instance is terminal at the recent rate; < 0 unknown. */
double top_eta_seconds(const top_view *v);
/* Full screen for a terminal of cols×rows (≥ 80×24 recommended; narrower is
 * truncated, never wrapped): starts with "cursor home + clear" escapes. */
bool top_render_screen(const top_view *v, int cols, int rows, dbuf *out);
/* One line, no escapes, for logs and pipes. */
bool top_render_line(const top_view *v, dbuf *out);
/* `top -o json`: the whole view as one JSON object and a newline, numbers as
 * JSON numbers (docs/cli.md lists the fields). */
bool top_render_json(const top_view *v, dbuf *out);

#endif
