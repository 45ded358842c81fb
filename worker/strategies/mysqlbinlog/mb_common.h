/* mb_common — what every mysql-binlog step shares (common.c, aws.c):
 * names, facts, credentials resolved through the campaign's --db-secret
 * (held only for the step, wiped after), MySQL connections to each side,
 * the source fence, SQL error → step_rc, replication status, and the RDS
 * helpers the steps need beyond worker/strategies/shared/awsstep.h.
 *
 * Facts these helpers read: address, port (the source's endpoint),
 * replica_address/port, target_address/port, retired_address/port,
 * master_secret_arn. */
#ifndef FC_STRATEGY_MB_COMMON_H
#define FC_STRATEGY_MB_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awsstep.h"
#include "dbsecret.h"
#include "dbuf.h"
#include "myq.h"
#include "rds.h"
#include "step.h"

void mb_reason(step_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define MB_REASON(res, ...) mb_reason((res), __VA_ARGS__)

/* AWS names: fc-<campaign>-<instance>-<suffix> (snap and enc: awsstep.c's) */
#define MB_SFX_REPLICA "replica"
#define MB_SFX_SNAP "snap"
#define MB_SFX_ENC "enc"
#define MB_SFX_TARGET "target"
#define MB_SFX_RETIRED "retired"
#define MB_ROLE_REPLICA "seed-replica"
#define MB_ROLE_TARGET "encrypted-target"
#define MB_ROLE_RETIRED "retired-source"

/* fleetcrypt's schema on the source (the fence): replicated to the seed
 * and the target, dropped at cleanup. */
#define MB_SCHEMA "fleetcrypt_fc"

typedef enum { MB_SOURCE = 0, MB_REPLICA, MB_TARGET, MB_RETIRED, MB_NSIDES } mb_side;

typedef struct mb_session {
    step_ctx *ctx;
    step_result *res;
    db_credentials *cred;
    myq *conn[MB_NSIDES];
    char repl_user[40];  /* fc_repl_<16 hex> */
    char repl_pw[48];    /* derived from the master password; never logged, never stored */
    int64_t answer_by;   /* mb_session_answer_by: every connection's bound; 0 = none */
} mb_session;

void mb_session_init(mb_session *s, step_ctx *ctx, step_result *res);
void mb_session_finish(mb_session *s); /* closes, wipes */
/* The master user's connection to a side (cached for the step): NULL with
 * res->reason and *rc (RETRY for a transient failure, FAIL otherwise). */
myq *mb_conn(mb_session *s, mb_side side, step_rc *rc);
void mb_conn_drop(mb_session *s, mb_side side);
/* Bound every connection of the session, open or opened later (and its
 * connect), to answer by mono_ms (myq_set_answer_by): a server that stops
 * answering while the writers are blocked must not keep them blocked. A
 * connection the bound closed is opened again by the next mb_conn. 0 lifts
 * the bound. */
void mb_session_answer_by(mb_session *s, int64_t mono_ms);
bool mb_ensure_creds(mb_session *s, step_rc *rc);
/* A failed statement: RETRY when transient, FAIL otherwise; reason "what: err". */
step_rc mb_sql_fail(step_result *res, myq *q, const char *what, const char *err);
/* The same for a statement that carried a secret: the server's message
 * (a syntax error quotes the statement) is dropped if it contains it. */
step_rc mb_sql_fail_secret(step_result *res, myq *q, const char *what, const char *err, const char *secret);
/* The fence on the source (MB_SCHEMA.fence): raises it to this run's
 * fencing number; STEP_RETRY "fenced out" when a newer holder acted. Every
 * step that changes the source or the target takes it first. */
step_rc mb_fence(mb_session *s);

/* SHOW REPLICA STATUS (either spelling of its columns); *present false when
 * the server replicates from nobody. */
typedef struct mb_repl {
    bool present;
    bool io_running, sql_running;
    char io_state[16];          /* Yes, No, Connecting */
    char exec_file[128];        /* Relay_Master_Log_File / Relay_Source_Log_File */
    int64_t exec_pos;           /* Exec_Master_Log_Pos / Exec_Source_Log_Pos */
    char master_host[256];
    int master_port;
    char master_user[64];
    int sql_errno, io_errno;
    char error[256];            /* Last_SQL_Error or Last_IO_Error */
} mb_repl;
bool mb_repl_status(myq *q, mb_repl *r, char *err, size_t cap);
/* " on table <schema.table>" from a Last_SQL_Error ("" when it names none):
 * what of the message may go into a reason (the rest can quote row values). */
void mb_sql_error_where(const char *error, char *out, size_t cap);
/* SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4) */
bool mb_master_pos(myq *q, char *file, size_t fcap, int64_t *pos, char *err, size_t cap);
/* Compare binlog positions (file names compare by their numeric suffix). */
int mb_pos_cmp(const char *fa, int64_t pa, const char *fb, int64_t pb);

/* RDS's replication procedures by engine and version: RDS for MySQL
 * 8.0.23+ has mysql.rds_set_external_source / rds_reset_external_source
 * (8.4 only those); MariaDB and older MySQL the _master names. */
const char *mb_proc_set(step_ctx *ctx);
const char *mb_proc_reset(step_ctx *ctx);
/* Engine version "8.0.36" / "10.11.6" at least major.minor.patch? */
bool mb_version_at_least(const char *v, int major, int minor, int patch);

/* --cutover-method cname (the application's Route 53 CNAME moves,
 * shared/awscname.h; preflight.c)? Else the rename swap. */
bool mb_cname(step_ctx *ctx);

/* facts */
const char *mb_fact(step_ctx *ctx, const char *name); /* "" when unset */
int64_t mb_fact_i64(step_ctx *ctx, const char *name, int64_t dflt);

/* ---- RDS (shared/awsstep.h; aws.c) ---- */
#define mb_describe awsstep_describe
#define mb_has_tag awsstep_has_tag
#define mb_is_ours awsstep_is_ours
#define mb_rename awsstep_rename
#define mb_await_instance awsstep_await_instance
/* Delete an instance of ours (role) if it exists: STEP_OK when gone (or
 * going), WAIT while busy. */
step_rc mb_delete_ours(step_ctx *ctx, step_result *res, const char *id, const char *role);
/* Delete our intermediate snapshots (-snap, -enc) unless keep_snapshots. */
step_rc mb_delete_snapshots(step_ctx *ctx, step_result *res);

/* ---- Aurora MySQL clusters (cluster.c; fact kind=cluster) ---- */
#define MB_SEED_EVENT "crash-recovery event"   /* fact seed_source: the restore's event */
#define MB_SEED_REPLICA "stopped read replica" /* fact seed_source: an instance's seed */
step_rc mb_cluster_preflight(step_ctx *ctx, step_result *res, bool renamed);
/* binlog_format=ROW in a (cluster) parameter group's parameters, else
 * STEP_FAIL naming the parameter, the group and what to reboot (preflight.c). */
step_rc mb_binlog_format_verdict(step_result *res, const rds_parameter_list *pl, const char *kind, const char *group,
                                 const char *reboot);
step_rc mb_cluster_snapshot(step_ctx *ctx, step_result *res);
step_rc mb_cluster_restore(step_ctx *ctx, step_result *res);
/* find-binlog-position: the restore's "Binlog position from crash recovery
 * is FILE POS" event (facts seed_file, seed_pos, seed_source). */
step_rc mb_cluster_position(step_ctx *ctx, step_result *res);
/* That event's message parsed (strict: nothing else in it, pos >= 4). */
bool mb_parse_recovery_event(const char *msg, char *file, size_t fcap, int64_t *pos);
/* Among events ev, those of cluster (source type db-cluster) carrying a
 * position and dated at or after created_ms: how many (the first into
 * file/pos); *older counts those dated before (another restore's). */
int mb_pick_recovery_event(const rds_event *ev, size_t n, const char *cluster, int64_t created_ms, char *file,
                           size_t fcap, int64_t *pos, int *older);
/* The cutover's question: is the cluster swap done or half done? */
step_rc mb_cluster_swapped(step_ctx *ctx, step_result *res, const char *orig, const char *ret, bool *renamed);
/* cleanup after the switch: members renamed, promoted, protected, snapshot
 * deleted, the retired cluster tagged and stopped. */
step_rc mb_cluster_finish(step_ctx *ctx, step_result *res);
/* abort: the target cluster and the cluster snapshot deleted. */
step_rc mb_cluster_undo(step_ctx *ctx, step_result *res);

/* ---- catch-up (replicate.c) ---- */
/* The target's replication checked (restarted when stopped without an
 * error; FAIL on an SQL error) and its lag against the source's position
 * (facts lag_bytes, lag_at): STEP_OK when under catchup_lag_bytes, else
 * STEP_WAIT. The catch-up step, and the cutover while its gate waits. */
step_rc mb_lag_check(step_ctx *ctx, step_result *res);

/* ---- accounts the cutover locks (cutover.c) ---- */
/* Unlock the accounts recorded in fact blocked_accounts on a side. */
step_rc mb_unlock_accounts(mb_session *s, mb_side side);
/* Drop the replication user and fleetcrypt's schema on a side (if there). */
step_rc mb_drop_ours(mb_session *s, mb_side side);

/* ---- comparison (verify.c) ---- */
/* User tables of a (source side) and b (target side) compared by ordered
 * per-chunk hashes, in the source's order from table index `from` on (0:
 * every table, and the two sets of tables first). Past deadline (fc_mono_ms,
 * 0 = none; checked between tables and every 1024 rows) it stops with late
 * set and next the first table not compared (that table's connection is
 * then given up: myq_dead). Not an error: the caller decides. */
typedef struct mb_cmp {
    myq *a, *b;
    int from;
    int64_t deadline;
    dbuf *sums;          /* "schema.table\trows\tdigest\n" appended (may be NULL) */
    dbuf *diff;          /* "schema\ttable\n" per differing table compared (may be NULL) */
    /* out */
    bool late;
    int next;            /* late: index of the first table not compared; else -1 */
    int tables;          /* the source's tables in all */
    int hashed;          /* tables compared by this call */
    int64_t rows;
    int mism;
    char list[400];      /* differing tables, "schema.table, ..." */
} mb_cmp;
step_rc mb_compare(mb_session *s, mb_cmp *c);
#endif
