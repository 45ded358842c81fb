/* rds_instances — typed RDS calls on DB instances: describe (page, every
 * page, one), create (also into an Aurora cluster), modify, reboot, stop,
 * start, delete, read replicas; see rds.h. */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rds_int.h"
#include "util.h"

void rds_instance_clear(rds_instance *i)
{
    free(i->param_groups);
    free(i->vpc_sg_ids);
    free(i->read_replica_ids);
    free(i->tags);
}

void rds_instance_free(rds_instance *i)
{
    if (!i) return;
    rds_instance_clear(i);
    free(i);
}

#define T rds_instance
static const rds_field INSTANCE_FIELDS[] = {
    RDS_FT(T, "DBInstanceIdentifier", identifier),
    RDS_FT(T, "DbiResourceId", resource_id),
    RDS_FT(T, "DBInstanceArn", arn),
    RDS_FT(T, "DBInstanceStatus", status),
    RDS_FT(T, "PendingModifiedValues/DBInstanceIdentifier", pending_identifier),
    RDS_FT(T, "Engine", engine),
    RDS_FT(T, "EngineVersion", engine_version),
    RDS_FT(T, "DBInstanceClass", instance_class),
    RDS_FL(T, "AllocatedStorage", allocated_storage),
    RDS_FT(T, "StorageType", storage_type),
    RDS_FL(T, "Iops", iops),
    RDS_FT(T, "Endpoint/Address", endpoint_address),
    RDS_FI(T, "DbInstancePort", port),
    RDS_FI(T, "Endpoint/Port", port), /* wins over DbInstancePort when both are sent */
    RDS_FB(T, "StorageEncrypted", storage_encrypted),
    RDS_FT(T, "KmsKeyId", kms_key_id),
    RDS_FT(T, "StorageEncryptionType", storage_encryption_type),
    RDS_FT(T, "DBClusterIdentifier", cluster_id),
    RDS_FI(T, "PromotionTier", promotion_tier),
    RDS_FT(T, "OptionGroupMemberships/OptionGroupMembership/OptionGroupName", option_group),
    RDS_FT(T, "DBSubnetGroup/DBSubnetGroupName", subnet_group),
    RDS_FB(T, "MultiAZ", multi_az),
    RDS_FI(T, "BackupRetentionPeriod", backup_retention),
    RDS_FB(T, "DeletionProtection", deletion_protection),
    RDS_FB(T, "PubliclyAccessible", publicly_accessible),
    RDS_FT(T, "MasterUsername", master_username),
    RDS_FT(T, "MasterUserSecret/SecretArn", master_user_secret_arn),
    RDS_FT(T, "ReadReplicaSourceDBInstanceIdentifier", read_replica_source),
    RDS_FT(T, "DBName", db_name),
    RDS_FT(T, "AvailabilityZone", availability_zone),
    RDS_FT(T, "InstanceCreateTime", create_time),
};
#undef T

bool rds_instance_parse(const aws_xml_node *n, rds_instance *d)
{
    d->promotion_tier = RDS_UNSET;
    rds_parse_fields(n, d, INSTANCE_FIELDS, FC_ARRAY_LEN(INSTANCE_FIELDS));
    for (const aws_xml_node *g = aws_xml_find(n, "DBParameterGroups/DBParameterGroup"); g;
         g = aws_xml_next_same(g)) {
        if (!PUSH(d->param_groups, d->n_param_groups)) return false;
        rds_param_group_status *p = &d->param_groups[d->n_param_groups - 1];
        aws_xml_text(g, "DBParameterGroupName", p->name, sizeof(p->name));
        aws_xml_text(g, "ParameterApplyStatus", p->apply_status, sizeof(p->apply_status));
    }
    if (!rds_parse_sg_ids(n, &d->vpc_sg_ids, &d->n_vpc_sg_ids)) return false;
    for (const aws_xml_node *r =
             aws_xml_find(n, "ReadReplicaDBInstanceIdentifiers/ReadReplicaDBInstanceIdentifier");
         r; r = aws_xml_next_same(r)) {
        if (!PUSH(d->read_replica_ids, d->n_read_replica_ids)) return false;
        aws_xml_text(r, NULL, d->read_replica_ids[d->n_read_replica_ids - 1],
                     sizeof(d->read_replica_ids[0]));
    }
    return rds_parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags);
}

static bool p_instance(const aws_xml_node *n, void *d) { return rds_instance_parse(n, d); }
static void f_instance(void *p) { rds_instance_free(p); }

bool rds_instance_call(aws_client *c, const char *action, aws_query *q, rds_instance **out,
                          aws_error *err)
{
    return rds_call_one(c, action, q, "DBInstance", p_instance, sizeof(rds_instance), f_instance,
                    (void **)out, err);
}

static void clear_instance(void *p) { rds_instance_clear(p); }

static const list_kind K_INSTANCES = {"DescribeDBInstances", "DBInstanceIdentifier", NULL, 0, "DBInstances/DBInstance",
                                      "DBInstanceNotFound", "DBInstance", sizeof(rds_instance),
                                      LIST_FIELDS(rds_instance_list), p_instance, clear_instance};

void rds_instance_list_free(rds_instance_list *l) { rds_list_free(&K_INSTANCES, l); }

