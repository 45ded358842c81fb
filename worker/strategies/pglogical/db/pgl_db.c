/* pgl_db — names, password derivation, preflight reports and fleetcrypt's
 * roles; see pgl_db.h. */
#include "pgl_db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "util.h"

/* FNV-1a: a short stable discriminator for a database name in slot names. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

bool pgl_names_make(const char *tag, const char *dbname, pgl_db_names *n, char *err, size_t errcap)
{
    size_t len = tag ? strlen(tag) : 0;
    if (len < 1 || len > PGL_TAG_MAX || !(tag[0] >= 'a' && tag[0] <= 'z')) {
        pgq_seterr(err, errcap, "tag must be 1-%d characters of [a-z0-9_] starting with a letter",
                      PGL_TAG_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = tag[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            pgq_seterr(err, errcap, "tag %s: only [a-z0-9_] allowed", tag);
            return false;
        }
    }
    memset(n, 0, sizeof *n);
    fc_strlcpy(n->tag, tag, sizeof n->tag);
    uint32_t h = fnv1a(dbname ? dbname : "");
    snprintf(n->schema, sizeof n->schema, "fc_%s", tag);
    snprintf(n->publication, sizeof n->publication, "fc_%s", tag);
    snprintf(n->slot, sizeof n->slot, "fc_%s_%08x", tag, h);
    snprintf(n->subscription, sizeof n->subscription, "fc_%s_%08x", tag, h);
    snprintf(n->guard_end, sizeof n->guard_end, "fc_%s_ddl", tag);
    snprintf(n->guard_drop, sizeof n->guard_drop, "fc_%s_drop", tag);
    snprintf(n->admin_role, sizeof n->admin_role, "fc_%s_admin", tag);
    snprintf(n->sub_role, sizeof n->sub_role, "fc_%s_sub", tag);
    return true;
}

bool pgl_derive_password(const char *secret, const char *purpose, const char *tag, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char msg[160];
    int n = snprintf(msg, sizeof msg, "fleetcrypt/%s/%s", purpose, tag);
    if (!secret || !*secret || n < 0 || (size_t)n >= sizeof msg) return false;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n, mac,
              &maclen) || maclen != 32)
        return false;
    fc_hex(mac, 32, out);
    fc_wipe(mac, sizeof mac);
    return true;
}

void pgl_report_init(pgl_report *r)
{
    memset(r, 0, sizeof *r);
    dbuf_init(&r->text, 1u << 20);
}

void pgl_report_free(pgl_report *r)
{
    if (r) dbuf_free(&r->text);
}

void pgl_report_add(pgl_report *r, bool fatal, const char *db, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dbuf_printf(&r->text, "%s %s: %s\n", fatal ? "FATAL" : "WARN", db ? db : "instance", buf);
    if (fatal)
        r->fatal++;
    else
        r->warn++;
}

bool pgl_query_list(pgq *q, const char *sql_name, int nparams, const char *const *params, const char *what,
                       char ***out, int *n, char *err, size_t errcap)
{
    *out = NULL;
    *n = 0;
    PGresult *r = pgq_exec(q, pgq_sql(sql_name), nparams, params);
    if (!r) {
        pgq_seterr(err, errcap, "%s: %s", what, q->err);
        return false;
    }
    int rows = PQntuples(r);
    char **l = calloc((size_t)rows + 1, sizeof *l);
    if (!l) {
        PQclear(r);
        pgq_seterr(err, errcap, "out of memory");
        return false;
    }
    for (int i = 0; i < rows; i++) {
        l[i] = strdup(PQgetvalue(r, i, 0));
        if (!l[i]) {
            pgl_free_list(l, i);
            PQclear(r);
            pgq_seterr(err, errcap, "out of memory");
            return false;
        }
    }
    PQclear(r);
    *out = l;
    *n = rows;
    return true;
}

bool pgl_list_databases(pgq *q, char ***out, int *n, char *err, size_t errcap)
{
    return pgl_query_list(q, "pgl_list_databases", 0, NULL, "listing databases", out, n, err, errcap);
}

void pgl_free_list(char **list, int n)
{
    if (!list) return;
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

bool pgl_preflight_instance(pgq *q, int ndatabases, pgl_report *rep, char *err, size_t errcap)
{
    PGresult *r = pgq_exec(q, pgq_sql("pgl_instance_settings"), 0, NULL);
    if (!r) {
        pgq_seterr(err, errcap, "reading settings: %s", q->err);
        return false;
    }
    int version = atoi(PQgetvalue(r, 0, 0));
    const char *wal_level = PQgetvalue(r, 0, 1);
    int max_slots = atoi(PQgetvalue(r, 0, 2)), used_slots = atoi(PQgetvalue(r, 0, 3));
    int max_senders = atoi(PQgetvalue(r, 0, 4)), used_senders = atoi(PQgetvalue(r, 0, 5));
    const char *lmm = PQgetvalue(r, 0, 6);
    const char *lcm = PQgetvalue(r, 0, 7);
    bool is_rds = PQgetvalue(r, 0, 8)[0] == 't';
    int prepared = atoi(PQgetvalue(r, 0, 9));
    rep->server_version = version;
    rep->is_rds = is_rds;

    if (version < 120000)
        pgl_report_add(rep, true, NULL, "PostgreSQL %d is older than 12: not supported", version);
    else if (version < 150000)
        pgl_report_add(rep, false, NULL,
                          "PostgreSQL %d: no disable_on_error / pg_stat_subscription_stats before 15; "
                          "apply errors are seen only as a stalled subscription", version);
    if (strcmp(wal_level, "logical") != 0)
        pgl_report_add(rep, true, NULL,
                          "wal_level is %s, not logical: set rds.logical_replication=1 in the "
                          "parameter group (needs a reboot the operator must schedule)", wal_level);
    if (max_slots - used_slots < ndatabases)
        pgl_report_add(rep, true, NULL,
                          "max_replication_slots=%d with %d in use: %d more needed (one per database)",
                          max_slots, used_slots, ndatabases);
    if (max_senders - used_senders < ndatabases)
        pgl_report_add(rep, true, NULL,
                          "max_wal_senders=%d with %d in use: %d more needed (one per database)",
                          max_senders, used_senders, ndatabases);
    if (strcmp(lmm, "fatal") == 0 || strcmp(lmm, "panic") == 0)
        pgl_report_add(rep, true, NULL,
                          "log_min_messages=%s hides the restored instance's recovery lines "
                          "(\"redo done at\", end of WAL): set it to warning or lower", lmm);
    if (!(lcm[0] == 0 || strcmp(lcm, "C") == 0 || strcmp(lcm, "POSIX") == 0 ||
          strncmp(lcm, "en", 2) == 0 || strncmp(lcm, "C.", 2) == 0))
        pgl_report_add(rep, true, NULL,
                          "lc_messages=%s: recovery lines are translated and cannot be read; use "
                          "an English or C locale for messages", lcm);
    PQclear(r);
    if (prepared > 0) {
        /* a prepared transaction holds back slot creation until it ends; one
         * prepared after the slot and caught by the snapshot would come back
         * to life on the target: prepare-source waits for none to be left.
         * One older than PGL_PREPARED_STALE_S looks forgotten: refuse. */
        int n = 0;
        int64_t oldest = 0;
        char desc[300];
        if (!pgl_prepared_xacts(q, &n, &oldest, desc, sizeof desc, err, errcap)) return false;
        if (n > 0 && oldest > PGL_PREPARED_STALE_S)
            pgl_report_add(rep, true, NULL,
                              "%d prepared transaction(s), the oldest %lld s old (forgotten?): slot creation "
                              "would wait for them; COMMIT PREPARED or ROLLBACK PREPARED first: %s",
                              n, (long long)oldest, desc);
        else if (n > 0)
            pgl_report_add(rep, false, NULL,
                              "%d prepared transaction(s): slot creation and the snapshot wait for them to "
                              "end: %s", n, desc);
    }
    return true;
}

