/* awsjson — the JSON 1.1 protocol (KMS, Secrets Manager) on jansson:
 * bounded parsing (size and nesting depth checked before and after jansson,
 * duplicate keys refused), __type error decoding, typed getters.
 *
 * Ownership: aws_json_parse() hands a json_t reference the caller releases
 * with json_decref(). aws_json_strdup() results are the caller's (free()). */
#ifndef FC_AWSJSON_H
#define FC_AWSJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "awserr.h"

typedef struct aws_json_limits {
    size_t max_bytes;   /* default 8 MiB */
    int max_depth;      /* default 32 */
} aws_json_limits;

void aws_json_limits_default(aws_json_limits *lim);
/* Parse a JSON document (object or array at top level). lim NULL = defaults.
 * On failure err has code "ParseError", "ResponseTooLarge" or "JsonTooDeep". */
bool aws_json_parse(const char *buf, size_t len, const aws_json_limits *lim, json_t **out,
                    aws_error *err);

/* Decode a JSON 1.1 error body: "__type" ("prefix#Code" or "Code:uri" become
 * "Code") and "message"/"Message". False when the body has no __type. */
bool aws_json_parse_error(const char *buf, size_t len, aws_error *err);
/* Strip a JSON 1.1 __type to the bare code into dst. */
void aws_json_error_code(const char *type, char *dst, size_t cap);

/* Getters on an object: false when missing or of another type. */
bool aws_json_str(const json_t *obj, const char *key, char *dst, size_t cap);
char *aws_json_strdup(const json_t *obj, const char *key);
/* An integer, or a real inside int64's range (truncated); false for anything else. */
bool aws_json_int64(const json_t *obj, const char *key, int64_t *out);
bool aws_json_bool(const json_t *obj, const char *key, bool *out);
/* Numbers (epoch seconds with fraction, as KMS sends dates) as double. */
bool aws_json_number(const json_t *obj, const char *key, double *out);

#endif
