/* sts — typed STS calls (Query protocol): GetCallerIdentity, AssumeRole,
 * AssumeRoleWithWebIdentity, and the hooks the credential provider uses.
 * Results are heap objects the caller frees with the matching _free
 * (accepts NULL); sts_assumed_role_free wipes the credentials. */
#ifndef FC_STS_H
#define FC_STS_H

#include <stdbool.h>

#include "aws.h"
#include "awscred.h"

typedef struct aws_identity {
    char account[32];
    char arn[512];
    char user_id[256];
} aws_identity;
void aws_identity_free(aws_identity *id);

typedef struct sts_assumed_role {
    aws_creds creds;              /* secret: wiped on free */
    char assumed_role_arn[512];
    char assumed_role_id[256];
    char subject[256];            /* web identity: SubjectFromWebIdentityToken */
} sts_assumed_role;
void sts_assumed_role_free(sts_assumed_role *r);

typedef struct sts_assume_role_opts {
    const char *role_arn;
    const char *session_name;     /* default "fleetcrypt" */
    const char *external_id;      /* optional */
    int duration_s;               /* default 3600 */
} sts_assume_role_opts;

bool sts_get_caller_identity(aws_client *c, aws_identity **out, aws_error *err);
/* Signed with the client's credentials. */
bool sts_assume_role(aws_client *c, const sts_assume_role_opts *o, sts_assumed_role **out,
                     aws_error *err);
/* Unsigned call; token is the OIDC token itself (not a path). */
bool sts_assume_role_with_web_identity(aws_client *c, const char *role_arn,
                                       const char *session_name, const char *token,
                                       int duration_s, sts_assumed_role **out, aws_error *err);

/* Fill ops so a credentials provider can reach STS through c (session.c
 * wires them; the client itself never calls STS). */
void sts_cred_ops(aws_cred_sts_ops *ops, aws_client *c);

/* Campaign option checks (opt_def validators, strategy_opts.h):
 * --target-account-role is an IAM role ARN, --target-external-id what STS
 * takes as an ExternalId (2-1224 of [\w+=,.@:/-]). */
bool sts_role_arn_opt_check(const char *v, char *err, size_t errcap);
bool sts_external_id_opt_check(const char *v, char *err, size_t errcap);

#endif
