/* pgl_privs — roles and privileges changed on the source after the
 * snapshot, applied to the target at the cutover; see pgl_db_privs.h.
 * Catalogs are read with db/sql/pgl_privs_*.sql, compared here by name
 * (role OIDs differ once a role is created on one side only), and every
 * statement is built from the %I/%L/%R templates of db/sql/pgl_privs_*.sql
 * with identifiers and literals quoted by libpq. */
#include "pgl_db_privs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

void pgl_privs_result_init(pgl_privs_result *r)
{
    memset(r, 0, sizeof *r);
}

/* ---- small helpers ---- */

/* Append a name to a comma-separated list once; "..." marks a cut list. */
static void list_add(char *list, size_t cap, const char *item)
{
    size_t il = strlen(item), ll = strlen(list);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == il && strncmp(p, item, n) == 0) return;
        p = e ? e + 1 : p + n;
    }
    if (ll >= 3 && strcmp(list + ll - 3, "...") == 0) return;
    if (ll + il + 2 + 4 > cap) {
        if (ll + 5 <= cap) snprintf(list + ll, cap - ll, "%s", ll ? ",..." : "...");
        return;
    }
    snprintf(list + ll, cap - ll, "%s%s", ll ? "," : "", item);
}

/* Roles never touched, as a text[] literal ($1/$2 of the listings):
 * fleetcrypt's two (tag names are [a-z0-9_]) and RDS's own, which are also
 * left out as grantees and as owners of default privileges (the listings
 * leave out pg_* and rds_* roles themselves). */
static void fc_roles(const pgl_db_names *nm, char *out, size_t cap)
{
    snprintf(out, cap, "{\"%s\",\"%s\",rdsadmin,rdsrepladmin,rdstopmgr,rdsproxyadmin}", nm->admin_role,
             nm->sub_role);
}

/* Rows of a result found by a key made of its first ncols columns. */
typedef struct rowkey {
    char *key;
    int row;
} rowkey;
typedef struct rowset {
    PGresult *r;
    rowkey *k;
    int n;
} rowset;

static int rowkey_cmp(const void *a, const void *b)
{
    return strcmp(((const rowkey *)a)->key, ((const rowkey *)b)->key);
}

static char *key_of(PGresult *r, int row, int ncols)
{
    dbuf b;
    dbuf_init(&b, 1u << 20);
    for (int c = 0; c < ncols; c++)
        if ((c && !dbuf_appends(&b, "\x1f")) || !dbuf_appends(&b, PQgetvalue(r, row, c))) {
            dbuf_free(&b);
            return NULL;
        }
    char *s = dbuf_take(&b);
    return s ? s : strdup("");
}

/* Index rows whose column `filter_col` is (non-)empty as asked (-1: all). */
static bool rowset_make(rowset *s, PGresult *r, int ncols, int filter_col, bool want_empty)
{
    s->r = r;
    s->n = 0;
    s->k = calloc((size_t)PQntuples(r) + 1, sizeof *s->k);
    if (!s->k) return false;
    for (int i = 0; i < PQntuples(r); i++) {
        if (filter_col >= 0 && (PQgetvalue(r, i, filter_col)[0] == '\0') != want_empty) continue;
        char *k = key_of(r, i, ncols);
        if (!k) return false;
        s->k[s->n].key = k;
        s->k[s->n++].row = i;
    }
    qsort(s->k, (size_t)s->n, sizeof *s->k, rowkey_cmp);
    return true;
}

static int rowset_find(const rowset *s, const char *key)
{
    rowkey want = {.key = (char *)key};
    rowkey *f = s->n ? bsearch(&want, s->k, (size_t)s->n, sizeof *s->k, rowkey_cmp) : NULL;
    return f ? f->row : -1;
}

static void rowset_free(rowset *s)
{
    for (int i = 0; s->k && i < s->n; i++) free(s->k[i].key);
    free(s->k);
    s->k = NULL;
    s->n = 0;
}

/* Outcome of one statement on the target. */
enum { APPLIED = 1, REFUSED = 0, BROKEN = -1 };

/* A failure that is about the connection or the server, not this statement. */
static bool broken(pgq *q)
{
    const char *s = q->sqlstate;
    return PQstatus(q->conn) != CONNECTION_OK || !s[0] || strncmp(s, "08", 2) == 0 ||
           strncmp(s, "53", 2) == 0 || strncmp(s, "57", 2) == 0 || strncmp(s, "58", 2) == 0 ||
           strncmp(s, "XX", 2) == 0;
}

/* Run one template on the target. A refusal is recorded (count and names,
 * with the SQLSTATE only: a message could quote a setting's value) unless
 * `quiet`; a broken connection fails with err. */
static int run(pgq *dst, const char *tmpl, int nargs, const char *const *args, const char *what, bool quiet,
               pgl_privs_result *out, char *err, size_t errcap)
{
    if (pgq_tmpl_script(dst, tmpl, nargs, args)) {
        log_debug("privilege sync applied", "what=\"%s\"", what);
        return APPLIED;
    }
    if (broken(dst)) {
        pgq_seterr(err, errcap, "%s on the target: %s", what, dst->sqlstate[0] ? dst->sqlstate : "failed");
        return BROKEN;
    }
    if (!quiet) {
        char item[300];
        snprintf(item, sizeof item, "%s (%s)", what, dst->sqlstate);
        for (char *p = item; *p; p++)
            if (*p == ',') *p = ';';
        out->refused++;
        list_add(out->refused_what, sizeof out->refused_what, item);
        log_warn("privilege sync: the target refused a statement", "what=\"%s\" sqlstate=%s", what, dst->sqlstate);
    }
    return REFUSED;
}

/* libpq-quoted identifier appended to b. */
static bool add_ident(pgq *q, dbuf *b, const char *s)
{
    char *id = pgq_ident(q, s);
    if (!id) return false;
    bool ok = dbuf_appends(b, id);
    PQfreemem(id);
    return ok;
}

static bool add_literal(pgq *q, dbuf *b, const char *s)
{
    char *l = pgq_literal(q, s);
    if (!l) return false;
    bool ok = dbuf_appends(b, l);
    fc_wipe(l, strlen(l)); /* a setting's value */
    PQfreemem(l);
    return ok;
}

/* The block record of this database on both sides (role names; empty when
 * there is none), the two sides asked at once: whether it exists, then
 * what it holds — two round trips' wait, not four. */
