/* fc_aws_call — test driver: runs one typed AWS call named on the command
 * line against the configured endpoint (AWS_ENDPOINT_URL etc.) and prints
 * one JSON object on stdout so pytest can assert fields:
 *   {"ok": true|false, "result": {...}, "error": {...}|null,
 *    "calls": [{"service","action","status","code","ms"}...], "retry_tokens": N}
 * (error also says whether the code is of the already-exists or the
 * invalid-state family: rds_err_already_exists, rds_err_invalid_state)
 * Usage: fc_aws_call [options] ACTION [key=value ...]
 *   --role-arn ARN  --profile P  --max-attempts N  --base-ms N  --cap-ms N
 *   --quota N  --timeout-ms N  --show-secrets (print secret material; tests only)
 * Lists are comma-separated (sg=sg-1,sg-2); tags are tags=k1:v1,k2:v2 (split at
 * the last colon: keys may hold colons, values may not).
 * Exit: 0 success, 1 AWS error, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws.h"
#include "kms.h"
#include "log.h"
#include "rds.h"
#include "secrets.h"
#include "session.h"
#include "sts.h"
#include "util.h"

#define MAX_ARGS 64
#define MAX_LIST 32

static struct {
    const char *k[MAX_ARGS];
    const char *v[MAX_ARGS];
    int n;
} g_args;
static bool g_show_secrets;
static json_t *g_calls;

static const char *arg(const char *k)
{
    for (int i = 0; i < g_args.n; i++)
        if (!strcmp(g_args.k[i], k)) return g_args.v[i];
    return NULL;
}

static int arg_int(const char *k, int dflt)
{
    const char *v = arg(k);
    return v ? atoi(v) : dflt;
}

static int arg_tri(const char *k)
{
    const char *v = arg(k);
    if (!v) return RDS_UNSET;
    return !strcmp(v, "true") || !strcmp(v, "1");
}

/* Split a comma list into a static array (strings point into a copy). */
typedef struct strlist {
    char *buf;
    const char *v[MAX_LIST];
    size_t n;
} strlist;

static void split(const char *s, strlist *l)
{
    memset(l, 0, sizeof(*l));
    if (!s || !*s) return;
    l->buf = strdup(s);
    for (char *p = l->buf; p && l->n < MAX_LIST;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        l->v[l->n++] = p;
        p = comma ? comma + 1 : NULL;
    }
}

static size_t parse_tags(const char *s, aws_tag *tags, size_t cap)
{
    strlist l;
    size_t n = 0;
    split(s, &l);
    for (size_t i = 0; i < l.n && n < cap; i++) {
        const char *colon = strrchr(l.v[i], ':'); /* keys may hold colons (fleetcrypt:campaign) */
        memset(&tags[n], 0, sizeof(tags[n]));
        if (colon) {
            snprintf(tags[n].key, sizeof(tags[n].key), "%.*s", (int)(colon - l.v[i]), l.v[i]);
            fc_strlcpy(tags[n].value, colon + 1, sizeof(tags[n].value));
        } else {
            fc_strlcpy(tags[n].key, l.v[i], sizeof(tags[n].key));
        }
        n++;
    }
    free(l.buf);
    return n;
}

static void on_call(void *ud, const char *service, const char *action, int status,
                    const char *code, int64_t ms)
{
    (void)ud;
    json_array_append_new(g_calls, json_pack("{s:s,s:s,s:i,s:s?,s:I,s:I}", "service", service,
                                             "action", action, "status", status, "code", code,
                                             "ms", (json_int_t)ms, "t_ms",
                                             (json_int_t)fc_mono_ms()));
}

static void on_throttle(void *ud, const char *service, const char *action)
{
    (void)ud;
    fprintf(stderr, "throttled service=%s action=%s\n", service, action);
}

/* ---------------- result encoders ---------------- */
static json_t *j_tags(const aws_tag *t, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(o, t[i].key, json_string(t[i].value));
    return o;
}

static json_t *j_instance(const rds_instance *i)
{
    json_t *pg = json_array(), *sg = json_array(), *rr = json_array();
    for (size_t k = 0; k < i->n_param_groups; k++)
        json_array_append_new(pg, json_pack("{s:s,s:s}", "name", i->param_groups[k].name,
                                            "apply_status", i->param_groups[k].apply_status));
    for (size_t k = 0; k < i->n_vpc_sg_ids; k++) json_array_append_new(sg, json_string(i->vpc_sg_ids[k]));
    for (size_t k = 0; k < i->n_read_replica_ids; k++)
        json_array_append_new(rr, json_string(i->read_replica_ids[k]));
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:i,s:b,s:s,s:o,s:s,s:s,s:o,s:b,s:i,s:b,s:s,s:s,s:o}",
        "identifier", i->identifier, "resource_id", i->resource_id, "arn", i->arn, "status",
        i->status, "engine", i->engine, "engine_version", i->engine_version, "instance_class",
        i->instance_class, "allocated_storage", (json_int_t)i->allocated_storage,
        "endpoint_address", i->endpoint_address, "port", i->port, "storage_encrypted",
        i->storage_encrypted, "kms_key_id", i->kms_key_id, "db_parameter_groups", pg,
        "option_group", i->option_group, "subnet_group", i->subnet_group, "vpc_security_group_ids",
        sg, "multi_az", i->multi_az, "backup_retention", i->backup_retention,
        "deletion_protection", i->deletion_protection, "master_username", i->master_username,
        "master_user_secret_arn", i->master_user_secret_arn, "read_replica_ids", rr);
    json_object_set_new(o, "tags", j_tags(i->tags, i->n_tags));
    json_object_set_new(o, "db_name", json_string(i->db_name));
    json_object_set_new(o, "storage_type", json_string(i->storage_type));
    json_object_set_new(o, "publicly_accessible", json_boolean(i->publicly_accessible));
    json_object_set_new(o, "storage_encryption_type", json_string(i->storage_encryption_type));
    json_object_set_new(o, "cluster_id", json_string(i->cluster_id));
    json_object_set_new(o, "promotion_tier", json_integer(i->promotion_tier));
    return o;
}

