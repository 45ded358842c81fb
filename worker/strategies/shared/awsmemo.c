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
static void asking_end(const char *key);
static void asking_reset(void);

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
    asking_end(key);
    pthread_mutex_unlock(&memo_mu);
}

static void batch_reset(void);
static void await_reset(void);

void awsmemo_reset(void)
{
    pthread_mutex_lock(&memo_mu);
    memset(memo, 0, sizeof memo);
    batch_reset();
    await_reset();
    asking_reset();
    pthread_mutex_unlock(&memo_mu);
}

/* ---- batched DescribeDBInstances (awsmemo_describe_instance) ----
 * A slot per key: when its last caller came (which idle slot is reused
 * first) and, while one is gathered or asked, the batch: its
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

/* An identifier as AWS stores it (lower case) only goes in a filter: how a
 * filter value in other case matches is not something to rely on. */
static bool id_lower(const char *id)
{
    for (const char *p = id; *p; p++)
        if (*p >= 'A' && *p <= 'Z') return false;
    return true;
}

/* The filtered Describe of ids (the tests' stub, or the real one). */
static bool describe_ids(aws_client *c, const char *const *ids, size_t n, rds_instance_list **l, aws_error *e)
{
    aws_filter f = {"db-instance-id", ids, n};
    rds_describe_opts o = {.filters = &f, .nfilters = 1};
    return describe_fn ? describe_fn(c, &o, l, e) : rds_describe_db_instances_all(c, &o, l, e);
}

bool awsmemo_describe_instance(aws_client *c, const char *key, const char *id, int64_t window_ms,
                               rds_instance **out, aws_error *err)
{
    *out = NULL;
    if (window_ms <= 0 || !id_lower(id) || strlen(key) >= MEMO_KEY || strlen(id) >= sizeof batch[0].ids[0])
        return describe_alone(c, id, out, err);
    pthread_mutex_lock(&memo_mu);
    int64_t now = fc_mono_ms();
    int b = batch_slot(key);
    if (b < 0) { /* every slot gathering or asking: alone */
        pthread_mutex_unlock(&memo_mu);
        return describe_alone(c, id, out, err);
    }
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
    if (batch[b].state != B_IDLE) {
        /* a batch is being asked: alone */
        pthread_mutex_unlock(&memo_mu);
        return describe_alone(c, id, out, err);
    }
    /* the first of a wave (or another came moments ago): those admitted
     * with it are likely on their way, gather them — a preflight is no
     * one's downtime, and a lone first caller asking at once cost one
     * Describe per worker and wave */
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
    rds_instance_list *l = NULL;
    aws_error e;
    aws_error_clear(&e);
    bool ok = describe_ids(c, idv, (size_t)n, &l, &e);
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

/* ---- one asker per key (awsmemo_seen_or_ask) ----
 * The keys being asked right now, each with when its asker began; a full
 * table asks alongside (as before: one call each). Under memo_mu. */
#define ASKING_N 16
static struct {
    char key[MEMO_KEY];
    int64_t since; /* fc_mono_ms; 0 = free */
} asking[ASKING_N];

static bool seen_locked(const char *key, int64_t max_age_ms)
{
    int64_t now = fc_mono_ms();
    for (int i = 0; i < MEMO_N; i++)
        if (memo[i].at > 0 && now - memo[i].at <= max_age_ms && !strcmp(memo[i].key, key)) return true;
    return false;
}

static int asking_find(const char *key)
{
    for (int i = 0; i < ASKING_N; i++)
        if (asking[i].since > 0 && !strcmp(asking[i].key, key)) return i;
    return -1;
}

bool awsmemo_seen_or_ask(const char *key, int64_t max_age_ms, int64_t wait_ms)
{
    if (strlen(key) >= MEMO_KEY) return false;
    pthread_mutex_lock(&memo_mu);
    int64_t until = fc_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        if (seen_locked(key, max_age_ms)) {
            pthread_mutex_unlock(&memo_mu);
            return true;
        }
        int a = asking_find(key);
        /* nobody asking (or the asker is past this caller's patience): ask */
        if (a < 0 || !batch_wait_until(until)) break;
    }
    int a = asking_find(key);
    if (a < 0)
        for (int i = 0; i < ASKING_N && a < 0; i++)
            if (!asking[i].since) a = i;
    if (a >= 0) {
        fc_strlcpy(asking[a].key, key, sizeof asking[a].key);
        int64_t now = fc_mono_ms();
        asking[a].since = now > 0 ? now : 1;
    }
    pthread_mutex_unlock(&memo_mu);
    return false;
}

