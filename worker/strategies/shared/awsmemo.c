/* awsmemo — see awsmemo.h. */
#include "awsmemo.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define MEMO_N 64
#define MEMO_KEY 256

static struct {
    char key[MEMO_KEY];
    int64_t at; /* fc_mono_ms; 0 = empty */
} memo[MEMO_N];
static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;

bool awsmemo_seen(const char *key, int64_t max_age_ms)
{
    int64_t now = fc_mono_ms();
    bool yes = false;
    pthread_mutex_lock(&memo_mu);
    for (int i = 0; i < MEMO_N && !yes; i++)
        yes = memo[i].at > 0 && now - memo[i].at <= max_age_ms && !strcmp(memo[i].key, key);
    pthread_mutex_unlock(&memo_mu);
    return yes;
}

void awsmemo_put(const char *key)
{
    if (strlen(key) >= MEMO_KEY) return;
    int64_t now = fc_mono_ms();
    pthread_mutex_lock(&memo_mu);
    int at = 0;
    for (int i = 0; i < MEMO_N; i++) {
        if (memo[i].at > 0 && !strcmp(memo[i].key, key)) {
            at = i;
            break;
        }
        if (memo[i].at < memo[at].at) at = i; /* the oldest (or an empty one) */
    }
    fc_strlcpy(memo[at].key, key, sizeof memo[at].key);
    memo[at].at = now > 0 ? now : 1;
    pthread_mutex_unlock(&memo_mu);
}

static void batch_reset(void);

void awsmemo_reset(void)
{
    pthread_mutex_lock(&memo_mu);
    memset(memo, 0, sizeof memo);
    batch_reset();
    pthread_mutex_unlock(&memo_mu);
}

/* ---- batched DescribeDBInstances (awsmemo_describe_instance) ----
 * A slot per key: when its last caller came (a caller within window_ms of
 * it batches) and, while one is gathered or asked, the batch: its
 * identifiers, the callers still to take their answer, the answer. */
#define BATCH_SLOTS 16
#define BATCH_MAX 100 /* identifiers per filter value list (AWS's limit) */

enum { B_IDLE, B_OPEN, B_ASKING, B_DONE };

static struct {
    char key[MEMO_KEY];
    int64_t last_ms; /* fc_mono_ms of the last caller under key; 0 = empty slot */
    int64_t opened_ms; /* fc_mono_ms the batch began gathering */
    int state;
    char ids[BATCH_MAX][64];
    int n;
    int waiting; /* callers of the batch that have not taken their answer */
    bool ok;
    aws_error err;
    rds_instance_list *list;
} batch[BATCH_SLOTS];
static pthread_cond_t batch_cv; /* on the monotonic clock (fc_mono_ms): batch_cv_init */
static pthread_once_t batch_cv_once = PTHREAD_ONCE_INIT;
static awsmemo_describe_fn describe_fn;

static void batch_cv_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&batch_cv, &a);
    pthread_condattr_destroy(&a);
}

static void batch_wake(void)
{
    pthread_once(&batch_cv_once, batch_cv_init);
    pthread_cond_broadcast(&batch_cv);
}

/* Under memo_mu: wait for batch_wake until until_ms (fc_mono_ms); false
 * once it has passed. */
static bool batch_wait_until(int64_t until_ms)
{
    pthread_once(&batch_cv_once, batch_cv_init);
    if (fc_mono_ms() >= until_ms) return false;
    struct timespec ts = {.tv_sec = until_ms / 1000, .tv_nsec = (long)(until_ms % 1000) * 1000000L};
    return pthread_cond_timedwait(&batch_cv, &memo_mu, &ts) != ETIMEDOUT;
}

void awsmemo_set_describe(awsmemo_describe_fn fn) { describe_fn = fn; }

/* Under memo_mu: the slot of key, else a free one (the least recent idle), else -1. */
static int batch_slot(const char *key)
{
    int free_at = -1;
    for (int i = 0; i < BATCH_SLOTS; i++) {
        if (batch[i].last_ms > 0 && !strcmp(batch[i].key, key)) return i;
        if (batch[i].state == B_IDLE && (free_at < 0 || batch[i].last_ms < batch[free_at].last_ms)) free_at = i;
    }
    if (free_at >= 0) {
        fc_strlcpy(batch[free_at].key, key, sizeof batch[free_at].key);
        batch[free_at].last_ms = 0;
    }
    return free_at;
}

/* Under memo_mu, the batch done: the caller's instance moved out of its
 * answer (as rds_list_one does), the answer freed by the last one. */
static bool batch_take(int b, const char *id, rds_instance **out, aws_error *err)
{
    bool ok = batch[b].ok;
    if (!ok) {
        *err = batch[b].err;
    } else {
        ok = (*out = rds_instance_list_take(batch[b].list, id, err)) != NULL;
    }
    if (--batch[b].waiting == 0) {
        rds_instance_list_free(batch[b].list);
        batch[b].list = NULL;
        batch[b].n = 0;
        batch[b].state = B_IDLE;
    }
    return ok;
}