static json_t *j_snapshot(const rds_snapshot *s)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:s,s:I,s:s,s:s,s:s}", "id", s->id, "arn",
                          s->arn, "instance_id", s->instance_id, "status", s->status,
                          "percent_progress", s->percent_progress, "encrypted", s->encrypted,
                          "kms_key_id", s->kms_key_id, "allocated_storage",
                          (json_int_t)s->allocated_storage, "snapshot_type", s->snapshot_type,
                          "create_time", s->create_time, "engine", s->engine);
    json_object_set_new(o, "tags", j_tags(s->tags, s->n_tags));
    json_object_set_new(o, "storage_encryption_type", json_string(s->storage_encryption_type));
    return o;
}

static json_t *j_cluster(const rds_cluster *c)
{
    json_t *sg = json_array(), *members = json_array();
    for (size_t k = 0; k < c->n_vpc_sg_ids; k++) json_array_append_new(sg, json_string(c->vpc_sg_ids[k]));
    for (size_t k = 0; k < c->n_members; k++) {
        const rds_cluster_member *m = &c->members[k];
        json_array_append_new(members, json_pack("{s:s,s:b,s:i,s:s}", "instance_id", m->instance_id, "is_writer",
                                                 m->is_writer, "promotion_tier", m->promotion_tier,
                                                 "param_group_status", m->param_group_status));
    }
    const rds_cluster_member *w = rds_cluster_writer(c);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "identifier", c->identifier,
                          "resource_id", c->resource_id, "arn", c->arn, "status", c->status, "engine", c->engine,
                          "engine_version", c->engine_version, "endpoint", c->endpoint, "reader_endpoint",
                          c->reader_endpoint, "port", c->port, "master_username", c->master_username,
                          "master_user_secret_arn", c->master_user_secret_arn, "param_group", c->param_group,
                          "subnet_group", c->subnet_group);
    json_object_set_new(o, "vpc_security_group_ids", sg);
    json_object_set_new(o, "storage_encrypted", json_boolean(c->storage_encrypted));
    json_object_set_new(o, "kms_key_id", json_string(c->kms_key_id));
    json_object_set_new(o, "storage_encryption_type", json_string(c->storage_encryption_type));
    json_object_set_new(o, "deletion_protection", json_boolean(c->deletion_protection));
    json_object_set_new(o, "backup_retention", json_integer(c->backup_retention));
    json_object_set_new(o, "copy_tags_to_snapshot", json_boolean(c->copy_tags_to_snapshot));
    json_object_set_new(o, "members", members);
    json_object_set_new(o, "writer", w ? json_string(w->instance_id) : json_null());
    json_object_set_new(o, "tags", j_tags(c->tags, c->n_tags));
    json_object_set_new(o, "db_name", json_string(c->db_name));
    json_object_set_new(o, "pending_identifier", json_string(c->pending_identifier));
    json_object_set_new(o, "create_time", json_string(c->create_time));
    return o;
}

static json_t *j_cluster_snapshot(const rds_cluster_snapshot *s)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "id", s->id, "arn", s->arn,
                          "cluster_id", s->cluster_id, "status", s->status, "percent_progress",
                          s->percent_progress, "encrypted", s->encrypted, "kms_key_id", s->kms_key_id,
                          "storage_encryption_type", s->storage_encryption_type, "snapshot_type",
                          s->snapshot_type, "engine", s->engine, "master_username", s->master_username, "port",
                          s->port, "source_arn", s->source_arn);
    json_object_set_new(o, "tags", j_tags(s->tags, s->n_tags));
    return o;
}

static json_t *j_proxy(const rds_proxy *p)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "name", p->name, "arn", p->arn, "status",
                     p->status, "engine_family", p->engine_family, "endpoint", p->endpoint,
                     "role_arn", p->role_arn, "require_tls", p->require_tls);
}

static json_t *j_targets(const rds_proxy_target_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; l && i < l->n; i++) {
        const rds_proxy_target *t = &l->v[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "target_arn",
                                           t->target_arn, "endpoint", t->endpoint,
                                           "rds_resource_id", t->rds_resource_id, "port", t->port,
                                           "type", t->type, "role", t->role, "health_state",
                                           t->health_state, "tracked_cluster_id", t->tracked_cluster_id));
    }
    return a;
}

static json_t *j_key(const kms_key *k)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:s,s:s}", "key_id", k->key_id, "arn", k->arn, "enabled",
                     k->enabled, "key_state", k->key_state, "key_manager", k->key_manager,
                     "description", k->description);
}

static json_t *j_assumed(const sts_assumed_role *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:b,s:b}", "access_key_id", r->creds.access_key_id,
                          "assumed_role_arn", r->assumed_role_arn, "assumed_role_id",
                          r->assumed_role_id, "expires_ms", (json_int_t)r->creds.expires_ms,
                          "has_secret", r->creds.secret_access_key[0] != 0, "has_token",
                          r->creds.session_token[0] != 0);
    if (g_show_secrets) {
        json_object_set_new(o, "secret_access_key", json_string(r->creds.secret_access_key));
        json_object_set_new(o, "session_token", json_string(r->creds.session_token));
    }
    return o;
}

/* ---------------- actions ---------------- */
typedef bool (*action_fn)(aws_client *c, json_t **res, aws_error *err);

static void describe_opts(rds_describe_opts *o, aws_filter *f, strlist *vals)
{
    memset(o, 0, sizeof(*o));
    o->id = arg("id");
    o->instance_id = arg("instance_id");
    o->cluster_id = arg("cluster_id");
    o->snapshot_type = arg("snapshot_type");
    o->max_records = arg_int("max_records", 0);
    o->marker = arg("marker");
    if (arg("filter_name")) {
        split(arg("filter_values"), vals);
        f->name = arg("filter_name");
        f->values = vals->v;
        f->nvalues = vals->n;
        o->filters = f;
        o->nfilters = 1;
    }
}

