/* rds_instances — typed RDS calls on DB instances: describe (page, every
 * page, one), create, modify, reboot, stop, start, delete, read replicas;
 * see rds.h. */
#include "rds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rds_int.h"
#include "util.h"

static void instance_clear(rds_instance *i)
{
    free(i->param_groups);
    free(i->vpc_sg_ids);
    free(i->read_replica_ids);
    free(i->tags);
}

void rds_instance_free(rds_instance *i)
{
    if (!i) return;
    instance_clear(i);
    free(i);
}

void rds_instance_list_free(rds_instance_list *l)
{
    if (!l) return;
    for (size_t k = 0; k < l->n; k++) instance_clear(&l->v[k]);
    free(l->v);
    free(l);
}

static bool parse_instance(const aws_xml_node *n, rds_instance *d)
{
    int64_t v = 0;
    aws_xml_text(n, "DBInstanceIdentifier", d->identifier, sizeof(d->identifier));
    aws_xml_text(n, "DbiResourceId", d->resource_id, sizeof(d->resource_id));
    aws_xml_text(n, "DBInstanceArn", d->arn, sizeof(d->arn));
    aws_xml_text(n, "DBInstanceStatus", d->status, sizeof(d->status));
    aws_xml_text(n, "Engine", d->engine, sizeof(d->engine));
    aws_xml_text(n, "EngineVersion", d->engine_version, sizeof(d->engine_version));
    aws_xml_text(n, "DBInstanceClass", d->instance_class, sizeof(d->instance_class));
    aws_xml_int64(n, "AllocatedStorage", &d->allocated_storage);
    aws_xml_text(n, "StorageType", d->storage_type, sizeof(d->storage_type));
    aws_xml_int64(n, "Iops", &d->iops);
    aws_xml_text(n, "Endpoint/Address", d->endpoint_address, sizeof(d->endpoint_address));
    if (aws_xml_int64(n, "Endpoint/Port", &v) || aws_xml_int64(n, "DbInstancePort", &v))
        d->port = (int)v;
    aws_xml_bool(n, "StorageEncrypted", &d->storage_encrypted);
    aws_xml_text(n, "KmsKeyId", d->kms_key_id, sizeof(d->kms_key_id));
    for (const aws_xml_node *g = aws_xml_find(n, "DBParameterGroups/DBParameterGroup"); g;
         g = aws_xml_next_same(g)) {
        if (!PUSH(d->param_groups, d->n_param_groups)) return false;
        rds_param_group_status *p = &d->param_groups[d->n_param_groups - 1];
        aws_xml_text(g, "DBParameterGroupName", p->name, sizeof(p->name));
        aws_xml_text(g, "ParameterApplyStatus", p->apply_status, sizeof(p->apply_status));
    }
    aws_xml_text(n, "OptionGroupMemberships/OptionGroupMembership/OptionGroupName",
                 d->option_group, sizeof(d->option_group));
    aws_xml_text(n, "DBSubnetGroup/DBSubnetGroupName", d->subnet_group, sizeof(d->subnet_group));
    for (const aws_xml_node *g = aws_xml_find(n, "VpcSecurityGroups/VpcSecurityGroupMembership");
         g; g = aws_xml_next_same(g)) {
        if (!PUSH(d->vpc_sg_ids, d->n_vpc_sg_ids)) return false;
        aws_xml_text(g, "VpcSecurityGroupId", d->vpc_sg_ids[d->n_vpc_sg_ids - 1],
                     sizeof(d->vpc_sg_ids[0]));
    }
    aws_xml_bool(n, "MultiAZ", &d->multi_az);
    if (aws_xml_int64(n, "BackupRetentionPeriod", &v)) d->backup_retention = (int)v;
    aws_xml_bool(n, "DeletionProtection", &d->deletion_protection);
    aws_xml_bool(n, "PubliclyAccessible", &d->publicly_accessible);
    aws_xml_text(n, "MasterUsername", d->master_username, sizeof(d->master_username));
    aws_xml_text(n, "MasterUserSecret/SecretArn", d->master_user_secret_arn,
                 sizeof(d->master_user_secret_arn));
    for (const aws_xml_node *r =
             aws_xml_find(n, "ReadReplicaDBInstanceIdentifiers/ReadReplicaDBInstanceIdentifier");
         r; r = aws_xml_next_same(r)) {
        if (!PUSH(d->read_replica_ids, d->n_read_replica_ids)) return false;
        aws_xml_text(r, NULL, d->read_replica_ids[d->n_read_replica_ids - 1],
                     sizeof(d->read_replica_ids[0]));
    }
    aws_xml_text(n, "ReadReplicaSourceDBInstanceIdentifier", d->read_replica_source,
                 sizeof(d->read_replica_source));
    if (!rds_parse_tags(aws_xml_child(n, "TagList"), &d->tags, &d->n_tags)) return false;
    aws_xml_text(n, "DBName", d->db_name, sizeof(d->db_name));
    aws_xml_text(n, "AvailabilityZone", d->availability_zone, sizeof(d->availability_zone));
    aws_xml_text(n, "InstanceCreateTime", d->create_time, sizeof(d->create_time));
    return true;
}

