/* aws — see aws.h. One attempt = acquire (hook) → credentials → sign → HTTP
 * → classify → on_call (hook); the loop around it is the SDKs' standard
 * retry mode (awsretry.h). */
#include "aws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "awshttp.h"
#include "awsjson.h"
#include "log.h"
#include "sigv4.h"
#include "util.h"

#define AWS_URL_MAX 512

static const struct {
    const char *name;        /* signing name and endpoint prefix */
    const char *env_suffix;  /* AWS_ENDPOINT_URL_<suffix>; lower case, the config file's [services] key */
    const char *json_prefix; /* X-Amz-Target prefix (JSON services) */
} SERVICES[AWS_SVC_COUNT] = {
    [AWS_SVC_RDS] = {"rds", "RDS", NULL},
    [AWS_SVC_KMS] = {"kms", "KMS", "TrentService"},
    [AWS_SVC_STS] = {"sts", "STS", NULL},
    [AWS_SVC_SECRETS] = {"secretsmanager", "SECRETS_MANAGER", "secretsmanager"},
    [AWS_SVC_DMS] = {"dms", "DATABASE_MIGRATION_SERVICE", "AmazonDMSv20160101"},
    [AWS_SVC_ROUTE53] = {"route53", "ROUTE_53", NULL},
    [AWS_SVC_EC2] = {"ec2", "EC2", NULL},
};

struct aws_client {
    char region[64];
    char endpoint[AWS_SVC_COUNT][AWS_URL_MAX];
    char host[AWS_SVC_COUNT][256];   /* authority sent (and signed) as Host */
    char path[AWS_SVC_COUNT][256];
    aws_http *http;
    aws_cred_provider *creds;  /* borrowed */
    aws_retry_cfg retry;
    aws_retry_quota quota;
    aws_hooks hooks;
    bool last_ambiguous; /* see aws_client_last_call_ambiguous */
    aws_retry_until until; /* see aws_client_retry_until */
};

bool aws_service_config_key(aws_service svc, char *dst, size_t cap)
{
    if (svc >= AWS_SVC_COUNT || strlen(SERVICES[svc].env_suffix) >= cap) return false;
    size_t i = 0;
    for (; SERVICES[svc].env_suffix[i]; i++) dst[i] = (char)tolower((unsigned char)SERVICES[svc].env_suffix[i]);
    dst[i] = 0;
    return true;
}

