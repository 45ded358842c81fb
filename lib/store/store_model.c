/* store_model — see store_model.h. Thin C wrappers: build the keys and
 * arguments, run the script, map its answer to an enum. The logic and the
 * invariants live in the scripts (lua/<name>.lua). */
#include "store_model.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_ckeys(const store *s, const char *c, ckeys *k)
{
    store_key(s, k->campaign, sizeof k->campaign, "{%s}:campaign", c);
    store_key(s, k->instances, sizeof k->instances, "{%s}:instances", c);
    store_key(s, k->counts, sizeof k->counts, "{%s}:counts", c);
    store_key(s, k->events, sizeof k->events, "{%s}:events", c);
    store_key(s, k->timers, sizeof k->timers, "{%s}:timers", c);
    store_key(s, k->tput, sizeof k->tput, "{%s}:tput", c);
    store_key(s, k->seq, sizeof k->seq, "{%s}:seq", c);
}

void store_rec_key(const store *s, const char *c, const char *id, char *out, size_t cap)
{
    store_key(s, out, cap, "{%s}:i:%s", c, id);
}

void store_lease_key(const store *s, const char *c, const char *id, char *out, size_t cap)
{
    store_key(s, out, cap, "{%s}:lease:%s", c, id);
}

bool store_timer_parse(const char *member, timer_entry *out)
{
    char buf[STORE_TIMER_MAX];
    if (!fc_strlcpy(buf, member, sizeof buf)) return false;
    char *save = NULL;
    char *a = strtok_r(buf, "|", &save);
    char *b = strtok_r(NULL, "|", &save);
    char *c = strtok_r(NULL, "|", &save);
    char *d = strtok_r(NULL, "|", &save);
    if (!a || !b || !c || !d || strtok_r(NULL, "|", &save)) return false;
    char *end = NULL;
    unsigned long att = strtoul(c, &end, 10);
    if (*end || att == 0 || att > 1000000) return false;
    unsigned long long ep = strtoull(d, &end, 10);
    if (*end || ep == 0) return false;
    if (!fc_strlcpy(out->instance, a, sizeof out->instance) || !fc_strlcpy(out->step, b, sizeof out->step))
        return false;
    out->attempt = (uint32_t)att;
    out->epoch = ep;
    return true;
}

int store_campaign_create(store *s, const char *campaign, const char *const *fields, int nfields,
                          const char *const *ids, int nids, int64_t now_ms)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    sargs keys, args;
    sargs_init(&keys);
    sargs_init(&args);
    sargs_add(&keys, k.campaign);
    sargs_add(&keys, k.instances);
    sargs_add(&keys, k.counts);
    sargs_add(&keys, k.events);
    char rk[STORE_KEY_MAX];
    for (int i = 0; i < nids; i++) {
        store_rec_key(s, campaign, ids[i], rk, sizeof rk);
        sargs_add(&keys, rk);
    }
    sargs_addi(&args, now_ms);
    sargs_addi(&args, nfields);
    for (int i = 0; i < 2 * nfields; i++) sargs_add(&args, fields[i]);
    for (int i = 0; i < nids; i++) sargs_add(&args, ids[i]);
    redisReply *r = store_script(s, "campaign_create", keys.n, (const char *const *)keys.v, args.n,
                                 (const char *const *)args.v);
    int rc = -1;
    if (r) rc = reply_is_status(r, 0, "ok") ? 1 : reply_is_status(r, 0, "exists") ? 0 : -1;
    if (r) freeReplyObject(r);
    sargs_free(&keys);
    sargs_free(&args);
    if (rc == 1) {
        char ck[STORE_KEY_MAX];
        store_key(s, ck, sizeof ck, "campaigns");
        redisReply *z = store_cmd(s, "ZADD %s %lld %s", ck, (long long)now_ms, campaign);
        if (!z || z->type == REDIS_REPLY_ERROR) rc = -1;
        if (z) freeReplyObject(z);
    }
    return rc;
}

int store_active_claim(store *s, const char *campaign, const char *const *members, int n,
                       char *cm, size_t cm_cap, char *cc, size_t cc_cap)
{
    char ak[STORE_KEY_MAX];
    store_key(s, ak, sizeof ak, "active-instances");
    sargs args;
    sargs_init(&args);
    sargs_add(&args, campaign);
    for (int i = 0; i < n; i++) sargs_add(&args, members[i]);
    const char *keys[] = {ak};
    redisReply *r = store_script(s, "active_claim", 1, keys, args.n, (const char *const *)args.v);
    sargs_free(&args);
    int rc = -1;
    if (r && reply_is_status(r, 0, "ok")) rc = 1;
    else if (r && reply_is_status(r, 0, "conflict")) {
        rc = 0;
        fc_strlcpy(cm, reply_str(r, 1), cm_cap);
        fc_strlcpy(cc, reply_str(r, 2), cc_cap);
    }
    if (r) freeReplyObject(r);
    return rc;
}

