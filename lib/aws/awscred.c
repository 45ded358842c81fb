/* awscred — see awscred.h. */
#include "awscred.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "awshttp.h"
#include "awsjson.h"
#include "log.h"
#include "util.h"

#define PROFILE_MAX_DEPTH 4
#define CRED_FILE_MAX (1024 * 1024)
#define TOKEN_FILE_MAX (64 * 1024)

struct aws_cred_provider {
    aws_cred_opts opts;
    char profile[128];
    char role_arn[256];
    char role_session_name[128];
    char external_id[256];
    aws_cred_sts_ops ops;
    bool have_ops;
    aws_creds base;     /* what the chain produced */
    bool have_base;
    aws_creds cur;      /* what callers get (base, or the assumed role on top) */
    bool profile_explicit; /* named by opts or AWS_PROFILE: must exist */
    bool have_cur;
    bool fixed;
};

void aws_creds_wipe(aws_creds *c)
{
    if (c) fc_wipe(c, sizeof(*c));
}

bool aws_creds_valid(const aws_creds *c)
{
    return c && c->access_key_id[0] && c->secret_access_key[0];
}

bool aws_parse_iso8601(const char *s, int64_t *ms)
{
    struct tm tm;
    int frac_ms = 0;
    memset(&tm, 0, sizeof(tm));
    if (!s) return false;
    int Y, M, D, h, m, sec, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &used) != 6 || used != 19)
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return false;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    const char *p = s + used;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3) frac_ms = frac_ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        for (; digits < 3; digits++) frac_ms *= 10;
    }
    int offset_s = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return false;
        offset_s = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    }
    if (*p) return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return false;
    *ms = ((int64_t)t - offset_s) * 1000 + frac_ms;
    return true;
}

/* ---------------- environment ---------------- */
bool aws_cred_from_env(aws_creds *out)
{
    const char *ak = getenv("AWS_ACCESS_KEY_ID");
    const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tk = getenv("AWS_SESSION_TOKEN");
    memset(out, 0, sizeof(*out));
    if (!ak || !*ak || !sk || !*sk) return false;
    if (!fc_strlcpy(out->access_key_id, ak, sizeof(out->access_key_id)) ||
        !fc_strlcpy(out->secret_access_key, sk, sizeof(out->secret_access_key)) ||
        !fc_strlcpy(out->session_token, tk ? tk : "", sizeof(out->session_token))) {
        aws_creds_wipe(out);
        return false;
    }
    fc_strlcpy(out->source, "env", sizeof(out->source));
    return true;
}

/* ---------------- shared files ---------------- */
static bool default_path(const char *env, const char *leaf, char *dst, size_t cap)
{
    const char *v = getenv(env);
    const char *home = getenv("HOME");
    if (v && *v) {
        if (v[0] == '~' && v[1] == '/' && home)
            return snprintf(dst, cap, "%s%s", home, v + 1) < (int)cap;
        return fc_strlcpy(dst, v, cap);
    }
    if (!home) return false;
    return snprintf(dst, cap, "%s/.aws/%s", home, leaf) < (int)cap;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

static void profile_set(aws_profile *p, const char *k, const char *v)
{
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } map[] = {
        {"aws_access_key_id", p->access_key_id, sizeof(p->access_key_id)},
        {"aws_secret_access_key", p->secret_access_key, sizeof(p->secret_access_key)},
        {"aws_session_token", p->session_token, sizeof(p->session_token)},
        {"role_arn", p->role_arn, sizeof(p->role_arn)},
        {"source_profile", p->source_profile, sizeof(p->source_profile)},
        {"credential_source", p->credential_source, sizeof(p->credential_source)},
        {"web_identity_token_file", p->web_identity_token_file, sizeof(p->web_identity_token_file)},
        {"role_session_name", p->role_session_name, sizeof(p->role_session_name)},
        {"external_id", p->external_id, sizeof(p->external_id)},
        {"region", p->region, sizeof(p->region)},
    };
    for (size_t i = 0; i < FC_ARRAY_LEN(map); i++) {
        if (!strcasecmp(k, map[i].key)) {
            fc_strlcpy(map[i].dst, v, map[i].cap);
            return;
        }
    }
    if (!strcasecmp(k, "duration_seconds")) p->duration_seconds = atoi(v);
}