/* Add one finding listing the first column of every row of a query. */
static bool list_finding(pgq *q, const char *sqlname, int np, const char *const *params,
                         pgl_report *rep, bool fatal, const char *db, const char *what,
                         char *err, size_t errcap)
{
    PGresult *r = pgq_exec(q, pgq_sql(sqlname), np, params);
    if (!r) {
        pgq_seterr(err, errcap, "%s: %s", what, q->err);
        return false;
    }
    int n = PQntuples(r);
    if (n > 0) {
        dbuf l;
        dbuf_init(&l, 900);
        for (int i = 0; i < n; i++)
            if (!dbuf_printf(&l, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0))) {
                dbuf_appends(&l, ", ...");
                break;
            }
        pgl_report_add(rep, fatal, db, "%d %s: %s", n, what, l.data ? l.data : "");
        dbuf_free(&l);
    }
    PQclear(r);
    return true;
}

bool pgl_preflight_database(pgq *q, const char *db, const pgl_db_names *nm, bool allow_ri_full,
                               pgl_report *rep, char *err, size_t errcap)
{
    const char *p[] = {nm->schema};
    if (!list_finding(q, "pgl_tables_without_identity", 1, p, rep, !allow_ri_full, db,
                      allow_ri_full ? "table(s) without primary key will get REPLICA IDENTITY FULL"
                                    : "table(s) without primary key or replica identity (UPDATE/DELETE "
                                      "would fail once published; allow --replica-identity-full)",
                      err, errcap))
        return false;
    if (!list_finding(q, "pgl_unlogged_tables", 0, NULL, rep, true, db,
                      "unlogged table(s), not replicated", err, errcap))
        return false;
    if (!list_finding(q, "pgl_foreign_tables", 0, NULL, rep, false, db,
                      "foreign table(s), not replicated (data lives elsewhere)", err, errcap))
        return false;
    if (!list_finding(q, "pgl_matviews", 0, NULL, rep, false, db,
                      "materialized view(s), stale on the target until refreshed", err, errcap))
        return false;
    if (!list_finding(q, "pgl_schedulers", 0, NULL, rep, false, db,
                      "scheduler extension(s): jobs are held on the target until cutover", err, errcap))
        return false;
    const char *sp[] = {nm->schema, "false"};
    if (!list_finding(q, "pgl_sequences_unreadable", 2, sp, rep, true, db,
                      "sequence(s) the master user cannot read (GRANT SELECT ON SEQUENCE to it, or make it a "
                      "member of their owner): their values could not be carried to the target",
                      err, errcap))
        return false;
    int64_t lo = 0;
    if (!pgl_large_objects(q, &lo, err, errcap)) return false;
    if (lo > 0)
        pgl_report_add(rep, true, db, "%lld large object(s): not replicated by logical replication",
                          (long long)lo);
    return true;
}

