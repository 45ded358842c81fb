/* pgq — libpq helpers: connect from parts (the password never reaches a log),
 * session timeouts and application_name, parameterised queries
 * (PQexecParams only: values are never spliced into SQL text), identifier
 * and literal quoting through libpq, and errors carrying the SQLSTATE. */
#ifndef FC_PGQ_H
#define FC_PGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "dbuf.h"

typedef struct pgq_conninfo {
    const char *host;
    int port;                 /* 0 = 5432 */
    const char *dbname;
    const char *user;
    const char *password;     /* not owned, never logged; NULL = none (trust, .pgpass) */
    const char *sslmode;      /* NULL = pgq_default_sslmode() (verify-full unless configured) */
    const char *sslrootcert;  /* CA bundle for verify-ca/verify-full; NULL = pgq_default_sslrootcert() */
    int connect_timeout_s;    /* 0 = 10 */
    int statement_timeout_ms; /* 0 = 60000; <0 = server default */
    int lock_timeout_ms;      /* 0 = 10000; <0 = server default */
    const char *application_name; /* NULL = "fleetcrypt" */
} pgq_conninfo;

typedef struct pgq {
    PGconn *conn;
    char where[200];   /* "host:port/db as user" for messages; no secret */
    char sqlstate[6];  /* of the last error, "" if none */
    char err[1024];    /* last error: "SQLSTATE xxxxx: message" */
    int64_t answer_by; /* fc_mono_ms() by which pgq_exec gives up on a server that
                        * does not answer (0: wait as long as it takes); see
                        * pgq_set_answer_by */
} pgq;

/* Connect; NULL on failure with the reason (no password) in err. */
pgq *pgq_connect(const pgq_conninfo *ci, char *err, size_t errcap);
/* Accepts NULL. */
void pgq_close(pgq *q);

/* libpq connection-string text for ci as a *server* will use it (CREATE
 * SUBSCRIPTION ... CONNECTION): every value single-quoted with \ and '
 * escaped as libpq requires; sslmode is pgq_server_sslmode(ci->sslmode) and
 * sslrootcert is never included (a path of ours means nothing to the
 * server). The buffer holds the password when there is one: free it with
 * dbuf_free_secure. */
bool pgq_conninfo_string(const pgq_conninfo *ci, dbuf *out);
/* Append key='value' (libpq quoting) to a connection string. */
bool pgq_conninfo_append(dbuf *out, const char *key, const char *value);
/* The same connection described without secrets ("host=h port=p dbname=d
 * user=u sslmode=m"), for logs. */
void pgq_conninfo_describe(const pgq_conninfo *ci, char *out, size_t cap);

/* TLS for every connection fleetcrypt opens (worker, tools), read from the
 * environment at each call. sslmode: FLEETCRYPT_PG_SSLMODE, else libpq's
 * PGSSLMODE, else "verify-full". Root certificate: FLEETCRYPT_PG_SSLROOTCERT,
 * else FLEETCRYPT_RDS_CA_BUNDLE, else libpq's PGSSLROOTCERT, else NULL
 * (libpq's own default, ~/.postgresql/root.crt). Empty values count as unset. */
const char *pgq_default_sslmode(void);
const char *pgq_default_sslrootcert(void);
/* The sslmode for a connection a *server* opens on our behalf (a
 * subscription on the target reaching the source): the server cannot read
 * our CA file, so a mode that needs TLS (require, verify-ca, verify-full)
 * becomes "require"; others are kept. NULL = pgq_default_sslmode(). */
const char *pgq_server_sslmode(const char *client_mode);
/* Overwrite, in place, every occurrence of secret in s (as is, libpq-quoted,
 * SQL-quoted, and both) with asterisks; s never grows. Accepts NULL s or
 * secret (then nothing happens). For error texts that may echo a
 * connection string. */
void pgq_redact(char *s, const char *secret);

