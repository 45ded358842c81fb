/* test_awsmemo — the worker's short-lived memory of AWS yeses
 * (worker/strategies/shared/awsmemo.c): what pg-logical's preflight uses to
 * ask DescribeDBParameters once per parameter group and campaign instead of
 * once per instance (issue 17); the preflights' Describes asked together,
 * a joiner whose leader overruns asking alone, a full batch asked at once;
 * the in-run awaits sharing their looks (awsmemo_await_*). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "awsmemo.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>

static void test_remembered_within_its_age(void **state)
{
    (void)state;
    awsmemo_reset();
    assert_false(awsmemo_seen("c1\tlogical_replication\tpg-a", 60000));
    awsmemo_put("c1\tlogical_replication\tpg-a");
    assert_true(awsmemo_seen("c1\tlogical_replication\tpg-a", 60000));
    /* another campaign, another group: not the same answer */
    assert_false(awsmemo_seen("c2\tlogical_replication\tpg-a", 60000));
    assert_false(awsmemo_seen("c1\tlogical_replication\tpg-b", 60000));
    /* older than asked for: asked again */
    fc_sleep_ms(30);
    assert_false(awsmemo_seen("c1\tlogical_replication\tpg-a", 10));
    awsmemo_put("c1\tlogical_replication\tpg-a"); /* refreshed */
    assert_true(awsmemo_seen("c1\tlogical_replication\tpg-a", 10));
}

static void test_full_table_replaces_the_oldest(void **state)
{
    (void)state;
    awsmemo_reset();
    char k[64];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "c\tg%d", i);
        awsmemo_put(k);
    }
    assert_true(awsmemo_seen("c\tg199", 60000)); /* the newest stays */
    int kept = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "c\tg%d", i);
        kept += awsmemo_seen(k, 60000);
    }
    assert_true(kept > 0 && kept < 200);
    char longkey[400];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    awsmemo_put(longkey); /* too long: not kept, not truncated into another key */
    assert_false(awsmemo_seen(longkey, 60000));
}

/* ---- the preflights' Describes asked together (awsmemo_describe_instance) ---- */
static pthread_mutex_t stub_mu = PTHREAD_MUTEX_INITIALIZER;
static int stub_calls, stub_last_values, stub_max_values;
static bool stub_last_alone; /* asked by DBInstanceIdentifier, not a filter */
static int64_t stub_filter_sleep_ms; /* a filtered Describe this slow (a leader that overruns) */
static int finish_seq;
static bool stub_fail; /* the next Describes throttled */

/* DescribeDBInstances as the emulator answers it: every identifier asked
 * (by id or in the db-instance-id filter) exists but "gone". */
static bool stub_describe(aws_client *c, const rds_describe_opts *o, rds_instance_list **out, aws_error *err)
{
    (void)c;
    const char *one[1] = {o->id};
    const char *const *ids = o->id ? one : o->filters[0].values;
    size_t n = o->id ? 1 : o->filters[0].nvalues;
    pthread_mutex_lock(&stub_mu);
    stub_calls++;
    stub_last_values = (int)n;
    if ((int)n > stub_max_values) stub_max_values = (int)n;
    stub_last_alone = o->id != NULL;
    int64_t slow = o->id ? 0 : stub_filter_sleep_ms;
    bool fail = stub_fail;
    pthread_mutex_unlock(&stub_mu);
    fc_sleep_ms(slow);
    if (fail) {
        aws_error_set(err, AWS_ERR_THROTTLE, 400, "Throttling", "Rate exceeded");
        return false;
    }
    rds_instance_list *l = calloc(1, sizeof *l);
    l->v = calloc(n ? n : 1, sizeof *l->v);
    for (size_t k = 0; k < n; k++) {
        if (!strcmp(ids[k], "gone")) continue;
        /* AWS answers lower-cased identifiers */
        size_t j = 0;
        for (; ids[k][j] && j < sizeof l->v[0].identifier - 1; j++)
            l->v[l->n].identifier[j] = (char)(ids[k][j] >= 'A' && ids[k][j] <= 'Z' ? ids[k][j] + 32 : ids[k][j]);
        l->v[l->n].tags = calloc(1, sizeof *l->v[0].tags); /* an array the caller must own and free */
        l->v[l->n].n_tags = 1;
        l->n++;
    }
    *out = l;
    return true;
}

