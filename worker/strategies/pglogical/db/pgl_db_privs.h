/* pgl_privs — roles and privileges changed on the source between the
 * snapshot and the cutover, carried to the restored target (logical
 * replication carries rows only: GRANT/REVOKE/ALTER DEFAULT PRIVILEGES and
 * everything about roles, which are instance-wide, would be lost).
 *
 * Each function reads the catalogs of both sides and applies to the target
 * what differs, so the target converges to the source; a second call finds
 * nothing to do (all counts 0). Source = the frozen (blocked) source, as
 * fleetcrypt's admin role; target = the restored target, as the master
 * user (or admin role): it needs CREATEROLE (rds_superuser has it). Object
 * and default privileges are changed with the owner's rights: as itself
 * when it has them (superuser, owner, inheriting member), else by SET ROLE
 * (member), else by borrowing the owner's membership for that one
 * statement (GRANT owner TO CURRENT_USER ... REVOKE in the statement's own
 * transaction: nothing is left behind; CREATEROLE may do that for any
 * non-superuser role on PostgreSQL 15, on 16+ only with ADMIN OPTION).
 *
 * Never touched: PostgreSQL's roles (pg_*), RDS's (rdsadmin, rds_*,
 * rdsrepladmin, rdstopmgr, rdsproxyadmin), fleetcrypt's two roles of this
 * tag, and roles that are superusers on the target. LOGIN is compared only
 * for roles outside the cutover block's record (<schema>.blocked_roles in
 * the first database): a recorded role is NOLOGIN on the source because of
 * the block; on the target it stays as the target's block leaves it, and a
 * recorded role created here is created NOLOGIN and added to the target's
 * record, so the target's unblock lets it in with the others.
 *
 * Not reproducible by a non-superuser, reported in not_reproduced (never
 * applied): SUPERUSER, BYPASSRLS, and REPLICATION where the target refuses
 * it (on RDS replication is membership in rds_replication, which is synced
 * as a membership). Passwords are never copied (pg_authid is readable only
 * by superusers, not on RDS): a login role created here has none (listed in
 * no_password, names only), and a password changed on the source after the
 * snapshot cannot even be detected.
 *
 * A statement the target refuses (insufficient privilege, a dependent
 * grant, ...) does not stop the sync: it is counted in `refused` and named
 * in refused_what (names and SQLSTATE, never a value); only a broken
 * connection or an unreadable catalog (the block record included) fails
 * the call. After applying, memberships and object and default privileges
 * are compared again: what still differs (e.g. a GRANT that only warned) is
 * counted in `unconverged`.
 *
 * When (at the cutover, writers blocked on the source, after the drain):
 *   1. pgl_sync_roles once, on the first database's connections (where
 *      the block record is);
 *   2. pgl_sync_privileges for every database (pgl_sync_privileges_each:
 *      all of them at once);
 *   3. pgl_sync_drop_roles once, last (a dropped role's grants in every
 *      database must be gone first).
 * All three add to *out: pgl_privs_result_init it once before step 1. */
#ifndef FC_PGREPL_PRIVS_H
#define FC_PGREPL_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

#include "pgq.h"
#include "pgl_db.h"

#define PGL_PRIVS_LIST 1024

typedef struct pgl_privs_result {
    int roles_created;
    int roles_altered;    /* attributes, LOGIN (outside the block record) */
    int roles_dropped;
    int memberships;      /* GRANT/REVOKE role, ADMIN OPTION changes */
    int settings;         /* (role, database) pairs whose ALTER ROLE ... SET were rewritten */
    int object_acls;      /* tables, sequences, columns, schemas, routines, database, large objects changed */
    int default_acls;     /* (role, schema, object type) default privileges changed */
    int refused;          /* statements the target refused */
    int unconverged;      /* privilege differences left after applying */
    /* comma-separated names for the operator ("..." when cut) */
    char no_password[PGL_PRIVS_LIST];    /* login roles created without a password */
    char not_reproduced[PGL_PRIVS_LIST]; /* SUPERUSER/BYPASSRLS/REPLICATION differ: role names */
    char not_dropped[PGL_PRIVS_LIST];    /* dropped on the source, still own/hold something on the target */
    char refused_what[PGL_PRIVS_LIST];   /* "GRANT SELECT ON TABLE public.t TO r (42501)", ... */
} pgl_privs_result;

void pgl_privs_result_init(pgl_privs_result *r);

/* Instance-wide, once, before any pgl_sync_privileges: roles created on
 * the source (same attributes, no password), attributes changed, memberships
 * (with ADMIN OPTION), per-role settings. Roles dropped on the source are
 * left for pgl_sync_drop_roles. */
bool pgl_sync_roles(pgq *src, pgq *dst, const pgl_db_names *nm, pgl_privs_result *out, char *err,
                       size_t errcap);
/* Per database: privileges of tables, views, materialized views, sequences,
 * foreign tables, columns, schemas, functions/procedures, the database
 * itself, large objects, and default privileges. */
bool pgl_sync_privileges(pgq *src, pgq *dst, const pgl_db_names *nm, pgl_privs_result *out, char *err,
                            size_t errcap);
/* pgl_sync_privileges for n databases (src[i], dst[i]: database i's
 * sessions; nm[i] its names) with each listing sent on every session before
 * any answer is read: two round trips' wait in all when nothing differs,
 * not two per database; the differences are then applied database by
 * database as there. *failed: the database a failure is about. */
bool pgl_sync_privileges_each(pgq *const *src, pgq *const *dst, const pgl_db_names *nm, int n,
                              pgl_privs_result *out, int *failed, char *err, size_t errcap);
/* Instance-wide, once, last: DROP ROLE on the target for roles the source no
 * longer has, unless they own or hold something there (not_dropped). */
bool pgl_sync_drop_roles(pgq *src, pgq *dst, const pgl_db_names *nm, pgl_privs_result *out, char *err,
                            size_t errcap);

/* internal, visible to unit tests: split a list-valued setting as stored in
 * pg_db_role_setting ('s, "$user", public') into its elements (quotes
 * removed, "" unescaped). Returns the count, -1 on a malformed value or more
 * than max elements; each element is malloc'd. */
int pgl_privs_split_list(const char *value, char **elems, int max);

#endif
