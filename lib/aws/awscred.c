/* awscred — see awscred.h. */
#include "awscred.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "awshttp.h"
#include "awsjson.h"
#include "log.h"
#include "util.h"

#define PROFILE_MAX_DEPTH 4
#define CRED_FILE_MAX (1024 * 1024)
#define TOKEN_FILE_MAX (64 * 1024)
#define PROCESS_OUT_MAX (64 * 1024)      /* credential_process stdout */
#define PROCESS_TIMEOUT_MS 60000         /* then the process is killed */
#define CONTAINER_ECS_HOST "http://169.254.170.2"

extern char **environ;

struct aws_cred_provider {
    aws_cred_opts opts;
    char profile[128];
    char role_arn[256];
    char role_session_name[128];
    char external_id[256];
    char ca_bundle[1024];
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
        {"credential_process", p->credential_process, sizeof(p->credential_process)},
        {"retry_mode", p->retry_mode, sizeof(p->retry_mode)},
        {"ca_bundle", p->ca_bundle, sizeof(p->ca_bundle)},
        {"endpoint_url", p->endpoint_url, sizeof(p->endpoint_url)},
        {"use_fips_endpoint", p->use_fips_endpoint, sizeof(p->use_fips_endpoint)},
        {"sso_session", p->sso_session, sizeof(p->sso_session)},
        {"sso_account_id", p->sso_account_id, sizeof(p->sso_account_id)},
        {"sso_role_name", p->sso_role_name, sizeof(p->sso_role_name)},
        {"sso_start_url", p->sso_start_url, sizeof(p->sso_start_url)},
        {"sso_region", p->sso_region, sizeof(p->sso_region)},
        {"services", p->services, sizeof(p->services)},
    };
    for (size_t i = 0; i < FC_ARRAY_LEN(map); i++) {
        if (!strcasecmp(k, map[i].key)) {
            fc_strlcpy(map[i].dst, v, map[i].cap);
            return;
        }
    }
    if (!strcasecmp(k, "duration_seconds")) p->duration_seconds = atoi(v);
    if (!strcasecmp(k, "max_attempts")) fc_strlcpy(p->max_attempts, v, sizeof(p->max_attempts));
}

/* Which sections a parse reads: the credentials file's "[NAME]", the config
 * file's "[profile NAME]" (or "[default]"), its "[sso-session NAME]" or its
 * "[services NAME]". */
typedef enum { INI_CREDENTIALS = 0, INI_CONFIG, INI_SSO_SESSION, INI_SERVICES } ini_kind;

static bool prefixed(const char *sec, const char *prefix, const char *name)
{
    size_t l = strlen(prefix);
    if (strncmp(sec, prefix, l) || !isspace((unsigned char)sec[l])) return false;
    const char *n = sec + l + 1;
    while (isspace((unsigned char)*n)) n++;
    return !strcmp(n, name);
}

/* Does section header text (between brackets, trimmed) name this profile? */
static bool section_matches(const char *sec, const char *name, ini_kind kind)
{
    if (kind == INI_CREDENTIALS) return !strcmp(sec, name);
    if (kind == INI_SSO_SESSION) return prefixed(sec, "sso-session", name);
    if (kind == INI_SERVICES) return prefixed(sec, "services", name);
    if (!strcmp(name, "default") && !strcmp(sec, "default")) return true;
    return prefixed(sec, "profile", name);
}

