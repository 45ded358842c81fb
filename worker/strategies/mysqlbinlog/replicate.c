/* replicate — steps `replicate` and `catch-up` of mysql-binlog.
 *
 * replicate (fenced): on the restored target, mysql.rds_set_external_master
 * (rds_set_external_source on RDS for MySQL 8.0.23+) to the source's
 * endpoint as the replication user, at the seed position
 * (facts seed_file, seed_pos), with TLS (ssl_encryption 1), then
 * mysql.rds_start_replication. Idempotent: replication is configured only
 * when the target replicates from nobody (configuring it again after events
 * were applied would apply them twice); one configured by us (same user) is
 * only started; one by anyone else fails the step.
 *
 * catch-up: the target's executed position (SHOW REPLICA STATUS) against the
 * source's (SHOW MASTER STATUS): done when both threads run without error
 * and the target is less than catchup_lag_bytes (1 MiB) behind in the same
 * binlog file. An SQL-thread error fails the step (undone by abort). Facts
 * lag_bytes, lag_at. With --cutover-method cname the record's TTL is
 * lowered first and its old TTL waited out before catch-up is done
 * (shared/awscname.c, as pg-logical's). */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscname.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

step_rc mb_step_replicate(step_ctx *ctx, step_result *res)
{
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = mb_fence(&s);
    myq *q = rc == STEP_OK ? mb_conn(&s, MB_TARGET, &rc) : NULL;
    if (!q) goto out;
    char err[400];
    mb_repl r;
    if (!mb_repl_status(q, &r, err, sizeof err)) {
        rc = mb_sql_fail(res, q, "SHOW REPLICA STATUS on the target", err);
        goto out;
    }
    if (r.present && strcmp(r.master_user, s.repl_user) != 0) {
        MB_REASON(res, "the target already replicates as %s, not fleetcrypt's user: refused", r.master_user);
        rc = STEP_FAIL;
        goto out;
    }
    if (!r.present) {
        const char *file = mb_fact(ctx, "seed_file"), *pos = mb_fact(ctx, "seed_pos");
        const char *host = mb_fact(ctx, "address"), *port = mb_fact(ctx, "port");
        if (!*file || !*pos || !*host || !*port) {
            MB_REASON(res, "no seed position or source endpoint recorded");
            rc = STEP_FAIL;
            goto out;
        }
        if (!step_ctx_lease_ok(ctx)) {
            rc = LEASE_LOST(res);
            goto out;
        }
        const char *a[] = {host, port, s.repl_user, s.repl_pw, file, pos};
        if (!myq_execf(q, err, sizeof err, mb_proc_set(ctx), 6, a)) {
            rc = mb_sql_fail_secret(res, q, "mysql.rds_set_external_master/_source on the target", err, s.repl_pw);
            goto out;
        }
        log_info("target replicates from the source", "instance=%s file=%s pos=%s", step_ctx_instance(ctx), file,
                 pos);
    }
    if (!r.io_running || !r.sql_running) {
        if (!myq_exec(q, "CALL mysql.rds_start_replication", err, sizeof err)) {
            rc = mb_sql_fail(res, q, "mysql.rds_start_replication on the target", err);
            goto out;
        }
    }
    awsstep_mark(ctx, "replicate_at");
out:
    mb_session_finish(&s);
    return rc;
}

step_rc mb_step_catch_up(step_ctx *ctx, step_result *res)
{
    fc_crashpoint("mb.catch-up"); /* tests: a worker killed while the target replicates */
    /* --cutover-method cname: the record's TTL lowered now, its old TTL
     * waited out while catching up */
    bool cname_ready = true;
    int64_t cname_wait = 0;
    step_rc rc = mb_cname(ctx) ? awscname_lower_ttl(ctx, res, step_ctx_opt_i64(ctx, "cname_ttl", 5), &cname_ready,
                                                    &cname_wait)
                               : STEP_OK;
    if (rc != STEP_OK) return rc;
    char why[sizeof res->reason];
    fc_strlcpy(why, res->reason, sizeof why); /* awscname_lower_ttl's, while not ready */
    res->reason[0] = 0;
    rc = mb_lag_check(ctx, res);
    if (rc == STEP_OK && !cname_ready) {
        fc_strlcpy(res->reason, why, sizeof res->reason);
        res->wait_ms = cname_wait;
        return STEP_WAIT;
    }
    return rc;
}

step_rc mb_lag_check(step_ctx *ctx, step_result *res)
{
    mb_session s;
    mb_session_init(&s, ctx, res);
    /* bounded: a server that stops answering (a SIGSTOPped mysqld, a hung
     * host) must not hold the step, nor the cutover's gate, past its run */
    int64_t now = fc_mono_ms();
    mb_session_answer_by(&s, now + (step_ctx_run_deadline(ctx) - now) * 3 / 4);
    step_rc rc = STEP_OK;
    myq *t = mb_conn(&s, MB_TARGET, &rc);
    myq *src = t ? mb_conn(&s, MB_SOURCE, &rc) : NULL;
    if (!src) goto out;
    char err[400];
    mb_repl r;
    if (!mb_repl_status(t, &r, err, sizeof err)) {
        rc = mb_sql_fail(res, t, "SHOW REPLICA STATUS on the target", err);
        goto out;
    }
    if (!r.present) {
        MB_REASON(res, "the target replicates from nobody");
        rc = STEP_FAIL;
        goto out;
    }
    if (r.sql_errno) {
        /* Last_SQL_Error quotes row values (a duplicate key's): only its code and table go out */
        char where[160];
        mb_sql_error_where(r.error, where, sizeof where);
        MB_REASON(res, "replication stopped on the target: SQL error %d%s (the server's message is not copied: it "
                       "quotes row values)", r.sql_errno, where);
        rc = STEP_FAIL;
        goto out;
    }
    if (!r.sql_running || !r.io_running) {
        if (!myq_exec(t, "CALL mysql.rds_start_replication", err, sizeof err)) {
            rc = mb_sql_fail(res, t, "mysql.rds_start_replication on the target", err);
            goto out;
        }
        res->wait_ms = 2000;
        MB_REASON(res, "replication restarted on the target (io %s%s%.200s)", r.io_state, r.io_errno ? ": " : "",
                  r.io_errno ? r.error : "");
        rc = STEP_WAIT;
        goto out;
    }
    char file[128];
    int64_t pos = 0;
    if (!mb_master_pos(src, file, sizeof file, &pos, err, sizeof err)) {
        rc = mb_sql_fail(res, src, "SHOW MASTER STATUS on the source", err);
        goto out;
    }
    int64_t lag = strcmp(file, r.exec_file) == 0 ? pos - r.exec_pos : INT64_MAX;
    if (lag < 0) lag = 0;
    step_ctx_set_factf(ctx, "lag_bytes", "%lld", (long long)(lag == INT64_MAX ? -1 : lag));
    awsstep_mark(ctx, "lag_at");
    int64_t max = step_ctx_opt_i64(ctx, "catchup_lag_bytes", 1 << 20);
    if (lag > max) {
        res->wait_ms = 1000;
        MB_REASON(res, "catching up: target at %s:%lld, source at %s:%lld", r.exec_file, (long long)r.exec_pos,
                  file, (long long)pos);
        rc = STEP_WAIT;
        goto out;
    }
    log_info("target caught up", "instance=%s lag_bytes=%lld", step_ctx_instance(ctx), (long long)lag);
out:
    mb_session_finish(&s);
    return rc;
}