/* Does section header text (between brackets, trimmed) name this profile?
 * config file: "profile NAME" or "default"; credentials file: "NAME". */
static bool section_matches(const char *sec, const char *name, bool is_config)
{
    if (!is_config) return !strcmp(sec, name);
    if (!strcmp(name, "default") && !strcmp(sec, "default")) return true;
    if (!strncmp(sec, "profile", 7) && isspace((unsigned char)sec[7])) {
        const char *n = sec + 8;
        while (isspace((unsigned char)*n)) n++;
        return !strcmp(n, name);
    }
    return false;
}

/* Parse one INI file, applying keys of the matching section to p. */
static bool parse_ini(const char *path, const char *name, bool is_config, aws_profile *p,
                      aws_error *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    bool in_section = false, in_nested = false;
    if (!f) return true; /* a missing file is simply not a source */
    while ((n = getline(&line, &cap, f)) >= 0) {
        total += (size_t)n;
        if (total > CRED_FILE_MAX) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig", "%s is larger than %d bytes",
                          path, CRED_FILE_MAX);
            fc_wipe(line, cap);
            free(line);
            fclose(f);
            return false;
        }
        bool indented = n > 0 && (line[0] == ' ' || line[0] == '\t');
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            in_nested = false;
            if (!e) {
                in_section = false;
                continue;
            }
            *e = 0;
            in_section = section_matches(trim(s + 1), name, is_config);
            if (in_section) p->found = true;
            continue;
        }
        if (!in_section) continue;
        /* "s3 =" followed by indented "key = value" lines: a nested section we skip */
        if (indented && in_nested) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        in_nested = (*v == 0);
        /* strip an inline " #comment" the way the SDKs do */
        for (char *c = v; *c; c++)
            if ((*c == '#' || *c == ';') && c > v && isspace((unsigned char)c[-1])) {
                *c = 0;
                v = trim(v);
                break;
            }
        profile_set(p, k, v);
    }
    if (line) fc_wipe(line, cap);
    free(line);
    fclose(f);
    return true;
}

