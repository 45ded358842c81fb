/* awsstep — see awsstep.h. */
#include "awsstep.h"
#include "awsmemo.h"
#include "awsxacct.h"
#include "kms.h"
#include "log.h"
#include "lookboard.h"
#include "util.h"
#include "waitplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

step_rc awsstep_fail(step_result *res, const aws_error *e, const char *what)
{
    snprintf(res->reason, sizeof res->reason, "%s: %s: %.300s", what, e->code, e->message);
    switch (e->kind) {
    case AWS_ERR_THROTTLE:
    case AWS_ERR_TRANSIENT:
        return STEP_RETRY;
    case AWS_ERR_AUTH:
    case AWS_ERR_NOT_FOUND:
    case AWS_ERR_PERMANENT:
    default:
        return STEP_FAIL;
    }
}

static bool in_list(const char *s, const char *const *l)
{
    for (; l && *l; l++)
        if (!strcmp(s, *l)) return true;
    return false;
}

/* The fleet poller watches the campaign's account: a resource in the
 * target account (awsxacct.h) is described by the step itself. */
static bool own_view(step_ctx *ctx, step_result *res, const char *kind, const char *id, step_cache_view *v,
                     step_rc *rc)
{
    aws_client *c = step_ctx_aws_target(ctx);
    if (!c) return (*rc = NO_CLIENT(res), false);
    memset(v, 0, sizeof *v);
    v->fresh = true;
    v->poll_ms = fc_now_ms();
    aws_error e;
    aws_error_clear(&e);
    bool ok;
    if (!strcmp(kind, "snap")) {
        rds_snapshot *s = NULL;
        ok = rds_describe_db_snapshot(c, id, &s, &e);
        if (ok) {
            v->present = true;
            fc_strlcpy(v->status, s->status, sizeof v->status);
            v->encrypted = s->encrypted;
            fc_strlcpy(v->kms_key, s->kms_key_id, sizeof v->kms_key);
        }
        rds_snapshot_free(s);
    } else {
        rds_instance *i = NULL;
        ok = rds_describe_db_instance(c, id, &i, &e);
        if (ok) {
            v->present = true;
            fc_strlcpy(v->status, i->status, sizeof v->status);
            v->encrypted = i->storage_encrypted;
            fc_strlcpy(v->kms_key, i->kms_key_id, sizeof v->kms_key);
            fc_strlcpy(v->address, i->endpoint_address, sizeof v->address);
            v->port = i->port;
        }
        rds_instance_free(i);
    }
    if (!ok && e.kind != AWS_ERR_NOT_FOUND) return (*rc = awsstep_fail(res, &e, "Describe (target account)"), false);
    return true;
}

void awsstep_wait_on(step_ctx *ctx, step_result *res, const char *kind, const char *id)
{
    if (awsxacct_in_target(ctx, id)) res->wait_on[0] = 0; /* not the poller's: a timed wait */
    else snprintf(res->wait_on, sizeof res->wait_on, "%s:%s", kind, id);
}

step_rc awsstep_await(step_ctx *ctx, step_result *res, const char *kind, const char *id,
                      const char *since_fact, const char *const *ok, const char *const *bad,
                      step_cache_view *v)
{
    if (awsxacct_in_target(ctx, id)) {
        step_rc rc = STEP_OK;
        if (!own_view(ctx, res, kind, id, v, &rc)) return rc;
        res->wait_on[0] = 0;
        if (v->present && in_list(v->status, ok)) return STEP_OK;
        if (v->present && in_list(v->status, bad)) {
            snprintf(res->reason, sizeof res->reason, "%s %s is %s", kind, id, v->status);
            return STEP_FAIL;
        }
        /* a tenth of the time waited so far, 1 s to 30 s: quick ones seen
         * soon, an hour-long copy not described every second */
        int64_t w = (fc_now_ms() - awsstep_fact_i64(ctx, since_fact, fc_now_ms())) / 10;
        res->wait_ms = w < 1000 ? 1000 : w > 30000 ? 30000 : w;
        snprintf(res->reason, sizeof res->reason, "waiting for %s %s in the target account (%s)", kind, id,
                 v->present ? v->status : "not seen yet");
        return STEP_WAIT;
    }
    int64_t since = awsstep_fact_i64(ctx, since_fact, 0);
    int64_t now = fc_now_ms();
    snprintf(res->wait_on, sizeof res->wait_on, "%s:%s", kind, id);
    if (!step_ctx_cache(ctx, kind, id, since, v)) {
        res->wait_ms = 2000;
        snprintf(res->reason, sizeof res->reason, "redis unavailable for the poll cache");
        return STEP_WAIT;
    }
    if (v->fresh && v->present) {
        if (in_list(v->status, ok)) return STEP_OK;
        if (in_list(v->status, bad)) {
            snprintf(res->reason, sizeof res->reason, "%s %s is %s", kind, id, v->status);
            return STEP_FAIL;
        }
    }
    int64_t w = v->next_poll_ms > now ? v->next_poll_ms - now + 300 : 1200;
    if (w < 500) w = 500;
    if (w > 600000) w = 600000;
    res->wait_ms = w;
    snprintf(res->reason, sizeof res->reason, "waiting for %s %s (%s)", kind, id,
             v->present ? v->status : "not seen yet");
    return STEP_WAIT;
}

void awsstep_name(step_ctx *ctx, const char *suffix, char *out, size_t cap)
{
    if (!step_resource_name(step_ctx_campaign(ctx), step_ctx_instance(ctx), suffix, out, cap))
        snprintf(out, cap, "fc-invalid");
}

size_t awsstep_tags(step_ctx *ctx, const char *role, aws_tag *t, size_t cap)
{
    size_t n = 0;
    if (n < cap) {
        fc_strlcpy(t[n].key, "fleetcrypt:campaign", sizeof t[n].key);
        fc_strlcpy(t[n].value, step_ctx_campaign(ctx), sizeof t[n].value);
        n++;
    }
    if (n < cap) {
        fc_strlcpy(t[n].key, "fleetcrypt:instance", sizeof t[n].key);
        fc_strlcpy(t[n].value, step_ctx_instance(ctx), sizeof t[n].value);
        n++;
    }
    if (n < cap) {
        fc_strlcpy(t[n].key, "fleetcrypt:role", sizeof t[n].key);
        fc_strlcpy(t[n].value, role, sizeof t[n].value);
        n++;
    }
    return n;
}

