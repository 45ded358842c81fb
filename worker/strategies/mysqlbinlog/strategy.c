/* strategy — the step functions of strategy "mysql-binlog" bound to the
 * steps of its descriptor (descriptor.c; mysqlbinlog.h says how it works).
 * Campaign fields read: kms_key_arn, keep_snapshots; options through
 * step_ctx_opt (descriptor.c). */
#include "mysqlbinlog.h"

#include "util.h"

static const step_impl fns[] = {
    {"preflight", mb_step_preflight},
    {"prepare-source", mb_step_prepare_source},
    {"replica", mb_step_replica},
    {"snapshot", mb_step_snapshot},
    {"copy-encrypted", mb_step_copy_encrypted},
    {"restore", mb_step_restore},
    {"find-binlog-position", mb_step_find_position},
    {"replicate", mb_step_replicate},
    {"catch-up", mb_step_catch_up},
    {"cutover", mb_step_cutover},
    {"verify", mb_step_verify},
    {"cleanup", mb_step_cleanup},
    {"abort", mb_step_abort},
};

const strategy_impl fc_impl_mysqlbinlog = {&fc_strategy_mysqlbinlog, fns, FC_ARRAY_LEN(fns)};
