/* awsxacct — cross-account moves (--target-account-role ARN, with
 * --target-external-id): the encrypted copy lives in another AWS account.
 * The source's snapshot (-snap) stays in the campaign's account and is
 * shared with the target account (ModifyDBSnapshotAttribute restore); the
 * copy (-enc, the target's KmsKeyId, the shared snapshot's ARN as source)
 * and the restored instance (-target) live in the target account, reached
 * through step_ctx_aws_target (a session that assumes the role, per worker
 * thread, renewed before expiry; no credential leaves it). The fleet poller
 * watches the campaign's account only: waits on target-side resources are
 * answered by the step's own Describe (awsstep_await).
 *
 * Facts: target_account (preflight: GetCallerIdentity through the role),
 * share_try (intent) / shared_at, unshared_at. */
#ifndef FC_STRATEGY_AWSXACCT_H
#define FC_STRATEGY_AWSXACCT_H

#include "aws.h"
#include "rds.h"
#include "step.h"

/* Does the resource id (one of ours: fc-<campaign>-<instance>-enc or
 * -target, a target cluster's member fc-<campaign>-<member>-target (fact
 * members), or the identifier in fact xacct_target_id: offline restores
 * the copy under the source's own identifier in the target account) live
 * in the target account? false when not cross-account. */
bool awsxacct_in_target(step_ctx *ctx, const char *id);
/* The client of the account id lives in (step_ctx_aws_target or step_ctx_aws). */
aws_client *awsxacct_client_for(step_ctx *ctx, const char *id);

/* Preflight of a cross-account move of source instance i (nothing
 * changes; the caller checks its cutover method): the role can be assumed
 * (fact target_account); the campaign key is in the target account and
 * enabled there; the source's key can be shared (not aws/rds, not an AWS
 * owned key; a customer managed key's policy lets the target account use
 * it); the source's subnet group and parameter group exist by name in the
 * target account. STEP_OK, or STEP_FAIL with a one-line reason, or
 * STEP_RETRY when AWS is busy. */
step_rc awsxacct_preflight(step_ctx *ctx, step_result *res, const rds_instance *i);
/* The same for an Aurora PostgreSQL cluster cl (its members' instance
 * parameter groups member_pgs[n]): role, campaign key, the source key
 * shareable and usable by the target account; the cluster's subnet group,
 * its cluster parameter group (with logical: rds.logical_replication=1, as
 * pg-logical's restored writer starts with the source's logical slots on
 * its volume) and the members' parameter groups by name in the target;
 * security groups mapped by name (fact target_sgs). */
step_rc awsxacct_preflight_cluster(step_ctx *ctx, step_result *res, const rds_cluster *cl,
                                   const char *const *member_pgs, size_t n, bool logical);

/* Share snapshot sid with the target account (idempotent; fact shared_at). */
step_rc awsxacct_share(step_ctx *ctx, step_result *res, const char *sid);
/* The shared snapshot's ARN, as the target's CopyDBSnapshot names it. */
void awsxacct_snapshot_arn(step_ctx *ctx, const char *sid, char *out, size_t cap);
/* Cleanup/abort: the target account removed from snapshot sid's restore
 * attribute (a snapshot already gone counts as unshared; fact unshared_at). */
step_rc awsxacct_unshare(step_ctx *ctx, step_result *res, const char *sid);
/* The same for DB cluster snapshot sid (ModifyDBClusterSnapshotAttribute;
 * facts shared_at, unshared_at) and its ARN (cluster-snapshot:sid). */
step_rc awsxacct_share_cluster(step_ctx *ctx, step_result *res, const char *sid);
step_rc awsxacct_unshare_cluster(step_ctx *ctx, step_result *res, const char *sid);
/* --keep-snapshots: the kept source snapshot fc-<campaign>-<instance>-<suffix>
 * (a cluster snapshot when cluster) is no longer shared with the target
 * account all the same (unsharing deletes nothing; a no-op in one account
 * or when it was never shared). */
step_rc awsxacct_unshare_kept(step_ctx *ctx, step_result *res, const char *suffix, bool cluster);
void awsxacct_cluster_snapshot_arn(step_ctx *ctx, const char *sid, char *out, size_t cap);

#endif
