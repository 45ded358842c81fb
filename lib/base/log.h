/* log — structured logging: one line per event, key=value by default,
 * JSON when FLEETCRYPT_LOG_FORMAT=json. Fixed keys first:
 *   ts level svc campaign instance step attempt msg [extra key=value ...]
 * Context (campaign/instance/step/attempt) is attached once per step with
 * log_ctx_set() and is thread-local, so executors can log without passing it.
 * Never pass a secret to these functions: values are printed as given. */
#ifndef FC_LOG_H
#define FC_LOG_H

#include <stdbool.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Set the service name (e.g. "worker") and read FLEETCRYPT_LOG_LEVEL /
 * FLEETCRYPT_LOG_FORMAT. Safe to call again. */
void log_init(const char *svc);
/* Output sink (default stderr); tests point it at a file. Not owned. */
void log_set_stream(void *file);
void log_set_level(log_level lvl);
bool log_enabled(log_level lvl);

/* Thread-local step context; NULL clears a field. Strings are copied. */
void log_ctx_set(const char *campaign, const char *instance, const char *step, int attempt);
void log_ctx_clear(void);

/* msg is a plain string; kv is an optional printf format producing
 * extra "key=value key2=value2" pairs (values containing spaces are quoted
 * by the caller with %s only when safe; use log_kv_quote for free text). */
void log_emit(log_level lvl, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) do { if (log_enabled(LOG_DEBUG)) log_emit(LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define log_info(msg, ...)  log_emit(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_emit(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_emit(LOG_ERROR, msg, __VA_ARGS__)

#endif
