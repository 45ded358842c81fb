/* pgl_target — the restored instance: inherited slots and objects, held
 * scheduler jobs, the subscription started at the end of the restored WAL,
 * its status, and its removal. */
#include "pgl_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static bool schema_exists(pgq *q, const char *schema, bool *exists)
{
    const char *p[] = {schema};
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_schema_exists"), 1, p, v, sizeof v, NULL)) return false;
    *exists = atoi(v) > 0;
    return true;
}

/* Drop one slot; an active one has its walsender ended first. Gone = done. */
bool pgl_drop_slot(pgq *q, const char *slot, char *err, size_t errcap)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        const char *p[] = {slot};
        PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_get"), 1, p);
        if (!r) {
            pgq_seterr(err, errcap, "slot %s: %s", slot, q->err);
            return false;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            return true;
        }
        bool active = PQgetvalue(r, 0, 3)[0] == 't';
        PQclear(r);
        if (active) {
            /* the walsender serving it: pg_replication_slots.active_pid */
            PGresult *s = pgq_exec(q, pgq_sql("pgl_target_slots"), 0, NULL);
            if (s) {
                for (int i = 0; i < PQntuples(s); i++)
                    if (strcmp(PQgetvalue(s, i, 0), slot) == 0 && atoi(PQgetvalue(s, i, 2)) > 0) {
                        const char *pid[] = {PQgetvalue(s, i, 2)};
                        pgq_cmd(q, pgq_sql("pgl_terminate_pid"), 1, pid);
                    }
                PQclear(s);
            }
            fc_sleep_ms(100);
            continue;
        }
        if (pgq_cmd(q, pgq_sql("pgl_drop_slot"), 1, p)) return true;
        if (strcmp(q->sqlstate, "42704") == 0) return true;         /* already gone */
        if (strcmp(q->sqlstate, "55006") != 0) {                    /* not "in use" */
            pgq_seterr(err, errcap, "dropping slot %s: %s", slot, q->err);
            return false;
        }
        fc_sleep_ms(100);
    }
    pgq_seterr(err, errcap, "slot %s stays active: its consumer keeps reconnecting", slot);
    return false;
}

bool pgl_clean_target(pgq *q, const pgl_db_names *nm, bool drop_slots, int *slots_dropped,
                         int *jobs_held, char *err, size_t errcap)
{
    *slots_dropped = 0;
    *jobs_held = 0;
    if (drop_slots) {
        PGresult *r = pgq_exec(q, pgq_sql("pgl_target_slots"), 0, NULL);
        if (!r) {
            pgq_seterr(err, errcap, "listing inherited slots: %s", q->err);
            return false;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            if (!pgl_drop_slot(q, PQgetvalue(r, i, 0), err, errcap)) {
                PQclear(r);
                return false;
            }
            log_info("dropped inherited slot", "slot=%s", PQgetvalue(r, i, 0));
            (*slots_dropped)++;
        }
        PQclear(r);
    }
    /* fleetcrypt's own inherited objects: the guard must not fire on the
     * target, and the publication is only needed on the source */
    const char *t1[] = {nm->guard_end}, *t2[] = {nm->guard_drop}, *pub[] = {nm->publication};
    if (!pgq_tmpl_script(q, "pgl_event_trigger_drop", 1, t1) ||
        !pgq_tmpl_script(q, "pgl_event_trigger_drop", 1, t2) ||
        !pgq_tmpl_script(q, "pgl_publication_drop", 1, pub)) {
        pgq_seterr(err, errcap, "dropping inherited fleetcrypt objects: %s", q->err);
        return false;
    }
    /* scheduler jobs would run twice (here and on the source): hold them */
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_cron_present"), 0, NULL, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "looking for pg_cron: %s", q->err);
        return false;
    }
    if (atoi(v) > 0) {
        bool have = false;
        if (!schema_exists(q, nm->schema, &have)) {
            pgq_seterr(err, errcap, "schema %s: %s", nm->schema, q->err);
            return false;
        }
        if (!have) {
            const char *s4[] = {nm->schema, nm->schema, nm->schema, nm->schema};
            if (!pgq_tmpl_script(q, "pgl_guard_schema", 4, s4)) {
                pgq_seterr(err, errcap, "creating schema %s: %s", nm->schema, q->err);
                return false;
            }
        }
        const char *a[] = {nm->schema};
        if (!pgq_tmpl_script(q, "pgl_held_jobs_table", 1, a)) {
            pgq_seterr(err, errcap, "creating the held-jobs record: %s", q->err);
            return false;
        }
        PGresult *r = pgq_tmpl_exec(q, "pgl_cron_hold", 1, a, 0, NULL);
        if (!r) {
            pgq_seterr(err, errcap, "holding pg_cron jobs: %s", q->err);
            return false;
        }
        *jobs_held = atoi(PQcmdTuples(r));
        PQclear(r);
    }
    return true;
}

