/* rds — typed RDS calls (Query protocol, API 2014-10-31). Each call is
 * rds_<action in snake case>; parameters come as a small opts struct (unset
 * optional fields are NULL, or RDS_UNSET for tri-state ints) and results as
 * heap objects the caller frees with the matching _free (all accept NULL).
 * Describe calls have three forms: one page (_page, with the next Marker),
 * every page to a callback (_each), or everything (_all). Paging stops at
 * RDS_MAX_PAGES or on a repeated marker so a broken server cannot loop us.
 * A missing resource fails with err->kind == AWS_ERR_NOT_FOUND; the other
 * error families callers branch on have predicates (rds_err_*). Aurora
 * clusters and cluster snapshots: rds_clusters.c. */
#ifndef FC_RDS_H
#define FC_RDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"

#define RDS_UNSET (-1)        /* tri-state / optional integer not set */
#define RDS_MAX_PAGES 10000

typedef struct aws_tag {
    char key[128];
    char value[256];
} aws_tag;

/* Filter for Describe*: Filters.Filter.N.Name / .Values.Value.M */
typedef struct aws_filter {
    const char *name;
    const char *const *values;
    size_t nvalues;
} aws_filter;

typedef struct rds_param_group_status {
    char name[256];
    char apply_status[32];    /* in-sync, pending-reboot, applying */
} rds_param_group_status;

typedef struct rds_instance {
    char identifier[64];
    char resource_id[64];     /* DbiResourceId */
    char arn[256];
    char status[48];
    char pending_identifier[64]; /* PendingModifiedValues/DBInstanceIdentifier (a rename not yet applied) */
    char engine[32];
    char engine_version[32];
    char instance_class[48];
    int64_t allocated_storage;
    char storage_type[16];
    int64_t iops;
    char endpoint_address[256];
    int port;
    bool storage_encrypted;
    char kms_key_id[256];
    char storage_encryption_type[16]; /* none, sse-kms, sse-rds (AWS owned key); "" when not sent */
    char cluster_id[64];      /* DBClusterIdentifier: "" unless an Aurora member */
    int promotion_tier;       /* PromotionTier: RDS_UNSET when not sent */
    rds_param_group_status *param_groups;
    size_t n_param_groups;
    char option_group[256];
    char subnet_group[256];
    char (*vpc_sg_ids)[32];
    size_t n_vpc_sg_ids;
    bool multi_az;
    int backup_retention;
    bool deletion_protection;
    bool publicly_accessible;
    char master_username[64];
    char master_user_secret_arn[256];
    char (*read_replica_ids)[64];
    size_t n_read_replica_ids;
    char read_replica_source[256];
    aws_tag *tags;
    size_t n_tags;
    char db_name[64];
    char availability_zone[32];
    char create_time[40];
} rds_instance;
void rds_instance_free(rds_instance *i);

typedef struct rds_instance_list {
    rds_instance *v;
    size_t n;
    char marker[1024];        /* next page marker; "" on the last page */
} rds_instance_list;
void rds_instance_list_free(rds_instance_list *l);
/* The instance named id (NULL: the first, as an answer to a Describe by
 * identifier, which AWS names in lower case) moved out of l (malloc'ed,
 * caller frees with rds_instance_free; l keeps an emptied element);
 * NULL with AWS_ERR_NOT_FOUND when l has none, or on out of memory. */
rds_instance *rds_instance_list_take(rds_instance_list *l, const char *id, aws_error *err);

typedef struct rds_snapshot {
    char id[256];
    char arn[512];
    char instance_id[64];
    char status[32];
    int percent_progress;
    bool encrypted;
    char kms_key_id[256];
    char storage_encryption_type[16]; /* none, sse-kms, sse-rds; "" when not sent */
    int64_t allocated_storage;
    char snapshot_type[32];   /* manual, automated, ... */
    char create_time[40];
    char engine[32];
    char engine_version[32];
    char source_snapshot_id[512];
    aws_tag *tags;
    size_t n_tags;
} rds_snapshot;
void rds_snapshot_free(rds_snapshot *s);

typedef struct rds_snapshot_list {
    rds_snapshot *v;
    size_t n;
    char marker[1024];
} rds_snapshot_list;
void rds_snapshot_list_free(rds_snapshot_list *l);

