/* awscluster — see awscluster.h. */
#include "awscluster.h"
#include "awsxacct.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static step_rc wait_for(step_result *res, int ms, const char *fmt, const char *a, const char *b)
{
    res->wait_ms = ms;
    snprintf(res->reason, sizeof res->reason, fmt, a, b ? b : "");
    return STEP_WAIT;
}

static const char *fact_or(step_ctx *ctx, const char *f, const char *dflt)
{
    const char *v = step_ctx_fact(ctx, f);
    return v && *v ? v : dflt;
}

static int fact_int(step_ctx *ctx, const char *f, int dflt)
{
    const char *v = step_ctx_fact(ctx, f);
    return v && *v ? atoi(v) : dflt;
}

static bool has_tag(const aws_tag *t, size_t n, const char *k, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].key, k) && (!v || !strcmp(t[i].value, v))) return true;
    return false;
}

bool awscluster_is(step_ctx *ctx)
{
    const char *k = step_ctx_fact(ctx, "kind");
    return k && !strcmp(k, "cluster");
}

int awscluster_probe(step_ctx *ctx, step_result *res, aws_client *c, const char *id, bool *renamed, step_rc *rc)
{
    char ret[64];
    awsstep_name(ctx, "retired", ret, sizeof ret);
    const char *names[2] = {id, ret};
    for (int k = 0; k < 2; k++) {
        rds_cluster *cl = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (rds_describe_db_cluster(c, names[k], &cl, &e)) {
            rds_cluster_free(cl);
            *renamed = k == 1;
            step_ctx_set_fact(ctx, "kind", "cluster");
            return 1;
        }
        if (e.kind != AWS_ERR_NOT_FOUND) {
            *rc = awsstep_fail(res, &e, "DescribeDBClusters");
            return -1;
        }
    }
    return 0;
}

size_t awscluster_members(step_ctx *ctx, awscluster_member *m, size_t cap)
{
    char buf[4096];
    fc_strlcpy(buf, fact_or(ctx, "members", ""), sizeof buf);
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save)) {
        char *f[5] = {0};
        int nf = 0;
        for (char *p = line; nf < 5; nf++) {
            f[nf] = p;
            char *t = strchr(p, '\t');
            if (!t) {
                nf++;
                break;
            }
            *t = 0;
            p = t + 1;
        }
        if (nf < 5) continue;
        memset(&m[n], 0, sizeof m[n]);
        fc_strlcpy(m[n].id, f[0], sizeof m[n].id);
        m[n].writer = !strcmp(f[1], "1");
        m[n].tier = atoi(f[2]);
        fc_strlcpy(m[n].cls, f[3], sizeof m[n].cls);
        fc_strlcpy(m[n].param_group, f[4], sizeof m[n].param_group);
        n++;
    }
    return n;
}

void awscluster_member_retired(step_ctx *ctx, const char *member, char *out, size_t cap)
{
    if (!step_resource_name(step_ctx_campaign(ctx), member, "retired", out, cap)) snprintf(out, cap, "fc-invalid");
}

/* ------------------------------------------------------------ preflight */
/* The members as facts: writer first, each described for class, parameter
 * group and tags. */
static step_rc learn_members(step_ctx *ctx, step_result *res, aws_client *c, const rds_cluster *cl)
{
    char lines[4096] = "", tags[2048] = "";
    size_t nl = 0, nt = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < cl->n_members; k++) {
            const rds_cluster_member *m = &cl->members[k];
            if (m->is_writer != (pass == 0)) continue;
            rds_instance *i = NULL;
            aws_error e;
            aws_error_clear(&e);
            if (!rds_describe_db_instance(c, m->instance_id, &i, &e)) return awsstep_fail(res, &e, "DescribeDBInstances (member)");
            nl += (size_t)snprintf(lines + nl, nl < sizeof lines ? sizeof lines - nl : 0, "%s\t%d\t%d\t%s\t%s\n",
                                   i->identifier, m->is_writer ? 1 : 0,
                                   i->promotion_tier == RDS_UNSET ? 1 : i->promotion_tier, i->instance_class,
                                   i->n_param_groups ? i->param_groups[0].name : "");
            for (size_t t = 0; t < i->n_tags && nt < sizeof tags; t++) {
                if (!strncmp(i->tags[t].key, "aws:", 4) || !strncmp(i->tags[t].key, "fleetcrypt", 10)) continue;
                nt += (size_t)snprintf(tags + nt, sizeof tags - nt, "%s\t%s\t%s\n", i->identifier, i->tags[t].key,
                                       i->tags[t].value);
            }
            rds_instance_free(i);
        }
    }
    if (nl >= sizeof lines || nt >= sizeof tags) {
        snprintf(res->reason, sizeof res->reason, "cluster %s: too many members or member tags to record",
                 cl->identifier);
        return STEP_FAIL;
    }
    step_ctx_set_fact(ctx, "members", lines);
    step_ctx_set_fact(ctx, "member_tags", tags);
    return STEP_OK;
}

static void learn_cluster(step_ctx *ctx, const rds_cluster *cl)
{
    step_ctx_set_fact(ctx, "engine", cl->engine);
    step_ctx_set_fact(ctx, "engine_version", cl->engine_version);
    step_ctx_set_fact(ctx, "cluster_param_group", cl->param_group);
    step_ctx_set_fact(ctx, "subnet_group", cl->subnet_group);
    char sgs[512] = "";
    size_t n = 0;
    for (size_t k = 0; k < cl->n_vpc_sg_ids && n < sizeof sgs; k++)
        n += (size_t)snprintf(sgs + n, sizeof sgs - n, "%s%s", k ? "," : "", cl->vpc_sg_ids[k]);
    step_ctx_set_fact(ctx, "sgs", sgs);
    step_ctx_set_factf(ctx, "port", "%d", cl->port);
    step_ctx_set_factf(ctx, "backup_retention", "%d", cl->backup_retention);
    step_ctx_set_factf(ctx, "deletion_protection", "%d", cl->deletion_protection ? 1 : 0);
    char tags[1024] = "";
    n = 0;
    for (size_t k = 0; k < cl->n_tags && k < 20 && n < sizeof tags; k++) {
        if (!strncmp(cl->tags[k].key, "aws:", 4) || !strncmp(cl->tags[k].key, "fleetcrypt", 10)) continue;
        n += (size_t)snprintf(tags + n, sizeof tags - n, "%s\t%s\n", cl->tags[k].key, cl->tags[k].value);
    }
    if (n < sizeof tags) step_ctx_set_fact(ctx, "tags", tags);
}