const char *aws_service_name(aws_service svc)
{
    return svc < AWS_SVC_COUNT ? SERVICES[svc].name : "unknown";
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* "true" / "false" (any case) of a setting; -1 when neither. */
static int tri_bool(const char *v)
{
    if (!strcasecmp(v, "true")) return 1;
    if (!strcasecmp(v, "false")) return 0;
    return -1;
}

/* Endpoint precedence as in current SDKs: explicit per-service option,
 * AWS_ENDPOINT_URL_<SERVICE>, explicit global option, AWS_ENDPOINT_URL, the
 * profile's [services] section's endpoint_url for the service, the
 * profile's endpoint_url, then the regional default (<svc>-fips.<region>
 * with FIPS on). AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true drops the env and
 * the profile's. */
static bool resolve_endpoint(aws_client *c, const aws_client_opts *o, aws_service svc, bool fips,
                             aws_error *err)
{
    char envname[64];
    const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool use_env = !(ign && !strcasecmp(ign, "true"));
    const char *ep = o ? o->endpoints[svc] : NULL;
    snprintf(envname, sizeof(envname), "AWS_ENDPOINT_URL_%s", SERVICES[svc].env_suffix);
    if ((!ep || !*ep) && use_env) ep = env_nonempty(envname);
    if ((!ep || !*ep) && o && o->endpoint_url && *o->endpoint_url) ep = o->endpoint_url;
    if ((!ep || !*ep) && use_env) ep = env_nonempty("AWS_ENDPOINT_URL");
    if ((!ep || !*ep) && use_env && o && o->config_endpoints[svc] && *o->config_endpoints[svc])
        ep = o->config_endpoints[svc];
    if ((!ep || !*ep) && use_env && o && o->config_endpoint_url && *o->config_endpoint_url) ep = o->config_endpoint_url;
    if (ep && *ep) {
        if (!fc_strlcpy(c->endpoint[svc], ep, AWS_URL_MAX)) goto bad;
    } else if (svc == AWS_SVC_ROUTE53) {
        /* global, one endpoint (no FIPS variant outside GovCloud) */
        snprintf(c->endpoint[svc], AWS_URL_MAX, "https://route53.%s",
                 !strncmp(c->region, "cn-", 3) ? "amazonaws.com.cn" : "amazonaws.com");
    } else {
        const char *dns = !strncmp(c->region, "cn-", 3) ? "amazonaws.com.cn" : "amazonaws.com";
        snprintf(c->endpoint[svc], AWS_URL_MAX, "https://%s%s.%s.%s", SERVICES[svc].name, fips ? "-fips" : "",
                 c->region, dns);
    }
    size_t l = strlen(c->endpoint[svc]);
    while (l && c->endpoint[svc][l - 1] == '/') c->endpoint[svc][--l] = 0;
    if (strncmp(c->endpoint[svc], "http://", 7) && strncmp(c->endpoint[svc], "https://", 8))
        goto bad;
    if (!aws_http_split_url(c->endpoint[svc], c->host[svc], sizeof(c->host[svc]), c->path[svc],
                            sizeof(c->path[svc])))
        goto bad;
    return true;
bad:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidEndpoint", "bad endpoint URL for %s",
                  SERVICES[svc].name);
    return false;
}

aws_client *aws_client_new(const aws_client_opts *opts, aws_cred_provider *creds, aws_error *err)
{
    aws_client_opts none;
    memset(&none, 0, sizeof(none));
    if (!opts) opts = &none;
    aws_error_clear(err);
    if (!creds) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "NoCredentials", "no credentials provider");
        return NULL;
    }
    aws_client *c = calloc(1, sizeof(*c));
    if (!c) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "client allocation failed");
        return NULL;
    }
    c->creds = creds;
    const char *region = opts->region && *opts->region ? opts->region : env_nonempty("AWS_REGION");
    if (!region) region = env_nonempty("AWS_DEFAULT_REGION");
    if (region) fc_strlcpy(c->region, region, sizeof(c->region));
    else if (!aws_profile_region(c->region, sizeof(c->region))) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "NoRegion",
                      "no AWS region: set AWS_REGION or the profile's region");
        log_error("aws client: no region", "code=NoRegion");
        goto fail;
    }
    bool fips = opts->use_fips > 0;
    const char *fe = opts->use_fips ? NULL : env_nonempty("AWS_USE_FIPS_ENDPOINT");
    if (fe) {
        int v = tri_bool(fe);
        if (v < 0) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig", "AWS_USE_FIPS_ENDPOINT=%.32s: want true or false",
                          fe);
            log_error("aws client: bad setting", "code=InvalidConfig name=AWS_USE_FIPS_ENDPOINT");
            goto fail;
        }
        fips = v == 1;
    }
    for (int s = 0; s < AWS_SVC_COUNT; s++)
        if (!resolve_endpoint(c, opts, (aws_service)s, fips, err)) {
            log_error("aws client: bad endpoint", "service=%s", SERVICES[s].name);
            goto fail;
        }
    c->retry = opts->retry;
    aws_retry_cfg_normalize(&c->retry);
    aws_retry_quota_init(&c->quota, c->retry.quota_max);

    const char *ca = opts->ca_bundle && *opts->ca_bundle ? opts->ca_bundle : env_nonempty("AWS_CA_BUNDLE");
    if (ca && access(ca, R_OK) != 0) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig", "CA bundle %.300s cannot be read", ca);
        log_error("aws client: bad CA bundle", "code=InvalidConfig path=%s", ca);
        goto fail;
    }
    aws_http_opts ho = {.connect_timeout_ms = opts->connect_timeout_ms,
                        .timeout_ms = opts->timeout_ms,
                        .max_response = opts->max_response,
                        .user_agent = opts->user_agent ? opts->user_agent : "fleetcrypt/" FC_VERSION,
                        .ca_bundle = ca};
    c->http = aws_http_new(&ho, err);
    if (!c->http) goto fail;

    log_debug("aws client ready", "region=%s rds=%s", c->region, c->endpoint[AWS_SVC_RDS]);
    return c;
