/* cluster — mysql-binlog's source state "Aurora MySQL cluster" (fact
 * kind=cluster, set by preflight when the submitted identifier names a DB
 * cluster; docs/mysql-binlog.md, docs/clusters.md): what differs from an
 * instance in each step, on the cluster helpers shared with pg-logical and
 * offline (shared/awscluster.h). The database steps are the instance's:
 * they reach the source's writer through the cluster endpoint (facts
 * address/port) and the target's through its own cluster endpoint
 * (target_address/target_port).
 *
 *  preflight       the cluster (engine aurora-mysql, key verdict, members
 *                  learnt), binlog_format=ROW in its *cluster* parameter
 *                  group, applied on the writer (static: else failed naming
 *                  the parameter, nothing changed);
 *  replica         nothing: Aurora MySQL reports the restore's position;
 *  snapshot        CreateDBClusterSnapshot of the running source (fc-…-snap):
 *                  a crash-consistent image of the volume;
 *  copy-encrypted  nothing: an unencrypted cluster snapshot cannot be
 *                  encrypted by copying; the restore takes the key;
 *  restore         RestoreDBClusterFromSnapshot fc-…-target --kms-key-id,
 *                  its writer and readers fc-…-<member>-target (same classes,
 *                  parameter groups, tiers, tags);
 *  find-binlog-position
 *                  the event "Binlog position from crash recovery is FILE
 *                  POS" of THIS restore (source type db-cluster, the target
 *                  cluster, dated at or after its creation): exactly one, or
 *                  refused; the position checked against the source's binary
 *                  log (the file there, an event boundary);
 *  cutover         the swap is a cluster rename (source → fc-…-retired,
 *                  target → the identifier): the cluster and reader
 *                  endpoints of the identifier follow it;
 *  cleanup         members take their names, tags (encrypted, retired-source),
 *                  deletion protection, the cluster snapshot deleted, the
 *                  retired cluster stopped;
 *  abort           a half-done swap renamed back, the target cluster and its
 *                  members deleted, the cluster snapshot deleted. */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awscluster.h"
#include "awscred.h"
#include "log.h"
#include "util.h"

#define EVENT_PREFIX "Binlog position from crash recovery is "

/* ---------------------------------------------------------------- preflight */
/* binlog_format=ROW in the cluster parameter group and applied on the writer. */
static step_rc cluster_binlog_format(step_ctx *ctx, step_result *res, const rds_cluster *cl)
{
    rds_parameter_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster_parameters(step_ctx_aws(ctx), cl->param_group, NULL, &pl, &e))
        return awsstep_fail(res, &e, "DescribeDBClusterParameters");
    step_rc rc = mb_binlog_format_verdict(res, pl, "cluster parameter group", cl->param_group, "writer");
    rds_parameter_list_free(pl);
    if (rc != STEP_OK) return rc;
    const rds_cluster_member *w = rds_cluster_writer(cl);
    if (w && w->param_group_status[0] && strcmp(w->param_group_status, "in-sync") != 0) {
        MB_REASON(res, "cluster parameter group %s waits for a reboot of the writer %s (%s; binlog_format is "
                       "static): reboot it first",
                  cl->param_group, w->instance_id, w->param_group_status);
        return STEP_FAIL;
    }
    return STEP_OK;
}

step_rc mb_cluster_preflight(step_ctx *ctx, step_result *res, bool renamed)
{
    if (renamed) {
        MB_REASON(res, "cluster found under fleetcrypt's retired name: a mysql-binlog preflight never renames");
        return STEP_FAIL;
    }
    step_rc rc = awscluster_preflight(ctx, res, false, step_ctx_opt_bool(ctx, "rekey"), "rekey", "aurora-mysql");
    if (rc != STEP_OK) return rc;
    /* RDS Proxies with the cluster as their target: switched by the cutover
     * after the cluster renames (awscluster_switch) */
    if ((rc = awscluster_proxy_learn(ctx, res, step_ctx_instance(ctx), NULL, false)) != STEP_OK) return rc;
    rds_cluster *cl = awscluster_live_source(ctx, res, "mysql-binlog", &rc);
    if (rc == STEP_OK) rc = cluster_binlog_format(ctx, res, cl);
    rds_cluster_free(cl);
    return rc;
}

/* ---------------------------------------------------------------- snapshot, restore */
step_rc mb_cluster_snapshot(step_ctx *ctx, step_result *res)
{
    char sid[64];
    awsstep_name(ctx, MB_SFX_SNAP, sid, sizeof sid);
    return awscluster_snapshot(ctx, res, step_ctx_instance(ctx), sid);
}

