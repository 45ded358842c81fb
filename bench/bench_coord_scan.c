/* bench_coord_scan — the coordinator's per-cycle campaign scan
 * (coordinator/campaigns.c, batched through lua/campaign_scan.lua) against
 * the per-instance reads it replaced (one HMGET per instance and one EXISTS
 * per in-flight lease, kept here as the in-run baseline), on a real
 * redis-server (FC_TEST_REDIS_URL, or one started on a free loopback port as
 * tests/unit/redis_fixture.h does) holding N instance records in the real
 * key layout. Both scans must see the same view (exit 1 otherwise); the
 * output is the ratio of the two, measured in the same run — never an
 * absolute threshold. Usage: bench_coord_scan [N [ROUNDS]] (2000, 5). */
#include "coord.h"
#include "redis_fixture.h"
#include "store_model.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAMPAIGN "bench"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char *const states[] = {"pending", "running", "done", "waiting_approval", "failed", "done"};

/* N records in the layout campaign_create/admit/step_end leave behind: a
 * mix of pending, in-flight (half with a live lease) and terminal ones. */
static bool load(store *s, int n)
{
    ckeys k;
    store_ckeys(s, CAMPAIGN, &k);
    char ck[STORE_KEY_MAX];
    store_key(s, ck, sizeof ck, "campaigns");
    redisReply *r = store_cmd(s, "ZADD %s %lld %s", ck, (long long)fc_now_ms(), CAMPAIGN);
    if (!r) return false;
    freeReplyObject(r);
    r = store_cmd(s, "HSET %s id %s state running strategy offline region us-east-1 account 123456789012 "
                     "max_parallel 50 kms_key alias/bench", k.campaign, CAMPAIGN);
    if (!r) return false;
    freeReplyObject(r);
    for (int i = 0; i < n; i++) {
        char id[32], rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
        snprintf(id, sizeof id, "db-%05d", i);
        store_rec_key(s, CAMPAIGN, id, rk, sizeof rk);
        store_lease_key(s, CAMPAIGN, id, lk, sizeof lk);
        const char *st = states[i % 6];
        r = store_cmd(s, "ZADD %s %d %s", k.instances, i, id);
        if (!r) return false;
        freeReplyObject(r);
        r = store_cmd(s, "HSET %s id %s state %s step %s attempt %d epoch %lld deadline_ms %lld", rk, id, st,
                      strcmp(st, "pending") ? "copy-encrypted" : "", 1 + i % 3, 1700000000000000LL + i,
                      (long long)fc_now_ms() + 600000 - i);
        if (!r) return false;
        freeReplyObject(r);
        if (i % 5 == 1) { /* some in-flight instances already spent quota */
            r = store_cmd(s, "HSET %s f.q_inst 0 f.q_snap 1", rk);
            if (!r) return false;
            freeReplyObject(r);
        }
        if (i % 12 == 1) { /* half of the running ones hold a lease */
            r = store_cmd(s, "SET %s token PX 600000", lk);
            if (!r) return false;
            freeReplyObject(r);
        }
    }
    return true;
}

/* The scan as it was: one HMGET per instance, one EXISTS per in-flight one. */
static int baseline_scan(store *s, inst_view *out, int cap)
{
    ckeys k;
    store_ckeys(s, CAMPAIGN, &k);
    redisReply *ids = store_cmd(s, "ZRANGE %s 0 -1", k.instances);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids) freeReplyObject(ids);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i < ids->elements && n < cap; i++) {
        inst_view *iv = &out[n];
        memset(iv, 0, sizeof *iv);
        fc_strlcpy(iv->id, ids->element[i]->str, sizeof iv->id);
        char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
        store_rec_key(s, CAMPAIGN, iv->id, rk, sizeof rk);
        store_lease_key(s, CAMPAIGN, iv->id, lk, sizeof lk);
        redisReply *r = store_cmd(s, "HMGET %s state step epoch deadline_ms f.q_inst f.q_snap attempt", rk);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            if (r) freeReplyObject(r);
            continue;
        }
        fc_strlcpy(iv->state, reply_str(r, 0), sizeof iv->state);
        fc_strlcpy(iv->step, reply_str(r, 1), sizeof iv->step);
        fc_strlcpy(iv->epoch, reply_str(r, 2), sizeof iv->epoch);
        iv->deadline_ms = strtoll(reply_str(r, 3), NULL, 10);
        iv->q_inst = *reply_str(r, 4) ? atoi(reply_str(r, 4)) : 1;
        iv->q_snap = *reply_str(r, 5) ? atoi(reply_str(r, 5)) : 2;
        iv->attempt = atoi(reply_str(r, 6));
        freeReplyObject(r);
        const char *st = iv->state;
        bool term = !strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "skipped") || !strcmp(st, "aborted");
        if (strcmp(st, "pending") && !term) {
            redisReply *l = store_cmd(s, "EXISTS %s", lk);
            iv->lease_held = l && l->type == REDIS_REPLY_INTEGER && l->integer == 1;
            if (l) freeReplyObject(l);
        }
        n++;
    }
    freeReplyObject(ids);
    return n;
}