static bool block_records(pgq *src, pgq *dst, const pgl_db_names *nm, bool *exists, rowset *rec, char *err,
                          size_t errcap)
{
    pgq *q[2] = {src, dst};
    const char *p[] = {nm->schema};
    const char *sql[2] = {pgq_sql("pgl_privs_record_exists"), pgq_sql("pgl_privs_record_exists")};
    int np[2] = {1, 1};
    const char *const *pp[2] = {p, p};
    PGresult *r[2];
    int failed = -1;
    memset(rec, 0, 2 * sizeof *rec);
    exists[0] = exists[1] = false;
    if (!pgl_exec_each(q, 2, sql, np, pp, r, &failed)) {
        pgq_seterr(err, errcap, "looking for the block record: %s", q[failed]->err);
        PQclear(r[0]);
        PQclear(r[1]);
        return false;
    }
    char *list[2] = {NULL, NULL};
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        exists[i] = PQntuples(r[i]) == 1 && PQgetvalue(r[i], 0, 0)[0] == 't';
        PQclear(r[i]);
        r[i] = NULL;
        if (exists[i] && !(list[i] = pgq_format(q[i], pgq_sql("pgl_blocked_list"), 1, p))) {
            ok = false;
            failed = i;
        }
        sql[i] = list[i];
        np[i] = 0;
        pp[i] = NULL;
    }
    if (ok && !pgl_exec_each(q, 2, sql, np, pp, r, &failed)) ok = false;
    if (!ok) pgq_seterr(err, errcap, "reading the block record: %s", q[failed]->err);
    /* each answer is owned by its rowset from here (record_free) */
    for (int i = 0; i < 2; i++) {
        free(list[i]);
        if (!ok || !r[i]) {
            PQclear(r[i]);
        } else if (!rowset_make(&rec[i], r[i], 1, -1, false) && ok) {
            pgq_seterr(err, errcap, "out of memory");
            ok = false;
        }
    }
    return ok;
}

static void record_free(rowset *rec)
{
    PQclear(rec->r);
    rec->r = NULL;
    rowset_free(rec);
}

/* Read one catalog listing (params $1 = fleetcrypt's roles). */
static PGresult *listing(pgq *q, const char *sql, const char *fcr, const char *side, char *err, size_t errcap)
{
    const char *p[] = {fcr};
    PGresult *r = pgq_exec(q, pgq_sql(sql), 1, p);
    if (!r) pgq_seterr(err, errcap, "reading %s on the %s: %s", sql, side, q->err);
    return r;
}

/* sql/<sql>.sql on both sides at once (sent to both, then read: one round
 * trip's wait, not two): false with err ("reading <what> on the <side>")
 * and both NULL when either fails. */
static bool exec_pair(pgq *src, pgq *dst, const char *sql, int n, const char *const *p, const char *what,
                      PGresult **s, PGresult **d, char *err, size_t errcap)
{
    pgq *q[2] = {src, dst};
    const char *text[2] = {pgq_sql(sql), pgq_sql(sql)};
    int np[2] = {n, n};
    const char *const *pp[2] = {p, p};
    PGresult *r[2];
    int failed = -1;
    if (pgl_exec_each(q, 2, text, np, pp, r, &failed)) {
        *s = r[0];
        *d = r[1];
        return true;
    }
    pgq_seterr(err, errcap, "reading %s on the %s: %s", what, failed ? "target" : "source", q[failed]->err);
    PQclear(r[0]);
    PQclear(r[1]);
    *s = *d = NULL;
    return false;
}

/* listing() on both sides at once (exec_pair). */
static bool listing_pair(pgq *src, pgq *dst, const char *sql, const char *fcr, PGresult **s, PGresult **d,
                         char *err, size_t errcap)
{
    const char *p[] = {fcr};
    return exec_pair(src, dst, sql, 1, p, sql, s, d, err, errcap);
}

