/* replicate — dms-cdc's steps `replication-instance`, `endpoints`,
 * `start-task` and `catch-up`.
 *
 * replication-instance: the campaign's one replication instance, made by the
 * first of its instances to get here and shared by the others (named from
 * the campaign; a create that finds it made already describes it), awaited
 * until available.
 * endpoints: per database a source endpoint (the source's address, slot =
 * the prepare-source slot, PluginName test-decoding, CaptureDdls false: DMS
 * adds no event trigger or audit table to the source) and a target endpoint
 * (the restored instance's -target address), both as fleetcrypt's admin
 * role (its password derived, sent only in the request, never recorded).
 * start-task: per database a CDC-only task (MigrationType cdc) starting at
 * the restored instance's exact end of WAL (fact start_lsn from pg-logical's
 * find-start-lsn) into the restored target itself — TargetTablePrepMode
 * DO_NOTHING, no dummy target, no full load — through dms_start_tasks
 * (also dms-full-cdc's start-task): every task made first, on the
 * campaign's next replication instance when this one is full, then each
 * started with start-replication once and awaited running.
 * catch-up: every task running (a failed or stopped one aborts the
 * instance), no apply exception on the target, pg-logical's source watch
 * (slot kept, retained WAL and disk under the limits, DDL guard), and every
 * slot's confirmed_flush_lsn within catchup_lag_bytes of the source's
 * current LSN for catchup_stable_s; with --cutover-method cname the
 * record's TTL lowered and its old TTL waited out (shared/awscname.c). Each step is idempotent: it describes by
 * name before it creates, and records the ARNs as facts. */
#include "dmscdc.h"
#include "dmscdc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscname.h"
#include "awsstep.h"
#include "dms_db.h"
#include "log.h"
#include "util.h"

step_rc dms_step_replication_instance(step_ctx *ctx, step_result *res)
{
    step_rc rc = pgl_watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    return dms_ensure_instance(ctx, res);
}

/* Make (or find) one endpoint; *arn its ARN once active. */
static step_rc ensure_endpoint(step_ctx *ctx, step_result *res, const dms_endpoint_spec *sp, char *arn, size_t cap)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    dms_endpoint ep;
    aws_error e;
    aws_error_clear(&e);
    if (!dms_describe_endpoint(c, sp->id, &ep, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND) return dms_fail(res, &e, "DescribeEndpoints");
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        aws_error_clear(&e);
        if (!dms_create_endpoint(c, sp, &ep, &e)) {
            if (strcmp(e.code, "ResourceAlreadyExistsFault")) return dms_fail(res, &e, "CreateEndpoint");
            aws_error_clear(&e);
            if (!dms_describe_endpoint(c, sp->id, &ep, &e)) return dms_fail(res, &e, "DescribeEndpoints");
        }
        log_info("DMS endpoint created", "endpoint=%s type=%s db=%s", sp->id, sp->type, sp->database);
    }
    fc_strlcpy(arn, ep.arn, cap);
    if (ep.status[0] && strcmp(ep.status, "active")) {
        res->wait_ms = 2000;
        PGL_REASON(res, "waiting for DMS endpoint %s (%s)", sp->id, ep.status);
        return STEP_WAIT;
    }
    return STEP_OK;
}

step_rc dms_step_endpoints(step_ctx *ctx, step_result *res)
{
    step_rc rc = pgl_watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    if ((rc = dms_ensure_instance(ctx, res)) != STEP_OK) return rc;
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    char shost[256], thost[256];
    int sport = 0, tport = 0;
    if (!pgl_endpoint(&s, PGL_SOURCE, shost, sizeof shost, &sport) ||
        !pgl_endpoint(&s, PGL_TARGET, thost, sizeof thost, &tport)) {
        PGL_REASON(res, "the source's or the restored target's address is not recorded");
        rc = STEP_FAIL;
        goto done;
    }
    if (!pgl_ensure_creds(&s, &rc)) goto done;
    const char *ssl = step_ctx_opt(ctx, "dms-ssl-mode");
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        pgl_db_names nm;
        if (!pgl_names(&s, s.dbs[i], &nm)) {
            rc = STEP_FAIL;
            break;
        }
        char sid[DMS_NAME_MAX], tid[DMS_NAME_MAX], arn[DMS_ARN_MAX], f[48];
        dms_res_name(ctx, "src", i + 1, sid, sizeof sid);
        dms_res_name(ctx, "tgt", i + 1, tid, sizeof tid);
        dms_endpoint_spec src = {.id = sid, .type = "source", .engine = "postgres", .server = shost, .port = sport,
                                 .database = s.dbs[i], .username = nm.admin_role, .password = s.admin_pw,
                                 .ssl_mode = *ssl ? ssl : NULL, .slot_name = nm.slot, .plugin_name = "test-decoding",
                                 .heartbeat = false, .capture_ddls_set = true, .capture_ddls = false};
        rc = ensure_endpoint(ctx, res, &src, arn, sizeof arn);
        if (rc != STEP_OK) break;
        snprintf(f, sizeof f, "dms_src_arn.%d", i + 1);
        step_ctx_set_fact(ctx, f, arn);
        dms_endpoint_spec tgt = {.id = tid, .type = "target", .engine = "postgres", .server = thost, .port = tport,
                                 .database = s.dbs[i], .username = nm.admin_role, .password = s.admin_pw,
                                 .ssl_mode = *ssl ? ssl : NULL};
        rc = ensure_endpoint(ctx, res, &tgt, arn, sizeof arn);
        if (rc != STEP_OK) break;
        snprintf(f, sizeof f, "dms_tgt_arn.%d", i + 1);
        step_ctx_set_fact(ctx, f, arn);
    }
