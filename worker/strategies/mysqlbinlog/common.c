/* common — mb_common.h: the session (credentials, connections), the
 * source fence, replication and binlog status, facts. */
#include "mb_common.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

void mb_reason(step_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
}

const char *mb_fact(step_ctx *ctx, const char *name)
{
    const char *v = step_ctx_fact(ctx, name);
    return v ? v : "";
}

int64_t mb_fact_i64(step_ctx *ctx, const char *name, int64_t dflt)
{
    const char *v = step_ctx_fact(ctx, name);
    if (!v || !*v) return dflt;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    return end && *end == 0 ? (int64_t)x : dflt;
}

/* HMAC-SHA256(master password, "fleetcrypt/mysql-binlog/<purpose>/<campaign>/<instance>"). */
static bool derive(const char *secret, const char *purpose, step_ctx *ctx, unsigned char mac[32])
{
    char msg[400];
    int n = snprintf(msg, sizeof msg, "fleetcrypt/mysql-binlog/%s/%s/%s", purpose, step_ctx_campaign(ctx),
                     step_ctx_instance(ctx));
    unsigned int len = 0;
    if (!secret || !*secret || n < 0 || (size_t)n >= sizeof msg) return false;
    return HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n, mac, &len) &&
           len == 32;
}

void mb_session_init(mb_session *s, step_ctx *ctx, step_result *res)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->res = res;
    /* the user name does not need the secret: a hash of campaign/instance */
    unsigned char mac[32];
    if (derive("fleetcrypt-mysql-binlog-user", "user", ctx, mac)) {
        char hex[65];
        fc_hex(mac, 8, hex);
        snprintf(s->repl_user, sizeof s->repl_user, "fc_repl_%s", hex);
    }
}

void mb_session_finish(mb_session *s)
{
    for (int i = 0; i < MB_NSIDES; i++) {
        myq_close(s->conn[i]);
        s->conn[i] = NULL;
    }
    db_credentials_free(s->cred);
    s->cred = NULL;
    fc_wipe(s->repl_pw, sizeof s->repl_pw);
}

bool mb_ensure_creds(mb_session *s, step_rc *rc)
{
    if (s->cred) return true;
    dbsecret_ref ref;
    char err[512];
    if (!dbsecret_parse(step_ctx_opt(s->ctx, "db-secret"), &ref, err, sizeof err)) {
        MB_REASON(s->res, "db secret: %s", err);
        *rc = STEP_FAIL;
        return false;
    }
    aws_client *c = ref.kind == DBSECRET_FILE ? NULL : step_ctx_aws(s->ctx);
    if (!dbsecret_resolve(c, &ref, step_ctx_instance(s->ctx), mb_fact(s->ctx, "master_secret_arn"), &s->cred, err,
                          sizeof err)) {
        MB_REASON(s->res, "database credentials: %s", err);
        *rc = STEP_RETRY;
        return false;
    }
    unsigned char mac[32];
    if (!derive(s->cred->password, "repl", s->ctx, mac)) {
        MB_REASON(s->res, "cannot derive the replication password (empty master password?)");
        *rc = STEP_FAIL;
        return false;
    }
    char hex[65];
    fc_hex(mac, 16, hex);
    /* mixed case, digit and punctuation: passes validate_password's MEDIUM policy */
    snprintf(s->repl_pw, sizeof s->repl_pw, "Fc9-%s", hex);
    fc_wipe(hex, sizeof hex);
    fc_wipe(mac, sizeof mac);
    return true;
}

static const char *const side_fact[MB_NSIDES][2] = {
    {"address", "port"},
    {"replica_address", "replica_port"},
    {"target_address", "target_port"},
    {"retired_address", "retired_port"},
};
static const char *const side_name[MB_NSIDES] = {"source", "replica", "target", "retired source"};

void mb_session_answer_by(mb_session *s, int64_t mono_ms)
{
    s->answer_by = mono_ms > 0 ? mono_ms : 0;
    for (int i = 0; i < MB_NSIDES; i++)
        if (s->conn[i]) myq_set_answer_by(s->conn[i], s->answer_by);
}

