/* secrets — Secrets Manager (JSON 1.1, X-Amz-Target secretsmanager.*):
 * GetSecretValue, and CreateSecret for tests and the emulator.
 * A secret_value holds the secret in memory only as long as the caller keeps
 * it: secret_value_free (accepts NULL) wipes it with fc_wipe. Never log it. */
#ifndef FC_SECRETS_H
#define FC_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

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
/* Create a secret holding a string; arn_out (may be NULL) receives its ARN. */
bool secrets_create_secret(aws_client *c, const char *name, const char *secret_string,
                           char *arn_out, size_t arn_cap, aws_error *err);

#endif
