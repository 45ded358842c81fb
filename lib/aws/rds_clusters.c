/* rds_clusters — typed RDS calls on Aurora DB clusters: describe (page,
 * every page, one), create, modify (rename, parameter group, retention),
 * delete, stop, start, restore from a cluster snapshot; cluster snapshots:
 * create, describe, copy (re-key), delete. See rds.h
 * (DescribeDBClusterParameters is rds_misc.c's, beside its instance twin). */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rds_int.h"
#include "util.h"

#define AURORA_PG "aurora-postgresql"

/* ---------------- clusters: results ---------------- */
void rds_cluster_clear(rds_cluster *c)
{
    free(c->vpc_sg_ids);
    free(c->members);
    free(c->tags);
}

void rds_cluster_free(rds_cluster *c)
{
    if (!c) return;
    rds_cluster_clear(c);
    free(c);
}

const rds_cluster_member *rds_cluster_writer(const rds_cluster *c)
{
    for (size_t k = 0; c && k < c->n_members; k++)
        if (c->members[k].is_writer) return &c->members[k];
    return NULL;
}

#define T rds_cluster
static const rds_field CLUSTER_FIELDS[] = {
    RDS_FT(T, "DBClusterIdentifier", identifier),
    RDS_FT(T, "DbClusterResourceId", resource_id),
    RDS_FT(T, "DBClusterArn", arn),
    RDS_FT(T, "Status", status),
    RDS_FT(T, "Engine", engine),
    RDS_FT(T, "EngineVersion", engine_version),
    RDS_FT(T, "Endpoint", endpoint),
    RDS_FT(T, "ReaderEndpoint", reader_endpoint),
    RDS_FI(T, "Port", port),
    RDS_FT(T, "MasterUsername", master_username),
    RDS_FT(T, "MasterUserSecret/SecretArn", master_user_secret_arn),
    RDS_FT(T, "DBClusterParameterGroup", param_group),
    RDS_FT(T, "DBSubnetGroup", subnet_group),
    RDS_FB(T, "StorageEncrypted", storage_encrypted),
    RDS_FT(T, "KmsKeyId", kms_key_id),
    RDS_FT(T, "StorageEncryptionType", storage_encryption_type),
    RDS_FB(T, "DeletionProtection", deletion_protection),
    RDS_FI(T, "BackupRetentionPeriod", backup_retention),
    RDS_FB(T, "CopyTagsToSnapshot", copy_tags_to_snapshot),
    RDS_FB(T, "MultiAZ", multi_az),
    RDS_FT(T, "DatabaseName", db_name),
    RDS_FT(T, "PendingModifiedValues/DBClusterIdentifier", pending_identifier),
    RDS_FT(T, "ClusterCreateTime", create_time),
};
#undef T

#define T rds_cluster_member
static const rds_field MEMBER_FIELDS[] = {
    RDS_FT(T, "DBInstanceIdentifier", instance_id),
    RDS_FB(T, "IsClusterWriter", is_writer),
    RDS_FI(T, "PromotionTier", promotion_tier),
    RDS_FT(T, "DBClusterParameterGroupStatus", param_group_status),
};
#undef T

bool rds_cluster_parse(const aws_xml_node *n, rds_cluster *d)
{
    rds_parse_fields(n, d, CLUSTER_FIELDS, FC_ARRAY_LEN(CLUSTER_FIELDS));
    if (!rds_parse_sg_ids(n, &d->vpc_sg_ids, &d->n_vpc_sg_ids)) return false;
    for (const aws_xml_node *m = aws_xml_find(n, "DBClusterMembers/DBClusterMember"); m; m = aws_xml_next_same(m)) {
        if (!PUSH(d->members, d->n_members)) return false;
        rds_cluster_member *p = &d->members[d->n_members - 1];
        p->promotion_tier = RDS_UNSET;
        rds_parse_fields(m, p, MEMBER_FIELDS, FC_ARRAY_LEN(MEMBER_FIELDS));
    }
    return rds_parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags);
}

static bool p_cluster(const aws_xml_node *n, void *d) { return rds_cluster_parse(n, d); }
static void f_cluster(void *p) { rds_cluster_free(p); }
static void clear_cluster(void *p) { rds_cluster_clear(p); }

bool rds_cluster_call(aws_client *c, const char *action, aws_query *q, rds_cluster **out, aws_error *err)
{
    return rds_call_one(c, action, q, "DBCluster", p_cluster, sizeof(rds_cluster), f_cluster, (void **)out, err);
}

static const list_kind K_CLUSTERS = {"DescribeDBClusters", "DBClusterIdentifier", NULL, 0, "DBClusters/DBCluster",
                                     "DBClusterNotFoundFault", "DBCluster", sizeof(rds_cluster),
                                     LIST_FIELDS(rds_cluster_list), p_cluster, clear_cluster};

void rds_cluster_list_free(rds_cluster_list *l) { rds_list_free(&K_CLUSTERS, l); }