static bool tf(PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

/* CONNECTION LIMIT as digits only (it is spliced with %R). */
static bool digits(const char *s)
{
    if (*s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return false;
    return true;
}

/* ---- roles ---- */

/* pgl_privs_roles.sql columns */
enum { R_NAME, R_SUPER, R_INHERIT, R_CREATEROLE, R_CREATEDB, R_LOGIN, R_REPL, R_BYPASS, R_CONNLIMIT, R_VALID };

/* The attribute clause for one role: everything of src's row that differs
 * from dst's (dst_row < 0: all of it, for CREATE ROLE). */
static bool role_clause(pgq *dst, dbuf *b, PGresult *s, int si, PGresult *d, int di)
{
    static const struct {
        int col;
        const char *yes, *no;
    } flags[] = {{R_INHERIT, " INHERIT", " NOINHERIT"},
                 {R_CREATEROLE, " CREATEROLE", " NOCREATEROLE"},
                 {R_CREATEDB, " CREATEDB", " NOCREATEDB"}};
    for (size_t i = 0; i < FC_ARRAY_LEN(flags); i++)
        if (di < 0 || tf(s, si, flags[i].col) != tf(d, di, flags[i].col))
            if (!dbuf_appends(b, tf(s, si, flags[i].col) ? flags[i].yes : flags[i].no)) return false;
    const char *cl = PQgetvalue(s, si, R_CONNLIMIT);
    if ((di < 0 || strcmp(cl, PQgetvalue(d, di, R_CONNLIMIT)) != 0) && digits(cl) &&
        !dbuf_printf(b, " CONNECTION LIMIT %s", cl))
        return false;
    const char *vu = PQgetvalue(s, si, R_VALID);
    if (di < 0 ? strcmp(vu, "infinity") != 0 : strcmp(vu, PQgetvalue(d, di, R_VALID)) != 0)
        if (!dbuf_appends(b, " VALID UNTIL ") || !add_literal(dst, b, vu)) return false;
    return true;
}

/* Add / remove a role in the target's block record. */
static int record_role(pgq *dst, const pgl_db_names *nm, const char *role, bool add, pgl_privs_result *out,
                       char *err, size_t errcap)
{
    const char *a[] = {nm->schema};
    const char *v[] = {role};
    PGresult *r = pgq_tmpl_exec(dst, add ? "pgl_block_record" : "pgl_block_forget", 1, a, 1, v);
    if (r) {
        PQclear(r);
        return APPLIED;
    }
    char what[200];
    snprintf(what, sizeof what, "%s %s in the target's block record", add ? "recording" : "forgetting", role);
    if (broken(dst)) {
        pgq_seterr(err, errcap, "%s: %s", what, dst->err);
        return BROKEN;
    }
    out->refused++;
    list_add(out->refused_what, sizeof out->refused_what, what);
    return REFUSED;
}

static int sync_one_role(pgq *dst, const pgl_db_names *nm, PGresult *s, int si, PGresult *d, int di,
                         const rowset *src_rec, bool dst_has_rec, const rowset *dst_rec, pgl_privs_result *out,
                         char *err, size_t errcap)
{
    const char *name = PQgetvalue(s, si, R_NAME);
    bool src_recorded = rowset_find(src_rec, name) >= 0;
    bool src_login = tf(s, si, R_LOGIN) || src_recorded; /* before the block */
    bool dst_recorded = dst_has_rec && rowset_find(dst_rec, name) >= 0;
    if (di >= 0 && tf(d, di, R_SUPER)) { /* a non-superuser cannot alter it */
        if (!tf(s, si, R_SUPER)) list_add(out->not_reproduced, sizeof out->not_reproduced, name);
        return APPLIED;
    }
    if (tf(s, si, R_SUPER) || (tf(s, si, R_BYPASS) != (di >= 0 && tf(d, di, R_BYPASS))))
        list_add(out->not_reproduced, sizeof out->not_reproduced, name);

    dbuf b;
    dbuf_init(&b, 1u << 16);
    int rc = APPLIED;
    bool record_it = false, forget_it = false;
    /* LOGIN: a role the source's block recorded keeps the target's state
     * (the target's unblock restores it); others follow the source */
    bool dst_login = di >= 0 && (tf(d, di, R_LOGIN) || dst_recorded);
    const char *login = NULL;
    if (di < 0) {
        record_it = src_login && src_recorded && dst_has_rec;
        login = src_login && !record_it ? " LOGIN" : " NOLOGIN";
    } else if (src_login != dst_login) {
        if (src_login && src_recorded && dst_has_rec) record_it = true;
        else if (src_login) login = " LOGIN";
        else {
            if (tf(d, di, R_LOGIN)) login = " NOLOGIN";
            forget_it = dst_recorded;
        }
    }
    if ((login && !dbuf_appends(&b, login)) || !role_clause(dst, &b, s, si, d, di)) {
        pgq_seterr(err, errcap, "role %s: %s", name, dst->err[0] ? dst->err : "out of memory");
        dbuf_free(&b);
        return BROKEN;
    }
    bool changed = false;
    if (di < 0 || b.len > 0) {
        char what[200];
        snprintf(what, sizeof what, "%s ROLE %s", di < 0 ? "CREATE" : "ALTER", name);
        const char *a[] = {name, b.data ? b.data : ""};
        rc = run(dst, di < 0 ? "pgl_privs_role_create" : "pgl_privs_role_alter", 2, a, what, false, out,
                 err, errcap);
        if (rc != APPLIED) {
            dbuf_free(&b);
            return rc;
        }
        changed = true;
        if (di < 0) {
            out->roles_created++;
            if (src_login) list_add(out->no_password, sizeof out->no_password, name);
            log_info("privilege sync: role created on the target", "role=%s login=%d", name, src_login);
        }
    }
    dbuf_free(&b);
    if (record_it || forget_it) {
        if ((rc = record_role(dst, nm, name, record_it, out, err, errcap)) == BROKEN) return rc;
        changed = changed || rc == APPLIED;
    }
    if (tf(s, si, R_REPL) != (di >= 0 && tf(d, di, R_REPL))) {
        /* superuser-only on PostgreSQL; on RDS it is rds_replication membership */
        char what[200];
        snprintf(what, sizeof what, "ALTER ROLE %s REPLICATION", name);
        const char *a[] = {name, tf(s, si, R_REPL) ? "REPLICATION" : "NOREPLICATION"};
        rc = run(dst, "pgl_privs_role_alter", 2, a, what, true, out, err, errcap);
        if (rc == BROKEN) return rc;
        if (rc == REFUSED) list_add(out->not_reproduced, sizeof out->not_reproduced, name);
        else changed = true;
    }
    if (changed && di >= 0) {
        out->roles_altered++;
        log_info("privilege sync: role attributes changed on the target", "role=%s", name);
    }
    return APPLIED;
}

static int sync_memberships(pgq *src, pgq *dst, const char *fcr, const rowset *src_roles,
                            pgl_privs_result *out, char *err, size_t errcap)
{
    PGresult *s = NULL, *d = NULL;
    listing_pair(src, dst, "pgl_privs_members", fcr, &s, &d, err, errcap);
    rowset ss = {0}, ds = {0};
    int rc = BROKEN, m0 = out->memberships;
    if (!d) goto done;
    if (!rowset_make(&ss, s, 2, -1, false) || !rowset_make(&ds, d, 2, -1, false)) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    for (int i = 0; i < ss.n; i++) {
        int si = ss.k[i].row, di = rowset_find(&ds, ss.k[i].key);
        const char *g = PQgetvalue(s, si, 0), *m = PQgetvalue(s, si, 1);
        bool admin = tf(s, si, 2);
        if (di >= 0 && tf(d, di, 2) == admin) continue;
        char what[300];
        int r;
        if (di < 0 || admin) {
            snprintf(what, sizeof what, "GRANT %s TO %s%s", g, m, admin ? " WITH ADMIN OPTION" : "");
            const char *a[] = {g, m, admin ? " WITH ADMIN OPTION" : ""};
            r = run(dst, "pgl_privs_member_grant", 3, a, what, false, out, err, errcap);
        } else {
            snprintf(what, sizeof what, "REVOKE ADMIN OPTION FOR %s FROM %s", g, m);
            const char *a[] = {"ADMIN OPTION FOR ", g, m};
            r = run(dst, "pgl_privs_member_revoke", 3, a, what, false, out, err, errcap);
        }
        if (r == BROKEN) goto done;
        if (r == APPLIED) out->memberships++;
    }
    for (int i = 0; i < ds.n; i++) {
        if (rowset_find(&ss, ds.k[i].key) >= 0) continue;
        int di = ds.k[i].row;
        const char *g = PQgetvalue(d, di, 0), *m = PQgetvalue(d, di, 1);
        if (rowset_find(src_roles, m) < 0) continue; /* dropped on the source: DROP ROLE takes it */
        char what[300];
        snprintf(what, sizeof what, "REVOKE %s FROM %s", g, m);
        const char *a[] = {"", g, m};
        int r = run(dst, "pgl_privs_member_revoke", 3, a, what, false, out, err, errcap);
        if (r == BROKEN) goto done;
        if (r == APPLIED) out->memberships++;
    }
    if (out->memberships > m0) {
        /* a REVOKE of a membership another role granted (PostgreSQL 16+)
         * only warns: compare again */
        rowset_free(&ds);
        PQclear(d);
        d = listing(dst, "pgl_privs_members", fcr, "target", err, errcap);
        if (!d) goto done;
        if (!rowset_make(&ds, d, 2, -1, false)) {
            pgq_seterr(err, errcap, "out of memory");
            goto done;
        }
        for (int i = 0; i < ss.n; i++) {
            int di = rowset_find(&ds, ss.k[i].key);
            if (di < 0 || tf(d, di, 2) != tf(s, ss.k[i].row, 2)) out->unconverged++;
        }
        for (int i = 0; i < ds.n; i++)
            if (rowset_find(&ss, ds.k[i].key) < 0 && rowset_find(src_roles, PQgetvalue(d, ds.k[i].row, 1)) >= 0) {
                char what[300];
                snprintf(what, sizeof what, "membership of %s in %s still differs", PQgetvalue(d, ds.k[i].row, 1),
                         PQgetvalue(d, ds.k[i].row, 0));
                list_add(out->refused_what, sizeof out->refused_what, what);
                out->unconverged++;
            }
    }
    rc = APPLIED;
done:
    rowset_free(&ss);
    rowset_free(&ds);
    PQclear(s);
    PQclear(d);
    return rc;
}

/* ---- per-role settings ---- */

/* Settings whose value is a list stored with identifier quoting
 * (GUC_LIST_QUOTE): each element is given as its own literal. */
static bool list_setting(const char *name)
{
    static const char *const L[] = {"search_path", "temp_tablespaces", "session_preload_libraries",
                                    "local_preload_libraries", "shared_preload_libraries"};
    for (size_t i = 0; i < FC_ARRAY_LEN(L); i++)
        if (strcasecmp(name, L[i]) == 0) return true;
    return false;
}

int pgl_privs_split_list(const char *v, char **elems, int max)
{
    int n = 0;
    const char *p = v;
    while (*p == ' ') p++;
    if (!*p) return 0;
    for (;;) {
        if (n >= max) goto bad;
        dbuf e;
        dbuf_init(&e, 1u << 16);
        while (*p == ' ') p++;
        if (*p == '"') {
            for (p++;; p++) {
                if (!*p) {
                    dbuf_free(&e);
                    goto bad;
                }
                if (*p == '"') {
                    if (p[1] != '"') break;
                    p++;
                }
                if (!dbuf_append(&e, p, 1)) {
                    dbuf_free(&e);
                    goto bad;
                }
            }
            p++;
        } else {
            const char *s = p;
            while (*p && *p != ',' && *p != ' ') p++;
            if (p == s || !dbuf_append(&e, s, (size_t)(p - s))) {
                dbuf_free(&e);
                goto bad;
            }
        }
        char *t = dbuf_take(&e);
        elems[n++] = t ? t : strdup("");
        if (!elems[n - 1]) goto bad;
        while (*p == ' ') p++;
        if (!*p) return n;
        if (*p != ',') goto bad;
        p++;
    }
bad:
    for (int i = 0; i < n; i++) free(elems[i]);
    return -1;
}

/* ALTER ROLE r [IN DATABASE d] SET name = value for one "name=value" entry. */
static int set_entry(pgq *dst, const char *role, const char *dbfrag, const char *entry,
                     pgl_privs_result *out, char *err, size_t errcap)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry) return REFUSED;
    char name[256];
    size_t nl = (size_t)(eq - entry);
    if (nl >= sizeof name) return REFUSED;
    memcpy(name, entry, nl);
    name[nl] = '\0';
    const char *value = eq + 1;
    dbuf nb, vb;
    dbuf_init(&nb, 1u << 12);
    dbuf_init(&vb, 1u << 20);
    int rc = BROKEN;
    /* name: dotted custom settings are identifiers joined by '.' */
    for (char *part = name, *dot;; part = dot + 1) {
        dot = strchr(part, '.');
        if (dot) *dot = '\0';
        bool ok = add_ident(dst, &nb, part) && (!dot || dbuf_appends(&nb, "."));
        if (dot) *dot = '.';
        if (!ok) goto oom;
        if (!dot) break;
    }
    if (list_setting(name)) {
        char *el[64];
        int n = pgl_privs_split_list(value, el, 64);
        bool ok = n > 0;
        for (int i = 0; ok && i < n; i++) ok = (!i || dbuf_appends(&vb, ", ")) && add_literal(dst, &vb, el[i]);
        for (int i = 0; i < n; i++) free(el[i]);
        if (n == 0) ok = add_literal(dst, &vb, "");
        if (!ok && n < 0) { /* malformed: refuse rather than guess */
            char what[300];
            snprintf(what, sizeof what, "ALTER ROLE %s SET %s (unreadable value)", role, name);
            out->refused++;
            list_add(out->refused_what, sizeof out->refused_what, what);
            rc = REFUSED;
            goto done;
        }
        if (!ok) goto oom;
    } else if (!add_literal(dst, &vb, value)) {
        goto oom;
    }
    char what[300];
    snprintf(what, sizeof what, "ALTER ROLE %s%s SET %s", role, dbfrag[0] ? " IN DATABASE" : "", name);
    const char *a[] = {role, dbfrag, nb.data, vb.data};
    rc = run(dst, "pgl_privs_setting_set", 4, a, what, false, out, err, errcap);
    goto done;
oom:
    pgq_seterr(err, errcap, "setting %s of role %s: %s", name, role, dst->err[0] ? dst->err : "out of memory");
done:
    dbuf_free(&nb);
    dbuf_free_secure(&vb);
    return rc;
}

