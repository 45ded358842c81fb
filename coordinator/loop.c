/* loop — the coordinator's main loop and its leader lease. Every
 * COORD_TICK_MS (sooner when a planned fleet poll falls due: tick_sleep_ms)
 * the active coordinator emits due outbox entries; every
 * COORD_CYCLE_MS it rescans campaigns, re-drives stuck instances, admits,
 * polls AWS and closes finished campaigns; between cycles it polls AWS on
 * the tick a planned poll falls due (poller_due), admits on the tick
 * an instance left the in-flight set (admit_now), and runs a cycle at once
 * on the tick that sees a new campaign. A standby retries the lease every
 * second and takes over within the lease TTL when the leader dies. */
#include "coord.h"
#include "log.h"
#include "prom.h"
#include "step.h"
#include "store_model.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COORD_TICK_MS 200
#define COORD_TICK_MIN_MS 5 /* shortest sleep: a poll already due runs on the next turn */
#define COORD_CYCLE_MS 1000
#define WAKE_SCAN_INFLIGHT 64 /* admit_now: rescan a campaign without pending instances up to this many in flight */
#define COORD_KAFKA_CHECK_MS 5000 /* /readyz: a Kafka metadata round trip this often */
#define COORD_KAFKA_CHECK_TIMEOUT_MS 2000


/* 1 leader, 0 not, -1 redis error (keep the last role until the lease could
 * have expired: the lease itself protects against two leaders acting long). */
