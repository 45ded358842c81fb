/* pgl_db_reverse — the reverse replication of pg-logical's rollback window
 * (docs/pg-logical.md, "Rollback window"): from the encrypted target back
 * to the old source after the switch. Its objects are the forward ones'
 * names with the suffix "_rb" (publication and slot on the target, the
 * subscription on the old source), so nothing of the forward path is ever
 * touched and a retry finds them again. The subscription itself is made,
 * watched and dropped with the forward path's calls on the source's
 * connection (pgl_subscribe with the slot's consistent point as the origin,
 * pgl_sub_status, pgl_teardown_target). Idempotent like the rest of db/. */
#ifndef FC_PGL_DB_REVERSE_H
#define FC_PGL_DB_REVERSE_H

#include "pgl_db.h"

/* The reverse names of nm (every other name kept): false when they do not fit. */
bool pgl_reverse_names(const pgl_db_names *nm, pgl_db_names *rv);
/* On the target (writers blocked, the forward subscription dropped): the
 * publication (TABLES IN SCHEMA of every schema with tables but PostgreSQL's
 * and fleetcrypt's own: sql/pgl_rb_publication_create.sql) and the logical slot; *slot_lsn the slot's
 * consistent point (or, made by an earlier attempt, its confirmed flush). */
bool pgl_reverse_publish(pgq *target, const pgl_db_names *rv, fc_lsn *slot_lsn, char *err, size_t errcap);
/* On the target: the slot (its walsender ended) and the publication gone. */
bool pgl_reverse_unpublish(pgq *target, const pgl_db_names *rv, char *err, size_t errcap);
/* On the target: does the slot or the publication still exist? */
bool pgl_reverse_left(pgq *target, const pgl_db_names *rv, bool *slot, bool *publication, char *err,
                      size_t errcap);

#endif
