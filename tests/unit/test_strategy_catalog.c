/* test_strategy_catalog — the strategy descriptors (worker/strategies/
 * catalog.h) and the worker's registry: the catalog is consistent, every
 * descriptor step has exactly one function, options are checked by type,
 * allowed values and validator, and a campaign spec resolves to checked
 * values with defaults ('-' and '_' alike in names). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "catalog.h"
#include "registry.h"

#include <stdlib.h>
#include <string.h>

static void test_catalog_consistent(void **state)
{
    (void)state;
    char err[256] = "";
    assert_true(strategy_catalog_check(err, sizeof err));
    assert_true(registry_check(err, sizeof err));
    size_t n = 0;
    const strategy_def *const *all = strategy_all(&n);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) assert_ptr_equal(strategy_find(all[i]->name), all[i]);
    assert_null(strategy_find("nope"));
    assert_null(strategy_find(NULL));
    const strategy_def *off = strategy_find("offline");
    assert_non_null(off);
    assert_string_equal(off->steps[0].name, "preflight");
    assert_null(off->abort_undo);
    assert_non_null(strstr(off->downtime_note, "unavailable"));
    /* wait floors (step_floor): the steps waiting on the poller for a
     * restore, a snapshot, a stop, a rename; none for a copy, a cutover */
    assert_int_equal(strategy_wait_floor_s(off, "restore"), STEP_FLOOR_RESTORE_S);
    assert_int_equal(strategy_wait_floor_s(off, "stop-source"), STEP_FLOOR_STOP_S);
    assert_int_equal(strategy_wait_floor_s(off, "copy-encrypted"), 0);
    assert_int_equal(strategy_wait_floor_s(strategy_find("pg-logical"), "snapshot"), STEP_FLOOR_SNAPSHOT_S);
    assert_int_equal(strategy_wait_floor_s(strategy_find("pg-logical"), "cutover"), 0);
    assert_int_equal(strategy_wait_floor_s(strategy_find("pg-logical"), "cleanup"), STEP_FLOOR_STOP_S);
    assert_int_equal(strategy_wait_floor_s(NULL, "restore"), 0);
    assert_int_equal(strategy_wait_floor_s(off, NULL), 0);
    const strategy_def *noop = strategy_find("noop");
    assert_non_null(noop);
    assert_false(noop->uses_aws);
    assert_int_equal(noop->quota_instances, 0);
    const strategy_def *pgl = strategy_find("pg-logical");
    assert_non_null(pgl);
    assert_non_null(pgl->abort_undo);
    assert_non_null(strategy_step(pgl, STEP_ABORT_NAME));
    assert_true(strategy_serves_engine(pgl, "postgres"));
    assert_false(strategy_serves_engine(pgl, "postgre"));
    assert_false(strategy_serves_engine(pgl, "mysql"));
    assert_non_null(strstr(strategy_names("|"), "pg-logical|offline"));
    assert_ptr_equal(strategy_default(), pgl);
}

static void test_registry_binds_functions(void **state)
{
    (void)state;
    size_t n = 0;
    const strategy_def *const *all = strategy_all(&n);
    for (size_t i = 0; i < n; i++) {
        const strategy_impl *si = registry_find(all[i]->name);
        assert_non_null(si);
        assert_ptr_equal(si->def, all[i]);
        for (size_t k = 0; k < all[i]->nsteps; k++) assert_non_null(strategy_impl_fn(si, all[i]->steps[k].name));
        assert_null(strategy_impl_fn(si, "no-such-step"));
    }
}

static void test_opt_check(void **state)
{
    (void)state;
    const strategy_def *pgl = strategy_find("pg-logical");
    char err[256];
    const opt_def *cut = strategy_opt(pgl, "cutover");
    assert_non_null(cut);
    assert_true(opt_check(cut, "approve", err, sizeof err));
    assert_false(opt_check(cut, "approv", err, sizeof err));
    assert_non_null(strstr(err, "--cutover must be one of auto|approve"));
    assert_false(opt_check(cut, "", err, sizeof err));
    /* '-' and '_' name the same option */
    assert_ptr_equal(strategy_opt(pgl, "cutover_method"), strategy_opt(pgl, "cutover-method"));
    assert_null(strategy_opt(pgl, "cutover-methods"));
    assert_false(opt_check(strategy_opt(pgl, "window"), "someday 25:00-26:00", err, sizeof err));
    assert_non_null(strstr(err, "--window"));
    assert_true(opt_check(strategy_opt(pgl, "window"), "mon-fri 02:00-04:00", err, sizeof err));
    assert_false(opt_check(strategy_opt(pgl, "catchup_stable_s"), "10s", err, sizeof err));
    assert_false(opt_check(strategy_opt(pgl, "catchup_stable_s"), "-1", err, sizeof err));
    assert_true(opt_check(strategy_opt(pgl, "catchup_stable_s"), "10", err, sizeof err));
    assert_true(opt_check(strategy_opt(pgl, "max_retained_wal_bytes"), "2GiB", err, sizeof err));
    assert_false(opt_check(strategy_opt(pgl, "max_retained_wal_bytes"), "2 parsecs", err, sizeof err));
    assert_true(opt_check(strategy_opt(pgl, "allow-reboot"), "true", err, sizeof err));
    assert_false(opt_check(strategy_opt(pgl, "allow-reboot"), "maybe", err, sizeof err));
    int64_t b = 0;
    assert_true(opt_parse_bytes("512MB", &b));
    assert_int_equal(b, 512LL * 1024 * 1024);
    assert_false(opt_parse_bytes("", &b));
}

static void test_opts_resolve(void **state)
{
    (void)state;
    const strategy_def *pgl = strategy_find("pg-logical");
    char *v[STRATEGY_MAX_OPTS];
    char err[256];
    const char *spec = "{\"cutover\":\"approve\",\"cutover_method\":\"proxy\",\"allow-reboot\":true,"
                       "\"seq_margin\":250,\"keep_snapshots\":false,\"unknown\":\"x\"}";
    assert_true(strategy_opts_resolve(pgl, spec, v, err, sizeof err));
    assert_string_equal(v[strategy_opt(pgl, "cutover") - pgl->opts], "approve");
    assert_string_equal(v[strategy_opt(pgl, "cutover-method") - pgl->opts], "proxy");
    assert_string_equal(v[strategy_opt(pgl, "allow-reboot") - pgl->opts], "1");
    assert_string_equal(v[strategy_opt(pgl, "seq_margin") - pgl->opts], "250");
    assert_string_equal(v[strategy_opt(pgl, "validate") - pgl->opts], "normal"); /* default */
    assert_string_equal(v[strategy_opt(pgl, "window") - pgl->opts], "");
    strategy_opts_free(pgl, v);
    assert_true(strategy_opts_resolve(pgl, "", v, err, sizeof err));
    assert_string_equal(v[strategy_opt(pgl, "prewarm") - pgl->opts], "on");
    strategy_opts_free(pgl, v);
    assert_false(strategy_opts_resolve(pgl, "{\"validate\":\"sloppy\"}", v, err, sizeof err));
    assert_non_null(strstr(err, "--validate"));
    assert_false(strategy_opts_resolve(pgl, "[1]", v, err, sizeof err));
    assert_false(strategy_opts_resolve(pgl, "{\"cutover\":[1]}", v, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_consistent),
        cmocka_unit_test(test_registry_binds_functions),
        cmocka_unit_test(test_opt_check),
        cmocka_unit_test(test_opts_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
