/* preflight — step `preflight` of pg-logical: the instance exists, runs
 * PostgreSQL, is not already encrypted with the campaign key (→ skipped),
 * has rds.logical_replication=1 applied (else failed: "needs parameter
 * group change + reboot"; with allow_reboot a group that has the value but
 * waits for a reboot is rebooted, inside the window only), then the
 * data-plane checks per database. Learns the source's settings (facts) for
 * the restore. Creates nothing. An identifier that names a DB cluster (or
 * a writer named like its cluster) is an Aurora PostgreSQL cluster, judged
 * as one source by cluster.c; a member on its own fails. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsmemo.h"
#include "awscname.h"
#include "initial_copy.h"
#include "awsstep.h"
#include "awsxacct.h"
#include "awsxnet.h"
#include "log.h"
#include "util.h"

/* how long a parameter group seen with rds.logical_replication on answers
 * another instance of the campaign (awsmemo) */
#define PARAM_MEMO_MS 300000
/* how long a preflight waits for another of its worker asking for the same
 * group (one DescribeDBParameters: well under a second, retries included
 * mostly) before asking itself */
#define PARAM_ASK_WAIT_MS 5000

/* Remember what a restore needs to recreate the source's settings (the same
 * fact names as the offline strategy). */
static void learn_source(step_ctx *ctx, const rds_instance *i)
{
    awsstep_learn_source(ctx, i);
    step_ctx_set_fact(ctx, "engine_version", i->engine_version);
    step_ctx_set_fact(ctx, "master_user", i->master_username);
    step_ctx_set_fact(ctx, "master_secret_arn", i->master_user_secret_arn);
    step_ctx_set_fact(ctx, "db_name", i->db_name);
    step_ctx_set_fact(ctx, "source_arn", i->arn);
    /* read replicas cannot follow the swap: step `replicas` re-creates them
     * on the encrypted instance (their settings: learn_replicas) */
    char rr[512] = "";
    size_t n = 0;
    for (size_t k = 0; k < i->n_read_replica_ids && n < sizeof rr; k++)
        n += (size_t)snprintf(rr + n, sizeof rr - n, "%s%s", k ? "," : "", i->read_replica_ids[k]);
    step_ctx_set_fact(ctx, "read_replicas", rr);
}

/* What step `replicas` needs to re-create each read replica (facts
 * replica.<k>.*, k from 1 in the order of fact read_replicas). A replica
 * gone meanwhile is left out; the step also adopts ones added later. */
static step_rc learn_replicas(step_ctx *ctx, step_result *res, const rds_instance *src)
{
    for (size_t k = 0; k < src->n_read_replica_ids; k++) {
        bool missing = false;
        step_rc rc = STEP_OK;
        rds_instance *r = pgl_describe(ctx, res, src->read_replica_ids[k], &missing, &rc);
        if (!r && !missing) return rc;
        res->reason[0] = 0;
        if (r) pgl_learn_replica(ctx, (int)k + 1, r);
        rds_instance_free(r);
    }
    if (src->n_read_replica_ids > 0)
        log_info("source has read replicas: re-created on the encrypted instance after the switch",
                 "replicas=%zu", src->n_read_replica_ids);
    return STEP_OK;
}

/* rds.logical_replication in the instance's parameter group: 1 = value set,
 * pending = the group has it but the instance waits for a reboot. */
