/* test_store — the Redis model's scripts against a real redis-server:
 * campaign creation, active-instance claims, admission under max-parallel,
 * step begin (stale/busy/paused), fenced step end with the outbox entry,
 * a lost lease that can no longer write, timers, the reconciler's re-drive,
 * terminal counts, the epoch floor after a Redis run_id change, and a
 * concurrency slot handed over to its oldest waiter (limit held). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "redis_fixture.h"
#include "store_admit.h"
#include "store_limits.h"
#include "store_model.h"
#include "store_test.h"

static int64_t hget_i(store *s, const char *key, const char *field)
{
    char v[64], ex[8];
    assert_true(store_test_cmd(s, ex, sizeof ex, "HEXISTS %s %s", key, field));
    assert_true(store_test_cmd(s, v, sizeof v, "HGET %s %s", key, field));
    return strcmp(ex, "1") ? -999 : strtoll(v, NULL, 10);
}

static void hget_s(store *s, const char *key, const char *field, char *out, size_t cap)
{
    assert_true(store_test_cmd(s, out, cap, "HGET %s %s", key, field));
}

static long zcard(store *s, const char *key)
{
    char n[32];
    assert_true(store_test_cmd(s, n, sizeof n, "ZCARD %s", key));
    return strtol(n, NULL, 10);
}

static void mk_campaign(store *s, const char *c)
{
    const char *fields[] = {"id", c, "state", "running", "strategy", "offline", "max_parallel", "2"};
    const char *ids[] = {"db1", "db2", "db3"};
    assert_int_equal(store_campaign_create(s, c, fields, 4, ids, 3, fc_now_ms()), 1);
}

static void test_create_and_claim(void **state)
{
    (void)state;
    store *s = fx_store("st1");
    mk_campaign(s, "c1");
    const char *fields[] = {"id", "c1"};
    const char *ids[] = {"x"};
    assert_int_equal(store_campaign_create(s, "c1", fields, 1, ids, 1, 1), 0); /* exists */
    ckeys k;
    store_ckeys(s, "c1", &k);
    assert_int_equal(hget_i(s, k.counts, "pending"), 3);
    assert_int_equal(hget_i(s, k.counts, "done"), 0);
    assert_int_equal(zcard(s, k.instances), 3);
    char rk[256];
    store_rec_key(s, "c1", "db2", rk, sizeof rk);
    char st[32];
    hget_s(s, rk, "state", st, sizeof st);
    assert_string_equal(st, "pending");

    const char *m1[] = {"us-east-1/db1", "us-east-1/db2"};
    const char *m2[] = {"us-east-1/db9", "us-east-1/db2"};
    char cm[128], cc[64];
    assert_int_equal(store_active_claim(s, "c1", m1, 2, cm, sizeof cm, cc, sizeof cc), 1);
    assert_int_equal(store_active_claim(s, "c1", m1, 2, cm, sizeof cm, cc, sizeof cc), 1); /* same campaign */
    assert_int_equal(store_active_claim(s, "c2", m2, 2, cm, sizeof cm, cc, sizeof cc), 0);
    assert_string_equal(cm, "us-east-1/db2");
    assert_string_equal(cc, "c1");
    /* all or nothing: db9 was not claimed by c2 */
    const char *m3[] = {"us-east-1/db9"};
    assert_int_equal(store_active_claim(s, "c3", m3, 1, cm, sizeof cm, cc, sizeof cc), 1);
    assert_int_equal(store_active_release(s, "c1", m1, 2), 2);
    assert_int_equal(store_active_claim(s, "c2", m2, 2, cm, sizeof cm, cc, sizeof cc), 0); /* db9 is c3's */
    store_close(s);
}

