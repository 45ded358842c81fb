/* dms_db — the PostgreSQL half of strategy dms-cdc (the rest of its data
 * plane is pg-logical's, db/pgl_db.h): what AWS DMS cannot carry exactly
 * (keyless tables, column types) and the test_decoding slot DMS reads.
 * Every function is idempotent and returns false with a reason in err.
 * SQL: worker/strategies/dmscdc/db/sql/dms_*.sql. */
#ifndef FC_DMS_DB_H
#define FC_DMS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbuf.h"
#include "lsn.h"
#include "pgq.h"

/* Is `name` (as the findings spell it: format('%I.%I')) in the
 * comma-separated list (entries trimmed; an unquoted entry also matches
 * schema.table written plainly)? */
bool dms_table_listed(const char *list, const char *name);

/* Preflight findings in q's database (fleetcrypt's schema `schema` left
 * out): tables without a primary key not in `read_only` (the operator
 * declared they take no UPDATE/DELETE during the run), and columns of types
 * DMS does not carry exactly, appended to *keyless / *types as
 * "db: name, name" text (nothing appended when none); counts in *nk / *nt. */
bool dms_preflight_database(pgq *q, const char *db, const char *schema, const char *read_only, dbuf *keyless,
                            int *nk, dbuf *types, int *nt, char *err, size_t errcap);

/* The logical slot `slot` with plugin test_decoding in q's database: made
 * when missing (its creation waits for running transactions at most
 * timeout_ms), taken when there already (refused when it is another
 * plugin's or another database's). *slot_lsn: its consistent point. */
bool dms_ensure_slot(pgq *q, const char *slot, int timeout_ms, fc_lsn *slot_lsn, char *err, size_t errcap);
/* Changes DMS could not apply (awsdms_apply_exceptions in the control
 * schema `schema` and in public, where they exist) in q's database. */
bool dms_db_apply_exceptions(pgq *q, const char *schema, int64_t *n, char *err, size_t errcap);
/* One committed transaction the slot decodes but that changes no table (a
 * transactional logical message) in q's database: a commit after the
 * position the caller took, for DMS to read and confirm. */
bool dms_db_drain_marker(pgq *q, char *err, size_t errcap);
/* Drop the slot `slot` when it exists (ending its walsender). */
bool dms_drop_slot(pgq *q, const char *slot, char *err, size_t errcap);

#endif
