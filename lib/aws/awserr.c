/* awserr — see awserr.h. */
#include "awserr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void aws_error_clear(aws_error *err)
{
    if (err) memset(err, 0, sizeof(*err));
}

void aws_error_set(aws_error *err, aws_err_kind kind, int http_status, const char *code,
                   const char *fmt, ...)
{
    if (!err) return;
    memset(err, 0, sizeof(*err));
    err->kind = kind;
    err->http_status = http_status;
    fc_strlcpy(err->code, code ? code : "", sizeof(err->code));
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
}

const char *aws_err_kind_name(aws_err_kind k)
{
    switch (k) {
    case AWS_ERR_NONE: return "none";
    case AWS_ERR_THROTTLE: return "throttle";
    case AWS_ERR_TRANSIENT: return "transient";
    case AWS_ERR_PERMANENT: return "permanent";
    case AWS_ERR_NOT_FOUND: return "not_found";
    case AWS_ERR_AUTH: return "auth";
    }
    return "unknown";
}