typedef struct rds_log_file {
    char name[256];
    int64_t last_written;     /* epoch ms */
    int64_t size;
} rds_log_file;
typedef struct rds_log_file_list {
    rds_log_file *v;
    size_t n;
} rds_log_file_list;
void rds_log_file_list_free(rds_log_file_list *l);

typedef struct rds_log_portion {
    char *data;               /* LogFileData (may be ""), owned */
    size_t len;
    char marker[256];         /* pass back for the next portion */
    bool additional_data_pending;
} rds_log_portion;
void rds_log_portion_free(rds_log_portion *p);

typedef struct rds_parameter {
    char name[128];
    char *value;              /* NULL when the parameter has no value; owned */
    char apply_type[16];      /* static, dynamic */
    char apply_method[32];
    char source[16];          /* engine-default, system, user */
    char data_type[16];
    bool is_modifiable;
} rds_parameter;
typedef struct rds_parameter_list {
    rds_parameter *v;
    size_t n;
} rds_parameter_list;
void rds_parameter_list_free(rds_parameter_list *l);
/* The parameter named name in l, or NULL. */
const rds_parameter *rds_parameter_find(const rds_parameter_list *l, const char *name);

typedef struct rds_param_group {
    char name[256];
    char family[64];
    char description[512];
    char arn[512];
} rds_param_group;
typedef struct rds_param_group_list {
    rds_param_group *v;
    size_t n;
} rds_param_group_list;
void rds_param_group_list_free(rds_param_group_list *l);

typedef struct rds_quota {
    char name[64];
    int64_t used;
    int64_t max;
} rds_quota;
typedef struct rds_quota_list {
    rds_quota *v;
    size_t n;
} rds_quota_list;
void rds_quota_list_free(rds_quota_list *l);

typedef struct rds_event {
    char source_id[256];
    char source_type[32];
    char source_arn[512];
    char date[40];
    char categories[256];     /* comma-separated */
    char *message;            /* owned */
} rds_event;
typedef struct rds_event_list {
    rds_event *v;
    size_t n;
} rds_event_list;
void rds_event_list_free(rds_event_list *l);

typedef struct rds_tag_list {
    aws_tag *v;
    size_t n;
} rds_tag_list;
void rds_tag_list_free(rds_tag_list *l);

typedef struct rds_proxy {
    char name[64];
    char arn[512];
    char status[32];
    char engine_family[32];
    char endpoint[256];
    char role_arn[512];
    char vpc_id[64];
    bool require_tls;
} rds_proxy;
typedef struct rds_proxy_list {
    rds_proxy *v;
    size_t n;
} rds_proxy_list;
void rds_proxy_free(rds_proxy *p);
void rds_proxy_list_free(rds_proxy_list *l);

typedef struct rds_proxy_target {
    char target_arn[512];
    char endpoint[256];
    char rds_resource_id[64];   /* the instance identifier for RDS_INSTANCE targets, the cluster's for TRACKED_CLUSTER */
    char tracked_cluster_id[64]; /* the cluster a TRACKED_CLUSTER target and its members' targets belong to */
    int port;
    char type[32];              /* RDS_INSTANCE, RDS_SERVERLESS_ENDPOINT, TRACKED_CLUSTER */
    char role[32];
    char health_state[32];
    char health_reason[64];
} rds_proxy_target;
typedef struct rds_proxy_target_list {
    rds_proxy_target *v;
    size_t n;
} rds_proxy_target_list;
void rds_proxy_target_list_free(rds_proxy_target_list *l);

/* ---------------- instances ---------------- */
typedef struct rds_describe_opts {
    const char *id;             /* DBInstanceIdentifier / DBSnapshotIdentifier / DBClusterIdentifier /
                                   DBClusterSnapshotIdentifier */
    const char *instance_id;    /* snapshots: DBInstanceIdentifier */
    const char *cluster_id;     /* cluster snapshots: DBClusterIdentifier */
    const char *snapshot_type;  /* snapshots: manual, automated, shared, public, awsbackup */
    const aws_filter *filters;
    size_t nfilters;
    int max_records;            /* 0 = server default (100) */
    const char *marker;         /* _page only */
} rds_describe_opts;

