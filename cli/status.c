/* status — progress from Redis. With a campaign: the INTERFACES.md JSON
 * object (-o json, alias --json) or a table (-o table, the default);
 * without: every campaign with its counts. */
#include "cli.h"
#include "store_model.h"
#include "util.h"
#include "window.h"

#include <jansson.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATES[] = {"pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"};

static json_t *counts_json(store *s, const char *campaign)
{
    json_t *o = json_object();
    store_kv c;
    store_counts_read(s, campaign, STATES, FC_ARRAY_LEN(STATES), &c);
    for (size_t i = 0; i < FC_ARRAY_LEN(STATES); i++) {
        const char *v = kv_get(&c, STATES[i]);
        long long n = v ? strtoll(v, NULL, 10) : 0;
        json_object_set_new(o, STATES[i], json_integer(n < 0 ? 0 : n));
    }
    store_kv_free(&c);
    return o;
}

/* Sum of the per-minute counters "<prefix>:<minute>" over the last `minutes`
 * minutes, divided by the window actually covered since the campaign began. */
static double rate(store *s, const char *campaign, const char *prefix, int minutes, int64_t created_ms, double per)
{
    int64_t now = fc_now_ms();
    int64_t cur = now / 60000;
    long long sum = store_tput_sum(s, campaign, prefix, cur, minutes);
    double window_min = (double)(now - created_ms) / 60000.0;
    if (window_min > minutes) window_min = minutes;
    if (window_min < 1.0) window_min = 1.0;
    return (double)sum / window_min * per;
}

static json_t *num_or_null(const char *v, bool integer)
{
    if (!v || !*v) return json_null();
    return integer ? json_integer(strtoll(v, NULL, 10)) : json_real(strtod(v, NULL));
}

static json_t *str_or_null(const char *v) { return v && *v ? json_string(v) : json_null(); }

/* The campaign's cutover window (spec.window; every time in it is UTC):
 * null when it has none, else its spec, "UTC", open now, and the seconds
 * until it opens and closes. Shown by the table only: the JSON object's
 * keys are fixed (INTERFACES.md). */
static json_t *window_json(const char *spec_json, int64_t now_ms)
{
    json_t *spec = json_loads(spec_json, 0, NULL);
    const char *text = json_string_value(json_object_get(spec, "window"));
    json_t *o = json_null();
    fc_window w;
    char err[256];
    if (text && *text && window_parse(text, &w, err, sizeof err) && !w.any_time) {
        o = json_object();
        json_object_set_new(o, "spec", json_string(text));
        json_object_set_new(o, "timezone", json_string("UTC"));
        json_object_set_new(o, "open", json_boolean(window_contains(&w, now_ms)));
        json_object_set_new(o, "opens_in_s", json_integer(window_ms_until_open(&w, now_ms) / 1000));
        int64_t close = window_ms_until_close(&w, now_ms);
        json_object_set_new(o, "closes_in_s", json_integer(close == INT64_MAX ? -1 : close / 1000));
    }
    json_decref(spec);
    return o;
}

