/* test_outbox_batch — the outbox's batched paths against a real
 * redis-server: timer_take_many.lua decides exactly as timer_take.lua per
 * entry (emit, postpone while paused, drop when stale) in one round trip;
 * store_timers_done removes many entries at once; and the worker's
 * outbox_acks removes a successor's entry only when its delivery report
 * says the broker acknowledged it (a failed produce leaves it for the
 * coordinator); admit_many.lua admits in order, up to max-parallel, and
 * store_admit (a batch of one) writes the same record, outbox entry,
 * counters and event. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "outbox_acks.h"
#include "redis_fixture.h"
#include "store_admit.h"
#include "store_model.h"
#include "store_test.h"

static long zcard(store *s, const char *key)
{
    char n[32];
    assert_true(store_test_cmd(s, n, sizeof n, "ZCARD %s", key));
    return strtol(n, NULL, 10);
}

static bool zhas(store *s, const char *key, const char *member)
{
    char v[64];
    assert_true(store_test_cmd(s, v, sizeof v, "ZSCORE %s %s", key, member));
    return *v != 0;
}

/* A fresh store holding campaign c1 (running, strategy offline) of ids[0..n). */
static store *campaign_c1(const char *prefix, const char *max_parallel, const char *const *ids, int n)
{
    store *s = fx_store(prefix);
    const char *fields[] = {"id", "c1", "state", "running", "strategy", "offline", "max_parallel", max_parallel};
    assert_int_equal(store_campaign_create(s, "c1", fields, 4, ids, n, fc_now_ms()), 1);
    return s;
}

/* f: the fact pairs an admission writes, here f.q_inst=1 (sargs_free it). */
static void q_inst_fact(sargs *f)
{
    sargs_init(f);
    sargs_add(f, "f.q_inst");
    sargs_add(f, "1");
}

/* Campaign c1 (strategy offline, max_parallel 3) with db1..db3 admitted:
 * three outbox entries, due now. */
static store *admitted3(const char *prefix, char m[3][256])
{
    const char *ids[] = {"db1", "db2", "db3"};
    store *s = campaign_c1(prefix, "3", ids, 3);
    sargs f;
    sargs_init(&f);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_admit(s, "c1", ids[i], "preflight", fc_now_ms() + 60000, 3, "t", &f, m[i], 256), AD_OK);
    sargs_free(&f);
    return s;
}

static void test_take_many_decides_per_entry(void **state)
{
    (void)state;
    char m[3][256];
    store *s = admitted3("ob1", m);
    ckeys k;
    store_ckeys(s, "c1", &k);
    /* db2 paused on its own; db3's entry is stale (an older epoch) */
    char rk[256];
    store_rec_key(s, "c1", "db2", rk, sizeof rk);
    assert_true(store_test_cmd(s, NULL, 0, "HSET %s paused 1", rk));
    timer_entry t[3];
    for (int i = 0; i < 3; i++) assert_true(store_timer_parse(m[i], &t[i]));
    char stale[256];
    snprintf(stale, sizeof stale, "db3|preflight|1|%llu", (unsigned long long)(t[2].epoch - 1));
    assert_true(store_test_cmd(s, NULL, 0, "ZADD %s 1 %s", k.timers, stale));
    assert_true(store_timer_parse(stale, &t[2]));
    const char *members[] = {m[0], m[1], stale};
    tt_status st[3];
    char strat[32] = "";
    assert_true(store_timers_take(s, "c1", members, t, 3, 5000, st, strat, sizeof strat));
    assert_string_equal(strat, "offline");
    assert_int_equal(st[0], TT_EMIT);
    assert_int_equal(st[1], TT_PAUSED);
    assert_int_equal(st[2], TT_STALE);
    assert_true(zhas(s, k.timers, m[0]));  /* emitted: stays until acked */
    assert_true(zhas(s, k.timers, m[1]));  /* postponed */
    assert_false(zhas(s, k.timers, stale)); /* dropped */
    /* the single-entry script agrees */
    char one[32];
    assert_int_equal(store_timer_take(s, "c1", m[1], &t[1], 5000, one, sizeof one), TT_PAUSED);
    /* a paused campaign postpones every entry */
    assert_int_equal(store_campaign_set_state(s, "c1", "running", "paused"), 1);
    assert_true(store_timers_take(s, "c1", members, t, 1, 5000, st, strat, sizeof strat));
    assert_int_equal(st[0], TT_PAUSED);
    /* many removed at once */
    const char *both[] = {m[0], m[1], m[2]};
    assert_true(store_timers_done(s, "c1", both, 3));
    assert_int_equal(zcard(s, k.timers), 0);
    assert_true(store_timers_done(s, "c1", both, 0));
    store_close(s);
}

