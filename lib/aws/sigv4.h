/* sigv4 — AWS Signature Version 4 (header signing) with OpenSSL HMAC-SHA256.
 * Pure computation: no I/O, no logging, no global state. One small function
 * per step of the spec (canonical request → string to sign → signature).
 *
 * Ownership: sigv4_sign() fills a sigv4_output whose strings the caller frees
 * with sigv4_output_free(). The input's secret key is only read; the derived
 * signing key lives on the stack and is wiped before returning. */
#ifndef FC_SIGV4_H
#define FC_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dbuf.h"

typedef struct sigv4_kv {
    const char *name;
    const char *value;   /* NULL means empty */
} sigv4_kv;

typedef struct sigv4_input {
    const char *method;          /* "GET", "POST" */
    /* Decoded path bytes ("/" for Query and JSON APIs). It is normalised
     * (RFC 3986 dot segments, duplicate slashes) and URI-encoded once, as the
     * official test vectors expect. */
    const char *path;
    const sigv4_kv *query;       /* decoded key/value pairs, any order */
    size_t nquery;
    /* Headers exactly as they will be sent; must contain Host (with the port
     * when the URL has one). user-agent, expect, x-amzn-trace-id and
     * authorization are never signed even if present. */
    const sigv4_kv *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *region;
    const char *service;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;   /* NULL or "" when none; signed as x-amz-security-token */
    time_t when;                 /* signing time (UTC seconds) */
} sigv4_input;

typedef struct sigv4_output {
    char amz_date[17];           /* YYYYMMDDTHHMMSSZ — send as X-Amz-Date */
    char payload_hash[65];       /* hex SHA-256 of the body */
    char *canonical_request;     /* owned */
    char *string_to_sign;        /* owned */
    char *authorization;         /* owned: value of the Authorization header */
} sigv4_output;

/* Sign. The signer adds x-amz-date (and x-amz-security-token when a session
 * token is given) to the signed headers unless the caller already lists them;
 * the caller must then send X-Amz-Date: out->amz_date and the token header.
 * Returns false only on allocation failure or missing inputs. */
bool sigv4_sign(const sigv4_input *in, sigv4_output *out);
/* Frees the strings; accepts NULL and a zeroed struct. */
void sigv4_output_free(sigv4_output *out);

/* RFC 3986 percent-encoding as AWS wants it: unreserved bytes
 * (A-Z a-z 0-9 - . _ ~) stay, everything else is %XX (upper-case hex);
 * '/' stays when keep_slash. Used for form bodies too. */
bool sigv4_uri_encode(dbuf *out, const char *s, size_t n, bool keep_slash);

/* Hex SHA-256 of data into out (65 bytes). */
void sigv4_sha256_hex(const void *data, size_t n, char out[65]);

#endif
