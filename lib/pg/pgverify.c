/* pgverify — row counts and checksums between source and target.
 * Keyed tables are compared in key ranges of chunk_rows rows: the source
 * picks each range's upper key, then both sides digest exactly that range
 * (count + md5 over the md5 of every row's text, in key order). Ranges are
 * independent of each other, so they can be spread over workers. Tables
 * without a primary key are compared as multisets (count and two 64-bit
 * sums of row hashes), so duplicated or missing rows show. */
#include "pgverify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "pgq.h"
#include "util.h"

typedef struct keyinfo {
    int ncols;
    char *keylist;  /* "k1","k2" quoted by libpq */
    char *keydesc;  /* "k1" DESC, "k2" DESC */
    char *cols;     /* the columns compared: "*", or a quoted list (pgverify_columns) */
} keyinfo;

static void keyinfo_free(keyinfo *k)
{
    free(k->keylist);
    k->keylist = NULL;
    free(k->keydesc);
    k->keydesc = NULL;
    free(k->cols);
    k->cols = NULL;
}

/* A failed read of a table, said so that the cause is clear: with
 * row_security off (pgverify_session) a table whose policies apply to
 * this role fails (42501) instead of showing only the rows it may see. */
static void table_err(char *err, size_t errcap, const char *what, const char *schema, const char *table,
                      const pgq *q)
{
    if (!strcmp(q->sqlstate, "42501") && strstr(q->err, "row-level security"))
        pgq_seterr(err, errcap,
                      "%s.%s has row-level security that %s cannot bypass: verification would see only part "
                      "of its rows, so it refuses; make that role the table's owner or give it BYPASSRLS (%s)",
                      schema, table, PQuser(q->conn) ? PQuser(q->conn) : "the verifying role", what);
    else
        pgq_seterr(err, errcap, "%s of %s.%s: %s", what, schema, table, q->err);
}

/* The columns to compare: "*" unless the table has a column that differs
 * on purpose (pg_cron's cron.job.active while jobs are held). */
static bool load_cols(pgq *q, const char *schema, const char *table, char **cols, char *err, size_t errcap)
{
    *cols = NULL;
    const char *p[] = {schema, table};
    PGresult *r = pgq_exec(q, pgq_sql("pgverify_columns"), 2, p);
    if (!r) {
        table_err(err, errcap, "columns", schema, table, q);
        return false;
    }
    dbuf b;
    dbuf_init(&b, 1u << 16);
    bool ok = true;
    for (int i = 0; i < PQntuples(r) && ok; i++) {
        char *id = pgq_ident(q, PQgetvalue(r, i, 0));
        ok = id && dbuf_printf(&b, "%s%s", i ? ", " : "", id);
        if (id) PQfreemem(id);
    }
    PQclear(r);
    if (ok) *cols = b.data && *b.data ? dbuf_take(&b) : strdup("*");
    dbuf_free(&b);
    if (!*cols) {
        pgq_seterr(err, errcap, "columns of %s.%s: cannot quote", schema, table);
        return false;
    }
    return true;
}

static bool load_key(pgq *q, const char *schema, const char *table, keyinfo *k, char *err, size_t errcap)
{
    memset(k, 0, sizeof *k);
    const char *p[] = {schema, table};
    PGresult *r = pgq_exec(q, pgq_sql("pgverify_pkcols"), 2, p);
    if (!r) {
        table_err(err, errcap, "key", schema, table, q);
        return false;
    }
    dbuf b, d;
    dbuf_init(&b, 1u << 16);
    dbuf_init(&d, 1u << 16);
    k->ncols = PQntuples(r);
    for (int i = 0; i < k->ncols; i++) {
        char *id = pgq_ident(q, PQgetvalue(r, i, 0));
        if (!id || !dbuf_printf(&b, "%s%s", i ? ", " : "", id) ||
            !dbuf_printf(&d, "%s%s DESC", i ? ", " : "", id)) {
            if (id) PQfreemem(id);
            dbuf_free(&b);
            dbuf_free(&d);
            PQclear(r);
            pgq_seterr(err, errcap, "key of %s.%s: cannot quote", schema, table);
            return false;
        }
        PQfreemem(id);
    }
    PQclear(r);
    k->keylist = dbuf_take(&b);
    if (!k->keylist) k->keylist = strdup("");
    k->keydesc = dbuf_take(&d);
    if (!k->keydesc) k->keydesc = strdup("");
    if (!k->keylist || !k->keydesc) return false;
    return load_cols(q, schema, table, &k->cols, err, errcap);
}

