/* dms — typed AWS Database Migration Service calls (JSON 1.1, X-Amz-Target
 * AmazonDMSv20160101.*, SigV4 service `dms`; shapes of botocore's
 * dms/2016-01-01/service-2.json): replication instances (create, describe,
 * delete), endpoints (create, describe, delete), replication tasks (create,
 * describe, start, stop, delete) and DescribeTableStatistics.
 *
 * Errors go through awserr like every other service: ResourceNotFoundFault
 * is AWS_ERR_NOT_FOUND (awsretry.c), ResourceAlreadyExistsFault,
 * InvalidResourceStateFault, ResourceQuotaExceededFault are permanent (the
 * caller tells them apart by err->code), throttling and 5xx are retried by
 * the client.
 *
 * The request builders and response parsers are exposed (dms_build_*,
 * dms_parse_*) so the unit tests check them without a server. Results are
 * plain structs filled by the caller's storage, or heap lists freed by the
 * matching _free (accepts NULL). Passwords sent in an endpoint request are
 * never logged and the request is sent as secret (wiped buffers). */
#ifndef FC_DMS_H
#define FC_DMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "aws.h"

#define DMS_ID_MAX 256
#define DMS_ARN_MAX 512

/* ---- replication instances ---- */
typedef struct dms_instance_spec {
    const char *id;              /* ReplicationInstanceIdentifier */
    const char *instance_class;  /* ReplicationInstanceClass, e.g. dms.t3.medium */
    int allocated_storage;       /* GB; 0 = AWS's default */
    const char *subnet_group;    /* ReplicationSubnetGroupIdentifier; NULL = default */
    const char *const *security_groups; /* VpcSecurityGroupIds; may be NULL */
    size_t nsecurity_groups;
    const char *kms_key_id;      /* KmsKeyId of the instance's storage; NULL = aws/dms */
    bool multi_az;
    bool publicly_accessible;
    const char *const *tag_keys; /* Tags [{Key, Value}]; may be NULL */
    const char *const *tag_values;
    size_t ntags;
} dms_instance_spec;

typedef struct dms_instance {
    char id[DMS_ID_MAX];
    char arn[DMS_ARN_MAX];
    char status[32];             /* creating, available, modifying, deleting, failed, ... */
    char instance_class[64];
    int allocated_storage;
} dms_instance;

/* ---- endpoints ---- */
typedef struct dms_endpoint_spec {
    const char *id;              /* EndpointIdentifier */
    const char *type;            /* "source" | "target" */
    const char *engine;          /* EngineName: "postgres" */
    const char *server;          /* ServerName */
    int port;
    const char *database;        /* DatabaseName */
    const char *username;
    const char *password;        /* secret: never logged */
    const char *ssl_mode;        /* SslMode: none | require | verify-ca | verify-full; NULL = AWS's default */
    /* PostgreSQLSettings (NULL/false: not sent) */
    const char *slot_name;       /* SlotName */
    const char *plugin_name;     /* PluginName: no-preference | test-decoding | pglogical */
    bool heartbeat;              /* HeartbeatEnable */
    bool capture_ddls_set;       /* send CaptureDdls */
    bool capture_ddls;
    const char *const *tag_keys;
    const char *const *tag_values;
    size_t ntags;
} dms_endpoint_spec;

typedef struct dms_endpoint {
    char id[DMS_ID_MAX];
    char arn[DMS_ARN_MAX];
    char status[32];             /* active, creating, deleting */
    char type[16];               /* SOURCE | TARGET (as AWS answers) */
    char engine[32];
    char server[256];
    int port;
    char database[128];
    char slot_name[64];          /* PostgreSQLSettings.SlotName */
    char plugin_name[32];
} dms_endpoint;

/* ---- replication tasks ---- */
typedef struct dms_task_spec {
    const char *id;              /* ReplicationTaskIdentifier */
    const char *source_arn;
    const char *target_arn;
    const char *instance_arn;
    const char *migration_type;  /* full-load | cdc | full-load-and-cdc */
    const char *table_mappings;  /* JSON document as a string */
    const char *settings;        /* ReplicationTaskSettings JSON string; NULL = AWS's defaults */
    const char *cdc_start_position; /* e.g. "4AF/B00000D0"; NULL = not sent */
    const char *const *tag_keys;
    const char *const *tag_values;
    size_t ntags;
} dms_task_spec;