static void test_admit_begin_end(void **state)
{
    (void)state;
    store *s = fx_store("st2");
    mk_campaign(s, "c1");
    ckeys k;
    store_ckeys(s, "c1", &k);
    char m1[256], m2[256], m3[256];
    sargs f;
    sargs_init(&f);
    sargs_add(&f, "q_inst");
    sargs_add(&f, "1");
    assert_int_equal(store_admit(s, "c1", "db1", "preflight", fc_now_ms() + 60000, 2, "t", &f, m1, sizeof m1), AD_OK);
    assert_int_equal(store_admit(s, "c1", "db2", "preflight", fc_now_ms() + 60000, 2, "t", &f, m2, sizeof m2), AD_OK);
    assert_int_equal(store_admit(s, "c1", "db3", "preflight", fc_now_ms() + 60000, 2, "t", &f, m3, sizeof m3), AD_FULL);
    assert_int_equal(store_admit(s, "c1", "db1", "preflight", fc_now_ms() + 60000, 5, "t", &f, m3, sizeof m3), AD_SKIP);
    sargs_free(&f);
    assert_int_equal(hget_i(s, k.counts, "running"), 2);
    assert_int_equal(hget_i(s, k.counts, "pending"), 1);
    assert_int_equal(hget_i(s, k.counts, "step:preflight"), 2);
    assert_int_equal(zcard(s, k.timers), 2);

    timer_entry t;
    assert_true(store_timer_parse(m1, &t));
    assert_string_equal(t.instance, "db1");
    assert_string_equal(t.step, "preflight");
    assert_int_equal(t.attempt, 1);
    assert_true(t.epoch > 1000000000000000ULL); /* floored by Redis time in µs */

    char strat[32];
    assert_int_equal(store_timer_take(s, "c1", m1, &t, 1000, strat, sizeof strat), TT_EMIT);
    assert_string_equal(strat, "offline");
    assert_true(store_timer_done(s, "c1", m1));

    step_msg_ref msg = {"c1", "db1", "preflight", 1, t.epoch};
    step_begin_out b;
    assert_true(store_step_begin(s, &msg, "tokA", 5000, "w1", &b));
    assert_int_equal(b.st, SB_OK);
    assert_string_equal(kv_get(&b.rec, "step"), "preflight");
    assert_string_equal(kv_get(&b.campaign, "strategy"), "offline");
    char fence[32];
    fc_strlcpy(fence, b.fence, sizeof fence);
    store_step_begin_done(&b);
    /* same token again: re-entrant (a retried script) */
    assert_true(store_step_begin(s, &msg, "tokA", 5000, "w1", &b));
    fc_strlcpy(fence, b.fence, sizeof fence);
    store_step_begin_done(&b);
    /* another worker: busy */
    assert_false(store_step_begin(s, &msg, "tokB", 5000, "w2", &b));
    assert_int_equal(b.st, SB_BUSY);
    assert_true(b.busy_pttl_ms > 0);
    /* a duplicate from an older epoch: stale */
    step_msg_ref old = msg;
    old.epoch = t.epoch - 1;
    assert_false(store_step_begin(s, &old, "tokB", 5000, "w2", &b));
    assert_int_equal(b.st, SB_STALE);

    sargs facts;
    sargs_init(&facts);
    sargs_add(&facts, "f.engine");
    sargs_add(&facts, "postgres");
    step_end_in in = {.msg = &msg, .token = "tokA", .fence = "1", .outcome = "ok", .new_step = "stop-source",
                      .new_state = "running", .new_attempt = 1, .due_ms = fc_now_ms() + 5000, .error = "",
                      .deadline_ms = fc_now_ms() + 60000, .node = "w1", .duration_ms = 12,
                      .strategy = "offline", .fields = &facts};
    char epoch[32], member[256], why[128];
    /* wrong fencing token: refused */
    assert_int_equal(store_step_end(s, &in, epoch, sizeof epoch, member, sizeof member, why, sizeof why), SE_FENCED);
    /* wrong lease token: refused */
    in.fence = fence;
    in.token = "tokB";
    assert_int_equal(store_step_end(s, &in, epoch, sizeof epoch, member, sizeof member, why, sizeof why), SE_FENCED);
    in.token = "tokA";
    assert_int_equal(store_step_end(s, &in, epoch, sizeof epoch, member, sizeof member, why, sizeof why), SE_OK);
    sargs_free(&facts);
    assert_true(strtoull(epoch, NULL, 10) > t.epoch);
    timer_entry t2;
    assert_true(store_timer_parse(member, &t2));
    assert_string_equal(t2.step, "stop-source");
    char rk[256], buf[64];
    store_rec_key(s, "c1", "db1", rk, sizeof rk);
    hget_s(s, rk, "step", buf, sizeof buf);
    assert_string_equal(buf, "stop-source");
    hget_s(s, rk, "f.engine", buf, sizeof buf);
    assert_string_equal(buf, "postgres");
    assert_int_equal(hget_i(s, k.counts, "step:preflight"), 1);
    assert_int_equal(hget_i(s, k.counts, "step:stop-source"), 1);
    /* the lease was released with the transition; the old message is stale now */
    assert_false(store_step_begin(s, &msg, "tokA", 5000, "w1", &b));
    assert_int_equal(b.st, SB_STALE);
    /* the first outbox entry is stale, the new one emits */
    assert_int_equal(store_timer_take(s, "c1", m1, &t, 1000, strat, sizeof strat), TT_STALE);
    assert_int_equal(store_timer_take(s, "c1", member, &t2, 1000, strat, sizeof strat), TT_EMIT);

    /* lost lease: worker A's lease expires, B takes over; A cannot write */
    step_msg_ref m2r = {"c1", "db1", "stop-source", 1, t2.epoch};
    assert_true(store_step_begin(s, &m2r, "tokA2", 5000, "w1", &b));
    char fenceA[32];
    fc_strlcpy(fenceA, b.fence, sizeof fenceA);
    store_step_begin_done(&b);
    char lk[256];
    store_lease_key(s, "c1", "db1", lk, sizeof lk);
    store_test_cmd(s, NULL, 0, "DEL %s", lk);
    assert_int_equal(store_lease_renew(s, "c1", "db1", "tokA2", 5000), 0);
    assert_true(store_step_begin(s, &m2r, "tokB2", 5000, "w2", &b));
    assert_true(strtoull(b.fence, NULL, 10) > strtoull(fenceA, NULL, 10));
    char fenceB[32];
    fc_strlcpy(fenceB, b.fence, sizeof fenceB);
    store_step_begin_done(&b);
    step_end_in inA = {.msg = &m2r, .token = "tokA2", .fence = fenceA, .outcome = "fail", .new_step = "stop-source",
                       .new_state = "failed", .new_attempt = 1, .due_ms = -1, .error = "late", .deadline_ms = 0,
                       .node = "w1", .duration_ms = 1, .strategy = "offline", .fields = NULL};
    assert_int_equal(store_step_end(s, &inA, epoch, sizeof epoch, member, sizeof member, why, sizeof why), SE_FENCED);
    /* B finishes the instance: terminal counts */
    step_end_in inB = inA;
    inB.token = "tokB2";
    inB.fence = fenceB;
    inB.outcome = "ok";
    inB.new_state = "done";
    inB.error = "";
    assert_int_equal(store_step_end(s, &inB, epoch, sizeof epoch, member, sizeof member, why, sizeof why), SE_OK);
    assert_string_equal(member, "");
    assert_int_equal(hget_i(s, k.counts, "done"), 1);
    assert_int_equal(hget_i(s, k.counts, "running"), 1);
    assert_int_equal(hget_i(s, k.counts, "step:stop-source"), 0);
    hget_s(s, rk, "state", buf, sizeof buf);
    assert_string_equal(buf, "done");
    /* events: submitted + 2 admitted + 2 transitions */
    char xlen[32];
    assert_true(store_test_cmd(s, xlen, sizeof xlen, "XLEN %s", k.events));
    assert_string_equal(xlen, "5");
    store_close(s);
}

