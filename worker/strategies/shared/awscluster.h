/* awscluster — an Aurora PostgreSQL cluster as one source, shared by the
 * strategies' steps (offline today; pg-logical builds on the same facts):
 * telling a cluster from an instance, learning the cluster and its members
 * as facts, renaming and stopping it, its cluster snapshot, the restore with
 * the campaign key and the members re-created into it. Waits describe the
 * cluster directly (the fleet poller caches instances and instance
 * snapshots only). Across accounts (--target-account-role) every call on
 * the target cluster, its members or the copied snapshot goes to the
 * target account's client (awsxacct_client_for).
 *
 * Facts: kind = "cluster"; members = one line per member, the writer first,
 * "id\twriter(1/0)\ttier\tclass\tparam_group\n"; member_tags = "member\tkey\t
 * value\n" lines (user tags only); cluster_param_group, engine_version, and
 * the instance facts subnet_group sgs port backup_retention
 * deletion_protection tags engine; q_inst = the member count, q_snap = 1,
 * q_clu = 1 (lowered to 0 when created). */
#ifndef FC_STRATEGY_AWSCLUSTER_H
#define FC_STRATEGY_AWSCLUSTER_H

#include "awsstep.h"

#define AWSCLUSTER_MAX_MEMBERS 16

typedef struct awscluster_member {
    char id[64];
    bool writer;
    int tier;
    char cls[48];
    char param_group[256];
} awscluster_member;

/* Is this instance record a cluster (fact kind, set by preflight)? */
bool awscluster_is(step_ctx *ctx);
/* Preflight's question: is id (or our retired name for it) a DB cluster?
 * 1 yes (*renamed when found under the retired name), 0 no, -1 AWS error
 * (res filled: the step returns *rc). */
int awscluster_probe(step_ctx *ctx, step_result *res, aws_client *c, const char *id, bool *renamed, step_rc *rc);
/* The members fact, parsed (writer first); returns the count. */
size_t awscluster_members(step_ctx *ctx, awscluster_member *m, size_t cap);
/* Retired name of a source member: fc-<campaign>-<member>-retired. */
void awscluster_member_retired(step_ctx *ctx, const char *member, char *out, size_t cap);

/* The cluster preflight: engine, key verdict (rekey), status, members
 * learnt (DescribeDBInstances of each), quota facts. */
step_rc awscluster_preflight(step_ctx *ctx, step_result *res, bool renamed, bool rekey, const char *rekey_flag,
                             const char *engine_prefix);
/* --target-account-role: cluster cl's move into the target account judged
 * before anything changes (awsxacct_preflight_cluster with its members'
 * parameter groups from the members fact; logical: pg-logical's
 * rds.logical_replication=1 in the target's cluster parameter group). */
step_rc awscluster_xacct_preflight(step_ctx *ctx, step_result *res, const rds_cluster *cl, bool logical);
/* Rename the source cluster to `to` (starting it when stopped), wait until
 * it is available under that name, then rename each source member to its
 * retired name (the new members take the old names). Fact renamed_at. */
step_rc awscluster_rename_source(step_ctx *ctx, step_result *res, const char *to);
/* Stop cluster id and wait until it is stopped (fact stop_at). */
step_rc awscluster_stop(step_ctx *ctx, step_result *res, const char *id);
/* CreateDBClusterSnapshot of cluster `of` as snap_id (our tags); STEP_OK
 * once available, STEP_WAIT meanwhile (fact snap_at). */
step_rc awscluster_snapshot(step_ctx *ctx, step_result *res, const char *of, const char *snap_id);
/* Across accounts: cluster snapshot snap_id shared with the target account
 * (ModifyDBClusterSnapshotAttribute restore), then copied there by its ARN
 * as enc_id (the campaign key when it is encrypted; an unencrypted one is
 * copied as it is and the restore encrypts). STEP_OK once the copy is
 * available (fact enc_snapshot), STEP_WAIT meanwhile. */
