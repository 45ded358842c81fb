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

bool secrets_get_value(aws_client *c, const char *id, const char *version_stage,
                       secret_value **out, aws_error *err)
{
    json_t *req = json_pack("{s:s}", "SecretId", id ? id : "");
    json_t *resp = NULL;
    secret_value *s = NULL;
    bool ok = false;
    *out = NULL;
    if (!req) goto oom;
    if (version_stage) json_object_set_new(req, "VersionStage", json_string(version_stage));
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