static void test_acks_remove_only_acknowledged(void **state)
{
    (void)state;
    char m[3][256];
    store *s = admitted3("ob2", m);
    ckeys k;
    store_ckeys(s, "c1", &k);
    fc_config c;
    memset(&c, 0, sizeof c);
    fc_strlcpy(c.redis_url, fx_redis_url, sizeof c.redis_url);
    snprintf(c.key_prefix, sizeof c.key_prefix, "ob2%d", (int)getpid());
    outbox_acks *a = outbox_acks_start(&c);
    assert_non_null(a);
    /* m[0] acknowledged, m[1] failed (broker down past message.timeout.ms):
     * called as the producer's poll thread calls them */
    outbox_ack_delivered(outbox_ack_new(a, "c1", m[0]), true, "");
    outbox_ack_delivered(outbox_ack_new(a, "c1", m[1]), false, "Local: Message timed out");
    /* stopping drains what was acknowledged */
    outbox_acks_stop(a);
    assert_false(zhas(s, k.timers, m[0]));
    assert_true(zhas(s, k.timers, m[1])); /* left for the coordinator's outbox */
    assert_true(zhas(s, k.timers, m[2])); /* never produced: untouched */
    store_close(s);
}

static void test_admit_many_up_to_max_parallel(void **state)
{
    (void)state;
    const char *ids[] = {"db1", "db2", "db3"};
    store *s = campaign_c1("ob3", "2", ids, 3);
    ckeys k;
    store_ckeys(s, "c1", &k);
    sargs f;
    q_inst_fact(&f);
    ad_status st[3];
    char members[3][STORE_TIMER_MAX];
    assert_true(store_admit_many(s, "c1", ids, 3, "preflight", fc_now_ms() + 60000, 2, "t", &f, st, members));
    assert_int_equal(st[0], AD_OK);
    assert_int_equal(st[1], AD_OK);
    assert_int_equal(st[2], AD_FULL);
    assert_int_equal(zcard(s, k.timers), 2);
    assert_true(zhas(s, k.timers, members[0]));
    assert_true(zhas(s, k.timers, members[1]));
    timer_entry t0, t1;
    assert_true(store_timer_parse(members[0], &t0));
    assert_true(store_timer_parse(members[1], &t1));
    assert_string_equal(t0.instance, "db1");
    assert_string_equal(t1.step, "preflight");
    assert_true(t1.epoch > t0.epoch); /* a fresh epoch each */
    char rk[256], v[64];
    store_rec_key(s, "c1", "db2", rk, sizeof rk);
    assert_true(store_test_cmd(s, v, sizeof v, "HGET %s state", rk));
    assert_string_equal(v, "running");
    assert_true(store_test_cmd(s, v, sizeof v, "HGET %s f.q_inst", rk));
    assert_string_equal(v, "1");
    assert_true(store_test_cmd(s, v, sizeof v, "HGET %s running", k.counts));
    assert_string_equal(v, "2");
    assert_true(store_test_cmd(s, v, sizeof v, "HGET %s pending", k.counts));
    assert_string_equal(v, "1");
    /* an admitted one is skipped; with room, db3 goes in */
    const char *again[] = {"db1", "db3"};
    assert_true(store_admit_many(s, "c1", again, 2, "preflight", fc_now_ms() + 60000, 3, "t", &f, st, members));
    assert_int_equal(st[0], AD_SKIP);
    assert_int_equal(st[1], AD_OK);
    /* a campaign not running admits nothing */
    assert_int_equal(store_campaign_set_state(s, "c1", "running", "paused"), 1);
    assert_true(store_admit_many(s, "c1", ids, 1, "preflight", fc_now_ms() + 60000, 9, "t", &f, st, members));
    assert_int_equal(st[0], AD_SKIP);
    sargs_free(&f);
    store_close(s);
}

/* id admitted by store_admit (one) or store_admit_many (many). */
static ad_status admit1(store *s, const char *id, bool many, int64_t deadline, const sargs *f, char *member)
{
    if (!many) return store_admit(s, "c1", id, "preflight", deadline, 5, "n1", f, member, STORE_TIMER_MAX);
    ad_status st[1];
    char members[1][STORE_TIMER_MAX];
    assert_true(store_admit_many(s, "c1", &id, 1, "preflight", deadline, 5, "n1", f, st, members));
    if (st[0] == AD_OK) fc_strlcpy(member, members[0], STORE_TIMER_MAX);
    return st[0];
}

/* One pending record admitted by store_admit (one) or store_admit_many
 * (many): the same writes either way — record fields, the outbox entry
 * due at the admission time, the counters and the 'admitted' event — and a
 * campaign whose abort was requested admits nothing. */
