/* seed — steps `replica`, `snapshot`, `copy-encrypted` and `restore` of
 * mysql-binlog: the encrypted target seeded at an exact binlog position of
 * the source (AWS's documented method for RDS for MySQL, which reports no
 * position for a restore of an instance snapshot).
 *
 * replica (fenced): CreateDBInstanceReadReplica fc-<c>-<i>-replica (our
 * tags, role seed-replica; fact replica_at), awaited available (facts
 * replica_address/port); then mysql.rds_stop_replication on it and its
 * executed position from SHOW REPLICA STATUS, accepted only when the SQL
 * thread stopped without error and the position is there (facts seed_file,
 * seed_pos); a re-run reads it again and fails if it moved (ambiguous).
 *
 * snapshot: the stopped replica snapshotted (shared awsstep_snapshot_like,
 * fc-<c>-<i>-snap); once available the replica's position is read again
 * and must still be the recorded one (else failed: the snapshot could hold
 * more than the position says).
 *
 * copy-encrypted: the replica is deleted (its job is done), the snapshot
 * copied with the campaign key (-enc).
 *
 * restore: the copy restored as fc-<c>-<i>-target with the source's
 * configuration (awsstep_start_restore), checked encrypted with the
 * campaign key, backup retention set, facts target_id, target_address/port.
 *
 * find-binlog-position: the seed position recorded by replica (fact
 * seed_source "stopped read replica"); for a cluster the restore's event
 * (cluster.c).
 *
 * Every step above has its cluster form in cluster.c (fact kind=cluster). */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

step_rc mb_step_replica(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) {
        /* Aurora MySQL reports the restore's position itself: no seed replica */
        if (!step_ctx_fact(ctx, "replica_skipped")) step_ctx_set_fact(ctx, "replica_skipped", "cluster");
        return STEP_OK;
    }
    char rid[64];
    awsstep_name(ctx, MB_SFX_REPLICA, rid, sizeof rid);
    step_ctx_set_fact(ctx, "replica_id", rid);
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    if (!step_ctx_fact(ctx, "replica_at")) {
        if ((rc = mb_fence(&s)) != STEP_OK) goto out;
        bool missing = false;
        rds_instance *i = mb_describe(ctx, res, rid, &missing, &rc);
        if (!i && !missing) goto out;
        if (i) {
            bool ours = mb_is_ours(ctx, i, MB_ROLE_REPLICA);
            rds_instance_free(i);
            if (!ours) {
                MB_REASON(res, "identifier %s is taken by an instance fleetcrypt did not create", rid);
                rc = STEP_FAIL;
                goto out;
            }
        } else {
            if (!step_ctx_lease_ok(ctx)) {
                rc = LEASE_LOST(res);
                goto out;
            }
            aws_tag tags[4];
            size_t nt = awsstep_tags(ctx, MB_ROLE_REPLICA, tags, 4);
            rds_read_replica_opts o;
            memset(&o, 0, sizeof o);
            o.identifier = rid;
            o.source_identifier = step_ctx_instance(ctx);
            o.instance_class = mb_fact(ctx, "class");
            if (!*o.instance_class) o.instance_class = NULL;
            o.port = RDS_UNSET;
            o.multi_az = 0;
            o.tags = tags;
            o.ntags = nt;
            aws_error e;
            aws_error_clear(&e);
            if (!rds_create_db_instance_read_replica(step_ctx_aws(ctx), &o, NULL, &e) &&
                strcmp(e.code, "DBInstanceAlreadyExists") != 0) {
                if (!strcmp(e.code, "InvalidDBInstanceState")) {
                    res->wait_ms = 5000;
                    MB_REASON(res, "source busy: %.300s", e.message);
                    rc = STEP_WAIT;
                    goto out;
                }
                rc = awsstep_fail(res, &e, "CreateDBInstanceReadReplica");
                goto out;
            }
            log_info("seed read replica requested", "instance=%s replica=%s", step_ctx_instance(ctx), rid);
        }
        awsstep_mark(ctx, "replica_at");
    }
    step_cache_view v;
    rc = awsstep_await(ctx, res, "db", rid, "replica_at", awsstep_st_available, awsstep_st_bad_db, &v);
    if (rc != STEP_OK) goto out;
    if (!*mb_fact(ctx, "replica_port")) {
        bool missing = false;
        rds_instance *i = mb_describe(ctx, res, rid, &missing, &rc);
        if (!i) goto out;
        if (!i->endpoint_address[0] || i->port <= 0) {
            rds_instance_free(i);
            res->wait_ms = 2000;
            MB_REASON(res, "replica %s has no endpoint yet", rid);
            rc = STEP_WAIT;
            goto out;
        }
        step_ctx_set_fact(ctx, "replica_address", i->endpoint_address);
        step_ctx_set_factf(ctx, "replica_port", "%d", i->port);
        rds_instance_free(i);
    }
    /* stop its replication, read the executed position */
    if ((rc = mb_fence(&s)) != STEP_OK) goto out;
    myq *q = mb_conn(&s, MB_REPLICA, &rc);
    if (!q) goto out;
    char err[400];
    if (!myq_exec(q, "CALL mysql.rds_stop_replication", err, sizeof err)) {
        rc = mb_sql_fail(res, q, "mysql.rds_stop_replication on the replica", err);
        goto out;
    }
    mb_repl r;
    if (!mb_repl_status(q, &r, err, sizeof err)) {
        rc = mb_sql_fail(res, q, "SHOW REPLICA STATUS on the replica", err);
        goto out;
    }
    if (!r.present || r.sql_running || r.sql_errno != 0 || !r.exec_file[0] || r.exec_pos < 4) {
        MB_REASON(res, "the stopped replica reports no exact position (present=%d sql_running=%d errno=%d "
                       "file='%s' pos=%lld): refused",
                  r.present, r.sql_running, r.sql_errno, r.exec_file, (long long)r.exec_pos);
        rc = STEP_FAIL;
        goto out;
    }
    const char *had = mb_fact(ctx, "seed_file");
    if (*had && (strcmp(had, r.exec_file) != 0 || mb_fact_i64(ctx, "seed_pos", -1) != r.exec_pos)) {
        MB_REASON(res, "the replica's executed position moved after it was recorded (%s:%lld, now %s:%lld): "
                       "position ambiguous",
                  had, (long long)mb_fact_i64(ctx, "seed_pos", -1), r.exec_file, (long long)r.exec_pos);
        rc = STEP_FAIL;
        goto out;
    }
    step_ctx_set_fact(ctx, "seed_file", r.exec_file);
    step_ctx_set_factf(ctx, "seed_pos", "%lld", (long long)r.exec_pos);
    log_info("seed position read from the stopped replica", "instance=%s file=%s pos=%lld",
             step_ctx_instance(ctx), r.exec_file, (long long)r.exec_pos);
