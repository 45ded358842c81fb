/* offline — the strategy table and its steps (see offline.h). Every step is
 * idempotent: it creates on its first run and looks first on a later one
 * (step_ctx_intent: an earlier run may have acted), names resources
 * deterministically, treats "already exists / already gone" as success, and
 * checks the lease before every mutating call. Waits never sleep: they
 * return STEP_WAIT on the fleet poller's cache. */
#include "offline.h"
#include "awscluster.h"
#include "awsmemo.h"
#include "awsstep.h"
#include "awsxacct.h"
#include "log.h"
#include "secrets.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_AVAILABLE awsstep_st_available
#define ST_BAD_DB awsstep_st_bad_db
static const char *const ST_PARKED[] = {"available", "stopped", NULL};
static const char *const ST_STOPPED[] = {"stopped", NULL};

static void retired_name(step_ctx *ctx, char *out, size_t cap) { awsstep_name(ctx, "retired", out, cap); }

/* Remember what a restore needs to recreate the source's settings. */
static void learn_source(step_ctx *ctx, const rds_instance *i)
{
    awsstep_learn_source(ctx, i);
    step_ctx_set_fact(ctx, "source_status", i->status);
    awsstep_mark(ctx, "source_seen_at");
}

/* The source's RDS-managed master secret: its ARN and AWSCURRENT version
 * (a version id, never the value), recorded once before the snapshot, as
 * pg-logical does, so the coordinator (coordinator/retired.c) follows later
 * rotations onto the encrypted instance with the same rules (lib/msecret.h);
 * a rotation before the snapshot only causes one harmless propagation. */
static step_rc record_master_secret(step_ctx *ctx, step_result *res, aws_client *c, const rds_instance *i)
{
    if (!i->master_user_secret_arn[0] || step_ctx_fact(ctx, "master_secret_version")) return STEP_OK;
    secret_desc d;
    aws_error e;
    aws_error_clear(&e);
    if (!secrets_describe(c, i->master_user_secret_arn, &d, &e))
        return awsstep_fail(res, &e, "DescribeSecret (master secret)");
    step_ctx_set_fact(ctx, "master_secret_arn", i->master_user_secret_arn);
    step_ctx_set_fact(ctx, "master_secret_version", d.current_version);
    log_info("master secret version recorded", "secret=%s version=%s", i->master_user_secret_arn, d.current_version);
    return STEP_OK;
}

/* A DB cluster as the source (awscluster.h): its verdict, its RDS Proxies
 * (with proxies: switched once the restored cluster is configured) and,
 * across accounts, its move judged before anything changes (the groups by
 * name in the target account; a proxy cannot follow it: it registers
 * targets of its own account only) and restored under its identifier there
 * (fact xacct_target_id). */
static step_rc preflight_cluster(step_ctx *ctx, step_result *res, aws_client *c, bool renamed, bool proxies)
{
    const char *id = step_ctx_instance(ctx);
    bool xacct = step_ctx_cross_account(ctx);
    step_rc rc = awscluster_preflight(ctx, res, renamed, step_ctx_opt_bool(ctx, "rekey") || xacct, "rekey",
                                      "aurora-postgresql");
    if (rc != STEP_OK || renamed) return rc;
    if (proxies || xacct) rc = awscluster_proxy_learn(ctx, res, id, "", false);
    if (rc != STEP_OK || !xacct) return rc;
    const char *px = step_ctx_fact(ctx, "proxy_names");
    if (px && *px) {
        snprintf(res->reason, sizeof res->reason,
                 "--target-account-role: RDS Proxy %.200s has cluster %s as its target and cannot reach a "
                 "cluster in another account; remove it from the proxy first", px, id);
        return STEP_FAIL;
    }
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) return awsstep_fail(res, &e, "DescribeDBClusters");
    rc = awscluster_xacct_preflight(ctx, res, cl, false);
    rds_cluster_free(cl);
    if (rc == STEP_OK) step_ctx_set_fact(ctx, "xacct_target_id", id);
    return rc;
}

