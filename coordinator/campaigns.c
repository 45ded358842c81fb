/* campaigns — one scan per cycle of every active campaign: the campaign
 * hash and each instance's state, step, epoch, deadline and remaining quota
 * cost; and marking a campaign done once every instance is terminal (its
 * instances then leave the active-instances index) — or `aborted` when the
 * operator aborted the whole campaign (campaign field abort_requested=1).
 * The instances are read in batches of SCAN_BATCH by lua/campaign_scan.lua
 * (one round trip per batch, not one per instance: fleets of thousands);
 * bench/bench_coord_scan.c measures it against the per-instance reads. */
#include "coord.h"
#include "log.h"
#include "store_model.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void campaigns_free(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) free(c->camps[i].inst);
    free(c->camps);
    c->camps = NULL;
    c->ncamps = 0;
}

static bool terminal(const char *st)
{
    return !strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "skipped") || !strcmp(st, "aborted");
}

#define SCAN_BATCH 512

/* Instances [from, from+n) of ids into cv with one campaign_scan.lua call
 * (record and lease key of each). False on a Redis error or a short reply. */
static bool scan_batch(coord *c, camp_view *cv, const sargs *ids, size_t from, size_t n, store_scan_row *rows)
{
    if (!store_campaign_scan(c->s, cv->id, (const char *const *)ids->v + from, n, rows)) return false;
    for (size_t i = 0; i < n; i++) {
        const store_scan_row *e = &rows[i];
        inst_view *iv = &cv->inst[cv->n];
        fc_strlcpy(iv->id, ids->v[from + i], sizeof iv->id);
        fc_strlcpy(iv->state, e->state, sizeof iv->state);
        fc_strlcpy(iv->step, e->step, sizeof iv->step);
        fc_strlcpy(iv->epoch, e->epoch, sizeof iv->epoch);
        iv->deadline_ms = e->deadline_ms;
        iv->q_inst = e->q_inst_set ? e->q_inst : 1;
        iv->q_snap = e->q_snap_set ? e->q_snap : 2;
        iv->q_clu = e->q_clu;
        iv->attempt = e->attempt;
        if (!strcmp(iv->state, "pending")) cv->pending++;
        else if (terminal(iv->state)) cv->terminal++;
        else {
            cv->inflight++;
            iv->lease_held = e->lease_held;
        }
        cv->n++;
    }
    return true;
}

static void scan_one(coord *c, camp_view *cv)
{
    static const char *const fields[] = {"state", "strategy", "region", "account", "max_parallel", "abort_requested"};
    store_kv h;
    if (!store_campaign_read(c->s, cv->id, fields, FC_ARRAY_LEN(fields), &h)) return;
    fc_strlcpy(cv->state, kv_str(&h, "state"), sizeof cv->state);
    fc_strlcpy(cv->strategy, kv_str(&h, "strategy"), sizeof cv->strategy);
    fc_strlcpy(cv->region, kv_str(&h, "region"), sizeof cv->region);
    fc_strlcpy(cv->account, kv_str(&h, "account"), sizeof cv->account);
    cv->max_parallel = atoi(kv_str(&h, "max_parallel"));
    if (cv->max_parallel <= 0) cv->max_parallel = 1;
    cv->abort_requested = !strcmp(kv_str(&h, "abort_requested"), "1");
    store_kv_free(&h);
    if (strcmp(cv->state, "running") && strcmp(cv->state, "paused")) return;
    sargs ids;
    sargs_init(&ids);
    if (!store_instances(c->s, cv->id, &ids)) {
        sargs_free(&ids);
        return;
    }
    size_t nids = (size_t)ids.n;
    cv->inst = calloc(nids ? nids : 1, sizeof *cv->inst);
    store_scan_row *rows = calloc(SCAN_BATCH, sizeof *rows);
    bool ok = cv->inst && rows;
    for (size_t from = 0; ok && from < nids; from += SCAN_BATCH) {
        size_t n = nids - from < SCAN_BATCH ? nids - from : SCAN_BATCH;
        ok = scan_batch(c, cv, &ids, from, n, rows);
    }
    if (!ok) {
        /* a partial view could look finished or under the limits: skip the
         * campaign this cycle (the next cycle scans it again) */
        if (cv->inst) log_warn("campaign scan incomplete; skipped this cycle", "campaign=%s", cv->id);
        free(cv->inst);
        cv->inst = NULL;
        cv->n = cv->pending = cv->inflight = cv->terminal = 0;
    }
    free(rows);
    sargs_free(&ids);
}

bool campaigns_scan(coord *c)
{
    campaigns_free(c);
    sargs ids;
    sargs_init(&ids);
    if (!store_campaigns(c->s, false, 0, &ids)) {
        sargs_free(&ids);
        return false;
    }
    c->camps = calloc(ids.n ? (size_t)ids.n : 1, sizeof *c->camps);
    if (!c->camps) {
        sargs_free(&ids);
        return false;
    }
    for (int i = 0; i < ids.n; i++) {
        camp_view *cv = &c->camps[c->ncamps++];
        fc_strlcpy(cv->id, ids.v[i], sizeof cv->id);
        scan_one(c, cv);
    }
    sargs_free(&ids);
    return true;
}

void campaigns_finish(coord *c)
{
    for (int i = 0; i < c->ncamps; i++) {
        camp_view *cv = &c->camps[i];
        if (strcmp(cv->state, "running") || cv->n == 0 || cv->pending || cv->inflight) continue;
        const char *end = cv->abort_requested ? "aborted" : "done";
        if (store_campaign_set_state(c->s, cv->id, "running", end) != 1) continue;
        fc_strlcpy(cv->state, end, sizeof cv->state);
        char **members = calloc((size_t)cv->n, sizeof *members);
        if (!members) continue;
        for (int k = 0; k < cv->n; k++) {
            size_t len = strlen(cv->region) + strlen(cv->inst[k].id) + 2;
            members[k] = malloc(len);
            if (members[k]) snprintf(members[k], len, "%s/%s", cv->region, cv->inst[k].id);
        }
        store_active_release(c->s, cv->id, (const char *const *)members, cv->n);
        for (int k = 0; k < cv->n; k++) free(members[k]);
        free(members);
        log_ctx_set(cv->id, NULL, NULL, 0);
        log_info("campaign finished", "state=%s instances=%d", end, cv->n);
        log_ctx_clear();
    }
}
