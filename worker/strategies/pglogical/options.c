/* options — what a pg-logical step reads (pglogical_common.h): its facts,
 * the campaign's options (a campaign field, else the submitted JSON spec
 * under the CLI's flag name), byte counts and switches, the libpq TLS
 * defaults, and the step result's reason. */
#include "pglogical_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
    const char *spec = step_ctx_campaign_field(ctx, "spec");
    if (!spec || !*spec) return "";
    static const char *const alias[][2] = {{"cutover_mode", "cutover"},
                                           {"cutover_method", "cutover-method"},
                                           {"db_secret", "db-secret"},
                                           {"replica_identity_full", "replica-identity-full"},
                                           {"allow_reboot", "allow-reboot"},
                                           {"live_validate", "live-validate"},
                                           {"keep_snapshots", "keep_snapshots"}};
    const char *key = name;
    for (size_t i = 0; i < FC_ARRAY_LEN(alias); i++)
        if (!strcmp(alias[i][0], name)) key = alias[i][1];
    static __thread char ring[16][1024];
    static __thread unsigned next;
    char *out = ring[next++ % 16];
    out[0] = 0;
    json_error_t je;
    json_t *j = json_loads(spec, 0, &je);
    if (!j) return "";
    json_t *x = json_object_get(j, key);
    if (!x) x = json_object_get(j, name);
    if (json_is_string(x))
        fc_strlcpy(out, json_string_value(x), 1024);
    else if (json_is_true(x))
        fc_strlcpy(out, "1", 1024);
    else if (json_is_false(x))
        fc_strlcpy(out, "0", 1024);
    else if (json_is_integer(x))
        snprintf(out, 1024, "%lld", (long long)json_integer_value(x));
    json_decref(j);
    return out;
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
