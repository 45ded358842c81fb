/* rds_misc — the other typed RDS calls: parameter groups and parameters
 * (also DescribeDBClusterParameters), log files,
 * events, tags, account quotas; see rds.h. */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rds_int.h"
#include "util.h"

void rds_log_file_list_free(rds_log_file_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

void rds_log_portion_free(rds_log_portion *p)
{
    if (!p) return;
    free(p->data);
    free(p);
}

void rds_parameter_list_free(rds_parameter_list *l)
{
    if (!l) return;
    for (size_t k = 0; k < l->n; k++) free(l->v[k].value);
    free(l->v);
    free(l);
}

const rds_parameter *rds_parameter_find(const rds_parameter_list *l, const char *name)
{
    for (size_t k = 0; l && k < l->n; k++)
        if (!strcmp(l->v[k].name, name)) return &l->v[k];
    return NULL;
}

void rds_param_group_list_free(rds_param_group_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

void rds_quota_list_free(rds_quota_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

const rds_quota *rds_quota_find(const rds_quota_list *l, const char *name)
{
    for (size_t k = 0; l && k < l->n; k++)
        if (!strcmp(l->v[k].name, name)) return &l->v[k];
    return NULL;
}

void rds_event_list_free(rds_event_list *l)
{
    if (!l) return;
    for (size_t k = 0; k < l->n; k++) free(l->v[k].message);
    free(l->v);
    free(l);
}

void rds_tag_list_free(rds_tag_list *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

/* parameter groups */
static void b_param_groups(aws_query *q, const void *a) { aws_query_add(q, "DBParameterGroupName", a); }
static bool p_param_groups(const aws_xml_node *r, void *acc)
{
    rds_param_group_list *l = acc;
    for (const aws_xml_node *n = aws_xml_find(r, "DBParameterGroups/DBParameterGroup"); n;
         n = aws_xml_next_same(n)) {
        if (!PUSH(l->v, l->n)) return false;
        rds_param_group *d = &l->v[l->n - 1];
        aws_xml_text(n, "DBParameterGroupName", d->name, sizeof(d->name));
        aws_xml_text(n, "DBParameterGroupFamily", d->family, sizeof(d->family));
        aws_xml_text(n, "Description", d->description, sizeof(d->description));
        aws_xml_text(n, "DBParameterGroupArn", d->arn, sizeof(d->arn));
    }
    return true;
}

bool rds_describe_db_parameter_groups(aws_client *c, const char *name, rds_param_group_list **out,
                                      aws_error *err)
{
    rds_param_group_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        rds_oom(err);
        return false;
    }
    if (!rds_run_pages(c, "DescribeDBParameterGroups", b_param_groups, name, p_param_groups, l, err)) {
        rds_param_group_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

/* parameters */
typedef struct params_args {
    const char *group_key;      /* DBParameterGroupName / DBClusterParameterGroupName */
    const char *group;
    const char *source;
} params_args;
static void b_params(aws_query *q, const void *a)
{
    const params_args *p = a;
    aws_query_add(q, p->group_key, p->group);
    aws_query_add(q, "Source", p->source);
}
static bool p_params(const aws_xml_node *r, void *acc)
{
    rds_parameter_list *l = acc;
    for (const aws_xml_node *n = aws_xml_find(r, "Parameters/Parameter"); n;
         n = aws_xml_next_same(n)) {
        if (!PUSH(l->v, l->n)) return false;
        rds_parameter *d = &l->v[l->n - 1];
        aws_xml_text(n, "ParameterName", d->name, sizeof(d->name));
        d->value = aws_xml_strdup(n, "ParameterValue");
        aws_xml_text(n, "ApplyType", d->apply_type, sizeof(d->apply_type));
        aws_xml_text(n, "ApplyMethod", d->apply_method, sizeof(d->apply_method));
        aws_xml_text(n, "Source", d->source, sizeof(d->source));
        aws_xml_text(n, "DataType", d->data_type, sizeof(d->data_type));
        aws_xml_bool(n, "IsModifiable", &d->is_modifiable);
    }
    return true;
}

/* DescribeDBParameters / DescribeDBClusterParameters: one response shape. */
static bool describe_params(aws_client *c, const char *action, const params_args *a, rds_parameter_list **out,
                            aws_error *err)
{
    rds_parameter_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        rds_oom(err);
        return false;
    }
    if (!rds_run_pages(c, action, b_params, a, p_params, l, err)) {
        rds_parameter_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

bool rds_describe_db_parameters(aws_client *c, const char *group, const char *source,
                                rds_parameter_list **out, aws_error *err)
{
    params_args a = {"DBParameterGroupName", group, source};
    return describe_params(c, "DescribeDBParameters", &a, out, err);
}

bool rds_describe_db_cluster_parameters(aws_client *c, const char *group, const char *source,
                                        rds_parameter_list **out, aws_error *err)
{
    params_args a = {"DBClusterParameterGroupName", group, source};
    return describe_params(c, "DescribeDBClusterParameters", &a, out, err);
}

/* ModifyDB[Cluster]ParameterGroup: the group and each change's name, value
 * and apply method (default immediate) */
static bool modify_params(aws_client *c, const char *action, const char *group_key, const char *group,
                          const rds_param_change *changes, size_t n, aws_error *err)
{
    aws_query q;
    char key[128];
    aws_query_init(&q, action, RDS_VERSION);
    aws_query_add(&q, group_key, group);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "Parameters.Parameter.%zu.ParameterName", i + 1);
        aws_query_add(&q, key, changes[i].name);
        snprintf(key, sizeof(key), "Parameters.Parameter.%zu.ParameterValue", i + 1);
        aws_query_add(&q, key, changes[i].value);
        snprintf(key, sizeof(key), "Parameters.Parameter.%zu.ApplyMethod", i + 1);
        aws_query_add(&q, key, changes[i].apply_method ? changes[i].apply_method : "immediate");
    }
    return rds_call_one(c, action, &q, NULL, NULL, 0, NULL, NULL, err);
}

bool rds_modify_db_parameter_group(aws_client *c, const char *group,
                                   const rds_param_change *changes, size_t n, aws_error *err)
{
    return modify_params(c, "ModifyDBParameterGroup", "DBParameterGroupName", group, changes, n, err);
}

/* cluster parameter groups: a copy (with our tags), its values, its deletion */
bool rds_copy_db_cluster_parameter_group(aws_client *c, const char *source, const char *target,
                                         const char *description, const aws_tag *tags, size_t ntags,
                                         aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CopyDBClusterParameterGroup", RDS_VERSION);
    aws_query_add(&q, "SourceDBClusterParameterGroupIdentifier", source);
    aws_query_add(&q, "TargetDBClusterParameterGroupIdentifier", target);
    aws_query_add(&q, "TargetDBClusterParameterGroupDescription", description);
    rds_add_tags(&q, "Tags", tags, ntags);
    return rds_call_one(c, "CopyDBClusterParameterGroup", &q, NULL, NULL, 0, NULL, NULL, err);
}

bool rds_modify_db_cluster_parameter_group(aws_client *c, const char *group, const rds_param_change *changes,
                                           size_t n, aws_error *err)
{
    return modify_params(c, "ModifyDBClusterParameterGroup", "DBClusterParameterGroupName", group, changes, n, err);
}

bool rds_delete_db_cluster_parameter_group(aws_client *c, const char *group, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBClusterParameterGroup", RDS_VERSION);
    aws_query_add(&q, "DBClusterParameterGroupName", group);
    return rds_call_one(c, "DeleteDBClusterParameterGroup", &q, NULL, NULL, 0, NULL, NULL, err);
}

/* log files */
typedef struct logs_args {
    const char *instance;
    const char *contains;
} logs_args;
static void b_logs(aws_query *q, const void *a)
{
    const logs_args *p = a;
    aws_query_add(q, "DBInstanceIdentifier", p->instance);
    aws_query_add(q, "FilenameContains", p->contains);
}
static bool p_logs(const aws_xml_node *r, void *acc)
{
    rds_log_file_list *l = acc;
    for (const aws_xml_node *n = aws_xml_find(r, "DescribeDBLogFiles/DescribeDBLogFilesDetails");
         n; n = aws_xml_next_same(n)) {
        if (!PUSH(l->v, l->n)) return false;
        rds_log_file *d = &l->v[l->n - 1];
        aws_xml_text(n, "LogFileName", d->name, sizeof(d->name));
        aws_xml_int64(n, "LastWritten", &d->last_written);
        aws_xml_int64(n, "Size", &d->size);
    }
    return true;
}

bool rds_describe_db_log_files(aws_client *c, const char *instance_id,
                               const char *filename_contains, rds_log_file_list **out,
                               aws_error *err)
{
    logs_args a = {instance_id, filename_contains};
    rds_log_file_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        rds_oom(err);
        return false;
    }
    if (!rds_run_pages(c, "DescribeDBLogFiles", b_logs, &a, p_logs, l, err)) {
        rds_log_file_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

bool rds_download_db_log_file_portion(aws_client *c, const char *instance_id, const char *file,
                                      const char *marker, int number_of_lines,
                                      rds_log_portion **out, aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    rds_log_portion *p = NULL;
    bool ok = false;
    *out = NULL;
    aws_query_init(&q, "DownloadDBLogFilePortion", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", instance_id);
    aws_query_add(&q, "LogFileName", file);
    aws_query_add(&q, "Marker", marker && *marker ? marker : "0");
    if (number_of_lines > 0) aws_query_add_int(&q, "NumberOfLines", number_of_lines);
    if (!aws_query_call(c, AWS_SVC_RDS, "DownloadDBLogFilePortion", &q, &x, err)) goto cleanup;
    const aws_xml_node *r = aws_query_result(x, "DownloadDBLogFilePortion");
    if (!(p = calloc(1, sizeof(*p)))) goto nomem;
    p->data = aws_xml_strdup(r, "LogFileData");
    if (!p->data && !(p->data = strdup(""))) goto nomem;
    p->len = strlen(p->data);
    aws_xml_text(r, "Marker", p->marker, sizeof(p->marker));
    aws_xml_bool(r, "AdditionalDataPending", &p->additional_data_pending);
    *out = p;
    p = NULL;
    ok = true;
    goto cleanup;
nomem:
    rds_oom(err);
cleanup:
    rds_log_portion_free(p);
    aws_xml_free(x);
    aws_query_free(&q);
    return ok;
}

/* events */
static void b_events(aws_query *q, const void *a)
{
    const rds_events_opts *o = a;
    if (!o) return;
    aws_query_add(q, "SourceIdentifier", o->source_id);
    aws_query_add(q, "SourceType", o->source_type);
    if (o->duration_min > 0) aws_query_add_int(q, "Duration", o->duration_min);
    aws_query_add(q, "StartTime", o->start_time);
    aws_query_add(q, "EndTime", o->end_time);
    aws_query_add_list(q, "EventCategories.EventCategory", o->categories, o->ncategories);
}
static bool p_events(const aws_xml_node *r, void *acc)
{
    rds_event_list *l = acc;
    for (const aws_xml_node *n = aws_xml_find(r, "Events/Event"); n; n = aws_xml_next_same(n)) {
        if (!PUSH(l->v, l->n)) return false;
        rds_event *d = &l->v[l->n - 1];
        aws_xml_text(n, "SourceIdentifier", d->source_id, sizeof(d->source_id));
        aws_xml_text(n, "SourceType", d->source_type, sizeof(d->source_type));
        aws_xml_text(n, "SourceArn", d->source_arn, sizeof(d->source_arn));
        aws_xml_text(n, "Date", d->date, sizeof(d->date));
        d->message = aws_xml_strdup(n, "Message");
        size_t off = 0;
        for (const aws_xml_node *cat = aws_xml_find(n, "EventCategories/EventCategory"); cat;
             cat = aws_xml_next_same(cat)) {
            char one[64];
            aws_xml_text(cat, NULL, one, sizeof(one));
            int w = snprintf(d->categories + off, sizeof(d->categories) - off, "%s%s",
                             off ? "," : "", one);
            if (w < 0 || (size_t)w >= sizeof(d->categories) - off) break;
            off += (size_t)w;
        }
    }
    return true;
}

bool rds_describe_events(aws_client *c, const rds_events_opts *o, rds_event_list **out,
                         aws_error *err)
{
    rds_event_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        rds_oom(err);
        return false;
    }
    if (!rds_run_pages(c, "DescribeEvents", b_events, o, p_events, l, err)) {
        rds_event_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

/* tags */
bool rds_add_tags_to_resource(aws_client *c, const char *arn, const aws_tag *tags, size_t ntags,
                              aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "AddTagsToResource", RDS_VERSION);
    aws_query_add(&q, "ResourceName", arn);
    rds_add_tags(&q, "Tags", tags, ntags);
    return rds_call_one(c, "AddTagsToResource", &q, NULL, NULL, 0, NULL, NULL, err);
}

bool rds_list_tags_for_resource(aws_client *c, const char *arn, rds_tag_list **out,
                                aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    rds_tag_list *l = NULL;
    bool ok = false;
    *out = NULL;
    aws_query_init(&q, "ListTagsForResource", RDS_VERSION);
    aws_query_add(&q, "ResourceName", arn);
    if (!aws_query_call(c, AWS_SVC_RDS, "ListTagsForResource", &q, &x, err)) goto cleanup;
    if (!(l = calloc(1, sizeof(*l))) ||
        !rds_parse_tags(aws_xml_find(aws_query_result(x, "ListTagsForResource"), "TagList"), &l->v,
                    &l->n)) {
        rds_oom(err);
        goto cleanup;
    }
    *out = l;
    l = NULL;
    ok = true;
cleanup:
    rds_tag_list_free(l);
    aws_xml_free(x);
    aws_query_free(&q);
    return ok;
}

bool rds_describe_account_attributes(aws_client *c, rds_quota_list **out, aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    rds_quota_list *l = NULL;
    bool ok = false;
    *out = NULL;
    aws_query_init(&q, "DescribeAccountAttributes", RDS_VERSION);
    if (!aws_query_call(c, AWS_SVC_RDS, "DescribeAccountAttributes", &q, &x, err)) goto cleanup;
    if (!(l = calloc(1, sizeof(*l)))) goto nomem;
    for (const aws_xml_node *n = aws_xml_find(aws_query_result(x, "DescribeAccountAttributes"),
                                              "AccountQuotas/AccountQuota");
         n; n = aws_xml_next_same(n)) {
        if (!PUSH(l->v, l->n)) goto nomem;
        rds_quota *d = &l->v[l->n - 1];
        aws_xml_text(n, "AccountQuotaName", d->name, sizeof(d->name));
        aws_xml_int64(n, "Used", &d->used);
        aws_xml_int64(n, "Max", &d->max);
    }
    *out = l;
    l = NULL;
    ok = true;
    goto cleanup;
nomem:
    rds_oom(err);
cleanup:
    rds_quota_list_free(l);
    aws_xml_free(x);
    aws_query_free(&q);
    return ok;
}


/* ---------------- option checks ---------------- */
bool rds_sg_ids_opt_check(const char *v, char *err, size_t errcap)
{
    /* sg-<id>[,sg-<id>...] (AWS's ids are hex; letters and digits taken), at most 16 (what a restore takes here) */
    int n = 0;
    const char *p = v;
    while (*p) {
        size_t hex = strncmp(p, "sg-", 3) ? 0
                                          : strspn(p + 3, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        if (hex < 1 || hex > 32 || ++n > 16 || (p[3 + hex] && p[3 + hex] != ',')) {
            snprintf(err, errcap, "target_security_groups: want sg-… ids, comma-separated (at most 16)");
            return false;
        }
        p += 3 + hex;
        if (*p == ',') p++;
    }
    return true;
}
