/* rds — see rds.h. Parsing follows the botocore RDS model's locationNames
 * (list members are named, e.g. DBInstances/DBInstance, TagList/Tag; RDS
 * Proxy lists use "member"); request lists serialise the same way
 * (VpcSecurityGroupIds.VpcSecurityGroupId.N, Tags.Tag.N.Key, ...). */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscred.h"
#include "util.h"

#define RDS_VERSION "2014-10-31"

/* Append one zeroed element to the dynamic array *arrp points at; on
 * allocation failure the array is left as it was. */
static bool push_(void *arrp, size_t *n, size_t elem)
{
    void *old;
    memcpy(&old, arrp, sizeof(old));
    char *p = realloc(old, (*n + 1) * elem);
    if (!p) return false;
    memset(p + *n * elem, 0, elem);
    memcpy(arrp, &p, sizeof(p));
    (*n)++;
    return true;
}
#define PUSH(arr, n) push_(&(arr), &(n), sizeof(*(arr)))

static void oom(aws_error *err)
{
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
}

/* ---------------- frees ---------------- */
static void instance_clear(rds_instance *i)
{
    free(i->param_groups);
    free(i->vpc_sg_ids);
    free(i->read_replica_ids);
    free(i->tags);
}

void rds_instance_free(rds_instance *i)
{
    if (!i) return;
    instance_clear(i);
    free(i);
}

void rds_instance_list_free(rds_instance_list *l)
{
    if (!l) return;
    for (size_t k = 0; k < l->n; k++) instance_clear(&l->v[k]);
    free(l->v);
    free(l);
}

void rds_snapshot_free(rds_snapshot *s)
{
    if (!s) return;
    free(s->tags);
    free(s);
}

void rds_snapshot_list_free(rds_snapshot_list *l)
{
    if (!l) return;
    for (size_t k = 0; k < l->n; k++) free(l->v[k].tags);
    free(l->v);
    free(l);
}

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

/* ---------------- request helpers ---------------- */
static void add_tags(aws_query *q, const char *prefix, const aws_tag *tags, size_t n)
{
    char key[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s.Tag.%zu.Key", prefix, i + 1);
        aws_query_add(q, key, tags[i].key);
        snprintf(key, sizeof(key), "%s.Tag.%zu.Value", prefix, i + 1);
        aws_query_add(q, key, tags[i].value);
    }
}

static void add_filters(aws_query *q, const aws_filter *f, size_t n)
{
    char key[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "Filters.Filter.%zu.Name", i + 1);
        aws_query_add(q, key, f[i].name);
        for (size_t j = 0; j < f[i].nvalues; j++) {
            snprintf(key, sizeof(key), "Filters.Filter.%zu.Values.Value.%zu", i + 1, j + 1);
            aws_query_add(q, key, f[i].values[j]);
        }
    }
}

static void add_tri(aws_query *q, const char *key, int v)
{
    if (v != RDS_UNSET) aws_query_add_bool(q, key, v != 0);
}

static void add_opt_int(aws_query *q, const char *key, int v, bool zero_is_unset)
{
    if (v == RDS_UNSET || (zero_is_unset && v == 0)) return;
    aws_query_add_int(q, key, v);
}

/* ---------------- parsers ---------------- */
static bool parse_tags(const aws_xml_node *list, aws_tag **tags, size_t *n)
{
    for (const aws_xml_node *t = aws_xml_child(list, "Tag"); t; t = aws_xml_next_same(t)) {
        if (!PUSH(*tags, *n)) return false;
        aws_xml_text(t, "Key", (*tags)[*n - 1].key, sizeof((*tags)[0].key));
        aws_xml_text(t, "Value", (*tags)[*n - 1].value, sizeof((*tags)[0].value));
    }
    return true;
}