/* rds_describe_db_clusters_page/_each/_all, rds_describe_db_cluster */
RDS_DESCRIBE_FORMS(db_clusters, db_cluster, rds_cluster_list, rds_cluster, rds_cluster_page_fn, clusters, K_CLUSTERS)

/* ---------------- clusters: lifecycle ---------------- */
void rds_create_cluster_opts_init(rds_create_cluster_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->storage_encrypted = o->port = o->backup_retention = RDS_UNSET;
    o->deletion_protection = o->copy_tags_to_snapshot = RDS_UNSET;
}

/* What CreateDBCluster and RestoreDBClusterFromSnapshot both take. */
static void add_cluster_common(aws_query *q, const char *id, const char *engine, const char *engine_version,
                               const char *kms_key_id, const char *param_group, const char *subnet_group,
                               const char *const *sg, size_t nsg, int port, int deletion_protection,
                               int copy_tags_to_snapshot, const aws_tag *tags, size_t ntags)
{
    aws_query_add(q, "DBClusterIdentifier", id);
    aws_query_add(q, "Engine", engine ? engine : AURORA_PG);
    aws_query_add(q, "EngineVersion", engine_version);
    aws_query_add(q, "KmsKeyId", kms_key_id);
    aws_query_add(q, "DBClusterParameterGroupName", param_group);
    aws_query_add(q, "DBSubnetGroupName", subnet_group);
    aws_query_add_list(q, "VpcSecurityGroupIds.VpcSecurityGroupId", sg, nsg);
    rds_add_opt_int(q, "Port", port, true);
    rds_add_tri(q, "DeletionProtection", deletion_protection);
    rds_add_tri(q, "CopyTagsToSnapshot", copy_tags_to_snapshot);
    rds_add_tags(q, "Tags", tags, ntags);
}

bool rds_create_db_cluster(aws_client *c, const rds_create_cluster_opts *o, rds_cluster **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBCluster", RDS_VERSION);
    q.secure = o->master_password != NULL;
    add_cluster_common(&q, o->identifier, o->engine, o->engine_version, o->kms_key_id, o->param_group,
                       o->subnet_group, o->vpc_sg_ids, o->n_vpc_sg_ids, o->port, o->deletion_protection,
                       o->copy_tags_to_snapshot, o->tags, o->ntags);
    aws_query_add(&q, "MasterUsername", o->master_username);
    aws_query_add(&q, "MasterUserPassword", o->master_password);
    aws_query_add(&q, "DatabaseName", o->db_name);
    rds_add_tri(&q, "StorageEncrypted", o->storage_encrypted);
    rds_add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    return rds_cluster_call(c, "CreateDBCluster", &q, out, err);
}

void rds_modify_cluster_opts_init(rds_modify_cluster_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->backup_retention = o->deletion_protection = RDS_UNSET;
}

bool rds_modify_db_cluster(aws_client *c, const rds_modify_cluster_opts *o, rds_cluster **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "ModifyDBCluster", RDS_VERSION);
    aws_query_add(&q, "DBClusterIdentifier", o->identifier);
    aws_query_add(&q, "NewDBClusterIdentifier", o->new_identifier);
    aws_query_add(&q, "DBClusterParameterGroupName", o->param_group);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", o->vpc_sg_ids, o->n_vpc_sg_ids);
    rds_add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    rds_add_tri(&q, "DeletionProtection", o->deletion_protection);
    aws_query_add_bool(&q, "ApplyImmediately", o->apply_immediately);
    aws_error e;
    aws_error_clear(&e);
    if (rds_cluster_call(c, "ModifyDBCluster", &q, out, &e) ||
        rds_rename_carried_out(c, &K_CLUSTERS, o->identifier, o->new_identifier, &e, (void **)out))
        return true;
    if (err) *err = e;
    return false;
}

/* An action whose only parameter is the cluster identifier. */
static bool cluster_id_call(aws_client *c, const char *action, const char *id, rds_cluster **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, action, RDS_VERSION);
    aws_query_add(&q, "DBClusterIdentifier", id);
    return rds_cluster_call(c, action, &q, out, err);
}

bool rds_delete_db_cluster(aws_client *c, const char *id, const char *final_snapshot_id, rds_cluster **out,
                           aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBCluster", RDS_VERSION);
    aws_query_add(&q, "DBClusterIdentifier", id);
    rds_add_final_snapshot(&q, final_snapshot_id);
    return rds_cluster_call(c, "DeleteDBCluster", &q, out, err);
}

bool rds_stop_db_cluster(aws_client *c, const char *id, rds_cluster **out, aws_error *err)
{
    return cluster_id_call(c, "StopDBCluster", id, out, err);
}

bool rds_start_db_cluster(aws_client *c, const char *id, rds_cluster **out, aws_error *err)
{
    return cluster_id_call(c, "StartDBCluster", id, out, err);
}

void rds_restore_cluster_opts_init(rds_restore_cluster_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port = o->deletion_protection = o->copy_tags_to_snapshot = RDS_UNSET;
}

