/* cutover — step `cutover` of mysql-binlog, in one run when it can (the
 * only downtime):
 *   1. block (fenced): every application account of the source is locked
 *      (ALTER USER ... ACCOUNT LOCK) and its sessions ended with
 *      mysql.rds_kill — the master user has no SUPER on RDS, so neither
 *      read_only nor FLUSH TABLES WITH READ LOCK is available. The accounts
 *      fleetcrypt locks are recorded first in fleetcrypt_fc.blocked on the
 *      source (a crash between the record and the lock leaves nothing
 *      unknown; accounts locked before the campaign are never recorded and
 *      never unlocked). Account DDL is binlogged and replicates: the target
 *      receives the locks too — and the blocked list — and step 4 undoes
 *      them there after replication stopped. The master user is not
 *      locked (fleetcrypt works as it; docs/mysql-binlog.md);
 *   2. drain: the source's final position (SHOW MASTER STATUS, read with the
 *      writers blocked) and a wait until the target executed at least it;
 *   3. mysql.rds_stop_replication, rds_reset_external_master on the target;
 *   4. compare every table of the blocked source with the stopped target
 *      (verify.c: ordered per-chunk hashes): a difference aborts the
 *      instance before the switch (abort lets writers in on the source);
 *      the comparison has half of what the run has left (past the run's
 *      deadline another worker could take the step over): late, it runs
 *      again in the next run, writers still blocked; the third time fails;
 *   5. the recorded accounts unlocked on the target;
 *   6. rename swap: source → fc-<c>-<i>-retired, target → the original
 *      identifier (its endpoint name); for an Aurora MySQL cluster a
 *      cluster rename (shared/awscluster.h: cluster and reader endpoints
 *      follow the name);
 *   7. downtime recorded (cutover_block_ms to the switch: downtime_ms,
 *      field downtime_s).
 * Facts: cutover_block_ms, final_file, final_pos, repl_stopped,
 * compare_done, switched, retired_id, retired_address/port, target_address/
 * port (now the original identifier's), downtime_ms. */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

#define DRAIN_POLL_MS 60000

static const char *const SYSTEM_USERS[] = {"rdsadmin", "rdsrepladmin", "rdsproxyadmin", "mariadb.sys", "mysql.sys",
                                           "mysql.session", "mysql.infoschema", "root", "", NULL};

static bool system_user(const char *u)
{
    for (const char *const *p = SYSTEM_USERS; *p; p++)
        if (!strcmp(u, *p)) return true;
    return false;
}

/* Is user listed in --app-accounts "u@h,u2@h2" (when given)? */
static bool in_app_list(const char *list, const char *u, const char *h)
{
    char want[512];
    snprintf(want, sizeof want, "%s@%s", u, h);
    const char *p = list;
    size_t n = strlen(want);
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        if ((size_t)(e - p) == n && !strncmp(p, want, n)) return true;
        p = e;
    }
    return false;
}

/* The blocked list and the block's start (kept on the source, where a
 * crashed attempt cannot lose them: the facts of a killed run are never
 * written). */
static step_rc ensure_blocked_table(mb_session *s, myq *q)
{
    char err[400];
    const char *a[] = {MB_SCHEMA};
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    const char *b[] = {MB_SCHEMA, now};
    if (!myq_execf(q, err, sizeof err,
                   "CREATE TABLE IF NOT EXISTS %I.blocked (user VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL, "
                   "PRIMARY KEY (user, host)) ENGINE=InnoDB",
                   1, a) ||
        !myq_execf(q, err, sizeof err,
                   "CREATE TABLE IF NOT EXISTS %I.block_start (id TINYINT PRIMARY KEY, ms BIGINT NOT NULL) "
                   "ENGINE=InnoDB",
                   1, a) ||
        !myq_execf(q, err, sizeof err, "INSERT IGNORE INTO %I.block_start (id, ms) VALUES (1, %R)", 2, b))
        return mb_sql_fail(s->res, q, "creating fleetcrypt's blocked list", err);
    myq_res *r = myq_queryf(q, err, sizeof err, "SELECT ms FROM %I.block_start WHERE id = 1", 1, a);
    if (!r) return mb_sql_fail(s->res, q, "reading the block's start", err);
    if (myq_cell(r, 0, 0)) step_ctx_set_fact(s->ctx, "cutover_block_ms", myq_cell(r, 0, 0));
    myq_res_free(r);
    return STEP_OK;
}