bool aws_profile_load(const char *cred_path, const char *config_path, const char *name,
                      aws_profile *out, aws_error *err)
{
    char cp[1024], fp[1024];
    memset(out, 0, sizeof(*out));
    fc_strlcpy(out->name, name, sizeof(out->name));
    if (!config_path && default_path("AWS_CONFIG_FILE", "config", fp, sizeof(fp))) config_path = fp;
    if (!cred_path && default_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", cp, sizeof(cp)))
        cred_path = cp;
    if (config_path && !parse_ini(config_path, name, true, out, err)) return false;
    if (cred_path && !parse_ini(cred_path, name, false, out, err)) return false;
    return true;
}

void aws_profile_wipe(aws_profile *p)
{
    if (p) fc_wipe(p, sizeof(*p));
}

static const char *profile_name(const char *explicit_name)
{
    const char *e = getenv("AWS_PROFILE");
    if (explicit_name && *explicit_name) return explicit_name;
    return e && *e ? e : "default";
}

bool aws_profile_region(char *dst, size_t cap)
{
    aws_profile *p = calloc(1, sizeof(*p));
    aws_error e;
    bool ok = false;
    if (!p) return false;
    if (aws_profile_load(NULL, NULL, profile_name(NULL), p, &e) && p->region[0])
        ok = fc_strlcpy(dst, p->region, cap);
    aws_profile_wipe(p);
    free(p);
    return ok;
}

/* ---------------- IMDSv2 ---------------- */
static bool imds_get(aws_http *h, const char *method, const char *url, const char *hdr,
                     aws_http_response *r, aws_error *err)
{
    const char *headers[] = {hdr, NULL};
    if (!aws_http_request(h, method, url, headers, NULL, 0, r, NULL, err)) return false;
    if (r->status != 200) {
        aws_error_set(err, r->status == 404 ? AWS_ERR_NOT_FOUND : AWS_ERR_TRANSIENT, r->status,
                      "ImdsError", "IMDS %s %s answered HTTP %d", method, url, r->status);
        return false;
    }
    return true;
}

static bool imds_once(aws_http *h, const char *base, aws_creds *out, aws_error *err)
{
    char url[1024], hdr[256 + 64], role[256];
    aws_http_response r;
    json_t *j = NULL;
    bool ok = false;
    aws_http_response_init(&r, true);
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    if (!imds_get(h, "PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", &r, err))
        goto cleanup;
    if (r.body.len == 0 || r.body.len >= 256) {
        aws_error_set(err, AWS_ERR_TRANSIENT, r.status, "ImdsError", "bad IMDS token length");
        goto cleanup;
    }
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", r.body.data);
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
    if (!imds_get(h, "GET", url, hdr, &r, err)) goto cleanup;
    /* the first line names the instance profile's role */
    size_t l = strcspn(r.body.data, "\r\n");
    if (l == 0 || l >= sizeof(role)) {
        aws_error_set(err, AWS_ERR_PERMANENT, r.status, "ImdsError", "no IAM role on this instance");
        goto cleanup;
    }
    memcpy(role, r.body.data, l);
    role[l] = 0;
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
    if (!imds_get(h, "GET", url, hdr, &r, err)) goto cleanup;
    if (!aws_json_parse(r.body.data, r.body.len, NULL, &j, err)) goto cleanup;
    char code[64], exp[64];
    if (aws_json_str(j, "Code", code, sizeof(code)) && strcmp(code, "Success")) {
        aws_error_set(err, AWS_ERR_TRANSIENT, r.status, "ImdsError", "IMDS credentials code %s",
                      code);
        goto cleanup;
    }
    memset(out, 0, sizeof(*out));
    if (!aws_json_str(j, "AccessKeyId", out->access_key_id, sizeof(out->access_key_id)) ||
        !aws_json_str(j, "SecretAccessKey", out->secret_access_key, sizeof(out->secret_access_key)) ||
        !aws_json_str(j, "Token", out->session_token, sizeof(out->session_token))) {
        aws_error_set(err, AWS_ERR_PERMANENT, r.status, "ImdsError", "incomplete IMDS credentials");
        aws_creds_wipe(out);
        goto cleanup;
    }
    if (aws_json_str(j, "Expiration", exp, sizeof(exp))) aws_parse_iso8601(exp, &out->expires_ms);
    fc_strlcpy(out->source, "imds", sizeof(out->source));
    ok = true;
cleanup:
    fc_wipe(hdr, sizeof(hdr));
    if (j) {
        /* jansson keeps the secret in its strings: overwrite before release */
        json_t *v = json_object_get(j, "SecretAccessKey");
        if (json_is_string(v)) fc_wipe((void *)json_string_value(v), json_string_length(v));
        v = json_object_get(j, "Token");
        if (json_is_string(v)) fc_wipe((void *)json_string_value(v), json_string_length(v));
        json_decref(j);
    }
    aws_http_response_free(&r);
    return ok;
}

bool aws_cred_from_imds(const char *endpoint, int64_t timeout_ms, int attempts, aws_creds *out,
                        aws_error *err)
{
    char base[512];
    const char *ep = endpoint;
    if (!ep || !*ep) ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!ep || !*ep) ep = "http://169.254.169.254";
    fc_strlcpy(base, ep, sizeof(base));
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') base[--bl] = 0;
    aws_http_opts ho = {.connect_timeout_ms = timeout_ms > 0 ? timeout_ms : 1000,
                        .timeout_ms = timeout_ms > 0 ? timeout_ms : 1000,
                        .max_response = 64 * 1024,
                        .user_agent = "fleetcrypt-imds",
                        .no_proxy = true};
    aws_http *h = aws_http_new(&ho, err);
    bool ok = false;
    if (!h) return false;
    if (attempts <= 0) attempts = 2;
    for (int i = 0; i < attempts && !ok; i++) {
        ok = imds_once(h, base, out, err);
        /* a 404 (no role) will not change on retry */
        if (!ok && err && err->kind != AWS_ERR_TRANSIENT) break;
    }
    aws_http_free(h);
    return ok;
}