/* Under memo_mu (awsmemo_reset, tests). */
static void asking_reset(void) { memset(asking, 0, sizeof asking); }

/* Under memo_mu: key no longer asked; its waiters look again. */
static void asking_end(const char *key)
{
    int a = asking_find(key);
    if (a < 0) return;
    asking[a].since = 0;
    batch_wake();
}

void awsmemo_asked(const char *key)
{
    pthread_mutex_lock(&memo_mu);
    asking_end(key);
    pthread_mutex_unlock(&memo_mu);
}

/* Under memo_mu (awsmemo_reset, tests): only idle slots are forgotten. */
static void batch_reset(void)
{
    for (int i = 0; i < BATCH_SLOTS; i++)
        if (batch[i].state == B_IDLE) memset(&batch[i], 0, sizeof batch[i]);
}

/* ---- awaits sharing their looks (awsmemo_await_*) ----
 * An entry per await: its key and instance, and the latest answer another
 * look published for it (owned here until taken). Looks are numbered
 * (aw_gen); an entry remembers the latest one that includes it (want_*)
 * and the latest that answered it (ans_*): a look answers only entries it
 * included, and never over a later look's answer. */
#define AW_N 256

static struct {
    bool used;
    unsigned serial; /* bumped at each registration: a look's answer goes to the await it included */
    char key[MEMO_KEY];
    char id[64];
    int64_t since_ms;   /* registered (fc_mono_ms) */
    bool early;         /* its first look came before the end (awsmemo_await_set_early) */
    int64_t next_ms;    /* when it plans to look next (awsmemo_await_plan; 0 none) */
    uint64_t want_gen;  /* the latest look that includes it */
    int64_t want_ms;    /* when that look was sent */
    uint64_t ans_gen;   /* the latest look that answered it (or failed) */
    bool ans_new;       /* an answer not taken yet: ans (NULL: not found) */
    int64_t ans_ms;     /* when its look was sent */
    rds_instance *ans;
} aw[AW_N];
static uint64_t aw_gen;

/* Under memo_mu (awsmemo_reset, tests): only unused entries are forgotten. */
static void await_reset(void)
{
    for (int i = 0; i < AW_N; i++)
        if (!aw[i].used) {
            rds_instance_free(aw[i].ans);
            unsigned serial = aw[i].serial;
            memset(&aw[i], 0, sizeof aw[i]);
            aw[i].serial = serial;
        }
}

int awsmemo_await_begin(const char *key, const char *id)
{
    if (!key || !id_lower(id) || strlen(key) >= MEMO_KEY || strlen(id) >= sizeof aw[0].id) return -1;
    pthread_mutex_lock(&memo_mu);
    int h = -1;
    for (int i = 0; i < AW_N; i++) {
        if (aw[i].used && !strcmp(aw[i].id, id) && !strcmp(aw[i].key, key)) {
            h = -1; /* the same instance awaited twice (a re-delivered step): the second alone */
            break;
        }
        if (!aw[i].used && h < 0) h = i;
    }
    if (h >= 0) {
        rds_instance_free(aw[h].ans);
        unsigned serial = aw[h].serial + 1;
        memset(&aw[h], 0, sizeof aw[h]);
        aw[h].serial = serial;
        aw[h].used = true;
        fc_strlcpy(aw[h].key, key, sizeof aw[h].key);
        fc_strlcpy(aw[h].id, id, sizeof aw[h].id);
        aw[h].since_ms = fc_mono_ms();
    }
    pthread_mutex_unlock(&memo_mu);
    return h;
}

