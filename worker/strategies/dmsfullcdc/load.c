/* load — dms-full-cdc's steps `start-task` and `catch-up`.
 *
 * start-task: per database a task (named as dms-cdc's, so dms-cdc's
 * cutover, teardown and abort find it) with MigrationType
 * full-load-and-cdc on the prepare-source slot (the source endpoint's
 * SlotName), no CdcStartPosition: DMS takes the load's own start (made and
 * started by dms-cdc's dms_start_tasks, replication-instance spill-over
 * included). Settings
 * (dfc_task_settings): TargetTablePrepMode TRUNCATE_BEFORE_LOAD (each
 * restored table is emptied and loaded again: the target is exactly the
 * source whatever the snapshot held; possible only because hold-target
 * dropped the foreign keys — PostgreSQL refuses to TRUNCATE a referenced
 * table), validation on, full LOB mode, control tables in fleetcrypt's
 * schema, apply errors logged. Started with start-replication once,
 * awaited running.
 * catch-up: every task running and its full load complete (100 %, no table
 * queued or loading) with no table in error (a table DMS could not load
 * aborts the instance naming it) — fact dms_load_done, dms_load_rows — then
 * dms-cdc's catch-up (no apply exception, the source watch, the slot's lag
 * under catchup_lag_bytes for catchup_stable_s).
 * dfc_record_validation (inside the cutover): the tasks' own validation as
 * dms-cdc's dms_validation_* facts, the report's DMS evidence. */
#include "dmsfullcdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "dmscdc.h"
#include "dmscdc_common.h"
#include "log.h"
#include "util.h"

char *dfc_task_settings(const char *control_schema)
{
    json_t *o = json_pack("{s:{s:s,s:b,s:b,s:i},s:{s:s},s:{s:b,s:i},s:{s:s},s:{s:s,s:s},s:{s:b}}",
                          "TargetMetadata", "TargetSchema", "", "SupportLobs", 1, "FullLobMode", 1, "LobChunkSize", 64,
                          "FullLoadSettings", "TargetTablePrepMode", "TRUNCATE_BEFORE_LOAD",
                          "ValidationSettings", "EnableValidation", 1, "ThreadCount", 5,
                          "ControlTablesSettings", "ControlSchema", control_schema ? control_schema : "",
                          "ErrorBehavior", "ApplyErrorInsertPolicy", "LOG_ERROR", "DataErrorPolicy", "LOG_ERROR",
                          "Logging", "EnableLogging", 1);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

step_rc dfc_step_start_task(step_ctx *ctx, step_result *res)
{
    if (strcmp(pgl_fact(ctx, "held"), "1")) {
        PGL_REASON(res, "the target's foreign keys and triggers are not held (hold-target)");
        return STEP_FAIL;
    }
    static const dms_task_kind kind = {.migration_type = "full-load-and-cdc", .settings = dfc_task_settings,
                                       .cdc_start = NULL, .what = "full-load-and-cdc"};
    return dms_start_tasks(ctx, res, &kind);
}

/* The full load of database k: *done when complete; a table in error fails
 * the instance (named). Rows loaded added to *rows. */
static step_rc load_state(step_ctx *ctx, step_result *res, int k, const char *db, bool *done, int64_t *rows)
{
    *done = false;
    dms_task t;
    bool found = false;
    step_rc rc = dms_task_of(ctx, res, k, &t, &found);
    if (rc != STEP_OK) return rc;
    if (!found || strcmp(t.status, "running")) {
        char why[600];
        snprintf(why, sizeof why, "DMS task for database %s is %s%s%s%s", db, found ? t.status : "missing",
                 found && t.stop_reason[0] ? ": " : "", found ? t.stop_reason : "", found ? t.last_failure : "");
        return pgl_abort_now(ctx, res, why);
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    dms_table_stats *ts = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!dms_describe_table_statistics(c, t.arn, &ts, &e)) return dms_fail(res, &e, "DescribeTableStatistics");
    dbuf bad;
    dbuf_init(&bad, 600);
    int nbad = 0, pending = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const dms_table_stat *st = &ts->v[i];
        if (!strcmp(st->table_state, "Table error")) {
            dbuf_printf(&bad, "%s%s.%s", nbad++ ? ", " : "", st->schema, st->table);
        } else if (strcmp(st->table_state, "Table completed")) {
            pending++;
        }
        *rows += st->full_load_rows;
    }
    dms_table_stats_free(ts);
    if (nbad) {
        char why[900];
        snprintf(why, sizeof why, "DMS could not load %d table(s) of database %s: %s", nbad, db,
                 bad.data ? bad.data : "");
        dbuf_free(&bad);
        return pgl_abort_now(ctx, res, why);
    }
    dbuf_free(&bad);
    bool stats_done = !t.has_stats ||
                      (t.stats.full_load_progress_percent >= 100 && !t.stats.tables_loading && !t.stats.tables_queued);
    *done = pending == 0 && stats_done;
    return STEP_OK;
}

step_rc dfc_step_catch_up(step_ctx *ctx, step_result *res)
{
    if (strcmp(pgl_fact(ctx, "dms_load_done"), "1")) {
        pgl_session s;
        pgl_session_init(&s, ctx, res);
        step_rc rc = pgl_watch(&s, false, NULL);
        bool all = true;
        int64_t rows = 0;
        for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
            bool done = false;
            rc = load_state(ctx, res, i + 1, s.dbs[i], &done, &rows);
            all = all && done;
        }
        pgl_session_finish(&s);
        if (rc != STEP_OK) return rc;
        if (!all) {
            res->wait_ms = 2000;
            PGL_REASON(res, "DMS full load running (%lld rows loaded so far)", (long long)rows);
            return STEP_WAIT;
        }
        step_ctx_set_fact(ctx, "dms_load_done", "1");
        step_ctx_set_factf(ctx, "dms_load_rows", "%lld", (long long)rows);
        awsstep_mark(ctx, "dms_loaded_at");
        log_info("DMS full load complete", "rows=%lld", (long long)rows);
    }
    return dms_step_catch_up(ctx, res);
}

/* The report's DMS evidence: each task validates as it runs
 * (ValidationSettings.EnableValidation); inside the cutover, the tasks
 * stopped with every change applied, their table statistics' validation
 * states are recorded as dms-cdc's facts dms_validation_* (counts and
 * states, never row values). A table still "Pending records" is recorded as
 * such (not validated, no failure). Idempotent (dms_validation_done); an
 * AWS error is returned (the window's step is re-entered). */
step_rc dfc_record_validation(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    if (!strcmp(pgl_fact(ctx, "dms_validation_done"), "1")) return STEP_OK;
    dms_val_tally v;
    dms_val_tally_init(&v, false);
    step_rc rc = STEP_OK;
    for (int i = 0; rc == STEP_OK && i < s->ndbs; i++) {
        dms_task t;
        bool found = false;
        rc = dms_task_of(ctx, res, i + 1, &t, &found);
        if (rc == STEP_OK && found) rc = dms_val_tally_task(ctx, res, &v, s->dbs[i], t.arn);
    }
    if (rc == STEP_OK) dms_val_tally_record(ctx, &v, "DMS validation of the full-load-and-cdc tasks");
    dms_val_tally_free(&v);
    return rc;
}
