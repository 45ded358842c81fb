/* store_keys — Redis key names (docs/redis-keys.md). Private to lib/store/
 * and to the tests that look at Redis directly (through store_test.h): no
 * code outside lib/store/ builds or sees a key name
 * (tests/integration/test_layout.py enforces it). */
#ifndef FC_STORE_KEYS_H
#define FC_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* the connection (store.h); declared here so that this header includes
 * nothing of store.c's module */
typedef struct store store;

#define STORE_KEY_MAX 256

/* "<prefix>:" + formatted suffix. False if it did not fit. */
bool store_key(const store *s, char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Keys of one campaign (hash tag {campaign}). */
typedef struct ckeys {
    char campaign[STORE_KEY_MAX]; /* HASH  P:{C}:campaign */
    char instances[STORE_KEY_MAX];/* ZSET  P:{C}:instances */
    char counts[STORE_KEY_MAX];   /* HASH  P:{C}:counts */
    char events[STORE_KEY_MAX];   /* STREAM P:{C}:events */
    char timers[STORE_KEY_MAX];   /* ZSET  P:{C}:timers (outbox) */
    char tput[STORE_KEY_MAX];     /* HASH  P:{C}:tput */
    char seq[STORE_KEY_MAX];      /* STRING P:{C}:seq (epochs and fences) */
} ckeys;
void store_ckeys(const store *s, const char *campaign, ckeys *k);
void store_rec_key(const store *s, const char *campaign, const char *id, char *out, size_t cap);
void store_lease_key(const store *s, const char *campaign, const char *id, char *out, size_t cap);

#endif