static step_rc judge(step_ctx *ctx, step_result *res, aws_client *c, const rds_cluster *cl, bool renamed, bool rekey,
                     const char *flag, const char *engine_prefix)
{
    awsstep_key_src k = {cl->storage_encrypted, cl->kms_key_id, cl->storage_encryption_type};
    step_rc rc = awsstep_key_verdict(ctx, res, c, &k, rekey, flag, false);
    if (rc != STEP_OK) return rc;
    if (strncmp(cl->engine, engine_prefix, strlen(engine_prefix))) {
        snprintf(res->reason, sizeof res->reason, "cluster engine %s is not supported (%s only)", cl->engine,
                 engine_prefix);
        return STEP_FAIL;
    }
    if (!renamed && (rc = awsstep_key_verdict(ctx, res, c, &k, rekey, flag, true)) != STEP_OK) return rc;
    if (!renamed && strcmp(cl->status, "available") && strcmp(cl->status, "stopped"))
        return wait_for(res, 10000, "cluster is %s; waiting for available or stopped%s", cl->status, NULL);
    if (cl->n_members == 0 && !step_ctx_fact(ctx, "members")) {
        snprintf(res->reason, sizeof res->reason, "cluster %s has no instances", cl->identifier);
        return STEP_FAIL;
    }
    if (cl->n_members > AWSCLUSTER_MAX_MEMBERS) {
        snprintf(res->reason, sizeof res->reason, "cluster %s has %zu members (at most %d)", cl->identifier,
                 cl->n_members, AWSCLUSTER_MAX_MEMBERS);
        return STEP_FAIL;
    }
    return STEP_OK;
}

step_rc awscluster_preflight(step_ctx *ctx, step_result *res, bool renamed, bool rekey, const char *rekey_flag,
                             const char *engine_prefix)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    char ret[64];
    awsstep_name(ctx, "retired", ret, sizeof ret);
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, renamed ? ret : step_ctx_instance(ctx), &cl, &e))
        return awsstep_fail(res, &e, "DescribeDBClusters");
    step_rc rc = judge(ctx, res, c, cl, renamed, rekey, rekey_flag, engine_prefix);
    if (rc == STEP_OK && !renamed) {
        learn_cluster(ctx, cl);
        rc = learn_members(ctx, res, c, cl);
    }
    if (rc == STEP_OK) {
        awscluster_member m[AWSCLUSTER_MAX_MEMBERS];
        size_t n = awscluster_members(ctx, m, AWSCLUSTER_MAX_MEMBERS);
        /* what this cluster may still create: one cluster, its members, one snapshot */
        if (!step_ctx_fact(ctx, "restore_at")) {
            step_ctx_set_factf(ctx, "q_inst", "%zu", n);
            step_ctx_set_fact(ctx, "q_clu", "1");
        }
        if (!step_ctx_fact(ctx, "snap_at")) step_ctx_set_fact(ctx, "q_snap", "1");
        if (renamed) awsstep_mark(ctx, "renamed_at");
        log_info("cluster source", "cluster=%s members=%zu encryption=%s", cl->identifier, n,
                 cl->storage_encryption_type);
    }
    rds_cluster_free(cl);
    return rc;
}

step_rc awscluster_xacct_preflight(step_ctx *ctx, step_result *res, const rds_cluster *cl, bool logical)
{
    awscluster_member m[AWSCLUSTER_MAX_MEMBERS];
    size_t n = awscluster_members(ctx, m, AWSCLUSTER_MAX_MEMBERS);
    const char *pgs[AWSCLUSTER_MAX_MEMBERS];
    for (size_t k = 0; k < n; k++) pgs[k] = m[k].param_group;
    return awsxacct_preflight_cluster(ctx, res, cl, pgs, n, logical);
}

/* ------------------------------------------------------------ rename, stop */
static step_rc rename_cluster(step_ctx *ctx, step_result *res, aws_client *c, const char *id, const char *to)
{
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBClusters");
        awsstep_mark(ctx, "renamed_at"); /* our earlier attempt got through */
        return STEP_OK;
    }
    char st[48];
    fc_strlcpy(st, cl->status, sizeof st);
    rds_cluster_free(cl);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error_clear(&e);
    if (!strcmp(st, "stopped")) {
        if (rds_start_db_cluster(c, id, NULL, &e) || !strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 5000, "starting the stopped source cluster %s to rename it%s", id, NULL);
        return awsstep_fail(res, &e, "StartDBCluster");
    }
    if (strcmp(st, "available")) return wait_for(res, 3000, "source cluster %s is %s", id, st);
    rds_modify_cluster_opts o;
    rds_modify_cluster_opts_init(&o);
    o.identifier = id;
    o.new_identifier = to;
    o.apply_immediately = true;
    if (!rds_modify_db_cluster(c, &o, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 3000, "source cluster busy: %.300s%s", e.message, NULL);
        return awsstep_fail(res, &e, "ModifyDBCluster (rename source)");
    }
    awsstep_mark(ctx, "renamed_at");
    log_info("source cluster renamed", "from=%s to=%s", id, to);
    return wait_for(res, 1000, "renaming cluster %s to %s", id, to);
}

/* Each source member still under its name (and in the renamed cluster) is
 * renamed to its retired name; STEP_OK once none is left. */
static step_rc rename_members(step_ctx *ctx, step_result *res, aws_client *c, const char *cluster)
{
    awscluster_member m[AWSCLUSTER_MAX_MEMBERS];
    size_t n = awscluster_members(ctx, m, AWSCLUSTER_MAX_MEMBERS);
    step_rc rc = STEP_OK;
    for (size_t k = 0; k < n && rc != STEP_FAIL && rc != STEP_RETRY; k++) {
        char ret[64];
        awscluster_member_retired(ctx, m[k].id, ret, sizeof ret);
        rds_instance *i = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (!rds_describe_db_instance(c, m[k].id, &i, &e)) {
            if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBInstances (member)");
            aws_error_clear(&e);
            if (!rds_describe_db_instance(c, ret, &i, &e)) return awsstep_fail(res, &e, "DescribeDBInstances (retired member)");
            if (strcmp(i->status, "available")) rc = wait_for(res, 2000, "retired member %s is %s", ret, i->status);
        } else if (strcmp(i->cluster_id, cluster)) {
            snprintf(res->reason, sizeof res->reason, "member %s is in cluster %s, not %s", m[k].id, i->cluster_id,
                     cluster);
            rc = STEP_FAIL;
        } else if (strcmp(i->status, "available")) {
            rc = wait_for(res, 2000, "member %s is %s", m[k].id, i->status);
        } else if (!step_ctx_lease_ok(ctx)) {
            rc = LEASE_LOST(res);
        } else {
            rds_modify_instance_opts o;
            rds_modify_instance_opts_init(&o);
            o.identifier = m[k].id;
            o.new_identifier = ret;
            o.apply_immediately = true;
            aws_error_clear(&e);
            if (rds_modify_db_instance(c, &o, NULL, &e) || !strcmp(e.code, "InvalidDBInstanceState"))
                rc = wait_for(res, 1000, "renaming member %s to %s", m[k].id, ret);
            else
                rc = awsstep_fail(res, &e, "ModifyDBInstance (rename member)");
        }
        rds_instance_free(i);
    }
    return rc;
}