static bool parse_instance(const aws_xml_node *n, rds_instance *d)
{
    int64_t v = 0;
    aws_xml_text(n, "DBInstanceIdentifier", d->identifier, sizeof(d->identifier));
    aws_xml_text(n, "DbiResourceId", d->resource_id, sizeof(d->resource_id));
    aws_xml_text(n, "DBInstanceArn", d->arn, sizeof(d->arn));
    aws_xml_text(n, "DBInstanceStatus", d->status, sizeof(d->status));
    aws_xml_text(n, "Engine", d->engine, sizeof(d->engine));
    aws_xml_text(n, "EngineVersion", d->engine_version, sizeof(d->engine_version));
    aws_xml_text(n, "DBInstanceClass", d->instance_class, sizeof(d->instance_class));
    aws_xml_int64(n, "AllocatedStorage", &d->allocated_storage);
    aws_xml_text(n, "StorageType", d->storage_type, sizeof(d->storage_type));
    aws_xml_int64(n, "Iops", &d->iops);
    aws_xml_text(n, "Endpoint/Address", d->endpoint_address, sizeof(d->endpoint_address));
    if (aws_xml_int64(n, "Endpoint/Port", &v) || aws_xml_int64(n, "DbInstancePort", &v))
        d->port = (int)v;
    aws_xml_bool(n, "StorageEncrypted", &d->storage_encrypted);
    aws_xml_text(n, "KmsKeyId", d->kms_key_id, sizeof(d->kms_key_id));
    for (const aws_xml_node *g = aws_xml_find(n, "DBParameterGroups/DBParameterGroup"); g;
         g = aws_xml_next_same(g)) {
        if (!PUSH(d->param_groups, d->n_param_groups)) return false;
        rds_param_group_status *p = &d->param_groups[d->n_param_groups - 1];
        aws_xml_text(g, "DBParameterGroupName", p->name, sizeof(p->name));
        aws_xml_text(g, "ParameterApplyStatus", p->apply_status, sizeof(p->apply_status));
    }
    aws_xml_text(n, "OptionGroupMemberships/OptionGroupMembership/OptionGroupName",
                 d->option_group, sizeof(d->option_group));
    aws_xml_text(n, "DBSubnetGroup/DBSubnetGroupName", d->subnet_group, sizeof(d->subnet_group));
    for (const aws_xml_node *g = aws_xml_find(n, "VpcSecurityGroups/VpcSecurityGroupMembership");
         g; g = aws_xml_next_same(g)) {
        if (!PUSH(d->vpc_sg_ids, d->n_vpc_sg_ids)) return false;
        aws_xml_text(g, "VpcSecurityGroupId", d->vpc_sg_ids[d->n_vpc_sg_ids - 1],
                     sizeof(d->vpc_sg_ids[0]));
    }
    aws_xml_bool(n, "MultiAZ", &d->multi_az);
    if (aws_xml_int64(n, "BackupRetentionPeriod", &v)) d->backup_retention = (int)v;
    aws_xml_bool(n, "DeletionProtection", &d->deletion_protection);
    aws_xml_bool(n, "PubliclyAccessible", &d->publicly_accessible);
    aws_xml_text(n, "MasterUsername", d->master_username, sizeof(d->master_username));
    aws_xml_text(n, "MasterUserSecret/SecretArn", d->master_user_secret_arn,
                 sizeof(d->master_user_secret_arn));
    for (const aws_xml_node *r =
             aws_xml_find(n, "ReadReplicaDBInstanceIdentifiers/ReadReplicaDBInstanceIdentifier");
         r; r = aws_xml_next_same(r)) {
        if (!PUSH(d->read_replica_ids, d->n_read_replica_ids)) return false;
        aws_xml_text(r, NULL, d->read_replica_ids[d->n_read_replica_ids - 1],
                     sizeof(d->read_replica_ids[0]));
    }
    aws_xml_text(n, "ReadReplicaSourceDBInstanceIdentifier", d->read_replica_source,
                 sizeof(d->read_replica_source));
    if (!parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags)) return false;
    aws_xml_text(n, "DBName", d->db_name, sizeof(d->db_name));
    aws_xml_text(n, "AvailabilityZone", d->availability_zone, sizeof(d->availability_zone));
    aws_xml_text(n, "InstanceCreateTime", d->create_time, sizeof(d->create_time));
    return true;
}

