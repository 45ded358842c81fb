/* preflight — dms-cdc's steps `preflight` and `prepare-source`.
 *
 * preflight: pg-logical's own (engine, key verdict, rds.logical_replication
 * applied or a reboot allowed in the window, the source's settings learned
 * for the restore, the per-database checks, the application's CNAME with
 * --cutover-method cname), with --cutover-method proxy the RDS Proxies in
 * front of the source (none: refused), then what DMS cannot carry
 * exactly, per database: a table without a primary key (DMS ignores its
 * UPDATE and DELETE whatever its replica identity) unless the operator
 * declared it read-only for the run (--read-only-tables), and columns whose
 * type DMS maps lossily (unconstrained NUMERIC → NUMERIC(28,6); OID large
 * objects) unless --accept-types. Each refusal names the tables. Creates
 * nothing.
 *
 * prepare-source (before the snapshot, every call idempotent): the master
 * secret's version, fleetcrypt's roles (its admin role is also DMS's user on
 * both endpoints), no prepared transaction left, then per database
 * pg-logical's replica identities, DDL guard and publication (made through
 * pgl_prepare_source with a scratch pgoutput slot, dropped at once) and the
 * slot DMS reads: plugin test_decoding, under pg-logical's slot name, so
 * pg-logical's watch, restore-side cleanup, drain and teardown all see it.
 * Facts: slots, slot_lsns, slot_lsn, publication, prepared, prepared_at. */
#include "dmscdc.h"
#include "dmscdc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "dms_db.h"
#include "log.h"
#include "pglogical.h"
#include "pgl_db_extra.h"
#include "secrets.h"
#include "util.h"

static step_rc dms_checks(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    step_rc rc = STEP_OK;
    const char *ro = step_ctx_opt(ctx, "read-only-tables");
    bool accept_types = step_ctx_opt_bool(ctx, "accept-types");
    dbuf keyless, types;
    dbuf_init(&keyless, 16 * 1024);
    dbuf_init(&types, 16 * 1024);
    int nk = 0, nt = 0;
    char err[1024];
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(s, s->dbs[i], PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
        if (!q) goto out;
        if (!dms_preflight_database(q, s->dbs[i], nm.schema, ro, &keyless, &nk, &types, &nt, err, sizeof err)) {
            rc = pgl_sql_fail(res, q, "preflight", err);
            goto out;
        }
    }
    if (nk > 0) {
        PGL_REASON(res, "preflight: %d table(s) without a primary key, whose UPDATE and DELETE DMS does not "
                        "replicate (give them a primary key, or declare them read-only for the run with "
                        "--read-only-tables): %s", nk, keyless.data);
        rc = STEP_FAIL;
    } else if (nt > 0 && !accept_types) {
        PGL_REASON(res, "preflight: %d column(s) of types DMS does not carry exactly (unconstrained NUMERIC "
                        "becomes NUMERIC(28,6), OID large objects are not migrated; --accept-types takes them): %s",
                   nt, types.data);
        rc = STEP_FAIL;
    } else if (nt > 0) {
        char w[900];
        snprintf(w, sizeof w, "DMS does not carry these columns exactly (accepted by --accept-types): %s",
                 types.data);
        step_ctx_set_fact(ctx, "dms_type_warnings", w);
        log_warn("preflight: column types DMS does not carry exactly, accepted", "columns=%d", nt);
    }
    if (rc == STEP_OK && *ro) step_ctx_set_fact(ctx, "read_only_tables", ro);
out:
    dbuf_free(&keyless);
    dbuf_free(&types);
    return rc;
}

step_rc dms_step_preflight(step_ctx *ctx, step_result *res)
{
    step_rc rc = pgl_step_preflight(ctx, res);
    if (rc != STEP_OK) return rc;
    if (awscluster_is(ctx)) {
        PGL_REASON(res, "dms-cdc handles RDS for PostgreSQL instances; use pg-logical for an Aurora cluster");
        return STEP_FAIL;
    }
    /* --cutover-method proxy: the proxies in front of the source found now
     * (fact proxy_names, shared/awsproxy.c), none a failure here rather than
     * at the cutover, after the writers were blocked and the slot went.
     * (cname: pg-logical's preflight learnt the record.) */
    if (!strcmp(pgl_cfield(ctx, "cutover_method"), "proxy") &&
        (rc = awsproxy_learn(ctx, res, AWSPROXY_INSTANCE, step_ctx_instance(ctx), NULL, pgl_cfield(ctx, "proxy_name"),
                             true)) != STEP_OK)
        return rc;
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    rc = dms_checks(&s);
    pgl_session_finish(&s);
    return rc;
}