step_rc awscluster_rename_source(step_ctx *ctx, step_result *res, const char *to)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_fact(ctx, "renamed_at")) {
        step_rc rc = rename_cluster(ctx, res, c, step_ctx_instance(ctx), to);
        if (rc != STEP_OK) return rc;
    }
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, to, &cl, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND) return wait_for(res, 1000, "waiting for cluster %s%s", to, NULL);
        return awsstep_fail(res, &e, "DescribeDBClusters (retired)");
    }
    bool avail = !strcmp(cl->status, "available");
    step_rc rc = avail ? STEP_OK : wait_for(res, 1000, "retired cluster %s is %s", to, cl->status);
    rds_cluster_free(cl);
    return rc == STEP_OK ? rename_members(ctx, res, c, to) : rc;
}

step_rc awscluster_stop(step_ctx *ctx, step_result *res, const char *id)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) return awsstep_fail(res, &e, "DescribeDBClusters (retired)");
    char st[48];
    fc_strlcpy(st, cl->status, sizeof st);
    rds_cluster_free(cl);
    if (!strcmp(st, "stopped")) return STEP_OK;
    if (strcmp(st, "available")) return wait_for(res, 2000, "retired cluster %s is %s", id, st);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error_clear(&e);
    if (!rds_stop_db_cluster(c, id, NULL, &e) && strcmp(e.code, "InvalidDBClusterStateFault"))
        return awsstep_fail(res, &e, "StopDBCluster");
    awsstep_mark(ctx, "stop_at");
    return wait_for(res, 1000, "stopping cluster %s%s", id, NULL);
}

/* ------------------------------------------------------------ snapshot */
/* Aurora snapshots an available cluster only (awssim refuses a stopped
 * one): the stopped source is started again for its snapshot, after the
 * stop cut every connection and the old name's endpoints moved on; the
 * retire step stops it again. */
static step_rc snapshot_ready(step_ctx *ctx, step_result *res, aws_client *c, const char *of)
{
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, of, &cl, &e)) return awsstep_fail(res, &e, "DescribeDBClusters (retired)");
    char st[48];
    fc_strlcpy(st, cl->status, sizeof st);
    rds_cluster_free(cl);
    if (!strcmp(st, "available")) return STEP_OK;
    if (strcmp(st, "stopped")) return wait_for(res, 2000, "retired cluster %s is %s", of, st);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error_clear(&e);
    if (!rds_start_db_cluster(c, of, NULL, &e) && strcmp(e.code, "InvalidDBClusterStateFault"))
        return awsstep_fail(res, &e, "StartDBCluster (for its snapshot)");
    log_info("retired cluster started for its snapshot", "cluster=%s", of);
    return wait_for(res, 1000, "starting retired cluster %s for its snapshot%s", of, NULL);
}

/* A cluster snapshot of ours found (s, freed here): STEP_OK once available
 * (fact `fact` = its id), STEP_WAIT while it is made, STEP_FAIL when it is
 * not ours or failed. */
static step_rc snapshot_state(step_ctx *ctx, step_result *res, rds_cluster_snapshot *s, const char *fact)
{
    char st[32], id[256];
    fc_strlcpy(st, s->status, sizeof st);
    fc_strlcpy(id, s->id, sizeof id);
    bool ours = has_tag(s->tags, s->n_tags, "fleetcrypt:instance", step_ctx_instance(ctx));
    rds_cluster_snapshot_free(s);
    if (!ours) {
        snprintf(res->reason, sizeof res->reason, "cluster snapshot %s exists but fleetcrypt did not create it", id);
        return STEP_FAIL;
    }
    if (!strcmp(st, "available")) {
        step_ctx_set_fact(ctx, fact, id);
        return STEP_OK;
    }
    if (!strcmp(st, "failed") || !strcmp(st, "error")) {
        snprintf(res->reason, sizeof res->reason, "cluster snapshot %s is %s", id, st);
        return STEP_FAIL;
    }
    return wait_for(res, 2000, "waiting for cluster snapshot %s (%s)", id, st);
}

step_rc awscluster_snapshot(step_ctx *ctx, step_result *res, const char *of, const char *snap_id)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    rds_cluster_snapshot *s = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_cluster_snapshot(c, snap_id, &s, &e)) return snapshot_state(ctx, res, s, "snapshot");
    if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBClusterSnapshots");
    step_rc rc = snapshot_ready(ctx, res, c, of);
    if (rc != STEP_OK) return rc;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_tag tags[4];
    size_t nt = awsstep_tags(ctx, "source-snapshot", tags, 4);
    aws_error_clear(&e);
    if (!rds_create_db_cluster_snapshot(c, snap_id, of, tags, nt, NULL, &e) &&
        strcmp(e.code, "DBClusterSnapshotAlreadyExistsFault")) {
        if (!strcmp(e.code, "SnapshotQuotaExceeded")) {
            snprintf(res->reason, sizeof res->reason, "manual cluster snapshot quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        if (!strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 3000, "retired cluster busy: %.300s%s", e.message, NULL);
        return awsstep_fail(res, &e, "CreateDBClusterSnapshot");
    }
    awsstep_mark(ctx, "snap_at");
    log_info("cluster snapshot started", "snapshot=%s cluster=%s", snap_id, of);
    return wait_for(res, 1000, "snapshotting cluster %s to %s", of, snap_id);
}

/* ------------------------------------------------------------ copy into the target account */
step_rc awscluster_copy_to_target(step_ctx *ctx, step_result *res, const char *snap_id, const char *enc_id)
{
    step_rc rc = awsxacct_share_cluster(ctx, res, snap_id);
    if (rc != STEP_OK) return rc;
    aws_client *sc = step_ctx_aws(ctx), *tc = awsxacct_client_for(ctx, enc_id);
    if (!sc || !tc) return NO_CLIENT(res);
    rds_cluster_snapshot *s = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_cluster_snapshot(tc, enc_id, &s, &e)) return snapshot_state(ctx, res, s, "enc_snapshot");
    if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBClusterSnapshots (target account)");
    /* a shared encrypted snapshot is copied with the target's key (KmsKeyId
     * required); an unencrypted one is copied as it is (a cluster snapshot
     * copy cannot encrypt) and the restore encrypts */
    aws_error_clear(&e);
    if (!rds_describe_db_cluster_snapshot(sc, snap_id, &s, &e)) return awsstep_fail(res, &e, "DescribeDBClusterSnapshots");
    bool encrypted = s->encrypted;
    rds_cluster_snapshot_free(s);
    char src_arn[320];
    awsxacct_cluster_snapshot_arn(ctx, snap_id, src_arn, sizeof src_arn);
    aws_tag tags[4];
    size_t nt = awsstep_tags(ctx, "encrypted-snapshot", tags, 4);
    rds_copy_snapshot_opts o;
    memset(&o, 0, sizeof o);
    o.source_id = src_arn;
    o.target_id = enc_id;
    o.kms_key_id = encrypted ? step_ctx_campaign_field(ctx, "kms_key_arn") : NULL;
    o.copy_tags = 0;
    o.tags = tags;
    o.ntags = nt;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error_clear(&e);
    if (!rds_copy_db_cluster_snapshot(tc, &o, NULL, &e) && strcmp(e.code, "DBClusterSnapshotAlreadyExistsFault")) {
        if (!strcmp(e.code, "SnapshotQuotaExceeded")) {
            snprintf(res->reason, sizeof res->reason, "manual cluster snapshot quota exceeded in the target account: "
                     "%.300s", e.message);
            return STEP_RETRY;
        }
        return awsstep_fail(res, &e, "CopyDBClusterSnapshot (target account)");
    }
    awsstep_mark(ctx, "copy_at");
    log_info("cluster snapshot copy into the target account started", "snapshot=%s copy=%s encrypted=%d", snap_id,
             enc_id, encrypted ? 1 : 0);
    return wait_for(res, 1000, "copying cluster snapshot %s into the target account as %s", snap_id, enc_id);
}

