/* rds_int — private to the rds*.c files of lib/aws: what the typed RDS
 * calls share (rds.c) and the four element kinds the Describe paginator
 * serves (rds_instances.c, rds_snapshots.c, rds_clusters.c). Not for use
 * outside them, except the element parsers that tests/unit/test_rds_parse.c
 * and tests/fuzz/fuzz_awsxml.c drive. */
#ifndef FC_RDS_INT_H
#define FC_RDS_INT_H

#include <stddef.h>

#include "rds.h"

#define RDS_VERSION "2014-10-31"

/* Append one zeroed element to the dynamic array *arrp points at; on
 * allocation failure the array is left as it was. */
bool rds_push(void *arrp, size_t *n, size_t elem);
#define PUSH(arr, n) rds_push(&(arr), &(n), sizeof(*(arr)))
void rds_oom(aws_error *err);

/* request helpers */
void rds_add_tags(aws_query *q, const char *prefix, const aws_tag *tags, size_t n);
void rds_add_filters(aws_query *q, const aws_filter *f, size_t n);
void rds_add_tri(aws_query *q, const char *key, int v);
void rds_add_opt_int(aws_query *q, const char *key, int v, bool zero_is_unset);
bool rds_parse_tags(const aws_xml_node *list, aws_tag **tags, size_t *n);
/* VpcSecurityGroups/VpcSecurityGroupMembership/VpcSecurityGroupId of n. */
bool rds_parse_sg_ids(const aws_xml_node *n, char (**ids)[32], size_t *count);
/* SkipFinalSnapshot=true when final_snapshot_id is NULL, else
 * FinalDBSnapshotIdentifier (DeleteDBInstance, DeleteDBCluster). */
void rds_add_final_snapshot(aws_query *q, const char *final_snapshot_id);
/* CopyDBSnapshot / CopyDBClusterSnapshot: the source and target under their
 * keys, KmsKeyId, CopyTags, Tags. */
void rds_add_copy(aws_query *q, const rds_copy_snapshot_opts *o, const char *source_key, const char *target_key);

/* ---- table-driven element parsing ---- */
/* One scalar member of a result struct: the XML path under the element,
 * what it holds, and where it goes. A missing text leaves "", a missing
 * number or boolean leaves the member as it was. */
typedef enum { RDS_F_TEXT, RDS_F_BOOL, RDS_F_INT, RDS_F_I64 } rds_field_kind;
typedef struct rds_field {
    const char *path;
    rds_field_kind kind;
    size_t off, cap;
} rds_field;
#define RDS_FT(T, path, m) {path, RDS_F_TEXT, offsetof(T, m), sizeof(((T *)0)->m)}
#define RDS_FB(T, path, m) {path, RDS_F_BOOL, offsetof(T, m), sizeof(bool)}
#define RDS_FI(T, path, m) {path, RDS_F_INT, offsetof(T, m), sizeof(int)}
#define RDS_FL(T, path, m) {path, RDS_F_I64, offsetof(T, m), sizeof(int64_t)}
void rds_parse_fields(const aws_xml_node *n, void *dst, const rds_field *f, size_t nf);

/* The element parsers (false only when out of memory) and what frees what
 * one element owns; exported for tests/fuzz/fuzz_awsxml.c. */
bool rds_instance_parse(const aws_xml_node *n, rds_instance *d);
void rds_instance_clear(rds_instance *d);
bool rds_cluster_parse(const aws_xml_node *n, rds_cluster *d);
void rds_cluster_clear(rds_cluster *d);
bool rds_cluster_snapshot_parse(const aws_xml_node *n, rds_cluster_snapshot *d);

/* Run q and parse <Result>/<elem> with parse into a fresh object of size sz. */
typedef bool (*parse_fn)(const aws_xml_node *n, void *dst);
bool rds_call_one(aws_client *c, const char *action, aws_query *q, const char *elem, parse_fn parse, size_t sz,
                  void (*free_fn)(void *), void **out, aws_error *err);
/* One DBInstance / DBSnapshot / DBCluster / DBClusterSnapshot result
 * (rds_instances.c, rds_snapshots.c, rds_clusters.c). */
bool rds_instance_call(aws_client *c, const char *action, aws_query *q, rds_instance **out, aws_error *err);
bool rds_snapshot_call(aws_client *c, const char *action, aws_query *q, rds_snapshot **out, aws_error *err);
bool rds_cluster_call(aws_client *c, const char *action, aws_query *q, rds_cluster **out, aws_error *err);
bool rds_cluster_snapshot_call(aws_client *c, const char *action, aws_query *q, rds_cluster_snapshot **out,
                               aws_error *err);

/* ---- the Describe paginator ---- */
/* One paginator serves the four Describe calls. rds_instance_list,
 * rds_snapshot_list, rds_cluster_list and rds_cluster_snapshot_list share
 * one shape ({T *v; size_t n; char marker[];}): a list_kind says where
 * those fields are, how big one element is, how to parse and clear one, and
 * which callback type a caller's _each passes. */
