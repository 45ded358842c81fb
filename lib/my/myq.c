/* myq — see myq.h. */
#include "myq.h"

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "dbuf.h"
#include "util.h"

struct myq {
    MYSQL *m;
    unsigned last;
};

const char *myq_default_ca(void) { return cfg_env_str(CFG_RDS_CA_BUNDLE); }

static bool fail(myq *q, char *err, size_t cap, const char *what)
{
    q->last = mysql_errno(q->m);
    if (err && cap) snprintf(err, cap, "%s: (%u) %s", what, q->last, mysql_error(q->m));
    return false;
}

myq *myq_connect(const myq_opts *o, char *err, size_t cap)
{
    myq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->m = mysql_init(NULL);
    if (!q->m) {
        free(q);
        if (err && cap) snprintf(err, cap, "mysql_init failed");
        return NULL;
    }
    unsigned int t = o->timeout_s > 0 ? (unsigned)o->timeout_s : 10;
    mysql_optionsv(q->m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    mysql_optionsv(q->m, MYSQL_OPT_READ_TIMEOUT, &t);
    mysql_optionsv(q->m, MYSQL_OPT_WRITE_TIMEOUT, &t);
    mysql_optionsv(q->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char *ca = o->ca_file ? o->ca_file : myq_default_ca();
    my_bool on = 1;
    mysql_optionsv(q->m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (ca && *ca) {
        mysql_optionsv(q->m, MYSQL_OPT_SSL_CA, ca);
        mysql_optionsv(q->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    } else {
        my_bool off = 0;
        mysql_optionsv(q->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
    }
    if (!mysql_real_connect(q->m, o->host, o->user, o->password, o->db, (unsigned)o->port, NULL,
                            CLIENT_MULTI_RESULTS)) {
        fail(q, err, cap, "connect");
        if (o->code_out) *o->code_out = q->last;
        mysql_close(q->m);
        free(q);
        return NULL;
    }
    return q;
}

void myq_close(myq *q)
{
    if (!q) return;
    if (q->m) mysql_close(q->m);
    free(q);
}

unsigned myq_errno(const myq *q) { return q ? q->last : 0; }

bool myq_transient(unsigned code)
{
    switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_UNKNOWN_HOST:
    case ER_CON_COUNT_ERROR:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_QUERY_INTERRUPTED:
        return true;
    default:
        return false;
    }
}

static void drain(myq *q)
{
    do {
        MYSQL_RES *r = mysql_store_result(q->m);
        if (r) mysql_free_result(r);
    } while (mysql_next_result(q->m) == 0);
}

bool myq_exec(myq *q, const char *sql, char *err, size_t cap)
{
    q->last = 0;
    if (mysql_real_query(q->m, sql, (unsigned long)strlen(sql))) return fail(q, err, cap, "query");
    int st;
    do {
        MYSQL_RES *r = mysql_store_result(q->m);
        if (r) mysql_free_result(r);
        else if (mysql_field_count(q->m) != 0) return fail(q, err, cap, "result");
        st = mysql_next_result(q->m);
        if (st > 0) return fail(q, err, cap, "next result");
    } while (st == 0);
    return true;
}

void myq_res_free(myq_res *r)
{
    if (!r) return;
    for (int i = 0; i < r->ncols; i++) free(r->names[i]);
    for (int i = 0; i < r->nrows * r->ncols; i++) free(r->cells[i]);
    free(r->names);
    free(r->cells);
    free(r);
}

myq_res *myq_query(myq *q, const char *sql, char *err, size_t cap)
{
    q->last = 0;
    if (mysql_real_query(q->m, sql, (unsigned long)strlen(sql))) return fail(q, err, cap, "query"), NULL;
    MYSQL_RES *mr = mysql_store_result(q->m);
    if (!mr && mysql_field_count(q->m) != 0) return fail(q, err, cap, "result"), NULL;
    myq_res *r = calloc(1, sizeof *r);
    if (!r) {
        if (mr) mysql_free_result(mr);
        drain(q);
        return NULL;
    }
    if (mr) {
        r->ncols = (int)mysql_num_fields(mr);
        r->nrows = (int)mysql_num_rows(mr);
        MYSQL_FIELD *f = mysql_fetch_fields(mr);
        r->names = calloc((size_t)r->ncols + 1, sizeof *r->names);
        r->cells = calloc((size_t)r->nrows * (size_t)r->ncols + 1, sizeof *r->cells);
        if (!r->names || !r->cells) {
            mysql_free_result(mr);
            drain(q);
            r->nrows = r->ncols = 0;
            myq_res_free(r);
            return NULL;
        }
        for (int c = 0; c < r->ncols; c++) r->names[c] = strdup(f[c].name);
        MYSQL_ROW row;
        int i = 0;
        while ((row = mysql_fetch_row(mr)) && i < r->nrows) {
            unsigned long *len = mysql_fetch_lengths(mr);
            for (int c = 0; c < r->ncols; c++) {
                if (!row[c]) continue;
                char *v = malloc(len[c] + 1);
                if (v) {
                    memcpy(v, row[c], len[c]);
                    v[len[c]] = 0;
                }
                r->cells[i * r->ncols + c] = v;
            }
            i++;
        }
        mysql_free_result(mr);
    }
    while (mysql_next_result(q->m) == 0) {
        MYSQL_RES *x = mysql_store_result(q->m);
        if (x) mysql_free_result(x);
    }
    return r;
}

const char *myq_cell(const myq_res *r, int row, int col)
{
    if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols) return NULL;
    return r->cells[row * r->ncols + col];
}

const char *myq_get(const myq_res *r, int row, const char *names)
{
    if (!r) return NULL;
    const char *p = names;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        for (int c = 0; c < r->ncols; c++)
            if (strlen(r->names[c]) == n && !strncasecmp(r->names[c], p, n)) return myq_cell(r, row, c);
        if (!bar) break;
        p = bar + 1;
    }
    return NULL;
}

bool myq_each(myq *q, const char *sql, myq_row_fn fn, void *ud, char *err, size_t cap)
{
    q->last = 0;
    if (mysql_real_query(q->m, sql, (unsigned long)strlen(sql))) return fail(q, err, cap, "query");
    MYSQL_RES *mr = mysql_use_result(q->m);
    if (!mr) return fail(q, err, cap, "result");
    int n = (int)mysql_num_fields(mr);
    MYSQL_ROW row;
    bool go = true;
    while ((row = mysql_fetch_row(mr))) {
        if (go && !fn(ud, n, row, mysql_fetch_lengths(mr))) go = false;
    }
    bool ok = mysql_errno(q->m) == 0;
    if (!ok) fail(q, err, cap, "fetch");
    mysql_free_result(mr);
    drain(q);
    return ok;
}

char *myq_format(myq *q, const char *tmpl, int nargs, const char *const *args)
{
    dbuf b;
    dbuf_init(&b, (size_t)1 << 24);
    int k = 0;
    bool ok = true;
    for (const char *p = tmpl; *p && ok; p++) {
        if (*p != '%') {
            ok = dbuf_append(&b, p, 1);
            continue;
        }
        char t = p[1];
        if (t == '%') {
            ok = dbuf_appends(&b, "%");
            p++;
            continue;
        }
        if ((t != 'I' && t != 'L' && t != 'R') || k >= nargs || !args[k]) {
            ok = false;
            break;
        }
        const char *a = args[k++];
        p++;
        size_t n = strlen(a);
        if (t == 'R') {
            ok = dbuf_appends(&b, a);
        } else if (t == 'I') {
            ok = dbuf_appends(&b, "`");
            for (const char *s = a; *s && ok; s++) {
                if (*s == '`') ok = dbuf_appends(&b, "`");
                if (ok) ok = dbuf_append(&b, s, 1);
            }
            if (ok) ok = dbuf_appends(&b, "`");
        } else {
            char *e = malloc(2 * n + 1);
            if (!e) {
                ok = false;
                break;
            }
            unsigned long m = mysql_real_escape_string(q->m, e, a, (unsigned long)n);
            if (m == (unsigned long)-1) {
                free(e);
                ok = false;
                break;
            }
            ok = dbuf_appends(&b, "'") && dbuf_append(&b, e, m) && dbuf_appends(&b, "'");
            fc_wipe(e, 2 * n + 1);
            free(e);
        }
    }
    if (!ok || k != nargs) {
        dbuf_free_secure(&b);
        return NULL;
    }
    if (!b.data && !dbuf_appends(&b, "")) return NULL;
    return dbuf_take(&b);
}

void myq_free_sql(char *sql)
{
    if (!sql) return;
    fc_wipe(sql, strlen(sql));
    free(sql);
}

bool myq_execf(myq *q, char *err, size_t cap, const char *tmpl, int nargs, const char *const *args)
{
    char *s = myq_format(q, tmpl, nargs, args);
    if (!s) {
        if (err && cap) snprintf(err, cap, "cannot build the statement");
        return false;
    }
    bool ok = myq_exec(q, s, err, cap);
    myq_free_sql(s);
    return ok;
}

myq_res *myq_queryf(myq *q, char *err, size_t cap, const char *tmpl, int nargs, const char *const *args)
{
    char *s = myq_format(q, tmpl, nargs, args);
    if (!s) {
        if (err && cap) snprintf(err, cap, "cannot build the statement");
        return NULL;
    }
    myq_res *r = myq_query(q, s, err, cap);
    myq_free_sql(s);
    return r;
}

unsigned long myq_server_version(myq *q) { return mysql_get_server_version(q->m); }

bool myq_is_mariadb(myq *q)
{
    const char *v = mysql_get_server_info(q->m);
    return v && strstr(v, "MariaDB") != NULL;
}

#ifdef FC_UNIT_TESTING
myq *myq_unconnected(void)
{
    myq *q = calloc(1, sizeof *q);
    if (q && !(q->m = mysql_init(NULL))) {
        free(q);
        return NULL;
    }
    return q;
}
#endif
