/* pgl_cutover — the write-unavailable window on the source: block every
 * writer (NOLOGIN + ending sessions), take L, wait for the slots, copy the
 * sequences; and the way back (unblock) and out (teardown). */
#include "pgl_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Roles never blocked: RDS's own (the block could not alter them anyway). */
static const char *const ALWAYS_PROTECTED[] = {"rdsadmin", "rdsrepladmin", "rdstopmgr", "rds_superuser",
                                               "rds_replication", "rdsproxyadmin"};

/* Build a PostgreSQL text[] literal ({"a","b"}) for a parameter value. */
static bool array_literal(dbuf *b, const char *const *items, int n)
{
    if (!dbuf_appends(b, "{")) return false;
    for (int i = 0; i < n; i++) {
        if (i && !dbuf_appends(b, ",")) return false;
        if (!dbuf_appends(b, "\"")) return false;
        for (const char *p = items[i]; *p; p++) {
            if ((*p == '"' || *p == '\\') && !dbuf_appends(b, "\\")) return false;
            if (!dbuf_append(b, p, 1)) return false;
        }
        if (!dbuf_appends(b, "\"")) return false;
    }
    return dbuf_appends(b, "}");
}

/* Recorded roles (the block's record in this database). */
static PGresult *blocked_list(pgq *q, const pgl_db_names *nm)
{
    const char *a[] = {nm->schema};
    return pgq_tmpl_exec(q, "pgl_blocked_list", 1, a, 0, NULL);
}

/* Terminate every session of the given roles until none is left. A
 * backend that passed authentication just before NOLOGIN committed may not
 * show in pg_stat_activity yet: done only at an empty listing taken at
 * least END_SESSIONS_GAP_MS after the block (the caller's NOLOGIN, committed
 * before this is called) and after the last termination of a login session
 * (a client backend or walsender) — one gap, not a
 * series of empty listings: what such a backend needs to show is time, and
 * a later empty listing proves no more than the first one after the gap. */
#define END_SESSIONS_GAP_MS PGL_QUIET_GAP_MS
/* gap_ms 0: only until a listing is empty (pgl_cutover_block_unsettled,
 * pgl_end_client_sessions); *quiet_from: when the block was committed (the
 * gap runs from there), moved to the last termination of a login session
 * (what a later settle must count its gap from); listing: which sessions
 * (the SQL's name). */
static bool end_sessions_from(pgq *q, const char *listing, const char *roles_array, int timeout_ms, int gap_ms,
                              int64_t *quiet_from, int *terminated, bool *login_ended, const int *own, int nown,
                              char *err, size_t errcap)
{
    int64_t deadline = fc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
    const char *p[] = {roles_array};
    for (;;) {
        PGresult *r = pgq_exec(q, pgq_sql(listing), 1, p);
        if (!r) {
            pgq_seterr(err, errcap, "listing sessions: %s", q->err);
            return false;
        }
        int n = PQntuples(r), others = 0;
        for (int i = 0; i < n; i++) {
            bool mine = false;
            for (int k = 0; k < nown; k++) mine = mine || atoi(PQgetvalue(r, i, 0)) == own[k];
            others += !mine;
        }
        if (others == 0) {
            /* the caller's own sessions, closed by it already (no
             * transaction open, no client left to send anything): ended,
             * not waited for — the listing counts as empty */
            for (int i = 0; i < n; i++) {
                const char *pid[] = {PQgetvalue(r, i, 0)};
                char ok[8];
                if (pgq_scalar(q, pgq_sql("pgl_terminate_pid"), 1, pid, ok, sizeof ok, NULL) && ok[0] == 't')
                    (*terminated)++;
            }
            PQclear(r);
            int64_t left = *quiet_from + gap_ms - fc_mono_ms();
            if (left <= 0) return true;
            fc_sleep_ms(left); /* list once more when the gap is over */
            continue;
        }
        if (fc_mono_ms() > deadline) {
            pgq_seterr(err, errcap, "%d session(s) survive termination, e.g. pid %s of %s on %s (%s)",
                          n, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                          PQgetvalue(r, 0, 3));
            PQclear(r);
            return false;
        }
        bool login = false;
        for (int i = 0; i < n; i++) {
            const char *pid[] = {PQgetvalue(r, i, 0)};
            const char *type = PQgetvalue(r, i, 3);
            /* the gap restarts after a login session's end; a background
             * worker (a disabled subscription's apply worker on the
             * target) never passes a login check */
            bool mine = false; /* the caller's own sessions, closed by it already: ended, no gap for them */
            for (int k = 0; k < nown; k++) mine = mine || atoi(pid[0]) == own[k];
            login = login || (!mine && (!strcmp(type, "client backend") || !strcmp(type, "walsender")));
            char ok[8];
            if (pgq_scalar(q, pgq_sql("pgl_terminate_pid"), 1, pid, ok, sizeof ok, NULL) && ok[0] == 't')
                (*terminated)++;
        }
        PQclear(r);
        if (login) *quiet_from = fc_mono_ms();
        if (login && login_ended) *login_ended = true;
        /* a terminated backend takes a moment to leave the listing (gap 0:
         * nothing else to wait for, look again soon) */
        fc_sleep_ms(gap_ms > 0 ? 50 : 10);
    }
}

