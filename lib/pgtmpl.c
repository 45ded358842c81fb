/* pgtmpl — see pgtmpl.h. */
#include "pgtmpl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void pgrepl_seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

bool pgrepl_ddl(pgq *q, const char *name, int nargs, const char *const *args)
{
    char *sql = pgq_format(q, pgq_sql(name), nargs, args);
    if (!sql) return false;
    bool ok = pgq_script(q, sql);
    fc_wipe(sql, strlen(sql)); /* may hold a password verifier or conninfo */
    free(sql);
    return ok;
}

PGresult *pgrepl_tmpl_exec(pgq *q, const char *name, int nargs, const char *const *args,
                           int nparams, const char *const *params)
{
    char *sql = pgq_format(q, pgq_sql(name), nargs, args);
    if (!sql) return NULL;
    PGresult *r = pgq_exec(q, sql, nparams, params);
    free(sql);
    return r;
}
