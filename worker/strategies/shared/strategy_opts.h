/* strategy_opts.h — option entries (opt_def, lib/engine/step.h) that several
 * strategies' descriptors declare alike: one spelling, one help line, one
 * validator. A descriptor puts them in its opts table; data only. */
#ifndef FC_STRATEGY_OPTS_H
#define FC_STRATEGY_OPTS_H

#include "dbsecret.h"
#include "window.h"
#include "rds.h"
#include "sts.h"

#define FC_OPT_WINDOW                                                                                      \
    {"window", OPT_STRING, NULL, "", window_opt_check,                                                     \
     "cutovers only inside 'DAYS HH:MM-HH:MM' or RDS's 'ddd:hh24:mi-ddd:hh24:mi' (UTC), e.g. "             \
     "'mon-fri 02:00-04:00', 'sun:02:00-sun:04:00'",                                                       \
     false}

#define FC_OPT_DB_SECRET                                                                                   \
    {"db-secret", OPT_STRING, NULL, "", dbsecret_opt_check,                                                \
     "where the database credentials are: rds-managed (default: the instance's RDS-managed master secret), a " \
     "Secrets Manager secret ARN, or file:PATH (an absolute path read on every worker, not where submit runs)", \
     false}

/* Cross-account moves (shared/awsxacct.h): pg-logical and offline. */
#define FC_OPTS_TARGET_ACCOUNT                                                                             \
    {"target-account-role", OPT_STRING, NULL, "", sts_role_arn_opt_check,                                     \
     "move into another AWS account: the role there the workers assume through STS (arn:aws:iam::ACCOUNT:" \
     "role/NAME); --kms-key is then the target account's key ARN, the cutover cname or proxy",             \
     false},                                                                                               \
    {"target-external-id", OPT_STRING, NULL, "", sts_external_id_opt_check,                               \
     "the external id the target role's trust policy requires (with --target-account-role)", false},      \
    {"target_security_groups", OPT_STRING, NULL, "", rds_sg_ids_opt_check,                                 \
     "--target-account-role: VPC security group ids of the target account for the restored instance "     \
     "(default: its VPC's default group)", true}

/* --cutover-method cname's campaign-file fields (shared/awscname.h):
 * the record per instance, and its TTL from catch-up until after the
 * cutover. Tuning entries. */
#define FC_OPTS_CNAME_FIELDS                                                                               \
    {"cname", OPT_STRING, NULL, "", NULL,                                                                  \
     "--cutover-method cname: INSTANCE=NAME pairs, comma-separated (default: each source's tag "          \
     "fleetcrypt:cname)",                                                                                  \
     true},                                                                                                \
    {"cname_ttl", OPT_INT, "0..86400", "", NULL,                                                           \
     "--cutover-method cname: the record's TTL from catch-up until after the cutover (5 s)", true}

/* The DMS strategies' common entries (dms-cdc, dms-full-cdc: their steps
 * read them alike). FC_OPTS_DMS_SOURCE goes where the operator-facing
 * options are, FC_OPTS_DMS_TUNING with the campaign-file tunings. */
#define FC_OPTS_DMS_SOURCE                                                                                 \
    {"read-only-tables", OPT_STRING, NULL, "", NULL,                                                       \
     "tables without a primary key that take no UPDATE or DELETE during the run (schema.table, "          \
     "comma-separated): DMS carries their INSERTs only; any other keyless table fails preflight",          \
     false},                                                                                               \
    {"replica-identity-full", OPT_BOOL, NULL, "", NULL,                                                    \
     "give tables without a primary key REPLICA IDENTITY FULL at prepare-source (else pg-logical's check " \
     "fails them); DMS still needs them in --read-only-tables",                                            \
     false},                                                                                               \
    {"accept-types", OPT_BOOL, NULL, "", NULL,                                                             \
     "accept columns DMS does not carry exactly (unconstrained NUMERIC, OID large objects) instead of "    \
     "failing",                                                                                            \
     false},                                                                                               \
    {"allow-reboot", OPT_BOOL, NULL, "", NULL,                                                             \
     "reboot a source whose parameter group waits for one for rds.logical_replication (inside --window)", \
     false},                                                                                               \
    {"rekey", OPT_BOOL, NULL, "", NULL,                                                                    \
     "move a source encrypted with another KMS key to the campaign key (else it is skipped)", false},     \
    {"dms-instance-class", OPT_STRING, NULL, "dms.t3.medium", NULL,                                        \
     "class of the campaign's DMS replication instances (one, shared; another when one is full)", false}

#define FC_OPTS_DMS_TUNING                                                                                 \
    {"dms-ssl-mode", OPT_ENUM, "none|require|verify-ca|verify-full", "require", NULL,                      \
     "SslMode of DMS's endpoints", false},                                                                 \
    {"dms_storage_gb", OPT_INT, "5..6144", "", NULL, "the replication instance's storage (50 GB)", true},  \
    {"dms_subnet_group", OPT_STRING, NULL, "", NULL, "its replication subnet group (AWS's default)", true}, \
    {"dms_security_groups", OPT_STRING, NULL, "", NULL, "its VPC security groups, comma-separated", true}, \
    {"catchup_lag_bytes", OPT_BYTES, NULL, "", NULL, "lag under which DMS counts as caught up (1 MiB)",   \
     true},                                                                                                \
    {"catchup_stable_s", OPT_INT, "0..86400", "", NULL, "how long the lag must stay under it (10 s)",     \
     true},                                                                                                \
    {"max_retained_wal_bytes", OPT_BYTES, NULL, "", NULL,                                                  \
     "abort when the slots retain more WAL than this", true},                                              \
    {"min_free_storage_bytes", OPT_BYTES, NULL, "", NULL,                                                  \
     "abort when the source's free storage falls below this", true},                                       \
    {"prepared_wait_s", OPT_INT, "0..86400", "", NULL,                                                     \
     "how long prepare-source waits for prepared transactions (600 s)", true},                             \
    {"seq_margin", OPT_INT, "0..1000000000", "", NULL,                                                     \
     "added to each sequence on the target at cutover (100)", true},                                       \
    {"switch_poll_s", OPT_INT, "1..3600", "", NULL,                                                        \
     "how long the cutover polls a rename inside one run (90 s)", true}

#endif
