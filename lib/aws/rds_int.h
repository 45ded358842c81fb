/* rds_int — private to the rds*.c files of lib/aws: what the typed RDS
 * calls share (rds.c) and the two element kinds the Describe paginator
 * serves (rds_instances.c, rds_snapshots.c). Not for use outside them. */
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

/* Run q and parse <Result>/<elem> with parse into a fresh object of size sz. */
typedef bool (*parse_fn)(const aws_xml_node *n, void *dst);
bool rds_call_one(aws_client *c, const char *action, aws_query *q, const char *elem, parse_fn parse, size_t sz,
                  void (*free_fn)(void *), void **out, aws_error *err);
/* One DBInstance / DBSnapshot result (rds_instances.c, rds_snapshots.c). */
bool rds_instance_call(aws_client *c, const char *action, aws_query *q, rds_instance **out, aws_error *err);
bool rds_snapshot_call(aws_client *c, const char *action, aws_query *q, rds_snapshot **out, aws_error *err);

/* ---- the Describe paginator ---- */
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

#define LIST_FIELDS(LT) sizeof(LT), offsetof(LT, v), offsetof(LT, n), offsetof(LT, marker), \
                        sizeof(((LT *)0)->marker)

/* Where a page goes: a caller's typed callback, or an internal one. */
typedef struct page_sink {
    rds_instance_page_fn instances;
    rds_snapshot_page_fn snapshots;
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

/* ---- every page of any other list ---- */
typedef void (*build_fn)(aws_query *q, const void *args);
typedef bool (*page_fn)(const aws_xml_node *result, void *acc);
bool rds_run_pages(aws_client *c, const char *action, build_fn build, const void *args, page_fn parse, void *acc,
                   aws_error *err);

#endif