/* A campaign c1 with db1 admitted at preflight; *t is its outbox entry. */
static store *admitted(const char *prefix, timer_entry *t)
{
    store *s = fx_store(prefix);
    mk_campaign(s, "c1");
    char m1[256];
    assert_int_equal(store_admit(s, "c1", "db1", "preflight", 0, 2, "t", NULL, m1, sizeof m1), AD_OK);
    assert_true(store_timer_parse(m1, t));
    return s;
}

/* A step's end and the next message's begin in one round trip
 * (store_step_end_begin, the worker's hand-over between two tasks): each
 * script fenced as on its own, the pair counted as one round trip; a
 * script Redis no longer has still records the end, and the begin is then
 * left to the caller. */
static void test_end_begin_pipelined(void **state)
{
    (void)state;
    store *s = fx_store("st-pipe");
    mk_campaign(s, "c1");
    char m1[256], m2[256];
    assert_int_equal(store_admit(s, "c1", "db1", "preflight", 0, 2, "t", NULL, m1, sizeof m1), AD_OK);
    assert_int_equal(store_admit(s, "c1", "db2", "preflight", 0, 2, "t", NULL, m2, sizeof m2), AD_OK);
    timer_entry t1, t2;
    assert_true(store_timer_parse(m1, &t1));
    assert_true(store_timer_parse(m2, &t2));
    step_msg_ref a = {"c1", "db1", "preflight", 1, t1.epoch}, b2 = {"c1", "db2", "preflight", 1, t2.epoch};
    step_begin_out b;
    assert_true(store_step_begin(s, &a, "tokA", 5000, "w1", &b));
    char fence[32];
    fc_strlcpy(fence, b.fence, sizeof fence);
    store_step_begin_done(&b);

    /* a stale end (wrong lease token) is refused; the begin beside it runs */
    step_end_in in = {.msg = &a, .token = "tokX", .fence = fence, .outcome = "ok", .new_step = "stop-source",
                      .new_state = "running", .new_attempt = 1, .due_ms = fc_now_ms() + 5000, .error = "",
                      .deadline_ms = fc_now_ms() + 60000, .node = "w1", .duration_ms = 1, .strategy = "offline",
                      .fields = NULL};
    char epoch[32] = "", member[256] = "", why[128] = "";
    bool begun = false;
    assert_int_equal(store_step_end_begin(s, &in, epoch, sizeof epoch, member, sizeof member, why, sizeof why, &b2,
                                          "tokB", 5000, "w1", &b, &begun),
                     SE_FENCED); /* (step_end's first use here: its SCRIPT LOAD is one more round trip) */
    assert_string_equal(why, "lease lost");
    assert_true(begun);
    assert_int_equal(b.st, SB_OK);
    assert_string_equal(kv_get(&b.rec, "step"), "preflight");
    assert_string_equal(kv_get(&b.campaign, "strategy"), "offline");
    char fence2[32];
    fc_strlcpy(fence2, b.fence, sizeof fence2);
    assert_true(strtoull(fence2, NULL, 10) > strtoull(fence, NULL, 10));
    store_step_begin_done(&b);
    /* db2's lease is tokB's now */
    assert_false(store_step_begin(s, &b2, "tokC", 5000, "w2", &b));
    assert_int_equal(b.st, SB_BUSY);

    /* the right token: recorded, and a duplicate of db1's message begun after
     * it in the same round trip is stale (the end ran first) */
    in.token = "tokA";
    uint64_t rt0 = store_round_trips();
    assert_int_equal(store_step_end_begin(s, &in, epoch, sizeof epoch, member, sizeof member, why, sizeof why, &a,
                                          "tokD", 5000, "w1", &b, &begun),
                     SE_OK);
    assert_int_equal(store_round_trips() - rt0, 1);
    assert_true(begun);
    assert_int_equal(b.st, SB_STALE);
    assert_true(strtoull(epoch, NULL, 10) > t1.epoch);
    timer_entry tn;
    assert_true(store_timer_parse(member, &tn));
    assert_string_equal(tn.step, "stop-source");

    /* Redis lost its scripts (a restart, SCRIPT FLUSH): the end is still
     * recorded (loaded again), the begin is left to the caller */
    step_end_in in2 = in;
    in2.msg = &b2;
    in2.token = "tokB";
    in2.fence = fence2;
    in2.outcome = "ok";
    in2.new_state = "done";
    in2.due_ms = -1;
    assert_true(store_test_cmd(s, NULL, 0, "SCRIPT FLUSH"));
    step_msg_ref a2 = {"c1", "db1", "stop-source", 1, tn.epoch};
    assert_int_equal(store_step_end_begin(s, &in2, epoch, sizeof epoch, member, sizeof member, why, sizeof why, &a2,
                                          "tokE", 5000, "w1", &b, &begun),
                     SE_OK);
    assert_false(begun);
    char rk[256], st[32];
    store_rec_key(s, "c1", "db2", rk, sizeof rk);
    hget_s(s, rk, "state", st, sizeof st);
    assert_string_equal(st, "done");
    /* and begins as usual */
    assert_true(store_step_begin(s, &a2, "tokE", 5000, "w1", &b));
    store_step_begin_done(&b);
    store_close(s);
}