/* ---- preflight: exists, eligible, not already done ---- */
static step_rc s_preflight(step_ctx *ctx, step_result *res)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    const char *id = step_ctx_instance(ctx);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    bool renamed = false;
    /* the campaign's instances admitted together are described together
     * (one filtered Describe for this worker's preflights of them) */
    char memo[300];
    awsstep_preflight_memo(ctx, memo, sizeof memo);
    if (!awsmemo_describe_instance(c, memo, id, AWSSTEP_PREFLIGHT_BATCH_MS, &i, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBInstances");
        /* a DB cluster (the whole cluster is one source: offline_cluster) */
        step_rc crc = STEP_OK;
        bool crenamed = false;
        int isc = awscluster_probe(ctx, res, c, id, &crenamed, &crc);
        if (isc < 0) return crc;
        if (isc > 0) return preflight_cluster(ctx, res, c, crenamed, true);
        /* resumed after the source was already renamed by us */
        char ret[64];
        retired_name(ctx, ret, sizeof ret);
        aws_error_clear(&e);
        if (!rds_describe_db_instance(c, ret, &i, &e)) {
            if (e.kind == AWS_ERR_NOT_FOUND) {
                snprintf(res->reason, sizeof res->reason, "instance %s not found", id);
                return STEP_FAIL;
            }
            return awsstep_fail(res, &e, "DescribeDBInstances");
        }
        renamed = true;
    }
    /* audit facts (report: key before and its type), recorded whatever the
     * verdict; the key verdict itself only before our rename (after it the
     * source was already judged eligible) */
    bool rekey = step_ctx_opt_bool(ctx, "rekey");
    bool xacct = step_ctx_cross_account(ctx);
    /* a move into another account takes the target's key whatever the source's */
    if (xacct) rekey = true;
    if (i->cluster_id[0] && !strcmp(i->cluster_id, id)) {
        /* the writer named like its cluster: the cluster is the source */
        rds_instance_free(i);
        step_ctx_set_fact(ctx, "kind", "cluster");
        return preflight_cluster(ctx, res, c, false, false);
    }
    if (i->cluster_id[0]) {
        snprintf(res->reason, sizeof res->reason,
                 "instance %s is a member of cluster %s: submit the cluster (its members move with it)", id,
                 i->cluster_id);
        rds_instance_free(i);
        return STEP_FAIL;
    }
    step_rc rc = awsstep_source_key(ctx, res, c, i, rekey, "rekey", false);
    if (rc != STEP_OK) {
        /* KMS busy */
    } else if (strncmp(i->engine, "postgres", 8) != 0) {
        snprintf(res->reason, sizeof res->reason, "engine %s is not supported (postgres only)", i->engine);
        rc = STEP_FAIL;
    } else if (!renamed && (rc = awsstep_source_key(ctx, res, c, i, rekey, "rekey", true)) != STEP_OK) {
        /* skipped for its key */
    } else if (i->read_replica_source[0]) {
        snprintf(res->reason, sizeof res->reason, "instance is a read replica of %s", i->read_replica_source);
        rc = STEP_FAIL;
    } else if (i->n_read_replica_ids > 0 && strcmp(step_ctx_opt(ctx, "replicas"), "ignore")) {
        snprintf(res->reason, sizeof res->reason,
                 "instance has %zu read replica(s) (first: %s): a source with replicas cannot be stopped",
                 i->n_read_replica_ids, i->read_replica_ids[0]);
        rc = STEP_FAIL;
    } else if (!renamed && strcmp(i->status, "available") && strcmp(i->status, "stopped")) {
        snprintf(res->reason, sizeof res->reason, "instance is %s; waiting for available or stopped", i->status);
        res->wait_ms = 10000;
        rc = STEP_WAIT;
    } else if (xacct && !renamed && (rc = awsxacct_preflight(ctx, res, i)) != STEP_OK) {
        /* refused for the move into the target account (before anything changes) */
    } else {
        learn_source(ctx, i);
        if (renamed) awsstep_mark(ctx, "renamed_at");
        /* across accounts the copy is restored under the original
         * identifier in the target account (awsxacct.h) */
        if (xacct) step_ctx_set_fact(ctx, "xacct_target_id", id);
        rc = record_master_secret(ctx, res, c, i);
    }
    rds_instance_free(i);
    return rc;
}

