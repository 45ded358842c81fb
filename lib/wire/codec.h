/* codec — the only module that sees protobuf-c types. Encodes and decodes
 * fleetcrypt's Kafka messages to plain C structs and validates every field
 * that crosses the process boundary (lengths, charset, known version). */
#ifndef FC_CODEC_H
#define FC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_SCHEMA_VERSION 1u
#define FC_MAX_MSG_BYTES (64 * 1024)

typedef struct fc_step_msg {
    uint32_t schema_version;
    char campaign[48];
    char instance[72];
    char strategy[32];
    char step[48];
    uint32_t attempt;
    uint64_t epoch;
    int64_t issued_at_ms;
    char origin[16];
    char trace_id[40];
} fc_step_msg;

typedef struct fc_step_event {
    uint32_t schema_version;
    char campaign[48];
    char instance[72];
    char strategy[32];
    char step[48];
    uint32_t attempt;
    uint64_t epoch;
    char outcome[16];
    char from_state[24];
    char to_state[24];
    char next_step[48];
    char reason[512];
    int64_t ts_ms;
    int64_t duration_ms;
    char node[96];
} fc_step_event;

typedef struct fc_dead_letter {
    char reason[512];
    char source_topic[128];
    int32_t source_partition;
    int64_t source_offset;
    const void *source_key; /* borrowed */
    size_t source_key_len;
    const void *payload;    /* borrowed */
    size_t payload_len;
    int64_t ts_ms;
    char node[96];
} fc_dead_letter;

/* Encoders allocate *out (caller frees with free()). They validate the
 * struct first: an invalid message is never produced. */
bool codec_encode_step(const fc_step_msg *m, uint8_t **out, size_t *len, char *err, size_t errcap);
bool codec_encode_event(const fc_step_event *e, uint8_t **out, size_t *len, char *err, size_t errcap);
bool codec_encode_dead_letter(const fc_dead_letter *d, uint8_t **out, size_t *len, char *err, size_t errcap);

/* Decode and validate a step command. On failure err holds the reason that
 * goes to the dead-letter topic. */
bool codec_decode_step(const void *buf, size_t len, fc_step_msg *m, char *err, size_t errcap);
bool codec_decode_event(const void *buf, size_t len, fc_step_event *e, char *err, size_t errcap);
/* Decodes a dead letter; payload/key point into *arena which the caller
 * frees with codec_dead_letter_free(). */
bool codec_decode_dead_letter(const void *buf, size_t len, fc_dead_letter *d, void **arena, char *err, size_t errcap);
void codec_dead_letter_free(void *arena);

/* Validation shared by producers and consumers. */
bool codec_validate_step(const fc_step_msg *m, char *err, size_t errcap);
/* "<campaign>/<instance>": the partition key of every instance message. */
void codec_instance_key(const char *campaign, const char *instance, char *out, size_t cap);

#endif