myq *mb_conn(mb_session *s, mb_side side, step_rc *rc)
{
    if (s->conn[side] && myq_dead(s->conn[side])) mb_conn_drop(s, side); /* closed by the bound: again */
    if (s->conn[side]) return s->conn[side];
    if (!mb_ensure_creds(s, rc)) return NULL;
    const char *host = mb_fact(s->ctx, side_fact[side][0]);
    int port = (int)mb_fact_i64(s->ctx, side_fact[side][1], 0);
    if (!*host || port <= 0) {
        MB_REASON(s->res, "no endpoint known for the %s", side_name[side]);
        *rc = STEP_FAIL;
        return NULL;
    }
    char err[400];
    unsigned code = 0;
    myq_opts o = {.host = host, .port = port, .user = s->cred->username, .password = s->cred->password,
                  .timeout_s = 10, .code_out = &code, .answer_by = s->answer_by};
    myq *q = myq_connect(&o, err, sizeof err);
    if (!q) {
        MB_REASON(s->res, "connecting to the %s (%s:%d): %s", side_name[side], host, port, err);
        /* access denied on a side we made (target/replica) right after it came up is transient too */
        *rc = STEP_RETRY;
        return NULL;
    }
    /* the server behind the name is the side's own: after a rename an
     * endpoint name may reach the other server for a while (DNS) */
    const char *idf = side == MB_TARGET ? "target_server_id" : side == MB_REPLICA ? NULL : "source_server_id";
    if (idf) {
        myq_res *r = myq_query(q, "SELECT @@server_id", err, sizeof err);
        if (!r || !myq_cell(r, 0, 0)) {
            myq_res_free(r);
            *rc = mb_sql_fail(s->res, q, "reading the server id", err);
            myq_close(q);
            return NULL;
        }
        char sid[32];
        fc_strlcpy(sid, myq_cell(r, 0, 0), sizeof sid);
        myq_res_free(r);
        const char *want = mb_fact(s->ctx, idf);
        if (*want && strcmp(want, sid) != 0) {
            myq_close(q);
            s->res->wait_ms = 1000;
            MB_REASON(s->res, "%s:%d still reaches another server (server_id %s, the %s is %s): waiting for the "
                              "name to move", host, port, sid, side_name[side], want);
            *rc = STEP_WAIT;
            return NULL;
        }
        if (!*want && side != MB_RETIRED) step_ctx_set_fact(s->ctx, idf, sid);
    }
    myq_set_answer_by(q, s->answer_by);
    s->conn[side] = q;
    return q;
}

void mb_conn_drop(mb_session *s, mb_side side)
{
    myq_close(s->conn[side]);
    s->conn[side] = NULL;
}

step_rc mb_sql_fail(step_result *res, myq *q, const char *what, const char *err)
{
    MB_REASON(res, "%s: %s", what, err);
    return myq_transient(myq_errno(q)) ? STEP_RETRY : STEP_FAIL;
}

step_rc mb_sql_fail_secret(step_result *res, myq *q, const char *what, const char *err, const char *secret)
{
    if (secret && *secret && strstr(err, secret)) {
        MB_REASON(res, "%s: error %u (message withheld: it quotes a password)", what, myq_errno(q));
        return myq_transient(myq_errno(q)) ? STEP_RETRY : STEP_FAIL;
    }
    return mb_sql_fail(res, q, what, err);
}

step_rc mb_fence(mb_session *s)
{
    step_rc rc = STEP_OK;
    myq *q = mb_conn(s, MB_SOURCE, &rc);
    if (!q) return rc;
    if (!step_ctx_lease_ok(s->ctx)) return LEASE_LOST(s->res);
    const char *n = step_ctx_fence(s->ctx);
    if (!n || !*n) n = "0";
    char err[400];
    const char *a1[] = {MB_SCHEMA};
    const char *a2[] = {MB_SCHEMA};
    const char *a3[] = {MB_SCHEMA, n};
    if (!myq_execf(q, err, sizeof err, "CREATE DATABASE IF NOT EXISTS %I", 1, a1) ||
        !myq_execf(q, err, sizeof err,
                   "CREATE TABLE IF NOT EXISTS %I.fence (id TINYINT PRIMARY KEY, n BIGINT UNSIGNED NOT NULL) "
                   "ENGINE=InnoDB",
                   1, a2) ||
        !myq_execf(q, err, sizeof err,
                   "INSERT INTO %I.fence (id, n) VALUES (1, %L) ON DUPLICATE KEY UPDATE n = GREATEST(n, VALUES(n))",
                   2, a3))
        return mb_sql_fail(s->res, q, "taking the fence", err);
    myq_res *r = myq_queryf(q, err, sizeof err, "SELECT n FROM %I.fence WHERE id = 1", 1, a1);
    if (!r) return mb_sql_fail(s->res, q, "reading the fence", err);
    const char *have = myq_cell(r, 0, 0);
    bool ok = have && strtoull(have, NULL, 10) == strtoull(n, NULL, 10);
    myq_res_free(r);
    if (!ok) {
        MB_REASON(s->res, "fenced out: a newer holder (fence %s) acted on the source", have ? have : "?");
        return STEP_RETRY;
    }
    return STEP_OK;
}

