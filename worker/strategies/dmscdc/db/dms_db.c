/* dms_db — see dms_db.h. */
#include "dms_db.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

bool dms_table_listed(const char *list, const char *name)
{
    if (!list || !name) return false;
    /* the plain spelling of a quoted name: quotes removed */
    char plain[512];
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < sizeof plain; i++)
        if (name[i] != '"') plain[j++] = name[i];
    plain[j] = 0;
    const char *p = list;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && isspace((unsigned char)t[-1])) t--;
        size_t n = (size_t)(t - p);
        if (n && ((n == strlen(name) && !strncmp(p, name, n)) || (n == strlen(plain) && !strncmp(p, plain, n))))
            return true;
        p = e;
    }
    return false;
}

bool dms_preflight_database(pgq *q, const char *db, const char *schema, const char *read_only, dbuf *keyless,
                            int *nk, dbuf *types, int *nt, char *err, size_t errcap)
{
    const char *p[] = {schema};
    PGresult *r = pgq_exec(q, pgq_sql("dms_keyless_tables"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "finding tables without a primary key: %s", q->err);
        return false;
    }
    int first = 1;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        if (dms_table_listed(read_only, name)) continue;
        if (first) dbuf_printf(keyless, "%s%s: ", keyless->len ? "; " : "", db);
        dbuf_printf(keyless, "%s%s", first ? "" : ", ", name);
        first = 0;
        (*nk)++;
    }
    PQclear(r);
    r = pgq_exec(q, pgq_sql("dms_unsupported_columns"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "finding columns DMS cannot carry: %s", q->err);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        if (i == 0) dbuf_printf(types, "%s%s: ", types->len ? "; " : "", db);
        dbuf_printf(types, "%s%s.%s (%s)", i ? ", " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                    PQgetvalue(r, i, 2));
        (*nt)++;
    }
    PQclear(r);
    return true;
}

bool dms_ensure_slot(pgq *q, const char *slot, int timeout_ms, fc_lsn *slot_lsn, char *err, size_t errcap)
{
    const char *p[] = {slot};
    char dbname[256];
    fc_strlcpy(dbname, PQdb(q->conn), sizeof dbname);
    *slot_lsn = FC_LSN_INVALID;
    PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_get"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "slot %s: %s", slot, q->err);
        return false;
    }
    if (PQntuples(r) > 0) {
        bool ok = !strcmp(PQgetvalue(r, 0, 0), "test_decoding") && !strcmp(PQgetvalue(r, 0, 1), "logical") &&
                  !strcmp(PQgetvalue(r, 0, 2), dbname);
        if (!ok) pgq_seterr(err, errcap, "slot %s exists but is not a test_decoding slot of database %s", slot, dbname);
        else if (!lsn_parse(PQgetvalue(r, 0, 4), slot_lsn)) *slot_lsn = FC_LSN_INVALID;
        PQclear(r);
        return ok;
    }
    PQclear(r);
    char ms[16];
    snprintf(ms, sizeof ms, "%d", timeout_ms > 0 ? timeout_ms : 60000);
    const char *st[] = {"statement_timeout", ms};
    if (!pgq_cmd(q, "SELECT set_config($1, $2, false)", 2, st)) {
        pgq_seterr(err, errcap, "setting the slot timeout: %s", q->err);
        return false;
    }
    char lsn[FC_LSN_STRLEN + 8];
    bool ok = pgq_scalar(q, pgq_sql("dms_slot_create"), 1, p, lsn, sizeof lsn, NULL);
    char state[6], saved[sizeof q->err];
    fc_strlcpy(state, q->sqlstate, sizeof state);
    fc_strlcpy(saved, q->err, sizeof saved);
    const char *st0[] = {"statement_timeout", "60000"};
    pgq_cmd(q, "SELECT set_config($1, $2, false)", 2, st0);
    if (!ok) {
        if (!strcmp(state, "42710")) return dms_ensure_slot(q, slot, timeout_ms, slot_lsn, err, errcap);
        if (!strcmp(state, "57014"))
            pgq_seterr(err, errcap, "creating slot %s waited %s ms for running transactions to finish", slot, ms);
        else
            pgq_seterr(err, errcap, "creating slot %s: %s", slot, saved);
        return false;
    }
    if (!lsn_parse(lsn, slot_lsn)) {
        pgq_seterr(err, errcap, "slot %s: unexpected LSN %s", slot, lsn);
        return false;
    }
    log_info("slot created", "slot=%s plugin=test_decoding lsn=%s", slot, lsn);
    return true;
}

bool dms_drop_slot(pgq *q, const char *slot, char *err, size_t errcap)
{
    const char *p[] = {slot};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_get"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "slot %s: %s", slot, q->err);
        return false;
    }
    bool exists = PQntuples(r) > 0;
    PQclear(r);
    if (!exists) return true;
    /* an active slot cannot be dropped: end its walsender first */
    pgq_cmd(q, pgq_sql("dms_slot_terminate"), 1, p);
    if (!pgq_cmd(q, pgq_sql("pgl_drop_slot"), 1, p) && strcmp(q->sqlstate, "42704") != 0) {
        pgq_seterr(err, errcap, "dropping slot %s: %s", slot, q->err);
        return false;
    }
    return true;
}

bool dms_db_apply_exceptions(pgq *q, const char *schema, int64_t *n, char *err, size_t errcap)
{
    const char *p[] = {schema};
    char v[32];
    *n = -1;
    if (!pgq_scalar(q, pgq_sql("dms_apply_exceptions"), 1, p, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "counting DMS apply exceptions: %s", q->err);
        return false;
    }
    *n = strtoll(v, NULL, 10);
    return true;
}

bool dms_db_drain_marker(pgq *q, char *err, size_t errcap)
{
    char v[32];
    if (!pgq_scalar(q, pgq_sql("dms_drain_marker"), 0, NULL, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "writing the drain marker: %s", q->err);
        return false;
    }
    return true;
}
