/* test_codec — the wire codec round-trips every field, rejects what must
 * never be processed (garbage, newer schema, bad ids) with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec.h"

#include <stdlib.h>
#include <string.h>

static fc_step_msg sample(void)
{
    fc_step_msg m;
    memset(&m, 0, sizeof m);
    m.schema_version = FC_SCHEMA_VERSION;
    strcpy(m.campaign, "c1"); /* test-only; banned-function check covers product code */
    strcpy(m.instance, "db-1");
    strcpy(m.strategy, "offline");
    strcpy(m.step, "copy-encrypted");
    m.attempt = 3;
    m.epoch = 1700000000123456ULL;
    m.issued_at_ms = 1700000000123;
    strcpy(m.origin, "timer");
    strcpy(m.trace_id, "abc123");
    return m;
}

static void test_step_roundtrip(void **state)
{
    (void)state;
    fc_step_msg m = sample(), back;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_true(codec_encode_step(&m, &buf, &len, err, sizeof err));
    assert_true(len > 0);
    assert_true(codec_decode_step(buf, len, &back, err, sizeof err));
    assert_memory_equal(&m, &back, sizeof m);
    free(buf);
}

/* Table of messages that must be refused, and the words the reason must
 * contain (the reason goes to the dead-letter topic). */
static void test_step_rejects(void **state)
{
    (void)state;
    struct {
        const char *field;
        const char *value;
        const char *reason;
    } bad[] = {
        {"campaign", "Bad Campaign", "campaign"},
        {"instance", "1starts-with-digit", "instance"},
        {"instance", "a--b", "instance"},
        {"step", "Copy Encrypted", "step"},
        {"campaign", "", "campaign"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fc_step_msg m = sample();
        char *dst = !strcmp(bad[i].field, "campaign") ? m.campaign
                    : !strcmp(bad[i].field, "instance") ? m.instance : m.step;
        strcpy(dst, bad[i].value);
        uint8_t *buf = NULL;
        size_t len = 0;
        char err[256] = "";
        assert_false(codec_encode_step(&m, &buf, &len, err, sizeof err));
        if (!strstr(err, bad[i].reason)) fail_msg("case %zu: expected reason with '%s', got '%s'", i, bad[i].reason, err);
    }
}

static void test_newer_schema_is_refused_by_decoder(void **state)
{
    (void)state;
    /* Encode a valid message, then patch the version varint (field 1, first
     * byte pair 0x08 0x01) to 0x08 0x07: a message from a newer schema. */
    fc_step_msg m = sample(), back;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_true(codec_encode_step(&m, &buf, &len, err, sizeof err));
    assert_int_equal(buf[0], 0x08);
    assert_int_equal(buf[1], 0x01);
    buf[1] = 0x07;
    assert_false(codec_decode_step(buf, len, &back, err, sizeof err));
    assert_non_null(strstr(err, "unsupported schema_version 7"));
    free(buf);
}

static void test_garbage_is_refused(void **state)
{
    (void)state;
    fc_step_msg back;
    char err[256] = "";
    const char *inputs[] = {"", "hello world, not protobuf", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                            "\x0a\x05\x61"};
    size_t lens[] = {0, 25, 11, 4};
    for (size_t i = 0; i < 4; i++) {
        err[0] = 0;
        assert_false(codec_decode_step(inputs[i], lens[i], &back, err, sizeof err));
        assert_true(err[0] != 0);
    }
    /* Every prefix of a valid message but the whole one is refused or
     * decodes to something that fails validation; none may crash. */
    fc_step_msg m = sample();
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_true(codec_encode_step(&m, &buf, &len, err, sizeof err));
    for (size_t n = 0; n < len; n++) {
        bool ok = codec_decode_step(buf, n, &back, err, sizeof err);
        if (ok) assert_memory_not_equal(&back, &m, sizeof m);
    }
    free(buf);
}

static void test_control_chars_refused(void **state)
{
    (void)state;
    /* Hand-built protobuf: version=1, campaign="c\n1". */
    const uint8_t raw[] = {0x08, 0x01, 0x12, 0x03, 'c', '\n', '1'};
    fc_step_msg back;
    char err[256] = "";
    assert_false(codec_decode_step(raw, sizeof raw, &back, err, sizeof err));
    assert_non_null(strstr(err, "control character"));
}

static void test_event_and_dead_letter_roundtrip(void **state)
{
    (void)state;
    fc_step_event e;
    memset(&e, 0, sizeof e);
    strcpy(e.campaign, "c1");
    strcpy(e.instance, "db-1");
    strcpy(e.step, "restore");
    strcpy(e.outcome, "ok");
    strcpy(e.reason, "restored in 12 s");
    e.attempt = 1;
    e.epoch = 9;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_true(codec_encode_event(&e, &buf, &len, err, sizeof err));
    fc_step_event back;
    assert_true(codec_decode_event(buf, len, &back, err, sizeof err));
    assert_string_equal(back.reason, "restored in 12 s");
    assert_int_equal(back.schema_version, FC_SCHEMA_VERSION);
    free(buf);

    const char payload[] = "\x00\x01garbage\xff";
    fc_dead_letter d;
    memset(&d, 0, sizeof d);
    strcpy(d.reason, "not a valid StepCommand protobuf");
    strcpy(d.source_topic, "fleetcrypt.steps");
    d.source_partition = 4;
    d.source_offset = 77;
    d.payload = payload;
    d.payload_len = sizeof payload - 1;
    assert_true(codec_encode_dead_letter(&d, &buf, &len, err, sizeof err));
    fc_dead_letter dback;
    void *arena = NULL;
    assert_true(codec_decode_dead_letter(buf, len, &dback, &arena, err, sizeof err));
    assert_int_equal(dback.payload_len, sizeof payload - 1);
    assert_memory_equal(dback.payload, payload, sizeof payload - 1);
    assert_int_equal(dback.source_offset, 77);
    assert_string_equal(dback.reason, d.reason);
    codec_dead_letter_free(arena);
    free(buf);
}

/* A dead letter keeps what it carries: no FC_MAX_MSG_BYTES cap on it. */
static void test_dead_letter_is_not_capped(void **state)
{
    (void)state;
    size_t big = 2 * FC_MAX_MSG_BYTES;
    char *payload = calloc(1, big);
    assert_non_null(payload);
    fc_dead_letter d;
    memset(&d, 0, sizeof d);
    strcpy(d.reason, "too large");
    d.payload = payload;
    d.payload_len = big;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_true(codec_encode_dead_letter(&d, &buf, &len, err, sizeof err));
    assert_true(len > big);
    fc_dead_letter back;
    void *arena = NULL;
    assert_true(codec_decode_dead_letter(buf, len, &back, &arena, err, sizeof err));
    assert_int_equal(back.payload_len, big);
    codec_dead_letter_free(arena);
    free(buf);
    free(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_roundtrip),
        cmocka_unit_test(test_step_rejects),
        cmocka_unit_test(test_newer_schema_is_refused_by_decoder),
        cmocka_unit_test(test_garbage_is_refused),
        cmocka_unit_test(test_control_chars_refused),
        cmocka_unit_test(test_event_and_dead_letter_roundtrip),
        cmocka_unit_test(test_dead_letter_is_not_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