static bool account_locked(myq *q, const char *u, const char *h, bool *locked, char *err, size_t cap)
{
    const char *a[] = {u, h};
    myq_res *r = myq_queryf(q, err, cap, "SHOW CREATE USER %L@%L", 2, a);
    if (!r) return false;
    const char *t = myq_cell(r, 0, 0);
    *locked = t && strstr(t, "ACCOUNT LOCK") != NULL;
    myq_res_free(r);
    return true;
}

/* 1. lock every application account (recorded first), end their sessions */
static step_rc block(mb_session *s, myq *q, int *nlocked, int *nkilled)
{
    step_ctx *ctx = s->ctx;
    char err[400];
    step_rc rc = ensure_blocked_table(s, q);
    if (rc != STEP_OK) return rc;
    myq_res *users = myq_query(q, "SELECT User, Host FROM mysql.user ORDER BY User, Host", err, sizeof err);
    if (!users) return mb_sql_fail(s->res, q, "listing accounts", err);
    const char *master = mb_fact(ctx, "master_user");
    const char *only = step_ctx_opt(ctx, "app-accounts");
    const char *sch[] = {MB_SCHEMA};
    myq_res *mine = myq_queryf(q, err, sizeof err, "SELECT user, host FROM %I.blocked", 1, sch);
    if (!mine) {
        myq_res_free(users);
        return mb_sql_fail(s->res, q, "reading the blocked list", err);
    }
    *nlocked = 0;
    for (int k = 0; k < users->nrows && rc == STEP_OK; k++) {
        const char *u = myq_cell(users, k, 0), *h = myq_cell(users, k, 1);
        if (!u || !h || !*h || system_user(u) || !strcmp(u, master) || !strcmp(u, s->repl_user)) continue;
        if (only && *only && !in_app_list(only, u, h)) continue;
        bool recorded = false;
        for (int m = 0; m < mine->nrows; m++)
            if (!strcmp(myq_cell(mine, m, 0), u) && !strcmp(myq_cell(mine, m, 1), h)) recorded = true;
        if (!recorded) {
            bool locked = false;
            if (!account_locked(q, u, h, &locked, err, sizeof err)) {
                rc = mb_sql_fail(s->res, q, "SHOW CREATE USER", err);
                break;
            }
            if (locked) continue; /* locked before us: stays locked, never unlocked by fleetcrypt */
            const char *a[] = {MB_SCHEMA, u, h};
            if (!myq_execf(q, err, sizeof err, "INSERT IGNORE INTO %I.blocked (user, host) VALUES (%L, %L)", 3, a)) {
                rc = mb_sql_fail(s->res, q, "recording an account to lock", err);
                break;
            }
        }
        const char *a[] = {u, h};
        if (!myq_execf(q, err, sizeof err, "ALTER USER %L@%L ACCOUNT LOCK", 2, a)) {
            rc = mb_sql_fail(s->res, q, "locking an application account", err);
            break;
        }
        (*nlocked)++;
    }
    myq_res_free(mine);
    myq_res_free(users);
    if (rc != STEP_OK) return rc;
    /* end the sessions of every locked account (new ones are refused) */
    *nkilled = 0;
    for (int round = 0; round < 20; round++) {
        myq_res *b = myq_queryf(q, err, sizeof err, "SELECT DISTINCT user FROM %I.blocked", 1, sch);
        if (!b) return mb_sql_fail(s->res, q, "reading the blocked list", err);
        myq_res *pl = myq_query(q, "SELECT ID, USER FROM information_schema.PROCESSLIST", err, sizeof err);
        if (!pl) {
            myq_res_free(b);
            return mb_sql_fail(s->res, q, "listing sessions", err);
        }
        int left = 0;
        for (int k = 0; k < pl->nrows; k++) {
            const char *id = myq_cell(pl, k, 0), *u = myq_cell(pl, k, 1);
            bool hit = false;
            for (int m = 0; u && m < b->nrows; m++)
                if (!strcmp(myq_cell(b, m, 0), u)) hit = true;
            if (!hit) continue;
            left++;
            const char *a[] = {id};
            if (myq_execf(q, err, sizeof err, "CALL mysql.rds_kill(%R)", 1, a)) (*nkilled)++;
            /* a session that ended meanwhile: "Unknown thread id", fine */
        }
        myq_res_free(pl);
        myq_res_free(b);
        if (!left) return STEP_OK;
        fc_sleep_ms(100);
    }
    MB_REASON(s->res, "sessions of locked accounts still open on the source after 20 rounds of mysql.rds_kill");
    return STEP_RETRY;
}