/* ------------------------------------------------------------ restore */
static size_t split_sgs(step_ctx *ctx, const char *id, char *buf, size_t cap, const char **v, size_t vcap)
{
    /* across accounts: the campaign's target_security_groups, else the
     * source's groups mapped by name at preflight (fact target_sgs) */
    const char *sgs = fact_or(ctx, "sgs", "");
    if (awsxacct_in_target(ctx, id))
        sgs = *step_ctx_opt(ctx, "target_security_groups") ? step_ctx_opt(ctx, "target_security_groups")
                                                           : fact_or(ctx, "target_sgs", "");
    fc_strlcpy(buf, sgs, cap);
    size_t n = 0;
    char *save = NULL;
    for (char *sg = strtok_r(buf, ",", &save); sg && n < vcap; sg = strtok_r(NULL, ",", &save)) v[n++] = sg;
    return n;
}

static step_rc start_cluster_restore(step_ctx *ctx, step_result *res, aws_client *c, const char *id,
                                     const char *snap_id, bool protect)
{
    aws_tag tags[24];
    size_t nt = awsstep_tags(ctx, "encrypted-target", tags, 24);
    nt = awsstep_tags_from_fact(ctx, "tags", tags, nt, 24);
    char sgbuf[512];
    const char *sgv[16];
    size_t nsg = split_sgs(ctx, id, sgbuf, sizeof sgbuf, sgv, 16);
    rds_restore_cluster_opts o;
    rds_restore_cluster_opts_init(&o);
    o.identifier = id;
    o.snapshot_id = snap_id;
    o.engine = fact_or(ctx, "engine", NULL);
    o.engine_version = fact_or(ctx, "engine_version", NULL);
    /* the one way to the campaign key for an unencrypted or AWS-owned-key
     * snapshot (neither can be copied with a key), and a re-key otherwise */
    o.kms_key_id = step_ctx_campaign_field(ctx, "kms_key_arn");
    o.param_group = fact_or(ctx, "cluster_param_group", NULL);
    o.subnet_group = fact_or(ctx, "subnet_group", NULL);
    o.vpc_sg_ids = nsg ? sgv : NULL;
    o.n_vpc_sg_ids = nsg;
    o.port = fact_int(ctx, "port", RDS_UNSET);
    o.deletion_protection = protect ? fact_int(ctx, "deletion_protection", RDS_UNSET) : 0;
    o.tags = tags;
    o.ntags = nt;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_restore_db_cluster_from_snapshot(c, &o, NULL, &e) && strcmp(e.code, "DBClusterAlreadyExistsFault")) {
        if (!strcmp(e.code, "DBClusterQuotaExceededFault")) {
            snprintf(res->reason, sizeof res->reason, "DB cluster quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        step_rc rc = awsstep_fail(res, &e, "RestoreDBClusterFromSnapshot");
        const char *et = step_ctx_fact(ctx, "source_encryption_type");
        if (rc == STEP_FAIL && et && !strcmp(et, "sse-rds")) {
            /* whether AWS re-keys an AWS-owned-key snapshot in a restore is
             * not documented (docs/clusters.md, AWS owned keys): say what
             * refused and the way left */
            log_warn("restore of an AWS-owned-key cluster snapshot under the campaign key refused", "code=%s",
                     e.code);
            step_ctx_set_fact(ctx, "owned_key_refused", "1"); /* pg-logical's --initial-copy takes over */
            snprintf(res->reason, sizeof res->reason,
                     "the source is encrypted with an AWS owned key and AWS refused to restore its snapshot under "
                     "the campaign key (%.60s: %.120s); the way left is a new cluster created with the campaign "
                     "key and filled by logical replication with initial copy (strategy pg-logical, "
                     "--initial-copy auto or always; docs/clusters.md)", e.code, e.message);
        }
        return rc;
    }
    step_ctx_set_fact(ctx, "q_clu", "0");
    awsstep_mark(ctx, "restore_at");
    log_info("cluster restore started", "target=%s snapshot=%s", id, snap_id);
    return wait_for(res, 1000, "restoring cluster %s from %s", id, snap_id);
}

/* The restored cluster: ours, available, on the campaign key. */
static step_rc target_cluster(step_ctx *ctx, step_result *res, aws_client *c, const char *id, const char *snap_id,
                              bool protect)
{
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBClusters (target)");
        return start_cluster_restore(ctx, res, c, id, snap_id, protect);
    }
    const char *want = step_ctx_campaign_field(ctx, "kms_key_arn");
    step_rc rc = STEP_OK;
    if (!has_tag(cl->tags, cl->n_tags, "fleetcrypt:campaign", step_ctx_campaign(ctx))) {
        snprintf(res->reason, sizeof res->reason, "identifier %s is now taken by a cluster fleetcrypt did not create",
                 id);
        rc = STEP_FAIL;
    } else if (strcmp(cl->status, "available")) {
        rc = wait_for(res, 2000, "waiting for cluster %s (%s)", id, cl->status);
    } else if (!cl->storage_encrypted || !awsstep_same_key(cl->kms_key_id, want)) {
        snprintf(res->reason, sizeof res->reason, "restored cluster %s is not encrypted with %s (kms %s)", id, want,
                 cl->kms_key_id);
        rc = STEP_FAIL;
    } else {
        step_ctx_set_fact(ctx, "target_kms", cl->kms_key_id);
    }
    rds_cluster_free(cl);
    return rc;
}

