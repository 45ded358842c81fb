/* cutover — step `cutover` of mysql-binlog. First the gate (gate(), as
 * pg-logical's): the campaign's --window and, with --cutover approve,
 * `fleetcrypt approve` — STEP_WAIT (state waiting_approval) meanwhile,
 * writers untouched, the target replicating and watched (mb_lag_check). Then,
 * in one run when it can (the only downtime):
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
 *   4. compare the tables of the blocked source with the stopped target
 *      (verify.c: ordered per-chunk hashes) within a budget
 *      (compare_budget_ms; at most half of what the run has left): a
 *      difference aborts the instance before the switch (abort lets
 *      writers in on the source); the tables the budget does not reach are
 *      compared by verify, after the switch, against the frozen (retired)
 *      source; the target's binary-log position before anyone can write to
 *      it (switch_file/switch_pos) tells verify which tables applications
 *      wrote to since;
 *   5. the recorded accounts unlocked on the target;
 *   6. rename swap: source → fc-<c>-<i>-retired, target → the original
 *      identifier (its endpoint name); for an Aurora MySQL cluster a
 *      cluster rename (shared/awscluster.h: cluster and reader endpoints
 *      follow the name); then every RDS Proxy in front of the source
 *      (fact proxy_names, learnt at preflight, and any proxy that has the
 *      retired source by then) moved from the retired source to the
 *      identifier and awaited until that target is AVAILABLE
 *      (shared/awsproxy.c), the source's writers still blocked;
 *      With --cutover-method cname (instances) no identifier changes:
 *      step 5 waits until after the switch, which is the application's
 *      Route 53 CNAME UPSERTed to the target's Endpoint.Address and
 *      awaited INSYNC (shared/awscname.c; its TTL lowered at catch-up);
 *      only then are the accounts unlocked on the target, and the record's
 *      old TTL put back. The source keeps its identifier and endpoint (the
 *      retired source: retired_id is the identifier), its accounts locked;
 *      a crashed attempt learns the switch from the record;
 *   7. downtime recorded (cutover_block_ms to the switch — cname: to the
 *      target's accounts unlocked: downtime_ms, field downtime_s).
 * Every query of steps 1-5 is bounded (myq_set_answer_by through
 * mb_session_answer_by: three quarters of what the run has left; the
 * comparison 3 s past its budget): a server that stops answering, or any
 * other failure before the switch, gives the writers back on the source at
 * once (give_back), the target re-attached at the drained position when
 * its replication had been reset (fleetcrypt_fc.reattach on the source).
 * Facts: cutover_block_ms, final_file, final_pos, repl_stopped,
 * compare_done, compare_budget_ms, compare_window_ms, compare_deferred,
 * compare_rest_from, switch_file, switch_pos, switched, retired_id, retired_address/port, target_address/
 * port (now the original identifier's), downtime_ms. */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awscname.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "pglogical_logic.h"
