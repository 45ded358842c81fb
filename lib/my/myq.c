/* myq — see myq.h. */
#include "myq.h"

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cfg.h"
#include "dbuf.h"
#include "util.h"

struct myq {
    MYSQL *m;
    unsigned last;
    int64_t answer_by; /* fc_mono_ms(); 0: none (see myq_set_answer_by) */
    bool dead;         /* closed by the bound: every later call fails at once */
    bool no_answer;    /* the last error was the bound's */
};

/* ---- the client-side bound: Connector/C's non-blocking API ----
 * Every call that waits on the server runs as _start/_cont, polling the
 * socket until q->answer_by. Past it the socket is shut down (the server
 * may be stopped: nothing is sent to it, nothing waited for), the pending
 * call finishes on the closed socket with an error, and the handle is dead.
 * A TCP/TLS library timeout inside the call (MYSQL_WAIT_TIMEOUT) is honoured
 * as well. */

/* Wait for what status asks; the ready flags for _cont, or -1 when the
 * bound passed (the socket is then shut down). */
static int nb_wait(myq *q, int status)
{
    int64_t lib_until = (status & MYSQL_WAIT_TIMEOUT) ? fc_mono_ms() + (int64_t)mysql_get_timeout_value_ms(q->m) : 0;
    for (;;) {
        int64_t now = fc_mono_ms();
        if (now >= q->answer_by) {
            shutdown(mysql_get_socket(q->m), SHUT_RDWR);
            q->dead = true;
            return -1;
        }
        if (lib_until && now >= lib_until) return MYSQL_WAIT_TIMEOUT;
        int64_t left = q->answer_by - now;
        if (lib_until && lib_until - now < left) left = lib_until - now;
        struct pollfd pf = {.fd = mysql_get_socket(q->m), .events = 0};
        if (status & MYSQL_WAIT_READ) pf.events |= POLLIN;
        if (status & MYSQL_WAIT_WRITE) pf.events |= POLLOUT;
        if (status & MYSQL_WAIT_EXCEPT) pf.events |= POLLPRI;
        int n = poll(&pf, 1, left > 1000 ? 1000 : (int)left);
        if (n < 0 && errno != EINTR) return status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
        if (n <= 0) continue;
        int r = 0;
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) r |= MYSQL_WAIT_READ;
        if (pf.revents & (POLLOUT | POLLERR)) r |= MYSQL_WAIT_WRITE;
        if (pf.revents & POLLPRI) r |= MYSQL_WAIT_EXCEPT;
        return r ? r : status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
    }
}

/* The ready flags for the pending call's _cont: waited for while the
 * bound holds; once it has passed, the call runs to its end on the shut
 * socket (reads see EOF at once), at most NB_FINISH more turns. */
#define NB_FINISH 100
static int nb_ready(myq *q, int status, int *turns)
{
    if (!q->dead) {
        int r = nb_wait(q, status);
        if (r >= 0) return r;
    }
    if (++*turns > NB_FINISH) return -1;
    return MYSQL_WAIT_READ | MYSQL_WAIT_WRITE;
}

/* st: the status a _start returned; CONT(ready) the matching _cont. */
#define NB_RUN(q, st, CONT)                                                                                        \
    do {                                                                                                           \
        int turns_ = 0;                                                                                            \
        while (st) {                                                                                               \
            int ready = nb_ready((q), (st), &turns_);                                                              \
            if (ready < 0) break;                                                                                  \
            (st) = (CONT);                                                                                         \
        }                                                                                                          \
    } while (0)

static bool bounded(const myq *q) { return q->answer_by > 0; }

static int c_real_query(myq *q, const char *sql, unsigned long len)
{
    if (!bounded(q)) return mysql_real_query(q->m, sql, len);
    int ret = 1;
    int st = mysql_real_query_start(&ret, q->m, sql, len);
    NB_RUN(q, st, mysql_real_query_cont(&ret, q->m, ready));
    return q->dead ? 1 : ret;
}

static MYSQL_RES *c_store_result(myq *q)
{
    if (!bounded(q)) return mysql_store_result(q->m);
    MYSQL_RES *ret = NULL;
    int st = mysql_store_result_start(&ret, q->m);
    NB_RUN(q, st, mysql_store_result_cont(&ret, q->m, ready));
    if (q->dead && ret) {
        mysql_free_result(ret);
        ret = NULL;
    }
    return ret;
}

static int c_next_result(myq *q)
{
    if (q->dead) return 1;
    if (!bounded(q)) return mysql_next_result(q->m);
    int ret = 1;
    int st = mysql_next_result_start(&ret, q->m);
    NB_RUN(q, st, mysql_next_result_cont(&ret, q->m, ready));
    return q->dead ? 1 : ret;
}

static MYSQL_ROW c_fetch_row(myq *q, MYSQL_RES *r)
{
    if (q->dead) return NULL;
    if (!bounded(q)) return mysql_fetch_row(r);
    MYSQL_ROW ret = NULL;
    int st = mysql_fetch_row_start(&ret, r);
    NB_RUN(q, st, mysql_fetch_row_cont(&ret, r, ready));
    return q->dead ? NULL : ret;
}