UNITTEST bool end_sessions(pgq *q, const char *roles_array, int timeout_ms, int *terminated, char *err,
                           size_t errcap)
{
    /* the block is committed: the gap runs from here */
    int64_t from = fc_mono_ms();
    return end_sessions_from(q, "pgl_block_sessions", roles_array, timeout_ms, END_SESSIONS_GAP_MS, &from, terminated,
                             NULL, NULL, 0, err, errcap);
}

bool pgl_end_client_sessions(pgq *q, const char *role, int timeout_ms, int *terminated, char *err, size_t errcap)
{
    dbuf lit;
    dbuf_init(&lit, 4096);
    const char *one[] = {role};
    bool ok = array_literal(&lit, one, 1);
    if (!ok) pgq_seterr(err, errcap, "out of memory");
    /* no gap: nothing was made NOLOGIN, this is not the block */
    int64_t from = fc_mono_ms();
    ok = ok && end_sessions_from(q, "pgl_role_client_sessions", lit.data, timeout_ms, 0, &from, terminated, NULL, NULL,
                                 0, err, errcap);
    dbuf_free(&lit);
    return ok;
}

/* The roles a block leaves alone, as a text[] literal: ours, RDS's, the caller's. */
static bool protect_literal(dbuf *prot, const pgl_db_names *nm, const char *const *protect, int nprotect)
{
    int np = 0;
    const char *list[256];
    list[np++] = nm->admin_role;
    list[np++] = nm->sub_role;
    for (size_t i = 0; i < FC_ARRAY_LEN(ALWAYS_PROTECTED); i++) list[np++] = ALWAYS_PROTECTED[i];
    for (int i = 0; i < nprotect && np < (int)FC_ARRAY_LEN(list); i++) list[np++] = protect[i];
    return array_literal(prot, list, np);
}

/* record: pgl_cutover_block; else pgl_cutover_preblock (NOLOGIN only, the
 * sessions of the roles it made NOLOGIN ended, no L). unsettled (with
 * record): pgl_cutover_block_unsettled. */