static step_rc check_logical_param(step_ctx *ctx, step_result *res, const rds_instance *i, bool *pending)
{
    *pending = false;
    if (!i->n_param_groups) {
        PGL_REASON(res, "instance has no parameter group: rds.logical_replication=1 needs parameter group "
                        "change + reboot");
        return STEP_FAIL;
    }
    const char *group = i->param_groups[0].name;
    *pending = strcmp(i->param_groups[0].apply_status, "in-sync") != 0;
    /* the campaign's instances mostly share a few groups: a group this
     * worker saw on within PARAM_MEMO_MS answers an instance that runs with
     * it applied (in-sync: the static parameter cannot have been turned off
     * since without a pending reboot), without a DescribeDBParameters */
    char memo[300];
    snprintf(memo, sizeof memo, "%s\tlogical_replication\t%s", step_ctx_campaign(ctx), group);
    /* and the preflights of a wave, reaching the group at once, ask once */
    bool asker = false; /* the others of the wave wait for this caller's answer */
    if (!*pending) {
        if (awsmemo_seen_or_ask(memo, PARAM_MEMO_MS, PARAM_ASK_WAIT_MS)) return STEP_OK;
        asker = true;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) {
        if (asker) awsmemo_asked(memo);
        return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    }
    rds_parameter_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_parameters(c, group, NULL, &pl, &e)) {
        if (asker) awsmemo_asked(memo);
        return awsstep_fail(res, &e, "DescribeDBParameters");
    }
    const rds_parameter *p = rds_parameter_find(pl, "rds.logical_replication");
    bool on = p && p->value && (!strcmp(p->value, "1") || !strcmp(p->value, "on"));
    rds_parameter_list_free(pl);
    if (!on) {
        if (asker) awsmemo_asked(memo);
        PGL_REASON(res, "rds.logical_replication is not 1 in parameter group %s: needs parameter group change "
                        "+ reboot (fleetcrypt does not change parameter groups)", group);
        return STEP_FAIL;
    }
    awsmemo_put(memo);
    return STEP_OK;
}

/* A group that has the value but is not applied: reboot only when allowed and inside the window. */
static step_rc reboot_if_allowed(step_ctx *ctx, step_result *res, const rds_instance *i)
{
    const char *id = step_ctx_instance(ctx);
    if (!pgl_opt(ctx, "allow_reboot")) {
        PGL_REASON(res, "rds.logical_replication=1 is in parameter group %s but not applied (%s): needs parameter "
                        "group change + reboot (allow it with --allow-reboot)", i->param_groups[0].name,
                   i->param_groups[0].apply_status);
        return STEP_FAIL;
    }
    fc_window w;
    char err[200];
    if (!window_parse(pgl_cfield(ctx, "window"), &w, err, sizeof err)) {
        PGL_REASON(res, "%s", err);
        return STEP_FAIL;
    }
    if (!window_contains(&w, fc_now_ms())) {
        int64_t until = window_ms_until_open(&w, fc_now_ms());
        res->wait_ms = until < 600000 ? until + 1000 : 600000;
        PGL_REASON(res, "waiting for the campaign window to reboot %s (rds.logical_replication)", id);
        return STEP_WAIT;
    }
    if (step_ctx_fact(ctx, "reboot_at")) {
        step_cache_view v;
        static const char *const ok[] = {"available", NULL};
        static const char *const bad[] = {"failed", "incompatible-parameters", NULL};
        return awsstep_await(ctx, res, "db", id, "reboot_at", ok, bad, &v);
    }
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_reboot_db_instance(c, id, false, NULL, &e)) return awsstep_fail(res, &e, "RebootDBInstance");
    log_info("rebooting the source to apply rds.logical_replication", "db=%s", id);
    awsstep_mark(ctx, "reboot_at");
    res->wait_ms = 2000;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", id);
    PGL_REASON(res, "rebooting %s to apply rds.logical_replication=1", id);
    return STEP_WAIT;
}