/* ---------------- web identity ---------------- */
static bool web_identity(aws_cred_provider *p, const char *token_file, const char *role_arn,
                         const char *session_name, aws_creds *out, aws_error *err)
{
    char *tok = NULL;
    size_t cap = 0, n = 0;
    bool ok = false;
    FILE *f = NULL;
    if (!p->have_ops || !p->ops.assume_role_web_identity) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "web identity needs STS (no client)");
        return false;
    }
    f = fopen(token_file, "r");
    if (!f) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "cannot read web identity token file %s",
                      token_file);
        return false;
    }
    cap = TOKEN_FILE_MAX + 1;
    tok = calloc(1, cap);
    if (!tok) goto cleanup;
    n = fread(tok, 1, cap - 1, f);
    if (n == 0 || n >= cap - 1) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "web identity token file %s is %s",
                      token_file, n == 0 ? "empty" : "too large");
        goto cleanup;
    }
    while (n && isspace((unsigned char)tok[n - 1])) tok[--n] = 0;
    ok = p->ops.assume_role_web_identity(p->ops.ctx, role_arn,
                                         session_name && *session_name ? session_name : "fleetcrypt",
                                         tok, p->opts.role_duration_s, out, err);
    if (ok) fc_strlcpy(out->source, "web-identity", sizeof(out->source));
cleanup:
    if (tok) {
        fc_wipe(tok, cap);
        free(tok);
    }
    fclose(f);
    return ok;
}

/* ---------------- the chain ---------------- */
static bool resolve_profile(aws_cred_provider *p, const char *name, int depth, aws_creds *out,
                            bool *found, aws_error *err);

static bool assume(aws_cred_provider *p, const aws_creds *src, const char *role_arn,
                   const char *session, const char *external_id, int duration_s, aws_creds *out,
                   aws_error *err)
{
    if (!p->have_ops || !p->ops.assume_role) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "AssumeRole needs STS (no client)");
        return false;
    }
    bool ok = p->ops.assume_role(p->ops.ctx, src, role_arn,
                                 session && *session ? session : "fleetcrypt", external_id,
                                 duration_s > 0 ? duration_s : p->opts.role_duration_s, out, err);
    if (ok) fc_strlcpy(out->source, "assume-role", sizeof(out->source));
    return ok;
}

