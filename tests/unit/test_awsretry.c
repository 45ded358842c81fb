/* test_awsretry — classification table, full-jitter bounds, retry quota,
 * busy codes and the short backoff under a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "awsretry.h"

static void test_classify(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *code;
        aws_err_kind kind;
    } T[] = {
        {400, "Throttling", AWS_ERR_THROTTLE},
        {400, "ThrottlingException", AWS_ERR_THROTTLE},
        {503, "RequestLimitExceeded", AWS_ERR_THROTTLE},
        {429, "TooManyRequestsException", AWS_ERR_THROTTLE},
        {400, "ProvisionedThroughputExceededException", AWS_ERR_THROTTLE},
        {400, "RequestThrottled", AWS_ERR_THROTTLE},
        {429, NULL, AWS_ERR_THROTTLE},
        {500, "KMSInternalException", AWS_ERR_TRANSIENT},
        {500, "InternalError", AWS_ERR_TRANSIENT},
        {503, "ServiceUnavailable", AWS_ERR_TRANSIENT},
        {408, "RequestTimeout", AWS_ERR_TRANSIENT},
        {502, NULL, AWS_ERR_TRANSIENT},
        {0, "NetworkError", AWS_ERR_TRANSIENT},
        {403, "SignatureDoesNotMatch", AWS_ERR_AUTH},
        {403, "InvalidClientTokenId", AWS_ERR_AUTH},
        {400, "ExpiredToken", AWS_ERR_AUTH},
        {403, "AccessDenied", AWS_ERR_AUTH},
        {400, "AccessDeniedException", AWS_ERR_AUTH},
        {404, "DBInstanceNotFound", AWS_ERR_NOT_FOUND},
        {404, "DBSnapshotNotFound", AWS_ERR_NOT_FOUND},
        {400, "NotFoundException", AWS_ERR_NOT_FOUND},
        {400, "ResourceNotFoundException", AWS_ERR_NOT_FOUND},
        {404, "DBProxyNotFoundFault", AWS_ERR_NOT_FOUND},
        {404, "DBClusterNotFoundFault", AWS_ERR_NOT_FOUND},
        {404, "DBClusterSnapshotNotFoundFault", AWS_ERR_NOT_FOUND},
        {404, "DBClusterParameterGroupNotFound", AWS_ERR_NOT_FOUND},
        {400, "InvalidDBClusterStateFault", AWS_ERR_PERMANENT},
        {400, "DBClusterAlreadyExistsFault", AWS_ERR_PERMANENT},
        {400, "InvalidDBInstanceState", AWS_ERR_PERMANENT},
        {400, "InstanceQuotaExceeded", AWS_ERR_PERMANENT},
        {400, "InvalidParameterValue", AWS_ERR_PERMANENT},
    };
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
        aws_err_kind k = aws_retry_classify(T[i].status, T[i].code);
        if (k != T[i].kind)
            fail_msg("%d %s: expected %s, got %s", T[i].status, T[i].code ? T[i].code : "(none)",
                     aws_err_kind_name(T[i].kind), aws_err_kind_name(k));
    }
    assert_true(aws_retry_is_retryable(AWS_ERR_THROTTLE));
    assert_true(aws_retry_is_retryable(AWS_ERR_TRANSIENT));
    assert_false(aws_retry_is_retryable(AWS_ERR_AUTH));
    assert_false(aws_retry_is_retryable(AWS_ERR_NOT_FOUND));
    assert_false(aws_retry_is_retryable(AWS_ERR_PERMANENT));
}

/* Full jitter: every delay in [0, min(cap, base*2^n)], and the spread is
 * real (not always the bound, not always 0). */
static void test_backoff_bounds(void **state)
{
    (void)state;
    aws_retry_cfg cfg;
    aws_retry_cfg_defaults(&cfg);
    assert_int_equal(cfg.max_attempts, 3);
    assert_int_equal(cfg.base_ms, 100);
    assert_int_equal(cfg.cap_ms, 20000);
    for (int n = 0; n < 40; n++) {
        int64_t bound = aws_retry_backoff_bound_ms(&cfg, n);
        int64_t expect = 100;
        for (int k = 0; k < n && expect < 20000; k++) expect *= 2;
        if (expect > 20000) expect = 20000;
        assert_int_equal(bound, expect);
        int64_t lo = bound, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t d = aws_retry_backoff_ms(&cfg, n);
            assert_true(d >= 0 && d <= bound);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        /* 2000 uniform draws: min in the bottom 10%, max in the top 10% */
        assert_true(lo <= bound / 10);
        assert_true(hi >= bound - bound / 10);
    }
}

static void test_quota(void **state)
{
    (void)state;
    aws_retry_cfg cfg;
    aws_retry_quota q;
    aws_retry_cfg_defaults(&cfg);
    aws_retry_quota_init(&q, 500);
    /* 500 tokens / cost 5 = 100 retries, then the bucket is empty */
    int n = 0;
    while (aws_retry_quota_acquire(&q, &cfg, false) > 0) n++;
    assert_int_equal(n, 100);
    assert_int_equal(aws_retry_quota_acquire(&q, &cfg, false), 0);
    /* first-attempt successes refill 1 token each */
    for (int i = 0; i < 9; i++) aws_retry_quota_release(&q, &cfg, 0);
    assert_int_equal(aws_retry_quota_acquire(&q, &cfg, true), 0); /* timeout costs 10 */
    aws_retry_quota_release(&q, &cfg, 0);
    assert_int_equal(aws_retry_quota_acquire(&q, &cfg, true), 10);
    /* a retried success gives its cost back, never above max */
    aws_retry_quota_init(&q, 20);
    int c = aws_retry_quota_acquire(&q, &cfg, false);
    aws_retry_quota_release(&q, &cfg, c);
    aws_retry_quota_release(&q, &cfg, 0);
    assert_int_equal(q.tokens, 20);
}

static void test_busy_and_until_backoff(void **state)
{
    (void)state;
    assert_true(aws_retry_is_busy("InvalidDBInstanceState"));
    assert_true(aws_retry_is_busy("InvalidDBClusterStateFault"));
    assert_false(aws_retry_is_busy("InvalidParameterValue"));
    assert_false(aws_retry_is_busy("DBInstanceNotFound"));
    assert_false(aws_retry_is_busy(NULL));
    aws_retry_cfg c;
    aws_retry_cfg_defaults(&c);
    assert_int_equal(c.until_base_ms, 100);
    assert_int_equal(c.until_cap_ms, 1000);
    for (int n = 0; n < 12; n++)
        for (int k = 0; k < 200; k++) {
            int64_t b = aws_retry_backoff_bound_ms(&(aws_retry_cfg){.base_ms = 100, .cap_ms = 1000}, n);
            int64_t d = aws_retry_until_backoff_ms(&c, n);
            assert_true(d >= b - b / 2 && d <= b); /* equal jitter: never near 0, never past the cap */
        }
}

static void test_normalize(void **state)
{
    (void)state;
    aws_retry_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_attempts = 7;
    aws_retry_cfg_normalize(&cfg);
    assert_int_equal(cfg.max_attempts, 7);
    assert_int_equal(cfg.quota_max, 500);
    assert_int_equal(cfg.retry_cost, 5);
    assert_int_equal(cfg.timeout_cost, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_busy_and_until_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
