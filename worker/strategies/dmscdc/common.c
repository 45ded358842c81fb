/* common — what dms-cdc's steps share (dmscdc_common.h). */
#include "dmscdc_common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "util.h"

#define DMS_MAX_TAGS 16

/* FNV-1a, 32 bits: the hash that keeps a shortened name unique. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

bool dms_instance_name_n(const char *campaign, int idx, char *out, size_t cap)
{
    if (!campaign || !*campaign || cap < 64 || idx < 1 || idx > 999) return false;
    char sfx[8] = "";
    if (idx > 1) snprintf(sfx, sizeof sfx, "-%d", idx);
    size_t extra = strlen(sfx);
    char body[128];
    size_t n = 0;
    for (const char *p = campaign; *p && n < sizeof body - 1; p++) {
        char ch = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)ch)) ch = '-';
        if (ch == '-' && (n == 0 || body[n - 1] == '-')) continue; /* no leading or double hyphen */
        body[n++] = ch;
    }
    while (n && body[n - 1] == '-') n--;
    body[n] = 0;
    bool cut = strlen(campaign) != n || strspn(campaign, "abcdefghijklmnopqrstuvwxyz0123456789-") != n;
    /* "fc-" + body + "-dms" + sfx fits 63 when body ≤ 56 - |sfx| */
    if (n > 56 - extra || cut) {
        if (n > 47 - extra) n = 47 - extra;
        while (n && body[n - 1] == '-') n--;
        body[n] = 0;
        snprintf(out, cap, "fc-%s%s%08x-dms%s", body, n ? "-" : "", fnv1a(campaign), sfx);
    } else {
        snprintf(out, cap, "fc-%s-dms%s", body, sfx);
    }
    return true;
}

bool dms_instance_name(const char *campaign, char *out, size_t cap)
{
    return dms_instance_name_n(campaign, 1, out, cap);
}