done:
    pgl_session_finish(&s);
    return rc;
}

/* Make database k's task on the current replication instance. *full when
 * DMS refused it for the instance's task quota with tasks on it. */
static step_rc create_task(step_ctx *ctx, step_result *res, const dms_task_kind *kind, const pgl_db_names *nm,
                           int k, const char *db, dms_task *t, bool *full)
{
    *full = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    char id[DMS_NAME_MAX], f1[48], f2[48];
    dms_res_name(ctx, "cdc", k, id, sizeof id);
    snprintf(f1, sizeof f1, "dms_src_arn.%d", k);
    snprintf(f2, sizeof f2, "dms_tgt_arn.%d", k);
    char *maps = dms_table_mappings(nm->schema);
    char *settings = kind->settings(nm->schema);
    const char *ri_arn = pgl_fact(ctx, "dms_instance_arn");
    dms_task_spec sp = {.id = id, .source_arn = pgl_fact(ctx, f1), .target_arn = pgl_fact(ctx, f2),
                        .instance_arn = ri_arn, .migration_type = kind->migration_type,
                        .table_mappings = maps, .settings = settings, .cdc_start_position = kind->cdc_start};
    aws_error e;
    aws_error_clear(&e);
    bool lease = step_ctx_lease_ok(ctx);
    bool ok = maps && settings && lease && dms_create_task(c, &sp, t, &e);
    free(maps);
    free(settings);
    if (ok) {
        log_info("DMS task created", "task=%s type=%s start=%s db=%s", id, kind->migration_type,
                 kind->cdc_start ? kind->cdc_start : "load", db);
        return STEP_OK;
    }
    if (!lease) return LEASE_LOST(res);
    if (!e.code[0]) {
        PGL_REASON(res, "building the DMS task's mappings or settings failed");
        return STEP_RETRY;
    }
    if (!strcmp(e.code, "ResourceQuotaExceededFault")) {
        int on = 0;
        aws_error e2;
        aws_error_clear(&e2);
        if (!dms_count_tasks_on_instance(c, ri_arn, &on, &e2)) return dms_fail(res, &e2, "DescribeReplicationTasks");
        int own = 0; /* this instance's own tasks already on it */
        for (int j = 1; j < k; j++) {
            dms_task o;
            bool f = false;
            step_rc rc = dms_task_of(ctx, res, j, &o, &f);
            if (rc != STEP_OK) return rc;
            own += f && !strcmp(o.instance_arn, ri_arn);
        }
        if (on > own) { /* other instances' tasks fill it: the next one */
            *full = true;
            return STEP_OK;
        }
        if (on > 0) {
            PGL_REASON(res, "a DMS replication instance holds only %d task(s) and this instance needs one per "
                       "database (%d at least): DMS refused task %s (%.200s); raise the quota (tasks per "
                       "replication instance) or migrate fewer databases", on, k, id, e.message);
            return STEP_FAIL;
        }
        /* an empty instance refused it: the account's task quota; wait */
        res->wait_ms = 30000;
        PGL_REASON(res, "DMS task quota reached (%.200s): waiting for other tasks to end", e.message);
        return STEP_WAIT;
    }
    if (strcmp(e.code, "ResourceAlreadyExistsFault")) return dms_fail(res, &e, "CreateReplicationTask");
    bool found = false;
    step_rc rc = dms_task_of(ctx, res, k, t, &found);
    if (rc == STEP_OK && !found) {
        PGL_REASON(res, "DMS task %s exists and cannot be described", id);
        return STEP_RETRY;
    }
    return rc;
}

/* Every database's task made on the current replication instance: *waiting
 * while one of this instance's never-started tasks on another instance is
 * being deleted; STEP_WAIT when the instance was full (the next one is
 * recorded). */