bool rds_restore_db_cluster_from_snapshot(aws_client *c, const rds_restore_cluster_opts *o, rds_cluster **out,
                                          aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "RestoreDBClusterFromSnapshot", RDS_VERSION);
    aws_query_add(&q, "SnapshotIdentifier", o->snapshot_id);
    add_cluster_common(&q, o->identifier, o->engine, o->engine_version, o->kms_key_id, o->param_group,
                       o->subnet_group, o->vpc_sg_ids, o->n_vpc_sg_ids, o->port, o->deletion_protection,
                       o->copy_tags_to_snapshot, o->tags, o->ntags);
    return rds_cluster_call(c, "RestoreDBClusterFromSnapshot", &q, out, err);
}

/* ---------------- cluster snapshots ---------------- */
void rds_cluster_snapshot_free(rds_cluster_snapshot *s)
{
    if (!s) return;
    free(s->tags);
    free(s);
}

#define T rds_cluster_snapshot
static const rds_field CSNAP_FIELDS[] = {
    RDS_FT(T, "DBClusterSnapshotIdentifier", id),
    RDS_FT(T, "DBClusterSnapshotArn", arn),
    RDS_FT(T, "DBClusterIdentifier", cluster_id),
    RDS_FT(T, "Status", status),
    RDS_FI(T, "PercentProgress", percent_progress),
    RDS_FB(T, "StorageEncrypted", encrypted),
    RDS_FT(T, "KmsKeyId", kms_key_id),
    RDS_FT(T, "StorageEncryptionType", storage_encryption_type),
    RDS_FT(T, "SnapshotType", snapshot_type),
    RDS_FT(T, "SnapshotCreateTime", create_time),
    RDS_FT(T, "Engine", engine),
    RDS_FT(T, "EngineVersion", engine_version),
    RDS_FT(T, "MasterUsername", master_username),
    RDS_FI(T, "Port", port),
    RDS_FT(T, "SourceDBClusterSnapshotArn", source_arn),
};
#undef T

bool rds_cluster_snapshot_parse(const aws_xml_node *n, rds_cluster_snapshot *d)
{
    rds_parse_fields(n, d, CSNAP_FIELDS, FC_ARRAY_LEN(CSNAP_FIELDS));
    return rds_parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags);
}

static bool p_csnap(const aws_xml_node *n, void *d) { return rds_cluster_snapshot_parse(n, d); }
static void f_csnap(void *p) { rds_cluster_snapshot_free(p); }
static void clear_csnap(void *p) { free(((rds_cluster_snapshot *)p)->tags); }

bool rds_cluster_snapshot_call(aws_client *c, const char *action, aws_query *q, rds_cluster_snapshot **out,
                               aws_error *err)
{
    return rds_call_one(c, action, q, "DBClusterSnapshot", p_csnap, sizeof(rds_cluster_snapshot), f_csnap,
                        (void **)out, err);
}

static const list_kind K_CSNAPS = {"DescribeDBClusterSnapshots", "DBClusterSnapshotIdentifier",
                                   "DBClusterIdentifier", offsetof(rds_describe_opts, cluster_id),
                                   "DBClusterSnapshots/DBClusterSnapshot", "DBClusterSnapshotNotFoundFault",
                                   "DBClusterSnapshot", sizeof(rds_cluster_snapshot),
                                   LIST_FIELDS(rds_cluster_snapshot_list), p_csnap, clear_csnap};

void rds_cluster_snapshot_list_free(rds_cluster_snapshot_list *l) { rds_list_free(&K_CSNAPS, l); }

/* rds_describe_db_cluster_snapshots_page/_each/_all, rds_describe_db_cluster_snapshot */
RDS_DESCRIBE_FORMS(db_cluster_snapshots, db_cluster_snapshot, rds_cluster_snapshot_list, rds_cluster_snapshot,
                   rds_cluster_snapshot_page_fn, cluster_snapshots, K_CSNAPS)

bool rds_create_db_cluster_snapshot(aws_client *c, const char *snapshot_id, const char *cluster_id,
                                    const aws_tag *tags, size_t ntags, rds_cluster_snapshot **out,
                                    aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBClusterSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBClusterSnapshotIdentifier", snapshot_id);
    aws_query_add(&q, "DBClusterIdentifier", cluster_id);
    rds_add_tags(&q, "Tags", tags, ntags);
    return rds_cluster_snapshot_call(c, "CreateDBClusterSnapshot", &q, out, err);
}

bool rds_copy_db_cluster_snapshot(aws_client *c, const rds_copy_snapshot_opts *o, rds_cluster_snapshot **out,
                                  aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CopyDBClusterSnapshot", RDS_VERSION);
    rds_add_copy(&q, o, "SourceDBClusterSnapshotIdentifier", "TargetDBClusterSnapshotIdentifier");
    return rds_cluster_snapshot_call(c, "CopyDBClusterSnapshot", &q, out, err);
}

bool rds_delete_db_cluster_snapshot(aws_client *c, const char *snapshot_id, rds_cluster_snapshot **out,
                                    aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBClusterSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBClusterSnapshotIdentifier", snapshot_id);
    return rds_cluster_snapshot_call(c, "DeleteDBClusterSnapshot", &q, out, err);
}
