/* subscribe — step `subscribe` of pg-logical: per database, a
 * subscription on the restored target connecting back to the source as
 * fleetcrypt's throwaway replication role, its origin advanced to the start
 * LSN while disabled, then enabled (pgl_subscribe is resumable). CREATE
 * SUBSCRIPTION connects to the source (connect defaults to true): across
 * accounts that is the first real connection from the target's side, made
 * before anything is applied; its failure is one line naming the path
 * (fact xnet_refused: one more try, then the step fails). */
#include "pglogical.h"
#include "pglogical_common.h"
#include "pglogical_logic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "initial_copy.h"
#include "log.h"
#include "util.h"

step_rc pgl_sub_begin(pgl_session *s, char *host, size_t hcap, int *port)
{
    step_rc rc = pgl_watch(s, false, NULL);
    if (rc == STEP_OK && !pgl_endpoint(s, PGL_SOURCE, host, hcap, port)) {
        PGL_REASON(s->res, "the source's endpoint is not known");
        rc = STEP_FAIL;
    }
    if (rc == STEP_OK && !pgl_ensure_creds(s, &rc)) { /* rc set */
    }
    return rc;
}

void pgl_sub_conninfo(const pgl_session *s, const pgl_db_names *nm, const char *host, int port, const char *db,
                      pgq_conninfo *out)
{
    memset(out, 0, sizeof *out);
    out->host = host;
    out->port = port;
    out->dbname = db;
    out->user = nm->sub_role;
    out->password = s->sub_pw;
    out->sslmode = pgl_sslmode();
    out->sslrootcert = pgl_sslrootcert();
    out->application_name = nm->subscription;
}

step_rc pgl_step_subscribe(step_ctx *ctx, step_result *res)
{
    if (pgl_ic_on(ctx)) return pgl_ic_subscribe(ctx, res);
    fc_lsn start = FC_LSN_INVALID;
    if (!lsn_parse(pgl_fact(ctx, "start_lsn"), &start) || start == FC_LSN_INVALID) {
        PGL_REASON(res, "no start LSN recorded by find-start-lsn");
        return STEP_FAIL;
    }
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    char err[1024];
    char host[256];
    int port = 0;
    step_rc rc = pgl_sub_begin(&s, host, sizeof host, &port);
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&s, s.dbs[i], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
        if (!q) break;
        pgq_conninfo src;
        pgl_sub_conninfo(&s, &nm, host, port, s.dbs[i], &src);
        if (!step_ctx_lease_ok(ctx)) {
            PGL_REASON(res, "lease lost");
            rc = STEP_RETRY;
            break;
        }
        if (!pgl_subscribe(q, &nm, &src, start, err, sizeof err)) {
            char what[300];
            snprintf(what, sizeof what, "subscribe (database %s)", s.dbs[i]);
            rc = pgl_sql_fail(res, q, what, err);
            /* a subscription that stopped after progress is an apply error: fail loudly */
            if (strstr(err, "apply errors") || strstr(err, "refusing")) rc = STEP_FAIL;
            /* across accounts, the first real connection from the target: one line naming the path;
             * tried once more (a blip), then failed before the subscription exists */
            if (step_ctx_cross_account(ctx) &&
                pgl_xnet_reason(err, pgl_fact(ctx, "target_account"), host, port, res->reason, sizeof res->reason)) {
                rc = *pgl_fact(ctx, "xnet_refused") ? STEP_FAIL : STEP_RETRY;
                step_ctx_set_fact(ctx, "xnet_refused", "1");
            }
            break;
        }
        pgl_sub_info si;
        if (!pgl_sub_status(q, &nm, &si, err, sizeof err)) {
            rc = pgl_sql_fail(res, q, "subscription status", err);
            break;
        }
        if (!si.exists || !si.enabled || si.apply_errors > 0) {
            PGL_REASON(res, "subscription %s (database %s) is %s right after subscribing (apply errors %lld): see "
                            "the target's log", nm.subscription, s.dbs[i], si.enabled ? "failing" : "disabled",
                       (long long)si.apply_errors);
            rc = STEP_FAIL;
            break;
        }
        log_info("subscribed", "db=%s subscription=%s start=%s", s.dbs[i], nm.subscription,
                 pgl_fact(ctx, "start_lsn"));
    }
    if (rc == STEP_OK) {
        step_ctx_set_fact(ctx, "subscribed", "1");
        awsstep_mark(ctx, "subscribed_at");
    }
    pgl_session_finish(&s);
    return rc;
}
