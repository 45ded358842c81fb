/* test_awsmemo — the worker's short-lived memory of AWS yeses
 * (worker/strategies/shared/awsmemo.c): what pg-logical's preflight uses to
 * ask DescribeDBParameters once per parameter group and campaign instead of
 * once per instance (issue 17). */
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
    pthread_mutex_unlock(&stub_mu);
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
} asker;

#define WINDOW_MS 500

static void *ask(void *p)
{
    asker *a = p;
    fc_sleep_ms(a->delay_ms);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    a->ok = awsmemo_describe_instance(NULL, "preflight\tc1\tus-east-1", a->id, WINDOW_MS, &i, &e);
    a->kind = e.kind;
    if (i) fc_strlcpy(a->got, i->identifier, sizeof a->got);
    rds_instance_free(i);
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
    asker a[4] = {{"db-a", 0, false, "", 0}, {"db-b", 100, false, "", 0}, {"db-c", 150, false, "", 0},
                  {"gone", 200, false, "", 0}};
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
    asker late = {"db-e", 0, false, "", 0};
    ask(&late);
    assert_true(late.ok);
    assert_int_equal(stub_calls, 3);
    assert_int_equal(stub_last_values, 1);
    /* an identifier in another case than AWS stores: alone, never in a filter */
    asker first = {"db-f", 0, false, "", 0}, upper = {"DB-G", 0, false, "", 0};
    ask(&first);
    ask(&upper);
    assert_true(upper.ok);
    assert_string_equal(upper.got, "db-g");
    assert_int_equal(stub_calls, 5);
    assert_true(stub_last_alone);
    /* the same identifier twice at once (a re-delivered step): both answered */
    fc_sleep_ms(WINDOW_MS + 50);
    asker twice[3] = {{"db-h", 0, false, "", 0}, {"db-i", 50, false, "", 0}, {"db-i", 100, false, "", 0}};
    for (int k = 0; k < 3; k++) pthread_create(&t[k], NULL, ask, &twice[k]);
    for (int k = 0; k < 3; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 3; k++) assert_true(twice[k].ok);
    assert_string_equal(twice[1].got, "db-i");
    assert_string_equal(twice[2].got, "db-i");
    awsmemo_set_describe(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remembered_within_its_age),
        cmocka_unit_test(test_full_table_replaces_the_oldest),
        cmocka_unit_test(test_preflights_together_are_one_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
