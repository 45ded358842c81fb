/* pgl_db — the PostgreSQL data plane of strategy pg-logical: preflight,
 * prepare-source (replica identity, DDL guard, publication, slot, roles),
 * the restored target (inherited slots, held scheduler jobs, subscription
 * started at the end of the restored WAL), catch-up status, the cutover
 * primitives (block writers, wait for the slots, copy sequences, tear down,
 * unblock) and verification by chunked checksums.
 *
 * Every operation is idempotent and resumable: it looks before it creates,
 * and "already exists" / "already gone" count as success. Each takes an open
 * pgq connection (to the database concerned) and parameters, and returns
 * false with a precise reason in err. Object names are derived from a tag
 * (campaign + instance, sanitised by the caller) so a retry finds them again.
 *
 * Connections: prepare-source, clean-target, subscribe and teardown run as
 * the instance's master user; cutover-block, wait-flush, sync-sequences (its
 * source side), verify (source side) and unblock run as fleetcrypt's own
 * admin role, the only one the block leaves able to log in.
 * Files (worker/strategies/pglogical/db/): pgl_db.c (names, reports, roles),
 * pgl_db_source.c, pgl_db_target.c, pgl_db_cutover.c; roles and privileges
 * at the cutover: pgl_db_privs.h. Verification by checksums is generic:
 * lib/pg/pgverify.h; the template runners: lib/pg/pgq.h. SQL: db/sql/.
 * Operator notes: docs/pg-logical.md. */
#ifndef FC_PGREPL_H
#define FC_PGREPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbuf.h"
#include "lsn.h"
#include "pgq.h"
#include "pgverify.h"
#include "pgq.h"

#define PGL_NAME 64
#define PGL_TAG_MAX 40

typedef struct pgl_db_names {
    char tag[PGL_TAG_MAX + 1];
    char schema[PGL_NAME];       /* fc_<tag>: guard log + block record, per database */
    char publication[PGL_NAME];  /* fc_<tag>, per database */
    char slot[PGL_NAME];         /* fc_<tag>_<dbhash>: slots are instance-wide */
    char subscription[PGL_NAME]; /* fc_<tag>_<dbhash> */
    char guard_end[PGL_NAME];    /* event triggers fc_<tag>_ddl / fc_<tag>_drop */
    char guard_drop[PGL_NAME];
    char admin_role[PGL_NAME];   /* fc_<tag>_admin: does the cutover */
    char sub_role[PGL_NAME];     /* fc_<tag>_sub: the subscription's replication login */
} pgl_db_names;

/* tag: 1-40 of [a-z0-9_], a letter first. dbname: any database name. */
bool pgl_names_make(const char *tag, const char *dbname, pgl_db_names *n, char *err, size_t errcap);
/* Deterministic password for one of fleetcrypt's roles, derived from a
 * secret the workers already hold (the master password) so nothing new has
 * to be stored: hex(HMAC-SHA256(secret, "fleetcrypt/<purpose>/<tag>")). */
bool pgl_derive_password(const char *secret, const char *purpose, const char *tag, char out[65]);