/* Parse one INI file, applying keys of the matching section to p. */
static bool parse_ini(const char *path, const char *name, ini_kind is_config, aws_profile *p,
                      aws_error *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    bool in_section = false, in_nested = false;
    char nested[32] = ""; /* INI_SERVICES: the service whose indented keys follow */
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
        /* "s3 =" followed by indented "key = value" lines: a nested section,
         * skipped except in a [services] section (each service's endpoint_url) */
        if (indented && in_nested && is_config != INI_SERVICES) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        /* strip an inline " #comment" the way the SDKs do */
        for (char *c = v; *c; c++)
            if ((*c == '#' || *c == ';') && c > v && isspace((unsigned char)c[-1])) {
                *c = 0;
                v = trim(v);
                break;
            }
        if (is_config == INI_SERVICES) {
            if (!indented) {
                in_nested = (*v == 0);
                if (!fc_strlcpy(nested, k, sizeof nested)) nested[0] = 0;
            } else if (in_nested && nested[0] && !strcasecmp(k, "endpoint_url") &&
                       p->n_svc_endpoint < (int)FC_ARRAY_LEN(p->svc_endpoint)) {
                fc_strlcpy(p->svc_endpoint[p->n_svc_endpoint].key, nested, sizeof p->svc_endpoint[0].key);
                fc_strlcpy(p->svc_endpoint[p->n_svc_endpoint].url, v, sizeof p->svc_endpoint[0].url);
                p->n_svc_endpoint++;
            }
            continue;
        }
        in_nested = (*v == 0);
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
    if (config_path && !parse_ini(config_path, name, INI_CONFIG, out, err)) return false;
    if (cred_path && !parse_ini(cred_path, name, INI_CREDENTIALS, out, err)) return false;
    if (out->services[0]) {
        /* parse into a scratch profile: the section's "found" is not the profile's */
        aws_profile *sv = calloc(1, sizeof *sv);
        bool ok = sv && config_path && parse_ini(config_path, out->services, INI_SERVICES, sv, err);
        if (ok && !sv->found) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig",
                          "profile %s: services = %s, but the config file has no [services %s] section", name,
                          out->services, out->services);
            ok = false;
        } else if (!ok && !sv) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "profile: out of memory");
        } else if (!ok && !config_path) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig", "profile %s: services = %s, but no config file",
                          name, out->services);
        }
        if (ok) {
            memcpy(out->svc_endpoint, sv->svc_endpoint, sizeof out->svc_endpoint);
            out->n_svc_endpoint = sv->n_svc_endpoint;
        }
        aws_profile_wipe(sv);
        free(sv);
        if (!ok) return false;
    }
    return true;
}

const char *aws_profile_service_endpoint(const aws_profile *p, const char *key)
{
    for (int i = 0; p && i < p->n_svc_endpoint; i++)
        if (!strcasecmp(p->svc_endpoint[i].key, key) && p->svc_endpoint[i].url[0]) return p->svc_endpoint[i].url;
    return NULL;
}

bool aws_sso_session_load(const char *config_path, const char *name, aws_profile *out, aws_error *err)
{
    char fp[1024];
    memset(out, 0, sizeof(*out));
    fc_strlcpy(out->name, name, sizeof(out->name));
    if (!config_path && default_path("AWS_CONFIG_FILE", "config", fp, sizeof(fp))) config_path = fp;
    return !config_path || parse_ini(config_path, name, INI_SSO_SESSION, out, err);
}

void aws_profile_wipe(aws_profile *p)
{
    if (p) fc_wipe(p, sizeof(*p));
}

const char *aws_profile_name(const char *explicit_name)
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
    if (aws_profile_load(NULL, NULL, aws_profile_name(NULL), p, &e) && p->region[0])
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

/* jansson keeps secrets in its strings: overwrite them before release. */
static void json_wipe_decref(json_t *j)
{
    static const char *const secret_keys[] = {"SecretAccessKey", "Token", "SessionToken"};
    if (!j) return;
    for (size_t i = 0; i < FC_ARRAY_LEN(secret_keys); i++) {
        json_t *v = json_object_get(j, secret_keys[i]);
        if (json_is_string(v)) fc_wipe((void *)json_string_value(v), json_string_length(v));
    }
    json_decref(j);
}

/* Credentials from a JSON document (credential_process or container
 * endpoint): token_key names the session token ("SessionToken" or "Token").
 * Messages never quote the document. */
