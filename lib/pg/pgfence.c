/* pgfence — see pgfence.h. */
#include "pgfence.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

bool pgfence_create(pgq *q, const char *schema, char *err, size_t errcap)
{
    const char *a[] = {schema, schema};
    if (!pgq_tmpl_script(q, "pgfence_table", 2, a)) {
        seterr(err, errcap, "creating %s.fence: %s", schema, q->err);
        return false;
    }
    return true;
}

static pgfence_rc sql_fail(pgq *q, const char *what, char *err, size_t errcap)
{
    if (!strcmp(q->sqlstate, "42P01") || !strcmp(q->sqlstate, "3F000")) {
        seterr(err, errcap, "%s: no fence table on this server", what);
        return PGFENCE_MISSING;
    }
    seterr(err, errcap, "%s: %s", what, q->err);
    return PGFENCE_ERROR;
}

static PGresult *get_row(pgq *q, const char *schema, const char *row, bool lock)
{
    const char *a[] = {schema, lock ? "FOR UPDATE" : ""};
    const char *p[] = {row};
    return pgq_tmpl_exec(q, "pgfence_get", 2, a, 1, p);
}

pgfence_rc pgfence_state(pgq *q, const char *schema, const char *row, char *holder, size_t hcap, bool *drained,
                         char *err, size_t errcap)
{
    PGresult *r = get_row(q, schema, row, false);
    if (!r) return sql_fail(q, "reading the fence", err, errcap);
    if (PQntuples(r) != 1) {
        PQclear(r);
        seterr(err, errcap, "reading the fence: row %s is missing", row);
        return PGFENCE_MISSING;
    }
    if (holder) fc_strlcpy(holder, PQgetvalue(r, 0, 0), hcap);
    if (drained) *drained = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    return PGFENCE_OK;
}

/* pgfence_take, with the drained mark set as well when drained is given. */
static pgfence_rc take(pgq *q, const char *schema, const char *row, const char *fence, const char *drained,
                       char *newer, size_t ncap, char *err, size_t errcap)
{
    const char *a[] = {schema};
    const char *p[] = {row, fence, drained};
    PGresult *r = pgq_tmpl_exec(q, drained ? "pgfence_take_drained" : "pgfence_take", 1, a, drained ? 3 : 2, p);
    if (!r) return sql_fail(q, "taking the fence", err, errcap);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 1) return PGFENCE_OK;
    char h[64] = "";
    pgfence_rc rc = pgfence_state(q, schema, row, h, sizeof h, NULL, err, errcap);
    if (rc != PGFENCE_OK) return rc;
    if (newer) fc_strlcpy(newer, h, ncap);
    seterr(err, errcap, "a newer holder (fence %s, ours %s) has acted on this server", h, fence);
    return PGFENCE_NEWER;
}

pgfence_rc pgfence_take(pgq *q, const char *schema, const char *row, const char *fence, char *newer, size_t ncap,
                        char *err, size_t errcap)
{
    return take(q, schema, row, fence, NULL, newer, ncap, err, errcap);
}

pgfence_rc pgfence_take_drained(pgq *q, const char *schema, const char *row, const char *fence, bool drained,
                                char *err, size_t errcap)
{
    return take(q, schema, row, fence, drained ? "true" : "false", NULL, 0, err, errcap);
}

pgfence_rc pgfence_begin(pgq *q, const char *schema, const char *row, const char *fence, bool *drained, char *err,
                         size_t errcap)
{
    if (!pgq_cmd(q, "BEGIN", 0, NULL)) return sql_fail(q, "BEGIN", err, errcap);
    PGresult *r = get_row(q, schema, row, true);
    if (!r) {
        pgfence_rc rc = sql_fail(q, "locking the fence", err, errcap);
        pgfence_rollback(q);
        return rc;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        pgfence_rollback(q);
        seterr(err, errcap, "locking the fence: row %s is missing", row);
        return PGFENCE_MISSING;
    }
    char h[64];
    fc_strlcpy(h, PQgetvalue(r, 0, 0), sizeof h);
    if (drained) *drained = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    /* ours or older: (re)take it inside the transaction; newer: refuse */
    const char *a[] = {schema};
    const char *p[] = {row, fence};
    r = pgq_tmpl_exec(q, "pgfence_take", 1, a, 2, p);
    if (!r) {
        pgfence_rc rc = sql_fail(q, "taking the fence", err, errcap);
        pgfence_rollback(q);
        return rc;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        pgfence_rollback(q);
        seterr(err, errcap, "a newer holder (fence %s, ours %s) has acted on this server", h, fence);
        return PGFENCE_NEWER;
    }
    return PGFENCE_OK;
}

bool pgfence_commit(pgq *q, char *err, size_t errcap)
{
    if (pgq_cmd(q, "COMMIT", 0, NULL)) return true;
    seterr(err, errcap, "COMMIT: %s", q->err);
    pgfence_rollback(q);
    return false;
}

void pgfence_rollback(pgq *q)
{
    if (q && PQtransactionStatus(q->conn) != PQTRANS_IDLE) {
        char sqlstate[8], e[256];
        fc_strlcpy(sqlstate, q->sqlstate, sizeof sqlstate);
        fc_strlcpy(e, q->err, sizeof e);
        (void)pgq_cmd(q, "ROLLBACK", 0, NULL);
        /* keep the error that made us roll back */
        fc_strlcpy(q->sqlstate, sqlstate, sizeof q->sqlstate);
        fc_strlcpy(q->err, e, sizeof q->err);
    }
}

bool pgfence_set_drained(pgq *q, const char *schema, const char *row, bool drained, char *err, size_t errcap)
{
    const char *a[] = {schema};
    const char *p[] = {row, drained ? "true" : "false"};
    PGresult *r = pgq_tmpl_exec(q, "pgfence_set_drained", 1, a, 2, p);
    if (!r) {
        seterr(err, errcap, "marking the fence drained=%d: %s", drained, q->err);
        return false;
    }
    PQclear(r);
    return true;
}

bool pgfence_identity(pgq *q, const char *admin_role, char *sysid, size_t scap, char *marker, size_t mcap,
                      bool *role_exists, char *err, size_t errcap)
{
    const char *p[] = {admin_role};
    PGresult *r = pgq_exec(q, pgq_sql("pgfence_identity"), 1, p);
    if (!r) {
        seterr(err, errcap, "identifying the server: %s", q->err);
        return false;
    }
    fc_strlcpy(sysid, PQgetvalue(r, 0, 0), scap);
    fc_strlcpy(marker, PQgetvalue(r, 0, 1), mcap);
    *role_exists = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    return true;
}

bool pgfence_mark(pgq *q, const char *admin_role, const char *marker, char *err, size_t errcap)
{
    const char *a[] = {admin_role, marker};
    if (!pgq_tmpl_script(q, "pgfence_mark", 2, a)) {
        seterr(err, errcap, "marking the server (COMMENT ON ROLE %s): %s", admin_role, q->err);
        return false;
    }
    return true;
}

bool pgfence_marker_make(const char *tag, const char *side, const char *nonce, char *out, size_t cap)
{
    int n = snprintf(out, cap, "fleetcrypt %s %s %s", tag, side, nonce);
    return n > 0 && (size_t)n < cap;
}
