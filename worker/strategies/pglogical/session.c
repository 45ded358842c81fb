/* session — a pg-logical step's database session (pglogical_common.h):
 * the per-instance names, the database list, credentials through the
 * campaign's --db-secret (and the RDS-managed master secret's rotation),
 * endpoints, the server identity check, the lease's fence carried into the
 * databases, libpq connections per side and role, SQL error -> step_rc and
 * the jump to `abort`. Options: options.c; the watch: watch.c; RDS
 * instance helpers: instances.c. */
#include "pglogical_common.h"
#include "pglogical.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "awsxacct.h"
#include "log.h"
#include "msecret.h"
#include "pgl_db_extra.h"
#include "pgfence.h"
#include "util.h"

/* ---------------------------------------------------------------- session */
void pgl_session_init(pgl_session *s, step_ctx *ctx, step_result *res)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->res = res;
    if (!pgl_make_tag(step_ctx_campaign(ctx), step_ctx_instance(ctx), s->tag, sizeof s->tag))
        fc_strlcpy(s->tag, "invalid", sizeof s->tag);
    /* "dbs": database names, one per line (preflight refuses names with a newline) */
    const char *dbs = pgl_fact(ctx, "dbs");
    const char *p = dbs;
    while (*p && s->ndbs < PGL_MAX_DBS) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > 0) {
            char *d = malloc(n + 1);
            if (!d) break;
            memcpy(d, p, n);
            d[n] = 0;
            s->dbs[s->ndbs++] = d;
        }
        if (!nl) break;
        p = nl + 1;
    }
}

void pgl_session_finish(pgl_session *s)
{
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < PGL_MAX_DBS; i++) {
                pgq_close(s->conn[a][b][i]);
                s->conn[a][b][i] = NULL;
            }
    memset(s->fenced, 0, sizeof s->fenced);
    for (int i = 0; i < s->nextra; i++) pgq_close(s->extra[i]);
    s->nextra = 0;
    for (int i = 0; i < s->ndbs; i++) free(s->dbs[i]);
    s->ndbs = 0;
    db_credentials_free(s->cred);
    s->cred = NULL;
    fc_wipe(s->admin_pw, sizeof s->admin_pw);
    fc_wipe(s->sub_pw, sizeof s->sub_pw);
}

bool pgl_names(pgl_session *s, const char *db, pgl_db_names *nm)
{
    char err[200];
    if (!pgl_names_make(s->tag, db, nm, err, sizeof err)) {
        PGL_REASON(s->res, "names for %s: %s", db, err);
        return false;
    }
    return true;
}

pgq *pgl_names_conn(pgl_session *s, const char *db, pgl_side side, pgl_who who, pgl_db_names *nm, step_rc *rc)
{
    if (!pgl_names(s, db, nm)) {
        *rc = STEP_FAIL;
        return NULL;
    }
    return pgl_conn(s, side, who, db, rc);
}

/* The secret version fleetcrypt's role passwords derive from ("" = the one
 * just read): with an RDS-managed secret, the version prepare-source
 * recorded, pinned as fact role_secret_version at its first use there —
 * master_secret_version moves on with every propagation to the target, the
 * roles keep the passwords they were created with. */
static void role_secret_version(pgl_session *s, const dbsecret_ref *ref, char *out, size_t cap)
{
    out[0] = 0;
    if (ref->kind != DBSECRET_RDS_MANAGED || !*pgl_fact(s->ctx, "master_secret_arn")) return;
    fc_strlcpy(out, pgl_fact(s->ctx, "role_secret_version"), cap);
    if (*out) return;
    fc_strlcpy(out, pgl_fact(s->ctx, "master_secret_version"), cap);
    if (*out) step_ctx_set_fact(s->ctx, "role_secret_version", out);
}

