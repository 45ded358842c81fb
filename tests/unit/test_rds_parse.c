/* test_rds_parse — the typed RDS element parsers on canned responses shaped
 * like RDS's (and awssim's): an Aurora cluster (members with roles and
 * tiers, both endpoints, encryption type, security groups, tags, a pending
 * rename), a member instance (its cluster, tier, encryption type), a cluster
 * snapshot; missing fields stay unset; the error families. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "rds_int.h"

static const aws_xml_node *first(aws_xml **x, const char *doc, const char *action, const char *path)
{
    aws_error err;
    assert_true(aws_xml_parse(doc, strlen(doc), NULL, x, &err));
    const aws_xml_node *r = aws_xml_child(aws_xml_root(*x), action);
    assert_non_null(r);
    const aws_xml_node *n = aws_xml_find(r, path);
    assert_non_null(n);
    return n;
}

static const char *CLUSTER_DOC =
    "<DescribeDBClustersResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
    "<DescribeDBClustersResult><DBClusters><DBCluster>"
    "<DBClusterIdentifier>orders</DBClusterIdentifier><DbClusterResourceId>cluster-ABC</DbClusterResourceId>"
    "<DBClusterArn>arn:aws:rds:us-east-1:123456789012:cluster:orders</DBClusterArn>"
    "<Status>available</Status><Engine>aurora-postgresql</Engine><EngineVersion>15.4</EngineVersion>"
    "<Endpoint>orders.cluster-x.us-east-1.rds.amazonaws.com</Endpoint>"
    "<ReaderEndpoint>orders.cluster-ro-x.us-east-1.rds.amazonaws.com</ReaderEndpoint><Port>5432</Port>"
    "<MasterUsername>app</MasterUsername><MasterUserSecret><SecretArn>arn:secret:s1</SecretArn>"
    "<SecretStatus>active</SecretStatus></MasterUserSecret>"
    "<DBClusterParameterGroup>aur-logical</DBClusterParameterGroup><DBSubnetGroup>sub-a</DBSubnetGroup>"
    "<VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-1</VpcSecurityGroupId>"
    "<Status>active</Status></VpcSecurityGroupMembership><VpcSecurityGroupMembership>"
    "<VpcSecurityGroupId>sg-2</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>"
    "</VpcSecurityGroups><StorageEncrypted>true</StorageEncrypted>"
    "<StorageEncryptionType>sse-rds</StorageEncryptionType><DeletionProtection>true</DeletionProtection>"
    "<BackupRetentionPeriod>7</BackupRetentionPeriod><DatabaseName>shop</DatabaseName>"
    "<DBClusterMembers><DBClusterMember><DBInstanceIdentifier>orders-0</DBInstanceIdentifier>"
    "<IsClusterWriter>true</IsClusterWriter><DBClusterParameterGroupStatus>in-sync"
    "</DBClusterParameterGroupStatus><PromotionTier>1</PromotionTier></DBClusterMember>"
    "<DBClusterMember><DBInstanceIdentifier>orders-1</DBInstanceIdentifier>"
    "<IsClusterWriter>false</IsClusterWriter><DBClusterParameterGroupStatus>pending-reboot"
    "</DBClusterParameterGroupStatus><PromotionTier>0</PromotionTier></DBClusterMember></DBClusterMembers>"
    "<TagList><Tag><Key>team</Key><Value>db</Value></Tag></TagList>"
    "<PendingModifiedValues><DBClusterIdentifier>orders-new</DBClusterIdentifier></PendingModifiedValues>"
    "</DBCluster><DBCluster><DBClusterIdentifier>bare</DBClusterIdentifier>"
    "<DBClusterMembers><DBClusterMember><DBInstanceIdentifier>b-0</DBInstanceIdentifier>"
    "</DBClusterMember></DBClusterMembers></DBCluster>"
    "</DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>";

static void test_cluster(void **state)
{
    (void)state;
    aws_xml *x = NULL;
    const aws_xml_node *n = first(&x, CLUSTER_DOC, "DescribeDBClustersResult", "DBClusters/DBCluster");
    rds_cluster c;
    memset(&c, 0, sizeof(c));
    assert_true(rds_cluster_parse(n, &c));
    assert_string_equal(c.identifier, "orders");
    assert_string_equal(c.resource_id, "cluster-ABC");
    assert_string_equal(c.arn, "arn:aws:rds:us-east-1:123456789012:cluster:orders");
    assert_string_equal(c.status, "available");
    assert_string_equal(c.engine, "aurora-postgresql");
    assert_string_equal(c.endpoint, "orders.cluster-x.us-east-1.rds.amazonaws.com");
    assert_string_equal(c.reader_endpoint, "orders.cluster-ro-x.us-east-1.rds.amazonaws.com");
    assert_int_equal(c.port, 5432);
    assert_string_equal(c.master_user_secret_arn, "arn:secret:s1");
    assert_string_equal(c.param_group, "aur-logical");
    assert_string_equal(c.subnet_group, "sub-a");
    assert_int_equal(c.n_vpc_sg_ids, 2);
    assert_string_equal(c.vpc_sg_ids[1], "sg-2");
    assert_true(c.storage_encrypted);
    assert_string_equal(c.kms_key_id, "");
    assert_string_equal(c.storage_encryption_type, "sse-rds");
    assert_true(c.deletion_protection);
    assert_int_equal(c.backup_retention, 7);
    assert_string_equal(c.db_name, "shop");
    assert_string_equal(c.pending_identifier, "orders-new");
    assert_int_equal(c.n_members, 2);
    assert_string_equal(c.members[1].instance_id, "orders-1");
    assert_false(c.members[1].is_writer);
    assert_int_equal(c.members[1].promotion_tier, 0);
    assert_string_equal(c.members[1].param_group_status, "pending-reboot");
    const rds_cluster_member *w = rds_cluster_writer(&c);
    assert_non_null(w);
    assert_string_equal(w->instance_id, "orders-0");
    assert_int_equal(c.n_tags, 1);
    assert_string_equal(c.tags[0].value, "db");
    rds_cluster_clear(&c);

    /* the second cluster: what is not sent stays unset */
    memset(&c, 0, sizeof(c));
    assert_true(rds_cluster_parse(aws_xml_next_same(n), &c));
    assert_string_equal(c.identifier, "bare");
    assert_string_equal(c.storage_encryption_type, "");
    assert_false(c.storage_encrypted);
    assert_int_equal(c.n_members, 1);
    assert_int_equal(c.members[0].promotion_tier, RDS_UNSET);
    assert_null(rds_cluster_writer(&c));
    rds_cluster_clear(&c);
    aws_xml_free(x);
}