step_rc awsstep_promote_target(step_ctx *ctx, step_result *res, const char *id)
{
    if (step_ctx_fact(ctx, "target_promoted")) return STEP_OK;
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    aws_error e;
    aws_error_clear(&e);
    /* the first run re-tags the instance the step sequence put under id
     * (restored, or switched in by the cutover) without looking: tagging
     * is idempotent, and only a re-run (intent present) reads its role */
    step_intent in = step_ctx_intent(ctx, "promote_try");
    if (in == STEP_INTENT_NO) return LEASE_LOST(res);
    const char *acct = awsxacct_in_target(ctx, id) ? step_ctx_fact(ctx, "target_account")
                                                    : step_ctx_campaign_field(ctx, "account");
    if (in == STEP_INTENT_FIRST && acct && *acct) {
        aws_tag tag;
        fc_strlcpy(tag.key, "fleetcrypt:role", sizeof tag.key);
        fc_strlcpy(tag.value, "encrypted", sizeof tag.value);
        char arn[320];
        snprintf(arn, sizeof arn, "arn:aws:rds:%s:%s:db:%s", step_ctx_campaign_field(ctx, "region"), acct, id);
        if (!rds_add_tags_to_resource(c, arn, &tag, 1, &e)) return awsstep_fail(res, &e, "AddTagsToResource (promote target)");
        step_ctx_set_fact(ctx, "target_promoted", "1");
        return STEP_OK;
    }
    rds_instance *i = NULL;
    if (!rds_describe_db_instance(c, id, &i, &e)) return awsstep_fail(res, &e, "DescribeDBInstances (promote target)");
    bool target = false;
    for (size_t k = 0; k < i->n_tags; k++)
        if (!strcmp(i->tags[k].key, "fleetcrypt:role") && !strcmp(i->tags[k].value, "encrypted-target")) target = true;
    char arn[sizeof i->arn];
    fc_strlcpy(arn, i->arn, sizeof arn);
    rds_instance_free(i);
    if (target) {
        if (!step_ctx_lease_ok(ctx))
            return (snprintf(res->reason, sizeof res->reason, "lease lost before tagging"), STEP_RETRY);
        aws_tag tag;
        fc_strlcpy(tag.key, "fleetcrypt:role", sizeof tag.key);
        fc_strlcpy(tag.value, "encrypted", sizeof tag.value);
        if (!rds_add_tags_to_resource(c, arn, &tag, 1, &e)) return awsstep_fail(res, &e, "AddTagsToResource (promote target)");
    }
    step_ctx_set_fact(ctx, "target_promoted", "1");
    return STEP_OK;
}

void awsstep_mark(step_ctx *ctx, const char *fact)
{
    step_ctx_set_factf(ctx, fact, "%lld", (long long)fc_now_ms());
}

int64_t awsstep_fact_i64(step_ctx *ctx, const char *fact, int64_t dflt)
{
    const char *v = step_ctx_fact(ctx, fact);
    if (!v || !*v) return dflt;
    return strtoll(v, NULL, 10);
}

bool awsstep_same_key(const char *key, const char *want)
{
    if (!key || !*key || !want || !*want) return false;
    if (!strcmp(key, want)) return true;
    const char *a = strrchr(key, '/'), *b = strrchr(want, '/');
    return a && b && !strcmp(a, b) && !strstr(key, "alias/") && !strstr(want, "alias/");
}

step_rc awsstep_source_key(step_ctx *ctx, step_result *res, aws_client *c, const rds_instance *i, bool rekey,
                           const char *rekey_flag, bool verdict)
{
    awsstep_key_src k = {i->storage_encrypted, i->kms_key_id, i->storage_encryption_type};
    return awsstep_key_verdict(ctx, res, c, &k, rekey, rekey_flag, verdict);
}

step_rc awsstep_key_verdict(step_ctx *ctx, step_result *res, aws_client *c, const awsstep_key_src *src, bool rekey,
                            const char *rekey_flag, bool verdict)
{
    const char *want = step_ctx_campaign_field(ctx, "kms_key_arn");
    const char *kms = src->encrypted ? src->kms : "";
    step_ctx_set_fact(ctx, "source_encrypted", src->encrypted ? "1" : "0");
    step_ctx_set_fact(ctx, "source_encryption_type", src->enc_type ? src->enc_type : "");
    if (src->encrypted && !*kms) {
        /* an AWS owned key (sse-rds, the 2026 Aurora default): not in the
         * account, nothing to describe; re-keyed by a restore with the key */
        step_ctx_set_fact(ctx, "source_kms", "");
        step_ctx_set_fact(ctx, "source_key_manager", "AWS_OWNED");
        if (!verdict) return STEP_OK;
        if (!rekey) {
            snprintf(res->reason, sizeof res->reason,
                     "already encrypted with an AWS owned key (sse-rds); --%s to move it to the campaign key",
                     rekey_flag);
            return STEP_SKIP;
        }
        step_ctx_set_fact(ctx, "rekey_from", "aws-owned");
        log_info("source encrypted with an AWS owned key: re-keyed to the campaign key", "to=%s", want);
        return STEP_OK;
    }
    /* the key's manager, asked once per key (preflight runs again while it waits) */
    const char *had = step_ctx_fact(ctx, "source_kms"), *mgr = step_ctx_fact(ctx, "source_key_manager");
    bool known = had && mgr && !strcmp(had, kms) && (*mgr || !*kms);
    step_ctx_set_fact(ctx, "source_kms", kms);
    if (!*kms) {
        step_ctx_set_fact(ctx, "source_key_manager", "");
    } else if (!known) {
        kms_key *k = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (kms_describe_key(c, kms, &k, &e)) {
            step_ctx_set_fact(ctx, "source_key_manager", k->key_manager[0] ? k->key_manager : "unknown");
        } else if (e.kind == AWS_ERR_THROTTLE || e.kind == AWS_ERR_TRANSIENT) {
            kms_key_free(k);
            return awsstep_fail(res, &e, "DescribeKey (source key)");
        } else {
            /* the report's encryption type only: not a reason to stop */
            log_warn("source key not described", "key=%s code=%s", kms, e.code);
            step_ctx_set_fact(ctx, "source_key_manager", "unknown");
        }
        kms_key_free(k);
    }
    if (!verdict || !*kms) return STEP_OK;
    mgr = step_ctx_fact(ctx, "source_key_manager");
    const char *who = mgr && !strcmp(mgr, "AWS") ? "AWS managed" : mgr && !strcmp(mgr, "CUSTOMER") ? "customer managed" : "";
    if (awsstep_same_key(kms, want)) {
        snprintf(res->reason, sizeof res->reason, "already encrypted with the requested key");
        return STEP_SKIP;
    }
    if (!rekey) {
        snprintf(res->reason, sizeof res->reason,
                 "already encrypted with another key (%s%s%s); --%s to move it to the campaign key", kms,
                 *who ? ", " : "", who, rekey_flag);
        return STEP_SKIP;
    }
    step_ctx_set_fact(ctx, "rekey_from", kms);
    log_info("source encrypted with another key: re-keyed to the campaign key", "from=%s manager=%s to=%s", kms,
             mgr ? mgr : "", want);
    return STEP_OK;
}

/* ---------------------------------------------------------------- source → copy → restore */
const char *const awsstep_st_available[] = {"available", NULL};
const char *const awsstep_st_bad_db[] = {"failed", "incompatible-restore", "incompatible-parameters",
                                         "inaccessible-encryption-credentials", "storage-full", NULL};
const char *const awsstep_st_bad_snap[] = {"failed", "error", NULL};

