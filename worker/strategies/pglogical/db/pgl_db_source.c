/* pgl_source — prepare-source (replica identity, DDL guard, publication,
 * slot), the slot's retained WAL and lag, and the DDL guard's findings. */
#include "pgfence.h"
#include "pgl_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* REPLICA IDENTITY FULL on every table lacking a usable identity, or fail
 * with the list when the campaign does not allow it. Runs before the
 * publication exists: once it does, UPDATE/DELETE on such tables fail. */
static bool fix_replica_identity(pgq *q, const pgl_db_names *nm, bool allow, char *err, size_t errcap)
{
    const char *p[] = {nm->schema};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_tables_without_identity"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "finding tables without replica identity: %s", q->err);
        return false;
    }
    int n = PQntuples(r);
    if (n > 0 && !allow) {
        pgq_seterr(err, errcap,
                      "%d table(s) without primary key or replica identity, first %s: "
                      "REPLICA IDENTITY FULL is not allowed by the campaign", n, PQgetvalue(r, 0, 0));
        PQclear(r);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const char *reg[] = {PQgetvalue(r, i, 1)};
        PGresult *t = pgq_exec(q, pgq_sql("pgl_table_by_reg"), 1, reg);
        if (!t || PQntuples(t) != 1) {
            pgq_seterr(err, errcap, "table %s: %s", PQgetvalue(r, i, 0), t ? "vanished" : q->err);
            PQclear(t);
            PQclear(r);
            return false;
        }
        const char *a[] = {PQgetvalue(t, 0, 0), PQgetvalue(t, 0, 1)};
        bool ok = pgq_tmpl_script(q, "pgl_set_replica_identity_full", 2, a);
        PQclear(t);
        if (!ok) {
            pgq_seterr(err, errcap, "REPLICA IDENTITY FULL on %s: %s", PQgetvalue(r, i, 0), q->err);
            PQclear(r);
            return false;
        }
        log_info("replica identity full", "table=%s", PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return true;
}

static bool event_trigger_exists(pgq *q, const char *name, bool *exists)
{
    const char *p[] = {name};
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_event_trigger_exists"), 1, p, v, sizeof v, NULL)) return false;
    *exists = atoi(v) > 0;
    return true;
}

/* The DDL guard: fleetcrypt's schema, the event log, the function and the
 * two event triggers (ddl_command_end, sql_drop). */
static bool own_ddl(pgq *q, const char *schema)
{
    const char *p[] = {schema};
    return pgq_cmd(q, pgq_sql("pgl_own_ddl"), 1, p);
}

/* fleetcrypt's schema, its tables and the guard function, created (or, on a
 * re-run of prepare-source, re-created) as fleetcrypt's own DDL: the guard,
 * already there on a re-run, does not record it. */
static bool guard_objects(pgq *q, const pgl_db_names *nm, char *err, size_t errcap)
{
    const char *s4[] = {nm->schema, nm->schema, nm->schema, nm->schema};
    const char *s5[] = {nm->schema, nm->schema, nm->schema, nm->schema, nm->schema};
    if (!pgq_tmpl_script(q, "pgl_guard_schema", 4, s4)) {
        pgq_seterr(err, errcap, "creating schema %s: %s", nm->schema, q->err);
        return false;
    }
    if (!pgfence_create(q, nm->schema, err, errcap)) return false;
    if (!pgq_tmpl_script(q, "pgl_guard_function", 5, s5)) {
        pgq_seterr(err, errcap, "creating the DDL guard function: %s", q->err);
        return false;
    }
    return true;
}

static bool ensure_guard(pgq *q, const pgl_db_names *nm, char *err, size_t errcap)
{
    if (!own_ddl(q, nm->schema)) {
        pgq_seterr(err, errcap, "marking fleetcrypt's own DDL: %s", q->err);
        return false;
    }
    bool made = guard_objects(q, nm, err, errcap);
    if (!own_ddl(q, "") && made) {
        pgq_seterr(err, errcap, "unmarking fleetcrypt's own DDL: %s", q->err);
        return false;
    }
    if (!made) return false;
    const char *trig[2] = {nm->guard_end, nm->guard_drop};
    const char *sql[2] = {"pgl_guard_trigger_end", "pgl_guard_trigger_drop"};
    for (int i = 0; i < 2; i++) {
        bool exists = false;
        if (!event_trigger_exists(q, trig[i], &exists)) {
            pgq_seterr(err, errcap, "event trigger %s: %s", trig[i], q->err);
            return false;
        }
        if (exists) continue;
        const char *a[] = {trig[i], nm->schema};
        if (!pgq_tmpl_script(q, sql[i], 2, a) && strcmp(q->sqlstate, "42710") != 0) {
            pgq_seterr(err, errcap,
                          "creating event trigger %s (needs superuser, or rds_superuser on RDS): %s",
                          trig[i], q->err);
            return false;
        }
    }
    return true;
}

bool pgl_ensure_publication(pgq *q, const pgl_db_names *nm, char *err, size_t errcap)
{
    const char *p[] = {nm->publication};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_publication_exists"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "publication %s: %s", nm->publication, q->err);
        return false;
    }
    int n = PQntuples(r);
    bool all = n > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (n > 0) {
        if (!all) {
            pgq_seterr(err, errcap, "publication %s exists but is not FOR ALL TABLES", nm->publication);
            return false;
        }
        return true;
    }
    const char *a[] = {nm->publication};
    if (!pgq_tmpl_script(q, "pgl_publication_create", 1, a) && strcmp(q->sqlstate, "42710") != 0) {
        pgq_seterr(err, errcap, "creating publication %s: %s", nm->publication, q->err);
        return false;
    }
    return true;
}

