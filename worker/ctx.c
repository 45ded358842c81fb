/* ctx — the step_ctx services of lib/step.h (campaign fields, checked
 * options, facts, the thread's AWS client, the lease check, the poll cache,
 * concurrency slots) for the step a runner runs; see ctx.h. */
#include "ctx.h"
#include "fleetcache.h"
#include "log.h"
#include "ratelimit.h"
#include "store_looks.h"
#include "util.h"
#include "waitplan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- step_ctx */
const char *step_ctx_campaign(const step_ctx *ctx) { return ctx->msg->campaign; }
const char *step_ctx_instance(const step_ctx *ctx) { return ctx->msg->instance; }
const char *step_ctx_step(const step_ctx *ctx) { return ctx->msg->step; }
uint32_t step_ctx_attempt(const step_ctx *ctx) { return ctx->msg->attempt; }
const char *step_ctx_fence(const step_ctx *ctx) { return ctx->fence ? ctx->fence : "0"; }

const char *step_ctx_campaign_field(const step_ctx *ctx, const char *name)
{
    const char *v = kv_get(&ctx->camp, name);
    return v ? v : "";
}

const char *step_ctx_opt(step_ctx *ctx, const char *name)
{
    const opt_def *o = strategy_opt(ctx->sd, name);
    if (!o) {
        log_error("step asked for an option its strategy does not declare", "option=%s", name);
        return "";
    }
    const char *v = ctx->opts[o - ctx->sd->opts];
    return v ? v : "";
}

bool step_ctx_opt_bool(step_ctx *ctx, const char *name) { return opt_truthy(step_ctx_opt(ctx, name)); }

int64_t step_ctx_opt_i64(step_ctx *ctx, const char *name, int64_t dflt)
{
    const char *v = step_ctx_opt(ctx, name);
    if (!*v) return dflt;
    const opt_def *o = strategy_opt(ctx->sd, name);
    int64_t n = dflt;
    if (o && o->type == OPT_BYTES) return opt_parse_bytes(v, &n) ? n : dflt;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    return end != v && !*end ? (int64_t)x : dflt;
}

const char *step_ctx_fact(const step_ctx *ctx, const char *name)
{
    char f[96];
    snprintf(f, sizeof f, "f.%s", name);
    for (int i = ctx->fields.n - 2; i >= 0; i -= 2)
        if (!strcmp(ctx->fields.v[i], f)) return ctx->fields.v[i + 1];
    return kv_get(&ctx->rec, f);
}

void step_ctx_set_fact(step_ctx *ctx, const char *name, const char *value)
{
    char f[96];
    snprintf(f, sizeof f, "f.%s", name);
    sargs_add(&ctx->fields, f);
    sargs_add(&ctx->fields, value ? value : "");
}

void step_ctx_set_factf(step_ctx *ctx, const char *name, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    step_ctx_set_fact(ctx, name, buf);
}

/* A Redis restart loses up to a second of writes (appendfsync everysec):
 * an intent written before it may be gone, so a step that began before the
 * restart (plus this margin for clock skew between worker and Redis) looks. */
#define INTENT_RESTART_MARGIN_MS 5000

step_intent step_ctx_intent(step_ctx *ctx, const char *name)
{
    bool had = step_ctx_fact(ctx, name) != NULL;
    const char *started = kv_get(&ctx->rec, "step_started_ms");
    int64_t t0 = started && *started ? strtoll(started, NULL, 10) : 0;
    int64_t seen = store_restart_seen_ms(ctx->t->s);
    bool restarted = t0 <= 0 || (seen > 0 && t0 <= seen + INTENT_RESTART_MARGIN_MS);
    if (!ctx->token || !ctx->fence) return had || restarted ? STEP_INTENT_LOOK : STEP_INTENT_FIRST; /* unit tests */
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    step_msg_ref m = {ctx->msg->campaign, ctx->msg->instance, ctx->msg->step, ctx->msg->attempt, ctx->msg->epoch};
    int rc = store_fact_put(ctx->t->s, &m, ctx->token, ctx->fence, name, now);
    if (rc != 1) {
        if (rc == 0) lease_hold_set_lost(ctx->hold);
        log_warn("step intent not persisted: not acting", "intent=%s rc=%d", name, rc);
        return STEP_INTENT_NO;
    }
    step_ctx_set_fact(ctx, name, now);
    if (had || restarted) return STEP_INTENT_LOOK;
    char cp[128];
    snprintf(cp, sizeof cp, "intent.%s", name);
    fc_crashpoint(cp); /* tests: killed between the intent and the call */
    return STEP_INTENT_FIRST;
}

bool step_ctx_persist_fact(step_ctx *ctx, const char *name, const char *value)
{
    if (ctx->token && ctx->fence) {
        step_msg_ref m = {ctx->msg->campaign, ctx->msg->instance, ctx->msg->step, ctx->msg->attempt, ctx->msg->epoch};
        int rc = store_fact_put(ctx->t->s, &m, ctx->token, ctx->fence, name, value);
        if (rc != 1) { /* 0: fenced — the lease lost, or the record not 'running' (e.g. waiting_approval) */
            log_info("fact not persisted at once", "fact=%s rc=%d", name, rc);
            return false;
        }
    } /* else unit tests: with the outcome only */
    step_ctx_set_fact(ctx, name, value);
    return true;
}

