/* rds — what the typed RDS calls share (see rds.h; the calls are in
 * rds_instances.c, rds_snapshots.c, rds_clusters.c, rds_proxies.c and
 * rds_misc.c): request helpers, the table-driven element parser, the tag and
 * security-group parsers, one-object calls, the error families, and the
 * paginators (one for DescribeDBInstances/DBSnapshots/DBClusters/
 * DBClusterSnapshots, one for every other list).
 * Parsing follows the botocore RDS model's locationNames (list members are
 * named, e.g. DBInstances/DBInstance, TagList/Tag; RDS Proxy lists use
 * "member"); request lists serialise the same way
 * (VpcSecurityGroupIds.VpcSecurityGroupId.N, Tags.Tag.N.Key, ...). */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rds_int.h"
#include "util.h"

bool rds_push(void *arrp, size_t *n, size_t elem)
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

void rds_oom(aws_error *err)
{
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed");
}

/* ---------------- request helpers ---------------- */
void rds_add_tags(aws_query *q, const char *prefix, const aws_tag *tags, size_t n)
{
    char key[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s.Tag.%zu.Key", prefix, i + 1);
        aws_query_add(q, key, tags[i].key);
        snprintf(key, sizeof(key), "%s.Tag.%zu.Value", prefix, i + 1);
        aws_query_add(q, key, tags[i].value);
    }
}

void rds_add_filters(aws_query *q, const aws_filter *f, size_t n)
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

void rds_add_tri(aws_query *q, const char *key, int v)
{
    if (v != RDS_UNSET) aws_query_add_bool(q, key, v != 0);
}

void rds_add_opt_int(aws_query *q, const char *key, int v, bool zero_is_unset)
{
    if (v == RDS_UNSET || (zero_is_unset && v == 0)) return;
    aws_query_add_int(q, key, v);
}

void rds_add_final_snapshot(aws_query *q, const char *final_snapshot_id)
{
    aws_query_add_bool(q, "SkipFinalSnapshot", final_snapshot_id == NULL);
    aws_query_add(q, "FinalDBSnapshotIdentifier", final_snapshot_id);
}

void rds_add_copy(aws_query *q, const rds_copy_snapshot_opts *o, const char *source_key, const char *target_key)
{
    aws_query_add(q, source_key, o->source_id);
    aws_query_add(q, target_key, o->target_id);
    aws_query_add(q, "KmsKeyId", o->kms_key_id);
    rds_add_tri(q, "CopyTags", o->copy_tags);
    rds_add_tags(q, "Tags", o->tags, o->ntags);
}

/* ---------------- error families ---------------- */
static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

bool rds_err_already_exists(const aws_error *e)
{
    return e && (ends_with(e->code, "AlreadyExists") || ends_with(e->code, "AlreadyExistsFault"));
}

bool rds_err_invalid_state(const aws_error *e)
{
    return e && aws_retry_is_busy(e->code);
}

/* ---------------- parsers ---------------- */
void rds_parse_fields(const aws_xml_node *n, void *dst, const rds_field *f, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        char *p = (char *)dst + f[i].off;
        int64_t v;
        bool b;
        switch (f[i].kind) {
        case RDS_F_TEXT: aws_xml_text(n, f[i].path, p, f[i].cap); break;
        case RDS_F_BOOL:
            if (aws_xml_bool(n, f[i].path, &b)) memcpy(p, &b, sizeof(b));
            break;
        case RDS_F_INT:
            if (aws_xml_int64(n, f[i].path, &v)) {
                int iv = (int)v;
                memcpy(p, &iv, sizeof(iv));
            }
            break;
        case RDS_F_I64:
            if (aws_xml_int64(n, f[i].path, &v)) memcpy(p, &v, sizeof(v));
            break;
        }
    }
}

bool rds_parse_sg_ids(const aws_xml_node *n, char (**ids)[32], size_t *count)
{
    for (const aws_xml_node *g = aws_xml_find(n, "VpcSecurityGroups/VpcSecurityGroupMembership"); g;
         g = aws_xml_next_same(g)) {
        if (!PUSH(*ids, *count)) return false;
        aws_xml_text(g, "VpcSecurityGroupId", (*ids)[*count - 1], sizeof((*ids)[0]));
    }
    return true;
}

bool rds_parse_tags(const aws_xml_node *list, aws_tag **tags, size_t *n)
{
    for (const aws_xml_node *t = aws_xml_child(list, "Tag"); t; t = aws_xml_next_same(t)) {
        if (!PUSH(*tags, *n)) return false;
        aws_xml_text(t, "Key", (*tags)[*n - 1].key, sizeof((*tags)[0].key));
        aws_xml_text(t, "Value", (*tags)[*n - 1].value, sizeof((*tags)[0].value));
    }
    return true;
}

