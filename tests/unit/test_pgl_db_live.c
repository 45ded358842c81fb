/* test_pgl_db_live — the pure parts of catch-up's prewarm and live
 * validation: the progress state that survives a crashed run (lib/
 * pgl_db_live.c: JSON round trip, malformed input, queue and suspect
 * bookkeeping, pass order over tables) and the decisions in
 * worker/strategies/pglogical/logic.c (a re-checked chunk's verdict, the
 * readiness gate), table by table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgl_db_live.h"
#include "pglogical_logic.h"

static pgl_live_table tab(int db, const char *schema, const char *name)
{
    pgl_live_table t;
    memset(&t, 0, sizeof t);
    t.db = db;
    snprintf(t.schema, sizeof t.schema, "%s", schema);
    snprintf(t.name, sizeof t.name, "%s", name);
    return t;
}

static void add_chunk(pgl_live_state *st, pgl_live_table t, int n, const char *const *lo, const char *const *hi,
                      const char *lsn, int strikes)
{
    pgl_live_chunk *c = &st->q[st->nq++];
    memset(c, 0, sizeof *c);
    c->t = t;
    assert_true(pgl_live_key_copy(&c->lo, lo ? n : 0, lo));
    assert_true(pgl_live_key_copy(&c->hi, n, hi));
    snprintf(c->lsn, sizeof c->lsn, "%s", lsn);
    snprintf(c->count, sizeof c->count, "%d", 100 + st->nq);
    snprintf(c->md5, sizeof c->md5, "%032d", st->nq);
    c->strikes = strikes;
    c->tries = strikes + 1;
}

static void test_state_round_trip(void **state)
{
    (void)state;
    pgl_live_state a, b;
    char err[200];
    assert_true(pgl_live_state_parse("", &a, err, sizeof err));
    assert_int_equal(a.pass, 1);
    assert_int_equal(a.nq, 0);
    assert_false(a.have_cur);

    a.pass = 3;
    a.passes_done = 2;
    a.have_cur = true;
    a.cur = tab(1, "Sales \"EU\"", "ordérs, 2024");
    const char *cur_lo[] = {"42", "it's, \"quoted\""};
    assert_true(pgl_live_key_copy(&a.cur_lo, 2, cur_lo));
    const char *hi1[] = {"10"}, *lo2[] = {"10"}, *hi2[] = {"20"};
    add_chunk(&a, tab(0, "public", "a"), 1, NULL, hi1, "0/16B3748", 0);
    add_chunk(&a, tab(0, "public", "a"), 1, lo2, hi2, "1/0", 2);
    a.total = 7;
    a.ok = 5;
    a.suspect = 1;
    a.unsettled = 1;
    a.rows_ok = 123456789012LL;
    assert_true(pgl_live_suspect_add(&a, "app public.z (5]..[9]"));
    char *json = pgl_live_state_dump(&a);
    assert_non_null(json);
    assert_true(pgl_live_state_parse(json, &b, err, sizeof err));
    assert_int_equal(b.pass, 3);
    assert_int_equal(b.passes_done, 2);
    assert_true(b.have_cur);
    assert_int_equal(pgl_live_table_cmp(&a.cur, &b.cur), 0);
    assert_int_equal(b.cur_lo.n, 2);
    assert_string_equal(b.cur_lo.v[1], "it's, \"quoted\"");
    assert_int_equal(b.nq, 2);
    assert_int_equal(b.q[0].lo.n, 0);
    assert_string_equal(b.q[0].hi.v[0], "10");
    assert_string_equal(b.q[1].lo.v[0], "10");
    assert_string_equal(b.q[1].lsn, "1/0");
    assert_string_equal(b.q[1].md5, a.q[1].md5);
    assert_string_equal(b.q[1].count, a.q[1].count);
    assert_int_equal(b.q[1].strikes, 2);
    assert_int_equal(b.q[1].tries, 3);
    assert_int_equal(b.total, 7);
    assert_int_equal(b.ok, 5);
    assert_int_equal(b.rows_ok, 123456789012LL);
    assert_string_equal(b.suspects, "app public.z (5]..[9]\n");
    /* the same text again: dump is deterministic */
    char *json2 = pgl_live_state_dump(&b);
    assert_string_equal(json, json2);
    free(json);
    free(json2);
    pgl_live_state_free(&a);
    pgl_live_state_free(&b);
}