/* Return false from a page callback to stop early (not an error). */
typedef bool (*rds_instance_page_fn)(void *ud, const rds_instance_list *page);
typedef bool (*rds_snapshot_page_fn)(void *ud, const rds_snapshot_list *page);

bool rds_describe_db_instances_page(aws_client *c, const rds_describe_opts *o,
                                    rds_instance_list **out, aws_error *err);
bool rds_describe_db_instances_each(aws_client *c, const rds_describe_opts *o,
                                    rds_instance_page_fn fn, void *ud, aws_error *err);
bool rds_describe_db_instances_all(aws_client *c, const rds_describe_opts *o,
                                   rds_instance_list **out, aws_error *err);
bool rds_describe_db_instance(aws_client *c, const char *id, rds_instance **out, aws_error *err);

/* An Aurora member (cluster_id set) takes its storage, encryption, master
 * user and backups from the cluster: leave those unset (RDS refuses them). */
typedef struct rds_create_instance_opts {
    const char *identifier;
    const char *cluster_id;         /* DBClusterIdentifier: join this cluster (writer first, then readers) */
    int promotion_tier;             /* PromotionTier 0-15 (members); RDS_UNSET = omit */
    const char *instance_class;
    const char *engine;
    const char *engine_version;
    int allocated_storage;          /* GiB; RDS_UNSET/0 = omit */
    const char *master_username;
    const char *master_password;    /* secret: the request buffer is wiped */
    bool manage_master_password;    /* ManageMasterUserPassword (Secrets Manager) */
    const char *db_name;
    int storage_encrypted;          /* RDS_UNSET, 0, 1 */
    const char *kms_key_id;
    const char *subnet_group;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    const char *param_group;
    const char *option_group;
    int port;                       /* RDS_UNSET/0 = omit */
    int multi_az;                   /* RDS_UNSET, 0, 1 */
    int backup_retention;           /* RDS_UNSET = omit */
    int deletion_protection;        /* RDS_UNSET, 0, 1 */
    int publicly_accessible;        /* RDS_UNSET, 0, 1 */
    const aws_tag *tags;
    size_t ntags;
} rds_create_instance_opts;
/* Initialise every tri-state field to RDS_UNSET (call before filling). */
void rds_create_instance_opts_init(rds_create_instance_opts *o);
bool rds_create_db_instance(aws_client *c, const rds_create_instance_opts *o, rds_instance **out,
                            aws_error *err);

typedef struct rds_modify_instance_opts {
    const char *identifier;
    const char *new_identifier;     /* rename */
    const char *instance_class;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    const char *param_group;
    const char *option_group;
    int backup_retention;           /* RDS_UNSET = omit */
    int deletion_protection;        /* RDS_UNSET, 0, 1 */
    const char *master_user_password; /* MasterUserPassword; secret: the request buffer is wiped */
    bool apply_immediately;
} rds_modify_instance_opts;
void rds_modify_instance_opts_init(rds_modify_instance_opts *o);
bool rds_modify_db_instance(aws_client *c, const rds_modify_instance_opts *o, rds_instance **out,
                            aws_error *err);

/* out may be NULL when the caller does not need the instance. */
bool rds_reboot_db_instance(aws_client *c, const char *id, bool force_failover,
                            rds_instance **out, aws_error *err);
bool rds_stop_db_instance(aws_client *c, const char *id, const char *snapshot_id,
                          rds_instance **out, aws_error *err);
bool rds_start_db_instance(aws_client *c, const char *id, rds_instance **out, aws_error *err);
/* final_snapshot_id NULL = SkipFinalSnapshot=true. */
bool rds_delete_db_instance(aws_client *c, const char *id, const char *final_snapshot_id,
                            rds_instance **out, aws_error *err);

typedef struct rds_read_replica_opts {
    const char *identifier;
    const char *source_identifier;
    const char *instance_class;
    const char *kms_key_id;
    const char *subnet_group;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    const char *param_group;
    int port;
    int multi_az;
    const aws_tag *tags;
    size_t ntags;
    const char *availability_zone;  /* ignored with multi_az (RDS refuses the pair) */
} rds_read_replica_opts;
bool rds_create_db_instance_read_replica(aws_client *c, const rds_read_replica_opts *o,
                                         rds_instance **out, aws_error *err);