static void test_redrive_and_pause(void **state)
{
    (void)state;
    timer_entry t;
    store *s = admitted("st3", &t);
    char ep[32];
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)t.epoch);
    /* a worker holds the lease: no re-drive */
    step_msg_ref msg = {"c1", "db1", "preflight", 1, t.epoch};
    step_begin_out b;
    assert_true(store_step_begin(s, &msg, "tok", 5000, "w", &b));
    store_step_begin_done(&b);
    assert_int_equal(store_redrive(s, "c1", "db1", ep, "stuck", 0, "coord", true), 0);
    char lk[256];
    store_lease_key(s, "c1", "db1", lk, sizeof lk);
    store_test_cmd(s, NULL, 0, "DEL %s", lk);
    assert_int_equal(store_redrive(s, "c1", "db1", "123", "stuck", 0, "coord", true), 0); /* moved on */
    assert_int_equal(store_redrive(s, "c1", "db1", ep, "stuck", 0, "coord", true), 1);
    char rk[256];
    store_rec_key(s, "c1", "db1", rk, sizeof rk);
    assert_int_equal(hget_i(s, rk, "attempt"), 2);
    assert_true(hget_i(s, rk, "stuck_ms") > 0);
    /* the original message is stale now */
    assert_false(store_step_begin(s, &msg, "tok", 5000, "w", &b));
    assert_int_equal(b.st, SB_STALE);
    /* paused campaign: step_begin refuses, timers are postponed */
    assert_int_equal(store_campaign_set_state(s, "c1", "running", "paused"), 1);
    assert_int_equal(store_campaign_set_state(s, "c1", "running", "done"), 0);
    char mem[256];
    ckeys k;
    store_ckeys(s, "c1", &k);
    assert_true(store_test_cmd(s, mem, sizeof mem, "ZRANGE %s 0 0", k.timers));
    assert_true(*mem && !strchr(mem, '\n')); /* exactly one entry */
    timer_entry t2;
    assert_true(store_timer_parse(mem, &t2));
    char strat[32];
    assert_int_equal(store_timer_take(s, "c1", mem, &t2, 5000, strat, sizeof strat), TT_PAUSED);
    step_msg_ref m2 = {"c1", "db1", "preflight", 2, t2.epoch};
    assert_false(store_step_begin(s, &m2, "tok", 5000, "w", &b));
    assert_int_equal(b.st, SB_PAUSED);
    assert_false(store_step_begin(s, &(step_msg_ref){"c1", "nope", "preflight", 1, 1}, "tok", 5000, "w", &b));
    assert_int_equal(b.st, SB_GONE);
    store_close(s);
}

