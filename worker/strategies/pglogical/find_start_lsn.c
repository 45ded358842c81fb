/* find_start_lsn — step `find-start-lsn` of pg-logical: read the target's
 * PostgreSQL log through DescribeDBLogFiles + DownloadDBLogFilePortion
 * (paged with Marker) and let lsn_find_start() name the end of the restored
 * WAL from the lines of the restored server's startup process only (its
 * log_line_prefix, the copy time as the line between the source's old logs
 * and the restore's), then check it against the server's checkpoint redo
 * and WAL position; anything ambiguous fails the instance — never a guess,
 * never "redo done at" (docs/lsn-boundary.md). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "awsxacct.h"
#include "initial_copy.h"
#include "log.h"
#include "pgl_db_extra.h"
#include "util.h"

#define LOG_TEXT_MAX (256u * 1024u * 1024u)

static int cmp_log(const void *a, const void *b)
{
    const rds_log_file *x = a, *y = b;
    if (x->last_written != y->last_written) return x->last_written < y->last_written ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Every log file of the instance, oldest first, concatenated (paged with Marker). */
static step_rc read_logs(step_ctx *ctx, step_result *res, const char *id, dbuf *text, int *calls)
{
    aws_client *c = awsxacct_client_for(ctx, id); /* the restored target: the target account's across accounts */
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    rds_log_file_list *files = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_log_files(c, id, NULL, &files, &e)) return awsstep_fail(res, &e, "DescribeDBLogFiles");
    (*calls)++;
    step_rc rc = STEP_OK;
    if (files->n > 1) qsort(files->v, files->n, sizeof files->v[0], cmp_log);
    for (size_t f = 0; f < files->n && rc == STEP_OK; f++) {
        char marker[256] = "0";
        for (int page = 0; page < 100000; page++) {
            rds_log_portion *p = NULL;
            aws_error_clear(&e);
            if (!rds_download_db_log_file_portion(c, id, files->v[f].name, marker, 0, &p, &e)) {
                rc = awsstep_fail(res, &e, "DownloadDBLogFilePortion");
                break;
            }
            (*calls)++;
            if (p->len && !dbuf_append(text, p->data, p->len)) {
                rds_log_portion_free(p);
                PGL_REASON(res, "the log of %s is larger than %u bytes: cannot read it whole", id, LOG_TEXT_MAX);
                rc = STEP_FAIL;
                break;
            }
            bool more = p->additional_data_pending && p->marker[0] && strcmp(p->marker, marker) != 0;
            fc_strlcpy(marker, p->marker, sizeof marker);
            bool empty = p->len == 0;
            rds_log_portion_free(p);
            if (!more || empty) break;
        }
        /* a file that does not end with a newline must not glue onto the next */
        if (rc == STEP_OK && text->len && text->data[text->len - 1] != '\n') dbuf_appends(text, "\n");
    }
    rds_log_file_list_free(files);
    return rc;
}

/* The restored server's own word on where its WAL is: the start read from
 * the log can never be past the redo location of its latest checkpoint (the
 * end-of-recovery checkpoint's redo is the end of the restored WAL, E, and
 * later checkpoints only move forward) nor past its WAL insert position. A
 * start beyond either is a recovery that is not this server's (an injected
 * or foreign line got through): fail. There is no such lower bound: the
 * slots' start (not_before) and the log rules give that one. */
static step_rc cross_check(step_ctx *ctx, step_result *res, pgq *q, const lsn_log_result *r, const char *tid)
{
    char v[64], err[300], a[FC_LSN_STRLEN];
    fc_lsn cur = FC_LSN_INVALID, redo = FC_LSN_INVALID;
    if (!pgq_scalar(q, pgq_sql("pgl_current_wal_lsn"), 0, NULL, v, sizeof v, NULL) || !lsn_parse(v, &cur)) {
        snprintf(err, sizeof err, "reading pg_current_wal_lsn(): %.200s", q->err[0] ? q->err : v);
        return pgl_sql_fail(res, q, "find-start-lsn cross-check", err);
    }
    bool can = pgq_scalar(q, pgq_sql("pgl_can_read_control"), 0, NULL, v, sizeof v, NULL) && !strcmp(v, "true");
    if (can) {
        if (!pgq_scalar(q, pgq_sql("pgl_checkpoint_redo"), 0, NULL, v, sizeof v, NULL) || !lsn_parse(v, &redo)) {
            snprintf(err, sizeof err, "reading pg_control_checkpoint(): %.200s", q->err[0] ? q->err : v);
            return pgl_sql_fail(res, q, "find-start-lsn cross-check", err);
        }
    } else {
        log_warn("pg_control_checkpoint() not executable: start LSN bounded by pg_current_wal_lsn() only",
                 "instance=%s", tid);
    }
    char why[600];
    if (!lsn_check_server_bounds(r, redo, cur, why, sizeof why)) {
        PGL_REASON(res, "find-start-lsn on %s: %s (refusing)", tid, why);
        return STEP_FAIL;
    }
    step_ctx_set_fact(ctx, "start_lsn_checked", can ? "checkpoint_redo,current_wal_lsn" : "current_wal_lsn");
    if (redo != FC_LSN_INVALID) step_ctx_set_fact(ctx, "target_checkpoint_redo", lsn_format(redo, a));
    return STEP_OK;
}

