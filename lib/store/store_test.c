/* store_test — see store_test.h (test-only). */
#include "store_int.h"
#include "store_test.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put(char *out, size_t cap, size_t *len, const redisReply *r)
{
    char num[32];
    const char *t = "";
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) t = r->str;
    else if (r->type == REDIS_REPLY_INTEGER) {
        snprintf(num, sizeof num, "%lld", r->integer);
        t = num;
    }
    if (*len < cap) *len += (size_t)snprintf(out + *len, cap - *len, "%s", t);
}

bool store_test_cmd(store *s, char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = store_vcmd(s, fmt, ap);
    va_end(ap);
    if (out && cap) *out = 0;
    if (!r) return false;
    size_t len = 0;
    if (out && cap) {
        if (r->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < r->elements; i++) {
                if (i && len < cap) len += (size_t)snprintf(out + len, cap - len, "\n");
                put(out, cap, &len, r->element[i]);
            }
        else put(out, cap, &len, r);
    }
    bool ok = r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok;
}