step_rc awscluster_copy_to_target(step_ctx *ctx, step_result *res, const char *snap_id, const char *enc_id);
/* RestoreDBClusterFromSnapshot as id with the campaign key and the learnt
 * settings, then CreateDBInstance of the writer and every reader (same
 * names, classes, parameter groups, tiers, tags); STEP_OK once all are
 * available and the cluster is encrypted with the campaign key. Facts
 * restore_at, q_clu/q_inst lowered, target_kms, downtime_s (field). */
step_rc awscluster_restore(step_ctx *ctx, step_result *res, const char *id, const char *snap_id);
/* awscluster_restore with member names fc-<campaign>-<member>-<member_sfx>
 * (the member's own name when member_sfx is NULL) and, unless protect, no
 * deletion protection (pg-logical: abort must be able to delete the target;
 * awscluster_protect applies it at cleanup). */
step_rc awscluster_restore_as(step_ctx *ctx, step_result *res, const char *id, const char *snap_id,
                              const char *member_sfx, bool protect);
/* A member's name with fleetcrypt's suffix (fc-<campaign>-<member>-<sfx>), or member itself when sfx is NULL. */
void awscluster_member_name(step_ctx *ctx, const char *member, const char *sfx, char *out, size_t cap);
/* What a restore cannot take: backup retention (ModifyDBCluster). */
step_rc awscluster_configure(step_ctx *ctx, step_result *res, const char *id);
/* Tag cluster id (the retired source) with role and original id. */
step_rc awscluster_tag(step_ctx *ctx, step_result *res, const char *id, const char *role);
/* The target cluster and its members: role encrypted-target → encrypted
 * (fact target_promoted). */
step_rc awscluster_promote(step_ctx *ctx, step_result *res, const char *id);
/* Delete cluster snapshot snap_id (gone already is fine; fact deleted_snap). */
step_rc awscluster_delete_snapshot(step_ctx *ctx, step_result *res, const char *snap_id);
/* The same with its own done fact (a second snapshot: a cross-account move's copy -enc in the target
 * account, reached through awsxacct_client_for). */
step_rc awscluster_delete_snapshot_as(step_ctx *ctx, step_result *res, const char *snap_id, const char *done_fact);


/* ---- the pg-logical swap: the target cluster takes the source's identifier ---- */
/* Describe cluster id: NULL with *missing (not found, *rc STEP_OK) or *rc. */
rds_cluster *awscluster_describe(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc);
/* Does cluster cl carry this campaign's and unit's tags (and role, when given)? */
bool awscluster_is_ours(step_ctx *ctx, const rds_cluster *cl, const char *role);
/* ModifyDBCluster --new-db-cluster-identifier, applied now: STEP_OK once
 * requested; STEP_WAIT while the cluster is busy. */
step_rc awscluster_rename(step_ctx *ctx, step_result *res, const char *from, const char *to);
/* awscluster_rename for a caller whose writers are blocked until deadline
 * (fc_mono_ms; 0 or past: awscluster_rename): a rename throttled, failing
 * with a 5xx, unanswered or refused as busy is sent again until then
 * (awsstep_blocked_budget) rather than ending the step; a lost answer whose
 * retry finds `from` gone is done when `to` exists (rds_rename_carried_out). */
step_rc awscluster_rename_try(step_ctx *ctx, step_result *res, const char *from, const char *to, int64_t deadline);
/* After the cluster swap: each source member (now in cluster `retired`) is
 * renamed to its retired name, then the new member fc-<campaign>-<member>-
 * <sfx> (in `cluster`) takes the member's name. STEP_OK once every member
 * name is in `cluster` and available; STEP_WAIT meanwhile. */
step_rc awscluster_swap_members(step_ctx *ctx, step_result *res, const char *retired, const char *cluster,
                                const char *sfx);
/* Delete cluster id (its members first) when it carries our tags and role;
 * STEP_OK once it is gone, STEP_WAIT meanwhile, STEP_FAIL when not ours. */
