/* test_dms — lib/aws/dms: the DMS requests as botocore's dms service-2.json
 * shapes them (CreateReplicationInstance, CreateEndpoint with
 * PostgreSQLSettings, CreateReplicationTask with CdcStartPosition,
 * StartReplicationTask, Filters) and the answers parsed (instance, endpoint,
 * task with ReplicationTaskStats, table statistics); the service registered
 * with the client (signing name dms, AWS_ENDPOINT_URL_DATABASE_MIGRATION_SERVICE). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsjson.h"
#include "dms.h"

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_build_instance(void **state)
{
    (void)state;
    const char *tk[] = {"fleetcrypt:campaign"}, *tv[] = {"c1"};
    const char *sgs[] = {"sg-1", "sg-2"};
    dms_instance_spec s = {.id = "fc-c1-dms", .instance_class = "dms.t3.medium", .allocated_storage = 50,
                           .security_groups = sgs, .nsecurity_groups = 2, .tag_keys = tk, .tag_values = tv,
                           .ntags = 1};
    json_t *o = dms_build_create_instance(&s);
    assert_non_null(o);
    assert_string_equal(jstr(o, "ReplicationInstanceIdentifier"), "fc-c1-dms");
    assert_string_equal(jstr(o, "ReplicationInstanceClass"), "dms.t3.medium");
    assert_int_equal(json_integer_value(json_object_get(o, "AllocatedStorage")), 50);
    assert_true(json_is_false(json_object_get(o, "MultiAZ")));
    assert_true(json_is_false(json_object_get(o, "PubliclyAccessible")));
    assert_int_equal(json_array_size(json_object_get(o, "VpcSecurityGroupIds")), 2);
    const json_t *t = json_array_get(json_object_get(o, "Tags"), 0);
    assert_string_equal(jstr(t, "Key"), "fleetcrypt:campaign");
    assert_string_equal(jstr(t, "Value"), "c1");
    /* not given: not sent (AWS's defaults apply) */
    assert_null(json_object_get(o, "ReplicationSubnetGroupIdentifier"));
    assert_null(json_object_get(o, "KmsKeyId"));
    json_decref(o);
}

static void test_build_endpoint(void **state)
{
    (void)state;
    dms_endpoint_spec s = {.id = "fc-c1-db1-src", .type = "source", .engine = "postgres", .server = "db1.x",
                           .port = 5432, .database = "app", .username = "fc_admin", .password = "pw",
                           .ssl_mode = "require", .slot_name = "fc_slot", .plugin_name = "test-decoding",
                           .heartbeat = true, .capture_ddls_set = true, .capture_ddls = false};
    json_t *o = dms_build_create_endpoint(&s);
    assert_non_null(o);
    assert_string_equal(jstr(o, "EndpointIdentifier"), "fc-c1-db1-src");
    assert_string_equal(jstr(o, "EndpointType"), "source");
    assert_string_equal(jstr(o, "EngineName"), "postgres");
    assert_string_equal(jstr(o, "ServerName"), "db1.x");
    assert_int_equal(json_integer_value(json_object_get(o, "Port")), 5432);
    assert_string_equal(jstr(o, "DatabaseName"), "app");
    assert_string_equal(jstr(o, "SslMode"), "require");
    const json_t *p = json_object_get(o, "PostgreSQLSettings");
    assert_true(json_is_object(p));
    assert_string_equal(jstr(p, "SlotName"), "fc_slot");
    assert_string_equal(jstr(p, "PluginName"), "test-decoding");
    assert_true(json_is_true(json_object_get(p, "HeartbeatEnable")));
    assert_true(json_is_false(json_object_get(p, "CaptureDdls")));
    json_decref(o);

    /* a target: no PostgreSQLSettings at all */
    dms_endpoint_spec t = {.id = "fc-c1-db1-tgt", .type = "target", .engine = "postgres", .server = "db1-target.x",
                           .port = 5432, .database = "app", .username = "u", .password = "p"};
    o = dms_build_create_endpoint(&t);
    assert_non_null(o);
    assert_null(json_object_get(o, "PostgreSQLSettings"));
    assert_null(json_object_get(o, "SslMode"));
    json_decref(o);
}