/* ---------------- single-object calls ---------------- */
bool rds_call_one(aws_client *c, const char *action, aws_query *q, const char *elem,
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
        rds_oom(err);
        goto cleanup;
    }
    if (!parse(n, obj)) {
        rds_oom(err);
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

/* ---------------- describe instances / snapshots / clusters / cluster snapshots ---------------- */

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

void rds_list_free(const list_kind *k, void *l)
{
    if (!l) return;
    char *v = list_v(k, l);
    for (size_t i = 0; i < *list_n(k, l); i++) k->clear(v + i * k->elem);
    free(v);
    free(l);
}

static void describe_query(aws_query *q, const list_kind *k, const rds_describe_opts *o, const char *marker)
{
    aws_query_init(q, k->action, RDS_VERSION);
    if (!o) return;
    aws_query_add(q, k->id_key, o->id);
    if (k->owner_key) {
        const char *owner;
        memcpy(&owner, (const char *)o + k->owner_off, sizeof(owner));
        aws_query_add(q, k->owner_key, owner);
    }
    aws_query_add(q, "SnapshotType", o->snapshot_type);
    rds_add_filters(q, o->filters, o->nfilters);
    if (o->max_records > 0) aws_query_add_int(q, "MaxRecords", o->max_records);
    if (marker && *marker) aws_query_add(q, "Marker", marker);
}

static bool sink_call(const page_sink *s, void *list)
{
    if (s->instances) return s->instances(s->ud, list);
    if (s->snapshots) return s->snapshots(s->ud, list);
    if (s->clusters) return s->clusters(s->ud, list);
    if (s->cluster_snapshots) return s->cluster_snapshots(s->ud, list);
    return s->internal(s->ud, list);
}

/* One page into a fresh list of the kind's type (caller frees); NULL on
 * failure. The typed wrappers assign the result, so no T ** is written
 * through a void **. */
void *rds_list_page(aws_client *c, const list_kind *k, const rds_describe_opts *o, aws_error *err)
{
    aws_query q;
    aws_xml *x = NULL;
    void *l = NULL, *out = NULL;
    describe_query(&q, k, o, o ? o->marker : NULL);
    if (!aws_query_call(c, AWS_SVC_RDS, k->action, &q, &x, err)) goto cleanup;
    const aws_xml_node *r = aws_query_result(x, k->action);
    if (!(l = calloc(1, k->list_size))) goto nomem;
    for (const aws_xml_node *n = aws_xml_find(r, k->path); n; n = aws_xml_next_same(n)) {
        void *v = list_v(k, l);
        size_t *cnt = list_n(k, l);
        bool pushed = rds_push(&v, cnt, k->elem);
        list_set_v(k, l, v);
        if (!pushed || !k->parse(n, (char *)v + (*cnt - 1) * k->elem)) goto nomem;
    }
    aws_xml_text(r, "Marker", list_marker(k, l), k->marker_cap);
    out = l;
    l = NULL;
    goto cleanup;
nomem:
    rds_oom(err);
cleanup:
    rds_list_free(k, l);
    aws_xml_free(x);
    aws_query_free(&q);
    return out;
}

/* Every page to the sink, following Marker (bounded, and stopping on a
 * repeated marker). */
bool rds_list_each(aws_client *c, const list_kind *k, const rds_describe_opts *o, const page_sink *s,
                      aws_error *err)
{
    rds_describe_opts po;
    char marker[1024] = "";
    memset(&po, 0, sizeof(po));
    if (o) po = *o;
    for (int page = 0; page < RDS_MAX_PAGES; page++) {
        po.marker = marker[0] ? marker : NULL;
        void *l = rds_list_page(c, k, &po, err);
        if (!l) return false;
        const char *m = list_marker(k, l);
        bool more = sink_call(s, l) && m[0] && strcmp(m, marker);
        fc_strlcpy(marker, m, sizeof(marker));
        rds_list_free(k, l);
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
void *rds_list_all(aws_client *c, const list_kind *k, const rds_describe_opts *o, aws_error *err)
{
    list_acc a = {.k = k, .all = calloc(1, k->list_size)};
    page_sink s = {.internal = acc_page, .ud = &a};
    if (!a.all) {
        rds_oom(err);
        return NULL;
    }
    if (!rds_list_each(c, k, o, &s, err) || a.failed) {
        if (a.failed) rds_oom(err);
        rds_list_free(k, a.all);
        return NULL;
    }
    return a.all;
}

/* The one element named id (malloc'ed, caller frees); NULL on failure,
 * AWS_ERR_NOT_FOUND when there is none. */
void *rds_list_one(aws_client *c, const list_kind *k, const char *id, aws_error *err)
{
    rds_describe_opts o = {.id = id};
    void *l = rds_list_page(c, k, &o, err);
    if (!l) return NULL;
    size_t *n = list_n(k, l);
    void *one = *n ? malloc(k->elem) : NULL;
    if (*n == 0)
        aws_error_set(err, AWS_ERR_NOT_FOUND, 200, k->not_found, "%s %s not found", k->noun, id);
    else if (!one)
        rds_oom(err);
    if (one) {
        char *v = list_v(k, l);
        memcpy(one, v, k->elem);
        for (size_t i = 1; i < *n; i++) k->clear(v + i * k->elem);
        *n = 0; /* ownership of the first element's arrays moved to one */
    }
    rds_list_free(k, l);
    return one;
}

bool rds_rename_carried_out(aws_client *c, const list_kind *k, const char *from, const char *to, aws_error *e,
                            void **out)
{
    if (!to || e->kind != AWS_ERR_NOT_FOUND || !aws_client_last_call_ambiguous(c)) return false;
    aws_error e2;
    aws_error_clear(&e2);
    void *now = rds_list_one(c, k, to, &e2);
    if (!now) {
        /* not there: the NotFound stands; the look-up failed otherwise: not
         * known either way, so its error (for now, as a rule) replaces the
         * NotFound, which would end the caller's step for good */
        if (e2.kind != AWS_ERR_NOT_FOUND) {
            log_info("aws rename: whether an earlier attempt was carried out is not known yet", "kind=%s from=%s "
                     "to=%s code=%s", k->noun, from, to, e2.code);
            *e = e2;
        }
        return false;
    }
    log_info("aws rename: an earlier attempt was carried out (its answer lost)", "kind=%s from=%s to=%s", k->noun,
             from, to);
    if (out) {
        *out = now;
    } else {
        k->clear(now);
        free(now);
    }
    return true;
}

/* ---------------- generic "every page" lists ---------------- */
bool rds_run_pages(aws_client *c, const char *action, build_fn build, const void *args,
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
            rds_oom(err);
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

