/* sigv4 — see sigv4.h. The spec, one step per function:
 *   canonical request = method \n canonical URI \n canonical query \n
 *                       canonical headers \n signed headers \n payload hash
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz-date \n scope \n hex(sha256(creq))
 *   signing key       = HMAC chain "AWS4"+secret → date → region → service → "aws4_request"
 */
#include "sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "util.h"

#define SIGV4_MAX_TEXT (4u * 1024 * 1024)   /* canonical request bound: headers + query */
#define SIGV4_MAX_HEADERS 64

void sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : (const void *)"", n, md);
    fc_hex(md, sizeof(md), out);
}

static bool hmac256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32])
{
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) != NULL && olen == 32;
}

static bool is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool sigv4_uri_encode(dbuf *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x80 && is_unreserved(c)) || (keep_slash && c == '/')) {
            if (!dbuf_append(out, &s[i], 1)) return false;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (!dbuf_append(out, e, 3)) return false;
        }
    }
    return true;
}

/* Canonical URI: remove dot segments and empty segments (non-S3 rule), then
 * encode each segment; a trailing slash survives. */
static bool canonical_uri(dbuf *out, const char *path)
{
    if (!path || !*path) return dbuf_appends(out, "/");
    size_t plen = strlen(path);
    /* segment stack as (offset, length) pairs into path */
    size_t nseg = 0, cap = plen / 2 + 2;
    size_t *off = calloc(cap, sizeof(*off)), *len = calloc(cap, sizeof(*len));
    bool ok = false;
    if (!off || !len) goto cleanup;
    for (size_t i = 0; i < plen;) {
        while (i < plen && path[i] == '/') i++;
        size_t s = i;
        while (i < plen && path[i] != '/') i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && path[s] == '.')) continue;
        if (l == 2 && path[s] == '.' && path[s + 1] == '.') {
            if (nseg) nseg--;
            continue;
        }
        off[nseg] = s;
        len[nseg] = l;
        nseg++;
    }
    if (!dbuf_appends(out, "/")) goto cleanup;
    for (size_t k = 0; k < nseg; k++) {
        if (k && !dbuf_appends(out, "/")) goto cleanup;
        if (!sigv4_uri_encode(out, path + off[k], len[k], false)) goto cleanup;
    }
    if (nseg && path[plen - 1] == '/' && !dbuf_appends(out, "/")) goto cleanup;
    ok = true;
cleanup:
    free(off);
    free(len);
    return ok;
}

typedef struct enc_pair {
    char *k;
    char *v;
} enc_pair;

static int cmp_pair(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *encode_dup(const char *s)
{
    dbuf b;
    dbuf_init(&b, SIGV4_MAX_TEXT);
    if (!sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false)) {
        dbuf_free(&b);
        return NULL;
    }
    return dbuf_take(&b);
}

/* Canonical query: encode every key and value, sort by key then value. */
static bool canonical_query(dbuf *out, const sigv4_kv *q, size_t n)
{
    enc_pair *pairs = NULL;
    bool ok = false;
    if (n == 0) return true;
    pairs = calloc(n, sizeof(*pairs));
    if (!pairs) return false;
    for (size_t i = 0; i < n; i++) {
        pairs[i].k = encode_dup(q[i].name);
        pairs[i].v = encode_dup(q[i].value);
        if (!pairs[i].k || !pairs[i].v) goto cleanup;
    }
    qsort(pairs, n, sizeof(*pairs), cmp_pair);
    for (size_t i = 0; i < n; i++) {
        if (i && !dbuf_appends(out, "&")) goto cleanup;
        if (!dbuf_printf(out, "%s=%s", pairs[i].k, pairs[i].v)) goto cleanup;
    }
    ok = true;
cleanup:
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].k);
        free(pairs[i].v);
    }
    free(pairs);
    return ok;
}

