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

/* The two template runners are pgq's (pgq_tmpl_script, pgq_tmpl_exec);
 * these names are what the pg-logical db/ halves call. */
bool pgrepl_ddl(pgq *q, const char *name, int nargs, const char *const *args)
{
    return pgq_tmpl_script(q, name, nargs, args);
}

PGresult *pgrepl_tmpl_exec(pgq *q, const char *name, int nargs, const char *const *args,
                           int nparams, const char *const *params)
{
    return pgq_tmpl_exec(q, name, nargs, args, nparams, params);
}