step_rc pgl_step_find_start_lsn(step_ctx *ctx, step_result *res)
{
    if (pgl_ic_on(ctx)) return pgl_ic_start(ctx, res);
    const char *tid = pgl_fact(ctx, "target_id");
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = pgl_watch(&s, false, NULL);
    dbuf text;
    dbuf_init(&text, LOG_TEXT_MAX);
    char err[600];
    char prefix[256];
    uint64_t segsize = 0;
    if (rc != STEP_OK) goto done;
    if (!*tid || s.ndbs == 0) {
        PGL_REASON(res, "no restored target recorded");
        rc = STEP_FAIL;
        goto done;
    }
    pgq *q = pgl_conn(&s, PGL_TARGET, PGL_AS_MASTER, s.dbs[0], &rc);
    if (!q) goto done;
    if (awscluster_is(ctx)) {
        /* a restored Aurora cluster tells its start itself (no startup log to read) */
        rc = pgl_cluster_start_lsn(&s, q);
        goto done;
    }
    if (!pgl_wal_segment_size(q, &segsize, err, sizeof err)) {
        rc = pgl_sql_fail(res, q, "find-start-lsn", err);
        goto done;
    }
    if (!pgq_scalar(q, pgq_sql("pgl_log_line_prefix"), 0, NULL, prefix, sizeof prefix, NULL)) {
        snprintf(err, sizeof err, "reading log_line_prefix: %.500s", q->err);
        rc = pgl_sql_fail(res, q, "find-start-lsn", err);
        goto done;
    }
    int calls = 0;
    rc = read_logs(ctx, res, tid, &text, &calls);
    if (rc != STEP_OK) goto done;
    const char *body = text.data ? text.data : "";
    lsn_log_opts o;
    memset(&o, 0, sizeof o);
    o.wal_segment_size = segsize;
    o.line_prefix = prefix;
    /* Every line of the source's own (its old log files, kept on the restored
     * volume) was written before its snapshot was available, hence before the
     * encrypted copy was requested; the restore started after the copy was
     * done. copy_at (this worker's clock, ms) separates the two. */
    o.restored_after = pgl_fact_i64(ctx, "copy_at", 0) / 1000;
    fc_lsn not_before = FC_LSN_INVALID;
    if (*pgl_fact(ctx, "slot_lsn") && !lsn_parse(pgl_fact(ctx, "slot_lsn"), &not_before)) not_before = 0;
    o.not_before = not_before;
    lsn_log_result r;
    if (!lsn_find_start(body, text.len, &o, &r, err, sizeof err)) {
        int64_t waits = pgl_fact_i64(ctx, "eow_waits", 0);
        if (r.incomplete && waits < 6) {
            /* the restored server's recovery is not (all) in the log yet: the
             * log may lag the instance's "available" by a moment */
            step_ctx_set_factf(ctx, "eow_waits", "%lld", (long long)(waits + 1));
            res->wait_ms = 5000;
            PGL_REASON(res, "the target's log does not hold its recovery yet (%s; %zu bytes read)", err, text.len);
            rc = STEP_WAIT;
            goto done;
        }
        PGL_REASON(res, "find-start-lsn: %s (read %zu bytes of %s's log; refusing to guess)", err, text.len, tid);
        rc = STEP_FAIL;
        goto done;
    }
    rc = cross_check(ctx, res, q, &r, tid);
    if (rc != STEP_OK) goto done;
    if (r.later_recoveries > 0)
        log_warn("the restored instance recovered again after the restore: its first recovery is used",
                 "instance=%s later_recoveries=%d startup_pid=%d start_line=%zu", tid, r.later_recoveries,
                 r.startup_pid, r.start_line);
    char a[FC_LSN_STRLEN];
    step_ctx_set_fact(ctx, "start_lsn", lsn_format(r.start_lsn, a));
    step_ctx_set_fact(ctx, "redo_done_lsn", lsn_format(r.redo_done, a));
    step_ctx_set_fact(ctx, "end_of_wal_lsn", lsn_format(r.end_of_wal, a));
    step_ctx_set_fact(ctx, "eow_kind", r.kind == LSN_EOW_RECORD ? "record" : "page");
    step_ctx_set_fact(ctx, "eow_exact", r.exact ? "1" : "0");
    step_ctx_set_fact(ctx, "eow_message", r.eow_message);
    step_ctx_set_factf(ctx, "eow_startup_pid", "%d", r.startup_pid);
    step_ctx_set_factf(ctx, "wal_segment_size", "%llu", (unsigned long long)segsize);
    log_info("start LSN found", "start=%s redo_done=%s kind=%s exact=%d startup_pid=%d source_starts=%d log_calls=%d",
             pgl_fact(ctx, "start_lsn"), pgl_fact(ctx, "redo_done_lsn"), pgl_fact(ctx, "eow_kind"), r.exact,
             r.startup_pid, r.source_starts, calls);
done:
    dbuf_free(&text);
    pgl_session_finish(&s);
    return rc;
}