static bool sub_get(pgq *q, const pgl_db_names *nm, pgl_sub_info *out, char *oid, size_t oidcap,
                    char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {nm->subscription};
    bool v15 = pgq_server_version(q) >= 150000;
    PGresult *r = pgq_exec(q, pgq_sql(v15 ? "pgl_sub_get" : "pgl_sub_get_pg14"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "subscription %s: %s", nm->subscription, q->err);
        return false;
    }
    if (PQntuples(r) > 0) {
        out->exists = true;
        if (oid) fc_strlcpy(oid, PQgetvalue(r, 0, 0), oidcap);
        out->enabled = PQgetvalue(r, 0, 1)[0] == 't';
        if (!lsn_parse(PQgetvalue(r, 0, 3), &out->remote_lsn)) out->remote_lsn = FC_LSN_INVALID;
        out->apply_errors = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
        out->sync_errors = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    }
    PQclear(r);
    return true;
}

static bool sub_count(pgq *q, const char *sql, const pgl_db_names *nm, bool *yes, char *err, size_t errcap)
{
    const char *p[] = {nm->subscription};
    char v[16];
    if (!pgq_scalar(q, pgq_sql(sql), 1, p, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "subscription %s: %s", nm->subscription, q->err);
        return false;
    }
    *yes = atoi(v) > 0;
    return true;
}

bool pgl_sub_exists(pgq *q, const pgl_db_names *nm, bool *exists, char *err, size_t errcap)
{
    return sub_count(q, "pgl_sub_exists", nm, exists, err, errcap);
}

bool pgl_sub_enabled(pgq *q, const pgl_db_names *nm, bool *enabled, char *err, size_t errcap)
{
    return sub_count(q, "pgl_sub_enabled", nm, enabled, err, errcap);
}

/* sql[i] (one parameter p[i], or none when NULL) sent on every q[i] whose sql[i] is not NULL
 * first, then every answer read: one round trip's wait for all of them
 * (each q[i] its own session, e.g. one per database). r[i]: the answer,
 * NULL when not sent or failed (q[i]->sqlstate says why). false when any
 * sent query failed, *failed its index. Every sent query is read before
 * returning, so every session stays usable. */
static bool exec_each(pgq *const *q, int n, char *const *sql, const char *const *p, PGresult **r, int *failed)
{
    int *np = calloc((size_t)n + 1, sizeof *np);
    const char *const **pp = calloc((size_t)n + 1, sizeof *pp);
    bool ok = np && pp;
    for (int i = 0; ok && i < n; i++) {
        np[i] = p[i] ? 1 : 0;
        pp[i] = p[i] ? &p[i] : NULL;
    }
    if (ok) ok = pgl_exec_each(q, n, (const char *const *)sql, np, pp, r, failed);
    else *failed = 0;
    free(np);
    free(pp);
    return ok;
}

/* exec_each's arrays for n sessions (each_free frees the sql[] it owns). */
typedef struct each_buf {
    char **sql;
    const char **p;
    PGresult **r;
} each_buf;

static bool each_alloc(each_buf *b, int n)
{
    b->sql = calloc((size_t)n + 1, sizeof *b->sql);
    b->p = calloc((size_t)n + 1, sizeof *b->p);
    b->r = calloc((size_t)n + 1, sizeof *b->r);
    return b->sql && b->p && b->r;
}

static void each_free(each_buf *b, int n, bool own_sql)
{
    for (int i = 0; b->r && i < n; i++) PQclear(b->r[i]);
    for (int i = 0; own_sql && b->sql && i < n; i++) free(b->sql[i]);
    free(b->sql);
    free(b->p);
    free(b->r);
}