static step_rc make_tasks(step_ctx *ctx, step_result *res, const dms_task_kind *kind, pgl_session *s,
                          bool *waiting)
{
    aws_client *c = step_ctx_aws(ctx);
    const char *ri_arn = pgl_fact(ctx, "dms_instance_arn");
    step_rc rc = STEP_OK;
    for (int i = 0; rc == STEP_OK && i < s->ndbs; i++) {
        int k = i + 1;
        pgl_db_names nm;
        if (!pgl_names(s, s->dbs[i], &nm)) return STEP_FAIL;
        dms_task t;
        bool found = false, full = false;
        if ((rc = dms_task_of(ctx, res, k, &t, &found)) != STEP_OK) return rc;
        if (found && strcmp(t.instance_arn, ri_arn) && (!strcmp(t.status, "ready") || !strcmp(t.status, "creating") ||
                                                        !strcmp(t.status, "deleting"))) {
            /* made on a full instance before this one was chosen, never started: gone first (same name) */
            *waiting = true;
            if (strcmp(t.status, "ready")) continue;
            if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
            aws_error e;
            aws_error_clear(&e);
            if (!dms_delete_task(c, t.arn, &e) && e.kind != AWS_ERR_NOT_FOUND)
                return dms_fail(res, &e, "DeleteReplicationTask");
            log_info("DMS task deleted: its replication instance is full", "task=%s", t.id);
            continue;
        }
        if (found || *waiting) continue;
        if ((rc = create_task(ctx, res, kind, &nm, k, s->dbs[i], &t, &full)) != STEP_OK) return rc;
        if (full) {
            int idx = dms_instance_index(ctx);
            step_ctx_set_factf(ctx, "dms_ri_index", "%d", idx + 1);
            step_ctx_set_fact(ctx, "dms_instance_arn", "");
            log_info("DMS replication instance full: this instance goes to the campaign's next one",
                     "dms_instance=%s next_index=%d", pgl_fact(ctx, "dms_instance_id"), idx + 1);
            res->wait_ms = 1000;
            PGL_REASON(res, "DMS replication instance %s holds as many tasks as DMS allows: moving to the "
                       "campaign's replication instance #%d", pgl_fact(ctx, "dms_instance_id"), idx + 1);
            return STEP_WAIT;
        }
    }
    return STEP_OK;
}

step_rc dms_start_tasks(step_ctx *ctx, step_result *res, const dms_task_kind *kind)
{
    step_rc rc = pgl_watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    if ((rc = dms_ensure_instance(ctx, res)) != STEP_OK) return rc;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    bool waiting = false;
    rc = make_tasks(ctx, res, kind, &s, &waiting);
    if (rc == STEP_OK && waiting) {
        pgl_session_finish(&s);
        res->wait_ms = 3000;
        PGL_REASON(res, "waiting for this instance's DMS tasks on a full replication instance to be deleted");
        return STEP_WAIT;
    }
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        int k = i + 1;
        dms_task t;
        bool found = false;
        if ((rc = dms_task_of(ctx, res, k, &t, &found)) != STEP_OK) break;
        if (!found) { /* deleted behind our back: made again on the next run */
            waiting = true;
            continue;
        }
        char f[48];
        snprintf(f, sizeof f, "dms_task_arn.%d", k);
        step_ctx_set_fact(ctx, f, t.arn);
        if (!strcmp(t.status, "ready")) {
            /* the one valid first start; CdcStartPosition was given at creation */
            if (!step_ctx_lease_ok(ctx)) {
                rc = LEASE_LOST(res);
                break;
            }
            aws_error e;
            aws_error_clear(&e);
            if (!dms_start_task(c, t.arn, "start-replication", NULL, NULL, &e)) {
                rc = dms_fail(res, &e, "StartReplicationTask");
                break;
            }
            log_info("DMS task started", "task=%s type=%s db=%s", t.id, kind->migration_type, s.dbs[i]);
            waiting = true;
        } else if (!strcmp(t.status, "failed") || !strcmp(t.status, "stopped")) {
            PGL_REASON(res, "DMS task %s is %s: %s %s", t.id, t.status, t.stop_reason, t.last_failure);
            rc = STEP_FAIL;
        } else if (strcmp(t.status, "running")) {
            waiting = true;
        }
    }
    pgl_session_finish(&s);
    if (rc != STEP_OK) return rc;
    if (waiting) {
        res->wait_ms = 3000;
        PGL_REASON(res, "waiting for the DMS %s task(s) to run", kind->what);
        return STEP_WAIT;
    }
    step_ctx_set_fact(ctx, "dms_task_started", "1");
    awsstep_mark(ctx, "dms_started_at");
    return STEP_OK;
}

