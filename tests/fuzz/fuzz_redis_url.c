/* fuzz_redis_url — libFuzzer target for the Redis URL parser
 * (cfg_parse_redis_url, lib/base/cfg.c): any text is accepted or refused with a
 * reason; an accepted URL has a host, a port in 1..65535 and a database in
 * 0..1000, and written back as redis://[user:password@]host:port/db it
 * parses to the same address. */
#include "cfg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        char canon[1024];
        if (a.user[0] || a.password[0])
            snprintf(canon, sizeof canon, "redis://%s:%s@%s:%d/%d", a.user, a.password, a.host, a.port, a.db);
        else
            snprintf(canon, sizeof canon, "redis://%s:%d/%d", a.host, a.port, a.db);
        err[0] = 0;
        if (!cfg_parse_redis_url(canon, &b, err, sizeof err)) abort();
        if (memcmp(&a, &b, sizeof a) != 0) abort();
    } else if (!err[0]) {
        abort();
    }
    free(text);
    return 0;
}