static bool resolve_profile(aws_cred_provider *p, const char *name, int depth, aws_creds *out,
                            bool *found, aws_error *err)
{
    aws_profile *pr = calloc(1, sizeof(*pr));
    aws_creds *src = calloc(1, sizeof(*src));
    bool ok = false;
    *found = false;
    if (!pr || !src) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "profile allocation failed");
        goto cleanup;
    }
    if (depth > PROFILE_MAX_DEPTH) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig",
                      "profile %s: source_profile chain deeper than %d", name, PROFILE_MAX_DEPTH);
        goto cleanup;
    }
    if (!aws_profile_load(NULL, NULL, name, pr, err)) goto cleanup;
    if (!pr->found) goto cleanup;
    *found = true;
    if (pr->role_arn[0]) {
        bool src_ok = false, sub_found = false;
        if (pr->web_identity_token_file[0]) {
            ok = web_identity(p, pr->web_identity_token_file, pr->role_arn, pr->role_session_name,
                              out, err);
            goto cleanup;
        }
        if (pr->source_profile[0]) {
            if (!strcmp(pr->source_profile, name) && pr->access_key_id[0]) {
                /* a profile may name itself as source: use its static keys */
                fc_strlcpy(src->access_key_id, pr->access_key_id, sizeof(src->access_key_id));
                fc_strlcpy(src->secret_access_key, pr->secret_access_key,
                           sizeof(src->secret_access_key));
                fc_strlcpy(src->session_token, pr->session_token, sizeof(src->session_token));
                src_ok = true;
            } else {
                src_ok = resolve_profile(p, pr->source_profile, depth + 1, src, &sub_found, err);
                if (!sub_found && !src_ok)
                    aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig",
                                  "profile %s: source_profile %s not found", name,
                                  pr->source_profile);
            }
        } else if (!strcasecmp(pr->credential_source, "Environment")) {
            src_ok = aws_cred_from_env(src);
            if (!src_ok)
                aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials",
                              "profile %s: credential_source Environment but no env keys", name);
        } else if (!strcasecmp(pr->credential_source, "Ec2InstanceMetadata")) {
            src_ok = aws_cred_from_imds(NULL, p->opts.imds_timeout_ms, p->opts.imds_attempts, src,
                                        err);
        } else {
            aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig",
                          "profile %s: role_arn without source_profile or credential_source", name);
        }
        if (src_ok)
            ok = assume(p, src, pr->role_arn, pr->role_session_name,
                        pr->external_id[0] ? pr->external_id : NULL, pr->duration_seconds, out, err);
        goto cleanup;
    }
    if (pr->access_key_id[0] && pr->secret_access_key[0]) {
        memset(out, 0, sizeof(*out));
        fc_strlcpy(out->access_key_id, pr->access_key_id, sizeof(out->access_key_id));
        fc_strlcpy(out->secret_access_key, pr->secret_access_key, sizeof(out->secret_access_key));
        fc_strlcpy(out->session_token, pr->session_token, sizeof(out->session_token));
        snprintf(out->source, sizeof(out->source), "profile:%.39s", name);
        ok = true;
        goto cleanup;
    }
    /* the profile exists but holds no credentials (e.g. only a region): not a source */
    *found = false;
cleanup:
    if (pr) aws_profile_wipe(pr);
    if (src) aws_creds_wipe(src);
    free(pr);
    free(src);
    return ok;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && !strcasecmp(v, "true");
}

static bool resolve_chain(aws_cred_provider *p, aws_creds *out, aws_error *err)
{
    bool found = false;
    if (aws_cred_from_env(out)) return true;

    if (!resolve_profile(p, p->profile, 0, out, &found, err) && found) return false;
    if (found) return true;
    if (p->profile_explicit) {
        /* a profile explicitly asked for must exist (as the SDKs insist) */
        aws_error_set(err, AWS_ERR_AUTH, 0, "ProfileNotFound",
                      "profile %s not found or has no credentials", p->profile);
        return false;
    }

    const char *wf = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *wr = getenv("AWS_ROLE_ARN");
    if (wf && *wf && wr && *wr)
        return web_identity(p, wf, wr, getenv("AWS_ROLE_SESSION_NAME"), out, err);

    if (!env_true("AWS_EC2_METADATA_DISABLED")) {
        if (aws_cred_from_imds(NULL, p->opts.imds_timeout_ms, p->opts.imds_attempts, out, err))
            return true;
        log_debug("aws credentials: imds unavailable", "code=%s", err ? err->code : "");
    }
    aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials",
                  "no AWS credentials: env, profile %s, web identity and IMDS all unavailable",
                  p->profile);
    return false;
}