step_rc dms_step_start_task(step_ctx *ctx, step_result *res)
{
    const char *start = pgl_fact(ctx, "start_lsn");
    fc_lsn sl = FC_LSN_INVALID;
    if (!*start || !lsn_parse(start, &sl)) {
        PGL_REASON(res, "no start LSN recorded (find-start-lsn)");
        return STEP_FAIL;
    }
    const dms_task_kind kind = {.migration_type = "cdc", .settings = dms_task_settings, .cdc_start = start,
                                .what = "CDC"};
    return dms_start_tasks(ctx, res, &kind);
}

step_rc dms_step_catch_up(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = pgl_watch(&s, false, NULL);
    int64_t lag = 0, exc = 0;
    char err[1024];
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        dms_task t;
        bool found = false;
        if ((rc = dms_task_of(ctx, res, i + 1, &t, &found)) != STEP_OK) break;
        if (!found || strcmp(t.status, "running")) {
            char why[600];
            snprintf(why, sizeof why, "DMS task for database %s is %s%s%s%s", s.dbs[i], found ? t.status : "missing",
                     t.stop_reason[0] ? ": " : "", found ? t.stop_reason : "", found ? t.last_failure : "");
            rc = pgl_abort_now(ctx, res, why);
            break;
        }
        step_ctx_set_fact(ctx, "dms_status", t.status);
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&s, s.dbs[i], PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
        if (!q) break;
        pgl_slot_info si;
        if (!pgl_slot_status(q, nm.slot, &si, err, sizeof err)) {
            rc = pgl_sql_fail(res, q, "slot status", err);
            break;
        }
        if (si.lag_bytes > lag) lag = si.lag_bytes;
        /* DMS's control tables belong to fleetcrypt's role (DMS's user on
         * the target), not to the master user */
        pgq *t2 = pgl_conn(&s, PGL_TARGET, PGL_AS_ADMIN, s.dbs[i], &rc);
        if (!t2) break;
        int64_t n = 0;
        if (!dms_db_apply_exceptions(t2, nm.schema, &n, err, sizeof err)) {
            rc = pgl_sql_fail(res, t2, "apply exceptions", err);
            break;
        }
        exc += n;
    }
    pgl_session_finish(&s);
    if (rc != STEP_OK) return rc;
    step_ctx_set_factf(ctx, "apply_exceptions", "%lld", (long long)exc);
    step_ctx_set_factf(ctx, "lag_bytes", "%lld", (long long)lag);
    awsstep_mark(ctx, "lag_at");
    if (exc > 0) {
        char why[300];
        snprintf(why, sizeof why, "DMS could not apply %lld change(s) to the target (awsdms_apply_exceptions): the "
                 "target would miss them", (long long)exc);
        return pgl_abort_now(ctx, res, why);
    }
    /* --cutover-method cname: the record's TTL lowered now, its old TTL
     * waited out while catching up (shared/awscname.c, as pg-logical's) */
    bool cname_ready = true;
    int64_t cname_wait = 0;
    if (!strcmp(pgl_cfield(ctx, "cutover_method"), "cname")) {
        const char *ttl = pgl_cfield(ctx, "cname_ttl");
        rc = awscname_lower_ttl(ctx, res, *ttl ? strtoll(ttl, NULL, 10) : 5, &cname_ready, &cname_wait);
        if (rc != STEP_OK) return rc;
    }
    int64_t thr = step_ctx_opt_i64(ctx, "catchup_lag_bytes", 1024LL * 1024);
    int64_t stable_ms = step_ctx_opt_i64(ctx, "catchup_stable_s", 10) * 1000;
    int64_t now = fc_now_ms(), since = pgl_fact_i64(ctx, "caught_up_since", 0);
    if (lag > thr) {
        if (since) step_ctx_set_fact(ctx, "caught_up_since", "");
        res->wait_ms = 2000;
        PGL_REASON(res, "catching up: DMS is %lld bytes behind the source", (long long)lag);
        return STEP_WAIT;
    }
    if (!since) {
        step_ctx_set_factf(ctx, "caught_up_since", "%lld", (long long)now);
        since = now;
    }
    if (now - since < stable_ms) {
        res->wait_ms = 1000;
        PGL_REASON(res, "caught up (lag %lld bytes); holding for %llds", (long long)lag, (long long)(stable_ms / 1000));
        return STEP_WAIT;
    }
    if (!cname_ready) {
        res->wait_ms = cname_wait; /* res->reason: awscname_lower_ttl's */
        return STEP_WAIT;
    }
    log_info("DMS caught up", "lag_bytes=%lld", (long long)lag);
    return STEP_OK;
}