/* A client-side bound for what the server's statement_timeout cannot
 * bound: a server or network that stops answering (a hung host, packets
 * dropped, a stopped backend). Past mono_ms (fc_mono_ms) a pgq_exec still
 * waiting gives up: the connection is closed (q->conn becomes NULL, so
 * PQstatus says CONNECTION_BAD and callers reconnect) and the error is
 * SQLSTATE 57014 "no answer from the server". 0 turns it off. */
void pgq_set_answer_by(pgq *q, int64_t mono_ms);

/* Run one statement with text parameters ($1..$n; NULL entries are SQL
 * NULL). Returns the result (caller PQclear()s) or NULL with q->err set. */
PGresult *pgq_exec(pgq *q, const char *sql, int nparams, const char *const *params);
/* Send one statement without waiting for it (statements on several
 * connections then run at once; COPY ... TO STDOUT read with
 * PQgetCopyData); false with q->err. One statement in flight per
 * connection. */
bool pgq_send(pgq *q, const char *sql, int nparams, const char *const *params);
/* A result the caller took itself (PQgetResult; NULL accepted), checked as
 * pgq_exec checks its own: r when the statement succeeded, else NULL with
 * q->err and q->sqlstate set and r cleared. sql: the statement, for the
 * message. */
PGresult *pgq_result_of(pgq *q, PGresult *r, const char *sql);
/* The result of the statement pgq_send sent (q->answer_by honoured, as
 * pgq_exec does), checked as pgq_exec checks its own: NULL with q->err.
 * sql: the statement, for the message. */
PGresult *pgq_recv(pgq *q, const char *sql);
/* As pgq_exec for statements whose rows are not needed. */
bool pgq_cmd(pgq *q, const char *sql, int nparams, const char *const *params);
/* First column of the first row into out ("" and *isnull for NULL; false
 * and q->err when there is no row). isnull may be NULL. */
bool pgq_scalar(pgq *q, const char *sql, int nparams, const char *const *params,
                char *out, size_t cap, bool *isnull);
/* Text of sql/<name>.sql (embedded at build time); asserts it exists. */
const char *pgq_sql(const char *name);
/* Run statements that take no parameters (one or several, ';'-separated:
 * simple-query protocol) - for fixed DDL such as the guard's definition. */
bool pgq_script(pgq *q, const char *sql);

/* vsnprintf into err (when err and cap): the error idiom of the PostgreSQL
 * helpers and the strategies' db/ halves. */
void pgq_seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Quote an identifier / a literal through libpq. Caller frees with
 * PQfreemem(); NULL with q->err set on failure. */
char *pgq_ident(pgq *q, const char *s);
char *pgq_literal(pgq *q, const char *s);
/* Build text from a template: each "%I" is replaced by the next identifier
 * (quoted with PQescapeIdentifier), each "%L" by the next literal
 * (PQescapeLiteral); "%R" inserts the next argument as is and is only for
 * fragments the caller assembled from pgq_ident/pgq_literal output and
 * digits (key lists, $n placeholders); "%%" is a percent. For DDL/utility
 * statements and dynamic key lists, which
 * cannot take bind parameters. NULL on failure (q->err). Free with free(). */
char *pgq_format(pgq *q, const char *tmpl, int nargs, const char *const *args);
/* sql/<name>.sql built as a pgq_format template with args, then run with
 * pgq_script (no parameters; the text is wiped before it is freed, as it may
 * hold a password verifier or conninfo). False with q->err. */
bool pgq_tmpl_script(pgq *q, const char *name, int nargs, const char *const *args);
/* sql/<name>.sql built as a template with args, then run with parameters
 * (pgq_exec). */
PGresult *pgq_tmpl_exec(pgq *q, const char *name, int nargs, const char *const *args, int nparams,
                        const char *const *params);

/* sql/<name>.sql built as a template with args and sent with pgq_send: the
 * statement's text (the caller frees it), or NULL with q->err. */
char *pgq_tmpl_send(pgq *q, const char *name, int nargs, const char *const *args, int nparams,
                    const char *const *params);

/* Server version (e.g. 150004) */
int pgq_server_version(pgq *q);
/* Backend pid of this session. */
int pgq_backend_pid(pgq *q);

/* Set q->err (used by callers to add their own context). */
void pgq_set_error(pgq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