static bool block_roles(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect, int timeout_ms,
                        bool record, bool unsettled, const int *own, int nown, pgl_block_result *out, char *err,
                        size_t errcap)
{
    memset(out, 0, sizeof *out);
    bool ok = false;
    dbuf prot, blocked;
    dbuf_init(&prot, 1u << 20);
    dbuf_init(&blocked, 1u << 20);
    PGresult *r = NULL;

    /* protected: ours, RDS's, the caller's */
    if (!protect_literal(&prot, nm, protect, nprotect)) goto oom;

    /* 1. record, then NOLOGIN: a crash between the two leaves a record of a
     *    role that can still log in, which unblock handles (LOGIN is a no-op) */
    const char *pp[] = {prot.data};
    r = pgq_exec(q, pgq_sql("pgl_block_candidates"), 1, pp);
    if (!r) {
        pgq_seterr(err, errcap, "listing login roles: %s", q->err);
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *role = PQgetvalue(r, i, 0);
        const char *a[] = {nm->schema};
        const char *v[] = {role};
        PGresult *ins = record ? pgq_tmpl_exec(q, "pgl_block_record", 1, a, 1, v) : NULL;
        if (record && !ins) {
            pgq_seterr(err, errcap, "recording role %s: %s", role, q->err);
            goto done;
        }
        PQclear(ins);
        const char *b[] = {role};
        if (!pgq_tmpl_script(q, "pgl_role_nologin", 1, b)) {
            pgq_seterr(err, errcap, "ALTER ROLE %s NOLOGIN: %s", role, q->err);
            goto done;
        }
        out->roles_new++;
        log_info(record ? "role blocked" : "role blocked ahead (unrecorded)", "role=%s", role);
    }
    if (record) {
        /* 2. every role in the record (this attempt's and earlier ones') */
        PQclear(r);
        r = blocked_list(q, nm);
        if (!r) {
            pgq_seterr(err, errcap, "reading the block record: %s", q->err);
            goto done;
        }
    }
    out->roles_blocked = PQntuples(r);
    const char **names = calloc((size_t)out->roles_blocked + 1, sizeof *names);
    if (!names) goto oom;
    dbuf rl;
    dbuf_init(&rl, sizeof out->roles - 1);
    for (int i = 0; i < out->roles_blocked; i++) {
        names[i] = PQgetvalue(r, i, 0);
        if (!dbuf_printf(&rl, "%s%s", i ? "," : "", names[i])) { /* truncated list is fine */
        }
    }
    fc_strlcpy(out->roles, rl.data ? rl.data : "", sizeof out->roles);
    dbuf_free(&rl);
    bool built = array_literal(&blocked, names, out->roles_blocked);
    free(names);
    if (!built) goto oom;

    /* 3. end their sessions, in every database, until none is left */
    out->quiet_from = fc_mono_ms();
    if (!end_sessions_from(q, "pgl_block_sessions", blocked.data, timeout_ms, unsettled ? 0 : END_SESSIONS_GAP_MS,
                           &out->quiet_from, &out->sessions_terminated, &out->login_ended, own, nown, err, errcap))
        goto done;
    /* 4.–5. (pgl_block_lsn) */
    ok = !record || unsettled || pgl_block_lsn(q, out, err, errcap);
    goto done;
oom:
    pgq_seterr(err, errcap, "out of memory");
done:
    PQclear(r);
    dbuf_free(&prot);
    dbuf_free(&blocked);
    return ok;
}

bool pgl_block_lsn(pgq *q, pgl_block_result *out, char *err, size_t errcap)
{
    /* 4. prepared transactions could still commit: warn loudly */
    char pc[16];
    PGresult *px = pgq_exec(q, pgq_sql("pgl_prepared_xacts"), 0, NULL);
    if (px) {
        fc_strlcpy(pc, PQgetvalue(px, 0, 0), sizeof pc);
        if (atoi(pc) > 0)
            snprintf(out->warning, sizeof out->warning,
                     "%s prepared transaction(s) can still commit: %s", pc, PQgetvalue(px, 0, 1));
        PQclear(px);
    }

    /* 5. L, after the block, the WAL flushed to it first (the drain waits
     *    for no WAL writer: the walsenders send only flushed WAL) */
    if (!pgq_cmd(q, pgq_sql("pgl_flush_wal"), 0, NULL)) {
        pgq_seterr(err, errcap, "flushing the WAL: %s", q->err);
        return false;
    }
    char l[FC_LSN_STRLEN + 8];
    if (!pgq_scalar(q, pgq_sql("pgl_insert_lsn"), 0, NULL, l, sizeof l, NULL) || !lsn_parse(l, &out->lsn)) {
        pgq_seterr(err, errcap, "reading the WAL position: %s", q->err);
        return false;
    }
    log_info("writers blocked", "roles=%d sessions_terminated=%d lsn=%s", out->roles_blocked,
             out->sessions_terminated, l);
    return true;
}

