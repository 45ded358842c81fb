/* top — `fleetcrypt top [CAMPAIGN]`: fills a top_view from Redis (counts,
 * per-step in-flight counters, per-minute throughput counters, the AWS
 * token buckets' per-minute call and throttle counters, instance records)
 * and renders it with view_top: in place every 2 s on a terminal, one line
 * per refresh otherwise (ending once the campaign is finished), or with
 * -o json one JSON snapshot and exit. The
 * terminal's size is read at every refresh, and SIGWINCH redraws at once
 * (cleared first) for the new size. */
#include "cli.h"
#include "store_limits.h"
#include "store_model.h"
#include "util.h"
#include "view_top.h"

#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t g_top_stop = 0;
static volatile sig_atomic_t g_top_resized = 0;
static void on_sig(int sig)
{
    (void)sig;
    g_top_stop = 1;
}
/* SIGWINCH: redraw at once for the new size (the size is read at every refresh). */
static void on_winch(int sig)
{
    (void)sig;
    g_top_resized = 1;
}

/* Per-minute counters over a window → rate per `per` minutes; the window
 * is shortened to the campaign's age so a young campaign is not diluted. */
static double window_rate(long long sum, int minutes, int64_t age_ms, double per)
{
    double w = (double)age_ms / 60000.0;
    if (w > minutes) w = minutes;
    if (w < 1.0) w = 1.0;
    return (double)sum / w * per;
}

/* AWS calls per second over the last minute or so, throttles over 5 min and
 * the allowed rate, summed over the campaign's (account, region) buckets. */
static void aws_view(store *s, const char *account, const char *region, top_view *v)
{
    int64_t now = v->now_ms;
    double secs_into_minute = (double)(now % 60000) / 1000.0;
    sargs names;
    sargs_init(&names);
    store_buckets(s, account, region, &names); /* what was listed before an error still counts */
    for (int i = 0; i < names.n; i++) {
        store_bucket_view b;
        if (!store_bucket_read(s, names.v[i], now, 2, 5, &b)) continue;
        v->api_rate += (double)b.calls / (60.0 + secs_into_minute);
        v->throttles_5m += b.throttles;
        v->api_budget += b.rate;
    }
    sargs_free(&names);
}

/* A cluster is one unit: "id (cluster: writer,reader…)", cut to the column. */
static void cluster_label(top_instance *ti, const char *id, const char *members)
{
    size_t n = (size_t)snprintf(ti->id, sizeof ti->id, "%s (cluster:", id);
    for (const char *m = members; *m && n < sizeof ti->id;) {
        size_t l = strcspn(m, "\t\n");
        n += (size_t)snprintf(ti->id + n, sizeof ti->id - n, " %.*s", (int)l, m);
        m += strcspn(m, "\n");
        if (*m) m++;
    }
    if (n < sizeof ti->id) snprintf(ti->id + n, sizeof ti->id - n, ")");
}

static void insert_slowest(top_view *v, const top_instance *ti)
{
    int n = v->nslowest;
    int pos = n;
    while (pos > 0 && v->slowest[pos - 1].elapsed_s < ti->elapsed_s) pos--;
    if (pos >= TOP_MAX_LIST) return;
    int last = n < TOP_MAX_LIST ? n : TOP_MAX_LIST - 1;
    for (int i = last; i > pos; i--) v->slowest[i] = v->slowest[i - 1];
    v->slowest[pos] = *ti;
    if (n < TOP_MAX_LIST) v->nslowest++;
}

