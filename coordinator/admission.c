/* admission — admits pending instances, oldest campaign first, while every
 * limit has room: the campaign's max-parallel (re-checked atomically inside
 * lua/admit_many.lua), the per (account, region) in-flight limit summed over all
 * campaigns, and quota headroom: DB instances and manual snapshots from
 * DescribeAccountAttributes minus what in-flight instances may still create
 * (the strategy's descriptor says how many: quota_instances and
 * quota_snapshots, e.g. one DB instance and two manual snapshots, until
 * the steps set the facts q_inst/q_snap/q_clu from what the source really
 * needs: a DB cluster reserves one cluster and its members; retired
 * sources stay and are counted by AWS; a strategy with uses_aws false is
 * admitted without asking AWS). The instance records are read
 * BEFORE the quota call, so a resource created in between is counted twice
 * (safe), never zero times. */
#include "coord.h"
#include "log.h"
#include "rds.h"
#include "catalog.h"
#include "step.h"
#include "store_admit.h"
#include "store_model.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define QUOTA_TTL_MS 5000
/* Instances admitted per round trip (lua/admit_many.lua). */
#define ADMIT_BATCH 256

region_aws *coord_region(coord *c, const char *region, const char *account)
{
    for (int i = 0; i < c->nregions; i++)
        if (!strcmp(c->regions[i].region, region) && !strcmp(c->regions[i].account, account)) return &c->regions[i];
    if (c->nregions >= COORD_MAX_REGIONS) return NULL;
    region_aws *r = &c->regions[c->nregions];
    memset(r, 0, sizeof *r);
    aws_session_opts o;
    memset(&o, 0, sizeof o);
    o.client.region = region;
    o.s = c->s;
    o.rate = c->rate;
    o.account = account;
    aws_error e;
    r->sess = aws_session_new(&o, &e);
    if (!r->sess) {
        log_error("cannot create AWS client", "region=%s code=%s err=\"%s\"", region, e.code, e.message);
        return NULL;
    }
    r->c = aws_session_client(r->sess);
    fc_strlcpy(r->region, region, sizeof r->region);
    fc_strlcpy(r->account, account, sizeof r->account);
    r->inst_max = r->snap_max = r->clu_max = -1;
    c->nregions++;
    return r;
}

/* Take the quota the campaign's submit read (field quota_seen) instead of
 * asking again, when this region's own reading is missing or stale and nothing
 * is in flight in it: the CLI read it BEFORE this scan, so only an
 * in-flight instance could have created something in between (none here),
 * and it is no older than QUOTA_TTL_MS by the wall clock (one from the
 * future, another host's clock ahead, is not trusted). */
static bool quota_from_submit(region_aws *r, const char *seen, bool idle)
{
    rl_quota_seen q;
    if ((r->quota_ms && fc_mono_ms() - r->quota_ms < QUOTA_TTL_MS) || !idle ||
        !rl_quota_seen_parse(seen, fc_now_ms(), QUOTA_TTL_MS, &q))
        return false;
    r->inst_max = q.inst_max;
    r->inst_used = q.inst_used;
    r->snap_max = q.snap_max;
    r->snap_used = q.snap_used;
    r->clu_max = q.clu_max;
    r->clu_used = q.clu_used;
    /* aged as it is: the next refresh comes when the CLI's reading is QUOTA_TTL_MS old */
    r->quota_ms = fc_mono_ms() - (fc_now_ms() - q.at_ms);
    if (r->quota_ms <= 0) r->quota_ms = 1;
    r->res_inst = r->res_snap = r->res_clu = 0;
    r->admitted_since = 0;
    log_debug("quota taken from the campaign's submit", "region=%s age_ms=%lld", r->region,
              (long long)(fc_now_ms() - q.at_ms));
    return true;
}

/* Refresh the quota snapshot. The reservations of in-flight instances are
 * taken together with it (from the scan that ran just BEFORE the call), so
 * used + reserved never misses a resource created in between; instances
 * admitted later add their full cost until the next refresh. */
static bool refresh_quota(region_aws *r, int res_inst, int res_snap, int res_clu)
{
    if (r->quota_ms && fc_mono_ms() - r->quota_ms < QUOTA_TTL_MS) return true;
    rds_quota_list *q = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_account_attributes(r->c, &q, &e)) {
        log_warn("DescribeAccountAttributes failed: not admitting this cycle", "region=%s code=%s", r->region,
                 e.code);
        return false;
    }
    const rds_quota *i = rds_quota_find(q, "DBInstances"), *s = rds_quota_find(q, "ManualSnapshots");
    r->inst_max = i ? (int)i->max : -1;
    r->inst_used = i ? (int)i->used : 0;
    r->snap_max = s ? (int)s->max : -1;
    r->snap_used = s ? (int)s->used : 0;
    const rds_quota *cq = rds_quota_find(q, "DBClusters");
    r->clu_max = cq ? (int)cq->max : -1;
    r->clu_used = cq ? (int)cq->used : 0;
    rds_quota_list_free(q);
    r->quota_ms = fc_mono_ms();
    r->res_inst = res_inst;
    r->res_snap = res_snap;
    r->res_clu = res_clu;
    r->admitted_since = 0;
    return true;
}