/* A test's start: nothing remembered, the stub answering, its counts zero. */
static void stub_begin(void)
{
    awsmemo_reset();
    awsmemo_set_describe(stub_describe);
    stub_calls = 0;
    stub_max_values = 0;
    finish_seq = 0;
}

typedef struct {
    const char *id;
    int64_t delay_ms;
    bool ok;
    char got[64];
    int kind;
    int64_t window_ms; /* 0: WINDOW_MS */
    int done_seq;      /* the order in which the askers were answered */
} asker;

#define WINDOW_MS 500

static void *ask(void *p)
{
    asker *a = p;
    fc_sleep_ms(a->delay_ms);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    a->ok = awsmemo_describe_instance(NULL, "preflight\tc1\tus-east-1", a->id, a->window_ms ? a->window_ms : WINDOW_MS,
                                      &i, &e);
    a->kind = e.kind;
    if (i) fc_strlcpy(a->got, i->identifier, sizeof a->got);
    rds_instance_free(i);
    pthread_mutex_lock(&stub_mu);
    a->done_seq = ++finish_seq;
    pthread_mutex_unlock(&stub_mu);
    return NULL;
}

static void test_preflights_together_are_one_describe(void **state)
{
    (void)state;
    stub_begin();
    /* the first opens a batch (a preflight is no one's downtime: it waits
     * the window for the others admitted with it); three more within the
     * window: one filtered Describe for the four, each its own answer (one
     * that does not exist: not found, as its own Describe would say) */
    asker a[4] = {{"db-a", 0, false, "", 0, 0, 0}, {"db-b", 100, false, "", 0, 0, 0}, {"db-c", 150, false, "", 0, 0, 0},
                  {"gone", 200, false, "", 0, 0, 0}};
    pthread_t t[4];
    for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, ask, &a[k]);
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    assert_int_equal(stub_calls, 1);
    assert_int_equal(stub_last_values, 4);
    assert_false(stub_last_alone);
    assert_true(a[0].ok && a[1].ok && a[2].ok);
    assert_string_equal(a[0].got, "db-a");
    assert_string_equal(a[1].got, "db-b");
    assert_string_equal(a[2].got, "db-c");
    assert_false(a[3].ok);
    assert_int_equal(a[3].kind, AWS_ERR_NOT_FOUND);
    /* long after, one alone: its own batch of one, after the window */
    fc_sleep_ms(WINDOW_MS + 50);
    asker late = {"db-e", 0, false, "", 0, 0, 0};
    ask(&late);
    assert_true(late.ok);
    assert_int_equal(stub_calls, 2);
    assert_int_equal(stub_last_values, 1);
    /* an identifier in another case than AWS stores: alone, never in a filter */
    asker upper = {"DB-G", 0, false, "", 0, 0, 0};
    ask(&upper);
    assert_true(upper.ok);
    assert_string_equal(upper.got, "db-g");
    assert_int_equal(stub_calls, 3);
    assert_true(stub_last_alone);
    /* the same identifier twice at once (a re-delivered step): both answered */
    fc_sleep_ms(WINDOW_MS + 50);
    asker twice[3] = {{"db-h", 0, false, "", 0, 0, 0}, {"db-i", 50, false, "", 0, 0, 0}, {"db-i", 100, false, "", 0, 0, 0}};
    for (int k = 0; k < 3; k++) pthread_create(&t[k], NULL, ask, &twice[k]);
    for (int k = 0; k < 3; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 3; k++) assert_true(twice[k].ok);
    assert_string_equal(twice[1].got, "db-i");
    assert_string_equal(twice[2].got, "db-i");
    awsmemo_set_describe(NULL);
}

