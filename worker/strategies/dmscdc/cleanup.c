/* cleanup — dms-cdc's steps `cleanup` and `abort`.
 *
 * cleanup: this instance's DMS tasks (stopped by the cutover) and endpoints
 * deleted and awaited gone (fact dms_torn_down), the campaign's replication
 * instance deleted when no task is left on it — the campaign's last
 * instance to get here deletes it; one whose tasks still exist keeps it
 * (fact dms_released) — then pg-logical's cleanup (read replicas first,
 * the master secret followed, fleetcrypt's objects and roles on both
 * sides, the target promoted, snapshots deleted unless kept, the retired
 * source tagged and stopped: fact retired_id, the fc-…-retired name after a
 * rename swap, the source's own identifier with --cutover-method proxy or
 * cname).
 * abort: before the switch, the DMS resources first (a task must not read a
 * slot that is being dropped, nor apply into a target being deleted), then
 * pg-logical's abort (a half rename rolled back, a proxy that lost the
 * source given it back, the CNAME's value and TTL restored, writers back on the
 * source, slot, publication, guard and roles dropped, the target and the
 * snapshots deleted); after the switch pg-logical's abort refuses and the
 * instance finishes forward. Both idempotent. */
#include "dmscdc.h"
#include "dmscdc_common.h"

#include <string.h>

#include "log.h"
#include "pglogical.h"
#include "util.h"

static step_rc release_dms(step_ctx *ctx, step_result *res)
{
    step_rc rc = dms_teardown(ctx, res);
    if (rc != STEP_OK) return rc;
    if (step_ctx_fact(ctx, "dms_released")) return STEP_OK;
    if ((rc = dms_release_instance(ctx, res)) != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "dms_released", "1");
    return STEP_OK;
}

step_rc dms_step_cleanup(step_ctx *ctx, step_result *res)
{
    step_rc rc = release_dms(ctx, res);
    if (rc != STEP_OK) return rc;
    return pgl_step_cleanup(ctx, res);
}

step_rc dms_step_abort(step_ctx *ctx, step_result *res)
{
    if (strcmp(pgl_fact(ctx, "switched"), "1")) {
        step_rc rc = release_dms(ctx, res);
        if (rc != STEP_OK) {
            log_warn("abort: DMS resources not released yet", "rc=%s reason=\"%s\"", step_rc_name(rc), res->reason);
            return rc;
        }
    }
    return pgl_step_abort(ctx, res);
}