bool pgl_ensure_creds(pgl_session *s, step_rc *rc)
{
    if (s->cred) return true;
    step_ctx *ctx = s->ctx;
    dbsecret_ref ref;
    char err[512];
    if (!dbsecret_parse(pgl_cfield(ctx, "db_secret"), &ref, err, sizeof err)) {
        PGL_REASON(s->res, "db secret: %s", err);
        *rc = STEP_FAIL;
        return false;
    }
    aws_client *c = ref.kind == DBSECRET_FILE ? NULL : step_ctx_aws(ctx);
    char arn[512];
    fc_strlcpy(arn, pgl_fact(ctx, "master_secret_arn"), sizeof arn);
    /* credentials are the source's (current version: RDS sets a rotated
     * password on the source at once); the target follows (pgl_conn) */
    if (!dbsecret_resolve_version(c, &ref, step_ctx_instance(ctx), arn, NULL, &s->cred, s->cred_version,
                                  sizeof s->cred_version, err, sizeof err)) {
        PGL_REASON(s->res, "database credentials: %s", err);
        *rc = STEP_RETRY;
        return false;
    }
    if (ref.kind != DBSECRET_RDS_MANAGED) s->cred_version[0] = 0;
    char rv[128];
    role_secret_version(s, &ref, rv, sizeof rv);
    db_credentials *pinned = NULL;
    if (*rv && strcmp(rv, s->cred_version) != 0 &&
        !dbsecret_resolve_version(c, &ref, step_ctx_instance(ctx), arn, rv, &pinned, NULL, 0, err, sizeof err)) {
        PGL_REASON(s->res, "fleetcrypt's role passwords derive from the master secret as of prepare-source: %s",
                   err);
        *rc = STEP_RETRY;
        goto fail;
    }
    const char *base = pinned ? pinned->password : s->cred->password;
    bool ok = pgl_derive_password(base, "admin", s->tag, s->admin_pw) &&
              pgl_derive_password(base, "sub", s->tag, s->sub_pw);
    db_credentials_free(pinned);
    if (ok) return true;
    PGL_REASON(s->res, "cannot derive fleetcrypt's role passwords (empty master password?)");
    *rc = STEP_FAIL;
fail:
    db_credentials_free(s->cred);
    s->cred = NULL;
    fc_wipe(s->admin_pw, sizeof s->admin_pw);
    fc_wipe(s->sub_pw, sizeof s->sub_pw);
    return false;
}

/* Before the first master-user connection to the target in a step: the
 * source's RDS-managed secret moved past the version the target has (fact
 * master_secret_version: the snapshot's, or the last one set on it) → set
 * the current password on the target (msecret_follow: ModifyDBInstance
 * MasterUserPassword, ApplyImmediately) and WAIT on it; the re-run waits
 * for the target to be available again (fact master_secret_pending) before
 * connecting. Not in `abort`: the target is deleted there anyway. Costs no
 * AWS call unless the secret rotated (cred_version comes with the read). */
static step_rc follow_target_secret(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    char arn[512], tid[64], have[128];
    fc_strlcpy(arn, pgl_fact(ctx, "master_secret_arn"), sizeof arn);
    fc_strlcpy(tid, pgl_fact(ctx, "target_id"), sizeof tid);
    fc_strlcpy(have, pgl_fact(ctx, "master_secret_version"), sizeof have);
    const char *step = step_ctx_step(ctx);
    if (!*s->cred_version || !*arn || !*have || !*tid || (step && !strcmp(step, "abort"))) return STEP_OK;
    if (!strcmp(have, s->cred_version)) {
        if (strcmp(pgl_fact(ctx, "master_secret_pending"), "1") != 0) return STEP_OK;
        static const char *const ok[] = {"available", NULL};
        step_cache_view v;
        step_rc rc = awsstep_await(ctx, res, "db", tid, "master_secret_synced_at", ok, NULL, &v);
        if (rc == STEP_OK) res->wait_on[0] = 0;
        return rc;
    }
    msecret_result mr;
    step_rc rc = pgl_msecret_follow(ctx, res, tid, arn, have, false,
                                    "the source's master secret was rotated, the target waits for it",
                                    "setting the rotated master secret's password on the target", &mr);
    if (rc != STEP_OK) return rc;
    switch (mr.action) {
    case MSECRET_PROPAGATE:
        step_ctx_set_fact(ctx, "master_secret_version", mr.version);
        awsstep_mark(ctx, "master_secret_synced_at");
        step_ctx_set_fact(ctx, "master_secret_pending", "1");
        res->wait_ms = 2000;
        awsstep_wait_on(ctx, res, "db", tid);
        PGL_REASON(res, "the source's master secret was rotated (version %s): its password is being set on %s",
                   mr.version, tid);
        return STEP_WAIT;
    case MSECRET_IN_SYNC: /* AWSCURRENT is the target's version again: a read raced a rotation */
        res->wait_ms = 1000;
        PGL_REASON(res, "the master secret's current version changed while it was read: reading it again");
        return STEP_WAIT;
    case MSECRET_TARGET_MANAGED:
        PGL_REASON(res, "%s manages its own master secret now: its password is not the source's (use --db-secret)",
                   tid);
        return STEP_FAIL;
    case MSECRET_NO_SECRET:
        break;
    }
    return STEP_OK;
}