/* Fill v from Redis. CLI_OK, CLI_USAGE (no such campaign) or CLI_FAIL. */
static int top_fill(store *s, const char *campaign, top_view *v)
{
    memset(v, 0, sizeof *v);
    v->now_ms = fc_now_ms();
    static const char *const cf[] = {"state", "strategy", "created_ms", "region", "account"};
    store_kv c;
    if (!store_campaign_read(s, campaign, cf, FC_ARRAY_LEN(cf), &c)) return CLI_FAIL;
    if (!*kv_str(&c, "state")) {
        store_kv_free(&c);
        return CLI_USAGE;
    }
    fc_strlcpy(v->campaign, campaign, sizeof v->campaign);
    fc_strlcpy(v->state, kv_str(&c, "state"), sizeof v->state);
    fc_strlcpy(v->strategy, kv_str(&c, "strategy"), sizeof v->strategy);
    int64_t created = strtoll(kv_str(&c, "created_ms"), NULL, 10);
    char region[32], account[32];
    fc_strlcpy(region, kv_str(&c, "region"), sizeof region);
    fc_strlcpy(account, kv_str(&c, "account"), sizeof account);
    store_kv_free(&c);

    store_kv cn;
    store_counts_read(s, campaign, NULL, 0, &cn);
    for (size_t i = 0; i < cn.n; i++) {
        const char *f = cn.kv[2 * i];
        long long n = strtoll(cn.kv[2 * i + 1], NULL, 10);
        for (int st = 0; st < TOP_NSTATES; st++)
            if (!strcmp(f, top_state_names[st])) v->counts[st] = n < 0 ? 0 : (int)n;
        if (!strncmp(f, "step:", 5) && n > 0 && v->nsteps < TOP_MAX_STEPS) {
            fc_strlcpy(v->steps[v->nsteps].step, f + 5, sizeof v->steps[v->nsteps].step);
            v->steps[v->nsteps].n = (int)n;
            v->nsteps++;
        }
    }
    store_kv_free(&cn);

    int64_t age = v->now_ms - created;
    int64_t cur = v->now_ms / 60000;
    v->inst_per_hour_5m = window_rate(store_tput_sum(s, campaign, "i", cur, 5), 5, age, 60.0);
    v->inst_per_hour_60m = window_rate(store_tput_sum(s, campaign, "i", cur, 60), 60, age, 60.0);
    v->steps_per_minute = window_rate(store_tput_sum(s, campaign, "s", cur, 5), 5, age, 1.0);
    aws_view(s, account, region, v);

    static const char *const rf[] = {"state", "step", "attempt", "error", "step_started_ms", "stuck_ms",
                                     "deadline_ms", "f.kind", "f.members", "f.rb_state", "f.rb_until_ms",
                                     "f.rb_lag_bytes"};
    sargs ids;
    sargs_init(&ids);
    store_instances(s, campaign, &ids);
    for (int i = 0; i < ids.n; i++) {
        v->total++;
        store_kv r;
        if (!store_record_read(s, campaign, ids.v[i], rf, FC_ARRAY_LEN(rf), &r)) continue;
        const char *st = kv_str(&r, "state");
        top_instance ti;
        memset(&ti, 0, sizeof ti);
        fc_strlcpy(ti.id, ids.v[i], sizeof ti.id);
        if (!strcmp(kv_str(&r, "f.kind"), "cluster")) cluster_label(&ti, ids.v[i], kv_str(&r, "f.members"));
        fc_strlcpy(ti.step, kv_str(&r, "step"), sizeof ti.step);
        ti.attempts = atoi(kv_str(&r, "attempt"));
        fc_strlcpy(ti.error, kv_str(&r, "error"), sizeof ti.error);
        int64_t started = strtoll(kv_str(&r, "step_started_ms"), NULL, 10);
        ti.elapsed_s = started > 0 ? (double)(v->now_ms - started) / 1000.0 : 0;
        if (!strcmp(st, "running") || !strcmp(st, "waiting_approval")) {
            int64_t dl = strtoll(kv_str(&r, "deadline_ms"), NULL, 10);
            if (*kv_str(&r, "stuck_ms") || (dl > 0 && dl < v->now_ms)) v->stuck++;
            insert_slowest(v, &ti);
            if (!strcmp(kv_str(&r, "f.rb_state"), "open") && v->nrollback < TOP_MAX_LIST) {
                int64_t until = strtoll(kv_str(&r, "f.rb_until_ms"), NULL, 10);
                const char *lag = kv_str(&r, "f.rb_lag_bytes");
                fc_strlcpy(v->rollback[v->nrollback].id, ids.v[i], sizeof v->rollback[v->nrollback].id);
                v->rollback[v->nrollback].ends_in_s = until > v->now_ms ? (until - v->now_ms) / 1000 : 0;
                v->rollback[v->nrollback].lag_bytes = *lag ? strtoll(lag, NULL, 10) : -1;
                v->nrollback++;
            }
        } else if (!strcmp(st, "failed") && v->nfailed < TOP_MAX_LIST) {
            v->failed[v->nfailed++] = ti;
        }
        store_kv_free(&r);
    }
    sargs_free(&ids);
    return CLI_OK;
}

/* The most recent running (or paused) campaign, else the most recent. */
static bool pick_campaign(store *s, char *out, size_t cap)
{
    sargs r;
    sargs_init(&r);
    store_campaigns(s, true, 200, &r);
    bool found = false;
    static const char *const sf[] = {"state"};
    for (int i = 0; i < r.n && !found; i++) {
        store_kv st;
        const char *state = NULL;
        if (store_campaign_read(s, r.v[i], sf, 1, &st)) state = kv_get(&st, "state");
        if (state && (!strcmp(state, "running") || !strcmp(state, "paused"))) {
            fc_strlcpy(out, r.v[i], cap);
            found = true;
        }
        store_kv_free(&st);
    }
    if (!found && r.n > 0) {
        fc_strlcpy(out, r.v[0], cap);
        found = true;
    }
    sargs_free(&r);
    return found;
}