/* Callers of one worker checking the same thing at once (the preflights of
 * a wave, the parameter group of each): the first asks, the others wait for
 * its answer instead of each asking — a yes is theirs too, a no or an error
 * lets the next one ask; a caller waits at most its wait_ms. */
static int seen_asks;
static void *seen_caller(void *p)
{
    bool yes_answer = *(bool *)p;
    if (awsmemo_seen_or_ask("c1\tlogical\tg1", 60000, 2000)) return NULL;
    pthread_mutex_lock(&stub_mu);
    seen_asks++;
    pthread_mutex_unlock(&stub_mu);
    fc_sleep_ms(100); /* the DescribeDBParameters */
    if (yes_answer) awsmemo_put("c1\tlogical\tg1");
    else awsmemo_asked("c1\tlogical\tg1");
    return NULL;
}

static void test_seen_or_ask_one_asks(void **state)
{
    (void)state;
    awsmemo_reset();
    seen_asks = 0;
    bool yes = true;
    pthread_t t[4];
    for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, seen_caller, &yes);
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    assert_int_equal(seen_asks, 1);
    /* a no: each waiter asks in turn (a no is never remembered) */
    awsmemo_reset();
    seen_asks = 0;
    yes = false;
    for (int k = 0; k < 3; k++) pthread_create(&t[k], NULL, seen_caller, &yes);
    for (int k = 0; k < 3; k++) pthread_join(t[k], NULL);
    assert_int_equal(seen_asks, 3);
    /* an asker that never says (a crashed thread): the others ask after wait_ms */
    awsmemo_reset();
    assert_false(awsmemo_seen_or_ask("c1\tlogical\tg2", 60000, 200));
    int64_t t0 = fc_mono_ms();
    assert_false(awsmemo_seen_or_ask("c1\tlogical\tg2", 60000, 200));
    assert_true(fc_mono_ms() - t0 >= 150);
    awsmemo_reset();
}

/* The batch's leader slow to answer (its Describe throttled and retried):
 * a joiner waits for it at most AWSMEMO_JOIN_WAIT_WINDOWS windows from the
 * batch's start, then asks alone and is answered first; the leader still
 * gets its own answer. */
static void test_joiner_of_an_overrunning_leader_asks_alone(void **state)
{
    (void)state;
    stub_begin();
    stub_filter_sleep_ms = 50 * AWSMEMO_JOIN_WAIT_WINDOWS * 2;
    asker a[2] = {{"db-a", 0, false, "", 0, 50, 0}, {"db-b", 10, false, "", 0, 50, 0}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, ask, &a[k]);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    stub_filter_sleep_ms = 0;
    for (int k = 0; k < 2; k++) assert_true(a[k].ok);
    assert_string_equal(a[0].got, "db-a");
    assert_string_equal(a[1].got, "db-b");
    assert_int_equal(stub_calls, 2); /* the batch (a, b), b alone */
    if (a[1].done_seq > a[0].done_seq) fail_msg("the joiner waited for its overrunning leader");
    awsmemo_set_describe(NULL);
}

/* A batch that cannot take more (AWS's 100 identifiers in one filter) is
 * asked at once, not after the rest of its window. */
#define FULL_WINDOW_MS 20000
static void test_full_batch_asked_at_once(void **state)
{
    (void)state;
    stub_begin();
    static asker a[101];
    static char ids[101][16];
    pthread_t t[101];
    int64_t t0 = fc_mono_ms();
    for (int k = 0; k < 101; k++) {
        snprintf(ids[k], sizeof ids[k], "db-%d", k);
        a[k] = (asker){ids[k], 0, false, "", 0, FULL_WINDOW_MS, 0};
        pthread_create(&t[k], NULL, ask, &a[k]);
        if (k < 1) fc_sleep_ms(20); /* the first opens the batch */
    }
    for (int k = 0; k < 101; k++) pthread_join(t[k], NULL);
    int64_t took = fc_mono_ms() - t0;
    for (int k = 0; k < 101; k++) {
        assert_true(a[k].ok);
        assert_string_equal(a[k].got, ids[k]);
    }
    assert_int_equal(stub_calls, 2); /* the full batch, and the 101st alone while it is asked */
    assert_int_equal(stub_max_values, 100);
    if (took >= FULL_WINDOW_MS) fail_msg("a full batch waited out its window (%lld ms)", (long long)took);
    awsmemo_set_describe(NULL);
}