/* Name the transactions a waiting slot creation is blocked by. */
static void describe_blockers(pgq *q, char *out, size_t cap)
{
    PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_blockers"), 0, NULL);
    out[0] = 0;
    if (!r) {
        pgq_seterr(out, cap, "(cannot list transactions: %s)", q->err);
        return;
    }
    dbuf b;
    dbuf_init(&b, cap > 1 ? cap - 1 : 1);
    for (int i = 0; i < PQntuples(r); i++)
        if (!dbuf_printf(&b, "%spid %s (%s@%s) transaction open %ss, %s: %s", i ? "; " : "",
                         PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                         PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5)))
            break;
    fc_strlcpy(out, b.data ? b.data : "none found (they ended meanwhile)", cap);
    dbuf_free(&b);
    PQclear(r);
}

bool pgl_ensure_slot(pgq *q, const pgl_db_names *nm, int timeout_ms, fc_lsn *slot_lsn, char *err,
                     size_t errcap)
{
    const char *p[] = {nm->slot};
    char dbname[256];
    fc_strlcpy(dbname, PQdb(q->conn), sizeof dbname);
    PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_get"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "slot %s: %s", nm->slot, q->err);
        return false;
    }
    if (PQntuples(r) > 0) {
        bool ok = strcmp(PQgetvalue(r, 0, 0), "pgoutput") == 0 &&
                  strcmp(PQgetvalue(r, 0, 1), "logical") == 0 && strcmp(PQgetvalue(r, 0, 2), dbname) == 0;
        if (!ok) {
            pgq_seterr(err, errcap, "slot %s exists but is not a pgoutput slot of database %s",
                          nm->slot, dbname);
            PQclear(r);
            return false;
        }
        if (!lsn_parse(PQgetvalue(r, 0, 4), slot_lsn)) *slot_lsn = FC_LSN_INVALID;
        PQclear(r);
        return true;
    }
    PQclear(r);

    char ms[16];
    snprintf(ms, sizeof ms, "%d", timeout_ms > 0 ? timeout_ms : 60000);
    const char *st[] = {"statement_timeout", ms};
    if (!pgq_cmd(q, "SELECT set_config($1, $2, false)", 2, st)) {
        pgq_seterr(err, errcap, "setting the slot timeout: %s", q->err);
        return false;
    }
    char lsn[FC_LSN_STRLEN + 8];
    bool ok = pgq_scalar(q, pgq_sql("pgl_slot_create"), 1, p, lsn, sizeof lsn, NULL);
    char saved_state[6];
    fc_strlcpy(saved_state, q->sqlstate, sizeof saved_state);
    char saved_err[sizeof q->err];
    fc_strlcpy(saved_err, q->err, sizeof saved_err);
    const char *st0[] = {"statement_timeout", "60000"};
    pgq_cmd(q, "SELECT set_config($1, $2, false)", 2, st0);
    if (!ok) {
        if (strcmp(saved_state, "57014") == 0) { /* query_canceled: the timeout */
            char who[900];
            describe_blockers(q, who, sizeof who);
            pgq_seterr(err, errcap,
                          "creating slot %s waited %s ms for running transactions to finish: %s",
                          nm->slot, ms, who);
        } else if (strcmp(saved_state, "42710") == 0) { /* created concurrently */
            return pgl_ensure_slot(q, nm, timeout_ms, slot_lsn, err, errcap);
        } else {
            pgq_seterr(err, errcap, "creating slot %s: %s", nm->slot, saved_err);
        }
        return false;
    }
    if (!lsn_parse(lsn, slot_lsn)) {
        pgq_seterr(err, errcap, "slot %s: unexpected LSN %s", nm->slot, lsn);
        return false;
    }
    log_info("slot created", "slot=%s lsn=%s", nm->slot, lsn);
    return true;
}