typedef struct pages_ud {
    int pages;
    json_t *items;
} pages_ud;

/* An _each paginator's callback for list type T: counts the pages and
 * collects the field ID of every item. */
#define COUNT_PAGE(name, T, ID)                                                                          \
    static bool name(void *ud, const T *l)                                                               \
    {                                                                                                    \
        pages_ud *p = ud;                                                                                \
        p->pages++;                                                                                      \
        for (size_t i = 0; i < l->n; i++) json_array_append_new(p->items, json_string(l->v[i].ID));       \
        return true;                                                                                     \
    }
COUNT_PAGE(count_instance_page, rds_instance_list, identifier)
COUNT_PAGE(count_snapshot_page, rds_snapshot_list, id)
COUNT_PAGE(count_cluster_page, rds_cluster_list, identifier)
COUNT_PAGE(count_cluster_snapshot_page, rds_cluster_snapshot_list, id)

static json_t *pages_json(pages_ud *p) { return json_pack("{s:i,s:o}", "pages", p->pages, "identifiers", p->items); }

/* The members the create and restore opts structs share (same names in
 * each), from sg=, subnet_group=, param_group=, port=, deletion_protection=,
 * tags= (tags: 16 slots). */
#define PLACEMENT_ARGS(o, sg, tagv)                                                                          \
    do {                                                                                                     \
        (o).subnet_group = arg("subnet_group");                                                              \
        (o).vpc_sg_ids = (sg).v;                                                                             \
        (o).n_vpc_sg_ids = (sg).n;                                                                           \
        (o).param_group = arg("param_group");                                                                \
        (o).port = arg_int("port", RDS_UNSET);                                                               \
        (o).deletion_protection = arg_tri("deletion_protection");                                            \
        (o).tags = (tagv);                                                                                   \
        (o).ntags = parse_tags(arg("tags"), (tagv), 16);                                                     \
    } while (0)

/* The members the instance and cluster modify opts share. */
#define MODIFY_ARGS(o, sg)                                                                                   \
    do {                                                                                                     \
        (o).identifier = arg("id");                                                                          \
        (o).new_identifier = arg("new_id");                                                                  \
        (o).param_group = arg("param_group");                                                                \
        (o).vpc_sg_ids = (sg).v;                                                                             \
        (o).n_vpc_sg_ids = (sg).n;                                                                           \
        (o).backup_retention = arg_int("backup_retention", RDS_UNSET);                                       \
        (o).deletion_protection = arg_tri("deletion_protection");                                            \
        (o).apply_immediately = arg_tri("apply_immediately") == 1;                                           \
    } while (0)

/* A Describe action over every form of a paginated list: each=1 counts the
 * pages (identifiers of every item), page=1 one page, else everything. */
#define DESCRIBE_LIST(name, PLURAL, LT, KEY, J, COUNT)                                                        \
    static bool name(aws_client *c, json_t **res, aws_error *err)                                            \
    {                                                                                                        \
        rds_describe_opts o;                                                                                 \
        aws_filter f;                                                                                        \
        strlist vals = {0};                                                                                  \
        bool ok;                                                                                             \
        describe_opts(&o, &f, &vals);                                                                        \
        if (arg("each")) {                                                                                   \
            pages_ud p = {0, json_array()};                                                                  \
            ok = rds_describe_##PLURAL##_each(c, &o, COUNT, &p, err);                                        \
            *res = pages_json(&p);                                                                           \
        } else {                                                                                             \
            LT *l = NULL;                                                                                    \
            ok = arg("page") ? rds_describe_##PLURAL##_page(c, &o, &l, err)                                  \
                             : rds_describe_##PLURAL##_all(c, &o, &l, err);                                  \
            if (ok) {                                                                                        \
                json_t *a = json_array();                                                                    \
                for (size_t i = 0; i < l->n; i++) json_array_append_new(a, J(&l->v[i]));                     \
                *res = json_pack("{s:o,s:s}", KEY, a, "marker", l->marker);                                  \
            }                                                                                                \
            LT##_free(l);                                                                                    \
        }                                                                                                    \
        free(vals.buf);                                                                                      \
        return ok;                                                                                           \
    }

/* The JSON of a call's one result T (when there is one), then T freed. */
#define RESULT_FN(name, T, J)                                                                                \
    static bool name(bool ok, T *x, json_t **res)                                                            \
    {                                                                                                        \
        if (ok && x) *res = J(x);                                                                            \
        T##_free(x);                                                                                         \
        return ok;                                                                                           \
    }
RESULT_FN(instance_result, rds_instance, j_instance)
RESULT_FN(snapshot_result, rds_snapshot, j_snapshot)
RESULT_FN(cluster_result, rds_cluster, j_cluster)
RESULT_FN(cluster_snapshot_result, rds_cluster_snapshot, j_cluster_snapshot)

/* An action whose one argument is id=..., with a result of type T. */
#define ID_ACTION(name, T, CALL, RESULT)                                                                     \
    static bool name(aws_client *c, json_t **res, aws_error *err)                                            \
    {                                                                                                        \
        T *x = NULL;                                                                                         \
        bool ok = CALL(c, arg("id"), &x, err);                                                               \
        return RESULT(ok, x, res);                                                                           \
    }

/* copy_db_snapshot / copy_db_cluster_snapshot arguments (tags: 16 slots). */
static void copy_opts(rds_copy_snapshot_opts *o, aws_tag *tags)
{
    *o = (rds_copy_snapshot_opts){.source_id = arg("source_id"), .target_id = arg("target_id"),
                                  .kms_key_id = arg("kms_key_id"), .copy_tags = arg_tri("copy_tags"),
                                  .tags = tags};
    o->ntags = parse_tags(arg("tags"), tags, 16);
}

DESCRIBE_LIST(a_describe_db_instances, db_instances, rds_instance_list, "instances", j_instance,
              count_instance_page)

ID_ACTION(a_describe_db_instance, rds_instance, rds_describe_db_instance, instance_result)

