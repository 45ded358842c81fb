/* empty — dms-full-cdc's `--dms-target empty`: the target created empty with
 * the source's configuration instead of restored from the encrypted
 * snapshot, its schema (not its data) copied from the source, then DMS's
 * full load fills it as it refills a restored one (docs/dms-full-cdc.md,
 * "An empty target").
 *
 * It rides pg-logical's initial-copy path (pglogical/initial_copy.h, fact
 * initial_copy=1): snapshot and copy-encrypted take nothing, prepare-target
 * copies the roles (login roles without their passwords: RDS never shows
 * them; named in fact ic_no_password), fleetcrypt's roles, the databases and
 * each database's `pg_dump --schema-only` before its usual cleaning, and the
 * sessions tell the new instance by its own system identifier. The fence
 * table came with the schema but without its rows (a restored target
 * inherits them from the snapshot): prepare-target gives it its two rows.
 * Only the
 * create is dms-full-cdc's (an Aurora cluster's is pg-logical's own):
 * CreateDBInstance with the source's class, storage (size and type),
 * parameter and option groups, subnet group, security groups, port,
 * Multi-AZ, backup retention, public access, engine and engine version, its
 * master user with the campaign's credentials, the user tags and
 * fleetcrypt's, storage encrypted with the campaign key; no deletion
 * protection until cleanup (abort must be able to delete it). */
#include "dmsfullcdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "pgfence.h"
#include "pglogical.h"
#include "pglogical_common.h"
#include "initial_copy.h"
#include "util.h"

bool dfc_empty_wanted(step_ctx *ctx)
{
    const char *v = step_ctx_opt(ctx, "dms-target");
    return v && !strcmp(v, "empty");
}

void dfc_empty_choose(step_ctx *ctx)
{
    if (!dfc_empty_wanted(ctx) || pgl_ic_on(ctx)) return;
    step_ctx_set_fact(ctx, "initial_copy", "1");
    step_ctx_set_fact(ctx, "initial_copy_why", "--dms-target empty");
    step_ctx_set_fact(ctx, "q_snap", "0"); /* no snapshot will be taken */
    log_info("dms-full-cdc: the target is created empty with the source's configuration", "why=option");
}

static const char *fact_or_null(step_ctx *ctx, const char *f)
{
    const char *v = pgl_fact(ctx, f);
    return *v ? v : NULL;
}

/* CreateDBInstance tid (STEP_WAIT after sending it; STEP_OK when it exists
 * and is ours, restore_at marked). */
