/* replicas — step `replicas` of pg-logical (after verify, before
 * cleanup): the source's read replicas are re-created on the encrypted
 * instance, so readers of each replica's endpoint end up on encrypted
 * storage too, and the retired source is left without replicas (RDS cannot
 * stop an instance that has any).
 *
 * For each read replica R (number k in fact read_replicas; its settings in
 * facts replica.<k>.*, learnt by preflight, or here for a replica added
 * since):
 *   1. CreateDBInstanceReadReplica of the encrypted instance (fact target_id:
 *      it serves under the source's name after a rename swap) as
 *      fc-<campaign>-<instance>-replica<k>, with R's class, AZ or Multi-AZ,
 *      parameter group, security groups, port and user tags, tagged
 *      fleetcrypt:role=encrypted-replica. A replica of an encrypted instance
 *      is encrypted with the same key: checked against the campaign key.
 *      WAIT on the fleet poller's cache until it is available.
 *   2. The rename swap, as the cutover does it: R → …-replica<k>-retired,
 *      then the new replica → R, with short bounded in-run polls (readers of
 *      R's endpoint are cut off in between, writers never are).
 *   3. The old replica, now …-replica<k>-retired, is promoted
 *      (PromoteReadReplica, backups off: it is an archive now), tagged
 *      fleetcrypt:role=retired-source, fleetcrypt:original-id=R,
 *      fleetcrypt:replica-of=<instance>, then stopped (WAIT until stopped).
 *      Nothing is deleted: `fleetcrypt retire` removes it later.
 * Each run decides from DescribeDBInstances (is R already ours? is the
 * -retired name taken? still a replica? stopped?), facts only mark
 * progress (replica.<k>.create_at, promote_at, stop_at, done), so a crash
 * between any two AWS calls resumes where it stopped. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

#define ROLE_REPLICA "encrypted-replica"
#define MAX_REPLICAS 16       /* RDS allows 15 per source */
#define SWAP_POLL_MS 20000    /* in-run wait for each rename of the swap */

static const char *const ST_AVAILABLE[] = {"available", NULL};
static const char *const ST_STOPPED[] = {"stopped", NULL};
static const char *const ST_BAD[] = {"failed", "incompatible-parameters", "incompatible-restore",
                                     "storage-full", NULL};

typedef struct rep {
    step_ctx *ctx;
    step_result *res;
    int k;
    char orig[64];    /* R: the replica's identifier, and its endpoint name */
    char fresh[64];   /* the new replica until the swap */
    char ret[64];     /* R after the swap */
    char fact[64];    /* scratch: replica.<k>.<name> */
} rep;