/* PromoteReadReplica: the replica becomes a standalone instance (status
 * modifying, then available; ReadReplicaSourceDBInstanceIdentifier gone).
 * backup_retention RDS_UNSET = omit. Not a replica → InvalidDBInstanceState. */
bool rds_promote_read_replica(aws_client *c, const char *id, int backup_retention,
                              rds_instance **out, aws_error *err);

/* ---------------- snapshots ---------------- */
bool rds_create_db_snapshot(aws_client *c, const char *snapshot_id, const char *instance_id,
                            const aws_tag *tags, size_t ntags, rds_snapshot **out, aws_error *err);
bool rds_describe_db_snapshots_page(aws_client *c, const rds_describe_opts *o,
                                    rds_snapshot_list **out, aws_error *err);
bool rds_describe_db_snapshots_each(aws_client *c, const rds_describe_opts *o,
                                    rds_snapshot_page_fn fn, void *ud, aws_error *err);
bool rds_describe_db_snapshots_all(aws_client *c, const rds_describe_opts *o,
                                   rds_snapshot_list **out, aws_error *err);
bool rds_describe_db_snapshot(aws_client *c, const char *id, rds_snapshot **out, aws_error *err);

typedef struct rds_copy_snapshot_opts {
    const char *source_id;          /* identifier or ARN */
    const char *target_id;
    const char *kms_key_id;         /* encrypt the copy with this key */
    int copy_tags;                  /* RDS_UNSET, 0, 1 */
    const aws_tag *tags;
    size_t ntags;
} rds_copy_snapshot_opts;
bool rds_copy_db_snapshot(aws_client *c, const rds_copy_snapshot_opts *o, rds_snapshot **out,
                          aws_error *err);
bool rds_delete_db_snapshot(aws_client *c, const char *snapshot_id, rds_snapshot **out,
                            aws_error *err);

/* Sharing a manual snapshot with other accounts (attribute "restore"):
 * the account ids it is shared with ("all" when public), at most
 * RDS_MAX_SHARED read. */
#define RDS_MAX_SHARED 20
typedef struct rds_snapshot_accounts {
    char snapshot_id[256];
    char accounts[RDS_MAX_SHARED][16];
    size_t n;
} rds_snapshot_accounts;
void rds_snapshot_accounts_free(rds_snapshot_accounts *a);
/* ModifyDBSnapshotAttribute restore: add (or remove) one account id; out
 * (may be NULL) gets the accounts after the change. */
bool rds_share_db_snapshot(aws_client *c, const char *snapshot_id, const char *account, bool add,
                           rds_snapshot_accounts **out, aws_error *err);
/* ModifyDBClusterSnapshotAttribute restore: the same for a DB cluster snapshot. */
bool rds_share_db_cluster_snapshot(aws_client *c, const char *snapshot_id, const char *account, bool add,
                                   rds_snapshot_accounts **out, aws_error *err);
/* DescribeDBSnapshotAttributes: the accounts the snapshot is shared with. */
bool rds_describe_db_snapshot_accounts(aws_client *c, const char *snapshot_id, rds_snapshot_accounts **out,
                                       aws_error *err);
/* DescribeDBSubnetGroups of one name: *exists (false on
 * DBSubnetGroupNotFoundFault, which is not an error here). */
bool rds_db_subnet_group_exists(aws_client *c, const char *name, bool *exists, aws_error *err);
/* DescribeDBSubnetGroups of one name: its subnet ids (at most
 * RDS_MAX_SUBNETS); a missing group is an error (kind NOT_FOUND). */
#define RDS_MAX_SUBNETS 16
typedef struct rds_subnet_ids {
    char ids[RDS_MAX_SUBNETS][32];
    size_t n;
} rds_subnet_ids;
bool rds_db_subnet_group_subnets(aws_client *c, const char *name, rds_subnet_ids *out, aws_error *err);