void step_ctx_set_field(step_ctx *ctx, const char *name, const char *value)
{
    /* only the public record fields a step may set */
    if (strcmp(name, "downtime_s") && strcmp(name, "rows_verified")) return;
    sargs_add(&ctx->fields, name);
    sargs_add(&ctx->fields, value);
}

struct aws_client *step_ctx_aws(step_ctx *ctx)
{
    runner_thread *t = ctx->t;
    const char *region = step_ctx_campaign_field(ctx, "region");
    const char *account = step_ctx_campaign_field(ctx, "account");
    for (int i = 0; i < t->naws; i++) {
        if (!strcmp(t->aws[i].region, region)) {
            aws_session_set_account(t->aws[i].sess, account);
            return t->aws[i].c;
        }
    }
    int slot = t->naws < MAX_REGIONS ? t->naws++ : MAX_REGIONS - 1;
    aws_slot *a = &t->aws[slot];
    aws_session_free(a->sess);
    memset(a, 0, sizeof *a);
    aws_session_opts o;
    memset(&o, 0, sizeof o);
    o.client.region = region;
    o.s = t->s;
    o.rate = t->w->rate;
    o.account = account;
    aws_error err;
    a->sess = aws_session_new(&o, &err);
    if (!a->sess) {
        log_error("cannot create AWS client", "region=%s code=%s err=\"%s\"", region, err.code, err.message);
        if (slot == t->naws - 1) t->naws--;
        return NULL;
    }
    a->c = aws_session_client(a->sess);
    fc_strlcpy(a->region, region, sizeof a->region);
    return a->c;
}

static const char *opt_if_declared(step_ctx *ctx, const char *name)
{
    return strategy_opt(ctx->sd, name) ? step_ctx_opt(ctx, name) : "";
}

bool step_ctx_cross_account(step_ctx *ctx) { return *opt_if_declared(ctx, "target-account-role") != 0; }

struct aws_client *step_ctx_aws_target(step_ctx *ctx)
{
    const char *role = opt_if_declared(ctx, "target-account-role");
    if (!*role) return step_ctx_aws(ctx);
    const char *xid = opt_if_declared(ctx, "target-external-id");
    const char *region = step_ctx_campaign_field(ctx, "region");
    runner_thread *t = ctx->t;
    /* the target account's own share of the per-account rate limit, once
     * preflight learnt which account the role is in */
    const char *tacct = step_ctx_fact(ctx, "target_account");
    for (int i = 0; i < t->ntgt; i++)
        if (!strcmp(t->tgt[i].region, region) && !strcmp(t->tgt[i].role, role) &&
            !strcmp(t->tgt[i].external_id, xid)) {
            aws_session_set_account(t->tgt[i].sess, tacct ? tacct : "");
            return t->tgt[i].c;
        }
    int slot = t->ntgt < MAX_TARGETS ? t->ntgt++ : MAX_TARGETS - 1;
    aws_target_slot *a = &t->tgt[slot];
    aws_session_free(a->sess);
    fc_wipe(a, sizeof *a);
    aws_session_opts o;
    memset(&o, 0, sizeof o);
    o.client.region = region;
    o.creds.role_arn = role;
    o.creds.external_id = *xid ? xid : NULL;
    o.creds.role_session_name = "fleetcrypt-target";
    o.s = t->s;
    o.rate = t->w->rate;
    o.account = tacct ? tacct : "";
    aws_error err;
    a->sess = aws_session_new(&o, &err);
    if (!a->sess) {
        log_error("cannot create the target account's AWS client", "region=%s role=%s code=%s", region, role,
                  err.code);
        if (slot == t->ntgt - 1) t->ntgt--;
        return NULL;
    }
    a->c = aws_session_client(a->sess);
    fc_strlcpy(a->region, region, sizeof a->region);
    fc_strlcpy(a->role, role, sizeof a->role);
    fc_strlcpy(a->external_id, xid, sizeof a->external_id);
    return a->c;
}

int64_t step_ctx_run_deadline(const step_ctx *ctx) { return ctx->run_deadline; }

/* The keeper renews the lease in the background (every TTL/3); this check
 * adds the step's own renewal when the keeper's confirmation is stale (its
 * Redis connection down, or the keeper stopped at the step's deadline). */
