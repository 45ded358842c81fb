/* store — one hiredis connection to the Redis that holds fleetcrypt's
 * progress: reconnect on failure, embedded Lua scripts run by name
 * (EVALSHA, reloaded after NOSCRIPT), key naming, and the Redis-restart
 * guard (run_id → epoch floor). NOT thread-safe: one store per thread.
 *
 * Every key starts with cfg.key_prefix; keys that one Lua script touches
 * share the hash tag "{campaign}". docs/redis-keys.md lists every key. */
#ifndef FC_STORE_H
#define FC_STORE_H

#include "cfg.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Connect (AUTH/SELECT from the URL), note the run_id. NULL with err set
 * when Redis cannot be reached. */
store *store_open(const fc_config *cfg, char *err, size_t errcap);
/* Accepts NULL. */
void store_close(store *s);

const char *store_prefix(const store *s);
/* Current epoch floor (decimal string) to pass to the epoch-allocating
 * scripts; refreshed at every (re)connect. */
const char *store_floor(const store *s);
/* How many Redis restarts (run_id changes) have been noticed so far. */
long store_restarts(const store *s);
/* Redis time (ms) at which the server this connection talks to was first
 * seen, when that was a restart (0 when no restart was ever noticed). A
 * restart may have lost the last second of writes, a running holder's lease
 * key among them: no new lease is granted until one lease TTL plus
 * STORE_RESTART_MARGIN_MS after it (store_step_begin), by when every holder
 * from before has renewed (its key survived), or found its lease gone or
 * unrenewable and stopped acting. */
int64_t store_restart_seen_ms(const store *s);
#define STORE_RESTART_MARGIN_MS 2000

/* "<prefix>:" + formatted suffix. False if it did not fit. */
bool store_key(const store *s, char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A command from a format (hiredis syntax). Reconnects and retries once on
 * a broken connection. NULL when Redis is unreachable (logged once here).
 * Caller frees the reply with freeReplyObject. */
redisReply *store_cmd(store *s, const char *fmt, ...);
redisReply *store_cmdargv(store *s, int argc, const char **argv, const size_t *lens);

/* Run lua/<name>.lua with keys and args. An error reply is returned as a
 * NULL with the error logged. Caller frees the reply. */
redisReply *store_script(store *s, const char *name, int nkeys, const char *const *keys,
                         int nargs, const char *const *args);

/* ---- argument lists for scripts (owned strings, growable) ---- */
typedef struct sargs {
    char **v;
    int n, cap;
} sargs;
void sargs_init(sargs *a);
void sargs_free(sargs *a);
void sargs_add(sargs *a, const char *s);
void sargs_addf(sargs *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sargs_addi(sargs *a, int64_t v);

/* ---- reply helpers ---- */
/* Element i of an array reply as a string ("" when absent or not a string;
 * integers are not converted). */
const char *reply_str(const redisReply *r, size_t i);
bool reply_is_status(const redisReply *r, size_t i, const char *want);

/* Flat HGETALL-style array → key/value view (pointers into the reply). */
typedef struct store_kv {
    const redisReply *r;
} store_kv;
const char *kv_get(const store_kv *kv, const char *field);
int64_t kv_get_i64(const store_kv *kv, const char *field, int64_t dflt);

#endif