char *dms_table_mappings(const char *exclude_schema)
{
    json_t *rules = json_pack("[{s:s,s:s,s:s,s:{s:s,s:s},s:s}]", "rule-type", "selection", "rule-id", "1",
                              "rule-name", "every-table", "object-locator", "schema-name", "%", "table-name", "%",
                              "rule-action", "include");
    if (rules && exclude_schema && *exclude_schema)
        json_array_append_new(rules, json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:s}", "rule-type", "selection", "rule-id",
                                               "2", "rule-name", "not-fleetcrypt", "object-locator", "schema-name",
                                               exclude_schema, "table-name", "%", "rule-action", "exclude"));
    json_t *o = rules ? json_pack("{s:o}", "rules", rules) : NULL;
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *dms_task_settings(const char *control_schema)
{
    json_t *o = json_pack("{s:{s:s,s:b,s:b,s:i},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:b}}",
                          "TargetMetadata", "TargetSchema", "", "SupportLobs", 1, "FullLobMode", 1, "LobChunkSize", 64,
                          "FullLoadSettings", "TargetTablePrepMode", "DO_NOTHING",
                          "ControlTablesSettings", "ControlSchema", control_schema ? control_schema : "",
                          "ErrorBehavior", "ApplyErrorInsertPolicy", "LOG_ERROR", "DataErrorPolicy", "LOG_ERROR",
                          "Logging", "EnableLogging", 1);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *dms_validation_settings(const char *control_schema)
{
    json_t *o = json_pack("{s:{s:s},s:{s:s},s:{s:b,s:b,s:s,s:i},s:{s:b}}",
                          "FullLoadSettings", "TargetTablePrepMode", "DO_NOTHING",
                          "ControlTablesSettings", "ControlSchema", control_schema ? control_schema : "",
                          "ValidationSettings", "EnableValidation", 1, "ValidationOnly", 1, "ValidationMode",
                          "ROW_LEVEL", "FailureMaxCount", 10000, "Logging", "EnableLogging", 1);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

bool dms_validation_wanted(step_ctx *ctx, bool *only)
{
    const char *v = step_ctx_opt(ctx, "dms-validation");
    if (!v || !*v) v = "fleetcrypt";
    if (only) *only = !strcmp(v, "dms");
    return !strcmp(v, "dms") || !strcmp(v, "both");
}

void dms_res_name(step_ctx *ctx, const char *sfx, int k, char *out, size_t cap)
{
    char s[32];
    snprintf(s, sizeof s, "%s%d", sfx, k);
    awsstep_name(ctx, s, out, cap);
}

step_rc dms_fail(step_result *res, const aws_error *e, const char *what)
{
    if (!strcmp(e->code, "InvalidResourceStateFault")) {
        res->wait_ms = 10000;
        snprintf(res->reason, sizeof res->reason, "%s: busy: %.300s", what, e->message);
        return STEP_WAIT;
    }
    return awsstep_fail(res, e, what);
}

/* Tags of a DMS resource: fleetcrypt's (awsstep_tags) as parallel arrays. */
typedef struct dms_tags {
    aws_tag t[DMS_MAX_TAGS];
    const char *k[DMS_MAX_TAGS], *v[DMS_MAX_TAGS];
    size_t n;
} dms_tags;

static void tags_of(step_ctx *ctx, const char *role, dms_tags *dt)
{
    dt->n = awsstep_tags(ctx, role, dt->t, DMS_MAX_TAGS);
    for (size_t i = 0; i < dt->n; i++) {
        dt->k[i] = dt->t[i].key;
        dt->v[i] = dt->t[i].value;
    }
}

int dms_instance_index(step_ctx *ctx)
{
    int64_t n = pgl_fact_i64(ctx, "dms_ri_index", 1);
    return n >= 1 && n <= 999 ? (int)n : 1;
}

step_rc dms_ensure_instance(step_ctx *ctx, step_result *res)
{
    char id[DMS_NAME_MAX];
    int idx = dms_instance_index(ctx);
    if (!dms_instance_name_n(step_ctx_campaign(ctx), idx, id, sizeof id)) {
        PGL_REASON(res, "no DMS replication instance name for campaign %s", step_ctx_campaign(ctx));
        return STEP_FAIL;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    dms_instance ri;
    aws_error e;
    aws_error_clear(&e);
    bool have = dms_describe_instance(c, id, &ri, &e);
    if (!have && e.kind != AWS_ERR_NOT_FOUND) return dms_fail(res, &e, "DescribeReplicationInstances");
    if (!have) {
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        dms_tags dt;
        tags_of(ctx, "dms-replication-instance", &dt);
        /* the instance is the campaign's: no instance tag on it */
        size_t nt = 0;
        for (size_t i = 0; i < dt.n; i++)
            if (strcmp(dt.k[i], "fleetcrypt:instance")) {
                dt.k[nt] = dt.k[i];
                dt.v[nt++] = dt.v[i];
            }
        char sgs_buf[512];
        fc_strlcpy(sgs_buf, step_ctx_opt(ctx, "dms_security_groups"), sizeof sgs_buf);
        const char *sgs[8];
        size_t nsg = 0;
        char *save = NULL;
        for (char *tok = strtok_r(sgs_buf, ", ", &save); tok && nsg < 8; tok = strtok_r(NULL, ", ", &save))
            sgs[nsg++] = tok;
        dms_instance_spec sp = {.id = id,
                                .instance_class = step_ctx_opt(ctx, "dms-instance-class"),
                                .allocated_storage = (int)step_ctx_opt_i64(ctx, "dms_storage_gb", 50),
                                .subnet_group = step_ctx_opt(ctx, "dms_subnet_group"),
                                .security_groups = sgs,
                                .nsecurity_groups = nsg,
                                .tag_keys = dt.k,
                                .tag_values = dt.v,
                                .ntags = nt};
        if (!sp.instance_class || !*sp.instance_class) sp.instance_class = "dms.t3.medium";
        aws_error_clear(&e);
        if (!dms_create_instance(c, &sp, &ri, &e)) {
            if (idx > 1 && !strcmp(e.code, "ResourceQuotaExceededFault")) {
                /* no room for another replication instance: back in line
                 * for the first one (its tasks end as instances cut over) */
                step_ctx_set_fact(ctx, "dms_ri_index", "1");
                res->wait_ms = 30000;
                PGL_REASON(res, "DMS replication instance quota reached: waiting for room on %s's instances",
                           step_ctx_campaign(ctx));
                return STEP_WAIT;
            }
            if (strcmp(e.code, "ResourceAlreadyExistsFault")) return dms_fail(res, &e, "CreateReplicationInstance");
            /* another instance of the campaign made it first */
            aws_error_clear(&e);
            if (!dms_describe_instance(c, id, &ri, &e)) return dms_fail(res, &e, "DescribeReplicationInstances");
        } else {
            log_info("DMS replication instance created", "dms_instance=%s class=%s", id, sp.instance_class);
        }
    }
    step_ctx_set_fact(ctx, "dms_instance_id", id);
    if (!strcmp(ri.status, "available")) {
        step_ctx_set_fact(ctx, "dms_instance_arn", ri.arn);
        return STEP_OK;
    }
    if (!strcmp(ri.status, "failed") || !strcmp(ri.status, "incompatible-network") ||
        !strcmp(ri.status, "storage-full")) {
        PGL_REASON(res, "DMS replication instance %s is %s", id, ri.status);
        return STEP_FAIL;
    }
    res->wait_ms = 10000;
    PGL_REASON(res, "waiting for DMS replication instance %s (%s)", id, ri.status);
    return STEP_WAIT;
}

/* Delete replication instance id when no task is on it; *deleted says so. */
static step_rc release_one(step_ctx *ctx, step_result *res, const char *id, bool *deleted)
{
    *deleted = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    dms_instance ri;
    aws_error e;
    aws_error_clear(&e);
    if (!dms_describe_instance(c, id, &ri, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND) return STEP_OK;
        return dms_fail(res, &e, "DescribeReplicationInstances");
    }
    if (!strcmp(ri.status, "deleting")) return STEP_OK;
    int ntasks = 0;
    aws_error_clear(&e);
    if (!dms_count_tasks_on_instance(c, ri.arn, &ntasks, &e)) return dms_fail(res, &e, "DescribeReplicationTasks");
    if (ntasks > 0) {
        log_info("DMS replication instance kept: other instances' tasks use it", "dms_instance=%s tasks=%d", id,
                 ntasks);
        return STEP_OK;
    }
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error_clear(&e);
    if (!dms_delete_instance(c, ri.arn, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        if (!strcmp(e.code, "InvalidResourceStateFault")) return STEP_OK; /* being deleted, or in use again */
        return dms_fail(res, &e, "DeleteReplicationInstance");
    }
    log_info("DMS replication instance deleted: no task left on it", "dms_instance=%s", id);
    *deleted = true;
    return STEP_OK;
}

step_rc dms_release_instance(step_ctx *ctx, step_result *res)
{
    /* this instance's replication instance, and every one of the campaign
     * it passed over: one of its never-started tasks may have kept such an
     * instance from being deleted by its last user before it was gone */
    for (int idx = dms_instance_index(ctx); idx >= 1; idx--) {
        char id[DMS_NAME_MAX];
        if (!dms_instance_name_n(step_ctx_campaign(ctx), idx, id, sizeof id)) return STEP_OK;
        bool deleted = false;
        step_rc rc = release_one(ctx, res, id, &deleted);
        if (rc != STEP_OK) return rc;
        if (deleted && idx == dms_instance_index(ctx)) step_ctx_set_fact(ctx, "dms_instance_deleted", "1");
    }
    return STEP_OK;
}

step_rc dms_task_of(step_ctx *ctx, step_result *res, int k, dms_task *t, bool *found)
{
    return dms_task_named(ctx, res, "cdc", k, t, found);
}

step_rc dms_task_named(step_ctx *ctx, step_result *res, const char *sfx, int k, dms_task *t, bool *found)
{
    char id[DMS_NAME_MAX];
    dms_res_name(ctx, sfx, k, id, sizeof id);
    *found = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    aws_error e;
    aws_error_clear(&e);
    if (dms_describe_task(c, id, t, &e)) {
        *found = true;
        return STEP_OK;
    }
    if (e.kind == AWS_ERR_NOT_FOUND) return STEP_OK;
    return dms_fail(res, &e, "DescribeReplicationTasks");
}

static int ndbs_of(step_ctx *ctx)
{
    const char *d = pgl_fact(ctx, "dbs");
    if (!*d) return 0;
    int n = 1;
    for (; *d; d++) n += *d == '\n';
    return n;
}

step_rc dms_teardown(step_ctx *ctx, step_result *res)
{
    if (!strcmp(pgl_fact(ctx, "dms_torn_down"), "1")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    int n = ndbs_of(ctx);
    bool pending = false;
    aws_error e;
    for (int j = 0; j < 2 * n; j++) {
        int k = j / 2 + 1;
        dms_task t;
        bool found = false;
        step_rc rc = dms_task_named(ctx, res, j % 2 ? "val" : "cdc", k, &t, &found);
        if (rc != STEP_OK) return rc;
        if (!found) continue;
        pending = true;
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        aws_error_clear(&e);
        if (!strcmp(t.status, "running") || !strcmp(t.status, "starting")) {
            if (!dms_stop_task(c, t.arn, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND &&
                strcmp(e.code, "InvalidResourceStateFault"))
                return dms_fail(res, &e, "StopReplicationTask");
        } else if (strcmp(t.status, "stopping") && strcmp(t.status, "deleting")) {
            if (!dms_delete_task(c, t.arn, &e) && e.kind != AWS_ERR_NOT_FOUND &&
                strcmp(e.code, "InvalidResourceStateFault"))
                return dms_fail(res, &e, "DeleteReplicationTask");
        }
    }
    if (pending) {
        res->wait_ms = 3000;
        PGL_REASON(res, "waiting for the DMS tasks to stop and be deleted");
        return STEP_WAIT;
    }
    for (int k = 1; k <= n; k++) {
        const char *sfx[] = {"src", "tgt"};
        for (int j = 0; j < 2; j++) {
            char id[DMS_NAME_MAX];
            dms_res_name(ctx, sfx[j], k, id, sizeof id);
            dms_endpoint ep;
            aws_error_clear(&e);
            if (!dms_describe_endpoint(c, id, &ep, &e)) {
                if (e.kind == AWS_ERR_NOT_FOUND) continue;
                return dms_fail(res, &e, "DescribeEndpoints");
            }
            pending = true;
            if (!strcmp(ep.status, "deleting")) continue;
            if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
            aws_error_clear(&e);
            if (!dms_delete_endpoint(c, ep.arn, &e) && e.kind != AWS_ERR_NOT_FOUND)
                return dms_fail(res, &e, "DeleteEndpoint");
        }
    }
    if (pending) {
        res->wait_ms = 2000;
        PGL_REASON(res, "waiting for the DMS endpoints to be deleted");
        return STEP_WAIT;
    }
    step_ctx_set_fact(ctx, "dms_torn_down", "1");
    log_info("DMS tasks and endpoints deleted", "databases=%d", n);
    return STEP_OK;
}