void awsstep_sgs_text(const rds_instance *i, char *out, size_t cap)
{
    size_t n = 0;
    if (cap) out[0] = 0;
    for (size_t k = 0; k < i->n_vpc_sg_ids && n < cap; k++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", k ? "," : "", i->vpc_sg_ids[k]);
}

bool awsstep_user_tags_text(const rds_instance *i, char *out, size_t cap)
{
    size_t n = 0;
    if (cap) out[0] = 0;
    for (size_t k = 0; k < i->n_tags && k < 20 && n < cap; k++) {
        if (!strncmp(i->tags[k].key, "aws:", 4) || !strncmp(i->tags[k].key, "fleetcrypt:", 11)) continue;
        n += (size_t)snprintf(out + n, cap - n, "%s\t%s\n", i->tags[k].key, i->tags[k].value);
    }
    return n < cap;
}

void awsstep_learn_source(step_ctx *ctx, const rds_instance *i)
{
    step_ctx_set_fact(ctx, "class", i->instance_class);
    step_ctx_set_fact(ctx, "engine", i->engine);
    step_ctx_set_fact(ctx, "storage_type", i->storage_type);
    step_ctx_set_factf(ctx, "storage_gb", "%lld", (long long)i->allocated_storage);
    step_ctx_set_fact(ctx, "subnet_group", i->subnet_group);
    char sgs[512];
    awsstep_sgs_text(i, sgs, sizeof sgs);
    step_ctx_set_fact(ctx, "sgs", sgs);
    step_ctx_set_fact(ctx, "param_group", i->n_param_groups ? i->param_groups[0].name : "");
    step_ctx_set_fact(ctx, "option_group", i->option_group);
    step_ctx_set_factf(ctx, "multi_az", "%d", i->multi_az ? 1 : 0);
    step_ctx_set_factf(ctx, "port", "%d", i->port);
    step_ctx_set_fact(ctx, "address", i->endpoint_address);
    step_ctx_set_factf(ctx, "backup_retention", "%d", i->backup_retention);
    step_ctx_set_factf(ctx, "deletion_protection", "%d", i->deletion_protection ? 1 : 0);
    step_ctx_set_factf(ctx, "public", "%d", i->publicly_accessible ? 1 : 0);
    /* user tags travel to the target (ours and aws: ones do not) */
    char tags[1024];
    if (awsstep_user_tags_text(i, tags, sizeof tags)) step_ctx_set_fact(ctx, "tags", tags);
}

void awsstep_carry_fill(awsstep_carry *cr, step_ctx *ctx, const char *role, const char *tags_fact, const char *sgs)
{
    cr->ntags = awsstep_tags(ctx, role, cr->tags, 24);
    cr->ntags = awsstep_tags_from_fact(ctx, tags_fact, cr->tags, cr->ntags, 24);
    cr->nsg = 0;
    fc_strlcpy(cr->sgbuf, sgs ? sgs : "", sizeof cr->sgbuf);
    char *save = NULL;
    for (char *sg = strtok_r(cr->sgbuf, ",", &save); sg && cr->nsg < 16; sg = strtok_r(NULL, ",", &save))
        cr->sgv[cr->nsg++] = sg;
}

size_t awsstep_tags_from_fact(step_ctx *ctx, const char *fact, aws_tag *tags, size_t n, size_t cap)
{
    const char *v = step_ctx_fact(ctx, fact);
    char buf[1024];
    fc_strlcpy(buf, v ? v : "", sizeof buf);
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        fc_strlcpy(tags[n].key, line, sizeof tags[n].key);
        fc_strlcpy(tags[n].value, tab + 1, sizeof tags[n].value);
        n++;
    }
    return n;
}

static bool snap_is_ours(step_ctx *ctx, const rds_snapshot *s)
{
    for (size_t k = 0; k < s->n_tags; k++)
        if (!strcmp(s->tags[k].key, "fleetcrypt:instance") && !strcmp(s->tags[k].value, step_ctx_instance(ctx)))
            return true;
    return false;
}

/* The encrypted copy must carry the campaign key, whatever the source
 * snapshot had: unencrypted (the copy encrypts it) or encrypted with another
 * key (aws/rds, another CMK: the copy re-keys it; without KmsKeyId it would
 * keep the old key). */
static bool copy_key_ok(step_ctx *ctx, step_result *res, const char *eid, bool encrypted, const char *kms)
{
    const char *want = step_ctx_campaign_field(ctx, "kms_key_arn");
    if (encrypted && awsstep_same_key(kms, want)) return true;
    if (!encrypted) snprintf(res->reason, sizeof res->reason, "copy %s is not encrypted", eid);
    else snprintf(res->reason, sizeof res->reason, "copy %s is encrypted with %s, not the campaign key %s", eid, kms, want);
    return false;
}

