/* initial_copy — pg-logical's initial-copy path (initial_copy.h; operators:
 * docs/clusters.md, "When the snapshot cannot be restored"; every step's
 * facts and idempotence: docs/pg-logical-steps.md).
 *
 * Why it is exactly once: the subscription uses the slot made at
 * prepare-source and copy_data = true. PostgreSQL copies each table in a
 * table-synchronisation worker from a snapshot taken with that worker's own
 * slot, streams the table's changes from that point until it has joined the
 * main apply, and the main apply skips a table's changes until then: a
 * committed row is in the copy or in the stream, never both. A table whose
 * copy fails is rolled back whole (the copy is one transaction) and copied
 * again by PostgreSQL.
 *
 * Why re-running is safe (a worker killed anywhere): the cluster, its
 * members and the databases are looked up before they are created; the
 * schema goes in as one transaction per database (a relation present means
 * it went in); an existing subscription is never created again. A missing
 * subscription is created again only before any table of it was reported
 * ready (fact ic_ready_at), and only after TRUNCATE of every published table
 * on the new cluster: nothing but the subscription has written there (no
 * client reaches it before the switch), so an emptied table and a fresh
 * copy give every row once. After ic_ready_at a vanished subscription fails
 * the source (the undo runs) rather than copying again. */
#include "initial_copy.h"
#include "pglogical.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "awscluster.h"
#include "awsstep.h"
#include "dbuf.h"
#include "log.h"
#include "pgl_db_extra.h"
#include "pgl_db_privs.h"
#include "util.h"

extern char **environ;

#define IC_DUMP_MAX (256u * 1024u * 1024u) /* a schema larger than this is refused */
#define IC_DUMP_TIMEOUT_MS 900000

bool pgl_ic_on(step_ctx *ctx) { return !strcmp(pgl_fact(ctx, "initial_copy"), "1"); }

static const char *ic_mode(step_ctx *ctx)
{
    const char *m = step_ctx_opt(ctx, "initial-copy");
    return m && *m ? m : "auto";
}

step_rc pgl_ic_preflight(step_ctx *ctx, step_result *res, bool cluster)
{
    if (strcmp(ic_mode(ctx), "always")) return STEP_OK;
    if (!cluster) {
        PGL_REASON(res, "--initial-copy always is built for Aurora PostgreSQL clusters only (an instance's "
                        "snapshot is always restored)");
        return STEP_FAIL;
    }
    if (!pgl_ic_on(ctx)) {
        step_ctx_set_fact(ctx, "initial_copy", "1");
        step_ctx_set_fact(ctx, "initial_copy_why", "--initial-copy always");
        log_info("initial copy chosen", "why=option");
    }
    return STEP_OK;
}

bool pgl_ic_take_over(step_ctx *ctx, step_result *res)
{
    if (strcmp(pgl_fact(ctx, "owned_key_refused"), "1") || !strcmp(ic_mode(ctx), "never")) return false;
    char why[600];
    snprintf(why, sizeof why, "AWS refused to restore the AWS-owned-key snapshot under the campaign key: %.500s",
             res->reason);
    step_ctx_set_fact(ctx, "initial_copy", "1");
    step_ctx_set_fact(ctx, "initial_copy_why", why);
    log_warn("restore refused: switching to a new cluster filled by logical replication with initial copy",
             "mode=%s", ic_mode(ctx));
    res->reason[0] = 0;
    return true;
}