static bool parse_snapshot(const aws_xml_node *n, rds_snapshot *d)
{
    int64_t v = 0;
    aws_xml_text(n, "DBSnapshotIdentifier", d->id, sizeof(d->id));
    aws_xml_text(n, "DBSnapshotArn", d->arn, sizeof(d->arn));
    aws_xml_text(n, "DBInstanceIdentifier", d->instance_id, sizeof(d->instance_id));
    aws_xml_text(n, "Status", d->status, sizeof(d->status));
    if (aws_xml_int64(n, "PercentProgress", &v)) d->percent_progress = (int)v;
    aws_xml_bool(n, "Encrypted", &d->encrypted);
    aws_xml_text(n, "KmsKeyId", d->kms_key_id, sizeof(d->kms_key_id));
    aws_xml_int64(n, "AllocatedStorage", &d->allocated_storage);
    aws_xml_text(n, "SnapshotType", d->snapshot_type, sizeof(d->snapshot_type));
    aws_xml_text(n, "SnapshotCreateTime", d->create_time, sizeof(d->create_time));
    aws_xml_text(n, "Engine", d->engine, sizeof(d->engine));
    aws_xml_text(n, "EngineVersion", d->engine_version, sizeof(d->engine_version));
    aws_xml_text(n, "SourceDBSnapshotIdentifier", d->source_snapshot_id,
                 sizeof(d->source_snapshot_id));
    return parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags);
}

/* ---------------- single-object calls ---------------- */
/* Run q and parse <Result>/<elem> with parse into a fresh object of size sz. */
typedef bool (*parse_fn)(const aws_xml_node *n, void *dst);

static bool call_one(aws_client *c, const char *action, aws_query *q, const char *elem,
                     parse_fn parse, size_t sz, void (*free_fn)(void *), void **out,
                     aws_error *err)
{
    aws_xml *x = NULL;
    void *obj = NULL;
    bool ok = false;
    if (out) *out = NULL;
    if (!aws_query_call(c, AWS_SVC_RDS, action, q, &x, err)) goto cleanup;
    if (!out || !elem) {
        ok = true;
        goto cleanup;
    }
    const aws_xml_node *n = aws_xml_child(aws_query_result(x, action), elem);
    if (!n) {
        aws_error_set(err, AWS_ERR_PERMANENT, 200, "ParseError", "%s: no %s in the response",
                      action, elem);
        goto cleanup;
    }
    obj = calloc(1, sz);
    if (!obj) {
        oom(err);
        goto cleanup;
    }
    if (!parse(n, obj)) {
        oom(err);
        goto cleanup;
    }
    *out = obj;
    obj = NULL;
    ok = true;
cleanup:
    if (obj) free_fn(obj);
    aws_xml_free(x);
    aws_query_free(q);
    return ok;
}

static bool p_instance(const aws_xml_node *n, void *d) { return parse_instance(n, d); }
static bool p_snapshot(const aws_xml_node *n, void *d) { return parse_snapshot(n, d); }
static void f_instance(void *p) { rds_instance_free(p); }
static void f_snapshot(void *p) { rds_snapshot_free(p); }

static bool instance_call(aws_client *c, const char *action, aws_query *q, rds_instance **out,
                          aws_error *err)
{
    return call_one(c, action, q, "DBInstance", p_instance, sizeof(rds_instance), f_instance,
                    (void **)out, err);
}

static bool snapshot_call(aws_client *c, const char *action, aws_query *q, rds_snapshot **out,
                          aws_error *err)
{
    return call_one(c, action, q, "DBSnapshot", p_snapshot, sizeof(rds_snapshot), f_snapshot,
                    (void **)out, err);
}

/* ---------------- describe instances / snapshots ---------------- */
/* One paginator serves both Describe calls. rds_instance_list and
 * rds_snapshot_list share one shape ({T *v; size_t n; char marker[];}): a
 * list_kind says where those fields are, how big one element is, how to
 * parse and clear one, and which callback type a caller's _each passes. */
typedef struct list_kind {
    const char *action;         /* DescribeDBInstances */
    const char *id_key;         /* DBInstanceIdentifier */
    const char *path;           /* DBInstances/DBInstance */
    const char *not_found;      /* error code when a single describe finds nothing */
    const char *noun;           /* DBInstance */
    size_t elem;                /* sizeof(rds_instance) */
    size_t list_size, off_v, off_n, off_marker, marker_cap;
    parse_fn parse;
    void (*clear)(void *elem);  /* free what one element owns, not the element */
} list_kind;

static void clear_instance(void *p) { instance_clear(p); }
static void clear_snapshot(void *p) { free(((rds_snapshot *)p)->tags); }

#define LIST_FIELDS(LT) sizeof(LT), offsetof(LT, v), offsetof(LT, n), offsetof(LT, marker), \
                        sizeof(((LT *)0)->marker)
static const list_kind K_INSTANCES = {"DescribeDBInstances", "DBInstanceIdentifier", "DBInstances/DBInstance",
                                      "DBInstanceNotFound", "DBInstance", sizeof(rds_instance),
                                      LIST_FIELDS(rds_instance_list), p_instance, clear_instance};
