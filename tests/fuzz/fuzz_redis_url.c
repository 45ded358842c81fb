/* fuzz_redis_url — libFuzzer target for the Redis URL parser
 * (cfg_parse_redis_url, lib/base/cfg.c): any text is accepted or refused with a
 * reason; an accepted URL has a host, a port in 1..65535 and a database in
 * 0..1000, and written back as redis[s]://[user:password@]host:port/db (user
 * and password percent-encoded) it parses to the same address. */
#include "cfg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Percent-encode every byte but the unreserved ones. */
static void pct(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            out[o++] = (char)ch;
        else o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
    }
    out[o] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    fc_redis_addr a, b;
    char err[256] = "";
    if (cfg_parse_redis_url(text, &a, err, sizeof err)) {
        if (!a.host[0] || a.port < 1 || a.port > 65535 || a.db < 0 || a.db > 1000) abort();
        char canon[2048], u[400], p[800];
        pct(a.user, u, sizeof u);
        pct(a.password, p, sizeof p);
        const char *scheme = a.tls ? "rediss" : "redis";
        if (a.user[0] || a.password[0])
            snprintf(canon, sizeof canon, "%s://%s:%s@%s:%d/%d", scheme, u, p, a.host, a.port, a.db);
        else
            snprintf(canon, sizeof canon, "%s://%s:%d/%d", scheme, a.host, a.port, a.db);
        err[0] = 0;
        if (!cfg_parse_redis_url(canon, &b, err, sizeof err)) abort();
        if (memcmp(&a, &b, sizeof a) != 0) abort();
    } else if (!err[0]) {
        abort();
    }
    free(text);
    return 0;
}