static step_rc create_member(step_ctx *ctx, step_result *res, aws_client *c, const char *cluster,
                             const awscluster_member *m, const char *name)
{
    aws_tag tags[24];
    size_t nt = awsstep_tags(ctx, "encrypted-target", tags, 24);
    char buf[2048];
    fc_strlcpy(buf, fact_or(ctx, "member_tags", ""), sizeof buf);
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && nt < 24; line = strtok_r(NULL, "\n", &save)) {
        char *k = strchr(line, '\t'), *v = k ? strchr(k + 1, '\t') : NULL;
        if (!v) continue;
        *k++ = 0;
        *v++ = 0;
        if (strcmp(line, m->id)) continue;
        fc_strlcpy(tags[nt].key, k, sizeof tags[nt].key);
        fc_strlcpy(tags[nt].value, v, sizeof tags[nt].value);
        nt++;
    }
    rds_create_instance_opts o;
    rds_create_instance_opts_init(&o);
    o.identifier = name;
    o.cluster_id = cluster;
    o.promotion_tier = m->tier;
    o.instance_class = m->cls;
    o.engine = fact_or(ctx, "engine", "aurora-postgresql");
    o.param_group = m->param_group[0] ? m->param_group : NULL;
    o.tags = tags;
    o.ntags = nt;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_create_db_instance(c, &o, NULL, &e) && strcmp(e.code, "DBInstanceAlreadyExists")) {
        if (!strcmp(e.code, "InstanceQuotaExceeded")) {
            snprintf(res->reason, sizeof res->reason, "DB instance quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        return awsstep_fail(res, &e, "CreateDBInstance (cluster member)");
    }
    log_info("cluster member created", "member=%s cluster=%s writer=%d", name, cluster, m->writer ? 1 : 0);
    return wait_for(res, 1000, "creating %s in cluster %s", name, cluster);
}

/* The writer first, then every reader at once; STEP_OK when all are available. */
static step_rc target_members(step_ctx *ctx, step_result *res, aws_client *c, const char *cluster, const char *sfx)
{
    awscluster_member m[AWSCLUSTER_MAX_MEMBERS];
    size_t n = awscluster_members(ctx, m, AWSCLUSTER_MAX_MEMBERS);
    step_rc rc = STEP_OK;
    for (size_t k = 0; k < n; k++) {
        rds_instance *i = NULL;
        aws_error e;
        aws_error_clear(&e);
        step_rc r1;
        char name[64];
        awscluster_member_name(ctx, m[k].id, sfx, name, sizeof name);
        if (!rds_describe_db_instance(c, name, &i, &e)) {
            r1 = e.kind == AWS_ERR_NOT_FOUND ? create_member(ctx, res, c, cluster, &m[k], name)
                                             : awsstep_fail(res, &e, "DescribeDBInstances (member)");
        } else if (strcmp(i->cluster_id, cluster)) {
            snprintf(res->reason, sizeof res->reason, "identifier %s is taken by an instance outside cluster %s",
                     name, cluster);
            r1 = STEP_FAIL;
        } else {
            r1 = !strcmp(i->status, "available") ? STEP_OK
                                                 : wait_for(res, 2000, "member %s is %s", name, i->status);
        }
        rds_instance_free(i);
        if (r1 == STEP_FAIL || r1 == STEP_RETRY) return r1;
        if (r1 != STEP_OK) rc = r1;
        if (rc != STEP_OK && m[k].writer) return rc; /* readers join an available writer */
    }
    return rc;
}

void awscluster_member_name(step_ctx *ctx, const char *member, const char *sfx, char *out, size_t cap)
{
    if (!sfx) {
        fc_strlcpy(out, member, cap);
        return;
    }
    if (!step_resource_name(step_ctx_campaign(ctx), member, sfx, out, cap)) snprintf(out, cap, "fc-invalid");
}

step_rc awscluster_restore(step_ctx *ctx, step_result *res, const char *id, const char *snap_id)
{
    return awscluster_restore_as(ctx, res, id, snap_id, NULL, true);
}

step_rc awscluster_restore_as(step_ctx *ctx, step_result *res, const char *id, const char *snap_id,
                              const char *member_sfx, bool protect)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    step_rc rc = target_cluster(ctx, res, c, id, snap_id, protect);
    if (rc == STEP_OK) rc = target_members(ctx, res, c, id, member_sfx);
    if (rc != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "q_inst", "0");
    int64_t down0 = awsstep_fact_i64(ctx, "renamed_at", 0);
    if (down0 > 0) {
        char d[32];
        snprintf(d, sizeof d, "%.1f", (double)(fc_now_ms() - down0) / 1000.0);
        step_ctx_set_field(ctx, "downtime_s", d);
    }
    return STEP_OK;
}

step_rc awscluster_configure(step_ctx *ctx, step_result *res, const char *id)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    int want = fact_int(ctx, "backup_retention", -1);
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) return awsstep_fail(res, &e, "DescribeDBClusters (target)");
    int have = cl->backup_retention;
    char st[48];
    fc_strlcpy(st, cl->status, sizeof st);
    rds_cluster_free(cl);
    if (want < 1 || want == have) return STEP_OK;
    if (strcmp(st, "available")) return wait_for(res, 2000, "cluster %s is %s", id, st);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_modify_cluster_opts o;
    rds_modify_cluster_opts_init(&o);
    o.identifier = id;
    o.backup_retention = want;
    o.apply_immediately = true;
    aws_error_clear(&e);
    if (!rds_modify_db_cluster(c, &o, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 3000, "target cluster busy: %.300s%s", e.message, NULL);
        return awsstep_fail(res, &e, "ModifyDBCluster (backup retention)");
    }
    return wait_for(res, 1000, "setting backup retention on cluster %s%s", id, NULL);
}

/* ------------------------------------------------------------ tags, cleanup */
step_rc awscluster_tag(step_ctx *ctx, step_result *res, const char *id, const char *role)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) return awsstep_fail(res, &e, "DescribeDBClusters");
    char arn[256];
    fc_strlcpy(arn, cl->arn, sizeof arn);
    rds_cluster_free(cl);
    return awsstep_tag_retired(ctx, res, c, arn, role);
}

