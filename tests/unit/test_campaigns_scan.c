/* test_campaigns_scan — the coordinator's batched campaign scan
 * (coordinator/campaigns.c + lua/campaign_scan.lua) on a real redis-server:
 * every instance in submission order with its state, step, epoch,
 * deadline, attempt, remaining quota cost (defaults 1 and 2 when unset) and
 * lease (only for in-flight instances), across a batch boundary; a missing
 * record counts as in flight, as the per-instance reads did. A record in a
 * final state (done, skipped, aborted) is read once and then taken from
 * the previous cycle; every other one (failed included: retry moves it) is
 * read again each cycle; pending ones are read again only when the
 * campaign's pending count moved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "coord.h"
#include "redis_fixture.h"
#include "store_model.h"
#include "store_test.h"

static void cmd(store *s, const char *fmt, const char *a, const char *b, const char *c)
{
    assert_true(store_test_cmd(s, NULL, 0, fmt, a, b, c));
}

static void test_scan_matches_records(void **state)
{
    (void)state;
    coord c;
    memset(&c, 0, sizeof c);
    c.s = fx_store("scan");
    assert_non_null(c.s);
    const int n = 700; /* more than one batch */
    ckeys k;
    store_ckeys(c.s, "c1", &k);
    char ck[STORE_KEY_MAX];
    store_key(c.s, ck, sizeof ck, "campaigns");
    cmd(c.s, "ZADD %s 1 %s%s", ck, "c1", "");
    cmd(c.s, "HSET %s state running strategy %s region %s", k.campaign, "offline", "us-east-1");
    static const char *const st[] = {"pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"};
    for (int i = 0; i < n; i++) {
        char id[16], rk[STORE_KEY_MAX], lk[STORE_KEY_MAX], num[32];
        snprintf(id, sizeof id, "db-%04d", i);
        store_rec_key(c.s, "c1", id, rk, sizeof rk);
        store_lease_key(c.s, "c1", id, lk, sizeof lk);
        snprintf(num, sizeof num, "%d", i);
        assert_true(store_test_cmd(c.s, NULL, 0, "ZADD %s %d %s", k.instances, i, id));
        if (i == 5) continue; /* in the index, no record */
        cmd(c.s, "HSET %s state %s step s%s", rk, st[i % 7], num);
        cmd(c.s, "HSET %s epoch %s deadline_ms %s", rk, num, num);
        cmd(c.s, "HSET %s attempt %s f.q_inst %s", rk, num, i % 2 ? "0" : "3");
        if (i % 3 == 0) cmd(c.s, "HSET %s f.q_snap %s%s", rk, "1", "");
        /* every instance with i % 4 == 1 holds a lease, whatever its state */
        if (i % 4 == 1) cmd(c.s, "SET %s %s%s", lk, "token", "");
    }
    assert_true(campaigns_scan(&c));
    assert_int_equal(c.ncamps, 1);
    const camp_view *cv = &c.camps[0];
    assert_string_equal(cv->strategy, "offline");
    assert_int_equal(cv->n, n);
    int pending = 0, inflight = 0, term = 0;
    for (int i = 0; i < n; i++) {
        const inst_view *iv = &cv->inst[i];
        char id[16];
        snprintf(id, sizeof id, "db-%04d", i);
        assert_string_equal(iv->id, id);
        if (i == 5) {
            assert_string_equal(iv->state, "");
            assert_int_equal(iv->q_inst, 1);
            assert_int_equal(iv->q_snap, 2);
            assert_false(iv->lease_held);
            inflight++;
            continue;
        }
        const char *want = st[i % 7];
        assert_string_equal(iv->state, want);
        assert_int_equal(iv->attempt, i);
        assert_int_equal(iv->deadline_ms, i);
        assert_int_equal(iv->q_inst, i % 2 ? 0 : 3);
        assert_int_equal(iv->q_snap, i % 3 == 0 ? 1 : 2);
        bool in_flight = !strcmp(want, "running") || !strcmp(want, "waiting_approval");
        assert_int_equal(iv->lease_held, in_flight && i % 4 == 1);
        pending += !strcmp(want, "pending");
        inflight += in_flight;
        term += !in_flight && strcmp(want, "pending");
    }
    assert_int_equal(cv->pending, pending);
    assert_int_equal(cv->inflight, inflight);
    assert_int_equal(cv->terminal, term);
    /* a lease is looked at only past the deadline (or with 0: every one) */
    const char *one[] = {"db-0001"}; /* running, deadline_ms 1, holds a lease */
    store_scan_row row;
    assert_true(store_campaign_scan(c.s, "c1", one, 1, 1, &row));
    assert_true(row.lease_held);
    assert_true(store_campaign_scan(c.s, "c1", one, 1, 0, &row));
    assert_true(row.lease_held);
    char rk1[STORE_KEY_MAX];
    store_rec_key(c.s, "c1", "db-0001", rk1, sizeof rk1);
    cmd(c.s, "HSET %s deadline_ms %s%s", rk1, "999999", "");
    assert_true(store_campaign_scan(c.s, "c1", one, 1, 1000, &row));
    assert_false(row.lease_held); /* not due: not looked at */
    assert_true(store_campaign_scan(c.s, "c1", one, 1, 0, &row));
    assert_true(row.lease_held);
    campaigns_free(&c);
    store_close(c.s);
}