typedef struct top_args {
    bool once, json;
    double interval;
} top_args;

enum { TOP_OPT_ONCE = 256, TOP_OPT_INTERVAL };

static int top_opt(void *ud, int val, const char *arg)
{
    top_args *a = ud;
    if (val == TOP_OPT_ONCE) a->once = true;
    else if (val == 'o') return cli_output_arg(arg, &a->json);
    else if (val == TOP_OPT_INTERVAL) {
        char *end = NULL;
        a->interval = strtod(arg, &end);
        if (!*arg || *end || a->interval < 0.2 || a->interval > 3600)
            return cli_err(CLI_USAGE, "interval: '%s' is not a number of seconds in [0.2, 3600]", arg);
    }
    return CLI_GO;
}

int cli_top(fc_config *cfg, int argc, char **argv)
{
    const char *campaign = NULL;
    top_args ta = {.once = false, .interval = 2.0};
    static const struct option opts[] = {{"once", no_argument, NULL, TOP_OPT_ONCE},
                                         {"interval", required_argument, NULL, TOP_OPT_INTERVAL},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    int first = argc;
    int rc0 = cli_args(cfg, argc, argv, opts, "o:", top_opt, &ta, &first);
    if (rc0 != CLI_GO) return rc0;
    bool once = ta.once;
    double interval = ta.interval;
    for (int i = first; i < argc; i++) {
        if (!campaign) campaign = argv[i];
        else return cli_err(CLI_USAGE, "top: one campaign at a time");
    }
    if (campaign && !fc_valid_campaign_id(campaign)) return cli_err(CLI_USAGE, "campaign: invalid id '%.60s'", campaign);
    store *s = cli_store(cfg);
    if (!s) return CLI_FAIL;
    char chosen[64];
    if (!campaign) {
        if (!pick_campaign(s, chosen, sizeof chosen)) {
            store_close(s);
            return cli_err(CLI_USAGE, "campaign: there is no campaign yet");
        }
        campaign = chosen;
    }
    if (ta.json) { /* one snapshot for a script, then exit */
        top_view v;
        int f = top_fill(s, campaign, &v);
        dbuf out;
        dbuf_init(&out, 1 << 20);
        int rc = f == CLI_USAGE  ? cli_err(CLI_USAGE, "campaign: no such campaign %s", campaign)
                 : f != CLI_OK   ? cli_err(CLI_FAIL, "redis unavailable")
                 : !top_render_json(&v, &out) ? cli_err(CLI_FAIL, "out of memory")
                                               : CLI_OK;
        if (rc == CLI_OK && fwrite(out.data, 1, out.len, stdout) != out.len) rc = CLI_FAIL;
        dbuf_free(&out);
        store_close(s);
        return rc;
    }
    bool tty = isatty(STDOUT_FILENO);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (tty && !once) {
        struct sigaction sw;
        memset(&sw, 0, sizeof sw);
        sw.sa_handler = on_winch;
        sigaction(SIGWINCH, &sw, NULL);
    }
    int rc = CLI_OK;
    dbuf out;
    dbuf_init(&out, 1 << 20);
    if (tty && !once) fputs("\x1b[?25l\x1b[2J", stdout); /* hide cursor, clear */
    while (!g_top_stop) {
        top_view v;
        int f = top_fill(s, campaign, &v);
        if (f == CLI_USAGE) {
            rc = cli_err(CLI_USAGE, "campaign: no such campaign %s", campaign);
            break;
        }
        dbuf_reset(&out);
        if (tty && g_top_resized) {
            /* the terminal moved the old screen's text around: start clean */
            g_top_resized = 0;
            dbuf_appends(&out, "\x1b[2J");
        }
        if (f != CLI_OK) {
            dbuf_printf(&out, "%s", tty ? "\x1b[Hredis unavailable; retrying\x1b[K\n" : "redis unavailable; retrying\n");
        } else if (tty) {
            struct winsize ws;
            int cols = 80, rows = 24;
            if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
                cols = ws.ws_col;
                rows = ws.ws_row;
            }
            top_render_screen(&v, cols, rows, &out);
        } else {
            top_render_line(&v, &out);
        }
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
        fflush(stdout);
        if (once) break;
        /* a pipe or log file gets a last line and ends with the campaign */
        if (!tty && f == CLI_OK && (!strcmp(v.state, "done") || !strcmp(v.state, "aborted"))) break;
        for (int64_t t = 0; t < (int64_t)(interval * 1000) && !g_top_stop && !g_top_resized; t += 100)
            fc_sleep_ms(100);
    }
    if (tty && !once) fputs("\x1b[?25h\n", stdout);
    dbuf_free(&out);
    store_close(s);
    return rc;
}
