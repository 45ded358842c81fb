/* strategy — the step functions of strategy "dms-cdc" bound to the steps of
 * its descriptor (descriptor.c; dmscdc.h says what each does). The AWS and
 * database steps identical to pg-logical's are pg-logical's own functions
 * (pglogical.h): snapshot, copy-encrypted, restore, prepare-target,
 * find-start-lsn (the restored instance's exact end of WAL) and replicas
 * (verify is pg-logical's after DMS's validation result, validate.c); they see dms-cdc's test_decoding slot under pg-logical's slot
 * name. The engine hooks pg-logical's strategy.c lists (approval, abort,
 * failure undo) hold for dms-cdc as well. */
#include "dmscdc.h"

#include "pglogical.h"
#include "util.h"

static const step_impl fns[] = {
    {"preflight", dms_step_preflight},
    {"prepare-source", dms_step_prepare_source},
    {"snapshot", pgl_step_snapshot},
    {"copy-encrypted", pgl_step_copy_encrypted},
    {"restore", pgl_step_restore},
    {"prepare-target", pgl_step_prepare_target},
    {"find-start-lsn", pgl_step_find_start_lsn},
    {"replication-instance", dms_step_replication_instance},
    {"endpoints", dms_step_endpoints},
    {"start-task", dms_step_start_task},
    {"catch-up", dms_step_catch_up},
    {"cutover", dms_step_cutover},
    {"verify", dms_step_verify},
    {"replicas", pgl_step_replicas},
    {"cleanup", dms_step_cleanup},
    {"abort", dms_step_abort},
};

const strategy_impl fc_impl_dmscdc = {&fc_strategy_dmscdc, fns, FC_ARRAY_LEN(fns)};
