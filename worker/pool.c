/* pool — see pool.h. One mutex guards the ready queue, the deferred list
 * and the completion list; threads sleep on a condition variable with a
 * timeout equal to the nearest deferred task. */
#include "pool.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle_cv;
    pool_task *head, *tail;   /* ready FIFO */
    pool_task *deferred;      /* unsorted; small */
    pool_task *done;
    size_t queued, ndeferred, running;
    bool stopping;
    int nthreads;
    pthread_t *threads;
    pool_thread_init init;
    pool_thread_fini fini;
    pool_run run;
    void *ud;
};

/* The task this executor took with pool_take_next: it runs next on the
 * same thread, before the ready queue is looked at again. */
static _Thread_local pool_task *tl_next;

typedef struct thread_arg {
    pool *p;
    int index;
} thread_arg;

static void push_ready(pool *p, pool_task *t)
{
    t->next = NULL;
    if (p->tail) p->tail->next = t;
    else p->head = t;
    p->tail = t;
    p->queued++;
}

/* Move due deferred tasks to the ready queue; return ms until the next one
 * (or 500 when none). Caller holds mu. */
static int64_t promote_due(pool *p)
{
    int64_t now = fc_mono_ms(), next = 500;
    pool_task **pp = &p->deferred;
    while (*pp) {
        pool_task *t = *pp;
        if (t->not_before_ms <= now) {
            *pp = t->next;
            p->ndeferred--;
            push_ready(p, t);
        } else {
            if (t->not_before_ms - now < next) next = t->not_before_ms - now;
            pp = &t->next;
        }
    }
    return next;
}

static void *thread_main(void *arg)
{
    thread_arg *a = arg;
    pool *p = a->p;
    void *ts = p->init ? p->init(p->ud, a->index) : NULL;
    free(a);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int64_t wait = promote_due(p);
        if (p->stopping) break;
        if (!p->head) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_sec += wait / 1000;
            t.tv_nsec += (wait % 1000) * 1000000;
            if (t.tv_nsec >= 1000000000) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&p->cv, &p->mu, &t);
            continue;
        }
        pool_task *task = p->head;
        p->head = task->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        p->running++;
        while (task) {
            pthread_mutex_unlock(&p->mu);
            bool finished = p->run(p->ud, ts, p, task);
            pool_task *next = tl_next; /* taken by the run (counted as running) */
            tl_next = NULL;
            pthread_mutex_lock(&p->mu);
            p->running--;
            if (finished) {
                task->next = p->done;
                p->done = task;
            }
            task = next;
        }
        pthread_cond_broadcast(&p->idle_cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (p->fini) p->fini(p->ud, ts);
    return NULL;
}

pool *pool_new(int nthreads, pool_thread_init init, pool_thread_fini fini, pool_run run, void *ud)
{
    pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    p->init = init;
    p->fini = fini;
    p->run = run;
    p->ud = ud;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < nthreads; i++) {
        thread_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->p = p;
        a->index = i;
        if (pthread_create(&p->threads[i], NULL, thread_main, a) != 0) {
            free(a);
            break;
        }
        p->nthreads++;
    }
    return p;
}

void pool_submit(pool *p, pool_task *t)
{
    pthread_mutex_lock(&p->mu);
    push_ready(p, t);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pool_defer(pool *p, pool_task *t, int64_t delay_ms)
{
    pthread_mutex_lock(&p->mu);
    t->not_before_ms = fc_mono_ms() + delay_ms;
    t->deferrals++;
    t->next = p->deferred;
    p->deferred = t;
    p->ndeferred++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

pool_task *pool_take_next(pool *p)
{
    if (tl_next) return NULL; /* one at a time */
    pthread_mutex_lock(&p->mu);
    pool_task *t = p->stopping ? NULL : p->head;
    if (t) {
        p->head = t->next;
        if (!p->head) p->tail = NULL;
        t->next = NULL;
        p->queued--;
        p->running++;
    }
    pthread_mutex_unlock(&p->mu);
    tl_next = t;
    return t;
}

size_t pool_depth(pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->queued + p->ndeferred + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pool_counts(pool *p, size_t *busy, size_t *deferred)
{
    pthread_mutex_lock(&p->mu);
    *busy = p->queued + p->running;
    *deferred = p->ndeferred;
    pthread_mutex_unlock(&p->mu);
}

pool_task *pool_take_done(pool *p)
{
    pthread_mutex_lock(&p->mu);
    pool_task *d = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->mu);
    return d;
}

static void free_list(pool_task *t)
{
    while (t) {
        pool_task *n = t->next;
        free(t);
        t = n;
    }
}

void pool_stop(pool *p, int64_t timeout_ms)
{
    int64_t deadline = fc_mono_ms() + timeout_ms;
    pthread_mutex_lock(&p->mu);
    /* not started: dropped (their offsets are not stored; Kafka redelivers) */
    free_list(p->head);
    free_list(p->deferred);
    p->head = p->tail = p->deferred = NULL;
    p->queued = p->ndeferred = 0;
    while (p->running > 0 && fc_mono_ms() < deadline) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 100 * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->idle_cv, &p->mu, &t);
    }
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

void pool_free(pool *p)
{
    if (!p) return;
    free_list(p->head);
    free_list(p->deferred);
    free_list(p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->idle_cv);
    free(p->threads);
    free(p);
}
