/* options — what a pg-logical step reads (pglogical_common.h): its facts,
 * the campaign's options (a campaign field, else the submitted JSON spec
 * under the CLI's flag name), byte counts and switches, the libpq TLS
 * defaults, and the step result's reason. */
#include "pglogical_common.h"
#include "pglogical.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "log.h"
#include "util.h"

void pgl_reason(step_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- facts, options */
const char *pgl_fact(step_ctx *ctx, const char *name)
{
    const char *v = step_ctx_fact(ctx, name);
    return v ? v : "";
}

int64_t pgl_fact_i64(step_ctx *ctx, const char *name, int64_t dflt)
{
    const char *v = step_ctx_fact(ctx, name);
    return v && *v ? strtoll(v, NULL, 10) : dflt;
}

const char *pgl_cfield(step_ctx *ctx, const char *name)
{
    const char *v = step_ctx_campaign_field(ctx, name);
    if (v && *v) return v;
    /* the steps' names for the options the descriptor declares as flags */
    static const char *const alias[][2] = {{"cutover_mode", "cutover"}};
    const char *key = name;
    for (size_t i = 0; i < FC_ARRAY_LEN(alias); i++)
        if (!strcmp(alias[i][0], name)) key = alias[i][1];
    if (strategy_opt(&fc_strategy_pglogical, key)) return step_ctx_opt(ctx, key); /* checked, defaulted */
    return "";
}

bool pgl_opt(step_ctx *ctx, const char *field) { return pgl_truthy(pgl_cfield(ctx, field)); }

int64_t pgl_opt_bytes(step_ctx *ctx, const char *field, int64_t dflt)
{
    int64_t v = dflt;
    if (!pgl_parse_bytes(pgl_cfield(ctx, field), dflt, &v)) {
        log_warn("campaign option is not a byte count: using the default", "field=%s default=%lld", field,
                 (long long)dflt);
        return dflt;
    }
    return v;
}

const char *pgl_sslmode(void)
{
    return pgq_default_sslmode(); /* FLEETCRYPT_PG_SSLMODE, PGSSLMODE, else verify-full */
}

const char *pgl_sslrootcert(void)
{
    return pgq_default_sslrootcert(); /* FLEETCRYPT_PG_SSLROOTCERT, FLEETCRYPT_RDS_CA_BUNDLE, PGSSLROOTCERT */
}
