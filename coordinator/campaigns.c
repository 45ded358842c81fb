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
static bool scan_batch(coord *c, camp_view *cv, const redisReply *ids, size_t from, size_t n, const char **keys,
                       char (*kbuf)[STORE_KEY_MAX])
{
    for (size_t i = 0; i < n; i++) {
        const char *id = ids->element[from + i]->str;
        store_rec_key(c->s, cv->id, id, kbuf[2 * i], STORE_KEY_MAX);
        store_lease_key(c->s, cv->id, id, kbuf[2 * i + 1], STORE_KEY_MAX);
        keys[2 * i] = kbuf[2 * i];
        keys[2 * i + 1] = kbuf[2 * i + 1];
    }
    redisReply *r = store_script(c->s, "campaign_scan", (int)(2 * n), keys, 0, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        if (r) freeReplyObject(r);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 8) {
            freeReplyObject(r);
            return false;
        }
        inst_view *iv = &cv->inst[cv->n];
        fc_strlcpy(iv->id, ids->element[from + i]->str, sizeof iv->id);
        fc_strlcpy(iv->state, reply_str(e, 0), sizeof iv->state);
        fc_strlcpy(iv->step, reply_str(e, 1), sizeof iv->step);
        fc_strlcpy(iv->epoch, reply_str(e, 2), sizeof iv->epoch);
        iv->deadline_ms = strtoll(reply_str(e, 3), NULL, 10);
        iv->q_inst = *reply_str(e, 4) ? atoi(reply_str(e, 4)) : 1;
        iv->q_snap = *reply_str(e, 5) ? atoi(reply_str(e, 5)) : 2;
        iv->attempt = atoi(reply_str(e, 6));
        if (!strcmp(iv->state, "pending")) cv->pending++;
        else if (terminal(iv->state)) cv->terminal++;
        else {
            cv->inflight++;
            iv->lease_held = e->element[7]->type == REDIS_REPLY_INTEGER && e->element[7]->integer == 1;
        }
        cv->n++;
    }
    freeReplyObject(r);
    return true;
}

static void scan_one(coord *c, camp_view *cv)
{
    ckeys k;
    store_ckeys(c->s, cv->id, &k);
    redisReply *h = store_cmd(c->s, "HMGET %s state strategy region account max_parallel abort_requested", k.campaign);
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        if (h) freeReplyObject(h);
        return;
    }
    fc_strlcpy(cv->state, reply_str(h, 0), sizeof cv->state);
    fc_strlcpy(cv->strategy, reply_str(h, 1), sizeof cv->strategy);
    fc_strlcpy(cv->region, reply_str(h, 2), sizeof cv->region);
    fc_strlcpy(cv->account, reply_str(h, 3), sizeof cv->account);
    cv->max_parallel = atoi(reply_str(h, 4));
    if (cv->max_parallel <= 0) cv->max_parallel = 1;
    cv->abort_requested = !strcmp(reply_str(h, 5), "1");
    freeReplyObject(h);
    if (strcmp(cv->state, "running") && strcmp(cv->state, "paused")) return;
    redisReply *ids = store_cmd(c->s, "ZRANGE %s 0 -1", k.instances);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids) freeReplyObject(ids);
        return;
    }
    cv->inst = calloc(ids->elements ? ids->elements : 1, sizeof *cv->inst);
    const char **keys = calloc(2 * SCAN_BATCH, sizeof *keys);
    char (*kbuf)[STORE_KEY_MAX] = calloc(2 * SCAN_BATCH, sizeof *kbuf);
    bool ok = cv->inst && keys && kbuf;
    for (size_t from = 0; ok && from < ids->elements; from += SCAN_BATCH) {
        size_t n = ids->elements - from < SCAN_BATCH ? ids->elements - from : SCAN_BATCH;
        ok = scan_batch(c, cv, ids, from, n, keys, kbuf);
    }
    if (!ok) {
        /* a partial view could look finished or under the limits: skip the
         * campaign this cycle (the next cycle scans it again) */
        if (cv->inst) log_warn("campaign scan incomplete; skipped this cycle", "campaign=%s", cv->id);
        free(cv->inst);
        cv->inst = NULL;
        cv->n = cv->pending = cv->inflight = cv->terminal = 0;
    }
    free(keys);
    free(kbuf);
    freeReplyObject(ids);
}

bool campaigns_scan(coord *c)
{
    campaigns_free(c);
    char ck[STORE_KEY_MAX];
    store_key(c->s, ck, sizeof ck, "campaigns");
    redisReply *r = store_cmd(c->s, "ZRANGE %s 0 -1", ck);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return false;
    }
    c->camps = calloc(r->elements ? r->elements : 1, sizeof *c->camps);
    if (!c->camps) {
        freeReplyObject(r);
        return false;
    }
    for (size_t i = 0; i < r->elements; i++) {
        camp_view *cv = &c->camps[c->ncamps++];
        fc_strlcpy(cv->id, r->element[i]->str, sizeof cv->id);
        scan_one(c, cv);
    }
    freeReplyObject(r);
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
