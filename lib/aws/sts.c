/* sts — see sts.h. */
#include "sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STS_VERSION "2011-06-15"

void aws_identity_free(aws_identity *id) { free(id); }

void sts_assumed_role_free(sts_assumed_role *r)
{
    if (!r) return;
    fc_wipe(r, sizeof(*r));
    free(r);
}

bool sts_get_caller_identity(aws_client *c, aws_identity **out, aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    aws_identity *id = NULL;
    bool ok = false;
    *out = NULL;
    aws_query_init(&q, "GetCallerIdentity", STS_VERSION);
    if (!aws_query_call(c, AWS_SVC_STS, "GetCallerIdentity", &q, &x, err)) goto cleanup;
    const aws_xml_node *r = aws_query_result(x, "GetCallerIdentity");
    id = calloc(1, sizeof(*id));
    if (!r || !id) {
        aws_error_set(err, AWS_ERR_PERMANENT, 200, "ParseError", "GetCallerIdentityResult missing");
        goto cleanup;
    }
    aws_xml_text(r, "Account", id->account, sizeof(id->account));
    aws_xml_text(r, "Arn", id->arn, sizeof(id->arn));
    aws_xml_text(r, "UserId", id->user_id, sizeof(id->user_id));
    *out = id;
    id = NULL;
    ok = true;
cleanup:
    aws_identity_free(id);
    aws_xml_free(x);
    aws_query_free(&q);
    return ok;
}

/* Credentials/AssumedRoleUser of an AssumeRole* result. */
static bool read_assumed(const aws_xml_node *r, sts_assumed_role *out, aws_error *err)
{
    char exp[64];
    const aws_xml_node *cr = aws_xml_child(r, "Credentials");
    if (!cr || !aws_xml_text(cr, "AccessKeyId", out->creds.access_key_id,
                             sizeof(out->creds.access_key_id)) ||
        !aws_xml_text(cr, "SecretAccessKey", out->creds.secret_access_key,
                      sizeof(out->creds.secret_access_key)) ||
        !aws_xml_text(cr, "SessionToken", out->creds.session_token,
                      sizeof(out->creds.session_token))) {
        aws_error_set(err, AWS_ERR_PERMANENT, 200, "ParseError", "AssumeRole result without credentials");
        return false;
    }
    if (aws_xml_text(cr, "Expiration", exp, sizeof(exp)))
        aws_parse_iso8601(exp, &out->creds.expires_ms);
    aws_xml_text(r, "AssumedRoleUser/Arn", out->assumed_role_arn, sizeof(out->assumed_role_arn));
    aws_xml_text(r, "AssumedRoleUser/AssumedRoleId", out->assumed_role_id,
                 sizeof(out->assumed_role_id));
    aws_xml_text(r, "SubjectFromWebIdentityToken", out->subject, sizeof(out->subject));
    return true;
}

static bool assume_common(aws_client *c, const char *action, aws_query *q, aws_sign_mode mode,
                          const aws_creds *src, sts_assumed_role **out, aws_error *err)
{
    aws_xml *x = NULL;
    sts_assumed_role *r = NULL;
    bool ok = false;
    *out = NULL;
    /* the response carries a secret key and token */
    q->secure = true;
    if (!aws_query_call_ex(c, AWS_SVC_STS, action, q, mode, src, &x, err)) goto cleanup;
    r = calloc(1, sizeof(*r));
    if (!r) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        goto cleanup;
    }
    if (!read_assumed(aws_query_result(x, action), r, err)) goto cleanup;
    *out = r;
    r = NULL;
    ok = true;
cleanup:
    sts_assumed_role_free(r);
    /* libxml2 holds the secret in its text nodes: wipe them before freeing */
    aws_xml_free_secure(x);
    return ok;
}

static void add_role_params(aws_query *q, const char *role_arn, const char *session, int dur)
{
    aws_query_add(q, "RoleArn", role_arn);
    aws_query_add(q, "RoleSessionName", session && *session ? session : "fleetcrypt");
    aws_query_add_int(q, "DurationSeconds", dur > 0 ? dur : 3600);
}

