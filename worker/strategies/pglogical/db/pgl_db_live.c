/* pgl_live — prewarm and live chunk validation during catch-up; see
 * pgl_db_live.h for the method. The state codec at the top is pure (no
 * connection) and unit-tested; the data plane below reuses pgverify's
 * chunk checksum. */
#include "pgl_db_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "util.h"

/* ---------------------------------------------------------------- keys, tables */
void pgl_live_key_free(pgl_live_key *k)
{
    if (!k) return;
    for (int i = 0; i < k->n; i++) free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

bool pgl_live_key_copy(pgl_live_key *dst, int n, const char *const *v)
{
    pgl_live_key k = {0, NULL};
    if (n > 0) {
        k.v = calloc((size_t)n, sizeof *k.v);
        if (!k.v) return false;
        for (k.n = 0; k.n < n; k.n++) {
            k.v[k.n] = strdup(v[k.n]);
            if (!k.v[k.n]) {
                pgl_live_key_free(&k);
                return false;
            }
        }
    }
    pgl_live_key_free(dst);
    *dst = k;
    return true;
}

int pgl_live_table_cmp(const pgl_live_table *a, const pgl_live_table *b)
{
    if (a->db != b->db) return a->db < b->db ? -1 : 1;
    int c = strcmp(a->schema, b->schema);
    return c ? c : strcmp(a->name, b->name);
}

int pgl_live_next_table(const pgl_live_table *tables, int n, const pgl_live_table *cur)
{
    if (!cur) return 0;
    for (int i = 0; i < n; i++)
        if (pgl_live_table_cmp(&tables[i], cur) > 0) return i;
    return n;
}

void pgl_live_chunk_text(const char *db, const pgl_live_chunk *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s %s.%s chunk %lld", db ? db : "?", c->t.schema, c->t.name, (long long)c->no);
}

/* ---------------------------------------------------------------- state codec */
void pgl_live_queue_remove(pgl_live_state *st, int i)
{
    if (i < 0 || i >= st->nq) return;
    pgl_live_key_free(&st->q[i].lo);
    pgl_live_key_free(&st->q[i].hi);
    memmove(&st->q[i], &st->q[i + 1], (size_t)(st->nq - i - 1) * sizeof st->q[0]);
    st->nq--;
    memset(&st->q[st->nq], 0, sizeof st->q[0]);
}

bool pgl_live_queue_has_strikes(const pgl_live_state *st)
{
    for (int i = 0; i < st->nq; i++)
        if (st->q[i].strikes > 0) return true;
    return false;
}

bool pgl_live_suspect_add(pgl_live_state *st, const char *line)
{
    size_t n = strlen(line);
    const char *p = st->suspects;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && !memcmp(p, line, n)) return false;
        if (!nl) break;
        p = nl + 1;
    }
    size_t used = strlen(st->suspects);
    if (used + n + 2 < sizeof st->suspects) {
        memcpy(st->suspects + used, line, n);
        st->suspects[used + n] = '\n';
        st->suspects[used + n + 1] = 0;
    }
    return true;
}

void pgl_live_state_free(pgl_live_state *st)
{
    if (!st) return;
    while (st->nq > 0) pgl_live_queue_remove(st, st->nq - 1);
    pgl_live_key_free(&st->cur_lo);
}

static void state_fresh(pgl_live_state *st)
{
    memset(st, 0, sizeof *st);
    st->pass = 1;
}

static json_t *key_json(const pgl_live_key *k)
{
    if (k->n == 0) return json_null();
    json_t *a = json_array();
    for (int i = 0; a && i < k->n; i++) json_array_append_new(a, json_string(k->v[i]));
    return a;
}

static bool key_from_json(json_t *j, pgl_live_key *k)
{
    k->n = 0;
    k->v = NULL;
    if (!j || json_is_null(j)) return true;
    if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > 32) return false;
    size_t n = json_array_size(j);
    const char *v[32];
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(j, i));
        if (!v[i]) return false;
    }
    return pgl_live_key_copy(k, (int)n, v);
}