fail:
    aws_client_free(c);
    return NULL;
}

void aws_client_free(aws_client *c)
{
    if (!c) return;
    aws_http_free(c->http);
    fc_wipe(c, sizeof(*c));
    free(c);
}

void aws_client_set_hooks(aws_client *c, const aws_hooks *hooks)
{
    if (hooks) c->hooks = *hooks;
    else memset(&c->hooks, 0, sizeof(c->hooks));
}

const char *aws_client_region(const aws_client *c) { return c->region; }

const char *aws_client_endpoint(const aws_client *c, aws_service svc)
{
    return svc < AWS_SVC_COUNT ? c->endpoint[svc] : NULL;
}

int aws_client_retry_tokens(const aws_client *c) { return c->quota.tokens; }

bool aws_client_last_call_ambiguous(const aws_client *c) { return c->last_ambiguous; }

void aws_client_retry_until(aws_client *c, const aws_retry_until *u, aws_retry_until *prev)
{
    if (prev) *prev = c->until;
    if (u) c->until = *u;
    else memset(&c->until, 0, sizeof c->until);
}

/* ---------------- one request, with retries ---------------- */
typedef struct call_spec {
    aws_service svc;
    const char *action;
    const char *content_type;
    const char *target;        /* X-Amz-Target or NULL */
    const char *body;
    size_t body_len;
    aws_sign_mode mode;
    const aws_creds *creds;    /* AWS_SIGN_EXPLICIT */
    bool json;                 /* error bodies are JSON 1.1 */
    bool secret;               /* response holds secrets */
    const char *method;        /* REST: GET/POST (NULL: POST) */
    const char *rest_path;     /* REST: appended to the endpoint's path (NULL: none) */
    const char *const *query;  /* REST: decoded key, value, key, value ... */
    size_t nquery;             /* pairs */
} call_spec;

/* RFC 3986 unreserved bytes kept, every other one %XX (SigV4's encoding). */
static void uri_encode(const char *in, dbuf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            dbuf_append(out, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            dbuf_append(out, e, 3);
        }
    }
}

