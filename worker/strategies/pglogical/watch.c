/* watch — pg-logical's source watch (pglogical_common.h), run by every
 * step from snapshot to the cutover: retained WAL and free storage against
 * the limits, the DDL guard, the database set, the subscription's health
 * (once there is one); a breach jumps to `abort` (pgl_abort_now). */
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "pgl_db_extra.h"
#include "util.h"

/* The source watch without the subscription (there is none yet): snapshot,
 * copy-encrypted, restore. */
step_rc pgl_watch_source(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = pgl_watch(&s, false, NULL);
    pgl_session_finish(&s);
    return rc;
}

/* ---------------------------------------------------------------- the watch */
step_rc pgl_watch(pgl_session *s, bool check_sub, int64_t *max_lag)
{
    step_ctx *ctx = s->ctx;
    step_rc rc = STEP_OK;
    if (max_lag) *max_lag = -1;
    if (s->ndbs == 0) return STEP_OK; /* before preflight learnt the databases */
    const char *first = s->dbs[0];
    pgq *q0 = pgl_conn(s, PGL_SOURCE, PGL_AS_MASTER, first, &rc);
    if (!q0) return rc;

    /* a database created or dropped since preflight is not replicated */
    char **now = NULL;
    int nnow = 0;
    char err[1024];
    if (!pgl_list_databases(q0, &now, &nnow, err, sizeof err)) return pgl_sql_fail(s->res, q0, "watch", err);
    bool same = nnow == s->ndbs;
    for (int i = 0; same && i < nnow; i++) same = !strcmp(now[i], s->dbs[i]);
    pgl_free_list(now, nnow);
    if (!same) return pgl_abort_now(ctx, s->res, "the set of databases on the source changed during replication");

    int64_t retained = 0, lag = -1;
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(s, s->dbs[i], PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
        if (!q) return rc;
        pgl_slot_info si;
        if (!pgl_slot_status(q, nm.slot, &si, err, sizeof err)) return pgl_sql_fail(s->res, q, "slot status", err);
        if (!si.exists) {
            char why[256];
            snprintf(why, sizeof why, "replication slot %s vanished from the source", nm.slot);
            return pgl_abort_now(ctx, s->res, why);
        }
        if (!strcmp(si.wal_status, "lost")) {
            char why[256];
            snprintf(why, sizeof why, "replication slot %s lost WAL it needed (max_slot_wal_keep_size)", nm.slot);
            return pgl_abort_now(ctx, s->res, why);
        }
        if (si.retained_bytes > retained) retained = si.retained_bytes;
        int count = 0;
        char events[400] = "";
        if (!pgl_ddl_check(q, &nm, &count, events, sizeof events, err, sizeof err))
            return pgl_sql_fail(s->res, q, "DDL guard", err);
        if (count > 0) {
            char why[480];
            snprintf(why, sizeof why, "schema changed on the source (database %s): %.380s", s->dbs[i], events);
            return pgl_abort_now(ctx, s->res, why);
        }
        if (check_sub) {
            char f[96];
            snprintf(f, sizeof f, "lag.%s", nm.slot);
            step_ctx_set_factf(ctx, f, "%lld", (long long)si.lag_bytes);
            if (si.lag_bytes > lag) lag = si.lag_bytes;
            pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_MASTER, s->dbs[i], &rc);
            if (!t) return rc;
            pgl_sub_info sub;
            if (!pgl_sub_status(t, &nm, &sub, err, sizeof err))
                return pgl_sql_fail(s->res, t, "subscription status", err);
            if (!sub.exists || !sub.enabled || sub.apply_errors > 0) {
                char why[400];
                snprintf(why, sizeof why,
                         "subscription %s on the target is %s (apply errors %lld, sync errors %lld): the "
                         "slot would retain WAL on the source; see the target's log for the error",
                         nm.subscription, !sub.exists ? "missing" : !sub.enabled ? "disabled" : "failing",
                         (long long)sub.apply_errors, (long long)sub.sync_errors);
                return pgl_abort_now(ctx, s->res, why);
            }
        }
    }
    step_ctx_set_factf(ctx, "retained_bytes", "%lld", (long long)retained);
    if (check_sub) {
        step_ctx_set_factf(ctx, "lag_bytes", "%lld", (long long)lag);
        awsstep_mark(ctx, "lag_at");
        if (max_lag) *max_lag = lag;
    }
    pgl_wal_in wi;
    memset(&wi, 0, sizeof wi);
    wi.retained_bytes = retained;
    wi.limit_bytes = pgl_opt_bytes(ctx, "max_retained_wal_bytes", 0);
    wi.allocated_bytes = pgl_fact_i64(ctx, "storage_gb", 0) * 1024LL * 1024 * 1024;
    wi.used_bytes = -1;
    wi.min_free_bytes = pgl_opt_bytes(ctx, "min_free_storage_bytes", 0);
    if (wi.allocated_bytes > 0 && !pgl_storage_used(q0, &wi.used_bytes, err, sizeof err)) {
        log_warn("cannot measure the source's disk usage", "err=\"%s\"", err);
        wi.used_bytes = -1;
    }
    char why[400];
    if (pgl_wal_check(&wi, why, sizeof why) == PGL_WAL_ABORT) return pgl_abort_now(ctx, s->res, why);
    return STEP_OK;
}
