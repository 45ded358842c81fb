/* pglogical_common — what every pg-logical step shares (the definitions:
 * session.c, options.c, watch.c, instances.c; one file per step beside): campaign options,
 * the per-instance names (AWS identifiers and database object names), the
 * database list, credentials resolved through the campaign's --db-secret
 * (held only for the step, wiped after), libpq connections to the source
 * and the target as the master user or as fleetcrypt's admin role, SQL
 * error → step_rc, the source watch (retained WAL, DDL guard, database set,
 * subscription health) and the jump to `abort`.
 *
 * Facts these helpers read: address, port (source endpoint), target_address,
 * target_port, retired_address, retired_port, dbs, master_user,
 * master_secret_arn, master_secret_version, role_secret_version, target_id,
 * storage_gb, switched.
 *
 * The source's RDS-managed master secret may rotate during a campaign
 * (docs/pg-logical.md, "Credentials"): the master user's connections use the
 * current version; fleetcrypt's role passwords derive from the version
 * pinned at prepare-source (fact role_secret_version); before the first
 * master-user connection to the target in a step, a version newer than the
 * target's (fact master_secret_version) is set on it first (lib/msecret.h)
 * and the step WAITs until the target applied it. */
#ifndef FC_STRATEGY_PGLOGICAL_COMMON_H
#define FC_STRATEGY_PGLOGICAL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbsecret.h"
#include "msecret.h"
#include "pglogical_logic.h"
#include "pgq.h"
#include "pgl_db.h"
#include "rds.h"
#include "step.h"