static bool assume_role_src(aws_client *c, aws_sign_mode mode, const aws_creds *src,
                            const sts_assume_role_opts *o, sts_assumed_role **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "AssumeRole", STS_VERSION);
    add_role_params(&q, o->role_arn, o->session_name, o->duration_s);
    if (o->external_id && *o->external_id) aws_query_add(&q, "ExternalId", o->external_id);
    bool ok = assume_common(c, "AssumeRole", &q, mode, src, out, err);
    aws_query_free(&q);
    return ok;
}

bool sts_assume_role(aws_client *c, const sts_assume_role_opts *o, sts_assumed_role **out,
                     aws_error *err)
{
    return assume_role_src(c, AWS_SIGN_PROVIDER, NULL, o, out, err);
}

bool sts_assume_role_with_web_identity(aws_client *c, const char *role_arn,
                                       const char *session_name, const char *token,
                                       int duration_s, sts_assumed_role **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "AssumeRoleWithWebIdentity", STS_VERSION);
    q.secure = true; /* the body holds the identity token */
    add_role_params(&q, role_arn, session_name, duration_s);
    aws_query_add(&q, "WebIdentityToken", token);
    bool ok = assume_common(c, "AssumeRoleWithWebIdentity", &q, AWS_SIGN_NONE, NULL, out, err);
    aws_query_free(&q);
    return ok;
}

/* ---- credential provider glue ---- */
static bool op_assume(void *ctx, const aws_creds *source, const char *role_arn,
                      const char *session_name, const char *external_id, int duration_s,
                      aws_creds *out, aws_error *err)
{
    sts_assumed_role *r = NULL;
    sts_assume_role_opts o = {.role_arn = role_arn, .session_name = session_name,
                              .external_id = external_id, .duration_s = duration_s};
    if (!assume_role_src(ctx, AWS_SIGN_EXPLICIT, source, &o, &r, err)) return false;
    *out = r->creds;
    sts_assumed_role_free(r);
    return true;
}

static bool op_web(void *ctx, const char *role_arn, const char *session_name, const char *token,
                   int duration_s, aws_creds *out, aws_error *err)
{
    sts_assumed_role *r = NULL;
    if (!sts_assume_role_with_web_identity(ctx, role_arn, session_name, token, duration_s, &r, err))
        return false;
    *out = r->creds;
    sts_assumed_role_free(r);
    return true;
}

void sts_cred_ops(aws_cred_sts_ops *ops, aws_client *c)
{
    ops->assume_role = op_assume;
    ops->assume_role_web_identity = op_web;
    ops->ctx = c;
}

/* ---------------- campaign option checks ---------------- */
bool sts_role_arn_opt_check(const char *v, char *err, size_t errcap)
{
    /* arn:PARTITION:iam::ACCOUNT:role/PATH/NAME */
    const char *p = v;
    if (strncmp(p, "arn:", 4)) goto bad;
    p = strchr(p + 4, ':');
    if (!p || strncmp(p, ":iam::", 6)) goto bad;
    p += 6;
    size_t digits = strspn(p, "0123456789");
    if (digits != 12 || strncmp(p + 12, ":role/", 6) || !p[18] || strlen(v) > 2048) goto bad;
    return true;
bad:
    snprintf(err, errcap, "--target-account-role: want a role ARN arn:aws:iam::ACCOUNT:role/NAME, not '%.80s'", v);
    return false;
}

bool sts_external_id_opt_check(const char *v, char *err, size_t errcap)
{
    /* STS: 2-1224 characters of [\w+=,.@:/-] */
    size_t n = strlen(v);
    bool ok = n >= 2 && n <= 1224;
    for (const char *p = v; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_+=,.@:/-", *p);
    if (!ok) snprintf(err, errcap, "--target-external-id: 2 to 1224 of letters, digits and _+=,.@:/-");
    return ok;
}