static const list_kind K_SNAPSHOTS = {"DescribeDBSnapshots", "DBSnapshotIdentifier", "DBSnapshots/DBSnapshot",
                                      "DBSnapshotNotFound", "DBSnapshot", sizeof(rds_snapshot),
                                      LIST_FIELDS(rds_snapshot_list), p_snapshot, clear_snapshot};

/* The fields of a list through its kind (the array pointer by memcpy: the
 * list's member is a T *, not a void *). */
static void *list_v(const list_kind *k, const void *l)
{
    void *v;
    memcpy(&v, (const char *)l + k->off_v, sizeof(v));
    return v;
}
static void list_set_v(const list_kind *k, void *l, void *v) { memcpy((char *)l + k->off_v, &v, sizeof(v)); }
static size_t *list_n(const list_kind *k, void *l) { return (size_t *)(void *)((char *)l + k->off_n); }
static char *list_marker(const list_kind *k, void *l) { return (char *)l + k->off_marker; }

static void list_free(const list_kind *k, void *l)
{
    if (!l) return;
    char *v = list_v(k, l);
    for (size_t i = 0; i < *list_n(k, l); i++) k->clear(v + i * k->elem);
    free(v);
    free(l);
}

/* Where a page goes: a caller's typed callback, or an internal one. */
typedef struct page_sink {
    rds_instance_page_fn instances;
    rds_snapshot_page_fn snapshots;
    bool (*internal)(void *ud, void *list);
    void *ud;
} page_sink;

static bool sink_call(const page_sink *s, void *list)
{
    if (s->instances) return s->instances(s->ud, list);
    if (s->snapshots) return s->snapshots(s->ud, list);
    return s->internal(s->ud, list);
}

static void describe_query(aws_query *q, const char *action, const rds_describe_opts *o,
                           const char *id_key, const char *marker)
{
    aws_query_init(q, action, RDS_VERSION);
    if (!o) return;
    aws_query_add(q, id_key, o->id);
    if (strcmp(id_key, "DBInstanceIdentifier")) aws_query_add(q, "DBInstanceIdentifier", o->instance_id);
    aws_query_add(q, "SnapshotType", o->snapshot_type);
    add_filters(q, o->filters, o->nfilters);
    if (o->max_records > 0) aws_query_add_int(q, "MaxRecords", o->max_records);
    if (marker && *marker) aws_query_add(q, "Marker", marker);
}

/* One page into a fresh list of the kind's type (caller frees); NULL on
 * failure. The typed wrappers assign the result, so no T ** is written
 * through a void **. */
static void *list_page(aws_client *c, const list_kind *k, const rds_describe_opts *o, aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    void *l = NULL, *out = NULL;
    describe_query(&q, k->action, o, k->id_key, o ? o->marker : NULL);
    if (!aws_query_call(c, AWS_SVC_RDS, k->action, &q, &x, err)) goto cleanup;
    const aws_xml_node *r = aws_query_result(x, k->action);
    if (!(l = calloc(1, k->list_size))) goto nomem;
    for (const aws_xml_node *n = aws_xml_find(r, k->path); n; n = aws_xml_next_same(n)) {
        void *v = list_v(k, l);
        size_t *cnt = list_n(k, l);
        bool pushed = push_(&v, cnt, k->elem);
        list_set_v(k, l, v);
        if (!pushed || !k->parse(n, (char *)v + (*cnt - 1) * k->elem)) goto nomem;
    }
    aws_xml_text(r, "Marker", list_marker(k, l), k->marker_cap);
    out = l;
    l = NULL;
    goto cleanup;
nomem:
    oom(err);
cleanup:
    list_free(k, l);
    aws_xml_free(x);
    aws_query_free(&q);
    return out;
}

/* Every page to the sink, following Marker (bounded, and stopping on a
 * repeated marker). */
static bool list_each(aws_client *c, const list_kind *k, const rds_describe_opts *o, const page_sink *s,
                      aws_error *err)
{
    rds_describe_opts po;
    char marker[1024] = "";
    memset(&po, 0, sizeof(po));
    if (o) po = *o;
    for (int page = 0; page < RDS_MAX_PAGES; page++) {
        po.marker = marker[0] ? marker : NULL;
        void *l = list_page(c, k, &po, err);
        if (!l) return false;
        const char *m = list_marker(k, l);
        bool more = sink_call(s, l) && m[0] && strcmp(m, marker);
        fc_strlcpy(marker, m, sizeof(marker));
        list_free(k, l);
        if (!more) return true;
    }
    aws_error_set(err, AWS_ERR_PERMANENT, 200, "TooManyPages", "%s did not end", k->action);
    return false;
}

