/* pglogical_catchup — step `catch-up` of pg-logical: the subscription
 * applies what the source wrote since the snapshot. Each run is short and
 * returns STEP_WAIT with a short wait_ms until the lag (source
 * pg_current_wal_lsn() − slot confirmed_flush_lsn, the largest over our
 * slots) has stayed under the threshold for a while. Every run also
 * watches the source (pgl_watch): lag per slot into facts for status/top,
 * retained WAL against the campaign limit and free storage, the DDL guard,
 * the set of databases and the subscription's health; any of those going
 * wrong jumps to `abort`, which frees the slot before the source fills.
 * Campaign options (optional): catchup_lag_bytes (default 1 MiB),
 * catchup_stable_s (default 10). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define DEFAULT_LAG_BYTES (1024LL * 1024)
#define DEFAULT_STABLE_S 10

step_rc pgl_step_catch_up(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    int64_t lag = -1;
    step_rc rc = pgl_watch(&s, true, &lag);
    pgl_session_finish(&s);
    if (rc != STEP_OK) return rc;

    pgl_lag_in in;
    memset(&in, 0, sizeof in);
    in.now_ms = fc_now_ms();
    in.lag_bytes = lag;
    in.threshold_bytes = pgl_opt_bytes(ctx, "catchup_lag_bytes", DEFAULT_LAG_BYTES);
    int64_t stable_s = DEFAULT_STABLE_S;
    const char *st = pgl_cfield(ctx, "catchup_stable_s");
    if (*st) stable_s = strtoll(st, NULL, 10);
    in.stable_ms = stable_s * 1000;
    in.under_since_ms = pgl_fact_i64(ctx, "lag_ok_since", 0);
    pgl_lag_out out;
    pgl_lag_decide(&in, &out);
    step_ctx_set_factf(ctx, "lag_ok_since", "%lld", (long long)out.under_since_ms);
    if (out.ready) {
        log_info("caught up", "lag_bytes=%lld", (long long)lag);
        step_ctx_set_fact(ctx, "caught_up", "1");
        return STEP_OK;
    }
    res->wait_ms = out.wait_ms;
    PGL_REASON(res, "catching up: lag %lld bytes (ready under %lld for %llds)", (long long)lag,
               (long long)in.threshold_bytes, (long long)stable_s);
    return STEP_WAIT;
}
