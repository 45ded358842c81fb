/* view_top — see view_top.h. The layout follows the terminal's size at
 * every refresh: the counts, throughput and AWS lines flow onto as many
 * lines as the width needs, every line is cut to the width so the screen
 * never wraps or scrolls, blank separators go first when rows are short,
 * and sections are dropped from the bottom when rows run out (header,
 * progress and counts come first). */
#include "view_top.h"
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A blank separator, only while rows are plentiful. */
static void gap(screen *s)
{
    if (s->rows - s->used > 8) line(s, "%s", "");
}

/* Items joined by two spaces, wrapped onto as many lines as the width
 * needs; an item is cut only when it alone is wider than the screen. */
static void flow(screen *s, const char *const *items, int n)
{
    char buf[512];
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t il = strlen(items[i]);
        if (len > 0 && (int)(len + 2 + il) > s->cols) {
            line(s, "%s", buf);
            len = 0;
            buf[0] = 0;
        }
        int w = snprintf(buf + len, sizeof buf - len, "%s%s", len ? "  " : "", items[i]);
        if (w > 0) len += (size_t)w < sizeof buf - len ? (size_t)w : sizeof buf - len - 1;
    }
    if (len > 0) line(s, "%s", buf);
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
    if (cols < 1) cols = 1;
    if (rows < 2) rows = 2;
    screen s = {.out = out, .cols = cols, .rows = rows - 1, .used = 0, .ok = true};
    s.ok = dbuf_appends(out, "\x1b[H");
    int terminal = v->counts[TOP_DONE] + v->counts[TOP_FAILED] + v->counts[TOP_SKIPPED] + v->counts[TOP_ABORTED];
    char eta[32], bar[128];
    fmt_duration(top_eta_seconds(v), eta, sizeof eta);
    char h1[96], h2[80], h3[64];
    snprintf(h1, sizeof h1, "fleetcrypt top  campaign %s", v->campaign);
    snprintf(h2, sizeof h2, "[%s]", v->state);
    snprintf(h3, sizeof h3, "strategy %s", v->strategy);
    const char *head[] = {h1, h2, h3};
    flow(&s, head, 3);
    int barw = cols - 26;
    if (barw > 60) barw = 60;
    if (barw >= 10) {
        progress_bar(v, barw, bar, sizeof bar);
        line(&s, "[%s] %d/%d %3.0f%%  ETA %s", bar, terminal, v->total,
             v->total ? 100.0 * terminal / v->total : 0.0, eta);
    } else {
        line(&s, "%d/%d %3.0f%%  ETA %s", terminal, v->total, v->total ? 100.0 * terminal / v->total : 0.0, eta);
    }
    static const char *const short_names[TOP_NSTATES] = {"pending", "running", "approval", "done",
                                                         "failed", "skipped", "aborted"};
    char cbuf[TOP_NSTATES][40];
    const char *citems[TOP_NSTATES];
    for (int i = 0; i < TOP_NSTATES; i++) {
        snprintf(cbuf[i], sizeof cbuf[i], "%s %d", short_names[i], v->counts[i]);
        citems[i] = cbuf[i];
    }
    flow(&s, citems, TOP_NSTATES);
    char t1[64], t2[48], t3[48];
    snprintf(t1, sizeof t1, "throughput %.1f inst/h (5m)", v->inst_per_hour_5m);
    snprintf(t2, sizeof t2, "%.1f inst/h (60m)", v->inst_per_hour_60m);
    snprintf(t3, sizeof t3, "%.1f steps/min", v->steps_per_minute);
    const char *titems[] = {t1, t2, t3};
    flow(&s, titems, 3);
    char a1[96], a2[48], a3[32];
    if (v->api_budget > 0)
        snprintf(a1, sizeof a1, "AWS API %.1f/%.1f req/s (%.0f%%)", v->api_rate, v->api_budget,
                 100.0 * v->api_rate / v->api_budget);
    else
        snprintf(a1, sizeof a1, "AWS API %.1f req/s", v->api_rate);
    snprintf(a2, sizeof a2, "throttled %ld (5m)", v->throttles_5m);
    snprintf(a3, sizeof a3, "stuck %d", v->stuck);
    const char *aitems[] = {a1, a2, a3};
    flow(&s, aitems, 3);
    gap(&s);
    if (v->nsteps > 0) {
        line(&s, "%-24s %s", "STEP", "IN FLIGHT");
        for (int i = 0; i < v->nsteps; i++) line(&s, "%-24s %d", v->steps[i].step, v->steps[i].n);
        gap(&s);
    }
    if (v->nslowest > 0) {
        line(&s, "%-30s %-18s %8s %4s", "SLOWEST", "STEP", "ELAPSED", "TRY");
        for (int i = 0; i < v->nslowest; i++) {
            char el[32];
            fmt_duration(v->slowest[i].elapsed_s, el, sizeof el);
            line(&s, "%-30.30s %-18.18s %8s %4d", v->slowest[i].id, v->slowest[i].step, el, v->slowest[i].attempts);
        }
        gap(&s);
    }
    if (v->nfailed > 0) {
        line(&s, "%-30s %s", "FAILED", "REASON");
        for (int i = 0; i < v->nfailed; i++) line(&s, "%-30.30s %s", v->failed[i].id, v->failed[i].error);
    }
    if (v->nrollback > 0) {
        gap(&s);
        line(&s, "%-30s %-12s %s", "ROLLBACK WINDOW", "ENDS IN", "REVERSE LAG");
        for (int i = 0; i < v->nrollback; i++) {
            char el[32], lag[32] = "-";
            fmt_duration((double)v->rollback[i].ends_in_s, el, sizeof el);
            if (v->rollback[i].lag_bytes >= 0) snprintf(lag, sizeof lag, "%lld B", (long long)v->rollback[i].lag_bytes);
            line(&s, "%-30.30s %-12s %s", v->rollback[i].id, el, lag);
        }
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

static json_t *top_instances_json(const top_instance *l, int n, bool with_error)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", cli_json_text(l[i].id, false));
        json_object_set_new(o, "step", cli_json_text(l[i].step, true));
        json_object_set_new(o, "attempts", json_integer(l[i].attempts));
        json_object_set_new(o, "elapsed_s", json_real(l[i].elapsed_s));
        if (with_error) json_object_set_new(o, "error", cli_json_text(l[i].error, true));
        json_array_append_new(a, o);
    }
    return a;
}

