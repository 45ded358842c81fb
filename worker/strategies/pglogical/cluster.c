/* cluster — pg-logical's source state "Aurora PostgreSQL cluster" (fact
 * kind=cluster, docs/clusters.md): what differs from an instance in each
 * step, on the cluster helpers shared with offline (shared/awscluster.h).
 * The database steps are the instance's: they reach the source's writer
 * through the cluster endpoint (fact address/port) and the target's through
 * its own cluster endpoint (target_address/target_port), with the same
 * identity checks and database fence.
 *
 *  preflight       the cluster (engine, key verdict, members learnt) and
 *                  rds.logical_replication=1 in its *cluster* parameter
 *                  group, applied on the writer;
 *  snapshot        CreateDBClusterSnapshot of the running source
 *                  (fc-…-snap);
 *  copy-encrypted  nothing: RestoreDBClusterFromSnapshot --kms-key-id
 *                  encrypts (or re-keys) in the restore; across accounts
 *                  (--target-account-role) the snapshot shared with the
 *                  target account and copied there as fc-…-enc (shared/
 *                  awsxacct.c, awscluster_copy_to_target), which the
 *                  target account restores;
 *  restore         the target cluster fc-…-target with the campaign key,
 *                  its writer and readers fc-…-<member>-target (same
 *                  classes, parameter groups, tiers, tags); no deletion
 *                  protection until cleanup (abort must be able to delete it);
 *  find-start-lsn  aurora_volume_logical_start_lsn() on the restored writer,
 *                  checked against the slot's start and the writer's WAL;
 *  cutover         the swap is a cluster rename (source → fc-…-retired,
 *                  target → the identifier): the cluster and reader
 *                  endpoints of the identifier follow it; then an RDS
 *                  Proxy whose target is the cluster is switched to the
 *                  encrypted cluster (shared/awsproxy.c); or, with
 *                  --cutover-method cname (always across accounts), the
 *                  application's CNAME from the source's writer Endpoint
 *                  to the target's (shared/awscname.c), no rename;
 *  replicas        the members take their names: the source's move to
 *                  fc-…-<member>-retired, the target's drop -target
 *                  (cname: nothing, each cluster keeps its names);
 *  cleanup         tags (encrypted, retired-source), deletion protection,
 *                  the cluster snapshot deleted, the retired cluster stopped;
 *  abort           a half-done swap renamed back (and the source on its
 *                  proxies), the target cluster and its members deleted,
 *                  the cluster snapshot deleted (across accounts: unshared,
 *                  and the copy deleted in the target account). */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsxacct.h"
#include "awsxnet.h"
#include "initial_copy.h"
#include "log.h"
#include "util.h"
#include "window.h"

static step_rc no_client(step_result *res) { return (PGL_REASON(res, "no AWS client"), STEP_RETRY); }

/* ---------------------------------------------------------------- preflight */
/* rds.logical_replication=1 in the cluster parameter group, applied on the
 * writer. Without allow_reboot a cluster lacking it fails naming the
 * parameter and nothing is changed. With allow_reboot (inside the window):
 * a group without the value is never edited (it may be the default group or
 * shared with other clusters): CopyDBClusterParameterGroup makes
 * fleetcrypt's own copy fc-<campaign>-<id>-cpg (tagged), the value is set in
 * the copy, the source cluster is switched to it (ModifyDBCluster), then —
 * as for a group that has the value but waits — the writer is rebooted
 * (RebootDBInstance: a static cluster parameter reaches the writer only
 * when it restarts) and awaited until available and in-sync. Facts cpg_orig
 * (the source's group), cpg_copied (our copy), cpg_reboot_at, cpg_reboots,
 * cpg_rebooted. The restored target is on the copy as well (its volume
 * holds the source's logical slots until prepare-target drops them); cleanup
 * gives both clusters the source's own group back, abort the source, and the
 * copy is deleted (pgl_cluster_param_restore). */
#define PGL_SFX_CPG "cpg"

static void cpg_name(step_ctx *ctx, char *out, size_t cap)
{
    awsstep_name(ctx, PGL_SFX_CPG, out, cap);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
}

