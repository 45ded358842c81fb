/* store_model — see store_model.h. Thin C wrappers: build the keys and
 * arguments, run the script, map its answer to an enum. The logic and the
 * invariants live in the scripts (lua/<name>.lua). */
#include "store_int.h"
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

/* Run active_claim.lua / active_release.lua: KEYS P:active-instances,
 * ARGV campaign then the members. */
static redisReply *active_script(store *s, const char *name, const char *campaign, const char *const *members,
                                 int n)
{
    char ak[STORE_KEY_MAX];
    store_key(s, ak, sizeof ak, "active-instances");
    sargs args;
    sargs_init(&args);
    sargs_add(&args, campaign);
    for (int i = 0; i < n; i++) sargs_add(&args, members[i]);
    const char *keys[] = {ak};
    redisReply *r = store_script(s, name, 1, keys, args.n, (const char *const *)args.v);
    sargs_free(&args);
    return r;
}

int store_active_claim(store *s, const char *campaign, const char *const *members, int n,
                       char *cm, size_t cm_cap, char *cc, size_t cc_cap)
{
    redisReply *r = active_script(s, "active_claim", campaign, members, n);
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
    redisReply *r = active_script(s, "active_release", campaign, members, n);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return rc;
}

/* step_begin's keys and arguments, from what this connection knows of the
 * server (its restart time, its epoch floor): built after store_ready. */
typedef struct begin_call {
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    ckeys k;
    char ttl[24], att[16], ep[24], now[24], quiet[24];
    const char *keys[4];
    const char *args[9];
} begin_call;

static void begin_call_build(store *s, const step_msg_ref *m, const char *token, int64_t ttl_ms, const char *node,
                             begin_call *c)
{
    store_ckeys(s, m->campaign, &c->k);
    store_rec_key(s, m->campaign, m->instance, c->rk, sizeof c->rk);
    store_lease_key(s, m->campaign, m->instance, c->lk, sizeof c->lk);
    snprintf(c->ttl, sizeof c->ttl, "%lld", (long long)ttl_ms);
    int64_t seen = store_restart_seen_ms(s);
    snprintf(c->quiet, sizeof c->quiet, "%lld", seen > 0 ? (long long)(seen + ttl_ms + STORE_RESTART_MARGIN_MS) : 0LL);
    snprintf(c->att, sizeof c->att, "%u", m->attempt);
    snprintf(c->ep, sizeof c->ep, "%llu", (unsigned long long)m->epoch);
    snprintf(c->now, sizeof c->now, "%lld", (long long)fc_now_ms());
    const char *keys[] = {c->rk, c->lk, c->k.campaign, c->k.seq};
    const char *args[] = {token, c->ttl, m->step, c->att, c->ep, store_floor(s), c->now, node, c->quiet};
    memcpy(c->keys, keys, sizeof keys);
    memcpy(c->args, args, sizeof args);
}

/* step_begin's reply (NULL: Redis unavailable) into *out; frees it. */
static bool begin_reply(redisReply *r, step_begin_out *out)
{
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
        store_kv_from_pairs(r->element[2], &out->rec);
        store_kv_from_pairs(r->element[3], &out->campaign);
        freeReplyObject(r);
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

bool store_step_begin(store *s, const step_msg_ref *m, const char *token, int64_t ttl_ms,
                      const char *node, step_begin_out *out)
{
    memset(out, 0, sizeof *out);
    /* Connect first, then build the arguments from what this connection
     * knows of the server, and send them on that connection only: a begin
     * never reaches a restarted server with a quiet deadline or an epoch
     * floor computed before the restart was seen (the caller retries). */
    if (!store_ready(s)) {
        out->st = SB_ERROR;
        snprintf(out->why, sizeof out->why, "redis unavailable");
        return false;
    }
    begin_call c;
    begin_call_build(s, m, token, ttl_ms, node, &c);
    return begin_reply(store_script_here(s, "step_begin", 4, c.keys, 9, c.args), out);
}

void store_step_begin_done(step_begin_out *out)
{
    store_kv_free(&out->rec);
    store_kv_free(&out->campaign);
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

int store_fact_put(store *s, const step_msg_ref *m, const char *token, const char *fence, const char *name,
                   const char *value)
{
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX], ep[24], f[128];
    store_rec_key(s, m->campaign, m->instance, rk, sizeof rk);
    store_lease_key(s, m->campaign, m->instance, lk, sizeof lk);
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)m->epoch);
    snprintf(f, sizeof f, "f.%s", name);
    const char *keys[] = {rk, lk};
    const char *args[] = {token, fence, ep, m->step, f, value ? value : ""};
    redisReply *r = store_script(s, "fact_put", 2, keys, 6, args);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return rc;
}

