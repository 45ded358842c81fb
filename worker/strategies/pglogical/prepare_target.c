/* prepare_target — step `prepare-target` of pg-logical, on the restored
 * (encrypted) instance: drop every replication slot the target inherited
 * (they would retain WAL there forever), fleetcrypt's inherited publication
 * and DDL guard, and hold inherited pg_cron jobs until cleanup. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "initial_copy.h"
#include "log.h"
#include "util.h"

step_rc pgl_step_prepare_target(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    step_rc rc = pgl_watch(&s, false, NULL);
    if (rc == STEP_OK && pgl_ic_on(ctx)) rc = pgl_ic_prepare_target(&s); /* roles, databases, schema */
    int slots = 0, jobs = 0;
    char err[1024];
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&s, s.dbs[i], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
        if (!q) break;
        if (!step_ctx_lease_ok(ctx)) {
            PGL_REASON(res, "lease lost");
            rc = STEP_RETRY;
            break;
        }
        if (i == 0) {
            /* a transaction the snapshot caught prepared (prepare-source waits
             * for none, but one may have been prepared just before the
             * snapshot) would hold its locks here forever while the source's
             * COMMIT PREPARED is replicated too: refuse (the undo runs) */
            int np = 0;
            int64_t oldest = 0;
            char desc[300];
            if (!pgl_prepared_xacts(q, &np, &oldest, desc, sizeof desc, err, sizeof err)) {
                rc = pgl_sql_fail(res, q, "prepared transactions on the target", err);
                break;
            }
            if (np > 0) {
                PGL_REASON(res, "the snapshot caught %d prepared transaction(s): on the target they would hold "
                                "their locks while the source's outcome is replicated too; submit the instance "
                                "again: %s", np, desc);
                rc = STEP_FAIL;
                break;
            }
        }
        int sd = 0, jh = 0;
        /* slots are instance-wide: drop them from the first database */
        if (!pgl_clean_target(q, &nm, i == 0, &sd, &jh, err, sizeof err)) {
            char what[300];
            snprintf(what, sizeof what, "cleaning the target (database %s)", s.dbs[i]);
            rc = pgl_sql_fail(res, q, what, err);
            break;
        }
        slots += sd;
        jobs += jh;
        bool guarded = false;
        if (!pgl_cron_guard(q, &nm, &guarded, err, sizeof err)) {
            rc = pgl_sql_fail(res, q, "holding replicated pg_cron jobs", err);
            break;
        }
    }
    if (rc == STEP_OK) {
        /* a re-run finds nothing left: keep the first run's counts */
        if (slots > 0 || !step_ctx_fact(ctx, "target_slots_dropped"))
            step_ctx_set_factf(ctx, "target_slots_dropped", "%d", slots);
        if (jobs > 0 || !step_ctx_fact(ctx, "jobs_held")) step_ctx_set_factf(ctx, "jobs_held", "%d", jobs);
        log_info("target prepared", "inherited_slots_dropped=%d jobs_held=%d", slots, jobs);
    }
    pgl_session_finish(&s);
    return rc;
}