/* A reboot only inside the campaign window: STEP_OK inside, WAIT until it opens. */
static step_rc reboot_window(step_ctx *ctx, step_result *res, const char *what)
{
    fc_window w;
    char err[200];
    if (!window_parse(pgl_cfield(ctx, "window"), &w, err, sizeof err)) {
        PGL_REASON(res, "%s", err);
        return STEP_FAIL;
    }
    if (window_contains(&w, fc_now_ms())) return STEP_OK;
    int64_t until = window_ms_until_open(&w, fc_now_ms());
    res->wait_ms = until < 600000 ? until + 1000 : 600000;
    PGL_REASON(res, "waiting for the campaign window to %s (rds.logical_replication)", what);
    return STEP_WAIT;
}

/* Our copy of the cluster's group with the value, and the cluster switched to it. */
static step_rc switch_to_own_copy(step_ctx *ctx, step_result *res, aws_client *c, const rds_cluster *cl)
{
    char ours[256], desc[400];
    cpg_name(ctx, ours, sizeof ours);
    step_rc rc = reboot_window(ctx, res, "switch the cluster to fleetcrypt's copy of its parameter group");
    if (rc != STEP_OK) return rc;
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    aws_error e;
    if (!step_ctx_fact(ctx, "cpg_orig")) step_ctx_set_fact(ctx, "cpg_orig", cl->param_group);
    const char *orig = pgl_fact(ctx, "cpg_orig");
    if (!step_ctx_fact(ctx, "cpg_copied")) {
        aws_tag tags[4];
        size_t nt = awsstep_tags(ctx, "param-copy", tags, 4);
        snprintf(desc, sizeof desc, "fleetcrypt: %.200s with rds.logical_replication=1", orig);
        aws_error_clear(&e);
        if (!rds_copy_db_cluster_parameter_group(c, orig, ours, desc, tags, nt, &e) && !rds_err_already_exists(&e))
            return awsstep_fail(res, &e, "CopyDBClusterParameterGroup");
        step_ctx_set_fact(ctx, "cpg_copied", ours);
        log_info("copied the cluster parameter group", "from=%s to=%s", orig, ours);
    }
    rds_param_change ch = {"rds.logical_replication", "1", "pending-reboot"};
    aws_error_clear(&e);
    if (!rds_modify_db_cluster_parameter_group(c, ours, &ch, 1, &e))
        return awsstep_fail(res, &e, "ModifyDBClusterParameterGroup");
    rds_modify_cluster_opts o;
    rds_modify_cluster_opts_init(&o);
    o.identifier = cl->identifier;
    o.param_group = ours;
    o.apply_immediately = true;
    aws_error_clear(&e);
    if (!rds_modify_db_cluster(c, &o, NULL, &e)) {
        if (rds_err_invalid_state(&e)) {
            res->wait_ms = 5000;
            PGL_REASON(res, "cluster %s is busy; switching it to %s next", cl->identifier, ours);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "ModifyDBCluster");
    }
    log_info("source cluster switched to fleetcrypt's copy of its parameter group", "cluster=%s group=%s orig=%s",
             cl->identifier, ours, orig);
    res->wait_ms = 1000;
    PGL_REASON(res, "cluster %s switched to %s (rds.logical_replication=1); its writer reboots next", cl->identifier,
               ours);
    return STEP_WAIT;
}

/* The writer rebooted to apply the cluster group (allow_reboot, inside the
 * window): STEP_OK once it is available and in-sync, WAIT meanwhile. */
