/* fuzz_awsxml — libFuzzer target for the Query/XML parser and error decoder. */
#include <stddef.h>
#include <stdint.h>

#include "awsxml.h"

/* Compile the parser into this translation unit so it gets libFuzzer's
 * coverage instrumentation (fleetcrypt_core is built without it); the
 * archive's copy is then never pulled in by the linker. */
#include "../../lib/awsxml.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aws_xml *x = NULL;
    aws_error err;
    if (aws_xml_parse((const char *)data, size, NULL, &x, &err)) {
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