/* ---------------------------------------------------------------- restore */
step_rc pgl_ic_create_cluster(step_ctx *ctx, step_result *res, const char *tid)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_cluster *cl = awscluster_describe(ctx, res, tid, &missing, &rc);
    if (cl) {
        rds_cluster_free(cl); /* the restore path checks it is ours, available and on the key */
        return STEP_OK;
    }
    if (!missing) return rc;
    /* the master user with the source's password (the credentials the
     * campaign reads through --db-secret): the database steps log in to
     * both sides with them, as on a restored target */
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    if (!pgl_ensure_creds(&s, &rc)) {
        pgl_session_finish(&s);
        return rc;
    }
    awsstep_carry cr;
    awsstep_carry_fill(&cr, ctx, PGL_ROLE_TARGET, "tags", pgl_fact(ctx, "sgs"));
    rds_create_cluster_opts o;
    rds_create_cluster_opts_init(&o);
    o.identifier = tid;
    o.engine = *pgl_fact(ctx, "engine") ? pgl_fact(ctx, "engine") : "aurora-postgresql";
    o.engine_version = *pgl_fact(ctx, "engine_version") ? pgl_fact(ctx, "engine_version") : NULL;
    o.master_username = s.cred->username;
    o.master_password = s.cred->password;
    o.db_name = *pgl_fact(ctx, "db_name") ? pgl_fact(ctx, "db_name") : NULL;
    o.storage_encrypted = 1;
    o.kms_key_id = pgl_cfield(ctx, "kms_key_arn");
    o.param_group = *pgl_fact(ctx, "cluster_param_group") ? pgl_fact(ctx, "cluster_param_group") : NULL;
    o.subnet_group = *pgl_fact(ctx, "subnet_group") ? pgl_fact(ctx, "subnet_group") : NULL;
    o.vpc_sg_ids = cr.nsg ? cr.sgv : NULL;
    o.n_vpc_sg_ids = cr.nsg;
    o.port = (int)pgl_fact_i64(ctx, "port", RDS_UNSET);
    o.deletion_protection = 0; /* abort must be able to delete it; cleanup applies the source's */
    o.tags = cr.tags;
    o.ntags = cr.ntags;
    aws_error e;
    aws_error_clear(&e);
    bool ok = step_ctx_lease_ok(ctx);
    if (ok) ok = rds_create_db_cluster(c, &o, NULL, &e) || !strcmp(e.code, "DBClusterAlreadyExistsFault");
    pgl_session_finish(&s); /* wipes the credentials */
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    if (!ok) {
        if (!strcmp(e.code, "DBClusterQuotaExceededFault")) {
            PGL_REASON(res, "DB cluster quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        return awsstep_fail(res, &e, "CreateDBCluster (initial copy)");
    }
    step_ctx_set_fact(ctx, "q_clu", "0");
    awsstep_mark(ctx, "ic_create_at");
    if (!step_ctx_fact(ctx, "restore_at")) awsstep_mark(ctx, "restore_at");
    log_info("new cluster created with the campaign key for the initial copy", "target=%s", tid);
    res->wait_ms = 1000;
    PGL_REASON(res, "creating cluster %s with the campaign key (initial copy)", tid);
    return STEP_WAIT;
}

/* ---------------------------------------------------------------- the schema */
/* pg_dump --schema-only of one source database, the connection in the
 * child's environment only (the password never in argv, a file or a log). */
static bool run_pg_dump(pgl_session *s, const char *db, dbuf *out, char *err, size_t errcap)
{
    char host[256], port[16], ev[9][600];
    int p = 0;
    if (!pgl_endpoint(s, PGL_SOURCE, host, sizeof host, &p)) {
        pgq_seterr(err, errcap, "the source's endpoint is not known");
        return false;
    }
    snprintf(port, sizeof port, "%d", p);
    const char *path = getenv("PATH");
    snprintf(ev[0], sizeof ev[0], "PGHOST=%s", host);
    snprintf(ev[1], sizeof ev[1], "PGPORT=%s", port);
    snprintf(ev[2], sizeof ev[2], "PGUSER=%s", s->cred->username);
    snprintf(ev[3], sizeof ev[3], "PGDATABASE=%s", db);
    snprintf(ev[4], sizeof ev[4], "PGPASSWORD=%s", s->cred->password);
    snprintf(ev[5], sizeof ev[5], "PGSSLMODE=%s", pgl_sslmode());
    snprintf(ev[6], sizeof ev[6], "PGSSLROOTCERT=%s", pgl_sslrootcert() ? pgl_sslrootcert() : "");
    snprintf(ev[7], sizeof ev[7], "PATH=%s", path ? path : "/usr/bin:/bin");
    snprintf(ev[8], sizeof ev[8], "PGAPPNAME=fleetcrypt-schema");
    char *envp[12];
    int ne = 0;
    for (int i = 0; i < 9; i++)
        if (i != 6 || pgl_sslrootcert()) envp[ne++] = ev[i];
    envp[ne++] = (char *)"PGCONNECT_TIMEOUT=10";
    envp[ne] = NULL;
    char *argv[] = {(char *)"pg_dump", (char *)"--schema-only", (char *)"--no-publications",
                    (char *)"--no-subscriptions", (char *)"--no-security-labels", (char *)"--no-comments", NULL};
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe(po) != 0 || pipe(pe) != 0) {
        pgq_seterr(err, errcap, "pipe: %s", strerror(errno));
        fc_wipe(ev[4], sizeof ev[4]);
        for (int k = 0; k < 2; k++) {
            if (po[k] >= 0) close(po[k]);
            if (pe[k] >= 0) close(pe[k]);
        }
        return false;
    }
    /* no other child the worker spawns meanwhile may hold our pipes open;
     * the child gets its ends as 1 and 2 (dup2 clears close-on-exec) */
    for (int k = 0; k < 2; k++) {
        (void)fcntl(po[k], F_SETFD, FD_CLOEXEC);
        (void)fcntl(pe[k], F_SETFD, FD_CLOEXEC);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid = -1;
    int sr = posix_spawnp(&pid, "pg_dump", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    fc_wipe(ev[4], sizeof ev[4]);
    close(po[1]);
    close(pe[1]);
    if (sr != 0) {
        close(po[0]);
        close(pe[0]);
        pgq_seterr(err, errcap, "cannot run pg_dump (the worker needs PostgreSQL's client tools): %s", strerror(sr));
        return false;
    }
    char ebuf[1024];
    size_t elen = 0;
    bool ok = true, too_big = false;
    int64_t deadline = fc_mono_ms() + IC_DUMP_TIMEOUT_MS;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        int64_t left = deadline - fc_mono_ms();
        if (left <= 0) {
            ok = false;
            pgq_seterr(err, errcap, "pg_dump did not finish in %d s", IC_DUMP_TIMEOUT_MS / 1000);
            break;
        }
        int n = poll(fds, 2, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR) break;
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(fds[k].fd, buf, sizeof buf);
            if (r <= 0) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
                continue;
            }
            if (k == 0) {
                if (!too_big && !dbuf_append(out, buf, (size_t)r)) too_big = true;
            } else if (elen < sizeof ebuf - 1) {
                size_t take = (size_t)r < sizeof ebuf - 1 - elen ? (size_t)r : sizeof ebuf - 1 - elen;
                memcpy(ebuf + elen, buf, take);
                elen += take;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (fds[k].fd >= 0) close(fds[k].fd);
    if (!ok) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ebuf[elen] = 0;
    if (!ok) return false;
    if (too_big) {
        pgq_seterr(err, errcap, "the schema of database %s is larger than %u bytes", db, IC_DUMP_MAX);
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        pgq_redact(ebuf, s->cred->password);
        for (char *q = ebuf; *q; q++)
            if (*q == '\n') *q = ' ';
        pgq_seterr(err, errcap, "pg_dump --schema-only of database %s failed: %.600s", db, ebuf);
        return false;
    }
    return true;
}

/* The dump without psql's meta-commands \restrict and \unrestrict (pg_dump
 * releases since August 2025 write them around the script; the server would
 * refuse them). Only those two: a line of a function body may start with a
 * backslash too. */
static bool meta_line(const char *r, size_t len)
{
    static const char *const meta[] = {"\\restrict ", "\\unrestrict "};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        if (len >= strlen(meta[i]) && !strncmp(r, meta[i], strlen(meta[i]))) return true;
    return false;
}

UNITTEST void pgl_ic_strip_meta(dbuf *d);
UNITTEST void pgl_ic_strip_meta(dbuf *d)
{
    if (!d->data) return;
    char *w = d->data;
    const char *r = d->data, *end = d->data + d->len;
    while (r < end) {
        const char *nl = memchr(r, '\n', (size_t)(end - r));
        size_t len = nl ? (size_t)(nl - r) + 1 : (size_t)(end - r);
        if (!meta_line(r, len)) {
            memmove(w, r, len);
            w += len;
        }
        r += len;
    }
    d->len = (size_t)(w - d->data);
    if (d->len < d->cap) d->data[d->len] = 0;
}

/* One database's schema on the new cluster, in one transaction: the roles
 * that own objects are borrowed for it (GRANT role TO CURRENT_USER, revoked
 * before the commit), the database owner set as on the source. */
static step_rc apply_schema(pgl_session *s, const char *db, const char *owner, dbuf *dump)
{
    step_rc rc = STEP_OK;
    pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_MASTER, db, &rc);
    if (!t) return rc;
    char v[32], err[300];
    if (!pgq_scalar(t, pgq_sql("pgl_ic_user_relations"), 0, NULL, v, sizeof v, NULL))
        return pgl_sql_fail(s->res, t, "initial copy: looking at the new cluster's schema", t->err);
    if (atoll(v) > 0) {
        log_info("initial copy: schema already on the new cluster", "db=%s", db);
        pgl_conn_drop(s, PGL_TARGET, PGL_AS_MASTER, db);
        return STEP_OK;
    }
    if (!step_ctx_lease_ok(s->ctx)) return (PGL_REASON(s->res, "lease lost"), STEP_RETRY);
    if (!pgq_cmd(t, "BEGIN", 0, NULL)) return pgl_sql_fail(s->res, t, "initial copy: schema", t->err);
    PGresult *br = pgq_exec(t, pgq_sql("pgl_ic_borrow_roles"), 0, NULL);
    bool ok = br != NULL;
    for (int i = 0; ok && i < PQntuples(br); i++) {
        const char *a[] = {PQgetvalue(br, i, 0)};
        ok = pgq_tmpl_script(t, "pgl_ic_grant_member", 1, a);
    }
    const char *what = "borrowing the owners' roles";
    if (ok) {
        what = "applying the source's schema";
        ok = pgq_script(t, dump->data ? dump->data : "");
    }
    if (ok && *owner) {
        what = "setting the database's owner";
        const char *a[] = {db, owner};
        ok = pgq_tmpl_script(t, "pgl_ic_db_owner", 2, a);
    }
    for (int i = 0; ok && br && i < PQntuples(br); i++) {
        what = "giving the borrowed roles back";
        const char *a[] = {PQgetvalue(br, i, 0)};
        ok = pgq_tmpl_script(t, "pgl_ic_revoke_member", 1, a);
    }
    PQclear(br);
    if (ok) ok = pgq_cmd(t, "COMMIT", 0, NULL);
    if (!ok) {
        snprintf(err, sizeof err, "initial copy: %s (database %s)", what, db);
        step_rc frc = pgl_sql_fail(s->res, t, err, NULL);
        pgl_conn_drop(s, PGL_TARGET, PGL_AS_MASTER, db); /* rolls back */
        return frc;
    }
    /* pg_dump's script sets search_path for its session: this one ends here */
    pgl_conn_drop(s, PGL_TARGET, PGL_AS_MASTER, db);
    log_info("initial copy: schema copied", "db=%s bytes=%zu", db, dump->len);
    return STEP_OK;
}

step_rc pgl_ic_prepare_target(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    if (step_ctx_fact(ctx, "ic_schema_done")) return STEP_OK;
    step_rc rc = STEP_OK;
    char err[1024], v[256];
    if (s->ndbs == 0) return (PGL_REASON(res, "no databases recorded by preflight"), STEP_FAIL);
    pgl_db_names nm0;
    if (!pgl_names(s, s->dbs[0], &nm0)) return STEP_FAIL;
    pgq *src = pgl_conn(s, PGL_SOURCE, PGL_AS_ADMIN, s->dbs[0], &rc);
    if (!src) return rc;
    pgq *t0 = pgl_conn(s, PGL_TARGET, PGL_AS_MASTER, "postgres", &rc);
    if (!t0) return rc;
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    /* 1. the roles (instance-wide; passwords cannot be read on RDS: a login
     *    role is created without one and named in ic_no_password) */
    pgl_privs_result pr;
    pgl_privs_result_init(&pr);
    if (!pgl_sync_roles(src, t0, &nm0, &pr, err, sizeof err))
        return pgl_sql_fail(res, t0, "initial copy: roles on the new cluster", err);
    if (pr.roles_created > 0 || !step_ctx_fact(ctx, "ic_roles_created"))
        step_ctx_set_factf(ctx, "ic_roles_created", "%d", pr.roles_created);
    if (pr.no_password[0]) step_ctx_set_fact(ctx, "ic_no_password", pr.no_password);
    /* 2. fleetcrypt's two roles, as prepare-source made them on the source */
    if (!pgl_create_roles(t0, &nm0, s->admin_pw, s->sub_pw, err, sizeof err) ||
        !pgl_admin_rights(t0, &nm0, s->cred->username, err, sizeof err))
        return pgl_sql_fail(res, t0, "initial copy: fleetcrypt roles on the new cluster", err);
    /* 3. each database, then its schema */
    for (int i = 0; i < s->ndbs; i++) {
        const char *db = s->dbs[i];
        const char *p[] = {db};
        bool null = false;
        char owner[128] = "";
        if (pgq_scalar(src, pgq_sql("pgl_ic_db_get"), 1, p, v, sizeof v, &null)) fc_strlcpy(owner, v, sizeof owner);
        else return pgl_sql_fail(res, src, "initial copy: the source database's owner", src->err);
        PGresult *dr = pgq_exec(t0, pgq_sql("pgl_ic_db_get"), 1, p);
        if (!dr) return pgl_sql_fail(res, t0, "initial copy: databases on the new cluster", t0->err);
        int have = PQntuples(dr);
        PQclear(dr);
        if (!have) {
            const char *a[] = {db};
            if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
            if (!pgq_tmpl_script(t0, "pgl_ic_db_create", 1, a) && strcmp(t0->sqlstate, "42P04"))
                return pgl_sql_fail(res, t0, "initial copy: CREATE DATABASE on the new cluster", t0->err);
            log_info("initial copy: database created on the new cluster", "db=%s", db);
        }
        if (!strcmp(owner, s->cred->username)) owner[0] = 0; /* ours already */
        dbuf dump;
        dbuf_init(&dump, IC_DUMP_MAX);
        if (!run_pg_dump(s, db, &dump, err, sizeof err)) {
            dbuf_free(&dump);
            PGL_REASON(res, "initial copy: %s", err);
            return STEP_RETRY;
        }
        pgl_ic_strip_meta(&dump);
        rc = apply_schema(s, db, owner, &dump);
        dbuf_free(&dump);
        if (rc != STEP_OK) return rc;
    }
    step_ctx_set_fact(ctx, "ic_schema_done", "1");
    fc_holdpoint("pgl.ic.schema"); /* tests: lock a table before its copy starts */
    return STEP_OK;
}

/* ---------------------------------------------------------------- find-start-lsn */
step_rc pgl_ic_start(step_ctx *ctx, step_result *res)
{
    (void)res;
    step_ctx_set_fact(ctx, "start_lsn", pgl_fact(ctx, "slot_lsn"));
    step_ctx_set_fact(ctx, "start_lsn_source", "initial-copy");
    step_ctx_set_fact(ctx, "start_lsn_checked", "none: each table's copy is consistent with its own sync slot");
    return STEP_OK;
}

/* ---------------------------------------------------------------- subscribe */
/* The subscription's role reads every published table for the copy
 * (pg_read_all_data; gone with the role). */
static bool sub_role_reads(pgq *q, const pgl_db_names *nm, char *err, size_t errcap)
{
    const char *p[] = {nm->sub_role, "pg_read_all_data"};
    char v[8];
    if (!pgq_scalar(q, pgq_sql("pgl_role_has_member"), 2, p, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "membership of %s: %s", nm->sub_role, q->err);
        return false;
    }
    if (v[0] == 't') return true;
    const char *a[] = {"pg_read_all_data", nm->sub_role};
    if (!pgq_tmpl_script(q, "pgl_grant_role", 2, a)) {
        pgq_seterr(err, errcap, "GRANT pg_read_all_data TO %s: %s", nm->sub_role, q->err);
        return false;
    }
    return true;
}

/* Empty every published table on the new cluster (before a subscription
 * is created: see the top of this file). */
static bool truncate_published(pgq *src, pgq *dst, const pgl_db_names *nm, int *n, char *err, size_t errcap)
{
    const char *p[] = {nm->publication};
    PGresult *r = pgq_exec(src, pgq_sql("pgl_ic_pub_tables"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "tables of publication %s: %s", nm->publication, src->err);
        return false;
    }
    bool ok = pgq_cmd(dst, "BEGIN", 0, NULL);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        const char *a[] = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)};
        ok = pgq_tmpl_script(dst, "pgl_ic_truncate", 2, a);
    }
    *n = PQntuples(r);
    PQclear(r);
    if (ok) ok = pgq_cmd(dst, "COMMIT", 0, NULL);
    if (!ok) {
        pgq_seterr(err, errcap, "emptying the new cluster's tables: %s", dst->err);
        PGresult *rb = PQexec(dst->conn, "ROLLBACK");
        PQclear(rb);
    }
    return ok;
}