/* ---- awaits sharing their looks (awsmemo_await_*) ---- */
#define AKEY "await\tc1\tus-east-1\tsource"
#define ROUNDS 5
#define NWAIT 4
static pthread_mutex_t turn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn; /* round * NWAIT + waiter: whose look it is */
static int64_t round_start[ROUNDS];

typedef struct {
    int k;
    const char *id;
    int h;
    int ok_looks, shared_looks;
} waiter;

/* Waiter k: in each round, looks in its turn (after the waiters before it)
 * with the round's start as its freshness bound, as awaits due at about
 * the same moment do. */
static void *await_rounds(void *p)
{
    waiter *w = p;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&turn_mu);
        while (turn != r * NWAIT + w->k) pthread_cond_wait(&turn_cv, &turn_mu);
        if (w->k == 0) round_start[r] = fc_mono_ms();
        int64_t accept = round_start[r];
        pthread_mutex_unlock(&turn_mu);
        rds_instance *i = NULL;
        aws_error e;
        aws_error_clear(&e);
        bool shared = false;
        int64_t seen = 0;
        if (awsmemo_await_look(NULL, w->h, w->id, accept, NULL, &i, &seen, &shared, &e) && !strcmp(i->identifier, w->id) &&
            seen >= accept)
            w->ok_looks++;
        w->shared_looks += shared;
        rds_instance_free(i);
        pthread_mutex_lock(&turn_mu);
        turn++;
        pthread_cond_broadcast(&turn_cv);
        pthread_mutex_unlock(&turn_mu);
    }
    return NULL;
}

/* Four awaits of one key due at the same moments: one Describe of the four
 * per round, not one each; each takes its own instance. */
static void test_awaits_share_a_look_per_round(void **state)
{
    (void)state;
    stub_begin();
    turn = 0;
    static const char *ids[NWAIT] = {"db-a", "db-b", "db-c", "db-d"};
    waiter w[NWAIT];
    pthread_t t[NWAIT];
    for (int k = 0; k < NWAIT; k++) {
        w[k] = (waiter){k, ids[k], awsmemo_await_begin(AKEY, ids[k]), 0, 0};
        assert_true(w[k].h >= 0);
    }
    for (int k = 0; k < NWAIT; k++) pthread_create(&t[k], NULL, await_rounds, &w[k]);
    for (int k = 0; k < NWAIT; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < NWAIT; k++) {
        assert_int_equal(w[k].ok_looks, ROUNDS);
        awsmemo_await_end(w[k].h);
    }
    assert_int_equal(stub_calls, ROUNDS);
    assert_int_equal(stub_last_values, NWAIT);
    assert_false(stub_last_alone);
    assert_int_equal(w[0].shared_looks, 0);
    assert_int_equal(w[3].shared_looks, ROUNDS);
    awsmemo_set_describe(NULL);
}

typedef struct {
    int h;
    const char *id;
    int64_t delay_ms, accept_ms;
    bool ok, shared;
    int kind, calls_before, calls_after, done_seq, start_seq;
    char code[64];
} looker;