/* ---------------------------------------------------------------- prepare-source */
static step_rc record_secret_version(step_ctx *ctx, step_result *res)
{
    const char *arn = pgl_fact(ctx, "master_secret_arn");
    if (!*arn || *pgl_fact(ctx, "master_secret_version")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    secret_desc d;
    aws_error e;
    aws_error_clear(&e);
    if (!secrets_describe(c, arn, &d, &e)) return awsstep_fail(res, &e, "DescribeSecret (master secret)");
    step_ctx_set_fact(ctx, "master_secret_version", d.current_version);
    return STEP_OK;
}

static step_rc no_prepared(step_ctx *ctx, step_result *res, pgq *q)
{
    int n = 0;
    int64_t oldest = 0;
    char desc[300], err[512];
    if (!pgl_prepared_xacts(q, &n, &oldest, desc, sizeof desc, err, sizeof err))
        return pgl_sql_fail(res, q, "prepared transactions", err);
    if (n == 0) return STEP_OK;
    int64_t limit = step_ctx_opt_i64(ctx, "prepared_wait_s", 600);
    int64_t now = fc_now_ms(), since = pgl_fact_i64(ctx, "prepared_wait_since", 0);
    if (since <= 0) {
        since = now;
        step_ctx_set_factf(ctx, "prepared_wait_since", "%lld", (long long)now);
    }
    if (now - since < limit * 1000) {
        res->wait_ms = 2000;
        PGL_REASON(res, "waiting for %d prepared transaction(s) to end before the snapshot: %s", n, desc);
        return STEP_WAIT;
    }
    PGL_REASON(res, "%d transaction(s) still prepared on the source after %lld s: %s", n, (long long)limit, desc);
    return STEP_FAIL;
}

/* One database: guard, publication and replica identities through
 * pg-logical (its pgoutput slot under a scratch name, dropped at once),
 * then DMS's test_decoding slot under the real name. A re-run that finds
 * DMS's slot only makes sure the scratch slot is gone. */
static step_rc prepare_db(pgl_session *s, const char *db, fc_lsn *lsn)
{
    step_rc rc = STEP_OK;
    char err[1024];
    pgl_db_names nm;
    pgq *q = pgl_names_conn(s, db, PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
    if (!q) return rc;
    pgl_db_names scratch = nm;
    snprintf(scratch.slot, sizeof scratch.slot, "%.58s_pgo", nm.slot);
    pgl_slot_info si;
    if (!pgl_slot_status(q, nm.slot, &si, err, sizeof err)) return pgl_sql_fail(s->res, q, "slot status", err);
    if (!step_ctx_lease_ok(s->ctx)) return LEASE_LOST(s->res);
    if (!si.exists) {
        pgl_source_opts o = {.replica_identity_full = step_ctx_opt_bool(s->ctx, "replica-identity-full"),
                             .slot_timeout_ms = 60000};
        fc_lsn scratch_lsn = FC_LSN_INVALID;
        if (!pgl_prepare_source(q, &scratch, &o, &scratch_lsn, err, sizeof err)) {
            char what[300];
            snprintf(what, sizeof what, "prepare-source (database %s)", db);
            return pgl_sql_fail(s->res, q, what, err);
        }
    }
    if (!dms_ensure_slot(q, nm.slot, 60000, lsn, err, sizeof err))
        return pgl_sql_fail(s->res, q, "the DMS slot", err);
    if (!dms_drop_slot(q, scratch.slot, err, sizeof err)) return pgl_sql_fail(s->res, q, "the scratch slot", err);
    char l[FC_LSN_STRLEN];
    log_info("source prepared for DMS", "db=%s slot=%s plugin=test_decoding slot_lsn=%s", db, nm.slot,
             lsn_format(*lsn, l));
    return STEP_OK;
}

step_rc dms_step_prepare_source(step_ctx *ctx, step_result *res)
{
    step_rc rc = record_secret_version(ctx, res);
    if (rc != STEP_OK) return rc;
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    char err[1024];
    dbuf slots, lsns;
    dbuf_init(&slots, 16 * 1024);
    dbuf_init(&lsns, 16 * 1024);
    fc_lsn max_lsn = FC_LSN_INVALID;
    pgl_db_names nm0;
    pgq *q0 = NULL;
    if (s.ndbs == 0) {
        PGL_REASON(res, "no databases recorded by preflight");
        rc = STEP_FAIL;
        goto done;
    }
    q0 = pgl_names_conn(&s, s.dbs[0], PGL_SOURCE, PGL_AS_MASTER, &nm0, &rc);
    if (!q0) goto done;
    if (!step_ctx_lease_ok(ctx)) {
        rc = LEASE_LOST(res);
        goto done;
    }
    if (!pgl_create_roles(q0, &nm0, s.admin_pw, s.sub_pw, err, sizeof err) ||
        !pgl_admin_rights(q0, &nm0, s.cred->username, err, sizeof err)) {
        rc = pgl_sql_fail(res, q0, "fleetcrypt roles", err);
        goto done;
    }
    step_ctx_set_fact(ctx, "roles_created", "1");
    if ((rc = no_prepared(ctx, res, q0)) != STEP_OK) goto done;
    for (int i = 0; i < s.ndbs; i++) {
        fc_lsn lsn = FC_LSN_INVALID;
        if ((rc = prepare_db(&s, s.dbs[i], &lsn)) != STEP_OK) goto done;
        pgl_db_names nm;
        if (!pgl_names(&s, s.dbs[i], &nm)) {
            rc = STEP_FAIL;
            goto done;
        }
        char l[FC_LSN_STRLEN];
        dbuf_printf(&slots, "%s%s", i ? "," : "", nm.slot);
        dbuf_printf(&lsns, "%s%s", i ? "," : "", lsn_format(lsn, l));
        if (lsn > max_lsn) max_lsn = lsn;
    }
    /* none prepared after the slots either: it would come back to life on the target */
    if ((rc = no_prepared(ctx, res, q0)) != STEP_OK) goto done;
    char l[FC_LSN_STRLEN];
    step_ctx_set_fact(ctx, "slots", slots.data ? slots.data : "");
    step_ctx_set_fact(ctx, "slot_lsns", lsns.data ? lsns.data : "");
    step_ctx_set_fact(ctx, "slot_lsn", lsn_format(max_lsn, l));
    step_ctx_set_fact(ctx, "slot_plugin", "test_decoding");
    step_ctx_set_fact(ctx, "publication", nm0.publication);
    step_ctx_set_fact(ctx, "prepared", "1");
    awsstep_mark(ctx, "prepared_at");
done:
    dbuf_free(&slots);
    dbuf_free(&lsns);
    pgl_session_finish(&s);
    return rc;
}
