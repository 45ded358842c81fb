/* ratelimit — see ratelimit.h. */
#include "ratelimit.h"
#include "aws.h"
#include "cfg.h"
#include "log.h"
#include "prom.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rl_counters rl_stats;

void rl_cfg_default(rl_cfg *c)
{
    c->rate = 10;
    c->burst = 50;
    c->recover = 0.2;
    c->min_rate = 0.5;
    c->max_wait_ms = 60000;
}

void rl_cfg_from_config(rl_cfg *c, const fc_config *cfg)
{
    rl_cfg_default(c);
    c->rate = cfg->aws_rate;
    c->burst = cfg->aws_burst;
}

void rl_bucket_key(const store *s, const char *account, const char *region, const char *service,
                   char *out, size_t cap)
{
    store_bucket_key(s, account, region, service, out, cap);
}

static bool bucket_op(store *s, const char *key, const char *op, const rl_cfg *c, int64_t now_ms,
                      rl_answer *out)
{
    store_bucket_answer a;
    if (!store_bucket_op(s, key, op, now_ms, c->rate, c->burst, c->recover, c->min_rate, &a)) return false;
    out->granted = a.granted;
    out->wait_ms = a.wait_ms;
    out->rate = (double)a.rate_milli / 1000.0;
    out->tokens = (double)a.tokens_milli / 1000.0;
    return true;
}

bool rl_take(store *s, const char *key, const rl_cfg *c, int64_t now_ms, rl_answer *out)
{
    return bucket_op(s, key, "take", c, now_ms, out);
}

bool rl_take_urgent(store *s, const char *key, const rl_cfg *c, int64_t now_ms, rl_answer *out)
{
    return bucket_op(s, key, "urgent", c, now_ms, out);
}

bool rl_throttled(store *s, const char *key, const rl_cfg *c, int64_t now_ms, rl_answer *out)
{
    return bucket_op(s, key, "throttle", c, now_ms, out);
}

static bool acquire_op(store *s, const char *key, const rl_cfg *c, bool urgent)
{
    int64_t deadline = fc_mono_ms() + c->max_wait_ms;
    for (;;) {
        rl_answer a;
        /* Redis down: do not block AWS work on the limiter; the SDK-style
         * retry quota and backoff in the AWS client still apply. */
        if (!(urgent ? rl_take_urgent : rl_take)(s, key, c, fc_now_ms(), &a)) return true;
        if (a.granted) return true;
        atomic_fetch_add(&rl_stats.waits, 1);
        int64_t left = deadline - fc_mono_ms();
        if (left <= 0) return false;
        int64_t w = a.wait_ms + (int64_t)fc_rand_below(50);
        fc_sleep_ms(w < left ? w : left);
    }
}

bool rl_acquire(store *s, const char *key, const rl_cfg *c) { return acquire_op(s, key, c, false); }

bool rl_acquire_urgent(store *s, const char *key, const rl_cfg *c) { return acquire_op(s, key, c, true); }

void rl_slot_key(const store *s, const char *account, const char *region, const char *cls, char *out,
                 size_t cap)
{
    store_slot_key(s, account, region, cls, out, cap);
}

int rl_slot_acquire(store *s, const char *key, const char *member, int64_t ttl_ms, int limit)
{
    return store_slot_acquire(s, key, member, fc_now_ms(), ttl_ms, limit);
}

bool rl_slot_release(store *s, const char *key, const char *member)
{
    return store_slot_release(s, key, member, fc_now_ms());
}

int rl_class_limit(const char *cls)
{
    char name[64];
    int n = snprintf(name, sizeof name, "FLEETCRYPT_LIMIT_");
    for (const char *p = cls; *p && n < (int)sizeof name - 1; p++)
        name[n++] = (char)toupper((unsigned char)*p);
    name[n] = 0;
    int id = cfg_find(name); /* a class without a row in lib/base/cfg.c's table: 10 */
    return id >= 0 ? (int)cfg_env_int((cfg_id)id) : 10;
}

/* ---- aws hooks ---- */
static bool hook_take(void *ud, const char *service, bool urgent)
{
    rl_hook_ud *h = ud;
    char key[256];
    rl_bucket_key(h->s, h->account, h->region, service, key, sizeof key);
    return acquire_op(h->s, key, &h->cfg, urgent);
}

static bool hook_acquire(void *ud, const char *service, const char *action)
{
    (void)action;
    return hook_take(ud, service, false);
}

static bool hook_acquire_urgent(void *ud, const char *service, const char *action)
{
    (void)action;
    return hook_take(ud, service, true);
}

