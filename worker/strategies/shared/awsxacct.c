/* awsxacct — see awsxacct.h. */
#include "awsxacct.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "awsstep.h"
#include "ec2.h"
#include "kms.h"
#include "log.h"
#include "sts.h"
#include "util.h"

/* ---------------------------------------------------------------- which account */
/* A member of the target cluster: fc-<campaign>-<member>-target for a member
 * of the source cluster (fact members: "id\t..." lines). */
static bool target_member(step_ctx *ctx, const char *id)
{
    const char *m = step_ctx_fact(ctx, "members");
    while (m && *m) {
        size_t l = strcspn(m, "\t\n");
        char member[64], name[64];
        if (l < sizeof member) {
            memcpy(member, m, l);
            member[l] = 0;
            if (step_resource_name(step_ctx_campaign(ctx), member, "target", name, sizeof name) && !strcmp(name, id))
                return true;
        }
        m = strchr(m, '\n');
        if (m) m++;
    }
    return false;
}

bool awsxacct_in_target(step_ctx *ctx, const char *id)
{
    if (!step_ctx_cross_account(ctx) || !id) return false;
    char enc[64], tgt[64];
    awsstep_name(ctx, "enc", enc, sizeof enc);
    awsstep_name(ctx, "target", tgt, sizeof tgt);
    const char *own = step_ctx_fact(ctx, "xacct_target_id"); /* offline: the original identifier there */
    if (!strcmp(id, enc) || !strcmp(id, tgt) || (own && !strcmp(id, own))) return true;
    return target_member(ctx, id);
}

aws_client *awsxacct_client_for(step_ctx *ctx, const char *id)
{
    return awsxacct_in_target(ctx, id) ? step_ctx_aws_target(ctx) : step_ctx_aws(ctx);
}

/* ---------------------------------------------------------------- preflight */
/* The account of an ARN (arn:aws:SERVICE:REGION:ACCOUNT:...), "" if none. */
static void arn_account(const char *arn, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = arn;
    for (int n = 0; n < 4 && p; n++) p = strchr(p + 1, ':');
    if (!p || strncmp(arn, "arn:", 4)) return;
    size_t l = strcspn(p + 1, ":");
    if (l < cap) {
        memcpy(out, p + 1, l);
        out[l] = 0;
    }
}

static bool str_or_list_has(json_t *v, bool (*match)(const char *, const void *), const void *ud)
{
    if (json_is_string(v)) return match(json_string_value(v), ud);
    size_t k;
    json_t *e;
    json_array_foreach(v, k, e) if (json_is_string(e) && match(json_string_value(e), ud)) return true;
    return false;
}

static bool principal_is(const char *p, const void *ud)
{
    const char *acct = ud;
    char a[32];
    if (!strcmp(p, "*") || !strcmp(p, acct)) return true;
    arn_account(p, a, sizeof a);
    return !strncmp(p, "arn:", 4) && strstr(p, ":iam::") && !strcmp(a, acct);
}

/* IAM's action match: '*' any run, '?' one character, case-insensitive. */
static bool glob_ci(const char *p, const char *s)
{
    for (; *p; p++, s++) {
        if (*p == '*') {
            for (;; s++) {
                if (glob_ci(p + 1, s)) return true;
                if (!*s) return false;
            }
        }
        if (!*s || (*p != '?' && tolower((unsigned char)*p) != tolower((unsigned char)*s))) return false;
    }
    return !*s;
}

static bool action_is(const char *pattern, const void *ud) { return glob_ci(pattern, ud); }

/* Does the key policy allow account acct the action (an Allow statement
 * naming it, or "*", as principal; conditions are not judged)? */
static bool policy_allows(json_t *pol, const char *acct, const char *action)
{
    json_t *st = json_object_get(pol, "Statement");
    json_t *one = json_is_object(st) ? st : NULL;
    size_t n = one ? 1 : json_array_size(st);
    for (size_t k = 0; k < n; k++) {
        json_t *s = one ? one : json_array_get(st, k);
        const char *eff = json_string_value(json_object_get(s, "Effect"));
        if (!eff || strcmp(eff, "Allow")) continue;
        json_t *pr = json_object_get(s, "Principal");
        bool who = json_is_string(pr) ? !strcmp(json_string_value(pr), "*")
                                      : str_or_list_has(json_object_get(pr, "AWS"), principal_is, acct);
        if (who && str_or_list_has(json_object_get(s, "Action"), action_is, action)) return true;
    }
    return false;
}