static bool creds_from_json(const char *what, const char *doc, size_t len, const char *token_key,
                            bool token_required, bool check_version, aws_creds *out, aws_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(doc, len, 0, &je);
    bool ok = false;
    char exp[64];
    memset(out, 0, sizeof(*out));
    fc_wipe(&je, sizeof(je)); /* its text may quote the document */
    if (!json_is_object(j)) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidCredentials", "%s: output is not a JSON object", what);
        goto done;
    }
    if (check_version) {
        json_t *v = json_object_get(j, "Version");
        if (!json_is_integer(v) || json_integer_value(v) != 1) {
            aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidCredentials", "%s: Version must be 1", what);
            goto done;
        }
    }
    if (!aws_json_str(j, "AccessKeyId", out->access_key_id, sizeof(out->access_key_id)) ||
        !out->access_key_id[0]) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidCredentials", "%s: no AccessKeyId", what);
        goto done;
    }
    if (!aws_json_str(j, "SecretAccessKey", out->secret_access_key, sizeof(out->secret_access_key)) ||
        !out->secret_access_key[0]) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidCredentials", "%s: no SecretAccessKey", what);
        goto done;
    }
    if (!aws_json_str(j, token_key, out->session_token, sizeof(out->session_token)) && token_required) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidCredentials", "%s: no %s", what, token_key);
        goto done;
    }
    if (json_object_get(j, "Expiration") &&
        (!aws_json_str(j, "Expiration", exp, sizeof(exp)) || !aws_parse_iso8601(exp, &out->expires_ms))) {
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidCredentials", "%s: Expiration is not an ISO 8601 time", what);
        goto done;
    }
    ok = true;
done:
    if (!ok) aws_creds_wipe(out);
    json_wipe_decref(j);
    return ok;
}

/* ---------------- credential_process ---------------- */
bool aws_cred_from_process(const char *profile, const char *command, aws_creds *out, aws_error *err)
{
    char what[192];
    snprintf(what, sizeof(what), "profile %.64s credential_process", profile);
    int fds[2];
    /* close-on-exec: no other thread's child inherits the pipe (the dup2
     * below gives the process its stdout without the flag) */
    if (pipe(fds) != 0) {
        aws_error_set(err, AWS_ERR_TRANSIENT, 0, "NoCredentials", "%s: pipe: %s", what, strerror(errno));
        return false;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO); /* stderr stays the caller's, as in the SDKs */
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "%s: cannot start: %s", what, strerror(rc));
        return false;
    }
    char *buf = calloc(1, PROCESS_OUT_MAX + 1);
    size_t n = 0;
    bool too_big = false, timed_out = false;
    int64_t deadline = fc_mono_ms() + PROCESS_TIMEOUT_MS;
    while (buf) {
        int left = (int)(deadline - fc_mono_ms());
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int pr = poll(&pf, 1, left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue; /* timeout: checked above */
        if (n == PROCESS_OUT_MAX) {
            too_big = true;
            break;
        }
        ssize_t r = read(fds[0], buf + n, PROCESS_OUT_MAX - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fds[0]);
    if (timed_out || too_big || !buf) kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    bool ok = false;
    if (!buf) aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "%s: out of memory", what);
    else if (timed_out)
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "%s: no answer within %d s (killed)", what,
                      PROCESS_TIMEOUT_MS / 1000);
    else if (too_big)
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "%s: output larger than %d bytes", what,
                      PROCESS_OUT_MAX);
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (WIFEXITED(st))
            aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "%s exited with status %d", what, WEXITSTATUS(st));
        else
            aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "%s killed by signal %d", what,
                          WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    } else if ((ok = creds_from_json(what, buf, n, "SessionToken", false, true, out, err))) {
        snprintf(out->source, sizeof(out->source), "process:%.38s", profile);
    }
    if (buf) {
        fc_wipe(buf, PROCESS_OUT_MAX + 1);
        free(buf);
    }
    return ok;
}

/* ---------------- container credentials (ECS, EKS Pod Identity) ---------------- */
bool aws_cred_container_configured(void)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    return (rel && *rel) || (full && *full);
}

/* A FULL_URI over plain http must stay on this host or reach the ECS / EKS
 * Pod Identity agent's link-local address, as the SDKs require. */
static bool container_host_allowed(const char *url)
{
    if (!strncasecmp(url, "https://", 8)) return true;
    if (strncasecmp(url, "http://", 7)) return false;
    const char *h = url + 7;
    char host[256];
    size_t l;
    if (*h == '[') {
        const char *e = strchr(h, ']');
        if (!e) return false;
        l = (size_t)(e - h) + 1;
    } else {
        l = strcspn(h, ":/?#");
    }
    if (l == 0 || l >= sizeof(host)) return false;
    memcpy(host, h, l);
    host[l] = 0;
    if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "169.254.170.2") ||
        !strcmp(host, "169.254.170.23") || !strcasecmp(host, "[fd00:ec2::23]"))
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