static const char *MEMBER_DOC =
    "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>"
    "<DBInstanceIdentifier>orders-1</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>"
    "<Engine>aurora-postgresql</Engine><DBClusterIdentifier>orders</DBClusterIdentifier>"
    "<PromotionTier>2</PromotionTier><StorageEncrypted>true</StorageEncrypted>"
    "<KmsKeyId>arn:aws:kms:us-east-1:123456789012:key/k1</KmsKeyId>"
    "<StorageEncryptionType>sse-kms</StorageEncryptionType><DbInstancePort>0</DbInstancePort>"
    "<Endpoint><Address>127.0.0.1</Address><Port>40001</Port></Endpoint>"
    "</DBInstance><DBInstance><DBInstanceIdentifier>plain</DBInstanceIdentifier>"
    "<DbInstancePort>5433</DbInstancePort></DBInstance>"
    "</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>";

static void test_member_instance(void **state)
{
    (void)state;
    aws_xml *x = NULL;
    const aws_xml_node *n = first(&x, MEMBER_DOC, "DescribeDBInstancesResult", "DBInstances/DBInstance");
    rds_instance i;
    memset(&i, 0, sizeof(i));
    assert_true(rds_instance_parse(n, &i));
    assert_string_equal(i.cluster_id, "orders");
    assert_int_equal(i.promotion_tier, 2);
    assert_string_equal(i.storage_encryption_type, "sse-kms");
    assert_int_equal(i.port, 40001); /* Endpoint/Port wins over DbInstancePort */
    rds_instance_clear(&i);
    memset(&i, 0, sizeof(i));
    assert_true(rds_instance_parse(aws_xml_next_same(n), &i));
    assert_string_equal(i.cluster_id, "");
    assert_int_equal(i.promotion_tier, RDS_UNSET);
    assert_int_equal(i.port, 5433);
    rds_instance_clear(&i);
    aws_xml_free(x);
}

/* ModifyDBInstance's answer to a rename AWS has not applied yet: the old
 * identifier, the new one pending (the swap's target rename waits on it) */
static const char *RENAME_DOC =
    "<ModifyDBInstanceResponse><ModifyDBInstanceResult><DBInstance>"
    "<DBInstanceIdentifier>orders</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>"
    "<PendingModifiedValues><DBInstanceIdentifier>orders-retired</DBInstanceIdentifier></PendingModifiedValues>"
    "</DBInstance></ModifyDBInstanceResult></ModifyDBInstanceResponse>";

static void test_instance_rename_pending(void **state)
{
    (void)state;
    aws_xml *x = NULL;
    const aws_xml_node *n = first(&x, RENAME_DOC, "ModifyDBInstanceResult", "DBInstance");
    rds_instance i;
    memset(&i, 0, sizeof(i));
    assert_true(rds_instance_parse(n, &i));
    assert_string_equal(i.identifier, "orders");
    assert_string_equal(i.pending_identifier, "orders-retired");
    rds_instance_clear(&i);
    aws_xml_free(x);
    /* a member instance's answer has no pending rename */
    n = first(&x, MEMBER_DOC, "DescribeDBInstancesResult", "DBInstances/DBInstance");
    memset(&i, 0, sizeof(i));
    assert_true(rds_instance_parse(n, &i));
    assert_string_equal(i.pending_identifier, "");
    rds_instance_clear(&i);
    aws_xml_free(x);
}

