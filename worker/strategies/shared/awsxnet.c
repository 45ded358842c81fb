/* awsxnet — see awsxnet.h. */
#include "awsxnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rds.h"
#include "util.h"

/* a.b.c.d/len → network and prefix length. */
static bool parse_cidr(const char *s, uint32_t *net, int *len)
{
    unsigned a, b, c, d;
    int l = -1;
    char tail;
    if (sscanf(s, "%u.%u.%u.%u/%d%c", &a, &b, &c, &d, &l, &tail) != 5) return false;
    if (a > 255 || b > 255 || c > 255 || d > 255 || l < 0 || l > 32) return false;
    uint32_t mask = l ? 0xffffffffu << (32 - l) : 0;
    *net = ((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d) & mask;
    *len = l;
    return true;
}

bool awsxnet_cidr_within(const char *inner, const char *outer)
{
    uint32_t in, out;
    int il, ol;
    if (!parse_cidr(inner, &in, &il) || !parse_cidr(outer, &out, &ol) || il < ol) return false;
    uint32_t mask = ol ? 0xffffffffu << (32 - ol) : 0;
    return (in & mask) == out;
}

static bool rule_covers_port(const ec2_perm *r, int port)
{
    if (!strcmp(r->proto, "-1")) return true;
    if (strcmp(r->proto, "tcp") && strcmp(r->proto, "6")) return false;
    return r->from <= port && port <= r->to;
}

bool awsxnet_admits(const ec2_sg *src, size_t n, const char *cidr, const char *const *tsgs, size_t ntsg,
                    const char *tacct, int port)
{
    for (size_t g = 0; g < n; g++)
        for (size_t k = 0; k < src[g].n_ingress; k++) {
            const ec2_perm *r = &src[g].ingress[k];
            if (!rule_covers_port(r, port)) continue;
            for (size_t c = 0; c < r->n_cidrs; c++)
                if (awsxnet_cidr_within(cidr, r->cidrs[c])) return true;
            for (size_t p = 0; p < r->n_groups; p++)
                for (size_t t = 0; t < ntsg; t++)
                    if (!strcmp(r->groups[p], tsgs[t]) && (!r->group_owners[p][0] || !strcmp(r->group_owners[p], tacct)))
                        return true;
        }
    return false;
}

/* The target's security groups: the campaign's target_security_groups, else fact target_sgs ("a,b"). */
static size_t target_groups(step_ctx *ctx, char *buf, size_t cap, const char **v, size_t vcap)
{
    const char *sgs = step_ctx_opt(ctx, "target_security_groups");
    if (!*sgs) sgs = step_ctx_fact(ctx, "target_sgs");
    fc_strlcpy(buf, sgs ? sgs : "", cap);
    size_t n = 0;
    char *save = NULL;
    for (char *sg = strtok_r(buf, ",", &save); sg && n < vcap; sg = strtok_r(NULL, ",", &save)) v[n++] = sg;
    return n;
}

/* The target account's subnets of the DB subnet group named like the source's. */
static step_rc target_subnets(step_result *res, aws_client *tc, const char *group, ec2_subnet_list **out)
{
    rds_subnet_ids ids;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_db_subnet_group_subnets(tc, group, &ids, &e))
        return awsstep_fail(res, &e, "DescribeDBSubnetGroups (target account)");
    const char *v[RDS_MAX_SUBNETS];
    for (size_t k = 0; k < ids.n; k++) v[k] = ids.ids[k];
    aws_error_clear(&e);
    if (!ec2_describe_subnets(tc, v, ids.n, out, &e)) return awsstep_fail(res, &e, "DescribeSubnets (target account)");
    return STEP_OK;
}

step_rc awsxnet_preflight(step_ctx *ctx, step_result *res, const char *subnet_group, char (*sg_ids)[32],
                          size_t nsg, int port)
{
    if (!step_ctx_cross_account(ctx) || !nsg) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx), *tc = step_ctx_aws_target(ctx);
    if (!c || !tc) return NO_CLIENT(res);
    const char *tacct = step_ctx_fact(ctx, "target_account");
    const char *group = subnet_group && *subnet_group ? subnet_group : "default";
    ec2_subnet_list *subs = NULL;
    ec2_sg_list *src = NULL;
    step_rc rc = target_subnets(res, tc, group, &subs);
    if (rc != STEP_OK) goto cleanup;
    const char *ids[16];
    size_t n = nsg < 16 ? nsg : 16;
    for (size_t k = 0; k < n; k++) ids[k] = sg_ids[k];
    aws_error e;
    aws_error_clear(&e);
    if (!ec2_describe_security_groups(c, ids, n, NULL, 0, &src, &e)) {
        rc = awsstep_fail(res, &e, "DescribeSecurityGroups (source account)");
        goto cleanup;
    }
    char tbuf[512];
    const char *tsgs[16];
    size_t ntsg = target_groups(ctx, tbuf, sizeof tbuf, tsgs, 16);
    for (size_t k = 0; k < subs->n; k++) {
        if (awsxnet_admits(src->v, src->n, subs->v[k].cidr, tsgs, ntsg, tacct ? tacct : "", port)) continue;
        char names[256] = "";
        size_t len = 0;
        for (size_t g = 0; g < n && len < sizeof names; g++)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", g ? "," : "", ids[g]);
        snprintf(res->reason, sizeof res->reason,
                 "the network path target -> source is not open: the source's security groups (%s) do not admit "
                 "the target account %s's subnet %s (%s, DB subnet group %s there) on port %d: add an inbound rule "
                 "TCP %d from %s%s%s (and route the VPCs to each other: peering or a Transit Gateway)",
                 names, tacct ? tacct : "?", subs->v[k].id, subs->v[k].cidr, group, port, port, subs->v[k].cidr,
                 ntsg ? " or from the target's security group " : "", ntsg ? tsgs[0] : "");
        rc = STEP_FAIL;
        goto cleanup;
    }
    log_info("the source's security groups admit the target account's subnets", "subnets=%zu port=%d groups=%zu",
             subs->n, port, n);
cleanup:
    ec2_subnet_list_free(subs);
    ec2_sg_list_free(src);
    return rc;
}