/* "replica.<k>.<name>" (one buffer: use one result at a time). */
static const char *rf(rep *r, const char *name)
{
    snprintf(r->fact, sizeof r->fact, "replica.%d.%s", r->k, name);
    return r->fact;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

static void rep_names(step_ctx *ctx, int k, char *fresh, char *ret, size_t cap)
{
    char sfx[24];
    snprintf(sfx, sizeof sfx, "replica%d", k);
    awsstep_name(ctx, sfx, fresh, cap);
    snprintf(sfx, sizeof sfx, "replica%d-retired", k);
    awsstep_name(ctx, sfx, ret, cap);
}

/* One of our own names (a swapped-out old replica still attached)? */
static bool is_our_name(step_ctx *ctx, const char *id)
{
    char fresh[64], ret[64];
    for (int k = 1; k <= MAX_REPLICAS; k++) {
        rep_names(ctx, k, fresh, ret, sizeof fresh);
        if (!strcmp(id, fresh) || !strcmp(id, ret)) return true;
    }
    return false;
}

static bool in_list(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, id, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* Replicas attached to the retired source now that preflight did not see:
 * appended to the list (numbers never change once given). */
static step_rc adopt_new(step_ctx *ctx, step_result *res, const char *retired, char *list, size_t cap)
{
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = pgl_describe(ctx, res, retired, &missing, &rc);
    if (!i) return rc;
    size_t n = strlen(list);
    bool changed = false;
    for (size_t j = 0; j < i->n_read_replica_ids; j++) {
        const char *id = i->read_replica_ids[j];
        if (is_our_name(ctx, id) || in_list(list, id)) continue;
        n += (size_t)snprintf(list + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "", id);
        changed = true;
        log_warn("read replica added since preflight: re-created too", "replica=%s", id);
    }
    rds_instance_free(i);
    if (n >= cap) return (PGL_REASON(res, "too many read replicas to track"), STEP_FAIL);
    if (changed) step_ctx_set_fact(ctx, "read_replicas", list);
    return STEP_OK;
}

static step_rc create_fresh(rep *r, const char *enc)
{
    step_ctx *ctx = r->ctx;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(r->res, "no AWS client"), STEP_RETRY);
    char sgs[512];
    fc_strlcpy(sgs, pgl_fact(ctx, rf(r, "sgs")), sizeof sgs); /* rf's buffer is reused below */
    awsstep_carry cr;
    awsstep_carry_fill(&cr, ctx, ROLE_REPLICA, rf(r, "tags"), sgs);
    rds_read_replica_opts o;
    memset(&o, 0, sizeof o);
    o.identifier = r->fresh;
    o.source_identifier = enc;
    o.instance_class = nonempty(pgl_fact(ctx, rf(r, "class")));
    o.param_group = nonempty(pgl_fact(ctx, rf(r, "param_group")));
    o.availability_zone = nonempty(pgl_fact(ctx, rf(r, "az")));
    o.multi_az = (int)pgl_fact_i64(ctx, rf(r, "multi_az"), 0);
    o.port = (int)pgl_fact_i64(ctx, rf(r, "port"), 0);
    o.vpc_sg_ids = cr.nsg ? cr.sgv : NULL;
    o.n_vpc_sg_ids = cr.nsg;
    o.tags = cr.tags;
    o.ntags = cr.ntags;
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(r->res, "lease lost"), STEP_RETRY);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_create_db_instance_read_replica(c, &o, NULL, &e) && strcmp(e.code, "DBInstanceAlreadyExists") != 0) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            r->res->wait_ms = 5000;
            snprintf(r->res->wait_on, sizeof r->res->wait_on, "db:%s", enc);
            PGL_REASON(r->res, "%s busy (%.200s); creating replica %s when it settles", enc, e.message, r->fresh);
            return STEP_WAIT;
        }
        return awsstep_fail(r->res, &e, "CreateDBInstanceReadReplica");
    }
    log_info("read replica of the encrypted instance requested", "replica=%s source=%s for=%s", r->fresh, enc,
             r->orig);
    awsstep_mark(ctx, rf(r, "create_at"));
    r->res->wait_ms = 2000;
    snprintf(r->res->wait_on, sizeof r->res->wait_on, "db:%s", r->fresh);
    PGL_REASON(r->res, "creating read replica %s of %s (for %s)", r->fresh, enc, r->orig);
    return STEP_WAIT;
}

/* The new replica exists, is ours, available and encrypted with the campaign key. */
static step_rc fresh_ready(rep *r, const char *enc, bool *ready)
{
    step_ctx *ctx = r->ctx;
    *ready = false;
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *f = pgl_describe(ctx, r->res, r->fresh, &missing, &rc);
    if (!f) {
        if (!missing) return rc;
        r->res->reason[0] = 0;
        return create_fresh(r, enc);
    }
    bool ours = pgl_is_ours(ctx, f, ROLE_REPLICA);
    bool avail = !strcmp(f->status, "available");
    bool enc_ok = f->storage_encrypted && awsstep_same_key(f->kms_key_id, pgl_cfield(ctx, "kms_key_arn"));
    char kms[256];
    fc_strlcpy(kms, f->kms_key_id, sizeof kms);
    rds_instance_free(f);
    if (!ours) {
        PGL_REASON(r->res, "identifier %s is taken by an instance without fleetcrypt's tags", r->fresh);
        return STEP_FAIL;
    }
    if (!avail) {
        step_cache_view v;
        rc = awsstep_await(ctx, r->res, "db", r->fresh, rf(r, "create_at"), ST_AVAILABLE, ST_BAD, &v);
        if (rc != STEP_OK) return rc;
        /* the cache saw it available; the describe above was older: look again next run */
        r->res->wait_ms = 500;
        snprintf(r->res->wait_on, sizeof r->res->wait_on, "db:%s", r->fresh);
        return STEP_WAIT;
    }
    if (!enc_ok) {
        PGL_REASON(r->res, "replica %s is not encrypted with the campaign key (KmsKeyId %s)", r->fresh,
                   *kms ? kms : "none");
        return STEP_FAIL;
    }
    *ready = true;
    return STEP_OK;
}

