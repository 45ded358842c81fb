/* dfc_db — the PostgreSQL half of strategy dms-full-cdc (the rest of its
 * data plane is dms-cdc's and pg-logical's): what the target's foreign keys
 * and enabled triggers were before DMS's full load, their removal (keys
 * dropped, triggers disabled) and their return at the cutover.
 *
 * The record ("held" list) is text kept as facts: one line per object,
 * fields separated by TAB, with backslash, TAB and newline escaped (\\, \t,
 * \n), so any identifier or definition survives. Foreign keys:
 * schema, table, name, definition (pg_get_constraintdef, names qualified),
 * validated (1/0), the table's relkind (r, p). Triggers: schema, table, name, tgenabled (O, R, A).
 * Definitions and names only, never a row value; capped (the caller's cap).
 * The list functions are pure (unit-tested); the others run SQL
 * (worker/strategies/dmsfullcdc/db/sql/dfc_*.sql) and return false with a
 * reason in err. */
#ifndef FC_DFC_DB_H
#define FC_DFC_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "dbuf.h"
#include "pgq.h"

#define DFC_MAX_FIELDS 6
#define DFC_FK_FIELDS 6
#define DFC_TRG_FIELDS 4

/* One line of the held list: n fields (unescaped copies). */
typedef struct dfc_item {
    char *f[DFC_MAX_FIELDS];
    int n;
} dfc_item;
typedef struct dfc_list {
    dfc_item *v;
    size_t n;
} dfc_list;

/* Append one line of n fields (escaped) to b; false when b's maximum would
 * be passed (b unchanged then). Pure. */
bool dfc_line_append(dbuf *b, const char *const *fields, int n);
/* Parse a held list; false on a malformed line (a line whose field count
 * is not `nfields`) or out of memory. *out freed with dfc_list_free. Pure. */
bool dfc_list_parse(const char *text, int nfields, dfc_list *out);
void dfc_list_free(dfc_list *l);
/* The ALTER TABLE clause that gives a trigger its recorded state back:
 * O → "ENABLE TRIGGER", R → "ENABLE REPLICA TRIGGER", A → "ENABLE ALWAYS
 * TRIGGER"; NULL for anything else. Pure. */
const char *dfc_enable_clause(const char *tgenabled);
/* Does a recorded definition need " NOT VALID" appended to be added back
 * without scanning (a key that was validated: yes; one recorded NOT VALID
 * already says so: no; one on a partitioned table (relkind p): no,
 * PostgreSQL refuses NOT VALID there and it is added validated)? Pure. */
bool dfc_add_not_valid(const char *def, const char *validated, const char *relkind);

/* The foreign keys / enabled triggers of q's database (fleetcrypt's schema
 * `schema` left out) appended to *fks / *trgs as held-list lines, counts
 * added to *nfk / *ntrg; false with "too large" in err when a list passes
 * its dbuf's maximum. */
bool dfc_db_record(pgq *q, const char *schema, dbuf *fks, int *nfk, dbuf *trgs, int *ntrg, char *err,
                   size_t errcap);
/* Identity columns GENERATED ALWAYS (DMS's apply cannot insert into them)
 * appended to *out as "db: table.column, ..." (nothing when none); count in
 * *n. */
bool dfc_db_identity_always(pgq *q, const char *db, const char *schema, dbuf *out, int *n, char *err,
                            size_t errcap);
/* Drop the listed keys (IF EXISTS) and disable the listed triggers, in one
 * transaction. Idempotent. */
bool dfc_db_hold(pgq *q, const dfc_list *fks, const dfc_list *trgs, char *err, size_t errcap);
/* Give every listed key back (ADD CONSTRAINT ... NOT VALID when it was
 * validated; skipped when it is there already) and every listed trigger its
 * recorded state, in one transaction. *added: keys added by this call.
 * Idempotent. */
bool dfc_db_restore(pgq *q, const dfc_list *fks, const dfc_list *trgs, int *added, char *err, size_t errcap);
/* VALIDATE CONSTRAINT every listed key recorded validated and not
 * validated now (each in its own statement: a long scan holds only a SHARE
 * UPDATE EXCLUSIVE lock, writers go on). *validated: how many this call
 * validated. Idempotent. */
bool dfc_db_validate(pgq *q, const dfc_list *fks, int *validated, char *err, size_t errcap);

#endif