/* Build headers, sign, send. Returns false on transport failure (err set). */
static bool attempt_once(aws_client *c, const call_spec *cs, aws_http_response *resp,
                         bool *is_timeout, bool *sent, aws_error *err)
{
    aws_creds *cr = NULL;
    sigv4_output so;
    char *h_auth = NULL, *h_token = NULL;
    char h_host[300], h_ct[160], h_date[40], h_target[200], url[AWS_URL_MAX + 8];
    bool ok = false;
    memset(&so, 0, sizeof(so));

    char rpath[AWS_URL_MAX];
    const char *method = cs->method ? cs->method : "POST";
    const char *spath = c->path[cs->svc];
    dbuf qs;
    dbuf_init(&qs, 4096);
    snprintf(h_host, sizeof(h_host), "Host: %s", c->host[cs->svc]);
    snprintf(h_ct, sizeof(h_ct), "Content-Type: %s", cs->content_type);
    snprintf(url, sizeof(url), "%s", c->endpoint[cs->svc]);
    if (!strcmp(c->path[cs->svc], "/")) snprintf(url, sizeof(url), "%s/", c->endpoint[cs->svc]);
    sigv4_kv qkv[8];
    size_t nq = cs->nquery < 8 ? cs->nquery : 8;
    if (cs->rest_path) {
        /* the endpoint's path (no trailing slash) + the call's */
        size_t bl = strlen(c->path[cs->svc]);
        while (bl && c->path[cs->svc][bl - 1] == '/') bl--;
        snprintf(rpath, sizeof rpath, "%.*s%s", (int)bl, c->path[cs->svc], cs->rest_path);
        spath = rpath;
        for (size_t i = 0; i < nq; i++) {
            qkv[i] = (sigv4_kv){cs->query[2 * i], cs->query[2 * i + 1]};
            dbuf_append(&qs, i ? "&" : "?", 1);
            uri_encode(cs->query[2 * i], &qs);
            dbuf_append(&qs, "=", 1);
            uri_encode(cs->query[2 * i + 1], &qs);
        }
        snprintf(url, sizeof(url), "%s://%s%s%s", strncmp(c->endpoint[cs->svc], "https:", 6) ? "http" : "https",
                 c->host[cs->svc], rpath, qs.data ? qs.data : "");
    }
    if (cs->target) snprintf(h_target, sizeof(h_target), "X-Amz-Target: %s", cs->target);

    const char *headers[8];
    size_t nh = 0;
    headers[nh++] = h_host;
    headers[nh++] = h_ct;
    if (cs->target) headers[nh++] = h_target;

    if (cs->mode != AWS_SIGN_NONE) {
        cr = calloc(1, sizeof(*cr));
        if (!cr) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "creds allocation failed");
            goto cleanup;
        }
        if (cs->mode == AWS_SIGN_EXPLICIT) *cr = *cs->creds;
        else if (!aws_cred_get(c->creds, cr, err)) goto cleanup;
        sigv4_kv sh[3];
        size_t nsh = 0;
        sh[nsh++] = (sigv4_kv){"Host", c->host[cs->svc]};
        sh[nsh++] = (sigv4_kv){"Content-Type", cs->content_type};
        if (cs->target) sh[nsh++] = (sigv4_kv){"X-Amz-Target", cs->target};
        sigv4_input in = {.method = method,
                          .path = spath,
                          .query = cs->rest_path && nq ? qkv : NULL,
                          .nquery = cs->rest_path ? nq : 0,
                          .headers = sh,
                          .nheaders = nsh,
                          .body = cs->body,
                          .body_len = cs->body_len,
                          .region = cs->svc == AWS_SVC_ROUTE53 ? "us-east-1" : c->region,
                          .service = SERVICES[cs->svc].name,
                          .access_key_id = cr->access_key_id,
                          .secret_access_key = cr->secret_access_key,
                          .session_token = cr->session_token[0] ? cr->session_token : NULL,
                          .when = time(NULL)};
        if (!sigv4_sign(&in, &so)) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "SigningFailed", "SigV4 signing failed");
            goto cleanup;
        }
        snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", so.amz_date);
        headers[nh++] = h_date;
        size_t al = strlen(so.authorization) + 32;
        h_auth = malloc(al);
        if (!h_auth) goto oom;
        snprintf(h_auth, al, "Authorization: %s", so.authorization);
        headers[nh++] = h_auth;
        if (cr->session_token[0]) {
            size_t tl = strlen(cr->session_token) + 32;
            h_token = malloc(tl);
            if (!h_token) goto oom;
            snprintf(h_token, tl, "X-Amz-Security-Token: %s", cr->session_token);
            headers[nh++] = h_token;
        }
    }
    headers[nh] = NULL;
    *sent = true;
    ok = aws_http_request(c->http, method, url, headers, cs->body, cs->body_len, resp, is_timeout,
                          err);
    goto cleanup;
oom:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "header allocation failed");
cleanup:
    if (h_token) {
        fc_wipe(h_token, strlen(h_token));
        free(h_token);
    }
    free(h_auth);
    dbuf_free(&qs);
    sigv4_output_free(&so);
    if (cr) {
        aws_creds_wipe(cr);
        free(cr);
    }
    return ok;
}

