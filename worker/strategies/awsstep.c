/* awsstep — see awsstep.h. */
#include "awsstep.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

step_rc awsstep_fail(step_result *res, const aws_error *e, const char *what)
{
    snprintf(res->reason, sizeof res->reason, "%s: %s: %.300s", what, e->code, e->message);
    switch (e->kind) {
    case AWS_ERR_THROTTLE:
    case AWS_ERR_TRANSIENT:
        return STEP_RETRY;
    case AWS_ERR_AUTH:
    case AWS_ERR_NOT_FOUND:
    case AWS_ERR_PERMANENT:
    default:
        return STEP_FAIL;
    }
}

static bool in_list(const char *s, const char *const *l)
{
    for (; l && *l; l++)
        if (!strcmp(s, *l)) return true;
    return false;
}

step_rc awsstep_await(step_ctx *ctx, step_result *res, const char *kind, const char *id,
                      const char *since_fact, const char *const *ok, const char *const *bad,
                      step_cache_view *v)
{
    int64_t since = awsstep_fact_i64(ctx, since_fact, 0);
    int64_t now = fc_now_ms();
    snprintf(res->wait_on, sizeof res->wait_on, "%s:%s", kind, id);
    if (!step_ctx_cache(ctx, kind, id, since, v)) {
        res->wait_ms = 2000;
        snprintf(res->reason, sizeof res->reason, "redis unavailable for the poll cache");
        return STEP_WAIT;
    }
    if (v->fresh && v->present) {
        if (in_list(v->status, ok)) return STEP_OK;
        if (in_list(v->status, bad)) {
            snprintf(res->reason, sizeof res->reason, "%s %s is %s", kind, id, v->status);
            return STEP_FAIL;
        }
    }
    int64_t w = v->next_poll_ms > now ? v->next_poll_ms - now + 300 : 1200;
    if (w < 500) w = 500;
    if (w > 600000) w = 600000;
    res->wait_ms = w;
    snprintf(res->reason, sizeof res->reason, "waiting for %s %s (%s)", kind, id,
             v->present ? v->status : "not seen yet");
    return STEP_WAIT;
}

void awsstep_name(step_ctx *ctx, const char *suffix, char *out, size_t cap)
{
    if (!step_resource_name(step_ctx_campaign(ctx), step_ctx_instance(ctx), suffix, out, cap))
        snprintf(out, cap, "fc-invalid");
}

size_t awsstep_tags(step_ctx *ctx, const char *role, aws_tag *t, size_t cap)
{
    size_t n = 0;
    if (n < cap) {
        fc_strlcpy(t[n].key, "fleetcrypt:campaign", sizeof t[n].key);
        fc_strlcpy(t[n].value, step_ctx_campaign(ctx), sizeof t[n].value);
        n++;
    }
    if (n < cap) {
        fc_strlcpy(t[n].key, "fleetcrypt:instance", sizeof t[n].key);
        fc_strlcpy(t[n].value, step_ctx_instance(ctx), sizeof t[n].value);
        n++;
    }
    if (n < cap) {
        fc_strlcpy(t[n].key, "fleetcrypt:role", sizeof t[n].key);
        fc_strlcpy(t[n].value, role, sizeof t[n].value);
        n++;
    }
    return n;
}

step_rc awsstep_promote_target(step_ctx *ctx, step_result *res, const char *id)
{
    if (step_ctx_fact(ctx, "target_promoted")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (snprintf(res->reason, sizeof res->reason, "no AWS client"), STEP_RETRY);
    aws_error e;
    aws_error_clear(&e);
    rds_instance *i = NULL;
    if (!rds_describe_db_instance(c, id, &i, &e)) return awsstep_fail(res, &e, "DescribeDBInstances (promote target)");
    bool target = false;
    for (size_t k = 0; k < i->n_tags; k++)
        if (!strcmp(i->tags[k].key, "fleetcrypt:role") && !strcmp(i->tags[k].value, "encrypted-target")) target = true;
    char arn[sizeof i->arn];
    fc_strlcpy(arn, i->arn, sizeof arn);
    rds_instance_free(i);
    if (target) {
        if (!step_ctx_lease_ok(ctx))
            return (snprintf(res->reason, sizeof res->reason, "lease lost before tagging"), STEP_RETRY);
        aws_tag tag;
        fc_strlcpy(tag.key, "fleetcrypt:role", sizeof tag.key);
        fc_strlcpy(tag.value, "encrypted", sizeof tag.value);
        if (!rds_add_tags_to_resource(c, arn, &tag, 1, &e)) return awsstep_fail(res, &e, "AddTagsToResource (promote target)");
    }
    step_ctx_set_fact(ctx, "target_promoted", "1");
    return STEP_OK;
}

void awsstep_mark(step_ctx *ctx, const char *fact)
{
    step_ctx_set_factf(ctx, fact, "%lld", (long long)fc_now_ms());
}

int64_t awsstep_fact_i64(step_ctx *ctx, const char *fact, int64_t dflt)
{
    const char *v = step_ctx_fact(ctx, fact);
    if (!v || !*v) return dflt;
    return strtoll(v, NULL, 10);
}

bool awsstep_same_key(const char *key, const char *want)
{
    if (!key || !*key || !want || !*want) return false;
    if (!strcmp(key, want)) return true;
    const char *a = strrchr(key, '/'), *b = strrchr(want, '/');
    return a && b && !strcmp(a, b) && !strstr(key, "alias/") && !strstr(want, "alias/");
}