step_rc mb_unlock_accounts(mb_session *s, mb_side side)
{
    step_rc rc = STEP_OK;
    myq *q = mb_conn(s, side, &rc);
    if (!q) return rc;
    char err[400];
    const char *sch[] = {MB_SCHEMA};
    myq_res *t = myq_query(q, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" MB_SCHEMA
                              "' AND TABLE_NAME = 'blocked'", err, sizeof err);
    if (!t) return mb_sql_fail(s->res, q, "looking for the blocked list", err);
    bool have = myq_cell(t, 0, 0) && strcmp(myq_cell(t, 0, 0), "0") != 0;
    myq_res_free(t);
    if (!have) return STEP_OK;
    myq_res *b = myq_queryf(q, err, sizeof err, "SELECT user, host FROM %I.blocked", 1, sch);
    if (!b) return mb_sql_fail(s->res, q, "reading the blocked list", err);
    for (int k = 0; k < b->nrows && rc == STEP_OK; k++) {
        const char *a[] = {myq_cell(b, k, 0), myq_cell(b, k, 1)};
        if (!myq_execf(q, err, sizeof err, "ALTER USER %L@%L ACCOUNT UNLOCK", 2, a) && myq_errno(q) != 1396)
            rc = mb_sql_fail(s->res, q, "unlocking an application account", err);
    }
    int n = b->nrows;
    myq_res_free(b);
    if (rc == STEP_OK && (!myq_execf(q, err, sizeof err, "DELETE FROM %I.blocked", 1, sch) ||
                          !myq_execf(q, err, sizeof err, "DROP TABLE IF EXISTS %I.block_start", 1, sch)))
        rc = mb_sql_fail(s->res, q, "clearing the blocked list", err);
    if (rc == STEP_OK && n) log_info("application accounts unlocked", "side=%d accounts=%d", (int)side, n);
    return rc;
}

step_rc mb_drop_ours(mb_session *s, mb_side side)
{
    step_rc rc = STEP_OK;
    myq *q = mb_conn(s, side, &rc);
    if (!q) return rc;
    char err[400];
    const char *u[] = {s->repl_user};
    const char *sch[] = {MB_SCHEMA};
    if (!myq_execf(q, err, sizeof err, "DROP USER IF EXISTS %L@'%%'", 1, u) ||
        !myq_execf(q, err, sizeof err, "DROP DATABASE IF EXISTS %I", 1, sch))
        return mb_sql_fail(s->res, q, "dropping fleetcrypt's user and schema", err);
    return STEP_OK;
}

/* 2 + 3: wait until the target executed the source's final position, then
 * stop and forget replication there. */
