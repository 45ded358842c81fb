/* pgl_db_reverse — the rollback window's publication and slot on the
 * encrypted target (pgl_db_reverse.h). */
#include "pgl_db_reverse.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

static bool suffixed(char *dst, const char *src)
{
    char tmp[PGL_NAME];
    int n = snprintf(tmp, sizeof tmp, "%s_rb", src);
    if (n < 0 || (size_t)n >= sizeof tmp) return false;
    fc_strlcpy(dst, tmp, PGL_NAME);
    return true;
}

bool pgl_reverse_names(const pgl_db_names *nm, pgl_db_names *rv)
{
    *rv = *nm;
    return suffixed(rv->publication, nm->publication) && suffixed(rv->slot, nm->slot) &&
           suffixed(rv->subscription, nm->subscription);
}

bool pgl_reverse_publish(pgq *target, const pgl_db_names *rv, fc_lsn *slot_lsn, char *err, size_t errcap)
{
    *slot_lsn = FC_LSN_INVALID;
    const char *pp[] = {rv->publication};
    PGresult *r = pgq_exec(target, pgq_sql("pgl_publication_exists"), 1, pp);
    if (!r) {
        pgq_seterr(err, errcap, "publication %s: %s", rv->publication, target->err);
        return false;
    }
    bool have = PQntuples(r) > 0;
    PQclear(r);
    const char *a[] = {rv->schema, rv->publication, rv->publication};
    if (!have && !pgq_tmpl_script(target, "pgl_rb_publication_create", 3, a) &&
        strcmp(target->sqlstate, "42710") != 0) {
        pgq_seterr(err, errcap, "creating publication %s: %s", rv->publication, target->err);
        return false;
    }
    if (!pgl_ensure_slot(target, rv, 0, slot_lsn, err, errcap)) return false;
    if (*slot_lsn == FC_LSN_INVALID) {
        pgq_seterr(err, errcap, "slot %s has no consistent point", rv->slot);
        return false;
    }
    return true;
}

bool pgl_reverse_unpublish(pgq *target, const pgl_db_names *rv, char *err, size_t errcap)
{
    if (!pgl_drop_slot(target, rv->slot, err, errcap)) return false;
    const char *a[] = {rv->publication};
    if (!pgq_tmpl_script(target, "pgl_publication_drop", 1, a)) {
        pgq_seterr(err, errcap, "dropping publication %s: %s", rv->publication, target->err);
        return false;
    }
    log_info("reverse replication unpublished", "slot=%s publication=%s", rv->slot, rv->publication);
    return true;
}

bool pgl_reverse_left(pgq *target, const pgl_db_names *rv, bool *slot, bool *publication, char *err,
                      size_t errcap)
{
    const char *ps[] = {rv->slot};
    PGresult *r = pgq_exec(target, pgq_sql("pgl_slot_get"), 1, ps);
    if (!r) {
        pgq_seterr(err, errcap, "slot %s: %s", rv->slot, target->err);
        return false;
    }
    *slot = PQntuples(r) > 0;
    PQclear(r);
    const char *pp[] = {rv->publication};
    r = pgq_exec(target, pgq_sql("pgl_publication_exists"), 1, pp);
    if (!r) {
        pgq_seterr(err, errcap, "publication %s: %s", rv->publication, target->err);
        return false;
    }
    *publication = PQntuples(r) > 0;
    PQclear(r);
    return true;
}
