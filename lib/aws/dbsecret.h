/* dbsecret — resolve a campaign's --db-secret reference to database
 * credentials for one instance, at the moment a step needs them.
 *   rds-managed            the instance's MasterUserSecret (Secrets Manager)
 *   arn:aws:secretsmanager:…  a secret whose string is {"username","password"}
 *   file:PATH              the same JSON, or {"default": {...},
 *                          "instances": {"<id>": {...}}}
 * The reference itself is not secret and may be stored (Redis, Kafka); the
 * credentials never are: callers hold a db_credentials only while connecting
 * and free it with db_credentials_free(), which wipes it. */
#ifndef FC_DBSECRET_H
#define FC_DBSECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"

typedef enum { DBSECRET_RDS_MANAGED = 0, DBSECRET_ARN, DBSECRET_FILE } dbsecret_kind;

typedef struct dbsecret_ref {
    dbsecret_kind kind;
    char value[1024]; /* ARN or path; empty for rds-managed */
} dbsecret_ref;

typedef struct db_credentials {
    char username[128];
    char password[512];
} db_credentials;

/* Parse and validate a reference (NULL or "" means rds-managed). */
bool dbsecret_parse(const char *ref, dbsecret_ref *out, char *err, size_t errcap);
/* The validator of a strategy's --db-secret option (opt_def): dbsecret_parse. */
bool dbsecret_opt_check(const char *ref, char *err, size_t errcap);
/* The reference in its canonical spelling (for storage and display). */
void dbsecret_format(const dbsecret_ref *r, char *out, size_t cap);

/* Resolve credentials for instance `instance_id`. For rds-managed,
 * master_secret_arn is the instance's MasterUserSecret ARN (from
 * DescribeDBInstances); c may be NULL for file references. On success the
 * caller owns *out and frees it with db_credentials_free(). Errors name the
 * reference and the reason, never the secret's content. */
bool dbsecret_resolve(aws_client *c, const dbsecret_ref *r, const char *instance_id,
                      const char *master_secret_arn, db_credentials **out, char *err, size_t errcap);
/* The same for one version of a Secrets Manager secret: version_id NULL or
 * "" = AWSCURRENT; version_out (may be NULL) receives the version id read
 * ("" for file references). A version id is not a secret. */
bool dbsecret_resolve_version(aws_client *c, const dbsecret_ref *r, const char *instance_id,
                              const char *master_secret_arn, const char *version_id, db_credentials **out,
                              char *version_out, size_t vcap, char *err, size_t errcap);
void db_credentials_free(db_credentials *cred); /* wipes; accepts NULL */

/* Parse {"username","password"} (or the file form) from JSON text; exposed
 * for tests. */
bool dbsecret_from_json(const char *json_text, const char *instance_id, db_credentials *out,
                        char *err, size_t errcap);

#endif
