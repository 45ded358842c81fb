/* rds_proxies — typed RDS Proxy calls: create, describe, register and
 * deregister targets (instances, or an Aurora cluster), describe targets;
 * see rds.h. */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rds_int.h"
#include "util.h"

void rds_proxy_free(rds_proxy *p) { free(p); }

void rds_proxy_list_free(rds_proxy_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

void rds_proxy_target_list_free(rds_proxy_target_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

/* ---------------- RDS Proxy ---------------- */
static bool parse_proxy(const aws_xml_node *n, void *dst)
{
    rds_proxy *d = dst;
    aws_xml_text(n, "DBProxyName", d->name, sizeof(d->name));
    aws_xml_text(n, "DBProxyArn", d->arn, sizeof(d->arn));
    aws_xml_text(n, "Status", d->status, sizeof(d->status));
    aws_xml_text(n, "EngineFamily", d->engine_family, sizeof(d->engine_family));
    aws_xml_text(n, "Endpoint", d->endpoint, sizeof(d->endpoint));
    aws_xml_text(n, "RoleArn", d->role_arn, sizeof(d->role_arn));
    aws_xml_text(n, "VpcId", d->vpc_id, sizeof(d->vpc_id));
    aws_xml_bool(n, "RequireTLS", &d->require_tls);
    return true;
}
static void f_proxy(void *p) { rds_proxy_free(p); }

bool rds_create_db_proxy(aws_client *c, const rds_create_proxy_opts *o, rds_proxy **out,
                         aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBProxy", RDS_VERSION);
    aws_query_add(&q, "DBProxyName", o->name);
    aws_query_add(&q, "EngineFamily", o->engine_family ? o->engine_family : "POSTGRESQL");
    aws_query_add(&q, "RoleArn", o->role_arn);
    if (o->secret_arn) {
        aws_query_add(&q, "Auth.member.1.AuthScheme", "SECRETS");
        aws_query_add(&q, "Auth.member.1.SecretArn", o->secret_arn);
        aws_query_add(&q, "Auth.member.1.IAMAuth", "DISABLED");
    }
    aws_query_add_list(&q, "VpcSubnetIds.member", o->subnet_ids, o->nsubnets);
    aws_query_add_list(&q, "VpcSecurityGroupIds.member", o->vpc_sg_ids, o->n_vpc_sg_ids);
    if (o->require_tls) aws_query_add_bool(&q, "RequireTLS", true);
    rds_add_tags(&q, "Tags", o->tags, o->ntags);
    return rds_call_one(c, "CreateDBProxy", &q, "DBProxy", parse_proxy, sizeof(rds_proxy), f_proxy,
                    (void **)out, err);
}

static void b_proxies(aws_query *q, const void *a) { aws_query_add(q, "DBProxyName", a); }
static bool p_proxies(const aws_xml_node *r, void *acc)
{
    rds_proxy_list *l = acc;
    for (const aws_xml_node *n = aws_xml_find(r, "DBProxies/member"); n; n = aws_xml_next_same(n)) {
        if (!PUSH(l->v, l->n)) return false;
        parse_proxy(n, &l->v[l->n - 1]);
    }
    return true;
}

bool rds_describe_db_proxies(aws_client *c, const char *name, rds_proxy_list **out,
                             aws_error *err)
{
    rds_proxy_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        rds_oom(err);
        return false;
    }
    if (!rds_run_pages(c, "DescribeDBProxies", b_proxies, name, p_proxies, l, err)) {
        rds_proxy_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

static bool parse_targets(const aws_xml_node *list, rds_proxy_target_list *l)
{
    for (const aws_xml_node *n = aws_xml_child(list, "member"); n; n = aws_xml_next_same(n)) {
        int64_t v = 0;
        if (!PUSH(l->v, l->n)) return false;
        rds_proxy_target *d = &l->v[l->n - 1];
        aws_xml_text(n, "TargetArn", d->target_arn, sizeof(d->target_arn));
        aws_xml_text(n, "Endpoint", d->endpoint, sizeof(d->endpoint));
        aws_xml_text(n, "RdsResourceId", d->rds_resource_id, sizeof(d->rds_resource_id));
        aws_xml_text(n, "TrackedClusterId", d->tracked_cluster_id, sizeof(d->tracked_cluster_id));
        if (aws_xml_int64(n, "Port", &v)) d->port = (int)v;
        aws_xml_text(n, "Type", d->type, sizeof(d->type));
        aws_xml_text(n, "Role", d->role, sizeof(d->role));
        aws_xml_text(n, "TargetHealth/State", d->health_state, sizeof(d->health_state));
        aws_xml_text(n, "TargetHealth/Reason", d->health_reason, sizeof(d->health_reason));
    }
    return true;
}

static void proxy_target_query(aws_query *q, const char *action, const char *proxy,
                               const char *tg, const char *const *ids, size_t n)
{
    aws_query_init(q, action, RDS_VERSION);
    aws_query_add(q, "DBProxyName", proxy);
    aws_query_add(q, "TargetGroupName", tg ? tg : "default");
    aws_query_add_list(q, "DBInstanceIdentifiers.member", ids, n);
}

bool rds_register_db_proxy_targets(aws_client *c, const char *proxy, const char *target_group,
                                   const char *const *instance_ids, size_t n,
                                   rds_proxy_target_list **out, aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    rds_proxy_target_list *l = NULL;
    bool ok = false;
    if (out) *out = NULL;
    proxy_target_query(&q, "RegisterDBProxyTargets", proxy, target_group, instance_ids, n);
    if (!aws_query_call(c, AWS_SVC_RDS, "RegisterDBProxyTargets", &q, &x, err)) goto cleanup;
    if (out) {
        if (!(l = calloc(1, sizeof(*l))) ||
            !parse_targets(aws_xml_find(aws_query_result(x, "RegisterDBProxyTargets"),
                                        "DBProxyTargets"),
                           l)) {
            rds_oom(err);
            goto cleanup;
        }
        *out = l;
        l = NULL;
    }
    ok = true;
cleanup:
    rds_proxy_target_list_free(l);
    aws_xml_free(x);
    aws_query_free(&q);
    return ok;
}

bool rds_deregister_db_proxy_targets(aws_client *c, const char *proxy, const char *target_group,
                                     const char *const *instance_ids, size_t n, aws_error *err)
{
    aws_query q;
    proxy_target_query(&q, "DeregisterDBProxyTargets", proxy, target_group, instance_ids, n);
    return rds_call_one(c, "DeregisterDBProxyTargets", &q, NULL, NULL, 0, NULL, NULL, err);
}

static void proxy_cluster_query(aws_query *q, const char *action, const char *proxy, const char *tg,
                                const char *cluster_id)
{
    aws_query_init(q, action, RDS_VERSION);
    aws_query_add(q, "DBProxyName", proxy);
    aws_query_add(q, "TargetGroupName", tg ? tg : "default");
    aws_query_add(q, "DBClusterIdentifiers.member.1", cluster_id);
}

bool rds_register_db_proxy_cluster(aws_client *c, const char *proxy, const char *target_group,
                                   const char *cluster_id, aws_error *err)
{
    aws_query q;
    proxy_cluster_query(&q, "RegisterDBProxyTargets", proxy, target_group, cluster_id);
    return rds_call_one(c, "RegisterDBProxyTargets", &q, NULL, NULL, 0, NULL, NULL, err);
}

bool rds_deregister_db_proxy_cluster(aws_client *c, const char *proxy, const char *target_group,
                                     const char *cluster_id, aws_error *err)
{
    aws_query q;
    proxy_cluster_query(&q, "DeregisterDBProxyTargets", proxy, target_group, cluster_id);
    return rds_call_one(c, "DeregisterDBProxyTargets", &q, NULL, NULL, 0, NULL, NULL, err);
}

typedef struct targets_args {
    const char *proxy;
    const char *tg;
} targets_args;
static void b_targets(aws_query *q, const void *a)
{
    const targets_args *t = a;
    aws_query_add(q, "DBProxyName", t->proxy);
    aws_query_add(q, "TargetGroupName", t->tg ? t->tg : "default");
}
static bool p_targets(const aws_xml_node *r, void *acc)
{
    return parse_targets(aws_xml_child(r, "Targets"), acc);
}

bool rds_describe_db_proxy_targets(aws_client *c, const char *proxy, const char *target_group,
                                   rds_proxy_target_list **out, aws_error *err)
{
    targets_args a = {proxy, target_group};
    rds_proxy_target_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        rds_oom(err);
        return false;
    }
    if (!rds_run_pages(c, "DescribeDBProxyTargets", b_targets, &a, p_targets, l, err)) {
        rds_proxy_target_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

