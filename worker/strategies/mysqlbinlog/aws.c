/* aws — mysql-binlog's RDS helpers beyond shared/awsstep.h (mb_common.h):
 * describe, ours-by-tags, rename, bounded in-run wait, delete our
 * instances and snapshots. */
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "util.h"

rds_instance *mb_describe(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc)
{
    *missing = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) {
        MB_REASON(res, "no AWS client");
        *rc = STEP_RETRY;
        return NULL;
    }
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_instance(c, id, &i, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND) {
            *missing = true;
            MB_REASON(res, "instance %s not found", id);
            *rc = STEP_FAIL;
            return NULL;
        }
        *rc = awsstep_fail(res, &e, "DescribeDBInstances");
        return NULL;
    }
    return i;
}

bool mb_has_tag(const rds_instance *i, const char *key, const char *value)
{
    for (size_t n = 0; n < i->n_tags; n++)
        if (!strcmp(i->tags[n].key, key) && (!value || !strcmp(i->tags[n].value, value))) return true;
    return false;
}

bool mb_is_ours(step_ctx *ctx, const rds_instance *i, const char *role)
{
    return mb_has_tag(i, "fleetcrypt:campaign", step_ctx_campaign(ctx)) &&
           mb_has_tag(i, "fleetcrypt:instance", step_ctx_instance(ctx)) &&
           (!role || mb_has_tag(i, "fleetcrypt:role", role));
}

step_rc mb_rename(step_ctx *ctx, step_result *res, const char *from, const char *to)
{
    aws_client *a = step_ctx_aws(ctx);
    if (!a) return (MB_REASON(res, "no AWS client"), STEP_RETRY);
    if (!step_ctx_lease_ok(ctx)) return (MB_REASON(res, "lease lost"), STEP_RETRY);
    rds_modify_instance_opts o;
    rds_modify_instance_opts_init(&o);
    o.identifier = from;
    o.new_identifier = to;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_modify_db_instance(a, &o, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 2000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", from);
            MB_REASON(res, "%s busy, retrying the rename to %s", from, to);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "ModifyDBInstance (rename)");
    }
    log_info("rename requested", "from=%s to=%s", from, to);
    return STEP_OK;
}

step_rc mb_await_instance(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                          rds_instance **out)
{
    *out = NULL;
    int64_t pause = 500;
    for (;;) {
        bool missing = false;
        step_rc rc = STEP_OK;
        rds_instance *i = mb_describe(ctx, res, id, &missing, &rc);
        if (!i && !missing) return rc;
        if (i && !strcmp(i->status, "available") && (!role || mb_is_ours(ctx, i, role)) && i->endpoint_address[0] &&
            i->port > 0) {
            res->reason[0] = 0;
            *out = i;
            return STEP_OK;
        }
        rds_instance_free(i);
        if (fc_mono_ms() > deadline) {
            res->wait_ms = 2000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", id);
            MB_REASON(res, "waiting for %s to be available", id);
            return STEP_WAIT;
        }
        fc_sleep_ms(pause);
        pause = pause * 3 / 2 > 8000 ? 8000 : pause * 3 / 2;
    }
}

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
    if (!step_ctx_lease_ok(ctx)) return (MB_REASON(res, "lease lost"), STEP_RETRY);
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
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (MB_REASON(res, "no AWS client"), STEP_RETRY);
    const char *sfx[] = {MB_SFX_SNAP, MB_SFX_ENC};
    for (size_t k = 0; k < 2; k++) {
        char id[64];
        awsstep_name(ctx, sfx[k], id, sizeof id);
        rds_snapshot *sn = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (!rds_describe_db_snapshot(c, id, &sn, &e)) {
            if (e.kind == AWS_ERR_NOT_FOUND) continue;
            return awsstep_fail(res, &e, "DescribeDBSnapshots");
        }
        bool ours = false;
        for (size_t t = 0; t < sn->n_tags; t++)
            if (!strcmp(sn->tags[t].key, "fleetcrypt:instance") && !strcmp(sn->tags[t].value, step_ctx_instance(ctx)))
                ours = true;
        bool busy = strcmp(sn->status, "available") != 0 && strcmp(sn->status, "failed") != 0;
        rds_snapshot_free(sn);
        if (!ours) continue;
        if (busy) {
            res->wait_ms = 5000;
            snprintf(res->wait_on, sizeof res->wait_on, "snap:%s", id);
            MB_REASON(res, "waiting for snapshot %s to settle before deleting it", id);
            return STEP_WAIT;
        }
        if (!step_ctx_lease_ok(ctx)) return (MB_REASON(res, "lease lost"), STEP_RETRY);
        aws_error_clear(&e);
        if (!rds_delete_db_snapshot(c, id, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
            if (!strcmp(e.code, "InvalidDBSnapshotState")) {
                res->wait_ms = 5000;
                MB_REASON(res, "snapshot %s busy: %.300s", id, e.message);
                return STEP_WAIT;
            }
            return awsstep_fail(res, &e, "DeleteDBSnapshot");
        }
        log_info("snapshot deleted", "snapshot=%s", id);
    }
    return STEP_OK;
}
