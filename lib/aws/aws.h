/* aws — the AWS client object: region, endpoints, retry policy,
 * rate-limiter hooks, and the two wire protocols (Query/XML for RDS and STS,
 * JSON 1.1 for KMS, Secrets Manager and DMS) on one keep-alive curl handle,
 * signing with the credentials provider it is given. Typed calls live in
 * rds.h, kms.h, sts.h, secrets.h and dms.h. The client knows nothing of STS: the
 * provider's role and web-identity sources reach STS through the ops
 * aws_session (session.h) wires in, which is where every binary gets its
 * clients.
 *
 * NOT thread-safe: use one aws_client per thread (it owns one curl handle
 * and one retry quota; its provider must not be shared between threads).
 * Ownership: aws_client_new copies every string in opts and borrows the
 * provider (which must outlive the client); aws_client_free accepts NULL. */
#ifndef FC_AWS_H
#define FC_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "awscred.h"
#include "awserr.h"
#include "awsretry.h"
#include "awsxml.h"

typedef enum {
    AWS_SVC_RDS = 0,
    AWS_SVC_KMS,
    AWS_SVC_STS,
    AWS_SVC_SECRETS,
    AWS_SVC_DMS,
    AWS_SVC_ROUTE53, /* global: signed for us-east-1, https://route53.amazonaws.com */
    AWS_SVC_EC2,     /* security groups by name (cross-account moves) */
    AWS_SVC_COUNT
} aws_service;

/* Rate-limiter / metrics hooks (the orchestration's shared Redis bucket).
 * acquire: before every HTTP attempt; return false to fail the call
 *          (error code "RateLimited", kind THROTTLE, no attempt made).
 * on_throttle: after every throttling response.
 * on_call: after every attempt (http_status 0 and err_code "NetworkError"/
 *          "Timeout" when no response; err_code NULL on success). */
typedef struct aws_hooks {
    bool (*acquire)(void *ud, const char *service, const char *action); /* blocks or fails */
    /* the same for an attempt made under a deadline (aws_client_retry_until:
     * writers blocked), ahead of the others; NULL: acquire */
    bool (*acquire_urgent)(void *ud, const char *service, const char *action);
    void (*on_throttle)(void *ud, const char *service, const char *action);
    void (*on_call)(void *ud, const char *service, const char *action, int http_status,
                    const char *err_code, int64_t ms);
    void *ud;
} aws_hooks;

typedef struct aws_client_opts {
    const char *region;              /* default AWS_REGION, AWS_DEFAULT_REGION, profile region */
    const char *endpoint_url;        /* all services; default AWS_ENDPOINT_URL */
    const char *endpoints[AWS_SVC_COUNT]; /* per service; default AWS_ENDPOINT_URL_RDS/_KMS/_STS/_SECRETS_MANAGER/_DATABASE_MIGRATION_SERVICE */
    const char *config_endpoint_url; /* the profile's endpoint_url: under AWS_ENDPOINT_URL (session.c sets it) */
    const char *config_endpoints[AWS_SVC_COUNT]; /* its [services] section's, per service: between the two */
    const char *ca_bundle;           /* CA file for HTTPS; default AWS_CA_BUNDLE (session.c: else the profile's) */
    int use_fips;                    /* 1 <svc>-fips.<region> endpoints, -1 not; 0: AWS_USE_FIPS_ENDPOINT */
    int64_t connect_timeout_ms;      /* default 3000 */
    int64_t timeout_ms;              /* per attempt, default 30000 */
    size_t max_response;             /* default 16 MiB */
    aws_retry_cfg retry;             /* zero fields take the standard-mode defaults */
    const char *user_agent;          /* default "fleetcrypt/0.1" */
} aws_client_opts;

typedef struct aws_client aws_client;

/* creds: the provider every signed call takes its credentials from
 * (required; borrowed). */
aws_client *aws_client_new(const aws_client_opts *opts, aws_cred_provider *creds, aws_error *err);
void aws_client_free(aws_client *c);
void aws_client_set_hooks(aws_client *c, const aws_hooks *hooks);
const char *aws_client_region(const aws_client *c);
/* The base URL used for a service (after env/opts overrides). */
const char *aws_client_endpoint(const aws_client *c, aws_service svc);
const char *aws_service_name(aws_service svc);
/* The service's key in the config file's [services NAME] section (and, upper
 * case, its AWS_ENDPOINT_URL_<KEY>): "rds", "kms", "sts", "secrets_manager",
 * "database_migration_service", "route_53" (awscli's and botocore's names). */
