/* awssso — see awssso.h. */
#include "awssso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "awshttp.h"
#include "awsjson.h"
#include "dbuf.h"
#include "sigv4.h"
#include "util.h"

#define SSO_CACHE_MAX (256 * 1024)
#define SSO_TOKEN_MAX (16 * 1024)

bool aws_sso_cache_path(const char *key, char *dst, size_t cap)
{
    const char *home = getenv("HOME");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!home || !*home || !EVP_Digest(key, strlen(key), md, &n, EVP_sha1(), NULL) || n != 20) return false;
    char hex[41];
    for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return snprintf(dst, cap, "%s/.aws/sso/cache/%s.json", home, hex) < (int)cap;
}

static const char *env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The hint every token problem ends with. */
static void login_hint(const aws_profile *pr, char *dst, size_t cap)
{
    if (pr->sso_session[0]) snprintf(dst, cap, "run aws sso login --sso-session %s", pr->sso_session);
    else snprintf(dst, cap, "run aws sso login --profile %s", pr->name);
}

/* The cached access token (not expired) into tok. */
static bool cached_token(const aws_profile *pr, const char *key, char *tok, size_t cap, aws_error *err)
{
    char path[1200], hint[256];
    login_hint(pr, hint, sizeof hint);
    if (!aws_sso_cache_path(key, path, sizeof path)) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: no home directory for the SSO cache", pr->name);
        return false;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: no SSO token cached in %s: %s", pr->name,
                      path, hint);
        return false;
    }
    char *buf = calloc(1, SSO_CACHE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SSO_CACHE_MAX, f) : 0;
    bool more = buf && fgetc(f) != EOF;
    fclose(f);
    bool ok = false;
    json_t *j = NULL;
    if (!buf) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "SSO cache: out of memory");
        return false;
    }
    if (more) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: SSO cache %s is too large", pr->name, path);
        goto done;
    }
    json_error_t je;
    j = json_loadb(buf, n, 0, &je);
    fc_wipe(&je, sizeof je); /* its text may quote the token */
    char exp[64] = "";
    int64_t exp_ms = 0;
    if (!json_is_object(j) || !aws_json_str(j, "accessToken", tok, cap) || !tok[0] ||
        !aws_json_str(j, "expiresAt", exp, sizeof exp)) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: SSO cache %s holds no token: %s", pr->name,
                      path, hint);
        goto done;
    }
    /* older awscli wrote "…T04:05:45UTC" */
    size_t el = strlen(exp);
    if (el > 3 && !strcmp(exp + el - 3, "UTC")) fc_strlcpy(exp + el - 3, "Z", 4);
    if (!aws_parse_iso8601(exp, &exp_ms)) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: SSO cache %s: expiresAt is not a time: %s",
                      pr->name, path, hint);
        goto done;
    }
    if (exp_ms <= fc_now_ms()) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: the SSO token expired at %s: %s", pr->name,
                      exp, hint);
        goto done;
    }
    ok = true;
done:
    if (j) {
        json_t *t = json_object_get(j, "accessToken");
        if (json_is_string(t)) fc_wipe((void *)json_string_value(t), json_string_length(t));
        t = json_object_get(j, "refreshToken");
        if (json_is_string(t)) fc_wipe((void *)json_string_value(t), json_string_length(t));
        t = json_object_get(j, "clientSecret");
        if (json_is_string(t)) fc_wipe((void *)json_string_value(t), json_string_length(t));
        json_decref(j);
    }
    if (!ok) fc_wipe(tok, cap);
    fc_wipe(buf, SSO_CACHE_MAX + 1);
    free(buf);
    return ok;
}

/* The portal's base URL (no trailing slash). */
static bool portal_url(const aws_profile *pr, const char *region, char *dst, size_t cap)
{
    const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool use = !(ign && !strcasecmp(ign, "true"));
    const char *ep = use ? env_set("AWS_ENDPOINT_URL_SSO") : NULL;
    if (!ep && use) ep = env_set("AWS_ENDPOINT_URL");
    if (!ep && use && pr->endpoint_url[0]) ep = pr->endpoint_url;
    bool ok = ep ? fc_strlcpy(dst, ep, cap)
                 : snprintf(dst, cap, "https://portal.sso.%s.%s", region,
                            !strncmp(region, "cn-", 3) ? "amazonaws.com.cn" : "amazonaws.com") < (int)cap;
    size_t l = strlen(dst);
    while (ok && l && dst[l - 1] == '/') dst[--l] = 0;
    return ok && (!strncmp(dst, "https://", 8) || !strncmp(dst, "http://", 7));
}

/* The error code of a portal answer: the body's __type/code when given,
 * else the status's (restJson1 puts it in a header; the status tells the same). */
static void portal_error(const aws_profile *pr, const aws_http_response *r, aws_error *err)
{
    char code[64] = "";
    json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    if (json_is_object(j) && !aws_json_str(j, "__type", code, sizeof code)) aws_json_str(j, "code", code, sizeof code);
    json_decref(j);
    char *hash = strchr(code, '#');
    if (hash) memmove(code, hash + 1, strlen(hash));
    if (!code[0])
        fc_strlcpy(code, r->status == 401   ? "UnauthorizedException"
                         : r->status == 403 ? "ForbiddenException"
                         : r->status == 404 ? "ResourceNotFoundException"
                         : r->status == 429 ? "TooManyRequestsException"
                         : r->status >= 500 ? "InternalServerError"
                                            : "InvalidRequestException",
                   sizeof code);
    char hint[256];
    login_hint(pr, hint, sizeof hint);
    aws_error_set(err, r->status >= 500 || r->status == 429 ? AWS_ERR_TRANSIENT : AWS_ERR_AUTH, r->status, code,
                  "profile %s: SSO GetRoleCredentials (account %s, role %s) answered HTTP %d %s%s%s", pr->name,
                  pr->sso_account_id, pr->sso_role_name, r->status, code, r->status == 401 ? ": " : "",
                  r->status == 401 ? hint : "");
}