step_rc awsstep_snapshot_like(step_ctx *ctx, step_result *res, const awsstep_snap_spec *sp)
{
    bool copy = sp->copy;
    char sid[64], eid[64];
    awsstep_name(ctx, "snap", sid, sizeof sid);
    awsstep_name(ctx, "enc", eid, sizeof eid);
    const char *want = copy ? eid : sid;
    const char *fact = copy ? "copy_at" : "snap_at";
    step_cache_view v;
    if (step_ctx_fact(ctx, fact)) {
        step_rc rc = awsstep_await(ctx, res, "snap", want, fact, awsstep_st_available, awsstep_st_bad_snap, &v);
        if (rc == STEP_OK && copy && !copy_key_ok(ctx, res, eid, v.encrypted, v.kms_key)) return STEP_FAIL;
        if (rc == STEP_OK && sp->record_done) step_ctx_set_fact(ctx, copy ? "enc_snapshot" : "snapshot", want);
        return rc;
    }
    /* across accounts the copy is made in the target account from the
     * source's snapshot, shared with it first (awsxacct.h) */
    if (copy && awsxacct_in_target(ctx, eid)) {
        step_rc rc = awsxacct_share(ctx, res, sid);
        if (rc != STEP_OK) return rc;
    }
    aws_client *c = awsxacct_client_for(ctx, want);
    if (!c) return NO_CLIENT(res);
    rds_snapshot *s = NULL;
    aws_error e;
    aws_error_clear(&e);
    /* the first run creates without looking; a run after one that may have
     * created it (intent fact present) looks first */
    step_intent in = step_ctx_intent(ctx, copy ? "copy_try" : "snap_try");
    if (in == STEP_INTENT_NO) return LEASE_LOST(res);
    bool look = in == STEP_INTENT_LOOK;
look:
    if (!look) {
        e.kind = AWS_ERR_NOT_FOUND;
    } else if (rds_describe_db_snapshot(c, want, &s, &e)) {
        /* resumed after creating it */
        bool ours = !sp->must_be_ours || snap_is_ours(ctx, s);
        bool avail = !strcmp(s->status, "available");
        bool key_ok = !copy || !avail || copy_key_ok(ctx, res, eid, s->encrypted, s->kms_key_id);
        rds_snapshot_free(s);
        if (!ours) {
            snprintf(res->reason, sizeof res->reason, "snapshot %s exists but fleetcrypt did not create it", want);
            return STEP_FAIL;
        }
        if (!key_ok) return STEP_FAIL;
        awsstep_mark(ctx, fact);
        if (avail && !sp->must_be_ours) return STEP_OK;
        return awsstep_await(ctx, res, "snap", want, fact, awsstep_st_available, awsstep_st_bad_snap, &v);
    }
    if (e.kind != AWS_ERR_NOT_FOUND) return awsstep_fail(res, &e, "DescribeDBSnapshots");
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_tag tags[4];
    size_t nt = awsstep_tags(ctx, copy ? "encrypted-snapshot" : "source-snapshot", tags, 4);
    aws_error_clear(&e);
    bool ok;
    if (copy) {
        rds_copy_snapshot_opts o;
        memset(&o, 0, sizeof o);
        char src_arn[320];
        awsxacct_snapshot_arn(ctx, sid, src_arn, sizeof src_arn);
        o.source_id = awsxacct_in_target(ctx, eid) ? src_arn : sid; /* a shared snapshot by its ARN */
        o.target_id = eid;
        o.kms_key_id = step_ctx_campaign_field(ctx, "kms_key_arn");
        o.copy_tags = 0;
        o.tags = tags;
        o.ntags = nt;
        ok = rds_copy_db_snapshot(c, &o, NULL, &e);
    } else {
        ok = rds_create_db_snapshot(c, sid, sp->of, tags, nt, NULL, &e);
    }
    if (!ok && !strcmp(e.code, "DBSnapshotAlreadyExists") && !look) {
        /* not from an earlier run of ours (none got this far): whose is it? */
        look = true;
        aws_error_clear(&e);
        goto look;
    }
    if (!ok && strcmp(e.code, "DBSnapshotAlreadyExists") != 0) {
        if (!strcmp(e.code, "SnapshotQuotaExceeded")) {
            snprintf(res->reason, sizeof res->reason, "manual snapshot quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        if (!strcmp(e.code, "InvalidDBInstanceState") || !strcmp(e.code, "InvalidDBSnapshotState")) {
            res->wait_ms = 5000;
            snprintf(res->reason, sizeof res->reason, "%s: %.300s", sp->busy, e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, copy ? "CopyDBSnapshot" : "CreateDBSnapshot");
    }
    log_info(copy ? "encrypted copy started" : "snapshot started", "snapshot=%s", want);
    /* one of the two manual snapshots an in-flight instance may hold */
    if (sp->quota_facts) step_ctx_set_fact(ctx, "q_snap", copy ? "0" : "1");
    awsstep_mark(ctx, fact);
    res->wait_ms = 500;
    awsstep_wait_on(ctx, res, "snap", want);
    snprintf(res->reason, sizeof res->reason, "%s %s", copy ? "copying to" : "snapshotting to", want);
    return STEP_WAIT;
}

static int fact_int(step_ctx *ctx, const char *f, int dflt)
{
    const char *v = step_ctx_fact(ctx, f);
    return v && *v ? atoi(v) : dflt;
}

/* A fact as an optional request field: NULL when unset or empty. */
static const char *fact_opt(step_ctx *ctx, const char *f)
{
    const char *v = step_ctx_fact(ctx, f);
    return v && *v ? v : NULL;
}

step_rc awsstep_start_restore(step_ctx *ctx, step_result *res, const char *id, const char *snapshot,
                              int deletion_protection, bool quota_facts)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    /* across accounts the source's security group ids mean nothing in the
     * target: the campaign file's option target_security_groups (ids in the
     * target account; strategy_opts.h), else the source's groups mapped by
     * name at preflight (fact target_sgs, awsxacct.c) */
    const char *sgs = step_ctx_fact(ctx, "sgs");
    if (awsxacct_in_target(ctx, id))
        sgs = *step_ctx_opt(ctx, "target_security_groups") ? step_ctx_opt(ctx, "target_security_groups")
                                                           : step_ctx_fact(ctx, "target_sgs");
    awsstep_carry cr;
    awsstep_carry_fill(&cr, ctx, "encrypted-target", "tags", sgs);
    rds_restore_opts o;
    rds_restore_opts_init(&o);
    o.identifier = id;
    o.snapshot_id = snapshot;
    o.instance_class = fact_opt(ctx, "class");
    o.subnet_group = fact_opt(ctx, "subnet_group");
    o.vpc_sg_ids = cr.nsg ? cr.sgv : NULL;
    o.n_vpc_sg_ids = cr.nsg;
    o.param_group = fact_opt(ctx, "param_group");
    o.option_group = fact_opt(ctx, "option_group");
    o.multi_az = fact_int(ctx, "multi_az", RDS_UNSET);
    o.port = fact_int(ctx, "port", RDS_UNSET);
    o.deletion_protection = deletion_protection;
    o.publicly_accessible = fact_int(ctx, "public", RDS_UNSET);
    /* the source's backup retention, taken by the restore itself (no
     * ModifyDBInstance after it; the caller still compares the answer's
     * with it: fact target_backup_retention) */
    int br = fact_int(ctx, "backup_retention", RDS_UNSET);
    o.backup_retention = br >= 0 && br <= 35 ? br : RDS_UNSET;
    o.storage_type = fact_opt(ctx, "storage_type");
    o.tags = cr.tags;
    o.ntags = cr.ntags;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_instance *out = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_restore_db_instance_from_db_snapshot(c, &o, &out, &e)) {
        if (!strcmp(e.code, "DBInstanceAlreadyExists")) {
            /* the caller's next run looks (its intent fact is set) and
             * tells ours (an earlier run's) from someone else's */
            res->wait_ms = 1000;
            snprintf(res->reason, sizeof res->reason, "%s already exists: looking at it next", id);
            return STEP_WAIT;
        }
        if (!strcmp(e.code, "InstanceQuotaExceeded")) {
            snprintf(res->reason, sizeof res->reason, "DB instance quota exceeded: %.300s", e.message);
            return STEP_RETRY;
        }
        return awsstep_fail(res, &e, "RestoreDBInstanceFromDBSnapshot");
    }
    step_ctx_set_factf(ctx, "target_backup_retention", "%d", out ? out->backup_retention : -1);
    if (out && out->arn[0]) step_ctx_set_fact(ctx, "restore_arn", out->arn);
    rds_instance_free(out);
    log_info("restore started", "target=%s snapshot=%s", id, snapshot);
    if (quota_facts) step_ctx_set_fact(ctx, "q_inst", "0");
    awsstep_mark(ctx, "restore_at");
    res->wait_ms = 500;
    awsstep_wait_on(ctx, res, "db", id);
    snprintf(res->reason, sizeof res->reason, "restoring %s from %s", id, snapshot);
    return STEP_WAIT;
}

step_rc awsstep_set_backup_retention(step_ctx *ctx, step_result *res, const char *id, int want)
{
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_modify_instance_opts o;
    rds_modify_instance_opts_init(&o);
    o.identifier = id;
    o.backup_retention = want;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_modify_db_instance(c, &o, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 5000;
            snprintf(res->reason, sizeof res->reason, "target busy: %.300s", e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "ModifyDBInstance (backup retention)");
    }
    awsstep_mark(ctx, "configure_at");
    res->wait_ms = 500;
    awsstep_wait_on(ctx, res, "db", id);
    snprintf(res->reason, sizeof res->reason, "setting backup retention %d on %s", want, id);
    return STEP_WAIT;
}

/* ---- instances: describe, ours, rename, bounded wait, snapshots, retire
 * (shared by pg-logical and mysql-binlog) ---- */
void awsstep_preflight_memo(step_ctx *ctx, char *out, size_t cap)
{
    snprintf(out, cap, "preflight\t%s\t%s", step_ctx_campaign(ctx), step_ctx_campaign_field(ctx, "region"));
}

