/* ec2 — see ec2.h. */
#include "ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "util.h"

#define EC2_VERSION "2016-11-15"

void ec2_sg_list_free(ec2_sg_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

bool ec2_describe_security_groups(aws_client *c, const char *const *ids, size_t nids, const char *const *names,
                                  size_t nnames, ec2_sg_list **out, aws_error *err)
{
    *out = NULL;
    aws_query q;
    aws_query_init(&q, "DescribeSecurityGroups", EC2_VERSION);
    if (ids) {
        aws_query_add_list(&q, "GroupId", ids, nids);
    } else {
        aws_query_add(&q, "Filter.1.Name", "group-name");
        aws_query_add_list(&q, "Filter.1.Value", names, nnames);
    }
    aws_xml *x = NULL;
    if (!aws_query_call(c, AWS_SVC_EC2, "DescribeSecurityGroups", &q, &x, err)) {
        aws_query_free(&q);
        return false;
    }
    aws_query_free(&q);
    ec2_sg_list *l = calloc(1, sizeof *l);
    size_t cap = 0;
    bool ok = l != NULL;
    for (const aws_xml_node *it = ok ? aws_xml_find(aws_xml_root(x), "securityGroupInfo/item") : NULL; it && ok;
         it = aws_xml_next_same(it)) {
        if (l->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            ec2_sg *nv = realloc(l->v, nc * sizeof *nv);
            if (!nv) {
                ok = false;
                break;
            }
            l->v = nv;
            cap = nc;
        }
        ec2_sg *g = &l->v[l->n++];
        memset(g, 0, sizeof *g);
        aws_xml_text(it, "groupId", g->id, sizeof g->id);
        aws_xml_text(it, "groupName", g->name, sizeof g->name);
        aws_xml_text(it, "vpcId", g->vpc, sizeof g->vpc);
    }
    aws_xml_free(x);
    if (!ok) {
        ec2_sg_list_free(l);
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    *out = l;
    return true;
}