static void test_state_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json", "[]", "{\"pass\":0}",
        "{\"pass\":1,\"q\":[{\"d\":0,\"s\":\"public\",\"t\":\"a\",\"lsn\":\"0/1\",\"c\":\"1\",\"m\":\"x\"}]}", /* no hi */
        /* key widths differ */
        "{\"pass\":1,\"q\":[{\"d\":0,\"s\":\"public\",\"t\":\"a\",\"lo\":[\"1\",\"2\"],\"hi\":[\"3\"],\"lsn\":\"0/1\",\"c\":\"1\",\"m\":\"x\"}]}",
        "{\"pass\":1,\"cur\":{\"d\":-1,\"s\":\"p\",\"t\":\"a\"}}",
        "{\"pass\":1,\"q\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pgl_live_state st;
        char err[200] = "";
        if (pgl_live_state_parse(bad[i], &st, err, sizeof err)) fail_msg("accepted malformed state: %s", bad[i]);
        /* a fresh state to start over with, nothing leaked */
        assert_int_equal(st.pass, 1);
        assert_int_equal(st.nq, 0);
        assert_false(st.have_cur);
        assert_true(err[0] != 0);
        pgl_live_state_free(&st);
    }
}

static void test_queue_and_suspects(void **state)
{
    (void)state;
    pgl_live_state st;
    char err[64];
    assert_true(pgl_live_state_parse(NULL, &st, err, sizeof err));
    const char *h[] = {"1"}, *h2[] = {"2"}, *h3[] = {"3"};
    add_chunk(&st, tab(0, "s", "a"), 1, NULL, h, "0/1", 0);
    add_chunk(&st, tab(0, "s", "a"), 1, h, h2, "0/2", 1);
    add_chunk(&st, tab(0, "s", "a"), 1, h2, h3, "0/3", 0);
    assert_true(pgl_live_queue_has_strikes(&st));
    pgl_live_queue_remove(&st, 1);
    assert_int_equal(st.nq, 2);
    assert_string_equal(st.q[0].lsn, "0/1");
    assert_string_equal(st.q[1].lsn, "0/3");
    assert_false(pgl_live_queue_has_strikes(&st));
    pgl_live_queue_remove(&st, 5); /* out of range: nothing */
    assert_int_equal(st.nq, 2);
    assert_true(pgl_live_suspect_add(&st, "app s.a (1]..[2]"));
    assert_false(pgl_live_suspect_add(&st, "app s.a (1]..[2]"));
    assert_true(pgl_live_suspect_add(&st, "app s.a (1]..[22]"));
    assert_false(pgl_live_suspect_add(&st, "app s.a (1]..[22]"));
    assert_string_equal(st.suspects, "app s.a (1]..[2]\napp s.a (1]..[22]\n");
    pgl_live_state_free(&st);
    assert_int_equal(st.nq, 0);
}

/* A chunk is named in logs and facts by table and number, never by its
 * key values (primary keys are data: finding 12). */
static void test_chunk_text_has_no_key_values(void **state)
{
    (void)state;
    pgl_live_state st;
    char err[64];
    assert_true(pgl_live_state_parse(NULL, &st, err, sizeof err));
    const char *lo[] = {"alice@example.com", "KEY-LO-7f3a"}, *hi[] = {"bob@example.com", "KEY-HI-9c1d"};
    add_chunk(&st, tab(0, "public", "customers"), 2, lo, hi, "0/1", 0);
    st.q[0].no = 7;
    char line[256];
    pgl_live_chunk_text("app", &st.q[0], line, sizeof line);
    assert_string_equal(line, "app public.customers chunk 7");
    assert_null(strstr(line, "example.com"));
    assert_null(strstr(line, "KEY-"));
    /* the state that does carry them round-trips the chunk number too (it
     * is kept on the target, not in Redis) */
    st.have_cur = true;
    st.cur = st.q[0].t;
    st.cur_no = 7;
    char *json = pgl_live_state_dump(&st);
    assert_non_null(json);
    pgl_live_state b;
    assert_true(pgl_live_state_parse(json, &b, err, sizeof err));
    assert_int_equal(b.q[0].no, 7);
    assert_int_equal(b.cur_no, 7);
    free(json);
    pgl_live_state_free(&b);
    pgl_live_state_free(&st);
}

