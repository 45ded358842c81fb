/* cfg — configuration shared by every binary: defaults → environment →
 * command-line flags → validation, and the one argument parser
 * (getopt_long). Every environment variable a binary reads is a row of the
 * table in cfg.c (name, type, default, allowed range or values, the
 * binaries that read it, its flag if any, one help line) and is read
 * nowhere else: binaries take typed values from fc_config, library code
 * without a config in hand uses cfg_env_int/num/str(CFG_…). A bad value
 * is refused at startup (exit 2, naming the variable and what was
 * expected); --help and docs/configuration.md are printed from the table.
 * Secrets in URLs (a Redis password) are masked by cfg_describe(), the one
 * place configuration is printed. */
#ifndef FC_CFG_H
#define FC_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef FC_VERSION
#define FC_VERSION "0.0.0" /* CMake passes project(fleetcrypt VERSION …) */
#endif

#define CFG_MAX_KAFKA_KV 32

/* The binaries, as a mask: who reads a variable, who accepts a flag. */
enum {
    CFG_BIN_CLI = 1u,
    CFG_BIN_WORKER = 2u,
    CFG_BIN_COORDINATOR = 4u,
    CFG_BIN_KAFKA_DEV = 8u,
    CFG_BIN_ALL = 15u,
};

/* One id per table row (same order as the table in cfg.c). */
typedef enum cfg_id {
    CFG_KAFKA_BROKERS,
    CFG_LIBRDKAFKA_CONFIG,
    CFG_LIBRDKAFKA,
    CFG_REDIS_URL,
    CFG_REDIS_TLS_PROXY,
    CFG_TOPIC_PREFIX,
    CFG_KEY_PREFIX,
    CFG_REGION,
    CFG_PROFILE,
    CFG_NODE_ID,
    CFG_METRICS_ADDR,
    CFG_EXECUTORS,
    CFG_RETIRED_CHECK_S,
    CFG_LEASE_MS,
    CFG_OUTBOX_GRACE_MS,
    CFG_SHUTDOWN_MS,
    CFG_STEP_DEADLINE_MAX_S,
    CFG_REGION_INFLIGHT,
    CFG_POLL_MIN_MS,
    CFG_POLL_MAX_MS,
    CFG_POLL_FLOOR_SCALE,
    CFG_LEADER_MS,
    CFG_AWS_RATE,
    CFG_AWS_BURST,
    CFG_LIMIT_COPY,
    CFG_LIMIT_RESTORE,
    CFG_LIMIT_CUTOVER,
    CFG_PG_SSLMODE,
    CFG_PG_SSLROOTCERT,
    CFG_RDS_CA_BUNDLE,
    CFG_LOG_LEVEL,
    CFG_LOG_FORMAT,
    CFG_TEST_CRASH_AT,
    CFG_TEST_CRASH_DIR,
    CFG_TEST_HOLD_AT,
    CFG__COUNT
} cfg_id;

/* The coordinator's re-drive deadline and `fleetcrypt retry`'s when
 * FLEETCRYPT_STEP_DEADLINE_MAX_S is unset (0); see cfg_redrive_deadline_s. */
#define CFG_REDRIVE_DEADLINE_DEFAULT_S 1800

typedef struct fc_config {
    char kafka_brokers[1024]; /* FLEETCRYPT_KAFKA_BROKERS / --kafka-brokers */
    char redis_url[512];      /* FLEETCRYPT_REDIS_URL / --redis-url */
    char redis_tls_proxy[256]; /* FLEETCRYPT_REDIS_TLS_PROXY: host:port of the local TLS client (rediss://) */
    char topic_prefix[64];    /* FLEETCRYPT_TOPIC_PREFIX / --topic-prefix (default fleetcrypt) */
    char key_prefix[32];      /* FLEETCRYPT_KEY_PREFIX / --key-prefix (default fc): Redis keys */
    char region[32];          /* AWS_REGION / AWS_DEFAULT_REGION / --region; "" = the profile's (cli_region) */
    char profile[128];        /* AWS_PROFILE / --profile (the flag sets AWS_PROFILE for the credential chain) */
    char node_id[96];         /* FLEETCRYPT_NODE_ID / --node-id (default host:pid) */
    char metrics_addr[64];    /* FLEETCRYPT_METRICS_ADDR / --metrics-addr (host:port, "" = off) */
    int executors;            /* FLEETCRYPT_EXECUTORS / --executors (worker threads, default 8) */
    int retired_check_s;      /* FLEETCRYPT_RETIRED_CHECK_S / --retired-check-s: coordinator's retired-source
                                 and master-secret check period (default 900, 0 = off) */
    int64_t lease_ms;            /* FLEETCRYPT_LEASE_MS: worker's step lease (default 30000) */
    int64_t outbox_grace_ms;     /* FLEETCRYPT_OUTBOX_GRACE_MS (default 5000) */
    int64_t shutdown_ms;         /* FLEETCRYPT_SHUTDOWN_MS: worker's bound on finishing steps (default 20000) */
    int64_t step_deadline_max_s; /* FLEETCRYPT_STEP_DEADLINE_MAX_S (default 0 = none) */
    int64_t region_inflight;     /* FLEETCRYPT_REGION_INFLIGHT (default 0 = none) */
    int64_t poll_min_ms;         /* FLEETCRYPT_POLL_MIN_MS (default 1000) */
    int64_t poll_max_ms;         /* FLEETCRYPT_POLL_MAX_MS (default 300000) */
    double poll_floor_scale;     /* FLEETCRYPT_POLL_FLOOR_SCALE (default 1; 0 = no wait floors) */
    int64_t leader_ms;           /* FLEETCRYPT_LEADER_MS (default 6000) */
    double aws_rate;             /* FLEETCRYPT_AWS_RATE (default 10 requests/s) */
    double aws_burst;            /* FLEETCRYPT_AWS_BURST (default 50) */
    /* librdkafka pass-through: FLEETCRYPT_LIBRDKAFKA="k=v,k2=v2" and -X k=v */
    int kafka_kv_count;
    char kafka_kv[CFG_MAX_KAFKA_KV][2][256];
} fc_config;