bool pgl_large_objects(pgq *q, int64_t *count, char *err, size_t errcap)
{
    *count = -1;
    char v[32];
    bool isnull = false;
    if (!pgq_scalar(q, pgq_sql("pgl_large_objects"), 0, NULL, v, sizeof v, &isnull) || isnull) {
        pgq_seterr(err, errcap, "counting large objects: %s", isnull ? "no result" : q->err);
        return false;
    }
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (!end || *end || n < 0) {
        pgq_seterr(err, errcap, "counting large objects: unexpected answer");
        return false;
    }
    *count = n;
    return true;
}

/* Create a login role with a SCRAM verifier computed here (the clear
 * password never travels in SQL text), or reset its password. */
static bool ensure_login_role(pgq *q, const char *role, const char *password, char *err, size_t errcap)
{
    const char *p[] = {role};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_role_exists"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "role %s: %s", role, q->err);
        return false;
    }
    bool exists = PQntuples(r) > 0;
    PQclear(r);
    char *verifier = PQencryptPasswordConn(q->conn, password, role, NULL);
    if (!verifier) {
        pgq_seterr(err, errcap, "role %s: cannot hash password: %s", role, PQerrorMessage(q->conn));
        return false;
    }
    const char *a[] = {role, verifier};
    bool ok = pgq_tmpl_script(q, exists ? "pgl_role_password" : "pgl_role_create", 2, a);
    fc_wipe(verifier, strlen(verifier));
    PQfreemem(verifier);
    if (!ok) {
        /* a concurrent attempt may have created it: look again */
        if (!exists && strcmp(q->sqlstate, "42710") == 0)
            return ensure_login_role(q, role, password, err, errcap);
        pgq_seterr(err, errcap, "role %s: %s", role, q->err);
        return false;
    }
    return true;
}

static bool role_exists(pgq *q, const char *role, bool *exists)
{
    const char *p[] = {role};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_role_exists"), 1, p);
    if (!r) return false;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return true;
}

/* GRANT group TO member unless already a member. */
static bool ensure_member(pgq *q, const char *group, const char *member, char *err, size_t errcap)
{
    const char *p[] = {member, group};
    char v[8];
    if (!pgq_scalar(q, pgq_sql("pgl_role_has_member"), 2, p, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "membership %s in %s: %s", member, group, q->err);
        return false;
    }
    if (v[0] == 't') return true;
    const char *a[] = {group, member};
    if (!pgq_tmpl_script(q, "pgl_grant_role", 2, a)) {
        pgq_seterr(err, errcap, "GRANT %s TO %s: %s", group, member, q->err);
        return false;
    }
    return true;
}

