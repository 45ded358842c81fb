/* test_kafka_conf — the producer's effective librdkafka configuration:
 * fleetcrypt's durability settings (enable.idempotence=true, acks=all,
 * linger.ms 2) are defaults, never laid over what the operator set
 * (FLEETCRYPT_LIBRDKAFKA, -X, -F), under either of librdkafka's names for a
 * setting; idempotence stays off by default when the operator's acks cannot
 * carry it. No broker is needed: the producer is created and read back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfg.h"
#include "kafka.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kafka_producer *producer(const char *const *kv)
{
    fc_config c;
    char err[256];
    unsetenv("FLEETCRYPT_LIBRDKAFKA");
    unsetenv("FLEETCRYPT_LIBRDKAFKA_FILE");
    unsetenv("FLEETCRYPT_LIBRDKAFKA_CONFIG");
    assert_true(cfg_from_env(&c, err, sizeof err));
    fc_strlcpy(c.kafka_brokers, "127.0.0.1:1", sizeof c.kafka_brokers);
    for (; kv && *kv; kv++) assert_true(cfg_add_kafka_kv(&c, *kv, err, sizeof err));
    kafka_producer *p = kafka_producer_new(&c, "test", err, sizeof err);
    if (!p) fail_msg("kafka_producer_new: %s", err);
    return p;
}

static const char *get(kafka_producer *p, const char *name)
{
    static char v[128];
    assert_true(kafka_producer_conf_get(p, name, v, sizeof v));
    return v;
}

static void test_defaults(void **state)
{
    (void)state;
    kafka_producer *p = producer(NULL);
    assert_string_equal(get(p, "enable.idempotence"), "true");
    assert_string_equal(get(p, "acks"), "-1"); /* all */
    assert_string_equal(get(p, "linger.ms"), "2");
    kafka_producer_free(p, 0);
}

static void test_operator_wins(void **state)
{
    (void)state;
    const char *const a[] = {"acks=1", "linger.ms=50", NULL};
    kafka_producer *p = producer(a);
    assert_string_equal(get(p, "acks"), "1");
    assert_string_equal(get(p, "enable.idempotence"), "false"); /* acks=1 cannot carry it */
    assert_string_equal(get(p, "linger.ms"), "50");
    kafka_producer_free(p, 0);

    const char *const b[] = {"enable.idempotence=false", NULL};
    p = producer(b);
    assert_string_equal(get(p, "enable.idempotence"), "false");
    assert_string_equal(get(p, "acks"), "-1");
    kafka_producer_free(p, 0);

    /* librdkafka's other names for the same settings */
    const char *const c[] = {"request.required.acks=0", "queue.buffering.max.ms=20", NULL};
    p = producer(c);
    assert_string_equal(get(p, "acks"), "0");
    assert_string_equal(get(p, "linger.ms"), "20");
    assert_string_equal(get(p, "enable.idempotence"), "false");
    kafka_producer_free(p, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_operator_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
