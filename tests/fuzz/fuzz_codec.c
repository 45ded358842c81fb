/* fuzz_codec — libFuzzer target: any bytes on the steps topic must decode to
 * a valid message or be refused with a reason; never crash, leak or read out
 * of bounds. A decoded message must survive re-encoding unchanged. */
#include "codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fc_step_msg m, back;
    char err[256];
    if (codec_decode_step(data, size, &m, err, sizeof err)) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (!codec_encode_step(&m, &buf, &len, err, sizeof err)) abort();
        if (!codec_decode_step(buf, len, &back, err, sizeof err)) abort();
        if (memcmp(&m, &back, sizeof m) != 0) abort();
        free(buf);
    } else if (err[0] == 0) {
        abort(); /* a refusal must carry a reason for the dead-letter topic */
    }
    fc_step_event e;
    (void)codec_decode_event(data, size, &e, err, sizeof err);
    fc_dead_letter d;
    void *arena = NULL;
    if (codec_decode_dead_letter(data, size, &d, &arena, err, sizeof err)) codec_dead_letter_free(arena);
    return 0;
}