step_rc pgl_msecret_follow(step_ctx *ctx, step_result *res, const char *tid, const char *arn, const char *have,
                           bool need_available, const char *busy, const char *what, msecret_result *mr)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *t = pgl_describe(ctx, res, tid, &missing, &rc);
    if (!t) return rc;
    aws_error e;
    aws_error_clear(&e);
    bool ok = false;
    if (need_available && strcmp(t->status, "available") != 0) {
        aws_error_set(&e, AWS_ERR_TRANSIENT, 0, "TargetNotAvailable", "%s is %s", tid, t->status);
    } else if (!step_ctx_lease_ok(ctx)) {
        rds_instance_free(t);
        return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    } else {
        ok = msecret_follow(c, awsxacct_client_for(ctx, tid), arn, have, t, mr, &e);
    }
    rds_instance_free(t);
    if (!ok) {
        if (!strcmp(e.code, "TargetNotAvailable") || !strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 2000;
            awsstep_wait_on(ctx, res, "db", tid);
            PGL_REASON(res, "%s: %.300s", busy, e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, what);
    }
    return STEP_OK;
}

bool pgl_endpoint(pgl_session *s, pgl_side side, char *host, size_t hcap, int *port)
{
    static const char *const hf[] = {"address", "target_address", "retired_address"};
    static const char *const pf[] = {"port", "target_port", "retired_port"};
    const char *h = pgl_fact(s->ctx, hf[side]);
    *port = (int)pgl_fact_i64(s->ctx, pf[side], 0);
    if (!*h || *port <= 0) return false;
    return fc_strlcpy(host, h, hcap);
}

/* ---------------------------------------------------------------- identity */
static const char *const SIDE_ROLE[] = {"source", "target", "source"};
static const char *const SIDE_NAME[] = {"source", "target", "retired source"};

/* Which of our servers does this marker name? -1: none of ours. */
static int marker_side(pgl_session *s, const char *marker)
{
    char want[PGFENCE_MARKER_MAX];
    for (int k = 0; k < 2; k++) {
        const char *nonce = pgl_fact(s->ctx, k == 0 ? "source_marker" : "target_marker");
        if (*nonce && pgfence_marker_make(s->tag, SIDE_ROLE[k], nonce, want, sizeof want) && !strcmp(want, marker))
            return k;
    }
    return -1;
}

/* Is the server behind this new connection the one `side` means? After a
 * rename an endpoint name keeps reaching the old server for a while (RDS
 * DNS), so a name proves nothing: the system identifier (recorded from the
 * source; a restored target shares it) and fleetcrypt's marker do. Markers
 * are set once per side, while names are still unambiguous: the source's on
 * its first connection, the target's on its first connection by its own
 * fc-…-target endpoint (never after the switch). STEP_WAIT while a name
 * still reaches the other side's server, STEP_FAIL for a server that is
 * neither. */