rds_instance *rds_instance_list_take(rds_instance_list *l, const char *id, aws_error *err)
{
    size_t k = 0;
    while (id && l && k < l->n && strcmp(l->v[k].identifier, id)) k++;
    if (!l || k == l->n) {
        aws_error_set(err, AWS_ERR_NOT_FOUND, 404, "DBInstanceNotFound", "DB instance %s not found", id ? id : "");
        return NULL;
    }
    rds_instance *one = malloc(sizeof *one);
    if (!one) {
        rds_oom(err);
        return NULL;
    }
    memcpy(one, &l->v[k], sizeof *one);
    memset(&l->v[k], 0, sizeof l->v[k]); /* its arrays are one's now */
    return one;
}

/* rds_describe_db_instances_page/_each/_all, rds_describe_db_instance */
RDS_DESCRIBE_FORMS(db_instances, db_instance, rds_instance_list, rds_instance, rds_instance_page_fn, instances,
                   K_INSTANCES)

/* ---------------- instance lifecycle ---------------- */
void rds_create_instance_opts_init(rds_create_instance_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->allocated_storage = o->storage_encrypted = o->port = o->multi_az = o->promotion_tier = RDS_UNSET;
    o->backup_retention = o->deletion_protection = o->publicly_accessible = RDS_UNSET;
}

bool rds_create_db_instance(aws_client *c, const rds_create_instance_opts *o, rds_instance **out,
                            aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBInstance", RDS_VERSION);
    q.secure = o->master_password != NULL;
    aws_query_add(&q, "DBInstanceIdentifier", o->identifier);
    aws_query_add(&q, "DBClusterIdentifier", o->cluster_id);
    rds_add_opt_int(&q, "PromotionTier", o->promotion_tier, false);
    aws_query_add(&q, "DBInstanceClass", o->instance_class);
    aws_query_add(&q, "Engine", o->engine);
    aws_query_add(&q, "EngineVersion", o->engine_version);
    rds_add_opt_int(&q, "AllocatedStorage", o->allocated_storage, true);
    aws_query_add(&q, "MasterUsername", o->master_username);
    aws_query_add(&q, "MasterUserPassword", o->master_password);
    if (o->manage_master_password) aws_query_add_bool(&q, "ManageMasterUserPassword", true);
    aws_query_add(&q, "DBName", o->db_name);
    rds_add_tri(&q, "StorageEncrypted", o->storage_encrypted);
    aws_query_add(&q, "KmsKeyId", o->kms_key_id);
    aws_query_add(&q, "DBSubnetGroupName", o->subnet_group);
    aws_query_add_list(&q, "VpcSecurityGroupIds.VpcSecurityGroupId", o->vpc_sg_ids,
                       o->n_vpc_sg_ids);
    aws_query_add(&q, "DBParameterGroupName", o->param_group);
    aws_query_add(&q, "OptionGroupName", o->option_group);
    rds_add_opt_int(&q, "Port", o->port, true);
    rds_add_tri(&q, "MultiAZ", o->multi_az);
    rds_add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    rds_add_tri(&q, "DeletionProtection", o->deletion_protection);
    rds_add_tri(&q, "PubliclyAccessible", o->publicly_accessible);
    rds_add_tags(&q, "Tags", o->tags, o->ntags);
    return rds_instance_call(c, "CreateDBInstance", &q, out, err);
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
    rds_add_opt_int(&q, "BackupRetentionPeriod", o->backup_retention, false);
    rds_add_tri(&q, "DeletionProtection", o->deletion_protection);
    aws_query_add(&q, "MasterUserPassword", o->master_user_password);
    aws_query_add_bool(&q, "ApplyImmediately", o->apply_immediately);
    aws_error e;
    aws_error_clear(&e);
    if (rds_instance_call(c, "ModifyDBInstance", &q, out, &e) ||
        rds_rename_carried_out(c, &K_INSTANCES, o->identifier, o->new_identifier, &e, (void **)out))
        return true;
    if (err) *err = e;
    return false;
}

bool rds_reboot_db_instance(aws_client *c, const char *id, bool force_failover,
                            rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "RebootDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    if (force_failover) aws_query_add_bool(&q, "ForceFailover", true);
    return rds_instance_call(c, "RebootDBInstance", &q, out, err);
}

bool rds_stop_db_instance(aws_client *c, const char *id, const char *snapshot_id,
                          rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "StopDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    aws_query_add(&q, "DBSnapshotIdentifier", snapshot_id);
    return rds_instance_call(c, "StopDBInstance", &q, out, err);
}

bool rds_start_db_instance(aws_client *c, const char *id, rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "StartDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    return rds_instance_call(c, "StartDBInstance", &q, out, err);
}

bool rds_delete_db_instance(aws_client *c, const char *id, const char *final_snapshot_id,
                            rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "DeleteDBInstance", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    rds_add_final_snapshot(&q, final_snapshot_id);
    return rds_instance_call(c, "DeleteDBInstance", &q, out, err);
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
    rds_add_tags(&q, "Tags", o->tags, o->ntags);
    return rds_instance_call(c, "CreateDBInstanceReadReplica", &q, out, err);
}

bool rds_promote_read_replica(aws_client *c, const char *id, int backup_retention,
                              rds_instance **out, aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "PromoteReadReplica", RDS_VERSION);
    aws_query_add(&q, "DBInstanceIdentifier", id);
    rds_add_opt_int(&q, "BackupRetentionPeriod", backup_retention, false);
    return rds_instance_call(c, "PromoteReadReplica", &q, out, err);
}

