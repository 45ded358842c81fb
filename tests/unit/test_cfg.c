/* test_cfg — env → flags → validation, Redis URL parsing, and that the one
 * place config is printed masks the Redis password. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfg.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_defaults_env_flags(void **state)
{
    (void)state;
    fc_config c;
    char err[256];
    unsetenv("FLEETCRYPT_TOPIC_PREFIX");
    setenv("FLEETCRYPT_KAFKA_BROKERS", "127.0.0.1:9092", 1);
    setenv("FLEETCRYPT_REDIS_URL", "redis://127.0.0.1:6379/0", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    setenv("FLEETCRYPT_LIBRDKAFKA", "security.protocol=SASL_SSL,sasl.mechanism=SCRAM-SHA-512", 1);
    assert_true(cfg_from_env(&c, err, sizeof err));
    assert_string_equal(c.topic_prefix, "fleetcrypt");
    assert_string_equal(c.region, "eu-west-1");
    assert_int_equal(c.kafka_kv_count, 2);
    assert_string_equal(c.kafka_kv[1][0], "sasl.mechanism");
    bool known = false;
    assert_true(cfg_apply_flag(&c, "topic-prefix", "t1", &known, err, sizeof err));
    assert_true(known);
    assert_string_equal(c.topic_prefix, "t1");
    assert_true(cfg_apply_flag(&c, "X", "sasl.username=u", &known, err, sizeof err));
    assert_int_equal(c.kafka_kv_count, 3);
    assert_false(cfg_apply_flag(&c, "executors", "0", &known, err, sizeof err));
    assert_non_null(strstr(err, "executors"));
    assert_false(cfg_apply_flag(&c, "nonsense", "1", &known, err, sizeof err));
    assert_false(known);
    assert_true(cfg_validate(&c, true, true, err, sizeof err));
    unsetenv("FLEETCRYPT_LIBRDKAFKA");
}

static void test_validate_requires(void **state)
{
    (void)state;
    fc_config c;
    char err[256];
    unsetenv("FLEETCRYPT_KAFKA_BROKERS");
    unsetenv("FLEETCRYPT_REDIS_URL");
    assert_true(cfg_from_env(&c, err, sizeof err));
    assert_false(cfg_validate(&c, true, false, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_KAFKA_BROKERS"));
    assert_false(cfg_validate(&c, false, true, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_REDIS_URL"));
    assert_true(cfg_validate(&c, false, false, err, sizeof err));
    bool known;
    /* a bad topic prefix is refused by the flag itself, and by validation when set otherwise */
    assert_false(cfg_apply_flag(&c, "topic-prefix", "bad prefix!", &known, err, sizeof err));
    assert_non_null(strstr(err, "--topic-prefix: expected a non-empty name of [A-Za-z0-9._-]"));
    snprintf(c.topic_prefix, sizeof c.topic_prefix, "%s", "bad prefix!");
    assert_false(cfg_validate(&c, false, false, err, sizeof err));
}