step_rc awscluster_promote(step_ctx *ctx, step_result *res, const char *id)
{
    if (step_ctx_fact(ctx, "target_promoted")) return STEP_OK;
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster(c, id, &cl, &e)) return awsstep_fail(res, &e, "DescribeDBClusters (promote)");
    aws_tag tag;
    fc_strlcpy(tag.key, "fleetcrypt:role", sizeof tag.key);
    fc_strlcpy(tag.value, "encrypted", sizeof tag.value);
    step_rc rc = STEP_OK;
    if (!step_ctx_lease_ok(ctx)) rc = LEASE_LOST(res);
    else if (!rds_add_tags_to_resource(c, cl->arn, &tag, 1, &e)) rc = awsstep_fail(res, &e, "AddTagsToResource (promote)");
    for (size_t k = 0; k < cl->n_members && rc == STEP_OK; k++) {
        rds_instance *i = NULL;
        aws_error_clear(&e);
        if (!rds_describe_db_instance(c, cl->members[k].instance_id, &i, &e))
            rc = awsstep_fail(res, &e, "DescribeDBInstances (promote member)");
        else if (has_tag(i->tags, i->n_tags, "fleetcrypt:role", "encrypted-target") &&
                 !rds_add_tags_to_resource(c, i->arn, &tag, 1, &e))
            rc = awsstep_fail(res, &e, "AddTagsToResource (promote member)");
        rds_instance_free(i);
    }
    rds_cluster_free(cl);
    if (rc == STEP_OK) step_ctx_set_fact(ctx, "target_promoted", "1");
    return rc;
}

step_rc awscluster_delete_snapshot(step_ctx *ctx, step_result *res, const char *snap_id)
{
    return awscluster_delete_snapshot_as(ctx, res, snap_id, "deleted_snap");
}

step_rc awscluster_delete_snapshot_as(step_ctx *ctx, step_result *res, const char *snap_id, const char *done_fact)
{
    if (step_ctx_fact(ctx, done_fact)) return STEP_OK;
    aws_client *c = awsxacct_client_for(ctx, snap_id);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_delete_db_cluster_snapshot(c, snap_id, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        if (!strcmp(e.code, "InvalidDBClusterSnapshotStateFault"))
            return wait_for(res, 3000, "cluster snapshot %s busy: %.300s", snap_id, e.message);
        return awsstep_fail(res, &e, "DeleteDBClusterSnapshot");
    }
    step_ctx_set_fact(ctx, done_fact, "1");
    step_ctx_set_fact(ctx, "q_snap", "0");
    return STEP_OK;
}

/* ------------------------------------------------------------ swap (pg-logical) */
rds_cluster *awscluster_describe(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc)
{
    *missing = false;
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) {
        *rc = NO_CLIENT(res);
        return NULL;
    }
    rds_cluster *cl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_cluster(c, id, &cl, &e)) return cl;
    if (e.kind == AWS_ERR_NOT_FOUND) {
        *missing = true;
        *rc = STEP_OK;
    } else {
        *rc = awsstep_fail(res, &e, "DescribeDBClusters");
    }
    return NULL;
}

bool awscluster_is_ours(step_ctx *ctx, const rds_cluster *cl, const char *role)
{
    return has_tag(cl->tags, cl->n_tags, "fleetcrypt:campaign", step_ctx_campaign(ctx)) &&
           has_tag(cl->tags, cl->n_tags, "fleetcrypt:instance", step_ctx_instance(ctx)) &&
           (!role || has_tag(cl->tags, cl->n_tags, "fleetcrypt:role", role));
}

step_rc awscluster_rename(step_ctx *ctx, step_result *res, const char *from, const char *to)
{
    return awscluster_rename_try(ctx, res, from, to, 0);
}

step_rc awscluster_rename_try(step_ctx *ctx, step_result *res, const char *from, const char *to, int64_t deadline)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_modify_cluster_opts o;
    rds_modify_cluster_opts_init(&o);
    o.identifier = from;
    o.new_identifier = to;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    /* writers blocked until deadline: a rename failing for now (throttled,
     * 5xx, unanswered, the cluster busy — renaming after an attempt whose
     * answer was lost) is sent again until then, not after the step's
     * re-run; the lost answer's retry that finds `from` gone looks for `to`
     * (rds_rename_carried_out) */
    aws_retry_until prev;
    awsstep_blocked_budget(ctx, c, deadline, true, &prev);
    bool ok = rds_modify_db_cluster(c, &o, NULL, &e);
    aws_client_retry_until(c, &prev, NULL);
    if (!ok) {
        if (!strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 2000, "cluster %s busy: %.300s", from, e.message);
        return awsstep_fail(res, &e, "ModifyDBCluster (rename)");
    }
    log_info("cluster renamed", "from=%s to=%s", from, to);
    return STEP_OK;
}

/* Rename instance from → to now; WAIT either way (the rename takes a while). */
static step_rc rename_instance(step_ctx *ctx, step_result *res, aws_client *c, const char *from, const char *to)
{
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_modify_instance_opts o;
    rds_modify_instance_opts_init(&o);
    o.identifier = from;
    o.new_identifier = to;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_modify_db_instance(c, &o, NULL, &e) && strcmp(e.code, "InvalidDBInstanceState"))
        return awsstep_fail(res, &e, "ModifyDBInstance (rename member)");
    log_info("cluster member renamed", "from=%s to=%s", from, to);
    return wait_for(res, 1000, "renaming member %s to %s", from, to);
}

/* One member of the swap: where is its name now? */
static step_rc swap_member(step_ctx *ctx, step_result *res, aws_client *c, const awscluster_member *m,
                           const char *retired, const char *cluster, const char *sfx)
{
    char ret[64], fresh[64];
    awscluster_member_retired(ctx, m->id, ret, sizeof ret);
    awscluster_member_name(ctx, m->id, sfx, fresh, sizeof fresh);
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    step_rc rc;
    if (rds_describe_db_instance(c, m->id, &i, &e)) {
        if (!strcmp(i->cluster_id, cluster))
            rc = !strcmp(i->status, "available") ? STEP_OK : wait_for(res, 2000, "member %s is %s", m->id, i->status);
        else if (!strcmp(i->cluster_id, retired))
            rc = strcmp(i->status, "available") ? wait_for(res, 2000, "old member %s is %s", m->id, i->status)
                                                : rename_instance(ctx, res, c, m->id, ret);
        else {
            snprintf(res->reason, sizeof res->reason, "member %s is in cluster %s, neither %s nor %s", m->id,
                     i->cluster_id, cluster, retired);
            rc = STEP_FAIL;
        }
        rds_instance_free(i);
        return rc;
    }
    if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBInstances (member)");
    /* the name is free: the fresh member takes it */
    aws_error_clear(&e);
    if (!rds_describe_db_instance(c, fresh, &i, &e)) {
        if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBInstances (new member)");
        return wait_for(res, 2000, "neither %s nor %s exists yet (a rename in flight)", m->id, fresh);
    }
    if (strcmp(i->cluster_id, cluster)) {
        snprintf(res->reason, sizeof res->reason, "new member %s is in cluster %s, not %s", fresh, i->cluster_id,
                 cluster);
        rc = STEP_FAIL;
    } else {
        rc = strcmp(i->status, "available") ? wait_for(res, 2000, "new member %s is %s", fresh, i->status)
                                            : rename_instance(ctx, res, c, fresh, m->id);
    }
    rds_instance_free(i);
    return rc;
}