static bool table_from_json(json_t *j, pgl_live_table *t)
{
    json_t *d = json_object_get(j, "d");
    const char *s = json_string_value(json_object_get(j, "s"));
    const char *n = json_string_value(json_object_get(j, "t"));
    if (!json_is_integer(d) || !s || !n) return false;
    t->db = (int)json_integer_value(d);
    return t->db >= 0 && fc_strlcpy(t->schema, s, sizeof t->schema) && fc_strlcpy(t->name, n, sizeof t->name);
}

static void table_to_json(json_t *o, const pgl_live_table *t)
{
    json_object_set_new(o, "d", json_integer(t->db));
    json_object_set_new(o, "s", json_string(t->schema));
    json_object_set_new(o, "t", json_string(t->name));
}

static int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static bool str_field(json_t *o, const char *k, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && fc_strlcpy(out, v, cap);
}

bool pgl_live_state_parse(const char *text, pgl_live_state *st, char *err, size_t errcap)
{
    state_fresh(st);
    if (!text || !*text) return true;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        pgq_seterr(err, errcap, "live state is not a JSON object");
        return false;
    }
    bool ok = true;
    st->pass = (int)jint(j, "pass");
    st->passes_done = (int)jint(j, "done");
    st->off = json_is_true(json_object_get(j, "off"));
    st->end = json_is_true(json_object_get(j, "end"));
    if (st->pass < 1) ok = false;
    json_t *cur = json_object_get(j, "cur");
    if (ok && json_is_object(cur)) {
        st->have_cur = true;
        ok = table_from_json(cur, &st->cur) && key_from_json(json_object_get(cur, "lo"), &st->cur_lo);
        st->cur_no = jint(cur, "no");
    }
    json_t *q = json_object_get(j, "q");
    if (ok && q && (!json_is_array(q) || json_array_size(q) > PGL_LIVE_QMAX)) ok = false;
    for (size_t i = 0; ok && q && i < json_array_size(q); i++) {
        json_t *e = json_array_get(q, i);
        pgl_live_chunk *c = &st->q[st->nq];
        memset(c, 0, sizeof *c);
        ok = json_is_object(e) && table_from_json(e, &c->t) && str_field(e, "lsn", c->lsn, sizeof c->lsn) &&
             str_field(e, "c", c->count, sizeof c->count) && str_field(e, "m", c->md5, sizeof c->md5);
        if (ok) {
            st->nq++; /* counted before the keys so a failure frees them */
            c->strikes = (int)jint(e, "k");
            c->tries = (int)jint(e, "r");
            c->no = jint(e, "no");
            ok = key_from_json(json_object_get(e, "lo"), &c->lo) && key_from_json(json_object_get(e, "hi"), &c->hi) &&
                 c->hi.n > 0 && (c->lo.n == 0 || c->lo.n == c->hi.n);
        }
    }
    json_t *n = json_object_get(j, "n");
    st->total = jint(n, "total");
    st->ok = jint(n, "ok");
    st->suspect = jint(n, "suspect");
    st->unsettled = jint(n, "unsettled");
    st->rows_ok = jint(n, "rows");
    const char *sus = json_string_value(json_object_get(j, "sus"));
    if (sus) fc_strlcpy(st->suspects, sus, sizeof st->suspects);
    json_decref(j);
    if (!ok) {
        pgl_live_state_free(st);
        state_fresh(st);
        pgq_seterr(err, errcap, "live state: malformed entry");
    }
    return ok;
}

