/* store_test — TEST-ONLY raw access to Redis, for the unit tests
 * (tests/unit) and benchmarks (bench/) that set up or inspect Redis
 * directly. Production code never includes it (tests/integration/
 * test_layout.py enforces it): it uses the typed functions of
 * store_model.h, store_outbox.h, store_limits.h and store_fleet.h. */
#ifndef FC_STORE_TEST_H
#define FC_STORE_TEST_H

#include "store.h"
#include "store_keys.h"

#include <stdbool.h>
#include <stddef.h>

/* Run one command (hiredis format, e.g. "HGET %s %s") and put its answer
 * into out as text (out may be NULL): a string or status as is, an integer
 * in decimal, nil as "", an array as its elements joined by '\n'. False on
 * a Redis error or an error reply (its message then in out). */
bool store_test_cmd(store *s, char *out, size_t cap, const char *fmt, ...);

#endif
