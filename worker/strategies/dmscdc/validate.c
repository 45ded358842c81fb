/* validate — DMS's own validation as evidence at dms-cdc's cutover
 * (--dms-validation dms|both; dmscdc_common.h, docs/dms.md).
 *
 * Per database a validation-only task "fc-<campaign>-<instance>-val<k>"
 * (MigrationType full-load, ValidationSettings EnableValidation +
 * ValidationOnly, TargetTablePrepMode DO_NOTHING: it compares, never loads)
 * on the CDC task's endpoints and table mappings. It runs inside the
 * cutover after the CDC tasks stopped: every writer is blocked on the
 * source and the target is not yet open, so both sides are still and the
 * comparison is exact. It adds its running time to the downtime (the
 * default, fleetcrypt, compares after the switch against the snapshot
 * pinned there instead).
 *
 * Recorded (counts and states only, never a row or key value):
 *   dms_validation_tables      tables DMS reported on
 *   dms_validation_validated   tables in state "Validated"
 *   dms_validation_failures    sum of ValidationFailedRecords
 *   dms_validation_mismatched  db/schema.table of every table with failures
 *                              or a state that is neither Validated nor
 *                              "No primary key" (comma-separated, capped)
 *   dms_validation_state       one "db/schema.table<TAB>state<TAB>failed"
 *                              line per table
 *   dms_validation_error       a task that failed (its reason)
 *   dms_validation_done        1 */
#include "dmscdc.h"
#include "dmscdc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "pglogical.h"
#include "util.h"

#define VALIDATE_WAIT_MS 120000

/* Create (if missing) and start the validation task of database k; *done
 * when it finished (stopped or failed), *t then describes it. */
static step_rc val_task(step_ctx *ctx, step_result *res, pgl_session *s, int k, dms_task *t, bool *done)
{
    *done = false;
    bool found = false;
    step_rc rc = dms_task_named(ctx, res, "val", k, t, &found);
    if (rc != STEP_OK) return rc;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    aws_error e;
    aws_error_clear(&e);
    if (!found) {
        pgl_db_names nm;
        if (!pgl_names(s, s->dbs[k - 1], &nm)) return STEP_FAIL;
        char id[DMS_NAME_MAX], f1[48], f2[48];
        dms_res_name(ctx, "val", k, id, sizeof id);
        snprintf(f1, sizeof f1, "dms_src_arn.%d", k);
        snprintf(f2, sizeof f2, "dms_tgt_arn.%d", k);
        char *maps = dms_table_mappings(nm.schema);
        char *settings = dms_validation_settings(nm.schema);
        dms_task_spec sp = {.id = id, .source_arn = pgl_fact(ctx, f1), .target_arn = pgl_fact(ctx, f2),
                            .instance_arn = pgl_fact(ctx, "dms_instance_arn"), .migration_type = "full-load",
                            .table_mappings = maps, .settings = settings};
        bool lease = step_ctx_lease_ok(ctx);
        bool ok = maps && settings && lease && dms_create_task(c, &sp, t, &e);
        free(maps);
        free(settings);
        if (!lease) return LEASE_LOST(res);
        if (!ok && strcmp(e.code, "ResourceAlreadyExistsFault")) return dms_fail(res, &e, "CreateReplicationTask");
        if (ok) log_info("DMS validation-only task created", "task=%s db=%s", id, s->dbs[k - 1]);
        return STEP_OK;
    }
    if (!strcmp(t->status, "ready")) {
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        if (!dms_start_task(c, t->arn, "start-replication", NULL, NULL, &e) &&
            strcmp(e.code, "InvalidResourceStateFault"))
            return dms_fail(res, &e, "StartReplicationTask");
        return STEP_OK;
    }
    *done = !strcmp(t->status, "stopped") || !strcmp(t->status, "failed");
    return STEP_OK;
}

void dms_val_tally_init(dms_val_tally *v, bool strict)
{
    memset(v, 0, sizeof *v);
    dbuf_init(&v->st, 60000);
    dbuf_init(&v->mis, 1000);
    dbuf_init(&v->errs, 1000);
    v->strict = strict;
}

void dms_val_tally_free(dms_val_tally *v)
{
    dbuf_free(&v->st);
    dbuf_free(&v->mis);
    dbuf_free(&v->errs);
}

step_rc dms_val_tally_task(step_ctx *ctx, step_result *res, dms_val_tally *v, const char *db, const char *task_arn)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    dms_table_stats *ts = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!dms_describe_table_statistics(c, task_arn, &ts, &e)) return dms_fail(res, &e, "DescribeTableStatistics");
    for (size_t k = 0; k < ts->n; k++) {
        const dms_table_stat *x = &ts->v[k];
        const char *state = x->validation_state[0] ? x->validation_state : "-";
        v->ntables++;
        v->failures += x->validation_failed;
        if (!strcmp(state, "Validated")) v->validated++;
        dbuf_printf(&v->st, "%s/%s.%s\t%s\t%lld\n", db, x->schema, x->table, state, (long long)x->validation_failed);
        bool bad = x->validation_failed > 0 ||
                   (v->strict ? strcmp(state, "Validated") && strcmp(state, "No primary key")
                              : !strcmp(state, "Mismatched records"));
        if (bad && v->mis.len < 900) dbuf_printf(&v->mis, "%s%s/%s.%s", v->mis.len ? "," : "", db, x->schema, x->table);
    }
    dms_table_stats_free(ts);
    return STEP_OK;
}

