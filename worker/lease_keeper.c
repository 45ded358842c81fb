/* lease_keeper — see lease_keeper.h. One mutex guards the registry (a short
 * list: at most one entry per executor). The thread copies the due entries
 * under the mutex and renews them without it (a Redis call may take up to
 * its timeout; executors must never wait on that to register or leave),
 * then applies the results to the entries still registered (by id). */
#include "lease_keeper.h"
#include "log.h"
#include "prom.h"
#include "store_model.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lease_hold {
    uint64_t id;
    char campaign[64];
    char instance[64];
    char step[64];
    uint32_t attempt;
    char token[128];
    int64_t deadline_ms;     /* monotonic */
    int64_t next_due_ms;     /* monotonic: next renewal */
    bool error_logged;       /* one warning per run of Redis errors */
    _Atomic bool lost;
    _Atomic bool expired;
    _Atomic int64_t until_ms;
    _Atomic long renewals;
    struct lease_hold *next;
};

struct lease_keeper {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stopping;
    lease_hold *holds;
    uint64_t next_id;
    fc_config cfg;
    int64_t ttl_ms, period_ms;
};

/* what the thread renews without the mutex */
typedef struct due_item {
    uint64_t id;
    char campaign[64], instance[64], step[64], token[128];
    uint32_t attempt;
    bool past_deadline;
} due_item;

static void count(const char *name, const char *help)
{
    prom_counter_add(prom_default(), name, help, NULL, 1);
}

static lease_hold *find(lease_keeper *k, uint64_t id)
{
    for (lease_hold *h = k->holds; h; h = h->next)
        if (h->id == id) return h;
    return NULL;
}

/* Under mu: copy every entry due now (renewal or deadline) into *out. */
static int collect_due(lease_keeper *k, int64_t now, due_item **out, int *cap)
{
    int n = 0;
    for (lease_hold *h = k->holds; h; h = h->next) {
        if (atomic_load(&h->lost) || atomic_load(&h->expired)) continue;
        bool past = now >= h->deadline_ms;
        if (!past && now < h->next_due_ms) continue;
        if (n == *cap) {
            int nc = *cap ? *cap * 2 : 8;
            due_item *ni = realloc(*out, (size_t)nc * sizeof *ni);
            if (!ni) break; /* out of memory: the rest waits for the next tick */
            *out = ni;
            *cap = nc;
        }
        due_item *d = &(*out)[n++];
        d->id = h->id;
        fc_strlcpy(d->campaign, h->campaign, sizeof d->campaign);
        fc_strlcpy(d->instance, h->instance, sizeof d->instance);
        fc_strlcpy(d->step, h->step, sizeof d->step);
        fc_strlcpy(d->token, h->token, sizeof d->token);
        d->attempt = h->attempt;
        d->past_deadline = past;
        if (past) atomic_store(&h->expired, true);
    }
    return n;
}