bool pgl_subs_enabled(pgq *const *q, const pgl_db_names *nm, int n, bool *enabled, int *pids, int *npids,
                      int pidcap, int *failed, char *err, size_t errcap)
{
    each_buf b;
    bool mem = each_alloc(&b, n), ok = mem;
    for (int i = 0; ok && i < n; i++) {
        b.sql[i] = (char *)pgq_sql("pgl_sub_enabled_workers");
        b.p[i] = nm[i].subscription;
    }
    *failed = 0;
    *npids = 0;
    ok = ok && exec_each(q, n, b.sql, b.p, b.r, failed);
    if (!mem) pgq_seterr(err, errcap, "out of memory");
    else if (!ok) pgq_seterr(err, errcap, "subscription %s: %s", nm[*failed].subscription, q[*failed]->err);
    for (int i = 0; ok && i < n; i++) {
        enabled[i] = atoi(PQgetvalue(b.r[i], 0, 0)) > 0;
        for (const char *p = PQgetvalue(b.r[i], 0, 1); *p && *npids < pidcap;) {
            char *end = NULL;
            long pid = strtol(p, &end, 10);
            if (end == p) break;
            if (pid > 0) pids[(*npids)++] = (int)pid;
            p = *end == ',' ? end + 1 : end;
        }
    }
    each_free(&b, n, false);
    return ok;
}

bool pgl_subs_disable(pgq *const *q, const pgl_db_names *nm, int n, const bool *todo, int *failed, char *err,
                      size_t errcap)
{
    each_buf b;
    bool mem = each_alloc(&b, n), ok = mem;
    char **sql = b.sql;
    const char **p = b.p;
    PGresult **r = b.r;
    *failed = 0;
    for (int i = 0; ok && i < n; i++) {
        const char *a[] = {nm[i].subscription};
        if (todo[i] && !(sql[i] = pgq_format(q[i], pgq_sql("pgl_sub_disable"), 1, a))) {
            ok = false;
            *failed = i;
        }
        p[i] = NULL; /* DDL: no parameter */
    }
    if (ok) {
        exec_each(q, n, sql, p, r, failed);
        for (int i = 0; i < n && ok; i++) {
            /* gone meanwhile (42704): nothing to disable */
            if (sql[i] && !r[i] && strcmp(q[i]->sqlstate, "42704") != 0) {
                ok = false;
                *failed = i;
            } else if (r[i]) {
                log_info("subscription disabled", "subscription=%s", nm[i].subscription);
            }
        }
        if (!ok) pgq_seterr(err, errcap, "disabling subscription %s: %s", nm[*failed].subscription, q[*failed]->err);
    } else {
        pgq_seterr(err, errcap, "disabling the subscriptions: %s", mem ? q[*failed]->err : "out of memory");
    }
    each_free(&b, n, true);
    return ok;
}

