/* util — small helpers every module needs: clocks, wiping secrets, random
 * numbers, bounded string copy, identifier checks, a daemon's stop on a
 * signal. */
#ifndef FC_UTIL_H
#define FC_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock in milliseconds since the epoch. */
int64_t fc_now_ms(void);
/* Monotonic clock in milliseconds (for durations and deadlines). */
int64_t fc_mono_ms(void);
void fc_sleep_ms(int64_t ms);
/* Overwrite memory in a way the compiler cannot elide. */
void fc_wipe(void *p, size_t n);
/* Uniform random integer in [0, n) from a thread-local seeded PRNG. */
uint64_t fc_rand_below(uint64_t n);
/* Copy src into dst of size cap, always terminated; false if truncated. */
bool fc_strlcpy(char *dst, const char *src, size_t cap);
/* RDS DB identifier rules: 1-63 chars, letter first, letters/digits/hyphens,
 * no trailing hyphen, no two consecutive hyphens. */
bool fc_valid_db_identifier(const char *s);
/* Campaign id: 1-40 chars of [a-z0-9-], letter or digit first. */
bool fc_valid_campaign_id(const char *s);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void fc_hex(const unsigned char *in, size_t n, char *out);
/* A daemon's stop request (the worker, the coordinator, kafka-dev): once
 * fc_stop_on_signals() ran, SIGTERM and SIGINT set the flag fc_stop_flag()
 * points at (a second one exits at once with 128 + the signal), and SIGPIPE
 * is ignored. */
volatile sig_atomic_t *fc_stop_flag(void);
void fc_stop_on_signals(void);

/* Test-only crash points for the chaos tests: when FLEETCRYPT_TEST_CRASH_DIR
 * names a directory and FLEETCRYPT_TEST_CRASH_AT (comma-separated) lists
 * `name`, the first process to reach the point creates DIR/<name>
 * (O_EXCL, so each point fires once across all workers sharing DIR) and
 * SIGKILLs itself. A no-op otherwise (both variables unset in production). */
void fc_crashpoint(const char *name); /* crashpoint.c */
/* Tests only: when name is listed in FLEETCRYPT_TEST_HOLD_AT, the first
 * caller writes <FLEETCRYPT_TEST_CRASH_DIR>/<name>.held and waits (at most
 * 120 s) for <name>.go, so a test can act at an exact point of a step. */
void fc_holdpoint(const char *name); /* crashpoint.c */

#define FC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* UNITTEST: file-local functions become visible to unit tests and fuzz
 * targets (curl's trick); FC_UNIT_TESTING is set by builds with tests.
 * Their prototypes live in the module's header under #ifdef FC_UNIT_TESTING.
 * Unused when static in a build without tests, hence the attribute. */
#ifdef FC_UNIT_TESTING
#define UNITTEST
#else
#define UNITTEST static __attribute__((unused))
#endif

#endif