step_rc awscluster_swap_members(step_ctx *ctx, step_result *res, const char *retired, const char *cluster,
                                const char *sfx)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    awscluster_member m[AWSCLUSTER_MAX_MEMBERS];
    size_t n = awscluster_members(ctx, m, AWSCLUSTER_MAX_MEMBERS);
    step_rc rc = STEP_OK;
    for (size_t k = 0; k < n; k++) {
        step_rc r1 = swap_member(ctx, res, c, &m[k], retired, cluster, sfx);
        if (r1 == STEP_FAIL || r1 == STEP_RETRY) return r1;
        if (r1 != STEP_OK) rc = r1;
    }
    return rc;
}

step_rc awscluster_delete_ours(step_ctx *ctx, step_result *res, const char *id, const char *role)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_cluster *cl = awscluster_describe(ctx, res, id, &missing, &rc);
    if (!cl) return missing ? STEP_OK : rc;
    if (!awscluster_is_ours(ctx, cl, role)) {
        rds_cluster_free(cl);
        snprintf(res->reason, sizeof res->reason, "cluster %s does not carry our tags (role %s): not deleted", id,
                 role);
        return STEP_FAIL;
    }
    size_t nm = cl->n_members;
    char st[48];
    fc_strlcpy(st, cl->status, sizeof st);
    for (size_t k = 0; k < cl->n_members && rc == STEP_OK; k++) {
        if (!step_ctx_lease_ok(ctx)) {
            rc = LEASE_LOST(res);
            break;
        }
        aws_error e;
        aws_error_clear(&e);
        if (!rds_delete_db_instance(c, cl->members[k].instance_id, NULL, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND &&
            strcmp(e.code, "InvalidDBInstanceState"))
            rc = awsstep_fail(res, &e, "DeleteDBInstance (cluster member)");
    }
    rds_cluster_free(cl);
    if (rc != STEP_OK) return rc;
    if (nm > 0) return wait_for(res, 2000, "deleting the members of cluster %s%s", id, NULL);
    if (!strcmp(st, "deleting")) return wait_for(res, 2000, "cluster %s is deleting%s", id, NULL);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_delete_db_cluster(c, id, NULL, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        if (!strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 2000, "cluster %s busy: %.300s", id, e.message);
        return awsstep_fail(res, &e, "DeleteDBCluster");
    }
    log_info("cluster deleted", "cluster=%s", id);
    return wait_for(res, 1000, "deleting cluster %s%s", id, NULL);
}

step_rc awscluster_protect(step_ctx *ctx, step_result *res, const char *id)
{
    if (fact_int(ctx, "deletion_protection", 0) != 1) return STEP_OK;
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_modify_cluster_opts o;
    rds_modify_cluster_opts_init(&o);
    o.identifier = id;
    o.deletion_protection = 1;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_modify_db_cluster(c, &o, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBClusterStateFault"))
            return wait_for(res, 3000, "cluster %s busy: %.300s", id, e.message);
        return awsstep_fail(res, &e, "ModifyDBCluster (deletion protection)");
    }
    return STEP_OK;
}

/* ------------------------------------------------------------ the swap, shared by pg-logical and mysql-binlog */
step_rc awscluster_restore_target(step_ctx *ctx, step_result *res, const char *tid, const char *snap_id,
                                  const char *member_sfx)
{
    step_ctx_set_fact(ctx, "target_id", tid);
    step_rc rc = awscluster_restore_as(ctx, res, tid, snap_id, member_sfx, false);
    if (rc == STEP_OK) rc = awscluster_configure(ctx, res, tid);
    if (rc != STEP_OK) return rc;
    bool missing = false;
    rds_cluster *cl = awscluster_describe(ctx, res, tid, &missing, &rc);
    if (!cl) {
        if (missing) snprintf(res->reason, sizeof res->reason, "restored cluster %s vanished", tid);
        return missing ? STEP_FAIL : rc;
    }
    if (!cl->endpoint[0] || cl->port <= 0 || !rds_cluster_writer(cl)) {
        rds_cluster_free(cl);
        return wait_for(res, 2000, "target cluster %s has no endpoint or writer yet%s", tid, NULL);
    }
    step_ctx_set_fact(ctx, "target_address", cl->endpoint);
    step_ctx_set_factf(ctx, "target_port", "%d", cl->port);
    step_ctx_set_fact(ctx, "target_arn", cl->arn);
    step_ctx_set_fact(ctx, "target_kms", cl->kms_key_id);
    rds_cluster_free(cl);
    if (!step_ctx_fact(ctx, "restored_at")) awsstep_mark(ctx, "restored_at");
    return STEP_OK;
}

step_rc awscluster_await(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                         const char *hf, const char *pf)
{
    int64_t pause = 500;
    for (;;) {
        bool missing = false;
        step_rc rc = STEP_OK;
        rds_cluster *cl = awscluster_describe(ctx, res, id, &missing, &rc);
        if (!cl && !missing) return rc;
        if (cl && !strcmp(cl->status, "available") && (!role || awscluster_is_ours(ctx, cl, role)) &&
            cl->endpoint[0] && cl->port > 0) {
            step_ctx_set_fact(ctx, hf, cl->endpoint);
            step_ctx_set_factf(ctx, pf, "%d", cl->port);
            rds_cluster_free(cl);
            res->reason[0] = 0;
            return STEP_OK;
        }
        rds_cluster_free(cl);
        if (fc_mono_ms() > deadline)
            return wait_for(res, 5000, "cutover: waiting for cluster %s to be available%s", id, NULL);
        fc_sleep_ms(pause);
        pause = pause * 3 / 2 > 8000 ? 8000 : pause * 3 / 2;
    }
}