typedef struct list_acc {
    const list_kind *k;
    void *all;
    bool failed;
} list_acc;

/* Move a page's elements (and what they own) to the end of the accumulator. */
static bool acc_page(void *ud, void *page)
{
    list_acc *a = ud;
    const list_kind *k = a->k;
    size_t *n = list_n(k, page), *total = list_n(k, a->all);
    if (*n == 0) return true;
    char *v = realloc(list_v(k, a->all), (*total + *n) * k->elem);
    if (!v) {
        a->failed = true;
        return false;
    }
    memcpy(v + *total * k->elem, list_v(k, page), *n * k->elem);
    list_set_v(k, a->all, v);
    *total += *n;
    *n = 0; /* the page keeps its array, not the elements */
    return true;
}

/* Every page in one list (caller frees); NULL on failure. */
static void *list_all(aws_client *c, const list_kind *k, const rds_describe_opts *o, aws_error *err)
{
    list_acc a = {.k = k, .all = calloc(1, k->list_size)};
    page_sink s = {.internal = acc_page, .ud = &a};
    if (!a.all) {
        oom(err);
        return NULL;
    }
    if (!list_each(c, k, o, &s, err) || a.failed) {
        if (a.failed) oom(err);
        list_free(k, a.all);
        return NULL;
    }
    return a.all;
}

/* The one element named id (malloc'ed, caller frees); NULL on failure,
 * AWS_ERR_NOT_FOUND when there is none. */
static void *list_one(aws_client *c, const list_kind *k, const char *id, aws_error *err)
{
    rds_describe_opts o = {.id = id};
    void *l = list_page(c, k, &o, err);
    if (!l) return NULL;
    size_t *n = list_n(k, l);
    void *one = *n ? malloc(k->elem) : NULL;
    if (*n == 0)
        aws_error_set(err, AWS_ERR_NOT_FOUND, 200, k->not_found, "%s %s not found", k->noun, id);
    else if (!one)
        oom(err);
    if (one) {
        char *v = list_v(k, l);
        memcpy(one, v, k->elem);
        for (size_t i = 1; i < *n; i++) k->clear(v + i * k->elem);
        *n = 0; /* ownership of the first element's arrays moved to one */
    }
    list_free(k, l);
    return one;
}

bool rds_describe_db_instances_page(aws_client *c, const rds_describe_opts *o,
                                    rds_instance_list **out, aws_error *err)
{
    return (*out = list_page(c, &K_INSTANCES, o, err)) != NULL;
}

bool rds_describe_db_instances_each(aws_client *c, const rds_describe_opts *o,
                                    rds_instance_page_fn fn, void *ud, aws_error *err)
{
    page_sink s = {.instances = fn, .ud = ud};
    return list_each(c, &K_INSTANCES, o, &s, err);
}

bool rds_describe_db_instances_all(aws_client *c, const rds_describe_opts *o,
                                   rds_instance_list **out, aws_error *err)
{
    return (*out = list_all(c, &K_INSTANCES, o, err)) != NULL;
}

bool rds_describe_db_instance(aws_client *c, const char *id, rds_instance **out, aws_error *err)
{
    return (*out = list_one(c, &K_INSTANCES, id, err)) != NULL;
}

bool rds_describe_db_snapshots_page(aws_client *c, const rds_describe_opts *o,
                                    rds_snapshot_list **out, aws_error *err)
{
    return (*out = list_page(c, &K_SNAPSHOTS, o, err)) != NULL;
}

bool rds_describe_db_snapshots_each(aws_client *c, const rds_describe_opts *o,
                                    rds_snapshot_page_fn fn, void *ud, aws_error *err)
{
    page_sink s = {.snapshots = fn, .ud = ud};
    return list_each(c, &K_SNAPSHOTS, o, &s, err);
}

bool rds_describe_db_snapshots_all(aws_client *c, const rds_describe_opts *o,
                                   rds_snapshot_list **out, aws_error *err)
{
    return (*out = list_all(c, &K_SNAPSHOTS, o, err)) != NULL;
}