static void hook_throttle(void *ud, const char *service, const char *action)
{
    rl_hook_ud *h = ud;
    char key[256];
    rl_answer a;
    rl_bucket_key(h->s, h->account, h->region, service, key, sizeof key);
    atomic_fetch_add(&rl_stats.throttles, 1);
    char l[160];
    prom_counter_add(prom_default(), "fc_aws_throttles_total", "AWS throttling answers by service and action.",
                     prom_labels(l, sizeof l, "service", service, "action", action, NULL), 1);
    if (rl_throttled(h->s, key, &h->cfg, fc_now_ms(), &a))
        log_info("aws throttled: shared bucket shrinks", "service=%s action=%s rate=%.2f", service, action,
                 a.rate);
}

static void hook_call(void *ud, const char *service, const char *action, int http_status,
                      const char *err_code, int64_t ms)
{
    (void)ud;
    (void)http_status;
    atomic_fetch_add(&rl_stats.calls, 1);
    char l[192];
    prom_counter_add(prom_default(), "fc_aws_calls_total", "AWS API attempts by service, action and outcome.",
                     prom_labels(l, sizeof l, "service", service, "action", action, "outcome",
                                 err_code ? "error" : "ok", NULL), 1);
    prom_histogram_observe(prom_default(), "fc_aws_call_duration_seconds", "AWS API attempt latency.",
                           prom_labels(l, sizeof l, "service", service, NULL), (double)ms / 1000.0);
    if (err_code) atomic_fetch_add(&rl_stats.errors, 1);
}

void rl_hooks_fill(struct aws_hooks *h, rl_hook_ud *ud)
{
    h->acquire = hook_acquire;
    h->acquire_urgent = hook_acquire_urgent;
    h->on_throttle = hook_throttle;
    h->on_call = hook_call;
    h->ud = ud;
}

/* ---- admission ---- */
int rl_admit_headroom(const admit_input *in, const char **why)
{
    int best = in->max_parallel - in->inflight;
    const char *w = "campaign max-parallel";
    if (in->region_limit > 0 && in->region_limit - in->region_inflight < best) {
        best = in->region_limit - in->region_inflight;
        w = "account/region in-flight limit";
    }
    if (in->inst_max >= 0 && in->inst_cost > 0) {
        int free_inst = in->inst_max - in->inst_used - in->inst_reserved;
        int n = free_inst >= 0 ? free_inst / in->inst_cost : 0;
        if (n < best) {
            best = n;
            w = "DB instance quota";
        }
    }
    if (in->snap_max >= 0 && in->snap_cost > 0) {
        int free_snap = in->snap_max - in->snap_used - in->snap_reserved;
        int n = free_snap >= 0 ? free_snap / in->snap_cost : 0;
        if (n < best) {
            best = n;
            w = "manual snapshot quota";
        }
    }
    if (in->clu_max >= 0 && in->clu_reserved > 0 && in->clu_max - in->clu_used - in->clu_reserved <= 0 && best > 0) {
        best = 0;
        w = "DB cluster quota";
    }
    if (best < 0) best = 0;
    if (why) *why = w;
    return best;
}

bool rl_submit_quota_ok(int inst_max, int inst_used, int n, int snap_max, int snap_used, int snap_cost,
                        char *why, size_t cap)
{
    if (inst_max >= 0 && inst_used + n > inst_max) {
        snprintf(why, cap,
                 "DB instance quota too low: %d instances in use + %d encrypted targets = %d needed "
                 "(each retired source is kept), quota is %d",
                 inst_used, n, inst_used + n, inst_max);
        return false;
    }
    if (snap_max >= 0 && snap_max - snap_used < snap_cost) {
        snprintf(why, cap,
                 "manual snapshot quota too low: %d in use of %d, each in-flight instance needs %d",
                 snap_used, snap_max, snap_cost);
        return false;
    }
    return true;
}

void rl_quota_seen_format(const rl_quota_seen *q, char *buf, size_t cap)
{
    snprintf(buf, cap, "%lld %d %d %d %d %d %d", (long long)q->at_ms, q->inst_max, q->inst_used, q->snap_max,
             q->snap_used, q->clu_max, q->clu_used);
}

bool rl_quota_seen_parse(const char *s, int64_t now_ms, int64_t max_age_ms, rl_quota_seen *q)
{
    memset(q, 0, sizeof *q);
    long long v[7];
    const char *p = s ? s : "";
    for (int k = 0; k < 7; k++) {
        char *end = NULL;
        if (k && *p++ != ' ') return false;
        if (!*p || isspace((unsigned char)*p)) return false;
        errno = 0;
        v[k] = strtoll(p, &end, 10);
        if (errno || end == p) return false;
        p = end;
    }
    if (*p) return false;
    for (int k = 1; k < 7; k++)
        if (v[k] > 1000000000LL || v[k] < (k % 2 ? -1 : 0)) return false;
    if (v[0] > now_ms || now_ms - v[0] > max_age_ms) return false;
    *q = (rl_quota_seen){.at_ms = v[0], .inst_max = (int)v[1], .inst_used = (int)v[2], .snap_max = (int)v[3],
                         .snap_used = (int)v[4], .clu_max = (int)v[5], .clu_used = (int)v[6]};
    return true;
}