static bool a_create_db_instance(aws_client *c, json_t **res, aws_error *err)
{
    rds_create_instance_opts o;
    aws_tag tags[16];
    strlist sg;
    rds_instance *i = NULL;
    rds_create_instance_opts_init(&o);
    split(arg("sg"), &sg);
    o.identifier = arg("id");
    /* a cluster member takes storage and the master user from its cluster */
    o.cluster_id = arg("cluster_id");
    o.promotion_tier = arg_int("promotion_tier", RDS_UNSET);
    o.instance_class = arg("class") ? arg("class") : "db.t3.micro";
    o.engine = arg("engine") ? arg("engine") : o.cluster_id ? "aurora-postgresql" : "postgres";
    o.engine_version = arg("engine_version");
    o.allocated_storage = arg_int("storage", o.cluster_id ? RDS_UNSET : 20);
    o.master_username = arg("master_username") ? arg("master_username") : o.cluster_id ? NULL : "postgres";
    o.master_password = arg("master_password");
    o.manage_master_password = arg("manage_master_password") != NULL;
    o.db_name = arg("db_name");
    o.storage_encrypted = arg_tri("encrypted");
    o.kms_key_id = arg("kms_key_id");
    o.option_group = arg("option_group");
    o.multi_az = arg_tri("multi_az");
    o.backup_retention = arg_int("backup_retention", RDS_UNSET);
    PLACEMENT_ARGS(o, sg, tags);
    bool ok = rds_create_db_instance(c, &o, &i, err);
    free(sg.buf);
    return instance_result(ok, i, res);
}

static bool a_modify_db_instance(aws_client *c, json_t **res, aws_error *err)
{
    rds_modify_instance_opts o;
    strlist sg;
    rds_instance *i = NULL;
    rds_modify_instance_opts_init(&o);
    split(arg("sg"), &sg);
    o.instance_class = arg("class");
    MODIFY_ARGS(o, sg);
    bool ok = rds_modify_db_instance(c, &o, &i, err);
    free(sg.buf);
    return instance_result(ok, i, res);
}

static bool a_reboot_db_instance(aws_client *c, json_t **res, aws_error *err)
{
    rds_instance *i = NULL;
    bool ok = rds_reboot_db_instance(c, arg("id"), arg_tri("force_failover") == 1, &i, err);
    return instance_result(ok, i, res);
}

static bool a_stop_db_instance(aws_client *c, json_t **res, aws_error *err)
{
    rds_instance *i = NULL;
    bool ok = rds_stop_db_instance(c, arg("id"), arg("snapshot_id"), &i, err);
    return instance_result(ok, i, res);
}

ID_ACTION(a_start_db_instance, rds_instance, rds_start_db_instance, instance_result)

static bool a_delete_db_instance(aws_client *c, json_t **res, aws_error *err)
{
    rds_instance *i = NULL;
    bool ok = rds_delete_db_instance(c, arg("id"), arg("final_snapshot_id"), &i, err);
    return instance_result(ok, i, res);
}

static bool a_create_db_instance_read_replica(aws_client *c, json_t **res, aws_error *err)
{
    rds_read_replica_opts o;
    aws_tag tags[16];
    rds_instance *i = NULL;
    memset(&o, 0, sizeof(o));
    o.identifier = arg("id");
    o.source_identifier = arg("source_id");
    o.instance_class = arg("class");
    o.tags = tags;
    o.ntags = parse_tags(arg("tags"), tags, 16);
    bool ok = rds_create_db_instance_read_replica(c, &o, &i, err);
    return instance_result(ok, i, res);
}

static bool a_create_db_snapshot(aws_client *c, json_t **res, aws_error *err)
{
    aws_tag tags[16];
    rds_snapshot *s = NULL;
    size_t nt = parse_tags(arg("tags"), tags, 16);
    bool ok = rds_create_db_snapshot(c, arg("id"), arg("instance_id"), tags, nt, &s, err);
    return snapshot_result(ok, s, res);
}


DESCRIBE_LIST(a_describe_db_snapshots, db_snapshots, rds_snapshot_list, "snapshots", j_snapshot,
              count_snapshot_page)

ID_ACTION(a_describe_db_snapshot, rds_snapshot, rds_describe_db_snapshot, snapshot_result)

static bool a_copy_db_snapshot(aws_client *c, json_t **res, aws_error *err)
{
    aws_tag tags[16];
    rds_snapshot *s = NULL;
    rds_copy_snapshot_opts o;
    copy_opts(&o, tags);
    bool ok = rds_copy_db_snapshot(c, &o, &s, err);
    return snapshot_result(ok, s, res);
}

ID_ACTION(a_delete_db_snapshot, rds_snapshot, rds_delete_db_snapshot, snapshot_result)

static bool a_restore_db_instance_from_db_snapshot(aws_client *c, json_t **res, aws_error *err)
{
    rds_restore_opts o;
    aws_tag tags[16];
    strlist sg;
    rds_instance *i = NULL;
    rds_restore_opts_init(&o);
    split(arg("sg"), &sg);
    o.identifier = arg("id");
    o.snapshot_id = arg("snapshot_id");
    o.instance_class = arg("class");
    o.option_group = arg("option_group");
    o.multi_az = arg_tri("multi_az");
    o.backup_retention = arg_int("backup_retention", RDS_UNSET);
    PLACEMENT_ARGS(o, sg, tags);
    bool ok = rds_restore_db_instance_from_db_snapshot(c, &o, &i, err);
    free(sg.buf);
    return instance_result(ok, i, res);
}

/* ---------------- clusters ---------------- */
DESCRIBE_LIST(a_describe_db_clusters, db_clusters, rds_cluster_list, "clusters", j_cluster, count_cluster_page)

ID_ACTION(a_describe_db_cluster, rds_cluster, rds_describe_db_cluster, cluster_result)