bool rds_describe_db_snapshot(aws_client *c, const char *id, rds_snapshot **out, aws_error *err)
{
    return (*out = list_one(c, &K_SNAPSHOTS, id, err)) != NULL;
}

/* ---------------- instance lifecycle ---------------- */
void rds_create_instance_opts_init(rds_create_instance_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->allocated_storage = o->storage_encrypted = o->port = o->multi_az = RDS_UNSET;
    o->backup_retention = o->deletion_protection = o->publicly_accessible = RDS_UNSET;
}

bool rds_create_db_instance(aws_client *c, const rds_create_instance_opts *o, rds_instance **out,
                            aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBInstance", RDS_VERSION);
    q.secure = o->master_password != NULL;
    aws_query_add(&q, "DBInstanceIdentifier", o->identifier);
    aws_query_add(&q, "DBInstanceClass", o->instance_class);
    aws_query_add(&q, "Engine", o->engine);
    aws_query_add(&q, "EngineVersion", o->engine_version);
    add_opt_int(&q, "AllocatedStorage", o->allocated_storage, true);
    aws_query_add(&q, "MasterUsername", o->master_username);
    aws_query_add(&q, "MasterUserPassword", o->master_password);
    if (o->manage_master_password) aws_query_add_bool(&q, "ManageMasterUserPassword", true);
    aws_query_add(&q, "DBName", o->db_name);
    add_tri(&q, "StorageEncrypted", o->storage_encrypted);
    aws_query_add(&q, "KmsKeyId", o->kms_key_id);
    aws_query_add(&q, "DBSubnetGroupName", o->subnet_group);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", o->vpc_sg_ids,
                       o->n_vpc_sg_ids);
    aws_query_add(&q, "DBParameterGroupName", o->param_group);
    aws_query_add(&q, "OptionGroupName", o->option_group);
    add_opt_int(&q, "Port", o->port, true);
    add_tri(&q, "MultiAZ", o->multi_az);
    add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    add_tri(&q, "DeletionProtection", o->deletion_protection);
    add_tri(&q, "PubliclyAccessible", o->publicly_accessible);
    add_tags(&q, "Tags", o->tags, o->ntags);
    return instance_call(c, "CreateDBInstance", &q, out, err);
}

void rds_modify_instance_opts_init(rds_modify_instance_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->backup_retention = o->deletion_protection = RDS_UNSET;
}

bool rds_modify_db_instance(aws_client *c, const rds_modify_instance_opts *o, rds_instance **out,
                            aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "ModifyDBInstance", RDS_VERSION);
    q.secure = o->master_user_password != NULL;
    aws_query_add(&q, "DBInstanceIdentifier", o->identifier);
    aws_query_add(&q, "NewDBInstanceIdentifier", o->new_identifier);
    aws_query_add(&q, "DBInstanceClass", o->instance_class);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", o->vpc_sg_ids,
                       o->n_vpc_sg_ids);
    aws_query_add(&q, "DBParameterGroupName", o->param_group);
    aws_query_add(&q, "OptionGroupName", o->option_group);
    add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    add_tri(&q, "DeletionProtection", o->deletion_protection);
    aws_query_add(&q, "MasterUserPassword", o->master_user_password);
    aws_query_add_bool(&q, "ApplyImmediately", o->apply_immediately);
    return instance_call(c, "ModifyDBInstance", &q, out, err);
}

bool rds_reboot_db_instance(aws_client *c, const char *id, bool force_failover,
                            rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "RebootDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    if (force_failover) aws_query_add_bool(&q, "ForceFailover", true);
    return instance_call(c, "RebootDBInstance", &q, out, err);
}

bool rds_stop_db_instance(aws_client *c, const char *id, const char *snapshot_id,
                          rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "StopDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    return instance_call(c, "StopDBInstance", &q, out, err);
}

bool rds_start_db_instance(aws_client *c, const char *id, rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "StartDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    return instance_call(c, "StartDBInstance", &q, out, err);
}

bool rds_delete_db_instance(aws_client *c, const char *id, const char *final_snapshot_id,
                            rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    if (final_snapshot_id) {
        aws_query_add_bool(&q, "SkipFinalSnapshot", false);
        aws_query_add(&q, "FinalDBSnapshotIdentifier", final_snapshot_id);
    } else {
        aws_query_add_bool(&q, "SkipFinalSnapshot", true);
    }
    return instance_call(c, "DeleteDBInstance", &q, out, err);
}

