/* aws session — the one place an AWS client is assembled, for the
 * coordinator, the worker and the CLI alike: the credentials provider (the
 * SDKs' chain, or fixed credentials) with its STS operations (AssumeRole,
 * web identity: sts.c) wired in, the client that signs with it, and, when a
 * store is given, the shared per-(account, region) rate limit in Redis
 * (ratelimit.h's aws_hooks glue) in front of every attempt.
 *
 * aws.c never calls STS and sts.c only calls the client: the provider
 * reaches STS through the session, which owns all three pieces.
 * NOT thread-safe: one session per thread (per region), as for aws_client.
 * Retries: a caller that leaves client.retry.max_attempts 0 gets the SDKs'
 * settings: AWS_MAX_ATTEMPTS, else the profile's max_attempts, else the
 * mode's default (AWS_RETRY_MODE / retry_mode: standard and adaptive 3,
 * legacy 5 with no retry quota); an explicit maximum (the CLI's 8) wins.
 * Invalid values fail aws_session_new with InvalidConfig.
 * Ownership: aws_session_new copies the strings of opts; aws_session_free
 * (accepts NULL) frees the client and the provider, wiping the credentials. */
#ifndef FC_AWS_SESSION_H
#define FC_AWS_SESSION_H

#include "aws.h"
#include "awscred.h"
#include "ratelimit.h"
#include "store.h"

typedef struct aws_session_opts {
    aws_client_opts client; /* region, endpoints, timeouts, retry, user agent */
    aws_cred_opts creds;    /* profile, cross-account role, fixed credentials; zero = the default chain */
    store *s;               /* the shared rate limit's Redis; NULL = none (the CLI's one-shot calls) */
    rl_cfg rate;            /* with s */
    const char *account;    /* with s: the account the bucket is counted for ("" = not known yet) */
} aws_session_opts;

typedef struct aws_session aws_session;

/* NULL with err on failure (nothing is logged here). */
aws_session *aws_session_new(const aws_session_opts *o, aws_error *err);
void aws_session_free(aws_session *s);
/* The session's client (owned by the session). */
aws_client *aws_session_client(const aws_session *s);
/* The account the shared bucket is counted for from the next call on. */
void aws_session_set_account(aws_session *s, const char *account);

#endif
