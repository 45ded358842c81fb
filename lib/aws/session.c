/* aws session — see session.h. */
#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awscred.h"
#include "awssso.h"

#include "sts.h"
#include "util.h"

/* AWS_RETRY_MODE=legacy: the SDKs' legacy mode retries up to 4 times (5
 * attempts) and has no retry quota: a quota this large never runs out. */
#define LEGACY_MAX_ATTEMPTS 5
#define LEGACY_QUOTA (1 << 28)

struct aws_session {
    aws_cred_provider *creds;
    aws_client *client;
    rl_hook_ud hud;  /* the rate limit's context (s == NULL: no hooks) */
};

/* The provider's STS operations go through the session's client, which
 * exists by the time the provider first resolves (on the first signed call). */
static bool op_assume_role(void *ctx, const aws_creds *source, const char *role_arn, const char *session_name,
                           const char *external_id, int duration_s, aws_creds *out, aws_error *err)
{
    aws_session *s = ctx;
    aws_cred_sts_ops ops;
    sts_cred_ops(&ops, s->client);
    return ops.assume_role(ops.ctx, source, role_arn, session_name, external_id, duration_s, out, err);
}

static bool op_assume_role_web_identity(void *ctx, const char *role_arn, const char *session_name,
                                        const char *token, int duration_s, aws_creds *out, aws_error *err)
{
    aws_session *s = ctx;
    aws_cred_sts_ops ops;
    sts_cred_ops(&ops, s->client);
    return ops.assume_role_web_identity(ops.ctx, role_arn, session_name, token, duration_s, out, err);
}

aws_session *aws_session_new(const aws_session_opts *o, aws_error *err)
{
    aws_session_opts none;
    memset(&none, 0, sizeof none);
    if (!o) o = &none;
    aws_error_clear(err);
    aws_session *s = calloc(1, sizeof *s);
    if (!s) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "session allocation failed");
        return NULL;
    }
    aws_cred_sts_ops ops = {.sso = aws_cred_from_sso,
                            .assume_role = op_assume_role,
                            .assume_role_web_identity = op_assume_role_web_identity,
                            .ctx = s};
    /* The SDKs' retry settings (AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, else the
     * profile's max_attempts / retry_mode) apply when the caller set no
     * maximum of its own; an invalid value fails here, before any call. */
    aws_client_opts co = o->client;
    int env_max = 0;
    char mode[16];
    if (!aws_retry_settings(o->creds.profile, &env_max, mode, sizeof mode, err)) goto fail;
    bool legacy = !strcmp(mode, "legacy");
    if (co.retry.max_attempts <= 0) co.retry.max_attempts = env_max > 0 ? env_max : legacy ? LEGACY_MAX_ATTEMPTS : 0;
    if (legacy && co.retry.quota_max <= 0) co.retry.quota_max = LEGACY_QUOTA;
    /* "adaptive" is standard mode here: the client-side rate limiting it
     * adds is the shared per-account bucket (ratelimit.h) when s is given */
    /* The profile's ca_bundle, endpoint_url and use_fips_endpoint, each
     * under its environment variable (as in the SDKs) */
    aws_profile *pr = calloc(1, sizeof *pr);
    if (!pr || !aws_profile_load(NULL, NULL, aws_profile_name(o->creds.profile), pr, err)) {
        if (!pr) aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "profile allocation failed");
        free(pr);
        goto fail;
    }
    const char *env_ca = getenv("AWS_CA_BUNDLE");
    if (!co.ca_bundle || !*co.ca_bundle) co.ca_bundle = env_ca && *env_ca ? env_ca : pr->ca_bundle[0] ? pr->ca_bundle : NULL;
    if (!co.config_endpoint_url && pr->endpoint_url[0]) co.config_endpoint_url = pr->endpoint_url;
    for (int svc = 0; svc < AWS_SVC_COUNT; svc++) {
        char key[32];
        if (!co.config_endpoints[svc] && aws_service_config_key((aws_service)svc, key, sizeof key))
            co.config_endpoints[svc] = aws_profile_service_endpoint(pr, key);
    }
    const char *env_fips = getenv("AWS_USE_FIPS_ENDPOINT");
    if (!co.use_fips && (!env_fips || !*env_fips) && pr->use_fips_endpoint[0]) {
        if (!strcasecmp(pr->use_fips_endpoint, "true")) co.use_fips = 1;
        else if (!strcasecmp(pr->use_fips_endpoint, "false")) co.use_fips = -1;
        else {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidConfig",
                          "profile %s: use_fips_endpoint = %.32s: want true or false", pr->name, pr->use_fips_endpoint);
            aws_profile_wipe(pr);
            free(pr);
            goto fail;
        }
    }
    aws_cred_opts cro = o->creds;
    if (!cro.ca_bundle) cro.ca_bundle = co.ca_bundle;
    s->creds = aws_cred_provider_new(&cro, &ops, err);
    if (s->creds) s->client = aws_client_new(&co, s->creds, err);
    /* the client and the provider copied every string they keep */
    aws_profile_wipe(pr);
    free(pr);
    if (!s->creds || !s->client) goto fail;
    if (o->s) {
        s->hud.s = o->s;
        s->hud.cfg = o->rate;
        fc_strlcpy(s->hud.region, aws_client_region(s->client), sizeof s->hud.region);
        aws_session_set_account(s, o->account);
        aws_hooks h;
        rl_hooks_fill(&h, &s->hud);
        aws_client_set_hooks(s->client, &h);
    }
    return s;
fail:
    aws_session_free(s);
    return NULL;
}

void aws_session_free(aws_session *s)
{
    if (!s) return;
    aws_client_free(s->client);
    aws_cred_provider_free(s->creds);
    free(s);
}

aws_client *aws_session_client(const aws_session *s) { return s ? s->client : NULL; }

void aws_session_set_account(aws_session *s, const char *account)
{
    if (s) fc_strlcpy(s->hud.account, account ? account : "", sizeof s->hud.account);
}
