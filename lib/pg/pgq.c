/* pgq — see pgq.h. */
#include "pgq.h"
#include "cfg.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_sql.h"
#include "log.h"
#include "util.h"

void pgq_set_error(pgq *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err, sizeof q->err, fmt, ap);
    va_end(ap);
}

static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    size_t n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' ')) n--;
    log_debug("postgres notice", "text=\"%.*s\"", (int)(n > 300 ? 300 : n), message);
}

static void fmt_int(char *buf, size_t cap, int v)
{
    snprintf(buf, cap, "%d", v);
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *pgq_default_sslmode(void)
{
    const char *v = cfg_env_str(CFG_PG_SSLMODE);
    if (!v) v = env_nonempty("PGSSLMODE");
    return v ? v : "verify-full";
}

const char *pgq_default_sslrootcert(void)
{
    const char *v = cfg_env_str(CFG_PG_SSLROOTCERT);
    if (!v) v = cfg_env_str(CFG_RDS_CA_BUNDLE);
    if (!v) v = env_nonempty("PGSSLROOTCERT");
    return v;
}

const char *pgq_server_sslmode(const char *client_mode)
{
    const char *m = client_mode && *client_mode ? client_mode : pgq_default_sslmode();
    if (!strcmp(m, "require") || !strcmp(m, "verify-ca") || !strcmp(m, "verify-full")) return "require";
    return m;
}

static const char *ci_sslmode(const pgq_conninfo *ci)
{
    return ci->sslmode && *ci->sslmode ? ci->sslmode : pgq_default_sslmode();
}

static const char *ci_sslrootcert(const pgq_conninfo *ci)
{
    return ci->sslrootcert && *ci->sslrootcert ? ci->sslrootcert : pgq_default_sslrootcert();
}

/* enc: bit 1 = libpq quoting (a backslash before each backslash and quote),
 * bit 2 = SQL quoting (quotes doubled), bit 4 = E'' literal quoting
 * (backslashes doubled after the libpq step). */
static char *encode_secret(const char *s, int enc)
{
    size_t n = strlen(s);
    char *tmp = malloc(4 * n + 1), *out = malloc(8 * n + 1);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        return NULL;
    }
    size_t k = 0;
    for (const char *p = s; *p; p++) {
        if ((enc & 1) && (*p == '\\' || *p == '\'')) tmp[k++] = '\\';
        tmp[k++] = *p;
    }
    tmp[k] = 0;
    k = 0;
    for (const char *p = tmp; *p; p++) {
        if ((enc & 2) && *p == '\'') out[k++] = '\'';
        if ((enc & 4) && *p == '\\') out[k++] = '\\';
        out[k++] = *p;
    }
    out[k] = 0;
    fc_wipe(tmp, 4 * n + 1);
    free(tmp);
    return out;
}

void pgq_redact(char *s, const char *secret)
{
    if (!s || !secret || !*secret) return;
    /* longest encodings first, so a shorter form never leaves a longer one half-masked */
    static const int encs[] = {7, 3, 6, 2, 1, 0};
    for (size_t e = 0; e < sizeof encs / sizeof encs[0]; e++) {
        char *form = encode_secret(secret, encs[e]);
        if (!form) {
            fc_wipe(s, strlen(s)); /* cannot redact: say nothing rather than leak */
            return;
        }
        size_t fl = strlen(form);
        size_t rl = fl < 3 ? fl : 3;
        char *hit;
        while ((hit = strstr(s, form)) != NULL) {
            memset(hit, '*', rl);
            memmove(hit + rl, hit + fl, strlen(hit + fl) + 1);
        }
        fc_wipe(form, fl);
        free(form);
    }
}

void pgq_conninfo_describe(const pgq_conninfo *ci, char *out, size_t cap)
{
    snprintf(out, cap, "host=%s port=%d dbname=%s user=%s sslmode=%s", ci->host ? ci->host : "",
             ci->port ? ci->port : 5432, ci->dbname ? ci->dbname : "", ci->user ? ci->user : "",
             ci_sslmode(ci));
}

