/* instances — pg-logical's helpers for RDS instances (pglogical_common.h):
 * describe one, tell ours by its tags, rename one and wait until it
 * answers under its new name (the rename cutover, abort's roll-back, the
 * replicas step), and learn a source read replica's settings as facts
 * replica.<k>.* (preflight) for the replicas step to re-create it. */
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "util.h"

/* ---------------------------------------------------------------- AWS */
rds_instance *pgl_describe(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc)
{
    *missing = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) {
        PGL_REASON(res, "no AWS client");
        *rc = STEP_RETRY;
        return NULL;
    }
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_instance(c, id, &i, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND) {
            *missing = true;
            PGL_REASON(res, "instance %s not found", id);
            *rc = STEP_FAIL;
            return NULL;
        }
        *rc = awsstep_fail(res, &e, "DescribeDBInstances");
        return NULL;
    }
    return i;
}

bool pgl_has_tag(const rds_instance *i, const char *key, const char *value)
{
    for (size_t n = 0; n < i->n_tags; n++)
        if (!strcmp(i->tags[n].key, key) && (!value || !strcmp(i->tags[n].value, value))) return true;
    return false;
}

bool pgl_is_ours(step_ctx *ctx, const rds_instance *i, const char *role)
{
    return pgl_has_tag(i, "fleetcrypt:campaign", step_ctx_campaign(ctx)) &&
           pgl_has_tag(i, "fleetcrypt:instance", step_ctx_instance(ctx)) &&
           (!role || pgl_has_tag(i, "fleetcrypt:role", role));
}

/* ---------------------------------------------------------------- renames, read replicas */
step_rc pgl_rename(step_ctx *ctx, step_result *res, const char *from, const char *to)
{
    aws_client *a = step_ctx_aws(ctx);
    if (!a) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
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
            PGL_REASON(res, "%s busy, retrying the rename to %s", from, to);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "ModifyDBInstance (rename)");
    }
    log_info("rename requested", "from=%s to=%s", from, to);
    return STEP_OK;
}

step_rc pgl_await_instance(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                           rds_instance **out)
{
    *out = NULL;
    /* 0.5 s, growing by half up to 8 s: a rename that takes seconds is seen
     * at once, one that takes minutes (real AWS) costs a dozen calls, not a
     * call every half second; past the deadline the fleet poller takes over */
    int64_t pause = 500;
    for (;;) {
        bool missing = false;
        step_rc rc = STEP_OK;
        rds_instance *i = pgl_describe(ctx, res, id, &missing, &rc);
        if (!i && !missing) return rc;
        if (i && !strcmp(i->status, "available") && (!role || pgl_is_ours(ctx, i, role)) &&
            i->endpoint_address[0] && i->port > 0) {
            res->reason[0] = 0;
            *out = i;
            return STEP_OK;
        }
        rds_instance_free(i);
        if (fc_mono_ms() > deadline) {
            res->wait_ms = 2000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", id);
            PGL_REASON(res, "waiting for %s to be available", id);
            return STEP_WAIT;
        }
        fc_sleep_ms(pause);
        pause = pause * 3 / 2 > 8000 ? 8000 : pause * 3 / 2;
    }
}

void pgl_learn_replica(step_ctx *ctx, int k, const rds_instance *r)
{
    char f[64];
#define RFACT(name) (snprintf(f, sizeof f, "replica.%d." name, k), f)
    step_ctx_set_fact(ctx, RFACT("id"), r->identifier);
    step_ctx_set_fact(ctx, RFACT("class"), r->instance_class);
    step_ctx_set_fact(ctx, RFACT("az"), r->availability_zone);
    step_ctx_set_factf(ctx, RFACT("multi_az"), "%d", r->multi_az ? 1 : 0);
    step_ctx_set_fact(ctx, RFACT("param_group"), r->n_param_groups ? r->param_groups[0].name : "");
    step_ctx_set_factf(ctx, RFACT("port"), "%d", r->port);
    step_ctx_set_fact(ctx, RFACT("storage_type"), r->storage_type);
    char sgs[512];
    awsstep_sgs_text(r, sgs, sizeof sgs);
    step_ctx_set_fact(ctx, RFACT("sgs"), sgs);
    char tags[1024];
    if (awsstep_user_tags_text(r, tags, sizeof tags)) step_ctx_set_fact(ctx, RFACT("tags"), tags);
#undef RFACT
}