static void admit_writes(const char *prefix, bool many)
{
    const char *ids[] = {"db1", "db2"};
    store *s = campaign_c1(prefix, "5", ids, 2);
    ckeys k;
    store_ckeys(s, "c1", &k);
    sargs f;
    q_inst_fact(&f);
    int64_t deadline = fc_now_ms() + 60000;
    char member[STORE_TIMER_MAX];
    assert_int_equal(admit1(s, "db1", many, deadline, &f, member), AD_OK);
    timer_entry t;
    assert_true(store_timer_parse(member, &t));
    assert_string_equal(t.instance, "db1");
    assert_string_equal(t.step, "preflight");
    assert_int_equal(t.attempt, 1);
    char epoch[32];
    snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)t.epoch);

    store_kv rec = {0};
    assert_true(store_record_read(s, "c1", "db1", NULL, 0, &rec));
    assert_string_equal(kv_str(&rec, "state"), "running");
    assert_string_equal(kv_str(&rec, "step"), "preflight");
    assert_string_equal(kv_str(&rec, "attempt"), "1");
    assert_string_equal(kv_str(&rec, "epoch"), epoch);
    assert_string_equal(kv_str(&rec, "timer"), member);
    assert_string_equal(kv_str(&rec, "error"), "");
    assert_string_equal(kv_str(&rec, "f.q_inst"), "1");
    assert_int_equal(kv_get_i64(&rec, "deadline_ms", 0), deadline);
    int64_t now = kv_get_i64(&rec, "admitted_ms", 0);
    assert_true(now > 0);
    assert_int_equal(kv_get_i64(&rec, "started_ms", 0), now);
    assert_int_equal(kv_get_i64(&rec, "step_started_ms", 0), now);
    assert_int_equal(kv_get_i64(&rec, "updated_ms", 0), now);
    store_kv_free(&rec);

    char v[64];
    assert_true(store_test_cmd(s, v, sizeof v, "ZSCORE %s %s", k.timers, member));
    assert_int_equal(strtoll(v, NULL, 10), now);
    store_kv c = {0};
    assert_true(store_counts_read(s, "c1", NULL, 0, &c));
    assert_int_equal(kv_get_i64(&c, "pending", -1), 1);
    assert_int_equal(kv_get_i64(&c, "running", -1), 1);
    assert_int_equal(kv_get_i64(&c, "step:preflight", -1), 1);
    store_kv_free(&c);

    store_events ev = {0};
    assert_true(store_events_read(s, "c1", NULL, 100, &ev));
    assert_true(ev.n >= 1);
    const store_kv *e = &ev.v[ev.n - 1].f;
    assert_int_equal(kv_get_i64(e, "ts", 0), now);
    assert_string_equal(kv_str(e, "instance"), "db1");
    assert_string_equal(kv_str(e, "event"), "admitted");
    assert_string_equal(kv_str(e, "step"), "preflight");
    assert_string_equal(kv_str(e, "attempt"), "1");
    assert_string_equal(kv_str(e, "epoch"), epoch);
    assert_string_equal(kv_str(e, "from"), "pending");
    assert_string_equal(kv_str(e, "to"), "running");
    assert_string_equal(kv_str(e, "next"), "preflight");
    assert_string_equal(kv_str(e, "reason"), "");
    assert_string_equal(kv_str(e, "node"), "n1");
    assert_string_equal(kv_str(e, "duration_ms"), "0");
    store_events_free(&ev);

    /* abort requested: db2 stays pending */
    assert_true(store_campaign_flag_set(s, "c1", STORE_CAMPAIGN_ABORT_REQUESTED));
    assert_int_equal(admit1(s, "db2", many, deadline, &f, member), AD_SKIP);
    store_kv r2 = {0};
    assert_true(store_record_read(s, "c1", "db2", NULL, 0, &r2));
    assert_string_equal(kv_str(&r2, "state"), "pending");
    store_kv_free(&r2);
    sargs_free(&f);
    store_close(s);
}

static void test_admit_one_writes(void **state)
{
    (void)state;
    admit_writes("ob4", false);
}

static void test_admit_many_writes_alike(void **state)
{
    (void)state;
    admit_writes("ob5", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_many_decides_per_entry),
        cmocka_unit_test(test_acks_remove_only_acknowledged),
        cmocka_unit_test(test_admit_many_up_to_max_parallel),
        cmocka_unit_test(test_admit_one_writes),
        cmocka_unit_test(test_admit_many_writes_alike),
    };
    return cmocka_run_group_tests(tests, fx_redis_up, fx_redis_down);
}