/* step_end's arguments (keys into keys[7], which point into k, rk, lk). */
typedef struct end_call {
    ckeys k;
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    const char *keys[7];
    sargs a;
} end_call;

static void end_call_build(store *s, const step_end_in *in, end_call *c)
{
    const step_msg_ref *m = in->msg;
    store_ckeys(s, m->campaign, &c->k);
    store_rec_key(s, m->campaign, m->instance, c->rk, sizeof c->rk);
    store_lease_key(s, m->campaign, m->instance, c->lk, sizeof c->lk);
    sargs *a = &c->a;
    sargs_init(a);
    sargs_add(a, in->token);
    sargs_add(a, in->fence);
    sargs_addf(a, "%llu", (unsigned long long)m->epoch);
    sargs_add(a, m->step);
    sargs_add(a, in->outcome);
    sargs_add(a, in->new_step);
    sargs_add(a, in->new_state);
    sargs_addf(a, "%u", in->new_attempt);
    if (in->due_ms >= 0) sargs_addi(a, in->due_ms);
    else sargs_add(a, "");
    sargs_add(a, in->error ? in->error : "");
    sargs_addi(a, fc_now_ms());
    sargs_add(a, store_floor(s));
    sargs_addi(a, in->deadline_ms);
    sargs_add(a, in->node);
    sargs_addi(a, in->duration_ms);
    sargs_add(a, in->strategy);
    int nf = in->fields ? in->fields->n / 2 : 0;
    sargs_addi(a, nf);
    for (int i = 0; i < nf * 2; i++) sargs_add(a, in->fields->v[i]);
    const char *keys[] = {c->rk, c->lk, c->k.seq, c->k.counts, c->k.events, c->k.timers, c->k.tput};
    memcpy(c->keys, keys, sizeof keys);
}