/* The Authorization header's value: the token file (re-read at every
 * fetch: EKS rotates it) wins over the variable. */
static bool container_token(char *dst, size_t cap, aws_error *err)
{
    const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    dst[0] = 0;
    if (file && *file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s",
                          file);
            return false;
        }
        size_t n = fread(dst, 1, cap - 1, f);
        bool more = fgetc(f) != EOF;
        fclose(f);
        dst[n] = 0;
        if (more) {
            fc_wipe(dst, cap);
            aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s is too large",
                          file);
            return false;
        }
        while (n && isspace((unsigned char)dst[n - 1])) dst[--n] = 0;
    } else if (tok && *tok) {
        if (!fc_strlcpy(dst, tok, cap)) {
            fc_wipe(dst, cap);
            aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN is too long");
            return false;
        }
    }
    if (strpbrk(dst, "\r\n")) { /* a header of its own */
        fc_wipe(dst, cap);
        aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig", "the container authorization token contains a line break");
        return false;
    }
    return true;
}

bool aws_cred_from_container(const char *ca_bundle, int64_t timeout_ms, int attempts, aws_creds *out, aws_error *err)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[2048];
    if (rel && *rel) {
        if (snprintf(url, sizeof(url), "%s%s%s", CONTAINER_ECS_HOST, rel[0] == '/' ? "" : "/", rel) >=
            (int)sizeof(url)) {
            aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
            return false;
        }
    } else if (full && *full) {
        if (!fc_strlcpy(url, full, sizeof(url)) || !container_host_allowed(url)) {
            aws_error_set(err, AWS_ERR_AUTH, 0, "InvalidConfig",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback address "
                          "or the ECS/EKS agent (169.254.170.2, 169.254.170.23, fd00:ec2::23)");
            return false;
        }
    } else {
        aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "no container credentials configured");
        return false;
    }
    char *tok = calloc(1, TOKEN_FILE_MAX + 1);
    char *hdr = calloc(1, TOKEN_FILE_MAX + 32);
    bool ok = false;
    aws_http *h = NULL;
    if (!tok || !hdr) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "container credentials: out of memory");
        goto cleanup;
    }
    if (!container_token(tok, TOKEN_FILE_MAX + 1, err)) goto cleanup;
    if (tok[0]) snprintf(hdr, TOKEN_FILE_MAX + 32, "Authorization: %s", tok);
    const char *headers[] = {tok[0] ? hdr : "Accept: application/json", NULL};
    aws_http_opts ho = {.connect_timeout_ms = timeout_ms > 0 ? timeout_ms : 1000,
                        .timeout_ms = timeout_ms > 0 ? timeout_ms * 2 : 2000,
                        .max_response = 64 * 1024,
                        .user_agent = "fleetcrypt-container-credentials",
                        .no_proxy = true,
                        .ca_bundle = ca_bundle};
    h = aws_http_new(&ho, err);
    if (!h) goto cleanup;
    if (attempts <= 0) attempts = 2;
    for (int i = 0; i < attempts && !ok; i++) {
        aws_http_response r;
        aws_http_response_init(&r, true);
        if (!aws_http_request(h, "GET", url, headers, NULL, 0, &r, NULL, err)) {
            /* err says NetworkError/Timeout; name the endpoint (never the token) */
            char m[sizeof(err->message)];
            snprintf(m, sizeof(m), "container credentials endpoint %.200s: %.250s", url, err->message);
            fc_strlcpy(err->message, m, sizeof(err->message));
        } else if (r.status != 200) {
            aws_error_set(err, r.status >= 500 ? AWS_ERR_TRANSIENT : AWS_ERR_AUTH, r.status, "NoCredentials",
                          "container credentials endpoint %.200s answered HTTP %d", url, r.status);
        } else {
            ok = creds_from_json("container credentials", r.body.data, r.body.len, "Token", false, false, out, err);
            if (ok) fc_strlcpy(out->source, "container", sizeof(out->source));
            else err->kind = AWS_ERR_PERMANENT;
        }
        aws_http_response_free(&r);
        if (!ok && err->kind != AWS_ERR_TRANSIENT) break;
    }