/* "ROW(keys) > ROW($first..)" / "<=" with placeholders numbered from first. */
static bool range_pred(dbuf *b, const keyinfo *k, const char *op, int first)
{
    if (!dbuf_printf(b, "ROW(%s) %s ROW(", k->keylist, op)) return false;
    for (int i = 0; i < k->ncols; i++)
        if (!dbuf_printf(b, "%s$%d", i ? ", " : "", first + i)) return false;
    return dbuf_appends(b, ")");
}

static bool digest_chunk(pgq *q, const char *schema, const char *table, const keyinfo *k,
                         const char *pred, int np, const char *const *params, char *count, char *md5,
                         char *err, size_t errcap)
{
    const char *a[] = {k->keylist, k->cols, schema, table, pred};
    PGresult *r = pgq_tmpl_exec(q, "pgverify_chunk", 5, a, np, params);
    if (!r) {
        table_err(err, errcap, "digest", schema, table, q);
        return false;
    }
    fc_strlcpy(count, PQgetvalue(r, 0, 0), 32);
    fc_strlcpy(md5, PQgetvalue(r, 0, 1), 33);
    PQclear(r);
    return true;
}

static void md5_hex(EVP_MD_CTX *c, char out[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(c, d, &n);
    fc_hex(d, n > 16 ? 16 : n, out);
}

/* A comparison with a time budget (deadline, monotonic ms; 0 = none) stops
 * between chunks once it has passed: "past its deadline". */
static bool past(int64_t deadline, const pgl_table_result *t, char *err, size_t errcap)
{
    if (deadline <= 0 || fc_mono_ms() < deadline) return false;
    pgq_seterr(err, errcap, "comparison stopped at %s.%s: past its time budget", t->schema, t->name);
    return true;
}

/* Send the source's next range (the first chunk_rows rows after lo, or from
 * the start when !lo): count, digest and the last key in one statement
 * (pgverify_chunk_next). The statement's text, for pgq_result, or NULL. */
static char *send_src_chunk(pgq *src, const pgl_table_result *t, const keyinfo *k, char *const *lo,
                            const char *limit)
{
    dbuf where;
    dbuf_init(&where, 1u << 16);
    if (lo ? !range_pred(&where, k, ">", 1) : !dbuf_appends(&where, "true")) {
        dbuf_free(&where);
        pgq_set_error(src, "out of memory");
        return NULL;
    }
    const char *a[] = {k->cols, t->schema, t->name, where.data, k->keylist, limit, k->keylist, k->keylist,
                       k->keydesc};
    char *sql = pgq_tmpl_send(src, "pgverify_chunk_next", 9, a, lo ? k->ncols : 0, (const char *const *)lo);
    dbuf_free(&where);
    return sql;
}

/* Take (and drop) the answer to a statement still in flight, so the
 * connection is usable again after an error elsewhere. */
static void settle(pgq *q, char **sql)
{
    if (!*sql) return;
    PQclear(pgq_result(q, *sql));
    free(*sql);
    *sql = NULL;
}

/* Keyed tables, range by range. The source reads each range and its upper
 * key in one statement; the target digests the same range while the source
 * already reads the next one (the two servers work at once: the comparison
 * takes about as long as the slower side, not the sum of both). The ranges,
 * their digests and the table's digests are the same as comparing one
 * range at a time (pgl_chunk_bound, pgl_chunk_digest). */
static bool verify_keyed(pgq *src, pgq *dst, pgl_table_result *t, int64_t chunk_rows, int64_t deadline,
                         char *err, size_t errcap)
{
    keyinfo k;
    bool ok = false;
    char **lo = NULL, **hi = NULL;
    char *s_sql = NULL, *d_sql = NULL;
    PGresult *sr = NULL;
    EVP_MD_CTX *cs = EVP_MD_CTX_new(), *cd = EVP_MD_CTX_new();
    if (!load_key(src, t->schema, t->name, &k, err, errcap)) goto out_nokey;
    if (!cs || !cd || !EVP_DigestInit_ex(cs, EVP_md5(), NULL) || !EVP_DigestInit_ex(cd, EVP_md5(), NULL)) {
        pgq_seterr(err, errcap, "md5 unavailable");
        goto out;
    }
    lo = calloc((size_t)k.ncols, sizeof *lo);
    hi = calloc((size_t)k.ncols, sizeof *hi);
    if (!lo || !hi) goto oom;
    bool have_lo = false;
    char limit[32];
    snprintf(limit, sizeof limit, "%lld", (long long)(chunk_rows > 1 ? chunk_rows : 1));
    t->match = true;
    if (past(deadline, t, err, errcap)) goto out;
    if (!(s_sql = send_src_chunk(src, t, &k, NULL, limit)) || !(sr = pgq_result(src, s_sql))) {
        table_err(err, errcap, "digest", t->schema, t->name, src);
        goto out;
    }
    free(s_sql);
    s_sql = NULL;
    for (int guard = 0; guard < 100000000; guard++) {
        /* this range on the source: count, digest, and (a full range) its upper key */
        char c1[32], c2[32], m1[33], m2[33];
        fc_strlcpy(c1, PQgetvalue(sr, 0, 0), sizeof c1);
        fc_strlcpy(m1, PQgetvalue(sr, 0, 1), sizeof m1);
        bool have_hi = strtoll(c1, NULL, 10) >= chunk_rows && PQnfields(sr) >= 2 + k.ncols &&
                       !PQgetisnull(sr, 0, 2);
        for (int i = 0; i < k.ncols; i++) {
            free(hi[i]);
            hi[i] = have_hi ? strdup(PQgetvalue(sr, 0, 2 + i)) : NULL;
            if (have_hi && !hi[i]) goto oom;
        }
        PQclear(sr);
        sr = NULL;

        /* the range predicate and its parameters: lo (exclusive), hi (inclusive) */
        dbuf pred;
        dbuf_init(&pred, 1u << 16);
        const char **params = calloc((size_t)k.ncols * 2 + 1, sizeof *params);
        int np = 0;
        bool built = params != NULL;
        if (built && have_lo) {
            built = range_pred(&pred, &k, ">", 1);
            for (int i = 0; i < k.ncols; i++) params[np++] = lo[i];
        }
        if (built && have_hi) {
            built = (!have_lo || dbuf_appends(&pred, " AND ")) && range_pred(&pred, &k, "<=", np + 1);
            for (int i = 0; i < k.ncols; i++) params[np++] = hi[i];
        }
        if (built && !have_lo && !have_hi) built = dbuf_appends(&pred, "true");
        if (!built) {
            free(params);
            dbuf_free(&pred);
            goto oom;
        }
        /* the target digests it while the source reads the next range */
        const char *a[] = {k.keylist, k.cols, t->schema, t->name, pred.data};
        d_sql = pgq_tmpl_send(dst, "pgverify_chunk", 5, a, np, params);
        free(params);
        dbuf_free(&pred);
        if (!d_sql) {
            table_err(err, errcap, "digest", t->schema, t->name, dst);
            goto out;
        }
        if (have_hi && !past(deadline, t, err, errcap) && !(s_sql = send_src_chunk(src, t, &k, hi, limit))) {
            table_err(err, errcap, "digest", t->schema, t->name, src);
            goto out;
        }
        PGresult *dr = pgq_result(dst, d_sql);
        free(d_sql);
        d_sql = NULL;
        if (!dr) {
            table_err(err, errcap, "digest", t->schema, t->name, dst);
            goto out;
        }
        fc_strlcpy(c2, PQgetvalue(dr, 0, 0), sizeof c2);
        fc_strlcpy(m2, PQgetvalue(dr, 0, 1), sizeof m2);
        PQclear(dr);
        t->chunks++;
        t->rows_src += strtoll(c1, NULL, 10);
        t->rows_dst += strtoll(c2, NULL, 10);
        if (strcmp(c1, c2) != 0 || strcmp(m1, m2) != 0) {
            if (t->match)
                log_warn("chunk differs", "table=%s.%s chunk=%d src_rows=%s dst_rows=%s", t->schema,
                         t->name, t->chunks, c1, c2);
            t->match = false;
        }
        EVP_DigestUpdate(cs, c1, strlen(c1));
        EVP_DigestUpdate(cs, m1, strlen(m1));
        EVP_DigestUpdate(cd, c2, strlen(c2));
        EVP_DigestUpdate(cd, m2, strlen(m2));
        if (!have_hi) break;
        if (!s_sql) goto out; /* past the deadline (err set) */
        sr = pgq_result(src, s_sql);
        free(s_sql);
        s_sql = NULL;
        if (!sr) {
            table_err(err, errcap, "digest", t->schema, t->name, src);
            goto out;
        }
        for (int i = 0; i < k.ncols; i++) {
            free(lo[i]);
            lo[i] = hi[i];
            hi[i] = NULL;
        }
        have_lo = true;
    }
    md5_hex(cs, t->digest_src);
    md5_hex(cd, t->digest_dst);
    ok = true;
    goto out;
oom:
    pgq_seterr(err, errcap, "out of memory verifying %s.%s", t->schema, t->name);
out:
    settle(dst, &d_sql);
    settle(src, &s_sql);
    PQclear(sr);
    for (int i = 0; lo && i < k.ncols; i++) free(lo[i]);
    for (int i = 0; hi && i < k.ncols; i++) free(hi[i]);
    free(lo);
    free(hi);
    keyinfo_free(&k);
out_nokey:
    EVP_MD_CTX_free(cs);
    EVP_MD_CTX_free(cd);
    return ok;
}

static bool verify_multiset(pgq *src, pgq *dst, pgl_table_result *t, char *err, size_t errcap)
{
    char *cols = NULL;
    if (!load_cols(src, t->schema, t->name, &cols, err, errcap)) return false;
    const char *a[] = {cols, t->schema, t->name};
    PGresult *r1 = pgq_tmpl_exec(src, "pgverify_multiset", 3, a, 0, NULL);
    if (!r1) {
        free(cols);
        table_err(err, errcap, "digest on the source", t->schema, t->name, src);
        return false;
    }
    PGresult *r2 = pgq_tmpl_exec(dst, "pgverify_multiset", 3, a, 0, NULL);
    free(cols);
    if (!r2) {
        PQclear(r1);
        table_err(err, errcap, "digest on the target", t->schema, t->name, dst);
        return false;
    }
    t->rows_src = strtoll(PQgetvalue(r1, 0, 0), NULL, 10);
    t->rows_dst = strtoll(PQgetvalue(r2, 0, 0), NULL, 10);
    const char *h1 = PQgetvalue(r1, 0, 1), *h2 = PQgetvalue(r2, 0, 1);
    t->match = t->rows_src == t->rows_dst && strcmp(h1, h2) == 0;
    t->chunks = 1;
    /* show the multiset digest as an md5 of its text, like keyed tables */
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(h1, strlen(h1), d, &n, EVP_md5(), NULL);
    fc_hex(d, 16, t->digest_src);
    EVP_Digest(h2, strlen(h2), d, &n, EVP_md5(), NULL);
    fc_hex(d, 16, t->digest_dst);
    PQclear(r1);
    PQclear(r2);
    return true;
}

static bool count_only(pgq *src, pgq *dst, pgl_table_result *t, char *err, size_t errcap)
{
    const char *a[] = {t->schema, t->name};
    PGresult *r1 = pgq_tmpl_exec(src, "pgverify_count", 2, a, 0, NULL);
    PGresult *r2 = r1 ? pgq_tmpl_exec(dst, "pgverify_count", 2, a, 0, NULL) : NULL;
    if (!r1 || !r2) {
        table_err(err, errcap, "row count", t->schema, t->name, r1 ? dst : src);
        PQclear(r1);
        return false;
    }
    t->rows_src = strtoll(PQgetvalue(r1, 0, 0), NULL, 10);
    t->rows_dst = strtoll(PQgetvalue(r2, 0, 0), NULL, 10);
    t->match = t->rows_src == t->rows_dst;
    PQclear(r1);
    PQclear(r2);
    return true;
}

void pgverify_free(pgverify_result *r)
{
    if (!r) return;
    free(r->tables);
    memset(r, 0, sizeof *r);
}

bool pgverify(pgq *src, pgq *dst, const char *own_schema, int64_t chunk_rows, bool counts_only,
                   pgverify_result *out, char *err, size_t errcap)
{
    return pgverify_until(src, dst, own_schema, chunk_rows, counts_only, 0, out, err, errcap);
}

/* Each statement may run at most what is left of the budget. */
/* The server's statement_timeout bounds what it runs; the answer bound
 * (a little later) covers a server or network that stops answering. */
#define ANSWER_GRACE_MS 3000

static bool budget_statements(pgq *src, pgq *dst, int64_t deadline, char *err, size_t errcap)
{
    if (deadline <= 0) return true;
    int64_t left = deadline - fc_mono_ms();
    if (left < 1) left = 1;
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)left);
    const char *p[] = {ms};
    if (!pgq_cmd(src, pgq_sql("pgverify_timeout"), 1, p) || !pgq_cmd(dst, pgq_sql("pgverify_timeout"), 1, p)) {
        pgq_seterr(err, errcap, "verify statement timeout: %s %s", src->err, dst->err);
        return false;
    }
    return true;
}

