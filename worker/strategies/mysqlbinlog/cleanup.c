/* cleanup — steps `cleanup` and `abort` of mysql-binlog.
 *
 * cleanup (after the switch): fleetcrypt's replication user and schema
 * dropped on the serving instance (they came with the seed) and on the
 * retired source; the seed replica deleted if still there; the
 * intermediate snapshots deleted unless keep_snapshots; deletion
 * protection as the source had it; the retired source tagged
 * fleetcrypt:role=retired-source (+ fleetcrypt:original-id) and stopped —
 * its application accounts stay locked. Facts db_cleaned, snapshots_deleted,
 * protect_done, stop_at.
 *
 * abort (on request, or as the undo of a failure before the switch):
 * refuses after the switch (STEP_NEXT to verify/cleanup, fact
 * abort_refused); otherwise a half-done rename goes back, the application
 * accounts fleetcrypt locked are unlocked on the source, the replication
 * user and fleetcrypt's schema dropped there, the target and the seed
 * replica deleted, the snapshots deleted unless kept: the source is
 * writable and nothing of fleetcrypt's is left.
 *
 * --cutover-method cname: the encrypted instance keeps its own identifier
 * (fact target_id: deletion protection goes there), the retired source is
 * the original identifier; abort before the switch puts the record's value
 * and TTL back (shared/awscname.c), after it (the record on the target)
 * refuses as after a rename.
 *
 * An Aurora MySQL cluster (cluster.c): the same database part; the members
 * take their names, the retired cluster is tagged and stopped, the target
 * cluster (abort) and the cluster snapshot are deleted. */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awscname.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

static step_rc retire_source(step_ctx *ctx, step_result *res)
{
    const char *rid = mb_fact(ctx, "retired_id");
    if (!*rid) return (MB_REASON(res, "no retired source recorded"), STEP_FAIL);
    return awsstep_retire_instance(ctx, res, rid, MB_ROLE_RETIRED);
}

step_rc mb_step_cleanup(step_ctx *ctx, step_result *res)
{
    step_rc rc = STEP_OK;
    if (!step_ctx_fact(ctx, "db_cleaned")) {
        /* the retired source only while it runs (a resumed cleanup may have stopped it) */
        bool missing = false, running = false;
        if (awscluster_is(ctx)) {
            rds_cluster *cl = awscluster_describe(ctx, res, mb_fact(ctx, "retired_id"), &missing, &rc);
            if (!cl && !missing) return rc;
            running = cl && !strcmp(cl->status, "available");
            rds_cluster_free(cl);
        } else {
            rds_instance *r = *mb_fact(ctx, "retired_id")
                                  ? mb_describe(ctx, res, mb_fact(ctx, "retired_id"), &missing, &rc)
                                  : NULL;
            if (!r && !missing && *mb_fact(ctx, "retired_id")) return rc;
            running = r && !strcmp(r->status, "available");
            rds_instance_free(r);
        }
        res->reason[0] = 0;
        mb_session s;
        mb_session_init(&s, ctx, res);
        rc = mb_drop_ours(&s, MB_TARGET);
        if (rc == STEP_OK && running) rc = mb_drop_ours(&s, MB_RETIRED);
        mb_session_finish(&s);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "db_cleaned", "1");
    }
    if (awscluster_is(ctx)) return mb_cluster_finish(ctx, res);
    char rid[64];
    awsstep_name(ctx, MB_SFX_REPLICA, rid, sizeof rid);
    if ((rc = mb_delete_ours(ctx, res, rid, MB_ROLE_REPLICA)) != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "snapshots_deleted")) {
        if ((rc = mb_delete_snapshots(ctx, res)) != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "snapshots_deleted", "1");
    }
    if (!step_ctx_fact(ctx, "protect_done")) {
        if (!strcmp(mb_fact(ctx, "deletion_protection"), "1")) {
            rds_modify_instance_opts o;
            rds_modify_instance_opts_init(&o);
            o.identifier = *mb_fact(ctx, "target_id") ? mb_fact(ctx, "target_id") : step_ctx_instance(ctx);
            o.deletion_protection = 1;
            o.apply_immediately = true;
            aws_error e;
            aws_error_clear(&e);
            if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
            if (!rds_modify_db_instance(step_ctx_aws(ctx), &o, NULL, &e)) {
                if (!strcmp(e.code, "InvalidDBInstanceState")) {
                    res->wait_ms = 5000;
                    MB_REASON(res, "target busy: %.300s", e.message);
                    return STEP_WAIT;
                }
                return awsstep_fail(res, &e, "ModifyDBInstance (deletion protection)");
            }
        }
        step_ctx_set_fact(ctx, "protect_done", "1");
    }
    return retire_source(ctx, res);
}

/* ---------------------------------------------------------------- abort */
static step_rc switch_done(step_ctx *ctx, step_result *res, bool *done)
{
    *done = !strcmp(mb_fact(ctx, "switched"), "1");
    if (*done) return STEP_OK;
    if (awscluster_is(ctx)) {
        char ret[64];
        awsstep_name(ctx, MB_SFX_RETIRED, ret, sizeof ret);
        bool half = false;
        return awscluster_switched(ctx, res, step_ctx_instance(ctx), ret, MB_ROLE_TARGET, done, &half);
    }
    if (mb_cname(ctx)) return awscname_switched(ctx, res, mb_fact(ctx, "target_address"), done);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = mb_describe(ctx, res, step_ctx_instance(ctx), &missing, &rc);
    if (!i && !missing) return rc;
    if (i) {
        *done = mb_is_ours(ctx, i, MB_ROLE_TARGET);
        rds_instance_free(i);
    }
    res->reason[0] = 0;
    return STEP_OK;
}