/* R's old instance is at the -retired name: put the new replica at R. */
static step_rc swap_in(rep *r, int64_t deadline)
{
    step_ctx *ctx = r->ctx;
    rds_instance *x = NULL;
    step_rc rc = pgl_await_instance(ctx, r->res, r->ret, NULL, deadline, &x);
    if (rc != STEP_OK) return rc;
    rds_instance_free(x);
    bool missing = false;
    rds_instance *f = pgl_describe(ctx, r->res, r->fresh, &missing, &rc);
    if (!f && !missing) return rc;
    if (f) {
        bool ours = pgl_is_ours(ctx, f, ROLE_REPLICA);
        rds_instance_free(f);
        if (!ours) {
            PGL_REASON(r->res, "identifier %s is taken by an instance without fleetcrypt's tags", r->fresh);
            return STEP_FAIL;
        }
        rc = pgl_rename(ctx, r->res, r->fresh, r->orig);
        if (rc != STEP_OK) return rc;
    }
    /* missing: already renamed (an earlier run), R must turn up as ours */
    r->res->reason[0] = 0;
    rc = pgl_await_instance(ctx, r->res, r->orig, ROLE_REPLICA, deadline, &x);
    if (rc != STEP_OK) return rc;
    rds_instance_free(x);
    log_info("read replica swapped in: readers of the endpoint reach the encrypted replica", "replica=%s old=%s",
             r->orig, r->ret);
    step_ctx_set_fact(ctx, rf(r, "swapped"), "1");
    return STEP_OK;
}

/* Before the swap: make the new replica, then move R's old instance aside. */
static step_rc swap(rep *r, const char *enc, const char *retired)
{
    step_ctx *ctx = r->ctx;
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *o = pgl_describe(ctx, r->res, r->orig, &missing, &rc);
    if (!o && !missing) return rc;
    r->res->reason[0] = 0;
    if (o && pgl_is_ours(ctx, o, ROLE_REPLICA)) {
        rds_instance_free(o);
        step_ctx_set_fact(ctx, rf(r, "swapped"), "1");
        return STEP_OK;
    }
    if (!o) {
        /* R's name is free: the old one was renamed away by an earlier run */
        rds_instance *t = pgl_describe(ctx, r->res, r->ret, &missing, &rc);
        if (!t) {
            if (!missing) return rc;
            PGL_REASON(r->res, "read replica %s is gone and %s does not exist: nothing to swap", r->orig, r->ret);
            return STEP_FAIL;
        }
        rds_instance_free(t);
        return swap_in(r, fc_mono_ms() + SWAP_POLL_MS);
    }
    bool attached = !strcmp(o->read_replica_source, retired);
    char status[48];
    fc_strlcpy(status, o->status, sizeof status);
    rds_instance_free(o);
    if (!attached && !step_ctx_fact(ctx, rf(r, "create_at"))) {
        log_warn("no longer a read replica of the source: left alone", "replica=%s", r->orig);
        step_ctx_set_fact(ctx, rf(r, "skipped"), "no longer a read replica of the source");
        return STEP_OK;
    }
    bool ready = false;
    if ((rc = fresh_ready(r, enc, &ready)) != STEP_OK || !ready) return rc;
    if (strcmp(status, "available") != 0) {
        r->res->wait_ms = 3000;
        snprintf(r->res->wait_on, sizeof r->res->wait_on, "db:%s", r->orig);
        PGL_REASON(r->res, "read replica %s is %s; waiting to rename it", r->orig, status);
        return STEP_WAIT;
    }
    rc = pgl_rename(ctx, r->res, r->orig, r->ret);
    if (rc != STEP_OK) return rc;
    return swap_in(r, fc_mono_ms() + SWAP_POLL_MS);
}

/* After a call on the old replica: busy → WAIT and try again, another
 * error → its rc; done → fact replica.<k>.<fact> = now and WAIT on it. */
static step_rc acted(rep *r, bool ok, const aws_error *e, const char *call, const char *fact, const char *doing)
{
    step_result *res = r->res;
    if (!ok && strcmp(e->code, "InvalidDBInstanceState") != 0) return awsstep_fail(res, e, call);
    res->wait_ms = ok ? 1000 : 5000;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", r->ret);
    if (!ok) {
        PGL_REASON(res, "old read replica %s busy: %.300s", r->ret, e->message);
        return STEP_WAIT;
    }
    log_info("old read replica", "db=%s action=\"%s\"", r->ret, doing);
    awsstep_mark(r->ctx, rf(r, fact));
    PGL_REASON(res, "%s %s", doing, r->ret);
    return STEP_WAIT;
}