/* Group consecutive rows (role, db, entry) into (role, db) -> entries joined by '\n'. */
typedef struct setgroup {
    char *key;  /* role \x1f db */
    char *all;  /* entries joined by '\n' */
    int first, count;
} setgroup;

static int setgroup_cmp(const void *a, const void *b)
{
    return strcmp(((const setgroup *)a)->key, ((const setgroup *)b)->key);
}

static setgroup *setgroups(PGresult *r, int *ng)
{
    int n = PQntuples(r);
    setgroup *g = calloc((size_t)n + 1, sizeof *g);
    *ng = 0;
    if (!g) return NULL;
    for (int i = 0; i < n;) {
        setgroup *x = &g[(*ng)++];
        x->key = key_of(r, i, 2);
        x->first = i;
        dbuf b;
        dbuf_init(&b, 1u << 24);
        int j = i;
        while (j < n && strcmp(PQgetvalue(r, j, 0), PQgetvalue(r, i, 0)) == 0 &&
               strcmp(PQgetvalue(r, j, 1), PQgetvalue(r, i, 1)) == 0) {
            if ((j > i && !dbuf_appends(&b, "\n")) || !dbuf_appends(&b, PQgetvalue(r, j, 2))) break;
            j++;
        }
        x->count = j - i;
        x->all = dbuf_take(&b);
        if (!x->all) x->all = strdup("");
        if (!x->key || !x->all || j == i) {
            dbuf_free_secure(&b);
            return g; /* caller sees missing strings */
        }
        i = j;
    }
    qsort(g, (size_t)*ng, sizeof *g, setgroup_cmp);
    return g;
}

static void setgroups_free(setgroup *g, int n)
{
    for (int i = 0; g && i < n; i++) {
        free(g[i].key);
        if (g[i].all) fc_wipe(g[i].all, strlen(g[i].all));
        free(g[i].all);
    }
    free(g);
}

static bool setgroups_ok(const setgroup *g, int n)
{
    if (!g) return false;
    for (int i = 0; i < n; i++)
        if (!g[i].key || !g[i].all) return false;
    return true;
}

static const setgroup *setgroup_find(const setgroup *g, int n, const char *key)
{
    setgroup want = {.key = (char *)key};
    return n ? bsearch(&want, g, (size_t)n, sizeof *g, setgroup_cmp) : NULL;
}