static void test_run_id_floor(void **state)
{
    (void)state;
    store *s = fx_store("st4");
    uint64_t f1 = strtoull(store_floor(s), NULL, 10);
    assert_true(f1 > 1600000000000000ULL);
    long r1 = store_restarts(s);
    /* pretend the server we saw before was another process (a restart) */
    char mk[128];
    store_key(s, mk, sizeof mk, "meta");
    store_test_cmd(s, NULL, 0, "HSET %s run_id previous-server-run-id", mk);
    store_close(s);
    s = fx_store("st4");
    assert_int_equal(store_restarts(s), r1 + 1);
    uint64_t f2 = strtoull(store_floor(s), NULL, 10);
    assert_true(f2 >= f1);
    /* epochs handed out now exceed the floor */
    mk_campaign(s, "c1");
    char m1[256];
    assert_int_equal(store_admit(s, "c1", "db1", "preflight", 0, 2, "t", NULL, m1, sizeof m1), AD_OK);
    timer_entry t;
    assert_true(store_timer_parse(m1, &t));
    assert_true(t.epoch >= f2);
    assert_false(store_timer_parse("a|b|c", &t));
    assert_false(store_timer_parse("a|b|0|5", &t));
    assert_false(store_timer_parse("a|b|1|x", &t));
    store_close(s);
}