static bool a_create_db_cluster(aws_client *c, json_t **res, aws_error *err)
{
    rds_create_cluster_opts o;
    aws_tag tags[16];
    strlist sg;
    rds_cluster *cl = NULL;
    rds_create_cluster_opts_init(&o);
    split(arg("sg"), &sg);
    o.identifier = arg("id");
    o.engine = arg("engine");
    o.master_username = arg("master_username") ? arg("master_username") : "postgres";
    o.master_password = arg("master_password");
    o.db_name = arg("db_name");
    o.storage_encrypted = arg_tri("encrypted");
    o.kms_key_id = arg("kms_key_id");
    o.backup_retention = arg_int("backup_retention", RDS_UNSET);
    PLACEMENT_ARGS(o, sg, tags);
    bool ok = rds_create_db_cluster(c, &o, &cl, err);
    free(sg.buf);
    return cluster_result(ok, cl, res);
}

static bool a_modify_db_cluster(aws_client *c, json_t **res, aws_error *err)
{
    rds_modify_cluster_opts o;
    strlist sg;
    rds_cluster *cl = NULL;
    rds_modify_cluster_opts_init(&o);
    split(arg("sg"), &sg);
    MODIFY_ARGS(o, sg);
    bool ok = rds_modify_db_cluster(c, &o, &cl, err);
    free(sg.buf);
    return cluster_result(ok, cl, res);
}

static bool a_delete_db_cluster(aws_client *c, json_t **res, aws_error *err)
{
    rds_cluster *cl = NULL;
    bool ok = rds_delete_db_cluster(c, arg("id"), arg("final_snapshot_id"), &cl, err);
    return cluster_result(ok, cl, res);
}

ID_ACTION(a_stop_db_cluster, rds_cluster, rds_stop_db_cluster, cluster_result)

ID_ACTION(a_start_db_cluster, rds_cluster, rds_start_db_cluster, cluster_result)

static bool a_restore_db_cluster_from_snapshot(aws_client *c, json_t **res, aws_error *err)
{
    rds_restore_cluster_opts o;
    aws_tag tags[16];
    strlist sg;
    rds_cluster *cl = NULL;
    rds_restore_cluster_opts_init(&o);
    split(arg("sg"), &sg);
    o.identifier = arg("id");
    o.snapshot_id = arg("snapshot_id");
    o.engine = arg("engine");
    o.kms_key_id = arg("kms_key_id");
    PLACEMENT_ARGS(o, sg, tags);
    bool ok = rds_restore_db_cluster_from_snapshot(c, &o, &cl, err);
    free(sg.buf);
    return cluster_result(ok, cl, res);
}

static bool a_create_db_cluster_snapshot(aws_client *c, json_t **res, aws_error *err)
{
    aws_tag tags[16];
    rds_cluster_snapshot *s = NULL;
    size_t nt = parse_tags(arg("tags"), tags, 16);
    bool ok = rds_create_db_cluster_snapshot(c, arg("id"), arg("cluster_id"), tags, nt, &s, err);
    return cluster_snapshot_result(ok, s, res);
}

DESCRIBE_LIST(a_describe_db_cluster_snapshots, db_cluster_snapshots, rds_cluster_snapshot_list, "snapshots",
              j_cluster_snapshot, count_cluster_snapshot_page)

ID_ACTION(a_describe_db_cluster_snapshot, rds_cluster_snapshot, rds_describe_db_cluster_snapshot,
          cluster_snapshot_result)

static bool a_copy_db_cluster_snapshot(aws_client *c, json_t **res, aws_error *err)
{
    aws_tag tags[16];
    rds_cluster_snapshot *s = NULL;
    rds_copy_snapshot_opts o;
    copy_opts(&o, tags);
    bool ok = rds_copy_db_cluster_snapshot(c, &o, &s, err);
    return cluster_snapshot_result(ok, s, res);
}

ID_ACTION(a_delete_db_cluster_snapshot, rds_cluster_snapshot, rds_delete_db_cluster_snapshot,
          cluster_snapshot_result)

/* name=GROUP [source=S] [param=NAME]: every parameter, or one's value */
static bool a_describe_db_cluster_parameters(aws_client *c, json_t **res, aws_error *err)
{
    rds_parameter_list *l = NULL;
    bool ok = rds_describe_db_cluster_parameters(c, arg("name"), arg("source"), &l, err);
    if (ok) {
        const rds_parameter *p = arg("param") ? rds_parameter_find(l, arg("param")) : NULL;
        *res = json_pack("{s:i,s:s?,s:s?}", "count", (int)l->n, "value", p ? p->value : NULL, "source",
                         p ? p->source : NULL);
    }
    rds_parameter_list_free(l);
    return ok;
}

static bool a_describe_db_parameter_groups(aws_client *c, json_t **res, aws_error *err)
{
    rds_param_group_list *l = NULL;
    bool ok = rds_describe_db_parameter_groups(c, arg("name"), &l, err);
    if (ok) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "name", l->v[i].name, "family",
                                               l->v[i].family, "description", l->v[i].description,
                                               "arn", l->v[i].arn));
        *res = json_pack("{s:o}", "groups", a);
    }
    rds_param_group_list_free(l);
    return ok;
}

static bool a_describe_db_parameters(aws_client *c, json_t **res, aws_error *err)
{
    rds_parameter_list *l = NULL;
    bool ok = rds_describe_db_parameters(c, arg("name"), arg("source"), &l, err);
    if (ok) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(a, json_pack("{s:s,s:s?,s:s,s:s,s:b}", "name", l->v[i].name,
                                               "value", l->v[i].value, "apply_type",
                                               l->v[i].apply_type, "source", l->v[i].source,
                                               "is_modifiable", l->v[i].is_modifiable));
        *res = json_pack("{s:o}", "parameters", a);
    }
    rds_parameter_list_free(l);
    return ok;
}

static bool a_modify_db_parameter_group(aws_client *c, json_t **res, aws_error *err)
{
    rds_param_change ch = {.name = arg("param"), .value = arg("value"),
                           .apply_method = arg("apply_method")};
    bool ok = rds_modify_db_parameter_group(c, arg("name"), &ch, 1, err);
    if (ok) *res = json_pack("{s:s}", "name", arg("name"));
    return ok;
}