bool step_ctx_lease_ok(step_ctx *ctx)
{
    if (lease_hold_lost(ctx->hold)) {
        log_warn("lease lost (found by the heartbeat): not acting", "%s", "");
        return false;
    }
    int64_t now = fc_mono_ms();
    int64_t ttl = ctx->w->lease_ttl_ms;
    int64_t kept = lease_hold_until(ctx->hold);
    if (kept > ctx->lease_until) ctx->lease_until = kept;
    if (ctx->lease_until - now > ttl / 2) return true;
    int rc = store_lease_renew(ctx->t->s, ctx->msg->campaign, ctx->msg->instance, ctx->token, ttl);
    if (rc == 1) {
        ctx->lease_until = now + ttl;
        return true;
    }
    if (rc == 0) lease_hold_set_lost(ctx->hold);
    log_warn("lease lost or not confirmable: not acting", "rc=%d", rc);
    return false;
}

bool step_ctx_cache(step_ctx *ctx, const char *kind, const char *id, int64_t since_ms, step_cache_view *out)
{
    return fleetcache_get(ctx->t->s, step_ctx_campaign_field(ctx, "region"), kind, id, since_ms, out);
}

int64_t step_ctx_opdur(step_ctx *ctx, const char *op)
{
    return store_opdur_get(ctx->t->s, step_ctx_campaign_field(ctx, "region"), op);
}

void step_ctx_opdur_learn(step_ctx *ctx, const char *op, int64_t lo_ms, int64_t hi_ms)
{
    int64_t d = waitplan_learn(step_ctx_opdur(ctx, op), lo_ms, hi_ms);
    if (d > 0) store_opdur_set(ctx->t->s, step_ctx_campaign_field(ctx, "region"), op, d);
}

bool step_ctx_slot(step_ctx *ctx, const char *cls)
{
    char key[256], member[160];
    rl_slot_key(ctx->t->s, step_ctx_campaign_field(ctx, "account"), step_ctx_campaign_field(ctx, "region"),
                cls, key, sizeof key);
    snprintf(member, sizeof member, "%s/%s", ctx->msg->campaign, ctx->msg->instance);
    int64_t ttl = step_deadline_s(&ctx->w->lim, ctx->def) * 1000 + 60000;
    int rc = rl_slot_acquire(ctx->t->s, key, member, ttl, rl_class_limit(cls));
    return rc != 0; /* Redis error: do not block on the limiter */
}

void ctx_slot_release(step_ctx *ctx, const char *cls)
{
    char key[256], member[160];
    rl_slot_key(ctx->t->s, step_ctx_campaign_field(ctx, "account"), step_ctx_campaign_field(ctx, "region"),
                cls, key, sizeof key);
    snprintf(member, sizeof member, "%s/%s", ctx->msg->campaign, ctx->msg->instance);
    rl_slot_release(ctx->t->s, key, member);
}

static store_looks_at looks_at(step_ctx *ctx, const char *side)
{
    store_looks_at at = {ctx->msg->campaign, step_ctx_campaign_field(ctx, "region"), side};
    return at;
}

#define LOOKS_TTL_MS 600000

bool step_ctx_looks_read(step_ctx *ctx, const char *side, const char *id, char *entry, size_t cap,
                         int64_t *asking_ms, int64_t *failed_ms)
{
    store_looks_at at = looks_at(ctx, side);
    return store_looks_read(ctx->t->s, &at, id, entry, cap, asking_ms, failed_ms);
}

bool step_ctx_looks_ask(step_ctx *ctx, const char *side, int64_t now_ms, char (*ids)[64], size_t max, size_t *n)
{
    *n = 0;
    store_looks_at at = looks_at(ctx, side);
    sargs got;
    sargs_init(&got);
    bool ok = store_looks_ask(ctx->t->s, &at, now_ms, (int)max, LOOKS_TTL_MS, &got);
    for (int k = 0; ok && k < got.n && *n < max; k++)
        if (*got.v[k] && strlen(got.v[k]) < 64) fc_strlcpy(ids[(*n)++], got.v[k], 64);
    sargs_free(&got);
    return ok;
}

bool step_ctx_looks_put(step_ctx *ctx, const char *side, const char *const *ids, const int64_t *sent_ms,
                        const char *const *entries, size_t n)
{
    store_looks_at at = looks_at(ctx, side);
    sargs t;
    sargs_init(&t);
    for (size_t k = 0; k < n; k++) {
        sargs_add(&t, ids[k]);
        sargs_addi(&t, sent_ms[k]);
        sargs_add(&t, entries[k]);
    }
    bool ok = store_looks_put(ctx->t->s, &at, &t, LOOKS_TTL_MS, NULL);
    sargs_free(&t);
    return ok;
}

bool step_ctx_looks_want(step_ctx *ctx, const char *side, const char *id, int64_t until_ms)
{
    store_looks_at at = looks_at(ctx, side);
    return store_looks_want(ctx->t->s, &at, id, until_ms, LOOKS_TTL_MS);
}

bool step_ctx_looks_plan(step_ctx *ctx, const char *side, const char *id, int64_t own_ms, int64_t from_ms,
                         int64_t to_ms, int64_t *other_ms)
{
    store_looks_at at = looks_at(ctx, side);
    return store_looks_plan(ctx->t->s, &at, id, own_ms, from_ms, to_ms, fc_now_ms(), LOOKS_TTL_MS, other_ms);
}
