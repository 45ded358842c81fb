/* outbox_acks — see outbox_acks.h. */
#include "outbox_acks.h"
#include "log.h"
#include "prom.h"
#include "store.h"
#include "store_outbox.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Members per ZREM (a bound on one command's size). */
#define ACKS_CHUNK 512

struct outbox_ack {
    outbox_acks *a;
    struct outbox_ack *next;
    char campaign[64];
    char member[STORE_TIMER_MAX];
};

struct outbox_acks {
    fc_config cfg;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    outbox_ack *head; /* acknowledged, not yet removed (newest first) */
    bool stop;
    store *s;         /* the thread's own connection */
};

outbox_ack *outbox_ack_new(outbox_acks *a, const char *campaign, const char *member)
{
    outbox_ack *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->a = a;
    fc_strlcpy(k->campaign, campaign, sizeof k->campaign);
    fc_strlcpy(k->member, member, sizeof k->member);
    return k;
}

void outbox_ack_delivered(void *ud, bool ok, const char *err)
{
    outbox_ack *k = ud;
    if (!ok) {
        timer_entry t;
        bool parsed = store_timer_parse(k->member, &t);
        log_ctx_set(k->campaign, parsed ? t.instance : NULL, parsed ? t.step : NULL, parsed ? (int)t.attempt : 0);
        log_warn("successor not produced: the coordinator's outbox will emit it", "err=\"%s\"", err);
        log_ctx_clear();
        prom_counter_add(prom_default(), "fc_successor_produce_failed_total",
                         "Successors whose produce was not acknowledged (left to the coordinator's outbox).", NULL,
                         1);
        free(k);
        return;
    }
    outbox_acks *a = k->a;
    pthread_mutex_lock(&a->mu);
    k->next = a->head;
    a->head = k;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Remove a taken list's entries: one ZREM per campaign (and chunk). An
 * entry whose removal fails (Redis down) stays, and the coordinator emits
 * it once more when due: a duplicate, dropped as stale by step_begin. */
static void remove_all(outbox_acks *a, outbox_ack *list)
{
    const char *members[ACKS_CHUNK];
    char err[256];
    if (list && !a->s) {
        a->s = store_open(&a->cfg, err, sizeof err);
        if (!a->s) log_warn("acknowledged outbox entries not removed (the coordinator will re-emit them)",
                            "err=\"%s\"", err);
    }
    while (list) {
        /* take every entry of the first one's campaign, up to a chunk */
        const char *campaign = list->campaign;
        outbox_ack *same = NULL, *rest = NULL, **same_tail = &same, **rest_tail = &rest;
        int n = 0;
        for (outbox_ack *k = list, *next; k; k = next) {
            next = k->next;
            k->next = NULL;
            if (n < ACKS_CHUNK && !strcmp(k->campaign, campaign)) {
                members[n++] = k->member;
                *same_tail = k;
                same_tail = &k->next;
            } else {
                *rest_tail = k;
                rest_tail = &k->next;
            }
        }
        if (a->s && !store_timers_done(a->s, same->campaign, members, n))
            log_debug("acknowledged outbox entries not removed (the coordinator will re-emit them)", "count=%d", n);
        while (same) {
            outbox_ack *next = same->next;
            free(same);
            same = next;
        }
        list = rest;
    }
}

static void *acks_main(void *arg)
{
    outbox_acks *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->head && !a->stop) pthread_cond_wait(&a->cv, &a->mu);
        outbox_ack *list = a->head;
        a->head = NULL;
        bool stop = a->stop;
        pthread_mutex_unlock(&a->mu);
        remove_all(a, list);
        if (stop) break;
        /* let a few more reports gather: fewer, larger ZREMs under load */
        fc_sleep_ms(2);
        pthread_mutex_lock(&a->mu);
    }
    return NULL;
}

outbox_acks *outbox_acks_start(const fc_config *cfg)
{
    outbox_acks *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = *cfg;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->th, NULL, acks_main, a) != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
        return NULL;
    }
    return a;
}

void outbox_acks_stop(outbox_acks *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    remove_all(a, a->head); /* reports that came after the thread's last look */
    store_close(a->s);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
