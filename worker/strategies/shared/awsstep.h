/* awsstep — helpers shared by steps that drive AWS: error → step_rc,
 * waiting on the fleet poller's cache, resource names, tags. */
#ifndef FC_STRATEGY_AWSSTEP_H
#define FC_STRATEGY_AWSSTEP_H

#include "aws.h"
#include "rds.h"
#include "step.h"

#include <stdio.h>

/* A step that cannot act on this attempt (its instance lease was lost, or
 * no AWS client): RETRY with that reason. */
#define LEASE_LOST(res) (snprintf((res)->reason, sizeof (res)->reason, "lease lost"), STEP_RETRY)
#define NO_CLIENT(res) (snprintf((res)->reason, sizeof (res)->reason, "no AWS client"), STEP_RETRY)

/* Map a failed AWS call to RETRY (throttling, transient) or FAIL (auth,
 * permanent, not found), with "what: code: message" as the reason. */
step_rc awsstep_fail(step_result *res, const aws_error *e, const char *what);
/* Wait until the poller saw resource kind:id (after the fact since_fact, a
 * wall-clock ms recorded when we acted) in one of the ok statuses (NULL-
 * terminated); a bad status fails. Returns OK, FAIL or WAIT (with wait_on
 * and a wait time aligned on the next planned poll). */
step_rc awsstep_await(step_ctx *ctx, step_result *res, const char *kind, const char *id,
                      const char *since_fact, const char *const *ok, const char *const *bad,
                      step_cache_view *view);
/* res->wait_on = "kind:id" for the fleet poller, or none (a timed wait)
 * for a resource in the target account of a cross-account move. Waits on
 * such resources (awsstep_await) are answered by the step's own Describe
 * through the target account's client (shared/awsxacct.h). */
void awsstep_wait_on(step_ctx *ctx, step_result *res, const char *kind, const char *id);
/* Name of our resource: fc-<campaign>-<instance>-<suffix> (see step.h). */
void awsstep_name(step_ctx *ctx, const char *suffix, char *out, size_t cap);
/* Tags every resource we create carries. Fills up to cap tags, returns n. */
size_t awsstep_tags(step_ctx *ctx, const char *role, aws_tag *tags, size_t cap);
/* After the switch: the encrypted instance now serving under `id` loses the
 * role tag encrypted-target (the only role the worker's IAM policy lets it
 * delete, so an abort can remove an unswitched copy) and becomes
 * fleetcrypt:role=encrypted. Idempotent (fact "target_promoted"). */
step_rc awsstep_promote_target(step_ctx *ctx, step_result *res, const char *id);
/* Record "<fact> = now (ms)". */
void awsstep_mark(step_ctx *ctx, const char *fact);
int64_t awsstep_fact_i64(step_ctx *ctx, const char *fact, int64_t dflt);
/* Does key (id or ARN) name the same KMS key as want (ARN)? */
bool awsstep_same_key(const char *key, const char *want);

/* Preflight's key verdict, shared by offline and pg-logical. Records the
 * audit facts source_encrypted ("1"/"0"), source_kms (the source's key ARN,
 * "" when unencrypted) and source_key_manager (KMS DescribeKey's KeyManager
 * of that key: AWS or CUSTOMER; "" when unencrypted, "unknown" when KMS
 * refuses to say), then, with verdict: STEP_SKIP when the source is
 * encrypted with the campaign key, or with another key and rekey is false
 * (the reason names the key and says `--<rekey_flag>` moves it); STEP_OK
 * when it is eligible (unencrypted, or re-keyed: fact rekey_from = the old
 * key). STEP_RETRY when KMS throttles or fails transiently. */
step_rc awsstep_source_key(step_ctx *ctx, step_result *res, aws_client *c, const rds_instance *i, bool rekey,
                           const char *rekey_flag, bool verdict);

/* The same verdict from a source's encryption alone (clusters too):
 * encrypted, its key ARN ("" for an AWS owned key: source_key_manager
 * AWS_OWNED) and StorageEncryptionType (fact source_encryption_type). */
typedef struct awsstep_key_src {
    bool encrypted;
    const char *kms;
    const char *enc_type;
} awsstep_key_src;
step_rc awsstep_key_verdict(step_ctx *ctx, step_result *res, aws_client *c, const awsstep_key_src *src, bool rekey,
                            const char *rekey_flag, bool verdict);

/* ---- the source → encrypted copy → restore path shared by offline and
 * pg-logical (names fc-<campaign>-<instance>-snap / -enc) ---- */
extern const char *const awsstep_st_available[]; /* {"available"} */
extern const char *const awsstep_st_bad_db[];    /* DB instance statuses that fail a wait */
extern const char *const awsstep_st_bad_snap[];  /* snapshot statuses that fail a wait */

