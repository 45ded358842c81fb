/* awssso — see awssso.h. */
#include "awssso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "awshttp.h"
#include "awsjson.h"
#include "dbuf.h"
#include "log.h"
#include "sigv4.h"
#include "util.h"

#define SSO_CACHE_MAX (256 * 1024)
#define SSO_TOKEN_MAX (16 * 1024)
#define SSO_REFRESH_WINDOW_MS (15 * 60 * 1000) /* as botocore and the JS SDK */

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

/* Wipe the string values of keys in obj (secrets about to be freed). */
static void wipe_keys(json_t *obj, const char *const *keys, size_t n)
{
    for (size_t i = 0; json_is_object(obj) && i < n; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (json_is_string(v)) fc_wipe((void *)json_string_value(v), json_string_length(v));
    }
}

static const char *const CACHE_SECRETS[] = {"accessToken", "refreshToken", "clientSecret"};

/* The base URL (no trailing slash) of a bearer-token service: the variable
 * AWS_ENDPOINT_URL_<env>, AWS_ENDPOINT_URL, the profile's [services]
 * endpoint for svc_key, its endpoint_url (none of them under
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else https://<host_prefix>.<region>.amazonaws.com. */
static bool service_url(const aws_profile *pr, const char *env, const char *svc_key, const char *host_prefix,
                        const char *region, char *dst, size_t cap)
{
    const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool use = !(ign && !strcasecmp(ign, "true"));
    const char *ep = use ? env_set(env) : NULL;
    if (!ep && use) ep = env_set("AWS_ENDPOINT_URL");
    if (!ep && use) ep = aws_profile_service_endpoint(pr, svc_key);
    if (!ep && use && pr->endpoint_url[0]) ep = pr->endpoint_url;
    bool ok = ep ? fc_strlcpy(dst, ep, cap)
                 : snprintf(dst, cap, "https://%s.%s.%s", host_prefix, region,
                            !strncmp(region, "cn-", 3) ? "amazonaws.com.cn" : "amazonaws.com") < (int)cap;
    size_t l = strlen(dst);
    while (ok && l && dst[l - 1] == '/') dst[--l] = 0;
    return ok && (!strncmp(dst, "https://", 8) || !strncmp(dst, "http://", 7));
}

/* Can the cached token j be refreshed (the SDKs' rule): a refresh token,
 * the client's id and secret, and a client registration not yet expired. */
static bool refreshable(const json_t *j)
{
    static const char *const need[] = {"refreshToken", "clientId", "clientSecret", "registrationExpiresAt"};
    for (size_t i = 0; i < FC_ARRAY_LEN(need); i++) {
        json_t *v = json_object_get(j, need[i]);
        if (!json_is_string(v) || !json_string_length(v)) return false;
    }
    char reg[64];
    int64_t reg_ms = 0;
    return aws_json_str(j, "registrationExpiresAt", reg, sizeof reg) && aws_parse_iso8601(reg, &reg_ms) &&
           reg_ms > fc_now_ms();
}

/* OAuth error names as the SSO OIDC exceptions they stand for. */
static void oidc_error(const aws_profile *pr, const aws_http_response *r, aws_error *err)
{
    static const struct {
        const char *oauth, *code;
    } names[] = {{"invalid_grant", "InvalidGrantException"},
                 {"invalid_client", "InvalidClientException"},
                 {"unsupported_grant_type", "UnsupportedGrantTypeException"},
                 {"invalid_request", "InvalidRequestException"},
                 {"expired_token", "ExpiredTokenException"},
                 {"unauthorized_client", "UnauthorizedClientException"},
                 {"access_denied", "AccessDeniedException"}};
    char code[64] = "", oauth[64] = "";
    json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    if (json_is_object(j) && !aws_json_str(j, "__type", code, sizeof code) &&
        aws_json_str(j, "error", oauth, sizeof oauth))
        for (size_t i = 0; i < FC_ARRAY_LEN(names); i++)
            if (!strcmp(oauth, names[i].oauth)) fc_strlcpy(code, names[i].code, sizeof code);
    json_decref(j);
    char *hash = strchr(code, '#');
    if (hash) memmove(code, hash + 1, strlen(hash));
    if (!code[0]) fc_strlcpy(code, r->status >= 500 ? "InternalServerException" : "InvalidRequestException", sizeof code);
    aws_error_set(err, r->status >= 500 || r->status == 429 ? AWS_ERR_TRANSIENT : AWS_ERR_AUTH, r->status, code,
                  "profile %s: SSO OIDC CreateToken (refresh) answered HTTP %d %s", pr->name, r->status, code);
}

/* Write j to the cache file path: a new file beside it (0600), then rename. */
static bool write_cache(const char *path, const json_t *j, aws_error *err)
{
    char tmp[1300];
    if (snprintf(tmp, sizeof tmp, "%s.fc-XXXXXX", path) >= (int)sizeof tmp) goto fail;
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) goto fail;
    size_t n = strlen(text);
    int fd = mkstemp(tmp);
    bool ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0) ok = false;
    fc_wipe(text, n);
    free(text);
    if (ok && rename(tmp, path) == 0) return true;
    if (fd >= 0) unlink(tmp);
fail:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "CacheWriteFailed", "SSO cache %s could not be rewritten", path);
    return false;
}

/* SSO OIDC CreateToken with the cached refresh token: on success j's
 * accessToken, expiresAt and refreshToken are the new ones and the cache
 * file holds them. */