static bool yes(const char *v) { return v && !strcmp(v, "Yes"); }

bool mb_repl_status(myq *q, mb_repl *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    myq_res *x = myq_query(q, "SHOW REPLICA STATUS", err, cap);
    if (!x) x = myq_query(q, "SHOW SLAVE STATUS", err, cap); /* MySQL before 8.0.22 */
    if (!x) return false;
    if (x->nrows > 0) {
        r->present = true;
        const char *io = myq_get(x, 0, "Slave_IO_Running|Replica_IO_Running");
        r->io_running = yes(io);
        fc_strlcpy(r->io_state, io ? io : "", sizeof r->io_state);
        r->sql_running = yes(myq_get(x, 0, "Slave_SQL_Running|Replica_SQL_Running"));
        const char *f = myq_get(x, 0, "Relay_Master_Log_File|Relay_Source_Log_File");
        fc_strlcpy(r->exec_file, f ? f : "", sizeof r->exec_file);
        const char *p = myq_get(x, 0, "Exec_Master_Log_Pos|Exec_Source_Log_Pos");
        r->exec_pos = p ? strtoll(p, NULL, 10) : -1;
        const char *h = myq_get(x, 0, "Master_Host|Source_Host");
        fc_strlcpy(r->master_host, h ? h : "", sizeof r->master_host);
        const char *pt = myq_get(x, 0, "Master_Port|Source_Port");
        r->master_port = pt ? atoi(pt) : 0;
        const char *u = myq_get(x, 0, "Master_User|Source_User");
        fc_strlcpy(r->master_user, u ? u : "", sizeof r->master_user);
        const char *se = myq_get(x, 0, "Last_SQL_Errno"), *ie = myq_get(x, 0, "Last_IO_Errno");
        r->sql_errno = se ? atoi(se) : 0;
        r->io_errno = ie ? atoi(ie) : 0;
        const char *e = r->sql_errno ? myq_get(x, 0, "Last_SQL_Error") : myq_get(x, 0, "Last_IO_Error");
        fc_strlcpy(r->error, e ? e : "", sizeof r->error);
    }
    myq_res_free(x);
    return true;
}

bool mb_master_pos(myq *q, char *file, size_t fcap, int64_t *pos, char *err, size_t cap)
{
    myq_res *x = myq_query(q, "SHOW MASTER STATUS", err, cap);
    if (!x) x = myq_query(q, "SHOW BINARY LOG STATUS", err, cap); /* MySQL 8.4 */
    if (!x) return false;
    const char *f = myq_get(x, 0, "File"), *p = myq_get(x, 0, "Position");
    bool ok = f && *f && p;
    if (ok) {
        fc_strlcpy(file, f, fcap);
        *pos = strtoll(p, NULL, 10);
    } else {
        snprintf(err, cap, "SHOW MASTER STATUS returned no binlog position (is log_bin off?)");
    }
    myq_res_free(x);
    return ok;
}

static long long file_seq(const char *f)
{
    const char *dot = strrchr(f, '.');
    return dot ? strtoll(dot + 1, NULL, 10) : -1;
}

int mb_pos_cmp(const char *fa, int64_t pa, const char *fb, int64_t pb)
{
    long long a = file_seq(fa), b = file_seq(fb);
    if (a != b) return a < b ? -1 : 1;
    return pa < pb ? -1 : pa > pb ? 1 : 0;
}

bool mb_version_at_least(const char *v, int major, int minor, int patch)
{
    int a = 0, b = 0, c = 0;
    if (!v || sscanf(v, "%d.%d.%d", &a, &b, &c) < 2) return false;
    if (a != major) return a > major;
    if (b != minor) return b > minor;
    return c >= patch;
}

static bool source_names(step_ctx *ctx)
{
    return !strcmp(mb_fact(ctx, "engine"), "mysql") && mb_version_at_least(mb_fact(ctx, "engine_version"), 8, 0, 23);
}

const char *mb_proc_set(step_ctx *ctx)
{
    return source_names(ctx) ? "CALL mysql.rds_set_external_source(%L, %L, %L, %L, %L, %L, 1)"
                             : "CALL mysql.rds_set_external_master(%L, %L, %L, %L, %L, %L, 1)";
}

const char *mb_proc_reset(step_ctx *ctx)
{
    return source_names(ctx) ? "CALL mysql.rds_reset_external_source" : "CALL mysql.rds_reset_external_master";
}

void mb_sql_error_where(const char *error, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = error ? strstr(error, " on table ") : NULL;
    if (!p) return;
    p += strlen(" on table ");
    size_t n = strcspn(p, ";, ");
    if (n == 0 || n > 128) return;
    snprintf(out, cap, " on table %.*s", (int)n, p);
}
