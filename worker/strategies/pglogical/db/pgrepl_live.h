/* pgrepl_live — work the catch-up step does while replication runs:
 * prewarming the restored target (its blocks load lazily from storage, so
 * every relation is read once before the cutover) and validating key ranges
 * chunk by chunk without false alarms from changes in flight.
 *
 * Live validation of one chunk: the source digests a key range in a
 * REPEATABLE READ snapshot and takes the WAL insert position X after it
 * (every commit the snapshot sees lies before X). Once the subscription's
 * slot has confirmed X, the target digests the same range: equal means
 * validated. Different: the source digests the range again (X'); when the
 * source's range did not change in between, the target's state (a prefix
 * of the source's commits between X and X') should have matched — a
 * strike; otherwise rows moved under us — inconclusive. The chunk is
 * re-queued at X' either way; pgl_live_judge() decides when it is suspect
 * (strikes in a row) or given up (unsettled). The checksum is
 * pgrepl_verify's (pgrepl_chunk_digest), so the authoritative comparison
 * at the cutover digests exactly the same way.
 *
 * Progress is one JSON document (pglive_state_parse/dump: pure,
 * unit-tested in tests/unit/test_pgrepl_live.c) so a crashed worker's
 * successor resumes where the last run stopped; it holds key values, so it
 * is kept on the target (pglive_state_load/store), never in Redis or logs. SQL: db/sql/pglive_*.sql plus
 * pgrepl_verify's. */
#ifndef FC_PGREPL_LIVE_H
#define FC_PGREPL_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgq.h"
#include "pgrepl.h"

#define PGLIVE_QMAX 8        /* chunks captured and waiting for the target at once */
#define PGLIVE_NAME 256
#define PGLIVE_SUSPECTS_MAX 2048

/* A key tuple as text (n = 0: none, i.e. an open end / the table's start). */
typedef struct pglive_key {
    int n;
    char **v;
} pglive_key;
void pglive_key_free(pglive_key *k);
bool pglive_key_copy(pglive_key *dst, int n, const char *const *v);

typedef struct pglive_table {
    int db; /* index into the instance's database list */
    char schema[PGLIVE_NAME];
    char name[PGLIVE_NAME];
} pglive_table;

/* A captured chunk waiting for the target to apply past lsn. */
typedef struct pglive_chunk {
    pglive_table t;
    pglive_key lo, hi;  /* (lo, hi]: lo.n = 0 from the start; hi is always set */
    char lsn[24];       /* the source's WAL insert position after its snapshot */
    char count[24];     /* the source's digest at lsn */
    char md5[33];
    int strikes, tries;
    int64_t no;         /* the chunk's number in its table for this pass, from 1 (messages) */
} pglive_chunk;

typedef struct pglive_state {
    int pass;           /* current pass over every keyed table, from 1 */
    int passes_done;
    bool off;           /* stopped after an error (live_error says why) */
    bool have_cur;      /* cursor: the table being planned and the last key planned */
    pglive_table cur;
    pglive_key cur_lo;
    int64_t cur_no;     /* chunks planned in the current table this pass */
    bool end;           /* every table of this pass has been planned */
    pglive_chunk q[PGLIVE_QMAX];
    int nq;
    int64_t total, ok, suspect, unsettled, rows_ok;
    char suspects[PGLIVE_SUSPECTS_MAX]; /* pglive_chunk_text lines: no key values */
} pglive_state;

/* "" or NULL → a fresh state at pass 1. false (state fresh) on bad JSON. */
bool pglive_state_parse(const char *json, pglive_state *st, char *err, size_t errcap);
/* JSON text to free(); NULL when out of memory. */
char *pglive_state_dump(const pglive_state *st);
void pglive_state_free(pglive_state *st);
/* Remove queue entry i (freeing it), keeping the order. */
void pglive_queue_remove(pglive_state *st, int i);
/* Does any queued chunk carry a strike (a suspicion still being decided)? */
bool pglive_queue_has_strikes(const pglive_state *st);
/* Add a suspect line unless already listed; true when it was new. */
bool pglive_suspect_add(pglive_state *st, const char *line);
/* Compare tables in the order passes walk them: database index, schema, name (bytewise). */
int pglive_table_cmp(const pglive_table *a, const pglive_table *b);
/* Index of the first table after `cur` (or the first one when cur is NULL)
 * in a list sorted with pglive_table_cmp; n when none is left. */
int pglive_next_table(const pglive_table *tables, int n, const pglive_table *cur);
/* "db schema.table chunk N" for logs and facts: a chunk named by its
 * number, never by its key values (primary keys are data). */
void pglive_chunk_text(const char *db, const pglive_chunk *c, char *out, size_t cap);

/* ---- data plane ---- */
/* The state (pglive_state_dump's JSON) holds key values, so it is kept on
 * the target (schema nm->schema, table live_state, made here when missing),
 * never in Redis. load: *json = NULL when none was saved; free() it. */
bool pglive_state_load(pgq *dst, const pgrepl_names *nm, char **json, char *err, size_t errcap);
bool pglive_state_store(pgq *dst, const pgrepl_names *nm, const char *json, char *err, size_t errcap);
/* Session settings for digests (UTC, ISO dates, hex bytea), statement
 * timeout put back to timeout_ms afterwards. */
bool pglive_session(pgq *q, int timeout_ms, char *err, size_t errcap);
/* Keyed tables of database `db` (index) sorted for passes; *keyless gets
 * how many tables have no primary key (skipped during catch-up). */
bool pglive_tables(pgq *q, const pgrepl_names *nm, int db, pglive_table **out, int *n, int *keyless, char *err,
                   size_t errcap);
/* On the source, in one REPEATABLE READ snapshot: the WAL insert position
 * after it and the digest of c's range. With plan, c->hi is chosen first:
 * the key chunk_rows rows after c->lo, or the last key when fewer are left
 * (*empty when none is). */
bool pglive_capture(pgq *src, pglive_chunk *c, bool plan, int64_t chunk_rows, bool *empty, char *err,
                    size_t errcap);
/* On the target: the digest of c's range now. */
bool pglive_digest(pgq *dst, const pglive_chunk *c, char count[32], char md5[33], char *err, size_t errcap);

/* ---- prewarm ---- */
typedef struct pglive_rel {
    char oid[16];
    char kind[8];       /* table, toast, index */
    int64_t blocks;     /* main fork, when listed */
    int64_t block_size;
    char schema[PGLIVE_NAME];
    char name[PGLIVE_NAME];
} pglive_rel;
/* Is pg_prewarm installed in this database (never created by fleetcrypt)?
 * ext_schema gets its schema. */
bool pglive_prewarm_ext(pgq *q, bool *have, char *ext_schema, size_t cap, char *err, size_t errcap);
/* Relations to read, in a stable order: every table compared by verify;
 * with_indexes adds their TOAST tables and every index (pg_prewarm only). */
bool pglive_prewarm_rels(pgq *q, const pgrepl_names *nm, bool with_indexes, pglive_rel **out, int *n, char *err,
                         size_t errcap);
/* Read blocks [first, last] of r's main fork once: pg_prewarm(…, 'read')
 * when ext_schema is set, else a TID-range count over the heap (PostgreSQL
 * 14+; older servers read the whole table when first = 0). Blocks past the
 * relation's current end are skipped. *read gets the blocks read. */
bool pglive_prewarm_read(pgq *q, const pglive_rel *r, const char *ext_schema, int64_t first, int64_t last,
                         int64_t *read, char *err, size_t errcap);

#endif