static void test_pass_order(void **state)
{
    (void)state;
    pgl_live_table t[] = {tab(0, "a", "x"), tab(0, "a", "y"), tab(0, "b", "a"), tab(1, "a", "a")};
    int n = 4;
    for (int i = 0; i + 1 < n; i++) assert_true(pgl_live_table_cmp(&t[i], &t[i + 1]) < 0);
    assert_int_equal(pgl_live_next_table(t, n, NULL), 0);
    pgl_live_table c = tab(0, "a", "x");
    assert_int_equal(pgl_live_next_table(t, n, &c), 1);
    c = tab(0, "a", "xx"); /* a table that went away: the next one after it */
    assert_int_equal(pgl_live_next_table(t, n, &c), 1);
    c = tab(0, "b", "a");
    assert_int_equal(pgl_live_next_table(t, n, &c), 3);
    c = tab(1, "a", "a");
    assert_int_equal(pgl_live_next_table(t, n, &c), n);
    assert_int_equal(pgl_live_next_table(t, 0, NULL), 0);
}

static void test_judge(void **state)
{
    (void)state;
    struct {
        bool equal, stable;
        int strikes, tries, max_strikes;
        pgl_live_verdict v;
        int out_strikes, out_tries;
    } t[] = {
        {true, false, 0, 0, 3, PGL_LIVE_OK, 0, 0},
        {true, true, 2, 5, 3, PGL_LIVE_OK, 2, 5},
        /* the source stood still and the target differs: strikes, suspect at the third */
        {false, true, 0, 0, 3, PGL_LIVE_REQUEUE, 1, 0},
        {false, true, 1, 0, 3, PGL_LIVE_REQUEUE, 2, 0},
        {false, true, 2, 0, 3, PGL_LIVE_SUSPECT, 3, 0},
        {false, true, 0, 0, 1, PGL_LIVE_SUSPECT, 1, 0},
        {false, true, 0, 0, 0, PGL_LIVE_REQUEUE, 1, 0}, /* default 3 */
        /* the source moved: inconclusive, not "in a row" any more */
        {false, false, 2, 0, 3, PGL_LIVE_REQUEUE, 0, 1},
        {false, false, 0, 18, 3, PGL_LIVE_REQUEUE, 0, 19},
        {false, false, 0, 19, 3, PGL_LIVE_UNSETTLED, 0, 20},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pgl_live_in in = {t[i].equal, t[i].stable, t[i].strikes, t[i].tries, t[i].max_strikes, 0};
        int s = -1, r = -1;
        pgl_live_verdict v = pgl_live_judge(&in, &s, &r);
        if (v != t[i].v || s != t[i].out_strikes || r != t[i].out_tries)
            fail_msg("case %zu: expected verdict %d strikes %d tries %d, got %d %d %d", i, t[i].v,
                     t[i].out_strikes, t[i].out_tries, v, s, r);
    }
}

static void test_catchup_ready(void **state)
{
    (void)state;
    struct {
        bool lag, pw_on, pw_done, live_on;
        int passes;
        bool striking;
        bool ready;
        const char *what;
    } t[] = {
        {true, true, true, true, 1, false, true, ""},
        {true, true, false, true, 1, false, false, "prewarm"},
        {true, false, false, true, 1, false, true, ""},     /* prewarm off */
        {true, true, true, true, 0, false, false, "live validation"},
        {true, true, true, true, 2, true, false, "live validation"}, /* a suspicion being decided */
        {true, true, true, false, 0, true, true, ""},       /* validation off (or stopped by an error) */
        {false, true, true, true, 1, false, false, "lag"},
        {false, true, false, true, 0, false, false, "prewarm"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pgl_catchup_in in = {t[i].lag, t[i].pw_on, t[i].pw_done, t[i].live_on, t[i].passes, t[i].striking};
        const char *what = NULL;
        bool r = pgl_catchup_ready(&in, &what);
        if (r != t[i].ready || strcmp(what, t[i].what))
            fail_msg("case %zu: expected ready=%d '%s', got %d '%s'", i, t[i].ready, t[i].what, r, what);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_round_trip), cmocka_unit_test(test_state_malformed),
        cmocka_unit_test(test_queue_and_suspects),
        cmocka_unit_test(test_chunk_text_has_no_key_values), cmocka_unit_test(test_pass_order),
        cmocka_unit_test(test_judge), cmocka_unit_test(test_catchup_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