pgq *pgq_connect(const pgq_conninfo *ci, char *err, size_t errcap)
{
    char port[16], ctimeout[16];
    const char *keys[20], *vals[20];
    int k = 0;
    pgq *q = NULL;

    fmt_int(port, sizeof port, ci->port ? ci->port : 5432);
    fmt_int(ctimeout, sizeof ctimeout, ci->connect_timeout_s > 0 ? ci->connect_timeout_s : 10);
    keys[k] = "host", vals[k++] = ci->host ? ci->host : "127.0.0.1";
    keys[k] = "port", vals[k++] = port;
    keys[k] = "dbname", vals[k++] = ci->dbname ? ci->dbname : "postgres";
    if (ci->user) keys[k] = "user", vals[k++] = ci->user;
    if (ci->password) keys[k] = "password", vals[k++] = ci->password;
    keys[k] = "sslmode", vals[k++] = ci_sslmode(ci);
    if (ci_sslrootcert(ci)) keys[k] = "sslrootcert", vals[k++] = ci_sslrootcert(ci);
    keys[k] = "connect_timeout", vals[k++] = ctimeout;
    keys[k] = "application_name", vals[k++] = ci->application_name ? ci->application_name : "fleetcrypt";
    keys[k] = "client_encoding", vals[k++] = "UTF8";
    /* a peer that vanished (host gone, packets dropped) is noticed by the
     * kernel within about a minute instead of TCP's hours */
    keys[k] = "keepalives_idle", vals[k++] = "30";
    keys[k] = "keepalives_interval", vals[k++] = "10";
    keys[k] = "keepalives_count", vals[k++] = "3";
    keys[k] = NULL, vals[k] = NULL;

    q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    snprintf(q->where, sizeof q->where, "%s:%s/%s as %s", vals[0], port, vals[2],
             ci->user ? ci->user : "(default)");
    /* expand_dbname=0: dbname is a name, never a connection string */
    q->conn = PQconnectdbParams(keys, vals, 0);
    if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
        const char *m = q->conn ? PQerrorMessage(q->conn) : "out of memory";
        size_t n = strlen(m);
        while (n > 0 && m[n - 1] == '\n') n--;
        snprintf(err, errcap, "cannot connect to %s: %.*s", q->where, (int)n, m);
        pgq_close(q);
        return NULL;
    }
    PQsetNoticeProcessor(q->conn, notice_to_log, NULL);

    /* Session limits, through parameters like every other value. */
    char st[16], lt[16];
    int stm = ci->statement_timeout_ms == 0 ? 60000 : ci->statement_timeout_ms;
    int ltm = ci->lock_timeout_ms == 0 ? 10000 : ci->lock_timeout_ms;
    fmt_int(st, sizeof st, stm);
    fmt_int(lt, sizeof lt, ltm);
    if (stm > 0) {
        const char *p[] = {"statement_timeout", st};
        if (!pgq_cmd(q, "SELECT set_config($1, $2, false)", 2, p)) goto fail;
    }
    if (ltm > 0) {
        const char *p[] = {"lock_timeout", lt};
        if (!pgq_cmd(q, "SELECT set_config($1, $2, false)", 2, p)) goto fail;
    }
    return q;
fail:
    snprintf(err, errcap, "%s: setting session limits: %s", q->where, q->err);
    pgq_close(q);
    return NULL;
}

void pgq_close(pgq *q)
{
    if (!q) return;
    if (q->conn) PQfinish(q->conn);
    fc_wipe(q, sizeof *q);
    free(q);
}

bool pgq_conninfo_append(dbuf *out, const char *key, const char *value)
{
    if (out->len > 0 && !dbuf_appends(out, " ")) return false;
    if (!dbuf_appends(out, key) || !dbuf_appends(out, "='")) return false;
    for (const char *p = value; *p; p++) {
        if ((*p == '\\' || *p == '\'') && !dbuf_append(out, "\\", 1)) return false;
        if (!dbuf_append(out, p, 1)) return false;
    }
    return dbuf_appends(out, "'");
}

bool pgq_conninfo_string(const pgq_conninfo *ci, dbuf *out)
{
    char port[16];
    fmt_int(port, sizeof port, ci->port ? ci->port : 5432);
    bool ok = pgq_conninfo_append(out, "host", ci->host ? ci->host : "127.0.0.1") &&
              pgq_conninfo_append(out, "port", port) &&
              pgq_conninfo_append(out, "dbname", ci->dbname ? ci->dbname : "postgres") &&
              (!ci->user || pgq_conninfo_append(out, "user", ci->user)) &&
              (!ci->password || pgq_conninfo_append(out, "password", ci->password)) &&
              /* the server opens this connection: no file of ours (sslrootcert) can
               * reach it, and a mode that verifies against one becomes require */
              pgq_conninfo_append(out, "sslmode", pgq_server_sslmode(ci->sslmode)) &&
              pgq_conninfo_append(out, "application_name",
                                  ci->application_name ? ci->application_name : "fleetcrypt");
    return ok;
}