bool rds_create_db_instance_read_replica(aws_client *c, const rds_read_replica_opts *o,
                                         rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBInstanceReadReplica", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", o->identifier);
    aws_query_add(&q, "SourceDBInstanceIdentifier", o->source_identifier);
    aws_query_add(&q, "DBInstanceClass", o->instance_class);
    aws_query_add(&q, "KmsKeyId", o->kms_key_id);
    aws_query_add(&q, "DBSubnetGroupName", o->subnet_group);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", o->vpc_sg_ids,
                       o->n_vpc_sg_ids);
    aws_query_add(&q, "DBParameterGroupName", o->param_group);
    if (o->port > 0) aws_query_add_int(&q, "Port", o->port);
    if (o->multi_az > 0) aws_query_add_bool(&q, "MultiAZ", true);
    else aws_query_add(&q, "AvailabilityZone", o->availability_zone);
    add_tags(&q, "Tags", o->tags, o->ntags);
    return instance_call(c, "CreateDBInstanceReadReplica", &q, out, err);
}

bool rds_promote_read_replica(aws_client *c, const char *id, int backup_retention,
                              rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "PromoteReadReplica", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    add_opt_int(&q, "BackupRetentionPeriod", backup_retention, false);
    return instance_call(c, "PromoteReadReplica", &q, out, err);
}

/* ---------------- snapshots ---------------- */
bool rds_create_db_snapshot(aws_client *c, const char *snapshot_id, const char *instance_id,
                            const aws_tag *tags, size_t ntags, rds_snapshot **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    aws_query_add(&q, "DBInstanceIdentifier", instance_id);
    add_tags(&q, "Tags", tags, ntags);
    return snapshot_call(c, "CreateDBSnapshot", &q, out, err);
}

bool rds_copy_db_snapshot(aws_client *c, const rds_copy_snapshot_opts *o, rds_snapshot **out,
                          aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CopyDBSnapshot", RDS_VERSION);
    aws_query_add(&q, "SourceDBSnapshotIdentifier", o->source_id);
    aws_query_add(&q, "TargetDBSnapshotIdentifier", o->target_id);
    aws_query_add(&q, "KmsKeyId", o->kms_key_id);
    add_tri(&q, "CopyTags", o->copy_tags);
    add_tags(&q, "Tags", o->tags, o->ntags);
    return snapshot_call(c, "CopyDBSnapshot", &q, out, err);
}

bool rds_delete_db_snapshot(aws_client *c, const char *snapshot_id, rds_snapshot **out,
                            aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    return snapshot_call(c, "DeleteDBSnapshot", &q, out, err);
}

void rds_restore_opts_init(rds_restore_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->multi_az = o->port = o->deletion_protection = o->publicly_accessible = RDS_UNSET;
}

bool rds_restore_db_instance_from_db_snapshot(aws_client *c, const rds_restore_opts *o,
                                              rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "RestoreDBInstanceFromDBSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", o->identifier);
    aws_query_add(&q, "DBSnapshotIdentifier", o->snapshot_id);
    aws_query_add(&q, "DBInstanceClass", o->instance_class);
    aws_query_add(&q, "DBSubnetGroupName", o->subnet_group);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", o->vpc_sg_ids,
                       o->n_vpc_sg_ids);
    aws_query_add(&q, "DBParameterGroupName", o->param_group);
    aws_query_add(&q, "OptionGroupName", o->option_group);
    add_tri(&q, "MultiAZ", o->multi_az);
    add_opt_int(&q, "Port", o->port, true);
    add_tri(&q, "DeletionProtection", o->deletion_protection);
    add_tri(&q, "PubliclyAccessible", o->publicly_accessible);
    aws_query_add(&q, "StorageType", o->storage_type);
    add_tags(&q, "Tags", o->tags, o->ntags);
    return instance_call(c, "RestoreDBInstanceFromDBSnapshot", &q, out, err);
}

/* ---------------- generic "every page" lists ---------------- */
typedef void (*build_fn)(aws_query *q, const void *args);
typedef bool (*page_fn)(const aws_xml_node *result, void *acc);