/* Data-plane preflight: every database, findings into a report. */
static step_rc preflight_data(pgl_session *s)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    step_rc rc = STEP_OK;
    const char *maint = pgl_fact(ctx, "db_name");
    if (!*maint) maint = "postgres";
    pgq *q = pgl_conn(s, PGL_SOURCE, PGL_AS_MASTER, maint, &rc);
    if (!q && strcmp(maint, "postgres") != 0) q = pgl_conn(s, PGL_SOURCE, PGL_AS_MASTER, "postgres", &rc);
    if (!q) return rc;
    char err[1024];
    char **dbs = NULL;
    int n = 0;
    if (!pgl_list_databases(q, &dbs, &n, err, sizeof err)) return pgl_sql_fail(res, q, "preflight", err);
    if (n == 0 || n > PGL_MAX_DBS) {
        PGL_REASON(res, "%d databases on the instance: pg-logical handles 1 to %d", n, PGL_MAX_DBS);
        pgl_free_list(dbs, n);
        return STEP_FAIL;
    }
    dbuf list;
    dbuf_init(&list, 64 * 1024);
    for (int i = 0; i < n; i++) {
        if (strchr(dbs[i], '\n')) {
            PGL_REASON(res, "a database name contains a newline: not supported");
            pgl_free_list(dbs, n);
            dbuf_free(&list);
            return STEP_FAIL;
        }
        dbuf_printf(&list, "%s%s", i ? "\n" : "", dbs[i]);
    }
    /* the session's database list from now on */
    for (int i = 0; i < s->ndbs; i++) free(s->dbs[i]);
    s->ndbs = 0;
    for (int i = 0; i < n; i++) s->dbs[s->ndbs++] = strdup(dbs[i]);
    pgl_free_list(dbs, n);
    step_ctx_set_fact(ctx, "dbs", list.data ? list.data : "");
    dbuf_free(&list);
    for (int i = 0; i < s->ndbs; i++)
        if (!s->dbs[i]) return (PGL_REASON(res, "out of memory"), STEP_RETRY);

    pgl_report rep;
    pgl_report_init(&rep);
    bool ok = pgl_preflight_instance(q, s->ndbs, &rep, err, sizeof err);
    if (!ok) rc = pgl_sql_fail(res, q, "preflight", err);
    bool ri_full = pgl_opt(ctx, "replica_identity_full");
    for (int i = 0; ok && i < s->ndbs; i++) {
        pgl_db_names nm;
        if (!pgl_names(s, s->dbs[i], &nm)) {
            rc = STEP_FAIL;
            ok = false;
            break;
        }
        pgq *d = pgl_conn(s, PGL_SOURCE, PGL_AS_MASTER, s->dbs[i], &rc);
        if (!d) {
            ok = false;
            break;
        }
        if (!pgl_preflight_database(d, s->dbs[i], &nm, ri_full, &rep, err, sizeof err)) {
            rc = pgl_sql_fail(res, d, "preflight", err);
            ok = false;
        }
    }
    if (ok) {
        step_ctx_set_factf(ctx, "pg_version", "%d", rep.server_version);
        const char *text = rep.text.data ? rep.text.data : "";
        if (rep.fatal > 0) {
            /* the reason lists the fatal findings first */
            dbuf f;
            dbuf_init(&f, STEP_REASON_MAX);
            const char *p = text;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                if (!strncmp(p, "FATAL ", 6)) {
                    if (f.len) dbuf_appends(&f, "; ");
                    dbuf_append(&f, p + 6, len - 6);
                }
                p += len + (nl ? 1 : 0);
            }
            PGL_REASON(res, "preflight: %s", f.data ? f.data : text);
            dbuf_free(&f);
            rc = STEP_FAIL;
        } else {
            char w[1024];
            fc_strlcpy(w, text, sizeof w);
            step_ctx_set_fact(ctx, "preflight_warnings", w);
            if (rep.warn) log_warn("preflight warnings", "count=%d", rep.warn);
        }
    }
    pgl_report_free(&rep);
    return rc;
}

/* The instance checks (AWS side). */
static step_rc preflight_instance(step_ctx *ctx, step_result *res, rds_instance *i);