/* The source renamed away and the target not yet in its place: put it back. */
static step_rc roll_back_rename(step_ctx *ctx, step_result *res)
{
    const char *orig = step_ctx_instance(ctx);
    char ret[64];
    awsstep_name(ctx, MB_SFX_RETIRED, ret, sizeof ret);
    if (awscluster_is(ctx)) return awscluster_roll_back(ctx, res, orig, ret);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *o = mb_describe(ctx, res, orig, &missing, &rc);
    if (o) {
        rds_instance_free(o);
        res->reason[0] = 0;
        return STEP_OK;
    }
    if (!missing) return rc;
    rds_instance *r = mb_describe(ctx, res, ret, &missing, &rc);
    if (!r) return missing ? (res->reason[0] = 0, STEP_OK) : rc;
    rds_instance_free(r);
    if ((rc = mb_rename(ctx, res, ret, orig)) != STEP_OK) return rc;
    rds_instance *i = NULL;
    rc = mb_await_instance(ctx, res, orig, NULL, fc_mono_ms() + 90000, &i);
    if (rc != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "address", i->endpoint_address);
    step_ctx_set_factf(ctx, "port", "%d", i->port);
    rds_instance_free(i);
    log_warn("abort: half-done rename swap rolled back", "instance=%s", orig);
    return STEP_OK;
}

static step_rc abort_inner(step_ctx *ctx, step_result *res)
{
    bool switched = false;
    step_rc rc = switch_done(ctx, res, &switched);
    if (rc != STEP_OK) return rc;
    if (switched) {
        const char *next = !step_ctx_fact(ctx, "downtime_ms")         ? "cutover"
                           : strcmp(mb_fact(ctx, "verify_done"), "1") ? "verify"
                                                                      : "cleanup";
        MB_REASON(res, "abort refused: the switch is done (the %s is now the encrypted instance and took writes); "
                       "finishing with %s", mb_cname(ctx) ? "CNAME's value" : "original identifier", next);
        step_ctx_set_fact(ctx, "abort_refused", res->reason);
        log_warn("abort refused after the switch", "next=%s", next);
        fc_strlcpy(res->next, next, sizeof res->next);
        return STEP_NEXT;
    }
    /* cname: the record's value and TTL back (nothing renamed); else a half-done rename back */
    if ((rc = mb_cname(ctx) ? awscname_roll_back(ctx, res) : roll_back_rename(ctx, res)) != STEP_OK) return rc;
    /* the proxies are moved only after the renames: before the switch they
     * have the source; one that lost it anyway gets it back */
    char tgt[64];
    awsstep_name(ctx, MB_SFX_TARGET, tgt, sizeof tgt);
    rc = awscluster_is(ctx) ? awscluster_proxy_roll_back(ctx, res, step_ctx_instance(ctx), tgt)
                            : awsproxy_roll_back(ctx, res, AWSPROXY_INSTANCE, step_ctx_instance(ctx), tgt, NULL);
    if (rc != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "abort_db_done") && *mb_fact(ctx, "address")) {
        mb_session s;
        mb_session_init(&s, ctx, res);
        rc = mb_unlock_accounts(&s, MB_SOURCE);
        if (rc == STEP_OK) rc = mb_drop_ours(&s, MB_SOURCE);
        mb_session_finish(&s);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "abort_db_done", "1");
    }
    char id[64];
    if (awscluster_is(ctx)) {
        if ((rc = mb_cluster_undo(ctx, res)) != STEP_OK) return rc;
    } else {
        awsstep_name(ctx, MB_SFX_TARGET, id, sizeof id);
        if ((rc = mb_delete_ours(ctx, res, id, MB_ROLE_TARGET)) != STEP_OK) return rc;
        awsstep_name(ctx, MB_SFX_REPLICA, id, sizeof id);
        if ((rc = mb_delete_ours(ctx, res, id, MB_ROLE_REPLICA)) != STEP_OK) return rc;
        if ((rc = mb_delete_snapshots(ctx, res)) != STEP_OK) return rc;
    }
    const char *why = mb_fact(ctx, "abort_reason");
    if (*why)
        MB_REASON(res, "aborted: %s", why);
    else
        MB_REASON(res, "aborted on request");
    step_ctx_set_fact(ctx, "aborted", "1");
    log_warn("instance aborted: the source is writable and nothing of fleetcrypt's is left", "why=\"%s\"", why);
    return STEP_OK;
}

step_rc mb_step_abort(step_ctx *ctx, step_result *res)
{
    char from[48], why[STEP_REASON_MAX];
    fc_strlcpy(from, mb_fact(ctx, "undo_from"), sizeof from);
    fc_strlcpy(why, mb_fact(ctx, "undo_reason"), sizeof why);
    step_rc rc = abort_inner(ctx, res);
    if (!from[0]) return rc;
    if (rc == STEP_OK) {
        step_ctx_set_fact(ctx, "undo_done", "1");
        MB_REASON(res, "failed at %s; undone (writers let in, replication user, replica, target and snapshots "
                       "removed): %.380s", from, why);
        fc_strlcpy(res->next, from, sizeof res->next);
        return STEP_FAIL;
    }
    if (rc == STEP_NEXT && *mb_fact(ctx, "abort_refused")) {
        MB_REASON(res, "failed at %s after the switch (nothing undone): %.380s", from, why);
        res->next[0] = 0;
        return STEP_FAIL;
    }
    if (rc == STEP_FAIL) {
        char e[STEP_REASON_MAX];
        fc_strlcpy(e, res->reason, sizeof e);
        MB_REASON(res, "failed at %s: %.200s; undoing it failed too (fleetcrypt retry runs the undo again): %.200s",
                  from, why, e);
        res->next[0] = 0;
    }
    return rc;
}