typedef struct dms_task_stats {
    int full_load_progress_percent;
    int64_t elapsed_ms;
    int tables_loaded, tables_loading, tables_queued, tables_errored;
} dms_task_stats;

typedef struct dms_task {
    char id[DMS_ID_MAX];
    char arn[DMS_ARN_MAX];
    char status[32];             /* creating, ready, starting, running, stopping, stopped, failed, deleting, ... */
    char stop_reason[128];
    char last_failure[512];      /* LastFailureMessage */
    char migration_type[32];
    char cdc_start_position[128];
    char recovery_checkpoint[256];
    char source_arn[DMS_ARN_MAX];
    char target_arn[DMS_ARN_MAX];
    char instance_arn[DMS_ARN_MAX];
    bool has_stats;
    dms_task_stats stats;
} dms_task;

typedef struct dms_table_stat {
    char schema[128];
    char table[128];
    int64_t inserts, deletes, updates, ddls, full_load_rows;
    int64_t applied_inserts, applied_deletes, applied_updates;
    char table_state[48];        /* "Before load", "Full load", "Table completed", "Table error", ... */
    char validation_state[48];   /* "Pending records", "Mismatched records", "No primary key", "Validated", ... */
    int64_t validation_pending, validation_failed, validation_suspended;
} dms_table_stat;

typedef struct dms_table_stats {
    dms_table_stat *v;
    size_t n;
} dms_table_stats;
void dms_table_stats_free(dms_table_stats *l);

/* ---- request builders and parsers (pure; unit-tested) ---- */
json_t *dms_build_create_instance(const dms_instance_spec *s);
json_t *dms_build_create_endpoint(const dms_endpoint_spec *s);
json_t *dms_build_create_task(const dms_task_spec *s);
/* {"Filters":[{"Name":filter,"Values":[value]}]} (+ Marker when not NULL/""). */
json_t *dms_build_filter(const char *filter, const char *value, const char *marker);
/* {"ReplicationTaskArn":arn,"StartReplicationTaskType":type[,"CdcStartPosition":pos]} */
json_t *dms_build_start_task(const char *arn, const char *type, const char *cdc_start_position);
bool dms_parse_instance(const json_t *o, dms_instance *out);
bool dms_parse_endpoint(const json_t *o, dms_endpoint *out);
bool dms_parse_task(const json_t *o, dms_task *out);
bool dms_parse_table_stat(const json_t *o, dms_table_stat *out);

/* ---- calls ---- */
/* Create: *out the new resource as AWS answers. An identifier already taken
 * fails with code ResourceAlreadyExistsFault (callers describe it then). */
bool dms_create_instance(aws_client *c, const dms_instance_spec *s, dms_instance *out, aws_error *err);
/* By identifier; AWS_ERR_NOT_FOUND when there is none. */
bool dms_describe_instance(aws_client *c, const char *id, dms_instance *out, aws_error *err);
bool dms_delete_instance(aws_client *c, const char *arn, aws_error *err);

bool dms_create_endpoint(aws_client *c, const dms_endpoint_spec *s, dms_endpoint *out, aws_error *err);
bool dms_describe_endpoint(aws_client *c, const char *id, dms_endpoint *out, aws_error *err);
bool dms_delete_endpoint(aws_client *c, const char *arn, aws_error *err);

bool dms_create_task(aws_client *c, const dms_task_spec *s, dms_task *out, aws_error *err);
bool dms_describe_task(aws_client *c, const char *id, dms_task *out, aws_error *err);
/* Tasks on one replication instance (filter replication-instance-arn): *n
 * of them (up to 10 pages); NOT_FOUND counts as 0. */
bool dms_count_tasks_on_instance(aws_client *c, const char *instance_arn, int *n, aws_error *err);
/* type: start-replication | resume-processing | reload-target;
 * cdc_start_position may be NULL. */
bool dms_start_task(aws_client *c, const char *arn, const char *type, const char *cdc_start_position,
                    dms_task *out, aws_error *err);
bool dms_stop_task(aws_client *c, const char *arn, dms_task *out, aws_error *err);
bool dms_delete_task(aws_client *c, const char *arn, aws_error *err);
/* Every table's statistics (walks Marker). */
bool dms_describe_table_statistics(aws_client *c, const char *task_arn, dms_table_stats **out, aws_error *err);

#endif
