/* pglogical_aws — steps `snapshot`, `copy-encrypted` and `restore` of
 * pg-logical: thin wrappers over lib/rds.h (the offline strategy's step
 * functions are file-static, and its snapshot is of the stopped, renamed
 * source while ours is of the running one). Look before create,
 * deterministic names (fc-<campaign>-<instance>-snap/-enc/-target), our
 * tags on everything, waits answered by the coordinator's fleet poller
 * (STEP_WAIT with wait_on "snap:<id>" / "db:<id>"), never a sleep.
 * Every run first watches the source (retained WAL, DDL): the slot made by
 * prepare-source holds WAL through hours of snapshot, copy and restore. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "util.h"

static const char *const ST_AVAILABLE[] = {"available", NULL};
static const char *const ST_BAD_DB[] = {"failed", "incompatible-restore", "incompatible-parameters",
                                        "inaccessible-encryption-credentials", "storage-full", NULL};
static const char *const ST_BAD_SNAP[] = {"failed", "error", NULL};

/* The source watch without the subscription (there is none yet). */
static step_rc watch_source(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = pgl_watch(&s, false, NULL);
    pgl_session_finish(&s);
    return rc;
}

/* snapshot (copy=false) of the running source, or its encrypted copy. */
static step_rc snapshot_like(step_ctx *ctx, step_result *res, bool copy)
{
    step_rc rc = watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    char sid[64], eid[64];
    awsstep_name(ctx, PGL_SFX_SNAP, sid, sizeof sid);
    awsstep_name(ctx, PGL_SFX_ENC, eid, sizeof eid);
    const char *want = copy ? eid : sid;
    const char *fact = copy ? "copy_at" : "snap_at";
    step_cache_view v;
    if (step_ctx_fact(ctx, fact)) {
        rc = awsstep_await(ctx, res, "snap", want, fact, ST_AVAILABLE, ST_BAD_SNAP, &v);
        if (rc == STEP_OK && copy && !v.encrypted) {
            PGL_REASON(res, "copy %s is not encrypted", eid);
            return STEP_FAIL;
        }
        if (rc == STEP_OK) step_ctx_set_fact(ctx, copy ? "enc_snapshot" : "snapshot", want);
        return rc;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    rds_snapshot *sn = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_snapshot(c, want, &sn, &e)) {
        /* resumed after creating it: must be ours */
        bool ours = false;
        for (size_t k = 0; k < sn->n_tags; k++)
            if (!strcmp(sn->tags[k].key, "fleetcrypt:instance") && !strcmp(sn->tags[k].value, step_ctx_instance(ctx)))
                ours = true;
        rds_snapshot_free(sn);
        if (!ours) {
            PGL_REASON(res, "snapshot %s exists but fleetcrypt did not create it", want);
            return STEP_FAIL;
        }
        awsstep_mark(ctx, fact);
        return awsstep_await(ctx, res, "snap", want, fact, ST_AVAILABLE, ST_BAD_SNAP, &v);
    }
    if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBSnapshots");
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    aws_tag tags[4];
    size_t nt = awsstep_tags(ctx, copy ? "encrypted-snapshot" : "source-snapshot", tags, 4);
    aws_error_clear(&e);
    bool ok;
    if (copy) {
        rds_copy_snapshot_opts o;
        memset(&o, 0, sizeof o);
        o.source_id = sid;
        o.target_id = eid;
        o.kms_key_id = pgl_cfield(ctx, "kms_key_arn");
        o.copy_tags = 0;
        o.tags = tags;
        o.ntags = nt;
        ok = rds_copy_db_snapshot(c, &o, NULL, &e);
    } else {
        ok = rds_create_db_snapshot(c, sid, step_ctx_instance(ctx), tags, nt, NULL, &e);
    }
    if (!ok && strcmp(e.code, "DBSnapshotAlreadyExists") != 0) {
        if (!strcmp(e.code, "SnapshotQuotaExceeded")) {
            PGL_REASON(res, "manual snapshot quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        if (!strcmp(e.code, "InvalidDBInstanceState") || !strcmp(e.code, "InvalidDBSnapshotState")) {
            res->wait_ms = 5000;
            PGL_REASON(res, "busy: %.300s", e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, copy ? "CopyDBSnapshot" : "CreateDBSnapshot");
    }
    log_info(copy ? "encrypted copy started" : "snapshot started", "snapshot=%s", want);
    awsstep_mark(ctx, fact);
    res->wait_ms = 500;
    snprintf(res->wait_on, sizeof res->wait_on, "snap:%s", want);
    PGL_REASON(res, "%s %s", copy ? "copying to" : "snapshotting to", want);
    return STEP_WAIT;
}

step_rc pgl_step_snapshot(step_ctx *ctx, step_result *res) { return snapshot_like(ctx, res, false); }
step_rc pgl_step_copy_encrypted(step_ctx *ctx, step_result *res) { return snapshot_like(ctx, res, true); }

/* ---------------------------------------------------------------- restore */
static int fact_int(step_ctx *ctx, const char *f, int dflt) { return (int)pgl_fact_i64(ctx, f, dflt); }

static step_rc start_restore(step_ctx *ctx, step_result *res, const char *tid, const char *eid)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    aws_tag tags[24];
    size_t nt = awsstep_tags(ctx, PGL_ROLE_TARGET, tags, 24);
    char buf[1024];
    fc_strlcpy(buf, pgl_fact(ctx, "tags"), sizeof buf);
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && nt < 24; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        fc_strlcpy(tags[nt].key, line, sizeof tags[nt].key);
        fc_strlcpy(tags[nt].value, tab + 1, sizeof tags[nt].value);
        nt++;
    }
    char sgbuf[512];
    const char *sgv[16];
    size_t nsg = 0;
    fc_strlcpy(sgbuf, pgl_fact(ctx, "sgs"), sizeof sgbuf);
    save = NULL;
    for (char *sg = strtok_r(sgbuf, ",", &save); sg && nsg < 16; sg = strtok_r(NULL, ",", &save)) sgv[nsg++] = sg;
    rds_restore_opts o;
    rds_restore_opts_init(&o);
    o.identifier = tid;
    o.snapshot_id = eid;
    const char *cls = pgl_fact(ctx, "class");
    o.instance_class = *cls ? cls : NULL;
    const char *sn = pgl_fact(ctx, "subnet_group");
    o.subnet_group = *sn ? sn : NULL;
    o.vpc_sg_ids = nsg ? sgv : NULL;
    o.n_vpc_sg_ids = nsg;
    const char *pg = pgl_fact(ctx, "param_group");
    o.param_group = *pg ? pg : NULL;
    const char *og = pgl_fact(ctx, "option_group");
    o.option_group = *og ? og : NULL;
    o.multi_az = fact_int(ctx, "multi_az", RDS_UNSET);
    o.port = fact_int(ctx, "port", RDS_UNSET);
    /* deletion protection comes at cleanup: abort must be able to delete the target */
    o.deletion_protection = 0;
    o.publicly_accessible = fact_int(ctx, "public", RDS_UNSET);
    const char *stt = pgl_fact(ctx, "storage_type");
    o.storage_type = *stt ? stt : NULL;
    o.tags = tags;
    o.ntags = nt;
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    rds_instance *out = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_restore_db_instance_from_db_snapshot(c, &o, &out, &e)) {
        if (!strcmp(e.code, "DBInstanceAlreadyExists")) {
            awsstep_mark(ctx, "restore_at");
            res->wait_ms = 1000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", tid);
            return STEP_WAIT;
        }
        if (!strcmp(e.code, "InstanceQuotaExceeded")) {
            PGL_REASON(res, "DB instance quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        return awsstep_fail(res, &e, "RestoreDBInstanceFromDBSnapshot");
    }
    step_ctx_set_factf(ctx, "target_backup_retention", "%d", out ? out->backup_retention : -1);
    rds_instance_free(out);
    log_info("restore started", "target=%s snapshot=%s", tid, eid);
    awsstep_mark(ctx, "restore_at");
    res->wait_ms = 500;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", tid);
    PGL_REASON(res, "restoring %s from %s", tid, eid);
    return STEP_WAIT;
}

step_rc pgl_step_restore(step_ctx *ctx, step_result *res)
{
    step_rc rc = watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    const char *key = pgl_cfield(ctx, "kms_key_arn");
    char tid[64], eid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    awsstep_name(ctx, PGL_SFX_ENC, eid, sizeof eid);
    step_ctx_set_fact(ctx, "target_id", tid);
    step_cache_view v;
    bool missing = false;

    /* 1. create (or find what an earlier attempt created) */
    if (!step_ctx_fact(ctx, "restore_at")) {
        rds_instance *i = pgl_describe(ctx, res, tid, &missing, &rc);
        if (!i && !missing) return rc;
        if (i) {
            bool ours = pgl_is_ours(ctx, i, PGL_ROLE_TARGET);
            rds_instance_free(i);
            if (!ours) {
                PGL_REASON(res, "identifier %s is taken by an instance fleetcrypt did not create", tid);
                return STEP_FAIL;
            }
            awsstep_mark(ctx, "restore_at");
        } else {
            res->reason[0] = 0;
            return start_restore(ctx, res, tid, eid);
        }
    }
    /* 2. wait for it */
    rc = awsstep_await(ctx, res, "db", tid, "restore_at", ST_AVAILABLE, ST_BAD_DB, &v);
    if (rc != STEP_OK) return rc;
    if (!v.encrypted || !awsstep_same_key(v.kms_key, key)) {
        PGL_REASON(res, "restored %s is not encrypted with %s (kms %s)", tid, key, v.kms_key);
        return STEP_FAIL;
    }
    /* 3. what a restore cannot take: backup retention */
    int want = fact_int(ctx, "backup_retention", -1), have = fact_int(ctx, "target_backup_retention", -1);
    if (want >= 0 && want != have) {
        if (step_ctx_fact(ctx, "configure_at")) {
            rc = awsstep_await(ctx, res, "db", tid, "configure_at", ST_AVAILABLE, ST_BAD_DB, &v);
            if (rc != STEP_OK) return rc;
        } else {
            aws_client *c = step_ctx_aws(ctx);
            if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
            if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
            rds_modify_instance_opts o;
            rds_modify_instance_opts_init(&o);
            o.identifier = tid;
            o.backup_retention = want;
            o.apply_immediately = true;
            aws_error e;
            aws_error_clear(&e);
            if (!rds_modify_db_instance(c, &o, NULL, &e)) {
                if (!strcmp(e.code, "InvalidDBInstanceState")) {
                    res->wait_ms = 5000;
                    PGL_REASON(res, "target busy: %.300s", e.message);
                    return STEP_WAIT;
                }
                return awsstep_fail(res, &e, "ModifyDBInstance (backup retention)");
            }
            awsstep_mark(ctx, "configure_at");
            res->wait_ms = 500;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", tid);
            PGL_REASON(res, "setting backup retention %d on %s", want, tid);
            return STEP_WAIT;
        }
    }
    /* 4. its endpoint, for the database steps */
    rds_instance *i = pgl_describe(ctx, res, tid, &missing, &rc);
    if (!i) return rc;
    if (!i->endpoint_address[0] || i->port <= 0) {
        rds_instance_free(i);
        res->wait_ms = 2000;
        PGL_REASON(res, "target %s has no endpoint yet", tid);
        return STEP_WAIT;
    }
    step_ctx_set_fact(ctx, "target_address", i->endpoint_address);
    step_ctx_set_factf(ctx, "target_port", "%d", i->port);
    step_ctx_set_fact(ctx, "target_arn", i->arn);
    step_ctx_set_fact(ctx, "target_kms", i->kms_key_id);
    rds_instance_free(i);
    awsstep_mark(ctx, "restored_at");
    return STEP_OK;
}
