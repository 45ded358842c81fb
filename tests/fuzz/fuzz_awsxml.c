/* fuzz_awsxml — libFuzzer target for the Query/XML parser and error decoder:
 * any bytes parse or are refused with an error code; never a crash. */
#include <stddef.h>
#include <stdint.h>

#include "awsxml.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aws_xml *x = NULL;
    aws_error err;
    aws_error_clear(&err);
    if (!aws_xml_parse((const char *)data, size, NULL, &x, &err)) {
        if (!err.code[0]) abort(); /* a refusal always names its reason */
    } else {
        const aws_xml_node *r = aws_xml_root(x);
        char buf[64];
        int64_t v;
        for (const aws_xml_node *n = aws_xml_child(r, NULL); n; n = aws_xml_next(n)) {
            aws_xml_text(n, NULL, buf, sizeof(buf));
            aws_xml_int64(n, "DBInstances/DBInstance/AllocatedStorage", &v);
        }
        aws_xml_free_secure(x);
    }
    aws_xml_parse_error((const char *)data, size, &err);
    return 0;
}
