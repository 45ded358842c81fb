/* runner — see runner.h. One runner_thread per executor: its own Redis
 * connection and AWS clients (neither is thread-safe). The services a step
 * reaches through its step_ctx are in ctx.c. */
#include "runner.h"
#include "ctx.h"
#include "aws.h"
#include "emit.h"
#include "fleetcache.h"
#include "lease_keeper.h"
#include "outbox_acks.h"
#include "ratelimit.h"
#include "store_limits.h"
#include "log.h"
#include "prom.h"
#include "registry.h"
#include "session.h"
#include "store_fleet.h"
#include "store_model.h"
#include "store_outbox.h"
#include "util.h"
#include "waitplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A busy lease is retried for about this long before the message is left to
 * the lease holder and the reconciler. */
#define BUSY_LOG_AFTER 60 /* deferrals before saying so at INFO */
#define REDIS_DOWN_MAX_DEFERRALS 600

void *runner_thread_init(void *ud, int index)
{
    worker *w = ud;
    runner_thread *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->w = w;
    char err[256];
    /* Redis may be down right now: the store reconnects later. Retry a few
     * times so the thread starts with a connection in the common case. */
    for (int i = 0; i < 50 && !t->s; i++) {
        t->s = store_open(&w->cfg, err, sizeof err);
        if (!t->s) fc_sleep_ms(200);
    }
    if (!t->s) log_error("executor has no redis connection", "executor=%d err=\"%s\"", index, err);
    return t;
}

void runner_thread_fini(void *ud, void *tstate)
{
    (void)ud;
    runner_thread *t = tstate;
    if (!t) return;
    for (int i = 0; i < t->naws; i++) aws_session_free(t->aws[i].sess);
    for (int i = 0; i < t->ntgt; i++) aws_session_free(t->tgt[i].sess);
    if (t->pre_task) store_step_begin_done(&t->pre);
    store_close(t->s);
    free(t);
}

/* ---------------------------------------------------------------- run */
static void make_event(fc_step_event *e, const step_ctx *ctx, const step_transition *tr, uint64_t epoch,
                       int64_t dur)
{
    memset(e, 0, sizeof *e);
    e->schema_version = FC_SCHEMA_VERSION;
    fc_strlcpy(e->campaign, ctx->msg->campaign, sizeof e->campaign);
    fc_strlcpy(e->instance, ctx->msg->instance, sizeof e->instance);
    fc_strlcpy(e->strategy, ctx->msg->strategy, sizeof e->strategy);
    fc_strlcpy(e->step, ctx->msg->step, sizeof e->step);
    e->attempt = ctx->msg->attempt;
    e->epoch = epoch;
    fc_strlcpy(e->outcome, tr->outcome, sizeof e->outcome);
    fc_strlcpy(e->from_state, "running", sizeof e->from_state);
    fc_strlcpy(e->to_state, tr->new_state, sizeof e->to_state);
    fc_strlcpy(e->next_step, tr->new_step, sizeof e->next_step);
    fc_strlcpy(e->reason, tr->error, sizeof e->reason);
    e->ts_ms = fc_now_ms();
    e->duration_ms = dur;
    fc_strlcpy(e->node, ctx->w->cfg.node_id, sizeof e->node);
}

static const char *class_of(const strategy_def *sd, const char *step)
{
    const step_def *d = strategy_step(sd, step);
    return d ? d->limit_class : NULL;
}

/* A wait for a concurrency slot of class cls is recorded as wait_on
 * "slot:<cls>" (never a fleet-poller member) and its waiter queued on the
 * class (store_slot_wait_add); whoever releases a slot wakes the oldest. */
#define SLOT_WAIT_PREFIX "slot:"

static bool is_slot_wait(const char *wait_on) { return !strncmp(wait_on, SLOT_WAIT_PREFIX, strlen(SLOT_WAIT_PREFIX)); }

static void slot_key_of(const step_ctx *ctx, const char *cls, char *key, size_t cap)
{
    rl_slot_key(ctx->t->s, step_ctx_campaign_field(ctx, "account"), step_ctx_campaign_field(ctx, "region"), cls, key,
                cap);
}

/* After step_end: queue this instance as the class's waiter when it starts
 * waiting for a slot, take it off the queue when it stops, and hand a slot
 * this step gave back to the class's oldest waiter: its outbox entry moves
 * past the grace and *ho names the message to produce at once (returns
 * true; the caller produces it, slot_handover_emit), instead of the
 * coordinator's next outbox tick (store_slot_hand_over). Best effort: a
 * waiter not handed over is woken for that tick, or re-runs at its planned
 * time (0.5-1 s) as before. */
