/* fuzz_awsjson — libFuzzer target for the JSON 1.1 parser and __type decoder:
 * any bytes parse or are refused with an error code; never a crash. */
#include <stddef.h>
#include <stdint.h>

#include "awsjson.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    aws_error err;
    aws_error_clear(&err);
    if (!aws_json_parse((const char *)data, size, NULL, &j, &err)) {
        if (!err.code[0]) abort(); /* a refusal always names its reason */
    } else {
        char buf[64];
        int64_t v;
        aws_json_str(j, "KeyId", buf, sizeof(buf));
        aws_json_int64(j, "Size", &v);
        json_decref(j);
    }
    aws_json_parse_error((const char *)data, size, &err);
    return 0;
}