step_rc pgl_ic_subscribe(step_ctx *ctx, step_result *res)
{
    pgl_session s;
    pgl_session_init(&s, ctx, res);
    char err[1024], host[256];
    int port = 0;
    long long waiting = 0, all = 0;
    step_rc rc = pgl_sub_begin(&s, host, sizeof host, &port);
    for (int i = 0; rc == STEP_OK && i < s.ndbs; i++) {
        pgl_db_names nm;
        pgq *q = pgl_names_conn(&s, s.dbs[i], PGL_TARGET, PGL_AS_MASTER, &nm, &rc);
        if (!q) break;
        bool exists = false;
        if (!pgl_sub_exists(q, &nm, &exists, err, sizeof err)) {
            rc = pgl_sql_fail(res, q, "initial copy: subscription", err);
            break;
        }
        if (!exists) {
            if (step_ctx_fact(ctx, "ic_ready_at") || !strcmp(pgl_fact(ctx, "switched"), "1")) {
                PGL_REASON(res, "initial copy: subscription %s (database %s) is gone after the copy was done; "
                                "copying again is not safe once the copy completed: submit the source again",
                           nm.subscription, s.dbs[i]);
                rc = STEP_FAIL;
                break;
            }
            pgq *src = pgl_conn(&s, PGL_SOURCE, PGL_AS_MASTER, s.dbs[i], &rc);
            if (!src) break;
            if (!step_ctx_lease_ok(ctx)) {
                PGL_REASON(res, "lease lost");
                rc = STEP_RETRY;
                break;
            }
            int nt = 0;
            if (!sub_role_reads(src, &nm, err, sizeof err)) {
                rc = pgl_sql_fail(res, src, "initial copy: the subscription's role", err);
                break;
            }
            if (!truncate_published(src, q, &nm, &nt, err, sizeof err)) {
                rc = pgl_sql_fail(res, q, "initial copy", err);
                break;
            }
            pgq_conninfo ci;
            pgl_sub_conninfo(&s, &nm, host, port, s.dbs[i], &ci);
            if (!pgl_create_copying_subscription(q, &nm, &ci, err, sizeof err)) {
                rc = pgl_sql_fail(res, q, "initial copy: subscribe", err);
                break;
            }
            if (!step_ctx_fact(ctx, "ic_sub_at")) awsstep_mark(ctx, "ic_sub_at");
            log_info("initial copy subscription created", "db=%s subscription=%s tables=%d", s.dbs[i],
                     nm.subscription, nt);
            fc_crashpoint("pgl.ic.subscribed");
            fc_holdpoint("pgl.ic.subscribed");
        } else {
            if (!step_ctx_fact(ctx, "ic_sub_at")) { /* an earlier run made it and ended before recording it */
                log_info("initial copy subscription exists", "db=%s subscription=%s", s.dbs[i], nm.subscription);
                awsstep_mark(ctx, "ic_sub_at");
            }
        }
        pgl_sub_info si;
        if (!pgl_sub_status(q, &nm, &si, err, sizeof err)) {
            rc = pgl_sql_fail(res, q, "initial copy: subscription status", err);
            break;
        }
        if (!si.exists || !si.enabled || si.apply_errors > 0 || si.sync_errors > 0) {
            PGL_REASON(res, "initial copy: subscription %s (database %s) is %s (apply errors %lld, copy errors "
                            "%lld): see the new cluster's log", nm.subscription, s.dbs[i],
                       si.enabled ? "failing" : "disabled", (long long)si.apply_errors, (long long)si.sync_errors);
            rc = STEP_FAIL;
            break;
        }
        const char *p[] = {nm.subscription};
        PGresult *r = pgq_exec(q, pgq_sql("pgl_ic_sub_tables"), 1, p);
        if (!r) {
            rc = pgl_sql_fail(res, q, "initial copy: tables of the subscription", q->err);
            break;
        }
        waiting += atoll(PQgetvalue(r, 0, 0));
        all += atoll(PQgetvalue(r, 0, 1));
        PQclear(r);
    }
    if (rc == STEP_OK) {
        step_ctx_set_factf(ctx, "ic_tables", "%lld/%lld", all - waiting, all);
        if (waiting > 0) {
            res->wait_ms = 2000;
            PGL_REASON(res, "initial copy: %lld of %lld tables copied and caught up", all - waiting, all);
            rc = STEP_WAIT;
        } else {
            if (!step_ctx_fact(ctx, "ic_ready_at")) awsstep_mark(ctx, "ic_ready_at");
            step_ctx_set_fact(ctx, "subscribed", "1");
            if (!step_ctx_fact(ctx, "subscribed_at")) awsstep_mark(ctx, "subscribed_at");
            log_info("initial copy done", "tables=%lld", all);
        }
    }
    pgl_session_finish(&s);
    return rc;
}