static int leader_lease(coord *c, int64_t ttl_ms)
{
    int v = store_leader_lease(c->s, c->token, ttl_ms);
    if (v < 0) return -1;
    if (v == 2) {
        log_info("became the active coordinator", "token=%s", c->token);
        prom_counter_add(prom_default(), "fc_leader_acquired_total", "Times this coordinator became the active one.",
                         NULL, 1);
    }
    return v > 0 ? 1 : 0;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Time spent in one phase of the loop since *t0 (µs), added to
 * fc_coordinator_phase_seconds_total{phase}; *t0 moves to now. */
static void phase_done(const char *phase, int64_t *t0)
{
    int64_t t = mono_us();
    char l[64];
    prom_counter_add(prom_default(), "fc_coordinator_phase_seconds_total",
                     "Time the active coordinator spent in each phase of its loop (outbox: every tick).",
                     prom_labels(l, sizeof l, "phase", phase, NULL), (double)(t - *t0) / 1e6);
    *t0 = t;
}

/* Is a planned fleet poll due (poller.c plans them per awaited resource)?
 * Then the poller runs on this tick rather than at the next cycle, so a
 * finished AWS operation is seen when planned, not up to a cycle late. */
static bool poller_due(const coord *c, int64_t now_ms)
{
    for (int i = 0; i < c->nregions; i++)
        for (int k = 0; k < 2; k++)
            if (c->regions[i].next_poll_ms[k] > 0 && c->regions[i].next_poll_ms[k] <= now_ms) return true;
    return false;
}

/* How long to sleep before the next tick: COORD_TICK_MS, or less when a
 * fleet poll placed just after an operation's expected end falls due
 * sooner, so that the poll (and the wake of the waiters whose resource it
 * finds settled, emitted by the outbox on the same tick) runs when planned
 * rather than up to a tick late: with a binding class limit that lateness
 * is paid at every hand-over of a slot (issue 17 item 2). A back-off's
 * look (nothing learnt) stays on a tick: it is late by design, and its
 * gaps shorter than a tick would only add Describes. */
static int64_t tick_sleep_ms(const coord *c, int64_t now_ms)
{
    int64_t ms = COORD_TICK_MS;
    for (int i = 0; c->leader && i < c->nregions; i++)
        for (int k = 0; k < 2; k++) {
            if (!c->regions[i].next_poll_exact[k]) continue; /* a back-off's look: on a tick, as before */
            int64_t due = c->regions[i].next_poll_ms[k];
            /* one already past was this turn's (or is stale: an ended
             * campaign's): the next tick, as before */
            if (due > now_ms && due - now_ms < ms) ms = due - now_ms;
        }
    return ms < COORD_TICK_MIN_MS ? COORD_TICK_MIN_MS : ms;
}

/* An instance left the in-flight set since the last tick (the outbox's
 * wake member, timers.c): rescan, admit into the freed slots, close a
 * campaign that just ended, and emit the admitted instances' first steps on
 * this same tick, instead of waiting up to COORD_CYCLE_MS for the next
 * cycle. Only on a tick that found the wake (nothing when nothing ended),
 * and only while a running campaign has instances waiting for admission or
 * at most WAKE_SCAN_INFLIGHT in flight (its end is then near: as the last
 * scan saw it, or as its counters say now, nearly_done); a campaign with
 * thousands in flight and none waiting is left to its next cycle: a rescan
 * of them every tick would cost more than it saves. */
/* A running campaign whose in-flight count, as its counters have it now
 * (one HMGET), is at most WAKE_SCAN_INFLIGHT: the last scan saw more in
 * flight, but the campaign is near its end (or at it) since. */
static bool nearly_done(coord *c, const camp_view *cv)
{
    static const char *const f[] = {"pending", "running", "waiting_approval"};
    store_kv kv;
    if (!store_counts_read(c->s, cv->id, f, 3, &kv)) return false;
    int64_t pending = kv_get_i64(&kv, "pending", 1), live = kv_get_i64(&kv, "running", WAKE_SCAN_INFLIGHT + 1) +
                                                           kv_get_i64(&kv, "waiting_approval", 0);
    store_kv_free(&kv);
    return pending == 0 && live <= WAKE_SCAN_INFLIGHT;
}

static void admit_now(coord *c, int64_t *t0)
{
    c->wake_admit = false;
    bool waiting = false;
    for (int i = 0; i < c->ncamps && !waiting; i++) {
        const camp_view *cv = &c->camps[i];
        waiting = !strcmp(cv->state, "running") &&
                  (cv->pending > 0 || cv->inflight <= WAKE_SCAN_INFLIGHT || nearly_done(c, cv));
    }
    if (!waiting || !campaigns_scan(c)) return;
    phase_done("scan", t0);
    int n = admit(c);
    phase_done("admit", t0);
    campaigns_finish(c);
    phase_done("finish", t0);
    if (n > 0) {
        timers_tick(c);
        phase_done("outbox", t0); /* a wake seen here runs on the next tick */
    }
}

static void leader_release(coord *c) { store_leader_release(c->s, c->token); }

/* /readyz, from this loop only (the probe reads the cached verdict): Redis
 * as the last leader-lease round trip found it, Kafka by a metadata round
 * trip every COORD_KAFKA_CHECK_MS. */
typedef struct readiness {
    bool redis_ok, kafka_ok;
    int64_t kafka_checked;
    char kafka_err[160];
} readiness;

static void readiness_report(prom_server *srv, coord *c, readiness *rd, int lease_result, int64_t now)
{
    if (!srv) return;
    if (lease_result != 2) rd->redis_ok = lease_result >= 0; /* 2: no lease round trip this time */
    if (rd->kafka_checked == 0 || now - rd->kafka_checked >= COORD_KAFKA_CHECK_MS) {
        rd->kafka_ok = kafka_producer_reachable(c->prod, COORD_KAFKA_CHECK_TIMEOUT_MS, rd->kafka_err,
                                                sizeof rd->kafka_err);
        rd->kafka_checked = fc_mono_ms();
    }
    char why[256];
    snprintf(why, sizeof why, "%s%s%s%s", rd->redis_ok ? "" : "redis unreachable",
             !rd->redis_ok && !rd->kafka_ok ? "; " : "", rd->kafka_ok ? "" : "kafka unreachable: ",
             rd->kafka_ok ? "" : rd->kafka_err);
    prom_server_set_ready(srv, rd->redis_ok && rd->kafka_ok, why);
}

int coord_run(const fc_config *cfg)
{
    coord c;
    memset(&c, 0, sizeof c);
    c.cfg = *cfg;
    c.stop = fc_stop_flag();
    c.deadline_s = cfg_redrive_deadline_s(cfg); /* FLEETCRYPT_STEP_DEADLINE_MAX_S, else 1800 */
    c.region_limit = (int)cfg->region_inflight;
    c.poll_min_ms = cfg->poll_min_ms;
    c.poll_max_ms = cfg->poll_max_ms;
    c.poll_floor_scale = cfg->poll_floor_scale;
    int64_t lease_ttl = cfg->leader_ms;
    rl_cfg_from_config(&c.rate, cfg);
    snprintf(c.token, sizeof c.token, "%s/%016llx", cfg->node_id, (unsigned long long)fc_rand_below(UINT64_MAX));

    fc_stop_on_signals();

    char err[512];
    int rc = 1;
    prom_server *metrics = NULL;
    for (int i = 0; i < 100 && !c.s && !*c.stop; i++) {
        c.s = store_open(cfg, err, sizeof err);
        if (!c.s) fc_sleep_ms(200);
    }
    if (!c.s) {
        log_error("cannot reach redis", "err=\"%s\"", err);
        goto cleanup;
    }
    c.restarts_seen = store_restarts(c.s);
    c.prod = kafka_producer_new(cfg, cfg->node_id, err, sizeof err);
    if (!c.prod) {
        log_error("cannot start the producer", "err=\"%s\"", err);
        goto cleanup;
    }
    metrics = coord_metrics_start(cfg);
    log_info("coordinator started", "leader_ttl_ms=%lld", (long long)lease_ttl);
    int64_t last_lease = 0, last_cycle = 0, lease_ok_until = 0;
    long listed = -1; /* campaigns the last cycle's scan listed (-1: it failed) */
    readiness rd = {.redis_ok = true};
    while (!*c.stop) {
        int64_t now = fc_mono_ms();
        prom_server_beat(metrics); /* /healthz: this loop still turns */
        int lease_result = 2;
        if (now - last_lease >= 1000) {
            last_lease = now;
            int l = leader_lease(&c, lease_ttl);
            lease_result = l;
            if (l == 1) lease_ok_until = now + lease_ttl;
            bool was = c.leader;
            c.leader = l == 1 || (l < 0 && now < lease_ok_until - 1000);
            if (was && !c.leader) log_warn("no longer the active coordinator", "%s", "");
            if (!was && c.leader) last_cycle = 0;
            if (was != c.leader && metrics) coord_metrics_leader(c.leader);
        }
        readiness_report(metrics, &c, &rd, lease_result, now);
        if (c.leader) {
            /* a campaign submitted since the last scan: its first cycle now,
             * not up to COORD_CYCLE_MS later (one ZCARD a tick) */
            if (now - last_cycle < COORD_CYCLE_MS && listed >= 0 && store_campaigns_count(c.s) > listed)
                last_cycle = 0;
            if (now - last_cycle >= COORD_CYCLE_MS) {
                last_cycle = now;
                int64_t c0 = mono_us(), t0 = c0;
                bool scanned = campaigns_scan(&c);
                listed = scanned ? c.ncamps : -1;
                phase_done("scan", &t0);
                if (scanned) {
                    reconcile(&c);
                    phase_done("reconcile", &t0);
                    admit(&c);
                    phase_done("admit", &t0);
                    poller_tick(&c);
                    phase_done("poll", &t0);
                    campaigns_finish(&c);
                    phase_done("finish", &t0);
                    retired_tick(&c);
                    phase_done("retired", &t0);
                }
                prom_histogram_observe(prom_default(), "fc_coordinator_cycle_seconds",
                                       "Coordinator cycle run time (scan, re-drive, admit, poll, finish, retired).",
                                       NULL, (double)(mono_us() - c0) / 1e6);
            } else if (poller_due(&c, fc_now_ms())) {
                int64_t t0 = mono_us();
                poller_tick(&c);
                phase_done("poll", &t0);
            }
            int64_t t0 = mono_us();
            timers_tick(&c);
            phase_done("outbox", &t0);
            if (c.wake_admit) admit_now(&c, &t0);
        }
        fc_sleep_ms(tick_sleep_ms(&c, fc_now_ms()));
    }
    prom_server_set_draining(metrics);
    if (c.leader) leader_release(&c);
    rc = 0;
cleanup:
    coord_metrics_stop(metrics);
    campaigns_free(&c);
    for (int i = 0; i < c.nregions; i++) aws_session_free(c.regions[i].sess);
    retired_free(&c);
    kafka_producer_free(c.prod, 10000);
    store_close(c.s);
    log_info("coordinator stopped", "%s", "");
    return rc;
}