void dms_val_tally_record(step_ctx *ctx, const dms_val_tally *v, const char *what)
{
    const char *st = v->st.data ? v->st.data : "";
    size_t n = strlen(st);
    char *trim = strndup(st, n && st[n - 1] == '\n' ? n - 1 : n);
    step_ctx_set_fact(ctx, "dms_validation_state", trim ? trim : "");
    free(trim);
    step_ctx_set_factf(ctx, "dms_validation_tables", "%lld", v->ntables);
    step_ctx_set_factf(ctx, "dms_validation_validated", "%lld", v->validated);
    step_ctx_set_factf(ctx, "dms_validation_failures", "%lld", v->failures);
    step_ctx_set_fact(ctx, "dms_validation_mismatched", v->mis.data ? v->mis.data : "");
    if (v->errs.len) step_ctx_set_fact(ctx, "dms_validation_error", v->errs.data);
    step_ctx_set_fact(ctx, "dms_validation_done", "1");
    log_emit(v->failures || v->mis.len || v->errs.len ? LOG_WARN : LOG_INFO, what,
             "tables=%lld validated=%lld failures=%lld mismatched=\"%s\" error=\"%s\"", v->ntables, v->validated,
             v->failures, v->mis.data ? v->mis.data : "", v->errs.data ? v->errs.data : "");
}

/* The finished tasks' table statistics → facts; the tasks deleted. */
static step_rc val_record(step_ctx *ctx, step_result *res, pgl_session *s, dms_task *tasks)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    dms_val_tally v;
    dms_val_tally_init(&v, true);
    step_rc rc = STEP_OK;
    for (int i = 0; i < s->ndbs && rc == STEP_OK; i++) {
        dms_task *t = &tasks[i];
        if (!strcmp(t->status, "failed")) {
            dbuf_printf(&v.errs, "%s%s: %s %s", v.errs.len ? "; " : "", s->dbs[i], t->stop_reason, t->last_failure);
            continue;
        }
        rc = dms_val_tally_task(ctx, res, &v, s->dbs[i], t->arn);
    }
    if (rc == STEP_OK) {
        dms_val_tally_record(ctx, &v, "DMS validation at the cutover");
        /* the tasks go now; dms_teardown deletes any left */
        for (int i = 0; i < s->ndbs; i++) {
            aws_error e;
            aws_error_clear(&e);
            if (step_ctx_lease_ok(ctx) && !dms_delete_task(c, tasks[i].arn, &e) && e.kind != AWS_ERR_NOT_FOUND)
                log_warn("DMS validation task not deleted yet (cleanup deletes it)", "task=%s code=%s", tasks[i].id,
                         e.code);
        }
    }
    dms_val_tally_free(&v);
    return rc;
}

step_rc dms_validate(step_ctx *ctx, step_result *res, pgl_session *s)
{
    if (!strcmp(pgl_fact(ctx, "dms_validation_done"), "1")) return STEP_OK;
    if (s->ndbs <= 0 || s->ndbs > PGL_MAX_DBS) return STEP_OK;
    dms_task *tasks = calloc((size_t)s->ndbs, sizeof *tasks);
    if (!tasks) {
        PGL_REASON(res, "out of memory");
        return STEP_RETRY;
    }
    int64_t deadline = fc_mono_ms() + VALIDATE_WAIT_MS;
    step_rc rc = STEP_OK;
    for (;;) {
        bool all = true;
        for (int i = 0; rc == STEP_OK && i < s->ndbs; i++) {
            bool done = false;
            rc = val_task(ctx, res, s, i + 1, &tasks[i], &done);
            all = all && done;
        }
        if (rc != STEP_OK) break;
        if (all) {
            rc = val_record(ctx, res, s, tasks);
            break;
        }
        if (fc_mono_ms() > deadline) {
            res->wait_ms = 3000;
            PGL_REASON(res, "cutover: waiting for DMS's validation-only tasks (writers stay blocked)");
            rc = STEP_WAIT;
            break;
        }
        if (!step_ctx_lease_ok(ctx)) {
            rc = LEASE_LOST(res);
            break;
        }
        fc_sleep_ms(1000);
    }
    free(tasks);
    return rc;
}

step_rc dms_step_verify(step_ctx *ctx, step_result *res)
{
    if (dms_validation_wanted(ctx, NULL) && !strcmp(pgl_fact(ctx, "dms_validation_done"), "1")) {
        const char *err = pgl_fact(ctx, "dms_validation_error");
        const char *mis = pgl_fact(ctx, "dms_validation_mismatched");
        long long fails = (long long)pgl_fact_i64(ctx, "dms_validation_failures", 0);
        if (*err) {
            PGL_REASON(res, "DMS validation did not complete: %s", err);
            log_error("DMS VALIDATION FAILED", "error=\"%s\"", err);
            return STEP_FAIL;
        }
        if (fails > 0 || *mis) {
            PGL_REASON(res, "DMS validation found %lld differing rows between the frozen source and the target: %s",
                       fails, mis);
            log_error("DMS VALIDATION MISMATCH", "failures=%lld tables=\"%s\"", fails, mis);
            return STEP_FAIL;
        }
    }
    return pgl_step_verify(ctx, res);
}
