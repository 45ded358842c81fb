/* pgverify — row counts and checksums between source and target.
 * Keyed tables are compared in key ranges of chunk_rows rows: the source
 * picks each range's upper key, then both sides stream exactly that range
 * in key order as COPY text, at once, and the client digests each stream
 * (count + md5): the servers only format rows, as a dump would (digesting
 * on the server — md5 per row, an ordered string_agg — cost them 3-4 times
 * that, bench/bench_validation.py). Ranges are independent of each other,
 * so they can be spread over workers. Tables without a primary key are
 * compared as multisets (count and two 64-bit sums of row hashes), so
 * duplicated or missing rows show. */
#include "pgverify.h"

#include <errno.h>
#include <poll.h>
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
    char *cols;     /* the columns compared: "*", or a quoted list (pgverify_columns) */
} keyinfo;

static void keyinfo_free(keyinfo *k)
{
    free(k->keylist);
    k->keylist = NULL;
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
    dbuf b;
    dbuf_init(&b, 1u << 16);
    k->ncols = PQntuples(r);
    for (int i = 0; i < k->ncols; i++) {
        char *id = pgq_ident(q, PQgetvalue(r, i, 0));
        if (!id || !dbuf_printf(&b, "%s%s", i ? ", " : "", id)) {
            if (id) PQfreemem(id);
            dbuf_free(&b);
            PQclear(r);
            pgq_seterr(err, errcap, "key of %s.%s: cannot quote", schema, table);
            return false;
        }
        PQfreemem(id);
    }
    PQclear(r);
    k->keylist = dbuf_take(&b);
    if (!k->keylist) k->keylist = strdup("");
    if (!k->keylist) return false;
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

/* ---- the comparison's reads: both sides stream the same rows as COPY text
 * at once and the client hashes them (the servers only format rows, as a
 * dump would; the digest costs them nothing). */
typedef struct stream {
    pgq *q;
    char *sql;          /* the statement sent (messages) */
    bool multiset;      /* sum a hash of every row (any order), else digest the stream (key order) */
    EVP_MD_CTX *md;     /* the stream's md5, or the per-row md5 of a multiset */
    uint64_t s1, s2;    /* multiset: sums of the two halves of every row's md5 (mod 2^64) */
    int64_t rows;
    bool started, done;
} stream;

static bool stream_open(stream *st, pgq *q, bool multiset, const char *tmpl, int nargs, const char *const *args)
{
    memset(st, 0, sizeof *st);
    st->q = q;
    st->multiset = multiset;
    st->md = EVP_MD_CTX_new();
    if (!st->md || (!multiset && !EVP_DigestInit_ex(st->md, EVP_md5(), NULL))) {
        pgq_set_error(q, "md5 unavailable");
        return false;
    }
    st->sql = pgq_tmpl_send(q, tmpl, nargs, args, 0, NULL);
    return st->sql != NULL;
}

static void stream_free(stream *st)
{
    /* a stream abandoned half way (the other side failed): the connection
     * cannot run anything else until the copy is over, so close it (its
     * owner reconnects, as after any broken connection) */
    if (st->sql && !st->done && st->q->conn) {
        PQfinish(st->q->conn);
        st->q->conn = NULL;
    }
    free(st->sql);
    EVP_MD_CTX_free(st->md);
    memset(st, 0, sizeof *st);
}

static void stream_row(stream *st, const char *row, int n)
{
    st->rows++;
    if (!st->multiset) {
        EVP_DigestUpdate(st->md, row, (size_t)n);
        return;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    EVP_DigestInit_ex(st->md, EVP_md5(), NULL);
    EVP_DigestUpdate(st->md, row, (size_t)n);
    EVP_DigestFinal_ex(st->md, d, &dn);
    uint64_t h1 = 0, h2 = 0;
    for (int i = 0; i < 8; i++) {
        h1 = h1 << 8 | d[i];
        h2 = h2 << 8 | d[8 + i];
    }
    st->s1 += h1;
    st->s2 += h2;
}

/* Take what has arrived; false with q->err on an error. */
static bool stream_step(stream *st, bool *progress)
{
    PGconn *c = st->q->conn;
    if (!st->started) {
        if (PQisBusy(c)) return true;
        PGresult *r = PQgetResult(c);
        if (!r || PQresultStatus(r) != PGRES_COPY_OUT) {
            PQclear(pgq_result_of(st->q, r, st->sql));
            while ((r = PQgetResult(c))) PQclear(r);
            st->done = true;
            return false;
        }
        PQclear(r);
        st->started = *progress = true;
    }
    for (;;) {
        char *row = NULL;
        int n = PQgetCopyData(c, &row, 1);
        if (n > 0) {
            stream_row(st, row, n);
            PQfreemem(row);
            *progress = true;
            continue;
        }
        if (n == 0) return true;
        /* -1: the copy is over (its status follows); -2: an error */
        PGresult *r = PQgetResult(c);
        PGresult *got = pgq_result_of(st->q, r, st->sql);
        bool ok = got != NULL;
        PQclear(got);
        while ((r = PQgetResult(c))) PQclear(r);
        st->done = *progress = true;
        return ok;
    }
}

/* Run both streams to the end at once. The connections' answer bound
 * (pgq_set_answer_by) applies: past it both are closed, 57014. */
static bool stream_both(stream *a, stream *b, char **failed_side)
{
    stream *ss[2] = {a, b};
    *failed_side = NULL;
    while (!a->done || !b->done) {
        bool progress = false;
        for (int i = 0; i < 2; i++) {
            if (ss[i]->done) continue;
            if (!PQconsumeInput(ss[i]->q->conn) || !stream_step(ss[i], &progress)) {
                if (!ss[i]->q->err[0]) pgq_set_error(ss[i]->q, "%s", PQerrorMessage(ss[i]->q->conn));
                *failed_side = i == 0 ? "source" : "target";
                return false;
            }
        }
        if (progress) continue;
        struct pollfd pf[2];
        int np = 0;
        int64_t by = 0;
        for (int i = 0; i < 2; i++) {
            if (ss[i]->done) continue;
            pf[np++] = (struct pollfd){.fd = PQsocket(ss[i]->q->conn), .events = POLLIN};
            if (ss[i]->q->answer_by > 0 && (!by || ss[i]->q->answer_by < by)) by = ss[i]->q->answer_by;
        }
        int64_t left = by > 0 ? by - fc_mono_ms() : 1000;
        if (by > 0 && left <= 0) {
            for (int i = 0; i < 2; i++) {
                if (ss[i]->done) continue;
                PQfinish(ss[i]->q->conn);
                ss[i]->q->conn = NULL;
                ss[i]->done = true;
                fc_strlcpy(ss[i]->q->sqlstate, "57014", sizeof ss[i]->q->sqlstate);
                snprintf(ss[i]->q->err, sizeof ss[i]->q->err,
                         "SQLSTATE 57014: no answer from the server in time: connection closed (%s)",
                         ss[i]->q->where);
                if (!*failed_side) *failed_side = i == 0 ? "source" : "target";
            }
            return false;
        }
        if (poll(pf, (nfds_t)np, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR) {
            pgq_set_error(a->q, "poll: %s", strerror(errno));
            *failed_side = "source";
            return false;
        }
    }
    return true;
}

/* One read of both sides: the same statement template (its arguments per
 * side: the bounds are literals quoted by each side's connection). Returns
 * the rows and the digest of each side. */
static bool read_both(pgq *src, pgq *dst, bool multiset, const char *tmpl, int nargs, const char *const *sargs,
                      const char *const *dargs, const pgl_table_result *t, int64_t rows[2], char md5[2][33],
                      char *err, size_t errcap)
{
    stream a, b;
    memset(&b, 0, sizeof b);
    bool ok = stream_open(&a, src, multiset, tmpl, nargs, sargs);
    if (!ok) {
        table_err(err, errcap, "digest", t->schema, t->name, src);
        stream_free(&a);
        return false;
    }
    if (!stream_open(&b, dst, multiset, tmpl, nargs, dargs)) {
        table_err(err, errcap, "digest", t->schema, t->name, dst);
        stream_free(&a);
        stream_free(&b);
        return false;
    }
    char *side = NULL;
    ok = stream_both(&a, &b, &side);
    if (!ok) {
        table_err(err, errcap, "digest", t->schema, t->name, side && !strcmp(side, "target") ? dst : src);
    } else {
        stream *ss[2] = {&a, &b};
        for (int i = 0; i < 2; i++) {
            rows[i] = ss[i]->rows;
            if (ss[i]->multiset) {
                char text[96];
                int n = snprintf(text, sizeof text, "%lld:%llu:%llu", (long long)ss[i]->rows,
                                 (unsigned long long)ss[i]->s1, (unsigned long long)ss[i]->s2);
                unsigned char d[EVP_MAX_MD_SIZE];
                unsigned int dn = 0;
                EVP_Digest(text, (size_t)n, d, &dn, EVP_md5(), NULL);
                fc_hex(d, 16, md5[i]);
            } else {
                md5_hex(ss[i]->md, md5[i]);
            }
        }
    }
    stream_free(&a);
    stream_free(&b);
    return ok;
}

/* "ROW(keys) > ROW('v1', ..)" / "<=" with the values as literals quoted by q. */
static bool range_lit(pgq *q, dbuf *b, const keyinfo *k, const char *op, char *const *v)
{
    if (!dbuf_printf(b, "ROW(%s) %s ROW(", k->keylist, op)) return false;
    for (int i = 0; i < k->ncols; i++) {
        char *lit = pgq_literal(q, v[i]);
        bool ok = lit && dbuf_printf(b, "%s%s", i ? ", " : "", lit);
        if (lit) PQfreemem(lit);
        if (!ok) return false;
    }
    return dbuf_appends(b, ")");
}

static bool range_text(pgq *q, dbuf *b, const keyinfo *k, char *const *lo, char *const *hi)
{
    if (lo && !range_lit(q, b, k, ">", lo)) return false;
    if (hi && ((lo && !dbuf_appends(b, " AND ")) || !range_lit(q, b, k, "<=", hi))) return false;
    return lo || hi ? true : dbuf_appends(b, "true");
}

/* Keyed tables, range by range: the source picks each range's upper key,
 * then both sides stream the range's rows in key order at once and the
 * client digests each stream (count and md5). */
static bool verify_keyed(pgq *src, pgq *dst, pgl_table_result *t, int64_t chunk_rows, int64_t deadline,
                         char *err, size_t errcap)
{
    keyinfo k;
    bool ok = false;
    char **lo = NULL, **hi = NULL;
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
    char off[32];
    snprintf(off, sizeof off, "%lld", (long long)(chunk_rows > 1 ? chunk_rows - 1 : 0));
    t->match = true;
    for (int guard = 0; guard < 100000000; guard++) {
        if (past(deadline, t, err, errcap)) goto out;
        /* the range's upper key, from the source */
        dbuf where;
        dbuf_init(&where, 1u << 16);
        if (have_lo ? !range_pred(&where, &k, ">", 1) : !dbuf_appends(&where, "true")) {
            dbuf_free(&where);
            goto oom;
        }
        const char *ba[] = {k.keylist, t->schema, t->name, where.data, k.keylist, off};
        PGresult *br = pgq_tmpl_exec(src, "pgverify_bound", 6, ba, have_lo ? k.ncols : 0,
                                     (const char *const *)lo);
        dbuf_free(&where);
        if (!br) {
            table_err(err, errcap, "chunk bound", t->schema, t->name, src);
            goto out;
        }
        bool have_hi = PQntuples(br) > 0;
        for (int i = 0; i < k.ncols; i++) {
            free(hi[i]);
            hi[i] = have_hi ? strdup(PQgetvalue(br, 0, i)) : NULL;
            if (have_hi && !hi[i]) {
                PQclear(br);
                goto oom;
            }
        }
        PQclear(br);

        /* the range (lo, hi] as literals, quoted by each side's connection */
        dbuf ps, pd;
        dbuf_init(&ps, 1u << 16);
        dbuf_init(&pd, 1u << 16);
        bool built = range_text(src, &ps, &k, have_lo ? lo : NULL, have_hi ? hi : NULL) &&
                     range_text(dst, &pd, &k, have_lo ? lo : NULL, have_hi ? hi : NULL);
        if (!built) {
            dbuf_free(&ps);
            dbuf_free(&pd);
            goto oom;
        }
        const char *sa[] = {k.cols, t->schema, t->name, ps.data, k.keylist};
        const char *da[] = {k.cols, t->schema, t->name, pd.data, k.keylist};
        int64_t rows[2];
        char md[2][33];
        bool got = read_both(src, dst, false, "pgverify_copy_range", 5, sa, da, t, rows, md, err, errcap);
        dbuf_free(&ps);
        dbuf_free(&pd);
        if (!got) goto out;
        char c1[32], c2[32];
        snprintf(c1, sizeof c1, "%lld", (long long)rows[0]);
        snprintf(c2, sizeof c2, "%lld", (long long)rows[1]);
        t->chunks++;
        t->rows_src += rows[0];
        t->rows_dst += rows[1];
        if (rows[0] != rows[1] || strcmp(md[0], md[1]) != 0) {
            if (t->match)
                log_warn("chunk differs", "table=%s.%s chunk=%d src_rows=%s dst_rows=%s", t->schema,
                         t->name, t->chunks, c1, c2);
            t->match = false;
        }
        EVP_DigestUpdate(cs, c1, strlen(c1));
        EVP_DigestUpdate(cs, md[0], strlen(md[0]));
        EVP_DigestUpdate(cd, c2, strlen(c2));
        EVP_DigestUpdate(cd, md[1], strlen(md[1]));
        if (!have_hi) break;
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

/* Tables without a primary key: both sides stream every row at once; the
 * digest is the row count and two 64-bit sums of the rows' md5 halves, so
 * the order does not matter and a duplicated or missing row shows. */
static bool verify_multiset(pgq *src, pgq *dst, pgl_table_result *t, char *err, size_t errcap)
{
    char *cols = NULL;
    if (!load_cols(src, t->schema, t->name, &cols, err, errcap)) return false;
    const char *a[] = {cols, t->schema, t->name};
    int64_t rows[2];
    char md[2][33];
    bool ok = read_both(src, dst, true, "pgverify_copy_all", 3, a, a, t, rows, md, err, errcap);
    free(cols);
    if (!ok) return false;
    t->rows_src = rows[0];
    t->rows_dst = rows[1];
    t->match = rows[0] == rows[1] && !strcmp(md[0], md[1]);
    t->chunks = 1;
    fc_strlcpy(t->digest_src, md[0], sizeof t->digest_src);
    fc_strlcpy(t->digest_dst, md[1], sizeof t->digest_dst);
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
    if (!ok && !out->timed_out && deadline_mono_ms > 0 && fc_mono_ms() >= deadline_mono_ms &&
        (!strcmp(src->sqlstate, "57014") || !strcmp(dst->sqlstate, "57014"))) {
        /* the budget's statement timeout cut a statement before the first
         * table (the listing, the session settings): the budget's doing too */
        out->timed_out = true;
        char was[512];
        fc_strlcpy(was, err, sizeof was);
        pgq_seterr(err, errcap, "comparison stopped before its first table: past its time budget (%s)", was);
    }
    return ok;
}

/* ---- one chunk's checksum for live validation (pg-logical's db/pgl_db_live.c):
 * the same key list, range predicate and bound (pgverify_bound) as
 * verify_keyed above, the digest computed by the server (pgverify_chunk):
 * a chunk read while replication runs is digested where it is read. */
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
