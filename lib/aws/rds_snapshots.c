/* rds_snapshots — typed RDS calls on DB snapshots: describe (page, every
 * page, one), create, copy, delete, and restoring an instance from one; see
 * rds.h. */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rds_int.h"
#include "util.h"

void rds_snapshot_free(rds_snapshot *s)
{
    if (!s) return;
    free(s->tags);
    free(s);
}

#define T rds_snapshot
static const rds_field SNAPSHOT_FIELDS[] = {
    RDS_FT(T, "DBSnapshotIdentifier", id),
    RDS_FT(T, "DBSnapshotArn", arn),
    RDS_FT(T, "DBInstanceIdentifier", instance_id),
    RDS_FT(T, "Status", status),
    RDS_FI(T, "PercentProgress", percent_progress),
    RDS_FB(T, "Encrypted", encrypted),
    RDS_FT(T, "KmsKeyId", kms_key_id),
    RDS_FT(T, "StorageEncryptionType", storage_encryption_type),
    RDS_FL(T, "AllocatedStorage", allocated_storage),
    RDS_FT(T, "SnapshotType", snapshot_type),
    RDS_FT(T, "SnapshotCreateTime", create_time),
    RDS_FT(T, "Engine", engine),
    RDS_FT(T, "EngineVersion", engine_version),
    RDS_FT(T, "SourceDBSnapshotIdentifier", source_snapshot_id),
};
#undef T

static bool parse_snapshot(const aws_xml_node *n, rds_snapshot *d)
{
    rds_parse_fields(n, d, SNAPSHOT_FIELDS, FC_ARRAY_LEN(SNAPSHOT_FIELDS));
    return rds_parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags);
}

static bool p_snapshot(const aws_xml_node *n, void *d) { return parse_snapshot(n, d); }
static void f_snapshot(void *p) { rds_snapshot_free(p); }

bool rds_snapshot_call(aws_client *c, const char *action, aws_query *q, rds_snapshot **out,
                          aws_error *err)
{
    return rds_call_one(c, action, q, "DBSnapshot", p_snapshot, sizeof(rds_snapshot), f_snapshot,
                    (void **)out, err);
}

static void clear_snapshot(void *p) { free(((rds_snapshot *)p)->tags); }

static const list_kind K_SNAPSHOTS = {"DescribeDBSnapshots", "DBSnapshotIdentifier", "DBInstanceIdentifier",
                                      offsetof(rds_describe_opts, instance_id), "DBSnapshots/DBSnapshot",
                                      "DBSnapshotNotFound", "DBSnapshot", sizeof(rds_snapshot),
                                      LIST_FIELDS(rds_snapshot_list), p_snapshot, clear_snapshot};

void rds_snapshot_list_free(rds_snapshot_list *l) { rds_list_free(&K_SNAPSHOTS, l); }

/* rds_describe_db_snapshots_page/_each/_all, rds_describe_db_snapshot */
RDS_DESCRIBE_FORMS(db_snapshots, db_snapshot, rds_snapshot_list, rds_snapshot, rds_snapshot_page_fn, snapshots,
                   K_SNAPSHOTS)

/* ---------------- snapshots ---------------- */
bool rds_create_db_snapshot(aws_client *c, const char *snapshot_id, const char *instance_id,
                            const aws_tag *tags, size_t ntags, rds_snapshot **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    aws_query_add(&q, "DBInstanceIdentifier", instance_id);
    rds_add_tags(&q, "Tags", tags, ntags);
    return rds_snapshot_call(c, "CreateDBSnapshot", &q, out, err);
}

bool rds_copy_db_snapshot(aws_client *c, const rds_copy_snapshot_opts *o, rds_snapshot **out,
                          aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CopyDBSnapshot", RDS_VERSION);
    rds_add_copy(&q, o, "SourceDBSnapshotIdentifier", "TargetDBSnapshotIdentifier");
    return rds_snapshot_call(c, "CopyDBSnapshot", &q, out, err);
}

bool rds_delete_db_snapshot(aws_client *c, const char *snapshot_id, rds_snapshot **out,
                            aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBSnapshot", RDS_VERSION);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    return rds_snapshot_call(c, "DeleteDBSnapshot", &q, out, err);
}

void rds_restore_opts_init(rds_restore_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->multi_az = o->port = o->deletion_protection = o->publicly_accessible = o->backup_retention = RDS_UNSET;
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
    rds_add_tri(&q, "MultiAZ", o->multi_az);
    rds_add_opt_int(&q, "Port", o->port, true);
    rds_add_tri(&q, "DeletionProtection", o->deletion_protection);
    rds_add_tri(&q, "PubliclyAccessible", o->publicly_accessible);
    rds_add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    aws_query_add(&q, "StorageType", o->storage_type);
    rds_add_tags(&q, "Tags", o->tags, o->ntags);
    return rds_instance_call(c, "RestoreDBInstanceFromDBSnapshot", &q, out, err);
}


/* ---------------- snapshot sharing (attribute "restore") ---------------- */
void rds_snapshot_accounts_free(rds_snapshot_accounts *a) { free(a); }

/* <DBSnapshotAttributesResult> (DB snapshots) or <DBClusterSnapshotAttributesResult> (cluster snapshots,
 * kind "DBCluster"): the values of attribute "restore". */