/* rds_instance_list_take: the named instance moved out, none: NOT_FOUND */
static void test_instance_list_take(void **state)
{
    (void)state;
    rds_instance_list *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->v = calloc(2, sizeof *l->v);
    assert_non_null(l->v);
    l->n = 2;
    snprintf(l->v[0].identifier, sizeof l->v[0].identifier, "a");
    snprintf(l->v[1].identifier, sizeof l->v[1].identifier, "b");
    aws_error e;
    aws_error_clear(&e);
    rds_instance *b = rds_instance_list_take(l, "b", &e);
    assert_non_null(b);
    assert_string_equal(b->identifier, "b");
    assert_null(rds_instance_list_take(l, "c", &e));
    assert_int_equal(e.kind, AWS_ERR_NOT_FOUND);
    assert_null(rds_instance_list_take(NULL, "a", &e));
    rds_instance *a = rds_instance_list_take(l, NULL, &e); /* the first */
    assert_non_null(a);
    assert_string_equal(a->identifier, "a");
    rds_instance_free(a);
    rds_instance_free(b);
    rds_instance_list_free(l);
}

static const char *CSNAP_DOC =
    "<CopyDBClusterSnapshotResponse><CopyDBClusterSnapshotResult><DBClusterSnapshot>"
    "<DBClusterSnapshotIdentifier>orders-snap-k</DBClusterSnapshotIdentifier>"
    "<DBClusterIdentifier>orders</DBClusterIdentifier><Status>creating</Status>"
    "<PercentProgress>40</PercentProgress><StorageEncrypted>true</StorageEncrypted>"
    "<KmsKeyId>arn:k2</KmsKeyId><StorageEncryptionType>sse-kms</StorageEncryptionType>"
    "<SnapshotType>manual</SnapshotType><Port>5432</Port>"
    "<SourceDBClusterSnapshotArn>arn:aws:rds:us-east-1:1:cluster-snapshot:orders-snap</SourceDBClusterSnapshotArn>"
    "<TagList><Tag><Key>a</Key><Value>1</Value></Tag></TagList>"
    "</DBClusterSnapshot></CopyDBClusterSnapshotResult></CopyDBClusterSnapshotResponse>";

static void test_cluster_snapshot(void **state)
{
    (void)state;
    aws_xml *x = NULL;
    const aws_xml_node *n = first(&x, CSNAP_DOC, "CopyDBClusterSnapshotResult", "DBClusterSnapshot");
    rds_cluster_snapshot s;
    memset(&s, 0, sizeof(s));
    assert_true(rds_cluster_snapshot_parse(n, &s));
    assert_string_equal(s.id, "orders-snap-k");
    assert_string_equal(s.cluster_id, "orders");
    assert_string_equal(s.status, "creating");
    assert_int_equal(s.percent_progress, 40);
    assert_true(s.encrypted);
    assert_string_equal(s.kms_key_id, "arn:k2");
    assert_string_equal(s.storage_encryption_type, "sse-kms");
    assert_int_equal(s.port, 5432);
    assert_string_equal(s.source_arn, "arn:aws:rds:us-east-1:1:cluster-snapshot:orders-snap");
    assert_int_equal(s.n_tags, 1);
    free(s.tags);
    aws_xml_free(x);
}

static void test_error_families(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        bool exists, busy;
    } T[] = {
        {"DBInstanceAlreadyExists", true, false},
        {"DBClusterAlreadyExistsFault", true, false},
        {"DBClusterSnapshotAlreadyExistsFault", true, false},
        {"DBSnapshotAlreadyExists", true, false},
        {"DBParameterGroupAlreadyExists", true, false},
        {"InvalidDBInstanceState", false, true},
        {"InvalidDBClusterStateFault", false, true},
        {"InvalidDBSnapshotState", false, true},
        {"InvalidDBClusterSnapshotStateFault", false, true},
        {"InvalidParameterValue", false, false},
        {"InvalidParameterCombination", false, false},
        {"DBClusterNotFoundFault", false, false},
        {"", false, false},
    };
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
        aws_error e;
        aws_error_set(&e, AWS_ERR_PERMANENT, 400, T[i].code, "x");
        if (rds_err_already_exists(&e) != T[i].exists || rds_err_invalid_state(&e) != T[i].busy)
            fail_msg("%s: exists=%d busy=%d", T[i].code, rds_err_already_exists(&e), rds_err_invalid_state(&e));
    }
    assert_false(rds_err_already_exists(NULL));
    assert_false(rds_err_invalid_state(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_member_instance),
        cmocka_unit_test(test_instance_rename_pending),
        cmocka_unit_test(test_instance_list_take),
        cmocka_unit_test(test_cluster_snapshot),
        cmocka_unit_test(test_error_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