#define PGL_MAX_DBS 64
/* res->reason = printf(fmt, ...), truncated to fit. */
void pgl_reason(step_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define PGL_REASON(res, ...) pgl_reason((res), __VA_ARGS__)

/* AWS names: fc-<campaign>-<instance>-<suffix> */
#define PGL_SFX_SNAP "snap"       /* snapshot of the running source */
#define PGL_SFX_ENC "enc"         /* its encrypted copy */
#define PGL_SFX_TARGET "target"   /* the restored instance until the switch */
#define PGL_SFX_RETIRED "retired" /* the source after a rename swap */

/* Tag values on what fleetcrypt creates (key fleetcrypt:role). */
#define PGL_ROLE_TARGET "encrypted-target"
#define PGL_ROLE_RETIRED "retired-source"

typedef enum { PGL_SOURCE = 0, PGL_TARGET, PGL_RETIRED } pgl_side;
typedef enum { PGL_AS_MASTER = 0, PGL_AS_ADMIN } pgl_who;

typedef struct pgl_session {
    step_ctx *ctx;
    step_result *res;
    char tag[PGL_TAG_MAX + 1];
    char *dbs[PGL_MAX_DBS];     /* from the fact "dbs" */
    int ndbs;
    db_credentials *cred;       /* the master user's (current secret version); NULL until needed */
    char cred_version[128];     /* the secret version cred came from ("" unless rds-managed) */
    bool target_checked;        /* the target's master password was checked against cred this step */
    char admin_pw[65];          /* derived from the master password of role_secret_version */
    char sub_pw[65];
    pgq *conn[3][2][PGL_MAX_DBS]; /* side × who × database, opened on demand */
    pgq *extra[8];              /* connections to databases not in dbs (preflight) */
    bool fenced[3];             /* this step took the side's database fence (pgl_fence) */
    int nextra;
    int64_t answer_by;          /* pgl_session_answer_by: applied to every connection; 0 = none */
} pgl_session;

/* ---- the session (session.c) ---- */
/* Start/finish a step's session (tag, database list). Credentials are
 * resolved on the first connection. Never fails. */
void pgl_session_init(pgl_session *s, step_ctx *ctx, step_result *res);
/* Close every connection, wipe the credentials and passwords. */
void pgl_session_finish(pgl_session *s);
/* Bound every connection of the session, open or opened later, to answer
 * by mono_ms (pgq_set_answer_by): a server that stops answering while the
 * writers are blocked must not keep them blocked. 0 lifts the bound. */
void pgl_session_answer_by(pgl_session *s, int64_t mono_ms);

/* Names of fleetcrypt's objects in database db. */
bool pgl_names(pgl_session *s, const char *db, pgl_db_names *nm);
/* Connection (cached for the step) to database db on a side as master or
 * admin; NULL with res->reason set (and *rc = RETRY or FAIL; WAIT with
 * wait_on db:<target> while the target takes the rotated master password). */
pgq *pgl_conn(pgl_session *s, pgl_side side, pgl_who who, const char *db, step_rc *rc);
/* pgl_names of db, then pgl_conn to it: NULL with *rc (STEP_FAIL when the
 * names cannot be made). */
pgq *pgl_names_conn(pgl_session *s, const char *db, pgl_side side, pgl_who who, pgl_db_names *nm, step_rc *rc);
/* Every new connection is checked to reach the server its side means
 * (system identifier + fleetcrypt's marker, lib/pgfence.h; facts sysid,
 * source_marker, target_marker): pgl_conn returns NULL with STEP_WAIT while
 * a name still reaches the other side's server after a rename, STEP_FAIL for
 * a server that is neither.
 *
 * The database fence (lib/pgfence.h), on the admin connection to dbs[0]:
 * pgl_fence takes it for this run's fencing number (STEP_RETRY "fenced out"
 * when a newer holder has acted there); pgl_fenced_begin opens a transaction
 * in which the fence is ours (commit with pgl_fenced_commit; on failure the
 * transaction is rolled back and NULL returned with *rc). The drained mark:
 * the cutover drained every slot with writers blocked ever since. */
step_rc pgl_fence(pgl_session *s, pgl_side side);
pgq *pgl_fenced_begin(pgl_session *s, pgl_side side, bool *drained, step_rc *rc);
step_rc pgl_fenced_commit(pgl_session *s, pgq *q);
/* Block a side's writers (the cutovers' and the rollback's block,
 * db/pgl_db.h pgl_cutover_block): the side's fence taken, every login role
 * but the protected ones (real superusers other than the master user) made
 * NOLOGIN and its sessions ended, bounded by timeout_ms; *lsn the side's
 * WAL position after, *roles how many are blocked (either may be NULL). */
step_rc pgl_block_writers(pgl_session *s, pgl_side side, int timeout_ms, fc_lsn *lsn, int *roles);
step_rc pgl_fence_drained(pgl_session *s, pgl_side side, bool *drained);
step_rc pgl_fence_mark_drained(pgl_session *s, pgl_side side, bool drained);
/* Close one cached connection (e.g. before a rename moves an endpoint). */
void pgl_conn_drop(pgl_session *s, pgl_side side, pgl_who who, const char *db);
/* Resolve the master credentials now (needed for subscription passwords):
 * the current secret version for the master user, the pinned one
 * (role_secret_version) for fleetcrypt's role passwords. */
bool pgl_ensure_creds(pgl_session *s, step_rc *rc);
/* What both subscribe paths (subscribe.c, initial_copy.c) begin with: the
 * session's watch of the source and target, the source's endpoint into
 * host/port and the credentials; STEP_OK or the rc (reason set). */
step_rc pgl_sub_begin(pgl_session *s, char *host, size_t hcap, int *port);
/* The subscription's connection back to the source for database `db`: as
 * fleetcrypt's replication role, TLS as configured. Borrows every string. */
void pgl_sub_conninfo(const pgl_session *s, const pgl_db_names *nm, const char *host, int port, const char *db,
                      pgq_conninfo *out);
/* Connection info of a side (host, port) from the facts; false if unknown. */
bool pgl_endpoint(pgl_session *s, pgl_side side, char *host, size_t hcap, int *port);
/* libpq sslmode / root certificate for every connection (options.c): pgq_default_sslmode()
 * and pgq_default_sslrootcert() (default verify-full with FLEETCRYPT_RDS_CA_BUNDLE). */
const char *pgl_sslmode(void);
const char *pgl_sslrootcert(void);

/* A failed data-plane call: RETRY for connection/transient SQLSTATEs
 * (08, 57P, 53, 40), FAIL otherwise; reason = "what: err". */
step_rc pgl_sql_fail(step_result *res, const pgq *q, const char *what, const char *err);

/* ---- facts and options (options.c) ---- */
/* Campaign options. pgl_cfield: the campaign field `name`; when the record
 * has no such field, the same option from the campaign's "spec" JSON as the
 * CLI stores it today (cutover_mode ← "cutover", cutover_method ←
 * "cutover-method", db_secret ← "db-secret", replica_identity_full ←
 * "replica-identity-full", allow_reboot ← "allow-reboot", others by the same
 * name); "" when unset. The pointer is valid until 16 more calls on this thread. */
const char *pgl_cfield(step_ctx *ctx, const char *name);
bool pgl_opt(step_ctx *ctx, const char *field);               /* truthy campaign field */
int64_t pgl_opt_bytes(step_ctx *ctx, const char *field, int64_t dflt);
const char *pgl_fact(step_ctx *ctx, const char *name);        /* "" when unset */
int64_t pgl_fact_i64(step_ctx *ctx, const char *name, int64_t dflt);

/* msecret_follow (lib/msecret.h) onto the target tid: describe it, check
 * the lease, follow. STEP_OK with *mr; STEP_WAIT on db:<tid> ("<busy>:
 * why") while the target is not available or busy — with need_available
 * before anything is read; RETRY/FAIL ("<what>: code: message") otherwise. */
step_rc pgl_msecret_follow(step_ctx *ctx, step_result *res, const char *tid, const char *arn, const char *have,
                           bool need_available, const char *busy, const char *what, msecret_result *mr);

/* Jump to the abort step, recording why (fact abort_reason). */
step_rc pgl_abort_now(step_ctx *ctx, step_result *res, const char *why);

/* ---- the watch (watch.c) ---- */
/* The source watch, run by every step between prepare-source and the
 * cutover's block: retained WAL vs the campaign limit and free storage,
 * the DDL guard, the set of databases; with check_sub, also lag per slot
 * (facts lag.<slot>, lag_bytes, retained_bytes, lag_at) and subscription
 * health on the target. Returns STEP_OK to go on; otherwise the rc to
 * return (NEXT → abort, RETRY, FAIL) with res filled. *max_lag gets the
 * largest lag (or -1) when check_sub. */
step_rc pgl_watch(pgl_session *s, bool check_sub, int64_t *max_lag);
/* ---- the rollback window (rollback.c) ---- */
/* --rollback-window in seconds, 0 when off. */
int64_t pgl_rollback_window_s(step_ctx *ctx);
/* At the cutover, target still blocked after the switch: the reverse
 * replication (publication and slot on the target, subscription on the old
 * source). Nothing without the option. */
step_rc pgl_reverse_setup(pgl_session *s);
/* The reverse replication's objects gone on both sides (fact rb_reverse=0). */
step_rc pgl_reverse_finalize(pgl_session *s);
/* pgl_watch without the subscription in a session of its own (snapshot,
 * copy-encrypted, restore: there is no subscription yet). */
step_rc pgl_watch_source(step_ctx *ctx, step_result *res);

/* snapshot (copy=false) of the running source, or its encrypted copy
 * (copy-encrypted), after the watch (snapshot.c). */
step_rc pgl_snapshot_like(step_ctx *ctx, step_result *res, bool copy);

/* Delete fleetcrypt's intermediate snapshots (only ones tagged as ours;
 * the callers check keep_snapshots): cleanup and abort (cleanup.c). */
step_rc pgl_delete_snapshots(step_ctx *ctx, step_result *res);

/* ---- comparisons of the source with the target (verify.c) ---- */
/* Per-table results for the audit report (fact verify_sums): one
 * "schema.table\trows\tchecksum" line per table, capped at PGL_SUMS_MAX
 * bytes; tables past the cap are counted in verify_sums_dropped. */
#define PGL_SUMS_MAX 60000
typedef struct pgl_sums_buf {
    dbuf b;
    int dropped;
} pgl_sums_buf;
/* Compare every database: the source side src_side (as admin) with
 * dst_conns[i], or the target as master when dst_conns is NULL; row counts
 * only with counts_only; within deadline (fc_mono_ms clock, 0 = none: past
 * it, STEP_FAIL with the reason saying so and *timed_out set when given).
 * Returns OK with *rows, *mism (the differing tables appended to list, sums
 * filled when given) or the rc of a failure. */
step_rc pgl_compare_all(pgl_session *s, pgl_side src_side, pgq **dst_conns, bool counts_only, int64_t deadline,
                        int64_t *rows, int *mism, dbuf *list, pgl_sums_buf *sums, bool *timed_out);
/* The verify facts (verify_done, verify_how, verify_mismatches,
 * verify_tables, rows_verified, verify_sums) and the field rows_verified. */
void pgl_record_verify(step_ctx *ctx, int64_t rows, int mism, const char *list, const char *how,
                       const pgl_sums_buf *sums);
/* The full comparison of the retired (frozen) source with the target — the
 * sessions pinned at the switch, or the live target when dst is NULL —
 * recorded as the verify facts (how). */
step_rc pgl_verify_full(pgl_session *s, pgq **dst, const char *how, int *mism, dbuf *list);

/* ---- RDS instances (shared/awsstep.h; instances.c) ---- */
#define pgl_describe awsstep_describe
#define pgl_has_tag awsstep_has_tag
#define pgl_is_ours awsstep_is_ours
#define pgl_rename awsstep_rename
#define pgl_await_instance awsstep_await_instance
/* Record what re-creating read replica number k (1-based) of the source
 * needs: facts replica.<k>.id class az multi_az param_group sgs port
 * storage_type tags (user tags, "key\tvalue\n" lines like fact `tags`;
 * read back with awsstep_tags_from_fact). */
void pgl_learn_replica(step_ctx *ctx, int k, const rds_instance *r);

/* Preflight, --cutover-method cname (preflight.c): the application's record
 * named for the source (campaign field cname or tag fleetcrypt:cname among
 * tags) found as a CNAME to address (an instance's Endpoint.Address, a
 * cluster's writer Endpoint; shared/awscname.c). STEP_OK at once for the
 * other methods. */
step_rc pgl_cname_learn(step_ctx *ctx, step_result *res, const aws_tag *tags, size_t ntags, const char *address);

/* ---- the switch (switch.c): the cutover's and the rollback's ---- */
typedef enum { PGL_METHOD_RENAME = 0, PGL_METHOD_PROXY, PGL_METHOD_CNAME } pgl_method;
typedef enum { PGL_TO_TARGET = 0, PGL_TO_SOURCE } pgl_switch_dir;
/* The campaign's cutover_method as the switch runs it (a cluster's proxy
 * method is its renames, the proxies following them: cluster.c). */
pgl_method pgl_cutover_method(step_ctx *ctx);
/* The RDS Proxies named for the switch: the campaign's proxy_name
 * (comma-separated), else an older attempt's fact proxy_name while no
 * proxy_names is recorded; "" means every proxy that has either side. */
const char *pgl_named_proxies(step_ctx *ctx);
/* The rename swap of one direction (the caller's: instance or cluster). */
typedef step_rc (*pgl_rename_fn)(void *arg, int64_t deadline);
/* The switch by the method, to the encrypted copy tid (PGL_TO_TARGET) or
 * back to the source orig (PGL_TO_SOURCE): proxies moved and the new target
 * AVAILABLE; the CNAME UPSERTed (its original value back) and INSYNC; else
 * rename(arg, deadline). *nproxies: proxies switched (0 for a proxy method
 * is the caller's failure to name). Bounded by deadline (fc_mono_ms). */
step_rc pgl_switch(step_ctx *ctx, step_result *res, pgl_switch_dir dir, const char *orig, const char *tid,
                   int64_t deadline, pgl_rename_fn rename, void *arg, int *nproxies);

/* ---- Aurora PostgreSQL clusters (cluster.c; fact kind=cluster, shared/awscluster.h) ---- */
/* The cluster's part of each step where it differs from an instance. */
step_rc pgl_cluster_preflight(step_ctx *ctx, step_result *res, bool renamed);
step_rc pgl_cluster_snapshot(step_ctx *ctx, step_result *res);
step_rc pgl_cluster_copy(step_ctx *ctx, step_result *res);
step_rc pgl_cluster_restore(step_ctx *ctx, step_result *res);
/* find-start-lsn: aurora_volume_logical_start_lsn() on the restored writer
 * (q: the target as master), checked; facts start_lsn, start_lsn_source. */
step_rc pgl_cluster_start_lsn(pgl_session *s, pgq *q);
/* The cutover's swap by cluster renames (orig → ret, tid → orig), bounded
 * by deadline; facts target_address/port, retired_address/port, target_id,
 * retired_id. pgl_cluster_switched: has it happened (*switched), or begun (*half)? */
step_rc pgl_cluster_switch(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                           int64_t deadline);
step_rc pgl_cluster_switched(step_ctx *ctx, step_result *res, const char *orig, const char *ret, bool *switched,
                             bool *half);
/* step replicas: the members take their names (fact replicas_done). */
step_rc pgl_cluster_members(step_ctx *ctx, step_result *res);
/* cleanup's AWS part: tags, deletion protection, snapshot, retired cluster stopped. */
step_rc pgl_cluster_finish(step_ctx *ctx, step_result *res);
/* abort: switch done? half swap renamed back; the target cluster; the snapshot. */
step_rc pgl_cluster_switch_done(step_ctx *ctx, step_result *res, bool *done);
step_rc pgl_cluster_roll_back(step_ctx *ctx, step_result *res);
step_rc pgl_cluster_target_exists(step_ctx *ctx, step_result *res, bool *exists);
step_rc pgl_cluster_delete_target(step_ctx *ctx, step_result *res);
step_rc pgl_cluster_delete_snapshot(step_ctx *ctx, step_result *res);
/* --allow-reboot's copy of the cluster parameter group undone: cluster id
 * (and id2 unless NULL) back on the source's own group, the copy deleted. */
step_rc pgl_cluster_param_restore(step_ctx *ctx, step_result *res, const char *id, const char *id2);

#endif