/* A Describe's outcome as describe_as returns it: the instance, or NULL
 * with *missing (not found: FAIL) or *rc. */
static rds_instance *described(step_result *res, const char *id, bool ok, rds_instance *i, const aws_error *e,
                               bool *missing, step_rc *rc)
{
    if (ok) return i;
    if (e->kind == AWS_ERR_NOT_FOUND) {
        *missing = true;
        snprintf(res->reason, sizeof res->reason, "instance %s not found", id);
        *rc = STEP_FAIL;
        return NULL;
    }
    *rc = awsstep_fail(res, e, "DescribeDBInstances");
    return NULL;
}

static rds_instance *describe_as(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc,
                                 bool batched)
{
    *missing = false;
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) {
        *rc = NO_CLIENT(res);
        return NULL;
    }
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    char memo[300];
    if (batched) awsstep_preflight_memo(ctx, memo, sizeof memo);
    bool ok = batched && !awsxacct_in_target(ctx, id)
                  ? awsmemo_describe_instance(c, memo, id, AWSSTEP_PREFLIGHT_BATCH_MS, &i, &e)
                  : rds_describe_db_instance(c, id, &i, &e);
    return described(res, id, ok, i, &e, missing, rc);
}

rds_instance *awsstep_describe(step_ctx *ctx, step_result *res, const char *id, bool *missing, step_rc *rc)
{
    return describe_as(ctx, res, id, missing, rc, false);
}

rds_instance *awsstep_describe_preflight(step_ctx *ctx, step_result *res, const char *id, bool *missing,
                                         step_rc *rc)
{
    return describe_as(ctx, res, id, missing, rc, true);
}

bool awsstep_has_tag(const rds_instance *i, const char *key, const char *value)
{
    for (size_t n = 0; n < i->n_tags; n++)
        if (!strcmp(i->tags[n].key, key) && (!value || !strcmp(i->tags[n].value, value))) return true;
    return false;
}

bool awsstep_is_ours(step_ctx *ctx, const rds_instance *i, const char *role)
{
    return awsstep_has_tag(i, "fleetcrypt:campaign", step_ctx_campaign(ctx)) &&
           awsstep_has_tag(i, "fleetcrypt:instance", step_ctx_instance(ctx)) &&
           (!role || awsstep_has_tag(i, "fleetcrypt:role", role));
}

static bool lease_ok(void *ctx) { return step_ctx_lease_ok(ctx); }

void awsstep_blocked_budget(step_ctx *ctx, aws_client *c, int64_t deadline, bool busy, aws_retry_until *prev)
{
    aws_retry_until u = {.until_ms = deadline, .busy = busy, .go_on = lease_ok, .ud = ctx};
    aws_client_retry_until(c, &u, prev);
}

step_rc awsstep_rename(step_ctx *ctx, step_result *res, const char *from, const char *to)
{
    return awsstep_rename_try(ctx, res, from, to, 0, NULL, NULL, NULL);
}

step_rc awsstep_rename_try(step_ctx *ctx, step_result *res, const char *from, const char *to, int64_t deadline,
                           bool *gone, bool *taken, bool *pending)
{
    if (gone) *gone = false;
    if (taken) *taken = false;
    if (pending) *pending = false;
    aws_client *a = step_ctx_aws(ctx);
    if (!a) return NO_CLIENT(res);
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    rds_modify_instance_opts o;
    rds_modify_instance_opts_init(&o);
    o.identifier = from;
    o.new_identifier = to;
    o.apply_immediately = true;
    aws_error e;
    aws_error_clear(&e);
    rds_instance *out = NULL;
    /* the caller's writers are blocked until deadline: a rename throttled,
     * failing with a 5xx or unanswered, or refused while the instance is
     * busy (AWS did nothing), is sent again by the client until then, not
     * after a re-run of the step (its backoff is the writers'); made
     * perhaps, its answer lost, a later try finds `from` gone (the client
     * then looks for `to`: rds_rename_carried_out) or `to` taken */
    aws_retry_until prev;
    awsstep_blocked_budget(ctx, a, deadline, true, &prev);
    bool ok = rds_modify_db_instance(a, &o, &out, &e);
    aws_client_retry_until(a, &prev, NULL);
    if (!ok) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 2000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", from);
            snprintf(res->reason, sizeof res->reason, "%s busy, retrying the rename to %s: %.300s", from, to,
                     e.message);
            return STEP_WAIT;
        }
        if (gone && e.kind == AWS_ERR_NOT_FOUND) {
            *gone = true;
            return STEP_OK;
        }
        if (taken && rds_err_already_exists(&e)) {
            *taken = true;
            return STEP_OK;
        }
        return awsstep_fail(res, &e, "ModifyDBInstance (rename)");
    }
    /* AWS answers a rename it has not applied yet with the old identifier
     * and the new one pending; at the emulator's time scale 0 it is done */
    bool later = out && (strcmp(out->identifier, to) != 0 || !strcmp(out->pending_identifier, to));
    if (pending) *pending = later;
    rds_instance_free(out);
    log_info("rename requested", "from=%s to=%s applied=%s", from, to, later ? "later" : "now");
    return STEP_OK;
}

/* The account side an awaited instance lives in (its look board's). */
static const char *await_side(step_ctx *ctx, const char *id)
{
    return awsxacct_in_target(ctx, id) ? "target" : "source";
}

/* The key of the awaits that share their looks (awsmemo_await_*): the
 * campaign, its region and the account the instance lives in. */
static void await_memo(step_ctx *ctx, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "await\t%s\t%s\t%s", step_ctx_campaign(ctx), step_ctx_campaign_field(ctx, "region"),
             await_side(ctx, id));
}

/* ---- the look board: the awaits of the campaign in other worker
 * processes (lib/store/store_looks.h; the policy: lib/engine/lookboard.h).
 * An await registers its instance there and records its planned looks; a
 * look this process asks marks itself begun, includes the instances
 * awaited there and publishes what it saw of them (status, endpoint, our
 * tags: all an await and its callers read). An await takes what another
 * worker's look saw, sent within its freshness bound, as its own look (no
 * Describe), and waits for the answer of such a look begun rather than
 * ask too. It plans its looks onto the other workers' (never later than
 * its own due). Times there are
 * wall-clock ms (fc_now_ms), here fc_mono_ms: converted at each use. A
 * Redis error only costs the sharing. ---- */
#define BOARD_IDS 100
#define BOARD_SLACK_MS 5000
/* A look planned onto another worker's is made this long after it, so
 * that the other's look is begun and this one waits for its answer
 * instead of asking too (never later than its own due: only a look planned
 * at least this long before the due is taken). */
#define BOARD_LAG_MS 100
/* How often a look waiting for another worker's answer reads the board. */
#define BOARD_POLL_MS 20

static int64_t wall_off(void) { return fc_now_ms() - fc_mono_ms(); }

typedef struct await_board {
    step_ctx *ctx;
    const char *side;
    int64_t asked_ms; /* wall ms this process's look was marked begun (0: not) */
} await_board;

static const char *tag_of(const rds_instance *i, const char *key)
{
    for (size_t k = 0; k < i->n_tags; k++)
        if (!strcmp(i->tags[k].key, key)) return i->tags[k].value;
    return "";
}