bool top_render_json(const top_view *v, dbuf *out)
{
    json_t *o = json_object(), *counts = json_object(), *steps = json_array(), *tp = json_object(),
           *aws = json_object();
    json_object_set_new(o, "campaign", json_string(v->campaign));
    json_object_set_new(o, "state", json_string(v->state));
    json_object_set_new(o, "strategy", json_string(v->strategy));
    char now[40];
    cli_fmt_time(v->now_ms, now, sizeof now);
    json_object_set_new(o, "now", json_string(now));
    json_object_set_new(o, "now_ms", json_integer(v->now_ms));
    json_object_set_new(o, "total", json_integer(v->total));
    int terminal = 0;
    for (int st = 0; st < TOP_NSTATES; st++) {
        json_object_set_new(counts, top_state_names[st], json_integer(v->counts[st]));
        if (st >= TOP_DONE) terminal += v->counts[st];
    }
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "finished", json_integer(terminal));
    for (int i = 0; i < v->nsteps; i++)
        json_array_append_new(steps, json_pack("{s:s, s:i}", "step", v->steps[i].step, "in_flight", v->steps[i].n));
    json_object_set_new(o, "steps", steps);
    json_object_set_new(tp, "instances_per_hour_5m", json_real(v->inst_per_hour_5m));
    json_object_set_new(tp, "instances_per_hour_60m", json_real(v->inst_per_hour_60m));
    json_object_set_new(tp, "steps_per_minute", json_real(v->steps_per_minute));
    json_object_set_new(o, "throughput", tp);
    double eta = top_eta_seconds(v);
    json_object_set_new(o, "eta_s", eta < 0 ? json_null() : json_real(eta));
    json_object_set_new(aws, "requests_per_s", json_real(v->api_rate));
    json_object_set_new(aws, "budget_per_s", json_real(v->api_budget));
    json_object_set_new(aws, "throttles_5m", json_integer(v->throttles_5m));
    json_object_set_new(o, "aws", aws);
    json_object_set_new(o, "stuck", json_integer(v->stuck));
    json_object_set_new(o, "slowest", top_instances_json(v->slowest, v->nslowest, false));
    json_object_set_new(o, "failed", top_instances_json(v->failed, v->nfailed, true));
    json_t *rb = json_array();
    for (int i = 0; i < v->nrollback; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "id", cli_json_text(v->rollback[i].id, false));
        json_object_set_new(e, "ends_in_s", json_integer(v->rollback[i].ends_in_s));
        json_object_set_new(e, "reverse_lag_bytes",
                            v->rollback[i].lag_bytes >= 0 ? json_integer(v->rollback[i].lag_bytes) : json_null());
        json_array_append_new(rb, e);
    }
    json_object_set_new(o, "rollback_windows", rb);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    bool ok = text && dbuf_appends(out, text) && dbuf_appends(out, "\n");
    free(text);
    return ok;
}
