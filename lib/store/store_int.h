/* store_int — private to lib/store/ (its .c files): the hiredis side of the store (raw
 * commands, scripts, reply helpers). Nothing outside lib/store/ includes it
 * (tests/integration/test_layout.py enforces it); the rest of the tree gets
 * typed functions from store_model.h, store_outbox.h, store_limits.h and
 * store_fleet.h. */
#ifndef FC_STORE_INT_H
#define FC_STORE_INT_H

#include "store.h"
#include "store_keys.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>

/* A command from a format (hiredis syntax). Reconnects and retries once on
 * a broken connection. NULL when Redis is unreachable (logged once here).
 * Caller frees the reply with freeReplyObject. */
redisReply *store_cmd(store *s, const char *fmt, ...);
redisReply *store_cmdargv(store *s, int argc, const char **argv, const size_t *lens);
/* store_cmd's va_list form. */
redisReply *store_vcmd(store *s, const char *fmt, va_list ap);

/* Run lua/<name>.lua with keys and args. An error reply is returned as a
 * NULL with the error logged. Caller frees the reply. */
redisReply *store_script(store *s, const char *name, int nkeys, const char *const *keys,
                         int nargs, const char *const *args);
/* store_script on the connection as it is: never reconnects, so a script
 * whose arguments depend on what this connection knew of the server (its
 * restart time, its epoch floor) never runs on a server it has not seen.
 * NULL when the connection is down or breaks (it is then dropped; the next
 * store_ready or store_script reconnects). */
redisReply *store_script_here(store *s, const char *name, int nkeys, const char *const *keys,
                              int nargs, const char *const *args);
/* One script of store_scripts_here's batch. */
typedef struct store_call {
    const char *name;
    int nkeys;
    const char *const *keys;
    int nargs;
    const char *const *args;
} store_call;
/* Run n scripts (at most STORE_PIPE_MAX) in one round trip on the
 * connection as it is (pipelined: Redis runs them in order, each atomic on
 * its own). replies[i] is the reply of calls[i], or NULL when it is not
 * known to have run or failed: the connection was down or broke (it is then
 * dropped, as store_script_here does), or Redis had not loaded the script
 * (NOSCRIPT: it did not run). ran[i] is true when Redis ran calls[i]: its
 * reply, or an error reply (logged; replies[i] NULL, as store_script
 * returns it). Returns how many replies are non-NULL. Caller frees them. */
#define STORE_PIPE_MAX 4
int store_scripts_here(store *s, const store_call *calls, int n, redisReply **replies, bool *ran);
/* A live connection, reconnecting once if needed (which refreshes the
 * restart time and epoch floor). False when Redis is unreachable. */
bool store_ready(store *s);

/* Element i of an array reply as a string ("" when absent or not a string;
 * integers are not converted). */
const char *reply_str(const redisReply *r, size_t i);
bool reply_is_status(const redisReply *r, size_t i, const char *want);

/* Flat field/value array reply (HGETALL, a script's hash) → owned kv:
 * pairs whose field and value are strings. An empty kv for anything else. */
void store_kv_from_pairs(const redisReply *r, store_kv *out);
/* HMGET reply for fields[0..n) → owned kv of the fields that exist. */
void store_kv_from_hmget(const redisReply *r, const char *const *fields, size_t n, store_kv *out);
/* Array reply of strings → appended to out (non-strings as ""). False when
 * r is not an array. */
bool store_strs_from_reply(const redisReply *r, sargs *out);

#endif