bool pgl_prepare_source(pgq *q, const pgl_db_names *nm, const pgl_source_opts *o,
                           fc_lsn *slot_lsn, char *err, size_t errcap)
{
    *slot_lsn = FC_LSN_INVALID;
    /* 1. replica identities, first: after the publication exists it is too late */
    if (!fix_replica_identity(q, nm, o && o->replica_identity_full, err, errcap)) return false;
    /* 2. the guard, so every later schema change is seen (our own publication
     *    commands are ignored by it) */
    if (!ensure_guard(q, nm, err, errcap)) return false;
    /* 3. publication, 4. slot: both before the snapshot */
    if (!pgl_ensure_publication(q, nm, err, errcap)) return false;
    if (!pgl_ensure_slot(q, nm, o ? o->slot_timeout_ms : 0, slot_lsn, err, errcap)) return false;
    return true;
}

bool pgl_slot_status(pgq *q, const char *slot, pgl_slot_info *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {slot};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_retained"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "slot %s: %s", slot, q->err);
        return false;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return true;
    }
    out->exists = true;
    out->active = PQgetvalue(r, 0, 1)[0] == 't';
    lsn_parse(PQgetvalue(r, 0, 2), &out->current);
    if (!lsn_parse(PQgetvalue(r, 0, 3), &out->confirmed_flush)) out->confirmed_flush = FC_LSN_INVALID;
    out->retained_bytes = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    out->lag_bytes = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    fc_strlcpy(out->wal_status, PQgetvalue(r, 0, 6), sizeof out->wal_status);
    PQclear(r);
    return true;
}

bool pgl_ddl_check(pgq *q, const pgl_db_names *nm, int *count, char *events, size_t evcap,
                      char *err, size_t errcap)
{
    const char *a[] = {nm->schema};
    PGresult *r = pgq_tmpl_exec(q, "pgl_ddl_events", 1, a, 0, NULL);
    if (!r) {
        pgq_seterr(err, errcap, "reading the DDL guard's log: %s", q->err);
        return false;
    }
    *count = atoi(PQgetvalue(r, 0, 0));
    if (events && evcap) fc_strlcpy(events, PQgetvalue(r, 0, 1), evcap);
    PQclear(r);
    return true;
}

bool pgl_prepared_xacts(pgq *q, int *count, int64_t *oldest_age_s, char *desc, size_t desccap, char *err,
                           size_t errcap)
{
    *count = 0;
    *oldest_age_s = 0;
    if (desc && desccap) desc[0] = 0;
    PGresult *r = pgq_exec(q, pgq_sql("pgl_prepared_list"), 0, NULL);
    if (!r) {
        pgq_seterr(err, errcap, "listing prepared transactions: %s", q->err);
        return false;
    }
    int n = PQntuples(r);
    *count = n;
    if (n > 0) *oldest_age_s = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    size_t used = 0;
    for (int i = 0; i < n && desc && desccap; i++) {
        char one[400];
        snprintf(one, sizeof one, "%sgid '%.120s' (database %.63s, owner %.63s, prepared %s s ago)", i ? ", " : "",
                 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
        size_t l = strlen(one);
        if (used + l + 1 >= desccap) {
            snprintf(desc + used, desccap - used, "%s", used + 6 < desccap ? ", ..." : "");
            break;
        }
        memcpy(desc + used, one, l + 1);
        used += l;
    }
    PQclear(r);
    return true;
}
