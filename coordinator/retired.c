/* retired — what the active coordinator does for finished instances, every
 * cfg.retired_check_s seconds (FLEETCRYPT_RETIRED_CHECK_S, default 900,
 * 0 = off):
 *
 *  1. Keep retired sources stopped. AWS starts a stopped instance again
 *     after 7 days. Per (region, account) that any campaign uses, ONE
 *     paginated DescribeDBInstances (through the shared AWS token bucket)
 *     lists fleetcrypt's retired sources (tag fleetcrypt:role=retired-source
 *     with fleetcrypt:campaign and fleetcrypt:instance); one that is
 *     `available` again is stopped, logged, written to its campaign's event
 *     stream (`fleetcrypt logs`) and the audit topic, and counted
 *     (fc_retired_restopped_total). Left alone: sources without a record
 *     under our key prefix, whose record is not `done` (the worker's cleanup
 *     still owns them), that `fleetcrypt retire` finished (`retired_at`) or
 *     is working on (`retiring_ms`, which it sets before its first AWS
 *     call, or — from an older CLI — the final snapshot
 *     fc-<campaign>-<id>-final exists).
 *  2. Follow the source's RDS-managed master secret (lib/msecret.h): for a
 *     done instance whose retired source has a MasterUserSecret, a rotation
 *     since the recorded version (f.master_secret_version) sets the new
 *     password on the encrypted instance (f.target_id, else the instance
 *     id), which must carry our tags; the record then gets the new version
 *     and f.master_secret_synced_at (plain HSET: the record is terminal, as
 *     `retire` does), fc_master_secret_propagated_total counts it. Stops
 *     once the encrypted instance manages its own secret.
 *     Across accounts (the record's f.target_account, a campaign with
 *     --target-account-role): the secret stays in the source account and
 *     is read there; the encrypted instance is described and modified in
 *     the target account through the campaign's role, assumed by the
 *     coordinator as the workers assume it (STS on its own credentials, the
 *     session in memory only, one per (region, role, external id); nothing
 *     of it in Redis or the logs, the external id never logged).
 *
 * Idempotent and safe with two coordinators: only the leader calls this;
 * a stop that finds the instance busy, or a propagation whose target is
 * busy, is simply tried again next period. */
#include "codec.h"
#include "coord.h"
#include "emit.h"
#include "log.h"
#include "msecret.h"
#include "prom.h"
#include "rds.h"
#include "step.h"
#include "store_model.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETIRED_ROLE "retired-source"

bool retired_should_stop(const char *aws_status, const char *rec_state, bool retired)
{
    if (!aws_status || strcmp(aws_status, "available") != 0) return false; /* stopped, or busy: next period */
    if (!rec_state || strcmp(rec_state, "done") != 0) return false;        /* unknown, or the worker owns it */
    return !retired;
}

static const char *tag_of(const rds_instance *i, const char *key)
{
    for (size_t k = 0; k < i->n_tags; k++)
        if (!strcmp(i->tags[k].key, key)) return i->tags[k].value;
    return "";
}

static const rds_instance *find_id(const rds_instance_list *l, const char *id)
{
    for (size_t k = 0; k < l->n; k++)
        if (!strcmp(l->v[k].identifier, id)) return &l->v[k];
    return NULL;
}

/* The record fields this module reads. */
typedef struct rec_view {
    bool exists;
    char state[24];
    char retired_at[24];
    char retiring_ms[24]; /* set by `fleetcrypt retire` before it starts */
    char target_id[72];
    char secret_arn[256];
    char secret_version[128];
    char strategy[32];
    char target_account[32];  /* f.target_account: moved into another account */
    char role[256];           /* the campaign's --target-account-role (spec) */
    char external_id[1280];   /* its --target-external-id: never logged; wiped after use */
} rec_view;

/* The option `name` of a campaign spec (JSON object; '-' and '_' alike, as
 * strategy_opt matches them), copied into out ("" when absent). */
static void spec_opt(json_t *spec, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v) {
        const char *a = k, *b = name;
        while (*a && *b && (*a == *b || ((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))) a++, b++;
        if (!*a && !*b && json_is_string(v)) fc_strlcpy(out, json_string_value(v), cap);
    }
}

