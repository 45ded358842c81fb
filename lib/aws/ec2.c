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

/* A group's ipPermissions (inbound rules). */
static void parse_ingress(const aws_xml_node *sg, ec2_sg *g)
{
    for (const aws_xml_node *p = aws_xml_find(sg, "ipPermissions/item"); p && g->n_ingress < EC2_MAX_PERMS;
         p = aws_xml_next_same(p)) {
        ec2_perm *r = &g->ingress[g->n_ingress++];
        aws_xml_text(p, "ipProtocol", r->proto, sizeof r->proto);
        int64_t v = -1;
        r->from = aws_xml_int64(p, "fromPort", &v) ? (int)v : -1;
        v = -1;
        r->to = aws_xml_int64(p, "toPort", &v) ? (int)v : -1;
        for (const aws_xml_node *c = aws_xml_find(p, "ipRanges/item"); c && r->n_cidrs < EC2_MAX_PEERS;
             c = aws_xml_next_same(c))
            if (aws_xml_text(c, "cidrIp", r->cidrs[r->n_cidrs], sizeof r->cidrs[0])) r->n_cidrs++;
        for (const aws_xml_node *c = aws_xml_find(p, "groups/item"); c && r->n_groups < EC2_MAX_PEERS;
             c = aws_xml_next_same(c)) {
            if (!aws_xml_text(c, "groupId", r->groups[r->n_groups], sizeof r->groups[0])) continue;
            aws_xml_text(c, "userId", r->group_owners[r->n_groups], sizeof r->group_owners[0]);
            r->n_groups++;
        }
    }
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
        parse_ingress(it, g);
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

void ec2_subnet_list_free(ec2_subnet_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

bool ec2_describe_subnets(aws_client *c, const char *const *ids, size_t nids, ec2_subnet_list **out,
                          aws_error *err)
{
    *out = NULL;
    aws_query q;
    aws_query_init(&q, "DescribeSubnets", EC2_VERSION);
    aws_query_add_list(&q, "SubnetId", ids, nids);
    aws_xml *x = NULL;
    bool called = aws_query_call(c, AWS_SVC_EC2, "DescribeSubnets", &q, &x, err);
    aws_query_free(&q);
    if (!called) return false;
    ec2_subnet_list *l = calloc(1, sizeof *l);
    size_t n = 0;
    for (const aws_xml_node *it = aws_xml_find(aws_xml_root(x), "subnetSet/item"); it; it = aws_xml_next_same(it)) n++;
    if (l && n) l->v = calloc(n, sizeof *l->v);
    bool ok = l && (!n || l->v);
    for (const aws_xml_node *it = ok ? aws_xml_find(aws_xml_root(x), "subnetSet/item") : NULL; it && l->n < n;
         it = aws_xml_next_same(it)) {
        ec2_subnet *s = &l->v[l->n++];
        aws_xml_text(it, "subnetId", s->id, sizeof s->id);
        aws_xml_text(it, "cidrBlock", s->cidr, sizeof s->cidr);
    }
    aws_xml_free(x);
    if (!ok) {
        ec2_subnet_list_free(l);
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
        return false;
    }
    *out = l;
    return true;
}