aws_cred_provider *aws_cred_provider_new(const aws_cred_opts *opts, const aws_cred_sts_ops *ops,
                                         aws_error *err)
{
    aws_cred_provider *p = calloc(1, sizeof(*p));
    if (!p) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "provider allocation failed");
        return NULL;
    }
    if (opts) p->opts = *opts;
    fc_strlcpy(p->profile, profile_name(p->opts.profile), sizeof(p->profile));
    p->profile_explicit = strcmp(p->profile, "default") != 0;
    fc_strlcpy(p->role_arn, p->opts.role_arn ? p->opts.role_arn : "", sizeof(p->role_arn));
    fc_strlcpy(p->role_session_name,
               p->opts.role_session_name && *p->opts.role_session_name ? p->opts.role_session_name
                                                                       : "fleetcrypt",
               sizeof(p->role_session_name));
    fc_strlcpy(p->external_id, p->opts.external_id ? p->opts.external_id : "",
               sizeof(p->external_id));
    /* the strings in opts are not ours: keep only our copies */
    p->opts.profile = p->profile;
    p->opts.role_arn = p->role_arn;
    p->opts.role_session_name = p->role_session_name;
    p->opts.external_id = p->external_id;
    if (p->opts.role_duration_s <= 0) p->opts.role_duration_s = 3600;
    if (p->opts.refresh_early_ms <= 0) p->opts.refresh_early_ms = 300000;
    if (p->opts.imds_timeout_ms <= 0) p->opts.imds_timeout_ms = 1000;
    if (p->opts.imds_attempts <= 0) p->opts.imds_attempts = 2;
    if (ops) {
        p->ops = *ops;
        p->have_ops = true;
    }
    if (p->opts.fixed) {
        p->base = *p->opts.fixed;
        if (!p->base.source[0]) fc_strlcpy(p->base.source, "static", sizeof(p->base.source));
        p->have_base = true;
        p->fixed = true;
        p->opts.fixed = NULL;
    }
    return p;
}

void aws_cred_provider_free(aws_cred_provider *p)
{
    if (!p) return;
    fc_wipe(p, sizeof(*p));
    free(p);
}

void aws_cred_invalidate(aws_cred_provider *p)
{
    if (!p) return;
    if (!p->fixed) {
        aws_creds_wipe(&p->base);
        p->have_base = false;
    }
    aws_creds_wipe(&p->cur);
    p->have_cur = false;
}

static bool fresh(const aws_cred_provider *p, const aws_creds *c)
{
    return c->expires_ms == 0 || fc_now_ms() + p->opts.refresh_early_ms < c->expires_ms;
}

static bool still_valid(const aws_creds *c)
{
    return c->expires_ms == 0 || fc_now_ms() < c->expires_ms;
}

/* Refresh into slot when needed; keep the old value if refresh fails but it
 * has not expired yet (an STS blip must not stop work). */
static bool refresh_slot(aws_cred_provider *p, aws_creds *slot, bool *have, bool is_role,
                         aws_error *err)
{
    if (*have && fresh(p, slot)) return true;
    aws_creds *n = calloc(1, sizeof(*n));
    bool ok = false;
    if (!n) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "creds allocation failed");
        return false;
    }
    if (is_role)
        ok = assume(p, &p->base, p->role_arn, p->role_session_name,
                    p->external_id[0] ? p->external_id : NULL, p->opts.role_duration_s, n, err);
    else
        ok = resolve_chain(p, n, err);
    if (ok) {
        *slot = *n;
        *have = true;
        log_info("aws credentials resolved", "source=%s expires_in_s=%lld", slot->source,
                 slot->expires_ms ? (long long)((slot->expires_ms - fc_now_ms()) / 1000) : -1LL);
    } else if (*have && still_valid(slot)) {
        log_warn("aws credentials refresh failed; using current ones until expiry",
                 "source=%s code=%s", slot->source, err ? err->code : "");
        ok = true;
    } else {
        log_error("aws credentials unavailable", "code=%s", err ? err->code : "");
    }
    aws_creds_wipe(n);
    free(n);
    return ok;
}

bool aws_cred_get(aws_cred_provider *p, aws_creds *out, aws_error *err)
{
    if (!p->fixed && !refresh_slot(p, &p->base, &p->have_base, false, err)) return false;
    if (p->role_arn[0]) {
        /* the role's credentials are re-assumed when they (or the base) near expiry */
        if (!refresh_slot(p, &p->cur, &p->have_cur, true, err)) return false;
        *out = p->cur;
    } else {
        *out = p->base;
    }
    return true;
}