/* Defaults for every field, then the environment for the variables the
 * binaries in `bins` read (others keep their defaults). False with
 * "NAME: expected …, got '…'" in err on the first bad value. */
bool cfg_load(fc_config *c, unsigned bins, char *err, size_t errcap);
/* cfg_load for every binary (tests and tools). */
bool cfg_from_env(fc_config *c, char *err, size_t errcap);
/* Apply one flag (without the leading "--"; "X" for -X) and its value;
 * false with err set if the flag is unknown (*known=false) or invalid. */
bool cfg_apply_flag(fc_config *c, const char *name, const char *value, bool *known, char *err, size_t errcap);
/* Validate cross-field rules after env and flags. */
bool cfg_validate(const fc_config *c, bool need_kafka, bool need_redis, char *err, size_t errcap);
/* Add a librdkafka pass-through pair. */
bool cfg_add_kafka_kv(fc_config *c, const char *kv, char *err, size_t errcap);
/* Add every key=value line of a librdkafka properties file, as kcat's -F
 * reads it ('#' comments and blank lines skipped, the value kept whole,
 * commas included). err names the file and line, never a value. */
bool cfg_add_kafka_file(fc_config *c, const char *path, char *err, size_t errcap);
/* One line describing the config with secrets masked, for the startup log. */
void cfg_describe(const fc_config *c, char *out, size_t cap);
/* FLEETCRYPT_STEP_DEADLINE_MAX_S, or CFG_REDRIVE_DEADLINE_DEFAULT_S when unset. */
int64_t cfg_redrive_deadline_s(const fc_config *c);

/* Library code without a config in hand: the current value of a variable
 * through its table row (its default when unset, or when bad: a binary that
 * reads it has refused the bad value at startup). */
int64_t cfg_env_int(cfg_id id);
double cfg_env_num(cfg_id id);
/* NULL when unset and the row has no default; enum values come back in the
 * table's spelling. */
const char *cfg_env_str(cfg_id id);
/* The id of the row named env ("FLEETCRYPT_LIMIT_COPY"), or -1. */
int cfg_find(const char *env);

/* Help generated from the table: the flags common to bins ("  --redis-url
 * URL  …" lines) and the variables bins read ("  NAME  type, default …"). */
void cfg_print_flags(FILE *f, unsigned bins);
void cfg_print_env(FILE *f, unsigned bins);
/* docs/configuration.md, exactly (tests compare). */
void cfg_print_markdown(FILE *f);

/* ---- the argument parser (getopt_long) ----
 * A command's own options are `struct option` rows whose val is returned
 * to on_opt (use values >= 256 for long-only options, or a letter also
 * listed in shortopts). Added for every command: the common flags of the
 * table for cmd->bins (and -X k=v where Kafka is read), --help/-h and
 * --version. Both --flag=value and --flag value; -- ends the options;
 * operands may come before, between or after options. */
struct option;
typedef struct cfg_cmd {
    const char *prog;              /* "fleetcrypt-worker", "fleetcrypt submit": messages and --version */
    unsigned bins;                 /* whose common flags and variables */
    const struct option *opts;     /* own options, terminated by a zero row; NULL = none */
    const char *shortopts;         /* own short options ("y" for -y), NULL = none */
    /* CFG_ARGS_OK to go on, else an exit code (message already printed) */
    int (*on_opt)(void *ud, int val, const char *arg);
    void *ud;
    void (*help)(FILE *f, void *ud); /* usage and own options; common flags and env follow */
} cfg_cmd;
enum { CFG_ARGS_OK = -1, CFG_ARGS_EXIT_OK = 0, CFG_ARGS_BAD = 2 };
/* Parse argv[1..] into c (common flags) and on_opt (own ones). Returns
 * CFG_ARGS_OK with the operands in argv[*first..argc-1], CFG_ARGS_EXIT_OK
 * after printing --help or --version, or CFG_ARGS_BAD after printing
 * "prog: reason" to stderr. */
int cfg_getopt(fc_config *c, const cfg_cmd *cmd, int argc, char **argv, int *first);
/* A daemon's start: cfg_load(bins), then cfg_getopt with no own options
 * and no operands, then cfg_validate. CFG_ARGS_OK to run, else the exit
 * code (message printed). */
int cfg_daemon_args(fc_config *c, const cfg_cmd *cmd, bool need_kafka, bool need_redis, int argc,
                    char **argv);

/* Parsed redis://[:password@]host:port[/db]. password is NUL when absent. */
typedef struct fc_redis_addr {
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    bool tls;              /* rediss:// */
    char via_host[256];    /* where to connect: host, or the TLS sidecar's address for rediss:// */
    int via_port;
} fc_redis_addr;
/* redis[s]://[user:password@]host[:port][/db]; user and password are
 * percent-decoded. via_host/via_port are host/port. */
bool cfg_parse_redis_url(const char *url, fc_redis_addr *out, char *err, size_t errcap);
/* The configured Redis: the URL parsed, and for rediss:// the connection
 * through FLEETCRYPT_REDIS_TLS_PROXY (required then; refused with redis://):
 * the Redis client library (Debian's 0.14) speaks no TLS, a local stunnel client does (docs/OPERATIONS.md). */
bool cfg_redis_addr(const fc_config *c, fc_redis_addr *out, char *err, size_t errcap);

#endif