static bool refresh(const aws_profile *pr, const char *region, const char *ca_bundle, const char *path, json_t *j,
                    aws_error *err)
{
    char base[600], url[700];
    if (!service_url(pr, "AWS_ENDPOINT_URL_SSO_OIDC", "sso_oidc", "oidc", region, base, sizeof base) ||
        snprintf(url, sizeof url, "%s/token", base) >= (int)sizeof url) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidEndpoint", "profile %s: bad SSO OIDC URL", pr->name);
        return false;
    }
    json_t *req = json_pack("{s:O, s:O, s:s, s:O}", "clientId", json_object_get(j, "clientId"), "clientSecret",
                            json_object_get(j, "clientSecret"), "grantType", "refresh_token", "refreshToken",
                            json_object_get(j, "refreshToken"));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req); /* its values are j's own (O: a reference), wiped with j */
    if (!body) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "SSO refresh: out of memory");
        return false;
    }
    size_t blen = strlen(body);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    aws_http_opts ho = {.connect_timeout_ms = 3000, .timeout_ms = 10000, .max_response = 64 * 1024,
                        .user_agent = "fleetcrypt/" FC_VERSION " sso-oidc", .ca_bundle = ca_bundle};
    aws_http_response r;
    aws_http_response_init(&r, true);
    aws_http *h = aws_http_new(&ho, err);
    bool ok = false;
    json_t *a = NULL;
    if (!h) goto done;
    if (!aws_http_request(h, "POST", url, headers, body, blen, &r, NULL, err)) {
        char m[sizeof(err->message)];
        snprintf(m, sizeof m, "profile %s: SSO OIDC %.200s: %.250s", pr->name, base, err->message);
        fc_strlcpy(err->message, m, sizeof err->message);
        goto done;
    }
    if (r.status != 200) {
        oidc_error(pr, &r, err);
        goto done;
    }
    a = json_loadb(r.body.data, r.body.len, 0, NULL);
    json_t *tok = json_object_get(a, "accessToken"), *rt = json_object_get(a, "refreshToken");
    int64_t expires_in = 0;
    if (!json_is_string(tok) || !json_string_length(tok) || json_string_length(tok) > SSO_TOKEN_MAX ||
        strpbrk(json_string_value(tok), "\r\n") || !aws_json_int64(a, "expiresIn", &expires_in) || expires_in <= 0 ||
        (rt && (!json_is_string(rt) || !json_string_length(rt)))) {
        aws_error_set(err, AWS_ERR_PERMANENT, 200, "InvalidResponse",
                      "profile %s: SSO OIDC CreateToken answer has no usable accessToken/expiresIn", pr->name);
        goto done;
    }
    char exp[32];
    time_t t = (time_t)(fc_now_ms() / 1000 + expires_in);
    struct tm tm;
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    wipe_keys(j, CACHE_SECRETS, 2); /* the old access and refresh tokens */
    if (json_object_set(j, "accessToken", tok) || json_object_set_new(j, "expiresAt", json_string(exp)) ||
        (rt && json_object_set(j, "refreshToken", rt))) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "SSO refresh: out of memory");
        goto done;
    }
    ok = write_cache(path, j, err);
done:
    /* j now holds a's token strings by reference: they are wiped with j */
    if (a) {
        static const char *const ans[] = {"idToken"};
        wipe_keys(a, ans, 1);
        json_decref(a);
    }
    aws_http_response_free(&r);
    aws_http_free(h);
    fc_wipe(body, blen);
    free(body);
    return ok;
}

/* The cached access token (not expired) into tok. An sso-session token
 * (refresh allowed) within 15 minutes of its end, or past it, is refreshed
 * first when the cache can be (the SDKs' window and rule); a failed refresh
 * leaves a token that is still valid in use. */
static bool cached_token(const aws_profile *pr, const char *key, const char *region, const char *ca_bundle,
                         bool may_refresh, char *tok, size_t cap, aws_error *err)
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
    bool valid = exp_ms > fc_now_ms();
    if (may_refresh && exp_ms - fc_now_ms() < SSO_REFRESH_WINDOW_MS && refreshable(j)) {
        aws_error re;
        aws_error_clear(&re);
        if (refresh(pr, region, ca_bundle, path, j, &re) && aws_json_str(j, "accessToken", tok, cap)) {
            aws_json_str(j, "expiresAt", exp, sizeof exp);
            log_info("sso token refreshed", "profile=%s expires=%s", pr->name, exp);
            valid = true;
        } else {
            log_warn("sso token refresh failed", "profile=%s code=%s status=%d still_valid=%s", pr->name, re.code,
                     re.http_status, valid ? "true" : "false");
            if (!valid) {
                aws_error_set(err, AWS_ERR_AUTH, re.http_status, "NoCredentials",
                              "profile %s: the SSO token expired at %s and its refresh failed (%s: %.200s): %s",
                              pr->name, exp, re.code, re.message, hint);
                goto done;
            }
        }
    }
    if (!valid) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: the SSO token expired at %s: %s", pr->name,
                      exp, hint);
        goto done;
    }
    ok = true;
done:
    if (j) {
        wipe_keys(j, CACHE_SECRETS, FC_ARRAY_LEN(CACHE_SECRETS));
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
    return service_url(pr, "AWS_ENDPOINT_URL_SSO", "sso", "portal.sso", region, dst, cap);
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
    if (!cached_token(pr, key, region, ca_bundle, pr->sso_session[0] != 0, tok, SSO_TOKEN_MAX + 1, err)) goto done;
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
