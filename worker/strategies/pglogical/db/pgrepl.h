/* pgrepl — the PostgreSQL data plane of strategy pg-logical: preflight,
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
 * Files (worker/strategies/pglogical/db/): pgrepl.c (names, reports, roles),
 * pgrepl_source.c, pgrepl_target.c, pgrepl_cutover.c; roles and privileges
 * at the cutover: pgrepl_privs.h. Verification by checksums is generic:
 * lib/pgrepl_verify.h; the template runners: lib/pgtmpl.h. SQL: db/sql/.
 * Operator notes: docs/pg-logical.md. */
#ifndef FC_PGREPL_H
#define FC_PGREPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbuf.h"
#include "lsn.h"
#include "pgq.h"
#include "pgrepl_verify.h"
#include "pgtmpl.h"

#define PGREPL_NAME 64
#define PGREPL_TAG_MAX 40

typedef struct pgrepl_names {
    char tag[PGREPL_TAG_MAX + 1];
    char schema[PGREPL_NAME];       /* fc_<tag>: guard log + block record, per database */
    char publication[PGREPL_NAME];  /* fc_<tag>, per database */
    char slot[PGREPL_NAME];         /* fc_<tag>_<dbhash>: slots are instance-wide */
    char subscription[PGREPL_NAME]; /* fc_<tag>_<dbhash> */
    char guard_end[PGREPL_NAME];    /* event triggers fc_<tag>_ddl / fc_<tag>_drop */
    char guard_drop[PGREPL_NAME];
    char admin_role[PGREPL_NAME];   /* fc_<tag>_admin: does the cutover */
    char sub_role[PGREPL_NAME];     /* fc_<tag>_sub: the subscription's replication login */
} pgrepl_names;

/* tag: 1-40 of [a-z0-9_], a letter first. dbname: any database name. */
bool pgrepl_names_make(const char *tag, const char *dbname, pgrepl_names *n, char *err, size_t errcap);
/* Deterministic password for one of fleetcrypt's roles, derived from a
 * secret the workers already hold (the master password) so nothing new has
 * to be stored: hex(HMAC-SHA256(secret, "fleetcrypt/<purpose>/<tag>")). */
bool pgrepl_derive_password(const char *secret, const char *purpose, const char *tag, char out[65]);