static step_rc reboot_writer(step_ctx *ctx, step_result *res, aws_client *c, const rds_cluster *cl,
                             const rds_cluster_member *w)
{
    aws_error e;
    if (step_ctx_fact(ctx, "cpg_reboot_at")) {
        rds_instance *i = NULL;
        aws_error_clear(&e);
        if (!rds_describe_db_instance(c, w->instance_id, &i, &e)) return awsstep_fail(res, &e, "DescribeDBInstances");
        bool up = !strcmp(i->status, "available");
        rds_instance_free(i);
        if (!up) {
            res->wait_ms = 2000;
            PGL_REASON(res, "waiting for the writer %s to come back from its reboot", w->instance_id);
            return STEP_WAIT;
        }
        if (!w->param_group_status[0] || !strcmp(w->param_group_status, "in-sync")) return STEP_OK;
        if (awsstep_fact_i64(ctx, "cpg_reboots", 0) >= 2) {
            PGL_REASON(res, "the writer %s is still %s after %d reboots: check cluster parameter group %s",
                       w->instance_id, w->param_group_status, 2, cl->param_group);
            return STEP_FAIL;
        }
    }
    step_rc rc = reboot_window(ctx, res, "reboot the cluster's writer");
    if (rc != STEP_OK) return rc;
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    aws_error_clear(&e);
    if (!rds_reboot_db_instance(c, w->instance_id, false, NULL, &e)) {
        if (rds_err_invalid_state(&e)) {
            res->wait_ms = 5000;
            PGL_REASON(res, "the writer %s is busy; rebooting it next", w->instance_id);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "RebootDBInstance");
    }
    step_ctx_set_factf(ctx, "cpg_reboots", "%lld", (long long)(awsstep_fact_i64(ctx, "cpg_reboots", 0) + 1));
    awsstep_mark(ctx, "cpg_reboot_at");
    log_info("rebooting the cluster's writer to apply rds.logical_replication", "cluster=%s writer=%s",
             cl->identifier, w->instance_id);
    res->wait_ms = 2000;
    PGL_REASON(res, "rebooting the writer %s to apply rds.logical_replication=1", w->instance_id);
    return STEP_WAIT;
}

static step_rc check_cluster_param(step_ctx *ctx, step_result *res, const rds_cluster *cl)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return no_client(res);
    /* across accounts the target is restored on the group of the same name
     * there (checked by awsxacct_preflight_cluster): no copy of ours */
    bool allow = pgl_opt(ctx, "allow_reboot") && !step_ctx_cross_account(ctx);
    rds_parameter_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster_parameters(c, cl->param_group, NULL, &pl, &e))
        return awsstep_fail(res, &e, "DescribeDBClusterParameters");
    const rds_parameter *p = rds_parameter_find(pl, "rds.logical_replication");
    bool on = p && p->value && (!strcmp(p->value, "1") || !strcmp(p->value, "on"));
    rds_parameter_list_free(pl);
    if (!on) {
        if (allow) return switch_to_own_copy(ctx, res, c, cl);
        PGL_REASON(res, "rds.logical_replication is not 1 in cluster parameter group %s: needs cluster parameter "
                        "group change + writer reboot (--allow-reboot lets fleetcrypt set it in its own copy of "
                        "the group and reboot the writer inside the window)",
                   cl->param_group);
        return STEP_FAIL;
    }
    const rds_cluster_member *w = rds_cluster_writer(cl);
    if (!w) {
        res->wait_ms = 10000;
        PGL_REASON(res, "cluster %s has no writer right now; waiting", cl->identifier);
        return STEP_WAIT;
    }
    bool pending = w->param_group_status[0] && strcmp(w->param_group_status, "in-sync");
    if (!pending && !(step_ctx_fact(ctx, "cpg_reboot_at") && !step_ctx_fact(ctx, "cpg_rebooted"))) return STEP_OK;
    if (!allow) {
        PGL_REASON(res, "rds.logical_replication=1 is in cluster parameter group %s but the writer %s is %s: "
                        "reboot the writer first (allow it with --allow-reboot)", cl->param_group, w->instance_id,
                   w->param_group_status);
        return STEP_FAIL;
    }
    step_rc rc = reboot_writer(ctx, res, c, cl, w);
    if (rc == STEP_OK && step_ctx_fact(ctx, "cpg_reboot_at")) step_ctx_set_fact(ctx, "cpg_rebooted", "1");
    return rc;
}

