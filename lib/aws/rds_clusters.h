/* rds_clusters — typed RDS calls on Aurora DB clusters, their snapshots and
 * their parameter groups (rds_clusters.c), in the style of rds.h: opts
 * structs (unset optional fields NULL or RDS_UNSET), heap results freed
 * with the matching _free (NULL accepted), Describe as one page / every
 * page to a callback / everything / the one named, AWS_ERR_NOT_FOUND when
 * the cluster or snapshot does not exist (DBClusterNotFoundFault,
 * DBClusterSnapshotNotFoundFault), rds_err_already_exists /
 * rds_err_invalid_state for the other families.
 *
 * A cluster holds no data of its own on the API: members are DB instances
 * (rds_create_db_instance with cluster_id adds the writer, then readers;
 * rds_describe_db_instance reports their cluster_id, promotion_tier and the
 * cluster's encryption). A restore from a cluster snapshot creates no
 * instance. */
#ifndef FC_RDS_CLUSTERS_H
#define FC_RDS_CLUSTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rds.h"

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

#endif
