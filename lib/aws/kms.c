/* kms — see kms.h. */
#include "kms.h"

#include <stdlib.h>
#include <string.h>

#include "awsjson.h"
#include "util.h"

#define KMS_MAX_PAGES 1000

void kms_key_free(kms_key *k) { free(k); }

void kms_alias_list_free(kms_alias_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

static bool read_key(const json_t *resp, kms_key **out, aws_error *err)
{
    const json_t *m = json_object_get(resp, "KeyMetadata");
    kms_key *k = NULL;
    if (!json_is_object(m)) {
        aws_error_set(err, AWS_ERR_PERMANENT, 200, "ParseError", "KeyMetadata missing");
        return false;
    }
    k = calloc(1, sizeof(*k));
    if (!k) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    aws_json_str(m, "KeyId", k->key_id, sizeof(k->key_id));
    aws_json_str(m, "Arn", k->arn, sizeof(k->arn));
    aws_json_bool(m, "Enabled", &k->enabled);
    aws_json_str(m, "KeyState", k->key_state, sizeof(k->key_state));
    aws_json_str(m, "KeyManager", k->key_manager, sizeof(k->key_manager));
    aws_json_str(m, "Description", k->description, sizeof(k->description));
    aws_json_str(m, "KeyUsage", k->key_usage, sizeof(k->key_usage));
    if (!aws_json_str(m, "KeySpec", k->key_spec, sizeof(k->key_spec)))
        aws_json_str(m, "CustomerMasterKeySpec", k->key_spec, sizeof(k->key_spec));
    aws_json_number(m, "CreationDate", &k->creation_date);
    *out = k;
    return true;
}

bool kms_describe_key(aws_client *c, const char *key, kms_key **out, aws_error *err)
{
    json_t *req = json_pack("{s:s}", "KeyId", key ? key : "");
    json_t *resp = NULL;
    bool ok = false;
    *out = NULL;
    if (!req) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    if (aws_json_call(c, AWS_SVC_KMS, "DescribeKey", req, false, &resp, err))
        ok = read_key(resp, out, err);
    json_decref(req);
    json_decref(resp);
    return ok;
}

bool kms_create_key(aws_client *c, const char *description, const char *const *tag_keys,
                    const char *const *tag_values, size_t ntags, kms_key **out, aws_error *err)
{
    json_t *req = json_object(), *resp = NULL;
    bool ok = false;
    *out = NULL;
    if (!req) goto oom;
    if (description && json_object_set_new(req, "Description", json_string(description))) goto oom;
    if (ntags) {
        json_t *tags = json_array();
        if (!tags || json_object_set_new(req, "Tags", tags)) goto oom;
        for (size_t i = 0; i < ntags; i++)
            if (json_array_append_new(tags, json_pack("{s:s,s:s}", "TagKey", tag_keys[i],
                                                      "TagValue", tag_values[i])))
                goto oom;
    }
    if (aws_json_call(c, AWS_SVC_KMS, "CreateKey", req, false, &resp, err))
        ok = read_key(resp, out, err);
    goto cleanup;
oom:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
cleanup:
    json_decref(req);
    json_decref(resp);
    return ok;
}

bool kms_create_alias(aws_client *c, const char *alias_name, const char *target_key_id,
                      aws_error *err)
{
    json_t *req = json_pack("{s:s,s:s}", "AliasName", alias_name, "TargetKeyId", target_key_id);
    json_t *resp = NULL;
    if (!req) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidParameter", "alias name and key required");
        return false;
    }
    bool ok = aws_json_call(c, AWS_SVC_KMS, "CreateAlias", req, false, &resp, err);
    json_decref(req);
    json_decref(resp);
    return ok;
}

bool kms_list_aliases(aws_client *c, const char *key_id, kms_alias_list **out, aws_error *err)
{
    kms_alias_list *l = calloc(1, sizeof(*l));
    char marker[1024] = "";
    bool ok = false;
    *out = NULL;
    if (!l) goto oom;
    for (int page = 0; page < KMS_MAX_PAGES; page++) {
        json_t *req = json_object(), *resp = NULL;
        if (!req) goto oom;
        if (key_id) json_object_set_new(req, "KeyId", json_string(key_id));
        if (marker[0]) json_object_set_new(req, "Marker", json_string(marker));
        bool got = aws_json_call(c, AWS_SVC_KMS, "ListAliases", req, false, &resp, err);
        json_decref(req);
        if (!got) goto cleanup;
        const json_t *arr = json_object_get(resp, "Aliases");
        size_t n = json_array_size(arr);
        if (n) {
            kms_alias *nv = realloc(l->v, (l->n + n) * sizeof(*nv));
            if (!nv) {
                json_decref(resp);
                goto oom;
            }
            l->v = nv;
            for (size_t i = 0; i < n; i++) {
                const json_t *a = json_array_get(arr, i);
                kms_alias *d = &l->v[l->n++];
                memset(d, 0, sizeof(*d));
                aws_json_str(a, "AliasName", d->name, sizeof(d->name));
                aws_json_str(a, "AliasArn", d->arn, sizeof(d->arn));
                aws_json_str(a, "TargetKeyId", d->target_key_id, sizeof(d->target_key_id));
            }
        }
        bool truncated = false;
        aws_json_bool(resp, "Truncated", &truncated);
        char next[1024];
        bool more = truncated && aws_json_str(resp, "NextMarker", next, sizeof(next)) && next[0] &&
                    strcmp(next, marker);
        json_decref(resp);
        if (!more) {
            *out = l;
            l = NULL;
            ok = true;
            goto cleanup;
        }
        fc_strlcpy(marker, next, sizeof(marker));
    }
    aws_error_set(err, AWS_ERR_PERMANENT, 200, "TooManyPages", "ListAliases did not end");
    goto cleanup;
oom:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
cleanup:
    kms_alias_list_free(l);
    return ok;
}

const char *kms_encryption_type(bool encrypted, const char *key_manager)
{
    if (!encrypted) return "none";
    if (key_manager && !strcmp(key_manager, "AWS")) return "kms-aws-managed";
    if (key_manager && !strcmp(key_manager, "CUSTOMER")) return "kms-customer-managed";
    if (key_manager && !strcmp(key_manager, "AWS_OWNED")) return "aws-owned";
    return "kms";
}

bool kms_get_key_policy(aws_client *c, const char *key, char **policy, aws_error *err)
{
    json_t *req = json_pack("{s:s,s:s}", "KeyId", key ? key : "", "PolicyName", "default");
    json_t *resp = NULL;
    bool ok = false;
    *policy = NULL;
    if (!req) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    if (aws_json_call(c, AWS_SVC_KMS, "GetKeyPolicy", req, false, &resp, err)) {
        const char *p = json_string_value(json_object_get(resp, "Policy"));
        if (!p) {
            aws_error_set(err, AWS_ERR_PERMANENT, 200, "ParseError", "GetKeyPolicy: no Policy in the response");
        } else if (!(*policy = strdup(p))) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        } else {
            ok = true;
        }
    }
    json_decref(req);
    json_decref(resp);
    return ok;
}
