/* hold — dms-full-cdc's steps `hold-target`, `cutover` and `validate-keys`:
 * the target's foreign keys and triggers held during DMS's full load and
 * apply, and given back exactly as they were.
 *
 * hold-target (the restored target, before any task exists): first run,
 * per database k, every foreign key (schema, table, name,
 * pg_get_constraintdef with every name qualified, validated) and every
 * enabled user trigger (schema, table, name, tgenabled) recorded as facts
 * held_fk.<k> / held_trg.<k> (db/dfc_db.h's escaped lines; counts held_fks,
 * held_triggers; held_recorded) and the step WAITs a moment so that the
 * record is stored before anything is dropped; next run, the recorded keys
 * dropped (IF EXISTS) and triggers disabled, in one transaction per
 * database (fact held). A re-run after a crash reads the record, never the
 * already-changed catalog. Over the size cap (DFC_HELD_CAP per database and
 * list) the step fails naming the count: nothing was changed then.
 * cutover: dms-cdc's (block, drain, sequences, stop, slot dropped) with
 * the hook give_back inside the window: every recorded key added back
 * (NOT VALID when it was validated: no scan while writers wait; skipped
 * when there) and every recorded trigger given its recorded state (ENABLE,
 * ENABLE REPLICA, ENABLE ALWAYS), one transaction per database; the time it
 * took is fact hold_restore_ms (part of downtime_ms), fact held_restored.
 * Each step takes the target's database fence (pgl_fence) before it changes
 * the target, so a holder that lost the step to a newer one is refused.
 * validate-keys (after the switch, writers back): VALIDATE CONSTRAINT each
 * recorded-valid key that is not valid yet (fact keys_validated = 1 when
 * all are; keys_validate_ms). Triggers that were disabled before the run
 * were never touched, so they stay disabled. */
#include "dmsfullcdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "dfc_db.h"
#include "dmscdc_common.h"
#include "log.h"
#include "pglogical.h"
#include "util.h"

#define DFC_HELD_CAP (48 * 1024)

static bool held_lists(step_ctx *ctx, int k, dfc_list *fks, dfc_list *trgs)
{
    char f1[48], f2[48];
    snprintf(f1, sizeof f1, "held_fk.%d", k);
    snprintf(f2, sizeof f2, "held_trg.%d", k);
    if (!dfc_list_parse(pgl_fact(ctx, f1), DFC_FK_FIELDS, fks)) return false;
    if (!dfc_list_parse(pgl_fact(ctx, f2), DFC_TRG_FIELDS, trgs)) {
        dfc_list_free(fks);
        return false;
    }
    return true;
}

static step_rc record(pgl_session *s)
{
    step_rc rc = STEP_OK;
    int nfk = 0, ntrg = 0;
    char err[1024];
    for (int i = 0; i < s->ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(s, s->dbs[i], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
        if (!q) return rc;
        dbuf fks, trgs;
        dbuf_init(&fks, DFC_HELD_CAP);
        dbuf_init(&trgs, DFC_HELD_CAP);
        int a = 0, b = 0;
        bool ok = dfc_db_record(q, nm.schema, &fks, &a, &trgs, &b, err, sizeof err);
        if (ok) {
            char f[48];
            snprintf(f, sizeof f, "held_fk.%d", i + 1);
            step_ctx_set_fact(s->ctx, f, fks.data ? fks.data : "");
            snprintf(f, sizeof f, "held_trg.%d", i + 1);
            step_ctx_set_fact(s->ctx, f, trgs.data ? trgs.data : "");
            nfk += a;
            ntrg += b;
        }
        dbuf_free(&fks);
        dbuf_free(&trgs);
        if (!ok) {
            char what[300];
            snprintf(what, sizeof what, "recording the target's foreign keys and triggers (database %s)", s->dbs[i]);
            return pgl_sql_fail(s->res, q, what, err);
        }
    }
    step_ctx_set_factf(s->ctx, "held_fks", "%d", nfk);
    step_ctx_set_factf(s->ctx, "held_triggers", "%d", ntrg);
    step_ctx_set_fact(s->ctx, "held_recorded", "1");
    log_info("target's foreign keys and triggers recorded", "fks=%d triggers=%d", nfk, ntrg);
    /* stored with this outcome before anything is dropped */
    s->res->wait_ms = 100;
    PGL_REASON(s->res, "recorded %d foreign key(s) and %d trigger(s); holding them next", nfk, ntrg);
    return STEP_WAIT;
}

step_rc dfc_step_hold_target(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = pgl_watch(&s, false, NULL);
    if (rc != STEP_OK || !strcmp(pgl_fact(ctx, "held"), "1")) goto done;
    if (strcmp(pgl_fact(ctx, "held_recorded"), "1")) {
        rc = record(&s);
        goto done;
    }
    char err[1024];
    /* the target's database fence: a holder that lost this step to a newer one changes nothing */
    if ((rc = pgl_fence(&s, PGL_TARGET)) != STEP_OK) goto done;
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        pgq *q = pgl_conn(&s, PGL_TARGET, PGL_AS_MASTER, s.dbs[i], &rc);
        if (!q) break;
        dfc_list fks, trgs;
        if (!held_lists(ctx, i + 1, &fks, &trgs)) {
            PGL_REASON(res, "the recorded foreign keys/triggers of database %s do not parse", s.dbs[i]);
            rc = STEP_FAIL;
            break;
        }
        if (!step_ctx_lease_ok(ctx)) rc = LEASE_LOST(res);
        else if (!dfc_db_hold(q, &fks, &trgs, err, sizeof err))
            rc = pgl_sql_fail(res, q, "holding keys and triggers", err);
        dfc_list_free(&fks);
        dfc_list_free(&trgs);
    }
    if (rc == STEP_OK) {
        fc_crashpoint("dmsfullcdc.hold.done"); /* tests: keys dropped, fact held not yet stored */
        step_ctx_set_fact(ctx, "held", "1");
        log_info("target's foreign keys dropped and triggers disabled for DMS's full load", "fks=%s triggers=%s",
                 pgl_fact(ctx, "held_fks"), pgl_fact(ctx, "held_triggers"));
    }
done:
    pgl_session_finish(&s);
    return rc;
}