/* step_end's reply (NULL: Redis unavailable or the script failed); frees it. */
static se_status end_reply(redisReply *r, char *epoch, size_t ecap, char *member, size_t mcap, char *why,
                           size_t wcap)
{
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

se_status store_step_end(store *s, const step_end_in *in, char *epoch, size_t ecap, char *member,
                         size_t mcap, char *why, size_t wcap)
{
    end_call c;
    end_call_build(s, in, &c);
    redisReply *r = store_script(s, "step_end", 7, c.keys, c.a.n, (const char *const *)c.a.v);
    sargs_free(&c.a);
    return end_reply(r, epoch, ecap, member, mcap, why, wcap);
}

se_status store_step_end_begin(store *s, const step_end_in *in, char *epoch, size_t ecap, char *member,
                               size_t mcap, char *why, size_t wcap, const step_msg_ref *next, const char *token,
                               int64_t ttl_ms, const char *node, step_begin_out *out, bool *begun)
{
    memset(out, 0, sizeof *out);
    *begun = false;
    /* the begin's arguments from what this connection knows of the server,
     * sent on it only (store_scripts_here never reconnects), as
     * store_step_begin does */
    end_call e;
    end_call_build(s, in, &e);
    begin_call b;
    begin_call_build(s, next, token, ttl_ms, node, &b);
    store_call calls[2] = {{"step_end", 7, e.keys, e.a.n, (const char *const *)e.a.v},
                           {"step_begin", 4, b.keys, 9, b.args}};
    redisReply *r[2];
    bool ran[2];
    store_scripts_here(s, calls, 2, r, ran);
    se_status st;
    if (ran[0]) st = end_reply(r[0], epoch, ecap, member, mcap, why, wcap);
    else {
        /* not run (the connection broke, or the script was not loaded):
         * as store_step_end's own retry on a new connection would */
        if (r[0]) freeReplyObject(r[0]);
        redisReply *r0 = store_script(s, "step_end", 7, e.keys, e.a.n, (const char *const *)e.a.v);
        st = end_reply(r0, epoch, ecap, member, mcap, why, wcap);
    }
    sargs_free(&e.a);
    if (r[1]) {
        *begun = true;
        begin_reply(r[1], out);
    }
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

/* ------------------------------------------------------------ coordinator */
int store_leader_lease(store *s, const char *token, int64_t ttl_ms)
{
    char key[STORE_KEY_MAX], ttl[24];
    store_key(s, key, sizeof key, "coordinator:leader");
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *keys[] = {key};
    const char *args[] = {token, ttl};
    redisReply *r = store_script(s, "leader", 1, keys, 2, args);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r) freeReplyObject(r);
        return -1;
    }
    long long v = r->integer;
    freeReplyObject(r);
    return v == 2 ? 2 : v > 0 ? 1 : 0;
}

void store_leader_release(store *s, const char *token)
{
    char key[STORE_KEY_MAX];
    store_key(s, key, sizeof key, "coordinator:leader");
    const char *keys[] = {key};
    const char *args[] = {token, "1"};
    redisReply *r = store_script(s, "lease_renew", 1, keys, 2, args);
    if (r) freeReplyObject(r);
}

bool store_campaign_scan(store *s, const char *campaign, const char *const *ids, size_t n, int64_t lease_past_ms,
                         store_scan_row *out)
{
    const char **keys = calloc(2 * n + 1, sizeof *keys);
    char (*kbuf)[STORE_KEY_MAX] = calloc(2 * n + 1, sizeof *kbuf);
    if (!keys || !kbuf) {
        free(keys);
        free(kbuf);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        store_rec_key(s, campaign, ids[i], kbuf[2 * i], STORE_KEY_MAX);
        store_lease_key(s, campaign, ids[i], kbuf[2 * i + 1], STORE_KEY_MAX);
        keys[2 * i] = kbuf[2 * i];
        keys[2 * i + 1] = kbuf[2 * i + 1];
    }
    char past[24];
    snprintf(past, sizeof past, "%lld", (long long)(lease_past_ms > 0 ? lease_past_ms : 0));
    const char *args[] = {past};
    redisReply *r = store_script(s, "campaign_scan", (int)(2 * n), keys, 1, args);
    free(keys);
    free(kbuf);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        if (r) freeReplyObject(r);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 9) {
            freeReplyObject(r);
            return false;
        }
        store_scan_row *o = &out[i];
        memset(o, 0, sizeof *o);
        fc_strlcpy(o->state, reply_str(e, 0), sizeof o->state);
        fc_strlcpy(o->step, reply_str(e, 1), sizeof o->step);
        fc_strlcpy(o->epoch, reply_str(e, 2), sizeof o->epoch);
        o->deadline_ms = strtoll(reply_str(e, 3), NULL, 10);
        o->q_inst_set = *reply_str(e, 4);
        o->q_inst = atoi(reply_str(e, 4));
        o->q_snap_set = *reply_str(e, 5);
        o->q_snap = atoi(reply_str(e, 5));
        o->attempt = atoi(reply_str(e, 6));
        o->q_clu = atoi(reply_str(e, 8));
        o->lease_held = e->element[7]->type == REDIS_REPLY_INTEGER && e->element[7]->integer == 1;
    }
    freeReplyObject(r);
    return true;
}

