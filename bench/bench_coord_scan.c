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
#include "store_test.h"
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
    if (!store_test_cmd(s, NULL, 0, "ZADD %s %lld %s", ck, (long long)fc_now_ms(), CAMPAIGN)) return false;
    if (!store_test_cmd(s, NULL, 0, "HSET %s id %s state running strategy offline region us-east-1 account 123456789012 "
                        "max_parallel 50 kms_key alias/bench", k.campaign, CAMPAIGN))
        return false;
    for (int i = 0; i < n; i++) {
        char id[32], rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
        snprintf(id, sizeof id, "db-%05d", i);
        store_rec_key(s, CAMPAIGN, id, rk, sizeof rk);
        store_lease_key(s, CAMPAIGN, id, lk, sizeof lk);
        const char *st = states[i % 6];
        if (!store_test_cmd(s, NULL, 0, "ZADD %s %d %s", k.instances, i, id)) return false;
        if (!store_test_cmd(s, NULL, 0, "HSET %s id %s state %s step %s attempt %d epoch %lld deadline_ms %lld", rk,
                            id, st, strcmp(st, "pending") ? "copy-encrypted" : "", 1 + i % 3,
                            1700000000000000LL + i, (long long)fc_now_ms() + 600000 - i))
            return false;
        /* some in-flight instances already spent quota */
        if (i % 5 == 1 && !store_test_cmd(s, NULL, 0, "HSET %s f.q_inst 0 f.q_snap 1", rk)) return false;
        /* half of the running ones hold a lease */
        if (i % 12 == 1 && !store_test_cmd(s, NULL, 0, "SET %s token PX 600000", lk)) return false;
    }
    return true;
}

/* The scan as it was: one HMGET per instance, one EXISTS per in-flight one. */
static int baseline_scan(store *s, inst_view *out, int cap)
{
    sargs ids;
    sargs_init(&ids);
    if (!store_instances(s, CAMPAIGN, &ids)) {
        sargs_free(&ids);
        return -1;
    }
    static const char *const f[] = {"state", "step", "epoch", "deadline_ms", "f.q_inst", "f.q_snap", "attempt"};
    int n = 0;
    for (int i = 0; i < ids.n && n < cap; i++) {
        inst_view *iv = &out[n];
        memset(iv, 0, sizeof *iv);
        fc_strlcpy(iv->id, ids.v[i], sizeof iv->id);
        store_kv r;
        if (!store_record_read(s, CAMPAIGN, iv->id, f, FC_ARRAY_LEN(f), &r)) continue;
        fc_strlcpy(iv->state, kv_str(&r, "state"), sizeof iv->state);
        fc_strlcpy(iv->step, kv_str(&r, "step"), sizeof iv->step);
        fc_strlcpy(iv->epoch, kv_str(&r, "epoch"), sizeof iv->epoch);
        iv->deadline_ms = strtoll(kv_str(&r, "deadline_ms"), NULL, 10);
        iv->q_inst = *kv_str(&r, "f.q_inst") ? atoi(kv_str(&r, "f.q_inst")) : 1;
        iv->q_snap = *kv_str(&r, "f.q_snap") ? atoi(kv_str(&r, "f.q_snap")) : 2;
        iv->attempt = atoi(kv_str(&r, "attempt"));
        store_kv_free(&r);
        const char *st = iv->state;
        bool term = !strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "skipped") || !strcmp(st, "aborted");
        if (strcmp(st, "pending") && !term) {
            char lk[STORE_KEY_MAX], ex[8];
            store_lease_key(s, CAMPAIGN, iv->id, lk, sizeof lk);
            iv->lease_held = store_test_cmd(s, ex, sizeof ex, "EXISTS %s", lk) && !strcmp(ex, "1");
        }
        n++;
    }
    sargs_free(&ids);
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
    double *tb = calloc((size_t)rounds, sizeof *tb), *tp = calloc((size_t)rounds, sizeof *tp),
           *tc = calloc((size_t)rounds, sizeof *tc);
    coord c;
    memset(&c, 0, sizeof c);
    c.s = fx_store("fcbench");
    if (!c.s || !base || !tb || !tp || !tc) goto out;
    if (!load(c.s, n)) {
        fprintf(stderr, "bench_coord_scan: loading %d records failed\n", n);
        goto out;
    }
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ms();
        int got = baseline_scan(c.s, base, n);
        campaigns_cache_drop(); /* a full read, as the first cycle does */
        double t1 = now_ms();
        if (!campaigns_scan(&c)) {
            fprintf(stderr, "bench_coord_scan: campaigns_scan failed\n");
            goto out;
        }
        double t2 = now_ms();
        /* the next cycle: final (and, with an agreeing pending count,
         * pending) records come from the last view */
        if (!campaigns_scan(&c)) {
            fprintf(stderr, "bench_coord_scan: campaigns_scan failed\n");
            goto out;
        }
        double t3 = now_ms();
        tb[r] = t1 - t0;
        tp[r] = t2 - t1;
        tc[r] = t3 - t2;
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
    qsort(tc, (size_t)rounds, sizeof *tc, cmp_double);
    double mb = tb[rounds / 2], mp = tp[rounds / 2], mc = tc[rounds / 2];
    printf("scan %d instances: baseline %.1f ms, pipelined %.1f ms, ratio %.1fx; next cycle (final records from the "
           "last view) %.1f ms, ratio %.1fx (median of %d rounds)\n",
           n, mb, mp, mp > 0 ? mb / mp : 0.0, mc, mc > 0 ? mb / mc : 0.0, rounds);
    rc = 0;
out:
    campaigns_free(&c);
    if (c.s) {
        /* leave nothing behind on a shared Redis */
        char pat[STORE_KEY_MAX];
        store_key(c.s, pat, sizeof pat, "*");
        store_test_cmd(c.s, NULL, 0, "EVAL %s 0 %s",
                       "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1", pat);
        store_close(c.s);
    }
    free(base);
    free(tb);
    free(tp);
    free(tc);
    fx_redis_down(NULL);
    return rc;
}
