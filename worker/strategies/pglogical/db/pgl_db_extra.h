/* pglogical_extra — data-plane helpers strategy pg-logical needs beyond
 * pgl_db.h (owned by the pg-logical step files; SQL in db/sql/pgl_*.sql):
 * the restored instance's WAL segment size (find-start-lsn), disk usage for
 * the retained-WAL guard, the roles the cutover block must leave alone,
 * the admin role's rights to alter login roles, the block's start time, and
 * a pinned read-only snapshot for verification after the switch.
 * Same conventions as pgl_db: false + reason in err; q->sqlstate kept. */
#ifndef FC_PGLOGICAL_EXTRA_H
#define FC_PGLOGICAL_EXTRA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgq.h"
#include "pgl_db.h"

/* wal_segment_size of the server, in bytes. */
bool pgl_wal_segment_size(pgq *q, uint64_t *out, char *err, size_t errcap);
/* Bytes on disk: every connectable database + pg_wal. */
bool pgl_storage_used(pgq *q, int64_t *out, char *err, size_t errcap);
/* Real superusers other than `master` (rdsadmin on RDS; the bootstrap
 * superuser on test servers). *list: n strings, free with pgl_free_list. */
bool pgl_protected_roles(pgq *q, const char *master, char ***list, int *n, char *err, size_t errcap);
/* After pgl_create_roles, as the master user: give fleetcrypt's admin
 * role what the block needs to ALTER ROLE … NOLOGIN every application role.
 * Where the master is a real superuser (test servers, the emulator) the
 * application roles may be superusers too, so admin becomes SUPERUSER;
 * on RDS it gets CREATEROLE (not inherited through rds_superuser). There
 * the subscription's role also gets REPLICATION (rds_replication is an
 * ordinary role outside RDS). */
bool pgl_admin_rights(pgq *q, const pgl_db_names *nm, const char *master, char *err, size_t errcap);
/* Roles recorded by the cutover block in this database and the earliest
 * blocked_at (epoch ms; 0 when none). Missing schema = none. */
bool pgl_blocked_since(pgq *q, const pgl_db_names *nm, int *count, int64_t *since_ms, char *err,
                        size_t errcap);
/* BEGIN REPEATABLE READ READ ONLY and take the snapshot now: every later
 * query on q sees the database as of this moment (until q is closed). */
bool pgl_pin_snapshot(pgq *q, char *err, size_t errcap);

#endif