static int one(store *s, const char *campaign, bool as_json)
{
    static const char *const cf[] = {"state", "created_ms", "strategy", "spec"};
    store_kv c;
    if (!store_campaign_read(s, campaign, cf, FC_ARRAY_LEN(cf), &c)) return cli_err(CLI_FAIL, "redis unavailable");
    if (!*kv_str(&c, "state")) {
        store_kv_free(&c);
        return cli_err(CLI_USAGE, "no such campaign: %s", campaign);
    }
    json_t *o = json_object();
    json_object_set_new(o, "campaign", json_string(campaign));
    json_object_set_new(o, "state", json_string(kv_str(&c, "state")));
    int64_t created = strtoll(kv_str(&c, "created_ms"), NULL, 10);
    char strategy[32];
    fc_strlcpy(strategy, kv_str(&c, "strategy"), sizeof strategy);
    json_t *win = as_json ? json_null() : window_json(kv_str(&c, "spec"), fc_now_ms());
    store_kv_free(&c);
    json_object_set_new(o, "counts", counts_json(s, campaign));
    json_t *arr = json_array();
    static const char *const rf[] = {"state", "step", "attempt", "error", "waiting", "downtime_s", "rows_verified",
                                     "stuck_ms", "f.kind", "f.members", "f.target_account", "f.rb_state",
                                     "f.rb_until_ms", "f.rb_lag_bytes"};
    sargs ids;
    sargs_init(&ids);
    store_instances(s, campaign, &ids);
    for (int i = 0; i < ids.n; i++) {
        store_kv r;
        if (!store_record_read(s, campaign, ids.v[i], rf, FC_ARRAY_LEN(rf), &r)) continue;
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string(ids.v[i]));
        json_object_set_new(e, "state", json_string(kv_str(&r, "state")));
        json_object_set_new(e, "step", str_or_null(kv_str(&r, "step")));
        json_object_set_new(e, "attempts", json_integer(strtoll(kv_str(&r, "attempt"), NULL, 10)));
        json_object_set_new(e, "error", cli_json_text(kv_str(&r, "error"), true));
        /* why a running step waits (a prepared transaction, a slot, the window) */
        json_object_set_new(e, "waiting",
                            str_or_null(strcmp(kv_str(&r, "state"), "running") ? "" : kv_str(&r, "waiting")));
        json_object_set_new(e, "downtime_s", num_or_null(kv_str(&r, "downtime_s"), false));
        json_object_set_new(e, "rows_verified", num_or_null(kv_str(&r, "rows_verified"), true));
        if (*kv_str(&r, "stuck_ms")) json_object_set_new(e, "stuck", json_true());
        /* a cluster is one unit: its kind and its members */
        if (*kv_str(&r, "f.kind")) json_object_set_new(e, "kind", json_string(kv_str(&r, "f.kind")));
        if (*kv_str(&r, "f.members")) json_object_set_new(e, "members", cli_members_json(kv_str(&r, "f.members")));
        /* moved into another account (--target-account-role): which one */
        if (*kv_str(&r, "f.target_account"))
            json_object_set_new(e, "target_account", json_string(kv_str(&r, "f.target_account")));
        json_t *rbw = cli_rollback_json(kv_str(&r, "f.rb_state"), kv_str(&r, "f.rb_until_ms"),
                                        kv_str(&r, "f.rb_lag_bytes"), fc_now_ms());
        if (rbw) json_object_set_new(e, "rollback_window", rbw);
        json_array_append_new(arr, e);
        store_kv_free(&r);
    }
    sargs_free(&ids);
    json_object_set_new(o, "instances", arr);
    json_t *tp = json_object();
    json_object_set_new(tp, "instances_per_hour", json_real(rate(s, campaign, "i", 60, created, 60.0)));
    json_object_set_new(tp, "steps_per_minute", json_real(rate(s, campaign, "s", 5, created, 1.0)));
    json_object_set_new(o, "throughput", tp);
    if (as_json) {
        char *out = json_dumps(o, JSON_COMPACT);
        if (out) puts(out);
        free(out);
    } else {
        printf("campaign %s  state %s  strategy %s\n", campaign, json_string_value(json_object_get(o, "state")),
               strategy);
        json_t *cn = json_object_get(o, "counts");
        for (size_t i = 0; i < FC_ARRAY_LEN(STATES); i++)
            printf("%s%s %lld", i ? "  " : "", STATES[i], (long long)json_integer_value(json_object_get(cn, STATES[i])));
        printf("\nthroughput: %.1f instances/hour, %.1f steps/minute\n",
               json_real_value(json_object_get(tp, "instances_per_hour")),
               json_real_value(json_object_get(tp, "steps_per_minute")));
        if (json_is_object(win)) {
            bool open = json_is_true(json_object_get(win, "open"));
            long long secs = (long long)json_integer_value(json_object_get(win, open ? "closes_in_s" : "opens_in_s"));
            printf("cutover window %s UTC: %s %lldh%02lldm\n", json_string_value(json_object_get(win, "spec")),
                   open ? "open, closes in" : "closed, opens in", secs / 3600, secs % 3600 / 60);
        }
        printf("%-40s %-16s %-18s %8s  %s\n", "INSTANCE", "STATE", "STEP", "ATTEMPTS", "ERROR / DOWNTIME");
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
            json_t *err = json_object_get(e, "error"), *dt = json_object_get(e, "downtime_s");
            json_t *wt = json_object_get(e, "waiting");
            char extra[600] = "";
            if (json_is_string(err)) snprintf(extra, sizeof extra, "%s", json_string_value(err));
            else if (json_is_string(wt)) snprintf(extra, sizeof extra, "waiting: %s", json_string_value(wt));
            else if (json_is_real(dt)) snprintf(extra, sizeof extra, "downtime %.1f s", json_real_value(dt));
            printf("%-40s %-16s %-18s %8lld  %s%s\n", json_string_value(json_object_get(e, "id")),
                   json_string_value(json_object_get(e, "state")),
                   json_is_string(json_object_get(e, "step")) ? json_string_value(json_object_get(e, "step")) : "-",
                   (long long)json_integer_value(json_object_get(e, "attempts")),
                   json_is_true(json_object_get(e, "stuck")) ? "[stuck] " : "", extra);
            json_t *mem = json_object_get(e, "members");
            size_t m;
            json_t *mv;
            if (json_array_size(mem)) printf("  cluster members:");
            json_array_foreach(mem, m, mv) printf(" %s", json_string_value(mv));
            if (json_array_size(mem)) printf("\n");
            json_t *ta = json_object_get(e, "target_account");
            if (json_is_string(ta)) printf("  target account: %s\n", json_string_value(ta));
            char rbl[160];
            if (cli_rollback_line(json_object_get(e, "rollback_window"), rbl, sizeof rbl)) printf("  %s\n", rbl);
        }
    }
    json_decref(win);
    json_decref(o);
    return CLI_OK;
}

