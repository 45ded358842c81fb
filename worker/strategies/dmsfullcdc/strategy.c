/* strategy — the step functions of strategy "dms-full-cdc" bound to the
 * steps of its descriptor (descriptor.c; dmsfullcdc.h says what each does):
 * its own (preflight; restore and prepare-target — pg-logical's, with
 * --dms-target empty's create and fence rows —; hold-target, start-task, catch-up, cutover, validate-keys), dms-cdc's
 * (prepare-source, replication-instance, endpoints, cleanup, abort) and
 * pg-logical's (snapshot, copy-encrypted, verify, replicas). No find-start-lsn: a full-load-and-cdc
 * task takes its own start (the load's snapshot). */
#include "dmsfullcdc.h"

#include "dmscdc.h"
#include "pglogical.h"
#include "util.h"

static const step_impl fns[] = {
    {"preflight", dfc_step_preflight},
    {"prepare-source", dms_step_prepare_source},
    {"snapshot", pgl_step_snapshot},
    {"copy-encrypted", pgl_step_copy_encrypted},
    {"restore", dfc_step_restore},
    {"prepare-target", dfc_step_prepare_target},
    {"hold-target", dfc_step_hold_target},
    {"replication-instance", dms_step_replication_instance},
    {"endpoints", dms_step_endpoints},
    {"start-task", dfc_step_start_task},
    {"catch-up", dfc_step_catch_up},
    {"cutover", dfc_step_cutover},
    {"validate-keys", dfc_step_validate_keys},
    {"verify", pgl_step_verify},
    {"replicas", pgl_step_replicas},
    {"cleanup", dms_step_cleanup},
    {"abort", dms_step_abort},
};

const strategy_impl fc_impl_dmsfullcdc = {&fc_strategy_dmsfullcdc, fns, FC_ARRAY_LEN(fns)};
