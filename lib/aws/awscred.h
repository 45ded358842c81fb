/* awscred — AWS credentials and the SDKs' default provider chain:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [, AWS_SESSION_TOKEN]
 *   2. shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
 *      AWS_CONFIG_FILE (~/.aws/config, "[profile x]" sections), profile from
 *      AWS_PROFILE (else "default"); role_arn with source_profile /
 *      credential_source / web_identity_token_file, else SSO (sso_session, or
 *      legacy sso_start_url: the token cached by `aws sso login`, then the
 *      portal's GetRoleCredentials; awssso.h, reached through
 *      aws_cred_sts_ops.sso), else static keys, else
 *      credential_process (run with /bin/sh -c; stdout is JSON Version 1 with
 *      AccessKeyId, SecretAccessKey [, SessionToken, Expiration]; stderr
 *      passes through; the output is never logged nor quoted in errors)
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      [+ AWS_ROLE_SESSION_NAME] → STS AssumeRoleWithWebIdentity (unsigned)
 *   4. container (ECS task role, EKS Pod Identity):
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2) or
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to loopback or the
 *      agent's 169.254.170.2 / 169.254.170.23 / [fd00:ec2::23]), with the
 *      Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *      (re-read every fetch) else AWS_CONTAINER_AUTHORIZATION_TOKEN. When
 *      configured, a failure ends the chain: never the node's role via IMDS
 *   5. IMDSv2: PUT /latest/api/token, GET .../iam/security-credentials/[role]
 *      at AWS_EC2_METADATA_SERVICE_ENDPOINT (default http://169.254.169.254),
 *      skipped when AWS_EC2_METADATA_DISABLED=true
 * and, on top of whichever worked, an optional AssumeRole (cross-account).
 * Temporary credentials are refreshed ahead of expiry (default 5 min).
 *
 * STS calls are made through aws_cred_sts_ops (implemented by sts.c, wired
 * by session.c), so this module does not depend on the client.
 * Secrets: aws_creds holds the secret key and token; wipe it with
 * aws_creds_wipe() (the provider wipes its copies on free). Nothing here
 * ever logs a key, secret or token. Not thread-safe: one per client. */
#ifndef FC_AWSCRED_H
#define FC_AWSCRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awserr.h"

typedef struct aws_creds {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096];    /* "" when none */
    int64_t expires_ms;          /* epoch ms; 0 = does not expire */
    char source[48];             /* "env", "profile:NAME", "process:NAME", "web-identity", "container",
                                    "imds", "assume-role" */
} aws_creds;

void aws_creds_wipe(aws_creds *c);
bool aws_creds_valid(const aws_creds *c);

struct aws_profile;

typedef struct aws_cred_sts_ops {
    /* The credentials of an SSO profile (awssso.h's aws_cred_from_sso, wired
     * by session.c; NULL: SSO profiles are refused). No ctx. */
    bool (*sso)(const struct aws_profile *pr, const char *ca_bundle, aws_creds *out, aws_error *err);
    /* AssumeRole signed with source; fills out (expiring credentials). */
    bool (*assume_role)(void *ctx, const aws_creds *source, const char *role_arn,
                        const char *session_name, const char *external_id, int duration_s,
                        aws_creds *out, aws_error *err);
    /* AssumeRoleWithWebIdentity (an unsigned call). */
    bool (*assume_role_web_identity)(void *ctx, const char *role_arn, const char *session_name,
                                     const char *token, int duration_s, aws_creds *out,
                                     aws_error *err);
    void *ctx;
} aws_cred_sts_ops;

typedef struct aws_cred_opts {
    const char *profile;          /* default: AWS_PROFILE, else "default" */
    const char *role_arn;         /* optional: AssumeRole on top of the chain */
    const char *role_session_name;/* default "fleetcrypt" */
    const char *external_id;
    int role_duration_s;          /* default 3600 */
    int64_t refresh_early_ms;     /* default 300000 (5 min) */
    int64_t imds_timeout_ms;      /* per IMDS request, default 1000 */
    int imds_attempts;            /* default 2 */
    const aws_creds *fixed;       /* use these instead of the chain (copied) */
    const char *ca_bundle;        /* HTTPS sources (container full URI, SSO portal): CA file, NULL = system */
} aws_cred_opts;

typedef struct aws_cred_provider aws_cred_provider;

/* ops may be NULL (then role and web-identity sources fail cleanly). */
aws_cred_provider *aws_cred_provider_new(const aws_cred_opts *opts, const aws_cred_sts_ops *ops,
                                         aws_error *err);