static void *look_once(void *p)
{
    looker *l = p;
    fc_sleep_ms(l->delay_ms);
    pthread_mutex_lock(&stub_mu);
    l->calls_before = stub_calls;
    l->start_seq = ++finish_seq;
    pthread_mutex_unlock(&stub_mu);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    l->ok = awsmemo_await_look(NULL, l->h, l->id, l->accept_ms ? l->accept_ms : fc_mono_ms(), NULL, &i, NULL,
                               &l->shared, &e);
    l->kind = e.kind;
    fc_strlcpy(l->code, e.code, sizeof l->code);
    rds_instance_free(i);
    pthread_mutex_lock(&stub_mu);
    l->calls_after = stub_calls;
    l->done_seq = ++finish_seq;
    pthread_mutex_unlock(&stub_mu);
    return NULL;
}

/* A look never waits for others to come: one registered with others
 * (which will look later) asks at once, for them all; it is over before
 * the next one starts looking. */
static void test_a_look_asks_at_once(void **state)
{
    (void)state;
    stub_begin();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "gone");
    looker a = {ha, "db-a", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    looker b = {hb, "gone", 300, 1, false, false, 0, 0, 0, 0, 0, ""};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, look_once, &a);
    pthread_create(&tb, NULL, look_once, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_true(a.ok);
    if (a.done_seq > b.start_seq) fail_msg("the look waited for another await to come");
    assert_int_equal(stub_calls, 1);
    assert_int_equal(stub_last_values, 2);
    /* b took a's answer for it: not found, as its own Describe would say */
    assert_true(b.shared);
    assert_false(b.ok);
    assert_int_equal(b.kind, AWS_ERR_NOT_FOUND);
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    awsmemo_set_describe(NULL);
}

/* An answer older than the look's freshness bound, or from before its
 * await began, is not used: the look asks. */
static void test_an_old_answer_is_not_used(void **state)
{
    (void)state;
    stub_begin();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    looker a = {ha, "db-a", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&a);
    assert_int_equal(stub_calls, 1);
    fc_sleep_ms(20);
    /* b's bound is after a's look: too old */
    looker b = {hb, "db-b", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&b);
    assert_true(b.ok);
    assert_false(b.shared);
    assert_int_equal(stub_calls, 2);
    /* which published one for a; a's await ends and another begins: not
     * that answer (it predates the await) */
    awsmemo_await_end(ha);
    ha = awsmemo_await_begin(AKEY, "db-a");
    looker a2 = {ha, "db-a", 0, 1, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&a2);
    assert_false(a2.shared);
    assert_int_equal(stub_calls, 3);
    /* and a fresh enough one is used once */
    looker b2 = {hb, "db-b", 0, 1, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&b2);
    assert_true(b2.shared && b2.ok);
    assert_int_equal(stub_calls, 3);
    look_once(&b2);
    assert_false(b2.shared);
    assert_int_equal(stub_calls, 4);
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    awsmemo_set_describe(NULL);
}

/* A look being asked that includes this await's instance is waited for,
 * not asked again; its error is its asker's: the others ask themselves. */
static void test_in_flight_look_joined_and_errors_are_the_askers(void **state)
{
    (void)state;
    stub_begin();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    stub_filter_sleep_ms = 300;
    looker a = {ha, "db-a", 0, 1, false, false, 0, 0, 0, 0, 0, ""};
    looker b = {hb, "db-b", 50, 1, false, false, 0, 0, 0, 0, 0, ""};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, look_once, &a);
    pthread_create(&tb, NULL, look_once, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_true(a.ok && b.ok && b.shared);
    assert_int_equal(stub_calls, 1);
    /* the same, the Describe throttled: a gets the error; b, which waited
     * for it, asks itself (and is throttled too: its own error) */
    stub_fail = true;
    looker a2 = {ha, "db-a", 0, 1, false, false, 0, 0, 0, 0, 0, ""};
    looker b2 = {hb, "db-b", 50, 1, false, false, 0, 0, 0, 0, 0, ""};
    pthread_create(&ta, NULL, look_once, &a2);
    pthread_create(&tb, NULL, look_once, &b2);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    stub_fail = false;
    stub_filter_sleep_ms = 0;
    assert_false(a2.ok);
    assert_string_equal(a2.code, "Throttling");
    assert_false(b2.ok || b2.shared);
    assert_string_equal(b2.code, "Throttling");
    assert_int_equal(stub_calls, 3);
    /* after the error, the next look of a works as one alone would */
    looker a3 = {ha, "db-a", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&a3);
    assert_true(a3.ok);
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    /* an identifier not in lower case: never registered, described alone */
    assert_int_equal(awsmemo_await_begin(AKEY, "DB-G"), -1);
    looker u = {-1, "DB-G", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&u);
    assert_true(u.ok);
    assert_true(stub_last_alone);
    awsmemo_set_describe(NULL);
}

