/* view_top — see view_top.h. Every line is cut to the terminal width so the
 * screen never scrolls; sections are dropped from the bottom when rows run
 * out. */
#include "view_top.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const top_state_names[TOP_NSTATES] = {"pending", "running", "waiting_approval", "done",
                                                   "failed", "skipped", "aborted"};

typedef struct screen {
    dbuf *out;
    int cols, rows, used;
    bool ok;
} screen;

/* Append one line cut to the width (byte-wise: our text is ASCII except
 * instance errors, which are cut at a UTF-8 boundary). */
static void line(screen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(screen *s, const char *fmt, ...)
{
    if (!s->ok || s->used >= s->rows) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    if ((int)n > s->cols) {
        n = (size_t)s->cols;
        while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80) n--; /* do not split a UTF-8 sequence */
    }
    s->ok = dbuf_append(s->out, buf, n) && dbuf_appends(s->out, "\x1b[K\n");
    s->used++;
}

double top_eta_seconds(const top_view *v)
{
    int terminal = v->counts[TOP_DONE] + v->counts[TOP_FAILED] + v->counts[TOP_SKIPPED] + v->counts[TOP_ABORTED];
    int left = v->total - terminal;
    if (left <= 0) return 0;
    double rate = v->inst_per_hour_5m > 0 ? v->inst_per_hour_5m : v->inst_per_hour_60m;
    if (rate <= 0) return -1;
    return left / rate * 3600.0;
}

static void fmt_duration(double s, char *out, size_t cap)
{
    if (s < 0) {
        snprintf(out, cap, "--");
        return;
    }
    long t = (long)llround(s);
    if (t >= 86400) snprintf(out, cap, "%ldd%02ldh", t / 86400, (t % 86400) / 3600);
    else if (t >= 3600) snprintf(out, cap, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else if (t >= 60) snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, cap, "%lds", t);
}

static void progress_bar(const top_view *v, int width, char *out, size_t cap)
{
    int terminal = v->counts[TOP_DONE] + v->counts[TOP_FAILED] + v->counts[TOP_SKIPPED] + v->counts[TOP_ABORTED];
    if (width < 10) width = 10;
    if ((size_t)width + 1 > cap) width = (int)cap - 1;
    int filled = v->total > 0 ? (int)((double)terminal / v->total * width) : 0;
    for (int i = 0; i < width; i++) out[i] = i < filled ? '#' : '.';
    out[width] = 0;
}

bool top_render_screen(const top_view *v, int cols, int rows, dbuf *out)
{
    if (cols < 20) cols = 20;
    if (rows < 5) rows = 5;
    screen s = {.out = out, .cols = cols, .rows = rows - 1, .used = 0, .ok = true};
    s.ok = dbuf_appends(out, "\x1b[H");
    int terminal = v->counts[TOP_DONE] + v->counts[TOP_FAILED] + v->counts[TOP_SKIPPED] + v->counts[TOP_ABORTED];
    char eta[32], bar[128];
    fmt_duration(top_eta_seconds(v), eta, sizeof eta);
    line(&s, "fleetcrypt top  campaign %s  [%s]  strategy %s", v->campaign, v->state, v->strategy);
    int barw = cols - 26;
    if (barw > 60) barw = 60;
    progress_bar(v, barw, bar, sizeof bar);
    line(&s, "[%s] %d/%d %3.0f%%  ETA %s", bar, terminal, v->total,
         v->total ? 100.0 * terminal / v->total : 0.0, eta);
    line(&s, "pending %d  running %d  approval %d  done %d  failed %d  skipped %d  aborted %d",
         v->counts[TOP_PENDING], v->counts[TOP_RUNNING], v->counts[TOP_WAITING_APPROVAL], v->counts[TOP_DONE],
         v->counts[TOP_FAILED], v->counts[TOP_SKIPPED], v->counts[TOP_ABORTED]);
    line(&s, "throughput %.1f inst/h (5m)  %.1f inst/h (60m)  %.1f steps/min", v->inst_per_hour_5m,
         v->inst_per_hour_60m, v->steps_per_minute);
    if (v->api_budget > 0)
        line(&s, "AWS API %.1f/%.1f req/s (%.0f%%)  throttled %ld (5m)  stuck %d", v->api_rate, v->api_budget,
             100.0 * v->api_rate / v->api_budget, v->throttles_5m, v->stuck);
    else
        line(&s, "AWS API %.1f req/s  throttled %ld (5m)  stuck %d", v->api_rate, v->throttles_5m, v->stuck);
    line(&s, "%s", "");
    if (v->nsteps > 0) {
        line(&s, "%-24s %s", "STEP", "IN FLIGHT");
        for (int i = 0; i < v->nsteps; i++) line(&s, "%-24s %d", v->steps[i].step, v->steps[i].n);
        line(&s, "%s", "");
    }
    if (v->nslowest > 0) {
        line(&s, "%-30s %-18s %8s %4s", "SLOWEST", "STEP", "ELAPSED", "TRY");
        for (int i = 0; i < v->nslowest; i++) {
            char el[32];
            fmt_duration(v->slowest[i].elapsed_s, el, sizeof el);
            line(&s, "%-30.30s %-18.18s %8s %4d", v->slowest[i].id, v->slowest[i].step, el, v->slowest[i].attempts);
        }
        line(&s, "%s", "");
    }
    if (v->nfailed > 0) {
        line(&s, "%-30s %s", "FAILED", "REASON");
        for (int i = 0; i < v->nfailed; i++) line(&s, "%-30.30s %s", v->failed[i].id, v->failed[i].error);
    }
    if (s.ok) s.ok = dbuf_appends(out, "\x1b[J");
    return s.ok;
}

bool top_render_line(const top_view *v, dbuf *out)
{
    int terminal = v->counts[TOP_DONE] + v->counts[TOP_FAILED] + v->counts[TOP_SKIPPED] + v->counts[TOP_ABORTED];
    char eta[32];
    fmt_duration(top_eta_seconds(v), eta, sizeof eta);
    return dbuf_printf(out,
                       "campaign=%s state=%s progress=%d/%d pending=%d running=%d waiting_approval=%d done=%d "
                       "failed=%d skipped=%d aborted=%d inst_per_hour_5m=%.1f inst_per_hour_60m=%.1f "
                       "steps_per_minute=%.1f api_rate=%.1f throttles_5m=%ld stuck=%d eta=%s\n",
                       v->campaign, v->state, terminal, v->total, v->counts[TOP_PENDING], v->counts[TOP_RUNNING],
                       v->counts[TOP_WAITING_APPROVAL], v->counts[TOP_DONE], v->counts[TOP_FAILED],
                       v->counts[TOP_SKIPPED], v->counts[TOP_ABORTED], v->inst_per_hour_5m, v->inst_per_hour_60m,
                       v->steps_per_minute, v->api_rate, v->throttles_5m, v->stuck, eta);
}
