/* msecret — keep a source's RDS-managed master secret (MasterUserSecret,
 * `rds!db-…` in Secrets Manager) working for the encrypted instance that
 * replaced the source. A restore cannot attach the secret to the new
 * instance (ManageMasterUserPassword on restore is Oracle-only), so the
 * applications keep reading the source's secret; when RDS rotates it, the
 * new password is set on the retired source only. msecret notices the
 * rotation (DescribeSecret: the AWSCURRENT version id moved since the one
 * recorded) and sets the new password on the encrypted instance
 * (GetSecretValue of exactly that version, then ModifyDBInstance
 * MasterUserPassword with ApplyImmediately). Version ids are not secrets and
 * are recorded by the callers; the password lives only in a wiped buffer
 * for the duration of the call and is never logged. Used by pg-logical's
 * steps before their first master-user login to the restored target when the
 * secret rotated during the campaign (worker/strategies/pglogical/session.c),
 * by its cleanup (worker/strategies/pglogical/cleanup.c) and, afterwards, by
 * the coordinator (coordinator/retired.c). */
#ifndef FC_MSECRET_H
#define FC_MSECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "rds.h"

typedef enum {
    MSECRET_NO_SECRET = 0,   /* nothing to follow (no MasterUserSecret, or no AWSCURRENT version) */
    MSECRET_IN_SYNC,         /* AWSCURRENT is the recorded version */
    MSECRET_PROPAGATE,       /* rotated since (or never recorded): set its password on the target */
    MSECRET_TARGET_MANAGED   /* the target manages its own secret now: following stops */
} msecret_action;

/* The pure decision (unit-tested). recorded_version "" = unknown: propagate
 * once (setting the current password is idempotent). target_secret_arn is
 * the target's own MasterUserSecret ("" when it has none). */
msecret_action msecret_decide(const char *secret_arn, const char *recorded_version, const char *current_version,
                              const char *target_secret_arn);
const char *msecret_action_name(msecret_action a);

typedef struct msecret_result {
    msecret_action action;
    char version[128];  /* the AWSCURRENT version the target now follows: record it when propagated */
    bool propagated;    /* ModifyDBInstance was accepted: the target moves to the new password */
} msecret_result;

/* Follow secret_arn onto `target` (as just described by the caller); the
 * secret is read through c, the target modified through target_c (another
 * account's client when the target lives there; NULL = c).
 * A target that is not `available` while a propagation is due is an
 * error with code "TargetNotAvailable" (kind transient: try again later);
 * a secret whose username is not the target's master user is a permanent
 * error "UsernameMismatch" (nothing is changed). */
bool msecret_follow(aws_client *c, aws_client *target_c, const char *secret_arn, const char *recorded_version,
                    const rds_instance *target, msecret_result *out, aws_error *err);

#endif
