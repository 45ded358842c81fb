/* top — `fleetcrypt top [CAMPAIGN]`: fills a top_view from Redis (counts,
 * per-step in-flight counters, per-minute throughput counters, the AWS
 * token buckets' per-minute call and throttle counters, instance records)
 * and renders it with view_top: in place every 2 s on a terminal, one line
 * per refresh otherwise (ending once the campaign is finished). The
 * terminal's size is read at every refresh, and SIGWINCH redraws at once
 * (cleared first) for the new size. */
#include "cli.h"
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

static long long hget_ll(store *s, const char *key, const char *field)
{
    redisReply *r = store_cmd(s, "HGET %s %s", key, field);
    long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    if (r) freeReplyObject(r);
    return v;
}

/* Sum of hash fields "<prefix>:<minute>" for the last `minutes` minutes. */
static long long sum_minutes(store *s, const char *key, const char *prefix, int64_t now_ms, int minutes)
{
    long long sum = 0;
    int64_t cur = now_ms / 60000;
    for (int m = 0; m < minutes; m++) {
        char f[48];
        snprintf(f, sizeof f, "%s:%lld", prefix, (long long)(cur - m));
        sum += hget_ll(s, key, f);
    }
    return sum;
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
    char pat[STORE_KEY_MAX];
    store_key(s, pat, sizeof pat, "bucket:%s:%s:*", account, region);
    char cursor[32] = "0";
    int64_t now = v->now_ms;
    double secs_into_minute = (double)(now % 60000) / 1000.0;
    for (int iter = 0; iter < 100; iter++) {
        redisReply *r = store_cmd(s, "SCAN %s MATCH %s COUNT 200", cursor, pat);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            return;
        }
        fc_strlcpy(cursor, r->element[0]->str, sizeof cursor);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *key = keys->element[i]->str;
            long long calls = sum_minutes(s, key, "c", now, 2);
            v->api_rate += (double)calls / (60.0 + secs_into_minute);
            v->throttles_5m += sum_minutes(s, key, "t", now, 5);
            redisReply *rt = store_cmd(s, "HGET %s rate", key);
            if (rt && rt->type == REDIS_REPLY_STRING) v->api_budget += strtod(rt->str, NULL);
            if (rt) freeReplyObject(rt);
        }
        freeReplyObject(r);
        if (!strcmp(cursor, "0")) return;
    }
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
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *c = store_cmd(s, "HMGET %s state strategy created_ms region account", k.campaign);
    if (!c || c->type != REDIS_REPLY_ARRAY) {
        if (c) freeReplyObject(c);
        return CLI_FAIL;
    }
    if (!*reply_str(c, 0)) {
        freeReplyObject(c);
        return CLI_USAGE;
    }
    fc_strlcpy(v->campaign, campaign, sizeof v->campaign);
    fc_strlcpy(v->state, reply_str(c, 0), sizeof v->state);
    fc_strlcpy(v->strategy, reply_str(c, 1), sizeof v->strategy);
    int64_t created = strtoll(reply_str(c, 2), NULL, 10);
    char region[32], account[32];
    fc_strlcpy(region, reply_str(c, 3), sizeof region);
    fc_strlcpy(account, reply_str(c, 4), sizeof account);
    freeReplyObject(c);

    redisReply *cn = store_cmd(s, "HGETALL %s", k.counts);
    for (size_t i = 0; cn && cn->type == REDIS_REPLY_ARRAY && i + 1 < cn->elements; i += 2) {
        const char *f = cn->element[i]->str;
        long long n = strtoll(cn->element[i + 1]->str, NULL, 10);
        for (int st = 0; st < TOP_NSTATES; st++)
            if (!strcmp(f, top_state_names[st])) v->counts[st] = n < 0 ? 0 : (int)n;
        if (!strncmp(f, "step:", 5) && n > 0 && v->nsteps < TOP_MAX_STEPS) {
            fc_strlcpy(v->steps[v->nsteps].step, f + 5, sizeof v->steps[v->nsteps].step);
            v->steps[v->nsteps].n = (int)n;
            v->nsteps++;
        }
    }
    if (cn) freeReplyObject(cn);

    int64_t age = v->now_ms - created;
    v->inst_per_hour_5m = window_rate(sum_minutes(s, k.tput, "i", v->now_ms, 5), 5, age, 60.0);
    v->inst_per_hour_60m = window_rate(sum_minutes(s, k.tput, "i", v->now_ms, 60), 60, age, 60.0);
    v->steps_per_minute = window_rate(sum_minutes(s, k.tput, "s", v->now_ms, 5), 5, age, 1.0);
    aws_view(s, account, region, v);

    redisReply *ids = store_cmd(s, "ZRANGE %s 0 -1", k.instances);
    for (size_t i = 0; ids && ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        v->total++;
        char rk[STORE_KEY_MAX];
        store_rec_key(s, campaign, ids->element[i]->str, rk, sizeof rk);
        redisReply *r = store_cmd(s, "HMGET %s state step attempt error step_started_ms stuck_ms deadline_ms", rk);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            if (r) freeReplyObject(r);
            continue;
        }
        const char *st = reply_str(r, 0);
        top_instance ti;
        memset(&ti, 0, sizeof ti);
        fc_strlcpy(ti.id, ids->element[i]->str, sizeof ti.id);
        fc_strlcpy(ti.step, reply_str(r, 1), sizeof ti.step);
        ti.attempts = atoi(reply_str(r, 2));
        fc_strlcpy(ti.error, reply_str(r, 3), sizeof ti.error);
        int64_t started = strtoll(reply_str(r, 4), NULL, 10);
        ti.elapsed_s = started > 0 ? (double)(v->now_ms - started) / 1000.0 : 0;
        if (!strcmp(st, "running") || !strcmp(st, "waiting_approval")) {
            int64_t dl = strtoll(reply_str(r, 6), NULL, 10);
            if (*reply_str(r, 5) || (dl > 0 && dl < v->now_ms)) v->stuck++;
            insert_slowest(v, &ti);
        } else if (!strcmp(st, "failed") && v->nfailed < TOP_MAX_LIST) {
            v->failed[v->nfailed++] = ti;
        }
        freeReplyObject(r);
    }
    if (ids) freeReplyObject(ids);
    return CLI_OK;
}