static const char *scanned_state(coord *c, int i)
{
    assert_true(campaigns_scan(c));
    assert_int_equal(c->ncamps, 1);
    assert_int_equal(c->camps[0].n, 3);
    return c->camps[0].inst[i].state;
}

static void test_final_records_read_once(void **state)
{
    (void)state;
    coord c;
    memset(&c, 0, sizeof c);
    c.s = fx_store("scan2");
    assert_non_null(c.s);
    ckeys k;
    store_ckeys(c.s, "c2", &k);
    char ck[STORE_KEY_MAX], rk[3][STORE_KEY_MAX];
    store_key(c.s, ck, sizeof ck, "campaigns");
    cmd(c.s, "ZADD %s 1 %s%s", ck, "c2", "");
    cmd(c.s, "HSET %s state running created_ms %s%s", k.campaign, "1", "");
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "db-%d", i);
        store_rec_key(c.s, "c2", id, rk[i], sizeof rk[i]);
        assert_true(store_test_cmd(c.s, NULL, 0, "ZADD %s %d %s", k.instances, i, id));
        cmd(c.s, "HSET %s state %s%s", rk[i], "running", "");
    }
    assert_string_equal(scanned_state(&c, 0), "running");
    cmd(c.s, "HSET %s state %s%s", rk[0], "done", "");
    cmd(c.s, "HSET %s state %s%s", rk[1], "failed", "");
    assert_string_equal(scanned_state(&c, 0), "done");
    assert_int_equal(c.camps[0].terminal, 2);
    assert_int_equal(c.camps[0].inflight, 1);
    /* failed is read again (retry puts it back to running) */
    cmd(c.s, "HSET %s state %s%s", rk[1], "running", "");
    assert_string_equal(scanned_state(&c, 1), "running");
    /* done is final: no script moves it, so it is not read again (written
     * here by hand only to show that) */
    cmd(c.s, "HSET %s state %s%s", rk[0], "running", "");
    assert_string_equal(scanned_state(&c, 0), "done");
    assert_int_equal(c.camps[0].terminal, 1);
    /* pending records come from the last view while the pending count
     * agrees, and are read again when it moves (an abort, another
     * coordinator's admission) */
    cmd(c.s, "HSET %s state %s%s", rk[2], "pending", "");
    cmd(c.s, "HSET %s pending %s%s", k.counts, "1", "");
    assert_string_equal(scanned_state(&c, 2), "pending");
    cmd(c.s, "HSET %s state %s%s", rk[2], "aborted", "");
    assert_string_equal(scanned_state(&c, 2), "pending"); /* count unchanged: not read */
    cmd(c.s, "HSET %s pending %s%s", k.counts, "0", "");
    assert_string_equal(scanned_state(&c, 2), "aborted");
    assert_int_equal(c.camps[0].pending, 0);
    /* a campaign re-created under the same id is read in full */
    cmd(c.s, "HSET %s created_ms %s%s", k.campaign, "2", "");
    assert_string_equal(scanned_state(&c, 0), "running");
    campaigns_free(&c);
    store_close(c.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_matches_records),
        cmocka_unit_test(test_final_records_read_once),
    };
    return cmocka_run_group_tests(tests, fx_redis_up, fx_redis_down);
}