out:
    mb_session_finish(&s);
    return rc;
}

step_rc mb_step_snapshot(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) return mb_cluster_snapshot(ctx, res);
    char rid[64];
    awsstep_name(ctx, MB_SFX_REPLICA, rid, sizeof rid);
    awsstep_snap_spec sp = {.copy = false, .of = rid, .must_be_ours = true, .busy = "replica busy",
                            .record_done = true};
    step_rc rc = awsstep_snapshot_like(ctx, res, &sp);
    if (rc != STEP_OK) return rc;
    /* the snapshot holds exactly the recorded position: the replica did not move */
    mb_session s;
    mb_session_init(&s, ctx, res);
    myq *q = mb_conn(&s, MB_REPLICA, &rc);
    if (q) {
        char err[400];
        mb_repl r;
        if (!mb_repl_status(q, &r, err, sizeof err)) {
            rc = mb_sql_fail(res, q, "SHOW REPLICA STATUS on the replica", err);
        } else if (!r.present || r.sql_running || strcmp(r.exec_file, mb_fact(ctx, "seed_file")) != 0 ||
                   r.exec_pos != mb_fact_i64(ctx, "seed_pos", -1)) {
            MB_REASON(res, "the replica's position changed around its snapshot (now %s:%lld, running %d): "
                           "the snapshot's position is ambiguous",
                      r.exec_file, (long long)r.exec_pos, r.sql_running);
            rc = STEP_FAIL;
        }
    }
    mb_session_finish(&s);
    return rc;
}