static void test_build_task(void **state)
{
    (void)state;
    dms_task_spec s = {.id = "fc-c1-db1", .source_arn = "arn:s", .target_arn = "arn:t", .instance_arn = "arn:i",
                       .migration_type = "cdc", .table_mappings = "{\"rules\":[]}", .cdc_start_position = "0/16B3748"};
    json_t *o = dms_build_create_task(&s);
    assert_non_null(o);
    assert_string_equal(jstr(o, "ReplicationTaskIdentifier"), "fc-c1-db1");
    assert_string_equal(jstr(o, "SourceEndpointArn"), "arn:s");
    assert_string_equal(jstr(o, "TargetEndpointArn"), "arn:t");
    assert_string_equal(jstr(o, "ReplicationInstanceArn"), "arn:i");
    assert_string_equal(jstr(o, "MigrationType"), "cdc");
    assert_string_equal(jstr(o, "TableMappings"), "{\"rules\":[]}");
    assert_string_equal(jstr(o, "CdcStartPosition"), "0/16B3748");
    assert_null(json_object_get(o, "ReplicationTaskSettings"));
    json_decref(o);

    o = dms_build_start_task("arn:task", NULL, NULL);
    assert_non_null(o);
    assert_string_equal(jstr(o, "ReplicationTaskArn"), "arn:task");
    assert_string_equal(jstr(o, "StartReplicationTaskType"), "start-replication");
    assert_null(json_object_get(o, "CdcStartPosition"));
    json_decref(o);
    o = dms_build_start_task("arn:task", "resume-processing", "1/0");
    assert_string_equal(jstr(o, "StartReplicationTaskType"), "resume-processing");
    assert_string_equal(jstr(o, "CdcStartPosition"), "1/0");
    json_decref(o);

    o = dms_build_filter("replication-task-id", "fc-c1-db1", "m1");
    assert_non_null(o);
    const json_t *f = json_array_get(json_object_get(o, "Filters"), 0);
    assert_string_equal(jstr(f, "Name"), "replication-task-id");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "Values"), 0)), "fc-c1-db1");
    assert_string_equal(jstr(o, "Marker"), "m1");
    json_decref(o);
}

static json_t *parse(const char *s)
{
    json_t *j = NULL;
    aws_error e;
    assert_true(aws_json_parse(s, strlen(s), NULL, &j, &e));
    return j;
}

