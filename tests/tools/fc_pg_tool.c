/* fc_pg_tool — test driver: exposes the pg-logical data plane (worker/strategies/
 * pglogical/db/pgl_db*, lib/lsn) as subcommands so the integration tests can drive it against
 * real PostgreSQL servers. Output: key=value lines on stdout; errors on
 * stderr; exit 0 ok, 1 failure, 2 usage. Passwords are read from the
 * environment variables named by --password-env/--password2-env, never
 * from argv. Connection A (--host/--port/--db/--user) is the one the
 * command acts on; connection B (--host2 ...) is the other side: the
 * target for sync-sequences/verify/sync-privileges, the source the subscription connects
 * to for subscribe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsn.h"
#include "log.h"
#include "pgfence.h"
#include "pgq.h"
#include "pgl_db.h"
#include "pgl_db_privs.h"
#include "util.h"

typedef struct opts {
    pgq_conninfo a, b;
    const char *tag;
    uint64_t segsize;
    fc_lsn not_before, lsn;
    const char *line_prefix;
    long long restored_after;
    bool ri_full, keep_block, drop_slots, counts_only, keep_admin;
    const char *protect[32];
    int nprotect;
    int timeout_ms;
    long long margin, chunk_rows, budget_ms;
    const char *admin_pw_env, *sub_pw_env, *secret_env, *purpose, *phase;
    const char *also_db; /* sync-privileges, sync-sequences: a second database, both at once (the cutover's _each) */
} opts;

static void usage(void)
{
    fprintf(stderr,
            "usage: fc_pg_tool [options] COMMAND [ARG]\n"
            "commands: list-databases preflight create-roles prepare-source retained ddl-check\n"
            "          clean-target find-start-lsn FILE subscribe sub-status lag cutover-block\n"
            "          wait-flush sync-sequences unblock teardown-target teardown-source\n"
            "          drop-roles cleanup-target verify derive-password large-objects\n"
            "          prepared-xacts cron-guard sync-privileges\n"
            "          fence-take FENCE, fence-drain FENCE, fence-unblock FENCE (all on row 'source'), identity,\n"
            "          mark MARKER\n"
            "options:  --host --port --db --user --password-env VAR --sslmode (connection A)\n"
            "          --host2 --port2 --db2 --user2 --password2-env VAR (connection B)\n"
            "          --tag T --segsize BYTES --not-before LSN --lsn LSN --ri-full --keep-block\n"
            "          --line-prefix FMT (default PostgreSQL's \"%%m [%%p] \") --restored-after UNIX_SECONDS\n"
            "          --drop-slots --counts-only --keep-admin --protect ROLE --timeout-ms N\n"
            "          --margin N --chunk-rows N --admin-password-env VAR --sub-password-env VAR\n"
            "          --secret-env VAR --purpose P --phase roles|privileges|drop (sync-privileges)\n"
            "          --also-db DB (sync-privileges' privileges, sync-sequences: DB too, on both sides, at once)\n");
}

static const char *envpw(const char *var)
{
    return var ? getenv(var) : NULL;
}

static pgq *connect_or_die(const pgq_conninfo *ci)
{
    char err[1024];
    pgq *q = pgq_connect(ci, err, sizeof err);
    if (!q) fprintf(stderr, "error: %s\n", err);
    return q;
}