/* ---------------------------------------------------------------- cutover */
/* Inside the window (dms_cutover_with's hook): keys and triggers back. */
static step_rc give_back(pgl_session *s)
{
    step_rc vrc = dfc_record_validation(s); /* the report's DMS evidence, the tasks stopped */
    if (vrc != STEP_OK) return vrc;
    step_ctx *ctx = s->ctx;
    if (!strcmp(pgl_fact(ctx, "held_restored"), "1")) return STEP_OK;
    int64_t t0 = fc_mono_ms();
    step_rc rc = pgl_fence(s, PGL_TARGET);
    if (rc != STEP_OK) return rc;
    char err[1024];
    int added = 0;
    for (int i = 0; rc == STEP_OK && i < s->ndbs; i++) {
        pgq *q = pgl_conn(s, PGL_TARGET, PGL_AS_MASTER, s->dbs[i], &rc);
        if (!q) break;
        dfc_list fks, trgs;
        if (!held_lists(ctx, i + 1, &fks, &trgs)) {
            PGL_REASON(s->res, "the recorded foreign keys/triggers of database %s do not parse", s->dbs[i]);
            return STEP_FAIL;
        }
        int n = 0;
        if (!step_ctx_lease_ok(ctx)) rc = LEASE_LOST(s->res);
        else if (!dfc_db_restore(q, &fks, &trgs, &n, err, sizeof err))
            rc = pgl_sql_fail(s->res, q, "giving the target its foreign keys and triggers back", err);
        added += n;
        dfc_list_free(&fks);
        dfc_list_free(&trgs);
    }
    if (rc != STEP_OK) return rc;
    fc_crashpoint("dmsfullcdc.cutover.restored"); /* tests: given back, writers still blocked, facts lost */
    int64_t ms = fc_mono_ms() - t0;
    step_ctx_set_factf(ctx, "hold_restore_ms", "%lld", (long long)ms);
    step_ctx_set_fact(ctx, "held_restored", "1");
    log_info("cutover: target's foreign keys (NOT VALID) and triggers back", "fks_added=%d triggers=%s ms=%lld", added,
             pgl_fact(ctx, "held_triggers"), (long long)ms);
    return STEP_OK;
}

step_rc dfc_step_cutover(step_ctx *ctx, step_result *res)
{
    return dms_cutover_with(ctx, res, give_back);
}

/* ---------------------------------------------------------------- validate-keys */
step_rc dfc_step_validate_keys(step_ctx *ctx, step_result *res)
{
    if (!strcmp(pgl_fact(ctx, "keys_validated"), "1")) return STEP_OK;
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    char err[1024];
    int total = 0;
    int64_t t0 = fc_mono_ms();
    rc = pgl_fence(&s, PGL_TARGET);
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        pgq *q = pgl_conn(&s, PGL_TARGET, PGL_AS_MASTER, s.dbs[i], &rc);
        if (!q) break;
        dfc_list fks, trgs;
        if (!held_lists(ctx, i + 1, &fks, &trgs)) {
            PGL_REASON(res, "the recorded foreign keys of database %s do not parse", s.dbs[i]);
            rc = STEP_FAIL;
            break;
        }
        int n = 0;
        if (!step_ctx_lease_ok(ctx)) rc = LEASE_LOST(res);
        else if (!dfc_db_validate(q, &fks, &n, err, sizeof err))
            rc = pgl_sql_fail(res, q, "validating the target's foreign keys", err);
        total += n;
        dfc_list_free(&fks);
        dfc_list_free(&trgs);
    }
    pgl_session_finish(&s);
    if (rc != STEP_OK) return rc;
    step_ctx_set_factf(ctx, "keys_validate_ms", "%lld", (long long)(fc_mono_ms() - t0));
    step_ctx_set_fact(ctx, "keys_validated", "1");
    log_info("target's foreign keys validated", "validated=%d", total);
    return STEP_OK;
}
