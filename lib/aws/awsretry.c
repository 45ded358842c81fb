/* awsretry — see awsretry.h. Codes follow botocore's standard retry mode
 * (retryhandler / retries/standard.py) plus the RDS and KMS spellings. */
#include "awsretry.h"

#include <string.h>

#include "util.h"

void aws_retry_cfg_defaults(aws_retry_cfg *cfg)
{
    cfg->max_attempts = 3;
    cfg->base_ms = 100;
    cfg->cap_ms = 20000;
    cfg->quota_max = 500;
    cfg->retry_cost = 5;
    cfg->timeout_cost = 10;
    cfg->success_refill = 1;
    cfg->until_base_ms = 100;
    cfg->until_cap_ms = 1000;
}

void aws_retry_cfg_normalize(aws_retry_cfg *cfg)
{
    aws_retry_cfg d;
    aws_retry_cfg_defaults(&d);
    if (cfg->max_attempts <= 0) cfg->max_attempts = d.max_attempts;
    if (cfg->base_ms <= 0) cfg->base_ms = d.base_ms;
    if (cfg->cap_ms <= 0) cfg->cap_ms = d.cap_ms;
    if (cfg->quota_max <= 0) cfg->quota_max = d.quota_max;
    if (cfg->retry_cost <= 0) cfg->retry_cost = d.retry_cost;
    if (cfg->timeout_cost <= 0) cfg->timeout_cost = d.timeout_cost;
    if (cfg->success_refill < 0) cfg->success_refill = d.success_refill;
    if (cfg->until_base_ms <= 0) cfg->until_base_ms = d.until_base_ms;
    if (cfg->until_cap_ms <= 0) cfg->until_cap_ms = d.until_cap_ms;
}

static bool in_list(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(code, *list)) return true;
    return false;
}

static const char *const THROTTLE_CODES[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException", NULL};

static const char *const TRANSIENT_CODES[] = {
    "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
    "InternalServerError", "InternalServiceError", "ServiceUnavailable",
    "ServiceUnavailableException", "KMSInternalException", "InternalServiceErrorException",
    "IDPCommunicationError", "NetworkError", "Timeout", NULL};

static const char *const AUTH_CODES[] = {
    "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
    "AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
    "InvalidSignatureException", "MissingAuthenticationToken", "IncompleteSignature",
    "AuthFailure", "UnauthorizedOperation", "InvalidIdentityToken", "NotAuthorized",
    "MissingAuthenticationTokenException", "RequestExpired", NULL};

static const char *const NOT_FOUND_CODES[] = {
    "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault", "DBParameterGroupNotFound", "DBParameterGroupNotFoundFault",
    "DBProxyNotFoundFault", "DBProxyTargetGroupNotFoundFault", "DBProxyTargetNotFoundFault",
    "DBSubnetGroupNotFoundFault", "DBClusterNotFoundFault", "DBClusterSnapshotNotFoundFault",
    "DBClusterParameterGroupNotFound", "DBClusterParameterGroupNotFoundFault", "OptionGroupNotFoundFault",
    "DBLogFileNotFoundFault", "NotFoundException", "ResourceNotFoundException",
    "ResourceNotFoundFault", "NoSuchEntity", "AliasNotFoundException", NULL};

aws_err_kind aws_retry_classify(int http_status, const char *code)
{
    if (code && *code) {
        if (in_list(code, THROTTLE_CODES)) return AWS_ERR_THROTTLE;
        if (in_list(code, AUTH_CODES)) return AWS_ERR_AUTH;
        if (in_list(code, NOT_FOUND_CODES)) return AWS_ERR_NOT_FOUND;
        if (in_list(code, TRANSIENT_CODES)) return AWS_ERR_TRANSIENT;
    }
    if (http_status == 429) return AWS_ERR_THROTTLE;
    if (http_status >= 500 || http_status == 0) return AWS_ERR_TRANSIENT;
    if (http_status == 404 && (!code || !*code)) return AWS_ERR_NOT_FOUND;
    if (http_status == 401 || http_status == 403) return AWS_ERR_AUTH;
    return AWS_ERR_PERMANENT;
}

bool aws_retry_is_retryable(aws_err_kind kind)
{
    return kind == AWS_ERR_THROTTLE || kind == AWS_ERR_TRANSIENT;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

bool aws_retry_is_busy(const char *code)
{
    return code && !strncmp(code, "Invalid", 7) && (ends_with(code, "State") || ends_with(code, "StateFault"));
}

int64_t aws_retry_backoff_bound_ms(const aws_retry_cfg *cfg, int retry_index)
{
    if (retry_index < 0) retry_index = 0;
    /* base * 2^n without overflow: stop doubling once the cap is reached */
    int64_t v = cfg->base_ms;
    for (int i = 0; i < retry_index && v < cfg->cap_ms; i++) v *= 2;
    return v < cfg->cap_ms ? v : cfg->cap_ms;
}

int64_t aws_retry_backoff_ms(const aws_retry_cfg *cfg, int retry_index)
{
    int64_t bound = aws_retry_backoff_bound_ms(cfg, retry_index);
    return (int64_t)fc_rand_below((uint64_t)bound + 1);
}

int64_t aws_retry_until_backoff_ms(const aws_retry_cfg *cfg, int retry_index)
{
    aws_retry_cfg u = *cfg;
    u.base_ms = cfg->until_base_ms;
    u.cap_ms = cfg->until_cap_ms;
    int64_t bound = aws_retry_backoff_bound_ms(&u, retry_index);
    return bound - bound / 2 + (int64_t)fc_rand_below((uint64_t)(bound / 2) + 1);
}

void aws_retry_quota_init(aws_retry_quota *q, int max)
{
    q->tokens = max;
    q->max = max;
}

int aws_retry_quota_acquire(aws_retry_quota *q, const aws_retry_cfg *cfg, bool is_timeout)
{
    int cost = is_timeout ? cfg->timeout_cost : cfg->retry_cost;
    if (q->tokens < cost) return 0;
    q->tokens -= cost;
    return cost;
}

void aws_retry_quota_release(aws_retry_quota *q, const aws_retry_cfg *cfg, int taken)
{
    q->tokens += taken > 0 ? taken : cfg->success_refill;
    if (q->tokens > q->max) q->tokens = q->max;
}