static int sync_settings(pgq *src, pgq *dst, const char *fcr, const rowset *src_roles, pgl_privs_result *out,
                         char *err, size_t errcap)
{
    PGresult *s = NULL, *d = NULL;
    listing_pair(src, dst, "pgl_privs_settings", fcr, &s, &d, err, errcap);
    int ns = 0, nd = 0, rc = BROKEN;
    setgroup *gs = NULL, *gd = NULL;
    if (!d) goto done;
    gs = setgroups(s, &ns);
    gd = setgroups(d, &nd);
    if (!setgroups_ok(gs, ns) || !setgroups_ok(gd, nd)) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    /* (role, db) pairs of either side whose entries differ */
    for (int pass = 0; pass < 2; pass++) {
        const setgroup *mine = pass ? gd : gs, *other = pass ? gs : gd;
        int nmine = pass ? nd : ns, nother = pass ? ns : nd;
        PGresult *mr = pass ? d : s;
        for (int i = 0; i < nmine; i++) {
            const setgroup *o = setgroup_find(other, nother, mine[i].key);
            if (pass == 1 && o) continue;                          /* handled in pass 0 */
            if (pass == 0 && o && strcmp(o->all, mine[i].all) == 0) continue;
            const char *role = PQgetvalue(mr, mine[i].first, 0), *db = PQgetvalue(mr, mine[i].first, 1);
            if (pass == 1 && rowset_find(src_roles, role) < 0) continue; /* dropped on the source */
            dbuf df;
            dbuf_init(&df, 1u << 12);
            if (db[0] && (!dbuf_appends(&df, " IN DATABASE ") || !add_ident(dst, &df, db))) {
                dbuf_free(&df);
                pgq_seterr(err, errcap, "out of memory");
                goto done;
            }
            const char *dbfrag = df.data ? df.data : "";
            char what[300];
            snprintf(what, sizeof what, "ALTER ROLE %s%s RESET ALL", role, db[0] ? " IN DATABASE" : "");
            const char *a[] = {role, dbfrag};
            int r = APPLIED;
            bool dst_has = pass == 1 || o;
            if (dst_has) r = run(dst, "pgl_privs_setting_reset", 2, a, what, false, out, err, errcap);
            for (int j = 0; pass == 0 && r == APPLIED && j < mine[i].count; j++) {
                r = set_entry(dst, role, dbfrag, PQgetvalue(s, mine[i].first + j, 2), out, err, errcap);
            }
            dbuf_free(&df);
            if (r == BROKEN) goto done;
            if (r == APPLIED) {
                out->settings++;
                log_info("privilege sync: role settings rewritten on the target", "role=%s db=%s", role, db);
            }
        }
    }
    rc = APPLIED;
done:
    setgroups_free(gs, ns);
    setgroups_free(gd, nd);
    PQclear(s);
    PQclear(d);
    return rc;
}

bool pgl_sync_roles(pgq *src, pgq *dst, const pgl_db_names *nm, pgl_privs_result *out, char *err,
                       size_t errcap)
{
    char fcr[2 * PGL_NAME + 80];
    fc_roles(nm, fcr, sizeof fcr);
    bool ok = false, has_rec[2] = {false, false}; /* the block record: source, target */
    rowset rec[2] = {{0}}, rs = {0}, rd = {0};
    PGresult *s = NULL, *d = NULL;
    listing_pair(src, dst, "pgl_privs_roles", fcr, &s, &d, err, errcap);
    if (!d) goto done;
    if (!rowset_make(&rs, s, 1, -1, false) || !rowset_make(&rd, d, 1, -1, false)) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    if (!block_records(src, dst, nm, has_rec, rec, err, errcap)) goto done;
    for (int i = 0; i < rs.n; i++) {
        int si = rs.k[i].row, di = rowset_find(&rd, rs.k[i].key);
        if (sync_one_role(dst, nm, s, si, d, di, &rec[0], has_rec[1], &rec[1], out, err, errcap) == BROKEN)
            goto done;
    }
    if (sync_memberships(src, dst, fcr, &rs, out, err, errcap) == BROKEN) goto done;
    if (sync_settings(src, dst, fcr, &rs, out, err, errcap) == BROKEN) goto done;
    log_info("privilege sync: roles", "created=%d altered=%d memberships=%d settings=%d refused=%d",
             out->roles_created, out->roles_altered, out->memberships, out->settings, out->refused);
    if (out->no_password[0])
        log_warn("privilege sync: login roles created on the target without a password (passwords cannot be read)",
                 "roles=%s", out->no_password);
    if (out->not_reproduced[0])
        log_warn("privilege sync: SUPERUSER/BYPASSRLS/REPLICATION not reproduced on the target", "roles=%s",
                 out->not_reproduced);
    ok = true;
done:
    rowset_free(&rs);
    rowset_free(&rd);
    record_free(&rec[0]);
    record_free(&rec[1]);
    PQclear(s);
    PQclear(d);
    return ok;
}

bool pgl_sync_drop_roles(pgq *src, pgq *dst, const pgl_db_names *nm, pgl_privs_result *out, char *err,
                            size_t errcap)
{
    char fcr[2 * PGL_NAME + 80];
    fc_roles(nm, fcr, sizeof fcr);
    bool ok = false;
    rowset rs = {0};
    PGresult *s = NULL, *d = NULL;
    listing_pair(src, dst, "pgl_privs_roles", fcr, &s, &d, err, errcap);
    if (!d) goto done;
    if (!rowset_make(&rs, s, 1, -1, false)) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    for (int i = 0; i < PQntuples(d); i++) {
        const char *name = PQgetvalue(d, i, R_NAME);
        if (rowset_find(&rs, name) >= 0 || tf(d, i, R_SUPER)) continue;
        const char *a[] = {name};
        if (pgq_tmpl_script(dst, "pgl_privs_role_drop", 1, a)) {
            out->roles_dropped++;
            log_info("privilege sync: role dropped on the target", "role=%s", name);
            continue;
        }
        if (broken(dst)) {
            pgq_seterr(err, errcap, "DROP ROLE %s on the target: %s", name, dst->err);
            goto done;
        }
        if (strcmp(dst->sqlstate, "2BP01") == 0) { /* it owns or holds something (in some database) */
            list_add(out->not_dropped, sizeof out->not_dropped, name);
            log_warn("privilege sync: role dropped on the source kept on the target (owns or holds something)",
                     "role=%s", name);
        } else {
            char what[300];
            snprintf(what, sizeof what, "DROP ROLE %s (%s)", name, dst->sqlstate);
            out->refused++;
            list_add(out->refused_what, sizeof out->refused_what, what);
            log_warn("privilege sync: the target refused a statement", "what=\"DROP ROLE %s\" sqlstate=%s", name,
                     dst->sqlstate);
        }
    }
    ok = true;
done:
    rowset_free(&rs);
    PQclear(s);
    PQclear(d);
    return ok;
}

/* ---- object and default privileges ---- */

/* pgl_privs_acls.sql columns */
enum { A_KIND, A_A, A_B, A_C, A_GRANTEE, A_PRIV, A_GRANTABLE, A_OWNER };

static bool priv_word(const char *p)
{
    static const char *const W[] = {"SELECT",     "INSERT",  "UPDATE",  "DELETE",    "TRUNCATE",
                                    "REFERENCES", "TRIGGER", "EXECUTE", "USAGE",     "CREATE",
                                    "CONNECT",    "TEMPORARY", "MAINTAIN"};
    for (size_t i = 0; i < FC_ARRAY_LEN(W); i++)
        if (strcmp(p, W[i]) == 0) return true;
    return false;
}