UNITTEST step_rc check_identity(pgl_session *s, pgl_side side, pgq *q, const pgl_db_names *nm, const char *host,
                                int port)
{
    step_ctx *ctx = s->ctx;
    char sysid[32], marker[PGFENCE_MARKER_MAX], err[512];
    bool role_exists = false;
    if (!pgfence_identity(q, nm->admin_role, sysid, sizeof sysid, marker, sizeof marker, &role_exists, err,
                          sizeof err))
        return pgl_sql_fail(s->res, q, "identifying the server", err);
    bool switched = !strcmp(pgl_fact(ctx, "switched"), "1");
    /* a cluster filled by initial copy (initial_copy.h) is a new server:
     * its own system identifier, recorded on its first connection */
    bool ic = !strcmp(pgl_fact(ctx, "initial_copy"), "1");
    bool own_sys = ic && side == PGL_TARGET;
    const char *want_sys = pgl_fact(ctx, own_sys ? "target_sysid" : "sysid");
    if (!*want_sys && own_sys && !switched) {
        step_ctx_set_fact(ctx, "target_sysid", sysid);
        want_sys = sysid;
    }
    /* after a rename a name may still reach the other cluster for a while */
    const char *other_sys = ic ? pgl_fact(ctx, own_sys ? "sysid" : "target_sysid") : "";
    if (*want_sys && strcmp(want_sys, sysid) != 0 && *other_sys && !strcmp(other_sys, sysid)) {
        s->res->wait_ms = 2000;
        PGL_REASON(s->res, "the %s's endpoint %s:%d still reaches the other cluster (DNS has not followed the "
                   "rename yet): waiting", SIDE_NAME[side], host, port);
        return STEP_WAIT;
    }
    if (*want_sys && strcmp(want_sys, sysid) != 0) {
        PGL_REASON(s->res, "the %s's endpoint %s:%d reaches another database server (system identifier %s, "
                   "expected %s): refusing to act on it", SIDE_NAME[side], host, port, sysid, want_sys);
        return STEP_FAIL;
    }
    if (!*want_sys && side == PGL_SOURCE && !switched) step_ctx_set_fact(ctx, "sysid", sysid);
    const char *fact = side == PGL_TARGET ? "target_marker" : "source_marker";
    const char *nonce = pgl_fact(ctx, fact);
    int at = *marker ? marker_side(s, marker) : -1;
    int want = side == PGL_TARGET ? 1 : 0;
    if (*nonce) {
        if (at == want) return STEP_OK;
        if (at >= 0) {
            s->res->wait_ms = 2000;
            PGL_REASON(s->res, "the %s's endpoint %s:%d still reaches the %s server (DNS has not followed the "
                       "rename yet): waiting", SIDE_NAME[side], host, port, SIDE_ROLE[at]);
            return STEP_WAIT;
        }
        PGL_REASON(s->res, "the %s's endpoint %s:%d reaches a server fleetcrypt did not mark as the %s "
                   "(marker \"%.80s\"): refusing to act on it", SIDE_NAME[side], host, port, SIDE_ROLE[want],
                   marker);
        return STEP_FAIL;
    }
    /* no marker recorded for this side yet */
    if (!role_exists || side == PGL_RETIRED) return STEP_OK; /* before prepare-source / an older campaign */
    if (switched || (side == PGL_TARGET && !strcmp(pgl_fact(ctx, "target_id"), step_ctx_instance(ctx)))) {
        PGL_REASON(s->res, "the %s was never marked before the switch: cannot tell which server %s:%d is",
                   SIDE_NAME[side], host, port);
        return STEP_FAIL;
    }
    if (side == PGL_TARGET && at == 1) return STEP_OK; /* cannot happen without the fact; be lenient */
    char n[17], m[PGFENCE_MARKER_MAX];
    snprintf(n, sizeof n, "%08llx%08llx", (unsigned long long)fc_rand_below(0xffffffffULL),
             (unsigned long long)fc_rand_below(0xffffffffULL));
    if (!pgfence_marker_make(s->tag, SIDE_ROLE[want], n, m, sizeof m)) {
        PGL_REASON(s->res, "marker does not fit");
        return STEP_FAIL;
    }
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(s->res, "lease lost"), STEP_RETRY);
    if (!pgfence_mark(q, nm->admin_role, m, err, sizeof err)) return pgl_sql_fail(s->res, q, "marking", err);
    step_ctx_set_fact(ctx, fact, n);
    log_info("server marked", "side=%s endpoint=%s:%d", SIDE_ROLE[want], host, port);
    return STEP_OK;
}