static bool slot_waiters(const step_ctx *ctx, const char *prior_wait, const char *wait_on, const char *released,
                         int64_t grace_ms, slot_handover *ho)
{
    char key[256], member[160];
    snprintf(member, sizeof member, "%s/%s", ctx->msg->campaign, ctx->msg->instance);
    if (is_slot_wait(wait_on)) { /* every run while waiting: a popped waiter not given the slot queues again */
        slot_key_of(ctx, wait_on + strlen(SLOT_WAIT_PREFIX), key, sizeof key);
        store_slot_wait_add(ctx->t->s, key, member, fc_now_ms());
    }
    if (is_slot_wait(prior_wait) && strcmp(prior_wait, wait_on)) {
        slot_key_of(ctx, prior_wait + strlen(SLOT_WAIT_PREFIX), key, sizeof key);
        store_slot_wait_del(ctx->t->s, key, member);
    }
    if (!released) return false;
    char on[64];
    snprintf(on, sizeof on, SLOT_WAIT_PREFIX "%s", released);
    slot_key_of(ctx, released, key, sizeof key);
    int64_t now = fc_now_ms();
    return store_slot_hand_over(ctx->t->s, key, on, now, now + grace_ms, ho) == 1;
}

/* Produce a step message whose outbox entry (campaign, member) is safe in
 * Redis already, without waiting: its delivery report removes the entry
 * (outbox_acks.c); if it never comes the coordinator emits the entry after
 * its grace. warn is the log message when it could not be produced. */
static bool produce_tracked(worker *w, const fc_step_msg *next, const char *member, const char *warn)
{
    char err[256] = "out of memory";
    outbox_ack *ack = outbox_ack_new(w->acks, next->campaign, member);
    if (ack && emit_step_notify(w->prod, &w->cfg, next, 1000, outbox_ack_delivered, ack, err, sizeof err))
        return true;
    free(ack);
    log_warn(warn, "err=\"%s\"", err);
    return false;
}

/* Produce the slot waiter's message handed over by slot_waiters, like a
 * successor (its outbox entry moved past the grace). */
static void slot_handover_emit(worker *w, const slot_handover *ho)
{
    timer_entry te;
    if (!store_timer_parse(ho->member, &te)) return; /* the coordinator drops it */
    fc_step_msg next;
    emit_step_fill(&next, ho->campaign, te.instance, ho->strategy, te.step, te.attempt, te.epoch, "worker", NULL);
    if (produce_tracked(w, &next, ho->member, "slot waiter not produced: the coordinator's outbox will emit it"))
        log_debug("slot handed over", "to_campaign=%s to_instance=%s", ho->campaign, te.instance);
}

static void task_token(const worker *w, pool_task *task)
{
    if (!task->token[0])
        snprintf(task->token, sizeof task->token, "%s/%016llx", w->cfg.node_id,
                 (unsigned long long)fc_rand_below(UINT64_MAX));
}

static step_msg_ref msg_ref(const fc_step_msg *m)
{
    return (step_msg_ref){m->campaign, m->instance, m->step, m->attempt, m->epoch};
}

/* Record a step's outcome; when the pool has a next task ready for this
 * executor, take it and begin it in the same Redis round trip (t->pre),
 * so a step costs one blocking round trip instead of two. The begin is
 * the same fenced script either way, only sent earlier. */
static se_status end_and_begin_next(worker *w, runner_thread *t, pool *p, const step_end_in *in, char *epoch,
                                    size_t ecap, char *member, size_t mcap, char *why, size_t wcap)
{
    pool_task *nx = pool_take_next(p);
    if (!nx) return store_step_end(t->s, in, epoch, ecap, member, mcap, why, wcap);
    task_token(w, nx);
    step_msg_ref ref = msg_ref(&nx->msg);
    int64_t at = fc_mono_ms();
    bool begun = false;
    se_status se = store_step_end_begin(t->s, in, epoch, ecap, member, mcap, why, wcap, &ref, nx->token,
                                        w->lease_ttl_ms, w->cfg.node_id, &t->pre, &begun);
    if (begun) {
        t->pre_task = nx;
        t->pre_at = at;
    }
    return se;
}