/* Redis restarted and lost the last second, the running step's lease key
 * with it: the reconciler re-drives the instance, and the new message must
 * not take the lease beside the old holder, which only learns at its next
 * renewal that its lease is gone. No new lease is granted until one lease
 * TTL (plus the AOF's lost second) after the restart was first seen. */
static void test_restart_quiet(void **state)
{
    (void)state;
    timer_entry t;
    store *s = admitted("st5", &t);
    step_msg_ref msg = {"c1", "db1", "preflight", 1, t.epoch};
    step_begin_out b;
    assert_true(store_step_begin(s, &msg, "old-holder", 1000, "w1", &b));
    store_step_begin_done(&b);
    /* the restart: a new run_id, and the lease key lost with the last second */
    char mk[128], lk[256], rk[256];
    store_key(s, mk, sizeof mk, "meta");
    store_test_cmd(s, NULL, 0, "HSET %s run_id previous-server-run-id", mk);
    store_lease_key(s, "c1", "db1", lk, sizeof lk);
    store_test_cmd(s, NULL, 0, "DEL %s", lk);
    store_close(s);
    s = fx_store("st5");
    char ep[32];
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)t.epoch);
    assert_int_equal(store_redrive(s, "c1", "db1", ep, "redis restarted", 0, "coord", false), 1);
    store_rec_key(s, "c1", "db1", rk, sizeof rk);
    char epoch[32];
    assert_true(store_test_cmd(s, epoch, sizeof epoch, "HGET %s epoch", rk));
    step_msg_ref m2 = {"c1", "db1", "preflight", 2, strtoull(epoch, NULL, 10)};
    /* inside the quiet window: busy, with the time left */
    assert_false(store_step_begin(s, &m2, "new-holder", 1000, "w2", &b));
    assert_int_equal(b.st, SB_BUSY);
    assert_true(b.busy_pttl_ms > 0);
    char ex[8];
    assert_true(store_test_cmd(s, ex, sizeof ex, "EXISTS %s", lk));
    assert_string_equal(ex, "0");
    /* the old holder's renewal finds its lease gone: it stops */
    assert_int_equal(store_lease_renew(s, "c1", "db1", "old-holder", 1000), 0);
    /* once the restart is older than TTL + margin, the lease is granted */
    store_test_cmd(s, NULL, 0, "HSET %s run_id_seen_ms 1000", mk);
    store_close(s);
    s = fx_store("st5");
    assert_true(store_step_begin(s, &m2, "new-holder", 1000, "w2", &b));
    store_step_begin_done(&b);
    store_close(s);
}

