/* descriptor — strategy "noop" (noop.h). */
#include "noop.h"

#include "util.h"

static const step_def steps[] = {
    /* name    next      class  deadline attempts on_fail */
    {"begin", "middle", NULL, 60, 8, NULL},
    {"middle", "end", NULL, 60, 8, NULL},
    {"end", NULL, NULL, 60, 8, NULL},
};

static const opt_def opts[] = {
    /* name     type     allowed      default validator help */
    {"hold_s", OPT_INT, "0..86400", "", NULL,
     "each step waits (STEP_WAIT) until this many seconds after its first run, so instances stay in flight "
     "(memory benchmark); 0 or unset: return at once",
     true},
};

const strategy_def fc_strategy_noop = {
    .name = "noop",
    .summary = "test-only: three steps that return at once; no AWS or database call (control-plane benchmark)",
    .engines = "postgres mysql aurora-postgresql aurora-mysql",
    .steps = steps,
    .nsteps = FC_ARRAY_LEN(steps),
    .opts = opts,
    .nopts = FC_ARRAY_LEN(opts),
    .quota_instances = 0,
    .quota_snapshots = 0,
    .uses_aws = false,
    .abort_undo = NULL,
    .downtime_note = "noop: nothing is touched (a test strategy: no AWS call, no database)",
    .dry_run_note = "noop touches nothing",
    .required_param = NULL,
    .required_value = NULL,
};