static void test_redis_url(void **state)
{
    (void)state;
    struct {
        const char *url;
        bool ok;
        const char *host;
        int port, db;
        const char *password;
    } cases[] = {
        {"redis://127.0.0.1:6380/2", true, "127.0.0.1", 6380, 2, ""},
        {"redis://:s3cret@redis.internal:6379/0", true, "redis.internal", 6379, 0, "s3cret"},
        {"redis://user:pw@h", true, "h", 6379, 0, "pw"},
        {"redis://h:0", false, NULL, 0, 0, NULL},
        {"http://h:6379", false, NULL, 0, 0, NULL},
        {"redis://", false, NULL, 0, 0, NULL},
        {"redis://h:6379/x", false, NULL, 0, 0, NULL},
        /* percent-encoded credentials are decoded, as in every Redis client */
        {"redis://:p%40ss%3Aw%2Frd%25@h:7/1", true, "h", 7, 1, "p@ss:w/rd%"},
        {"redis://:bad%zzpw@h", false, NULL, 0, 0, NULL},
        {"redis://:bad%4@h", false, NULL, 0, 0, NULL},
        /* TLS: parsed here, reached through the sidecar (cfg_redis_addr) */
        {"rediss://:pw@cache.example.com:6380/0", true, "cache.example.com", 6380, 0, "pw"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fc_redis_addr a;
        char err[256] = "";
        bool ok = cfg_parse_redis_url(cases[i].url, &a, err, sizeof err);
        if (ok != cases[i].ok) fail_msg("%s: expected %s, got %s (%s)", cases[i].url, cases[i].ok ? "ok" : "error", ok ? "ok" : "error", err);
        if (!ok) continue;
        assert_string_equal(a.host, cases[i].host);
        assert_int_equal(a.port, cases[i].port);
        assert_int_equal(a.db, cases[i].db);
        assert_string_equal(a.password, cases[i].password);
    }
}

/* A rediss:// URL names the TLS server; the Redis client library (0.14) speaks no TLS, so the
 * connection goes through the local TLS client (stunnel) named by
 * FLEETCRYPT_REDIS_TLS_PROXY, which is required then and refused with a
 * plain redis:// URL. Errors never quote the password. */
static void test_redis_tls_addr(void **state)
{
    (void)state;
    fc_config c;
    char err[256];
    memset(&c, 0, sizeof c);
    fc_redis_addr a;
    snprintf(c.redis_url, sizeof c.redis_url, "rediss://u%%3A1:p%%40w@cache.example.com:6380/3");
    assert_false(cfg_redis_addr(&c, &a, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_REDIS_TLS_PROXY"));
    assert_null(strstr(err, "p@w"));
    snprintf(c.redis_tls_proxy, sizeof c.redis_tls_proxy, "127.0.0.1:16380");
    assert_true(cfg_redis_addr(&c, &a, err, sizeof err));
    assert_true(a.tls);
    assert_string_equal(a.host, "cache.example.com");
    assert_int_equal(a.port, 6380);
    assert_string_equal(a.via_host, "127.0.0.1");
    assert_int_equal(a.via_port, 16380);
    assert_string_equal(a.user, "u:1");
    assert_string_equal(a.password, "p@w");
    assert_int_equal(a.db, 3);
    snprintf(c.redis_tls_proxy, sizeof c.redis_tls_proxy, "127.0.0.1");
    assert_false(cfg_redis_addr(&c, &a, err, sizeof err));
    /* a plain URL: connected as named; the proxy variable is a mistake */
    snprintf(c.redis_url, sizeof c.redis_url, "redis://h:6379/0");
    snprintf(c.redis_tls_proxy, sizeof c.redis_tls_proxy, "127.0.0.1:16380");
    assert_false(cfg_redis_addr(&c, &a, err, sizeof err));
    assert_non_null(strstr(err, "rediss://"));
    c.redis_tls_proxy[0] = 0;
    assert_true(cfg_redis_addr(&c, &a, err, sizeof err));
    assert_false(a.tls);
    assert_string_equal(a.via_host, "h");
    assert_int_equal(a.via_port, 6379);
}

static void test_describe_masks_password(void **state)
{
    (void)state;
    fc_config c;
    char err[256], out[1024];
    assert_true(cfg_from_env(&c, err, sizeof err));
    bool known;
    assert_true(cfg_apply_flag(&c, "redis-url", "redis://:hunter2-secret@10.0.0.1:6379/0", &known, err, sizeof err));
    assert_true(cfg_apply_flag(&c, "X", "sasl.password=kafka-secret", &known, err, sizeof err));
    cfg_describe(&c, out, sizeof out);
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "kafka-secret"));
    assert_non_null(strstr(out, "10.0.0.1:6379"));
}

/* stderr of fn() as a string (the parser prints its one-line reasons there) */
static char captured[1024];
static int capture_stderr(int (*fn)(void *), void *arg)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int rc = fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof captured - 1, tmp);
    captured[n] = 0;
    fclose(tmp);
    return rc;
}

typedef struct own {
    char campaign[32];
    int json;
} own;

enum { O_CAMPAIGN = 256, O_JSON };

static int own_opt(void *ud, int val, const char *arg)
{
    own *o = ud;
    if (val == O_CAMPAIGN) snprintf(o->campaign, sizeof o->campaign, "%s", arg);
    if (val == O_JSON) o->json++;
    return CFG_ARGS_OK;
}

static const struct option own_opts[] = {{"campaign", required_argument, NULL, O_CAMPAIGN},
                                         {"json", no_argument, NULL, O_JSON},
                                         {NULL, 0, NULL, 0}};

typedef struct run_args {
    fc_config *c;
    cfg_cmd *cmd;
    int argc;
    char **argv;
    int first;
} run_args;