static bool run_pages(aws_client *c, const char *action, build_fn build, const void *args,
                      page_fn parse, void *acc, aws_error *err)
{
    char marker[1024] = "";
    for (int page = 0; page < RDS_MAX_PAGES; page++) {
        aws_query q;
        aws_xml *x = NULL;
        aws_query_init(&q, action, RDS_VERSION);
        build(&q, args);
        if (marker[0]) aws_query_add(&q, "Marker", marker);
        bool got = aws_query_call(c, AWS_SVC_RDS, action, &q, &x, err);
        aws_query_free(&q);
        if (!got) return false;
        const aws_xml_node *r = aws_query_result(x, action);
        char next[1024];
        if (!parse(r, acc)) {
            aws_xml_free(x);
            oom(err);
            return false;
        }
        bool more = aws_xml_text(r, "Marker", next, sizeof(next)) && next[0] && strcmp(next, marker);
        aws_xml_free(x);
        if (!more) return true;
        fc_strlcpy(marker, next, sizeof(marker));
    }
    aws_error_set(err, AWS_ERR_PERMANENT, 200, "TooManyPages", "%s did not end", action);
    return false;
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
        oom(err);
        return false;
    }
    if (!run_pages(c, "DescribeDBParameterGroups", b_param_groups, name, p_param_groups, l, err)) {
        rds_param_group_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

/* parameters */
typedef struct params_args {
    const char *group;
    const char *source;
} params_args;
static void b_params(aws_query *q, const void *a)
{
    const params_args *p = a;
    aws_query_add(q, "DBParameterGroupName", p->group);
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

bool rds_describe_db_parameters(aws_client *c, const char *group, const char *source,
                                rds_parameter_list **out, aws_error *err)
{
    params_args a = {group, source};
    rds_parameter_list *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l) {
        oom(err);
        return false;
    }
    if (!run_pages(c, "DescribeDBParameters", b_params, &a, p_params, l, err)) {
        rds_parameter_list_free(l);
        return false;
    }
    *out = l;
    return true;
}

bool rds_modify_db_parameter_group(aws_client *c, const char *group,
                                   const rds_param_change *changes, size_t n, aws_error *err)
{
    aws_query q;
    char key[128];
    aws_query_init(&q, "ModifyDBParameterGroup", RDS_VERSION);
    aws_query_add(&q, "DBParameterGroupName", group);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "Parameters.Parameter.%zu.ParameterName", i + 1);
        aws_query_add(&q, key, changes[i].name);
        snprintf(key, sizeof(key), "Parameters.Parameter.%zu.ParameterValue", i + 1);
        aws_query_add(&q, key, changes[i].value);
        snprintf(key, sizeof(key), "Parameters.Parameter.%zu.ApplyMethod", i + 1);
        aws_query_add(&q, key, changes[i].apply_method ? changes[i].apply_method : "immediate");
    }
    return call_one(c, "ModifyDBParameterGroup", &q, NULL, NULL, 0, NULL, NULL, err);
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
        oom(err);
        return false;
    }
    if (!run_pages(c, "DescribeDBLogFiles", b_logs, &a, p_logs, l, err)) {
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
    oom(err);
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
        oom(err);
        return false;
    }
    if (!run_pages(c, "DescribeEvents", b_events, o, p_events, l, err)) {
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
    add_tags(&q, "Tags", tags, ntags);
    return call_one(c, "AddTagsToResource", &q, NULL, NULL, 0, NULL, NULL, err);
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
        !parse_tags(aws_xml_find(aws_query_result(x, "ListTagsForResource"), "TagList"), &l->v,
                    &l->n)) {
        oom(err);
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
    oom(err);
cleanup:
    rds_quota_list_free(l);
    aws_xml_free(x);
    aws_query_free(&q);
    return ok;
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
    add_tags(&q, "Tags", o->tags, o->ntags);
    return call_one(c, "CreateDBProxy", &q, "DBProxy", parse_proxy, sizeof(rds_proxy), f_proxy,
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
        oom(err);
        return false;
    }
    if (!run_pages(c, "DescribeDBProxies", b_proxies, name, p_proxies, l, err)) {
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
            oom(err);
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
    return call_one(c, "DeregisterDBProxyTargets", &q, NULL, NULL, 0, NULL, NULL, err);
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
        oom(err);
        return false;
    }
    if (!run_pages(c, "DescribeDBProxyTargets", b_targets, &a, p_targets, l, err)) {
        rds_proxy_target_list_free(l);
        return false;
    }
    *out = l;
    return true;
}