step_rc mb_step_copy_encrypted(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) {
        /* an unencrypted cluster snapshot cannot be encrypted by copying:
         * RestoreDBClusterFromSnapshot with KmsKeyId encrypts (or re-keys) */
        if (!step_ctx_fact(ctx, "copy_skipped"))
            step_ctx_set_fact(ctx, "copy_skipped", "cluster: the restore takes the key");
        return STEP_OK;
    }
    char rid[64];
    awsstep_name(ctx, MB_SFX_REPLICA, rid, sizeof rid);
    if (!step_ctx_fact(ctx, "replica_deleted")) {
        step_rc rc = mb_delete_ours(ctx, res, rid, MB_ROLE_REPLICA);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "replica_deleted", "1");
    }
    awsstep_snap_spec sp = {.copy = true, .of = rid, .must_be_ours = true, .busy = "busy", .record_done = true};
    return awsstep_snapshot_like(ctx, res, &sp);
}

step_rc mb_step_restore(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) return mb_cluster_restore(ctx, res);
    const char *key = step_ctx_campaign_field(ctx, "kms_key_arn");
    char tid[64], eid[64];
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    awsstep_name(ctx, MB_SFX_ENC, eid, sizeof eid);
    step_ctx_set_fact(ctx, "target_id", tid);
    step_cache_view v;
    bool missing = false;
    step_rc rc = STEP_OK;
    if (!step_ctx_fact(ctx, "restore_at")) {
        rds_instance *i = mb_describe(ctx, res, tid, &missing, &rc);
        if (!i && !missing) return rc;
        if (i) {
            bool ours = mb_is_ours(ctx, i, MB_ROLE_TARGET);
            rds_instance_free(i);
            if (!ours) {
                MB_REASON(res, "identifier %s is taken by an instance fleetcrypt did not create", tid);
                return STEP_FAIL;
            }
            awsstep_mark(ctx, "restore_at");
        } else {
            res->reason[0] = 0;
            /* deletion protection comes at cleanup: abort must be able to delete the target */
            return awsstep_start_restore(ctx, res, tid, eid, 0, false);
        }
    }
    rc = awsstep_await(ctx, res, "db", tid, "restore_at", awsstep_st_available, awsstep_st_bad_db, &v);
    if (rc != STEP_OK) return rc;
    if (!v.encrypted || !awsstep_same_key(v.kms_key, key)) {
        MB_REASON(res, "restored %s is not encrypted with %s (kms %s)", tid, key, v.kms_key);
        return STEP_FAIL;
    }
    int want = (int)mb_fact_i64(ctx, "backup_retention", -1);
    int have = (int)mb_fact_i64(ctx, "target_backup_retention", -1);
    if (want >= 0 && want != have) {
        if (step_ctx_fact(ctx, "configure_at")) {
            rc = awsstep_await(ctx, res, "db", tid, "configure_at", awsstep_st_available, awsstep_st_bad_db, &v);
            if (rc != STEP_OK) return rc;
        } else {
            return awsstep_set_backup_retention(ctx, res, tid, want);
        }
    }
    rds_instance *i = mb_describe(ctx, res, tid, &missing, &rc);
    if (!i) return rc;
    if (!i->endpoint_address[0] || i->port <= 0) {
        rds_instance_free(i);
        res->wait_ms = 2000;
        MB_REASON(res, "target %s has no endpoint yet", tid);
        return STEP_WAIT;
    }
    step_ctx_set_fact(ctx, "target_address", i->endpoint_address);
    step_ctx_set_factf(ctx, "target_port", "%d", i->port);
    step_ctx_set_fact(ctx, "target_arn", i->arn);
    rds_instance_free(i);
    awsstep_mark(ctx, "restored_at");
    return STEP_OK;
}

step_rc mb_step_find_position(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) return mb_cluster_position(ctx, res);
    /* an instance: the stopped replica's position, read by `replica` and
     * checked around its snapshot by `snapshot` */
    if (!*mb_fact(ctx, "seed_file") || mb_fact_i64(ctx, "seed_pos", -1) < 4) {
        MB_REASON(res, "no seed position recorded by the replica step: refused");
        return STEP_FAIL;
    }
    if (!step_ctx_fact(ctx, "seed_source")) step_ctx_set_fact(ctx, "seed_source", MB_SEED_REPLICA);
    return STEP_OK;
}