static void read_record(coord *c, const char *campaign, const char *id, rec_view *v)
{
    memset(v, 0, sizeof *v);
    static const char *const rf[] = {"state", "retired_at", "f.target_id", "f.master_secret_arn",
                                     "f.master_secret_version", "retiring_ms", "f.target_account"};
    store_kv r;
    if (store_record_read(c->s, campaign, id, rf, FC_ARRAY_LEN(rf), &r) && *kv_str(&r, "state")) {
        v->exists = true;
        fc_strlcpy(v->state, kv_str(&r, "state"), sizeof v->state);
        fc_strlcpy(v->retired_at, kv_str(&r, "retired_at"), sizeof v->retired_at);
        fc_strlcpy(v->target_id, kv_str(&r, "f.target_id"), sizeof v->target_id);
        fc_strlcpy(v->secret_arn, kv_str(&r, "f.master_secret_arn"), sizeof v->secret_arn);
        fc_strlcpy(v->secret_version, kv_str(&r, "f.master_secret_version"), sizeof v->secret_version);
        fc_strlcpy(v->retiring_ms, kv_str(&r, "retiring_ms"), sizeof v->retiring_ms);
        fc_strlcpy(v->target_account, kv_str(&r, "f.target_account"), sizeof v->target_account);
    }
    store_kv_free(&r);
    if (!v->exists) return;
    static const char *const cf[] = {"strategy", "spec"};
    store_kv s;
    if (store_campaign_read(c->s, campaign, cf, FC_ARRAY_LEN(cf), &s)) {
        fc_strlcpy(v->strategy, kv_str(&s, "strategy"), sizeof v->strategy);
        if (v->target_account[0]) {
            json_t *spec = json_loads(kv_str(&s, "spec"), 0, NULL);
            if (json_is_object(spec)) {
                spec_opt(spec, "target-account-role", v->role, sizeof v->role);
                spec_opt(spec, "target-external-id", v->external_id, sizeof v->external_id);
            }
            json_decref(spec);
        }
    }
    store_kv_free(&s);
}

/* One transition-like entry in the campaign's event stream and on the audit topic. */
static void record_event(coord *c, const char *campaign, const char *instance, const char *strategy,
                         const char *event, const char *reason)
{
    store_event_add(c->s, campaign, instance, event, "retired-watch", "done", reason, c->cfg.node_id);
    fc_step_event ev;
    memset(&ev, 0, sizeof ev);
    fc_strlcpy(ev.campaign, campaign, sizeof ev.campaign);
    fc_strlcpy(ev.instance, instance, sizeof ev.instance);
    fc_strlcpy(ev.strategy, strategy, sizeof ev.strategy);
    fc_strlcpy(ev.step, "retired-watch", sizeof ev.step);
    fc_strlcpy(ev.outcome, "ok", sizeof ev.outcome);
    fc_strlcpy(ev.from_state, "done", sizeof ev.from_state);
    fc_strlcpy(ev.to_state, "done", sizeof ev.to_state);
    fc_strlcpy(ev.reason, reason, sizeof ev.reason);
    fc_strlcpy(ev.node, c->cfg.node_id, sizeof ev.node);
    ev.ts_ms = fc_now_ms();
    emit_event(c->prod, &c->cfg, &ev);
}

/* `fleetcrypt retire` makes the final snapshot first: its existence means a
 * retire is under way (or stopped half-way). Errors count as "under way". */
static bool retire_under_way(region_aws *r, const char *campaign, const char *id)
{
    char snap[128];
    if (!step_resource_name(campaign, id, "final", snap, sizeof snap)) return true;
    rds_snapshot *sn = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_snapshot(r->c, snap, &sn, &e)) {
        rds_snapshot_free(sn);
        return true;
    }
    return e.kind != AWS_ERR_NOT_FOUND;
}

static void restop(coord *c, region_aws *r, const rds_instance *src, const char *campaign, const char *id,
                   const rec_view *rv)
{
    if (!retired_should_stop(src->status, rv->state, rv->retired_at[0] != 0)) return;
    if (rv->retiring_ms[0] || retire_under_way(r, campaign, id)) {
        log_info("retired source is running but a retire is under way: left alone", "db=%s", src->identifier);
        return;
    }
    aws_error e;
    aws_error_clear(&e);
    if (!rds_stop_db_instance(r->c, src->identifier, NULL, NULL, &e)) {
        if (!strcmp(e.code, "InvalidDBInstanceState"))
            log_info("retired source busy: stopping it next period", "db=%s", src->identifier);
        else
            log_warn("cannot stop the retired source again", "db=%s code=%s err=\"%.200s\"", src->identifier, e.code,
                     e.message);
        return;
    }
    char reason[256];
    snprintf(reason, sizeof reason, "retired source %s restarted by AWS, stopped again", src->identifier);
    log_warn("retired source restarted by AWS, stopped again", "db=%s", src->identifier);
    record_event(c, campaign, id, rv->strategy, "retired-restopped", reason);
    prom_counter_add(prom_default(), "fc_retired_restopped_total",
                     "Retired sources AWS restarted (7-day limit) that the coordinator stopped again.", NULL, 1);
}