bool runner_run(void *ud, void *tstate, pool *p, pool_task *task)
{
    worker *w = ud;
    runner_thread *t = tstate;
    const fc_step_msg *m = &task->msg;
    /* begun already with the previous task's end (end_and_begin_next)? */
    bool pre = t && t->pre_task == task;
    if (t) t->pre_task = NULL;
    const strategy_impl *si = registry_find(m->strategy);
    const strategy_def *sd = si ? si->def : NULL;
    const step_def *def = sd ? strategy_step(sd, m->step) : NULL;
    step_fn fn = def ? strategy_impl_fn(si, def->name) : NULL;
    if (!t || !sd || !def || !fn) { /* validated by the polling thread */
        if (pre) store_step_begin_done(&t->pre);
        return true;
    }
    log_ctx_set(m->campaign, m->instance, m->step, (int)m->attempt);
    if (!t->s) {
        char err[256];
        t->s = store_open(&w->cfg, err, sizeof err);
        if (!t->s) {
            log_ctx_clear();
            if (task->deferrals >= REDIS_DOWN_MAX_DEFERRALS) return true;
            pool_defer(p, task, 1000);
            return false;
        }
    }
    task_token(w, task);

    step_msg_ref ref = msg_ref(m);
    step_begin_out b;
    int64_t begun_at;
    if (pre) {
        b = t->pre;
        begun_at = t->pre_at;
    } else {
        begun_at = fc_mono_ms();
        store_step_begin(t->s, &ref, task->token, w->lease_ttl_ms, w->cfg.node_id, &b);
    }
    switch (b.st) {
    case SB_OK:
        break;
    case SB_BUSY:
        prom_counter_add(prom_default(), "fc_lease_busy_total",
                         "Step messages that found the instance lease held by another executor.", NULL, 1);
        /* another executor holds the lease: a duplicate delivery, or a dead
         * holder whose lease has not expired yet. Look again later. */
        /* Never drop it while the lease is held: the holder may be inside a
         * cutover with writers blocked, and if it dies this copy must take
         * over as soon as the lease expires (not when the reconciler's
         * deadline passes, which may be half an hour of blocked writers).
         * A deferred task holds only its partition's offset, not the
         * partition: other messages keep flowing. */
        {
            int64_t d = b.busy_pttl_ms + 100;
            if (d < 250) d = 250;
            if (d > 5000) d = 5000;
            if (task->deferrals == BUSY_LOG_AFTER)
                log_info("lease still busy: waiting for the holder to finish or its lease to expire",
                         "pttl_ms=%lld why=\"%s\"", (long long)b.busy_pttl_ms, b.why);
            log_ctx_clear();
            pool_defer(p, task, d);
            return false;
        }
    case SB_ERROR:
        log_ctx_clear();
        if (task->deferrals >= REDIS_DOWN_MAX_DEFERRALS) return true;
        pool_defer(p, task, 1000);
        return false;
    case SB_PAUSED:
        log_info("campaign paused: message dropped (the outbox re-emits on resume)", "%s", "");
        log_ctx_clear();
        return true;
    case SB_GONE:
    case SB_STALE:
    default:
        log_info("stale or duplicate step message dropped", "why=\"%s\" epoch=%llu", b.why,
                 (unsigned long long)m->epoch);
        log_ctx_clear();
        return true;
    }

    step_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.t = t;
    ctx.w = w;
    ctx.msg = m;
    ctx.sd = sd;
    ctx.def = def;
    ctx.rec = b.rec;
    ctx.camp = b.campaign;
    ctx.token = task->token;
    ctx.fence = b.fence;
    ctx.lease_until = begun_at + w->lease_ttl_ms; /* from before the begin was sent */
    /* heartbeat while the step runs, bounded by the step's deadline */
    ctx.run_deadline = fc_mono_ms() + step_deadline_s(&w->lim, def) * 1000;
    ctx.hold = lease_keeper_add(w->keeper, m->campaign, m->instance, m->step, m->attempt, task->token,
                                ctx.run_deadline);
    sargs_init(&ctx.fields);

    char prior_wait[128];
    fc_strlcpy(prior_wait, kv_get(&ctx.rec, "wait_on") ? kv_get(&ctx.rec, "wait_on") : "", sizeof prior_wait);
    char region[32];
    fc_strlcpy(region, step_ctx_campaign_field(&ctx, "region"), sizeof region);

    char hp[320];
    snprintf(hp, sizeof hp, "begin.%s.%s", def->name, m->instance);
    fc_holdpoint(hp); /* tests: hold one instance at the start of one step, its lease held */

    char ml[160];
    prom_labels(ml, sizeof ml, "strategy", m->strategy, "step", def->name, NULL);
    prom_counter_add(prom_default(), "fc_steps_started_total", "Steps started, by strategy and step.", ml, 1);
    step_result res;
    memset(&res, 0, sizeof res);
    int64_t t0 = fc_mono_ms();
    step_rc rc;
    const char *abort_req = kv_get(&ctx.rec, "abort_requested");
    const char *abort_refused = kv_get(&ctx.rec, "f.abort_refused");
    /* An undo step that refused (after the switch nothing may be undone)
     * sends the instance forward again: do not redirect it a second time. */
    if (abort_req && !strcmp(abort_req, "1") && strcmp(def->name, STEP_ABORT_NAME) &&
        !(abort_refused && *abort_refused && strcmp(abort_refused, "0"))) {
        /* Operator abort: do not run the step; jump to the strategy's undo step. */
        if (strategy_step(sd, STEP_ABORT_NAME)) {
            rc = STEP_NEXT;
            fc_strlcpy(res.next, STEP_ABORT_NAME, sizeof res.next);
            snprintf(res.reason, sizeof res.reason, "abort requested at step %s", def->name);
        } else {
            rc = STEP_FAIL;
            snprintf(res.reason, sizeof res.reason,
                     "abort requested at step %s: strategy %s has no undo step, so nothing further was done "
                     "(resources so far are left as they are)", def->name, sd->name);
        }
        log_info("operator abort", "from_step=%s", def->name);
    } else if (def->limit_class && !step_ctx_slot(&ctx, def->limit_class)) {
        rc = STEP_WAIT;
        /* a slot freed is taken within a second (it was 2-4 s: with a
         * binding limit every hand-over idled the slot that long, issue 17
         * item 2); a retry is a step run through Redis and Kafka, no AWS call */
        res.wait_ms = 500 + (int64_t)fc_rand_below(500);
        /* and a releaser wakes it sooner (slot_waiters) */
        snprintf(res.wait_on, sizeof res.wait_on, SLOT_WAIT_PREFIX "%s", def->limit_class);
        snprintf(res.reason, sizeof res.reason, "waiting for a %s slot", def->limit_class);
    } else {
        char oerr[256];
        if (strategy_opts_resolve(sd, step_ctx_campaign_field(&ctx, "spec"), ctx.opts, oerr, sizeof oerr)) {
            rc = fn(&ctx, &res);
            strategy_opts_free(sd, ctx.opts);
        } else {
            rc = STEP_FAIL;
            snprintf(res.reason, sizeof res.reason, "campaign options: %s", oerr);
        }
        /* chaos tests: die after the step's work, before its outcome is recorded */
        char cp[96];
        snprintf(cp, sizeof cp, "step.%s", def->name);
        fc_crashpoint(cp);
    }
    int64_t dur = fc_mono_ms() - t0;

    step_transition tr;
    step_plan(sd, def, rc, &res, m->attempt, fc_now_ms(), &w->lim, &tr);
    sargs_add(&ctx.fields, "wait_on");
    sargs_add(&ctx.fields, rc == STEP_WAIT ? res.wait_on : "");
    /* why it waits, for status (step reasons name objects, never secrets or row values) */
    /* one line: status shows it in a table */
    for (char *nl = res.reason; (nl = strpbrk(nl, "\r\n")) != NULL;) *nl = ' ';
    sargs_add(&ctx.fields, "waiting");
    sargs_add(&ctx.fields, rc == STEP_WAIT ? res.reason : "");

    step_end_in in = {.msg = &ref, .token = task->token, .fence = b.fence, .outcome = tr.outcome,
                      .new_step = tr.new_step, .new_state = tr.new_state, .new_attempt = tr.new_attempt,
                      .due_ms = tr.due_ms, .error = tr.error, .deadline_ms = tr.deadline_ms,
                      .node = w->cfg.node_id, .duration_ms = dur, .strategy = m->strategy,
                      .fields = &ctx.fields};
    char epoch[32] = "", member[STORE_TIMER_MAX] = "", why[160] = "";
    /* The heartbeat ends before step_end releases the lease, so a renewal
     * racing the release is never mistaken for a lost lease. The lease has
     * at least TTL − TTL/3 left here. */
    bool lost = lease_hold_lost(ctx.hold);
    lease_keeper_remove(w->keeper, ctx.hold);
    ctx.hold = NULL;
    if (lost) log_info("lease was lost during the step: its outcome will be fenced", "outcome=%s", tr.outcome);
    se_status se = end_and_begin_next(w, t, p, &in, epoch, sizeof epoch, member, sizeof member, why, sizeof why);
    bool finished = true;
    if (se == SE_OK) {
        char ol[200];
        prom_labels(ol, sizeof ol, "strategy", m->strategy, "step", def->name, "outcome", tr.outcome, NULL);
        prom_counter_add(prom_default(), "fc_steps_finished_total",
                         "Steps whose outcome was recorded, by strategy, step and outcome.", ol, 1);
        if (!strcmp(tr.new_state, "failed"))
            prom_counter_add(prom_default(), "fc_steps_failed_total",
                             "Steps that failed their instance, by strategy and step.", ml, 1);
        prom_histogram_observe(prom_default(), "fc_step_duration_seconds", "Step run time, by strategy and step.",
                               ml, (double)dur / 1000.0);
        const char *now_on = rc == STEP_WAIT ? res.wait_on : "";
        if (now_on[0] && !is_slot_wait(now_on)) {
            fleetcache_want(t->s, region, now_on, fc_now_ms());
            /* who waits, for the poller to wake when it sees the resource settle */
            if (strcmp(prior_wait, now_on)) {
                /* and what it waits for: the poller plans its first look at
                 * the end this kind of operation took before (waitplan.h) */
                char kind[8], op[160];
                const char *colon = strchr(now_on, ':');
                size_t kl = colon ? (size_t)(colon - now_on) : 0;
                if (kl >= sizeof kind) kl = sizeof kind - 1;
                memcpy(kind, now_on, kl);
                kind[kl] = 0;
                const char *gb = kv_get(&ctx.rec, "f.storage_gb");
                waitplan_opkey(op, sizeof op, m->strategy, def->name, kind, gb ? atoi(gb) : 0);
                store_wait_who(t->s, region, now_on, m->campaign, m->instance, op);
            }
        }
        if (prior_wait[0] && !is_slot_wait(prior_wait) && strcmp(prior_wait, now_on))
            fleetcache_unwant(t->s, region, prior_wait);
        const char *released = NULL;
        if (def->limit_class) {
            const char *nc = strcmp(tr.new_state, "running") ? NULL : class_of(sd, tr.new_step);
            if (!nc || strcmp(nc, def->limit_class)) {
                ctx_slot_release(&ctx, def->limit_class);
                released = def->limit_class;
            }
        }
        slot_handover ho;
        bool handed = (released || is_slot_wait(now_on) || is_slot_wait(prior_wait)) &&
                      slot_waiters(&ctx, prior_wait, now_on, released, w->lim.grace_ms, &ho);
        uint64_t ep = strtoull(epoch, NULL, 10);
        if (tr.emit_now && member[0]) {
            fc_step_msg next;
            emit_step_fill(&next, m->campaign, m->instance, m->strategy, tr.new_step, tr.new_attempt, ep,
                           "worker", m->trace_id);
            /* Not awaited: the successor is safe in the outbox already
             * (step_end.lua wrote it with the transition). */
            produce_tracked(w, &next, member, "successor not produced: the coordinator's outbox will emit it");
        }
        if (handed) slot_handover_emit(w, &ho);
        fc_step_event ev;
        make_event(&ev, &ctx, &tr, ep, dur);
        emit_event(w->prod, &w->cfg, &ev);
        if (rc == STEP_WAIT)
            log_debug("step waits", "wait_ms=%lld on=%s reason=\"%s\"", (long long)res.wait_ms, res.wait_on,
                      res.reason);
        else
            log_info("step finished", "outcome=%s next=%s state=%s duration_ms=%lld reason=\"%s\"", tr.outcome,
                     tr.new_step, tr.new_state, (long long)dur, tr.error);
    } else if (se == SE_FENCED) {
        log_warn("outcome dropped: lease lost", "why=\"%s\" outcome=%s", why, tr.outcome);
        prom_counter_add(prom_default(), "fc_steps_fenced_total",
                         "Step outcomes refused because the lease or fence moved on.", ml, 1);
    } else {
        /* Redis unreachable: the step is idempotent, run it again later with
         * the same lease token (our lease may still be valid). */
        log_warn("outcome not recorded (redis unavailable): step will re-run", "outcome=%s", tr.outcome);
        if (task->deferrals < REDIS_DOWN_MAX_DEFERRALS) {
            pool_defer(p, task, 1000);
            finished = false;
        }
    }
    sargs_free(&ctx.fields);
    store_step_begin_done(&b);
    log_ctx_clear();
    return finished;
}