bool pgl_cutover_block(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect,
                          int timeout_ms, pgl_block_result *out, char *err, size_t errcap)
{
    return block_roles(q, nm, protect, nprotect, timeout_ms, true, false, NULL, 0, out, err, errcap);
}

bool pgl_cutover_block_unsettled(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect,
                                 int timeout_ms, const int *own, int nown, pgl_block_result *out, char *err,
                                 size_t errcap)
{
    return block_roles(q, nm, protect, nprotect, timeout_ms, true, true, own, nown, out, err, errcap);
}

bool pgl_block_settle(pgq *q, const pgl_db_names *nm, int64_t quiet_from, int timeout_ms, int *terminated,
                      char *err, size_t errcap)
{
    *terminated = 0;
    PGresult *r = blocked_list(q, nm);
    if (!r) {
        pgq_seterr(err, errcap, "reading the block record: %s", q->err);
        return false;
    }
    int n = PQntuples(r);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    dbuf roles;
    dbuf_init(&roles, 1u << 20);
    bool ok = names != NULL;
    for (int i = 0; ok && i < n; i++) names[i] = PQgetvalue(r, i, 0);
    ok = ok && array_literal(&roles, names, n);
    free(names);
    if (!ok) pgq_seterr(err, errcap, "out of memory");
    else if (n > 0)
        ok = end_sessions_from(q, "pgl_block_sessions", roles.data, timeout_ms, END_SESSIONS_GAP_MS, &quiet_from,
                               terminated, NULL, NULL, 0, err, errcap);
    dbuf_free(&roles);
    PQclear(r);
    return ok;
}

bool pgl_role_set_login(pgq *q, const char *role, bool login, char *err, size_t errcap)
{
    const char *a[] = {role};
    if (pgq_tmpl_script(q, login ? "pgl_role_login" : "pgl_role_nologin", 1, a)) return true;
    pgq_seterr(err, errcap, "ALTER ROLE %s %s: %s", role, login ? "LOGIN" : "NOLOGIN", q->err);
    return false;
}

bool pgl_block_has_role(pgq *q, const pgl_db_names *nm, const char *role, bool *has, char *err, size_t errcap)
{
    *has = false;
    PGresult *r = blocked_list(q, nm);
    if (!r) {
        pgq_seterr(err, errcap, "reading the block record: %s", q->err);
        return false;
    }
    for (int i = 0; i < PQntuples(r) && !*has; i++) *has = !strcmp(PQgetvalue(r, i, 0), role);
    PQclear(r);
    return true;
}

bool pgl_role_can_login(pgq *q, const char *role, bool *can, char *err, size_t errcap)
{
    const char *p[] = {role};
    PGresult *r = pgq_exec(q, pgq_sql("pgl_role_exists"), 1, p);
    if (!r) {
        pgq_seterr(err, errcap, "role %s: %s", role, q->err);
        return false;
    }
    *can = PQntuples(r) > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return true;
}

bool pgl_cutover_preblock(pgq *q, const pgl_db_names *nm, const char *const *protect, int nprotect,
                          int timeout_ms, pgl_block_result *out, char *err, size_t errcap)
{
    return block_roles(q, nm, protect, nprotect, timeout_ms, false, false, NULL, 0, out, err, errcap);
}