/* ---------------------------------------------------------------- fence */
static const char *fence_row(pgl_side side) { return side == PGL_TARGET ? "target" : "source"; }

static step_rc fence_fail(pgl_session *s, pgq *q, pgfence_rc fr, pgl_side side, const char *err)
{
    if (fr == PGFENCE_NEWER) {
        PGL_REASON(s->res, "fenced out on the %s: %s", SIDE_NAME[side], err);
        log_warn("fenced out: a newer holder owns this instance's database", "side=%s err=\"%s\"",
                 SIDE_NAME[side], err);
        return STEP_RETRY;
    }
    if (fr == PGFENCE_MISSING) {
        PGL_REASON(s->res, "the %s has no fleetcrypt fence (%s)", SIDE_NAME[side], err);
        return STEP_FAIL;
    }
    return pgl_sql_fail(s->res, q, "fence", err);
}

step_rc pgl_fence(pgl_session *s, pgl_side side)
{
    if (s->fenced[side]) return STEP_OK;
    step_rc rc = STEP_OK;
    pgl_db_names nm;
    pgq *q = pgl_names_conn(s, s->dbs[0], side, PGL_AS_ADMIN, &nm, &rc);
    if (!q) return rc;
    if (!step_ctx_lease_ok(s->ctx)) return (PGL_REASON(s->res, "lease lost"), STEP_RETRY);
    char err[512];
    pgfence_rc fr = pgfence_take(q, nm.schema, fence_row(side), step_ctx_fence(s->ctx), NULL, 0, err, sizeof err);
    if (fr != PGFENCE_OK) return fence_fail(s, q, fr, side, err);
    s->fenced[side] = true;
    return STEP_OK;
}

step_rc pgl_block_writers(pgl_session *s, pgl_side side, int timeout_ms, fc_lsn *lsn, int *roles)
{
    step_rc rc = pgl_fence(s, side);
    if (rc != STEP_OK) return rc;
    pgl_db_names nm;
    pgq *q = pgl_names_conn(s, s->dbs[0], side, PGL_AS_ADMIN, &nm, &rc);
    if (!q) return rc;
    char **protect = NULL;
    int nprotect = 0;
    char err[1024];
    if (!pgl_protected_roles(q, pgl_fact(s->ctx, "master_user"), &protect, &nprotect, err, sizeof err))
        return pgl_sql_fail(s->res, q, "roles the block leaves alone", err);
    pgl_block_result br;
    if (!step_ctx_lease_ok(s->ctx)) rc = (PGL_REASON(s->res, "lease lost"), STEP_RETRY);
    else if (!pgl_cutover_block(q, &nm, (const char *const *)protect, nprotect, timeout_ms, &br, err, sizeof err))
        rc = pgl_sql_fail(s->res, q, side == PGL_TARGET ? "blocking writers on the target"
                                                        : "blocking writers on the source", err);
    pgl_free_list(protect, nprotect);
    if (rc != STEP_OK) return rc;
    if (br.warning[0]) log_warn("block warning", "side=%d warning=\"%s\"", side, br.warning);
    if (lsn) *lsn = br.lsn;
    if (roles) *roles = br.roles_blocked;
    return STEP_OK;
}

