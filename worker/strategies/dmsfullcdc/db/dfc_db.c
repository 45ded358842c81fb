/* dfc_db — see dfc_db.h. */
#include "dfc_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

bool dfc_line_append(dbuf *b, const char *const *fields, int n)
{
    size_t mark = b->len;
    for (int i = 0; i < n; i++) {
        if (i && !dbuf_append(b, "\t", 1)) goto over;
        for (const char *p = fields[i] ? fields[i] : ""; *p; p++) {
            const char *esc = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : NULL;
            if (esc ? !dbuf_append(b, esc, 2) : !dbuf_append(b, p, 1)) goto over;
        }
    }
    if (dbuf_append(b, "\n", 1)) return true;
over:
    b->len = mark;
    if (b->data) b->data[mark] = 0;
    return false;
}

void dfc_list_free(dfc_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        for (int k = 0; k < l->v[i].n; k++) free(l->v[i].f[k]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* One escaped field [p, e) unescaped into a new string. */
static char *unescape(const char *p, const char *e)
{
    char *o = malloc((size_t)(e - p) + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (; p < e; p++) {
        if (*p == '\\' && p + 1 < e) {
            p++;
            o[j++] = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p;
        } else {
            o[j++] = *p;
        }
    }
    o[j] = 0;
    return o;
}

bool dfc_list_parse(const char *text, int nfields, dfc_list *out)
{
    out->v = NULL;
    out->n = 0;
    if (nfields < 1 || nfields > DFC_MAX_FIELDS) return false;
    size_t lines = 0;
    for (const char *p = text ? text : ""; *p; p++) lines += *p == '\n';
    if (text && *text && text[strlen(text) - 1] != '\n') lines++;
    if (!lines) return true;
    out->v = calloc(lines, sizeof *out->v);
    if (!out->v) return false;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        if (eol > p) {
            dfc_item *it = &out->v[out->n++];
            const char *f = p;
            for (;;) {
                const char *e = f;
                while (e < eol && *e != '\t') {
                    if (*e == '\\' && e + 1 < eol) e++;
                    e++;
                }
                if (it->n == nfields) goto bad;
                if (!(it->f[it->n] = unescape(f, e))) goto bad;
                it->n++;
                if (e >= eol) break;
                f = e + 1;
            }
            if (it->n != nfields) goto bad;
        }
        p = *eol ? eol + 1 : eol;
    }
    return true;
bad:
    dfc_list_free(out);
    return false;
}

const char *dfc_enable_clause(const char *tgenabled)
{
    if (!tgenabled || strlen(tgenabled) != 1) return NULL;
    switch (tgenabled[0]) {
    case 'O': return "ENABLE TRIGGER";
    case 'R': return "ENABLE REPLICA TRIGGER";
    case 'A': return "ENABLE ALWAYS TRIGGER";
    default: return NULL;
    }
}

bool dfc_add_not_valid(const char *def, const char *validated, const char *relkind)
{
    if (!def || !validated || strcmp(validated, "1")) return false;
    if (relkind && !strcmp(relkind, "p")) return false;
    size_t n = strlen(def);
    return !(n >= 9 && !strcmp(def + n - 9, "NOT VALID"));
}

/* ---------------------------------------------------------------- SQL */
static bool list_into(pgq *q, const char *sqlname, const char *schema, int ncols, dbuf *out, int *n, char *err,
                      size_t errcap)
{
    const char *p[] = {schema};
    PGresult *r = pgq_exec(q, pgq_sql(sqlname), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "%s: %s", sqlname, q->err);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *f[DFC_MAX_FIELDS];
        for (int k = 0; k < ncols; k++) f[k] = PQgetvalue(r, i, k);
        if (!dfc_line_append(out, f, ncols)) {
            pgq_seterr(err, errcap, "%s: the record is too large to keep as a fact (%d objects)", sqlname,
                       PQntuples(r));
            PQclear(r);
            return false;
        }
        (*n)++;
    }
    PQclear(r);
    return true;
}

bool dfc_db_record(pgq *q, const char *schema, dbuf *fks, int *nfk, dbuf *trgs, int *ntrg, char *err,
                   size_t errcap)
{
    if (!pgq_cmd(q, "BEGIN READ ONLY", 0, NULL) || !pgq_cmd(q, "SET LOCAL search_path TO pg_catalog", 0, NULL)) {
        pgq_seterr(err, errcap, "%s", q->err);
        return false;
    }
    bool ok = list_into(q, "dfc_fk_list", schema, DFC_FK_FIELDS, fks, nfk, err, errcap) &&
              list_into(q, "dfc_trigger_list", schema, DFC_TRG_FIELDS, trgs, ntrg, err, errcap);
    if (!pgq_cmd(q, ok ? "COMMIT" : "ROLLBACK", 0, NULL) && ok) {
        pgq_seterr(err, errcap, "%s", q->err);
        return false;
    }
    return ok;
}

bool dfc_db_identity_always(pgq *q, const char *db, const char *schema, dbuf *out, int *n, char *err,
                            size_t errcap)
{
    const char *p[] = {schema};
    PGresult *r = pgq_exec(q, pgq_sql("dfc_identity_always"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "finding identity columns: %s", q->err);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        if (i == 0) dbuf_printf(out, "%s%s: ", out->len ? "; " : "", db);
        dbuf_printf(out, "%s%s.%s", i ? ", " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        (*n)++;
    }
    PQclear(r);
    return true;
}

/* Run one formatted statement; false with err. */
static bool run_fmt(pgq *q, const char *tmpl, int nargs, const char *const *args, char *err, size_t errcap)
{
    char *s = pgq_format(q, tmpl, nargs, args);
    if (!s) {
        pgq_seterr(err, errcap, "%s", q->err);
        return false;
    }
    bool ok = pgq_cmd(q, s, 0, NULL);
    free(s);
    if (!ok) pgq_seterr(err, errcap, "%s", q->err);
    return ok;
}

static bool tx_end(pgq *q, bool ok, char *err, size_t errcap)
{
    if (ok) {
        if (pgq_cmd(q, "COMMIT", 0, NULL)) return true;
        pgq_seterr(err, errcap, "%s", q->err);
        return false;
    }
    pgq_cmd(q, "ROLLBACK", 0, NULL);
    return false;
}

bool dfc_db_hold(pgq *q, const dfc_list *fks, const dfc_list *trgs, char *err, size_t errcap)
{
    if (!pgq_cmd(q, "BEGIN", 0, NULL)) {
        pgq_seterr(err, errcap, "%s", q->err);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < fks->n; i++) {
        const char *a[] = {fks->v[i].f[0], fks->v[i].f[1], fks->v[i].f[2]};
        ok = run_fmt(q, "ALTER TABLE IF EXISTS %I.%I DROP CONSTRAINT IF EXISTS %I", 3, a, err, errcap);
    }
    for (size_t i = 0; ok && i < trgs->n; i++) {
        const char *a[] = {trgs->v[i].f[0], trgs->v[i].f[1], trgs->v[i].f[2]};
        ok = run_fmt(q, "ALTER TABLE %I.%I DISABLE TRIGGER %I", 3, a, err, errcap);
    }
    return tx_end(q, ok, err, errcap);
}

static bool con_state(pgq *q, const dfc_item *k, char *out, size_t cap, char *err, size_t errcap)
{
    const char *p[] = {k->f[0], k->f[1], k->f[2]};
    if (!pgq_scalar(q, pgq_sql("dfc_constraint_state"), 3, p, out, cap, NULL)) {
        pgq_seterr(err, errcap, "constraint %s: %s", k->f[2], q->err);
        return false;
    }
    return true;
}

bool dfc_db_restore(pgq *q, const dfc_list *fks, const dfc_list *trgs, int *added, char *err, size_t errcap)
{
    *added = 0;
    if (!pgq_cmd(q, "BEGIN", 0, NULL)) {
        pgq_seterr(err, errcap, "%s", q->err);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < fks->n; i++) {
        const dfc_item *k = &fks->v[i];
        char st[8];
        if (!(ok = con_state(q, k, st, sizeof st, err, errcap))) break;
        if (*st) continue; /* there already: an earlier run added it */
        /* the definition is PostgreSQL's own text from the same catalog (pg_get_constraintdef), as is */
        const char *nv = dfc_add_not_valid(k->f[3], k->f[4], k->f[5]) ? " NOT VALID" : "";
        const char *a[] = {k->f[0], k->f[1], k->f[2], k->f[3], nv};
        ok = run_fmt(q, "ALTER TABLE %I.%I ADD CONSTRAINT %I %R%R", 5, a, err, errcap);
        if (ok) (*added)++;
    }
    for (size_t i = 0; ok && i < trgs->n; i++) {
        const dfc_item *t = &trgs->v[i];
        const char *clause = dfc_enable_clause(t->f[3]);
        if (!clause) {
            pgq_seterr(err, errcap, "trigger %s: unknown recorded state '%s'", t->f[2], t->f[3]);
            ok = false;
            break;
        }
        const char *a[] = {t->f[0], t->f[1], clause, t->f[2]};
        ok = run_fmt(q, "ALTER TABLE %I.%I %R %I", 4, a, err, errcap);
    }
    return tx_end(q, ok, err, errcap);
}

bool dfc_db_validate(pgq *q, const dfc_list *fks, int *validated, char *err, size_t errcap)
{
    *validated = 0;
    for (size_t i = 0; i < fks->n; i++) {
        const dfc_item *k = &fks->v[i];
        if (strcmp(k->f[4], "1")) continue; /* recorded NOT VALID: stays so */
        char st[8];
        if (!con_state(q, k, st, sizeof st, err, errcap)) return false;
        if (!*st) {
            pgq_seterr(err, errcap, "constraint %s on %s.%s is missing", k->f[2], k->f[0], k->f[1]);
            return false;
        }
        if (!strcmp(st, "1")) continue;
        const char *a[] = {k->f[0], k->f[1], k->f[2]};
        if (!run_fmt(q, "ALTER TABLE %I.%I VALIDATE CONSTRAINT %I", 3, a, err, errcap)) return false;
        (*validated)++;
    }
    return true;
}