void awsmemo_await_end(int h)
{
    if (h < 0 || h >= AW_N) return;
    pthread_mutex_lock(&memo_mu);
    rds_instance_free(aw[h].ans);
    aw[h].ans = NULL;
    aw[h].ans_new = false;
    aw[h].used = false;
    pthread_mutex_unlock(&memo_mu);
}

void awsmemo_await_set_early(int h)
{
    if (h < 0 || h >= AW_N) return;
    pthread_mutex_lock(&memo_mu);
    aw[h].early = true;
    pthread_mutex_unlock(&memo_mu);
}

int64_t awsmemo_await_plan(int h, int64_t due_ms, int64_t not_before_ms)
{
    if (h < 0 || h >= AW_N) return due_ms;
    pthread_mutex_lock(&memo_mu);
    /* strictly after now: a plan of this very moment is being made or
     * was just made (a look clears its await's plan when it begins) */
    int64_t now = fc_mono_ms(), from = not_before_ms > now ? not_before_ms : now + 1, at = due_ms;
    for (int i = 0; i < AW_N; i++)
        if (i != h && aw[i].used && aw[i].next_ms >= from && aw[i].next_ms < at && !strcmp(aw[i].key, aw[h].key))
            at = aw[i].next_ms;
    aw[h].next_ms = at;
    pthread_mutex_unlock(&memo_mu);
    return at;
}

bool awsmemo_await_early(int h)
{
    if (h < 0 || h >= AW_N) return false;
    bool yes = false;
    pthread_mutex_lock(&memo_mu);
    for (int i = 0; i < AW_N && !yes; i++)
        yes = i != h && aw[i].used && aw[i].early && !strcmp(aw[i].key, aw[h].key);
    pthread_mutex_unlock(&memo_mu);
    return yes;
}

int64_t awsmemo_await_replan(int h, int64_t at_ms)
{
    if (h < 0 || h >= AW_N) return at_ms;
    pthread_mutex_lock(&memo_mu);
    aw[h].next_ms = at_ms;
    pthread_mutex_unlock(&memo_mu);
    return at_ms;
}

bool awsmemo_await_pending(int h, int64_t accept_ms)
{
    if (h < 0 || h >= AW_N) return false;
    pthread_mutex_lock(&memo_mu);
    if (accept_ms < aw[h].since_ms) accept_ms = aw[h].since_ms;
    bool yes = (aw[h].ans_new && aw[h].ans_ms >= accept_ms) ||
               (aw[h].want_gen > aw[h].ans_gen && aw[h].want_ms >= accept_ms);
    pthread_mutex_unlock(&memo_mu);
    return yes;
}

/* Under memo_mu: the answer published for h taken (moved to the caller). */
static bool await_take(int h, rds_instance **out, int64_t *seen_ms, aws_error *err)
{
    *out = aw[h].ans;
    aw[h].ans = NULL;
    aw[h].ans_new = false;
    if (seen_ms) *seen_ms = aw[h].ans_ms;
    if (!*out) aws_error_set(err, AWS_ERR_NOT_FOUND, 404, "DBInstanceNotFound", "DB instance %s not found", aw[h].id);
    return *out != NULL;
}

/* Is id among ids[0..n)? */
static bool in_ids(char (*ids)[64], size_t n, const char *id)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(ids[k], id)) return true;
    return false;
}