/* Findings of a preflight: fatal ones stop the instance. */
typedef struct pgrepl_report {
    dbuf text; /* one finding per line: "FATAL db: ..." / "WARN db: ..." */
    int fatal;
    int warn;
    int server_version;
    bool is_rds;
} pgrepl_report;
void pgrepl_report_init(pgrepl_report *r);
void pgrepl_report_free(pgrepl_report *r);
void pgrepl_report_add(pgrepl_report *r, bool fatal, const char *db, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- preflight ---- */
/* Databases to replicate (not templates, not rdsadmin). *out is an array of
 * *n strings; free with pgrepl_free_list. */
bool pgrepl_list_databases(pgq *q, char ***out, int *n, char *err, size_t errcap);
void pgrepl_free_list(char **list, int n);
/* wal_level, slot and wal-sender headroom for ndatabases, log settings the
 * find-start-lsn step needs, prepared transactions. */
bool pgrepl_preflight_instance(pgq *q, int ndatabases, pgrepl_report *rep, char *err, size_t errcap);
/* Per database: tables without key/replica identity, large objects, unlogged
 * and foreign tables, materialized views, schedulers. */
bool pgrepl_preflight_database(pgq *q, const char *db, const pgrepl_names *nm, bool allow_ri_full,
                               pgrepl_report *rep, char *err, size_t errcap);

/* ---- prepare-source (per database, as the master user) ---- */
typedef struct pgrepl_source_opts {
    bool replica_identity_full; /* set REPLICA IDENTITY FULL where missing (else fail) */
    int slot_timeout_ms;        /* slot creation waits for open transactions; 0 = 60 s */
} pgrepl_source_opts;
/* Replica identities first, then the DDL guard, the publication FOR ALL
 * TABLES and the logical slot (pgoutput). *slot_lsn gets the slot's
 * consistent point: the restored WAL must end at or after it. */
bool pgrepl_prepare_source(pgq *q, const pgrepl_names *nm, const pgrepl_source_opts *o,
                           fc_lsn *slot_lsn, char *err, size_t errcap);
/* Instance-wide, once: fleetcrypt's admin role (rds_superuser on RDS,
 * SUPERUSER where that role does not exist) and the subscription's
 * replication role. Passwords are sent as SCRAM verifiers, never in clear. */
bool pgrepl_create_roles(pgq *q, const pgrepl_names *nm, const char *admin_password,
                         const char *sub_password, char *err, size_t errcap);

typedef struct pgrepl_slot_info {
    bool exists;
    bool active;
    fc_lsn current;         /* source pg_current_wal_lsn() */
    fc_lsn confirmed_flush;
    int64_t retained_bytes; /* current - restart_lsn: WAL the slot keeps */
    int64_t lag_bytes;      /* current - confirmed_flush */
    char wal_status[16];
} pgrepl_slot_info;
bool pgrepl_slot_status(pgq *q, const char *slot, pgrepl_slot_info *out, char *err, size_t errcap);
/* Schema changes the guard saw: *count, and a summary of the first ones. */
bool pgrepl_ddl_check(pgq *q, const pgrepl_names *nm, int *count, char *events, size_t evcap,
                      char *err, size_t errcap);

/* ---- the restored target (per database, as the master user) ---- */
/* Drop fleetcrypt's inherited publication and DDL guard; with drop_slots,
 * drop every inherited replication slot (instance-wide: do it once); hold
 * pg_cron jobs (active = false, remembered for cleanup). */
bool pgrepl_clean_target(pgq *q, const pgrepl_names *nm, bool drop_slots, int *slots_dropped,
                         int *jobs_held, char *err, size_t errcap);
/* CREATE SUBSCRIPTION (create_slot=false, enabled=false, copy_data=false,
 * slot_name, disable_on_error) connecting with `source` (the replication
 * role), origin advanced to start while disabled, then ENABLE. Resumable:
 * an origin already at `start` is only enabled; one that moved on is never
 * moved back. */
bool pgrepl_subscribe(pgq *q, const pgrepl_names *nm, const pgq_conninfo *source, fc_lsn start,
                      char *err, size_t errcap);
typedef struct pgrepl_sub_info {
    bool exists;
    bool enabled;           /* false after an apply error under disable_on_error */
    fc_lsn remote_lsn;      /* origin progress */
    int64_t apply_errors;   /* pg_stat_subscription_stats (15+) */
    int64_t sync_errors;
} pgrepl_sub_info;
/* Does the subscription still exist in q's database? Readable by any role. */
bool pgrepl_sub_exists(pgq *q, const pgrepl_names *nm, bool *exists, char *err, size_t errcap);
bool pgrepl_sub_status(pgq *q, const pgrepl_names *nm, pgrepl_sub_info *out, char *err, size_t errcap);
/* DISABLE, SET (slot_name = NONE), DROP SUBSCRIPTION: the slot stays on the
 * source, dropped there by pgrepl_teardown_source. */
bool pgrepl_teardown_target(pgq *q, const pgrepl_names *nm, char *err, size_t errcap);
/* A teardown interrupted after DISABLE (and maybe SET slot_name = NONE),
 * found while the source's slot still exists: re-attach the slot and
 * ENABLE again, so the retried cutover drains through it. A subscription
 * disabled by an apply error is left alone. *resumed says whether it acted. */
bool pgrepl_resume_teardown(pgq *q, const pgrepl_names *nm, bool *resumed, char *err, size_t errcap);
/* After cutover: re-enable held scheduler jobs, drop fleetcrypt's schema. */
bool pgrepl_cleanup_target(pgq *q, const pgrepl_names *nm, int *jobs_released, char *err, size_t errcap);

/* ---- cutover (on the source, as fleetcrypt's admin role) ---- */
typedef struct pgrepl_block_result {
    int roles_blocked;        /* roles made NOLOGIN by this call or an earlier attempt */
    int sessions_terminated;
    fc_lsn lsn;               /* L: WAL insert position after every writer is gone */
    char roles[2048];         /* comma-separated */
    char warning[512];        /* e.g. prepared transactions */
} pgrepl_block_result;
/* Record, then ALTER ROLE ... NOLOGIN, every login role except fleetcrypt's
 * two, PostgreSQL's pg_* and `protect` (rdsadmin and friends are always
 * protected); terminate every session of those roles in every database and
 * wait (bounded by timeout_ms) until none is left; then take L. The record
 * (<schema>.blocked_roles in this database) is what unblock restores. */
bool pgrepl_cutover_block(pgq *q, const pgrepl_names *nm, const char *const *protect, int nprotect,
                          int timeout_ms, pgrepl_block_result *out, char *err, size_t errcap);
/* Wait until the slot's confirmed_flush_lsn >= l. */
bool pgrepl_wait_flush(pgq *q, const char *slot, fc_lsn l, int timeout_ms, fc_lsn *flushed,
                       char *err, size_t errcap);
/* Let exactly the recorded roles log in again; forget the record. */
bool pgrepl_unblock(pgq *q, const pgrepl_names *nm, int *restored, char *err, size_t errcap);
/* Prepared transactions of the instance (pg_prepared_xacts is
 * instance-wide): how many, the oldest one's age, and a description naming
 * each gid, its database, owner and age (cut to desccap). A transaction
 * prepared after the slots were made and still prepared when the snapshot
 * is taken would come back to life on the target holding locks, so
 * prepare-source waits (bounded) until there is none before the snapshot. */
#define PGREPL_PREPARED_STALE_S 600 /* preflight refuses older prepared transactions */
bool pgrepl_prepared_xacts(pgq *q, int *count, int64_t *oldest_age_s, char *desc, size_t desccap, char *err,
                           size_t errcap);
/* On the target, after the jobs are held (pgrepl_clean_target): a trigger
 * on cron.job firing only in the subscription's apply sessions keeps every
 * replicated job row inactive and in fc_<tag>.held_jobs (released at
 * cleanup), and forgets a job the source made inactive — a replicated
 * `active = true` can never run a held job twice. No pg_cron: nothing
 * (*installed false). Idempotent; dropped with fc_<tag> at cleanup. */
bool pgrepl_cron_guard(pgq *q, const pgrepl_names *nm, bool *installed, char *err, size_t errcap);
/* Large objects in q's database (pg_largeobject_metadata: every one, not
 * only those the role owns; readable by every role, no privilege needed).
 * Logical replication does not carry them and lo_create fires no event
 * trigger, so a count above zero at the cutover (after preflight found 0)
 * means objects created since, missing on the target: the caller fails.
 * false (err set, *count = -1) when it cannot be read. */
bool pgrepl_large_objects(pgq *q, int64_t *count, char *err, size_t errcap);
/* Every sequence of the source database (owned, free-standing, identity) is
 * set on the target to at least source + margin increments. */
bool pgrepl_sync_sequences(pgq *src, pgq *dst, const pgrepl_names *nm, int64_t margin, int *count,
                           char *err, size_t errcap);
/* Drop the slot (ending its walsender if needed), the publication, the DDL
 * guard and fleetcrypt's schema in this database. Refuses while roles are
 * still blocked unless keep_block_record (successful cutover: the retired
 * source stays blocked and the record stays for a later unblock). */
bool pgrepl_teardown_source(pgq *q, const pgrepl_names *nm, bool keep_block_record, char *err,
                            size_t errcap);
/* Instance-wide, as the master user, last: drop fleetcrypt's roles. */
bool pgrepl_drop_roles(pgq *q, const pgrepl_names *nm, bool keep_admin, char *err, size_t errcap);

/* internal helper shared by the pgrepl_*.c files (the template runners
 * are in lib/pgtmpl.h): the first column of sql/<sql_name>.sql (run with
 * params) as a NULL-terminated string list; free with pgrepl_free_list.
 * `what` names the query in errors. */
bool pgrepl_query_list(pgq *q, const char *sql_name, int nparams, const char *const *params, const char *what,
                       char ***out, int *n, char *err, size_t errcap);

#endif