char *pgl_live_state_dump(const pgl_live_state *st)
{
    json_t *j = json_object();
    if (!j) return NULL;
    json_object_set_new(j, "pass", json_integer(st->pass));
    json_object_set_new(j, "done", json_integer(st->passes_done));
    json_object_set_new(j, "off", json_boolean(st->off));
    json_object_set_new(j, "end", json_boolean(st->end));
    if (st->have_cur) {
        json_t *cur = json_object();
        table_to_json(cur, &st->cur);
        json_object_set_new(cur, "lo", key_json(&st->cur_lo));
        json_object_set_new(cur, "no", json_integer(st->cur_no));
        json_object_set_new(j, "cur", cur);
    }
    json_t *q = json_array();
    for (int i = 0; q && i < st->nq; i++) {
        const pgl_live_chunk *c = &st->q[i];
        json_t *e = json_object();
        table_to_json(e, &c->t);
        json_object_set_new(e, "lo", key_json(&c->lo));
        json_object_set_new(e, "hi", key_json(&c->hi));
        json_object_set_new(e, "lsn", json_string(c->lsn));
        json_object_set_new(e, "c", json_string(c->count));
        json_object_set_new(e, "m", json_string(c->md5));
        json_object_set_new(e, "k", json_integer(c->strikes));
        json_object_set_new(e, "r", json_integer(c->tries));
        json_object_set_new(e, "no", json_integer(c->no));
        json_array_append_new(q, e);
    }
    json_object_set_new(j, "q", q);
    json_t *n = json_object();
    json_object_set_new(n, "total", json_integer(st->total));
    json_object_set_new(n, "ok", json_integer(st->ok));
    json_object_set_new(n, "suspect", json_integer(st->suspect));
    json_object_set_new(n, "unsettled", json_integer(st->unsettled));
    json_object_set_new(n, "rows", json_integer(st->rows_ok));
    json_object_set_new(j, "n", n);
    json_object_set_new(j, "sus", json_string(st->suspects));
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return out;
}

/* ---------------------------------------------------------------- data plane */
bool pgl_live_state_load(pgq *dst, const pgl_db_names *nm, char **json, char *err, size_t errcap)
{
    *json = NULL;
    const char *a[] = {nm->schema, nm->schema};
    if (!pgq_tmpl_script(dst, "pgl_live_state_table", 2, a)) {
        pgq_seterr(err, errcap, "live validation state on the target: %s", dst->err);
        return false;
    }
    PGresult *r = pgq_tmpl_exec(dst, "pgl_live_state_get", 1, a, 0, NULL);
    if (!r) {
        pgq_seterr(err, errcap, "reading live validation state: %s", dst->err);
        return false;
    }
    if (PQntuples(r) > 0 && !(*json = strdup(PQgetvalue(r, 0, 0)))) {
        PQclear(r);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    PQclear(r);
    return true;
}

bool pgl_live_state_store(pgq *dst, const pgl_db_names *nm, const char *json, char *err, size_t errcap)
{
    const char *a[] = {nm->schema, nm->schema};
    const char *p[] = {json};
    PGresult *r = pgq_tmpl_exec(dst, "pgl_live_state_put", 1, a, 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "saving live validation state: %s", dst->err);
        return false;
    }
    PQclear(r);
    return true;
}

bool pgl_live_session(pgq *q, int timeout_ms, char *err, size_t errcap)
{
    char ms[24];
    snprintf(ms, sizeof ms, "%d", timeout_ms > 0 ? timeout_ms : 60000);
    const char *p[] = {ms};
    if (!pgq_cmd(q, pgq_sql("pgverify_session"), 0, NULL) || !pgq_cmd(q, pgq_sql("pgl_live_session"), 1, p)) {
        pgq_seterr(err, errcap, "live validation session settings: %s", q->err);
        return false;
    }
    return true;
}

static int table_sort(const void *a, const void *b) { return pgl_live_table_cmp(a, b); }