bool aws_service_config_key(aws_service svc, char *dst, size_t cap);
/* Current retry-quota tokens (for tests and metrics). */
int aws_client_retry_tokens(const aws_client *c);
/* A deadline-bounded retry budget, for callers whose writers are blocked
 * (a switch's rename): a call that fails only for now — throttled, 5xx, no
 * answer (timeout, reset) and, with busy, a "busy" answer
 * (aws_retry_is_busy: AWS did nothing, so sending it again is safe) — is
 * sent again after a short backoff (aws_retry_until_backoff_ms) as long as
 * the next attempt starts before until_ms, rather than only within the
 * standard policy's max_attempts and long backoff (which still applies
 * where it allows more). Every attempt still goes through the acquire
 * hook (the shared rate limiter) and every throttle/5xx retry through the
 * retry quota (busy retries take none: AWS answered); at most
 * AWS_RETRY_UNTIL_MAX_ATTEMPTS attempts and AWS_RETRY_UNTIL_MAX_MS ahead,
 * whatever until_ms says; go_on (optional) is asked before each retry
 * (false: stop, e.g. a lost lease). Idempotency stays the typed call's:
 * a rename's lost answer is settled by rds_rename_carried_out. */
#define AWS_RETRY_UNTIL_MAX_ATTEMPTS 100
#define AWS_RETRY_UNTIL_MAX_MS 300000
typedef struct aws_retry_until {
    int64_t until_ms; /* fc_mono_ms clock; 0 or past: the standard policy only */
    bool busy;        /* also retry busy answers */
    bool (*go_on)(void *ud);
    void *ud;
} aws_retry_until;
/* Scoped: every call on c from now on runs under *u (NULL: none) until it
 * is set again; *prev (optional) gets the setting it replaces, to put back
 * after the calls. */
void aws_client_retry_until(aws_client *c, const aws_retry_until *u, aws_retry_until *prev);
/* Whether the client's last call was retried after an attempt that went
 * out and failed transiently (5xx, timeout, connection reset): AWS may have
 * carried that attempt out, so an error of a retry (NotFound, AlreadyExists)
 * can be the call's own effect. */
bool aws_client_last_call_ambiguous(const aws_client *c);

/* ---- protocol layer used by the typed modules ---- */
typedef enum {
    AWS_SIGN_PROVIDER = 0, /* the client's credentials provider */
    AWS_SIGN_EXPLICIT,     /* the creds passed in (AssumeRole for the chain itself) */
    AWS_SIGN_NONE          /* unsigned (AssumeRoleWithWebIdentity) */
} aws_sign_mode;

/* Query protocol: POST q's body (Action/Version already in it) and parse the
 * XML answer. *out: the caller frees with aws_xml_free. On an AWS error err
 * holds code, message, request id, status and kind; the failure is logged
 * once here (code, request id, action — never the body). */
bool aws_query_call(aws_client *c, aws_service svc, const char *action, aws_query *q,
                    aws_xml **out, aws_error *err);
bool aws_query_call_ex(aws_client *c, aws_service svc, const char *action, aws_query *q,
                       aws_sign_mode mode, const aws_creds *creds, aws_xml **out, aws_error *err);
/* The <Action>Result element of a Query response (NULL when absent). */
const aws_xml_node *aws_query_result(const aws_xml *x, const char *action);

/* REST XML (Route 53): `method` on the endpoint's path + `path` (already
 * URI-safe), with the decoded query pairs (may be 0) and an XML body (may be
 * NULL); *out the parsed answer (NULL for an empty body), freed with
 * aws_xml_free. `action` names the call for logs, retries and the hooks. */
bool aws_rest_xml_call(aws_client *c, aws_service svc, const char *action, const char *method, const char *path,
                       const char *const *query, size_t nquery, const char *body, aws_xml **out, aws_error *err);

/* JSON 1.1: POST body (may be NULL = {}) with X-Amz-Target "<prefix>.<action>".
 * secret: the request or response carries secret material (wiped buffers).
 * *out: caller json_decref()s. */
bool aws_json_call(aws_client *c, aws_service svc, const char *action, const json_t *body,
                   bool secret, json_t **out, aws_error *err);

#endif