typedef struct rds_restore_opts {
    const char *identifier;
    const char *snapshot_id;
    const char *instance_class;
    const char *subnet_group;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    const char *param_group;
    const char *option_group;
    int multi_az;                   /* RDS_UNSET, 0, 1 */
    int port;                       /* RDS_UNSET/0 = omit */
    int deletion_protection;        /* RDS_UNSET, 0, 1 */
    int publicly_accessible;        /* RDS_UNSET, 0, 1 */
    int backup_retention;           /* RDS_UNSET = omit (AWS: the snapshot's); days 0-35 */
    const char *storage_type;
    const aws_tag *tags;
    size_t ntags;
} rds_restore_opts;
void rds_restore_opts_init(rds_restore_opts *o);
bool rds_restore_db_instance_from_db_snapshot(aws_client *c, const rds_restore_opts *o,
                                              rds_instance **out, aws_error *err);

/* ---------------- parameters ---------------- */
/* name NULL = every group. */
bool rds_describe_db_parameter_groups(aws_client *c, const char *name, rds_param_group_list **out,
                                      aws_error *err);
/* source NULL = all (else "user", "system", "engine-default"); every page.
 * The cluster groups' twin is rds_describe_db_cluster_parameters. */
bool rds_describe_db_parameters(aws_client *c, const char *group, const char *source,
                                rds_parameter_list **out, aws_error *err);
typedef struct rds_param_change {
    const char *name;
    const char *value;
    const char *apply_method;       /* "immediate" or "pending-reboot"; NULL = immediate */
} rds_param_change;
bool rds_modify_db_parameter_group(aws_client *c, const char *group,
                                   const rds_param_change *changes, size_t n, aws_error *err);

/* ---------------- logs, events, tags, quotas ---------------- */
/* filename_contains may be NULL; every page. */
bool rds_describe_db_log_files(aws_client *c, const char *instance_id,
                               const char *filename_contains, rds_log_file_list **out,
                               aws_error *err);
/* marker NULL or "0" = from the start; number_of_lines 0 = server default. */
bool rds_download_db_log_file_portion(aws_client *c, const char *instance_id, const char *file,
                                      const char *marker, int number_of_lines,
                                      rds_log_portion **out, aws_error *err);

typedef struct rds_events_opts {
    const char *source_id;
    const char *source_type;        /* db-instance, db-snapshot, ... */
    int duration_min;               /* 0 = server default (60) */
    const char *start_time;         /* ISO 8601, optional */
    const char *end_time;
    const char *const *categories;
    size_t ncategories;
} rds_events_opts;
bool rds_describe_events(aws_client *c, const rds_events_opts *o, rds_event_list **out,
                         aws_error *err);

bool rds_add_tags_to_resource(aws_client *c, const char *arn, const aws_tag *tags, size_t ntags,
                              aws_error *err);
bool rds_list_tags_for_resource(aws_client *c, const char *arn, rds_tag_list **out,
                                aws_error *err);
bool rds_describe_account_attributes(aws_client *c, rds_quota_list **out, aws_error *err);
/* The quota named name ("DBInstances", "ManualSnapshots", "DBClusters",
 * "ManualClusterSnapshots", ...) or NULL. */
const rds_quota *rds_quota_find(const rds_quota_list *l, const char *name);

/* ================ Aurora DB clusters (rds_clusters.c) ================
 * A cluster holds no data of its own on the API: members are DB instances
 * (rds_create_db_instance with cluster_id adds the writer, then readers;
 * rds_describe_db_instance reports their cluster_id, promotion_tier and the
 * cluster's encryption). A restore from a cluster snapshot creates no
 * instance. Not found: DBClusterNotFoundFault, DBClusterSnapshotNotFoundFault. */
typedef struct rds_cluster_member {
    char instance_id[64];
    bool is_writer;                 /* IsClusterWriter */
    int promotion_tier;             /* PromotionTier; RDS_UNSET when not sent */
    char param_group_status[32];    /* DBClusterParameterGroupStatus: in-sync, pending-reboot, applying */
} rds_cluster_member;