static step_rc drain_and_stop(mb_session *s, myq *src, myq *t)
{
    char err[400];
    char file[128];
    int64_t pos = 0;
    if (!mb_master_pos(src, file, sizeof file, &pos, err, sizeof err))
        return mb_sql_fail(s->res, src, "SHOW MASTER STATUS on the source", err);
    step_ctx_set_fact(s->ctx, "final_file", file);
    step_ctx_set_factf(s->ctx, "final_pos", "%lld", (long long)pos);
    int64_t now = fc_mono_ms(), deadline = now + DRAIN_POLL_MS, half = now + (step_ctx_run_deadline(s->ctx) - now) / 2;
    if (half < deadline) deadline = half;
    mb_repl r;
    for (;;) {
        if (!mb_repl_status(t, &r, err, sizeof err)) return mb_sql_fail(s->res, t, "SHOW REPLICA STATUS", err);
        if (!r.present) return STEP_OK; /* an earlier attempt stopped and reset it after the drain */
        if (r.sql_errno) {
            char where[160];
            mb_sql_error_where(r.error, where, sizeof where);
            MB_REASON(s->res, "replication failed on the target during the drain: SQL error %d%s", r.sql_errno,
                      where);
            return STEP_FAIL;
        }
        if (r.exec_file[0] && mb_pos_cmp(r.exec_file, r.exec_pos, file, pos) >= 0) break;
        if (!r.sql_running || !r.io_running) myq_exec(t, "CALL mysql.rds_start_replication", err, sizeof err);
        if (fc_mono_ms() > deadline) {
            s->res->wait_ms = 1000;
            MB_REASON(s->res, "cutover: draining (target at %s:%lld, final %s:%lld); writers stay blocked",
                      r.exec_file, (long long)r.exec_pos, file, (long long)pos);
            return STEP_WAIT;
        }
        fc_sleep_ms(100);
    }
    if (!step_ctx_lease_ok(s->ctx)) return (MB_REASON(s->res, "lease lost"), STEP_RETRY);
    if (!myq_exec(t, "CALL mysql.rds_stop_replication", err, sizeof err))
        return mb_sql_fail(s->res, t, "mysql.rds_stop_replication on the target", err);
    if (!mb_repl_status(t, &r, err, sizeof err)) return mb_sql_fail(s->res, t, "SHOW REPLICA STATUS", err);
    if (r.present && mb_pos_cmp(r.exec_file, r.exec_pos, file, pos) < 0) {
        MB_REASON(s->res, "the target stopped before the final position (%s:%lld < %s:%lld)", r.exec_file,
                  (long long)r.exec_pos, file, (long long)pos);
        return STEP_RETRY;
    }
    if (!myq_exec(t, mb_proc_reset(s->ctx), err, sizeof err))
        return mb_sql_fail(s->res, t, "mysql.rds_reset_external_master/_source on the target", err);
    log_info("target drained and detached", "instance=%s final_file=%s final_pos=%lld", step_ctx_instance(s->ctx),
             file, (long long)pos);
    return STEP_OK;
}

/* 6: the rename swap (as pg-logical's), bounded by deadline */
static step_rc switch_rename(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                             int64_t deadline)
{
    step_rc rc = STEP_OK;
    bool missing = false;
    rds_instance *cur = mb_describe(ctx, res, orig, &missing, &rc);
    if (!cur && !missing) return rc;
    bool done = cur && mb_is_ours(ctx, cur, MB_ROLE_TARGET);
    if (cur && !done) {
        rds_instance_free(cur);
        cur = NULL;
        if ((rc = mb_rename(ctx, res, orig, ret)) != STEP_OK) return rc;
    }
    rds_instance_free(cur);
    rds_instance *i = NULL;
    if (!done) {
        if ((rc = mb_await_instance(ctx, res, ret, NULL, deadline, &i)) != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "retired_address", i->endpoint_address);
        step_ctx_set_factf(ctx, "retired_port", "%d", i->port);
        rds_instance_free(i);
        rds_instance *t = mb_describe(ctx, res, tid, &missing, &rc);
        if (!t && !missing) return rc;
        if (t) {
            rds_instance_free(t);
            if ((rc = mb_rename(ctx, res, tid, orig)) != STEP_OK) return rc;
        }
    }
    if ((rc = mb_await_instance(ctx, res, orig, MB_ROLE_TARGET, deadline, &i)) != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "target_address", i->endpoint_address);
    step_ctx_set_factf(ctx, "target_port", "%d", i->port);
    rds_instance_free(i);
    if (!*mb_fact(ctx, "retired_port")) {
        if ((rc = mb_await_instance(ctx, res, ret, NULL, deadline, &i)) != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "retired_address", i->endpoint_address);
        step_ctx_set_factf(ctx, "retired_port", "%d", i->port);
        rds_instance_free(i);
    }
    step_ctx_set_fact(ctx, "target_id", orig);
    step_ctx_set_fact(ctx, "retired_id", ret);
    return STEP_OK;
}

/* The block's start kept on the source (now retired), when a crashed run
 * took the fact with it; 0 when it cannot be read (best effort: only the
 * downtime figure depends on it). */