step_rc awscluster_delete_ours(step_ctx *ctx, step_result *res, const char *id, const char *role);
/* Deletion protection on cluster id when the source had it (fact deletion_protection). */
step_rc awscluster_protect(step_ctx *ctx, step_result *res, const char *id);

/* RDS Proxies in front of the cluster (the cluster forms of awsproxy.h,
 * awsproxy.c; facts proxy_names, proxy_skipped; docs/clusters.md, *RDS
 * Proxy in front of a cluster*). learn (preflight): every proxy whose
 * target group has cluster id, or the proxies `named` (a comma-separated
 * list, each checked), as fact proxy_names; with required, none is a
 * failure. switch: after the renames, each recorded proxy (and, unless
 * named, any proxy that has the old cluster `ret` or the identifier by
 * then) from ret to the new cluster under orig, awaited until its writer
 * target is AVAILABLE (bounded by deadline, WAIT past it). roll_back
 * (abort): cluster id back on a recorded proxy that lost it (and tid, the
 * never-switched new cluster, off it). */
step_rc awscluster_proxy_learn(step_ctx *ctx, step_result *res, const char *id, const char *named, bool required);
step_rc awscluster_proxy_switch(step_ctx *ctx, step_result *res, const char *orig, const char *ret, bool named,
                                int64_t deadline);
step_rc awscluster_proxy_roll_back(step_ctx *ctx, step_result *res, const char *id, const char *tid);

/* ---- the snapshot-restore-swap path shared by pg-logical and mysql-binlog ---- */
/* The target cluster tid restored from snap_id (members fc-<campaign>-<member>-<member_sfx>, no deletion
 * protection), backup retention configured; facts target_id, target_address/port (its cluster endpoint),
 * target_arn, target_kms, restored_at. STEP_WAIT until all of it is there. */
step_rc awscluster_restore_target(step_ctx *ctx, step_result *res, const char *tid, const char *snap_id,
                                  const char *member_sfx);
/* Bounded in-run poll until cluster id is available with an endpoint and, with role, our tags; its
 * endpoint into facts hf/pf. STEP_WAIT past deadline (fc_mono_ms clock). */
step_rc awscluster_await(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                         const char *hf, const char *pf);
/* Has the swap happened (orig names our cluster of role), or only its first half (ret exists)? */
step_rc awscluster_switched(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *role,
                            bool *switched, bool *half);
/* The cluster rename swap: source orig → ret, target tid → orig (cluster and reader endpoints follow the
 * name), then the RDS Proxies in front of it switched (awscluster_proxy_switch; proxy_named: the campaign
 * named them), bounded by deadline; facts retired_address/port, target_address/port, target_id, retired_id.
 * Writers are blocked: every call in it runs under awsstep_blocked_budget (the renames' busy answers too). */
step_rc awscluster_switch(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                          const char *role, bool proxy_named, int64_t deadline);
/* The running source cluster (the campaign unit's identifier): available
 * with an endpoint, else *rc FAIL (stopped: `strategy` needs it running,
 * not found) or WAIT; when available its endpoint and master user are
 * facts (address port master_user master_secret_arn source_arn). Returns
 * the cluster (caller frees) whenever it was described. */
rds_cluster *awscluster_live_source(step_ctx *ctx, step_result *res, const char *strategy, step_rc *rc);
/* Abort: a source cluster renamed to ret goes back to orig (STEP_WAIT while it renames; STEP_OK once orig
 * exists). */
step_rc awscluster_roll_back(step_ctx *ctx, step_result *res, const char *orig, const char *ret);
/* After the switch: id (now the encrypted cluster) and its members promoted, deletion protection as the
 * source had it, the cluster snapshot deleted unless kept, the retired cluster ret tagged role_retired
 * (facts protect_done, retired_tagged). Stopping ret is the caller's (awscluster_stop). */
step_rc awscluster_retire(step_ctx *ctx, step_result *res, const char *id, const char *ret, const char *snap_id,
                          bool keep_snapshot, const char *role_retired);

#endif