step_rc mb_cluster_restore(step_ctx *ctx, step_result *res)
{
    char tid[64], sid[64];
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    awsstep_name(ctx, MB_SFX_SNAP, sid, sizeof sid);
    return awscluster_restore_target(ctx, res, tid, sid, MB_SFX_TARGET);
}

/* ---------------------------------------------------------------- find-binlog-position */
bool mb_parse_recovery_event(const char *msg, char *file, size_t fcap, int64_t *pos)
{
    size_t n = strlen(EVENT_PREFIX);
    if (!msg || strncmp(msg, EVENT_PREFIX, n) != 0) return false;
    const char *p = msg + n, *sp = strchr(p, ' ');
    if (!sp || sp == p || (size_t)(sp - p) >= fcap) return false;
    for (const char *c = p; c < sp; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            return false;
    const char *d = sp + 1;
    if (*d < '0' || *d > '9') return false;
    char *end = NULL;
    long long v = strtoll(d, &end, 10);
    while (end && (*end == ' ' || *end == '\n' || *end == '\r')) end++;
    if (!end || *end || v < 4) return false;
    memcpy(file, p, (size_t)(sp - p));
    file[sp - p] = 0;
    *pos = v;
    return true;
}

int mb_pick_recovery_event(const rds_event *ev, size_t n, const char *cluster, int64_t created_ms, char *file,
                           size_t fcap, int64_t *pos, int *older)
{
    int found = 0;
    *older = 0;
    for (size_t k = 0; k < n; k++) {
        char f[128];
        int64_t p = 0, at = 0;
        if (strcmp(ev[k].source_id, cluster) != 0 || strcmp(ev[k].source_type, "db-cluster") != 0) continue;
        if (!mb_parse_recovery_event(ev[k].message, f, sizeof f, &p)) continue;
        if (!aws_parse_iso8601(ev[k].date, &at) || at < created_ms) {
            (*older)++; /* a cluster of this name before ours: another restore's */
            continue;
        }
        if (++found == 1) {
            fc_strlcpy(file, f, fcap);
            *pos = p;
        }
    }
    return found;
}

/* The position in the source's binary log: its file is there, and the
 * position is an event boundary in it (else the server refuses the read). */
static step_rc check_on_source(step_ctx *ctx, step_result *res, const char *file, int64_t pos)
{
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = STEP_OK;
    myq *q = mb_conn(&s, MB_SOURCE, &rc);
    if (!q) goto out;
    char err[400], p[32];
    snprintf(p, sizeof p, "%lld", (long long)pos);
    myq_res *r = myq_query(q, "SHOW BINARY LOGS", err, sizeof err);
    if (!r) {
        rc = mb_sql_fail(res, q, "SHOW BINARY LOGS on the source", err);
        goto out;
    }
    int64_t size = -1;
    for (int k = 0; k < r->nrows; k++)
        if (myq_cell(r, k, 0) && !strcmp(myq_cell(r, k, 0), file))
            size = myq_cell(r, k, 1) ? strtoll(myq_cell(r, k, 1), NULL, 10) : -1;
    myq_res_free(r);
    if (size < 0) {
        MB_REASON(res, "the restore's binlog position %s:%s names a file the source does not have (purged, or not "
                       "this source's): refused", file, p);
        rc = STEP_FAIL;
        goto out;
    }
    if (pos > size) {
        MB_REASON(res, "the restore's binlog position %s:%s lies past the end of that file on the source (%lld "
                       "bytes): refused", file, p, (long long)size);
        rc = STEP_FAIL;
        goto out;
    }
    const char *a[] = {file, p};
    r = myq_queryf(q, err, sizeof err, "SHOW BINLOG EVENTS IN %L FROM %R LIMIT 1", 2, a);
    if (!r) {
        MB_REASON(res, "the restore's binlog position %s:%s is no event boundary on the source (%.200s): refused",
                  file, p, err);
        rc = STEP_FAIL;
        goto out;
    }
    myq_res_free(r);
out:
    mb_session_finish(&s);
    return rc;
}

step_rc mb_cluster_position(step_ctx *ctx, step_result *res)
{
    /* recorded: the replicate step may have used it already */
    if (*mb_fact(ctx, "seed_file") && *mb_fact(ctx, "seed_pos")) return STEP_OK;
    char tid[64];
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_cluster *cl = awscluster_describe(ctx, res, tid, &missing, &rc);
    if (!cl) return missing ? (MB_REASON(res, "restored cluster %s not found", tid), STEP_FAIL) : rc;
    bool ours = awscluster_is_ours(ctx, cl, MB_ROLE_TARGET);
    int64_t created = 0;
    bool dated = aws_parse_iso8601(cl->create_time, &created);
    rds_cluster_free(cl);
    if (!ours) return (MB_REASON(res, "cluster %s is not fleetcrypt's target: refused", tid), STEP_FAIL);
    if (!dated) return (MB_REASON(res, "cluster %s reports no creation time: refused", tid), STEP_FAIL);
    /* every event of the target since its creation (DescribeEvents keeps 14 days) */
    int64_t mins = (fc_now_ms() - created) / 60000 + 10;
    rds_events_opts o = {.source_id = tid, .source_type = "db-cluster",
                         .duration_min = (int)(mins > 20160 ? 20160 : mins)};
    rds_event_list *l = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_events(step_ctx_aws(ctx), &o, &l, &e)) return awsstep_fail(res, &e, "DescribeEvents");
    char file[128] = "";
    int64_t pos = 0;
    int older = 0;
    int n = mb_pick_recovery_event(l->v, l->n, tid, created, file, sizeof file, &pos, &older);
    rds_event_list_free(l);
    if (n > 1) {
        MB_REASON(res, "%d \"" EVENT_PREFIX "...\" events for restored cluster %s: the position is ambiguous, refused",
                  n, tid);
        return STEP_FAIL;
    }
    if (n == 0) {
        int64_t since = awsstep_fact_i64(ctx, "restored_at", fc_now_ms());
        if (fc_now_ms() - since > 15 * 60 * 1000) {
            MB_REASON(res, "no \"" EVENT_PREFIX "...\" event for restored cluster %s%s: no exact position, refused",
                      tid, older ? " (only one older than the cluster: another restore's)" : "");
            return STEP_FAIL;
        }
        res->wait_ms = 5000;
        MB_REASON(res, "waiting for the restore's binlog position event of cluster %s%s", tid,
                  older ? " (ignoring an older one: another restore's)" : "");
        return STEP_WAIT;
    }
    if ((rc = check_on_source(ctx, res, file, pos)) != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "seed_file", file);
    step_ctx_set_factf(ctx, "seed_pos", "%lld", (long long)pos);
    step_ctx_set_fact(ctx, "seed_source", MB_SEED_EVENT);
    log_info("binlog position from the restore's crash recovery event", "instance=%s file=%s pos=%lld",
             step_ctx_instance(ctx), file, (long long)pos);
    return STEP_OK;
}

