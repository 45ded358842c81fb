/* aws — mysql-binlog's RDS helpers beyond shared/awsstep.h (mb_common.h;
 * describe, ours-by-tags, rename and the bounded in-run wait are
 * awsstep's): delete our instances, our snapshots unless kept. */
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "util.h"

step_rc mb_delete_ours(step_ctx *ctx, step_result *res, const char *id, const char *role)
{
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = mb_describe(ctx, res, id, &missing, &rc);
    if (!i) return missing ? (res->reason[0] = 0, STEP_OK) : rc;
    bool ours = mb_is_ours(ctx, i, role);
    bool deleting = !strcmp(i->status, "deleting");
    rds_instance_free(i);
    if (!ours) {
        MB_REASON(res, "%s exists but is not fleetcrypt's %s: left alone", id, role);
        return STEP_FAIL;
    }
    if (deleting) return STEP_OK;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_delete_db_instance(step_ctx_aws(ctx), id, NULL, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 5000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", id);
            MB_REASON(res, "%s busy, retrying its deletion", id);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "DeleteDBInstance");
    }
    log_info("instance deleted", "instance=%s role=%s", id, role);
    return STEP_OK;
}

step_rc mb_delete_snapshots(step_ctx *ctx, step_result *res)
{
    const char *keep = step_ctx_campaign_field(ctx, "keep_snapshots");
    if (keep && (!strcmp(keep, "1") || !strcmp(keep, "true"))) return STEP_OK;
    const char *sfx[] = {MB_SFX_SNAP, MB_SFX_ENC};
    return awsstep_delete_snapshots(ctx, res, sfx, 2);
}