step_rc awscluster_switched(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *role,
                            bool *switched, bool *half)
{
    *switched = *half = false;
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_cluster *cl = awscluster_describe(ctx, res, orig, &missing, &rc);
    if (!cl && !missing) return rc;
    if (cl) {
        *switched = awscluster_is_ours(ctx, cl, role);
        rds_cluster_free(cl);
        if (*switched) return STEP_OK;
    }
    cl = awscluster_describe(ctx, res, ret, &missing, &rc);
    if (!cl && !missing) return rc;
    *half = cl != NULL;
    rds_cluster_free(cl);
    res->reason[0] = 0;
    return STEP_OK;
}

static step_rc switch_blocked(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                              const char *role, bool proxy_named, int64_t deadline);

step_rc awscluster_switch(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                          const char *role, bool proxy_named, int64_t deadline)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    /* writers are blocked: every call of the switch (its looks, the
     * proxies') failing for now is sent again until deadline rather than
     * ending the step; the renames retry busy answers too */
    aws_retry_until prev;
    awsstep_blocked_budget(ctx, c, deadline, false, &prev);
    step_rc rc = switch_blocked(ctx, res, orig, ret, tid, role, proxy_named, deadline);
    aws_client_retry_until(c, &prev, NULL);
    return rc;
}

static step_rc switch_blocked(step_ctx *ctx, step_result *res, const char *orig, const char *ret, const char *tid,
                              const char *role, bool proxy_named, int64_t deadline)
{
    bool switched = false, half = false;
    step_rc rc = awscluster_switched(ctx, res, orig, ret, role, &switched, &half);
    if (rc != STEP_OK) return rc;
    if (!switched) {
        /* 1. source → retired name (unless an earlier attempt did it) */
        if (!half) {
            if ((rc = awscluster_rename_try(ctx, res, orig, ret, deadline)) != STEP_OK) return rc;
            log_info("cutover: source cluster renamed", "from=%s to=%s", orig, ret);
        }
        if ((rc = awscluster_await(ctx, res, ret, NULL, deadline, "retired_address", "retired_port")) != STEP_OK)
            return rc;
        /* 2. target → the identifier (its cluster and reader endpoints follow) */
        bool missing = false;
        rds_cluster *t = awscluster_describe(ctx, res, tid, &missing, &rc);
        if (!t && !missing) return rc;
        if (t) {
            rds_cluster_free(t);
            if ((rc = awscluster_rename_try(ctx, res, tid, orig, deadline)) != STEP_OK) return rc;
            log_info("cutover: target cluster renamed", "from=%s to=%s", tid, orig);
        }
        res->reason[0] = 0;
    }
    if ((rc = awscluster_await(ctx, res, orig, role, deadline, "target_address", "target_port")) != STEP_OK) return rc;
    const char *rp = step_ctx_fact(ctx, "retired_port");
    if ((!rp || !*rp) &&
        (rc = awscluster_await(ctx, res, ret, NULL, deadline, "retired_address", "retired_port")) != STEP_OK)
        return rc;
    /* 3. an RDS Proxy in front of the cluster: from the retired source to the encrypted cluster */
    if ((rc = awscluster_proxy_switch(ctx, res, orig, ret, proxy_named, deadline)) != STEP_OK) return rc;
    step_ctx_set_fact(ctx, "target_id", orig);
    step_ctx_set_fact(ctx, "retired_id", ret);
    return STEP_OK;
}

step_rc awscluster_roll_back(step_ctx *ctx, step_result *res, const char *orig, const char *ret)
{
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_cluster *cl = awscluster_describe(ctx, res, orig, &missing, &rc);
    if (cl) {
        rds_cluster_free(cl);
        return STEP_OK; /* the source has its name */
    }
    if (!missing) return rc;
    cl = awscluster_describe(ctx, res, ret, &missing, &rc);
    if (!cl) {
        if (!missing) return rc;
        snprintf(res->reason, sizeof res->reason, "abort: neither cluster %s nor %s exists", orig, ret);
        return STEP_FAIL;
    }
    bool avail = !strcmp(cl->status, "available");
    rds_cluster_free(cl);
    if (!avail)
        return wait_for(res, 2000, "abort: waiting for cluster %s to be available to rename it back%s", ret, NULL);
    if ((rc = awscluster_rename(ctx, res, ret, orig)) != STEP_OK) return rc;
    log_warn("abort: source cluster renamed back", "from=%s to=%s", ret, orig);
    res->wait_ms = 1000;
    snprintf(res->reason, sizeof res->reason, "abort: renaming cluster %s back to %s", ret, orig);
    return STEP_WAIT;
}

step_rc awscluster_retire(step_ctx *ctx, step_result *res, const char *id, const char *ret, const char *snap_id,
                          bool keep_snapshot, const char *role_retired)
{
    step_rc rc = awscluster_promote(ctx, res, id);
    if (rc != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "protect_done")) {
        if ((rc = awscluster_protect(ctx, res, id)) != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "protect_done", "1");
    }
    if (!keep_snapshot && (rc = awscluster_delete_snapshot(ctx, res, snap_id)) != STEP_OK) return rc;
    if (!step_ctx_fact(ctx, "retired_tagged")) {
        if ((rc = awscluster_tag(ctx, res, ret, role_retired)) != STEP_OK) return rc;
        step_ctx_set_fact(ctx, "retired_tagged", "1");
    }
    return STEP_OK;
}

rds_cluster *awscluster_live_source(step_ctx *ctx, step_result *res, const char *strategy, step_rc *rc)
{
    bool missing = false;
    rds_cluster *cl = awscluster_describe(ctx, res, step_ctx_instance(ctx), &missing, rc);
    if (!cl) {
        if (missing) {
            snprintf(res->reason, sizeof res->reason, "cluster %s not found", step_ctx_instance(ctx));
            *rc = STEP_FAIL;
        }
        return NULL;
    }
    *rc = STEP_OK;
    if (!strcmp(cl->status, "stopped")) {
        snprintf(res->reason, sizeof res->reason, "cluster is stopped: %s needs it running (use --strategy offline)",
                 strategy);
        *rc = STEP_FAIL;
    } else if (strcmp(cl->status, "available")) {
        *rc = wait_for(res, 10000, "cluster is %s; waiting for available%s", cl->status, NULL);
    } else if (!cl->endpoint[0] || cl->port <= 0) {
        *rc = wait_for(res, 5000, "cluster %s has no endpoint yet%s", cl->identifier, NULL);
    } else {
        /* the database steps reach the writer through the cluster endpoint */
        step_ctx_set_fact(ctx, "address", cl->endpoint);
        step_ctx_set_factf(ctx, "port", "%d", cl->port);
        step_ctx_set_fact(ctx, "master_user", cl->master_username);
        step_ctx_set_fact(ctx, "master_secret_arn", cl->master_user_secret_arn);
        step_ctx_set_fact(ctx, "source_arn", cl->arn);
    }
    return cl;
}