static step_rc create_empty(step_ctx *ctx, step_result *res, const char *tid)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = pgl_describe(ctx, res, tid, &missing, &rc);
    if (i) {
        bool ours = pgl_is_ours(ctx, i, PGL_ROLE_TARGET);
        rds_instance_free(i);
        if (!ours) {
            PGL_REASON(res, "identifier %s is taken by an instance fleetcrypt did not create", tid);
            return STEP_FAIL;
        }
        awsstep_mark(ctx, "restore_at");
        return STEP_OK;
    }
    if (!missing) return rc;
    res->reason[0] = 0;
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    if (!pgl_ensure_creds(&s, &rc)) {
        pgl_session_finish(&s);
        return rc;
    }
    awsstep_carry cr;
    awsstep_carry_fill(&cr, ctx, PGL_ROLE_TARGET, "tags", pgl_fact(ctx, "sgs"));
    rds_create_instance_opts o;
    rds_create_instance_opts_init(&o);
    o.identifier = tid;
    o.instance_class = fact_or_null(ctx, "class");
    o.engine = *pgl_fact(ctx, "engine") ? pgl_fact(ctx, "engine") : "postgres";
    o.engine_version = fact_or_null(ctx, "engine_version");
    o.allocated_storage = (int)pgl_fact_i64(ctx, "storage_gb", RDS_UNSET);
    o.master_username = s.cred->username;
    o.master_password = s.cred->password;
    o.db_name = fact_or_null(ctx, "db_name");
    o.storage_encrypted = 1;
    o.kms_key_id = pgl_cfield(ctx, "kms_key_arn");
    o.subnet_group = fact_or_null(ctx, "subnet_group");
    o.vpc_sg_ids = cr.nsg ? cr.sgv : NULL;
    o.n_vpc_sg_ids = cr.nsg;
    o.param_group = fact_or_null(ctx, "param_group");
    o.option_group = fact_or_null(ctx, "option_group");
    o.port = (int)pgl_fact_i64(ctx, "port", RDS_UNSET);
    o.multi_az = (int)pgl_fact_i64(ctx, "multi_az", RDS_UNSET);
    o.backup_retention = (int)pgl_fact_i64(ctx, "backup_retention", RDS_UNSET);
    o.publicly_accessible = (int)pgl_fact_i64(ctx, "public", RDS_UNSET);
    o.deletion_protection = 0; /* abort must be able to delete it; cleanup applies the source's */
    o.tags = cr.tags;
    o.ntags = cr.ntags;
    rds_instance *out = NULL;
    aws_error e;
    aws_error_clear(&e);
    bool lease = step_ctx_lease_ok(ctx);
    bool ok = lease && rds_create_db_instance(c, &o, &out, &e);
    pgl_session_finish(&s); /* wipes the credentials */
    if (!lease) return LEASE_LOST(res);
    if (!ok) {
        rds_instance_free(out);
        if (!strcmp(e.code, "DBInstanceAlreadyExists")) {
            res->wait_ms = 1000;
            PGL_REASON(res, "%s already exists: looking at it next", tid);
            return STEP_WAIT;
        }
        if (!strcmp(e.code, "InstanceQuotaExceeded")) {
            PGL_REASON(res, "DB instance quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        return awsstep_fail(res, &e, "CreateDBInstance (empty target)");
    }
    step_ctx_set_factf(ctx, "target_backup_retention", "%d", out ? out->backup_retention : -1);
    rds_instance_free(out);
    step_ctx_set_fact(ctx, "q_inst", "0");
    awsstep_mark(ctx, "restore_at");
    log_info("empty target created with the campaign key and the source's configuration", "target=%s", tid);
    res->wait_ms = 500;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", tid);
    PGL_REASON(res, "creating %s empty with the campaign key (--dms-target empty)", tid);
    return STEP_WAIT;
}

step_rc dfc_step_restore(step_ctx *ctx, step_result *res)
{
    if (!pgl_ic_on(ctx)) return pgl_step_restore(ctx, res);
    step_rc rc = pgl_watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "restore_at")) {
        char tid[64];
        awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
        step_ctx_set_fact(ctx, "target_id", tid);
        /* the first run creates; a later one looks first (intent) */
        step_intent in = step_ctx_intent(ctx, "restore_try");
        if (in == STEP_INTENT_NO) return LEASE_LOST(res);
        if ((rc = create_empty(ctx, res, tid)) != STEP_OK) return rc;
    }
    /* the wait, the key check, backup retention and the endpoint: the restore's */
    return pgl_step_restore(ctx, res);
}

step_rc dfc_step_prepare_target(step_ctx *ctx, step_result *res)
{
    step_rc rc = pgl_step_prepare_target(ctx, res);
    if (rc != STEP_OK || !pgl_ic_on(ctx)) return rc;
    /* the fence's rows, in the first database as the source has them
     * (pgl_fence reads them there); idempotent */
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    pgl_db_names nm;
    pgq *q = s.ndbs ? pgl_names_conn(&s, s.dbs[0], PGL_TARGET, PGL_AS_ADMIN, &nm, &rc) : NULL;
    char err[512];
    if (q && !step_ctx_lease_ok(ctx)) rc = LEASE_LOST(res);
    else if (q && !pgfence_create(q, nm.schema, err, sizeof err)) rc = pgl_sql_fail(res, q, "the target's fence", err);
    else if (!q && rc == STEP_OK) rc = (PGL_REASON(res, "no databases recorded by preflight"), STEP_FAIL);
    pgl_session_finish(&s);
    return rc;
}