bool awsmemo_await_look(aws_client *c, int h, const char *id, int64_t accept_ms, const awsmemo_board *board,
                        rds_instance **out, int64_t *seen_ms, bool *shared, aws_error *err)
{
    *out = NULL;
    if (shared) *shared = false;
    if (h < 0 || h >= AW_N) {
        if (seen_ms) *seen_ms = fc_mono_ms();
        return describe_alone(c, id, out, err);
    }
    pthread_mutex_lock(&memo_mu);
    aw[h].next_ms = 0; /* its planned look is this one: no one else's plan now */
    if (accept_ms < aw[h].since_ms) accept_ms = aw[h].since_ms; /* nothing from before the await began */
    int64_t join_until = 0;
    for (;;) {
        if (aw[h].ans_new && aw[h].ans_ms >= accept_ms) {
            bool ok = await_take(h, out, seen_ms, err);
            pthread_mutex_unlock(&memo_mu);
            if (shared) *shared = true;
            return ok;
        }
        /* a look that includes this instance is being asked: its answer
         * comes sooner than one asked now would */
        if (aw[h].want_gen <= aw[h].ans_gen || aw[h].want_ms < accept_ms) break;
        if (!join_until) join_until = fc_mono_ms() + AWSMEMO_AWAIT_JOIN_MS;
        if (!batch_wait_until(join_until) && fc_mono_ms() >= join_until) break;
    }
    /* ask, at once: every instance awaited under key, its own first */
    char ids[BATCH_MAX][64]; /* copied: an entry is reused once its await ends */
    const char *idv[BATCH_MAX];
    int who[BATCH_MAX];
    unsigned serial[BATCH_MAX];
    size_t n = 0;
    uint64_t gen = ++aw_gen;
    int64_t sent = fc_mono_ms();
    for (int i = -1; i < AW_N && n < BATCH_MAX; i++) {
        int k = i < 0 ? h : i;
        if (i == h || !aw[k].used || strcmp(aw[k].key, aw[h].key)) continue;
        fc_strlcpy(ids[n], aw[k].id, sizeof ids[n]);
        idv[n] = ids[n];
        who[n] = k;
        serial[n++] = aw[k].serial;
        aw[k].want_gen = gen;
        aw[k].want_ms = sent;
    }
    pthread_mutex_unlock(&memo_mu);
    /* then the other processes' (the look board), once each */
    size_t mine = n;
    if (board && board->ask) {
        char (*more)[64] = calloc(BATCH_MAX, sizeof *more);
        size_t nm = more ? board->ask(board->ud, more, BATCH_MAX) : 0;
        for (size_t k = 0; k < nm && n < BATCH_MAX; k++) {
            more[k][sizeof more[k] - 1] = 0;
            if (!*more[k] || !id_lower(more[k]) || in_ids(ids, n, more[k])) continue;
            fc_strlcpy(ids[n], more[k], sizeof ids[n]);
            idv[n] = ids[n];
            who[n] = -1;
            serial[n++] = 0;
        }
        free(more);
    }
    rds_instance_list *l = NULL;
    aws_error e;
    aws_error_clear(&e);
    bool ok = describe_ids(c, idv, n, &l, &e);
    pthread_mutex_lock(&memo_mu);
    for (size_t k = 0; k < mine; k++) {
        int i = who[k];
        if (!aw[i].used || aw[i].serial != serial[k] || aw[i].ans_gen > gen) continue;
        aw[i].ans_gen = gen;
        if (!ok) continue; /* the error is the asker's: the others look again */
        aws_error ignored;
        rds_instance_free(aw[i].ans);
        aw[i].ans = rds_instance_list_take(l, ids[k], &ignored);
        aw[i].ans_new = true;
        aw[i].ans_ms = sent;
    }
    batch_wake();
    bool asked_ok = ok;
    if (ok) {
        ok = await_take(h, out, seen_ms, err);
    } else {
        *err = e;
        if (seen_ms) *seen_ms = sent;
    }
    pthread_mutex_unlock(&memo_mu);
    /* the other processes' answers (never taken above: they have no entry
     * here), or the look's failure */
    if (board && board->publish) board->publish(board->ud, asked_ok ? l : NULL, idv + mine, n - mine, sent);
    rds_instance_list_free(l);
    if (n > 1) log_debug("shared await look", "id=%s instances=%zu others=%zu ok=%d", id, n, n - mine, ok);
    return ok;
}