bool aws_cred_from_sso(const aws_profile *pr, const char *ca_bundle, aws_creds *out, aws_error *err)
{
    aws_profile *sess = NULL;
    const char *region = pr->sso_region, *start = pr->sso_start_url, *key = pr->sso_start_url;
    memset(out, 0, sizeof(*out));
    if (pr->sso_session[0]) {
        sess = calloc(1, sizeof *sess);
        if (!sess) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "SSO session: out of memory");
            return false;
        }
        if (!aws_sso_session_load(NULL, pr->sso_session, sess, err)) goto fail;
        if (!sess->found) {
            aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig", "profile %s: sso_session %s has no [sso-session %s] "
                          "section", pr->name, pr->sso_session, pr->sso_session);
            goto fail;
        }
        region = sess->sso_region;
        start = sess->sso_start_url;
        key = pr->sso_session;
    }
    if (!region[0] || !start[0] || !pr->sso_account_id[0] || !pr->sso_role_name[0]) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig",
                      "profile %s: an SSO profile needs sso_account_id, sso_role_name, sso_region and sso_start_url",
                      pr->name);
        goto fail;
    }
    char base[600];
    if (!portal_url(pr, region, base, sizeof base)) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidEndpoint", "profile %s: bad SSO portal URL", pr->name);
        goto fail;
    }
    dbuf url;
    dbuf_init(&url, 4096);
    bool built = dbuf_append(&url, base, strlen(base)) && dbuf_append(&url, "/federation/credentials?role_name=", 34) &&
                 sigv4_uri_encode(&url, pr->sso_role_name, strlen(pr->sso_role_name), false) &&
                 dbuf_append(&url, "&account_id=", 12) &&
                 sigv4_uri_encode(&url, pr->sso_account_id, strlen(pr->sso_account_id), false);
    char *tok = calloc(1, SSO_TOKEN_MAX + 1), *hdr = calloc(1, SSO_TOKEN_MAX + 64);
    bool ok = false;
    aws_http *h = NULL;
    aws_http_response r;
    aws_http_response_init(&r, true);
    if (!built || !tok || !hdr) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "SSO: out of memory");
        goto done;
    }
    if (!cached_token(pr, key, tok, SSO_TOKEN_MAX + 1, err)) goto done;
    if (strpbrk(tok, "\r\n")) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig", "profile %s: the cached SSO token has a line break",
                      pr->name);
        goto done;
    }
    snprintf(hdr, SSO_TOKEN_MAX + 64, "x-amz-sso_bearer_token: %s", tok);
    const char *headers[] = {hdr, "Accept: application/json", NULL};
    aws_http_opts ho = {.connect_timeout_ms = 3000, .timeout_ms = 10000, .max_response = 64 * 1024,
                        .user_agent = "fleetcrypt/" FC_VERSION " sso", .ca_bundle = ca_bundle};
    h = aws_http_new(&ho, err);
    if (!h) goto done;
    for (int attempt = 0; attempt < 2 && !ok; attempt++) {
        if (!aws_http_request(h, "GET", url.data, headers, NULL, 0, &r, NULL, err)) {
            char m[sizeof(err->message)];
            snprintf(m, sizeof m, "profile %s: SSO portal %.200s: %.250s", pr->name, base, err->message);
            fc_strlcpy(err->message, m, sizeof err->message);
        } else if (r.status != 200) {
            portal_error(pr, &r, err);
        } else {
            json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
            json_t *rc = json_object_get(j, "roleCredentials");
            int64_t exp = 0;
            if (json_is_object(rc) && aws_json_str(rc, "accessKeyId", out->access_key_id, sizeof out->access_key_id) &&
                aws_json_str(rc, "secretAccessKey", out->secret_access_key, sizeof out->secret_access_key) &&
                aws_json_str(rc, "sessionToken", out->session_token, sizeof out->session_token) &&
                aws_json_int64(rc, "expiration", &exp) && out->access_key_id[0] && out->secret_access_key[0]) {
                out->expires_ms = exp; /* epoch milliseconds */
                snprintf(out->source, sizeof out->source, "sso:%.43s", pr->name);
                ok = true;
            } else {
                aws_creds_wipe(out);
                aws_error_set(err, AWS_ERR_PERMANENT, 200, "InvalidCredentials",
                              "profile %s: SSO GetRoleCredentials answer has no roleCredentials", pr->name);
            }
            if (json_is_object(rc)) {
                static const char *const secret[] = {"secretAccessKey", "sessionToken"};
                for (size_t i = 0; i < FC_ARRAY_LEN(secret); i++) {
                    json_t *v = json_object_get(rc, secret[i]);
                    if (json_is_string(v)) fc_wipe((void *)json_string_value(v), json_string_length(v));
                }
            }
            json_decref(j);
        }
        if (!ok && err->kind != AWS_ERR_TRANSIENT) break;
    }
done:
    aws_http_response_free(&r);
    aws_http_free(h);
    if (tok) fc_wipe(tok, SSO_TOKEN_MAX + 1);
    if (hdr) fc_wipe(hdr, SSO_TOKEN_MAX + 64);
    free(tok);
    free(hdr);
    dbuf_free(&url);
    if (sess) aws_profile_wipe(sess);
    free(sess);
    return ok;
fail:
    if (sess) aws_profile_wipe(sess);
    free(sess);
    return false;
}
