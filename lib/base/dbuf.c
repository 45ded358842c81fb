/* dbuf — see dbuf.h. */
#include "dbuf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dbuf_init(dbuf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void dbuf_free(dbuf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void dbuf_free_secure(dbuf *b)
{
    if (!b) return;
    if (b->data) fc_wipe(b->data, b->cap);
    dbuf_free(b);
}

void dbuf_reset(dbuf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

static bool grow(dbuf *b, size_t need)
{
    if (need > b->max) return false;
    if (need + 1 <= b->cap) return true;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < need + 1) nc *= 2;
    if (nc > b->max + 1) nc = b->max + 1;
    char *p = realloc(b->data, nc);
    if (!p) return false;
    b->data = p;
    b->cap = nc;
    return true;
}

bool dbuf_append(dbuf *b, const void *p, size_t n)
{
    if (!grow(b, b->len + n)) return false;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return true;
}

bool dbuf_appends(dbuf *b, const char *s) { return dbuf_append(b, s, strlen(s)); }

bool dbuf_printf(dbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, b->len + (size_t)n)) {
        va_end(ap2);
        return false;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return true;
}

char *dbuf_take(dbuf *b)
{
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
