/* awshttp — see awshttp.h. */
#include "awshttp.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util.h"

struct aws_http {
    CURL *curl;
    aws_http_opts opts;
    char user_agent[128];
    char ca_bundle[1024];
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

aws_http *aws_http_new(const aws_http_opts *opts, aws_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    aws_http *h = calloc(1, sizeof(*h));
    if (!h) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "aws_http allocation failed");
        return NULL;
    }
    if (opts) h->opts = *opts;
    if (h->opts.connect_timeout_ms <= 0) h->opts.connect_timeout_ms = 3000;
    if (h->opts.timeout_ms <= 0) h->opts.timeout_ms = 30000;
    if (h->opts.max_response == 0) h->opts.max_response = 16u * 1024 * 1024;
    fc_strlcpy(h->user_agent, opts && opts->user_agent ? opts->user_agent : "fleetcrypt",
               sizeof(h->user_agent));
    h->opts.user_agent = h->user_agent;
    if (opts && opts->ca_bundle && *opts->ca_bundle &&
        !fc_strlcpy(h->ca_bundle, opts->ca_bundle, sizeof(h->ca_bundle))) {
        free(h);
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig", "CA bundle path is too long");
        return NULL;
    }
    h->opts.ca_bundle = h->ca_bundle[0] ? h->ca_bundle : NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "CurlInit", "curl_easy_init failed");
        return NULL;
    }
    return h;
}

void aws_http_free(aws_http *h)
{
    if (!h) return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void aws_http_response_init(aws_http_response *r, bool secure)
{
    memset(r, 0, sizeof(*r));
    dbuf_init(&r->body, 16u * 1024 * 1024);
    r->secure = secure;
}

void aws_http_response_free(aws_http_response *r)
{
    if (!r) return;
    if (r->secure) dbuf_free_secure(&r->body);
    else dbuf_free(&r->body);
}

typedef struct sink {
    aws_http_response *resp;
    bool overflow;
} sink;

/* Append to the body; for secret bodies grow by copy + wipe so realloc never
 * leaves a stale copy of the secret in freed memory. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    dbuf *b = &s->resp->body;
    size_t n = size * nmemb;
    if (b->len + n > b->max) {
        s->overflow = true;
        return 0;
    }
    if (s->resp->secure && b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1) nc *= 2;
        char *p = malloc(nc);
        if (!p) return 0;
        if (b->data) {
            memcpy(p, b->data, b->len + 1);
            fc_wipe(b->data, b->cap);
            free(b->data);
        }
        b->data = p;
        b->cap = nc;
    }
    return dbuf_append(b, ptr, n) ? n : 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    aws_http_response *r = ud;
    size_t n = size * nitems;
    static const char *names[] = {"x-amzn-requestid:", "x-amz-request-id:"};
    for (size_t i = 0; i < FC_ARRAY_LEN(names); i++) {
        size_t l = strlen(names[i]);
        if (n > l && !strncasecmp(buf, names[i], l)) {
            const char *v = buf + l;
            size_t vl = n - l;
            while (vl && isspace((unsigned char)*v)) v++, vl--;
            while (vl && isspace((unsigned char)v[vl - 1])) vl--;
            if (vl >= sizeof(r->request_id)) vl = sizeof(r->request_id) - 1;
            memcpy(r->request_id, v, vl);
            r->request_id[vl] = 0;
        }
    }
    return n;
}

/* The request body, handed to curl by a read callback and never rewound:
 * curl re-sends a request on its own when a reused connection dies before
 * the answer (its "connection died, retrying"), and the caller would never
 * know that AWS may have carried out the first sending. Without a way to
 * rewind, curl fails the attempt instead (CURLE_SEND_FAIL_REWIND, a
 * transient error) and aws.c's retry counts it ambiguous. */
typedef struct body_src {
    const char *p;
    size_t len, off;
} body_src;

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    body_src *b = ud;
    size_t n = size * nitems;
    if (n > b->len - b->off) n = b->len - b->off;
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    return n;
}

static void wipe_slist(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        if (p->data) fc_wipe(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

bool aws_http_request(aws_http *h, const char *method, const char *url,
                      const char *const *headers, const void *body, size_t body_len,
                      aws_http_response *resp, bool *is_timeout, aws_error *err)
{
    struct curl_slist *hl = NULL;
    bool ok = false;
    sink s = {.resp = resp, .overflow = false};
    body_src src = {.p = body ? (const char *)body : "", .len = body ? body_len : 0};
    CURL *c = h->curl;

    if (is_timeout) *is_timeout = false;
    /* reset keeps live connections (keep-alive) but clears every option */
    curl_easy_reset(c);
    dbuf_reset(&resp->body);
    resp->status = 0;
    resp->request_id[0] = 0;
    resp->body.max = h->opts.max_response;

    for (const char *const *p = headers; p && *p; p++) {
        struct curl_slist *t = curl_slist_append(hl, *p);
        if (!t) goto oom;
        hl = t;
    }
    /* never send Expect: 100-continue (an extra round trip, and not signed) */
    struct curl_slist *t = curl_slist_append(hl, "Expect:");
    if (!t) goto oom;
    hl = t;

    h->errbuf[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->opts.ca_bundle) curl_easy_setopt(c, CURLOPT_CAINFO, h->opts.ca_bundle);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (h->opts.no_proxy) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");

    if (!strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)src.len);
        if (strcmp(method, "POST")) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        if (s.overflow) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "ResponseTooLarge",
                          "response larger than %zu bytes", h->opts.max_response);
            goto cleanup;
        }
        bool to = rc == CURLE_OPERATION_TIMEDOUT;
        if (is_timeout)
            *is_timeout = to || rc == CURLE_COULDNT_CONNECT || rc == CURLE_RECV_ERROR ||
                          rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING;
        aws_err_kind kind = (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                             rc == CURLE_PEER_FAILED_VERIFICATION)
                                ? AWS_ERR_PERMANENT
                                : AWS_ERR_TRANSIENT;
        aws_error_set(err, kind, 0, to ? "Timeout" : "NetworkError", "%s: %s",
                      curl_easy_strerror(rc), h->errbuf);
        goto cleanup;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    resp->status = (int)status;
    if (!resp->body.data) dbuf_append(&resp->body, "", 0);
    ok = true;
    goto cleanup;
oom:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "header list allocation failed");
cleanup:
    /* curl keeps pointers to the options until the next reset: drop them now */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_READDATA, NULL);
    wipe_slist(hl);
    return ok;
}

bool aws_http_split_url(const char *url, char *host, size_t host_cap, char *path,
                        size_t path_cap)
{
    const char *p = strstr(url, "://");
    if (!p) return false;
    p += 3;
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= host_cap) return false;
    memcpy(host, p, hl);
    host[hl] = 0;
    if (strchr(host, '@') || strchr(host, '?') || strchr(host, '#')) return false;
    return fc_strlcpy(path, slash ? slash : "/", path_cap);
}