static bool verify_until(pgq *src, pgq *dst, const char *own_schema, int64_t chunk_rows, bool counts_only,
                         int64_t deadline_mono_ms, pgverify_result *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (chunk_rows <= 0) chunk_rows = 10000;
    if (!pgq_cmd(src, pgq_sql("pgverify_session"), 0, NULL) ||
        !pgq_cmd(dst, pgq_sql("pgverify_session"), 0, NULL)) {
        pgq_seterr(err, errcap, "verify session settings: %s %s", src->err, dst->err);
        return false;
    }
    if (!budget_statements(src, dst, deadline_mono_ms, err, errcap)) return false;
    const char *p[] = {own_schema};
    PGresult *ts = pgq_exec(src, pgq_sql("pgverify_tables"), 1, p);
    if (!ts) {
        pgq_seterr(err, errcap, "listing source tables: %s", src->err);
        return false;
    }
    PGresult *td = pgq_exec(dst, pgq_sql("pgverify_tables"), 1, p);
    if (!td) {
        PQclear(ts);
        pgq_seterr(err, errcap, "listing target tables: %s", dst->err);
        return false;
    }
    int ns = PQntuples(ts), nd = PQntuples(td);
    out->tables = calloc((size_t)(ns + nd) + 1, sizeof *out->tables);
    if (!out->tables) {
        PQclear(ts);
        PQclear(td);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    bool ok = true;
    /* tables only on the target are mismatches too */
    for (int j = 0; j < nd; j++) {
        bool found = false;
        for (int i = 0; i < ns && !found; i++)
            found = strcmp(PQgetvalue(ts, i, 0), PQgetvalue(td, j, 0)) == 0 &&
                    strcmp(PQgetvalue(ts, i, 1), PQgetvalue(td, j, 1)) == 0;
        if (!found) {
            pgl_table_result *t = &out->tables[out->ntables++];
            fc_strlcpy(t->schema, PQgetvalue(td, j, 0), sizeof t->schema);
            fc_strlcpy(t->name, PQgetvalue(td, j, 1), sizeof t->name);
            t->rows_src = -1;
            out->mismatches++;
        }
    }
    for (int i = 0; i < ns && ok; i++) {
        pgl_table_result *t = &out->tables[out->ntables++];
        fc_strlcpy(t->schema, PQgetvalue(ts, i, 0), sizeof t->schema);
        fc_strlcpy(t->name, PQgetvalue(ts, i, 1), sizeof t->name);
        t->keyed = PQgetvalue(ts, i, 2)[0] == 't';
        bool on_target = false;
        for (int j = 0; j < nd && !on_target; j++)
            on_target = strcmp(t->schema, PQgetvalue(td, j, 0)) == 0 && strcmp(t->name, PQgetvalue(td, j, 1)) == 0;
        if (!on_target) {
            t->rows_dst = -1;
            out->mismatches++;
            continue;
        }
        ok = !past(deadline_mono_ms, t, err, errcap) && budget_statements(src, dst, deadline_mono_ms, err, errcap);
        if (ok && counts_only)
            ok = count_only(src, dst, t, err, errcap);
        else if (ok && t->keyed)
            ok = verify_keyed(src, dst, t, chunk_rows, deadline_mono_ms, err, errcap);
        else if (ok)
            ok = verify_multiset(src, dst, t, err, errcap);
        if (!ok) {
            out->timed_out = deadline_mono_ms > 0 && fc_mono_ms() >= deadline_mono_ms;
            /* a statement cut by the timeout the budget set (57014) is the
             * budget's doing: say so, with what the server said */
            if (out->timed_out && !strstr(err, "time budget")) {
                char was[512];
                fc_strlcpy(was, err, sizeof was);
                pgq_seterr(err, errcap, "comparison stopped at %s.%s: past its time budget (%s)", t->schema,
                           t->name, was);
            }
            break;
        }
        if (!t->match) out->mismatches++;
        out->rows_verified += t->rows_src;
    }
    PQclear(ts);
    PQclear(td);
    return ok;
}

bool pgverify_until(pgq *src, pgq *dst, const char *own_schema, int64_t chunk_rows, bool counts_only,
                    int64_t deadline_mono_ms, pgverify_result *out, char *err, size_t errcap)
{
    /* the connections outlive the comparison (the caller's session keeps
     * them): their own answer bound, if any, comes back after it */
    int64_t was_src = src->answer_by, was_dst = dst->answer_by;
    if (deadline_mono_ms > 0) {
        int64_t by = deadline_mono_ms + ANSWER_GRACE_MS;
        if (!was_src || by < was_src) pgq_set_answer_by(src, by);
        if (!was_dst || by < was_dst) pgq_set_answer_by(dst, by);
    }
    bool ok = verify_until(src, dst, own_schema, chunk_rows, counts_only, deadline_mono_ms, out, err, errcap);
    pgq_set_answer_by(src, was_src);
    pgq_set_answer_by(dst, was_dst);
    if (!ok && deadline_mono_ms > 0 && (!src->conn || !dst->conn)) out->timed_out = true;
    return ok;
}

/* ---- one chunk's checksum, shared with live validation (pg-logical's db/pgl_db_live.c):
 * the same key list, range predicate and SQL (pgverify_bound,
 * pgverify_chunk) as verify_keyed above. */
struct pgl_key {
    keyinfo k;
};

pgl_key *pgl_key_load(pgq *q, const char *schema, const char *table, char *err, size_t errcap)
{
    pgl_key *pk = calloc(1, sizeof *pk);
    if (!pk) {
        pgq_seterr(err, errcap, "out of memory");
        return NULL;
    }
    if (!load_key(q, schema, table, &pk->k, err, errcap)) {
        free(pk);
        return NULL;
    }
    if (pk->k.ncols == 0) {
        pgq_seterr(err, errcap, "%s.%s has no primary key", schema, table);
        pgl_key_free(pk);
        return NULL;
    }
    return pk;
}

int pgl_key_ncols(const pgl_key *k) { return k ? k->k.ncols : 0; }

void pgl_key_free(pgl_key *k)
{
    if (!k) return;
    keyinfo_free(&k->k);
    free(k);
}

/* "(lo, hi]" as a predicate over the key with $1.. placeholders; either end
 * may be absent (NULL). params gets the values in placeholder order. */
static bool chunk_pred(dbuf *pred, const keyinfo *k, const char *const *lo, const char *const *hi,
                       const char **params, int *np)
{
    *np = 0;
    if (lo) {
        if (!range_pred(pred, k, ">", 1)) return false;
        for (int i = 0; i < k->ncols; i++) params[(*np)++] = lo[i];
    }
    if (hi) {
        if (lo && !dbuf_appends(pred, " AND ")) return false;
        if (!range_pred(pred, k, "<=", *np + 1)) return false;
        for (int i = 0; i < k->ncols; i++) params[(*np)++] = hi[i];
    }
    return lo || hi ? true : dbuf_appends(pred, "true");
}

bool pgl_chunk_bound(pgq *q, const char *schema, const char *table, const pgl_key *pk,
                        const char *const *lo, int64_t rows, char **hi, bool *found, char *err, size_t errcap)
{
    const keyinfo *k = &pk->k;
    *found = false;
    for (int i = 0; i < k->ncols; i++) hi[i] = NULL;
    dbuf where;
    dbuf_init(&where, 1u << 16);
    if (lo ? !range_pred(&where, k, ">", 1) : !dbuf_appends(&where, "true")) {
        dbuf_free(&where);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    char off[32];
    snprintf(off, sizeof off, "%lld", (long long)(rows > 1 ? rows - 1 : 0));
    const char *ba[] = {k->keylist, schema, table, where.data, k->keylist, off};
    PGresult *r = pgq_tmpl_exec(q, "pgverify_bound", 6, ba, lo ? k->ncols : 0, lo);
    dbuf_free(&where);
    if (!r) {
        table_err(err, errcap, "chunk bound", schema, table, q);
        return false;
    }
    bool ok = true;
    if (PQntuples(r) > 0) {
        for (int i = 0; i < k->ncols && ok; i++) ok = (hi[i] = strdup(PQgetvalue(r, 0, i))) != NULL;
        *found = ok;
        if (!ok) {
            for (int i = 0; i < k->ncols; i++) {
                free(hi[i]);
                hi[i] = NULL;
            }
            pgq_seterr(err, errcap, "out of memory");
        }
    }
    PQclear(r);
    return ok;
}

bool pgl_chunk_digest(pgq *q, const char *schema, const char *table, const pgl_key *pk,
                         const char *const *lo, const char *const *hi, char count[32], char md5[33], char *err,
                         size_t errcap)
{
    const keyinfo *k = &pk->k;
    dbuf pred;
    dbuf_init(&pred, 1u << 16);
    const char **params = calloc((size_t)k->ncols * 2 + 1, sizeof *params);
    int np = 0;
    if (!params || !chunk_pred(&pred, k, lo, hi, params, &np)) {
        free(params);
        dbuf_free(&pred);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    bool ok = digest_chunk(q, schema, table, k, pred.data, np, params, count, md5, err, errcap);
    free(params);
    dbuf_free(&pred);
    return ok;
}