typedef struct rds_cluster {
    char identifier[64];
    char resource_id[64];           /* DbClusterResourceId */
    char arn[256];
    char status[48];
    char engine[32];
    char engine_version[32];
    char endpoint[256];             /* Endpoint: the writer */
    char reader_endpoint[256];      /* ReaderEndpoint */
    int port;
    char master_username[64];
    char master_user_secret_arn[256]; /* MasterUserSecret/SecretArn (RDS-managed password) */
    char param_group[256];          /* DBClusterParameterGroup */
    char subnet_group[256];         /* DBSubnetGroup (a name for clusters) */
    char (*vpc_sg_ids)[32];
    size_t n_vpc_sg_ids;
    bool storage_encrypted;
    char kms_key_id[256];           /* "" for an AWS owned key (sse-rds) */
    char storage_encryption_type[16]; /* none, sse-kms, sse-rds; "" when not sent */
    bool deletion_protection;
    int backup_retention;
    bool copy_tags_to_snapshot;
    bool multi_az;
    rds_cluster_member *members;    /* DBClusterMembers, in the server's order */
    size_t n_members;
    aws_tag *tags;
    size_t n_tags;
    char db_name[64];               /* DatabaseName */
    char pending_identifier[64];    /* PendingModifiedValues/DBClusterIdentifier (a rename not yet done) */
    char create_time[40];
} rds_cluster;
void rds_cluster_free(rds_cluster *c);
/* The writer among c's members, or NULL (no member yet, or mid-failover). */
const rds_cluster_member *rds_cluster_writer(const rds_cluster *c);

typedef struct rds_cluster_list {
    rds_cluster *v;
    size_t n;
    char marker[1024];              /* next page marker; "" on the last page */
} rds_cluster_list;
void rds_cluster_list_free(rds_cluster_list *l);

typedef struct rds_cluster_snapshot {
    char id[256];
    char arn[512];
    char cluster_id[64];
    char status[32];                /* creating, available, failed, ... */
    int percent_progress;
    bool encrypted;                 /* StorageEncrypted */
    char kms_key_id[256];
    char storage_encryption_type[16];
    char snapshot_type[32];
    char create_time[40];
    char engine[32];
    char engine_version[32];
    char master_username[64];
    int port;
    char source_arn[512];           /* SourceDBClusterSnapshotArn (copies) */
    aws_tag *tags;
    size_t n_tags;
} rds_cluster_snapshot;
void rds_cluster_snapshot_free(rds_cluster_snapshot *s);

typedef struct rds_cluster_snapshot_list {
    rds_cluster_snapshot *v;
    size_t n;
    char marker[1024];
} rds_cluster_snapshot_list;
void rds_cluster_snapshot_list_free(rds_cluster_snapshot_list *l);

typedef bool (*rds_cluster_page_fn)(void *ud, const rds_cluster_list *page);
typedef bool (*rds_cluster_snapshot_page_fn)(void *ud, const rds_cluster_snapshot_list *page);

/* ---------------- clusters ---------------- */
/* o->id: DBClusterIdentifier; filters e.g. db-cluster-id, engine. */
bool rds_describe_db_clusters_page(aws_client *c, const rds_describe_opts *o, rds_cluster_list **out,
                                   aws_error *err);
bool rds_describe_db_clusters_each(aws_client *c, const rds_describe_opts *o, rds_cluster_page_fn fn, void *ud,
                                   aws_error *err);
bool rds_describe_db_clusters_all(aws_client *c, const rds_describe_opts *o, rds_cluster_list **out,
                                  aws_error *err);
bool rds_describe_db_cluster(aws_client *c, const char *id, rds_cluster **out, aws_error *err);

typedef struct rds_create_cluster_opts {
    const char *identifier;
    const char *engine;             /* NULL = aurora-postgresql */
    const char *engine_version;
    const char *master_username;
    const char *master_password;    /* secret: the request buffer is wiped */
    const char *db_name;            /* DatabaseName */
    int storage_encrypted;          /* RDS_UNSET, 0, 1 */
    const char *kms_key_id;
    const char *param_group;        /* DBClusterParameterGroupName */
    const char *subnet_group;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    int port;                       /* RDS_UNSET/0 = omit */
    int backup_retention;           /* RDS_UNSET = omit */
    int deletion_protection;        /* RDS_UNSET, 0, 1 */
    int copy_tags_to_snapshot;      /* RDS_UNSET, 0, 1 */
    const aws_tag *tags;
    size_t ntags;
} rds_create_cluster_opts;
void rds_create_cluster_opts_init(rds_create_cluster_opts *o);
/* The cluster has no instance: add them with rds_create_db_instance. */
bool rds_create_db_cluster(aws_client *c, const rds_create_cluster_opts *o, rds_cluster **out, aws_error *err);

