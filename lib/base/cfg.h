/* cfg — configuration shared by every binary: defaults → environment →
 * command-line flags → validation. Env-var names live in the option table in
 * cfg.c and nowhere else. Secrets in URLs (a Redis password) are masked by
 * cfg_describe(), the one place configuration is printed. */
#ifndef FC_CFG_H
#define FC_CFG_H

#include <stdbool.h>
#include <stddef.h>

#define CFG_MAX_KAFKA_KV 32

typedef struct fc_config {
    char kafka_brokers[1024]; /* FLEETCRYPT_KAFKA_BROKERS / --kafka-brokers */
    char redis_url[512];      /* FLEETCRYPT_REDIS_URL / --redis-url */
    char topic_prefix[64];    /* FLEETCRYPT_TOPIC_PREFIX / --topic-prefix (default fleetcrypt) */
    char key_prefix[32];      /* FLEETCRYPT_KEY_PREFIX / --key-prefix (default fc): Redis keys */
    char region[32];          /* AWS_REGION / AWS_DEFAULT_REGION / --region */
    char node_id[96];         /* FLEETCRYPT_NODE_ID / --node-id (default host:pid) */
    char metrics_addr[64];    /* FLEETCRYPT_METRICS_ADDR / --metrics-addr (host:port, "" = off) */
    int executors;            /* FLEETCRYPT_EXECUTORS / --executors (worker threads, default 8) */
    int retired_check_s;      /* FLEETCRYPT_RETIRED_CHECK_S / --retired-check-s: coordinator's retired-source
                                 and master-secret check period (default 900, 0 = off) */
    /* librdkafka pass-through: FLEETCRYPT_LIBRDKAFKA="k=v,k2=v2" and -X k=v */
    int kafka_kv_count;
    char kafka_kv[CFG_MAX_KAFKA_KV][2][256];
} fc_config;

/* Fill defaults, then environment. Returns false with a reason in err. */
bool cfg_from_env(fc_config *c, char *err, size_t errcap);
/* Apply one common flag (without the leading "--") and its value; returns
 * false with err set if the flag is unknown (*known=false) or invalid. */
bool cfg_apply_flag(fc_config *c, const char *name, const char *value, bool *known, char *err, size_t errcap);
/* Apply command-line flags ("--name value" pairs and "-X k=v") over c.
 * Returns CFG_ARGS_OK to go on, CFG_ARGS_EXIT_OK after printing usage for
 * --help, or CFG_ARGS_BAD after printing "prog: reason" to stderr. */
enum { CFG_ARGS_OK = -1, CFG_ARGS_EXIT_OK = 0, CFG_ARGS_BAD = 2 };
int cfg_parse_args(fc_config *c, int argc, char **argv, const char *prog, const char *usage);
/* Validate cross-field rules after env and flags. */
bool cfg_validate(const fc_config *c, bool need_kafka, bool need_redis, char *err, size_t errcap);
/* Add a librdkafka pass-through pair. */
bool cfg_add_kafka_kv(fc_config *c, const char *kv, char *err, size_t errcap);
/* One line describing the config with secrets masked, for the startup log. */
void cfg_describe(const fc_config *c, char *out, size_t cap);
/* Parsed redis://[:password@]host:port[/db]. password is NUL when absent. */
typedef struct fc_redis_addr {
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
} fc_redis_addr;
bool cfg_parse_redis_url(const char *url, fc_redis_addr *out, char *err, size_t errcap);

#endif
