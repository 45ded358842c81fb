/* pgl_live — work the catch-up step does while replication runs:
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
 * pgverify's (pgl_chunk_digest), so the authoritative comparison
 * at the cutover digests exactly the same way.
 *
 * Progress is one JSON document (pgl_live_state_parse/dump: pure,
 * unit-tested in tests/unit/test_pgl_db_live.c) so a crashed worker's
 * successor resumes where the last run stopped; it holds key values, so it
 * is kept on the target (pgl_live_state_load/store), never in Redis or logs. SQL: db/sql/pgl_live_*.sql plus
 * pgverify's. */
#ifndef FC_PGREPL_LIVE_H
#define FC_PGREPL_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgq.h"
#include "pgl_db.h"

#define PGL_LIVE_QMAX 8        /* chunks captured and waiting for the target at once */
#define PGL_LIVE_NAME 256
#define PGL_LIVE_SUSPECTS_MAX 2048

/* A key tuple as text (n = 0: none, i.e. an open end / the table's start). */
typedef struct pgl_live_key {
    int n;
    char **v;
} pgl_live_key;
void pgl_live_key_free(pgl_live_key *k);
bool pgl_live_key_copy(pgl_live_key *dst, int n, const char *const *v);

typedef struct pgl_live_table {
    int db; /* index into the instance's database list */
    char schema[PGL_LIVE_NAME];
    char name[PGL_LIVE_NAME];
} pgl_live_table;

/* A captured chunk waiting for the target to apply past lsn. */
typedef struct pgl_live_chunk {
    pgl_live_table t;
    pgl_live_key lo, hi;  /* (lo, hi]: lo.n = 0 from the start; hi is always set */
    char lsn[24];       /* the source's WAL insert position after its snapshot */
    char count[24];     /* the source's digest at lsn */
    char md5[33];
    int strikes, tries;
    int64_t no;         /* the chunk's number in its table for this pass, from 1 (messages) */
} pgl_live_chunk;

typedef struct pgl_live_state {
    int pass;           /* current pass over every keyed table, from 1 */
    int passes_done;
    bool off;           /* stopped after an error (live_error says why) */
    bool have_cur;      /* cursor: the table being planned and the last key planned */
    pgl_live_table cur;
    pgl_live_key cur_lo;
    int64_t cur_no;     /* chunks planned in the current table this pass */
    bool end;           /* every table of this pass has been planned */
    pgl_live_chunk q[PGL_LIVE_QMAX];
    int nq;
    int64_t total, ok, suspect, unsettled, rows_ok;
    char suspects[PGL_LIVE_SUSPECTS_MAX]; /* pgl_live_chunk_text lines: no key values */
} pgl_live_state;

/* "" or NULL → a fresh state at pass 1. false (state fresh) on bad JSON. */
bool pgl_live_state_parse(const char *json, pgl_live_state *st, char *err, size_t errcap);
/* JSON text to free(); NULL when out of memory. */
char *pgl_live_state_dump(const pgl_live_state *st);
void pgl_live_state_free(pgl_live_state *st);
/* Remove queue entry i (freeing it), keeping the order. */
void pgl_live_queue_remove(pgl_live_state *st, int i);
/* Does any queued chunk carry a strike (a suspicion still being decided)? */
bool pgl_live_queue_has_strikes(const pgl_live_state *st);
/* Add a suspect line unless already listed; true when it was new. */
bool pgl_live_suspect_add(pgl_live_state *st, const char *line);
/* Compare tables in the order passes walk them: database index, schema, name (bytewise). */
int pgl_live_table_cmp(const pgl_live_table *a, const pgl_live_table *b);
/* Index of the first table after `cur` (or the first one when cur is NULL)
 * in a list sorted with pgl_live_table_cmp; n when none is left. */
int pgl_live_next_table(const pgl_live_table *tables, int n, const pgl_live_table *cur);
/* "db schema.table chunk N" for logs and facts: a chunk named by its
 * number, never by its key values (primary keys are data). */
void pgl_live_chunk_text(const char *db, const pgl_live_chunk *c, char *out, size_t cap);

/* ---- data plane ---- */
/* The state (pgl_live_state_dump's JSON) holds key values, so it is kept on
 * the target (schema nm->schema, table live_state, made here when missing),
 * never in Redis. load: *json = NULL when none was saved; free() it. */
bool pgl_live_state_load(pgq *dst, const pgl_db_names *nm, char **json, char *err, size_t errcap);
bool pgl_live_state_store(pgq *dst, const pgl_db_names *nm, const char *json, char *err, size_t errcap);
/* Session settings for digests (UTC, ISO dates, hex bytea), statement
 * timeout put back to timeout_ms afterwards. */
bool pgl_live_session(pgq *q, int timeout_ms, char *err, size_t errcap);
/* Keyed tables of database `db` (index) sorted for passes; *keyless gets
 * how many tables have no primary key (skipped during catch-up). */
bool pgl_live_tables(pgq *q, const pgl_db_names *nm, int db, pgl_live_table **out, int *n, int *keyless, char *err,
                   size_t errcap);
/* On the source, in one REPEATABLE READ snapshot: the WAL insert position
 * after it and the digest of c's range. With plan, c->hi is chosen first:
 * the key chunk_rows rows after c->lo, or the last key when fewer are left
 * (*empty when none is). */
bool pgl_live_capture(pgq *src, pgl_live_chunk *c, bool plan, int64_t chunk_rows, bool *empty, char *err,
                    size_t errcap);
/* On the target: the digest of c's range now. */
bool pgl_live_digest(pgq *dst, const pgl_live_chunk *c, char count[32], char md5[33], char *err, size_t errcap);

/* ---- prewarm ---- */
typedef struct pgl_live_rel {
    char oid[16];
    char kind[8];       /* table, toast, index */
    int64_t blocks;     /* main fork, when listed */
    int64_t block_size;
    char schema[PGL_LIVE_NAME];
    char name[PGL_LIVE_NAME];
} pgl_live_rel;
/* Is pg_prewarm installed in this database (never created by fleetcrypt)?
 * ext_schema gets its schema. */
bool pgl_live_prewarm_ext(pgq *q, bool *have, char *ext_schema, size_t cap, char *err, size_t errcap);
/* Relations to read, in a stable order: every table compared by verify;
 * with_indexes adds their TOAST tables and every index (pg_prewarm only). */
bool pgl_live_prewarm_rels(pgq *q, const pgl_db_names *nm, bool with_indexes, pgl_live_rel **out, int *n, char *err,
                         size_t errcap);
/* Read blocks [first, last] of r's main fork once: pg_prewarm(…, 'read')
 * when ext_schema is set, else a TID-range count over the heap (PostgreSQL
 * 14+; older servers read the whole table when first = 0). Blocks past the
 * relation's current end are skipped. *read gets the blocks read. */
bool pgl_live_prewarm_read(pgq *q, const pgl_live_rel *r, const char *ext_schema, int64_t first, int64_t last,
                         int64_t *read, char *err, size_t errcap);

#endif
