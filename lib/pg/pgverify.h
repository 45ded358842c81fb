/* pgverify — row counts and checksums between a source and a target
 * database (pgverify.c; SQL in sql/pgverify_*.sql): every table
 * at once for a verify step, or one key range at a time for the live
 * validation during a catch-up. Knows nothing of a strategy: the caller
 * names the schema of its own bookkeeping, which is not compared. */
#ifndef FC_PGREPL_VERIFY_H
#define FC_PGREPL_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgq.h"

/* ---- verification ---- */
typedef struct pgl_table_result {
    char schema[256];
    char name[256];
    bool keyed;             /* compared in key order, chunk by chunk; else as a multiset */
    int64_t rows_src, rows_dst;
    int chunks;
    char digest_src[33];    /* md5 over the chunk digests (or the multiset digest) */
    char digest_dst[33];
    bool match;
} pgl_table_result;
typedef struct pgverify_result {
    pgl_table_result *tables;
    int ntables;
    int64_t rows_verified;
    int mismatches;
    bool timed_out;         /* pgverify_until: stopped (false returned) because its budget ran out */
} pgverify_result;
/* Compare every table of one database: row counts always; unless
 * counts_only, a checksum per key range of chunk_rows rows (keyed tables)
 * or a multiset digest (tables without a primary key). Missing tables on
 * either side are mismatches. own_schema (the caller's bookkeeping, e.g.
 * fc_<tag>) is left out on both sides. */
bool pgverify(pgq *src, pgq *dst, const char *own_schema, int64_t chunk_rows, bool counts_only,
                   pgverify_result *out, char *err, size_t errcap);
/* pgverify within a time budget: every statement runs with a
 * statement_timeout of what is left until deadline_mono_ms (fc_mono_ms
 * clock; 0 = no budget) and the comparison stops between tables and
 * chunks once it has passed: false with out->timed_out set. */
bool pgverify_until(pgq *src, pgq *dst, const char *own_schema, int64_t chunk_rows, bool counts_only,
                    int64_t deadline_mono_ms, pgverify_result *out, char *err, size_t errcap);
void pgverify_free(pgverify_result *r);

/* ---- one key range's checksum (pgverify.c), shared with the live
 * validation during catch-up (pg-logical's db/pgl_db_live.c): same SQL, same digest ---- */
typedef struct pgl_key pgl_key;
/* The table's primary key; NULL with err when it has none or on error. */
pgl_key *pgl_key_load(pgq *q, const char *schema, const char *table, char *err, size_t errcap);
int pgl_key_ncols(const pgl_key *k);
void pgl_key_free(pgl_key *k); /* accepts NULL */
/* The key of the rows-th row after lo (exclusive; NULL = from the start), in
 * key order: hi[ncols] strings to free(), or *found = false when fewer rows
 * are left. */
bool pgl_chunk_bound(pgq *q, const char *schema, const char *table, const pgl_key *k,
                        const char *const *lo, int64_t rows, char **hi, bool *found, char *err, size_t errcap);
/* Count and md5 of the rows with key in (lo, hi]; NULL lo/hi = open end. */
bool pgl_chunk_digest(pgq *q, const char *schema, const char *table, const pgl_key *k,
                         const char *const *lo, const char *const *hi, char count[32], char md5[33], char *err,
                         size_t errcap);

#endif