/* An await whose first look came before the end tells the others under
 * its key, while it goes on; not those of another key. */
static void test_an_early_first_look_is_told(void **state)
{
    (void)state;
    awsmemo_reset();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    int hx = awsmemo_await_begin("await\tc2\tus-east-1\tsource", "db-x");
    assert_false(awsmemo_await_early(hb));
    awsmemo_await_set_early(ha);
    assert_true(awsmemo_await_early(hb));
    assert_false(awsmemo_await_early(ha)); /* its own does not count */
    assert_false(awsmemo_await_early(hx));
    assert_false(awsmemo_await_early(-1));
    awsmemo_await_end(ha);
    assert_false(awsmemo_await_early(hb));
    awsmemo_await_end(hb);
    awsmemo_await_end(hx);
}

/* Awaits under one key plan their looks onto each other's: an await due at
 * `due` looks instead at the earliest look another await of its key has
 * planned between max(now, not_before) and due (that look includes its
 * instance: one Describe for both); never later than its own due, never
 * before not_before, never onto a look of another key, an ended await's or
 * one gone by. */
static void test_looks_planned_onto_each_others(void **state)
{
    (void)state;
    awsmemo_reset();
    int64_t now = fc_mono_ms();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    int hc = awsmemo_await_begin(AKEY, "db-c");
    int hx = awsmemo_await_begin("await\tc2\tus-east-1\tsource", "db-x");
    assert_int_equal(awsmemo_await_plan(hx, now + 900, now), now + 900); /* nothing planned yet */
    assert_int_equal(awsmemo_await_plan(ha, now + 1000, now), now + 1000);
    /* b, due later: a's look, which includes b */
    assert_int_equal(awsmemo_await_plan(hb, now + 1400, now), now + 1000);
    /* c, due before a's look: its own (never later than its due) */
    assert_int_equal(awsmemo_await_plan(hc, now + 800, now), now + 800);
    /* ... and now c's is the earliest: a third joiner takes it */
    int hd = awsmemo_await_begin(AKEY, "db-d");
    assert_int_equal(awsmemo_await_plan(hd, now + 5000, now), now + 800);
    /* not before not_before (a learnt await's expected end) */
    assert_int_equal(awsmemo_await_plan(hd, now + 5000, now + 900), now + 1000);
    assert_int_equal(awsmemo_await_plan(hd, now + 5000, now + 1100), now + 5000);
    /* another key's look is not this key's (x planned 900) */
    int hy = awsmemo_await_begin("await\tc2\tus-east-1\tsource", "db-y");
    assert_int_equal(awsmemo_await_plan(hy, now + 950, now), now + 900);
    assert_int_equal(awsmemo_await_plan(hy, now + 850, now), now + 850);
    /* an ended await's plan is forgotten; a plan gone by is ignored */
    awsmemo_await_end(hc);
    awsmemo_await_end(hd);
    int he = awsmemo_await_begin(AKEY, "db-e");
    assert_int_equal(awsmemo_await_plan(he, now + 5000, now), now + 1000);
    /* a and b (on a's plan) look now, already due: gone by for e */
    assert_int_equal(awsmemo_await_plan(ha, now - 10, now - 20), now - 10);
    assert_int_equal(awsmemo_await_plan(hb, now - 10, now - 20), now - 10);
    int64_t later = fc_mono_ms();
    assert_int_equal(awsmemo_await_plan(he, later + 5000, later), later + 5000);
    /* no handle: its own due */
    assert_int_equal(awsmemo_await_plan(-1, now + 7, now), now + 7);
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    awsmemo_await_end(he);
    awsmemo_await_end(hx);
    awsmemo_await_end(hy);
}