static const char *default_objects(const char *t)
{
    if (strcmp(t, "r") == 0) return "TABLES";
    if (strcmp(t, "S") == 0) return "SEQUENCES";
    if (strcmp(t, "f") == 0) return "FUNCTIONS";
    if (strcmp(t, "T") == 0) return "TYPES";
    if (strcmp(t, "n") == 0) return "SCHEMAS";
    return NULL;
}

/* How the target user can act for an object's owner: 0 as itself (it has
 * the owner's privileges, or nothing better can be done), 1 by SET ROLE (a
 * member without inheritance), 2 by borrowing the membership for the one
 * statement (CREATEROLE may grant any non-superuser role on PostgreSQL
 * 15; on 16+ only with ADMIN OPTION, else the statement is refused and
 * reported); -1 broken connection. */
static int owner_rights(pgq *dst, const char *owner, char *err, size_t errcap)
{
    if (!owner[0] || strncmp(owner, "pg_", 3) == 0 || strncmp(owner, "rds", 3) == 0) return 0;
    const char *p[] = {owner};
    PGresult *r = pgq_exec(dst, pgq_sql("pgl_privs_owner_rights"), 1, p);
    if (!r) {
        if (!broken(dst)) return 0;
        pgq_seterr(err, errcap, "rights towards %s on the target: %s", owner, dst->err);
        return -1;
    }
    int how = 0;
    if (PQntuples(r) == 1 && !tf(r, 0, 0) && !tf(r, 0, 2)) how = tf(r, 0, 1) ? 1 : 2;
    PQclear(r);
    return how;
}

/* run() with the owner's rights: a GRANT by someone who is neither the owner
 * nor one of its members is refused (or, holding the privilege without
 * grant option, only warns). Borrowing happens in the statement's own
 * transaction: GRANT owner TO CURRENT_USER ... REVOKE commit together or not
 * at all, so no membership is left behind. */
static int run_as_owner(pgq *dst, const char *owner, const char *tmpl, int nargs, const char *const *args,
                        const char *what, pgl_privs_result *out, char *err, size_t errcap)
{
    int how = owner_rights(dst, owner, err, errcap);
    if (how < 0) return BROKEN;
    if (how == 0) return run(dst, tmpl, nargs, args, what, false, out, err, errcap);
    char *stmt = pgq_format(dst, pgq_sql(tmpl), nargs, args);
    if (!stmt) {
        pgq_seterr(err, errcap, "%s: %s", what, dst->err);
        return BROKEN;
    }
    const char *m[] = {owner, stmt};
    const char *o[] = {owner, owner, stmt, owner};
    log_info("privilege sync: acting with the owner's rights", "owner=%s borrowed=%d", owner, how == 2);
    int rc = run(dst, how == 1 ? "pgl_privs_as_member" : "pgl_privs_as_owner", how == 1 ? 2 : 4,
                 how == 1 ? m : o, what, false, out, err, errcap);
    free(stmt);
    return rc;
}

/* One change of one privilege on the target. */
enum act { ACT_GRANT, ACT_GRANT_OPTION, ACT_REVOKE, ACT_REVOKE_OPTION };

