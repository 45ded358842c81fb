/* msecret — see msecret.h. */
#include "msecret.h"

#include <stdlib.h>
#include <string.h>

#include "dbsecret.h"
#include "log.h"
#include "secrets.h"
#include "util.h"

msecret_action msecret_decide(const char *secret_arn, const char *recorded_version, const char *current_version,
                              const char *target_secret_arn)
{
    if (!secret_arn || !*secret_arn || !current_version || !*current_version) return MSECRET_NO_SECRET;
    if (target_secret_arn && *target_secret_arn && strcmp(target_secret_arn, secret_arn) != 0)
        return MSECRET_TARGET_MANAGED;
    if (recorded_version && *recorded_version && !strcmp(recorded_version, current_version)) return MSECRET_IN_SYNC;
    return MSECRET_PROPAGATE;
}

const char *msecret_action_name(msecret_action a)
{
    switch (a) {
    case MSECRET_NO_SECRET: return "no-secret";
    case MSECRET_IN_SYNC: return "in-sync";
    case MSECRET_PROPAGATE: return "propagate";
    case MSECRET_TARGET_MANAGED: return "target-managed";
    }
    return "?";
}

/* ModifyDBInstance MasterUserPassword + ApplyImmediately (rds.h: the
 * request body holding the password is wiped). */
static bool set_master_password(aws_client *c, const char *id, const char *password, aws_error *err)
{
    rds_modify_instance_opts o;
    rds_modify_instance_opts_init(&o);
    o.identifier = id;
    o.master_user_password = password;
    o.apply_immediately = true;
    return rds_modify_db_instance(c, &o, NULL, err);
}

bool msecret_follow(aws_client *c, aws_client *target_c, const char *secret_arn, const char *recorded_version,
                    const rds_instance *target, msecret_result *out, aws_error *err)
{
    memset(out, 0, sizeof *out);
    if (!secret_arn || !*secret_arn) {
        out->action = MSECRET_NO_SECRET;
        return true;
    }
    secret_desc d;
    if (!secrets_describe(c, secret_arn, &d, err)) return false;
    out->action = msecret_decide(secret_arn, recorded_version, d.current_version, target->master_user_secret_arn);
    if (out->action != MSECRET_PROPAGATE) {
        if (out->action == MSECRET_IN_SYNC) fc_strlcpy(out->version, d.current_version, sizeof out->version);
        return true;
    }
    if (strcmp(target->status, "available") != 0) {
        aws_error_set(err, AWS_ERR_TRANSIENT, 0, "TargetNotAvailable", "%s is %s: the new password waits",
                      target->identifier, target->status);
        return false;
    }
    secret_value *sv = NULL;
    if (!secrets_get_value_version(c, secret_arn, d.current_version, &sv, err)) return false;
    db_credentials cred;
    memset(&cred, 0, sizeof cred);
    char why[256];
    bool ok = false;
    if (!sv->string || !dbsecret_from_json(sv->string, target->identifier, &cred, why, sizeof why)) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "BadSecret", "secret %s: %s", secret_arn,
                      sv->string ? why : "binary secret");
        goto cleanup;
    }
    if (strcmp(cred.username, target->master_username) != 0) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "UsernameMismatch",
                      "secret %s is for user %s, %s's master user is %s: not propagated", secret_arn, cred.username,
                      target->identifier, target->master_username);
        goto cleanup;
    }
    if (!set_master_password(target_c ? target_c : c, target->identifier, cred.password, err)) goto cleanup;
    fc_strlcpy(out->version, sv->version_id[0] ? sv->version_id : d.current_version, sizeof out->version);
    out->propagated = true;
    ok = true;
    log_info("master secret rotated: new password set on the encrypted instance", "secret=%s version=%s target=%s",
             secret_arn, out->version, target->identifier);
cleanup:
    fc_wipe(&cred, sizeof cred);
    secret_value_free(sv);
    return ok;
}