static void take_error(pgq *q, PGresult *r, const char *sql)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (!msg) msg = PQerrorMessage(q->conn);
    fc_strlcpy(q->sqlstate, state ? state : "", sizeof q->sqlstate);
    /* first line of the statement, so the error says which query failed */
    size_t n = 0;
    while (sql && sql[n] && sql[n] != '\n' && n < 80) n++;
    size_t ml = strlen(msg);
    while (ml > 0 && msg[ml - 1] == '\n') ml--;
    snprintf(q->err, sizeof q->err, "SQLSTATE %s: %.*s%s%s (%s; query: %.*s)",
             state ? state : "?????", (int)ml, msg, detail ? " DETAIL: " : "",
             detail ? detail : "", q->where, (int)n, sql ? sql : "");
}

void pgq_set_answer_by(pgq *q, int64_t mono_ms)
{
    q->answer_by = mono_ms > 0 ? mono_ms : 0;
}

/* The results of the statement sent last, with q->answer_by when set:
 * the last result, or NULL with the connection closed when the server has
 * not answered in time (*late). */
static PGresult *collect(pgq *q, bool *late)
{
    *late = false;
    PGresult *last = NULL;
    for (;;) {
        while (q->answer_by > 0 && PQisBusy(q->conn)) {
            int64_t left = q->answer_by - fc_mono_ms();
            struct pollfd pf = {.fd = PQsocket(q->conn), .events = POLLIN};
            int n = left > 0 ? poll(&pf, 1, left > 1000 ? 1000 : (int)left) : 0;
            if (n == 0 && left <= 1000) {
                if (fc_mono_ms() < q->answer_by) continue;
                PQclear(last);
                /* no PQcancel: it connects to the same silent server and
                 * blocks; closing is what frees the caller */
                PQfinish(q->conn);
                q->conn = NULL;
                *late = true;
                return NULL;
            }
            if (n < 0 && errno != EINTR) break;
            if (n > 0 && !PQconsumeInput(q->conn)) break;
        }
        PGresult *r = PQgetResult(q->conn);
        if (!r) break;
        PQclear(last);
        last = r;
    }
    return last;
}

/* The outcome of collect() as pgq_exec returns it. */
static PGresult *finish(pgq *q, const char *sql, PGresult *r, bool late)
{
    if (late) {
        size_t n = 0;
        while (sql[n] && sql[n] != '\n' && n < 80) n++;
        fc_strlcpy(q->sqlstate, "57014", sizeof q->sqlstate);
        snprintf(q->err, sizeof q->err, "SQLSTATE 57014: no answer from the server in time: connection closed "
                 "(%s; query: %.*s)", q->where, (int)n, sql);
        return NULL;
    }
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    take_error(q, r, sql);
    PQclear(r);
    return NULL;
}

PGresult *pgq_exec(pgq *q, const char *sql, int nparams, const char *const *params)
{
    q->sqlstate[0] = 0;
    q->err[0] = 0;
    bool late = false;
    PGresult *r = NULL;
    if (q->answer_by > 0) {
        if (q->conn && PQsendQueryParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0))
            r = collect(q, &late);
    } else {
        r = PQexecParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    }
    return finish(q, sql, r, late);
}

bool pgq_send(pgq *q, const char *sql, int nparams, const char *const *params)
{
    q->sqlstate[0] = 0;
    q->err[0] = 0;
    if (q->conn && PQsendQueryParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0)) return true;
    take_error(q, NULL, sql);
    return false;
}

PGresult *pgq_recv(pgq *q, const char *sql)
{
    bool late = false;
    PGresult *r = q->conn ? collect(q, &late) : NULL;
    return finish(q, sql, r, late);
}

PGresult *pgq_result_of(pgq *q, PGresult *r, const char *sql)
{
    return finish(q, sql, r, false);
}

bool pgq_cmd(pgq *q, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = pgq_exec(q, sql, nparams, params);
    PQclear(r);
    return r != NULL;
}

