/* dms — see dms.h. */
#include "dms.h"

#include <stdlib.h>
#include <string.h>

#include "awsjson.h"
#include "util.h"

#define DMS_MAX_PAGES 100

void dms_table_stats_free(dms_table_stats *l)
{
    if (!l) return;
    free(l->v);
    free(l);
}

static void oom(aws_error *err) { aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "allocation failed"); }

/* Set key to a string when s is non-empty; false on allocation failure. */
static bool set_str(json_t *o, const char *key, const char *s)
{
    if (!s || !*s) return true;
    return json_object_set_new(o, key, json_string(s)) == 0;
}

static bool set_tags(json_t *o, const char *const *k, const char *const *v, size_t n)
{
    if (!n || !k || !v) return true;
    json_t *a = json_array();
    if (!a || json_object_set_new(o, "Tags", a)) return false;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(a, json_pack("{s:s,s:s}", "Key", k[i] ? k[i] : "", "Value", v[i] ? v[i] : "")))
            return false;
    return true;
}

json_t *dms_build_create_instance(const dms_instance_spec *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    bool ok = set_str(o, "ReplicationInstanceIdentifier", s->id) &&
              set_str(o, "ReplicationInstanceClass", s->instance_class) &&
              set_str(o, "ReplicationSubnetGroupIdentifier", s->subnet_group) &&
              set_str(o, "KmsKeyId", s->kms_key_id) &&
              !json_object_set_new(o, "MultiAZ", json_boolean(s->multi_az)) &&
              !json_object_set_new(o, "PubliclyAccessible", json_boolean(s->publicly_accessible)) &&
              set_tags(o, s->tag_keys, s->tag_values, s->ntags);
    if (ok && s->allocated_storage > 0)
        ok = !json_object_set_new(o, "AllocatedStorage", json_integer(s->allocated_storage));
    if (ok && s->nsecurity_groups && s->security_groups) {
        json_t *a = json_array();
        ok = a && !json_object_set_new(o, "VpcSecurityGroupIds", a);
        for (size_t i = 0; ok && i < s->nsecurity_groups; i++)
            ok = !json_array_append_new(a, json_string(s->security_groups[i]));
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dms_build_create_endpoint(const dms_endpoint_spec *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    bool ok = set_str(o, "EndpointIdentifier", s->id) && set_str(o, "EndpointType", s->type) &&
              set_str(o, "EngineName", s->engine) && set_str(o, "ServerName", s->server) &&
              set_str(o, "DatabaseName", s->database) && set_str(o, "Username", s->username) &&
              set_str(o, "Password", s->password) && set_str(o, "SslMode", s->ssl_mode) &&
              set_tags(o, s->tag_keys, s->tag_values, s->ntags);
    if (ok && s->port > 0) ok = !json_object_set_new(o, "Port", json_integer(s->port));
    bool pg = (s->slot_name && *s->slot_name) || (s->plugin_name && *s->plugin_name) || s->heartbeat ||
              s->capture_ddls_set;
    if (ok && pg) {
        json_t *p = json_object();
        ok = p && !json_object_set_new(o, "PostgreSQLSettings", p) && set_str(p, "SlotName", s->slot_name) &&
             set_str(p, "PluginName", s->plugin_name);
        if (ok && s->heartbeat) ok = !json_object_set_new(p, "HeartbeatEnable", json_true());
        if (ok && s->capture_ddls_set) ok = !json_object_set_new(p, "CaptureDdls", json_boolean(s->capture_ddls));
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dms_build_create_task(const dms_task_spec *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    bool ok = set_str(o, "ReplicationTaskIdentifier", s->id) && set_str(o, "SourceEndpointArn", s->source_arn) &&
              set_str(o, "TargetEndpointArn", s->target_arn) &&
              set_str(o, "ReplicationInstanceArn", s->instance_arn) &&
              set_str(o, "MigrationType", s->migration_type) && set_str(o, "TableMappings", s->table_mappings) &&
              set_str(o, "ReplicationTaskSettings", s->settings) &&
              set_str(o, "CdcStartPosition", s->cdc_start_position) &&
              set_tags(o, s->tag_keys, s->tag_values, s->ntags);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dms_build_filter(const char *filter, const char *value, const char *marker)
{
    json_t *o = json_pack("{s:[{s:s,s:[s]}]}", "Filters", "Name", filter ? filter : "", "Values", value ? value : "");
    if (o && marker && *marker && json_object_set_new(o, "Marker", json_string(marker))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dms_build_start_task(const char *arn, const char *type, const char *cdc_start_position)
{
    json_t *o = json_pack("{s:s,s:s}", "ReplicationTaskArn", arn ? arn : "", "StartReplicationTaskType",
                          type && *type ? type : "start-replication");
    if (o && !set_str(o, "CdcStartPosition", cdc_start_position)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int64_t i64_of(const json_t *o, const char *key)
{
    int64_t v = 0;
    if (!aws_json_int64(o, key, &v)) {
        double d = 0;
        if (aws_json_number(o, key, &d)) v = (int64_t)d;
    }
    return v;
}

bool dms_parse_instance(const json_t *o, dms_instance *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(o)) return false;
    aws_json_str(o, "ReplicationInstanceIdentifier", out->id, sizeof out->id);
    aws_json_str(o, "ReplicationInstanceArn", out->arn, sizeof out->arn);
    aws_json_str(o, "ReplicationInstanceStatus", out->status, sizeof out->status);
    aws_json_str(o, "ReplicationInstanceClass", out->instance_class, sizeof out->instance_class);
    out->allocated_storage = (int)i64_of(o, "AllocatedStorage");
    return out->arn[0] != 0;
}

bool dms_parse_endpoint(const json_t *o, dms_endpoint *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(o)) return false;
    aws_json_str(o, "EndpointIdentifier", out->id, sizeof out->id);
    aws_json_str(o, "EndpointArn", out->arn, sizeof out->arn);
    aws_json_str(o, "Status", out->status, sizeof out->status);
    aws_json_str(o, "EndpointType", out->type, sizeof out->type);
    aws_json_str(o, "EngineName", out->engine, sizeof out->engine);
    aws_json_str(o, "ServerName", out->server, sizeof out->server);
    aws_json_str(o, "DatabaseName", out->database, sizeof out->database);
    out->port = (int)i64_of(o, "Port");
    const json_t *p = json_object_get(o, "PostgreSQLSettings");
    if (json_is_object(p)) {
        aws_json_str(p, "SlotName", out->slot_name, sizeof out->slot_name);
        aws_json_str(p, "PluginName", out->plugin_name, sizeof out->plugin_name);
    }
    return out->arn[0] != 0;
}

bool dms_parse_task(const json_t *o, dms_task *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(o)) return false;
    aws_json_str(o, "ReplicationTaskIdentifier", out->id, sizeof out->id);
    aws_json_str(o, "ReplicationTaskArn", out->arn, sizeof out->arn);
    aws_json_str(o, "Status", out->status, sizeof out->status);
    aws_json_str(o, "StopReason", out->stop_reason, sizeof out->stop_reason);
    aws_json_str(o, "LastFailureMessage", out->last_failure, sizeof out->last_failure);
    aws_json_str(o, "MigrationType", out->migration_type, sizeof out->migration_type);
    aws_json_str(o, "CdcStartPosition", out->cdc_start_position, sizeof out->cdc_start_position);
    aws_json_str(o, "RecoveryCheckpoint", out->recovery_checkpoint, sizeof out->recovery_checkpoint);
    aws_json_str(o, "SourceEndpointArn", out->source_arn, sizeof out->source_arn);
    aws_json_str(o, "TargetEndpointArn", out->target_arn, sizeof out->target_arn);
    aws_json_str(o, "ReplicationInstanceArn", out->instance_arn, sizeof out->instance_arn);
    const json_t *st = json_object_get(o, "ReplicationTaskStats");
    if (json_is_object(st)) {
        out->has_stats = true;
        out->stats.full_load_progress_percent = (int)i64_of(st, "FullLoadProgressPercent");
        out->stats.elapsed_ms = i64_of(st, "ElapsedTimeMillis");
        out->stats.tables_loaded = (int)i64_of(st, "TablesLoaded");
        out->stats.tables_loading = (int)i64_of(st, "TablesLoading");
        out->stats.tables_queued = (int)i64_of(st, "TablesQueued");
        out->stats.tables_errored = (int)i64_of(st, "TablesErrored");
    }
    return out->arn[0] != 0;
}

bool dms_parse_table_stat(const json_t *o, dms_table_stat *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(o)) return false;
    aws_json_str(o, "SchemaName", out->schema, sizeof out->schema);
    aws_json_str(o, "TableName", out->table, sizeof out->table);
    out->inserts = i64_of(o, "Inserts");
    out->deletes = i64_of(o, "Deletes");
    out->updates = i64_of(o, "Updates");
    out->ddls = i64_of(o, "Ddls");
    out->full_load_rows = i64_of(o, "FullLoadRows");
    out->applied_inserts = i64_of(o, "AppliedInserts");
    out->applied_deletes = i64_of(o, "AppliedDeletes");
    out->applied_updates = i64_of(o, "AppliedUpdates");
    aws_json_str(o, "TableState", out->table_state, sizeof out->table_state);
    aws_json_str(o, "ValidationState", out->validation_state, sizeof out->validation_state);
    out->validation_pending = i64_of(o, "ValidationPendingRecords");
    out->validation_failed = i64_of(o, "ValidationFailedRecords");
    out->validation_suspended = i64_of(o, "ValidationSuspendedRecords");
    return out->table[0] != 0;
}

/* ---------------------------------------------------------------- calls */
static bool dms_call(aws_client *c, const char *action, json_t *req, bool secret, json_t **resp, aws_error *err)
{
    *resp = NULL;
    if (!req) {
        oom(err);
        return false;
    }
    bool ok = aws_json_call(c, AWS_SVC_DMS, action, req, secret, resp, err);
    if (secret) {
        /* the password lives in jansson's string: wiped before the decref */
        json_t *pw = json_object_get(req, "Password");
        if (json_is_string(pw)) fc_wipe((void *)json_string_value(pw), json_string_length(pw));
    }
    json_decref(req);
    return ok;
}

static bool missing(aws_error *err, const char *what)
{
    aws_error_set(err, AWS_ERR_PERMANENT, 200, "ParseError", "%s missing from the answer", what);
    return false;
}

bool dms_create_instance(aws_client *c, const dms_instance_spec *s, dms_instance *out, aws_error *err)
{
    json_t *resp = NULL;
    if (!dms_call(c, "CreateReplicationInstance", dms_build_create_instance(s), false, &resp, err)) return false;
    bool ok = dms_parse_instance(json_object_get(resp, "ReplicationInstance"), out) ||
              missing(err, "ReplicationInstance");
    json_decref(resp);
    return ok;
}

/* Describe<Kind>s filtered by one identifier: the first element of
 * array_key, parsed; NOT_FOUND when the list is empty. */
static bool describe_call(aws_client *c, const char *action, const char *filter, const char *id,
                         const char *array_key, bool (*parse)(const json_t *, void *), void *out, aws_error *err)
{
    json_t *resp = NULL;
    if (!dms_call(c, action, dms_build_filter(filter, id, NULL), false, &resp, err)) return false;
    const json_t *a = json_object_get(resp, array_key);
    bool ok = false;
    for (size_t i = 0; i < json_array_size(a) && !ok; i++) ok = parse(json_array_get(a, i), out);
    if (!ok)
        aws_error_set(err, AWS_ERR_NOT_FOUND, 400, "ResourceNotFoundFault", "%s: no %.200s", action, id ? id : "");
    json_decref(resp);
    return ok;
}

static bool parse_instance_v(const json_t *o, void *out) { return dms_parse_instance(o, out); }
static bool parse_endpoint_v(const json_t *o, void *out) { return dms_parse_endpoint(o, out); }
static bool parse_task_v(const json_t *o, void *out) { return dms_parse_task(o, out); }

bool dms_describe_instance(aws_client *c, const char *id, dms_instance *out, aws_error *err)
{
    return describe_call(c, "DescribeReplicationInstances", "replication-instance-id", id, "ReplicationInstances",
                        parse_instance_v, out, err);
}

bool dms_delete_instance(aws_client *c, const char *arn, aws_error *err)
{
    json_t *resp = NULL;
    bool ok = dms_call(c, "DeleteReplicationInstance", json_pack("{s:s}", "ReplicationInstanceArn", arn ? arn : ""),
                   false, &resp, err);
    json_decref(resp);
    return ok;
}

bool dms_create_endpoint(aws_client *c, const dms_endpoint_spec *s, dms_endpoint *out, aws_error *err)
{
    json_t *resp = NULL;
    if (!dms_call(c, "CreateEndpoint", dms_build_create_endpoint(s), true, &resp, err)) return false;
    bool ok = dms_parse_endpoint(json_object_get(resp, "Endpoint"), out) || missing(err, "Endpoint");
    json_decref(resp);
    return ok;
}

bool dms_describe_endpoint(aws_client *c, const char *id, dms_endpoint *out, aws_error *err)
{
    return describe_call(c, "DescribeEndpoints", "endpoint-id", id, "Endpoints", parse_endpoint_v, out, err);
}

bool dms_delete_endpoint(aws_client *c, const char *arn, aws_error *err)
{
    json_t *resp = NULL;
    bool ok = dms_call(c, "DeleteEndpoint", json_pack("{s:s}", "EndpointArn", arn ? arn : ""), false, &resp, err);
    json_decref(resp);
    return ok;
}

bool dms_create_task(aws_client *c, const dms_task_spec *s, dms_task *out, aws_error *err)
{
    json_t *resp = NULL;
    if (!dms_call(c, "CreateReplicationTask", dms_build_create_task(s), false, &resp, err)) return false;
    bool ok = dms_parse_task(json_object_get(resp, "ReplicationTask"), out) || missing(err, "ReplicationTask");
    json_decref(resp);
    return ok;
}

bool dms_describe_task(aws_client *c, const char *id, dms_task *out, aws_error *err)
{
    return describe_call(c, "DescribeReplicationTasks", "replication-task-id", id, "ReplicationTasks", parse_task_v,
                        out, err);
}

bool dms_count_tasks_on_instance(aws_client *c, const char *instance_arn, int *n, aws_error *err)
{
    char marker[1024] = "";
    *n = 0;
    for (int page = 0; page < DMS_MAX_PAGES; page++) {
        json_t *req = dms_build_filter("replication-instance-arn", instance_arn, marker);
        if (req && json_object_set_new(req, "WithoutSettings", json_true())) {
            json_decref(req);
            req = NULL;
        }
        json_t *resp = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (!dms_call(c, "DescribeReplicationTasks", req, false, &resp, &e)) {
            if (e.kind == AWS_ERR_NOT_FOUND) return true;
            if (err) *err = e;
            return false;
        }
        *n += (int)json_array_size(json_object_get(resp, "ReplicationTasks"));
        char next[1024] = "";
        bool more = aws_json_str(resp, "Marker", next, sizeof next) && next[0] && strcmp(next, marker);
        json_decref(resp);
        if (!more) return true;
        fc_strlcpy(marker, next, sizeof marker);
    }
    aws_error_set(err, AWS_ERR_PERMANENT, 200, "TooManyPages", "DescribeReplicationTasks did not end");
    return false;
}

static bool task_call(aws_client *c, const char *action, json_t *req, dms_task *out, aws_error *err)
{
    json_t *resp = NULL;
    if (!dms_call(c, action, req, false, &resp, err)) return false;
    bool ok = true;
    if (out) ok = dms_parse_task(json_object_get(resp, "ReplicationTask"), out) || missing(err, "ReplicationTask");
    json_decref(resp);
    return ok;
}

bool dms_start_task(aws_client *c, const char *arn, const char *type, const char *cdc_start_position,
                    dms_task *out, aws_error *err)
{
    return task_call(c, "StartReplicationTask", dms_build_start_task(arn, type, cdc_start_position), out, err);
}

bool dms_stop_task(aws_client *c, const char *arn, dms_task *out, aws_error *err)
{
    return task_call(c, "StopReplicationTask", json_pack("{s:s}", "ReplicationTaskArn", arn ? arn : ""), out, err);
}

bool dms_delete_task(aws_client *c, const char *arn, aws_error *err)
{
    return task_call(c, "DeleteReplicationTask", json_pack("{s:s}", "ReplicationTaskArn", arn ? arn : ""), NULL,
                     err);
}

bool dms_describe_table_statistics(aws_client *c, const char *task_arn, dms_table_stats **out, aws_error *err)
{
    dms_table_stats *l = calloc(1, sizeof *l);
    char marker[1024] = "";
    *out = NULL;
    if (!l) return (oom(err), false);
    for (int page = 0; page < DMS_MAX_PAGES; page++) {
        json_t *req = json_pack("{s:s}", "ReplicationTaskArn", task_arn ? task_arn : "");
        if (req && marker[0] && json_object_set_new(req, "Marker", json_string(marker))) {
            json_decref(req);
            req = NULL;
        }
        json_t *resp = NULL;
        if (!dms_call(c, "DescribeTableStatistics", req, false, &resp, err)) {
            dms_table_stats_free(l);
            return false;
        }
        const json_t *a = json_object_get(resp, "TableStatistics");
        size_t n = json_array_size(a);
        if (n) {
            dms_table_stat *nv = realloc(l->v, (l->n + n) * sizeof *nv);
            if (!nv) {
                json_decref(resp);
                dms_table_stats_free(l);
                return (oom(err), false);
            }
            l->v = nv;
            for (size_t i = 0; i < n; i++)
                if (dms_parse_table_stat(json_array_get(a, i), &l->v[l->n])) l->n++;
        }
        char next[1024] = "";
        bool more = aws_json_str(resp, "Marker", next, sizeof next) && next[0] && strcmp(next, marker);
        json_decref(resp);
        if (!more) {
            *out = l;
            return true;
        }
        fc_strlcpy(marker, next, sizeof marker);
    }
    dms_table_stats_free(l);
    aws_error_set(err, AWS_ERR_PERMANENT, 200, "TooManyPages", "DescribeTableStatistics did not end");
    return false;
}