static bool need_tag(const opts *o, const char *db, pgl_db_names *nm)
{
    char err[256];
    if (!pgl_names_make(o->tag ? o->tag : "", db, nm, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return false;
    }
    return true;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    dbuf b;
    dbuf_init(&b, (size_t)1 << 30);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (!dbuf_append(&b, buf, n)) break;
    fclose(f);
    *len = b.len;
    char *s = dbuf_take(&b);
    return s ? s : strdup("");
}

static int cmd_find_start(const opts *o, const char *path)
{
    size_t len = 0;
    char *text = slurp(path, &len);
    if (!text) {
        fprintf(stderr, "error: cannot read %s\n", path);
        return 1;
    }
    lsn_log_opts lo = {.wal_segment_size = o->segsize, .not_before = o->not_before,
                       .line_prefix = o->line_prefix ? o->line_prefix : "%m [%p] ", /* local test servers */
                       .restored_after = o->restored_after};
    lsn_log_result r;
    char err[1024];
    bool ok = lsn_find_start(text, len, &lo, &r, err, sizeof err);
    free(text);
    if (!ok) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    char a[FC_LSN_STRLEN], b[FC_LSN_STRLEN], c[FC_LSN_STRLEN];
    printf("start_lsn=%s\nend_of_wal=%s\nredo_done=%s\nexact=%d\nkind=%s\nrecoveries=%d\nstartup_pid=%d\nstart_line=%zu\nsource_starts=%d\nlater_recoveries=%d\nmessage=%s\n",
           lsn_format(r.start_lsn, a), lsn_format(r.end_of_wal, b), lsn_format(r.redo_done, c), r.exact,
           r.kind == LSN_EOW_RECORD ? "record" : "page", r.recoveries, r.startup_pid, r.start_line, r.source_starts, r.later_recoveries, r.eow_message);
    return 0;
}

static int cmd_preflight(const opts *o, pgq *q)
{
    char err[1024];
    char **dbs = NULL;
    int n = 0;
    pgl_report rep;
    pgl_report_init(&rep);
    int rc = 1;
    if (!pgl_list_databases(q, &dbs, &n, err, sizeof err)) goto fail;
    if (!pgl_preflight_instance(q, n, &rep, err, sizeof err)) goto fail;
    for (int i = 0; i < n; i++) {
        pgq_conninfo ci = o->a;
        ci.dbname = dbs[i];
        pgq *d = connect_or_die(&ci);
        if (!d) goto out;
        pgl_db_names nm;
        bool ok = need_tag(o, dbs[i], &nm) &&
                  pgl_preflight_database(d, dbs[i], &nm, o->ri_full, &rep, err, sizeof err);
        pgq_close(d);
        if (!ok) goto fail;
        printf("database=%s\n", dbs[i]);
    }
    printf("fatal=%d\nwarnings=%d\n%s", rep.fatal, rep.warn, rep.text.data ? rep.text.data : "");
    rc = rep.fatal ? 1 : 0;
    goto out;
fail:
    fprintf(stderr, "error: %s\n", err);
out:
    pgl_free_list(dbs, n);
    pgl_report_free(&rep);
    return rc;
}

/* --also-db: that database's sessions on both sides (also[0], also2[0]) and
 * the names of both (nms[0] = nm's database, nms[1] = the other). */
static bool also_open(const opts *o, const pgl_db_names *nm, pgq **also, pgq **also2, pgl_db_names *nms)
{
    pgq_conninfo a = o->a, b = o->b;
    a.dbname = b.dbname = o->also_db;
    char err[256];
    nms[0] = *nm;
    if (!pgl_names_make(o->tag ? o->tag : "", o->also_db, &nms[1], err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return false;
    }
    also[0] = connect_or_die(&a);
    also2[0] = also[0] ? connect_or_die(&b) : NULL;
    return also2[0] != NULL;
}

static int run(const opts *o, const char *cmd, const char *arg)
{
    char err[2048] = "";
    char a1[FC_LSN_STRLEN];
    if (strcmp(cmd, "find-start-lsn") == 0) {
        if (!arg) return usage(), 2;
        return cmd_find_start(o, arg);
    }
    if (strcmp(cmd, "derive-password") == 0) {
        char pw[65];
        const char *secret = envpw(o->secret_env);
        if (!secret || !pgl_derive_password(secret, o->purpose ? o->purpose : "admin",
                                               o->tag ? o->tag : "", pw))
            return fprintf(stderr, "error: cannot derive\n"), 1;
        printf("password=%s\n", pw);
        return 0;
    }

    pgq *q = connect_or_die(&o->a);
    if (!q) return 1;
    pgq *q2 = NULL, *also[1] = {NULL}, *also2[1] = {NULL};
    pgl_db_names nms[2];
    int rc = 1;
    bool ok = false;
    pgl_db_names nm;
    const char *db = o->a.dbname ? o->a.dbname : "postgres";

    if (strcmp(cmd, "list-databases") == 0) {
        char **dbs;
        int n;
        ok = pgl_list_databases(q, &dbs, &n, err, sizeof err);
        for (int i = 0; ok && i < n; i++) printf("database=%s\n", dbs[i]);
        if (ok) pgl_free_list(dbs, n);
    } else if (strcmp(cmd, "preflight") == 0) {
        rc = cmd_preflight(o, q);
        goto out;
    } else if (strcmp(cmd, "large-objects") == 0) {
        int64_t n = 0;
        ok = pgl_large_objects(q, &n, err, sizeof err);
        if (ok) printf("large_objects=%lld\n", (long long)n);
    } else if (strcmp(cmd, "prepared-xacts") == 0) {
        int n = 0;
        int64_t oldest = 0;
        char desc[1024];
        ok = pgl_prepared_xacts(q, &n, &oldest, desc, sizeof desc, err, sizeof err);
        if (ok) printf("prepared=%d\noldest_s=%lld\ndesc=%s\n", n, (long long)oldest, desc);
    } else if (!need_tag(o, db, &nm)) {
        goto out;
    } else if (strcmp(cmd, "create-roles") == 0) {
        const char *ap = envpw(o->admin_pw_env), *sp = envpw(o->sub_pw_env);
        if (!ap || !sp) {
            fprintf(stderr, "error: --admin-password-env and --sub-password-env are required\n");
            goto out;
        }
        ok = pgl_create_roles(q, &nm, ap, sp, err, sizeof err);
        if (ok) printf("admin_role=%s\nsub_role=%s\n", nm.admin_role, nm.sub_role);
    } else if (strcmp(cmd, "prepare-source") == 0) {
        pgl_source_opts so = {.replica_identity_full = o->ri_full, .slot_timeout_ms = o->timeout_ms};
        fc_lsn l;
        ok = pgl_prepare_source(q, &nm, &so, &l, err, sizeof err);
        if (ok)
            printf("slot=%s\npublication=%s\nslot_lsn=%s\n", nm.slot, nm.publication, lsn_format(l, a1));
    } else if (strcmp(cmd, "retained") == 0 || strcmp(cmd, "lag") == 0) {
        pgl_slot_info si;
        ok = pgl_slot_status(q, nm.slot, &si, err, sizeof err);
        if (ok)
            printf("slot=%s\nexists=%d\nactive=%d\nretained_bytes=%lld\nlag_bytes=%lld\nwal_status=%s\n",
                   nm.slot, si.exists, si.active, (long long)si.retained_bytes, (long long)si.lag_bytes,
                   si.wal_status);
    } else if (strcmp(cmd, "ddl-check") == 0) {
        int n = 0;
        char ev[4096];
        ok = pgl_ddl_check(q, &nm, &n, ev, sizeof ev, err, sizeof err);
        if (ok) printf("ddl_changes=%d\nevents=%s\n", n, ev);
    } else if (strcmp(cmd, "clean-target") == 0) {
        int slots = 0, jobs = 0;
        ok = pgl_clean_target(q, &nm, o->drop_slots, &slots, &jobs, err, sizeof err);
        if (ok) printf("slots_dropped=%d\njobs_held=%d\n", slots, jobs);
    } else if (strcmp(cmd, "subscribe") == 0) {
        pgq_conninfo src = o->b;
        ok = pgl_subscribe(q, &nm, &src, o->lsn, err, sizeof err);
        if (ok) printf("subscription=%s\nstart_lsn=%s\n", nm.subscription, lsn_format(o->lsn, a1));
    } else if (strcmp(cmd, "sub-status") == 0) {
        pgl_sub_info si;
        ok = pgl_sub_status(q, &nm, &si, err, sizeof err);
        if (ok)
            printf("exists=%d\nenabled=%d\nremote_lsn=%s\napply_errors=%lld\nsync_errors=%lld\n", si.exists,
                   si.enabled, lsn_format(si.remote_lsn, a1), (long long)si.apply_errors,
                   (long long)si.sync_errors);
    } else if (strcmp(cmd, "cutover-block") == 0) {
        pgl_block_result br;
        ok = pgl_cutover_block(q, &nm, o->protect, o->nprotect, o->timeout_ms, &br, err, sizeof err);
        if (ok)
            printf("lsn=%s\nroles_blocked=%d\nroles=%s\nsessions_terminated=%d\nwarning=%s\n",
                   lsn_format(br.lsn, a1), br.roles_blocked, br.roles, br.sessions_terminated, br.warning);
    } else if (strcmp(cmd, "wait-flush") == 0) {
        fc_lsn f;
        ok = pgl_wait_flush(q, nm.slot, o->lsn, o->timeout_ms, &f, err, sizeof err);
        if (ok) printf("flushed=%s\n", lsn_format(f, a1));
    } else if (strcmp(cmd, "fence-drain") == 0) { /* the cutover's drained mark (pgl_fence_mark_drained) */
        if (!arg) return usage(), 2;
        pgfence_rc fr = pgfence_take_drained(q, nm.schema, "source", arg, true, err, sizeof err);
        ok = fr == PGFENCE_OK;
        printf("fence=%s\n", fr == PGFENCE_OK ? "taken" : fr == PGFENCE_NEWER ? "refused" : "error");
    } else if (strcmp(cmd, "fence-take") == 0 || strcmp(cmd, "fence-unblock") == 0) {
        if (!arg) return usage(), 2;
        if (cmd[6] == 't') {
            char newer[64] = "";
            pgfence_rc fr = pgfence_take(q, nm.schema, "source", arg, newer, sizeof newer, err, sizeof err);
            ok = fr == PGFENCE_OK;
            printf("fence=%s\nnewer=%s\n", fr == PGFENCE_OK ? "taken" : fr == PGFENCE_NEWER ? "refused" : "error",
                   newer);
        } else {
            int n = 0;
            pgfence_rc fr = pgfence_begin(q, nm.schema, "source", arg, NULL, err, sizeof err);
            ok = fr == PGFENCE_OK && pgl_unblock(q, &nm, &n, err, sizeof err);
            if (ok) ok = pgfence_commit(q, err, sizeof err);
            else pgfence_rollback(q);
            printf("fence=%s\nroles_restored=%d\n", fr == PGFENCE_OK ? "ours" : fr == PGFENCE_NEWER ? "refused" : "error",
                   ok ? n : 0);
        }
    } else if (strcmp(cmd, "identity") == 0) {
        char sysid[32], marker[PGFENCE_MARKER_MAX];
        bool exists = false;
        ok = pgfence_identity(q, nm.admin_role, sysid, sizeof sysid, marker, sizeof marker, &exists, err, sizeof err);
        if (ok) printf("sysid=%s\nmarker=%s\nadmin_exists=%d\n", sysid, marker, exists);
    } else if (strcmp(cmd, "mark") == 0) {
        if (!arg) return usage(), 2;
        ok = pgfence_mark(q, nm.admin_role, arg, err, sizeof err);
    } else if (strcmp(cmd, "unblock") == 0) {
        int n = 0;
        ok = pgl_unblock(q, &nm, &n, err, sizeof err);
        if (ok) printf("roles_restored=%d\n", n);
    } else if (strcmp(cmd, "teardown-target") == 0) {
        ok = pgl_teardown_target(q, &nm, err, sizeof err);
    } else if (strcmp(cmd, "teardown-source") == 0) {
        ok = pgl_teardown_source(q, &nm, o->keep_block, err, sizeof err);
    } else if (strcmp(cmd, "drop-roles") == 0) {
        ok = pgl_drop_roles(q, &nm, o->keep_admin, err, sizeof err);
    } else if (strcmp(cmd, "cron-guard") == 0) {
        bool installed = false;
        ok = pgl_cron_guard(q, &nm, &installed, err, sizeof err);
        if (ok) printf("cron_guard=%d\n", installed);
    } else if (strcmp(cmd, "cleanup-target") == 0) {
        int n = 0;
        ok = pgl_cleanup_target(q, &nm, &n, err, sizeof err);
        if (ok) printf("jobs_released=%d\n", n);
    } else if (strcmp(cmd, "sync-privileges") == 0) {
        /* as the cutover runs it for one database: roles, privileges, drops */
        q2 = connect_or_die(&o->b);
        if (!q2) goto out;
        pgl_privs_result pr;
        pgl_privs_result_init(&pr);
        /* --phase roles|privileges|drop runs one of the three (the cutover
         * runs roles on the first database, privileges on each, drop last) */
        const char *ph = o->phase ? o->phase : "all";
        bool all = strcmp(ph, "all") == 0;
        if (!all && strcmp(ph, "roles") != 0 && strcmp(ph, "privileges") != 0 && strcmp(ph, "drop") != 0) {
            usage();
            rc = 2;
            goto out;
        }
        ok = (!all && strcmp(ph, "roles") != 0) || pgl_sync_roles(q, q2, &nm, &pr, err, sizeof err);
        if (ok && (all || strcmp(ph, "privileges") == 0)) {
            if (o->also_db) {
                int failed = 0;
                ok = also_open(o, &nm, also, also2, nms) &&
                     pgl_sync_privileges_each((pgq *const[]){q, also[0]}, (pgq *const[]){q2, also2[0]}, nms, 2, &pr,
                                              &failed, err, sizeof err);
            } else {
                ok = pgl_sync_privileges(q, q2, &nm, &pr, err, sizeof err);
            }
        }
        ok = ok && ((!all && strcmp(ph, "drop") != 0) || pgl_sync_drop_roles(q, q2, &nm, &pr, err, sizeof err));
        if (ok)
            printf("roles_created=%d\nroles_altered=%d\nroles_dropped=%d\nmemberships=%d\nsettings=%d\n"
                   "object_acls=%d\ndefault_acls=%d\nrefused=%d\nunconverged=%d\nno_password=%s\n"
                   "not_reproduced=%s\nnot_dropped=%s\nrefused_what=%s\n",
                   pr.roles_created, pr.roles_altered, pr.roles_dropped, pr.memberships, pr.settings,
                   pr.object_acls, pr.default_acls, pr.refused, pr.unconverged, pr.no_password,
                   pr.not_reproduced, pr.not_dropped, pr.refused_what);
    } else if (strcmp(cmd, "sync-sequences") == 0 || strcmp(cmd, "verify") == 0) {
        q2 = connect_or_die(&o->b);
        if (!q2) goto out;
        if (cmd[0] == 's') {
            int n = 0, failed = 0;
            if (o->also_db)
                ok = also_open(o, &nm, also, also2, nms) &&
                     pgl_sync_sequences_each((pgq *const[]){q, also[0]}, (pgq *const[]){q2, also2[0]}, nms, 2,
                                             o->margin, &n, &failed, err, sizeof err);
            else
                ok = pgl_sync_sequences(q, q2, &nm, o->margin, &n, err, sizeof err);
            if (ok) printf("sequences=%d\n", n);
        } else {
            pgverify_result vr;
            int64_t deadline = o->budget_ms > 0 ? fc_mono_ms() + o->budget_ms : 0;
            ok = pgverify_until(q, q2, nm.schema, o->chunk_rows, o->counts_only, deadline, &vr, err, sizeof err);
            if (!ok && vr.timed_out) printf("timed_out=1\n");
            for (int i = 0; i < vr.ntables; i++) {
                const pgl_table_result *t = &vr.tables[i];
                printf("table=%s.%s keyed=%d chunks=%d rows_src=%lld rows_dst=%lld digest_src=%s "
                       "digest_dst=%s match=%d\n",
                       t->schema, t->name, t->keyed, t->chunks, (long long)t->rows_src,
                       (long long)t->rows_dst, t->digest_src, t->digest_dst, t->match);
            }
            if (ok) printf("tables=%d\nrows_verified=%lld\nmismatches=%d\n", vr.ntables,
                           (long long)vr.rows_verified, vr.mismatches);
            if (ok && vr.mismatches) {
                snprintf(err, sizeof err, "%d table(s) differ", vr.mismatches);
                ok = false;
            }
            pgverify_free(&vr);
        }
    } else {
        usage();
        rc = 2;
        goto out;
    }
    if (!ok && err[0]) fprintf(stderr, "error: %s\n", err);
    rc = ok ? 0 : 1;
out:
    pgq_close(also[0]);
    pgq_close(also2[0]);
    pgq_close(q2);
    pgq_close(q);
    return rc;
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.margin = 1000;
    o.chunk_rows = 1000;
    o.timeout_ms = 30000;
    log_init("fc_pg_tool");
    const char *cmd = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(k, name) == 0 && v && (i++, true))
        if (OPT("--host")) o.a.host = v;
        else if (OPT("--port")) o.a.port = atoi(v);
        else if (OPT("--db")) o.a.dbname = v;
        else if (OPT("--user")) o.a.user = v;
        else if (OPT("--password-env")) o.a.password = getenv(v);
        else if (OPT("--sslmode")) o.a.sslmode = o.b.sslmode = v;
        else if (OPT("--host2")) o.b.host = v;
        else if (OPT("--port2")) o.b.port = atoi(v);
        else if (OPT("--db2")) o.b.dbname = v;
        else if (OPT("--user2")) o.b.user = v;
        else if (OPT("--password2-env")) o.b.password = getenv(v);
        else if (OPT("--tag")) o.tag = v;
        else if (OPT("--segsize")) o.segsize = strtoull(v, NULL, 10);
        else if (OPT("--line-prefix")) o.line_prefix = v;
        else if (OPT("--restored-after")) o.restored_after = strtoll(v, NULL, 10);
        else if (OPT("--not-before")) {
            if (!lsn_parse(v, &o.not_before)) return usage(), 2;
        } else if (OPT("--lsn")) {
            if (!lsn_parse(v, &o.lsn)) return usage(), 2;
        } else if (strcmp(k, "--ri-full") == 0) o.ri_full = true;
        else if (strcmp(k, "--keep-block") == 0) o.keep_block = true;
        else if (strcmp(k, "--drop-slots") == 0) o.drop_slots = true;
        else if (strcmp(k, "--counts-only") == 0) o.counts_only = true;
        else if (strcmp(k, "--keep-admin") == 0) o.keep_admin = true;
        else if (OPT("--protect")) {
            if (o.nprotect < 32) o.protect[o.nprotect++] = v;
        } else if (OPT("--timeout-ms")) o.timeout_ms = atoi(v);
        else if (OPT("--margin")) o.margin = atoll(v);
        else if (OPT("--chunk-rows")) o.chunk_rows = atoll(v);
        else if (OPT("--budget-ms")) o.budget_ms = atoll(v);
        else if (OPT("--admin-password-env")) o.admin_pw_env = v;
        else if (OPT("--sub-password-env")) o.sub_pw_env = v;
        else if (OPT("--secret-env")) o.secret_env = v;
        else if (OPT("--purpose")) o.purpose = v;
        else if (OPT("--phase")) o.phase = v;
        else if (OPT("--also-db")) o.also_db = v;
        else if (k[0] == '-' && k[1] == '-') return usage(), 2;
        else if (!cmd) cmd = k;
        else if (!arg) arg = k;
        else return usage(), 2;
#undef OPT
    }
    if (!cmd) return usage(), 2;
    /* statement timeout: generous for verify, the caller's for the rest */
    o.a.statement_timeout_ms = o.b.statement_timeout_ms = -1;
    return run(&o, cmd, arg);
}