int store_active_release(store *s, const char *campaign, const char *const *members, int n)
{
    char ak[STORE_KEY_MAX];
    store_key(s, ak, sizeof ak, "active-instances");
    sargs args;
    sargs_init(&args);
    sargs_add(&args, campaign);
    for (int i = 0; i < n; i++) sargs_add(&args, members[i]);
    const char *keys[] = {ak};
    redisReply *r = store_script(s, "active_release", 1, keys, args.n, (const char *const *)args.v);
    sargs_free(&args);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return rc;
}

bool store_step_begin(store *s, const step_msg_ref *m, const char *token, int64_t ttl_ms,
                      const char *node, step_begin_out *out)
{
    memset(out, 0, sizeof *out);
    ckeys k;
    store_ckeys(s, m->campaign, &k);
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    store_rec_key(s, m->campaign, m->instance, rk, sizeof rk);
    store_lease_key(s, m->campaign, m->instance, lk, sizeof lk);
    char ttl[24], att[16], ep[24], now[24], quiet[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    int64_t seen = store_restart_seen_ms(s);
    snprintf(quiet, sizeof quiet, "%lld", seen > 0 ? (long long)(seen + ttl_ms + STORE_RESTART_MARGIN_MS) : 0LL);
    snprintf(att, sizeof att, "%u", m->attempt);
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)m->epoch);
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    const char *keys[] = {rk, lk, k.campaign, k.seq};
    const char *args[] = {token, ttl, m->step, att, ep, store_floor(s), now, node, quiet};
    redisReply *r = store_script(s, "step_begin", 4, keys, 9, args);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        out->st = SB_ERROR;
        snprintf(out->why, sizeof out->why, "redis unavailable");
        if (r) freeReplyObject(r);
        return false;
    }
    const char *st = reply_str(r, 0);
    if (!strcmp(st, "ok") && r->elements >= 4) {
        out->st = SB_OK;
        fc_strlcpy(out->fence, reply_str(r, 1), sizeof out->fence);
        out->rec.r = r->element[2];
        out->campaign.r = r->element[3];
        out->reply = r;
        return true;
    }
    if (!strcmp(st, "gone")) out->st = SB_GONE;
    else if (!strcmp(st, "stale")) out->st = SB_STALE;
    else if (!strcmp(st, "paused")) out->st = SB_PAUSED;
    else if (!strcmp(st, "busy")) {
        out->st = SB_BUSY;
        out->busy_pttl_ms = strtoll(reply_str(r, 1), NULL, 10);
    } else out->st = SB_ERROR;
    fc_strlcpy(out->why, r->elements > 2 ? reply_str(r, 2) : r->elements > 1 ? reply_str(r, 1) : st, sizeof out->why);
    freeReplyObject(r);
    return false;
}

void store_step_begin_done(step_begin_out *out)
{
    if (out->reply) freeReplyObject(out->reply);
    out->reply = NULL;
    out->rec.r = out->campaign.r = NULL;
}

int store_lease_renew(store *s, const char *campaign, const char *instance, const char *token,
                      int64_t ttl_ms)
{
    char lk[STORE_KEY_MAX], ttl[24];
    store_lease_key(s, campaign, instance, lk, sizeof lk);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *keys[] = {lk};
    const char *args[] = {token, ttl};
    redisReply *r = store_script(s, "lease_renew", 1, keys, 2, args);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return rc;
}

se_status store_step_end(store *s, const step_end_in *in, char *epoch, size_t ecap, char *member,
                         size_t mcap, char *why, size_t wcap)
{
    const step_msg_ref *m = in->msg;
    ckeys k;
    store_ckeys(s, m->campaign, &k);
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    store_rec_key(s, m->campaign, m->instance, rk, sizeof rk);
    store_lease_key(s, m->campaign, m->instance, lk, sizeof lk);
    sargs a;
    sargs_init(&a);
    sargs_add(&a, in->token);
    sargs_add(&a, in->fence);
    sargs_addf(&a, "%llu", (unsigned long long)m->epoch);
    sargs_add(&a, m->step);
    sargs_add(&a, in->outcome);
    sargs_add(&a, in->new_step);
    sargs_add(&a, in->new_state);
    sargs_addf(&a, "%u", in->new_attempt);
    if (in->due_ms >= 0) sargs_addi(&a, in->due_ms);
    else sargs_add(&a, "");
    sargs_add(&a, in->error ? in->error : "");
    sargs_addi(&a, fc_now_ms());
    sargs_add(&a, store_floor(s));
    sargs_addi(&a, in->deadline_ms);
    sargs_add(&a, in->node);
    sargs_addi(&a, in->duration_ms);
    sargs_add(&a, in->strategy);
    int nf = in->fields ? in->fields->n / 2 : 0;
    sargs_addi(&a, nf);
    for (int i = 0; i < nf * 2; i++) sargs_add(&a, in->fields->v[i]);
    const char *keys[] = {rk, lk, k.seq, k.counts, k.events, k.timers, k.tput};
    redisReply *r = store_script(s, "step_end", 7, keys, a.n, (const char *const *)a.v);
    sargs_free(&a);
    se_status st = SE_ERROR;
    if (r && reply_is_status(r, 0, "ok")) {
        st = SE_OK;
        fc_strlcpy(epoch, reply_str(r, 1), ecap);
        fc_strlcpy(member, reply_str(r, 2), mcap);
    } else if (r && reply_is_status(r, 0, "fenced")) {
        st = SE_FENCED;
        fc_strlcpy(why, reply_str(r, 1), wcap);
    } else {
        fc_strlcpy(why, "redis unavailable", wcap);
    }
    if (r) freeReplyObject(r);
    return st;
}

