/* awshttp — the HTTP transport under the AWS client: one curl easy handle per
 * aws_http (so connections are kept alive and reused), connect and total
 * timeouts, TLS verification always on (against the system's CAs or a given
 * bundle: AWS_CA_BUNDLE / the profile's ca_bundle), proxies from the usual environment
 * variables (curl's defaults), no redirects, http/https only, bounded
 * response size. No retries here: awsretry + aws.c decide.
 *
 * Not thread-safe: one aws_http per thread. Request headers and bodies may
 * hold secrets: they are never logged, and curl's copies are wiped. */
#ifndef FC_AWSHTTP_H
#define FC_AWSHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awserr.h"
#include "dbuf.h"

typedef struct aws_http aws_http;

typedef struct aws_http_opts {
    int64_t connect_timeout_ms;  /* default 3000 */
    int64_t timeout_ms;          /* whole request, default 30000 */
    size_t max_response;         /* default 16 MiB */
    const char *user_agent;      /* copied; default "fleetcrypt" */
    bool no_proxy;               /* bypass proxies (IMDS: link-local must never go via a proxy) */
    const char *ca_bundle;       /* copied; the CA file peers are verified against (NULL: the system's) */
} aws_http_opts;

typedef struct aws_http_response {
    int status;                  /* HTTP status */
    dbuf body;                   /* response body, NUL-terminated */
    char request_id[80];         /* x-amzn-RequestId / x-amz-request-id when sent */
    bool secure;                 /* set before the call: wipe the body on growth and free */
} aws_http_response;

aws_http *aws_http_new(const aws_http_opts *opts, aws_error *err);
void aws_http_free(aws_http *h);

/* Init a response (sets secure) before aws_http_request; free it after. */
void aws_http_response_init(aws_http_response *r, bool secure);
void aws_http_response_free(aws_http_response *r);

/* One HTTP exchange. headers: NULL-terminated array of "Name: value".
 * Returns true when any HTTP response arrived (check resp->status); false on
 * transport failure with err kind TRANSIENT and code "NetworkError" or
 * "Timeout" (err->http_status 0) or PERMANENT for a bad URL / oversized body.
 * is_timeout (may be NULL) tells the retry quota which cost to charge. */
bool aws_http_request(aws_http *h, const char *method, const char *url,
                      const char *const *headers, const void *body, size_t body_len,
                      aws_http_response *resp, bool *is_timeout, aws_error *err);

/* Split "scheme://host[:port][/path]" into the authority to send as Host
 * (port kept when present) and the path (default "/"). */
bool aws_http_split_url(const char *url, char *host, size_t host_cap, char *path,
                        size_t path_cap);

#endif
