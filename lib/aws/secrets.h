/* secrets — Secrets Manager (JSON 1.1, X-Amz-Target secretsmanager.*):
 * GetSecretValue (by stage or version), DescribeSecret (the AWSCURRENT
 * version id, to notice a rotation), and CreateSecret for tests and the
 * emulator.
 * A secret_value holds the secret in memory only as long as the caller keeps
 * it: secret_value_free (accepts NULL) wipes it with fc_wipe. Never log it. */
#ifndef FC_SECRETS_H
#define FC_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"

typedef struct secret_value {
    char arn[512];
    char name[512];
    char version_id[128];
    char *string;        /* SecretString (NUL-terminated), NULL if the secret is binary */
    size_t len;
} secret_value;
void secret_value_free(secret_value *s);

/* id: name or ARN; version_stage NULL = AWSCURRENT. */
bool secrets_get_value(aws_client *c, const char *id, const char *version_stage,
                       secret_value **out, aws_error *err);
/* GetSecretValue of one version by its id (version_id NULL = AWSCURRENT). */
bool secrets_get_value_version(aws_client *c, const char *id, const char *version_id,
                               secret_value **out, aws_error *err);

/* DescribeSecret: metadata only, never the value. A version id is not a
 * secret and may be stored and logged. */
typedef struct secret_desc {
    char arn[512];
    char name[512];
    char current_version[128];  /* the version staged AWSCURRENT ("" if none) */
    char owning_service[64];    /* "rds" for a MasterUserSecret */
    bool rotation_enabled;
    int64_t last_changed_ms;    /* 0 when absent */
    int64_t last_rotated_ms;
} secret_desc;
bool secrets_describe(aws_client *c, const char *id, secret_desc *out, aws_error *err);

/* Create a secret holding a string; arn_out (may be NULL) receives its ARN. */
bool secrets_create_secret(aws_client *c, const char *name, const char *secret_string,
                           char *arn_out, size_t arn_cap, aws_error *err);

#endif
