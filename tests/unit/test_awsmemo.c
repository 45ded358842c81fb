/* test_awsmemo — the worker's short-lived memory of AWS yeses
 * (worker/strategies/shared/awsmemo.c): what pg-logical's preflight uses to
 * ask DescribeDBParameters once per parameter group and campaign instead of
 * once per instance (issue 17); the preflights' Describes asked together,
 * a joiner whose leader overruns asking alone, a full batch asked at once. */
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
static int stub_calls, stub_last_values;
static bool stub_last_alone; /* asked by DBInstanceIdentifier, not a filter */
static int64_t stub_filter_sleep_ms; /* a filtered Describe this slow (a leader that overruns) */
static int finish_seq;

/* DescribeDBInstances as the emulator answers it: every identifier asked
 * (by id or in the db-instance-id filter) exists but "gone". */
static bool stub_describe(aws_client *c, const rds_describe_opts *o, rds_instance_list **out, aws_error *err)
{
    (void)c;
    (void)err;
    const char *one[1] = {o->id};
    const char *const *ids = o->id ? one : o->filters[0].values;
    size_t n = o->id ? 1 : o->filters[0].nvalues;
    pthread_mutex_lock(&stub_mu);
    stub_calls++;
    stub_last_values = (int)n;
    stub_last_alone = o->id != NULL;
    int64_t slow = o->id ? 0 : stub_filter_sleep_ms;
    pthread_mutex_unlock(&stub_mu);
    fc_sleep_ms(slow);
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
    awsmemo_reset();
    awsmemo_set_describe(stub_describe);
    stub_calls = 0;
    /* the first is alone: described at once; three more within the window
     * of it: one filtered Describe for the three, each its own answer (one
     * that does not exist: not found, as its own Describe would say) */
    asker a[4] = {{"db-a", 0, false, "", 0, 0, 0}, {"db-b", 100, false, "", 0, 0, 0}, {"db-c", 150, false, "", 0, 0, 0},
                  {"gone", 200, false, "", 0, 0, 0}};
    pthread_t t[4];
    for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, ask, &a[k]);
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    assert_int_equal(stub_calls, 2);
    assert_int_equal(stub_last_values, 3);
    assert_false(stub_last_alone);
    assert_true(a[0].ok && a[1].ok && a[2].ok);
    assert_string_equal(a[0].got, "db-a");
    assert_string_equal(a[1].got, "db-b");
    assert_string_equal(a[2].got, "db-c");
    assert_false(a[3].ok);
    assert_int_equal(a[3].kind, AWS_ERR_NOT_FOUND);
    /* long after: alone again, at once */
    fc_sleep_ms(WINDOW_MS + 50);
    asker late = {"db-e", 0, false, "", 0, 0, 0};
    ask(&late);
    assert_true(late.ok);
    assert_int_equal(stub_calls, 3);
    assert_int_equal(stub_last_values, 1);
    /* an identifier in another case than AWS stores: alone, never in a filter */
    asker first = {"db-f", 0, false, "", 0, 0, 0}, upper = {"DB-G", 0, false, "", 0, 0, 0};
    ask(&first);
    ask(&upper);
    assert_true(upper.ok);
    assert_string_equal(upper.got, "db-g");
    assert_int_equal(stub_calls, 5);
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

/* The batch's leader slow to answer (its Describe throttled and retried):
 * a joiner waits for it at most AWSMEMO_JOIN_WAIT_WINDOWS windows from the
 * batch's start, then asks alone and is answered first; the leader still
 * gets its own answer. */
static void test_joiner_of_an_overrunning_leader_asks_alone(void **state)
{
    (void)state;
    awsmemo_reset();
    awsmemo_set_describe(stub_describe);
    stub_calls = 0;
    finish_seq = 0;
    stub_filter_sleep_ms = 50 * AWSMEMO_JOIN_WAIT_WINDOWS * 2;
    asker a[3] = {{"db-a", 0, false, "", 0, 50, 0}, {"db-b", 10, false, "", 0, 50, 0}, {"db-c", 30, false, "", 0, 50, 0}};
    pthread_t t[3];
    for (int k = 0; k < 3; k++) pthread_create(&t[k], NULL, ask, &a[k]);
    for (int k = 0; k < 3; k++) pthread_join(t[k], NULL);
    stub_filter_sleep_ms = 0;
    for (int k = 0; k < 3; k++) assert_true(a[k].ok);
    assert_string_equal(a[1].got, "db-b");
    assert_string_equal(a[2].got, "db-c");
    assert_int_equal(stub_calls, 3); /* a alone, the batch (b, c), c alone */
    if (a[2].done_seq > a[1].done_seq) fail_msg("the joiner waited for its overrunning leader");
    awsmemo_set_describe(NULL);
}

/* A batch that cannot take more (AWS's 100 identifiers in one filter) is
 * asked at once, not after the rest of its window. */
#define FULL_WINDOW_MS 20000
static void test_full_batch_asked_at_once(void **state)
{
    (void)state;
    awsmemo_reset();
    awsmemo_set_describe(stub_describe);
    stub_calls = 0;
    static asker a[101];
    static char ids[101][16];
    pthread_t t[101];
    int64_t t0 = fc_mono_ms();
    for (int k = 0; k < 101; k++) {
        snprintf(ids[k], sizeof ids[k], "db-%d", k);
        a[k] = (asker){ids[k], 0, false, "", 0, FULL_WINDOW_MS, 0};
        pthread_create(&t[k], NULL, ask, &a[k]);
        if (k < 2) fc_sleep_ms(20); /* the first alone, the second opens the batch */
    }
    for (int k = 0; k < 101; k++) pthread_join(t[k], NULL);
    int64_t took = fc_mono_ms() - t0;
    for (int k = 0; k < 101; k++) {
        assert_true(a[k].ok);
        assert_string_equal(a[k].got, ids[k]);
    }
    assert_int_equal(stub_calls, 2);
    assert_int_equal(stub_last_values, 100);
    if (took >= FULL_WINDOW_MS) fail_msg("a full batch waited out its window (%lld ms)", (long long)took);
    awsmemo_set_describe(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remembered_within_its_age),
        cmocka_unit_test(test_full_table_replaces_the_oldest),
        cmocka_unit_test(test_preflights_together_are_one_describe),
        cmocka_unit_test(test_joiner_of_an_overrunning_leader_asks_alone),
        cmocka_unit_test(test_full_batch_asked_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
