/* fuzz_awsxml — libFuzzer target for the Query/XML parser and error decoder,
 * and the typed RDS element parsers on what it accepts (DBInstance,
 * DBCluster with its members, DBClusterSnapshot, in lists or alone): any
 * bytes parse or are refused with an error code; never a crash, and what a
 * parser fills stays terminated (ASan sees overruns and leaks). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "rds_int.h"

static void parse_rds(const aws_xml_node *r)
{
    for (const aws_xml_node *n = aws_xml_find(r, "DBInstances/DBInstance"); n; n = aws_xml_next_same(n)) {
        rds_instance i;
        memset(&i, 0, sizeof(i));
        if (rds_instance_parse(n, &i) && strlen(i.identifier) >= sizeof(i.identifier)) abort();
        rds_instance_clear(&i);
    }
    const aws_xml_node *one = aws_xml_child(r, "DBCluster");
    for (const aws_xml_node *n = one ? one : aws_xml_find(r, "DBClusters/DBCluster"); n; n = aws_xml_next_same(n)) {
        rds_cluster c;
        memset(&c, 0, sizeof(c));
        if (rds_cluster_parse(n, &c)) {
            for (size_t k = 0; k < c.n_members; k++)
                if (strlen(c.members[k].instance_id) >= sizeof(c.members[k].instance_id)) abort();
            (void)rds_cluster_writer(&c);
        }
        rds_cluster_clear(&c);
    }
    one = aws_xml_child(r, "DBClusterSnapshot");
    for (const aws_xml_node *n = one ? one : aws_xml_find(r, "DBClusterSnapshots/DBClusterSnapshot"); n;
         n = aws_xml_next_same(n)) {
        rds_cluster_snapshot s;
        memset(&s, 0, sizeof(s));
        (void)rds_cluster_snapshot_parse(n, &s);
        free(s.tags);
    }
}

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
            parse_rds(n);
        }
        aws_xml_free_secure(x);
    }
    aws_xml_parse_error((const char *)data, size, &err);
    return 0;
}