bool pgl_wait_flush(pgq *q, const char *slot, fc_lsn l, int timeout_ms, fc_lsn *flushed, char *err,
                       size_t errcap)
{
    return pgl_wait_flush_nudged(q, NULL, slot, l, timeout_ms, flushed, err, errcap);
}

/* One nudge (pgl_wait_flush_nudged): the subscriber's WAL flushed, then a
 * flushed message on the source. Best effort. */
#define NUDGE_FIRST_MS 20
#define NUDGE_EVERY_MS 60
void pgl_flush_nudge(pgq *src, pgq *sub)
{
    if (!pgq_cmd(sub, pgq_sql("pgl_flush_wal"), 0, NULL)) log_debug("drain nudge: subscriber", "err=\"%s\"", sub->err);
    if (!pgq_cmd(src, pgq_sql("pgl_flush_wal"), 0, NULL)) log_debug("drain nudge: source", "err=\"%s\"", src->err);
}

bool pgl_wait_flush_nudged(pgq *q, pgq *sub, const char *slot, fc_lsn l, int timeout_ms, fc_lsn *flushed,
                           char *err, size_t errcap)
{
    int64_t next_nudge = fc_mono_ms() + NUDGE_FIRST_MS;
    char want[FC_LSN_STRLEN], got[FC_LSN_STRLEN + 8] = "";
    lsn_format(l, want);
    int64_t t0 = fc_mono_ms(), deadline = t0 + (timeout_ms > 0 ? timeout_ms : 60000);
    const char *p[] = {slot, want};
    *flushed = FC_LSN_INVALID;
    for (;;) {
        PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_flushed"), 2, p);
        if (!r) {
            pgq_seterr(err, errcap, "slot %s: %s", slot, q->err);
            return false;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            pgq_seterr(err, errcap, "slot %s does not exist", slot);
            return false;
        }
        fc_strlcpy(got, PQgetvalue(r, 0, 0), sizeof got);
        bool active = PQgetvalue(r, 0, 1)[0] == 't';
        bool done = PQgetvalue(r, 0, 2)[0] == 't';
        PQclear(r);
        lsn_parse(got, flushed);
        if (done) return true;
        if (fc_mono_ms() > deadline) {
            pgq_seterr(err, errcap, "slot %s confirmed only %s of %s after %d ms (%s)", slot,
                          got[0] ? got : "nothing", want, timeout_ms, active ? "consumer connected"
                                                                              : "no consumer connected");
            return false;
        }
        if (sub && fc_mono_ms() >= next_nudge) {
            pgl_flush_nudge(q, sub);
            next_nudge = fc_mono_ms() + NUDGE_EVERY_MS;
            continue; /* look again at once */
        }
        fc_sleep_ms(fc_mono_ms() - t0 < 1000 ? 10 : 50); /* writers wait: look often at first */
    }
}

bool pgl_unblock(pgq *q, const pgl_db_names *nm, int *restored, char *err, size_t errcap)
{
    *restored = 0;
    const char *s[] = {nm->schema};
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_schema_exists"), 1, s, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "schema %s: %s", nm->schema, q->err);
        return false;
    }
    if (atoi(v) == 0) return true; /* nothing was ever blocked from this database */
    PGresult *r = blocked_list(q, nm);
    if (!r) {
        pgq_seterr(err, errcap, "reading the block record: %s", q->err);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *role = PQgetvalue(r, i, 0);
        const char *a[] = {role};
        if (!pgq_tmpl_script(q, "pgl_role_login", 1, a) && strcmp(q->sqlstate, "42704") != 0) {
            pgq_seterr(err, errcap, "ALTER ROLE %s LOGIN: %s", role, q->err);
            PQclear(r);
            return false;
        }
        const char *p[] = {role};
        PGresult *d = pgq_tmpl_exec(q, "pgl_block_forget", 1, s, 1, p);
        if (!d) {
            pgq_seterr(err, errcap, "forgetting role %s: %s", role, q->err);
            PQclear(r);
            return false;
        }
        PQclear(d);
        (*restored)++;
        log_info("role unblocked", "role=%s", role);
    }
    PQclear(r);
    return true;
}

