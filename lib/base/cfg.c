/* cfg — see cfg.h. */
#include "cfg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { OPT_STR, OPT_INT } opt_kind;

typedef struct cfg_opt {
    const char *flag;  /* without "--" */
    const char *env;   /* primary env var */
    const char *env2;  /* fallback env var or NULL */
    opt_kind kind;
    size_t off;
    size_t cap;        /* for strings */
    int min, max;      /* for ints */
} cfg_opt;

#define S(f, e, e2, field) {f, e, e2, OPT_STR, offsetof(fc_config, field), sizeof(((fc_config *)0)->field), 0, 0}
#define I(f, e, field, lo, hi) {f, e, NULL, OPT_INT, offsetof(fc_config, field), 0, lo, hi}

static const cfg_opt cfg_opts[] = {
    S("kafka-brokers", "FLEETCRYPT_KAFKA_BROKERS", NULL, kafka_brokers),
    S("redis-url", "FLEETCRYPT_REDIS_URL", NULL, redis_url),
    S("topic-prefix", "FLEETCRYPT_TOPIC_PREFIX", NULL, topic_prefix),
    S("key-prefix", "FLEETCRYPT_KEY_PREFIX", NULL, key_prefix),
    S("region", "AWS_REGION", "AWS_DEFAULT_REGION", region),
    S("node-id", "FLEETCRYPT_NODE_ID", NULL, node_id),
    S("metrics-addr", "FLEETCRYPT_METRICS_ADDR", NULL, metrics_addr),
    I("executors", "FLEETCRYPT_EXECUTORS", executors, 1, 256),
    I("retired-check-s", "FLEETCRYPT_RETIRED_CHECK_S", retired_check_s, 0, 86400),
};

static bool set_opt(fc_config *c, const cfg_opt *o, const char *v, char *err, size_t errcap)
{
    char *base = (char *)c + o->off;
    if (o->kind == OPT_STR) {
        if (!fc_strlcpy(base, v, o->cap)) {
            snprintf(err, errcap, "%s: value too long (max %zu)", o->flag, o->cap - 1);
            return false;
        }
        return true;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < o->min || n > o->max) {
        snprintf(err, errcap, "%s: expected an integer in [%d, %d], got '%s'", o->flag, o->min, o->max, v);
        return false;
    }
    *(int *)base = (int)n;
    return true;
}

bool cfg_add_kafka_kv(fc_config *c, const char *kv, char *err, size_t errcap)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errcap, "librdkafka setting must be key=value, got '%s'", kv);
        return false;
    }
    if (c->kafka_kv_count >= CFG_MAX_KAFKA_KV) {
        snprintf(err, errcap, "too many librdkafka settings (max %d)", CFG_MAX_KAFKA_KV);
        return false;
    }
    size_t kl = (size_t)(eq - kv);
    if (kl >= 256 || strlen(eq + 1) >= 256) {
        snprintf(err, errcap, "librdkafka setting too long");
        return false;
    }
    memcpy(c->kafka_kv[c->kafka_kv_count][0], kv, kl);
    c->kafka_kv[c->kafka_kv_count][0][kl] = 0;
    fc_strlcpy(c->kafka_kv[c->kafka_kv_count][1], eq + 1, 256);
    c->kafka_kv_count++;
    return true;
}

bool cfg_from_env(fc_config *c, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    fc_strlcpy(c->topic_prefix, "fleetcrypt", sizeof c->topic_prefix);
    fc_strlcpy(c->key_prefix, "fc", sizeof c->key_prefix);
    fc_strlcpy(c->region, "us-east-1", sizeof c->region);
    c->executors = 8;
    c->retired_check_s = 900;
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(c->node_id, sizeof c->node_id, "%s:%d", host, (int)getpid());

    for (size_t i = 0; i < FC_ARRAY_LEN(cfg_opts); i++) {
        const cfg_opt *o = &cfg_opts[i];
        const char *v = getenv(o->env);
        if ((!v || !*v) && o->env2) v = getenv(o->env2);
        if (v && *v && !set_opt(c, o, v, err, errcap)) return false;
    }
    const char *kv = getenv("FLEETCRYPT_LIBRDKAFKA");
    if (kv && *kv) {
        char tmp[4096];
        if (!fc_strlcpy(tmp, kv, sizeof tmp)) {
            snprintf(err, errcap, "FLEETCRYPT_LIBRDKAFKA too long");
            return false;
        }
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (!cfg_add_kafka_kv(c, t, err, errcap)) return false;
    }
    return true;
}