pgq *pgl_fenced_begin(pgl_session *s, pgl_side side, bool *drained, step_rc *rc)
{
    pgl_db_names nm;
    pgq *q = pgl_names_conn(s, s->dbs[0], side, PGL_AS_ADMIN, &nm, rc);
    if (!q) return NULL;
    if (!step_ctx_lease_ok(s->ctx)) {
        PGL_REASON(s->res, "lease lost");
        *rc = STEP_RETRY;
        return NULL;
    }
    char err[512];
    bool d = false;
    pgfence_rc fr = pgfence_begin(q, nm.schema, fence_row(side), step_ctx_fence(s->ctx), &d, err, sizeof err);
    if (fr != PGFENCE_OK) {
        *rc = fence_fail(s, q, fr, side, err);
        return NULL;
    }
    if (drained) *drained = d;
    return q;
}

step_rc pgl_fenced_commit(pgl_session *s, pgq *q)
{
    char err[512];
    if (pgfence_commit(q, err, sizeof err)) return STEP_OK;
    return pgl_sql_fail(s->res, q, "fenced commit", err);
}

step_rc pgl_fence_drained(pgl_session *s, pgl_side side, bool *drained)
{
    step_rc rc = STEP_OK;
    pgl_db_names nm;
    pgq *q = pgl_names_conn(s, s->dbs[0], side, PGL_AS_ADMIN, &nm, &rc);
    if (!q) return rc;
    char err[512], h[64];
    pgfence_rc fr = pgfence_state(q, nm.schema, fence_row(side), h, sizeof h, drained, err, sizeof err);
    if (fr != PGFENCE_OK) return fence_fail(s, q, fr, side, err);
    return STEP_OK;
}

step_rc pgl_fence_mark_drained(pgl_session *s, pgl_side side, bool drained)
{
    /* the fence taken and the mark set in one statement (pgfence_take_drained):
     * one round trip inside the window, where a fenced transaction took five */
    step_rc rc = STEP_OK;
    pgl_db_names nm;
    pgq *q = pgl_names_conn(s, s->dbs[0], side, PGL_AS_ADMIN, &nm, &rc);
    if (!q) return rc;
    if (!step_ctx_lease_ok(s->ctx)) return (PGL_REASON(s->res, "lease lost"), STEP_RETRY);
    char err[512];
    pgfence_rc fr = pgfence_take_drained(q, nm.schema, fence_row(side), step_ctx_fence(s->ctx), drained, err,
                                         sizeof err);
    if (fr != PGFENCE_OK) return fence_fail(s, q, fr, side, err);
    s->fenced[side] = true;
    return STEP_OK;
}

static int db_index(pgl_session *s, const char *db)
{
    for (int i = 0; i < s->ndbs; i++)
        if (!strcmp(s->dbs[i], db)) return i;
    return -1;
}

void pgl_session_answer_by(pgl_session *s, int64_t mono_ms)
{
    s->answer_by = mono_ms > 0 ? mono_ms : 0;
    for (size_t a = 0; a < FC_ARRAY_LEN(s->conn); a++)
        for (size_t b = 0; b < FC_ARRAY_LEN(s->conn[a]); b++)
            for (size_t i = 0; i < FC_ARRAY_LEN(s->conn[a][b]); i++)
                if (s->conn[a][b][i]) pgq_set_answer_by(s->conn[a][b][i], s->answer_by);
    for (int i = 0; i < s->nextra; i++) pgq_set_answer_by(s->extra[i], s->answer_by);
}