/* ------------------------------------------------------------------ reads */
/* HMGET key fields (or HGETALL when fields is NULL) into out. */
static bool read_hash(store *s, const char *key, const char *const *fields, size_t n, store_kv *out)
{
    memset(out, 0, sizeof *out);
    redisReply *r;
    if (!fields) {
        r = store_cmd(s, "HGETALL %s", key);
    } else {
        if (n == 0) return true;
        const char **argv = calloc(n + 2, sizeof *argv);
        if (!argv) return false;
        argv[0] = "HMGET";
        argv[1] = key;
        for (size_t i = 0; i < n; i++) argv[2 + i] = fields[i];
        r = store_cmdargv(s, (int)(n + 2), argv, NULL);
        free(argv);
    }
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return false;
    }
    if (fields) store_kv_from_hmget(r, fields, n, out);
    else store_kv_from_pairs(r, out);
    freeReplyObject(r);
    return true;
}

bool store_campaigns(store *s, bool newest_first, int limit, sargs *out)
{
    char ck[STORE_KEY_MAX];
    store_key(s, ck, sizeof ck, "campaigns");
    redisReply *r = store_cmd(s, "%s %s 0 %d", newest_first ? "ZREVRANGE" : "ZRANGE", ck, limit > 0 ? limit - 1 : -1);
    bool ok = store_strs_from_reply(r, out);
    if (r) freeReplyObject(r);
    return ok;
}

long store_campaigns_count(store *s)
{
    char ck[STORE_KEY_MAX];
    store_key(s, ck, sizeof ck, "campaigns");
    redisReply *r = store_cmd(s, "ZCARD %s", ck);
    long n = r && r->type == REDIS_REPLY_INTEGER ? (long)r->integer : -1;
    if (r) freeReplyObject(r);
    return n;
}

int store_campaign_exists(store *s, const char *campaign)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "EXISTS %s", k.campaign);
    if (!r) return -1;
    int rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

bool store_campaign_read(store *s, const char *campaign, const char *const *fields, size_t n, store_kv *out)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    return read_hash(s, k.campaign, fields, n, out);
}

bool store_record_read(store *s, const char *campaign, const char *id, const char *const *fields, size_t n,
                       store_kv *out)
{
    char rk[STORE_KEY_MAX];
    store_rec_key(s, campaign, id, rk, sizeof rk);
    return read_hash(s, rk, fields, n, out);
}

bool store_counts_read(store *s, const char *campaign, const char *const *fields, size_t n, store_kv *out)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    return read_hash(s, k.counts, fields, n, out);
}

long long store_tput_sum(store *s, const char *campaign, const char *kind, int64_t cur_minute, int minutes)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    long long sum = 0;
    for (int m = 0; m < minutes; m++) {
        redisReply *r = store_cmd(s, "HGET %s %s:%lld", k.tput, kind, (long long)(cur_minute - m));
        if (r && r->type == REDIS_REPLY_STRING) sum += strtoll(r->str, NULL, 10);
        if (r) freeReplyObject(r);
    }
    return sum;
}

bool store_instances(store *s, const char *campaign, sargs *out)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "ZRANGE %s 0 -1", k.instances);
    bool ok = store_strs_from_reply(r, out);
    if (r) freeReplyObject(r);
    return ok;
}

int store_instance_member(store *s, const char *campaign, const char *id)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "ZSCORE %s %s", k.instances, id);
    if (!r) return -1;
    int rc = r->type == REDIS_REPLY_STRING ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int store_active_owner(store *s, const char *member, char *owner, size_t cap)
{
    char ak[STORE_KEY_MAX];
    store_key(s, ak, sizeof ak, "active-instances");
    if (cap) *owner = 0;
    redisReply *r = store_cmd(s, "HGET %s %s", ak, member);
    if (!r) return -1;
    int rc = r->type == REDIS_REPLY_STRING ? 1 : 0;
    if (rc) fc_strlcpy(owner, r->str, cap);
    freeReplyObject(r);
    return rc;
}

