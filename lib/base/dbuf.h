/* dbuf — growable byte buffer with a hard maximum (curl's dynbuf idea).
 * Always NUL-terminated so text can be used as a C string. */
#ifndef FC_DBUF_H
#define FC_DBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dbuf {
    char *data;    /* owned; NULL until first append */
    size_t len;
    size_t cap;
    size_t max;    /* appends that would exceed max fail */
} dbuf;

void dbuf_init(dbuf *b, size_t max);
/* Frees the memory; wipes it first when secure is true. Accepts NULL. */
void dbuf_free(dbuf *b);
void dbuf_free_secure(dbuf *b);
void dbuf_reset(dbuf *b);
bool dbuf_append(dbuf *b, const void *p, size_t n);
bool dbuf_appends(dbuf *b, const char *s);
bool dbuf_printf(dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data over to the caller (who frees it) and reset the buffer. */
char *dbuf_take(dbuf *b);

#endif