/* Turn a non-2xx response into err (code, message, request id, kind). */
static void decode_error(const call_spec *cs, const aws_http_response *resp, aws_error *err)
{
    aws_error e;
    aws_error_clear(&e);
    bool parsed = cs->json ? aws_json_parse_error(resp->body.data, resp->body.len, &e)
                           : aws_xml_parse_error(resp->body.data, resp->body.len, &e);
    /* some JSON services answer Query-style errors and vice versa (proxies, emulators) */
    if (!parsed)
        parsed = cs->json ? aws_xml_parse_error(resp->body.data, resp->body.len, &e)
                          : aws_json_parse_error(resp->body.data, resp->body.len, &e);
    if (!parsed) {
        snprintf(e.code, sizeof(e.code), "Http%d", resp->status);
        snprintf(e.message, sizeof(e.message), "HTTP %d without an AWS error body", resp->status);
    }
    e.http_status = resp->status;
    if (!e.request_id[0]) fc_strlcpy(e.request_id, resp->request_id, sizeof(e.request_id));
    e.kind = aws_retry_classify(resp->status, parsed ? e.code : NULL);
    if (err) *err = e;
}

/* After a failed attempt: another one, and after how long (*delay)? The
 * standard policy (retryable kinds, max_attempts, the retry quota, full
 * jitter), and under a deadline (until > 0) also any retryable or, when the
 * caller says so, busy answer while the next attempt starts before it:
 * short backoff, the quota still taken for a throttle/5xx, the attempts'
 * ceiling and go_on obeyed. *taken: the quota tokens the retry took. */
static bool retry_again(aws_client *c, const call_spec *cs, const aws_error *e, int attempt, bool is_timeout,
                        int64_t until, int *taken, int64_t *delay)
{
    bool retryable = aws_retry_is_retryable(e->kind);
    bool busy = !retryable && until > 0 && c->until.busy && aws_retry_is_busy(e->code);
    if (!retryable && !busy) return false;
    bool standard = retryable && attempt < c->retry.max_attempts;
    if (until > 0) {
        if (c->until.go_on && !c->until.go_on(c->until.ud)) return false;
        int64_t d = aws_retry_until_backoff_ms(&c->retry, attempt - 1);
        if (attempt < AWS_RETRY_UNTIL_MAX_ATTEMPTS && fc_mono_ms() + d < until) {
            *delay = d;
            if (busy) return true; /* AWS answered and did nothing: no quota */
        } else if (!standard) {
            return false;
        }
    } else if (!standard) {
        return false;
    }
    int cost = aws_retry_quota_acquire(&c->quota, &c->retry, is_timeout);
    if (cost == 0) {
        log_warn("aws retry quota exhausted; not retrying", "service=%s action=%s code=%s tokens=%d",
                 SERVICES[cs->svc].name, cs->action, e->code, c->quota.tokens);
        return false;
    }
    *taken = cost;
    if (*delay == 0) *delay = aws_retry_backoff_ms(&c->retry, attempt - 1);
    return true;
}