bool pgq_scalar(pgq *q, const char *sql, int nparams, const char *const *params, char *out,
                size_t cap, bool *isnull)
{
    PGresult *r = pgq_exec(q, sql, nparams, params);
    if (!r) return false;
    if (PQntuples(r) < 1 || PQnfields(r) < 1) {
        pgq_set_error(q, "no row returned (%s)", q->where);
        PQclear(r);
        return false;
    }
    bool null = PQgetisnull(r, 0, 0);
    if (isnull) *isnull = null;
    fc_strlcpy(out, null ? "" : PQgetvalue(r, 0, 0), cap);
    PQclear(r);
    return true;
}

const char *pgq_sql(const char *name)
{
    const char *s = fc_sql_get(name);
    assert(s != NULL && "sql/<name>.sql is embedded at build time");
    return s;
}

bool pgq_script(pgq *q, const char *sql)
{
    q->sqlstate[0] = 0;
    PGresult *r = PQexec(q->conn, sql);
    bool ok = true;
    if (!r) {
        take_error(q, NULL, sql);
        return false;
    }
    /* PQexec returns the last result; errors abort the script */
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        take_error(q, r, sql);
        ok = false;
    }
    PQclear(r);
    return ok;
}

char *pgq_ident(pgq *q, const char *s)
{
    char *r = PQescapeIdentifier(q->conn, s, strlen(s));
    if (!r) pgq_set_error(q, "cannot quote identifier: %s", PQerrorMessage(q->conn));
    return r;
}

char *pgq_literal(pgq *q, const char *s)
{
    char *r = PQescapeLiteral(q->conn, s, strlen(s));
    if (!r) pgq_set_error(q, "cannot quote literal: %s", PQerrorMessage(q->conn));
    return r;
}

char *pgq_format(pgq *q, const char *tmpl, int nargs, const char *const *args)
{
    dbuf b;
    dbuf_init(&b, 16u << 20);
    int used = 0;
    for (const char *p = tmpl; *p; p++) {
        if (*p != '%') {
            if (!dbuf_append(&b, p, 1)) goto oom;
            continue;
        }
        p++;
        if (*p == '%') {
            if (!dbuf_append(&b, "%", 1)) goto oom;
            continue;
        }
        if ((*p != 'I' && *p != 'L' && *p != 'R') || used >= nargs || !args[used]) {
            pgq_set_error(q, "pgq_format: bad template or argument %d in \"%.60s\"", used, tmpl);
            dbuf_free_secure(&b);
            return NULL;
        }
        if (*p == 'R') { /* a fragment the caller built from pgq_ident/pgq_literal */
            if (!dbuf_appends(&b, args[used++])) goto oom;
            continue;
        }
        char *quoted = *p == 'I' ? pgq_ident(q, args[used]) : pgq_literal(q, args[used]);
        used++;
        if (!quoted) {
            dbuf_free_secure(&b);
            return NULL;
        }
        bool ok = dbuf_appends(&b, quoted);
        fc_wipe(quoted, strlen(quoted));
        PQfreemem(quoted);
        if (!ok) goto oom;
    }
    if (used != nargs) {
        pgq_set_error(q, "pgq_format: %d arguments given, %d used", nargs, used);
        dbuf_free_secure(&b);
        return NULL;
    }
    if (!b.data && !dbuf_appends(&b, "")) goto oom;
    return dbuf_take(&b);
oom:
    pgq_set_error(q, "out of memory building a statement");
    dbuf_free_secure(&b);
    return NULL;
}

void pgq_seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

bool pgq_tmpl_script(pgq *q, const char *name, int nargs, const char *const *args)
{
    char *sql = pgq_format(q, pgq_sql(name), nargs, args);
    if (!sql) return false;
    bool ok = pgq_script(q, sql);
    fc_wipe(sql, strlen(sql));
    free(sql);
    return ok;
}

char *pgq_tmpl_send(pgq *q, const char *name, int nargs, const char *const *args, int nparams,
                    const char *const *params)
{
    char *sql = pgq_format(q, pgq_sql(name), nargs, args);
    if (sql && !pgq_send(q, sql, nparams, params)) {
        free(sql);
        return NULL;
    }
    return sql;
}

PGresult *pgq_tmpl_exec(pgq *q, const char *name, int nargs, const char *const *args, int nparams,
                        const char *const *params)
{
    char *sql = pgq_format(q, pgq_sql(name), nargs, args);
    if (!sql) return NULL;
    PGresult *r = pgq_exec(q, sql, nparams, params);
    free(sql);
    return r;
}

int pgq_server_version(pgq *q)
{
    return PQserverVersion(q->conn);
}

int pgq_backend_pid(pgq *q)
{
    return PQbackendPID(q->conn);
}