/* Cluster id back on the source's own group when it uses our copy. */
static step_rc give_back(step_ctx *ctx, step_result *res, aws_client *c, const char *id)
{
    const char *ours = pgl_fact(ctx, "cpg_copied"), *orig = pgl_fact(ctx, "cpg_orig");
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_cluster *cl = awscluster_describe(ctx, res, id, &missing, &rc);
    if (!cl) return missing ? STEP_OK : rc;
    bool on_ours = !strcmp(cl->param_group, ours), avail = !strcmp(cl->status, "available");
    rds_cluster_free(cl);
    if (!on_ours || !*orig) return STEP_OK;
    if (!avail) {
        res->wait_ms = 2000;
        PGL_REASON(res, "waiting for cluster %s to be available to give it back its parameter group %s", id, orig);
        return STEP_WAIT;
    }
    rds_modify_cluster_opts o;
    rds_modify_cluster_opts_init(&o);
    o.identifier = id;
    o.param_group = orig;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_modify_db_cluster(c, &o, NULL, &e)) {
        if (rds_err_invalid_state(&e)) {
            res->wait_ms = 5000;
            PGL_REASON(res, "cluster %s is busy; giving it back %s next", id, orig);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "ModifyDBCluster");
    }
    log_info("cluster parameter group given back", "cluster=%s group=%s", id, orig);
    return STEP_OK;
}

/* The source's cluster parameter group back on clusters id and id2 (NULL:
 * none) when they use our copy, then our copy deleted: cleanup (the
 * encrypted cluster and the retired source, before it stops), abort and a
 * failed preflight (the source). STEP_OK at once when no copy was made. A
 * writer keeps what it runs with until its next reboot (fleetcrypt does not
 * reboot it again; the group's static values then apply). */