static bool send_with_retry(aws_client *c, const call_spec *cs, aws_http_response *resp,
                            aws_error *err)
{
    const char *svc = SERVICES[cs->svc].name;
    int taken = 0;
    /* an attempt that went out and failed transiently (5xx, timeout, reset)
     * may have been carried out: its retry may meet its own effect. Kept in
     * a local: credentials resolved inside an attempt may make calls of
     * their own (STS) through this client. */
    bool ambiguous = false;
    /* the caller's deadline (aws_client_retry_until), taken once: calls an
     * attempt makes of its own (credentials) see the same setting */
    int64_t until = c->until.until_ms;
    if (until > 0) {
        int64_t now = fc_mono_ms();
        if (until <= now) until = 0;
        else if (until > now + AWS_RETRY_UNTIL_MAX_MS) until = now + AWS_RETRY_UNTIL_MAX_MS;
    }
    aws_error e;
    for (int attempt = 1;; attempt++) {
        bool is_timeout = false, sent = false;
        aws_error_clear(&e);
        /* under a deadline (writers blocked) the attempt goes ahead of the fleet's others */
        bool (*acquire)(void *, const char *, const char *) =
            until > 0 && c->hooks.acquire_urgent ? c->hooks.acquire_urgent : c->hooks.acquire;
        if (acquire && !acquire(c->hooks.ud, svc, cs->action)) {
            aws_error_set(&e, AWS_ERR_THROTTLE, 0, "RateLimited",
                          "the shared rate limiter refused %s:%s", svc, cs->action);
            break;
        }
        int64_t t0 = fc_mono_ms();
        bool got = attempt_once(c, cs, resp, &is_timeout, &sent, &e);
        int64_t ms = fc_mono_ms() - t0;
        if (got && resp->status >= 200 && resp->status < 300) {
            if (c->hooks.on_call) c->hooks.on_call(c->hooks.ud, svc, cs->action, resp->status, NULL, ms);
            aws_retry_quota_release(&c->quota, &c->retry, taken);
            log_debug("aws call ok", "service=%s action=%s status=%d try=%d ms=%lld request_id=%s",
                      svc, cs->action, resp->status, attempt, (long long)ms, resp->request_id);
            c->last_ambiguous = ambiguous;
            return true;
        }
        if (got) decode_error(cs, resp, &e);
        /* no request went out (credentials or signing failed): nothing to report or retry */
        if (!sent) break;
        if (c->hooks.on_call)
            c->hooks.on_call(c->hooks.ud, svc, cs->action, e.http_status, e.code, ms);
        if (e.kind == AWS_ERR_THROTTLE && c->hooks.on_throttle)
            c->hooks.on_throttle(c->hooks.ud, svc, cs->action);
        if (e.kind == AWS_ERR_AUTH && (!strcmp(e.code, "ExpiredToken") ||
                                       !strcmp(e.code, "ExpiredTokenException")))
            aws_cred_invalidate(c->creds); /* the next call resolves fresh credentials */
        int64_t delay = 0;
        if (!retry_again(c, cs, &e, attempt, is_timeout, until, &taken, &delay)) break;
        if (e.kind == AWS_ERR_TRANSIENT) ambiguous = true;
        log_info("aws call retry", "service=%s action=%s code=%s status=%d request_id=%s try=%d delay_ms=%lld%s",
                 svc, cs->action, e.code, e.http_status, e.request_id[0] ? e.request_id : "-",
                 attempt, (long long)delay, until > 0 ? " until=deadline" : "");
        fc_sleep_ms(delay);
    }
    /* the one place a failed call is logged; "not found" is how callers look
     * before they create (and how a rename is awaited): not an error of its own */
    if (e.kind == AWS_ERR_NOT_FOUND)
        log_debug("aws call: not found", "service=%s action=%s code=%s status=%d request_id=%s", svc, cs->action,
                  e.code[0] ? e.code : "-", e.http_status, e.request_id[0] ? e.request_id : "-");
    else
        log_error("aws call failed", "service=%s action=%s code=%s kind=%s status=%d request_id=%s",
                  svc, cs->action, e.code[0] ? e.code : "-", aws_err_kind_name(e.kind), e.http_status,
                  e.request_id[0] ? e.request_id : "-");
    c->last_ambiguous = ambiguous;
    if (err) *err = e;
    return false;
}

/* ---------------- Query ---------------- */
bool aws_query_call_ex(aws_client *c, aws_service svc, const char *action, aws_query *q,
                       aws_sign_mode mode, const aws_creds *creds, aws_xml **out, aws_error *err)
{
    aws_http_response resp;
    bool ok = false;
    *out = NULL;
    if (q->failed) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidParameter",
                      "request parameters for %s too large", action);
        log_error("aws request build failed", "action=%s", action);
        return false;
    }
    call_spec cs = {.svc = svc,
                    .action = action,
                    .content_type = "application/x-www-form-urlencoded; charset=utf-8",
                    .body = q->body.data,
                    .body_len = q->body.len,
                    .mode = mode,
                    .creds = creds,
                    .secret = q->secure};
    aws_http_response_init(&resp, q->secure);
    if (!send_with_retry(c, &cs, &resp, err)) goto cleanup;
    if (!aws_xml_parse(resp.body.data, resp.body.len, NULL, out, err)) {
        if (err) fc_strlcpy(err->request_id, resp.request_id, sizeof(err->request_id));
        log_error("aws response unreadable", "service=%s action=%s code=%s request_id=%s",
                  SERVICES[svc].name, action, err ? err->code : "-", resp.request_id);
        goto cleanup;
    }
    ok = true;
