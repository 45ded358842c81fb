/* prepare_source — step `prepare-source` of pg-logical: fleetcrypt's two
 * roles, then per database replica identities first, the DDL guard, the
 * publication and the logical slot — all before the snapshot. Every call
 * is idempotent (pgl_db looks first). Then no transaction may stay
 * prepared into the snapshot. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "pgl_db_extra.h"
#include "secrets.h"
#include "util.h"

/* The source's RDS-managed master secret: remember its AWSCURRENT version
 * (not the value) before the snapshot, so cleanup and the coordinator can
 * tell when RDS rotated it and the encrypted instance needs the new
 * password (lib/msecret.h). Recorded once; a rotation between here and the
 * snapshot only causes one harmless extra propagation. */
static step_rc record_secret_version(step_ctx *ctx, step_result *res)
{
    const char *arn = pgl_fact(ctx, "master_secret_arn");
    if (!*arn || *pgl_fact(ctx, "master_secret_version")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    secret_desc d;
    aws_error e;
    aws_error_clear(&e);
    if (!secrets_describe(c, arn, &d, &e)) return awsstep_fail(res, &e, "DescribeSecret (master secret)");
    step_ctx_set_fact(ctx, "master_secret_version", d.current_version);
    log_info("master secret version recorded", "secret=%s version=%s", arn, d.current_version);
    return STEP_OK;
}

/* ---------------------------------------------------------------- prepare-source */
/* Before the slots (they wait for prepared transactions) and again after
 * them, no transaction may stay prepared into the snapshot:
 * one prepared after a slot's consistent point (older ones held its creation
 * back) would come back to life on the restored target holding its locks
 * while the source's COMMIT PREPARED also reaches the target — catch-up
 * never drains, or rows apply twice. So the snapshot waits until none is
 * left, at most prepared_wait_s (campaign field, default 600 s, fact
 * prepared_wait_since), then the instance fails naming them (and its
 * on_fail undo drops the slots). */
static step_rc prepared_xacts_gone(step_ctx *ctx, step_result *res, pgq *q)
{
    int n = 0;
    int64_t oldest = 0;
    char desc[300], err[512];
    if (!pgl_prepared_xacts(q, &n, &oldest, desc, sizeof desc, err, sizeof err))
        return pgl_sql_fail(res, q, "prepared transactions", err);
    if (n == 0) {
        if (*pgl_fact(ctx, "prepared_wait_since")) step_ctx_set_fact(ctx, "prepared_wait_since", "");
        return STEP_OK;
    }
    int64_t now = fc_now_ms(), since = pgl_fact_i64(ctx, "prepared_wait_since", 0);
    if (since <= 0) {
        since = now;
        step_ctx_set_factf(ctx, "prepared_wait_since", "%lld", (long long)now);
    }
    const char *f = pgl_cfield(ctx, "prepared_wait_s");
    int64_t limit_s = *f ? strtoll(f, NULL, 10) : 600;
    if (limit_s < 0) limit_s = 0;
    if (now - since < limit_s * 1000) {
        log_info("waiting for prepared transactions before the snapshot", "count=%d oldest_s=%lld", n,
                 (long long)oldest);
        res->wait_ms = 2000;
        PGL_REASON(res, "waiting for %d prepared transaction(s) to end before the snapshot (they would come back "
                        "to life on the target): %s", n, desc);
        return STEP_WAIT;
    }
    PGL_REASON(res, "%d transaction(s) still prepared on the source after %lld s; COMMIT PREPARED or ROLLBACK "
                    "PREPARED them, then submit the instance again: %s", n, (long long)limit_s, desc);
    return STEP_FAIL;
}

step_rc pgl_step_prepare_source(step_ctx *ctx, step_result *res)
{
    step_rc src = record_secret_version(ctx, res);
    if (src != STEP_OK) return src;
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    char err[1024];
    if (s.ndbs == 0) {
        PGL_REASON(res, "no databases recorded by preflight");
        rc = STEP_FAIL;
        goto done;
    }
    pgl_db_names nm0;
    pgq *q0 = pgl_names_conn(&s, s.dbs[0], PGL_SOURCE, PGL_AS_MASTER, &nm0, &rc);
    if (!q0) goto done;
    if (!step_ctx_lease_ok(ctx)) {
        rc = STEP_RETRY;
        PGL_REASON(res, "lease lost");
        goto done;
    }
    if (!pgl_create_roles(q0, &nm0, s.admin_pw, s.sub_pw, err, sizeof err) ||
        !pgl_admin_rights(q0, &nm0, s.cred->username, err, sizeof err)) {
        rc = pgl_sql_fail(res, q0, "fleetcrypt roles", err);
        goto done;
    }
    step_ctx_set_fact(ctx, "roles_created", "1");
    /* A prepared transaction holds a slot's creation back until it ends
     * (the slot waits for every running transaction, prepared ones too):
     * wait for it here, saying so, instead of timing out inside the slot. */
    if ((rc = prepared_xacts_gone(ctx, res, q0)) != STEP_OK) goto done;

    pgl_source_opts o = {.replica_identity_full = pgl_opt(ctx, "replica_identity_full"),
                            .slot_timeout_ms = 60000};
    fc_lsn max_lsn = FC_LSN_INVALID;
    dbuf slots, lsns;
    dbuf_init(&slots, 16 * 1024);
    dbuf_init(&lsns, 16 * 1024);
    for (int i = 0; i < s.ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&s, s.dbs[i], PGL_SOURCE, PGL_AS_MASTER, &nm, &rc);
        if (!q) break;
        if (!step_ctx_lease_ok(ctx)) {
            rc = STEP_RETRY;
            PGL_REASON(res, "lease lost");
            break;
        }
        fc_lsn lsn = FC_LSN_INVALID;
        if (!pgl_prepare_source(q, &nm, &o, &lsn, err, sizeof err)) {
            char what[300];
            snprintf(what, sizeof what, "prepare-source (database %s)", s.dbs[i]);
            rc = pgl_sql_fail(res, q, what, err);
            break;
        }
        char l[FC_LSN_STRLEN];
        lsn_format(lsn, l);
        dbuf_printf(&slots, "%s%s", i ? "," : "", nm.slot);
        dbuf_printf(&lsns, "%s%s", i ? "," : "", l);
        if (lsn > max_lsn) max_lsn = lsn;
        log_info("source prepared", "db=%s slot=%s slot_lsn=%s", s.dbs[i], nm.slot, l);
    }
    if (rc == STEP_OK) rc = prepared_xacts_gone(ctx, res, q0);
    if (rc == STEP_OK) {
        char l[FC_LSN_STRLEN];
        step_ctx_set_fact(ctx, "slots", slots.data ? slots.data : "");
        step_ctx_set_fact(ctx, "slot_lsns", lsns.data ? lsns.data : "");
        step_ctx_set_fact(ctx, "slot_lsn", lsn_format(max_lsn, l));
        step_ctx_set_fact(ctx, "publication", nm0.publication);
        step_ctx_set_fact(ctx, "prepared", "1");
        awsstep_mark(ctx, "prepared_at");
    }
    dbuf_free(&slots);
    dbuf_free(&lsns);
done:
    pgl_session_finish(&s);
    return rc;
}
