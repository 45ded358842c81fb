/* test_step — the step engine's transition planning (table-driven over every
 * step_rc), retry give-up and backoff bounds, deadlines, and the
 * deterministic resource names (63-char limit, hashing, stability). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "step.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const step_def steps[] = {
    {"a", "b", NULL, 100, 3, NULL},
    {"b", "c", "copy", 200, 0, NULL},
    {"c", NULL, NULL, 50, 0, NULL},
};
static const strategy_def strat = {.name = "t", .steps = steps, .nsteps = 3};

static void test_plan_table(void **state)
{
    (void)state;
    step_limits lim;
    step_limits_default(&lim);
    const int64_t now = 1000000;
    struct {
        const char *cur;
        step_rc rc;
        uint32_t attempt;
        const char *jump;
        int64_t wait;
        const char *outcome, *state, *step;
        uint32_t attempt_after;
        bool has_successor, emit_now;
    } t[] = {
        {"a", STEP_OK, 1, "", 0, "ok", "running", "b", 1, true, true},
        {"a", STEP_OK, 3, "", 0, "ok", "running", "b", 1, true, true},
        {"c", STEP_OK, 1, "", 0, "ok", "done", "c", 1, false, false},
        {"a", STEP_NEXT, 1, "c", 0, "next", "running", "c", 1, true, true},
        {"a", STEP_NEXT, 1, "nope", 0, "fail", "failed", "a", 1, false, false},
        {"b", STEP_WAIT, 2, "", 5000, "wait", "running", "b", 2, true, false},
        {"b", STEP_RETRY, 1, "", 0, "retry", "running", "b", 2, true, false},
        {"a", STEP_RETRY, 3, "", 0, "fail", "failed", "a", 3, false, false},
        {"b", STEP_FAIL, 1, "", 0, "fail", "failed", "b", 1, false, false},
        {"a", STEP_SKIP, 1, "", 0, "skip", "skipped", "a", 1, false, false},
    };
    for (size_t i = 0; i < FC_ARRAY_LEN(t); i++) {
        step_result res;
        memset(&res, 0, sizeof res);
        fc_strlcpy(res.next, t[i].jump, sizeof res.next);
        res.wait_ms = t[i].wait;
        fc_strlcpy(res.reason, "why", sizeof res.reason);
        step_transition o;
        step_plan(&strat, strategy_step(&strat, t[i].cur), t[i].rc, &res, t[i].attempt, now, &lim, &o);
        print_message("row %zu\n", i);
        assert_string_equal(o.outcome, t[i].outcome);
        assert_string_equal(o.new_state, t[i].state);
        assert_string_equal(o.new_step, t[i].step);
        assert_int_equal(o.new_attempt, t[i].attempt_after);
        assert_int_equal(o.due_ms >= 0, t[i].has_successor);
        assert_int_equal(o.emit_now, t[i].emit_now);
    }
}

static void test_plan_times(void **state)
{
    (void)state;
    step_limits lim;
    step_limits_default(&lim);
    step_result res;
    memset(&res, 0, sizeof res);
    step_transition o;
    /* OK: successor due after the outbox grace, deadline from the NEXT step */
    step_plan(&strat, &steps[0], STEP_OK, &res, 1, 1000, &lim, &o);
    assert_int_equal(o.due_ms, 1000 + lim.grace_ms);
    assert_int_equal(o.deadline_ms, 1000 + 200 * 1000);
    /* WAIT: due at the wait time, clamped to >= 100 ms */
    res.wait_ms = 7000;
    step_plan(&strat, &steps[1], STEP_WAIT, &res, 1, 1000, &lim, &o);
    assert_int_equal(o.due_ms, 8000);
    assert_int_equal(o.deadline_ms, 8000 + 200 * 1000);
    res.wait_ms = 0;
    step_plan(&strat, &steps[1], STEP_WAIT, &res, 1, 1000, &lim, &o);
    assert_int_equal(o.due_ms, 1100);
    /* deadline cap (tests shorten the reconciler's patience) */
    lim.deadline_cap_s = 20;
    step_plan(&strat, &steps[0], STEP_OK, &res, 1, 1000, &lim, &o);
    assert_int_equal(o.deadline_ms, 1000 + 20 * 1000);
    /* RETRY: full jitter within the capped exponential bound */
    step_limits_default(&lim);
    for (uint32_t a = 1; a < 8; a++) {
        int64_t bound = step_backoff_bound_ms(&lim, a);
        assert_true(bound <= lim.backoff_cap_ms);
        for (int k = 0; k < 50; k++) {
            step_plan(&strat, &steps[1], STEP_RETRY, &res, a, 0, &lim, &o);
            assert_true(o.due_ms >= 0 && o.due_ms <= bound);
        }
    }
    assert_int_equal(step_backoff_bound_ms(&lim, 1), 1000);
    assert_int_equal(step_backoff_bound_ms(&lim, 3), 4000);
    assert_int_equal(step_backoff_bound_ms(&lim, 30), 60000);
    /* give-up reason names the attempts and the last error */
    fc_strlcpy(res.reason, "Throttling", sizeof res.reason);
    step_plan(&strat, &steps[0], STEP_RETRY, &res, 3, 0, &lim, &o);
    assert_non_null(strstr(o.error, "gave up after 3 attempts: Throttling"));
}