/* ------------------------------------------------------------ event stream */
bool store_events_read(store *s, const char *campaign, const char *after, size_t count, store_events *out)
{
    memset(out, 0, sizeof *out);
    ckeys k;
    store_ckeys(s, campaign, &k);
    char start[80] = "-";
    if (after && *after) snprintf(start, sizeof start, "(%s", after);
    redisReply *r = store_cmd(s, "XRANGE %s %s + COUNT %lld", k.events, start, (long long)count);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return false;
    }
    out->v = calloc(r->elements + 1, sizeof *out->v);
    if (!out->v) {
        freeReplyObject(r);
        return false;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        store_event *ev = &out->v[out->n++];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1) continue;
        fc_strlcpy(ev->id, reply_str(e, 0), sizeof ev->id);
        if (e->elements >= 2) store_kv_from_pairs(e->element[1], &ev->f);
    }
    freeReplyObject(r);
    return true;
}

void store_events_free(store_events *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) store_kv_free(&e->v[i].f);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

bool store_event_add(store *s, const char *campaign, const char *instance, const char *event, const char *step,
                     const char *state, const char *reason, const char *node)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)fc_now_ms());
    const char *argv[] = {"XADD", k.events, "MAXLEN", "~", "10000", "*", "ts", ts, "instance", instance,
                          "event", event, "step", step, "attempt", "0", "from", state, "to", state,
                          "reason", reason, "node", node};
    redisReply *r = store_cmdargv(s, (int)FC_ARRAY_LEN(argv), argv, NULL);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return ok;
}