/* After the swap: promote the old replica, tag it retired, stop it. */
static step_rc retire_old(rep *r)
{
    step_ctx *ctx = r->ctx;
    step_result *res = r->res;
    if (step_ctx_fact(ctx, rf(r, "stop_at"))) {
        step_cache_view v;
        return awsstep_await(ctx, res, "db", r->ret, rf(r, "stop_at"), ST_STOPPED, ST_BAD, &v);
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return (PGL_REASON(res, "no AWS client"), STEP_RETRY);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *o = pgl_describe(ctx, res, r->ret, &missing, &rc);
    if (!o) {
        if (!missing) return rc;
        log_warn("the old read replica is gone: nothing to retire", "db=%s", r->ret);
        res->reason[0] = 0;
        step_ctx_set_fact(ctx, rf(r, "retired"), "gone");
        return STEP_OK;
    }
    bool replica = o->read_replica_source[0] != 0;
    bool tagged = pgl_has_tag(o, "fleetcrypt:role", PGL_ROLE_RETIRED);
    char status[48], arn[256];
    fc_strlcpy(status, o->status, sizeof status);
    fc_strlcpy(arn, o->arn, sizeof arn);
    rds_instance_free(o);
    aws_error e;
    aws_error_clear(&e);
    if (strcmp(status, "available") != 0 && strcmp(status, "stopped") != 0) {
        res->wait_ms = 3000;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", r->ret);
        PGL_REASON(res, "old read replica %s is %s; waiting", r->ret, status);
        return STEP_WAIT;
    }
    if (replica) {
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        bool ok = rds_promote_read_replica(c, r->ret, 0, NULL, &e);
        return acted(r, ok, &e, "PromoteReadReplica (old replica)", "promote_at",
                     "promoting the old read replica (detaching it from the retired source)");
    }
    if (!tagged) {
        aws_tag tags[5];
        size_t nt = awsstep_tags(ctx, PGL_ROLE_RETIRED, tags, 3);
        fc_strlcpy(tags[nt].key, "fleetcrypt:original-id", sizeof tags[nt].key);
        fc_strlcpy(tags[nt].value, r->orig, sizeof tags[nt].value);
        nt++;
        fc_strlcpy(tags[nt].key, "fleetcrypt:replica-of", sizeof tags[nt].key);
        fc_strlcpy(tags[nt].value, step_ctx_instance(ctx), sizeof tags[nt].value);
        nt++;
        if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
        if (!rds_add_tags_to_resource(c, arn, tags, nt, &e)) return awsstep_fail(res, &e, "AddTagsToResource (old replica)");
    }
    if (!strcmp(status, "stopped")) return STEP_OK;
    if (!step_ctx_lease_ok(ctx)) return (PGL_REASON(res, "lease lost"), STEP_RETRY);
    bool ok = rds_stop_db_instance(c, r->ret, NULL, NULL, &e);
    return acted(r, ok, &e, "StopDBInstance (old replica)", "stop_at", "stopping the old read replica");
}

static step_rc one_replica(rep *r, const char *enc, const char *retired)
{
    step_ctx *ctx = r->ctx;
    if (!step_ctx_fact(ctx, rf(r, "id"))) {
        /* not learnt by preflight (added since, or an older preflight) */
        bool missing = false;
        step_rc rc = STEP_OK;
        rds_instance *o = pgl_describe(ctx, r->res, r->orig, &missing, &rc);
        if (!o) {
            if (!missing) return rc;
            r->res->reason[0] = 0;
            step_ctx_set_fact(ctx, rf(r, "skipped"), "gone before its re-creation");
            return STEP_OK;
        }
        pgl_learn_replica(ctx, r->k, o);
        rds_instance_free(o);
    }
    if (!step_ctx_fact(ctx, rf(r, "swapped"))) {
        step_rc rc = swap(r, enc, retired);
        if (rc != STEP_OK || step_ctx_fact(ctx, rf(r, "skipped"))) return rc;
    }
    return retire_old(r);
}

step_rc pgl_step_replicas(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) return pgl_cluster_members(ctx, res);
    const char *enc = pgl_fact(ctx, "target_id");
    if (!*enc) return (PGL_REASON(res, "no target_id: the switch never happened"), STEP_FAIL);
    const char *retired = *pgl_fact(ctx, "retired_id") ? pgl_fact(ctx, "retired_id") : step_ctx_instance(ctx);
    char list[1024];
    fc_strlcpy(list, pgl_fact(ctx, "read_replicas"), sizeof list);
    step_rc rc = adopt_new(ctx, res, retired, list, sizeof list);
    if (rc != STEP_OK) return rc;
    int k = 0, done = 0;
    char *save = NULL;
    for (char *id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        rep r = {.ctx = ctx, .res = res, .k = ++k};
        if (k > MAX_REPLICAS) return (PGL_REASON(res, "more than %d read replicas", MAX_REPLICAS), STEP_FAIL);
        if (step_ctx_fact(ctx, rf(&r, "done"))) {
            done++;
            continue;
        }
        fc_strlcpy(r.orig, id, sizeof r.orig);
        rep_names(ctx, k, r.fresh, r.ret, sizeof r.fresh);
        rc = one_replica(&r, enc, retired);
        if (rc != STEP_OK) return rc;
        step_ctx_set_fact(ctx, rf(&r, "done"), "1");
        done++;
    }
    step_ctx_set_factf(ctx, "replicas_done", "%d", done);
    if (done) PGL_REASON(res, "%d read replica(s) re-created on the encrypted instance", done);
    return STEP_OK;
}