/* The source's key: shareable, and usable by the target account. */
static step_rc check_source_key(step_ctx *ctx, step_result *res, bool encrypted, const char *kms_key_id,
                                const char *tacct)
{
    if (!encrypted) return STEP_OK; /* its snapshot is shared as it is; the target encrypts the copy */
    const char *id = step_ctx_instance(ctx);
    if (!kms_key_id[0]) {
        snprintf(res->reason, sizeof res->reason,
                 "%s is encrypted with an AWS owned key: its snapshot cannot be shared with another account; move "
                 "it to a customer managed key in this account first (e.g. this campaign without "
                 "--target-account-role and --rekey)", id);
        return STEP_FAIL;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    kms_key *k = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!kms_describe_key(c, kms_key_id, &k, &e)) return awsstep_fail(res, &e, "DescribeKey (source key)");
    bool aws_managed = !strcmp(k->key_manager, "AWS");
    kms_key_free(k);
    if (aws_managed) {
        snprintf(res->reason, sizeof res->reason,
                 "a snapshot encrypted with aws/rds cannot be shared; re-key %s to a customer managed key whose "
                 "policy lets account %s use it (a campaign in this account with --rekey), then move it", id, tacct);
        return STEP_FAIL;
    }
    char *doc = NULL;
    aws_error_clear(&e);
    if (!kms_get_key_policy(c, kms_key_id, &doc, &e)) {
        if (e.kind == AWS_ERR_THROTTLE || e.kind == AWS_ERR_TRANSIENT) return awsstep_fail(res, &e, "GetKeyPolicy");
        /* not allowed to read the policy: ask from the target's side instead */
        aws_client *tc = step_ctx_aws_target(ctx);
        if (!tc) return NO_CLIENT(res);
        log_info("source key policy not readable: DescribeKey from the target account", "code=%s", e.code);
        aws_error_clear(&e);
        if (kms_describe_key(tc, kms_key_id, &k, &e)) {
            kms_key_free(k);
            return STEP_OK;
        }
        if (e.kind == AWS_ERR_THROTTLE || e.kind == AWS_ERR_TRANSIENT)
            return awsstep_fail(res, &e, "DescribeKey (source key, from the target)");
        snprintf(res->reason, sizeof res->reason,
                 "account %s cannot use %s's key %.200s (%s): add a key policy statement (or a grant) allowing "
                 "arn:aws:iam::%s:root kms:Decrypt, kms:CreateGrant, kms:DescribeKey", tacct, id, kms_key_id,
                 e.code, tacct);
        return STEP_FAIL;
    }
    json_error_t je;
    json_t *pol = json_loads(doc, 0, &je);
    free(doc);
    bool ok = pol && policy_allows(pol, tacct, "kms:Decrypt") && policy_allows(pol, tacct, "kms:CreateGrant");
    json_decref(pol);
    if (!ok) {
        snprintf(res->reason, sizeof res->reason,
                 "the key policy of %.200s (%s's key) does not let account %s use it: add a statement allowing "
                 "arn:aws:iam::%s:root kms:Decrypt, kms:CreateGrant, kms:DescribeKey", kms_key_id, id, tacct,
                 tacct);
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* The campaign key: in the target account, enabled there. */
static step_rc check_target_key(step_ctx *ctx, step_result *res, aws_client *tc, const char *tacct)
{
    const char *want = step_ctx_campaign_field(ctx, "kms_key_arn");
    char kacct[32];
    arn_account(want, kacct, sizeof kacct);
    if (strcmp(kacct, tacct)) {
        snprintf(res->reason, sizeof res->reason, "--kms-key %.200s is not a key of the target account %s", want,
                 tacct);
        return STEP_FAIL;
    }
    kms_key *k = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!kms_describe_key(tc, want, &k, &e)) {
        if (e.kind == AWS_ERR_THROTTLE || e.kind == AWS_ERR_TRANSIENT) return awsstep_fail(res, &e, "DescribeKey");
        snprintf(res->reason, sizeof res->reason, "--kms-key %.200s is not usable in the target account %s: %s",
                 want, tacct, e.code);
        return STEP_FAIL;
    }
    bool on = k->enabled && !strcmp(k->key_state, "Enabled");
    char state[32];
    fc_strlcpy(state, k->key_state, sizeof state);
    kms_key_free(k);
    if (!on) {
        snprintf(res->reason, sizeof res->reason, "--kms-key %.200s is %s in the target account", want, state);
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* The source's subnet group, by name, in the target. */
static step_rc check_subnet_group(step_result *res, aws_client *tc, const char *name, const char *tacct)
{
    if (!name[0] || !strcmp(name, "default")) return STEP_OK;
    bool there = false;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_db_subnet_group_exists(tc, name, &there, &e))
        return awsstep_fail(res, &e, "DescribeDBSubnetGroups (target account)");
    if (!there) {
        snprintf(res->reason, sizeof res->reason,
                 "DB subnet group %s does not exist in the target account %s: create it there (same name)", name,
                 tacct);
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* A DB parameter group of the source (an instance's, a cluster member's), by name, in the target. */
static step_rc check_param_group(step_result *res, aws_client *tc, const char *pg, const char *tacct)
{
    if (!pg[0] || !strncmp(pg, "default.", 8)) return STEP_OK;
    rds_param_group_list *l = NULL;
    aws_error e;
    aws_error_clear(&e);
    bool ok = rds_describe_db_parameter_groups(tc, pg, &l, &e);
    rds_param_group_list_free(l);
    if (!ok && e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBParameterGroups (target account)");
    if (!ok) {
        snprintf(res->reason, sizeof res->reason,
                 "DB parameter group %s does not exist in the target account %s: create it there (same name, "
                 "rds.logical_replication=1 for pg-logical)", pg, tacct);
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* The source's subnet group and parameter groups, by name, in the target. */
static step_rc check_mapping(step_result *res, aws_client *tc, const rds_instance *i, const char *tacct)
{
    step_rc rc = check_subnet_group(res, tc, i->subnet_group, tacct);
    for (size_t k = 0; k < i->n_param_groups && rc == STEP_OK; k++)
        rc = check_param_group(res, tc, i->param_groups[k].name, tacct);
    return rc;
}

/* A cluster's parameter group, by name, in the target; with logical, with rds.logical_replication=1
 * (pg-logical: the restored volume holds the source's logical slots, its writer needs logical WAL to
 * start). A default group exists in every account. */
static step_rc check_cluster_param_group(step_result *res, aws_client *tc, const char *cpg, const char *tacct,
                                         bool logical)
{
    if (!cpg[0] || (!logical && !strncmp(cpg, "default.", 8))) return STEP_OK;
    rds_parameter_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster_parameters(tc, cpg, NULL, &pl, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND)
            return awsstep_fail(res, &e, "DescribeDBClusterParameters (target account)");
        snprintf(res->reason, sizeof res->reason,
                 "DB cluster parameter group %s does not exist in the target account %s: create it there (same "
                 "name%s)", cpg, tacct, logical ? ", rds.logical_replication=1" : "");
        return STEP_FAIL;
    }
    const rds_parameter *p = rds_parameter_find(pl, "rds.logical_replication");
    bool on = !logical || (p && p->value && (!strcmp(p->value, "1") || !strcmp(p->value, "on")));
    rds_parameter_list_free(pl);
    if (!on) {
        snprintf(res->reason, sizeof res->reason,
                 "DB cluster parameter group %s in the target account %s does not set rds.logical_replication=1: "
                 "set it there", cpg, tacct);
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* The source's VPC security groups mapped by name to the target account's
 * (fact target_sgs, "sg-a,sg-b"), unless the campaign names them
 * (target_security_groups). */
static step_rc map_security_groups(step_ctx *ctx, step_result *res, aws_client *tc, char (*sg_ids)[32], size_t nsg,
                                   const char *tacct)
{
    if (*step_ctx_opt(ctx, "target_security_groups") || !nsg) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    const char *ids[16];
    size_t n = nsg < 16 ? nsg : 16;
    for (size_t k = 0; k < n; k++) ids[k] = sg_ids[k];
    ec2_sg_list *src = NULL, *dst = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!ec2_describe_security_groups(c, ids, n, NULL, 0, &src, &e))
        return awsstep_fail(res, &e, "DescribeSecurityGroups (source account)");
    const char *names[16];
    for (size_t k = 0; k < src->n && k < 16; k++) names[k] = src->v[k].name;
    step_rc rc = STEP_OK;
    if (!ec2_describe_security_groups(tc, NULL, 0, names, src->n < 16 ? src->n : 16, &dst, &e)) {
        rc = awsstep_fail(res, &e, "DescribeSecurityGroups (target account)");
        goto cleanup;
    }
    char out[16 * 33] = "";
    size_t len = 0;
    for (size_t k = 0; k < src->n && k < 16; k++) {
        const ec2_sg *hit = NULL;
        int hits = 0;
        for (size_t m = 0; m < dst->n; m++)
            if (!strcmp(dst->v[m].name, src->v[k].name)) hit = &dst->v[m], hits++;
        if (hits != 1) {
            snprintf(res->reason, sizeof res->reason,
                     hits ? "security group %s is ambiguous in the target account %s (%d VPCs have one): name "
                            "them with target_security_groups"
                          : "security group %s does not exist in the target account %s: create it there (same "
                            "name) or name the groups with target_security_groups",
                     src->v[k].name, tacct, hits);
            rc = STEP_FAIL;
            goto cleanup;
        }
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", len ? "," : "", hit->id);
    }
    step_ctx_set_fact(ctx, "target_sgs", out);
cleanup:
    ec2_sg_list_free(src);
    ec2_sg_list_free(dst);
    return rc;
}

/* The role assumed (fact target_account, *tacct), another account than the campaign's, the campaign key there. */
static step_rc preflight_common(step_ctx *ctx, step_result *res, aws_client *tc, char *tacct, size_t cap)
{
    aws_identity *who = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!sts_get_caller_identity(tc, &who, &e)) {
        if (e.kind == AWS_ERR_THROTTLE || e.kind == AWS_ERR_TRANSIENT) return awsstep_fail(res, &e, "AssumeRole");
        snprintf(res->reason, sizeof res->reason, "cannot assume --target-account-role: %s: %.300s", e.code,
                 e.message);
        return STEP_FAIL;
    }
    fc_strlcpy(tacct, who->account, cap);
    aws_identity_free(who);
    if (!strcmp(tacct, step_ctx_campaign_field(ctx, "account"))) {
        snprintf(res->reason, sizeof res->reason,
                 "--target-account-role is in the campaign's own account %s: leave it out for a move in one "
                 "account", tacct);
        return STEP_FAIL;
    }
    step_ctx_set_fact(ctx, "target_account", tacct);
    return check_target_key(ctx, res, tc, tacct);
}

step_rc awsxacct_preflight(step_ctx *ctx, step_result *res, const rds_instance *i)
{
    if (!step_ctx_cross_account(ctx)) return STEP_OK;
    aws_client *tc = step_ctx_aws_target(ctx);
    if (!tc) return NO_CLIENT(res);
    char tacct[32];
    step_rc rc = preflight_common(ctx, res, tc, tacct, sizeof tacct);
    if (rc != STEP_OK) return rc;
    if (i->n_read_replica_ids > 0) {
        snprintf(res->reason, sizeof res->reason,
                 "%s has read replicas: they cannot follow it into account %s; remove them (re-create them there "
                 "after the move) or leave out --target-account-role", step_ctx_instance(ctx), tacct);
        return STEP_FAIL;
    }
    rc = check_source_key(ctx, res, i->storage_encrypted, i->kms_key_id, tacct);
    if (rc == STEP_OK) rc = check_mapping(res, tc, i, tacct);
    if (rc == STEP_OK) rc = map_security_groups(ctx, res, tc, i->vpc_sg_ids, i->n_vpc_sg_ids, tacct);
    return rc;
}

step_rc awsxacct_preflight_cluster(step_ctx *ctx, step_result *res, const rds_cluster *cl,
                                   const char *const *member_pgs, size_t n, bool logical)
{
    if (!step_ctx_cross_account(ctx)) return STEP_OK;
    aws_client *tc = step_ctx_aws_target(ctx);
    if (!tc) return NO_CLIENT(res);
    char tacct[32];
    step_rc rc = preflight_common(ctx, res, tc, tacct, sizeof tacct);
    if (rc == STEP_OK) rc = check_source_key(ctx, res, cl->storage_encrypted, cl->kms_key_id, tacct);
    if (rc == STEP_OK) rc = check_subnet_group(res, tc, cl->subnet_group, tacct);
    if (rc == STEP_OK) rc = check_cluster_param_group(res, tc, cl->param_group, tacct, logical);
    for (size_t k = 0; k < n && rc == STEP_OK; k++) rc = check_param_group(res, tc, member_pgs[k], tacct);
    if (rc == STEP_OK) rc = map_security_groups(ctx, res, tc, cl->vpc_sg_ids, cl->n_vpc_sg_ids, tacct);
    return rc;
}

/* ---------------------------------------------------------------- sharing */
void awsxacct_snapshot_arn(step_ctx *ctx, const char *sid, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:rds:%s:%s:snapshot:%s", step_ctx_campaign_field(ctx, "region"),
             step_ctx_campaign_field(ctx, "account"), sid);
}

void awsxacct_cluster_snapshot_arn(step_ctx *ctx, const char *sid, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:rds:%s:%s:cluster-snapshot:%s", step_ctx_campaign_field(ctx, "region"),
             step_ctx_campaign_field(ctx, "account"), sid);
}

static bool shared_with(const rds_snapshot_accounts *a, const char *acct)
{
    for (size_t k = 0; a && k < a->n; k++)
        if (!strcmp(a->accounts[k], acct)) return true;
    return false;
}

static bool share_call(aws_client *c, bool cluster, const char *sid, const char *acct, bool add,
                       rds_snapshot_accounts **out, aws_error *e)
{
    return cluster ? rds_share_db_cluster_snapshot(c, sid, acct, add, out, e)
                   : rds_share_db_snapshot(c, sid, acct, add, out, e);
}

static step_rc share(step_ctx *ctx, step_result *res, const char *sid, bool cluster)
{
    if (step_ctx_fact(ctx, "shared_at")) return STEP_OK;
    const char *tacct = step_ctx_fact(ctx, "target_account");
    if (!tacct || !*tacct) {
        snprintf(res->reason, sizeof res->reason, "no fact target_account (preflight did not run?)");
        return STEP_FAIL;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    const char *action = cluster ? "ModifyDBClusterSnapshotAttribute" : "ModifyDBSnapshotAttribute";
    rds_snapshot_accounts *a = NULL;
    aws_error e;
    aws_error_clear(&e);
    /* adding an account already there is not an error: no look first */
    if (!share_call(c, cluster, sid, tacct, true, &a, &e)) return awsstep_fail(res, &e, action);
    bool ok = shared_with(a, tacct);
    rds_snapshot_accounts_free(a);
    if (!ok) {
        snprintf(res->reason, sizeof res->reason, "snapshot %s: account %s not in its restore attribute after sharing",
                 sid, tacct);
        return STEP_RETRY;
    }
    log_info("snapshot shared with the target account", "snapshot=%s target_account=%s", sid, tacct);
    awsstep_mark(ctx, "shared_at");
    fc_crashpoint("xacct.shared"); /* tests: killed between the share and the copy */
    return STEP_OK;
}

static step_rc unshare(step_ctx *ctx, step_result *res, const char *sid, bool cluster)
{
    const char *tacct = step_ctx_fact(ctx, "target_account");
    if (!step_ctx_fact(ctx, "shared_at") || step_ctx_fact(ctx, "unshared_at") || !tacct || !*tacct) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!share_call(c, cluster, sid, tacct, false, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND)
        return awsstep_fail(res, &e, cluster ? "ModifyDBClusterSnapshotAttribute (unshare)"
                                             : "ModifyDBSnapshotAttribute (unshare)");
    log_info("snapshot no longer shared with the target account", "snapshot=%s target_account=%s", sid, tacct);
    awsstep_mark(ctx, "unshared_at");
    return STEP_OK;
}

step_rc awsxacct_share(step_ctx *ctx, step_result *res, const char *sid) { return share(ctx, res, sid, false); }
step_rc awsxacct_unshare(step_ctx *ctx, step_result *res, const char *sid) { return unshare(ctx, res, sid, false); }
step_rc awsxacct_share_cluster(step_ctx *ctx, step_result *res, const char *sid) { return share(ctx, res, sid, true); }
step_rc awsxacct_unshare_cluster(step_ctx *ctx, step_result *res, const char *sid)
{
    return unshare(ctx, res, sid, true);
}

step_rc awsxacct_unshare_kept(step_ctx *ctx, step_result *res, const char *suffix, bool cluster)
{
    char sid[64];
    awsstep_name(ctx, suffix, sid, sizeof sid);
    return unshare(ctx, res, sid, cluster);
}