int admit(coord *c)
{
    int total = 0;
    for (int i = 0; i < c->ncamps; i++) {
        camp_view *cv = &c->camps[i];
        if (strcmp(cv->state, "running") || cv->abort_requested || cv->pending == 0 || cv->inflight >= cv->max_parallel) continue;
        const strategy_def *si = strategy_find(cv->strategy);
        if (!si) {
            log_ctx_set(cv->id, NULL, NULL, 0);
            log_error("campaign strategy not in this build: nothing admitted", "strategy=%s", cv->strategy);
            log_ctx_clear();
            continue;
        }
        /* every campaign's in-flight in this account/region, and what they may still create */
        admit_input in = {.max_parallel = cv->max_parallel, .inflight = cv->inflight,
                          .region_limit = c->region_limit, .inst_cost = si->quota_instances,
                          .snap_cost = si->quota_snapshots};
        for (int j = 0; j < c->ncamps; j++) {
            const camp_view *o = &c->camps[j];
            if (strcmp(o->region, cv->region) || strcmp(o->account, cv->account)) continue;
            in.region_inflight += o->inflight;
            for (int k = 0; k < o->n; k++) {
                const inst_view *iv = &o->inst[k];
                if (!strcmp(iv->state, "running") || !strcmp(iv->state, "waiting_approval")) {
                    in.inst_reserved += iv->q_inst > 0 ? iv->q_inst : 0;
                    in.snap_reserved += iv->q_snap > 0 ? iv->q_snap : 0;
                    in.clu_reserved += iv->q_clu > 0 ? iv->q_clu : 0;
                }
            }
        }
        /* a strategy that creates nothing in AWS (noop) asks AWS nothing */
        region_aws *r = NULL;
        if (si->uses_aws) {
            r = coord_region(c, cv->region, cv->account);
            bool idle = !in.region_inflight && !in.inst_reserved && !in.snap_reserved && !in.clu_reserved;
            if (!r || (!quota_from_submit(r, cv->quota_seen, idle) &&
                       !refresh_quota(r, in.inst_reserved, in.snap_reserved, in.clu_reserved)))
                continue;
            in.inst_reserved = r->res_inst + r->admitted_since * in.inst_cost;
            in.snap_reserved = r->res_snap + r->admitted_since * in.snap_cost;
            in.inst_max = r->inst_max;
            in.inst_used = r->inst_used;
            in.snap_max = r->snap_max;
            in.snap_used = r->snap_used;
            in.clu_max = r->clu_max;
            in.clu_used = r->clu_used;
            in.clu_reserved = r->res_clu;
        } else {
            in.inst_max = in.snap_max = in.clu_max = -1;
        }
        const char *why = NULL;
        int room = rl_admit_headroom(&in, &why);
        if (room <= 0) {
            log_ctx_set(cv->id, NULL, NULL, 0);
            log_debug("admission held", "limit=\"%s\" inflight=%d", why, cv->inflight);
            log_ctx_clear();
            continue;
        }
        int admitted = 0;
        sargs f;
        sargs_init(&f);
        sargs_add(&f, "f.q_inst");
        sargs_addi(&f, si->quota_instances);
        sargs_add(&f, "f.q_snap");
        sargs_addi(&f, si->quota_snapshots);
        const step_def *first = &si->steps[0];
        int64_t dl = fc_now_ms() + (int64_t)(first->deadline_s < c->deadline_s ? first->deadline_s : c->deadline_s) * 1000;
        /* pending instances in submission order, ADMIT_BATCH per round trip
         * (lua/admit_many.lua re-checks max-parallel before each) */
        const char *ids[ADMIT_BATCH];
        int idx[ADMIT_BATCH];
        static char members[ADMIT_BATCH][STORE_TIMER_MAX];
        ad_status st[ADMIT_BATCH];
        bool stop = false;
        for (int k = 0; k < cv->n && admitted < room && !stop;) {
            int n = 0;
            for (; k < cv->n && n < ADMIT_BATCH && admitted + n < room; k++)
                if (!strcmp(cv->inst[k].state, "pending")) {
                    idx[n] = k;
                    ids[n++] = cv->inst[k].id;
                }
            if (n == 0) break;
            if (!store_admit_many(c->s, cv->id, ids, (size_t)n, first->name, dl, cv->max_parallel, c->cfg.node_id,
                                  &f, st, members))
                break;
            for (int j = 0; j < n; j++) {
                if (st[j] == AD_FULL || st[j] == AD_ERROR) {
                    stop = true;
                    break;
                }
                if (st[j] != AD_OK) continue;
                inst_view *iv = &cv->inst[idx[j]];
                admitted++;
                total++;
                if (r) r->admitted_since++;
                fc_strlcpy(iv->state, "running", sizeof iv->state);
                iv->q_inst = si->quota_instances;
                iv->q_snap = si->quota_snapshots;
                cv->pending--;
                cv->inflight++;
                /* admitted at the strategy's first step, attempt 1 */
                log_ctx_set(cv->id, iv->id, first->name, 1);
                log_info("instance admitted", "limit=\"%s\" room=%d", why, room);
                log_ctx_clear();
            }
        }
        sargs_free(&f);
    }
    return total;
}