/* A planned look, once made, is no one's plan: an await planning its next
 * look right after another's look (both awaits' last answer from it) must
 * not take that look's moment (it would look again at once, its own
 * answer then too old to share: a Describe each, back to back). */
static void test_a_look_made_is_no_plan(void **state)
{
    (void)state;
    stub_begin();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    int64_t now = fc_mono_ms();
    /* a plans a look in 50 ms, and makes it now (its timer a little early,
     * or its plan's moment reached): the plan is spent either way */
    assert_int_equal(awsmemo_await_plan(ha, now + 50, now), now + 50);
    looker a = {ha, "db-a", 0, now, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&a);
    assert_true(a.ok);
    /* b, its answer from a's look, plans its next: its own */
    assert_int_equal(awsmemo_await_plan(hb, now + 500, now), now + 500);
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    awsmemo_set_describe(NULL);
}

/* ---- the look board: other worker processes' awaits ---- */
typedef struct {
    const char *const *remote; /* what the board holds */
    size_t n_remote;
    int asks, calls;
    size_t n;
    bool failed;
    char ids[8][64];
    bool present[8];
    int64_t sent_ms;
} board_rec;

static size_t ask_rec(void *ud, char (*ids)[64], size_t max)
{
    board_rec *b = ud;
    b->asks++;
    size_t n = 0;
    for (; n < b->n_remote && n < max; n++) fc_strlcpy(ids[n], b->remote[n], 64);
    return n;
}

static void publish_rec(void *ud, const rds_instance_list *l, const char *const *ids, size_t n, int64_t sent_ms)
{
    board_rec *p = ud;
    p->calls++;
    p->n = n;
    p->failed = l == NULL;
    p->sent_ms = sent_ms;
    for (size_t k = 0; k < n && k < 8; k++) {
        fc_strlcpy(p->ids[k], ids[k], sizeof p->ids[k]);
        p->present[k] = false;
        for (size_t j = 0; l && j < l->n; j++)
            if (!strcmp(l->v[j].identifier, ids[k])) p->present[k] = true;
    }
}

/* A look this process asks asks the board first and includes the
 * instances other processes await (once each, never one of its own twice,
 * nothing malformed), then hands their answers, found or not, to publish;
 * this process's awaits get theirs as before. A look that takes another's
 * answer asks nothing and publishes nothing; a failed look publishes its
 * failure. */
static void test_board_ids_looked_at_and_published(void **state)
{
    (void)state;
    stub_begin();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    const char *remote[] = {"db-x", "db-a", "gone", "db-b", "Upper", "db-x", ""};
    board_rec rec = {remote, 7, 0, 0, 0, false, {{0}}, {0}, 0};
    awsmemo_board b = {ask_rec, publish_rec, &rec};
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    int64_t t0 = fc_mono_ms(), seen = 0;
    assert_true(awsmemo_await_look(NULL, ha, "db-a", t0, &b, &i, &seen, NULL, &e));
    rds_instance_free(i);
    assert_int_equal(stub_calls, 1);
    assert_int_equal(stub_last_values, 4); /* db-a, db-b, then db-x and gone */
    assert_int_equal(rec.asks, 1);
    assert_int_equal(rec.calls, 1);
    assert_false(rec.failed);
    assert_int_equal(rec.n, 2);
    assert_string_equal(rec.ids[0], "db-x");
    assert_true(rec.present[0]);
    assert_string_equal(rec.ids[1], "gone");
    assert_false(rec.present[1]);
    assert_int_equal(rec.sent_ms, seen);
    /* b's answer came with a's look: nothing asked, nothing published */
    bool shared = false;
    assert_true(awsmemo_await_look(NULL, hb, "db-b", t0, &b, &i, NULL, &shared, &e));
    rds_instance_free(i);
    assert_true(shared);
    assert_int_equal(stub_calls, 1);
    assert_int_equal(rec.asks, 1);
    assert_int_equal(rec.calls, 1);
    /* only this process's instances on the board: published with none */
    const char *mine[] = {"db-a"};
    board_rec rec2 = {mine, 1, 0, 0, 0, false, {{0}}, {0}, 0};
    awsmemo_board b2 = {ask_rec, publish_rec, &rec2};
    assert_true(awsmemo_await_look(NULL, ha, "db-a", fc_mono_ms() + 1, &b2, &i, NULL, NULL, &e));
    rds_instance_free(i);
    assert_int_equal(stub_calls, 2);
    assert_int_equal(stub_last_values, 2);
    assert_int_equal(rec2.calls, 1);
    assert_int_equal(rec2.n, 0);
    /* a failed look: its failure published */
    stub_fail = true;
    assert_false(awsmemo_await_look(NULL, ha, "db-a", fc_mono_ms() + 1, &b, &i, NULL, NULL, &e));
    stub_fail = false;
    assert_int_equal(rec.calls, 2);
    assert_true(rec.failed);
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    awsmemo_set_describe(NULL);
}