static void c_free_result(myq *q, MYSQL_RES *r)
{
    if (!bounded(q) || q->dead) {
        mysql_free_result(r);
        return;
    }
    int st = mysql_free_result_start(r);
    NB_RUN(q, st, mysql_free_result_cont(r, ready));
}

void myq_set_answer_by(myq *q, int64_t mono_ms)
{
    if (q) q->answer_by = mono_ms > 0 ? mono_ms : 0;
}

bool myq_dead(const myq *q) { return q && q->dead; }
bool myq_no_answer(const myq *q) { return q && q->no_answer; }

/* TCP keepalives: a peer that vanished (host gone, packets dropped) is
 * noticed by the kernel within about a minute instead of TCP's hours. */
static void keepalive(MYSQL *m)
{
    int fd = (int)mysql_get_socket(m);
    if (fd < 0) return;
    int on = 1, idle = 30, intvl = 10, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

const char *myq_default_ca(void) { return cfg_env_str(CFG_RDS_CA_BUNDLE); }

static bool fail(myq *q, char *err, size_t cap, const char *what)
{
    if (q->dead) {
        /* the bound's: lost connection (transient), said as such */
        q->last = CR_SERVER_LOST;
        q->no_answer = true;
        if (err && cap)
            snprintf(err, cap, "%s: (%u) no answer from the server in time: connection closed", what, q->last);
        return false;
    }
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
    /* the bound (myq_set_answer_by) runs on the non-blocking API, which the
     * handle must have from its connect on; blocking calls work the same */
    mysql_optionsv(q->m, MYSQL_OPT_NONBLOCK, 0);
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
    MYSQL *ok = NULL;
    if (o->answer_by > 0) {
        /* the connect itself bounded too: a server that accepts and then
         * says nothing (stopped) must not hold the caller */
        q->answer_by = o->answer_by;
        int st = mysql_real_connect_start(&ok, q->m, o->host, o->user, o->password, o->db, (unsigned)o->port, NULL,
                                          CLIENT_MULTI_RESULTS);
        NB_RUN(q, st, mysql_real_connect_cont(&ok, q->m, ready));
        if (q->dead) ok = NULL;
    } else {
        ok = mysql_real_connect(q->m, o->host, o->user, o->password, o->db, (unsigned)o->port, NULL,
                                CLIENT_MULTI_RESULTS);
    }
    if (!ok) {
        fail(q, err, cap, "connect");
        if (o->code_out) *o->code_out = q->last;
        mysql_close(q->m);
        free(q);
        return NULL;
    }
    keepalive(q->m);
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
        MYSQL_RES *r = c_store_result(q);
        if (r) mysql_free_result(r);
    } while (c_next_result(q) == 0);
}

/* Every call starts here: a handle the bound closed fails at once. */
static bool begin(myq *q, char *err, size_t cap)
{
    q->last = 0;
    q->no_answer = false;
    if (q->dead) return fail(q, err, cap, "query");
    return true;
}

bool myq_exec(myq *q, const char *sql, char *err, size_t cap)
{
    if (!begin(q, err, cap)) return false;
    if (c_real_query(q, sql, (unsigned long)strlen(sql))) return fail(q, err, cap, "query");
    int st;
    do {
        MYSQL_RES *r = c_store_result(q);
        if (r) mysql_free_result(r);
        else if (q->dead || mysql_field_count(q->m) != 0) return fail(q, err, cap, "result");
        st = c_next_result(q);
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
    if (!begin(q, err, cap)) return NULL;
    if (c_real_query(q, sql, (unsigned long)strlen(sql))) return fail(q, err, cap, "query"), NULL;
    MYSQL_RES *mr = c_store_result(q);
    if (!mr && (q->dead || mysql_field_count(q->m) != 0)) return fail(q, err, cap, "result"), NULL;
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
    while (c_next_result(q) == 0) {
        MYSQL_RES *x = c_store_result(q);
        if (x) mysql_free_result(x);
    }
    if (q->dead) {
        /* the bound passed while the rest was read: not a whole answer */
        myq_res_free(r);
        return fail(q, err, cap, "next result"), NULL;
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
    if (!begin(q, err, cap)) return false;
    if (c_real_query(q, sql, (unsigned long)strlen(sql))) return fail(q, err, cap, "query");
    MYSQL_RES *mr = mysql_use_result(q->m);
    if (!mr) return fail(q, err, cap, "result");
    int n = (int)mysql_num_fields(mr);
    MYSQL_ROW row;
    bool go = true;
    while ((row = c_fetch_row(q, mr))) {
        if (!fn(ud, n, row, mysql_fetch_lengths(mr))) {
            go = false;
            break;
        }
    }
    if (!go) {
        /* the caller stopped early (a budget): the rest of a large table is
         * not read to the end; the connection is given up instead */
        shutdown(mysql_get_socket(q->m), SHUT_RDWR);
        q->dead = true;
        mysql_free_result(mr);
        return true;
    }
    bool ok = !q->dead && mysql_errno(q->m) == 0;
    if (!ok) fail(q, err, cap, "fetch");
    c_free_result(q, mr);
    if (!q->dead) drain(q);
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