bool pgl_live_tables(pgq *q, const pgl_db_names *nm, int db, pgl_live_table **out, int *n, int *keyless, char *err,
                   size_t errcap)
{
    *out = NULL;
    *n = 0;
    *keyless = 0;
    const char *p[] = {nm->schema};
    PGresult *r = pgq_exec(q, pgq_sql("pgverify_tables"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "listing tables: %s", q->err);
        return false;
    }
    int rows = PQntuples(r);
    pgl_live_table *t = calloc((size_t)rows + 1, sizeof *t);
    if (!t) {
        PQclear(r);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    int k = 0;
    for (int i = 0; i < rows; i++) {
        if (PQgetvalue(r, i, 2)[0] != 't') {
            (*keyless)++;
            continue;
        }
        t[k].db = db;
        if (!fc_strlcpy(t[k].schema, PQgetvalue(r, i, 0), sizeof t[k].schema) ||
            !fc_strlcpy(t[k].name, PQgetvalue(r, i, 1), sizeof t[k].name))
            continue; /* names longer than PostgreSQL allows: impossible */
        k++;
    }
    PQclear(r);
    qsort(t, (size_t)k, sizeof *t, table_sort);
    *out = t;
    *n = k;
    return true;
}

static void end_snapshot(pgq *q) { (void)pgq_cmd(q, pgq_sql("pgl_live_rollback"), 0, NULL); }

bool pgl_live_capture(pgq *src, pgl_live_chunk *c, bool plan, int64_t chunk_rows, bool *empty, char *err,
                    size_t errcap)
{
    *empty = false;
    if (!pgq_script(src, pgq_sql("pgl_pin_snapshot"))) {
        pgq_seterr(err, errcap, "snapshot on the source: %s", src->err);
        end_snapshot(src);
        return false;
    }
    /* taken after the snapshot: every commit it sees lies before this position */
    bool ok = pgq_scalar(src, pgq_sql("pgl_insert_lsn"), 0, NULL, c->lsn, sizeof c->lsn, NULL);
    if (!ok) pgq_seterr(err, errcap, "WAL position: %s", src->err);
    pgl_key *k = ok ? pgl_key_load(src, c->t.schema, c->t.name, err, errcap) : NULL;
    ok = ok && k;
    int nk = pgl_key_ncols(k);
    char **hi = ok ? calloc((size_t)nk, sizeof *hi) : NULL;
    ok = ok && hi;
    const char *const *lo = c->lo.n ? (const char *const *)c->lo.v : NULL;
    char count[32] = "", md5[33] = "";
    if (ok && c->lo.n && c->lo.n != nk) {
        pgq_seterr(err, errcap, "key of %s.%s changed", c->t.schema, c->t.name);
        ok = false;
    }
    if (ok && plan) {
        bool found = false;
        ok = pgl_chunk_bound(src, c->t.schema, c->t.name, k, lo, chunk_rows, hi, &found, err, errcap);
        if (ok && !found) {
            /* the table's tail: fewer rows than a chunk; close the range at its last key */
            ok = pgl_chunk_digest(src, c->t.schema, c->t.name, k, lo, NULL, count, md5, err, errcap);
            int64_t left = ok ? strtoll(count, NULL, 10) : 0;
            if (ok && left == 0) *empty = true;
            if (ok && left > 0) {
                ok = pgl_chunk_bound(src, c->t.schema, c->t.name, k, lo, left, hi, &found, err, errcap);
                if (ok && !found) {
                    pgq_seterr(err, errcap, "last key of %s.%s vanished inside one snapshot", c->t.schema,
                                  c->t.name);
                    ok = false;
                }
            }
        } else if (ok) {
            count[0] = 0; /* digest below */
        }
        if (ok && !*empty) ok = pgl_live_key_copy(&c->hi, nk, (const char *const *)hi);
    }
    if (ok && !*empty && !count[0])
        ok = pgl_chunk_digest(src, c->t.schema, c->t.name, k, lo, (const char *const *)c->hi.v, count, md5, err,
                                 errcap);
    if (ok && !*empty) {
        fc_strlcpy(c->count, count, sizeof c->count);
        fc_strlcpy(c->md5, md5, sizeof c->md5);
    }
    for (int i = 0; hi && i < nk; i++) free(hi[i]);
    free(hi);
    pgl_key_free(k);
    end_snapshot(src);
    return ok;
}

bool pgl_live_digest(pgq *dst, const pgl_live_chunk *c, char count[32], char md5[33], char *err, size_t errcap)
{
    pgl_key *k = pgl_key_load(dst, c->t.schema, c->t.name, err, errcap);
    if (!k) return false;
    bool ok = pgl_key_ncols(k) == c->hi.n;
    if (!ok) pgq_seterr(err, errcap, "key of %s.%s differs on the target", c->t.schema, c->t.name);
    ok = ok && pgl_chunk_digest(dst, c->t.schema, c->t.name, k, c->lo.n ? (const char *const *)c->lo.v : NULL,
                                   (const char *const *)c->hi.v, count, md5, err, errcap);
    pgl_key_free(k);
    return ok;
}

/* ---------------------------------------------------------------- prewarm */
bool pgl_live_prewarm_ext(pgq *q, bool *have, char *ext_schema, size_t cap, char *err, size_t errcap)
{
    *have = false;
    ext_schema[0] = 0;
    PGresult *r = pgq_exec(q, pgq_sql("pgl_live_prewarm_ext"), 0, NULL);
    if (!r) {
        pgq_seterr(err, errcap, "looking for pg_prewarm: %s", q->err);
        return false;
    }
    if (PQntuples(r) > 0) *have = fc_strlcpy(ext_schema, PQgetvalue(r, 0, 0), cap);
    PQclear(r);
    return true;
}

bool pgl_live_prewarm_rels(pgq *q, const pgl_db_names *nm, bool with_indexes, pgl_live_rel **out, int *n, char *err,
                         size_t errcap)
{
    *out = NULL;
    *n = 0;
    const char *p[] = {nm->schema, with_indexes ? "true" : "false"};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_live_prewarm_rels"), 2, p);
    if (!r) {
        pgq_seterr(err, errcap, "listing relations to prewarm: %s", q->err);
        return false;
    }
    int rows = PQntuples(r);
    pgl_live_rel *v = calloc((size_t)rows + 1, sizeof *v);
    if (!v) {
        PQclear(r);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    for (int i = 0; i < rows; i++) {
        fc_strlcpy(v[i].oid, PQgetvalue(r, i, 0), sizeof v[i].oid);
        fc_strlcpy(v[i].kind, PQgetvalue(r, i, 1), sizeof v[i].kind);
        v[i].blocks = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        fc_strlcpy(v[i].schema, PQgetvalue(r, i, 3), sizeof v[i].schema);
        fc_strlcpy(v[i].name, PQgetvalue(r, i, 4), sizeof v[i].name);
        v[i].block_size = strtoll(PQgetvalue(r, i, 5), NULL, 10);
    }
    PQclear(r);
    *out = v;
    *n = rows;
    return true;
}

bool pgl_live_prewarm_read(pgq *q, const pgl_live_rel *r, const char *ext_schema, int64_t first, int64_t last,
                         int64_t *read, char *err, size_t errcap)
{
    *read = 0;
    if (last < first) return true;
    char a[48], b[48];
    PGresult *res = NULL;
    if (ext_schema && *ext_schema) {
        snprintf(a, sizeof a, "%lld", (long long)first);
        snprintf(b, sizeof b, "%lld", (long long)last);
        const char *args[] = {ext_schema};
        const char *p[] = {r->oid, a, b};
        res = pgq_tmpl_exec(q, "pgl_live_prewarm", 1, args, 3, p);
        if (res) *read = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    } else if (pgq_server_version(q) >= 140000) {
        snprintf(a, sizeof a, "(%lld,0)", (long long)first);
        snprintf(b, sizeof b, "(%lld,0)", (long long)last + 1);
        const char *args[] = {r->schema, r->name};
        const char *p[] = {a, b};
        res = pgq_tmpl_exec(q, "pgl_live_read_range", 2, args, 2, p);
        if (res) *read = last - first + 1;
    } else if (first == 0) {
        const char *args[] = {r->schema, r->name};
        res = pgq_tmpl_exec(q, "pgl_live_read_all", 2, args, 0, NULL);
        if (res) *read = last - first + 1;
    } else {
        return true; /* read whole with the first range */
    }
    if (!res) {
        pgq_seterr(err, errcap, "prewarming %s %s.%s: %s", r->kind, r->schema, r->name, q->err);
        return false;
    }
    PQclear(res);
    return true;
}