/* The target account's client of a cross-account campaign: its role assumed
 * on the coordinator's own credentials (lazily, by the session's provider),
 * kept per (region, role, external id). NULL when it cannot be made. */
static aws_client *target_client(coord *c, const char *region, const rec_view *rv)
{
    for (int i = 0; i < c->ntargets; i++) {
        coord_target *t = &c->targets[i];
        if (!strcmp(t->region, region) && !strcmp(t->role, rv->role) && !strcmp(t->external_id, rv->external_id))
            return t->c;
    }
    if (c->ntargets >= COORD_MAX_REGIONS) {
        log_warn("too many target accounts to follow master secrets into", "max=%d", COORD_MAX_REGIONS);
        return NULL;
    }
    coord_target *t = &c->targets[c->ntargets];
    fc_wipe(t, sizeof *t);
    aws_session_opts o;
    memset(&o, 0, sizeof o);
    o.client.region = region;
    o.creds.role_arn = rv->role;
    o.creds.external_id = rv->external_id[0] ? rv->external_id : NULL;
    o.creds.role_session_name = "fleetcrypt-coordinator";
    o.s = c->s;
    o.rate = c->rate;
    o.account = rv->target_account;
    aws_error e;
    aws_error_clear(&e);
    t->sess = aws_session_new(&o, &e);
    if (!t->sess) {
        log_warn("cannot create the target account's AWS client", "region=%s role=%s code=%s", region, rv->role,
                 e.code);
        return NULL;
    }
    t->c = aws_session_client(t->sess);
    fc_strlcpy(t->region, region, sizeof t->region);
    fc_strlcpy(t->account, rv->target_account, sizeof t->account);
    fc_strlcpy(t->role, rv->role, sizeof t->role);
    fc_strlcpy(t->external_id, rv->external_id, sizeof t->external_id);
    c->ntargets++;
    return t->c;
}

void retired_free(coord *c)
{
    for (int i = 0; i < c->ntargets; i++) {
        aws_session_free(c->targets[i].sess);
        fc_wipe(&c->targets[i], sizeof c->targets[i]);
    }
    c->ntargets = 0;
}

/* The encrypted instance in the target account (caller frees), NULL when
 * it is not there or cannot be described (logged). */
static rds_instance *describe_in_target(aws_client *tc, const char *tid)
{
    rds_instance *t = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (rds_describe_db_instance(tc, tid, &t, &e)) return t;
    if (e.kind == AWS_ERR_NOT_FOUND)
        log_debug("no encrypted instance in the target account to follow the master secret onto", "db=%s", tid);
    else
        log_warn("cannot describe the encrypted instance in the target account", "db=%s code=%s err=\"%.200s\"",
                 tid, e.code, e.message);
    return NULL;
}