static bool a_describe_db_log_files(aws_client *c, json_t **res, aws_error *err)
{
    rds_log_file_list *l = NULL;
    bool ok = rds_describe_db_log_files(c, arg("id"), arg("contains"), &l, err);
    if (ok) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(a, json_pack("{s:s,s:I,s:I}", "name", l->v[i].name,
                                               "last_written", (json_int_t)l->v[i].last_written,
                                               "size", (json_int_t)l->v[i].size));
        *res = json_pack("{s:o}", "files", a);
    }
    rds_log_file_list_free(l);
    return ok;
}

static bool a_download_db_log_file_portion(aws_client *c, json_t **res, aws_error *err)
{
    rds_log_portion *p = NULL;
    bool ok;
    if (arg("all")) {
        /* walk the Marker until no more data is pending (bounded) */
        char marker[256] = "0";
        json_t *markers = json_array();
        size_t total = 0;
        int portions = 0;
        char *data = strdup("");
        do {
            ok = rds_download_db_log_file_portion(c, arg("id"), arg("file"), marker,
                                                  arg_int("lines", 0), &p, err);
            if (!ok) break;
            portions++;
            char *nd = realloc(data, total + p->len + 1);
            if (!nd) break;
            data = nd;
            memcpy(data + total, p->data, p->len + 1);
            total += p->len;
            json_array_append_new(markers, json_string(p->marker));
            bool more = p->additional_data_pending && strcmp(p->marker, marker);
            fc_strlcpy(marker, p->marker, sizeof(marker));
            rds_log_portion_free(p);
            p = NULL;
            if (!more) break;
        } while (portions < 10000);
        if (ok) *res = json_pack("{s:s,s:i,s:o}", "data", data, "portions", portions, "markers", markers);
        else json_decref(markers);
        free(data);
        return ok;
    }
    ok = rds_download_db_log_file_portion(c, arg("id"), arg("file"), arg("marker"),
                                          arg_int("lines", 0), &p, err);
    if (ok)
        *res = json_pack("{s:s,s:s,s:b}", "data", p->data, "marker", p->marker,
                         "additional_data_pending", p->additional_data_pending);
    rds_log_portion_free(p);
    return ok;
}

static bool a_describe_events(aws_client *c, json_t **res, aws_error *err)
{
    rds_event_list *l = NULL;
    rds_events_opts o = {.source_id = arg("source_id"), .source_type = arg("source_type"),
                         .duration_min = arg_int("duration", 0)};
    bool ok = rds_describe_events(c, &o, &l, err);
    if (ok) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "source_id",
                                               l->v[i].source_id, "source_type",
                                               l->v[i].source_type, "date", l->v[i].date,
                                               "message", l->v[i].message, "categories",
                                               l->v[i].categories));
        *res = json_pack("{s:o}", "events", a);
    }
    rds_event_list_free(l);
    return ok;
}

static bool a_add_tags_to_resource(aws_client *c, json_t **res, aws_error *err)
{
    aws_tag tags[16];
    size_t n = parse_tags(arg("tags"), tags, 16);
    bool ok = rds_add_tags_to_resource(c, arg("arn"), tags, n, err);
    if (ok) *res = json_object();
    return ok;
}

static bool a_list_tags_for_resource(aws_client *c, json_t **res, aws_error *err)
{
    rds_tag_list *l = NULL;
    bool ok = rds_list_tags_for_resource(c, arg("arn"), &l, err);
    if (ok) *res = json_pack("{s:o}", "tags", j_tags(l->v, l->n));
    rds_tag_list_free(l);
    return ok;
}

static bool a_describe_account_attributes(aws_client *c, json_t **res, aws_error *err)
{
    rds_quota_list *l = NULL;
    bool ok = rds_describe_account_attributes(c, &l, err);
    if (ok) {
        json_t *o = json_object();
        for (size_t i = 0; i < l->n; i++)
            json_object_set_new(o, l->v[i].name, json_pack("{s:I,s:I}", "used",
                                                           (json_int_t)l->v[i].used, "max",
                                                           (json_int_t)l->v[i].max));
        *res = json_pack("{s:o}", "quotas", o);
    }
    rds_quota_list_free(l);
    return ok;
}

static bool a_create_db_proxy(aws_client *c, json_t **res, aws_error *err)
{
    strlist subnets, sg;
    rds_proxy *p = NULL;
    split(arg("subnets"), &subnets);
    split(arg("sg"), &sg);
    rds_create_proxy_opts o = {.name = arg("name"), .engine_family = arg("engine_family"),
                               .role_arn = arg("role_arn"), .secret_arn = arg("secret_arn"),
                               .subnet_ids = subnets.v, .nsubnets = subnets.n,
                               .vpc_sg_ids = sg.v, .n_vpc_sg_ids = sg.n};
    bool ok = rds_create_db_proxy(c, &o, &p, err);
    if (ok) *res = j_proxy(p);
    rds_proxy_free(p);
    free(subnets.buf);
    free(sg.buf);
    return ok;
}

static bool a_describe_db_proxies(aws_client *c, json_t **res, aws_error *err)
{
    rds_proxy_list *l = NULL;
    bool ok = rds_describe_db_proxies(c, arg("name"), &l, err);
    if (ok) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n; i++) json_array_append_new(a, j_proxy(&l->v[i]));
        *res = json_pack("{s:o}", "proxies", a);
    }
    rds_proxy_list_free(l);
    return ok;
}

static bool a_register_db_proxy_targets(aws_client *c, json_t **res, aws_error *err)
{
    strlist ids;
    rds_proxy_target_list *l = NULL;
    split(arg("ids"), &ids);
    bool ok = rds_register_db_proxy_targets(c, arg("name"), arg("target_group"), ids.v, ids.n,
                                            &l, err);
    if (ok) *res = json_pack("{s:o}", "targets", j_targets(l));
    rds_proxy_target_list_free(l);
    free(ids.buf);
    return ok;
}

