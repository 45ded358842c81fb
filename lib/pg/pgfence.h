/* pgfence — the lease's fence carried into the databases fleetcrypt changes,
 * and knowing which server a connection reached.
 *
 * Fence: a Redis lease does not stop a paused or slow holder from acting on
 * a database after its lease passed to another worker. Each server keeps the
 * newest fencing number that acted on it (table <schema>.fence, one row per
 * server role: 'source', 'target'; sql/pgfence_table.sql). A holder takes the
 * fence (refused when a newer number is there) before it observes anything,
 * and every mutation that could lose rows when done at the wrong time
 * (letting writers in, the drained mark) runs inside a fenced transaction:
 * BEGIN, the row locked FOR UPDATE and found to be ours, the change, COMMIT.
 * A stale holder's transaction either commits before the newer holder takes
 * the fence (which then observes its effects) or is refused.
 *
 * Identity: after a rename a name keeps reaching the old server for minutes
 * (RDS DNS). A connection is trusted only when the server's system
 * identifier and fleetcrypt's marker (the comment on fleetcrypt's admin role,
 * cluster-wide and not replicated: "fleetcrypt <tag> <side> <nonce>") are the
 * ones recorded for the side it was meant to reach.
 *
 * Every function takes a connected pgq; none logs; errors in err. */
#ifndef FC_PGFENCE_H
#define FC_PGFENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "pgq.h"

typedef enum {
    PGFENCE_OK = 0,
    PGFENCE_NEWER,   /* a newer fencing number holds this server: do not act */
    PGFENCE_MISSING, /* no fence table here (never prepared, or torn down) */
    PGFENCE_ERROR    /* SQL error: err and q->sqlstate say which */
} pgfence_rc;

#define PGFENCE_MARKER_MAX 160

/* Create the fence table and its two rows (idempotent; before the snapshot). */
bool pgfence_create(pgq *q, const char *schema, char *err, size_t errcap);
/* Take row's fence for `fence` (decimal). NEWER with the holder's number in
 * newer (when given). */
pgfence_rc pgfence_take(pgq *q, const char *schema, const char *row, const char *fence, char *newer, size_t ncap,
                        char *err, size_t errcap);
/* BEGIN and lock row; OK leaves the transaction open (the row now holds
 * `fence`; *drained is its mark). Anything else rolls back. */
pgfence_rc pgfence_begin(pgq *q, const char *schema, const char *row, const char *fence, bool *drained, char *err,
                         size_t errcap);
bool pgfence_commit(pgq *q, char *err, size_t errcap);
void pgfence_rollback(pgq *q);
/* Inside a fenced transaction: set the drained mark. */
bool pgfence_set_drained(pgq *q, const char *schema, const char *row, bool drained, char *err, size_t errcap);
/* pgfence_take and the drained mark set in the same statement (outside a
 * transaction): one round trip for what pgfence_begin, pgfence_set_drained
 * and pgfence_commit do in five. */
pgfence_rc pgfence_take_drained(pgq *q, const char *schema, const char *row, const char *fence, bool drained,
                                char *err, size_t errcap);
/* Read the row without locking: holder and drained mark. */
pgfence_rc pgfence_state(pgq *q, const char *schema, const char *row, char *holder, size_t hcap, bool *drained,
                         char *err, size_t errcap);

/* The server's system identifier, fleetcrypt's marker ("" when none) and
 * whether the admin role (which carries the marker) exists. */
bool pgfence_identity(pgq *q, const char *admin_role, char *sysid, size_t scap, char *marker, size_t mcap,
                      bool *role_exists, char *err, size_t errcap);
/* Set the marker (COMMENT ON ROLE admin_role). */
bool pgfence_mark(pgq *q, const char *admin_role, const char *marker, char *err, size_t errcap);
/* "fleetcrypt <tag> <side> <nonce>"; false when it does not fit. */
bool pgfence_marker_make(const char *tag, const char *side, const char *nonce, char *out, size_t cap);

#endif
