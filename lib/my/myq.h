/* myq — the MySQL/MariaDB client of the MySQL-family strategies, on MariaDB
 * Connector/C (libmariadb), which speaks to MySQL 8 and MariaDB servers
 * alike. One connection per myq; TLS verified against the RDS CA bundle
 * (FLEETCRYPT_RDS_CA_BUNDLE) whenever one is configured. Every identifier
 * and literal that goes into SQL text is escaped by the library:
 * myq_format's %I (backtick-quoted, backticks doubled) and %L
 * (mysql_real_escape_string on this connection, quoted). Errors: bool/NULL
 * with the text in err (never a password: the caller's SQL text is not
 * copied into it). Leaf module: lib/base only. */
#ifndef FC_MYQ_H
#define FC_MYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct myq myq;

typedef struct myq_opts {
    const char *host;
    int port;
    const char *user;
    const char *password; /* secret: not kept after the connect */
    const char *db;       /* NULL: none */
    const char *ca_file;  /* NULL: myq_default_ca() */
    int timeout_s;        /* connect/read/write timeout (0: 10 s) */
    unsigned *code_out;   /* when the connect fails: its error code (may be NULL) */
    int64_t answer_by;    /* fc_mono_ms() by which the connect (and, until
                           * myq_set_answer_by says otherwise, every call)
                           * gives up; 0: none */
} myq_opts;

/* The CA bundle connections verify against: FLEETCRYPT_RDS_CA_BUNDLE, else
 * NULL (then TLS is still required, the server's certificate unverified). */
const char *myq_default_ca(void);

myq *myq_connect(const myq_opts *o, char *err, size_t cap);
void myq_close(myq *q); /* accepts NULL */
/* A client-side bound for what no server timeout can bound: a server or
 * network that stops answering (a hung host, packets dropped, a stopped
 * mysqld). Past mono_ms (fc_mono_ms) a call still waiting gives up: the
 * socket is shut down (nothing more is sent to or awaited from the
 * server), the handle is dead (every later call fails at once: reconnect)
 * and the error is CR_SERVER_LOST (transient) "no answer from the server
 * in time" (myq_no_answer). 0 turns it off. Runs on Connector/C's
 * non-blocking API (mysql_real_query_start/_cont, polling
 * mysql_get_socket): an absolute deadline, where MYSQL_OPT_READ_TIMEOUT
 * restarts with every packet. Every connection also has TCP keepalives
 * (30 s idle, 3 x 10 s). */
void myq_set_answer_by(myq *q, int64_t mono_ms);
/* Closed by the bound (or by myq_each stopped early): reconnect. */
bool myq_dead(const myq *q);
/* The last error was the bound's. */
bool myq_no_answer(const myq *q);

/* The last error's server/client code (ER_*, CR_*), 0 when none. */
unsigned myq_errno(const myq *q);
/* A connection-level or transient error (lost connection, cannot connect,
 * lock wait timeout, deadlock, too many connections): worth a retry. */
bool myq_transient(unsigned code);

/* Run one statement (a CALL included), discarding every result set. */
bool myq_exec(myq *q, const char *sql, char *err, size_t cap);

/* A whole result (the first result set; further ones discarded). Cells are
 * text as the server sends them, NULL for SQL NULL. */
typedef struct myq_res {
    int nrows, ncols;
    char **names;  /* ncols */
    char **cells;  /* nrows * ncols, row-major */
} myq_res;
myq_res *myq_query(myq *q, const char *sql, char *err, size_t cap);
void myq_res_free(myq_res *r);
const char *myq_cell(const myq_res *r, int row, int col);
/* By column name (case-insensitive); NULL when there is no such column or
 * the value is NULL. The first of several names that exists (a|b|c):
 * MySQL 8's and MariaDB's spellings of one SHOW column. */
const char *myq_get(const myq_res *r, int row, const char *names);

/* Streamed rows (for hashing whole tables): fn is called per row with the
 * cells and their lengths; it returns false to stop (then the rest is not
 * read: the connection is given up, myq_dead, and the call returns true). */
typedef bool (*myq_row_fn)(void *ud, int ncols, char **cells, const unsigned long *lens);
bool myq_each(myq *q, const char *sql, myq_row_fn fn, void *ud, char *err, size_t cap);

/* Text from a template: %I the next argument as an identifier, %L as a
 * literal (escaped on this connection), %R as is (digits and fragments the
 * caller built from %I/%L output only), %% a percent. malloc'd; free with
 * myq_free_sql (wipes: the text may hold a password). NULL on failure. */
char *myq_format(myq *q, const char *tmpl, int nargs, const char *const *args);
void myq_free_sql(char *sql);
/* myq_format then myq_exec / myq_query. */
bool myq_execf(myq *q, char *err, size_t cap, const char *tmpl, int nargs, const char *const *args);
myq_res *myq_queryf(myq *q, char *err, size_t cap, const char *tmpl, int nargs, const char *const *args);

/* Server version as MAJOR*10000+MINOR*100+PATCH, and whether it is MariaDB. */
unsigned long myq_server_version(myq *q);
bool myq_is_mariadb(myq *q);

#ifdef FC_UNIT_TESTING
/* Tests only: a handle that never connected (myq_format's escaping). */
myq *myq_unconnected(void);
#endif

#endif