static void follow_secret(coord *c, region_aws *r, const rds_instance_list *all, const rds_instance *src,
                          const char *campaign, const char *id, const rec_view *rv)
{
    if (strcmp(rv->state, "done") != 0) return;
    const char *arn = src->master_user_secret_arn[0] ? src->master_user_secret_arn : rv->secret_arn;
    if (!*arn) return;
    const char *tid = rv->target_id[0] ? rv->target_id : id;
    /* across accounts the encrypted instance is the target account's */
    aws_client *tc = NULL;
    rds_instance *there = NULL;
    if (rv->target_account[0]) {
        if (!rv->role[0]) {
            log_warn("moved into another account but the campaign names no target role: master secret not followed",
                     "db=%s target_account=%s", id, rv->target_account);
            return;
        }
        if (!(tc = target_client(c, r->region, rv)) || !(there = describe_in_target(tc, tid))) return;
    }
    const rds_instance *t = there ? there : find_id(all, tid);
    if (!t || strcmp(tag_of(t, "fleetcrypt:instance"), id) != 0 || strcmp(tag_of(t, "fleetcrypt:campaign"), campaign) ||
        !strcmp(tag_of(t, "fleetcrypt:role"), RETIRED_ROLE)) {
        log_debug("no encrypted instance of ours to follow the master secret onto", "db=%s", id);
        rds_instance_free(there);
        return;
    }
    msecret_result mr;
    aws_error e;
    aws_error_clear(&e);
    bool ok = msecret_follow(r->c, tc, arn, rv->secret_version, t, &mr, &e);
    char tname[72];
    fc_strlcpy(tname, t->identifier, sizeof tname);
    rds_instance_free(there);
    t = NULL;
    if (!ok) {
        if (!strcmp(e.code, "TargetNotAvailable") || !strcmp(e.code, "InvalidDBInstanceState"))
            log_info("master secret rotated; the encrypted instance is busy: next period", "db=%s", tname);
        else
            log_warn("cannot follow the master secret", "db=%s secret=%s code=%s err=\"%.300s\"", tname, arn,
                     e.code, e.message);
        return;
    }
    if (!mr.propagated) return;
    store_record_secret_synced(c->s, campaign, id, mr.version, fc_now_ms());
    char reason[384];
    snprintf(reason, sizeof reason, "master secret rotated (version %s): new password set on %s%s%s", mr.version,
             tname, rv->target_account[0] ? " in account " : "", rv->target_account);
    record_event(c, campaign, id, rv->strategy, "master-secret-followed", reason);
    prom_counter_add(prom_default(), "fc_master_secret_propagated_total",
                     "Rotations of a source's managed master secret set on its encrypted instance.", NULL, 1);
}

static void check_region(coord *c, region_aws *r)
{
    rds_instance_list *l = NULL;
    aws_error e;
    aws_error_clear(&e);
    rds_describe_opts o;
    memset(&o, 0, sizeof o);
    o.max_records = 100;
    if (!rds_describe_db_instances_all(r->c, &o, &l, &e)) {
        log_warn("retired-source check: describe failed", "region=%s code=%s", r->region, e.code);
        return;
    }
    int seen = 0;
    for (size_t k = 0; k < l->n && !*c->stop; k++) {
        const rds_instance *src = &l->v[k];
        if (strcmp(tag_of(src, "fleetcrypt:role"), RETIRED_ROLE) != 0) continue;
        const char *campaign = tag_of(src, "fleetcrypt:campaign"), *id = tag_of(src, "fleetcrypt:instance");
        if (!*campaign || !*id) continue;
        rec_view rv;
        read_record(c, campaign, id, &rv);
        if (!rv.exists) continue; /* another deployment's, or a forgotten campaign */
        seen++;
        log_ctx_set(campaign, id, "retired-watch", 0);
        restop(c, r, src, campaign, id, &rv);
        follow_secret(c, r, l, src, campaign, id, &rv);
        fc_wipe(&rv, sizeof rv); /* the external id */
        log_ctx_clear();
    }
    log_debug("retired-source check", "region=%s instances=%zu retired=%d", r->region, l->n, seen);
    rds_instance_list_free(l);
}

void retired_tick(coord *c)
{
    if (c->cfg.retired_check_s <= 0) return;
    int64_t now = fc_mono_ms();
    if (c->retired_next_ms && now < c->retired_next_ms) return;
    c->retired_next_ms = now + (int64_t)c->cfg.retired_check_s * 1000;
    /* every (region, account) any campaign used: retired sources outlive their campaigns */
    sargs ids;
    sargs_init(&ids);
    if (!store_campaigns(c->s, false, 0, &ids)) {
        sargs_free(&ids);
        return;
    }
    region_aws *done[COORD_MAX_REGIONS];
    int ndone = 0;
    static const char *const hf[] = {"region", "account"};
    for (int i = 0; i < ids.n && !*c->stop; i++) {
        store_kv h;
        region_aws *r = NULL;
        if (store_campaign_read(c->s, ids.v[i], hf, FC_ARRAY_LEN(hf), &h) && *kv_str(&h, "region"))
            r = coord_region(c, kv_str(&h, "region"), kv_str(&h, "account"));
        store_kv_free(&h);
        bool seen = false;
        for (int j = 0; j < ndone; j++) seen |= done[j] == r;
        if (!r || seen || ndone >= COORD_MAX_REGIONS) continue;
        done[ndone++] = r;
        check_region(c, r);
    }
    sargs_free(&ids);
}