static int64_t block_start_on_retired(step_ctx *ctx, step_result *res)
{
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    int64_t t0 = 0;
    myq *q = mb_conn(&s, MB_RETIRED, &rc);
    if (q) {
        char err[400];
        const char *a[] = {MB_SCHEMA};
        myq_res *r = myq_queryf(q, err, sizeof err, "SELECT ms FROM %I.block_start WHERE id = 1", 1, a);
        if (r && myq_cell(r, 0, 0)) t0 = strtoll(myq_cell(r, 0, 0), NULL, 10);
        myq_res_free(r);
    }
    mb_session_finish(&s);
    res->reason[0] = 0;
    res->wait_ms = 0;
    if (t0 > 0) step_ctx_set_factf(ctx, "cutover_block_ms", "%lld", (long long)t0);
    return t0;
}

step_rc mb_step_cutover(step_ctx *ctx, step_result *res)
{
    if (!strcmp(mb_fact(ctx, "switched"), "1")) return STEP_OK;
    const char *orig = step_ctx_instance(ctx);
    char ret[64], tid[64];
    awsstep_name(ctx, MB_SFX_RETIRED, ret, sizeof ret);
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    /* a rename already done (a crashed attempt): only the rest is left */
    bool missing = false, cluster = awscluster_is(ctx);
    rds_instance *cur = cluster ? NULL : mb_describe(ctx, res, orig, &missing, &rc);
    if (!cur && !missing && !cluster) goto out;
    bool renamed = cur && mb_is_ours(ctx, cur, MB_ROLE_TARGET), orig_exists = cur != NULL;
    rds_instance_free(cur);
    if (cluster) {
        /* Aurora MySQL: the swap is a cluster rename (cluster.c) */
        if ((rc = mb_cluster_swapped(ctx, res, orig, ret, &renamed)) != STEP_OK) goto out;
    } else if (!orig_exists) {
        /* the original name is gone: the swap's first rename happened (it
         * starts only after the drain, the comparison and the unlock) */
        rds_instance *r = mb_describe(ctx, res, ret, &missing, &rc);
        if (!r) goto out;
        rds_instance_free(r);
        renamed = true;
    }
    rc = STEP_OK;
    res->reason[0] = 0;
    if (!renamed && !step_ctx_fact(ctx, "repl_stopped")) {
        if ((rc = mb_fence(&s)) != STEP_OK) goto out;
        myq *src = mb_conn(&s, MB_SOURCE, &rc);
        myq *t = src ? mb_conn(&s, MB_TARGET, &rc) : NULL;
        if (!t) goto out;
        int nl = 0, nk = 0;
        if ((rc = block(&s, src, &nl, &nk)) != STEP_OK) goto out;
        log_info("cutover: writers blocked on the source", "instance=%s accounts=%d sessions_ended=%d", orig, nl, nk);
        fc_holdpoint("mb.cutover.blocked"); /* tests: act while the source is blocked */
        if ((rc = drain_and_stop(&s, src, t)) != STEP_OK) goto out;
        step_ctx_set_fact(ctx, "repl_stopped", "1");
        fc_crashpoint("mb.cutover.stopped"); /* tests: a worker killed with replication stopped, writers blocked */
    }
    if (!renamed && !step_ctx_fact(ctx, "compare_done")) {
        int64_t rows = 0;
        int mism = 0;
        char list[400] = "";
        /* writers are blocked: half of what this run has left, so the run
         * ends inside its deadline (past it another worker would take over) */
        int64_t now = fc_mono_ms(), budget = now + (step_ctx_run_deadline(ctx) - now) / 2;
        bool late = false;
        rc = mb_compare(&s, MB_SOURCE, MB_TARGET, budget, &late, &rows, &mism, list, sizeof list);
        if (late) {
            int64_t n = mb_fact_i64(ctx, "compare_late", 0) + 1;
            step_ctx_set_factf(ctx, "compare_late", "%lld", (long long)n);
            if (n >= 3) {
                MB_REASON(res, "the comparison did not fit in the cutover's runs %lld times (writers blocked all "
                               "along): giving up, the source is let go", (long long)n);
                rc = STEP_FAIL;
            } else {
                MB_REASON(res, "the comparison did not fit in this run; writers stay blocked, compared again");
            }
            goto out;
        }
        if (rc != STEP_OK) goto out;
        step_ctx_set_factf(ctx, "verify_mismatches", "%d", mism);
        step_ctx_set_factf(ctx, "rows_verified", "%lld", (long long)rows);
        char rv[32];
        snprintf(rv, sizeof rv, "%lld", (long long)rows);
        step_ctx_set_field(ctx, "rows_verified", rv);
        if (mism) {
            log_error("VERIFICATION MISMATCH before the switch: aborting", "instance=%s tables=%d first=\"%s\"", orig,
                      mism, list);
            step_ctx_set_factf(ctx, "abort_reason", "verification mismatch before the switch: %.300s", list);
            step_ctx_set_fact(ctx, "abort_auto", "1");
            MB_REASON(res, "verification mismatch before the switch (%d tables: %.300s): aborting", mism, list);
            fc_strlcpy(res->next, "abort", sizeof res->next);
            rc = STEP_NEXT;
            goto out;
        }
        /* the verdict also on the target, where a crash before this run's
         * facts are written cannot lose it (verify reads it then) */
        myq *t = mb_conn(&s, MB_TARGET, &rc);
        if (!t) goto out;
        char err[400], m[16];
        snprintf(m, sizeof m, "%d", mism);
        const char *a[] = {MB_SCHEMA};
        const char *b[] = {MB_SCHEMA, rv, m, mb_fact(ctx, "verify_tables"), mb_fact(ctx, "verify_sums")};
        if (!myq_execf(t, err, sizeof err,
                       "CREATE TABLE IF NOT EXISTS %I.verdict (id TINYINT PRIMARY KEY, rows_compared BIGINT NOT NULL, "
                       "mismatches INT NOT NULL, tables_compared INT NOT NULL, sums MEDIUMTEXT NOT NULL) ENGINE=InnoDB",
                       1, a) ||
            !myq_execf(t, err, sizeof err, "REPLACE INTO %I.verdict VALUES (1, %R, %R, %L, %L)", 5, b)) {
            rc = mb_sql_fail(res, t, "recording the comparison on the target", err);
            goto out;
        }
        step_ctx_set_fact(ctx, "compare_done", "1");
    }
    if (!renamed) {
        /* 5: the locks the target received through replication */
        if ((rc = mb_unlock_accounts(&s, MB_TARGET)) != STEP_OK) goto out;
    }
    mb_session_finish(&s);
    int64_t poll = step_ctx_opt_i64(ctx, "switch_poll_s", 90);
    int64_t until = fc_mono_ms() + poll * 1000, last = step_ctx_run_deadline(ctx) - 3000;
    rc = cluster ? awscluster_switch(ctx, res, orig, ret, tid, MB_ROLE_TARGET, until < last ? until : last)
                 : switch_rename(ctx, res, orig, ret, tid, until < last ? until : last);
    if (rc != STEP_OK) return rc;
    fc_crashpoint("mb.cutover.swapped"); /* tests: killed after the swap, before its facts are written */
    step_ctx_set_fact(ctx, "switched", "1");
    int64_t t0 = mb_fact_i64(ctx, "cutover_block_ms", 0), now = fc_now_ms();
    if (t0 <= 0) t0 = block_start_on_retired(ctx, res);
    int64_t down = t0 > 0 && now > t0 ? now - t0 : 0;
    if (t0 <= 0) step_ctx_set_fact(ctx, "downtime_unknown", "1");
    step_ctx_set_factf(ctx, "downtime_ms", "%lld", (long long)down);
    awsstep_mark(ctx, "switched_at");
    char d[32];
    snprintf(d, sizeof d, "%.3f", (double)down / 1000.0);
    step_ctx_set_field(ctx, "downtime_s", d);
    log_info("cutover: switched to the encrypted instance", "instance=%s downtime_ms=%lld", orig, (long long)down);
    return cluster ? awscluster_promote(ctx, res, orig) : awsstep_promote_target(ctx, res, orig);
out:
    mb_session_finish(&s);
    return rc;
}