static int run_getopt(void *p)
{
    run_args *a = p;
    return cfg_getopt(a->c, a->cmd, a->argc, a->argv, &a->first);
}

static void test_parse_args(void **state)
{
    (void)state;
    fc_config c;
    char err[256];
    assert_true(cfg_from_env(&c, err, sizeof err));
    own o = {{0}, 0};
    cfg_cmd cmd = {.prog = "prog", .bins = CFG_BIN_WORKER, .opts = own_opts, .on_opt = own_opt, .ud = &o};
    /* both flag forms, common and own, operands anywhere */
    char *ok[] = {"prog", "--executors=4", "db1", "-X", "acks=all", "--topic-prefix", "t2", "--campaign=q4", "db2",
                  "--json", NULL};
    run_args ra = {&c, &cmd, 10, ok, 0};
    assert_int_equal(run_getopt(&ra), CFG_ARGS_OK);
    assert_int_equal(c.executors, 4);
    assert_string_equal(c.topic_prefix, "t2");
    assert_int_equal(c.kafka_kv_count > 0, 1);
    assert_string_equal(o.campaign, "q4");
    assert_int_equal(o.json, 1);
    assert_int_equal(ra.argc - ra.first, 2);
    assert_string_equal(ok[ra.first], "db1");
    assert_string_equal(ok[ra.first + 1], "db2");
    char *spaced[] = {"prog", "--campaign", "q5", "--executors", "5", NULL};
    ra = (run_args){&c, &cmd, 5, spaced, 0};
    assert_int_equal(run_getopt(&ra), CFG_ARGS_OK);
    assert_string_equal(o.campaign, "q5");
    assert_int_equal(c.executors, 5);
    assert_int_equal(ra.first, 5);
    /* -- ends the options: what follows is an operand even if it looks like a flag */
    char *dashes[] = {"prog", "--json", "--", "--json", "-X", NULL};
    o.json = 0;
    ra = (run_args){&c, &cmd, 5, dashes, 0};
    assert_int_equal(run_getopt(&ra), CFG_ARGS_OK);
    assert_int_equal(o.json, 1);
    assert_int_equal(ra.argc - ra.first, 2);
    assert_string_equal(dashes[ra.first], "--json");
    /* unknown flag: exit 2 with one clear line */
    char *unknown[] = {"prog", "--frobnicate=1", NULL};
    ra = (run_args){&c, &cmd, 2, unknown, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    assert_non_null(strstr(captured, "prog: unknown option --frobnicate"));
    /* a flag of another binary is unknown here (the CLI has no Kafka flags) */
    cfg_cmd cli = {.prog = "fleetcrypt status", .bins = CFG_BIN_CLI};
    char *kafka[] = {"fleetcrypt", "--kafka-brokers", "b:9092", NULL};
    ra = (run_args){&c, &cli, 3, kafka, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    assert_non_null(strstr(captured, "unknown option --kafka-brokers"));
    char *xflag[] = {"fleetcrypt", "-X", "a=b", NULL};
    ra = (run_args){&c, &cli, 3, xflag, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    /* a missing value, a bad value */
    char *missing[] = {"prog", "--executors", NULL};
    ra = (run_args){&c, &cmd, 2, missing, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    assert_non_null(strstr(captured, "--executors needs a value"));
    char *bad[] = {"prog", "--executors=0", NULL};
    ra = (run_args){&c, &cmd, 2, bad, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    assert_non_null(strstr(captured, "--executors: expected an integer in [1, 256], got '0'"));
    /* --help and --version end the parse with exit 0 */
    char *help[] = {"prog", "--help", NULL};
    ra = (run_args){&c, &cmd, 2, help, 0};
    assert_int_equal(run_getopt(&ra), CFG_ARGS_EXIT_OK);
    char *version[] = {"prog", "--version", NULL};
    ra = (run_args){&c, &cmd, 2, version, 0};
    assert_int_equal(run_getopt(&ra), CFG_ARGS_EXIT_OK);
}

static void clear_env(void)
{
    static const char *const names[] = {"FLEETCRYPT_LEASE_MS", "FLEETCRYPT_AWS_RATE", "FLEETCRYPT_PG_SSLMODE",
                                        "FLEETCRYPT_STEP_DEADLINE_MAX_S", "FLEETCRYPT_TOPIC_PREFIX",
                                        "FLEETCRYPT_LIMIT_COPY", "FLEETCRYPT_LOG_LEVEL", NULL};
    for (int i = 0; names[i]; i++) unsetenv(names[i]);
}

static void test_table_validation(void **state)
{
    (void)state;
    fc_config c;
    char err[256];
    clear_env();
    /* every default of the table passes its own validation, for every binary */
    unsigned bins[] = {CFG_BIN_CLI, CFG_BIN_WORKER, CFG_BIN_COORDINATOR, CFG_BIN_KAFKA_DEV};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) assert_true(cfg_load(&c, bins[i], err, sizeof err));
    assert_int_equal(c.lease_ms, 30000);
    assert_int_equal(c.step_deadline_max_s, 0);
    assert_int_equal(cfg_redrive_deadline_s(&c), 1800);
    assert_true(c.aws_rate == 10.0);
    /* a bad value: refused by a binary that reads it, naming it and what was expected */
    setenv("FLEETCRYPT_LEASE_MS", "soon", 1);
    assert_false(cfg_load(&c, CFG_BIN_WORKER, err, sizeof err));
    assert_string_equal(err, "FLEETCRYPT_LEASE_MS: expected an integer in [1000, 3600000], got 'soon'");
    setenv("FLEETCRYPT_LEASE_MS", "999", 1);
    assert_false(cfg_load(&c, CFG_BIN_WORKER, err, sizeof err));
    /* ... and ignored by one that does not read it */
    assert_true(cfg_load(&c, CFG_BIN_COORDINATOR, err, sizeof err));
    assert_int_equal(c.lease_ms, 30000);
    setenv("FLEETCRYPT_LEASE_MS", "8000", 1);
    assert_true(cfg_load(&c, CFG_BIN_WORKER, err, sizeof err));
    assert_int_equal(c.lease_ms, 8000);
    /* numbers, enums (any case, canonical spelling back), names */
    setenv("FLEETCRYPT_AWS_RATE", "0.5", 1);
    setenv("FLEETCRYPT_PG_SSLMODE", "Verify-CA", 1);
    assert_true(cfg_load(&c, CFG_BIN_WORKER, err, sizeof err));
    assert_true(c.aws_rate == 0.5);
    assert_string_equal(cfg_env_str(CFG_PG_SSLMODE), "verify-ca");
    setenv("FLEETCRYPT_PG_SSLMODE", "verify-fully", 1);
    assert_false(cfg_load(&c, CFG_BIN_WORKER, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_PG_SSLMODE: expected one of disable, allow, prefer, require, verify-ca, "
                                "verify-full"));
    setenv("FLEETCRYPT_AWS_RATE", "0", 1);
    unsetenv("FLEETCRYPT_PG_SSLMODE");
    assert_false(cfg_load(&c, CFG_BIN_COORDINATOR, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_AWS_RATE: expected a number in [0.1, 10000]"));
    unsetenv("FLEETCRYPT_AWS_RATE");
    setenv("FLEETCRYPT_TOPIC_PREFIX", "bad prefix!", 1);
    assert_false(cfg_load(&c, CFG_BIN_KAFKA_DEV, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_TOPIC_PREFIX"));
    unsetenv("FLEETCRYPT_TOPIC_PREFIX");
    setenv("FLEETCRYPT_STEP_DEADLINE_MAX_S", "25", 1);
    assert_true(cfg_load(&c, CFG_BIN_CLI, err, sizeof err));
    assert_int_equal(cfg_redrive_deadline_s(&c), 25);
    /* library accessors: the value, else the table's default */
    assert_int_equal(cfg_find("FLEETCRYPT_LIMIT_COPY"), CFG_LIMIT_COPY);
    assert_int_equal(cfg_find("FLEETCRYPT_NO_SUCH"), -1);
    assert_int_equal(cfg_env_int(CFG_LIMIT_COPY), 20);
    setenv("FLEETCRYPT_LIMIT_COPY", "3", 1);
    assert_int_equal(cfg_env_int(CFG_LIMIT_COPY), 3);
    assert_null(cfg_env_str(CFG_LOG_LEVEL)); /* unset: the logger keeps its level */
    clear_env();
}

/* Secrets out of ps and the environment: every secret-bearing variable
 * (FLEETCRYPT_REDIS_URL, FLEETCRYPT_LIBRDKAFKA) is also read from the file
 * <NAME>_FILE names (one trailing newline dropped). Both set is an error,
 * as is a file that cannot be read; no message quotes the file's text. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_secret_files(void **state)
{
    (void)state;
    fc_config c;
    char err[512];
    char dir[] = "/tmp/fc-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128], kv[128], missing[128];
    snprintf(url, sizeof url, "%s/redis-url", dir);
    snprintf(kv, sizeof kv, "%s/librdkafka", dir);
    snprintf(missing, sizeof missing, "%s/nope", dir);
    unsetenv("FLEETCRYPT_REDIS_URL");
    unsetenv("FLEETCRYPT_LIBRDKAFKA");
    write_file(url, "redis://:s3cr3t-pw@127.0.0.1:6390/2\n");
    write_file(kv, "sasl.username=u,sasl.password=p4ss\n");
    setenv("FLEETCRYPT_REDIS_URL_FILE", url, 1);
    setenv("FLEETCRYPT_LIBRDKAFKA_FILE", kv, 1);
    assert_true(cfg_from_env(&c, err, sizeof err));
    assert_string_equal(c.redis_url, "redis://:s3cr3t-pw@127.0.0.1:6390/2");
    assert_int_equal(c.kafka_kv_count, 2);
    assert_string_equal(c.kafka_kv[1][0], "sasl.password");
    assert_string_equal(c.kafka_kv[1][1], "p4ss");
    assert_true(cfg_validate(&c, false, true, err, sizeof err));
    /* both: refused, naming both, quoting neither */
    setenv("FLEETCRYPT_REDIS_URL", "redis://:other-pw@127.0.0.1:6390", 1);
    assert_false(cfg_from_env(&c, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_REDIS_URL_FILE"));
    assert_null(strstr(err, "pw"));
    unsetenv("FLEETCRYPT_REDIS_URL");
    /* a file that is not there: the variable and the path, nothing else */
    setenv("FLEETCRYPT_REDIS_URL_FILE", missing, 1);
    assert_false(cfg_from_env(&c, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_REDIS_URL_FILE"));
    assert_non_null(strstr(err, missing));
    /* a bad setting in the file: named, its value not quoted */
    setenv("FLEETCRYPT_REDIS_URL_FILE", url, 1);
    write_file(kv, "=p4ss\n");
    assert_false(cfg_from_env(&c, err, sizeof err));
    assert_non_null(strstr(err, "FLEETCRYPT_LIBRDKAFKA"));
    assert_null(strstr(err, "p4ss"));
    /* an empty _FILE counts as unset, like every variable */
    setenv("FLEETCRYPT_LIBRDKAFKA_FILE", "", 1);
    assert_true(cfg_from_env(&c, err, sizeof err));
    assert_int_equal(c.kafka_kv_count, 0);
    unsetenv("FLEETCRYPT_REDIS_URL_FILE");
    unsetenv("FLEETCRYPT_LIBRDKAFKA_FILE");
    /* given as flags anyway: used, then overwritten in argv (what ps shows) */
    char a0[] = "prog", a1[] = "--redis-url=redis://:s3cr3t-pw@127.0.0.1:6390", a2[] = "-X",
         a3[] = "sasl.password=p4ss", a4[] = "-X", a5[] = "acks=all";
    char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};
    assert_true(cfg_load(&c, CFG_BIN_WORKER, err, sizeof err));
    const cfg_cmd cmd = {.prog = "prog", .bins = CFG_BIN_WORKER};
    int first = 0;
    assert_int_equal(cfg_getopt(&c, &cmd, 6, argv, &first), CFG_ARGS_OK);
    assert_string_equal(c.redis_url, "redis://:s3cr3t-pw@127.0.0.1:6390");
    assert_string_equal(c.kafka_kv[0][1], "p4ss");
    assert_string_equal(a1, "--redis-url=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_string_equal(a3, "sasl.password=xxxx");
    assert_string_equal(a5, "acks=all"); /* not a secret: left as given */
    unlink(url);
    unlink(kv);
    rmdir(dir);
}

/* librdkafka pass-through as kcat takes it: a -X value keeps its commas;
 * -F FILE and FLEETCRYPT_LIBRDKAFKA_CONFIG read a properties file (one
 * key=value a line, '#' comments, blank lines; commas kept), applied in
 * order: the file of the variable, FLEETCRYPT_LIBRDKAFKA, then -F and -X as
 * given. A bad line names the file and line, never the value. */
static void test_kafka_passthrough_like_kcat(void **state)
{
    (void)state;
    fc_config c;
    char err[512];
    char dir[] = "/tmp/fc-kcfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char props[128], bad[128];
    snprintf(props, sizeof props, "%s/client.properties", dir);
    snprintf(bad, sizeof bad, "%s/bad.properties", dir);
    write_file(props, "# the cluster's client settings\n\nsecurity.protocol = SASL_SSL\n"
                      "ssl.cipher.suites=ECDHE-RSA-AES128-GCM-SHA256,ECDHE-RSA-AES256-GCM-SHA384\n"
                      "sasl.password=pa,ss=word\n");
    write_file(bad, "acks=all\nthis line has no equals sign-s3cr3t\n");
    unsetenv("FLEETCRYPT_LIBRDKAFKA_FILE");
    setenv("FLEETCRYPT_LIBRDKAFKA", "linger.ms=5", 1);
    setenv("FLEETCRYPT_LIBRDKAFKA_CONFIG", props, 1);
    assert_true(cfg_from_env(&c, err, sizeof err));
    assert_int_equal(c.kafka_kv_count, 4);
    assert_string_equal(c.kafka_kv[0][0], "security.protocol");
    assert_string_equal(c.kafka_kv[0][1], "SASL_SSL");
    assert_string_equal(c.kafka_kv[1][1], "ECDHE-RSA-AES128-GCM-SHA256,ECDHE-RSA-AES256-GCM-SHA384");
    assert_string_equal(c.kafka_kv[2][0], "sasl.password");
    assert_string_equal(c.kafka_kv[2][1], "pa,ss=word");
    assert_string_equal(c.kafka_kv[3][0], "linger.ms");
    unsetenv("FLEETCRYPT_LIBRDKAFKA_CONFIG");
    unsetenv("FLEETCRYPT_LIBRDKAFKA");

    /* on the command line: -X keeps commas, -F reads the same file format */
    assert_true(cfg_from_env(&c, err, sizeof err));
    cfg_cmd cmd = {.prog = "prog", .bins = CFG_BIN_WORKER};
    char *argv[] = {"prog", "-X", "bootstrap.servers=b1:9093,b2:9093", "-F", props, "-X", "acks=1", NULL};
    run_args ra = {&c, &cmd, 7, argv, 0};
    assert_int_equal(run_getopt(&ra), CFG_ARGS_OK);
    assert_int_equal(c.kafka_kv_count, 5);
    assert_string_equal(c.kafka_kv[0][1], "b1:9093,b2:9093");
    assert_string_equal(c.kafka_kv[3][1], "pa,ss=word");
    assert_string_equal(c.kafka_kv[4][0], "acks");

    /* a bad line: the file and the line, never its text */
    assert_true(cfg_from_env(&c, err, sizeof err));
    char *badv[] = {"prog", "-F", bad, NULL};
    ra = (run_args){&c, &cmd, 3, badv, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    assert_non_null(strstr(captured, "bad.properties:2"));
    assert_null(strstr(captured, "s3cr3t"));
    setenv("FLEETCRYPT_LIBRDKAFKA_CONFIG", bad, 1);
    assert_false(cfg_from_env(&c, err, sizeof err));
    assert_non_null(strstr(err, "bad.properties:2"));
    assert_null(strstr(err, "s3cr3t"));
    /* a file that is not there */
    char *missing[] = {"prog", "-F", "/nonexistent/kafka.properties", NULL};
    unsetenv("FLEETCRYPT_LIBRDKAFKA_CONFIG");
    assert_true(cfg_from_env(&c, err, sizeof err));
    ra = (run_args){&c, &cmd, 3, missing, 0};
    assert_int_equal(capture_stderr(run_getopt, &ra), CFG_ARGS_BAD);
    assert_non_null(strstr(captured, "/nonexistent/kafka.properties"));
    unlink(props);
    unlink(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_env_flags),
        cmocka_unit_test(test_validate_requires),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_describe_masks_password),
        cmocka_unit_test(test_parse_args),
        cmocka_unit_test(test_table_validation),
        cmocka_unit_test(test_secret_files),
        cmocka_unit_test(test_redis_tls_addr),
        cmocka_unit_test(test_kafka_passthrough_like_kcat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