/* ------------------------------------------------------------ plain writes */
bool store_campaign_flag_set(store *s, const char *campaign, store_campaign_flag f)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "HSET %s %s 1", k.campaign,
                              f == STORE_CAMPAIGN_ABORT_REQUESTED ? "abort_requested" : "approved");
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_record_retiring(store *s, const char *campaign, const char *id, int64_t now_ms)
{
    char rk[STORE_KEY_MAX], now[24];
    store_rec_key(s, campaign, id, rk, sizeof rk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    redisReply *r = store_cmd(s, "HSETNX %s retiring_ms %s", rk, now);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_record_retired(store *s, const char *campaign, const char *id, int64_t now_ms, const char *snapshot,
                          const char *source)
{
    char rk[STORE_KEY_MAX], now[24];
    store_rec_key(s, campaign, id, rk, sizeof rk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    redisReply *r = store_cmd(s, "HSET %s retired_at %s final_snapshot %s retired_source %s", rk, now, snapshot,
                              source);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return ok;
}

bool store_record_secret_synced(store *s, const char *campaign, const char *id, const char *version,
                                int64_t now_ms)
{
    char rk[STORE_KEY_MAX], now[24];
    store_rec_key(s, campaign, id, rk, sizeof rk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    redisReply *r = store_cmd(s, "HSET %s f.master_secret_version %s f.master_secret_synced_at %s", rk, version,
                              now);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return ok;
}

/* ------------------------------------------------------------ operator verbs */
static void op_answer(const redisReply *r, store_op *out)
{
    fc_strlcpy(out->status, reply_str(r, 0), sizeof out->status);
    fc_strlcpy(out->detail, reply_str(r, 1), sizeof out->detail);
    fc_strlcpy(out->detail2, reply_str(r, 2), sizeof out->detail2);
}

bool store_instance_op(store *s, const char *campaign, const char *id, store_op_kind op, int64_t now_ms,
                       const char *node, bool named, store_op *out)
{
    memset(out, 0, sizeof *out);
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX], now[24];
    store_rec_key(s, campaign, id, rk, sizeof rk);
    store_lease_key(s, campaign, id, lk, sizeof lk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *nm = named ? "1" : "0";
    redisReply *r = NULL;
    switch (op) {
    case STORE_OP_ABORT: {
        const char *keys[] = {rk, k.counts, k.events, k.timers};
        const char *args[] = {now, node};
        r = store_script(s, "abort", 4, keys, 2, args);
        break;
    }
    case STORE_OP_APPROVE: {
        const char *keys[] = {rk, k.timers, k.events};
        const char *args[] = {now, node, nm};
        r = store_script(s, "approve", 3, keys, 3, args);
        break;
    }
    case STORE_OP_ROLLBACK:
    case STORE_OP_FINALIZE: {
        const char *keys[] = {rk, k.timers, k.events};
        const char *args[] = {now, node, op == STORE_OP_ROLLBACK ? "rollback" : "finalize"};
        r = store_script(s, "intent", 3, keys, 3, args);
        break;
    }
    case STORE_OP_PAUSE:
    case STORE_OP_RESUME: {
        const char *keys[] = {rk, k.timers, k.events, lk};
        const char *args[] = {op == STORE_OP_PAUSE ? "pause" : "resume", now, node, nm};
        r = store_script(s, "pause", 4, keys, 4, args);
        break;
    }
    }
    if (!r) return false;
    op_answer(r, out);
    freeReplyObject(r);
    return true;
}

bool store_instance_retry(store *s, const char *campaign, const char *id, int64_t now_ms, int64_t deadline_ms,
                          const char *node, bool undo, store_op *out)
{
    memset(out, 0, sizeof *out);
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX], now[24], deadline[24];
    store_rec_key(s, campaign, id, rk, sizeof rk);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(deadline, sizeof deadline, "%lld", (long long)deadline_ms);
    const char *keys[] = {rk, k.counts, k.events, k.timers, k.seq, k.campaign};
    const char *args[] = {now, store_floor(s), deadline, node, undo ? "abort" : ""};
    redisReply *r = store_script(s, "retry", 6, keys, 5, args);
    if (!r) return false;
    op_answer(r, out);
    freeReplyObject(r);
    return true;
}

/* ------------------------------------------------------------ report --select */
bool store_report_lookup(store *s, const char *campaign, const char *const *ids, size_t n, store_lookup *out)
{
    memset(out, 0, sizeof *out);
    ckeys k;
    store_ckeys(s, campaign, &k);
    const char **keys = calloc(n + 2, sizeof *keys);
    char (*rks)[STORE_KEY_MAX] = calloc(n + 1, sizeof *rks);
    if (!keys || !rks) {
        free(keys);
        free(rks);
        return false;
    }
    keys[0] = k.campaign;
    keys[1] = k.instances;
    for (size_t i = 0; i < n; i++) {
        store_rec_key(s, campaign, ids[i], rks[i], sizeof rks[i]);
        keys[2 + i] = rks[i];
    }
    redisReply *x = store_script(s, "report_lookup", (int)(2 + n), keys, (int)n, ids);
    free(keys);
    free(rks);
    if (!x || x->type != REDIS_REPLY_ARRAY) {
        if (x) freeReplyObject(x);
        return false;
    }
    if (x->elements) {
        out->found = true;
        store_kv_from_pairs(x->element[0], &out->campaign);
        out->v = calloc(x->elements / 2 + 1, sizeof *out->v);
        if (!out->v) {
            freeReplyObject(x);
            store_lookup_free(out);
            return false;
        }
        for (size_t e = 1; e + 1 < x->elements; e += 2) {
            store_lookup_hit *h = &out->v[out->n++];
            h->pos = x->element[e]->type == REDIS_REPLY_INTEGER ? x->element[e]->integer : 0;
            store_kv_from_pairs(x->element[e + 1], &h->rec);
        }
    }
    freeReplyObject(x);
    return true;
}

void store_lookup_free(store_lookup *l)
{
    if (!l) return;
    store_kv_free(&l->campaign);
    for (size_t i = 0; i < l->n; i++) store_kv_free(&l->v[i].rec);
    free(l->v);
    memset(l, 0, sizeof *l);
}