step_rc pgl_cluster_param_restore(step_ctx *ctx, step_result *res, const char *id, const char *id2)
{
    const char *ours = pgl_fact(ctx, "cpg_copied");
    if (!*ours || step_ctx_fact(ctx, "cpg_restored")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return no_client(res);
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    step_rc rc = give_back(ctx, res, c, id);
    if (rc == STEP_OK && id2) rc = give_back(ctx, res, c, id2);
    if (rc != STEP_OK) return rc;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_delete_db_cluster_parameter_group(c, ours, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        if (rds_err_invalid_state(&e)) {
            res->wait_ms = 5000;
            PGL_REASON(res, "fleetcrypt's cluster parameter group %s is still in use; deleting it next", ours);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "DeleteDBClusterParameterGroup");
    }
    log_info("fleetcrypt's copy of the cluster parameter group deleted", "group=%s", ours);
    step_ctx_set_fact(ctx, "cpg_restored", "1");
    res->reason[0] = 0;
    return STEP_OK;
}

/* --target-account-role: the cluster's move into the target account judged
 * before anything changes (shared/awsxacct.c): role, keys, the cluster's
 * and its members' groups by name there. */
static step_rc xacct_preflight(step_ctx *ctx, step_result *res, const rds_cluster *cl)
{
    if (!strcmp(step_ctx_opt(ctx, "initial-copy"), "always")) {
        PGL_REASON(res, "--initial-copy always: a new cluster is not created in another account; leave out "
                   "--initial-copy (the shared snapshot is restored there)");
        return STEP_FAIL;
    }
    step_rc rc = awscluster_xacct_preflight(ctx, res, cl, true);
    /* the subscription's way back to the source: the source cluster's groups admit the target's subnets */
    return rc == STEP_OK ? awsxnet_preflight(ctx, res, cl->subnet_group, cl->vpc_sg_ids, cl->n_vpc_sg_ids, cl->port)
                         : rc;
}

step_rc pgl_cluster_preflight(step_ctx *ctx, step_result *res, bool renamed)
{
    if (renamed) {
        PGL_REASON(res, "cluster found under fleetcrypt's retired name: a pg-logical preflight never renames");
        return STEP_FAIL;
    }
    /* RDS Proxies with the cluster as their target: switched by the cutover after the renames */
    step_rc rc = awscluster_proxy_learn(ctx, res, step_ctx_instance(ctx), pgl_cfield(ctx, "proxy_name"),
                                        !strcmp(pgl_cfield(ctx, "cutover_method"), "proxy"));
    if (rc != STEP_OK) return rc;
    bool cname = !strcmp(pgl_cfield(ctx, "cutover_method"), "cname");
    if (cname && *pgl_fact(ctx, "proxy_names")) {
        /* the CNAME moves, the cluster keeps its identifier: a proxy in front of it would keep reaching the
         * retired source */
        PGL_REASON(res, "--cutover-method cname: RDS Proxy %s has cluster %s as its target and would keep "
                   "reaching the retired source; cut this cluster over by its renames (--cutover-method rename)",
                   pgl_fact(ctx, "proxy_names"), step_ctx_instance(ctx));
        return STEP_FAIL;
    }
    /* across accounts the campaign key is the target's: every cluster is re-keyed */
    rc = awscluster_preflight(ctx, res, false, step_ctx_opt_bool(ctx, "rekey") || step_ctx_cross_account(ctx),
                              "rekey", "aurora-postgresql");
    /* the target is restored on fleetcrypt's copy too: its volume holds the
     * source's logical slots, and a writer whose wal_level is below logical
     * does not start with them (they are dropped by prepare-target; cleanup
     * gives the cluster the source's own group back) */
    if (step_ctx_fact(ctx, "cpg_copied")) step_ctx_set_fact(ctx, "cluster_param_group", pgl_fact(ctx, "cpg_copied"));
    if (rc != STEP_OK) return rc;
    rds_cluster *cl = awscluster_live_source(ctx, res, "pg-logical", &rc);
    if (rc == STEP_OK && step_ctx_cross_account(ctx)) rc = xacct_preflight(ctx, res, cl);
    if (rc == STEP_OK) rc = check_cluster_param(ctx, res, cl);
    /* --cutover-method cname: the application's record points at the writer Endpoint */
    if (rc == STEP_OK) rc = pgl_cname_learn(ctx, res, cl->tags, cl->n_tags, cl->endpoint);
    if (rc == STEP_OK) {
        step_ctx_set_fact(ctx, "db_name", cl->db_name);
        step_ctx_set_fact(ctx, "read_replicas", ""); /* readers are members: they move with the cluster */
    }
    rds_cluster_free(cl);
    return rc;
}

/* ---------------------------------------------------------------- snapshot, restore */
step_rc pgl_cluster_snapshot(step_ctx *ctx, step_result *res)
{
    char sid[64];
    awsstep_name(ctx, PGL_SFX_SNAP, sid, sizeof sid);
    return awscluster_snapshot(ctx, res, step_ctx_instance(ctx), sid);
}

step_rc pgl_cluster_copy(step_ctx *ctx, step_result *res)
{
    if (step_ctx_cross_account(ctx)) {
        /* the target account restores from its own copy of the shared snapshot */
        char sid[64], eid[64];
        awsstep_name(ctx, PGL_SFX_SNAP, sid, sizeof sid);
        awsstep_name(ctx, PGL_SFX_ENC, eid, sizeof eid);
        return awscluster_copy_to_target(ctx, res, sid, eid);
    }
    /* RestoreDBClusterFromSnapshot with KmsKeyId encrypts an unencrypted or
     * AWS-owned-key snapshot (neither can be copied with a key) and re-keys
     * a KMS one: no copy */
    if (!step_ctx_fact(ctx, "copy_skipped")) step_ctx_set_fact(ctx, "copy_skipped", "cluster: the restore takes the key");
    return STEP_OK;
}

step_rc pgl_cluster_restore(step_ctx *ctx, step_result *res)
{
    char tid[64], sid[64];
    bool xacct = step_ctx_cross_account(ctx);
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    /* across accounts: the copy in the target account (step copy-encrypted) */
    awsstep_name(ctx, xacct ? PGL_SFX_ENC : PGL_SFX_SNAP, sid, sizeof sid);
    /* a new cluster with the campaign key instead of a restore (initial_copy.h);
     * its members are then added as for a restored one */
    step_ctx_set_fact(ctx, "target_id", tid);
    if (pgl_ic_on(ctx)) {
        step_rc crc = pgl_ic_create_cluster(ctx, res, tid);
        if (crc != STEP_OK) return crc;
    }
    step_rc rc = awscluster_restore_target(ctx, res, tid, sid, PGL_SFX_TARGET);
    if (rc == STEP_FAIL && !xacct && !pgl_ic_on(ctx) && pgl_ic_take_over(ctx, res)) {
        res->wait_ms = 500;
        PGL_REASON(res, "restore refused: creating a new cluster with the campaign key (initial copy)");
        return STEP_WAIT;
    }
    return rc;
}

/* ---------------------------------------------------------------- find-start-lsn */
step_rc pgl_cluster_start_lsn(pgl_session *s, pgq *q)
{
    step_ctx *ctx = s->ctx;
    step_result *res = s->res;
    char v[64], err[400];
    fc_lsn start = FC_LSN_INVALID, cur = FC_LSN_INVALID, not_before = FC_LSN_INVALID;
    if (!pgq_scalar(q, pgq_sql("pgl_aurora_start_lsn"), 0, NULL, v, sizeof v, NULL)) {
        snprintf(err, sizeof err, "aurora_volume_logical_start_lsn() on the restored writer: %.300s", q->err);
        return pgl_sql_fail(res, q, "find-start-lsn", err);
    }
    if (!lsn_parse(v, &start) || start == FC_LSN_INVALID) {
        PGL_REASON(res, "find-start-lsn: aurora_volume_logical_start_lsn() answered %.60s (refusing to guess)", v);
        return STEP_FAIL;
    }
    if (!pgq_scalar(q, pgq_sql("pgl_current_wal_lsn"), 0, NULL, v, sizeof v, NULL) || !lsn_parse(v, &cur)) {
        snprintf(err, sizeof err, "reading pg_current_wal_lsn(): %.200s", q->err[0] ? q->err : v);
        return pgl_sql_fail(res, q, "find-start-lsn cross-check", err);
    }
    const char *sl = pgl_fact(ctx, "slot_lsn");
    if (*sl && !lsn_parse(sl, &not_before)) not_before = FC_LSN_INVALID;
    char a[FC_LSN_STRLEN], b[FC_LSN_STRLEN];
    /* the slot was made before the snapshot: the volume's WAL ends after it;
     * and the restored writer's WAL has gone on from the start, never back */
    if (not_before != FC_LSN_INVALID && start < not_before) {
        PGL_REASON(res, "find-start-lsn: aurora_volume_logical_start_lsn() %s is before the slot's start %s "
                        "(the snapshot cannot predate the slot; refusing)", lsn_format(start, a),
                   lsn_format(not_before, b));
        return STEP_FAIL;
    }
    if (start > cur) {
        PGL_REASON(res, "find-start-lsn: aurora_volume_logical_start_lsn() %s is past the restored writer's WAL "
                        "position %s (refusing)", lsn_format(start, a), lsn_format(cur, b));
        return STEP_FAIL;
    }
    step_ctx_set_fact(ctx, "start_lsn", lsn_format(start, a));
    step_ctx_set_fact(ctx, "start_lsn_source", "aurora_volume_logical_start_lsn");
    step_ctx_set_fact(ctx, "start_lsn_checked", "slot_lsn,current_wal_lsn");
    log_info("start LSN found", "start=%s source=aurora_volume_logical_start_lsn slot_lsn=%s current=%s", a,
             *sl ? sl : "-", lsn_format(cur, b));
    return STEP_OK;
}

/* ---------------------------------------------------------------- the switch */
step_rc pgl_cluster_switched(step_ctx *ctx, step_result *res, const char *orig, const char *ret, bool *switched,
                             bool *half)
{
    return awscluster_switched(ctx, res, orig, ret, PGL_ROLE_TARGET, switched, half);
}

step_rc pgl_cluster_switch(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                           int64_t deadline)
{
    /* the renames, then an RDS Proxy in front of the cluster moved from the
     * retired source to the encrypted cluster (shared/awscluster.h) */
    return awscluster_switch(ctx, res, orig, ret, tid, PGL_ROLE_TARGET, *pgl_cfield(ctx, "proxy_name") != 0, deadline);
}

/* ---------------------------------------------------------------- after the switch */
step_rc pgl_cluster_members(step_ctx *ctx, step_result *res)
{
    if (!strcmp(pgl_cfield(ctx, "cutover_method"), "cname")) {
        /* the CNAME moved: each cluster keeps its members and their names */
        step_ctx_set_fact(ctx, "replicas_done", "0");
        return STEP_OK;
    }
    char ret[64];
    awsstep_name(ctx, PGL_SFX_RETIRED, ret, sizeof ret);
    step_rc rc = awscluster_swap_members(ctx, res, ret, step_ctx_instance(ctx), PGL_SFX_TARGET);
    if (rc != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "replicas_done", "0");
    log_info("cluster members renamed", "cluster=%s retired=%s", step_ctx_instance(ctx), ret);
    return STEP_OK;
}

/* Across accounts, cleanup and abort: the source's cluster snapshot no
 * longer shared with the target account, and (unless kept) the copy -enc
 * in the target account deleted (fact deleted_enc). */
static step_rc xacct_snapshots(step_ctx *ctx, step_result *res, bool keep)
{
    if (!step_ctx_cross_account(ctx)) return STEP_OK;
    char sid[64], eid[64];
    awsstep_name(ctx, PGL_SFX_SNAP, sid, sizeof sid);
    awsstep_name(ctx, PGL_SFX_ENC, eid, sizeof eid);
    step_rc rc = awsxacct_unshare_cluster(ctx, res, sid);
    if (rc == STEP_OK && !keep) rc = awscluster_delete_snapshot_as(ctx, res, eid, "deleted_enc");
    return rc;
}

step_rc pgl_cluster_finish(step_ctx *ctx, step_result *res)
{
    /* renames: the encrypted cluster has the identifier, the source fc-…-retired; cname: both keep
     * their own (the encrypted fc-…-target, the source its identifier; facts target_id, retired_id) */
    bool cname = !strcmp(pgl_cfield(ctx, "cutover_method"), "cname");
    char ret[64], sid[64];
    awsstep_name(ctx, PGL_SFX_RETIRED, ret, sizeof ret);
    awsstep_name(ctx, PGL_SFX_SNAP, sid, sizeof sid);
    const char *id = step_ctx_instance(ctx);
    if (cname) {
        id = pgl_fact(ctx, "target_id");
        fc_strlcpy(ret, step_ctx_instance(ctx), sizeof ret);
    }
    step_rc rc = xacct_snapshots(ctx, res, pgl_opt(ctx, "keep_snapshots"));
    if (rc != STEP_OK) return rc;
    rc = awscluster_retire(ctx, res, id, ret, sid, pgl_opt(ctx, "keep_snapshots"), PGL_ROLE_RETIRED);
    if (rc != STEP_OK) return rc;
    if ((rc = pgl_cluster_param_restore(ctx, res, id, ret)) != STEP_OK) return rc;
    return awscluster_stop(ctx, res, ret);
}

/* ---------------------------------------------------------------- abort */
step_rc pgl_cluster_switch_done(step_ctx *ctx, step_result *res, bool *done)
{
    *done = !strcmp(pgl_fact(ctx, "switched"), "1");
    if (*done) return STEP_OK;
    char ret[64];
    awsstep_name(ctx, PGL_SFX_RETIRED, ret, sizeof ret);
    bool half = false;
    return pgl_cluster_switched(ctx, res, step_ctx_instance(ctx), ret, done, &half);
}

step_rc pgl_cluster_roll_back(step_ctx *ctx, step_result *res)
{
    char ret[64];
    awsstep_name(ctx, PGL_SFX_RETIRED, ret, sizeof ret);
    return awscluster_roll_back(ctx, res, step_ctx_instance(ctx), ret);
}

step_rc pgl_cluster_target_exists(step_ctx *ctx, step_result *res, bool *exists)
{
    char tid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    bool missing = false;
    step_rc rc = STEP_OK;
    *exists = false;
    rds_cluster *cl = awscluster_describe(ctx, res, tid, &missing, &rc);
    if (!cl) return missing ? STEP_OK : rc;
    *exists = awscluster_is_ours(ctx, cl, PGL_ROLE_TARGET);
    if (!*exists) log_warn("abort: a cluster named like our target is not ours: left alone", "cluster=%s", tid);
    rds_cluster_free(cl);
    return STEP_OK;
}

step_rc pgl_cluster_delete_target(step_ctx *ctx, step_result *res)
{
    char tid[64];
    awsstep_name(ctx, PGL_SFX_TARGET, tid, sizeof tid);
    return awscluster_delete_ours(ctx, res, tid, PGL_ROLE_TARGET);
}

step_rc pgl_cluster_delete_snapshot(step_ctx *ctx, step_result *res)
{
    step_rc rc = xacct_snapshots(ctx, res, false);
    if (rc != STEP_OK) return rc;
    char sid[64];
    awsstep_name(ctx, PGL_SFX_SNAP, sid, sizeof sid);
    return awscluster_delete_snapshot(ctx, res, sid);
}