bool pgl_sub_status(pgq *q, const pgl_db_names *nm, pgl_sub_info *out, char *err, size_t errcap)
{
    return sub_get(q, nm, out, NULL, 0, err, errcap);
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static bool copy_field(dbuf *b, const char *v, bool last)
{
    for (const char *p = v ? v : ""; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
        if (esc ? !dbuf_appends(b, esc) : !dbuf_append(b, p, 1)) return false;
    }
    return dbuf_appends(b, last ? "\n" : "\t");
}

/* One row into pg_temp.fc_sub_args through COPY FROM STDIN: COPY data is
 * never written to the server log, whatever log_statement says. */
static bool copy_sub_args(pgq *q, const dbuf *row)
{
    PGresult *r = PQexec(q->conn, pgq_sql("pgl_sub_args_copy"));
    bool ok = r && PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok) {
        pgq_set_error(q, "COPY of the subscription's arguments did not start: %s", PQerrorMessage(q->conn));
        return false;
    }
    ok = PQputCopyData(q->conn, row->data, (int)row->len) == 1;
    if (PQputCopyEnd(q->conn, ok ? NULL : "aborted") != 1) ok = false;
    while ((r = PQgetResult(q->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) ok = false;
        PQclear(r);
    }
    if (!ok) pgq_set_error(q, "COPY of the subscription's arguments failed: %s", PQerrorMessage(q->conn));
    return ok;
}

/* CREATE SUBSCRIPTION with the connection string (and its password) kept
 * out of every statement the target logs and out of every error: the
 * arguments travel as COPY data into a temporary table dropped at commit,
 * a fixed DO block executes the statement and re-raises a failure with the
 * password masked (db/sql/pgl_sub_create.sql); q->err is scrubbed again here. */
static bool create_subscription_with(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source,
                                     bool copy_data, char *err, size_t errcap);

static bool create_subscription(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source, char *err,
                                size_t errcap)
{
    return create_subscription_with(q, nm, source, false, err, errcap);
}

bool pgl_create_copying_subscription(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source, char *err,
                                     size_t errcap)
{
    return create_subscription_with(q, nm, source, true, err, errcap);
}

static bool create_subscription_with(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source,
                                     bool copy_data, char *err, size_t errcap)
{
    dbuf ci, row;
    dbuf_init(&ci, 8192);
    dbuf_init(&row, 16384);
    bool ok = pgq_conninfo_string(source, &ci);
    if (!ok) {
        dbuf_free_secure(&ci);
        pgq_seterr(err, errcap, "connection string too long");
        return false;
    }
    ok = copy_field(&row, nm->subscription, false) && copy_field(&row, ci.data, false) &&
         copy_field(&row, nm->publication, false) && copy_field(&row, nm->slot, false) &&
         copy_field(&row, source->password, false) && copy_field(&row, copy_data ? "t" : "f", true);
    dbuf_free_secure(&ci);
    if (!ok) {
        dbuf_free_secure(&row);
        pgq_seterr(err, errcap, "subscription arguments too long");
        return false;
    }
    ok = pgq_cmd(q, "BEGIN", 0, NULL) && pgq_cmd(q, pgq_sql("pgl_sub_args"), 0, NULL) && copy_sub_args(q, &row) &&
         pgq_cmd(q, pgq_sql("pgl_sub_create"), 0, NULL) && pgq_cmd(q, "COMMIT", 0, NULL);
    dbuf_free_secure(&row);
    if (ok) return true;
    pgq_redact(q->err, source->password);
    char saved[sizeof q->err], state[sizeof q->sqlstate];
    fc_strlcpy(saved, q->err, sizeof saved);
    fc_strlcpy(state, q->sqlstate, sizeof state);
    PGresult *r = PQexec(q->conn, "ROLLBACK");
    PQclear(r);
    fc_strlcpy(q->err, saved, sizeof q->err);
    fc_strlcpy(q->sqlstate, state, sizeof q->sqlstate);
    if (!strcmp(q->sqlstate, "42710")) return true; /* created by a concurrent attempt */
    pgq_seterr(err, errcap, "creating subscription %s: %s", nm->subscription, q->err);
    return false;
}

bool pgl_subscribe(pgq *q, const pgl_db_names *nm, const pgq_conninfo *source, fc_lsn start,
                      char *err, size_t errcap)
{
    char a[FC_LSN_STRLEN], b[FC_LSN_STRLEN];
    pgl_sub_info si;
    if (start == FC_LSN_INVALID) {
        pgq_seterr(err, errcap, "no start LSN");
        return false;
    }
    if (!sub_get(q, nm, &si, NULL, 0, err, errcap)) return false;
    if (!si.exists) {
        if (!create_subscription(q, nm, source, err, errcap)) return false;
        if (!sub_get(q, nm, &si, NULL, 0, err, errcap)) return false;
        if (!si.exists) {
            pgq_seterr(err, errcap, "subscription %s missing right after creation", nm->subscription);
            return false;
        }
    }
    if (si.enabled) {
        /* already running: the origin was set by an earlier attempt */
        if (si.remote_lsn != FC_LSN_INVALID && si.remote_lsn < start) {
            pgq_seterr(err, errcap,
                          "subscription %s is enabled with origin at %s, before the start %s: "
                          "refusing (it would apply transactions twice)",
                          nm->subscription, lsn_format(si.remote_lsn, a), lsn_format(start, b));
            return false;
        }
        return true;
    }
    if (si.remote_lsn == FC_LSN_INVALID) {
        lsn_format(start, a);
        const char *p[] = {nm->subscription, a};
        PGresult *r = pgq_exec(q, pgq_sql("pgl_origin_advance"), 2, p);
        if (!r || PQntuples(r) != 1) {
            pgq_seterr(err, errcap, "advancing the origin of %s to %s: %s", nm->subscription, a,
                          r ? "subscription not found or enabled" : q->err);
            PQclear(r);
            return false;
        }
        PQclear(r);
        log_info("origin advanced", "subscription=%s lsn=%s", nm->subscription, a);
    } else if (si.remote_lsn != start) {
        /* disabled after it made progress: an apply error (disable_on_error)
         * or an operator; never move the origin back, never re-enable blindly */
        pgq_seterr(err, errcap,
                      "subscription %s is disabled with origin at %s (start was %s): apply errors "
                      "%lld; it stopped after progress, look at the target's log",
                      nm->subscription, lsn_format(si.remote_lsn, a), lsn_format(start, b),
                      (long long)si.apply_errors);
        return false;
    }
    const char *e[] = {nm->subscription};
    if (!pgq_tmpl_script(q, "pgl_sub_enable", 1, e)) {
        pgq_seterr(err, errcap, "enabling %s: %s", nm->subscription, q->err);
        return false;
    }
    return true;
}

bool pgl_teardown_target(pgq *q, const pgl_db_names *nm, char *err, size_t errcap)
{
    pgl_sub_info si;
    if (!sub_get(q, nm, &si, NULL, 0, err, errcap)) return false;
    if (!si.exists) return true;
    const char *a[] = {nm->subscription};
    /* the slot belongs to the source and is dropped there, directly */
    if (!pgq_tmpl_script(q, "pgl_sub_disable", 1, a) || !pgq_tmpl_script(q, "pgl_sub_detach_slot", 1, a) ||
        !pgq_tmpl_script(q, "pgl_sub_drop", 1, a)) {
        if (strcmp(q->sqlstate, "42704") == 0) return true;
        pgq_seterr(err, errcap, "dropping subscription %s: %s", nm->subscription, q->err);
        return false;
    }
    log_info("subscription dropped", "subscription=%s", nm->subscription);
    return true;
}

bool pgl_resume_teardown(pgq *q, const pgl_db_names *nm, bool *resumed, char *err, size_t errcap)
{
    *resumed = false;
    pgl_sub_info si;
    if (!sub_get(q, nm, &si, NULL, 0, err, errcap)) return false;
    /* enabled, gone, or disabled by an apply error (disable_on_error): not ours to undo */
    if (!si.exists || si.enabled || si.apply_errors > 0 || si.sync_errors > 0) return true;
    const char *a[] = {nm->subscription, nm->slot};
    if (!pgq_tmpl_script(q, "pgl_sub_attach_slot", 2, a) || !pgq_tmpl_script(q, "pgl_sub_enable", 1, a)) {
        pgq_seterr(err, errcap, "re-enabling subscription %s: %s", nm->subscription, q->err);
        return false;
    }
    *resumed = true;
    log_warn("subscription re-enabled after an interrupted teardown", "subscription=%s slot=%s",
             nm->subscription, nm->slot);
    return true;
}

bool pgl_cleanup_target(pgq *q, const pgl_db_names *nm, int *jobs_released, char *err, size_t errcap)
{
    *jobs_released = 0;
    bool have = false;
    if (!schema_exists(q, nm->schema, &have)) {
        pgq_seterr(err, errcap, "schema %s: %s", nm->schema, q->err);
        return false;
    }
    if (!have) return true;
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_cron_present"), 0, NULL, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "looking for pg_cron: %s", q->err);
        return false;
    }
    if (atoi(v) > 0) {
        const char *a[] = {nm->schema};
        /* the held-jobs table exists only where jobs were held */
        PGresult *r = pgq_tmpl_exec(q, "pgl_cron_release", 1, a, 0, NULL);
        if (r) {
            *jobs_released = atoi(PQcmdTuples(r));
            PQclear(r);
        } else if (strcmp(q->sqlstate, "42P01") != 0) {
            pgq_seterr(err, errcap, "releasing held pg_cron jobs: %s", q->err);
            return false;
        }
    }
    const char *t1[] = {nm->guard_end}, *t2[] = {nm->guard_drop}, *s[] = {nm->schema};
    if (!pgq_tmpl_script(q, "pgl_event_trigger_drop", 1, t1) ||
        !pgq_tmpl_script(q, "pgl_event_trigger_drop", 1, t2) || !pgq_tmpl_script(q, "pgl_schema_drop", 1, s)) {
        pgq_seterr(err, errcap, "dropping fleetcrypt's schema on the target: %s", q->err);
        return false;
    }
    return true;
}