/* Did preflight see the source in `status` within the last minute (facts
 * source_status, source_seen_at)? Then the next step may act on it without
 * describing it again. */
static bool source_fresh(step_ctx *ctx, const char *status)
{
    const char *st = step_ctx_fact(ctx, "source_status");
    int64_t seen = awsstep_fact_i64(ctx, "source_seen_at", 0);
    return st && !strcmp(st, status) && seen > 0 && fc_now_ms() - seen < 60000;
}

/* The source renamed now (awsstep_rename: the standard retry — the
 * writers are not blocked by fleetcrypt here, the stop comes after; a lost
 * answer is settled there by rds_rename_carried_out; busy: WAIT on the
 * source), then waited on under its retired name through the poll cache
 * (fact renamed_at: the downtime counts from it). */
static step_rc rename_now(step_ctx *ctx, step_result *res, const char *id, const char *ret)
{
    step_rc rc = awsstep_rename(ctx, res, id, ret);
    if (rc != STEP_OK) return rc;
    awsstep_mark(ctx, "renamed_at");
    res->wait_ms = 500;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", ret);
    snprintf(res->reason, sizeof res->reason, "renaming %s to %s", id, ret);
    return STEP_WAIT;
}

/* ---- rename-source: the original identifier is freed for the target ---- */
static step_rc s_rename_source(step_ctx *ctx, step_result *res)
{
    char ret[64];
    retired_name(ctx, ret, sizeof ret);
    if (awscluster_is(ctx)) return awscluster_rename_source(ctx, res, ret);
    step_cache_view v;
    if (step_ctx_fact(ctx, "renamed_at")) {
        step_rc rc = awsstep_await(ctx, res, "db", ret, "renamed_at", ST_PARKED, ST_BAD_DB, &v);
        /* what stop-source acts on without describing it again */
        if (rc == STEP_OK) {
            step_ctx_set_fact(ctx, "retired_status", v.status);
            awsstep_mark(ctx, "retired_seen_at");
        }
        return rc;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    const char *id = step_ctx_instance(ctx);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    /* the first run renames what preflight saw available (moments ago, in
     * this step sequence) without looking again; a later run looks first */
    if (source_fresh(ctx, "available")) {
        step_intent in = step_ctx_intent(ctx, "rename_try");
        if (in == STEP_INTENT_NO) return LEASE_LOST(res);
        if (in == STEP_INTENT_FIRST) return rename_now(ctx, res, id, ret);
    }
    if (!rds_describe_db_instance(c, id, &i, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBInstances");
        /* already renamed (our earlier attempt got through) */
        awsstep_mark(ctx, "renamed_at");
        return awsstep_await(ctx, res, "db", ret, "renamed_at", ST_PARKED, ST_BAD_DB, &v);
    }
    step_rc rc;
    if (!strcmp(i->status, "available")) {
        rc = rename_now(ctx, res, id, ret);
    } else if (!strcmp(i->status, "stopped")) {
        /* a stopped instance cannot be renamed: start it first */
        if (!step_ctx_lease_ok(ctx)) {
            rds_instance_free(i);
            return LEASE_LOST(res);
        }
        aws_error_clear(&e);
        if (rds_start_db_instance(c, id, NULL, &e) || !strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 10000;
            snprintf(res->reason, sizeof res->reason, "starting the stopped source to rename it");
            rc = STEP_WAIT;
        } else {
            rc = awsstep_fail(res, &e, "StartDBInstance");
        }
    } else {
        res->wait_ms = 5000;
        snprintf(res->reason, sizeof res->reason, "source is %s", i->status);
        rc = STEP_WAIT;
    }
    rds_instance_free(i);
    return rc;
}

static step_rc stop_now(step_ctx *ctx, step_result *res, aws_client *c, const char *ret)
{
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (rds_stop_db_instance(c, ret, NULL, NULL, &e)) {
        awsstep_mark(ctx, "stop_at");
        res->wait_ms = 500;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", ret);
        snprintf(res->reason, sizeof res->reason, "stopping %s", ret);
        return STEP_WAIT;
    }
    if (!strcmp(e.code, "InvalidDBInstanceState")) {
        res->wait_ms = 3000;
        snprintf(res->reason, sizeof res->reason, "retired source busy: %.300s", e.message);
        return STEP_WAIT;
    }
    return awsstep_fail(res, &e, "StopDBInstance");
}

/* ---- stop-source: nothing can write to it after this ---- */
static step_rc s_stop_source(step_ctx *ctx, step_result *res)
{
    char ret[64];
    retired_name(ctx, ret, sizeof ret);
    if (awscluster_is(ctx)) return awscluster_stop(ctx, res, ret);
    step_cache_view v;
    if (step_ctx_fact(ctx, "stop_at"))
        return awsstep_await(ctx, res, "db", ret, "stop_at", ST_STOPPED, ST_BAD_DB, &v);
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    /* the first run acts on what the rename's wait just saw (the poller's
     * status of the retired source); a later run looks first */
    const char *seen = step_ctx_fact(ctx, "retired_status");
    int64_t seen_at = awsstep_fact_i64(ctx, "retired_seen_at", 0);
    if (seen && seen_at > 0 && fc_now_ms() - seen_at < 60000) {
        if (!strcmp(seen, "stopped")) return STEP_OK;
        step_intent in = !strcmp(seen, "available") ? step_ctx_intent(ctx, "stop_try") : STEP_INTENT_LOOK;
        if (in == STEP_INTENT_NO) return LEASE_LOST(res);
        if (in == STEP_INTENT_FIRST) return stop_now(ctx, res, c, ret);
    }
    if (!rds_describe_db_instance(c, ret, &i, &e)) return awsstep_fail(res, &e, "DescribeDBInstances (retired)");
    step_rc rc;
    if (!strcmp(i->status, "stopped")) {
        rc = STEP_OK;
    } else if (!strcmp(i->status, "stopping")) {
        awsstep_mark(ctx, "stop_at");
        rc = awsstep_await(ctx, res, "db", ret, "stop_at", ST_STOPPED, ST_BAD_DB, &v);
    } else if (!strcmp(i->status, "available")) {
        rc = stop_now(ctx, res, c, ret);
    } else {
        res->wait_ms = 3000;
        snprintf(res->reason, sizeof res->reason, "retired source is %s", i->status);
        rc = STEP_WAIT;
    }
    rds_instance_free(i);
    return rc;
}

/* ---- snapshot / copy: look, create, wait on the cache ---- */
static step_rc snapshot_like(step_ctx *ctx, step_result *res, bool copy)
{
    char ret[64];
    retired_name(ctx, ret, sizeof ret);
    if (awscluster_is(ctx)) {
        /* a cluster snapshot cannot be copied to the key when unencrypted or
         * under an AWS owned key: the restore takes the key instead */
        char sid[64], eid[64];
        awsstep_name(ctx, "snap", sid, sizeof sid);
        awsstep_name(ctx, "enc", eid, sizeof eid);
        /* across accounts the target account restores from its own copy of the shared snapshot */
        if (copy) return step_ctx_cross_account(ctx) ? awscluster_copy_to_target(ctx, res, sid, eid) : STEP_OK;
        return awscluster_snapshot(ctx, res, ret, sid);
    }
    awsstep_snap_spec sp = {.copy = copy, .of = ret, .busy = "retired source busy", .record_done = true,
                            .quota_facts = true};
    return awsstep_snapshot_like(ctx, res, &sp);
}

static step_rc s_snapshot(step_ctx *ctx, step_result *res) { return snapshot_like(ctx, res, false); }
static step_rc s_copy(step_ctx *ctx, step_result *res) { return snapshot_like(ctx, res, true); }

static int fact_int(step_ctx *ctx, const char *f, int dflt)
{
    const char *v = step_ctx_fact(ctx, f);
    return v && *v ? atoi(v) : dflt;
}

static bool has_tag(const rds_instance *i, const char *k, const char *v)
{
    for (size_t n = 0; n < i->n_tags; n++)
        if (!strcmp(i->tags[n].key, k) && !strcmp(i->tags[n].value, v)) return true;
    return false;
}

/* ---- restore: the encrypted copy becomes the original identifier ---- */
static step_rc s_restore(step_ctx *ctx, step_result *res)
{
    const char *id = step_ctx_instance(ctx);
    const char *key = step_ctx_campaign_field(ctx, "kms_key_arn");
    char eid[64];
    awsstep_name(ctx, "enc", eid, sizeof eid);
    if (awscluster_is(ctx)) {
        char sid[64];
        awsstep_name(ctx, step_ctx_cross_account(ctx) ? "enc" : "snap", sid, sizeof sid);
        return awscluster_restore(ctx, res, id, sid);
    }
    step_cache_view v;
    if (step_ctx_fact(ctx, "restore_at")) {
        step_rc rc = awsstep_await(ctx, res, "db", id, "restore_at", ST_AVAILABLE, ST_BAD_DB, &v);
        if (rc != STEP_OK) return rc;
        if (!v.encrypted || !awsstep_same_key(v.kms_key, key)) {
            snprintf(res->reason, sizeof res->reason, "restored %s is not encrypted with %s (kms %s)", id, key,
                     v.kms_key);
            return STEP_FAIL;
        }
        int64_t down0 = awsstep_fact_i64(ctx, "renamed_at", 0);
        if (down0 > 0) {
            char d[32];
            snprintf(d, sizeof d, "%.1f", (double)(v.poll_ms - down0) / 1000.0);
            step_ctx_set_field(ctx, "downtime_s", d);
        }
        return STEP_OK;
    }
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    /* the first run restores without looking; a later one looks first */
    step_intent in = step_ctx_intent(ctx, "restore_try");
    if (in == STEP_INTENT_NO) return LEASE_LOST(res);
    if (in == STEP_INTENT_FIRST)
        return awsstep_start_restore(ctx, res, id, eid, fact_int(ctx, "deletion_protection", RDS_UNSET), true);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_instance(c, id, &i, &e)) {
        bool ours = has_tag(i, "fleetcrypt:campaign", step_ctx_campaign(ctx)) &&
                    has_tag(i, "fleetcrypt:role", "encrypted-target");
        /* what configure-target compares (an earlier run's restore set it) */
        if (ours) step_ctx_set_factf(ctx, "target_backup_retention", "%d", i->backup_retention);
        rds_instance_free(i);
        if (!ours) {
            snprintf(res->reason, sizeof res->reason,
                     "identifier %s is now taken by an instance fleetcrypt did not create", id);
            return STEP_FAIL;
        }
        awsstep_mark(ctx, "restore_at");
        return awsstep_await(ctx, res, "db", id, "restore_at", ST_AVAILABLE, ST_BAD_DB, &v);
    }
    if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBInstances (target)");
    return awsstep_start_restore(ctx, res, id, eid, fact_int(ctx, "deletion_protection", RDS_UNSET), true);
}

/* ---- configure-target: the backup retention when the restore's answer
 * shows another than the source's (the restore asks for it: normally
 * nothing to do); a cluster's RDS Proxies switched to the encrypted
 * cluster ---- */
static step_rc s_configure_target(step_ctx *ctx, step_result *res)
{
    const char *id = step_ctx_instance(ctx);
    if (awscluster_is(ctx)) {
        step_rc rc = awscluster_configure(ctx, res, id);
        if (rc != STEP_OK || step_ctx_cross_account(ctx)) return rc; /* no proxy across accounts (preflight) */
        /* an RDS Proxy in front of the cluster: from the retired source to the encrypted cluster */
        char ret[64];
        retired_name(ctx, ret, sizeof ret);
        return awscluster_proxy_switch(ctx, res, id, ret, false, fc_mono_ms() + 60000);
    }
    int want = fact_int(ctx, "backup_retention", -1), have = fact_int(ctx, "target_backup_retention", -1);
    step_cache_view v;
    if (step_ctx_fact(ctx, "configure_at"))
        return awsstep_await(ctx, res, "db", id, "configure_at", ST_AVAILABLE, ST_BAD_DB, &v);
    if (want < 0 || want == have) return STEP_OK;
    return awsstep_set_backup_retention(ctx, res, id, want);
}

/* ---- retire: the stopped source is kept, tagged ---- */
static step_rc s_retire(step_ctx *ctx, step_result *res)
{
    char ret[64], arn[256];
    retired_name(ctx, ret, sizeof ret);
    if (awscluster_is(ctx)) {
        /* started again for its snapshot: stopped for good, then tagged */
        step_rc rc = awscluster_stop(ctx, res, ret);
        return rc == STEP_OK ? awscluster_tag(ctx, res, ret, "retired-source") : rc;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    snprintf(arn, sizeof arn, "arn:aws:rds:%s:%s:db:%s", step_ctx_campaign_field(ctx, "region"),
             step_ctx_campaign_field(ctx, "account"), ret);
    return awsstep_tag_retired(ctx, res, c, arn, "retired-source");
}

/* ---- cleanup: intermediate snapshots go unless --keep-snapshots ---- */
static step_rc cleanup_cluster(step_ctx *ctx, step_result *res)
{
    step_rc rc = awscluster_promote(ctx, res, step_ctx_instance(ctx));
    if (rc != STEP_OK) return rc;
    bool keep = !strcmp(step_ctx_campaign_field(ctx, "keep_snapshots"), "1");
    char sid[64], eid[64];
    awsstep_name(ctx, "snap", sid, sizeof sid);
    awsstep_name(ctx, "enc", eid, sizeof eid);
    /* across accounts: the target account loses the source's snapshot first (kept or not), then its
     * copy -enc goes there (awsxacct_client_for) */
    if (step_ctx_cross_account(ctx)) {
        rc = awsxacct_unshare_cluster(ctx, res, sid);
        if (rc == STEP_OK && !keep) rc = awscluster_delete_snapshot_as(ctx, res, eid, "deleted_enc");
        if (rc != STEP_OK) return rc;
    }
    return keep ? STEP_OK : awscluster_delete_snapshot(ctx, res, sid);
}

static step_rc s_cleanup(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) return cleanup_cluster(ctx, res);
    step_rc prc = awsstep_promote_target(ctx, res, step_ctx_instance(ctx));
    if (prc != STEP_OK) return prc;
    if (!strcmp(step_ctx_campaign_field(ctx, "keep_snapshots"), "1"))
        return awsxacct_unshare_kept(ctx, res, "snap", false); /* kept, no longer shared with the target account */
    /* the two our snapshot steps saw available (facts snapshot /
     * enc_snapshot) are deleted without looking; the target account loses
     * the shared one first */
    static const char *const sfx[] = {"snap", "enc"};
    step_rc rc = awsstep_delete_snapshots(ctx, res, sfx, 2);
    if (rc != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "q_snap", "0");
    return STEP_OK;
}

static const step_impl fns[] = {
    {"preflight", s_preflight},
    {"rename-source", s_rename_source},
    {"stop-source", s_stop_source},
    {"snapshot", s_snapshot},
    {"copy-encrypted", s_copy},
    {"restore", s_restore},
    {"configure-target", s_configure_target},
    {"retire-source", s_retire},
    {"cleanup", s_cleanup},
};

const strategy_impl fc_impl_offline = {&fc_strategy_offline, fns, FC_ARRAY_LEN(fns)};
