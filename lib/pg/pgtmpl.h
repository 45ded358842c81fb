/* pgtmpl — run one of the embedded SQL files (sql/<name>.sql, or a
 * strategy's db/sql/<name>.sql; fc_sql_get by name) as a %I/%L/%R template
 * built with pgq_format, and the error setter the callers share. Used by
 * the PostgreSQL helpers of lib/ (pgfence, pgrepl_verify) and by the
 * strategies' db/ halves (pg-logical's pgrepl*.c). */
#ifndef FC_PGTMPL_H
#define FC_PGTMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "pgq.h"

void pgrepl_seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Run sql/<name>.sql as a %I/%L/%R template with args, simple protocol. */
bool pgrepl_ddl(pgq *q, const char *name, int nargs, const char *const *args);
/* Build sql/<name>.sql as a template, run it with parameters. */
PGresult *pgrepl_tmpl_exec(pgq *q, const char *name, int nargs, const char *const *args,
                           int nparams, const char *const *params);

#endif