pgq *pgl_conn(pgl_session *s, pgl_side side, pgl_who who, const char *db, step_rc *rc)
{
    int idx = db_index(s, db);
    pgq **slot = idx >= 0 ? &s->conn[side][who][idx] : NULL;
    if (slot && *slot) {
        if (PQstatus((*slot)->conn) == CONNECTION_OK) return *slot;
        pgq_close(*slot);
        *slot = NULL;
    }
    if (!pgl_ensure_creds(s, rc)) return NULL;
    bool target_master = side == PGL_TARGET && who == PGL_AS_MASTER;
    if (target_master && !s->target_checked) {
        step_rc frc = follow_target_secret(s);
        if (frc != STEP_OK) {
            *rc = frc;
            return NULL;
        }
        s->target_checked = true;
    }
    char host[256];
    int port = 0;
    if (!pgl_endpoint(s, side, host, sizeof host, &port)) {
        PGL_REASON(s->res, "the %s's endpoint is not known yet", SIDE_NAME[side]);
        *rc = STEP_FAIL;
        return NULL;
    }
    pgl_db_names nm;
    if (!pgl_names(s, db, &nm)) {
        *rc = STEP_FAIL;
        return NULL;
    }
    pgq_conninfo ci;
    memset(&ci, 0, sizeof ci);
    ci.host = host;
    ci.port = port;
    ci.dbname = db;
    ci.user = who == PGL_AS_ADMIN ? nm.admin_role : s->cred->username;
    ci.password = who == PGL_AS_ADMIN ? s->admin_pw : s->cred->password;
    ci.sslmode = pgl_sslmode();
    ci.sslrootcert = pgl_sslrootcert();
    ci.connect_timeout_s = 10;
    ci.statement_timeout_ms = 300000;
    ci.application_name = "fleetcrypt";
    char err[512];
    pgq *q = pgq_connect(&ci, err, sizeof err);
    bool pending = target_master && !strcmp(pgl_fact(s->ctx, "master_secret_pending"), "1");
    if (!q) {
        PGL_REASON(s->res, "connecting to the %s (%s:%d/%s as %s): %s", SIDE_NAME[side], host, port, db, ci.user,
                   err);
        *rc = STEP_RETRY;
        if (pending && fc_now_ms() - pgl_fact_i64(s->ctx, "master_secret_synced_at", 0) < 600000) {
            /* RDS may still be applying the rotated password: not a failed attempt */
            s->res->wait_ms = 3000;
            s->target_checked = false;
            *rc = STEP_WAIT;
        }
        return NULL;
    }
    if (pending) step_ctx_set_fact(s->ctx, "master_secret_pending", "0");
    pgq_set_answer_by(q, s->answer_by);
    step_rc irc = check_identity(s, side, q, &nm, host, port);
    if (irc != STEP_OK) {
        pgq_close(q);
        *rc = irc;
        return NULL;
    }
    if (slot) {
        *slot = q;
    } else if (s->nextra < (int)FC_ARRAY_LEN(s->extra)) {
        s->extra[s->nextra++] = q;
    } else {
        pgq_close(q);
        PGL_REASON(s->res, "too many connections to databases outside the replicated set");
        *rc = STEP_FAIL;
        return NULL;
    }
    return q;
}

void pgl_conn_drop(pgl_session *s, pgl_side side, pgl_who who, const char *db)
{
    int idx = db_index(s, db);
    if (idx < 0) return;
    pgq_close(s->conn[side][who][idx]);
    s->conn[side][who][idx] = NULL;
}

step_rc pgl_sql_fail(step_result *res, const pgq *q, const char *what, const char *err)
{
    PGL_REASON(res, "%s: %s", what, err && *err ? err : (q ? q->err : "failed"));
    const char *st = q ? q->sqlstate : "";
    if (!q || !st[0] || PQstatus(q->conn) != CONNECTION_OK) return STEP_RETRY; /* connection trouble */
    if (!strncmp(st, "08", 2) || !strncmp(st, "57P", 3) || !strncmp(st, "53", 2) || !strncmp(st, "40", 2) ||
        !strcmp(st, "57014") || !strcmp(st, "55006") || !strcmp(st, "55P03"))
        return STEP_RETRY;
    return STEP_FAIL;
}

step_rc pgl_abort_now(step_ctx *ctx, step_result *res, const char *why)
{
    log_warn("aborting the instance", "why=\"%s\"", why);
    step_ctx_set_fact(ctx, "abort_reason", why);
    step_ctx_set_fact(ctx, "abort_auto", "1");
    PGL_REASON(res, "aborting: %s", why);
    fc_strlcpy(res->next, "abort", sizeof res->next);
    return STEP_NEXT;
}