/* Sequences the session's role cannot read (or, with need_update, set) on
 * one side, from r (pgl_sequences_unreadable, cleared here): false with err
 * naming them and the GRANT to run. */
static bool sequences_readable(pgq *q, PGresult *r, bool need_update, const char *side, char *err, size_t errcap)
{
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return true;
    }
    dbuf l;
    dbuf_init(&l, 400);
    for (int i = 0; i < n && i < 20; i++) dbuf_printf(&l, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
    if (n > 20) dbuf_printf(&l, ", ... (%d in all)", n);
    const char *user = PQuser(q->conn);
    pgq_seterr(err, errcap,
                  "%d sequence(s) on the %s that %s cannot %s: %s (their values would be lost and inserts "
                  "collide after the cutover); GRANT %s ON SEQUENCE <each> TO %s, or make it a member of "
                  "their owner",
                  n, side, user ? user : "fleetcrypt's role", need_update ? "read and set" : "read",
                  l.data ? l.data : "", need_update ? "SELECT, UPDATE" : "SELECT", user ? user : "it");
    dbuf_free(&l);
    PQclear(r);
    return false;
}

/* One database's sequences (its source's pgl_sequences listing) checked
 * before any is set: *used those with a value to carry (is_called). */
static bool sequences_listed(pgq *src, PGresult *r, int *used, int *unused, char *err, size_t errcap)
{
    *used = *unused = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (PQgetvalue(r, i, 4)[0] != 't') { /* privileges changed since the check */
            pgq_seterr(err, errcap, "sequence %s.%s on the source cannot be read by %s: GRANT SELECT ON it",
                          PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQuser(src->conn) ? PQuser(src->conn) : "?");
            return false;
        }
        /* readable and never used on the source (is_called false): the
         * target's copy, from an older snapshot, cannot be ahead of it */
        if (PQgetisnull(r, i, 2)) (*unused)++;
        else (*used)++;
    }
    return true;
}

/* The row of r's k-th used sequence (-1: none). */
static int used_row(PGresult *r, int k)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (!PQgetisnull(r, i, 2) && k-- == 0) return i;
    return -1;
}

