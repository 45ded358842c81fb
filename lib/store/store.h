/* store — one connection to the Redis that holds fleetcrypt's progress:
 * reconnect on failure, embedded Lua scripts run by name (EVALSHA,
 * reloaded after NOSCRIPT), key naming, and the Redis-restart guard
 * (run_id → epoch floor). NOT thread-safe: one store per thread.
 *
 * Redis stays behind lib/store/: this header and the typed ones beside it
 * (store_model.h, store_outbox.h, store_limits.h, store_fleet.h) hand out
 * C structs and strings only. hiredis, raw commands and key names live in
 * the .c files of lib/store/ and the private store_int.h / store_keys.h
 * (tests/integration/test_layout.py enforces it). Every key starts with
 * cfg.key_prefix; keys that one Lua script touches share the hash tag
 * "{campaign}". docs/redis-keys.md lists every key. */
#ifndef FC_STORE_H
#define FC_STORE_H

#include "cfg.h"

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

/* Round trips to Redis (commands sent, scripts included) by every store of
 * this process since it started; exported as fc_redis_round_trips_total. */
uint64_t store_round_trips(void);
/* A /metrics collector (prom_add_collector(r, store_round_trips_collect,
 * NULL)) that brings fc_redis_round_trips_total up to store_round_trips(). */
struct prom_registry;
void store_round_trips_collect(struct prom_registry *r, void *ud);

/* ---- owned string lists (growable): arguments to the store's typed
 * functions and the lists they hand back (campaigns, instance ids, ...);
 * v[0..n) owned, free with sargs_free ---- */
typedef struct sargs {
    char **v;
    int n, cap;
} sargs;
void sargs_init(sargs *a);
void sargs_free(sargs *a);
void sargs_add(sargs *a, const char *s);
void sargs_addf(sargs *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sargs_addi(sargs *a, int64_t v);

/* ---- hash snapshots (owned copies of what Redis returned) ---- */
/* Field/value pairs read from a hash (HGETALL, or the fields an HMGET asked
 * for that exist): kv[2i] is a field, kv[2i+1] its value; n pairs. Every
 * string is owned by the store_kv; free with store_kv_free. A zeroed
 * store_kv is an empty one. */
typedef struct store_kv {
    char **kv;
    size_t n;
} store_kv;
void store_kv_free(store_kv *kv); /* accepts NULL; leaves it empty */
/* Value of field, NULL when absent (kv_str: "" when absent). Pointers into kv. */
const char *kv_get(const store_kv *kv, const char *field);
const char *kv_str(const store_kv *kv, const char *field);
int64_t kv_get_i64(const store_kv *kv, const char *field, int64_t dflt);

#endif
