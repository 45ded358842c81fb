/* fuzz_awsjson — libFuzzer target for the JSON 1.1 parser and __type decoder. */
#include <stddef.h>
#include <stdint.h>

#include "awsjson.h"

/* Compile the parser into this translation unit so it gets libFuzzer's
 * coverage instrumentation (fleetcrypt_core is built without it); the
 * archive's copy is then never pulled in by the linker. */
#include "../../lib/awsjson.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    aws_error err;
    if (aws_json_parse((const char *)data, size, NULL, &j, &err)) {
        char buf[64];
        int64_t v;
        aws_json_str(j, "KeyId", buf, sizeof(buf));
        aws_json_int64(j, "Size", &v);
        json_decref(j);
    }
    aws_json_parse_error((const char *)data, size, &err);
    return 0;
}