/* The engine conventions a strategy opts into: its "abort" step ending OK
 * means aborted (not done); a wait on the operator is waiting_approval. */
static const step_def undo_steps[] = {
    {"work", NULL, NULL, 60, 0, NULL},
    {STEP_ABORT_NAME, NULL, NULL, 60, 0, NULL},
};
static const strategy_def undo_strat = {.name = "u", .steps = undo_steps, .nsteps = 2};

static void test_abort_and_approval_conventions(void **state)
{
    (void)state;
    step_limits lim;
    step_limits_default(&lim);
    step_transition tr;
    step_result res;
    memset(&res, 0, sizeof res);
    /* jump to abort, then abort finishing */
    fc_strlcpy(res.next, STEP_ABORT_NAME, sizeof res.next);
    step_plan(&undo_strat, &undo_steps[0], STEP_NEXT, &res, 3, 1000, &lim, &tr);
    assert_string_equal(tr.new_step, STEP_ABORT_NAME);
    assert_string_equal(tr.new_state, "running");
    assert_int_equal(tr.new_attempt, 1);
    memset(&res, 0, sizeof res);
    step_plan(&undo_strat, &undo_steps[1], STEP_OK, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "aborted");
    assert_non_null(strstr(tr.error, "aborted"));
    snprintf(res.reason, sizeof res.reason, "schema changed on the source: ALTER TABLE");
    step_plan(&undo_strat, &undo_steps[1], STEP_OK, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "aborted");
    assert_string_equal(tr.error, "schema changed on the source: ALTER TABLE");
    memset(&res, 0, sizeof res);
    /* an ordinary last step still ends done */
    step_plan(&undo_strat, &undo_steps[0], STEP_OK, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "done");
    /* waiting on the operator vs waiting on AWS */
    snprintf(res.reason, sizeof res.reason, "%s (cutover mode approve)", STEP_APPROVAL_PREFIX);
    res.wait_ms = 5000;
    step_plan(&undo_strat, &undo_steps[0], STEP_WAIT, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "waiting_approval");
    assert_int_equal(tr.due_ms, 6000);
    snprintf(res.reason, sizeof res.reason, "waiting for snapshot copy (40%%)");
    step_plan(&undo_strat, &undo_steps[0], STEP_WAIT, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "running");
}

/* A step that may leave something behind that costs the source (a slot
 * retaining WAL) names its undo step: a permanent failure there, or retries
 * given up, runs the undo step (outcome fail, state still running) with the
 * original reason; the undo step ends the instance failed, and may name the
 * step the failure happened in. Steps without one fail at once. */
static const step_def hold_steps[] = {
    {"prep", "hold", NULL, 60, 0, NULL},
    {"hold", "last", NULL, 90, 2, STEP_ABORT_NAME},
    {"last", NULL, NULL, 60, 0, NULL},
    {"bad", "last", NULL, 60, 0, "no-such-step"},
    {STEP_ABORT_NAME, NULL, NULL, 120, 0, NULL},
};
static const strategy_def hold_strat = {.name = "h", .steps = hold_steps, .nsteps = 5};