/* The source's settings a restore recreates, as facts: class engine
 * storage_type storage_gb subnet_group sgs param_group option_group multi_az
 * port address backup_retention deletion_protection public tags. */
void awsstep_learn_source(step_ctx *ctx, const rds_instance *i);
/* The instance's VPC security groups as "sg-1,sg-2" (cut to cap). */
void awsstep_sgs_text(const rds_instance *i, char *out, size_t cap);
/* The user tags that travel to a copy (not aws:, not fleetcrypt:; the
 * first 20) as "key\tvalue\n" lines; false when they do not fit cap. */
bool awsstep_user_tags_text(const rds_instance *i, char *out, size_t cap);
/* Fill tags[] from such a "key\tvalue\n" fact after the n tags already
 * there; returns the new count (at most cap). */
size_t awsstep_tags_from_fact(step_ctx *ctx, const char *fact, aws_tag *tags, size_t n, size_t cap);
/* What a create, restore or replica call carries over from the source: the
 * tags of `role` plus the source's user tags (fact tags_fact), and the VPC
 * security group ids of `sgs` ("sg-1,sg-2", NULL = none; the first 16), as
 * the arrays the rds_*_opts take. Owns its storage; sgv points into sgbuf,
 * so use it where it was filled (no copies). */
typedef struct awsstep_carry {
    aws_tag tags[24];
    size_t ntags;
    char sgbuf[512];
    const char *sgv[16];
    size_t nsg;
} awsstep_carry;
void awsstep_carry_fill(awsstep_carry *cr, step_ctx *ctx, const char *role, const char *tags_fact, const char *sgs);

/* What differs between the strategies' snapshot and copy steps. */
typedef struct awsstep_snap_spec {
    bool copy;          /* false: CreateDBSnapshot of `of` → -snap; true: CopyDBSnapshot -snap → -enc
                         * with the campaign's KMS key */
    const char *of;     /* the instance snapshotted (copy=false) */
    bool must_be_ours;  /* a snapshot found under our name must carry our fleetcrypt:instance tag (else
                         * FAIL) and is awaited through the poll cache; otherwise one found available
                         * completes the step at once */
    const char *busy;   /* reason prefix while the instance/snapshot is busy (STEP_WAIT) */
    bool record_done;   /* once awaited available: facts snapshot / enc_snapshot = its id */
    bool quota_facts;   /* when created: fact q_snap (offline's quota reservation) */
} awsstep_snap_spec;
/* Look, create, wait on the cache (facts snap_at / copy_at): STEP_OK once
 * the snapshot (the copy: encrypted) is available, STEP_WAIT meanwhile. */
step_rc awsstep_snapshot_like(step_ctx *ctx, step_result *res, const awsstep_snap_spec *sp);
/* RestoreDBInstanceFromDBSnapshot of `snapshot` as `id` with the learnt
 * source settings (awsstep_learn_source; its backup retention included),
 * deletion_protection as given
 * (0/1/RDS_UNSET), our tags (role encrypted-target) and the user tags; facts
 * target_backup_retention, restore_arn (the new instance's ARN), restore_at. STEP_WAIT on db:<id> when started or
 * already there; with quota_facts, fact q_inst when started. */
step_rc awsstep_start_restore(step_ctx *ctx, step_result *res, const char *id, const char *snapshot,
                              int deletion_protection, bool quota_facts);
/* ModifyDBInstance backup retention (when the restore's answer shows
 * another: a resumed restore, an API without the member), fact
 * configure_at: STEP_WAIT on db:<id> when requested or while it is busy. */
step_rc awsstep_set_backup_retention(step_ctx *ctx, step_result *res, const char *id, int want);

/* ---- instances, shared by pg-logical and mysql-binlog ---- */
/* DescribeDBInstances of id: NULL with *missing (not found: *rc STEP_FAIL,
 * reason "instance <id> not found") or *rc (AWS failure). */
rds_instance *awsstep_describe(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc);
/* Preflight's Describe of the source: awsstep_describe, answered together
 * with this worker's other preflights of the campaign that come within
 * AWSSTEP_PREFLIGHT_BATCH_MS of each other (one filtered Describe for them:
 * awsmemo_describe_instance, under the key awsstep_preflight_memo). */
#define AWSSTEP_PREFLIGHT_BATCH_MS 150
void awsstep_preflight_memo(step_ctx *ctx, char *out, size_t cap);
rds_instance *awsstep_describe_preflight(step_ctx *ctx, step_result *res, const char *id, bool *missing,
                                         step_rc *rc);