static bool parse_accounts_of(const aws_xml_node *n, rds_snapshot_accounts *a, const char *kind)
{
    char path[96];
    snprintf(path, sizeof path, "%sSnapshotIdentifier", kind);
    aws_xml_text(n, path, a->snapshot_id, sizeof a->snapshot_id);
    snprintf(path, sizeof path, "%sSnapshotAttributes/%sSnapshotAttribute", kind, kind);
    for (const aws_xml_node *at = aws_xml_find(n, path); at; at = aws_xml_next_same(at)) {
        char name[32];
        aws_xml_text(at, "AttributeName", name, sizeof name);
        if (strcmp(name, "restore")) continue;
        for (const aws_xml_node *v = aws_xml_find(at, "AttributeValues/AttributeValue"); v && a->n < RDS_MAX_SHARED;
             v = aws_xml_next_same(v))
            aws_xml_text(v, NULL, a->accounts[a->n++], sizeof a->accounts[0]);
    }
    return true;
}

static bool parse_restore_accounts(const aws_xml_node *n, void *dst) { return parse_accounts_of(n, dst, "DB"); }
static bool parse_cluster_restore_accounts(const aws_xml_node *n, void *dst)
{
    return parse_accounts_of(n, dst, "DBCluster");
}

static void free_accounts(void *p) { free(p); }

static bool share(aws_client *c, bool cluster, const char *snapshot_id, const char *account, bool add,
                  rds_snapshot_accounts **out, aws_error *err)
{
    const char *action = cluster ? "ModifyDBClusterSnapshotAttribute" : "ModifyDBSnapshotAttribute";
    aws_query q;
    if (cluster) {
        aws_query_init(&q, "ModifyDBClusterSnapshotAttribute", RDS_VERSION);
        aws_query_add(&q, "DBClusterSnapshotIdentifier", snapshot_id);
    } else {
        aws_query_init(&q, "ModifyDBSnapshotAttribute", RDS_VERSION);
        aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    }
    aws_query_add(&q, "AttributeName", "restore");
    const char *v[1] = {account};
    aws_query_add_list(&q, add ? "ValuesToAdd.AttributeValue" : "ValuesToRemove.AttributeValue", v, 1);
    return rds_call_one(c, action, &q, cluster ? "DBClusterSnapshotAttributesResult" : "DBSnapshotAttributesResult",
                        cluster ? parse_cluster_restore_accounts : parse_restore_accounts,
                        sizeof(rds_snapshot_accounts), free_accounts, (void **)out, err);
}

bool rds_share_db_snapshot(aws_client *c, const char *snapshot_id, const char *account, bool add,
                           rds_snapshot_accounts **out, aws_error *err)
{
    return share(c, false, snapshot_id, account, add, out, err);
}

bool rds_share_db_cluster_snapshot(aws_client *c, const char *snapshot_id, const char *account, bool add,
                                   rds_snapshot_accounts **out, aws_error *err)
{
    return share(c, true, snapshot_id, account, add, out, err);
}

bool rds_describe_db_snapshot_accounts(aws_client *c, const char *snapshot_id, rds_snapshot_accounts **out,
                                       aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DescribeDBSnapshotAttributes", RDS_VERSION);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    return rds_call_one(c, "DescribeDBSnapshotAttributes", &q, "DBSnapshotAttributesResult", parse_restore_accounts,
                        sizeof(rds_snapshot_accounts), free_accounts, (void **)out, err);
}

static bool parse_subnet_ids(const aws_xml_node *n, void *dst)
{
    rds_subnet_ids *o = dst;
    for (const aws_xml_node *s = aws_xml_find(n, "DBSubnetGroup/Subnets/Subnet"); s && o->n < RDS_MAX_SUBNETS;
         s = aws_xml_next_same(s))
        if (aws_xml_text(s, "SubnetIdentifier", o->ids[o->n], sizeof o->ids[0])) o->n++;
    return true;
}

static void free_subnet_ids(void *p) { free(p); }

bool rds_db_subnet_group_subnets(aws_client *c, const char *name, rds_subnet_ids *out, aws_error *err)
{
    memset(out, 0, sizeof *out);
    aws_query q;
    aws_query_init(&q, "DescribeDBSubnetGroups", RDS_VERSION);
    aws_query_add(&q, "DBSubnetGroupName", name);
    rds_subnet_ids *got = NULL;
    if (!rds_call_one(c, "DescribeDBSubnetGroups", &q, "DBSubnetGroups", parse_subnet_ids, sizeof *got,
                      free_subnet_ids, (void **)&got, err)) {
        if (!strcmp(err->code, "DBSubnetGroupNotFoundFault")) err->kind = AWS_ERR_NOT_FOUND;
        return false;
    }
    *out = *got;
    free(got);
    return true;
}

bool rds_db_subnet_group_exists(aws_client *c, const char *name, bool *exists, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DescribeDBSubnetGroups", RDS_VERSION);
    aws_query_add(&q, "DBSubnetGroupName", name);
    *exists = false;
    if (rds_call_one(c, "DescribeDBSubnetGroups", &q, NULL, NULL, 0, NULL, NULL, err)) {
        *exists = true;
        return true;
    }
    if (err->kind == AWS_ERR_NOT_FOUND || !strcmp(err->code, "DBSubnetGroupNotFoundFault")) {
        aws_error_clear(err);
        return true;
    }
    return false;
}