cleanup:
    aws_http_free(h);
    if (tok) fc_wipe(tok, TOKEN_FILE_MAX + 1);
    if (hdr) fc_wipe(hdr, TOKEN_FILE_MAX + 32);
    free(tok);
    free(hdr);
    return ok;
}

/* ---------------- retry settings ---------------- */
bool aws_retry_settings(const char *profile, int *max_attempts, char *mode, size_t mode_cap, aws_error *err)
{
    *max_attempts = 0;
    if (mode_cap) mode[0] = 0;
    aws_profile *p = calloc(1, sizeof(*p));
    if (!p) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "profile allocation failed");
        return false;
    }
    bool ok = aws_profile_load(NULL, NULL, aws_profile_name(profile), p, err);
    const char *ma = getenv("AWS_MAX_ATTEMPTS"), *ma_src = "AWS_MAX_ATTEMPTS";
    const char *rm = getenv("AWS_RETRY_MODE"), *rm_src = "AWS_RETRY_MODE";
    if (!ma || !*ma) {
        ma = p->max_attempts;
        ma_src = "the profile's max_attempts";
    }
    if (!rm || !*rm) {
        rm = p->retry_mode;
        rm_src = "the profile's retry_mode";
    }
    if (ok && *ma) {
        char *end = NULL;
        long v = strtol(ma, &end, 10);
        if (*end || v < 1 || v > AWS_MAX_ATTEMPTS_LIMIT) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig",
                          "%s=%.32s: want a whole number of attempts from 1 to %d", ma_src, ma,
                          AWS_MAX_ATTEMPTS_LIMIT);
            ok = false;
        } else {
            *max_attempts = (int)v;
        }
    }
    if (ok && *rm) {
        if (strcmp(rm, "standard") && strcmp(rm, "legacy") && strcmp(rm, "adaptive")) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig",
                          "%s=%.32s: want standard, legacy or adaptive", rm_src, rm);
            ok = false;
        } else {
            fc_strlcpy(mode, rm, mode_cap);
        }
    }
    aws_profile_wipe(p);
    free(p);
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
    if (pr->sso_session[0] || pr->sso_start_url[0]) {
        if (p->have_ops && p->ops.sso) ok = p->ops.sso(pr, p->opts.ca_bundle, out, err);
        else aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials", "profile %s: SSO needs the session (no SSO provider)",
                           name);
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
    if (pr->credential_process[0]) {
        ok = aws_cred_from_process(name, pr->credential_process, out, err);
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

    /* ECS task role / EKS Pod Identity: when configured it is the pod's
     * identity, and a failure is an error (never the node's role via IMDS) */
    if (aws_cred_container_configured())
        return aws_cred_from_container(p->opts.ca_bundle, p->opts.imds_timeout_ms, p->opts.imds_attempts, out, err);

    if (!env_true("AWS_EC2_METADATA_DISABLED")) {
        if (aws_cred_from_imds(NULL, p->opts.imds_timeout_ms, p->opts.imds_attempts, out, err))
            return true;
        log_debug("aws credentials: imds unavailable", "code=%s", err ? err->code : "");
    }
    aws_error_set(err, AWS_ERR_AUTH, 0, "NoCredentials",
                  "no AWS credentials: env, profile %s, web identity, container and IMDS all unavailable",
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
    fc_strlcpy(p->profile, aws_profile_name(p->opts.profile), sizeof(p->profile));
    p->profile_explicit = strcmp(p->profile, "default") != 0;
    fc_strlcpy(p->role_arn, p->opts.role_arn ? p->opts.role_arn : "", sizeof(p->role_arn));
    fc_strlcpy(p->role_session_name,
               p->opts.role_session_name && *p->opts.role_session_name ? p->opts.role_session_name
                                                                       : "fleetcrypt",
               sizeof(p->role_session_name));
    fc_strlcpy(p->external_id, p->opts.external_id ? p->opts.external_id : "",
               sizeof(p->external_id));
    fc_strlcpy(p->ca_bundle, p->opts.ca_bundle ? p->opts.ca_bundle : "", sizeof(p->ca_bundle));
    p->opts.ca_bundle = p->ca_bundle[0] ? p->ca_bundle : NULL;
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
