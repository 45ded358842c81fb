/* kms — typed KMS calls (JSON 1.1, X-Amz-Target TrentService.*): DescribeKey
 * (key id, key ARN, alias name or alias ARN), CreateKey, CreateAlias,
 * ListAliases. Results are heap objects freed by the matching _free
 * (accepts NULL). */
#ifndef FC_KMS_H
#define FC_KMS_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"

typedef struct kms_key {
    char key_id[128];
    char arn[512];
    bool enabled;
    char key_state[32];       /* Enabled, Disabled, PendingDeletion, ... */
    char key_manager[16];     /* AWS or CUSTOMER */
    char description[512];
    char key_usage[32];
    char key_spec[32];
    double creation_date;     /* epoch seconds */
} kms_key;
void kms_key_free(kms_key *k);

typedef struct kms_alias {
    char name[256];
    char arn[512];
    char target_key_id[128];
} kms_alias;

typedef struct kms_alias_list {
    kms_alias *v;
    size_t n;
} kms_alias_list;
void kms_alias_list_free(kms_alias_list *l);

/* The encryption type a compliance report shows: "none" (unencrypted),
 * "kms-aws-managed" (KeyManager AWS: aws/rds), "kms-customer-managed"
 * (KeyManager CUSTOMER), "aws-owned" (key_manager "AWS_OWNED": an AWS owned
 * key, StorageEncryptionType sse-rds, no key ARN), "kms" (encrypted, manager
 * unknown). */
const char *kms_encryption_type(bool encrypted, const char *key_manager);

/* key: id, key ARN, "alias/name" or alias ARN. NOT_FOUND when missing. */
bool kms_describe_key(aws_client *c, const char *key, kms_key **out, aws_error *err);
/* description may be NULL; tags as parallel key/value arrays (may be NULL). */
bool kms_create_key(aws_client *c, const char *description, const char *const *tag_keys,
                    const char *const *tag_values, size_t ntags, kms_key **out, aws_error *err);
bool kms_create_alias(aws_client *c, const char *alias_name, const char *target_key_id,
                      aws_error *err);
/* All aliases (walks NextMarker); key_id NULL lists every alias. */
bool kms_list_aliases(aws_client *c, const char *key_id, kms_alias_list **out, aws_error *err);
/* GetKeyPolicy (policy name "default"): the key policy document, a JSON
 * text malloc'd into *policy (caller frees). */
bool kms_get_key_policy(aws_client *c, const char *key, char **policy, aws_error *err);

#endif