bool store_timer_done(store *s, const char *campaign, const char *member)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "ZREM %s %s", k.timers, member);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r) freeReplyObject(r);
    return ok;
}

ad_status store_admit(store *s, const char *campaign, const char *instance, const char *first_step,
                      int64_t deadline_ms, int max_parallel, const char *node, const sargs *fields,
                      char *member, size_t mcap)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX];
    store_rec_key(s, campaign, instance, rk, sizeof rk);
    sargs a;
    sargs_init(&a);
    sargs_addi(&a, fc_now_ms());
    sargs_add(&a, store_floor(s));
    sargs_add(&a, first_step);
    sargs_addi(&a, deadline_ms);
    sargs_addi(&a, max_parallel);
    sargs_add(&a, node);
    int nf = fields ? fields->n / 2 : 0;
    sargs_addi(&a, nf);
    for (int i = 0; i < nf * 2; i++) sargs_add(&a, fields->v[i]);
    const char *keys[] = {rk, k.counts, k.timers, k.events, k.seq, k.campaign};
    redisReply *r = store_script(s, "admit", 6, keys, a.n, (const char *const *)a.v);
    sargs_free(&a);
    ad_status st = AD_ERROR;
    if (r && reply_is_status(r, 0, "ok")) {
        st = AD_OK;
        fc_strlcpy(member, reply_str(r, 2), mcap);
    } else if (r && reply_is_status(r, 0, "full")) st = AD_FULL;
    else if (r && reply_is_status(r, 0, "skip")) st = AD_SKIP;
    if (r) freeReplyObject(r);
    return st;
}

int store_redrive(store *s, const char *campaign, const char *instance, const char *expected_epoch,
                  const char *reason, int64_t deadline_ms, const char *node, bool stuck)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX], now[24], dl[24];
    store_rec_key(s, campaign, instance, rk, sizeof rk);
    store_lease_key(s, campaign, instance, lk, sizeof lk);
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    snprintf(dl, sizeof dl, "%lld", (long long)deadline_ms);
    const char *keys[] = {rk, lk, k.seq, k.timers, k.events};
    const char *args[] = {now, store_floor(s), expected_epoch, reason, dl, node, stuck ? "1" : "0"};
    redisReply *r = store_script(s, "redrive", 5, keys, 7, args);
    int rc = -1;
    if (r) rc = reply_is_status(r, 0, "ok") ? 1 : 0;
    if (r) freeReplyObject(r);
    return rc;
}

tt_status store_timer_take(store *s, const char *campaign, const char *member, const timer_entry *t,
                           int64_t postpone_ms, char *strategy, size_t scap)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX], att[16], ep[24], now[24], pp[24];
    store_rec_key(s, campaign, t->instance, rk, sizeof rk);
    snprintf(att, sizeof att, "%u", t->attempt);
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)t->epoch);
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    snprintf(pp, sizeof pp, "%lld", (long long)postpone_ms);
    const char *keys[] = {rk, k.timers, k.campaign};
    const char *args[] = {member, t->instance, t->step, att, ep, now, pp};
    redisReply *r = store_script(s, "timer_take", 3, keys, 7, args);
    tt_status st = TT_ERROR;
    if (r && reply_is_status(r, 0, "emit")) {
        st = TT_EMIT;
        fc_strlcpy(strategy, reply_str(r, 1), scap);
    } else if (r && reply_is_status(r, 0, "paused")) st = TT_PAUSED;
    else if (r && reply_is_status(r, 0, "stale")) st = TT_STALE;
    if (r) freeReplyObject(r);
    return st;
}

int store_campaign_set_state(store *s, const char *campaign, const char *from, const char *to)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)fc_now_ms());
    const char *keys[] = {k.campaign, k.events};
    const char *args[] = {from, to, now};
    redisReply *r = store_script(s, "campaign_set_state", 2, keys, 3, args);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return rc;
}