/* The restart is noticed only when the connection is re-made. A begin whose
 * socket died must not reconnect inside its call and send a quiet deadline
 * computed before the restart was seen: it answers "redis unavailable" and
 * grants nothing (no lease, no owner on the record); the next begin
 * reconnects, sees the restart and answers busy for the quiet window. */
static void test_restart_seen_during_begin(void **state)
{
    (void)state;
    timer_entry t;
    store *s = admitted("st6", &t);
    store *killer = fx_store("st6");
    char id[32], mk[128], out[64];
    assert_true(store_test_cmd(s, id, sizeof id, "CLIENT ID"));
    store_key(s, mk, sizeof mk, "meta");
    /* the server we saw is "another process" now, and our socket dies */
    assert_true(store_test_cmd(killer, out, sizeof out, "HSET %s run_id previous-server-run-id", mk));
    assert_true(store_test_cmd(killer, out, sizeof out, "CLIENT KILL ID %s", id));
    step_msg_ref msg = {"c1", "db1", "preflight", 1, t.epoch};
    step_begin_out b;
    assert_false(store_step_begin(s, &msg, "new-holder", 1000, "w2", &b));
    assert_int_equal(b.st, SB_ERROR);
    char lk[256], rk[256];
    store_lease_key(s, "c1", "db1", lk, sizeof lk);
    store_rec_key(s, "c1", "db1", rk, sizeof rk);
    assert_true(store_test_cmd(killer, out, sizeof out, "EXISTS %s", lk));
    assert_string_equal(out, "0");
    assert_true(store_test_cmd(killer, out, sizeof out, "HGET %s owner", rk));
    assert_string_not_equal(out, "w2");
    /* the retry reconnects, learns of the restart, and waits */
    assert_false(store_step_begin(s, &msg, "new-holder", 1000, "w2", &b));
    assert_int_equal(b.st, SB_BUSY);
    assert_true(b.busy_pttl_ms > 0);
    assert_string_equal(b.why, "redis restarted");
    assert_true(store_test_cmd(killer, out, sizeof out, "EXISTS %s", lk));
    assert_string_equal(out, "0");
    store_close(killer);
    store_close(s);
}

static int64_t zscore_i(store *s, const char *key, const char *member)
{
    char v[64];
    assert_true(store_test_cmd(s, v, sizeof v, "ZSCORE %s %s", key, member));
    return strtoll(v, NULL, 10);
}

/* A slot given back goes to the class's oldest waiter, whose message the
 * releaser produces itself (store_slot_hand_over): the waiter's outbox entry
 * moves to the grace (the coordinator does not emit it as well unless the
 * produce is never acknowledged) and the hand-over names it. The limit
 * holds throughout: a second holder is refused until the first gives back,
 * and the woken waiter still has to take the slot itself. Not handed over
 * (woken for the coordinator's tick as before): a paused waiter, one whose
 * entry is due already. */
