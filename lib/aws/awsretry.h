/* awsretry — the SDKs' "standard" retry mode: error classification, capped
 * exponential backoff with full jitter, and a retry quota (token bucket that
 * refills on success) so a failing region cannot turn into a retry storm.
 * Pure logic, no I/O; an aws_retry_quota is owned by one aws_client (one
 * thread), so it needs no lock. */
#ifndef FC_AWSRETRY_H
#define FC_AWSRETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "awserr.h"

typedef struct aws_retry_cfg {
    int max_attempts;      /* total attempts including the first (default 3; 1 = no retry) */
    int64_t base_ms;       /* default 100 */
    int64_t cap_ms;        /* default 20000 */
    int quota_max;         /* retry quota capacity (default 500 tokens) */
    int retry_cost;        /* tokens a retry takes (default 5) */
    int timeout_cost;      /* tokens a retry after a timeout/connection error takes (default 10) */
    int success_refill;    /* tokens a first-attempt success gives back (default 1) */
    int64_t until_base_ms; /* under a deadline (aws_client_retry_until): default 100 */
    int64_t until_cap_ms;  /* its backoff's cap, default 1000 */
} aws_retry_cfg;

typedef struct aws_retry_quota {
    int tokens;
    int max;
} aws_retry_quota;

/* Fill cfg with the defaults above. */
void aws_retry_cfg_defaults(aws_retry_cfg *cfg);
/* Replace zero/negative fields with defaults (so callers may set only some). */
void aws_retry_cfg_normalize(aws_retry_cfg *cfg);

/* Classify an AWS error code (Query <Code> or JSON __type, already stripped of
 * any "prefix#"/":suffix") together with the HTTP status. A NULL/empty code
 * classifies by status alone. */
aws_err_kind aws_retry_classify(int http_status, const char *code);
/* Is this kind worth another attempt? (throttle and transient only) */
bool aws_retry_is_retryable(aws_err_kind kind);
/* Is code a "busy" answer (Invalid…State, Invalid…StateFault: RDS's
 * InvalidDBInstanceState, InvalidDBClusterStateFault, …)? AWS refused the
 * request because the resource is in the middle of something; it did
 * nothing. Classified AWS_ERR_PERMANENT (a busy state can last minutes);
 * only a caller under a deadline that says so retries it. */
bool aws_retry_is_busy(const char *code);

/* Full jitter: uniform in [0, min(cap, base * 2^retry_index)], where
 * retry_index is 0 for the wait before the 2nd attempt. */
int64_t aws_retry_backoff_ms(const aws_retry_cfg *cfg, int retry_index);
/* The upper bound used by aws_retry_backoff_ms (for tests and logs). */
int64_t aws_retry_backoff_bound_ms(const aws_retry_cfg *cfg, int retry_index);
/* Under a deadline: short, and never near 0 (equal jitter): uniform in
 * [b/2, b], b = min(until_cap_ms, until_base_ms * 2^retry_index). */
int64_t aws_retry_until_backoff_ms(const aws_retry_cfg *cfg, int retry_index);

void aws_retry_quota_init(aws_retry_quota *q, int max);
/* Take the cost of one retry (timeout_cost when is_timeout); returns the
 * tokens taken, or 0 when the quota is exhausted (then do not retry). */
int aws_retry_quota_acquire(aws_retry_quota *q, const aws_retry_cfg *cfg, bool is_timeout);
/* After a success: give back what the retry took (taken > 0), or
 * success_refill after a first-attempt success (taken == 0); never above max. */
void aws_retry_quota_release(aws_retry_quota *q, const aws_retry_cfg *cfg, int taken);

#endif