typedef struct list_kind {
    const char *action;         /* DescribeDBInstances */
    const char *id_key;         /* DBInstanceIdentifier */
    const char *owner_key;      /* snapshots: DBInstanceIdentifier / DBClusterIdentifier; else NULL */
    size_t owner_off;           /* where the owner's id is in rds_describe_opts */
    const char *path;           /* DBInstances/DBInstance */
    const char *not_found;      /* error code when a single describe finds nothing */
    const char *noun;           /* DBInstance */
    size_t elem;                /* sizeof(rds_instance) */
    size_t list_size, off_v, off_n, off_marker, marker_cap;
    parse_fn parse;
    void (*clear)(void *elem);  /* free what one element owns, not the element */
} list_kind;

#define LIST_FIELDS(LT) sizeof(LT), offsetof(LT, v), offsetof(LT, n), offsetof(LT, marker), \
                        sizeof(((LT *)0)->marker)

/* Where a page goes: a caller's typed callback, or an internal one. */
typedef struct page_sink {
    rds_instance_page_fn instances;
    rds_snapshot_page_fn snapshots;
    rds_cluster_page_fn clusters;
    rds_cluster_snapshot_page_fn cluster_snapshots;
    bool (*internal)(void *ud, void *list);
    void *ud;
} page_sink;

/* One page into a fresh list of the kind's type; every page to the sink;
 * every page in one list; the one element named id (AWS_ERR_NOT_FOUND when
 * none). Lists and elements are the caller's to free; NULL/false on failure. */
void *rds_list_page(aws_client *c, const list_kind *k, const rds_describe_opts *o, aws_error *err);
bool rds_list_each(aws_client *c, const list_kind *k, const rds_describe_opts *o, const page_sink *s,
                   aws_error *err);
void *rds_list_all(aws_client *c, const list_kind *k, const rds_describe_opts *o, aws_error *err);
void *rds_list_one(aws_client *c, const list_kind *k, const char *id, aws_error *err);
/* After a rename (ModifyDBInstance / ModifyDBCluster with a new identifier,
 * `to`) failed with e: whether an earlier attempt of it was carried out — e
 * is a NotFound of a retry after an attempt AWS may have carried out
 * (aws_client_last_call_ambiguous: its answer lost, a 5xx) and the kind's
 * element is there under `to`. *out (when out is not NULL) takes that
 * element (the caller frees it). Seen under AWS faults at time scale 0
 * (test_issue16_faults.py): a cutover failed at its rename and an abort at
 * its rename back. When the look-up of `to` itself fails other than by
 * NotFound (throttled, a 5xx), *e takes its error: a NotFound of the renamed
 * name would end the caller's step for good (test_offline_faults.py). */
bool rds_rename_carried_out(aws_client *c, const list_kind *k, const char *from, const char *to, aws_error *e,
                            void **out);
/* Free a list of the kind's type and what its elements own (NULL accepted). */
void rds_list_free(const list_kind *k, void *l);

/* The four public Describe forms of list kind K (declared in rds.h):
 * rds_describe_<PLURAL>_page, _each, _all and rds_describe_<ONE>, e.g.
 * RDS_DESCRIBE_FORMS(db_clusters, db_cluster, rds_cluster_list, rds_cluster,
 * rds_cluster_page_fn, clusters, K_CLUSTERS). SINK names the page_sink
 * member the caller's typed callback goes to. */
#define RDS_DESCRIBE_FORMS(PLURAL, ONE, LT, T, PAGE_FN, SINK, K)                                                 \
    bool rds_describe_##PLURAL##_page(aws_client *c, const rds_describe_opts *o, LT **out, aws_error *err)      \
    {                                                                                                            \
        return (*out = rds_list_page(c, &(K), o, err)) != NULL;                                                  \
    }                                                                                                            \
    bool rds_describe_##PLURAL##_each(aws_client *c, const rds_describe_opts *o, PAGE_FN fn, void *ud,          \
                                      aws_error *err)                                                            \
    {                                                                                                            \
        page_sink s = {.SINK = fn, .ud = ud};                                                                    \
        return rds_list_each(c, &(K), o, &s, err);                                                               \
    }                                                                                                            \
    bool rds_describe_##PLURAL##_all(aws_client *c, const rds_describe_opts *o, LT **out, aws_error *err)       \
    {                                                                                                            \
        return (*out = rds_list_all(c, &(K), o, err)) != NULL;                                                   \
    }                                                                                                            \
    bool rds_describe_##ONE(aws_client *c, const char *id, T **out, aws_error *err)                              \
    {                                                                                                            \
        return (*out = rds_list_one(c, &(K), id, err)) != NULL;                                                  \
    }

/* ---- every page of any other list ---- */
typedef void (*build_fn)(aws_query *q, const void *args);
typedef bool (*page_fn)(const aws_xml_node *result, void *acc);
bool rds_run_pages(aws_client *c, const char *action, build_fn build, const void *args, page_fn parse, void *acc,
                   aws_error *err);

#endif
