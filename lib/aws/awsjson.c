/* awsjson — see awsjson.h. */
#include "awsjson.h"

#include <string.h>

#include "util.h"

void aws_json_limits_default(aws_json_limits *lim)
{
    lim->max_bytes = 8u * 1024 * 1024;
    lim->max_depth = 32;
}

/* Nesting depth by scanning brackets outside strings: refuses a hostile
 * document before jansson's recursive parser sees it. */
static bool depth_ok(const char *buf, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth) return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

bool aws_json_parse(const char *buf, size_t len, const aws_json_limits *lim, json_t **out,
                    aws_error *err)
{
    aws_json_limits dl;
    json_error_t je;
    *out = NULL;
    if (!lim) {
        aws_json_limits_default(&dl);
        lim = &dl;
    }
    if (!buf || len == 0) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ParseError", "empty JSON response");
        return false;
    }
    if (len > lim->max_bytes) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ResponseTooLarge",
                      "JSON response of %zu bytes exceeds %zu", len, lim->max_bytes);
        return false;
    }
    if (!depth_ok(buf, len, lim->max_depth)) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "JsonTooDeep", "JSON nesting deeper than %d",
                      lim->max_depth);
        return false;
    }
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ParseError", "malformed JSON at %d:%d: %s",
                      je.line, je.column, je.text);
        return false;
    }
    *out = j;
    return true;
}

void aws_json_error_code(const char *type, char *dst, size_t cap)
{
    const char *hash = strrchr(type, '#');
    const char *s = hash ? hash + 1 : type;
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (cap == 0) return;
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

bool aws_json_parse_error(const char *buf, size_t len, aws_error *err)
{
    json_t *j = NULL;
    aws_error perr;
    char type[256];
    bool ok = false;
    if (!aws_json_parse(buf, len, NULL, &j, &perr)) return false;
    if (json_is_object(j) &&
        (aws_json_str(j, "__type", type, sizeof(type)) || aws_json_str(j, "code", type, sizeof(type)))) {
        if (err) {
            aws_json_error_code(type, err->code, sizeof(err->code));
            if (!aws_json_str(j, "message", err->message, sizeof(err->message)))
                aws_json_str(j, "Message", err->message, sizeof(err->message));
        }
        ok = true;
    }
    json_decref(j);
    return ok;
}

bool aws_json_str(const json_t *obj, const char *key, char *dst, size_t cap)
{
    if (cap) dst[0] = 0;
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || cap == 0) return false;
    return fc_strlcpy(dst, json_string_value(v), cap);
}

char *aws_json_strdup(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return NULL;
    return strdup(json_string_value(v));
}

bool aws_json_int64(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_real(v)) return false;
    /* a real outside int64's range (or NaN) is no int64: converting it is
     * undefined behaviour (found by fuzz_awsjson: 1e36) */
    double d = json_real_value(v);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
    *out = (int64_t)d;
    return true;
}

bool aws_json_bool(const json_t *obj, const char *key, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_boolean(v)) return false;
    *out = json_is_true(v);
    return true;
}

bool aws_json_number(const json_t *obj, const char *key, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) return false;
    *out = json_number_value(v);
    return true;
}