static bool p_instance(const aws_xml_node *n, void *d) { return parse_instance(n, d); }
static void f_instance(void *p) { rds_instance_free(p); }

bool rds_instance_call(aws_client *c, const char *action, aws_query *q, rds_instance **out,
                          aws_error *err)
{
    return rds_call_one(c, action, q, "DBInstance", p_instance, sizeof(rds_instance), f_instance,
                    (void **)out, err);
}

static void clear_instance(void *p) { instance_clear(p); }

static const list_kind K_INSTANCES = {"DescribeDBInstances", "DBInstanceIdentifier", "DBInstances/DBInstance",
                                      "DBInstanceNotFound", "DBInstance", sizeof(rds_instance),
                                      LIST_FIELDS(rds_instance_list), p_instance, clear_instance};

bool rds_describe_db_instances_page(aws_client *c, const rds_describe_opts *o,
                                    rds_instance_list **out, aws_error *err)
{
    return (*out = rds_list_page(c, &K_INSTANCES, o, err)) != NULL;
}

bool rds_describe_db_instances_each(aws_client *c, const rds_describe_opts *o,
                                    rds_instance_page_fn fn, void *ud, aws_error *err)
{
    page_sink s = {.instances = fn, .ud = ud};
    return rds_list_each(c, &K_INSTANCES, o, &s, err);
}

bool rds_describe_db_instances_all(aws_client *c, const rds_describe_opts *o,
                                   rds_instance_list **out, aws_error *err)
{
    return (*out = rds_list_all(c, &K_INSTANCES, o, err)) != NULL;
}

bool rds_describe_db_instance(aws_client *c, const char *id, rds_instance **out, aws_error *err)
{
    return (*out = rds_list_one(c, &K_INSTANCES, id, err)) != NULL;
}

/* ---------------- instance lifecycle ---------------- */
void rds_create_instance_opts_init(rds_create_instance_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->allocated_storage = o->storage_encrypted = o->port = o->multi_az = RDS_UNSET;
    o->backup_retention = o->deletion_protection = o->publicly_accessible = RDS_UNSET;
}

bool rds_create_db_instance(aws_client *c, const rds_create_instance_opts *o, rds_instance **out,
                            aws_error *err)
{
    aws_query q;
    aws_query_init(&q, "CreateDBInstance", RDS_VERSION);
    q.secure = o->master_password != NULL;
    aws_query_add(&q, "DBInstanceIdentifier", o->identifier);
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
    return rds_instance_call(c, "ModifyDBInstance", &q, out, err);
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
    if (final_snapshot_id) {
        aws_query_add_bool(&q, "SkipFinalSnapshot", false);
        aws_query_add(&q, "FinalDBSnapshotIdentifier", final_snapshot_id);
    } else {
        aws_query_add_bool(&q, "SkipFinalSnapshot", true);
    }
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