/* What this process has for an await (awsmemo_await_pending, which the
 * look board defers to): an answer not taken yet sent at or after the
 * bound, or a look including it still being asked; not an older answer,
 * not one taken. */
static void test_pending_answers_and_looks(void **state)
{
    (void)state;
    stub_begin();
    int ha = awsmemo_await_begin(AKEY, "db-a"), hb = awsmemo_await_begin(AKEY, "db-b");
    int64_t t0 = fc_mono_ms();
    assert_false(awsmemo_await_pending(hb, t0));
    looker a = {ha, "db-a", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&a);
    assert_true(awsmemo_await_pending(hb, t0));
    assert_false(awsmemo_await_pending(hb, fc_mono_ms() + 1));
    assert_false(awsmemo_await_pending(-1, t0));
    looker b = {hb, "db-b", 0, t0, false, false, 0, 0, 0, 0, 0, ""};
    look_once(&b);
    assert_true(b.shared);
    assert_false(awsmemo_await_pending(hb, t0));
    /* a look in flight that includes b */
    stub_filter_sleep_ms = 300;
    looker a2 = {ha, "db-a", 0, 0, false, false, 0, 0, 0, 0, 0, ""};
    pthread_t ta;
    pthread_create(&ta, NULL, look_once, &a2);
    fc_sleep_ms(100);
    assert_true(awsmemo_await_pending(hb, t0));
    pthread_join(ta, NULL);
    stub_filter_sleep_ms = 0;
    assert_true(awsmemo_await_pending(hb, t0)); /* answered, not taken */
    awsmemo_await_end(ha);
    awsmemo_await_end(hb);
    awsmemo_set_describe(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remembered_within_its_age),
        cmocka_unit_test(test_full_table_replaces_the_oldest),
        cmocka_unit_test(test_preflights_together_are_one_describe),
        cmocka_unit_test(test_joiner_of_an_overrunning_leader_asks_alone),
        cmocka_unit_test(test_seen_or_ask_one_asks),
        cmocka_unit_test(test_full_batch_asked_at_once),
        cmocka_unit_test(test_awaits_share_a_look_per_round),
        cmocka_unit_test(test_a_look_asks_at_once),
        cmocka_unit_test(test_an_old_answer_is_not_used),
        cmocka_unit_test(test_in_flight_look_joined_and_errors_are_the_askers),
        cmocka_unit_test(test_an_early_first_look_is_told),
        cmocka_unit_test(test_looks_planned_onto_each_others),
        cmocka_unit_test(test_a_look_made_is_no_plan),
        cmocka_unit_test(test_board_ids_looked_at_and_published),
        cmocka_unit_test(test_pending_answers_and_looks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
