/* secrets — see secrets.h. The secret passes through: the HTTP response
 * buffer (wiped), jansson's string (wiped before decref) and our copy. */
#include "secrets.h"

#include <stdlib.h>
#include <string.h>

#include "awsjson.h"
#include "util.h"

void secret_value_free(secret_value *s)
{
    if (!s) return;
    if (s->string) {
        fc_wipe(s->string, s->len);
        free(s->string);
    }
    fc_wipe(s, sizeof(*s));
    free(s);
}

static void wipe_json_string(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) fc_wipe((void *)json_string_value(v), json_string_length(v));
}

static bool get_value(aws_client *c, const char *id, const char *version_stage, const char *version_id,
                      secret_value **out, aws_error *err)
{
    json_t *req = json_pack("{s:s}", "SecretId", id ? id : "");
    json_t *resp = NULL;
    secret_value *s = NULL;
    bool ok = false;
    *out = NULL;
    if (!req) goto oom;
    if (version_stage) json_object_set_new(req, "VersionStage", json_string(version_stage));
    if (version_id) json_object_set_new(req, "VersionId", json_string(version_id));
    if (!aws_json_call(c, AWS_SVC_SECRETS, "GetSecretValue", req, true, &resp, err)) goto cleanup;
    s = calloc(1, sizeof(*s));
    if (!s) goto oom;
    aws_json_str(resp, "ARN", s->arn, sizeof(s->arn));
    aws_json_str(resp, "Name", s->name, sizeof(s->name));
    aws_json_str(resp, "VersionId", s->version_id, sizeof(s->version_id));
    const json_t *v = json_object_get(resp, "SecretString");
    if (json_is_string(v)) {
        s->len = json_string_length(v);
        s->string = malloc(s->len + 1);
        if (!s->string) goto oom;
        memcpy(s->string, json_string_value(v), s->len);
        s->string[s->len] = 0;
    }
    *out = s;
    s = NULL;
    ok = true;
    goto cleanup;
oom:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
cleanup:
    secret_value_free(s);
    if (resp) {
        wipe_json_string(resp, "SecretString");
        wipe_json_string(resp, "SecretBinary");
    }
    json_decref(resp);
    json_decref(req);
    return ok;
}

bool secrets_get_value(aws_client *c, const char *id, const char *version_stage,
                       secret_value **out, aws_error *err)
{
    return get_value(c, id, version_stage, NULL, out, err);
}

bool secrets_get_value_version(aws_client *c, const char *id, const char *version_id,
                               secret_value **out, aws_error *err)
{
    return get_value(c, id, NULL, version_id, out, err);
}

static int64_t epoch_ms(const json_t *resp, const char *key)
{
    double v = 0;
    return aws_json_number(resp, key, &v) ? (int64_t)(v * 1000.0) : 0;
}

bool secrets_describe(aws_client *c, const char *id, secret_desc *out, aws_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *req = json_pack("{s:s}", "SecretId", id ? id : "");
    json_t *resp = NULL;
    if (!req) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    bool ok = aws_json_call(c, AWS_SVC_SECRETS, "DescribeSecret", req, false, &resp, err);
    json_decref(req);
    if (!ok) return false;
    aws_json_str(resp, "ARN", out->arn, sizeof out->arn);
    aws_json_str(resp, "Name", out->name, sizeof out->name);
    aws_json_str(resp, "OwningService", out->owning_service, sizeof out->owning_service);
    aws_json_bool(resp, "RotationEnabled", &out->rotation_enabled);
    out->last_changed_ms = epoch_ms(resp, "LastChangedDate");
    out->last_rotated_ms = epoch_ms(resp, "LastRotatedDate");
    /* VersionIdsToStages: {"<version id>": ["AWSCURRENT", ...], ...} */
    const json_t *vs = json_object_get(resp, "VersionIdsToStages");
    const char *vid;
    const json_t *stages;
    json_object_foreach((json_t *)vs, vid, stages) {
        size_t k;
        const json_t *st;
        json_array_foreach(stages, k, st) {
            if (json_is_string(st) && !strcmp(json_string_value(st), "AWSCURRENT"))
                fc_strlcpy(out->current_version, vid, sizeof out->current_version);
        }
    }
    json_decref(resp);
    return true;
}

bool secrets_create_secret(aws_client *c, const char *name, const char *secret_string,
                           char *arn_out, size_t arn_cap, aws_error *err)
{
    json_t *req = json_pack("{s:s,s:s}", "Name", name ? name : "", "SecretString",
                            secret_string ? secret_string : "");
    json_t *resp = NULL;
    bool ok = false;
    if (!req) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    ok = aws_json_call(c, AWS_SVC_SECRETS, "CreateSecret", req, true, &resp, err);
    if (ok && arn_out) aws_json_str(resp, "ARN", arn_out, arn_cap);
    wipe_json_string(req, "SecretString");
    json_decref(req);
    json_decref(resp);
    return ok;
}