bool pgl_sync_sequences_each(pgq *const *src, pgq *const *dst, const pgl_db_names *nm, int n, int64_t margin,
                             int *count, int *failed, char *err, size_t errcap)
{
    *count = 0;
    *failed = 0;
    int m = 2 * n;
    pgq **q = calloc((size_t)m + 1, sizeof *q);
    const char **sql = calloc((size_t)m + 1, sizeof *sql);
    int *np = calloc((size_t)m + 1, sizeof *np);
    const char *const **pp = calloc((size_t)m + 1, sizeof *pp);
    const char **pv = calloc((size_t)(4 * m) + 1, sizeof *pv);
    PGresult **r = calloc((size_t)m + 1, sizeof *r), **list = calloc((size_t)n + 1, sizeof *list);
    int *used = calloc((size_t)n + 1, sizeof *used);
    bool ok = q && sql && np && pp && pv && r && list && used;
    char mg[32];
    snprintf(mg, sizeof mg, "%lld", (long long)(margin >= 0 ? margin : 0));
    if (!ok) {
        pgq_seterr(err, errcap, "out of memory");
        goto done;
    }
    /* 1. never skip a sequence silently: every one must be readable on the
     *    source and readable and settable on the target, else fail naming
     *    them — every database, both sides at once */
    for (int i = 0; i < n; i++) {
        q[2 * i] = src[i];
        q[2 * i + 1] = dst[i];
        for (int k = 0; k < 2; k++) {
            const char **v = &pv[4 * (2 * i + k)];
            v[0] = nm[i].schema;
            v[1] = k ? "true" : "false";
            sql[2 * i + k] = pgq_sql("pgl_sequences_unreadable");
            np[2 * i + k] = 2;
            pp[2 * i + k] = v;
        }
    }
    int bad = -1;
    if (!pgl_exec_each(q, m, sql, np, pp, r, &bad)) {
        pgq_seterr(err, errcap, "checking sequence privileges on the %s: %s", bad % 2 ? "target" : "source",
                   q[bad]->err);
        *failed = bad / 2;
        ok = false;
    }
    for (int i = 0; i < m; i++) {
        PGresult *one = r[i];
        r[i] = NULL;
        if (ok && !sequences_readable(q[i], one, i % 2, i % 2 ? "target" : "source", err, errcap)) {
            *failed = i / 2;
            ok = false;
        } else if (!ok) {
            PQclear(one);
        }
    }
    if (!ok) goto done;
    /* 2. every source's sequences and their values, at once */
    for (int i = 0; i < n; i++) {
        sql[2 * i + 1] = NULL;
        pp[2 * i] = &pv[8 * i];
        np[2 * i] = 1;
        sql[2 * i] = pgq_sql("pgl_sequences");
    }
    if (!pgl_exec_each(q, m, sql, np, pp, r, &bad)) {
        pgq_seterr(err, errcap, "reading source sequences: %s", q[bad]->err);
        *failed = bad / 2;
        ok = false;
        goto done;
    }
    int rounds = 0;
    for (int i = 0; i < n; i++) {
        list[i] = r[2 * i];
        r[2 * i] = NULL;
        int unused = 0;
        if (!sequences_listed(src[i], list[i], &used[i], &unused, err, errcap)) {
            *failed = i;
            ok = false;
            goto done;
        }
        if (unused) log_info("sequences never used on the source left as they are", "count=%d", unused);
        if (used[i] > rounds) rounds = used[i];
    }
    /* 3. set: the k-th used sequence of every database at once */
    for (int k = 0; k < rounds; k++) {
        for (int i = 0; i < n; i++) {
            int row = k < used[i] ? used_row(list[i], k) : -1;
            sql[2 * i] = NULL;
            sql[2 * i + 1] = row >= 0 ? pgq_sql("pgl_sequence_set") : NULL;
            if (row < 0) continue;
            const char **v = &pv[4 * (2 * i + 1)];
            v[0] = PQgetvalue(list[i], row, 0);
            v[1] = PQgetvalue(list[i], row, 1);
            v[2] = PQgetvalue(list[i], row, 2);
            v[3] = mg;
            np[2 * i + 1] = 4;
            pp[2 * i + 1] = v;
        }
        pgl_exec_each(q, m, sql, np, pp, r, &bad); /* each answer looked at below */
        for (int i = 0; i < n; i++) {
            PGresult *a = r[2 * i + 1];
            r[2 * i + 1] = NULL;
            if (!sql[2 * i + 1]) continue;
            const char *const *v = pp[2 * i + 1];
            bool isnull = a && (PQntuples(a) < 1 || PQgetisnull(a, 0, 0));
            if (ok && (!a || isnull)) {
                pgq_seterr(err, errcap, "sequence %s.%s on the target: %s", v[0], v[1],
                           a ? "not found" : dst[i]->err);
                *failed = i;
                ok = false;
            } else if (ok) {
                log_debug("sequence synced", "schema=%s name=%s target=%s", v[0], v[1], PQgetvalue(a, 0, 0));
                (*count)++;
            }
            PQclear(a);
        }
        if (!ok) goto done;
    }
done:
    for (int i = 0; r && i < m; i++) PQclear(r[i]);
    for (int i = 0; list && i < n; i++) PQclear(list[i]);
    free(q);
    free(sql);
    free(np);
    free(pp);
    free(pv);
    free(r);
    free(list);
    free(used);
    return ok;
}