static void test_fail_runs_undo(void **state)
{
    (void)state;
    step_limits lim;
    step_limits_default(&lim);
    step_transition tr;
    step_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.reason, sizeof res.reason, "subscription fc_x on the target is disabled");
    /* a permanent failure in a step that holds WAL: the undo step runs at once */
    step_plan(&hold_strat, strategy_step(&hold_strat, "hold"), STEP_FAIL, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.outcome, "fail");
    assert_string_equal(tr.new_state, "running");
    assert_string_equal(tr.new_step, STEP_ABORT_NAME);
    assert_true(tr.undo);
    assert_int_equal(tr.new_attempt, 1);
    assert_true(tr.emit_now);
    assert_int_equal(tr.due_ms, 1000 + lim.grace_ms);
    assert_int_equal(tr.deadline_ms, 1000 + 120 * 1000);
    assert_string_equal(tr.error, "subscription fc_x on the target is disabled");
    /* retries given up count as a failure too */
    snprintf(res.reason, sizeof res.reason, "connection refused");
    step_plan(&hold_strat, strategy_step(&hold_strat, "hold"), STEP_RETRY, &res, 2, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "running");
    assert_string_equal(tr.new_step, STEP_ABORT_NAME);
    assert_true(tr.undo);
    assert_non_null(strstr(tr.error, "gave up after 2 attempts: connection refused"));
    /* a retry still within its attempts stays a retry */
    step_plan(&hold_strat, strategy_step(&hold_strat, "hold"), STEP_RETRY, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.outcome, "retry");
    assert_string_equal(tr.new_step, "hold");
    assert_false(tr.undo);
    /* a step that holds nothing fails the instance at once */
    step_plan(&hold_strat, strategy_step(&hold_strat, "prep"), STEP_FAIL, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "failed");
    assert_string_equal(tr.new_step, "prep");
    assert_false(tr.undo);
    /* an undo step the table does not have: failed, the reason says both */
    step_plan(&hold_strat, strategy_step(&hold_strat, "bad"), STEP_FAIL, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "failed");
    assert_false(tr.undo);
    assert_non_null(strstr(tr.error, "connection refused"));
    assert_non_null(strstr(tr.error, "no-such-step"));
    /* the undo step's own failure ends the instance failed (no loop), and it
     * may name the step the original failure happened in */
    snprintf(res.reason, sizeof res.reason, "failed at hold: x; undone: slot dropped, source untouched");
    fc_strlcpy(res.next, "hold", sizeof res.next);
    step_plan(&hold_strat, strategy_step(&hold_strat, STEP_ABORT_NAME), STEP_FAIL, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "failed");
    assert_string_equal(tr.new_step, "hold");
    assert_false(tr.undo);
    assert_string_equal(tr.error, "failed at hold: x; undone: slot dropped, source untouched");
    /* ... but only a step of the table whose undo it is */
    fc_strlcpy(res.next, "prep", sizeof res.next);
    step_plan(&hold_strat, strategy_step(&hold_strat, STEP_ABORT_NAME), STEP_FAIL, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_step, STEP_ABORT_NAME);
    fc_strlcpy(res.next, "elsewhere", sizeof res.next);
    step_plan(&hold_strat, strategy_step(&hold_strat, STEP_ABORT_NAME), STEP_FAIL, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_step, STEP_ABORT_NAME);
    /* the undo step finishing OK is still an abort */
    memset(&res, 0, sizeof res);
    step_plan(&hold_strat, strategy_step(&hold_strat, STEP_ABORT_NAME), STEP_OK, &res, 1, 1000, &lim, &tr);
    assert_string_equal(tr.new_state, "aborted");
}

static void test_names(void **state)
{
    (void)state;
    struct {
        const char *c, *i, *s, *want; /* want NULL: only check validity */
    } t[] = {
        {"c1", "db1", "snap", "fc-c1-db1-snap"},
        {"camp-2024", "orders-db", "enc", "fc-camp-2024-orders-db-enc"},
        {"c1", "DB-Upper", "tgt", NULL}, /* upper case → hashed lowercase form */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
         "retired", NULL},
        {"a--b", "x", "snap", NULL},
    };
    for (size_t k = 0; k < FC_ARRAY_LEN(t); k++) {
        char out[80], again[80];
        assert_true(step_resource_name(t[k].c, t[k].i, t[k].s, out, sizeof out));
        assert_true(fc_valid_db_identifier(out));
        assert_true(strlen(out) <= 63);
        assert_true(strncmp(out, "fc-", 3) == 0);
        assert_non_null(strstr(out, t[k].s));
        assert_true(step_resource_name(t[k].c, t[k].i, t[k].s, again, sizeof again));
        assert_string_equal(out, again);
        if (t[k].want) assert_string_equal(out, t[k].want);
    }
    /* long names that differ only past the cut stay distinct (hash) */
    char a[80], b[80];
    assert_true(step_resource_name("cccccccccccccccccccccccccccccccccccccccc",
                                   "instance-with-a-very-long-name-number-000000000000000000001", "snap", a,
                                   sizeof a));
    assert_true(step_resource_name("cccccccccccccccccccccccccccccccccccccccc",
                                   "instance-with-a-very-long-name-number-000000000000000000002", "snap", b,
                                   sizeof b));
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_table),
        cmocka_unit_test(test_plan_times),
        cmocka_unit_test(test_abort_and_approval_conventions),
        cmocka_unit_test(test_fail_runs_undo),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
