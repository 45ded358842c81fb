/* test_cfg — env → flags → validation, Redis URL parsing, and that the one
 * place config is printed masks the Redis password. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfg.h"

#include <stdlib.h>
#include <string.h>

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
    assert_true(cfg_apply_flag(&c, "topic-prefix", "bad prefix!", &known, err, sizeof err));
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

static void test_parse_args(void **state)
{
    (void)state;
    fc_config c;
    char err[256];
    assert_true(cfg_from_env(&c, err, sizeof err));
    char *ok[] = {"prog", "--executors", "4", "-X", "acks=all", "--topic-prefix", "t2", NULL};
    assert_int_equal(cfg_parse_args(&c, 7, ok, "prog", "usage\n"), CFG_ARGS_OK);
    assert_int_equal(c.executors, 4);
    assert_string_equal(c.topic_prefix, "t2");
    assert_int_equal(c.kafka_kv_count > 0, 1);
    char *help[] = {"prog", "--help", NULL};
    assert_int_equal(cfg_parse_args(&c, 2, help, "prog", ""), CFG_ARGS_EXIT_OK);
    char *missing[] = {"prog", "--executors", NULL};
    assert_int_equal(cfg_parse_args(&c, 2, missing, "prog", ""), CFG_ARGS_BAD);
    char *unknown[] = {"prog", "--frobnicate", "1", NULL};
    assert_int_equal(cfg_parse_args(&c, 3, unknown, "prog", ""), CFG_ARGS_BAD);
    char *positional[] = {"prog", "stray", "x", NULL};
    assert_int_equal(cfg_parse_args(&c, 3, positional, "prog", ""), CFG_ARGS_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_env_flags),
        cmocka_unit_test(test_validate_requires),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_describe_masks_password),
        cmocka_unit_test(test_parse_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