/* Findings of a preflight: fatal ones stop the instance. */
typedef struct pgl_report {
    dbuf text; /* one finding per line: "FATAL db: ..." / "WARN db: ..." */
    int fatal;
    int warn;
    int server_version;
    bool is_rds;
} pgl_report;
void pgl_report_init(pgl_report *r);
void pgl_report_free(pgl_report *r);
void pgl_report_add(pgl_report *r, bool fatal, const char *db, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- preflight ---- */
/* Databases to replicate (not templates, not rdsadmin). *out is an array of
 * *n strings; free with pgl_free_list. */
bool pgl_list_databases(pgq *q, char ***out, int *n, char *err, size_t errcap);
void pgl_free_list(char **list, int n);
/* wal_level, slot and wal-sender headroom for ndatabases, log settings the
 * find-start-lsn step needs, prepared transactions. */
bool pgl_preflight_instance(pgq *q, int ndatabases, pgl_report *rep, char *err, size_t errcap);
/* Per database: tables without key/replica identity, large objects, unlogged
 * and foreign tables, materialized views, schedulers. */
bool pgl_preflight_database(pgq *q, const char *db, const pgl_db_names *nm, bool allow_ri_full,
                               pgl_report *rep, char *err, size_t errcap);

/* ---- prepare-source (per database, as the master user) ---- */
typedef struct pgl_source_opts {
    bool replica_identity_full; /* set REPLICA IDENTITY FULL where missing (else fail) */
    int slot_timeout_ms;        /* slot creation waits for open transactions; 0 = 60 s */
} pgl_source_opts;
/* Replica identities first, then the DDL guard, the publication FOR ALL
 * TABLES and the logical slot (pgoutput). *slot_lsn gets the slot's
 * consistent point: the restored WAL must end at or after it. */
bool pgl_prepare_source(pgq *q, const pgl_db_names *nm, const pgl_source_opts *o,
                           fc_lsn *slot_lsn, char *err, size_t errcap);
/* Instance-wide, once: fleetcrypt's admin role (rds_superuser on RDS,
 * SUPERUSER where that role does not exist) and the subscription's
 * replication role. Passwords are sent as SCRAM verifiers, never in clear. */
bool pgl_create_roles(pgq *q, const pgl_db_names *nm, const char *admin_password,
                         const char *sub_password, char *err, size_t errcap);

typedef struct pgl_slot_info {
    bool exists;
    bool active;
    fc_lsn current;         /* source pg_current_wal_lsn() */
    fc_lsn confirmed_flush;
    int64_t retained_bytes; /* current - restart_lsn: WAL the slot keeps */
    int64_t lag_bytes;      /* current - confirmed_flush */
    char wal_status[16];
} pgl_slot_info;
bool pgl_slot_status(pgq *q, const char *slot, pgl_slot_info *out, char *err, size_t errcap);
/* Schema changes the guard saw: *count, and a summary of the first ones. */
bool pgl_ddl_check(pgq *q, const pgl_db_names *nm, int *count, char *events, size_t evcap,
                      char *err, size_t errcap);

/* ---- the restored target (per database, as the master user) ---- */
/* Drop fleetcrypt's inherited publication and DDL guard; with drop_slots,
 * drop every inherited replication slot (instance-wide: do it once); hold
 * pg_cron jobs (active = false, remembered for cleanup). */
bool pgl_clean_target(pgq *q, const pgl_db_names *nm, bool drop_slots, int *slots_dropped,
                         int *jobs_held, char *err, size_t errcap);
/* The initial-copy path's CREATE SUBSCRIPTION: enabled at once, WITH
 * copy_data, on the slot made at prepare-source (db/sql/pgl_sub_create.sql
 * with copy true: the password never in a logged statement or an error). A
 * subscription of that name made by a concurrent attempt counts as made. */
bool pgl_create_copying_subscription(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source, char *err,
                                     size_t errcap);
/* CREATE SUBSCRIPTION (create_slot=false, enabled=false, copy_data=false,
 * slot_name, disable_on_error) connecting with `source` (the replication
 * role), origin advanced to start while disabled, then ENABLE. Resumable:
 * an origin already at `start` is only enabled; one that moved on is never
 * moved back. */
bool pgl_subscribe(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source, fc_lsn start,
                      char *err, size_t errcap);
typedef struct pgl_sub_info {
    bool exists;
    bool enabled;           /* false after an apply error under disable_on_error */
    fc_lsn remote_lsn;      /* origin progress */
    int64_t apply_errors;   /* pg_stat_subscription_stats (15+) */
    int64_t sync_errors;
} pgl_sub_info;
/* Does the subscription still exist in q's database? Readable by any role. */
bool pgl_sub_exists(pgq *q, const pgl_db_names *nm, bool *exists, char *err, size_t errcap);
/* Does it exist, enabled? Readable by any role, as pgl_sub_exists. */
bool pgl_sub_enabled(pgq *q, const pgl_db_names *nm, bool *enabled, char *err, size_t errcap);
bool pgl_sub_status(pgq *q, const pgl_db_names *nm, pgl_sub_info *out, char *err, size_t errcap);
/* DISABLE, SET (slot_name = NONE), DROP SUBSCRIPTION: the slot stays on the
 * source, dropped there by pgl_teardown_source. */
bool pgl_teardown_target(pgq *q, const pgl_db_names *nm, char *err, size_t errcap);
/* A teardown interrupted after DISABLE (and maybe SET slot_name = NONE),
 * found while the source's slot still exists: re-attach the slot and
 * ENABLE again, so the retried cutover drains through it. A subscription
 * disabled by an apply error is left alone. *resumed says whether it acted. */
bool pgl_resume_teardown(pgq *q, const pgl_db_names *nm, bool *resumed, char *err, size_t errcap);
/* The cutover's part of the teardown inside the window (the source is
 * drained): every database's subscription disabled, so it never applies
 * or reconnects again (after a rename the source's name reaches the
 * target); dropped by pgl_teardown_target after the writers are let in.
 * (q[i], nm[i]: one
 * session and names per database, n of them), each query sent on every
 * session before any answer is read — one round trip's wait for all:
 * pgl_subs_enabled asks whether each is still there and enabled (any
 * role may read it) and which workers it has (pids[], at most pidcap, *npids
 * of them in all: they exit by themselves once it is disabled), pgl_subs_disable disables those marked todo (as their
 * owner; one gone meanwhile is left). false: err, *failed the index of the
 * session that failed; every session stays usable. */
bool pgl_subs_enabled(pgq *const *q, const pgl_db_names *nm, int n, bool *enabled, int *pids, int *npids,
                      int pidcap, int *failed, char *err,
                      size_t errcap);
bool pgl_subs_disable(pgq *const *q, const pgl_db_names *nm, int n, const bool *todo, int *failed, char *err,
                      size_t errcap);
/* After cutover: re-enable held scheduler jobs, drop fleetcrypt's schema. */
bool pgl_cleanup_target(pgq *q, const pgl_db_names *nm, int *jobs_released, char *err, size_t errcap);

/* ---- cutover (on the source, as fleetcrypt's admin role) ---- */
typedef struct pgl_block_result {
    int roles_blocked;        /* roles made NOLOGIN by this call or an earlier attempt */
    int sessions_terminated;
    fc_lsn lsn;               /* L: WAL insert position after every writer is gone */
    char roles[2048];         /* comma-separated */
    char warning[512];        /* e.g. prepared transactions */
    int64_t quiet_from;       /* pgl_cutover_block_unsettled: when its NOLOGINs were committed or it last ended a
                               * login session, whichever is later (fc_mono_ms): where its quiet gap starts */
    int roles_new;            /* roles this call made NOLOGIN (could log in until it) */
    bool login_ended;         /* this call ended a login session (a client backend or walsender) */
} pgl_block_result;
/* Record, then ALTER ROLE ... NOLOGIN, every login role except fleetcrypt's
 * two, PostgreSQL's pg_* and `protect` (rdsadmin and friends are always
 * protected); terminate every session of those roles in every database and
 * wait (bounded by timeout_ms) until none is left; then take L. The record
 * (<schema>.blocked_roles in this database) is what unblock restores. */
bool pgl_cutover_block(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect,
                          int timeout_ms, pgl_block_result *out, char *err, size_t errcap);
/* The target's block before the source's (outside the window, while the
 * subscription still replicates): ALTER ROLE ... NOLOGIN, unrecorded, every
 * login role pgl_cutover_block would block there (same `protect`), then
 * their sessions ended as it does. Unrecorded because the source's block
 * record is replicated to the target (blocked_roles is published), which
 * a row of the target's own would collide with (an apply error); the drain
 * to L brings the target that record — every role the source blocks — and
 * the target's own block inside the window records what else it blocks,
 * so unblock restores them all. A role this leaves NOLOGIN that the source
 * does not record was not a login role on the source: the privileges'
 * convergence (pgl_db_privs.h) would make it NOLOGIN on the target anyway. */
bool pgl_cutover_preblock(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect,
                          int timeout_ms, pgl_block_result *out, char *err, size_t errcap);
/* ALTER ROLE role LOGIN / NOLOGIN, unrecorded, no session ended — the
 * cutover's NOLOGIN of the target's master user ahead of the target's
 * recorded block (fleetcrypt's own sessions as that user, open already,
 * keep working), and its undo when the writers are given back. */
bool pgl_role_set_login(pgq *q, const char *role, bool login, char *err, size_t errcap);
/* *has: the block record in this database names `role`. */
bool pgl_block_has_role(pgq *q, const pgl_db_names *nm, const char *role, bool *has, char *err, size_t errcap);
/* *can: the role exists and can log in. */
bool pgl_role_can_login(pgq *q, const char *role, bool *can, char *err, size_t errcap);
/* End every client session of `role` but this one, in every database, and
 * wait (bounded by timeout_ms) until none is left; the role keeps its
 * LOGIN. The cutover's way to find, while the writers can still be given
 * back, sessions the target's block would later fail to end. */
bool pgl_end_client_sessions(pgq *q, const char *role, int timeout_ms, int *terminated, char *err,
                             size_t errcap);
/* pgl_cutover_block without the quiet gap (the record, NOLOGIN, the sessions
 * listed ended until the listing is empty; no L): for the target inside the
 * window, where the gap runs during the switch instead. The block counts
 * only once pgl_block_settle has returned true for it; out->quiet_from is
 * what to give it. own (nown pids, may be NULL): the caller's own sessions,
 * closed by it just before — ended if still listed, but not a login
 * session for out->quiet_from and out->login_ended. */
bool pgl_cutover_block_unsettled(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect,
                                 int timeout_ms, const int *own, int nown, pgl_block_result *out, char *err,
                                 size_t errcap);
/* The end of pgl_cutover_block after its quiet gap (pgl_block_settle, for
 * a block made with pgl_cutover_block_unsettled): prepared transactions
 * warned about (out->warning), the WAL flushed, then L = the WAL insert
 * position (out->lsn). Taken only once the gap is settled, L bounds every
 * write of the blocked roles; taken before it (the cutover's early L, a
 * drain started while the gap runs) it bounds only what was listed. */
bool pgl_block_lsn(pgq *q, pgl_block_result *out, char *err, size_t errcap);
/* How long a block's quiet gap lasts (ms): END_SESSIONS_GAP_MS of pgl_db_cutover.c. */
#define PGL_QUIET_GAP_MS 100
/* The quiet gap of a block (END_SESSIONS_GAP_MS): the sessions of the
 * recorded roles ended until a listing taken at least the gap after
 * quiet_from (fc_mono_ms; 0: long ago) and after the last login session's
 * end is empty — at once when the gap has passed and nobody is there. */
bool pgl_block_settle(pgq *q, const pgl_db_names *nm, int64_t quiet_from, int timeout_ms, int *terminated,
                      char *err, size_t errcap);
/* Wait until the slot's confirmed_flush_lsn >= l. */
bool pgl_wait_flush(pgq *q, const char *slot, fc_lsn l, int timeout_ms, fc_lsn *flushed,
                       char *err, size_t errcap);
/* pgl_wait_flush for the cutover's drain, nudging while it waits (sub:
 * a session on the subscriber; borrowed): a subscription applies with
 * asynchronous commits and reports a transaction flushed only once the
 * subscriber's WAL writer has flushed it AND the apply worker next wakes
 * (a message from the walsender, or its 1 s nap), so a drain that has to
 * carry a transaction (the block record) can wait most of a second. Past a
 * short wait and then every NUDGE period, the subscriber's WAL is flushed
 * and a flushed logical message on the source (q) wakes the walsenders,
 * whose keepalive wakes the apply worker to report. The nudges change no
 * table on either side; a failed nudge is only logged (the wait goes on). */
/* One nudge of pgl_wait_flush_nudged, alone (src: the source, sub: the
 * subscriber): for a caller that does something else before it waits, so
 * the subscriber's report is on its way meanwhile. Best effort. */
void pgl_flush_nudge(pgq *src, pgq *sub);
bool pgl_wait_flush_nudged(pgq *q, pgq *sub, const char *slot, fc_lsn l, int timeout_ms, fc_lsn *flushed,
                           char *err, size_t errcap);
/* Let exactly the recorded roles log in again; forget the record. */
bool pgl_unblock(pgq *q, const pgl_db_names *nm, int *restored, char *err, size_t errcap);
/* Prepared transactions of the instance (pg_prepared_xacts is
 * instance-wide): how many, the oldest one's age, and a description naming
 * each gid, its database, owner and age (cut to desccap). A transaction
 * prepared after the slots were made and still prepared when the snapshot
 * is taken would come back to life on the target holding locks, so
 * prepare-source waits (bounded) until there is none before the snapshot. */
#define PGL_PREPARED_STALE_S 600 /* preflight refuses older prepared transactions */
bool pgl_prepared_xacts(pgq *q, int *count, int64_t *oldest_age_s, char *desc, size_t desccap, char *err,
                           size_t errcap);
/* On the target, after the jobs are held (pgl_clean_target): a trigger
 * on cron.job firing only in the subscription's apply sessions keeps every
 * replicated job row inactive and in fc_<tag>.held_jobs (released at
 * cleanup), and forgets a job the source made inactive — a replicated
 * `active = true` can never run a held job twice. No pg_cron: nothing
 * (*installed false). Idempotent; dropped with fc_<tag> at cleanup. */
bool pgl_cron_guard(pgq *q, const pgl_db_names *nm, bool *installed, char *err, size_t errcap);
/* Large objects in q's database (pg_largeobject_metadata: every one, not
 * only those the role owns; readable by every role, no privilege needed).
 * Logical replication does not carry them and lo_create fires no event
 * trigger, so a count above zero at the cutover (after preflight found 0)
 * means objects created since, missing on the target: the caller fails.
 * false (err set, *count = -1) when it cannot be read. */
bool pgl_large_objects(pgq *q, int64_t *count, char *err, size_t errcap);
/* Every sequence of the source database (owned, free-standing, identity) is
 * set on the target to at least source + margin increments. */
bool pgl_sync_sequences(pgq *src, pgq *dst, const pgl_db_names *nm, int64_t margin, int *count,
                           char *err, size_t errcap);
/* pgl_sync_sequences for n databases (src[i], dst[i], nm[i]: database i)
 * with each query sent on every session before any answer is read: the
 * privilege checks (both sides), the source's listing, then the k-th
 * sequence of every database set at once — two round trips plus one per
 * sequence of the database with the most, not three plus one per sequence
 * for each database. *count the sequences set in all, *failed the database
 * a failure is about. */
bool pgl_sync_sequences_each(pgq *const *src, pgq *const *dst, const pgl_db_names *nm, int n, int64_t margin,
                             int *count, int *failed, char *err, size_t errcap);
/* Drop the slot (ending its walsender if needed), the publication, the DDL
 * guard and fleetcrypt's schema in this database. Refuses while roles are
 * still blocked unless keep_block_record (successful cutover: the retired
 * source stays blocked and the record stays for a later unblock). */
bool pgl_teardown_source(pgq *q, const pgl_db_names *nm, bool keep_block_record, char *err,
                            size_t errcap);
/* Instance-wide, as the master user, last: drop fleetcrypt's roles. */
bool pgl_drop_roles(pgq *q, const pgl_db_names *nm, bool keep_admin, char *err, size_t errcap);

/* Idempotent pieces of pgl_prepare_source, also used for the reverse
 * replication of the rollback window (pgl_db_reverse.h): the publication FOR
 * ALL TABLES named nm->publication, the pgoutput slot nm->slot (an existing
 * one counts, *slot_lsn its confirmed_flush_lsn; a new one waits at most
 * timeout_ms for running transactions, *slot_lsn its consistent point), and
 * one slot dropped (its walsender ended first; gone = done). */
bool pgl_ensure_publication(pgq *q, const pgl_db_names *nm, char *err, size_t errcap);
bool pgl_ensure_slot(pgq *q, const pgl_db_names *nm, int timeout_ms, fc_lsn *slot_lsn, char *err, size_t errcap);
bool pgl_drop_slot(pgq *q, const char *slot, char *err, size_t errcap);

/* internal helper shared by the pgl_db_*.c files (the template runners
 * are in lib/pg/pgq.h): the first column of sql/<sql_name>.sql (run with
 * params) as a NULL-terminated string list; free with pgl_free_list.
 * `what` names the query in errors. */
bool pgl_query_list(pgq *q, const char *sql_name, int nparams, const char *const *params, const char *what,
                       char ***out, int *n, char *err, size_t errcap);
/* Query i (sql[i] with its np[i] parameters p[i]; sql[i] NULL: none) sent
 * on session q[i] for every i first, then every answer read: one round
 * trip's wait for all of them (each q[i] its own session: one per database
 * and side — a session holds one query at a time). r[i]: the answer, NULL
 * when not sent or failed (q[i]->err, q[i]->sqlstate say why). false when
 * any sent query failed, *failed the first such index (-1: none). Every
 * sent query is read before returning, so every session stays usable. */
bool pgl_exec_each(pgq *const *q, int n, const char *const *sql, const int *np, const char *const *const *p,
                   PGresult **r, int *failed);

#endif