static int all(store *s, bool as_json)
{
    sargs r;
    sargs_init(&r);
    if (!store_campaigns(s, false, 0, &r)) {
        sargs_free(&r);
        return cli_err(CLI_FAIL, "redis unavailable");
    }
    json_t *arr = json_array();
    static const char *const sf[] = {"state"};
    for (int i = 0; i < r.n; i++) {
        const char *id = r.v[i];
        store_kv st;
        const char *state = NULL;
        if (store_campaign_read(s, id, sf, 1, &st)) state = kv_get(&st, "state");
        json_t *e = json_object();
        json_object_set_new(e, "campaign", json_string(id));
        json_object_set_new(e, "state", json_string(state ? state : "unknown"));
        store_kv_free(&st);
        json_object_set_new(e, "counts", counts_json(s, id));
        json_array_append_new(arr, e);
    }
    sargs_free(&r);
    if (as_json) {
        json_t *o = json_pack("{s:o}", "campaigns", arr);
        char *out = json_dumps(o, JSON_COMPACT);
        if (out) puts(out);
        free(out);
        json_decref(o);
        return CLI_OK;
    }
    size_t i;
    json_t *e;
    /* a column for every state, as in the JSON (the campaign id first: bash completion reads it) */
    static const char *const HEADS[] = {"PENDING", "RUNNING", "WAITING_APPROVAL", "DONE", "FAILED", "SKIPPED",
                                        "ABORTED"}; /* STATES, in capitals */
    printf("%-40s %-8s", "CAMPAIGN", "STATE");
    for (size_t k = 0; k < FC_ARRAY_LEN(HEADS); k++) printf(" %*s", k == 2 ? 16 : 7, HEADS[k]);
    putchar('\n');
    json_array_foreach(arr, i, e)
    {
        json_t *c = json_object_get(e, "counts");
        printf("%-40s %-8s", json_string_value(json_object_get(e, "campaign")),
               json_string_value(json_object_get(e, "state")));
        for (size_t k = 0; k < FC_ARRAY_LEN(STATES); k++)
            printf(" %*lld", k == 2 ? 16 : 7, (long long)json_integer_value(json_object_get(c, STATES[k])));
        putchar('\n');
    }
    json_decref(arr);
    return CLI_OK;
}

static int status_opt(void *ud, int val, const char *arg)
{
    if (val == 'j') *(bool *)ud = true; /* --json: -o json, kept as an alias */
    else if (val == 'o') return cli_output_arg(arg, ud);
    return CLI_GO;
}

int cli_status(fc_config *cfg, int argc, char **argv)
{
    bool as_json = false;
    const char *campaign = NULL;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    int first = argc;
    int rc0 = cli_args(cfg, argc, argv, opts, "o:", status_opt, &as_json, &first);
    if (rc0 != CLI_GO) return rc0;
    for (int i = first; i < argc; i++) {
        if (!campaign) campaign = argv[i];
        else return cli_err(CLI_USAGE, "one campaign at a time");
    }
    if (campaign && !fc_valid_campaign_id(campaign)) return cli_err(CLI_USAGE, "invalid campaign id '%.60s'", campaign);
    store *s = cli_store(cfg);
    if (!s) return CLI_FAIL;
    int rc = campaign ? one(s, campaign, as_json) : all(s, as_json);
    store_close(s);
    return rc;
}

/* ---------------------------------------------------------------- rollback window */
json_t *cli_rollback_json(const char *state, const char *until_ms, const char *lag, int64_t now_ms)
{
    if (!state || !*state) return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(state));
    int64_t until = until_ms && *until_ms ? strtoll(until_ms, NULL, 10) : 0;
    if (until > 0) {
        json_object_set_new(o, "ends_ms", json_integer(until));
        json_object_set_new(o, "ends_in_s", json_integer(until > now_ms ? (until - now_ms) / 1000 : 0));
    }
    json_object_set_new(o, "reverse_lag_bytes",
                        lag && *lag ? json_integer(strtoll(lag, NULL, 10)) : json_null());
    return o;
}

bool cli_rollback_line(const json_t *rb, char *out, size_t cap)
{
    if (!json_is_object(rb)) return false;
    const char *st = json_string_value(json_object_get(rb, "state"));
    long long in = (long long)json_integer_value(json_object_get(rb, "ends_in_s"));
    json_t *lag = json_object_get(rb, "reverse_lag_bytes");
    char lg[48] = "not measured yet";
    if (json_is_integer(lag)) snprintf(lg, sizeof lg, "%lld bytes", (long long)json_integer_value(lag));
    if (st && !strcmp(st, "open"))
        snprintf(out, cap, "rollback window: open, ends in %lldh%02lldm%02llds; reverse lag %s", in / 3600,
                 in % 3600 / 60, in % 60, lg);
    else snprintf(out, cap, "rollback window: %s", st ? st : "?");
    return true;
}