typedef struct canon_hdr {
    char name[128];
    int count;       /* how many times the header appeared */
    dbuf value;      /* trimmed, whitespace runs collapsed, duplicates joined by ',' */
} canon_hdr;

static bool never_signed(const char *lname)
{
    return !strcmp(lname, "user-agent") || !strcmp(lname, "expect") ||
           !strcmp(lname, "x-amzn-trace-id") || !strcmp(lname, "authorization");
}

/* Append a header value trimmed with every whitespace run (including folded
 * continuation lines) collapsed to one space. */
static bool append_trimmed(dbuf *b, const char *v)
{
    const char *s = v ? v : "";
    while (*s && isspace((unsigned char)*s)) s++;
    bool pending_space = false;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            pending_space = true;
            continue;
        }
        if (pending_space && !dbuf_append(b, " ", 1)) return false;
        pending_space = false;
        if (!dbuf_append(b, s, 1)) return false;
    }
    return true;
}

static int cmp_hdr(const void *a, const void *b)
{
    return strcmp(((const canon_hdr *)a)->name, ((const canon_hdr *)b)->name);
}

static canon_hdr *find_or_add(canon_hdr *h, size_t *n, const char *name, bool *ok)
{
    char lname[128];
    size_t l = strlen(name);
    *ok = false;
    if (l == 0 || l >= sizeof(lname)) return NULL;
    for (size_t i = 0; i <= l; i++) lname[i] = (char)tolower((unsigned char)name[i]);
    *ok = true;
    if (never_signed(lname)) return NULL;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(h[i].name, lname)) return &h[i];
    if (*n >= SIGV4_MAX_HEADERS) {
        *ok = false;
        return NULL;
    }
    canon_hdr *c = &h[(*n)++];
    fc_strlcpy(c->name, lname, sizeof(c->name));
    dbuf_init(&c->value, SIGV4_MAX_TEXT);
    return c;
}

static bool add_header(canon_hdr *h, size_t *n, const char *name, const char *value)
{
    bool ok;
    canon_hdr *c = find_or_add(h, n, name, &ok);
    if (!ok) return false;
    if (!c) return true;  /* deliberately unsigned */
    /* duplicate header: values joined with ',' in the order given */
    if (c->count++ > 0 && !dbuf_append(&c->value, ",", 1)) return false;
    return append_trimmed(&c->value, value);
}

static bool has_header(const sigv4_input *in, const char *lname)
{
    for (size_t i = 0; i < in->nheaders; i++)
        if (in->headers[i].name && !strcasecmp(in->headers[i].name, lname)) return true;
    return false;
}