/* awsmemo_board.ask: the look is begun; the instances awaited on the board. */
static size_t board_ask(void *ud, char (*ids)[64], size_t max)
{
    await_board *b = ud;
    size_t n = 0;
    int64_t now = fc_now_ms();
    if (step_ctx_looks_ask(b->ctx, b->side, now, ids, max < BOARD_IDS ? max : BOARD_IDS, &n)) b->asked_ms = now;
    return n;
}

/* awsmemo_board.publish: what the look saw of the other processes'
 * instances, or that it failed. */
static void board_publish(void *ud, const rds_instance_list *l, const char *const *ids, size_t n, int64_t sent_ms)
{
    const await_board *b = ud;
    if (!b->asked_ms) return; /* not on the board: nobody waits for it */
    if (!l) {
        char mark[24];
        snprintf(mark, sizeof mark, "%lld", (long long)b->asked_ms);
        const char *fid[] = {"_failed"}, *fev[] = {mark};
        step_ctx_looks_put(b->ctx, b->side, fid, &b->asked_ms, fev, 1);
        return;
    }
    if (n > BOARD_IDS) n = BOARD_IDS;
    if (!n) return;
    char(*enc)[600] = calloc(n, sizeof *enc);
    const char **ev = calloc(n, sizeof *ev), **idv = calloc(n, sizeof *idv);
    int64_t *sv = calloc(n, sizeof *sv);
    int64_t wall = sent_ms + wall_off();
    size_t m = 0;
    for (size_t k = 0; enc && ev && idv && sv && k < n; k++) {
        lookboard_entry e = {.sent_ms = wall};
        for (size_t j = 0; j < l->n && !e.present; j++) {
            const rds_instance *i = &l->v[j];
            if (strcmp(i->identifier, ids[k])) continue;
            e.present = true;
            fc_strlcpy(e.status, i->status, sizeof e.status);
            fc_strlcpy(e.address, i->endpoint_address, sizeof e.address);
            e.port = i->port;
            fc_strlcpy(e.campaign, tag_of(i, "fleetcrypt:campaign"), sizeof e.campaign);
            fc_strlcpy(e.instance, tag_of(i, "fleetcrypt:instance"), sizeof e.instance);
            fc_strlcpy(e.role, tag_of(i, "fleetcrypt:role"), sizeof e.role);
        }
        if (!lookboard_encode(enc[m], sizeof enc[m], &e)) continue;
        idv[m] = ids[k];
        ev[m] = enc[m];
        sv[m++] = wall;
    }
    if (m && !step_ctx_looks_put(b->ctx, b->side, idv, sv, ev, m))
        log_debug("look board not written", "instances=%zu", m);
    free(enc);
    free(ev);
    free(idv);
    free(sv);
}

/* The board's word on id (await h, registered at since, mono) for a look
 * with freshness bound accept (mono): true with *be (sent_ms made mono)
 * when another worker's look sent at or after the bound saw it, and this
 * process has no answer or look in flight for h as new; waits for the answer of
 * such a look begun (lookboard_verdict_of; up to AWSMEMO_AWAIT_JOIN_MS),
 * unless this process has an answer or a look of its own in flight (its
 * mark is on the board too, but it publishes nothing of its own awaits). */
static bool board_seen(step_ctx *ctx, const char *side, int h, const char *id, int64_t since, int64_t accept,
                       lookboard_entry *be)
{
    for (;;) {
        /* this process's own look (its mark on the board too): awsmemo's */
        if (awsmemo_await_pending(h, accept)) return false;
        char entry[600];
        int64_t asking = 0, failed = 0, off = wall_off();
        if (!step_ctx_looks_read(ctx, side, id, entry, sizeof entry, &asking, &failed)) return false;
        bool have = *entry && lookboard_decode(entry, be);
        if (*entry && !have)
            log_warn("look board entry malformed: ignored, this look asks AWS",
                     "id=%s want=\"<sent ms> then '-' or 6 tab-separated fields\" got_bytes=%zu", id, strlen(entry));
        lookboard_verdict v = lookboard_verdict_of(be, have, asking, failed, accept + off, since + off,
                                                   fc_mono_ms() + off, AWSMEMO_AWAIT_JOIN_MS);
        if (v == LOOKBOARD_ASK) return false;
        if (v == LOOKBOARD_WAIT) {
            fc_sleep_ms(BOARD_POLL_MS);
            continue;
        }
        be->sent_ms -= off; /* now mono */
        /* one of this process's as new, come meanwhile: awsmemo's */
        return !awsmemo_await_pending(h, be->sent_ms);
    }
}

/* The instance as a board entry saw it (id, status, endpoint, our tags:
 * all an await's callers read); NULL when not present or out of memory. */
static rds_instance *board_instance(const lookboard_entry *be, const char *id)
{
    if (!be->present) return NULL;
    rds_instance *i = calloc(1, sizeof *i);
    if (!i) return NULL;
    i->tags = calloc(3, sizeof *i->tags);
    if (!i->tags) {
        free(i);
        return NULL;
    }
    fc_strlcpy(i->identifier, id, sizeof i->identifier);
    fc_strlcpy(i->status, be->status, sizeof i->status);
    fc_strlcpy(i->endpoint_address, be->address, sizeof i->endpoint_address);
    i->port = be->port;
    const char *keys[] = {"fleetcrypt:campaign", "fleetcrypt:instance", "fleetcrypt:role"};
    const char *vals[] = {be->campaign, be->instance, be->role};
    for (size_t k = 0; k < 3; k++) {
        if (!*vals[k]) continue;
        fc_strlcpy(i->tags[i->n_tags].key, keys[k], sizeof i->tags[0].key);
        fc_strlcpy(i->tags[i->n_tags].value, vals[k], sizeof i->tags[0].value);
        i->n_tags++;
    }
    return i;
}

/* Sleep until this await's next look: due, or a look another await of its
 * key plans between not_before and due (awsmemo_await_plan: one Describe
 * for both, never later than due), in this process or, BOARD_LAG_MS after
 * it, in another worker (the look board); never one before floor (its
 * last look plus the shortest gap: a plan it takes may move or be met
 * without a Describe, the other await taking the board's answer or
 * planning onto a third's, and then this one asks on its own, moments
 * after its last look). The ms slept. */
static int64_t await_sleep(step_ctx *ctx, const char *side, const char *id, int h, int64_t due, int64_t not_before,
                           int64_t floor)
{
    if (not_before < floor) not_before = floor;
    int64_t at = awsmemo_await_plan(h, due, not_before), now = fc_mono_ms();
    if (h >= 0) {
        int64_t off = wall_off(), from = not_before > now ? not_before : now + 1, other = 0;
        from -= BOARD_LAG_MS;
        if (step_ctx_looks_plan(ctx, side, id, at + off, from + off, at - BOARD_LAG_MS + off, &other) && other > 0 &&
            other - off + BOARD_LAG_MS < at)
            at = awsmemo_await_replan(h, other - off + BOARD_LAG_MS);
    }
    if (at <= now) return 0;
    fc_sleep_ms(at - now);
    return at - now;
}

/* awsstep_await_instance's loop; h: its registration (awsmemo_await_begin);
 * asked: see awsstep_await_renamed. */