/* ---------------------------------------------------------------- cutover, cleanup, abort */
step_rc mb_cluster_swapped(step_ctx *ctx, step_result *res, const char *orig, const char *ret, bool *renamed)
{
    bool half = false;
    step_rc rc = awscluster_switched(ctx, res, orig, ret, MB_ROLE_TARGET, renamed, &half);
    *renamed = *renamed || half;
    return rc;
}

step_rc mb_cluster_finish(step_ctx *ctx, step_result *res)
{
    const char *id = step_ctx_instance(ctx);
    char ret[64], sid[64];
    awsstep_name(ctx, MB_SFX_RETIRED, ret, sizeof ret);
    awsstep_name(ctx, MB_SFX_SNAP, sid, sizeof sid);
    step_rc rc = STEP_OK;
    if (!step_ctx_fact(ctx, "members_done")) {
        if ((rc = awscluster_swap_members(ctx, res, ret, id, MB_SFX_TARGET)) != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "members_done", "1");
    }
    const char *keep = step_ctx_campaign_field(ctx, "keep_snapshots");
    bool kept = keep && (!strcmp(keep, "1") || !strcmp(keep, "true"));
    if ((rc = awscluster_retire(ctx, res, id, ret, sid, kept, MB_ROLE_RETIRED)) != STEP_OK) return rc;
    return awscluster_stop(ctx, res, ret);
}

step_rc mb_cluster_undo(step_ctx *ctx, step_result *res)
{
    char tid[64], sid[64];
    awsstep_name(ctx, MB_SFX_TARGET, tid, sizeof tid);
    awsstep_name(ctx, MB_SFX_SNAP, sid, sizeof sid);
    step_rc rc = awscluster_delete_ours(ctx, res, tid, MB_ROLE_TARGET);
    if (rc != STEP_OK) return rc;
    const char *keep = step_ctx_campaign_field(ctx, "keep_snapshots");
    if (keep && (!strcmp(keep, "1") || !strcmp(keep, "true"))) return STEP_OK;
    return awscluster_delete_snapshot(ctx, res, sid);
}