bool cfg_apply_flag(fc_config *c, const char *name, const char *value, bool *known, char *err, size_t errcap)
{
    *known = false;
    if (!strcmp(name, "X")) {
        *known = true;
        return cfg_add_kafka_kv(c, value, err, errcap);
    }
    for (size_t i = 0; i < FC_ARRAY_LEN(cfg_opts); i++) {
        if (!strcmp(cfg_opts[i].flag, name)) {
            *known = true;
            return set_opt(c, &cfg_opts[i], value, err, errcap);
        }
    }
    snprintf(err, errcap, "unknown option --%s", name);
    return false;
}

int cfg_parse_args(fc_config *c, int argc, char **argv, const char *prog, const char *usage)
{
    char err[512];
    for (int i = 1; i < argc; i += 2) { /* every flag takes one value */
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return CFG_ARGS_EXIT_OK;
        }
        const char *name = !strcmp(a, "-X") ? "X" : (!strncmp(a, "--", 2) ? a + 2 : NULL);
        bool known = false;
        if (!name || i + 1 >= argc) {
            fprintf(stderr, "%s: bad arguments at '%s' (try --help)\n", prog, a);
            return CFG_ARGS_BAD;
        }
        if (!cfg_apply_flag(c, name, argv[i + 1], &known, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return CFG_ARGS_BAD;
        }
    }
    return CFG_ARGS_OK;
}

bool cfg_parse_redis_url(const char *url, fc_redis_addr *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    const char *p = url;
    if (!strncmp(p, "redis://", 8)) p += 8;
    else {
        snprintf(err, errcap, "FLEETCRYPT_REDIS_URL must start with redis://");
        return false;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            size_t ul = (size_t)(colon - p), pl = (size_t)(at - colon - 1);
            if (ul >= sizeof out->user || pl >= sizeof out->password) {
                snprintf(err, errcap, "redis URL credentials too long");
                return false;
            }
            memcpy(out->user, p, ul);
            memcpy(out->password, colon + 1, pl);
        } else {
            size_t pl = (size_t)(at - p);
            if (pl >= sizeof out->password) {
                snprintf(err, errcap, "redis URL password too long");
                return false;
            }
            memcpy(out->password, p, pl);
        }
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof out->host) {
        snprintf(err, errcap, "redis URL has no host");
        return false;
    }
    memcpy(out->host, p, hl);
    p += hl;
    if (*p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(err, errcap, "redis URL has a bad port");
            return false;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p == '/') {
        char *end = NULL;
        long db = strtol(p + 1, &end, 10);
        if (p[1] && (*end || db < 0 || db > 1000)) {
            snprintf(err, errcap, "redis URL has a bad database number");
            return false;
        }
        out->db = (int)db;
    } else if (*p) {
        snprintf(err, errcap, "redis URL has trailing characters");
        return false;
    }
    return true;
}

bool cfg_validate(const fc_config *c, bool need_kafka, bool need_redis, char *err, size_t errcap)
{
    if (need_kafka && !c->kafka_brokers[0]) {
        snprintf(err, errcap, "FLEETCRYPT_KAFKA_BROKERS (or --kafka-brokers) is required");
        return false;
    }
    if (need_redis) {
        if (!c->redis_url[0]) {
            snprintf(err, errcap, "FLEETCRYPT_REDIS_URL (or --redis-url) is required");
            return false;
        }
        fc_redis_addr a;
        bool ok = cfg_parse_redis_url(c->redis_url, &a, err, errcap);
        fc_wipe(&a, sizeof a);
        if (!ok) return false;
    }
    for (const char *p = c->topic_prefix; *p; p++) {
        if (!(( *p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
            snprintf(err, errcap, "topic prefix may only contain [A-Za-z0-9._-]");
            return false;
        }
    }
    if (!c->topic_prefix[0] || !c->key_prefix[0]) {
        snprintf(err, errcap, "topic and key prefixes must not be empty");
        return false;
    }
    return true;
}

void cfg_describe(const fc_config *c, char *out, size_t cap)
{
    char redis[512];
    fc_strlcpy(redis, c->redis_url, sizeof redis);
    char *at = strrchr(redis, '@');
    if (at && !strncmp(redis, "redis://", 8)) {
        char masked[512];
        snprintf(masked, sizeof masked, "redis://***%s", at);
        fc_strlcpy(redis, masked, sizeof redis);
    }
    snprintf(out, cap, "kafka=%s redis=%s topic_prefix=%s key_prefix=%s region=%s node=%s executors=%d kafka_settings=%d",
             c->kafka_brokers[0] ? c->kafka_brokers : "-", redis[0] ? redis : "-", c->topic_prefix,
             c->key_prefix, c->region, c->node_id, c->executors, c->kafka_kv_count);
}