/* The most recent running (or paused) campaign, else the most recent. */
static bool pick_campaign(store *s, char *out, size_t cap)
{
    char ck[STORE_KEY_MAX];
    store_key(s, ck, sizeof ck, "campaigns");
    redisReply *r = store_cmd(s, "ZREVRANGE %s 0 199", ck);
    bool found = false;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++) {
        ckeys k;
        store_ckeys(s, r->element[i]->str, &k);
        redisReply *st = store_cmd(s, "HGET %s state", k.campaign);
        if (st && st->type == REDIS_REPLY_STRING && (!strcmp(st->str, "running") || !strcmp(st->str, "paused"))) {
            fc_strlcpy(out, r->element[i]->str, cap);
            found = true;
        }
        if (st) freeReplyObject(st);
    }
    if (!found && r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        fc_strlcpy(out, r->element[0]->str, cap);
        found = true;
    }
    if (r) freeReplyObject(r);
    return found;
}

typedef struct top_args {
    bool once;
    double interval;
} top_args;

static int top_opt(void *ud, int val, const char *arg)
{
    top_args *a = ud;
    if (val == 'o') a->once = true;
    else if (val == 'i') {
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
    static const struct option opts[] = {{"once", no_argument, NULL, 'o'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {NULL, 0, NULL, 0}};
    int first = argc;
    int rc0 = cli_args(cfg, argc, argv, opts, NULL, top_opt, &ta, &first);
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