static void test_parse_answers(void **state)
{
    (void)state;
    json_t *j = parse("{\"ReplicationInstance\":{\"ReplicationInstanceIdentifier\":\"fc-c1-dms\","
                      "\"ReplicationInstanceArn\":\"arn:aws:dms:us-east-1:1:rep:ABC\","
                      "\"ReplicationInstanceStatus\":\"creating\",\"ReplicationInstanceClass\":\"dms.t3.medium\","
                      "\"AllocatedStorage\":50}}");
    dms_instance ri;
    assert_true(dms_parse_instance(json_object_get(j, "ReplicationInstance"), &ri));
    assert_string_equal(ri.id, "fc-c1-dms");
    assert_string_equal(ri.arn, "arn:aws:dms:us-east-1:1:rep:ABC");
    assert_string_equal(ri.status, "creating");
    assert_int_equal(ri.allocated_storage, 50);
    json_decref(j);

    j = parse("{\"Endpoint\":{\"EndpointIdentifier\":\"e1\",\"EndpointArn\":\"arn:e1\",\"EndpointType\":\"SOURCE\","
              "\"EngineName\":\"postgres\",\"ServerName\":\"h\",\"Port\":5433,\"DatabaseName\":\"app\","
              "\"Status\":\"active\",\"PostgreSQLSettings\":{\"SlotName\":\"s1\",\"PluginName\":\"test-decoding\"}}}");
    dms_endpoint ep;
    assert_true(dms_parse_endpoint(json_object_get(j, "Endpoint"), &ep));
    assert_string_equal(ep.type, "SOURCE");
    assert_int_equal(ep.port, 5433);
    assert_string_equal(ep.slot_name, "s1");
    assert_string_equal(ep.plugin_name, "test-decoding");
    json_decref(j);

    j = parse("{\"ReplicationTask\":{\"ReplicationTaskIdentifier\":\"t1\",\"ReplicationTaskArn\":\"arn:t1\","
              "\"Status\":\"stopped\",\"StopReason\":\"Stop Reason FATAL_ERROR\",\"LastFailureMessage\":\"boom\","
              "\"MigrationType\":\"cdc\",\"CdcStartPosition\":\"0/16B3748\","
              "\"ReplicationTaskStats\":{\"FullLoadProgressPercent\":0,\"ElapsedTimeMillis\":1234,"
              "\"TablesLoaded\":0,\"TablesErrored\":1}}}");
    dms_task t;
    assert_true(dms_parse_task(json_object_get(j, "ReplicationTask"), &t));
    assert_string_equal(t.status, "stopped");
    assert_string_equal(t.stop_reason, "Stop Reason FATAL_ERROR");
    assert_string_equal(t.last_failure, "boom");
    assert_string_equal(t.cdc_start_position, "0/16B3748");
    assert_true(t.has_stats);
    assert_int_equal(t.stats.elapsed_ms, 1234);
    assert_int_equal(t.stats.tables_errored, 1);
    json_decref(j);

    j = parse("{\"SchemaName\":\"public\",\"TableName\":\"orders\",\"Inserts\":10,\"Updates\":2,\"Deletes\":1,"
              "\"Ddls\":0,\"FullLoadRows\":0,\"TableState\":\"Table completed\",\"ValidationState\":\"No primary key\","
              "\"ValidationPendingRecords\":3,\"ValidationFailedRecords\":0}");
    dms_table_stat ts;
    assert_true(dms_parse_table_stat(j, &ts));
    assert_string_equal(ts.schema, "public");
    assert_string_equal(ts.table, "orders");
    assert_int_equal(ts.inserts, 10);
    assert_int_equal(ts.updates, 2);
    assert_int_equal(ts.deletes, 1);
    assert_string_equal(ts.table_state, "Table completed");
    assert_string_equal(ts.validation_state, "No primary key");
    assert_int_equal(ts.validation_pending, 3);
    json_decref(j);

    /* no ARN / not an object: refused */
    j = parse("{\"ReplicationTask\":{\"Status\":\"running\"}}");
    assert_false(dms_parse_task(json_object_get(j, "ReplicationTask"), &t));
    assert_false(dms_parse_instance(json_object_get(j, "Nothing"), &ri));
    json_decref(j);
}

/* The service is a client service like the others: endpoint from its own
 * variable (botocore's service id "Database Migration Service"), signing name dms. */
static void test_service_registered(void **state)
{
    (void)state;
    char key[64];
    assert_true(aws_service_config_key(AWS_SVC_DMS, key, sizeof key));
    assert_string_equal(key, "database_migration_service");
    assert_string_equal(aws_service_name(AWS_SVC_DMS), "dms");
    unsetenv("AWS_ENDPOINT_URL");
    setenv("AWS_ENDPOINT_URL_DATABASE_MIGRATION_SERVICE", "http://127.0.0.1:9", 1);
    aws_error e;
    aws_creds cr;
    memset(&cr, 0, sizeof cr);
    snprintf(cr.access_key_id, sizeof cr.access_key_id, "AKIDEXAMPLE");
    snprintf(cr.secret_access_key, sizeof cr.secret_access_key, "x");
    aws_cred_opts co = {.fixed = &cr};
    aws_cred_provider *p = aws_cred_provider_new(&co, NULL, &e);
    assert_non_null(p);
    aws_client_opts o;
    memset(&o, 0, sizeof o);
    o.region = "us-east-1";
    aws_client *c = aws_client_new(&o, p, &e);
    assert_non_null(c);
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_DMS), "http://127.0.0.1:9");
    unsetenv("AWS_ENDPOINT_URL_DATABASE_MIGRATION_SERVICE");
    aws_client_free(c);
    c = aws_client_new(&o, p, &e);
    assert_non_null(c);
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_DMS), "https://dms.us-east-1.amazonaws.com");
    aws_client_free(c);
    aws_cred_provider_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_instance), cmocka_unit_test(test_build_endpoint),
        cmocka_unit_test(test_build_task),     cmocka_unit_test(test_parse_answers),
        cmocka_unit_test(test_service_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
