/* awserr — the one error idiom of the AWS client: functions return bool and,
 * on failure, fill an aws_error the caller passed (never NULL-checked twice:
 * every setter accepts a NULL err and then only logs nothing).
 * An aws_error holds no secret: codes and messages come from AWS or from us. */
#ifndef FC_AWSERR_H
#define FC_AWSERR_H

#include <stdbool.h>

typedef enum {
    AWS_ERR_NONE = 0,
    AWS_ERR_THROTTLE,   /* retry with backoff; also reported to the rate limiter */
    AWS_ERR_TRANSIENT,  /* 5xx, connection reset, timeout: retry with backoff */
    AWS_ERR_PERMANENT,  /* bad request, invalid state, parse failure: do not retry */
    AWS_ERR_NOT_FOUND,  /* the resource does not exist (often success for idempotent steps) */
    AWS_ERR_AUTH        /* bad signature, expired token, access denied: fail fast */
} aws_err_kind;

typedef struct aws_error {
    int http_status;        /* 0 when no HTTP response was received */
    char code[64];          /* AWS error code, or ours ("NetworkError", "ParseError", ...) */
    char message[512];
    char request_id[80];
    aws_err_kind kind;
} aws_error;

void aws_error_clear(aws_error *err);
/* Fill err (when not NULL) with kind, status and code, message from fmt. */
void aws_error_set(aws_error *err, aws_err_kind kind, int http_status, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *aws_err_kind_name(aws_err_kind k);

#endif