static bool a_deregister_db_proxy_targets(aws_client *c, json_t **res, aws_error *err)
{
    strlist ids;
    split(arg("ids"), &ids);
    bool ok = rds_deregister_db_proxy_targets(c, arg("name"), arg("target_group"), ids.v, ids.n, err);
    if (ok) *res = json_object();
    free(ids.buf);
    return ok;
}

static bool a_register_db_proxy_cluster(aws_client *c, json_t **res, aws_error *err)
{
    bool ok = rds_register_db_proxy_cluster(c, arg("name"), arg("target_group"), arg("cluster_id"), err);
    if (ok) *res = json_object();
    return ok;
}

static bool a_deregister_db_proxy_cluster(aws_client *c, json_t **res, aws_error *err)
{
    bool ok = rds_deregister_db_proxy_cluster(c, arg("name"), arg("target_group"), arg("cluster_id"), err);
    if (ok) *res = json_object();
    return ok;
}

static bool a_describe_db_proxy_targets(aws_client *c, json_t **res, aws_error *err)
{
    rds_proxy_target_list *l = NULL;
    bool ok = rds_describe_db_proxy_targets(c, arg("name"), arg("target_group"), &l, err);
    if (ok) *res = json_pack("{s:o}", "targets", j_targets(l));
    rds_proxy_target_list_free(l);
    return ok;
}

static bool a_kms_describe_key(aws_client *c, json_t **res, aws_error *err)
{
    kms_key *k = NULL;
    bool ok = kms_describe_key(c, arg("key"), &k, err);
    if (ok) *res = j_key(k);
    kms_key_free(k);
    return ok;
}

static bool a_kms_create_key(aws_client *c, json_t **res, aws_error *err)
{
    kms_key *k = NULL;
    bool ok = kms_create_key(c, arg("description"), NULL, NULL, 0, &k, err);
    if (ok) *res = j_key(k);
    kms_key_free(k);
    return ok;
}

static bool a_kms_create_alias(aws_client *c, json_t **res, aws_error *err)
{
    bool ok = kms_create_alias(c, arg("alias"), arg("key"), err);
    if (ok) *res = json_object();
    return ok;
}

static bool a_kms_list_aliases(aws_client *c, json_t **res, aws_error *err)
{
    kms_alias_list *l = NULL;
    bool ok = kms_list_aliases(c, arg("key"), &l, err);
    if (ok) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", l->v[i].name, "arn",
                                               l->v[i].arn, "target_key_id", l->v[i].target_key_id));
        *res = json_pack("{s:o}", "aliases", a);
    }
    kms_alias_list_free(l);
    return ok;
}

/* No call: the region and each service's endpoint as the client resolved them. */
static bool a_endpoints(aws_client *c, json_t **res, aws_error *err)
{
    (void)err;
    json_t *o = json_object();
    json_object_set_new(o, "region", json_string(aws_client_region(c)));
    for (int s = 0; s < AWS_SVC_COUNT; s++)
        json_object_set_new(o, aws_service_name((aws_service)s), json_string(aws_client_endpoint(c, (aws_service)s)));
    *res = o;
    return true;
}

static bool a_sts_get_caller_identity(aws_client *c, json_t **res, aws_error *err)
{
    aws_identity *id = NULL;
    bool ok = sts_get_caller_identity(c, &id, err);
    if (ok) *res = json_pack("{s:s,s:s,s:s}", "account", id->account, "arn", id->arn, "user_id", id->user_id);
    aws_identity_free(id);
    return ok;
}

static bool a_sts_assume_role(aws_client *c, json_t **res, aws_error *err)
{
    sts_assumed_role *r = NULL;
    sts_assume_role_opts o = {.role_arn = arg("role_arn"), .session_name = arg("session_name"),
                              .external_id = arg("external_id"), .duration_s = arg_int("duration", 0)};
    bool ok = sts_assume_role(c, &o, &r, err);
    if (ok) *res = j_assumed(r);
    sts_assumed_role_free(r);
    return ok;
}

static bool a_sts_assume_role_with_web_identity(aws_client *c, json_t **res, aws_error *err)
{
    sts_assumed_role *r = NULL;
    bool ok = sts_assume_role_with_web_identity(c, arg("role_arn"), arg("session_name"),
                                                arg("token"), arg_int("duration", 0), &r, err);
    if (ok) *res = j_assumed(r);
    sts_assumed_role_free(r);
    return ok;
}

static bool a_secrets_get_value(aws_client *c, json_t **res, aws_error *err)
{
    secret_value *s = NULL;
    bool ok = secrets_get_value(c, arg("id"), arg("stage"), &s, err);
    if (ok) {
        *res = json_pack("{s:s,s:s,s:s,s:I}", "arn", s->arn, "name", s->name, "version_id",
                         s->version_id, "length", (json_int_t)s->len);
        if (g_show_secrets && s->string)
            json_object_set_new(*res, "secret_string", json_string(s->string));
    }
    secret_value_free(s);
    return ok;
}

static bool a_secrets_create_secret(aws_client *c, json_t **res, aws_error *err)
{
    char arn[512] = "";
    bool ok = secrets_create_secret(c, arg("name"), arg("secret_string"), arn, sizeof(arn), err);
    if (ok) *res = json_pack("{s:s}", "arn", arn);
    return ok;
}