cleanup:
    aws_http_response_free(&resp);
    return ok;
}

bool aws_query_call(aws_client *c, aws_service svc, const char *action, aws_query *q,
                    aws_xml **out, aws_error *err)
{
    return aws_query_call_ex(c, svc, action, q, AWS_SIGN_PROVIDER, NULL, out, err);
}

const aws_xml_node *aws_query_result(const aws_xml *x, const char *action)
{
    char name[160];
    snprintf(name, sizeof(name), "%sResult", action);
    return aws_xml_child(aws_xml_root(x), name);
}

/* ---------------- REST XML ---------------- */
bool aws_rest_xml_call(aws_client *c, aws_service svc, const char *action, const char *method, const char *path,
                       const char *const *query, size_t nquery, const char *body, aws_xml **out, aws_error *err)
{
    aws_http_response resp;
    bool ok = false;
    *out = NULL;
    if (nquery > 8) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidParameter", "too many query parameters for %s", action);
        return false;
    }
    call_spec cs = {.svc = svc,
                    .action = action,
                    .content_type = "application/xml",
                    .body = body ? body : "",
                    .body_len = body ? strlen(body) : 0,
                    .mode = AWS_SIGN_PROVIDER,
                    .method = method,
                    .rest_path = path,
                    .query = query,
                    .nquery = nquery};
    aws_http_response_init(&resp, false);
    if (!send_with_retry(c, &cs, &resp, err)) goto cleanup;
    if (resp.body.len && !aws_xml_parse(resp.body.data, resp.body.len, NULL, out, err)) {
        if (err) fc_strlcpy(err->request_id, resp.request_id, sizeof(err->request_id));
        log_error("aws response unreadable", "service=%s action=%s code=%s request_id=%s",
                  SERVICES[svc].name, action, err ? err->code : "-", resp.request_id);
        goto cleanup;
    }
    ok = true;
cleanup:
    aws_http_response_free(&resp);
    return ok;
}

/* ---------------- JSON 1.1 ---------------- */
bool aws_json_call(aws_client *c, aws_service svc, const char *action, const json_t *body,
                   bool secret, json_t **out, aws_error *err)
{
    char target[160];
    char *text = NULL;
    aws_http_response resp;
    bool ok = false;
    *out = NULL;
    if (!SERVICES[svc].json_prefix) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidService", "%s is not a JSON service",
                      SERVICES[svc].name);
        return false;
    }
    snprintf(target, sizeof(target), "%s.%s", SERVICES[svc].json_prefix, action);
    text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
    if (!text) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "JSON encoding failed");
        return false;
    }
    call_spec cs = {.svc = svc,
                    .action = action,
                    .content_type = "application/x-amz-json-1.1",
                    .target = target,
                    .body = text,
                    .body_len = strlen(text),
                    .mode = AWS_SIGN_PROVIDER,
                    .json = true,
                    .secret = secret};
    aws_http_response_init(&resp, secret);
    if (!send_with_retry(c, &cs, &resp, err)) goto cleanup;
    if (!aws_json_parse(resp.body.data, resp.body.len, NULL, out, err)) {
        if (err) fc_strlcpy(err->request_id, resp.request_id, sizeof(err->request_id));
        log_error("aws response unreadable", "service=%s action=%s code=%s request_id=%s",
                  SERVICES[svc].name, action, err ? err->code : "-", resp.request_id);
        goto cleanup;
    }
    ok = true;
cleanup:
    if (secret) fc_wipe(text, strlen(text));
    free(text);
    aws_http_response_free(&resp);
    return ok;
}