step_rc pgl_cname_learn(step_ctx *ctx, step_result *res, const aws_tag *tags, size_t ntags, const char *address)
{
    if (strcmp(pgl_cfield(ctx, "cutover_method"), "cname")) return STEP_OK;
    /* the application's CNAME (shared/awscname.c): found, and on the source, before anything */
    const char *id = step_ctx_instance(ctx);
    char name[256];
    if (!awscname_name_for(pgl_cfield(ctx, "cname"), id, tags, ntags, name, sizeof name)) {
        PGL_REASON(res, "--cutover-method cname: no record named for %s (tag %s, or campaign file field "
                   "cname \"%s=NAME\")", id, AWSCNAME_TAG, id);
        return STEP_FAIL;
    }
    return awscname_learn(ctx, res, name, address);
}

/* Is the unit a DB cluster (fact kind, or found as one: an identifier no
 * instance has, or the writer named like its cluster)? 1 yes, 0 no (*i the
 * instance), -1 with *rc. */
static int detect_cluster(step_ctx *ctx, step_result *res, rds_instance **i, bool *renamed, step_rc *rc)
{
    *i = NULL;
    *renamed = false;
    if (awscluster_is(ctx)) return 1;
    const char *id = step_ctx_instance(ctx);
    bool missing = false;
    /* described together with this worker's other preflights of the campaign (awsstep.h) */
    *i = awsstep_describe_preflight(ctx, res, id, &missing, rc);
    if (!*i && !missing) return -1;
    if (*i && !((*i)->cluster_id[0] && !strcmp((*i)->cluster_id, id))) return 0;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) {
        rds_instance_free(*i);
        *i = NULL;
        *rc = (PGL_REASON(res, "no AWS client"), STEP_RETRY);
        return -1;
    }
    char why[sizeof res->reason];
    fc_strlcpy(why, res->reason, sizeof why);
    int isc = awscluster_probe(ctx, res, c, id, renamed, rc);
    if (isc != 0) {
        rds_instance_free(*i);
        *i = NULL;
        if (isc > 0) res->reason[0] = 0;
        return isc;
    }
    if (!*i) {
        fc_strlcpy(res->reason, why, sizeof res->reason); /* "instance … not found" */
        *rc = STEP_FAIL;
        return -1;
    }
    return 0;
}

/* A failed preflight leaves the source as it found it: a cluster switched
 * to fleetcrypt's copy of its parameter group (--allow-reboot) gets its own
 * back and the copy is deleted (one try; the reason says when it did not). */
static void undo_param_copy(step_ctx *ctx, step_result *res)
{
    step_result r;
    memset(&r, 0, sizeof r);
    step_rc rc = pgl_cluster_param_restore(ctx, &r, step_ctx_instance(ctx), NULL);
    size_t n = strlen(res->reason);
    if (rc == STEP_OK)
        snprintf(res->reason + n, sizeof res->reason - n, " (the cluster's own parameter group %.100s given back)",
                 pgl_fact(ctx, "cpg_orig"));
    else
        snprintf(res->reason + n, sizeof res->reason - n, " (the cluster still uses fleetcrypt's copy %.100s of its "
                 "parameter group %.100s: %.120s)", pgl_fact(ctx, "cpg_copied"), pgl_fact(ctx, "cpg_orig"), r.reason);
}