static bool build_canonical(const sigv4_input *in, const char *amz_date, const char *payload_hash,
                            dbuf *creq, dbuf *signed_hdrs)
{
    canon_hdr *h = calloc(SIGV4_MAX_HEADERS, sizeof(*h));
    size_t n = 0;
    bool ok = false;
    if (!h) return false;
    for (size_t i = 0; i < in->nheaders; i++)
        if (!in->headers[i].name || !add_header(h, &n, in->headers[i].name, in->headers[i].value))
            goto cleanup;
    if (!has_header(in, "x-amz-date") && !add_header(h, &n, "x-amz-date", amz_date)) goto cleanup;
    if (in->session_token && *in->session_token && !has_header(in, "x-amz-security-token") &&
        !add_header(h, &n, "x-amz-security-token", in->session_token))
        goto cleanup;
    qsort(h, n, sizeof(*h), cmp_hdr);

    if (!dbuf_printf(creq, "%s\n", in->method)) goto cleanup;
    if (!canonical_uri(creq, in->path) || !dbuf_appends(creq, "\n")) goto cleanup;
    if (!canonical_query(creq, in->query, in->nquery) || !dbuf_appends(creq, "\n")) goto cleanup;
    for (size_t i = 0; i < n; i++)
        if (!dbuf_printf(creq, "%s:%s\n", h[i].name, h[i].value.data ? h[i].value.data : ""))
            goto cleanup;
    if (!dbuf_appends(creq, "\n")) goto cleanup;
    for (size_t i = 0; i < n; i++)
        if (!dbuf_printf(signed_hdrs, "%s%s", i ? ";" : "", h[i].name)) goto cleanup;
    if (!dbuf_printf(creq, "%s\n%s", signed_hdrs->data ? signed_hdrs->data : "", payload_hash))
        goto cleanup;
    ok = true;
cleanup:
    for (size_t i = 0; i < n; i++) dbuf_free(&h[i].value);
    free(h);
    return ok;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
static bool signing_key(const char *secret, const char *date8, const char *region,
                        const char *service, unsigned char key[32])
{
    char k0[256];
    int kl = snprintf(k0, sizeof(k0), "AWS4%s", secret);
    bool ok = kl > 0 && (size_t)kl < sizeof(k0) &&
              hmac256(k0, (size_t)kl, date8, strlen(date8), key) &&
              hmac256(key, 32, region, strlen(region), key) &&
              hmac256(key, 32, service, strlen(service), key) &&
              hmac256(key, 32, "aws4_request", 12, key);
    fc_wipe(k0, sizeof(k0));
    return ok;
}

bool sigv4_sign(const sigv4_input *in, sigv4_output *out)
{
    dbuf creq, sts, shdr, authz;
    unsigned char key[32], sig[32];
    char sig_hex[65], creq_hash[65], date8[9];
    bool ok = false;
    struct tm tm;

    memset(out, 0, sizeof(*out));
    if (!in || !in->method || !in->region || !in->service || !in->access_key_id ||
        !in->secret_access_key)
        return false;
    dbuf_init(&creq, SIGV4_MAX_TEXT);
    dbuf_init(&sts, 4096);
    dbuf_init(&shdr, 8192);
    dbuf_init(&authz, 16384);

    if (!gmtime_r(&in->when, &tm)) goto cleanup;
    strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
    memcpy(date8, out->amz_date, 8);
    date8[8] = 0;
    sigv4_sha256_hex(in->body, in->body_len, out->payload_hash);

    if (!build_canonical(in, out->amz_date, out->payload_hash, &creq, &shdr)) goto cleanup;
    sigv4_sha256_hex(creq.data, creq.len, creq_hash);
    if (!dbuf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", out->amz_date,
                     date8, in->region, in->service, creq_hash))
        goto cleanup;
    if (!signing_key(in->secret_access_key, date8, in->region, in->service, key)) goto cleanup;
    if (!hmac256(key, sizeof(key), sts.data, sts.len, sig)) goto cleanup;
    fc_hex(sig, sizeof(sig), sig_hex);
    if (!dbuf_printf(&authz,
                     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                     "Signature=%s",
                     in->access_key_id, date8, in->region, in->service, shdr.data, sig_hex))
        goto cleanup;
    out->canonical_request = dbuf_take(&creq);
    out->string_to_sign = dbuf_take(&sts);
    out->authorization = dbuf_take(&authz);
    ok = out->canonical_request && out->string_to_sign && out->authorization;
cleanup:
    fc_wipe(key, sizeof(key));
    fc_wipe(sig, sizeof(sig));
    /* the canonical request holds the session token: wipe before freeing */
    dbuf_free_secure(&creq);
    dbuf_free(&sts);
    dbuf_free(&shdr);
    dbuf_free(&authz);
    if (!ok) sigv4_output_free(out);
    return ok;
}

void sigv4_output_free(sigv4_output *out)
{
    if (!out) return;
    if (out->canonical_request) {
        fc_wipe(out->canonical_request, strlen(out->canonical_request));
        free(out->canonical_request);
    }
    free(out->string_to_sign);
    free(out->authorization);
    out->canonical_request = out->string_to_sign = out->authorization = NULL;
}