#include "window.h"
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
static step_rc drain_and_stop(mb_session *s, myq *src, myq *t, bool *final_read)
{
    char err[400];
    char file[128];
    int64_t pos = 0;
    if (!src || !t) return STEP_RETRY;
    if (!mb_master_pos(src, file, sizeof file, &pos, err, sizeof err))
        return mb_sql_fail(s->res, src, "SHOW MASTER STATUS on the source", err);
    step_ctx_set_fact(s->ctx, "final_file", file);
    step_ctx_set_factf(s->ctx, "final_pos", "%lld", (long long)pos);
    *final_read = true; /* from here on the target may stop and reset at it */
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
    if (!step_ctx_lease_ok(s->ctx)) return LEASE_LOST(s->res);
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

/* ---- giving the writers back (the window's undo) ----
 * When the window cannot finish in this run (a server that stops answering:
 * the bound closed its connection; any other failure before the switch),
 * the source's application accounts are unlocked at once instead of staying
 * locked until a later run. If replication on the target had already been
 * stopped and reset at the final position, the target must continue from
 * exactly there: the position is recorded on the source first
 * (fleetcrypt_fc.reattach, so a crash cannot lose it), then the accounts are
 * unlocked, then the target replicates again from it (now, or — the target
 * silent — at the start of the next attempt, before anything is blocked). */

#define REATTACH_TRY_MS 10000
#define REATTACH_TABLE "CREATE TABLE IF NOT EXISTS %I.reattach (id TINYINT PRIMARY KEY, file VARCHAR(255) NOT NULL, " \
                       "pos BIGINT NOT NULL) ENGINE=InnoDB"

/* The recorded re-attach position on the source: *have false when none. */
static step_rc reattach_pending(mb_session *s, myq *src, bool *have, char *file, size_t fcap, char *pos, size_t pcap)
{
    char err[400];
    *have = false;
    myq_res *t = myq_query(src, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" MB_SCHEMA
                                "' AND TABLE_NAME = 'reattach'", err, sizeof err);
    if (!t) return mb_sql_fail(s->res, src, "looking for a pending re-attach", err);
    bool table = myq_cell(t, 0, 0) && strcmp(myq_cell(t, 0, 0), "0") != 0;
    myq_res_free(t);
    if (!table) return STEP_OK;
    const char *a[] = {MB_SCHEMA};
    myq_res *r = myq_queryf(src, err, sizeof err, "SELECT file, pos FROM %I.reattach WHERE id = 1", 1, a);
    if (!r) return mb_sql_fail(s->res, src, "reading the pending re-attach", err);
    if (r->nrows == 1 && myq_cell(r, 0, 0) && myq_cell(r, 0, 1)) {
        *have = true;
        fc_strlcpy(file, myq_cell(r, 0, 0), fcap);
        fc_strlcpy(pos, myq_cell(r, 0, 1), pcap);
    }
    myq_res_free(r);
    return STEP_OK;
}

/* The target replicates again from the recorded position (when it
 * replicates from nobody; ours already configured: only started), then the
 * record goes. */
static step_rc reattach_target(mb_session *s, myq *src, myq *t, const char *file, const char *pos)
{
    step_ctx *ctx = s->ctx;
    char err[400];
    mb_repl r;
    if (!mb_repl_status(t, &r, err, sizeof err)) return mb_sql_fail(s->res, t, "SHOW REPLICA STATUS", err);
    if (r.present && strcmp(r.master_user, s->repl_user) != 0) {
        MB_REASON(s->res, "the target replicates as %s, not fleetcrypt's user: refused", r.master_user);
        return STEP_FAIL;
    }
    if (!r.present) {
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(s->res);
        const char *a[] = {mb_fact(ctx, "address"), mb_fact(ctx, "port"), s->repl_user, s->repl_pw, file, pos};
        if (!myq_execf(t, err, sizeof err, mb_proc_set(ctx), 6, a))
            return mb_sql_fail_secret(s->res, t, "re-attaching the target", err, s->repl_pw);
    }
    if (!r.present || !r.io_running || !r.sql_running) {
        if (!myq_exec(t, "CALL mysql.rds_start_replication", err, sizeof err))
            return mb_sql_fail(s->res, t, "mysql.rds_start_replication on the target", err);
    }
    const char *a[] = {MB_SCHEMA};
    if (!myq_execf(src, err, sizeof err, "DELETE FROM %I.reattach", 1, a))
        return mb_sql_fail(s->res, src, "clearing the re-attach record", err);
    log_info("target replicates again from the drained position", "instance=%s file=%s pos=%s",
             step_ctx_instance(ctx), file, pos);
    return STEP_OK;
}

/* Writers back on the source after a failure inside the window (the reason
 * already in s->res is kept; what the undo could not do is added). */
static void give_back(mb_session *s, bool stopped, const char *why)
{
    step_ctx *ctx = s->ctx;
    if (!step_ctx_lease_ok(ctx)) {
        /* another holder owns the instance: the source is its decision */
        log_warn("cutover: lease lost, leaving the source to the holder that took over", "why=\"%s\"", why);
        return;
    }
    char keep[sizeof s->res->reason];
    fc_strlcpy(keep, s->res->reason, sizeof keep);
    /* bounded as well (the source may be the silent one): what the run has left */
    mb_session_answer_by(s, step_ctx_run_deadline(ctx) - 1000);
    step_rc rc = STEP_OK;
    char err[400] = "";
    myq *src = mb_conn(s, MB_SOURCE, &rc);
    bool ok = src != NULL;
    if (ok && stopped) {
        const char *a[] = {MB_SCHEMA};
        const char *b[] = {MB_SCHEMA, mb_fact(ctx, "final_file"), mb_fact(ctx, "final_pos")};
        ok = *b[1] && *b[2] && myq_execf(src, err, sizeof err, REATTACH_TABLE, 1, a) &&
             myq_execf(src, err, sizeof err, "REPLACE INTO %I.reattach (id, file, pos) VALUES (1, %L, %R)", 3, b);
        if (!ok && !err[0]) fc_strlcpy(err, "no final position recorded", sizeof err);
    }
    if (ok) ok = mb_unlock_accounts(s, MB_SOURCE) == STEP_OK;
    if (!ok) {
        if (!err[0]) fc_strlcpy(err, s->res->reason, sizeof err);
        log_error("cutover failed and the source could NOT be unblocked: abort the instance", "why=\"%s\" err=\"%s\"",
                  why, err);
        fc_strlcpy(s->res->reason, keep, sizeof s->res->reason);
        size_t n = strlen(s->res->reason);
        snprintf(s->res->reason + n, sizeof s->res->reason - n, " (unblocking the source failed: %.200s)", err);
        mb_session_answer_by(s, 0);
        return;
    }
    /* the attempt starts over: block, drain, compare */
    step_ctx_set_fact(ctx, "repl_stopped", "");
    step_ctx_set_fact(ctx, "compare_done", "");
    step_ctx_set_fact(ctx, "compare_rest_from", "");
    step_ctx_set_fact(ctx, "cutover_block_ms", "");
    log_warn("cutover abandoned before the switch: source writable again", "instance=%s why=\"%s\" reattach=%d",
             step_ctx_instance(ctx), why, (int)stopped);
    if (stopped) {
        /* the writers are back already: a short try only (the target may be
         * the silent one); otherwise the next attempt re-attaches it first */
        int64_t now = fc_mono_ms(), end = step_ctx_run_deadline(ctx) - 1000;
        mb_session_answer_by(s, now + REATTACH_TRY_MS < end ? now + REATTACH_TRY_MS : end);
        myq *t = mb_conn(s, MB_TARGET, &rc);
        char f[128], p[32];
        bool have = false;
        if (t && reattach_pending(s, src, &have, f, sizeof f, p, sizeof p) == STEP_OK && have &&
            reattach_target(s, src, t, f, p) == STEP_OK) {
            /* done now */
        } else {
            log_warn("the target is re-attached at the start of the next attempt", "instance=%s",
                     step_ctx_instance(ctx));
        }
    }
    fc_strlcpy(s->res->reason, keep, sizeof s->res->reason);
    size_t n = strlen(s->res->reason);
    snprintf(s->res->reason + n, sizeof s->res->reason - n, " (writers let back in on the source; retried)");
    mb_session_answer_by(s, 0);
}

/* The window's bound: three quarters of what this run has left (the rest
 * is left to give the writers back). */
static int64_t window_bound(step_ctx *ctx)
{
    int64_t now = fc_mono_ms();
    return now + (step_ctx_run_deadline(ctx) - now) * 3 / 4;
}

/* Is the source blocked by an attempt of ours (its block's start is kept
 * there until the accounts are unlocked)? A crashed attempt's block is
 * resumed, never held at the gate. */
static step_rc source_blocked(mb_session *s, bool *blocked)
{
    *blocked = false;
    step_rc rc = STEP_OK;
    myq *q = mb_conn(s, MB_SOURCE, &rc);
    if (!q) return rc;
    char err[400];
    myq_res *r = myq_query(q, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" MB_SCHEMA
                              "' AND TABLE_NAME = 'block_start'", err, sizeof err);
    if (!r) return mb_sql_fail(s->res, q, "looking for the block's start", err);
    *blocked = myq_cell(r, 0, 0) && strcmp(myq_cell(r, 0, 0), "0") != 0;
    myq_res_free(r);
    return STEP_OK;
}

/* The gate before the writers are blocked, as pg-logical's (its
 * pgl_gate_check): the campaign's --window (UTC) and, with --cutover
 * approve, `fleetcrypt approve` (fact or campaign field approved). While it
 * waits the target keeps replicating and is watched (mb_lag_check: an SQL
 * error fails the instance, a lag over catchup_lag_bytes holds the cutover). */
static step_rc gate(step_ctx *ctx, step_result *res)
{
    fc_window w;
    char err[200];
    const char *spec = step_ctx_opt(ctx, "window");
    if (!window_parse(spec ? spec : "", &w, err, sizeof err)) {
        MB_REASON(res, "--window: %s", err);
        return STEP_FAIL;
    }
    const char *mode = step_ctx_opt(ctx, "cutover"), *all = step_ctx_campaign_field(ctx, "approved");
    pgl_gate_in gi = {.window = &w,
                      .now_ms = fc_now_ms(),
                      .need_approval = mode && !strcmp(mode, "approve"),
                      .approved = opt_truthy(mb_fact(ctx, "approved")) || (all && opt_truthy(all))};
    int64_t wait = 0;
    pgl_gate g = pgl_gate_check(&gi, &wait);
    if (g == PGL_GATE_GO && !*mb_fact(ctx, "waiting_approval")) return mb_lag_check(ctx, res);
    step_rc rc = mb_lag_check(ctx, res);
    if (rc != STEP_OK && rc != STEP_WAIT) return rc;
    char lag[200];
    fc_strlcpy(lag, rc == STEP_OK ? "caught up" : res->reason, sizeof lag);
    if (g == PGL_GATE_APPROVAL) {
        step_ctx_set_fact(ctx, "waiting_approval", "1");
        res->wait_ms = wait;
        MB_REASON(res, STEP_APPROVAL_PREFIX " (fleetcrypt approve %s %s); %s, lag %s bytes", step_ctx_campaign(ctx),
                  step_ctx_instance(ctx), lag, mb_fact(ctx, "lag_bytes"));
        return STEP_WAIT;
    }
    if (strcmp(mb_fact(ctx, "waiting_approval"), "0") != 0) step_ctx_set_fact(ctx, "waiting_approval", "0");
    if (g == PGL_GATE_WINDOW) {
        res->wait_ms = wait < 30000 ? wait + 200 : 30000; /* keep watching the target meanwhile */
        MB_REASON(res, "waiting for the cutover window '%s' UTC (opens in %llds); %s", spec,
                  (long long)(wait / 1000), lag);
        return STEP_WAIT;
    }
    return rc;
}

/* --cutover-method cname, 6: the record UPSERTed to the target's endpoint
 * and awaited INSYNC (bounded by deadline), then — only then — the
 * accounts unlocked on the target (step 5 of the rename). The source keeps
 * its identifier and endpoint: it is the retired source. */
static step_rc switch_cname(step_ctx *ctx, step_result *res, int64_t deadline)
{
    step_rc rc = awscname_switch(ctx, res, mb_fact(ctx, "target_address"), deadline);
    if (rc != STEP_OK) return rc;
    char tid[64];
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    step_ctx_set_fact(ctx, "target_id", tid); /* serves under its own identifier */
    step_ctx_set_fact(ctx, "retired_id", step_ctx_instance(ctx));
    step_ctx_set_fact(ctx, "retired_address", mb_fact(ctx, "address"));
    step_ctx_set_fact(ctx, "retired_port", mb_fact(ctx, "port"));
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    mb_session s;
    mb_session_init(&s, ctx, res);
    rc = mb_unlock_accounts(&s, MB_TARGET);
    mb_session_finish(&s);
    return rc;
}

/* After the switch (also when a retried run finds it done): the CNAME's
 * old TTL back (writers are in: costs no downtime), the serving instance
 * tagged as the encrypted one. */
static step_rc after_switch(step_ctx *ctx, step_result *res, bool cluster, bool cname, const char *tid)
{
    step_rc rc = cname ? awscname_restore_ttl(ctx, res) : STEP_OK;
    if (rc != STEP_OK) return rc;
    const char *orig = step_ctx_instance(ctx);
    return cluster ? awscluster_promote(ctx, res, orig) : awsstep_promote_target(ctx, res, cname ? tid : orig);
}

step_rc mb_step_cutover(step_ctx *ctx, step_result *res)
{
    const char *orig = step_ctx_instance(ctx);
    char ret[64], tid[64];
    awsstep_name(ctx, MB_SFX_RETIRED, ret, sizeof ret);
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    bool missing = false, cluster = awscluster_is(ctx);
    bool cname = !cluster && mb_cname(ctx); /* preflight refuses cname for a cluster */
    if (!strcmp(mb_fact(ctx, "switched"), "1")) return after_switch(ctx, res, cluster, cname, tid);
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    /* a rename already done (a crashed attempt): only the rest is left */
    rds_instance *cur = cluster || cname ? NULL : mb_describe(ctx, res, orig, &missing, &rc);
    if (!cur && !missing && !cluster && !cname) goto out;
    bool renamed = cur && mb_is_ours(ctx, cur, MB_ROLE_TARGET), orig_exists = cur != NULL;
    rds_instance_free(cur);
    if (cname) {
        /* the record on the target's endpoint: the switch began (it starts
         * only after the drain and the comparison) */
        if ((rc = awscname_switched(ctx, res, mb_fact(ctx, "target_address"), &renamed)) != STEP_OK) goto out;
        if (renamed)
            log_warn("cutover: the switch had happened (learned from Route 53): going forward", "instance=%s",
                     orig);
    } else if (cluster) {
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
    bool stopped = !strcmp(mb_fact(ctx, "repl_stopped"), "1");
    if (!renamed && !stopped) {
        /* the gate (window, approval), unless an attempt of ours holds the writers already */
        bool blocked = false;
        if ((rc = source_blocked(&s, &blocked)) != STEP_OK) goto out;
        if (!blocked) {
            mb_session_finish(&s);
            if ((rc = gate(ctx, res)) != STEP_OK) return rc;
            mb_session_init(&s, ctx, res);
        }
    }
    if (!renamed) {
        /* the window: every query bounded (a silent server must not keep the
         * writers blocked); any failure in it gives the writers back */
        mb_session_answer_by(&s, window_bound(ctx));
        if (!stopped) {
            if ((rc = mb_fence(&s)) != STEP_OK) goto out; /* fenced out: the source is the new holder's */
            myq *src = mb_conn(&s, MB_SOURCE, &rc);
            myq *t = src ? mb_conn(&s, MB_TARGET, &rc) : NULL;
            if (!t) goto undo;
            /* an earlier attempt gave the writers back with the target
             * detached: it continues from the drained position first */
            char f[128], p[32];
            bool have = false;
            if ((rc = reattach_pending(&s, src, &have, f, sizeof f, p, sizeof p)) != STEP_OK) goto undo;
            if (have && (rc = reattach_target(&s, src, t, f, p)) != STEP_OK) goto undo;
            int nl = 0, nk = 0;
            if ((rc = block(&s, src, &nl, &nk)) != STEP_OK) goto undo;
            log_info("cutover: writers blocked on the source", "instance=%s accounts=%d sessions_ended=%d", orig, nl,
                     nk);
            fc_holdpoint("mb.cutover.blocked"); /* tests: act while the source is blocked */
            bool final_read = false;
            src = mb_conn(&s, MB_SOURCE, &rc);
            t = src ? mb_conn(&s, MB_TARGET, &rc) : NULL;
            if (!t || (rc = drain_and_stop(&s, src, t, &final_read)) != STEP_OK) {
                /* the target may have stopped and reset at this run's final
                 * position (a silent server: unknown): re-attached from it,
                 * which only starts replication that is still configured */
                stopped = final_read;
                goto undo;
            }
            stopped = true;
            step_ctx_set_fact(ctx, "repl_stopped", "1");
            fc_crashpoint("mb.cutover.stopped"); /* tests: a worker killed with replication stopped, writers blocked */
        }
    }
    if (!renamed && strcmp(mb_fact(ctx, "compare_done"), "1") != 0) {
        /* Writers are blocked: the comparison has a budget (compare_budget_ms,
         * at most half of what this run has left); the tables it does not
         * reach are compared after the switch, the retired source being
         * frozen (its accounts stay locked). A server that stops answering
         * gives up 3 s after the budget. */
        int64_t now = fc_mono_ms(), half = (step_ctx_run_deadline(ctx) - now) / 2;
        int64_t want = step_ctx_opt_i64(ctx, "compare_budget_ms", 0);
        int64_t budget = want > 0 && want < half ? want : half;
        if (budget < 0) budget = 0;
        mb_session_answer_by(&s, now + budget + 3000 < s.answer_by ? now + budget + 3000 : s.answer_by);
        myq *src = mb_conn(&s, MB_SOURCE, &rc);
        myq *t = src ? mb_conn(&s, MB_TARGET, &rc) : NULL;
        if (!t) goto undo;
        dbuf sums;
        dbuf_init(&sums, 60000);
        mb_cmp c = {.a = src, .b = t, .from = 0, .deadline = now + budget, .sums = &sums};
        rc = mb_compare(&s, &c);
        int64_t took = fc_mono_ms() - now;
        mb_session_answer_by(&s, window_bound(ctx));
        if (rc != STEP_OK) {
            dbuf_free(&sums);
            goto undo;
        }
        step_ctx_set_factf(ctx, "compare_budget_ms", "%lld", (long long)budget);
        step_ctx_set_factf(ctx, "compare_window_ms", "%lld", (long long)took);
        step_ctx_set_factf(ctx, "compare_rest_from", "%d", c.late ? c.next : -1);
        step_ctx_set_factf(ctx, "compare_deferred", "%d", c.late ? c.tables - c.next : 0);
        step_ctx_set_factf(ctx, "verify_tables", "%d", c.tables);
        step_ctx_set_fact(ctx, "verify_sums", sums.data ? sums.data : "");
        dbuf_free(&sums);
        if (c.late)
            log_warn("cutover: the comparison's budget is spent: the rest is compared after the switch",
                     "instance=%s budget_ms=%lld compared=%d deferred=%d", orig, (long long)budget, c.hashed,
                     c.tables - c.next);
        step_ctx_set_factf(ctx, "verify_mismatches", "%d", c.mism);
        step_ctx_set_factf(ctx, "rows_verified", "%lld", (long long)c.rows);
        char rv[32];
        snprintf(rv, sizeof rv, "%lld", (long long)c.rows);
        step_ctx_set_field(ctx, "rows_verified", rv);
        if (c.mism) {
            log_error("VERIFICATION MISMATCH before the switch: aborting", "instance=%s tables=%d first=\"%s\"", orig,
                      c.mism, c.list);
            step_ctx_set_factf(ctx, "abort_reason", "verification mismatch before the switch: %.300s", c.list);
            step_ctx_set_fact(ctx, "abort_auto", "1");
            MB_REASON(res, "verification mismatch before the switch (%d tables: %.300s): aborting", c.mism, c.list);
            fc_strlcpy(res->next, "abort", sizeof res->next);
            rc = STEP_NEXT;
            goto out;
        }
        /* the verdict also on the target, where a crash before this run's
         * facts are written cannot lose it (verify reads it then) */
        t = mb_conn(&s, MB_TARGET, &rc);
        if (!t) goto undo;
        char err[400], m[16], from[16];
        snprintf(m, sizeof m, "%d", c.mism);
        snprintf(from, sizeof from, "%d", c.late ? c.next : -1);
        /* where the target's own binary log stands before anyone can write
         * to it: verify tells a table applications wrote to since the switch
         * from one nobody touched (whose difference is then a real one) */
        char sf[128] = "";
        int64_t sp = -1;
        if (c.late && !mb_master_pos(t, sf, sizeof sf, &sp, err, sizeof err)) {
            log_warn("no binary log position on the target: differences in the tables past the budget will be "
                     "incomplete, not failures", "instance=%s err=\"%s\"", orig, err);
            sf[0] = 0;
            sp = -1;
        }
        char sps[32];
        snprintf(sps, sizeof sps, "%lld", (long long)sp);
        step_ctx_set_fact(ctx, "switch_file", sf);
        step_ctx_set_fact(ctx, "switch_pos", sps);
        const char *a[] = {MB_SCHEMA};
        const char *b[] = {MB_SCHEMA, rv, m, mb_fact(ctx, "verify_tables"), mb_fact(ctx, "verify_sums"), from, sf, sps};
        if (!myq_execf(t, err, sizeof err,
                       "CREATE TABLE IF NOT EXISTS %I.verdict (id TINYINT PRIMARY KEY, rows_compared BIGINT NOT NULL, "
                       "mismatches INT NOT NULL, tables_compared INT NOT NULL, sums MEDIUMTEXT NOT NULL, "
                       "rest_from INT NOT NULL DEFAULT -1, switch_file VARCHAR(255) NOT NULL DEFAULT '', "
                       "switch_pos BIGINT NOT NULL DEFAULT -1) ENGINE=InnoDB",
                       1, a) ||
            !myq_execf(t, err, sizeof err, "REPLACE INTO %I.verdict VALUES (1, %R, %R, %L, %L, %R, %L, %R)", 8, b)) {
            rc = mb_sql_fail(res, t, "recording the comparison on the target", err);
            goto undo;
        }
        step_ctx_set_fact(ctx, "compare_done", "1");
    }
    if (!renamed && !cname) {
        /* 5: the locks the target received through replication (cname: after the switch) */
        if ((rc = mb_unlock_accounts(&s, MB_TARGET)) != STEP_OK) goto undo;
    }
    mb_session_answer_by(&s, 0);
    mb_session_finish(&s);
    int64_t poll = step_ctx_opt_i64(ctx, "switch_poll_s", 90);
    int64_t until = fc_mono_ms() + poll * 1000, last = step_ctx_run_deadline(ctx) - 3000;
    int64_t dl = until < last ? until : last;
    /* the renames, then the RDS Proxies in front of the source moved from
     * the retired source to the identifier (now the encrypted one), its
     * writers still blocked (shared/awsproxy.c; a cluster's in
     * awscluster_switch) */
    rc = cname     ? switch_cname(ctx, res, dl)
         : cluster ? awscluster_switch(ctx, res, orig, ret, tid, MB_ROLE_TARGET, false, dl)
                   : switch_rename(ctx, res, orig, ret, tid, dl);
    if (rc == STEP_OK && !cluster && !cname)
        rc = awsproxy_switch(ctx, res, AWSPROXY_INSTANCE, orig, ret, NULL, dl, NULL);
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
    log_info("cutover: switched to the encrypted instance", "instance=%s method=%s downtime_ms=%lld", orig,
             cname ? "cname" : "rename", (long long)down);
    return after_switch(ctx, res, cluster, cname, tid);
undo:
    if (rc != STEP_OK && rc != STEP_NEXT) give_back(&s, stopped, res->reason);
out:
    mb_session_finish(&s);
    return rc;
}