/* One instance by its identifier (rds_describe_db_instance; the tests' stub). */
static bool describe_alone(aws_client *c, const char *id, rds_instance **out, aws_error *err)
{
    if (!describe_fn) return rds_describe_db_instance(c, id, out, err);
    rds_describe_opts o = {.id = id};
    rds_instance_list *l = NULL;
    bool ok = describe_fn(c, &o, &l, err) && (*out = rds_instance_list_take(l, NULL, err)) != NULL;
    rds_instance_list_free(l);
    return ok;
}

bool awsmemo_describe_instance(aws_client *c, const char *key, const char *id, int64_t window_ms,
                               rds_instance **out, aws_error *err)
{
    *out = NULL;
    /* an identifier as AWS stores it (lower case) only: how a filter value
     * in other case matches is not something to rely on */
    bool lower = true;
    for (const char *p = id; *p; p++) lower = lower && !(*p >= 'A' && *p <= 'Z');
    if (window_ms <= 0 || !lower || strlen(key) >= MEMO_KEY || strlen(id) >= sizeof batch[0].ids[0])
        return describe_alone(c, id, out, err);
    pthread_mutex_lock(&memo_mu);
    int64_t now = fc_mono_ms();
    int b = batch_slot(key);
    if (b < 0) { /* every slot gathering or asking: alone */
        pthread_mutex_unlock(&memo_mu);
        return describe_alone(c, id, out, err);
    }
    bool recent = batch[b].last_ms > 0 && now - batch[b].last_ms < window_ms;
    batch[b].last_ms = now > 0 ? now : 1;
    bool dup = false; /* the same identifier twice in a batch: the second would find it taken */
    for (int k = 0; batch[b].state == B_OPEN && k < batch[b].n && !dup; k++) dup = !strcmp(batch[b].ids[k], id);
    if (batch[b].state == B_OPEN && batch[b].n < BATCH_MAX && !dup) {
        /* a batch is gathering: join it and wait for its answer — for at
         * most AWSMEMO_JOIN_WAIT_WINDOWS windows from its start: a leader
         * that overruns (its Describe throttled and retried) is left, and
         * this caller asks alone */
        fc_strlcpy(batch[b].ids[batch[b].n++], id, sizeof batch[b].ids[0]);
        batch[b].waiting++;
        if (batch[b].n == BATCH_MAX) batch_wake(); /* full: the leader asks now */
        int64_t until = batch[b].opened_ms + window_ms * AWSMEMO_JOIN_WAIT_WINDOWS;
        while (batch[b].state != B_DONE)
            if (!batch_wait_until(until)) break;
        if (batch[b].state != B_DONE) {
            batch[b].waiting--; /* the leader's own count keeps the batch */
            pthread_mutex_unlock(&memo_mu);
            log_info("batched describe: its leader overran, asking alone", "id=%s waited_ms=%lld", id,
                     (long long)(fc_mono_ms() - now));
            return describe_alone(c, id, out, err);
        }
        bool ok = batch_take(b, id, out, err);
        pthread_mutex_unlock(&memo_mu);
        return ok;
    }
    if (!recent || batch[b].state != B_IDLE) {
        /* alone (nobody asked under key lately), or a batch is being asked */
        pthread_mutex_unlock(&memo_mu);
        return describe_alone(c, id, out, err);
    }
    /* another came moments ago: more are likely on their way, gather them */
    batch[b].state = B_OPEN;
    batch[b].n = 1;
    batch[b].waiting = 1;
    batch[b].opened_ms = batch[b].last_ms;
    fc_strlcpy(batch[b].ids[0], id, sizeof batch[b].ids[0]);
    /* the window, ended early when the batch is full (no more can join) */
    while (batch[b].n < BATCH_MAX)
        if (!batch_wait_until(batch[b].opened_ms + window_ms)) break;
    batch[b].state = B_ASKING;
    int n = batch[b].n;
    const char *idv[BATCH_MAX];
    for (int i = 0; i < n; i++) idv[i] = batch[b].ids[i];
    pthread_mutex_unlock(&memo_mu);
    /* the identifiers stay put while ASKING (no one joins) */
    aws_filter f = {"db-instance-id", idv, (size_t)n};
    rds_describe_opts o = {.filters = &f, .nfilters = 1};
    rds_instance_list *l = NULL;
    aws_error e;
    aws_error_clear(&e);
    bool ok = describe_fn ? describe_fn(c, &o, &l, &e) : rds_describe_db_instances_all(c, &o, &l, &e);
    pthread_mutex_lock(&memo_mu);
    batch[b].ok = ok;
    batch[b].err = e;
    batch[b].list = ok ? l : NULL;
    if (!ok) rds_instance_list_free(l);
    batch[b].state = B_DONE;
    batch_wake();
    ok = batch_take(b, id, out, err);
    pthread_mutex_unlock(&memo_mu);
    return ok;
}

/* Under memo_mu (awsmemo_reset, tests): only idle slots are forgotten. */
static void batch_reset(void)
{
    for (int i = 0; i < BATCH_SLOTS; i++)
        if (batch[i].state == B_IDLE) memset(&batch[i], 0, sizeof batch[i]);
}