bool pgl_sync_sequences(pgq *src, pgq *dst, const pgl_db_names *nm, int64_t margin, int *count,
                           char *err, size_t errcap)
{
    int failed = 0;
    return pgl_sync_sequences_each(&src, &dst, nm, 1, margin, count, &failed, err, errcap);
}

bool pgl_teardown_source(pgq *q, const pgl_db_names *nm, bool keep_block_record, char *err,
                            size_t errcap)
{
    const char *s[] = {nm->schema};
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_schema_exists"), 1, s, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "schema %s: %s", nm->schema, q->err);
        return false;
    }
    bool have_schema = atoi(v) > 0;
    int still_blocked = 0;
    if (have_schema) {
        PGresult *r = blocked_list(q, nm);
        if (!r) {
            pgq_seterr(err, errcap, "reading the block record: %s", q->err);
            return false;
        }
        still_blocked = PQntuples(r);
        PQclear(r);
        if (still_blocked > 0 && !keep_block_record) {
            pgq_seterr(err, errcap,
                          "%d role(s) are still blocked (recorded in %s.blocked_roles): unblock first",
                          still_blocked, nm->schema);
            return false;
        }
    }
    /* slot first: its walsender (from the subscription) may still be there */
    const char *sp[] = {nm->slot};
    for (int attempt = 0; attempt < 100; attempt++) {
        PGresult *r = pgq_exec(q, pgq_sql("pgl_slot_get"), 1, sp);
        if (!r) {
            pgq_seterr(err, errcap, "slot %s: %s", nm->slot, q->err);
            return false;
        }
        bool exists = PQntuples(r) > 0, active = exists && PQgetvalue(r, 0, 3)[0] == 't';
        PQclear(r);
        if (!exists) break;
        if (active) {
            PGresult *a = pgq_exec(q, pgq_sql("pgl_target_slots"), 0, NULL);
            for (int i = 0; a && i < PQntuples(a); i++)
                if (strcmp(PQgetvalue(a, i, 0), nm->slot) == 0 && atoi(PQgetvalue(a, i, 2)) > 0) {
                    const char *pid[] = {PQgetvalue(a, i, 2)};
                    pgq_cmd(q, pgq_sql("pgl_terminate_pid"), 1, pid);
                }
            PQclear(a);
            fc_sleep_ms(100);
            continue;
        }
        if (!pgq_cmd(q, pgq_sql("pgl_drop_slot"), 1, sp) && strcmp(q->sqlstate, "42704") != 0 &&
            strcmp(q->sqlstate, "55006") != 0) {
            pgq_seterr(err, errcap, "dropping slot %s: %s", nm->slot, q->err);
            return false;
        }
        if (attempt == 99) {
            pgq_seterr(err, errcap, "slot %s stays in use", nm->slot);
            return false;
        }
    }
    /* the guard goes before anything it would record */
    const char *t1[] = {nm->guard_end}, *t2[] = {nm->guard_drop}, *pub[] = {nm->publication};
    if (!pgq_tmpl_script(q, "pgl_event_trigger_drop", 1, t1) ||
        !pgq_tmpl_script(q, "pgl_event_trigger_drop", 1, t2) ||
        !pgq_tmpl_script(q, "pgl_publication_drop", 1, pub)) {
        pgq_seterr(err, errcap, "dropping the guard/publication: %s", q->err);
        return false;
    }
    if (have_schema && still_blocked == 0 && !pgq_tmpl_script(q, "pgl_schema_drop", 1, s)) {
        pgq_seterr(err, errcap, "dropping schema %s: %s", nm->schema, q->err);
        return false;
    }
    log_info("source torn down", "slot=%s publication=%s kept_block_record=%d", nm->slot,
             nm->publication, still_blocked > 0);
    return true;
}