typedef struct rds_modify_cluster_opts {
    const char *identifier;
    const char *new_identifier;     /* NewDBClusterIdentifier: rename (members keep their names) */
    const char *param_group;        /* DBClusterParameterGroupName */
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    int backup_retention;           /* RDS_UNSET = omit */
    int deletion_protection;        /* RDS_UNSET, 0, 1 */
    bool apply_immediately;         /* without it a rename waits in pending_identifier */
} rds_modify_cluster_opts;
void rds_modify_cluster_opts_init(rds_modify_cluster_opts *o);
bool rds_modify_db_cluster(aws_client *c, const rds_modify_cluster_opts *o, rds_cluster **out, aws_error *err);

/* RDS refuses while members exist (InvalidDBClusterStateFault): delete them
 * first. final_snapshot_id NULL = SkipFinalSnapshot=true, else a cluster
 * snapshot of that name. out may be NULL (also for stop/start). */
bool rds_delete_db_cluster(aws_client *c, const char *id, const char *final_snapshot_id, rds_cluster **out,
                           aws_error *err);
bool rds_stop_db_cluster(aws_client *c, const char *id, rds_cluster **out, aws_error *err);
bool rds_start_db_cluster(aws_client *c, const char *id, rds_cluster **out, aws_error *err);

typedef struct rds_restore_cluster_opts {
    const char *identifier;
    const char *snapshot_id;        /* cluster snapshot identifier or ARN */
    const char *engine;             /* required by RDS; NULL = aurora-postgresql */
    const char *engine_version;
    const char *kms_key_id;         /* encrypt the new cluster with this key, whatever the snapshot's */
    const char *param_group;        /* DBClusterParameterGroupName */
    const char *subnet_group;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    int port;                       /* RDS_UNSET/0 = omit */
    int deletion_protection;        /* RDS_UNSET, 0, 1 */
    int copy_tags_to_snapshot;      /* RDS_UNSET, 0, 1 */
    const aws_tag *tags;
    size_t ntags;
} rds_restore_cluster_opts;
void rds_restore_cluster_opts_init(rds_restore_cluster_opts *o);
/* Creates no instance: add the writer and readers with rds_create_db_instance. */
bool rds_restore_db_cluster_from_snapshot(aws_client *c, const rds_restore_cluster_opts *o, rds_cluster **out,
                                          aws_error *err);

/* ---------------- cluster snapshots ---------------- */
bool rds_create_db_cluster_snapshot(aws_client *c, const char *snapshot_id, const char *cluster_id,
                                    const aws_tag *tags, size_t ntags, rds_cluster_snapshot **out,
                                    aws_error *err);
/* o->id: DBClusterSnapshotIdentifier, o->cluster_id: DBClusterIdentifier,
 * o->snapshot_type; filters e.g. db-cluster-id, snapshot-type. */
bool rds_describe_db_cluster_snapshots_page(aws_client *c, const rds_describe_opts *o,
                                            rds_cluster_snapshot_list **out, aws_error *err);
bool rds_describe_db_cluster_snapshots_each(aws_client *c, const rds_describe_opts *o,
                                            rds_cluster_snapshot_page_fn fn, void *ud, aws_error *err);
bool rds_describe_db_cluster_snapshots_all(aws_client *c, const rds_describe_opts *o,
                                           rds_cluster_snapshot_list **out, aws_error *err);
bool rds_describe_db_cluster_snapshot(aws_client *c, const char *id, rds_cluster_snapshot **out, aws_error *err);
/* CopyDBClusterSnapshot: o->kms_key_id re-keys an encrypted snapshot. RDS
 * refuses it for an unencrypted snapshot (awssim also for one encrypted
 * with an AWS owned key, see docs/emulator.md): restore with a key instead. */