static bool same(const inst_view *a, const inst_view *b)
{
    return !strcmp(a->id, b->id) && !strcmp(a->state, b->state) && !strcmp(a->step, b->step) &&
           !strcmp(a->epoch, b->epoch) && a->deadline_ms == b->deadline_ms && a->q_inst == b->q_inst &&
           a->q_snap == b->q_snap && a->attempt == b->attempt && a->lease_held == b->lease_held;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || n > 1000000 || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: bench_coord_scan [N (1..1000000) [ROUNDS (1..1000)]]\n");
        return 2;
    }
    if (fx_redis_up(NULL) != 0) {
        fprintf(stderr, "bench_coord_scan: cannot start or reach redis-server\n");
        return 1;
    }
    int rc = 1;
    inst_view *base = calloc((size_t)n, sizeof *base);
    double *tb = calloc((size_t)rounds, sizeof *tb), *tp = calloc((size_t)rounds, sizeof *tp);
    coord c;
    memset(&c, 0, sizeof c);
    c.s = fx_store("fcbench");
    if (!c.s || !base || !tb || !tp) goto out;
    if (!load(c.s, n)) {
        fprintf(stderr, "bench_coord_scan: loading %d records failed\n", n);
        goto out;
    }
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ms();
        int got = baseline_scan(c.s, base, n);
        double t1 = now_ms();
        if (!campaigns_scan(&c)) {
            fprintf(stderr, "bench_coord_scan: campaigns_scan failed\n");
            goto out;
        }
        double t2 = now_ms();
        tb[r] = t1 - t0;
        tp[r] = t2 - t1;
        const camp_view *cv = c.ncamps == 1 ? &c.camps[0] : NULL;
        if (got != n || !cv || cv->n != n) {
            fprintf(stderr, "bench_coord_scan: scanned %d (baseline) and %d (pipelined) of %d instances\n", got,
                    cv ? cv->n : -1, n);
            goto out;
        }
        for (int i = 0; i < n; i++)
            if (!same(&base[i], &cv->inst[i])) {
                fprintf(stderr, "bench_coord_scan: views differ at %s (state %s/%s lease %d/%d)\n", base[i].id,
                        base[i].state, cv->inst[i].state, base[i].lease_held, cv->inst[i].lease_held);
                goto out;
            }
    }
    qsort(tb, (size_t)rounds, sizeof *tb, cmp_double);
    qsort(tp, (size_t)rounds, sizeof *tp, cmp_double);
    double mb = tb[rounds / 2], mp = tp[rounds / 2];
    printf("scan %d instances: baseline %.1f ms, pipelined %.1f ms, ratio %.1fx (median of %d rounds)\n", n, mb, mp,
           mp > 0 ? mb / mp : 0.0, rounds);
    rc = 0;
out:
    campaigns_free(&c);
    if (c.s) {
        /* leave nothing behind on a shared Redis */
        char pat[STORE_KEY_MAX];
        store_key(c.s, pat, sizeof pat, "*");
        redisReply *k = store_cmd(c.s, "EVAL %s 0 %s",
                                  "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1",
                                  pat);
        if (k) freeReplyObject(k);
        store_close(c.s);
    }
    free(base);
    free(tb);
    free(tp);
    fx_redis_down(NULL);
    return rc;
}