/* ---------------------------------------------------------------- abort */
step_rc pgl_ic_abort_copy(pgl_session *s, bool target_exists)
{
    /* 1. the subscriptions disabled: no table-sync worker starts again */
    for (int i = 0; target_exists && *pgl_fact(s->ctx, "target_port") && i < s->ndbs; i++) {
        pgl_db_names nm;
        if (!pgl_names(s, s->dbs[i], &nm)) return STEP_FAIL;
        step_rc r2 = STEP_OK;
        pgq *t = pgl_conn(s, PGL_TARGET, PGL_AS_MASTER, s->dbs[i], &r2);
        bool exists = false;
        char err[512];
        if (t && pgl_sub_exists(t, &nm, &exists, err, sizeof err) && exists) {
            const char *a[] = {nm.subscription};
            if (!pgq_tmpl_script(t, "pgl_sub_disable", 1, a))
                log_warn("abort: cannot disable the initial copy's subscription (the new cluster is deleted anyway)",
                         "db=%s", s->dbs[i]);
        }
    }
    s->res->reason[0] = 0;
    /* 2. its table-sync slots on the source, their walsenders ended first:
     *    DROP SUBSCRIPTION would otherwise wait for an active one */
    return pgl_ic_drop_sync_slots(s);
}

step_rc pgl_ic_drop_sync_slots(pgl_session *s)
{
    const char *sys = pgl_fact(s->ctx, "target_sysid");
    if (!*sys || s->ndbs == 0) return STEP_OK; /* never reached: no subscription was made */
    step_rc rc = STEP_OK;
    pgq *q = pgl_conn(s, PGL_SOURCE, PGL_AS_MASTER, s->dbs[0], &rc);
    if (!q) return rc;
    const char *p[] = {sys};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_ic_sync_slots"), 1, p);
    if (!r) return pgl_sql_fail(s->res, q, "initial copy: table-sync slots", q->err);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *slot = PQgetvalue(r, i, 0), *pid = PQgetvalue(r, i, 1);
        if (*pid) {
            const char *a[] = {pid};
            PGresult *t = pgq_exec(q, pgq_sql("pgl_terminate_pid"), 1, a);
            PQclear(t);
            fc_sleep_ms(200);
        }
        const char *a[] = {slot};
        PGresult *d = pgq_exec(q, pgq_sql("pgl_ic_drop_slot"), 1, a);
        if (!d) {
            PQclear(r);
            return pgl_sql_fail(s->res, q, "initial copy: dropping a table-sync slot", q->err);
        }
        PQclear(d);
        log_info("initial copy: table-sync slot dropped on the source", "slot=%s", slot);
    }
    int left = PQntuples(r);
    PQclear(r);
    if (left > 0) {
        /* look again: a slot still active a moment ago is dropped on the next run */
        r = pgq_exec(q, pgq_sql("pgl_ic_sync_slots"), 1, p);
        int still = r ? PQntuples(r) : 1;
        PQclear(r);
        if (still > 0) {
            s->res->wait_ms = 1000;
            PGL_REASON(s->res, "abort: %d table-sync slot(s) of the new cluster still on the source", still);
            return STEP_WAIT;
        }
    }
    return STEP_OK;
}