bool awsstep_has_tag(const rds_instance *i, const char *key, const char *value);
/* Does i carry this campaign's and instance's tags (and role, when given)? */
bool awsstep_is_ours(step_ctx *ctx, const rds_instance *i, const char *role);
/* The deadline budget of calls made with the caller's writers blocked
 * until deadline (fc_mono_ms; 0 or past: the standard policy only): from
 * now on every call on c that fails for now — throttled, 5xx, unanswered
 * and, with busy, refused as busy (AWS did nothing) — is sent again until
 * then (aws_client_retry_until, short backoff), the step's lease asked
 * before each try, rather than ending the step, whose backoff would be the
 * writers'. *prev gets the setting replaced: put it back after the calls
 * (aws_client_retry_until(c, prev, NULL)); nested settings stack so. */
void awsstep_blocked_budget(step_ctx *ctx, aws_client *c, int64_t deadline, bool busy, aws_retry_until *prev);
/* ModifyDBInstance --new-db-instance-identifier, applied now: STEP_OK once
 * requested, STEP_WAIT while the instance is busy. */
step_rc awsstep_rename(step_ctx *ctx, step_result *res, const char *from, const char *to);
/* awsstep_rename for a caller whose writers are blocked until deadline
 * (fc_mono_ms; 0 or past: awsstep_rename): the rename throttled, failing
 * with a 5xx, unanswered or refused as busy is sent again by the AWS client
 * until then (aws_client_retry_until, short backoff; the step's lease
 * asked before each try) rather than ending the step; a lost answer whose
 * retry finds `from` gone is done when `to` exists (rds_rename_carried_out).
 * For a swap that renames before it looks: a `from` that does not exist
 * (*gone) or a `to` still taken (*taken: AWS frees a name only once its
 * rename is applied) is reported, STEP_OK, instead of failed (after an
 * ambiguous retry either can be the call's own effect: the caller looks
 * then). *pending (optional): the answer shows the rename not applied yet
 * (AWS keeps `from` taken until it is: a swap's second rename sent now
 * would be refused). */
step_rc awsstep_rename_try(step_ctx *ctx, step_result *res, const char *from, const char *to, int64_t deadline,
                           bool *gone, bool *taken, bool *pending);
/* In-run poll until id is available with an endpoint (and our role) or the
 * deadline (fc_mono_ms clock) passes (then STEP_WAIT on db:<id>). *out
 * holds the identifier, status, endpoint, port and fleetcrypt's
 * campaign, instance and role tags (an answer another worker's look
 * published holds only those). The first
 * look goes just after the end this wait took before (step_ctx_opdur, op
 * "<strategy>.<step>.await.<g>"; else fact await_seen_ms), which it learns.
 * This process's awaits of the campaign's instances share their looks
 * (awsmemo_await_*, key: campaign, region, account): a look at every
 * instance awaited, asked at once by whichever is due first, stands for
 * another's look due within AWSSTEP_AWAIT_FRESH_PCT % of its pause after
 * (never for a first look with nothing learnt, nor before the expected
 * end), and each plans its looks onto the others' (awsmemo_await_plan:
 * a look another plans from a quarter before its expected end up to its
 * own due is its look; never later than its own plan). With nothing
 * learnt, an await that begins while another under its key found its
 * first look (at once) early skips that look: its first is after the
 * first pause. Awaits in other worker processes share their looks through
 * the campaign's look board (lib/store/store_looks.h): a look includes
 * the instances awaited there and publishes what it saw of them, a look
 * begun there is waited for rather than asked again, and looks are
 * planned onto the other workers' planned ones (BOARD_LAG_MS after them,
 * never later than the own due). */
#define AWSSTEP_AWAIT_FRESH_PCT 25
step_rc awsstep_await_instance(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                               rds_instance **out);
/* awsstep_await_instance for a rename to id the caller has just sent and
 * AWS answered as not applied yet (awsstep_rename_try's *pending): no look
 * at once, which could only find the rename pending (AWS applies one in
 * seconds at best); the first look is after the first pause, or at the
 * learnt end as always. */
step_rc awsstep_await_renamed(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                              rds_instance **out);
/* Delete our snapshots fc-<campaign>-<instance>-<sfx[k]> (only ones tagged
 * with our fleetcrypt:instance): STEP_OK when gone, WAIT while one settles. */
step_rc awsstep_delete_snapshots(step_ctx *ctx, step_result *res, const char *const *sfx, size_t n);
/* Tag a retired source (instance or cluster) by its ARN: our tags with
 * role, and fleetcrypt:original-id = the instance's name. */
step_rc awsstep_tag_retired(step_ctx *ctx, step_result *res, aws_client *c, const char *arn, const char *role);
/* The retired source instance rid: tagged role (+ fleetcrypt:original-id)
 * and stopped (fact stop_at; awaited through the poll cache); one with read
 * replicas attached keeps running (fact retired_running). STEP_WAIT while
 * it stops. The first run (intent fact retire_try) stops it without
 * describing it and tags it by the ARN the stop answered (facts retired_arn,
 * retire_tagged); a refused stop or a later run describes it first. */
step_rc awsstep_retire_instance(step_ctx *ctx, step_result *res, const char *rid, const char *role);

#endif