step_rc pgl_step_preflight(step_ctx *ctx, step_result *res)
{
    step_rc rc = STEP_OK;
    rds_instance *i = NULL;
    bool renamed = false;
    int isc = detect_cluster(ctx, res, &i, &renamed, &rc);
    if (isc < 0) return rc;
    if (step_ctx_cross_account(ctx) && strcmp(pgl_cfield(ctx, "cutover_method"), "cname")) {
        rds_instance_free(i);
        PGL_REASON(res, "--cutover-method %s cannot switch clients into another account: use cname with "
                   "--target-account-role", pgl_cfield(ctx, "cutover_method"));
        return STEP_FAIL;
    }
    if (pgl_rollback_window_s(ctx) > 0 && step_ctx_cross_account(ctx)) {
        rds_instance_free(i);
        PGL_REASON(res, "--rollback-window is for moves within one account; moves across accounts have no "
                        "rollback window yet");
        return STEP_FAIL;
    }
    if (pgl_rollback_window_s(ctx) > 0 && isc > 0 && pgl_cutover_method(ctx) != PGL_METHOD_CNAME) {
        /* switching back by cluster renames (and the proxies following them) is not written yet */
        rds_instance_free(i);
        PGL_REASON(res, "--rollback-window for an Aurora cluster needs --cutover-method cname; a cluster cut "
                        "over by its renames has no rollback window yet");
        return STEP_FAIL;
    }
    rc = isc > 0 ? pgl_cluster_preflight(ctx, res, renamed) : preflight_instance(ctx, res, i);
    if (rc == STEP_OK) rc = pgl_ic_preflight(ctx, res, isc > 0);
    if (rc == STEP_OK) {
        pgl_session s;
        pgl_session_init(&s, ctx, res);
        rc = preflight_data(&s);
        pgl_session_finish(&s);
    }
    if (rc == STEP_FAIL && isc > 0 && step_ctx_fact(ctx, "cpg_copied")) undo_param_copy(ctx, res);
    return rc;
}

static step_rc preflight_instance(step_ctx *ctx, step_result *res, rds_instance *i)
{
    const char *id = step_ctx_instance(ctx);
    step_rc rc = STEP_OK;
    if (i->cluster_id[0]) {
        PGL_REASON(res, "instance %s is a member of cluster %s: submit the cluster (its members move with it)", id,
                   i->cluster_id);
        rds_instance_free(i);
        return STEP_FAIL;
    }
    /* audit facts (report: key before and its type), recorded whatever the
     * verdict; a source encrypted with another key is re-keyed with --rekey */
    aws_client *c = step_ctx_aws(ctx);
    if (!c) {
        rds_instance_free(i);
        return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    }
    /* a move into another account takes the target's key whatever the source's */
    bool rekey = step_ctx_opt_bool(ctx, "rekey") || step_ctx_cross_account(ctx);
    rc = awsstep_source_key(ctx, res, c, i, rekey, "rekey", false);
    if (rc != STEP_OK) {
        /* KMS busy */
    } else if (strncmp(i->engine, "postgres", 8) != 0) {
        PGL_REASON(res, "engine %s is not supported by pg-logical (RDS for PostgreSQL only)", i->engine);
        rc = STEP_FAIL;
    } else if ((rc = awsstep_source_key(ctx, res, c, i, rekey, "rekey", true)) != STEP_OK) {
        /* skipped for its key */
    } else if (i->read_replica_source[0]) {
        PGL_REASON(res, "instance is a read replica of %s: encrypt its source instead", i->read_replica_source);
        rc = STEP_FAIL;
    } else if (!strcmp(i->status, "stopped")) {
        PGL_REASON(res, "instance is stopped: pg-logical needs it running (use --strategy offline)");
        rc = STEP_FAIL;
    } else if (strcmp(i->status, "available") != 0) {
        PGL_REASON(res, "instance is %s; waiting for available", i->status);
        res->wait_ms = 10000;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", id);
        rc = STEP_WAIT;
    } else {
        bool pending = false;
        rc = awsxacct_preflight(ctx, res, i); /* --target-account-role: before anything changes */
        /* and the subscription's way back to the source: the source's groups admit the target's subnets */
        if (rc == STEP_OK) rc = awsxnet_preflight(ctx, res, i->subnet_group, i->vpc_sg_ids, i->n_vpc_sg_ids, i->port);
        if (rc == STEP_OK) rc = check_logical_param(ctx, res, i, &pending);
        if (rc == STEP_OK && pending) rc = reboot_if_allowed(ctx, res, i);
        if (rc == STEP_OK) {
            learn_source(ctx, i);
            rc = learn_replicas(ctx, res, i);
        }
        if (rc == STEP_OK) rc = pgl_cname_learn(ctx, res, i->tags, i->n_tags, i->endpoint_address);
    }
    rds_instance_free(i);
    return rc;
}