static const struct {
    const char *name;
    action_fn fn;
} ACTIONS[] = {
    {"endpoints", a_endpoints},
    {"describe_db_instances", a_describe_db_instances},
    {"describe_db_instance", a_describe_db_instance},
    {"create_db_instance", a_create_db_instance},
    {"modify_db_instance", a_modify_db_instance},
    {"reboot_db_instance", a_reboot_db_instance},
    {"stop_db_instance", a_stop_db_instance},
    {"start_db_instance", a_start_db_instance},
    {"delete_db_instance", a_delete_db_instance},
    {"create_db_instance_read_replica", a_create_db_instance_read_replica},
    {"create_db_snapshot", a_create_db_snapshot},
    {"describe_db_snapshots", a_describe_db_snapshots},
    {"describe_db_snapshot", a_describe_db_snapshot},
    {"copy_db_snapshot", a_copy_db_snapshot},
    {"delete_db_snapshot", a_delete_db_snapshot},
    {"restore_db_instance_from_db_snapshot", a_restore_db_instance_from_db_snapshot},
    {"describe_db_clusters", a_describe_db_clusters},
    {"describe_db_cluster", a_describe_db_cluster},
    {"create_db_cluster", a_create_db_cluster},
    {"modify_db_cluster", a_modify_db_cluster},
    {"delete_db_cluster", a_delete_db_cluster},
    {"stop_db_cluster", a_stop_db_cluster},
    {"start_db_cluster", a_start_db_cluster},
    {"restore_db_cluster_from_snapshot", a_restore_db_cluster_from_snapshot},
    {"create_db_cluster_snapshot", a_create_db_cluster_snapshot},
    {"describe_db_cluster_snapshots", a_describe_db_cluster_snapshots},
    {"describe_db_cluster_snapshot", a_describe_db_cluster_snapshot},
    {"copy_db_cluster_snapshot", a_copy_db_cluster_snapshot},
    {"delete_db_cluster_snapshot", a_delete_db_cluster_snapshot},
    {"describe_db_cluster_parameters", a_describe_db_cluster_parameters},
    {"describe_db_parameter_groups", a_describe_db_parameter_groups},
    {"describe_db_parameters", a_describe_db_parameters},
    {"modify_db_parameter_group", a_modify_db_parameter_group},
    {"describe_db_log_files", a_describe_db_log_files},
    {"download_db_log_file_portion", a_download_db_log_file_portion},
    {"describe_events", a_describe_events},
    {"add_tags_to_resource", a_add_tags_to_resource},
    {"list_tags_for_resource", a_list_tags_for_resource},
    {"describe_account_attributes", a_describe_account_attributes},
    {"create_db_proxy", a_create_db_proxy},
    {"describe_db_proxies", a_describe_db_proxies},
    {"register_db_proxy_targets", a_register_db_proxy_targets},
    {"deregister_db_proxy_targets", a_deregister_db_proxy_targets},
    {"describe_db_proxy_targets", a_describe_db_proxy_targets},
    {"register_db_proxy_cluster", a_register_db_proxy_cluster},
    {"deregister_db_proxy_cluster", a_deregister_db_proxy_cluster},
    {"kms_describe_key", a_kms_describe_key},
    {"kms_create_key", a_kms_create_key},
    {"kms_create_alias", a_kms_create_alias},
    {"kms_list_aliases", a_kms_list_aliases},
    {"sts_get_caller_identity", a_sts_get_caller_identity},
    {"sts_assume_role", a_sts_assume_role},
    {"sts_assume_role_with_web_identity", a_sts_assume_role_with_web_identity},
    {"secrets_get_value", a_secrets_get_value},
    {"secrets_create_secret", a_secrets_create_secret},
};

static int usage(void)
{
    fprintf(stderr, "usage: fc_aws_call [--role-arn ARN] [--profile P] [--max-attempts N] "
                    "[--base-ms N] [--cap-ms N] [--quota N] [--timeout-ms N] [--show-secrets] "
                    "ACTION [key=value ...]\nactions:");
    for (size_t i = 0; i < FC_ARRAY_LEN(ACTIONS); i++) fprintf(stderr, " %s", ACTIONS[i].name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    aws_session_opts so;
    aws_client_opts *o = &so.client;
    aws_error err;
    const char *action = NULL;
    int i = 1;
    memset(&so, 0, sizeof(so));
    log_init("fc_aws_call");
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--show-secrets")) { g_show_secrets = true; continue; }
        if (!v) return usage();
        if (!strcmp(a, "--role-arn")) so.creds.role_arn = v;
        else if (!strcmp(a, "--profile")) so.creds.profile = v;
        else if (!strcmp(a, "--max-attempts")) o->retry.max_attempts = atoi(v);
        else if (!strcmp(a, "--base-ms")) o->retry.base_ms = atoll(v);
        else if (!strcmp(a, "--cap-ms")) o->retry.cap_ms = atoll(v);
        else if (!strcmp(a, "--quota")) o->retry.quota_max = atoi(v);
        else if (!strcmp(a, "--timeout-ms")) o->timeout_ms = atoll(v);
        else return usage();
        i++;
    }
    if (i >= argc) return usage();
    action = argv[i++];
    for (; i < argc && g_args.n < MAX_ARGS; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return usage();
        *eq = 0;
        g_args.k[g_args.n] = argv[i];
        g_args.v[g_args.n++] = eq + 1;
    }
    action_fn fn = NULL;
    for (size_t k = 0; k < FC_ARRAY_LEN(ACTIONS); k++)
        if (!strcmp(ACTIONS[k].name, action)) fn = ACTIONS[k].fn;
    if (!fn) return usage();

    g_calls = json_array();
    aws_session *sess = aws_session_new(&so, &err);
    aws_client *c = aws_session_client(sess);
    json_t *res = NULL;
    bool ok = false;
    if (c) {
        aws_hooks h = {.on_call = on_call, .on_throttle = on_throttle};
        aws_client_set_hooks(c, &h);
        ok = fn(c, &res, &err);
    }
    json_t *out = json_pack("{s:b,s:o,s:o,s:o}", "ok", ok, "result", res ? res : json_null(),
                            "error",
                            ok ? json_null()
                               : json_pack("{s:s,s:s,s:s,s:i,s:s,s:b,s:b}", "code", err.code, "message",
                                           err.message, "request_id", err.request_id,
                                           "http_status", err.http_status, "kind",
                                           aws_err_kind_name(err.kind), "already_exists",
                                           rds_err_already_exists(&err), "invalid_state",
                                           rds_err_invalid_state(&err)),
                            "calls", g_calls);
    json_object_set_new(out, "retry_tokens", json_integer(c ? aws_client_retry_tokens(c) : 0));
    char *text = json_dumps(out, JSON_COMPACT);
    if (text) puts(text);
    free(text);
    json_decref(out);
    aws_session_free(sess);
    return ok ? 0 : 1;
}