static void *keeper_main(void *arg)
{
    lease_keeper *k = arg;
    store *s = NULL;
    due_item *items = NULL;
    int cap = 0;
    /* a tick short enough to renew each lease close to its period */
    int64_t tick = k->period_ms / 4;
    if (tick < 20) tick = 20;
    if (tick > 500) tick = 500;
    pthread_mutex_lock(&k->mu);
    while (!k->stopping) {
        int64_t now = fc_mono_ms();
        int n = collect_due(k, now, &items, &cap);
        pthread_mutex_unlock(&k->mu);
        if (n > 0 && !s) {
            char err[256];
            s = store_open(&k->cfg, err, sizeof err);
            if (!s) log_warn("lease keeper has no redis connection", "err=\"%s\"", err);
        }
        for (int i = 0; i < n; i++) {
            due_item *d = &items[i];
            log_ctx_set(d->campaign, d->instance, d->step, (int)d->attempt);
            if (d->past_deadline) {
                /* loud: a step this late is hung or far slower than its table says */
                log_error("step past its deadline: lease no longer renewed, it expires within its TTL",
                          "ttl_ms=%lld", (long long)k->ttl_ms);
                count("fc_lease_deadline_passed_total",
                      "Running steps whose lease heartbeat stopped at the step's deadline.");
                log_ctx_clear();
                continue;
            }
            int64_t t0 = fc_mono_ms();
            int rc = s ? store_lease_renew(s, d->campaign, d->instance, d->token, k->ttl_ms) : -1;
            pthread_mutex_lock(&k->mu);
            lease_hold *h = find(k, d->id);
            bool warn_error = false;
            if (h) {
                if (rc == 1) {
                    atomic_store(&h->until_ms, t0 + k->ttl_ms);
                    atomic_fetch_add(&h->renewals, 1);
                    h->next_due_ms = t0 + k->period_ms;
                    h->error_logged = false;
                } else if (rc == 0) {
                    atomic_store(&h->lost, true);
                } else {
                    warn_error = !h->error_logged;
                    h->error_logged = true;
                    h->next_due_ms = fc_mono_ms() + tick; /* try again soon */
                }
            }
            pthread_mutex_unlock(&k->mu);
            /* h == NULL: the step ended meanwhile; its result does not matter */
            if (h && rc == 0) {
                log_warn("lease lost while the step runs: it will not act again", "%s", "");
                count("fc_lease_lost_total", "Running steps whose lease was found gone or taken by another token.");
            } else if (h && rc < 0) {
                count("fc_lease_renew_failed_total", "Lease renewals that could not reach Redis.");
                if (warn_error) log_warn("lease renewal failed (redis unavailable): retrying", "%s", "");
            }
            log_ctx_clear();
        }
        pthread_mutex_lock(&k->mu);
        if (k->stopping) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(tick % 1000) * 1000000L;
        ts.tv_sec += tick / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
    }
    pthread_mutex_unlock(&k->mu);
    free(items);
    store_close(s);
    return NULL;
}

lease_keeper *lease_keeper_start(const fc_config *cfg, int64_t ttl_ms, int64_t period_ms)
{
    lease_keeper *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->cfg = *cfg;
    k->ttl_ms = ttl_ms;
    k->period_ms = period_ms > 0 ? period_ms : ttl_ms / 3;
    if (k->period_ms < 1) k->period_ms = 1;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->thread, NULL, keeper_main, k) != 0) {
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        fc_wipe(&k->cfg, sizeof k->cfg);
        free(k);
        return NULL;
    }
    return k;
}

void lease_keeper_stop(lease_keeper *k)
{
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    k->stopping = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    while (k->holds) {
        lease_hold *n = k->holds->next;
        free(k->holds);
        k->holds = n;
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    fc_wipe(&k->cfg, sizeof k->cfg); /* the Redis URL may carry a password */
    free(k);
}

lease_hold *lease_keeper_add(lease_keeper *k, const char *campaign, const char *instance, const char *step,
                             uint32_t attempt, const char *token, int64_t deadline_mono_ms)
{
    if (!k) return NULL;
    lease_hold *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    fc_strlcpy(h->campaign, campaign, sizeof h->campaign);
    fc_strlcpy(h->instance, instance, sizeof h->instance);
    fc_strlcpy(h->step, step, sizeof h->step);
    fc_strlcpy(h->token, token, sizeof h->token);
    h->attempt = attempt;
    h->deadline_ms = deadline_mono_ms;
    int64_t now = fc_mono_ms();
    /* the caller just set the lease (step_begin): the first renewal is due
     * one period from now */
    h->next_due_ms = now + k->period_ms;
    atomic_init(&h->lost, false);
    atomic_init(&h->expired, false);
    atomic_init(&h->until_ms, 0);
    atomic_init(&h->renewals, 0);
    pthread_mutex_lock(&k->mu);
    h->id = ++k->next_id;
    h->next = k->holds;
    k->holds = h;
    pthread_mutex_unlock(&k->mu);
    return h;
}

void lease_keeper_remove(lease_keeper *k, lease_hold *h)
{
    if (!k || !h) return;
    pthread_mutex_lock(&k->mu);
    for (lease_hold **pp = &k->holds; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&k->mu);
    fc_wipe(h->token, sizeof h->token);
    free(h);
}

bool lease_hold_lost(const lease_hold *h) { return h && atomic_load(&h->lost); }
void lease_hold_set_lost(lease_hold *h)
{
    if (h) atomic_store(&h->lost, true);
}
int64_t lease_hold_until(const lease_hold *h) { return h ? atomic_load(&h->until_ms) : 0; }
bool lease_hold_expired(const lease_hold *h) { return h && atomic_load(&h->expired); }
long lease_hold_renewals(const lease_hold *h) { return h ? atomic_load(&h->renewals) : 0; }