static void test_slot_hand_over(void **state)
{
    (void)state;
    store *s = fx_store("st7");
    mk_campaign(s, "c1");
    ckeys k;
    store_ckeys(s, "c1", &k);
    int64_t now = fc_now_ms();
    char m1[256], m2[256], m3[256];
    sargs f;
    sargs_init(&f);
    assert_int_equal(store_admit(s, "c1", "db1", "restore", now + 60000, 3, "t", &f, m1, sizeof m1), AD_OK);
    assert_int_equal(store_admit(s, "c1", "db2", "restore", now + 60000, 3, "t", &f, m2, sizeof m2), AD_OK);
    assert_int_equal(store_admit(s, "c1", "db3", "restore", now + 60000, 3, "t", &f, m3, sizeof m3), AD_OK);
    sargs_free(&f);
    char key[256], wk[300], r2[256], r3[256], ok[8];
    store_key(s, key, sizeof key, "slots:acct:us-east-1:restore");
    snprintf(wk, sizeof wk, "%s:wait", key);
    store_rec_key(s, "c1", "db2", r2, sizeof r2);
    store_rec_key(s, "c1", "db3", r3, sizeof r3);
    /* their planned re-runs (a slot wait's: 0.5-1 s; here a minute) */
    assert_true(store_test_cmd(s, ok, sizeof ok, "ZADD %s %lld %s %lld %s", k.timers, (long long)(now + 60000), m2,
                               (long long)(now + 60000), m3));

    /* limit 1: db1 holds it, db2 and db3 find it full and wait (db2 first) */
    assert_int_equal(store_slot_acquire(s, key, "c1/db1", now, 60000, 1), 1);
    assert_int_equal(store_slot_acquire(s, key, "c1/db2", now, 60000, 1), 0);
    assert_int_equal(store_slot_acquire(s, key, "c1/db3", now + 1, 60000, 1), 0);
    assert_true(store_test_cmd(s, ok, sizeof ok, "HSET %s wait_on slot:restore", r2));
    assert_true(store_test_cmd(s, ok, sizeof ok, "HSET %s wait_on slot:restore", r3));
    assert_true(store_slot_wait_add(s, key, "c1/db2", now));
    assert_true(store_slot_wait_add(s, key, "c1/db3", now + 1));

    /* db1 gives back: db2 (the oldest) is handed its message to produce */
    assert_true(store_slot_release(s, key, "c1/db1", now + 10));
    slot_handover ho;
    assert_int_equal(store_slot_hand_over(s, key, "slot:restore", now + 10, now + 5010, &ho), 1);
    assert_string_equal(ho.campaign, "c1");
    assert_string_equal(ho.member, m2);
    assert_string_equal(ho.strategy, "offline");
    assert_int_equal(zscore_i(s, k.timers, m2), now + 5010); /* past the grace, not due now */
    assert_int_equal(zscore_i(s, k.timers, m3), now + 60000);
    assert_int_equal(zcard(s, wk), 1); /* db3 still queued */
    /* the woken waiter takes the slot itself; the limit still holds */
    assert_int_equal(store_slot_acquire(s, key, "c1/db2", now + 20, 60000, 1), 1);
    assert_int_equal(store_slot_acquire(s, key, "c1/db3", now + 20, 60000, 1), 0);
    assert_int_equal(store_slot_acquire(s, key, "c1/db1", now + 20, 60000, 1), 0);

    /* a paused waiter is only woken (for the coordinator, which postpones it) */
    assert_true(store_test_cmd(s, ok, sizeof ok, "HSET %s paused 1", r3));
    assert_true(store_slot_release(s, key, "c1/db2", now + 30));
    assert_int_equal(store_slot_hand_over(s, key, "slot:restore", now + 30, now + 5030, &ho), 0);
    assert_int_equal(zscore_i(s, k.timers, m3), now + 30);
    assert_int_equal(zcard(s, wk), 0);
    /* an entry due already may be in the coordinator's hands: left to it */
    assert_true(store_test_cmd(s, ok, sizeof ok, "HDEL %s paused", r3));
    assert_true(store_slot_wait_add(s, key, "c1/db3", now + 40));
    assert_int_equal(store_slot_hand_over(s, key, "slot:restore", now + 40, now + 5040, &ho), 0);
    assert_int_equal(zscore_i(s, k.timers, m3), now + 30);
    /* nobody waits: nothing */
    assert_int_equal(store_slot_hand_over(s, key, "slot:restore", now + 50, now + 5050, &ho), 0);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_claim),
        cmocka_unit_test(test_admit_begin_end),
        cmocka_unit_test(test_end_begin_pipelined),
        cmocka_unit_test(test_redrive_and_pause),
        cmocka_unit_test(test_run_id_floor),
        cmocka_unit_test(test_restart_quiet),
        cmocka_unit_test(test_restart_seen_during_begin),
        cmocka_unit_test(test_slot_hand_over),
    };
    return cmocka_run_group_tests(tests, fx_redis_up, fx_redis_down);
}