static int apply_priv(pgq *dst, PGresult *r, int row, enum act act, pgl_privs_result *out, char *err,
                      size_t errcap)
{
    const char *k = PQgetvalue(r, row, A_KIND), *a = PQgetvalue(r, row, A_A), *b = PQgetvalue(r, row, A_B),
               *c = PQgetvalue(r, row, A_C), *grantee = PQgetvalue(r, row, A_GRANTEE),
               *priv = PQgetvalue(r, row, A_PRIV), *owner = PQgetvalue(r, row, A_OWNER);
    bool dflt = strcmp(k, "default") == 0;
    if (!priv_word(priv)) {
        char what[300];
        snprintf(what, sizeof what, "privilege %.40s on %s %s (unknown)", priv, k, a);
        out->refused++;
        list_add(out->refused_what, sizeof out->refused_what, what);
        return REFUSED;
    }
    dbuf pf, of, gf;
    dbuf_init(&pf, 1u << 12);
    dbuf_init(&of, 1u << 16);
    dbuf_init(&gf, 1u << 12);
    int rc = BROKEN;
    bool ok = dbuf_appends(&pf, priv);
    if (strcmp(k, "column") == 0)
        ok = ok && dbuf_appends(&pf, " (") && add_ident(dst, &pf, c) && dbuf_appends(&pf, ")");
    if (strcmp(k, "table") == 0 || strcmp(k, "column") == 0 || strcmp(k, "sequence") == 0) {
        ok = ok && dbuf_appends(&of, strcmp(k, "sequence") == 0 ? "SEQUENCE " : "TABLE ") &&
             add_ident(dst, &of, a) && dbuf_appends(&of, ".") && add_ident(dst, &of, b);
    } else if (strcmp(k, "schema") == 0) {
        ok = ok && dbuf_appends(&of, "SCHEMA ") && add_ident(dst, &of, a);
    } else if (strcmp(k, "routine") == 0) {
        /* the argument list is the server's own rendering
         * (pg_get_function_identity_arguments: types quoted by the server) */
        ok = ok && dbuf_appends(&of, "ROUTINE ") && add_ident(dst, &of, a) && dbuf_appends(&of, ".") &&
             add_ident(dst, &of, b) && dbuf_printf(&of, "(%s)", c);
    } else if (strcmp(k, "database") == 0) {
        ok = ok && dbuf_appends(&of, "DATABASE ") && add_ident(dst, &of, a);
    } else if (strcmp(k, "largeobject") == 0 && digits(a) && a[0] != '-') {
        ok = ok && dbuf_printf(&of, "LARGE OBJECT %s", a);
    } else if (dflt && default_objects(c)) {
        ok = ok && dbuf_appends(&of, default_objects(c));
    } else {
        rc = REFUSED;
        goto done;
    }
    ok = ok && (grantee[0] ? add_ident(dst, &gf, grantee) : dbuf_appends(&gf, "PUBLIC"));
    if (!ok) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    bool grant = act == ACT_GRANT || act == ACT_GRANT_OPTION;
    const char *opt = act == ACT_GRANT_OPTION ? " WITH GRANT OPTION" : act == ACT_REVOKE_OPTION ? "GRANT OPTION FOR " : "";
    const char *ga[] = {pf.data, of.data, gf.data, opt};
    const char *ra[] = {opt, pf.data, of.data, gf.data};
    char what[400];
    bool col = strcmp(k, "column") == 0;
    snprintf(what, sizeof what, "%s%s%s %s%s%s%s ON %s %s%s%s %s %s%s", dflt ? "DEFAULT " : "",
             grant ? "GRANT" : "REVOKE", act == ACT_REVOKE_OPTION ? " GRANT OPTION FOR" : "", priv,
             col ? " (" : "", col ? c : "", col ? ")" : "", col ? "table" : k, a, b[0] ? "." : "", b,
             grant ? "TO" : "FROM", grantee[0] ? grantee : "PUBLIC", act == ACT_GRANT_OPTION ? " WITH GRANT OPTION" : "");
    if (!dflt) {
        rc = run_as_owner(dst, owner, grant ? "pgl_privs_grant" : "pgl_privs_revoke", 4, grant ? ga : ra, what,
                          out, err, errcap);
        goto done;
    }
    char *cl = pgq_format(dst, pgq_sql(grant ? "pgl_privs_grant" : "pgl_privs_revoke"), 4, grant ? ga : ra);
    dbuf sf;
    dbuf_init(&sf, 1u << 12);
    if (!cl || (b[0] && (!dbuf_appends(&sf, " IN SCHEMA ") || !add_ident(dst, &sf, b)))) {
        free(cl);
        dbuf_free(&sf);
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    const char *da[] = {a, sf.data ? sf.data : "", cl};
    rc = run_as_owner(dst, owner, "pgl_privs_default", 3, da, what, out, err, errcap);
    free(cl);
    dbuf_free(&sf);
done:
    dbuf_free(&pf);
    dbuf_free(&of);
    dbuf_free(&gf);
    return rc;
}

/* The key of what must exist on both sides for a row to be acted on: the
 * object (kind, a, b, c); for a column its table (columns are listed only
 * where they carry an ACL, and no column appears after the snapshot without
 * DDL the guard reports); for default privileges the role ("role", a). */
static char *presence_key(PGresult *r, int row)
{
    const char *kind = PQgetvalue(r, row, A_KIND);
    bool dflt = strcmp(kind, "default") == 0, col = strcmp(kind, "column") == 0;
    const char *k = dflt ? "role" : col ? "table" : kind, *a = PQgetvalue(r, row, A_A);
    const char *b = dflt ? "" : PQgetvalue(r, row, A_B), *c = dflt || col ? "" : PQgetvalue(r, row, A_C);
    size_t n = strlen(k) + strlen(a) + strlen(b) + strlen(c) + 4;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s\x1f%s\x1f%s\x1f%s", k, a, b, c);
    return s;
}

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static bool strlist_add(strlist *l, char *s)
{
    if (!s) return false;
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 32;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) {
            free(s);
            return false;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = s;
    return true;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Compare the two listings; with apply, change the target and count the
 * objects changed; without, count the differences left. */
static int diff_acls(pgq *dst, PGresult *s, PGresult *d, bool apply, int *left, pgl_privs_result *out,
                     char *err, size_t errcap)
{
    rowset sp = {0}, dp = {0}, so = {0}, dob = {0};
    strlist changed = {0};
    int rc = BROKEN;
    *left = 0;
    /* privileges: key = kind..grantee,priv (6 columns), rows with a privilege;
     * objects: key = kind,a,b,c of the rows with privilege '' */
    if (!rowset_make(&sp, s, 6, A_PRIV, false) || !rowset_make(&dp, d, 6, A_PRIV, false) ||
        !rowset_make(&so, s, 4, A_PRIV, true) || !rowset_make(&dob, d, 4, A_PRIV, true)) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    for (int pass = 0; pass < 2; pass++) {
        const rowset *mine = pass ? &dp : &sp, *other = pass ? &sp : &dp;
        PGresult *mr = pass ? d : s, *orr = pass ? s : d;
        for (int i = 0; i < mine->n; i++) {
            int row = mine->k[i].row, orow = rowset_find(other, mine->k[i].key);
            enum act act;
            if (pass == 0 && orow < 0) act = tf(mr, row, A_GRANTABLE) ? ACT_GRANT_OPTION : ACT_GRANT;
            else if (pass == 0 && tf(mr, row, A_GRANTABLE) != tf(orr, orow, A_GRANTABLE))
                act = tf(mr, row, A_GRANTABLE) ? ACT_GRANT_OPTION : ACT_REVOKE_OPTION;
            else if (pass == 1 && orow < 0) act = ACT_REVOKE;
            else continue;
            char *pk = presence_key(mr, row);
            if (!pk) {
                pgq_seterr(err, errcap, "out of memory");
                goto done;
            }
            bool both = rowset_find(&so, pk) >= 0 && rowset_find(&dob, pk) >= 0;
            free(pk);
            if (!both) continue; /* the object (or the defaults' role) is on one side only */
            if (!apply) {
                (*left)++;
                if (*left <= 5) {
                    char what[300];
                    const char *b = PQgetvalue(mr, row, A_B), *c = PQgetvalue(mr, row, A_C);
                    bool col = strcmp(PQgetvalue(mr, row, A_KIND), "column") == 0;
                    snprintf(what, sizeof what, "%s %s%s%s%s%s %s to %s still differs", PQgetvalue(mr, row, A_KIND),
                             PQgetvalue(mr, row, A_A), b[0] ? "." : "", b, col ? "." : "", col ? c : "",
                             PQgetvalue(mr, row, A_PRIV),
                             PQgetvalue(mr, row, A_GRANTEE)[0] ? PQgetvalue(mr, row, A_GRANTEE) : "PUBLIC");
                    list_add(out->refused_what, sizeof out->refused_what, what);
                }
                continue;
            }
            int r = apply_priv(dst, mr, row, act, out, err, errcap);
            if (r == BROKEN) goto done;
            if (r == APPLIED && !strlist_add(&changed, key_of(mr, row, 4))) {
                pgq_seterr(err, errcap, "out of memory");
                goto done;
            }
        }
    }
    /* count distinct objects changed */
    if (changed.n) qsort(changed.v, (size_t)changed.n, sizeof *changed.v, strp_cmp);
    for (int i = 0; i < changed.n; i++) {
        if (i && strcmp(changed.v[i], changed.v[i - 1]) == 0) continue;
        if (strncmp(changed.v[i], "default\x1f", 8) == 0) out->default_acls++;
        else out->object_acls++;
    }
    rc = APPLIED;
done:
    strlist_free(&changed);
    rowset_free(&sp);
    rowset_free(&dp);
    rowset_free(&so);
    rowset_free(&dob);
    return rc;
}

/* Both sides' global default-privilege keys (both[0] the source's, both[1]
 * the target's listing) as two text[] literals. */
static bool default_keys(PGresult *const *both, dbuf *roles, dbuf *types, char *err, size_t errcap)
{
    bool ok = dbuf_appends(roles, "{") && dbuf_appends(types, "{"), first = true;
    for (int i = 0; ok && i < 2; i++) {
        const PGresult *r = both[i];
        for (int j = 0; ok && j < PQntuples(r); j++, first = false) {
            ok = first || (dbuf_appends(roles, ",") && dbuf_appends(types, ","));
            ok = ok && dbuf_appends(roles, "\"") && dbuf_appends(types, "\"");
            for (const char *p = PQgetvalue(r, j, 0); ok && *p; p++)
                ok = (*p != '"' && *p != '\\' ? true : dbuf_appends(roles, "\\")) && dbuf_append(roles, p, 1);
            for (const char *p = PQgetvalue(r, j, 1); ok && *p; p++)
                ok = (*p != '"' && *p != '\\' ? true : dbuf_appends(types, "\\")) && dbuf_append(types, p, 1);
            ok = ok && dbuf_appends(roles, "\"") && dbuf_appends(types, "\"");
        }
    }
    if (ok && dbuf_appends(roles, "}") && dbuf_appends(types, "}")) return true;
    pgq_seterr(err, errcap, "out of memory");
    return false;
}

static PGresult *acl_listing(pgq *q, const pgl_db_names *nm, const char *fcr, const dbuf *roles,
                             const dbuf *types, const char *side, char *err, size_t errcap)
{
    const char *p[] = {nm->schema, fcr, roles->data, types->data};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_privs_acls"), 4, p);
    if (!r) pgq_seterr(err, errcap, "reading privileges on the %s: %s", side, q->err);
    return r;
}

/* One listing on the 2n sessions of n databases at once (q[2i] the source's,
 * q[2i+1] the target's of database i; p[i] its parameters): r[2i], r[2i+1].
 * false with err ("reading <what> on the <side>") and every r NULL when any
 * fails, *failed that database. */
static bool listing_each(pgq **q, int n, const char *sql, int np, const char *const *const *p, const char *what,
                         PGresult **r, int *failed, char *err, size_t errcap)
{
    const char **text = calloc((size_t)(2 * n) + 1, sizeof *text);
    int *nps = calloc((size_t)(2 * n) + 1, sizeof *nps);
    const char *const **pp = calloc((size_t)(2 * n) + 1, sizeof *pp);
    int bad = -1;
    bool ok = text && nps && pp;
    for (int i = 0; ok && i < 2 * n; i++) {
        text[i] = pgq_sql(sql);
        nps[i] = np;
        pp[i] = p[i / 2];
    }
    if (!ok) {
        for (int i = 0; i < 2 * n; i++) r[i] = NULL;
        pgq_seterr(err, errcap, "out of memory");
        bad = 0;
    } else if (!pgl_exec_each(q, 2 * n, text, nps, pp, r, &bad)) {
        pgq_seterr(err, errcap, "reading %s on the %s: %s", what, bad % 2 ? "target" : "source", q[bad]->err);
        for (int i = 0; i < 2 * n; i++) {
            PQclear(r[i]);
            r[i] = NULL;
        }
    }
    free(text);
    free(nps);
    free(pp);
    *failed = bad < 0 ? 0 : bad / 2;
    return bad < 0;
}

/* One database's listings compared and applied (pgl_sync_privileges_each). */
static int privileges_apply(pgq *dst, const pgl_db_names *nm, const char *fcr, const dbuf *roles, const dbuf *types,
                            PGresult *s, PGresult **d, pgl_privs_result *out, char *err, size_t errcap)
{
    int o0 = out->object_acls, d0 = out->default_acls, left = 0;
    if (diff_acls(dst, s, *d, true, &left, out, err, errcap) == BROKEN) return BROKEN;
    if (out->object_acls != o0 || out->default_acls != d0 || out->refused) {
        /* what the target did not take (e.g. a GRANT without the right
         * to grant only warns): compare again */
        PQclear(*d);
        *d = acl_listing(dst, nm, fcr, roles, types, "target", err, errcap);
        pgl_privs_result scratch;
        pgl_privs_result_init(&scratch);
        if (!*d || diff_acls(dst, s, *d, false, &left, &scratch, err, errcap) == BROKEN) return BROKEN;
        out->unconverged += left;
        for (const char *p = scratch.refused_what; left && *p;) {
            const char *e = strchr(p, ',');
            char item[300];
            snprintf(item, sizeof item, "%.*s", (int)(e ? e - p : (ptrdiff_t)strlen(p)), p);
            list_add(out->refused_what, sizeof out->refused_what, item);
            p = e ? e + 1 : p + strlen(p);
        }
    }
    log_info("privilege sync: privileges", "db=%s objects=%d defaults=%d unconverged=%d",
             PQdb(dst->conn) ? PQdb(dst->conn) : "", out->object_acls - o0, out->default_acls - d0, left);
    return APPLIED;
}

bool pgl_sync_privileges_each(pgq *const *src, pgq *const *dst, const pgl_db_names *nm, int n,
                              pgl_privs_result *out, int *failed, char *err, size_t errcap)
{
    char fcr[2 * PGL_NAME + 80];
    fc_roles(nm, fcr, sizeof fcr); /* fleetcrypt's roles are instance-wide: the same in every database */
    bool ok = false;
    *failed = 0;
    pgq **q = calloc((size_t)(2 * n) + 1, sizeof *q);
    PGresult **r = calloc((size_t)(2 * n) + 1, sizeof *r);
    dbuf *roles = calloc((size_t)n + 1, sizeof *roles), *types = calloc((size_t)n + 1, sizeof *types);
    const char *const **p = calloc((size_t)n + 1, sizeof *p);
    const char **pv = calloc((size_t)(4 * n) + 1, sizeof *pv);
    if (!q || !r || !roles || !types || !p || !pv) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        q[2 * i] = src[i];
        q[2 * i + 1] = dst[i];
        dbuf_init(&roles[i], 1u << 24);
        dbuf_init(&types[i], 1u << 24);
        pv[4 * i] = fcr;
        p[i] = &pv[4 * i];
    }
    /* 1. every database's default-privilege keys, both sides at once */
    if (!listing_each(q, n, "pgl_privs_default_keys", 1, p, "pgl_privs_default_keys", r, failed, err, errcap))
        goto done;
    bool built = true;
    for (int i = 0; i < n; i++) {
        if (built && !default_keys(&r[2 * i], &roles[i], &types[i], err, errcap)) {
            built = false;
            *failed = i;
        }
        PQclear(r[2 * i]);
        PQclear(r[2 * i + 1]);
        r[2 * i] = r[2 * i + 1] = NULL;
        pv[4 * i] = nm[i].schema;
        pv[4 * i + 1] = fcr;
        pv[4 * i + 2] = roles[i].data;
        pv[4 * i + 3] = types[i].data;
    }
    if (!built) goto done;
    /* 2. every database's privileges, both sides at once */
    if (!listing_each(q, n, "pgl_privs_acls", 4, p, "privileges", r, failed, err, errcap)) goto done;
    /* 3. each database's differences applied to its target (writes: one after the other) */
    for (int i = 0; i < n; i++) {
        *failed = i;
        if (privileges_apply(dst[i], &nm[i], fcr, &roles[i], &types[i], r[2 * i], &r[2 * i + 1], out, err,
                             errcap) == BROKEN)
            goto done;
    }
    ok = true;
done:
    for (int i = 0; r && i < 2 * n; i++) PQclear(r[i]);
    for (int i = 0; roles && types && i < n; i++) {
        dbuf_free(&roles[i]);
        dbuf_free(&types[i]);
    }
    free(q);
    free(r);
    free(roles);
    free(types);
    free(p);
    free(pv);
    return ok;
}

bool pgl_sync_privileges(pgq *src, pgq *dst, const pgl_db_names *nm, pgl_privs_result *out, char *err,
                            size_t errcap)
{
    int failed = 0;
    return pgl_sync_privileges_each(&src, &dst, nm, 1, out, &failed, err, errcap);
}