bool pgl_create_roles(pgq *q, const pgl_db_names *nm, const char *admin_password,
                         const char *sub_password, char *err, size_t errcap)
{
    bool rds = false, rds_repl = false;
    if (!role_exists(q, "rds_superuser", &rds) || !role_exists(q, "rds_replication", &rds_repl)) {
        pgq_seterr(err, errcap, "looking for RDS roles: %s", q->err);
        return false;
    }
    if (!ensure_login_role(q, nm->admin_role, admin_password, err, errcap)) return false;
    if (rds) {
        if (!ensure_member(q, "rds_superuser", nm->admin_role, err, errcap)) return false;
        if (rds_repl && !ensure_member(q, "rds_replication", nm->admin_role, err, errcap)) return false;
        /* rds_superuser does not bypass object privileges (a superuser
         * does): the cutover reads and writes every application table,
         * sequence and schema, whoever owns them (PostgreSQL 14+) */
        static const char *const data_roles[] = {"pg_read_all_data", "pg_write_all_data"};
        for (size_t i = 0; i < sizeof data_roles / sizeof data_roles[0]; i++) {
            bool have = false;
            if (!role_exists(q, data_roles[i], &have)) {
                pgq_seterr(err, errcap, "looking for %s: %s", data_roles[i], q->err);
                return false;
            }
            if (have && !ensure_member(q, data_roles[i], nm->admin_role, err, errcap)) return false;
        }
    } else {
        /* Self-managed PostgreSQL: the block needs to alter and terminate any
         * role, which only a superuser can do there. */
        const char *a[] = {nm->admin_role};
        if (!pgq_tmpl_script(q, "pgl_role_superuser", 1, a)) {
            pgq_seterr(err, errcap, "ALTER ROLE %s SUPERUSER: %s", nm->admin_role, q->err);
            return false;
        }
    }
    if (!ensure_login_role(q, nm->sub_role, sub_password, err, errcap)) return false;
    if (rds_repl) return ensure_member(q, "rds_replication", nm->sub_role, err, errcap);
    const char *a[] = {nm->sub_role};
    if (!pgq_tmpl_script(q, "pgl_role_replication", 1, a)) {
        pgq_seterr(err, errcap, "ALTER ROLE %s REPLICATION: %s", nm->sub_role, q->err);
        return false;
    }
    log_info("fleetcrypt roles ready", "admin=%s sub=%s rds=%d", nm->admin_role, nm->sub_role, rds);
    return true;
}

bool pgl_drop_roles(pgq *q, const pgl_db_names *nm, bool keep_admin, char *err, size_t errcap)
{
    const char *roles[] = {nm->sub_role, nm->admin_role};
    for (int i = 0; i < (keep_admin ? 1 : 2); i++) {
        const char *a[] = {roles[i]};
        if (!pgq_tmpl_script(q, "pgl_role_drop", 1, a)) {
            pgq_seterr(err, errcap, "DROP ROLE %s: %s", roles[i], q->err);
            return false;
        }
    }
    return true;
}

bool pgl_cron_guard(pgq *q, const pgl_db_names *nm, bool *installed, char *err, size_t errcap)
{
    *installed = false;
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_cron_present"), 0, NULL, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "looking for pg_cron: %s", q->err);
        return false;
    }
    if (atoi(v) == 0) return true;
    const char *a[] = {nm->schema, nm->schema, nm->schema, nm->schema, nm->schema, nm->schema, nm->schema};
    if (!pgq_tmpl_script(q, "pgl_cron_guard", 7, a)) {
        pgq_seterr(err, errcap, "keeping replicated pg_cron jobs held (trigger on cron.job): %s", q->err);
        return false;
    }
    *installed = true;
    return true;
}

bool pgl_exec_each(pgq *const *q, int n, const char *const *sql, const int *np, const char *const *const *p,
                   PGresult **r, int *failed)
{
    bool *sent = calloc((size_t)n + 1, sizeof *sent);
    *failed = -1;
    for (int i = 0; i < n; i++) {
        r[i] = NULL;
        if (!sent || !sql[i]) continue;
        sent[i] = pgq_send(q[i], sql[i], np ? np[i] : 0, p ? p[i] : NULL);
        if (!sent[i] && *failed < 0) *failed = i;
    }
    for (int i = 0; sent && i < n; i++) {
        if (!sent[i]) continue;
        r[i] = pgq_recv(q[i], sql[i]);
        if (!r[i] && *failed < 0) *failed = i;
    }
    if (!sent) *failed = 0;
    free(sent);
    return *failed < 0;
}