static step_rc await_instance(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                              rds_instance **out, int h, bool asked)
{
    /* When to look (lib/engine/waitplan.h): just after the end of the same
     * wait learnt across the campaign's region (P:opdur, per strategy, step
     * and storage size), or this instance's previous one (fact
     * await_seen_ms: the cutover's second rename after its first); without
     * either, from 0.5 s growing by half up to 8 s — a rename that takes
     * seconds is seen at once, one that takes minutes (real AWS) costs a
     * dozen calls, not one every half second. Past the deadline the fleet
     * poller takes over. Every wait that did wait teaches the next. */
    char op[160];
    const char *gb = step_ctx_fact(ctx, "storage_gb");
    waitplan_opkey(op, sizeof op, step_ctx_campaign_field(ctx, "strategy"), step_ctx_step(ctx), "await",
                   gb ? atoi(gb) : 0);
    int64_t exp = step_ctx_opdur(ctx, op);
    if (exp <= 0) exp = awsstep_fact_i64(ctx, "await_seen_ms", 0);
    const waitplan_cfg pc = {500, 60000};
    const char *side = await_side(ctx, id);
    int64_t t0 = fc_mono_ms(), lo = 0, pause = 500, gap = 0;
    bool waited = false;
    /* a look another await of the key plans stands for this one's from a
     * quarter before the expected end (looks planned apart, each from its
     * own start, were a Describe each) */
    const int64_t not_before = t0 + exp - exp / 4;
    if (exp > 0) {
        int64_t lead = waitplan_due(&pc, 0, -1, exp, 0);
        if (t0 + lead < deadline) {
            gap = await_sleep(ctx, side, id, h, t0 + lead, not_before, t0);
            waited = true;
        }
    } else if ((asked || awsmemo_await_early(h)) && t0 + pause < deadline) {
        /* the caller's rename to id was just answered as not applied yet,
         * or another of this process's awaits under the key (a rename of
         * the same campaign moments ago) looked at once and was early: a
         * look at once would only find it not done; its first look is its
         * second's */
        gap = await_sleep(ctx, side, id, h, t0 + pause, t0, t0);
        waited = true;
        pause = pause * 3 / 2;
    }
    aws_client *c = awsxacct_client_for(ctx, id);
    if (!c) return NO_CLIENT(res);
    for (;;) {
        /* another await's look at this instance stands for this one when
         * sent within AWSSTEP_AWAIT_FRESH_PCT % of the pause before it (at
         * least of the shortest: a look due at once joins one sent moments
         * ago), and not before a quarter before the expected end (looks
         * planned onto each other's from there: awsmemo_await_plan) */
        int64_t accept = fc_mono_ms() - (gap > pc.min_ms ? gap : pc.min_ms) * AWSSTEP_AWAIT_FRESH_PCT / 100;
        if (accept < not_before) accept = not_before;
        bool missing = false;
        step_rc rc = STEP_OK;
        rds_instance *i = NULL;
        int64_t seen = 0;
        bool shared = false, boarded = false;
        lookboard_entry be;
        const char *status;
        if (h >= 0 && board_seen(ctx, side, h, id, t0, accept, &be)) {
            /* another worker's look, late enough: this one's */
            seen = be.sent_ms;
            shared = boarded = true;
            i = board_instance(&be, id);
            missing = !i;
            status = be.present ? be.status : "not-found";
        } else {
            await_board ab = {ctx, side, 0};
            awsmemo_board board = {board_ask, board_publish, &ab};
            aws_error e;
            aws_error_clear(&e);
            bool ok = awsmemo_await_look(c, h, id, accept, h >= 0 ? &board : NULL, &i, &seen, &shared, &e);
            i = described(res, id, ok, i, &e, &missing, &rc);
            if (!i && !missing) return rc;
            status = i ? i->status : "not-found";
        }
        int64_t at = seen - t0;
        log_debug("await look", "id=%s age_ms=%lld exp_ms=%lld shared=%d board=%d status=%s", id, (long long)at,
                  (long long)exp, shared, boarded, status);
        if (i && !strcmp(i->status, "available") && (!role || awsstep_is_ours(ctx, i, role)) &&
            i->endpoint_address[0] && i->port > 0) {
            res->reason[0] = 0;
            *out = i;
            /* learnt only from a wait that did wait (not an instance found ready at once) */
            if (waited) {
                step_ctx_set_factf(ctx, "await_seen_ms", "%lld", (long long)at);
                step_ctx_opdur_learn(ctx, op, lo, at);
            }
            return STEP_OK;
        }
        rds_instance_free(i);
        if (!waited && exp <= 0) awsmemo_await_set_early(h); /* a first look at once, early */
        lo = at;
        if (fc_mono_ms() > deadline) {
            res->wait_ms = 2000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", id);
            snprintf(res->reason, sizeof res->reason, "waiting for %s to be available", id);
            return STEP_WAIT;
        }
        /* overrunning the expectation: backing off from its end */
        gap = exp > 0 ? waitplan_due(&pc, 0, at, exp, 0) - at : pause;
        /* never two looks within the shortest gap (a look planned onto
         * another's just before the expected end was one) */
        if (gap < pc.min_ms) gap = pc.min_ms;
        gap = await_sleep(ctx, side, id, h, fc_mono_ms() + gap, not_before, seen + pc.min_ms);
        waited = true;
        pause = pause * 3 / 2 > 8000 ? 8000 : pause * 3 / 2;
    }
}

static step_rc await_registered(step_ctx *ctx, step_result *res, const char *id, const char *role,
                                int64_t deadline, rds_instance **out, bool asked)
{
    *out = NULL;
    char memo[300];
    await_memo(ctx, id, memo, sizeof memo);
    int h = awsmemo_await_begin(memo, id);
    /* on the look board until the deadline (and a slack: a worker that
     * dies here leaves it to expire), for the other workers' looks */
    const char *side = await_side(ctx, id);
    if (h >= 0)
        step_ctx_looks_want(ctx, side, id, deadline + wall_off() + BOARD_SLACK_MS);
    step_rc rc = await_instance(ctx, res, id, role, deadline, out, h, asked);
    if (h >= 0) step_ctx_looks_want(ctx, side, id, 0);
    awsmemo_await_end(h);
    return rc;
}

step_rc awsstep_await_instance(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                               rds_instance **out)
{
    return await_registered(ctx, res, id, role, deadline, out, false);
}

step_rc awsstep_await_renamed(step_ctx *ctx, step_result *res, const char *id, const char *role, int64_t deadline,
                              rds_instance **out)
{
    return await_registered(ctx, res, id, role, deadline, out, true);
}