void aws_cred_provider_free(aws_cred_provider *p);
/* Current credentials copied into out (caller wipes). Resolves the chain on
 * first use and again when the cached ones are within refresh_early of expiry;
 * if a refresh fails while the old ones are still valid, they are kept. */
bool aws_cred_get(aws_cred_provider *p, aws_creds *out, aws_error *err);
/* Forget cached credentials (after ExpiredToken) so the next get resolves. */
void aws_cred_invalidate(aws_cred_provider *p);

/* ---- pieces of the chain, exposed for tests ---- */
typedef struct aws_profile {
    char name[128];
    bool found;
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096];
    char role_arn[256];
    char source_profile[128];
    char credential_source[64];
    char web_identity_token_file[1024];
    char role_session_name[128];
    char external_id[256];
    char region[64];
    int duration_seconds;
    char credential_process[1024];
    char max_attempts[16];       /* as written (validated by aws_retry_settings) */
    char retry_mode[16];
    char ca_bundle[1024];        /* the CA bundle HTTPS peers are verified against (under AWS_CA_BUNDLE) */
    char endpoint_url[512];      /* every service's endpoint (under AWS_ENDPOINT_URL[_<SERVICE>]) */
    char use_fips_endpoint[16];  /* as written: "true" / "false" (under AWS_USE_FIPS_ENDPOINT) */
    char sso_session[128];       /* names an [sso-session NAME] section */
    char sso_account_id[32];
    char sso_role_name[128];
    char sso_start_url[512];     /* legacy SSO profile, or the sso-session's */
    char sso_region[64];
    char services[128];          /* names a [services NAME] section */
    struct {
        char key[32];            /* service identifier, lower case: rds, kms, sts, secrets_manager, sso_oidc */
        char url[512];
    } svc_endpoint[8];           /* that section's "KEY =" / "  endpoint_url = URL" pairs */
    int n_svc_endpoint;
} aws_profile;

/* Load profile `name` from the config file (section "[profile name]", or
 * "[default]") and the credentials file (section "[name]"); values in the
 * credentials file win. NULL paths use the env vars / ~/.aws defaults.
 * Missing files are not an error; out->found says whether the profile exists.
 * A `services = NAME` key also loads the "[services NAME]" section's
 * per-service endpoint_url values (a missing section is InvalidConfig, as in
 * the SDKs).
 * The caller wipes out with aws_profile_wipe(). */
bool aws_profile_load(const char *cred_path, const char *config_path, const char *name,
                      aws_profile *out, aws_error *err);
void aws_profile_wipe(aws_profile *p);
/* The services section's endpoint_url for service key (e.g. "rds",
 * "secrets_manager"), or NULL. */
const char *aws_profile_service_endpoint(const aws_profile *p, const char *key);
/* Load the config file's "[sso-session NAME]" section (sso_region,
 * sso_start_url) into out; out->found says whether it exists. */
bool aws_sso_session_load(const char *config_path, const char *name, aws_profile *out, aws_error *err);
/* The profile the chain reads (explicit, else AWS_PROFILE, else "default"). */
const char *aws_profile_name(const char *explicit_name);
/* The profile's region for the client's default (AWS_PROFILE or "default"). */
bool aws_profile_region(char *dst, size_t cap);

/* Environment source; false when the variables are not both set. */
bool aws_cred_from_env(aws_creds *out);
/* IMDSv2 source against endpoint (NULL: env or default). */
bool aws_cred_from_imds(const char *endpoint, int64_t timeout_ms, int attempts, aws_creds *out,
                        aws_error *err);

/* credential_process source: run command (/bin/sh -c), parse its stdout. */
bool aws_cred_from_process(const char *profile, const char *command, aws_creds *out, aws_error *err);
/* Container source: configured when either URI variable is set. */
bool aws_cred_container_configured(void);
bool aws_cred_from_container(const char *ca_bundle, int64_t timeout_ms, int attempts, aws_creds *out, aws_error *err);

/* The SDKs' retry settings for profile (NULL: AWS_PROFILE, else "default"):
 * AWS_MAX_ATTEMPTS, else the profile's max_attempts (1..AWS_MAX_ATTEMPTS_LIMIT;
 * 0 out when neither is set), and AWS_RETRY_MODE, else the profile's
 * retry_mode ("standard", "legacy", "adaptive"; "" when neither). An
 * invalid value is an error (InvalidConfig), as in the SDKs. */
#define AWS_MAX_ATTEMPTS_LIMIT 20
bool aws_retry_settings(const char *profile, int *max_attempts, char *mode, size_t mode_cap, aws_error *err);

/* "2015-08-30T12:36:00Z" / "...00.123Z" / "+00:00" → epoch ms. */
bool aws_parse_iso8601(const char *s, int64_t *ms);

#endif
