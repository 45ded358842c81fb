/* awssso — credentials of an IAM Identity Center (SSO) profile, as awscli
 * and the SDKs get them:
 *   - an `sso_session = NAME` profile (with `sso_account_id`, `sso_role_name`)
 *     and its `[sso-session NAME]` section (`sso_region`, `sso_start_url`), or
 *     a legacy profile carrying `sso_start_url` and `sso_region` itself;
 *   - the access token `aws sso login` cached in
 *     ~/.aws/sso/cache/<sha1 of the session name, or of the start URL>.json
 *     (`accessToken`, `expiresAt`); an `sso_session` token within 15 minutes
 *     of its end is first refreshed with SSO OIDC CreateToken when the
 *     cache allows it (refreshToken, clientId, clientSecret, a registration
 *     not expired), and the cache file rewritten (0600, by rename); a failed
 *     refresh keeps a still-valid token; an expired or missing one is an
 *     error that says which `aws sso login` to run;
 *   - the portal's GetRoleCredentials: GET
 *     <portal>/federation/credentials?role_name=R&account_id=A with
 *     `x-amz-sso_bearer_token`, the portal at AWS_ENDPOINT_URL_SSO, else
 *     AWS_ENDPOINT_URL, else the profile's endpoint_url (none of them under
 *     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else
 *     https://portal.sso.<sso_region>.amazonaws.com.
 * The token and the credentials are never logged nor quoted; every copy is
 * wiped. */
#ifndef FC_AWSSSO_H
#define FC_AWSSSO_H

#include <stdbool.h>

#include "awscred.h"

/* pr: the loaded profile (its sso_* keys). ca_bundle: the CA file for the
 * portal (NULL: the system's). out->source is "sso:<profile>". */
bool aws_cred_from_sso(const aws_profile *pr, const char *ca_bundle, aws_creds *out, aws_error *err);

/* The cache file of key (session name or start URL): HOME/.aws/sso/cache/<sha1 hex>.json. */
bool aws_sso_cache_path(const char *key, char *dst, size_t cap);

#endif