step_rc awsstep_delete_snapshots(step_ctx *ctx, step_result *res, const char *const *sfx, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char id[64];
        awsstep_name(ctx, sfx[k], id, sizeof id);
        aws_client *c = awsxacct_client_for(ctx, id);
        if (!c) return NO_CLIENT(res);
        if (!strcmp(sfx[k], "snap")) {
            step_rc rc = awsxacct_unshare(ctx, res, id); /* the target account loses it first */
            if (rc != STEP_OK) return rc;
        }
        rds_snapshot *sn = NULL;
        aws_error e;
        aws_error_clear(&e);
        /* one our snapshot step saw available (facts snapshot / enc_snapshot,
         * record_done) is ours and settled: deleted without looking (a
         * snapshot already gone answers not found) */
        const char *known = step_ctx_fact(ctx, !strcmp(sfx[k], "enc") ? "enc_snapshot" : "snapshot");
        if (known && !strcmp(known, id)) {
            if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
            if (rds_delete_db_snapshot(c, id, NULL, &e) || e.kind == AWS_ERR_NOT_FOUND) {
                log_info("snapshot deleted", "snapshot=%s", id);
                continue;
            }
            if (strcmp(e.code, "InvalidDBSnapshotState") != 0) return awsstep_fail(res, &e, "DeleteDBSnapshot");
            aws_error_clear(&e); /* busy after all: look, as below */
        }
        if (!rds_describe_db_snapshot(c, id, &sn, &e)) {
            if (e.kind == AWS_ERR_NOT_FOUND) continue;
            return awsstep_fail(res, &e, "DescribeDBSnapshots");
        }
        bool ours = false;
        for (size_t t = 0; t < sn->n_tags; t++)
            if (!strcmp(sn->tags[t].key, "fleetcrypt:instance") && !strcmp(sn->tags[t].value, step_ctx_instance(ctx)))
                ours = true;
        bool busy = strcmp(sn->status, "available") != 0 && strcmp(sn->status, "failed") != 0;
        rds_snapshot_free(sn);
        if (!ours) continue;
        if (busy) {
            res->wait_ms = 5000;
            awsstep_wait_on(ctx, res, "snap", id);
            snprintf(res->reason, sizeof res->reason, "waiting for snapshot %s to settle before deleting it", id);
            return STEP_WAIT;
        }
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        aws_error_clear(&e);
        if (!rds_delete_db_snapshot(c, id, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
            if (!strcmp(e.code, "InvalidDBSnapshotState")) {
                res->wait_ms = 5000;
                snprintf(res->reason, sizeof res->reason, "snapshot %s busy: %.300s", id, e.message);
                return STEP_WAIT;
            }
            return awsstep_fail(res, &e, "DeleteDBSnapshot");
        }
        log_info("snapshot deleted", "snapshot=%s", id);
    }
    return STEP_OK;
}

static const char *const ST_STOPPED[] = {"stopped", NULL};
static const char *const ST_BAD_STOP[] = {"failed", "deleting", "incompatible-parameters", NULL};

step_rc awsstep_tag_retired(step_ctx *ctx, step_result *res, aws_client *c, const char *arn, const char *role)
{
    aws_tag tags[5];
    size_t nt = awsstep_tags(ctx, role, tags, 4);
    fc_strlcpy(tags[nt].key, "fleetcrypt:original-id", sizeof tags[nt].key);
    fc_strlcpy(tags[nt].value, step_ctx_instance(ctx), sizeof tags[nt].value);
    nt++;
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_add_tags_to_resource(c, arn, tags, nt, &e)) return awsstep_fail(res, &e, "AddTagsToResource (retired source)");
    return STEP_OK;
}

/* awsstep_tag_retired, remembered (fact retire_tagged). */
static step_rc tag_retired(step_ctx *ctx, step_result *res, aws_client *c, const char *arn, const char *role)
{
    step_rc rc = awsstep_tag_retired(ctx, res, c, arn, role);
    if (rc == STEP_OK) step_ctx_set_fact(ctx, "retire_tagged", "1");
    return rc;
}

step_rc awsstep_retire_instance(step_ctx *ctx, step_result *res, const char *rid, const char *role)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    if (step_ctx_fact(ctx, "stop_at")) {
        /* stopped by the first run below, its tagging failed: again, by the ARN the stop answered */
        const char *arn = step_ctx_fact(ctx, "retired_arn");
        if (arn && *arn && !step_ctx_fact(ctx, "retire_tagged")) {
            step_rc trc = tag_retired(ctx, res, c, arn, role);
            if (trc != STEP_OK) return trc;
        }
        step_cache_view v;
        return awsstep_await(ctx, res, "db", rid, "stop_at", ST_STOPPED, ST_BAD_STOP, &v);
    }
    /* the first run stops it without describing it first (the cutover left
     * it available) and tags it by the ARN the stop answers; a refusal
     * (read replicas attached, busy) or a later run looks first, below */
    step_intent in = step_ctx_intent(ctx, "retire_try");
    if (in == STEP_INTENT_NO) return LEASE_LOST(res);
    if (in == STEP_INTENT_FIRST) {
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        rds_instance *out = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (rds_stop_db_instance(c, rid, NULL, &out, &e)) {
            char arn[256] = "";
            if (out) fc_strlcpy(arn, out->arn, sizeof arn);
            rds_instance_free(out);
            log_info("retired source stopping", "db=%s", rid);
            res->wait_ms = 1000;
            snprintf(res->wait_on, sizeof res->wait_on, "db:%s", rid);
            snprintf(res->reason, sizeof res->reason, "stopping the retired source %s", rid);
            /* no ARN answered: the next run looks (and tags) */
            if (!arn[0]) return STEP_WAIT;
            step_ctx_set_fact(ctx, "retired_arn", arn);
            awsstep_mark(ctx, "stop_at");
            step_rc trc = tag_retired(ctx, res, c, arn, role);
            return trc == STEP_OK ? STEP_WAIT : trc;
        }
        if (strcmp(e.code, "InvalidDBInstanceState") != 0) return awsstep_fail(res, &e, "StopDBInstance (retired source)");
    }
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = awsstep_describe(ctx, res, rid, &missing, &rc);
    if (!i) return rc;
    if (!awsstep_has_tag(i, "fleetcrypt:role", role)) {
        rc = tag_retired(ctx, res, c, i->arn, role);
        if (rc != STEP_OK) {
            rds_instance_free(i);
            return rc;
        }
    }
    bool replicas = i->n_read_replica_ids > 0;
    char status[48];
    fc_strlcpy(status, i->status, sizeof status);
    rds_instance_free(i);
    if (replicas) {
        /* a read replica attached keeps the source running (RDS refuses to stop it) */
        step_ctx_set_fact(ctx, "retired_running", "read replicas still attached: stop it after re-creating them");
        return STEP_OK;
    }
    if (!strcmp(status, "stopped")) return STEP_OK;
    if (strcmp(status, "available") != 0) {
        res->wait_ms = 5000;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", rid);
        snprintf(res->reason, sizeof res->reason, "retired source %s is %s; waiting to stop it", rid, status);
        return STEP_WAIT;
    }
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_stop_db_instance(c, rid, NULL, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBInstanceState")) {
            res->wait_ms = 5000;
            snprintf(res->reason, sizeof res->reason, "retired source busy: %.300s", e.message);
            return STEP_WAIT;
        }
        return awsstep_fail(res, &e, "StopDBInstance (retired source)");
    }
    log_info("retired source stopping", "db=%s", rid);
    awsstep_mark(ctx, "stop_at");
    res->wait_ms = 1000;
    snprintf(res->wait_on, sizeof res->wait_on, "db:%s", rid);
    snprintf(res->reason, sizeof res->reason, "stopping the retired source %s", rid);
    return STEP_WAIT;
}