bool rds_copy_db_cluster_snapshot(aws_client *c, const rds_copy_snapshot_opts *o, rds_cluster_snapshot **out,
                                  aws_error *err);
bool rds_delete_db_cluster_snapshot(aws_client *c, const char *snapshot_id, rds_cluster_snapshot **out,
                                    aws_error *err);

/* ---------------- cluster parameter groups ---------------- */
/* DescribeDBClusterParameters of group (every page); source as for
 * rds_describe_db_parameters. One value: rds_parameter_find(l, name). */
bool rds_describe_db_cluster_parameters(aws_client *c, const char *group, const char *source,
                                        rds_parameter_list **out, aws_error *err);
/* CopyDBClusterParameterGroup source → target (its values, a description,
 * tags); ModifyDBClusterParameterGroup; DeleteDBClusterParameterGroup (RDS
 * refuses a default group and one a cluster uses). */
bool rds_copy_db_cluster_parameter_group(aws_client *c, const char *source, const char *target,
                                         const char *description, const aws_tag *tags, size_t ntags,
                                         aws_error *err);
bool rds_modify_db_cluster_parameter_group(aws_client *c, const char *group, const rds_param_change *changes,
                                           size_t n, aws_error *err);
bool rds_delete_db_cluster_parameter_group(aws_client *c, const char *group, aws_error *err);

/* ---------------- error families ---------------- */
/* The spellings differ between resources and between the Query codes and
 * the fault names (DBInstanceAlreadyExists, DBClusterAlreadyExistsFault,
 * DBClusterSnapshotAlreadyExistsFault, InvalidDBInstanceState,
 * InvalidDBClusterStateFault, InvalidDBClusterSnapshotStateFault, ...).
 * "Already exists" is success for an idempotent create that we issued
 * before; "invalid state" means the resource is busy (backing-up,
 * modifying, ...): such errors stay AWS_ERR_PERMANENT for the client (a
 * state lasts minutes, longer than its retries), the step waits and asks
 * again. */
bool rds_err_already_exists(const aws_error *e);
bool rds_err_invalid_state(const aws_error *e);

/* ---------------- RDS Proxy ---------------- */
typedef struct rds_create_proxy_opts {
    const char *name;
    const char *engine_family;      /* POSTGRESQL */
    const char *role_arn;
    const char *secret_arn;         /* Auth.member.1: SECRETS auth with this secret */
    const char *const *subnet_ids;
    size_t nsubnets;
    const char *const *vpc_sg_ids;
    size_t n_vpc_sg_ids;
    bool require_tls;
    const aws_tag *tags;
    size_t ntags;
} rds_create_proxy_opts;
bool rds_create_db_proxy(aws_client *c, const rds_create_proxy_opts *o, rds_proxy **out,
                         aws_error *err);
/* name NULL = every proxy. */
bool rds_describe_db_proxies(aws_client *c, const char *name, rds_proxy_list **out,
                             aws_error *err);
/* target_group NULL = "default". */
bool rds_register_db_proxy_targets(aws_client *c, const char *proxy, const char *target_group,
                                   const char *const *instance_ids, size_t n,
                                   rds_proxy_target_list **out, aws_error *err);
bool rds_deregister_db_proxy_targets(aws_client *c, const char *proxy, const char *target_group,
                                     const char *const *instance_ids, size_t n, aws_error *err);
bool rds_describe_db_proxy_targets(aws_client *c, const char *proxy, const char *target_group,
                                   rds_proxy_target_list **out, aws_error *err);
/* An Aurora cluster as the target group's target (DBClusterIdentifiers:
 * DescribeDBProxyTargets then lists it as TRACKED_CLUSTER and each member
 * as RDS_INSTANCE with tracked_cluster_id). target_group NULL = "default". */
bool rds_register_db_proxy_cluster(aws_client *c, const char *proxy, const char *target_group,
                                   const char *cluster_id, aws_error *err);
bool rds_deregister_db_proxy_cluster(aws_client *c, const char *proxy, const char *target_group,
                                     const char *cluster_id, aws_error *err);

/* Campaign option check (strategy_opts.h): "sg-…[,sg-…]", at most 16 ids. */
bool rds_sg_ids_opt_check(const char *v, char *err, size_t errcap);

#endif
