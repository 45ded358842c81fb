/* ops — the operator verbs that steer a running campaign: approve, pause,
 * resume, abort, retry, and logs (the transition stream of one instance).
 * Each change to one instance is one Lua script (lua/approve.lua,
 * pause.lua, abort.lua, retry.lua; keys hash-tagged {campaign}); the
 * engine contract is in docs/cli.md and docs/orchestration.md. */
#include "catalog.h"
#include "cli.h"
#include "store_model.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPS_MAX_IDS 4096

typedef struct ops_args {
    const char *campaign;
    const char **ids;
    int nids;
    bool all_flag;
} ops_args;

/* CAMPAIGN [INSTANCE…] plus common config flags. min_ids/max_ids bound the
 * instance count (max_ids < 0: unbounded). */
static int parse(fc_config *cfg, int argc, char **argv, const char *verb, int min_ids, int max_ids, ops_args *a)
{
    memset(a, 0, sizeof *a);
    a->ids = calloc((size_t)argc + 1, sizeof *a->ids);
    if (!a->ids) return cli_err(CLI_FAIL, "out of memory");
    int first = argc;
    int rc = cli_args(cfg, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc != CLI_GO) return rc;
    for (int i = first; i < argc; i++) {
        if (!a->campaign) a->campaign = argv[i];
        else a->ids[a->nids++] = argv[i];
    }
    if (!a->campaign) return cli_err(CLI_USAGE, "%s: CAMPAIGN is required (try fleetcrypt %s --help)", verb, verb);
    if (!fc_valid_campaign_id(a->campaign)) return cli_err(CLI_USAGE, "campaign: invalid id '%.60s'", a->campaign);
    if (a->nids < min_ids) return cli_err(CLI_USAGE, "%s: INSTANCE_ID is required", verb);
    if (max_ids >= 0 && a->nids > max_ids) return cli_err(CLI_USAGE, "%s: one instance at a time", verb);
    if (a->nids > OPS_MAX_IDS) return cli_err(CLI_USAGE, "instance: more than %d named", OPS_MAX_IDS);
    for (int i = 0; i < a->nids; i++)
        if (!fc_valid_db_identifier(a->ids[i])) return cli_err(CLI_USAGE, "instance: invalid id '%.70s'", a->ids[i]);
    return CLI_OK;
}

/* 1 exists, 0 not, -1 Redis error. */
static int campaign_state(store *s, const char *campaign, char *state, size_t cap)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "HGET %s state", k.campaign);
    if (!r) return -1;
    int rc = r->type == REDIS_REPLY_STRING ? 1 : 0;
    if (rc) fc_strlcpy(state, r->str, cap);
    freeReplyObject(r);
    return rc;
}

/* Check every named instance belongs to the campaign. CLI_OK or exit code. */
static int check_members(store *s, const ops_args *a)
{
    ckeys k;
    store_ckeys(s, a->campaign, &k);
    for (int i = 0; i < a->nids; i++) {
        redisReply *r = store_cmd(s, "ZSCORE %s %s", k.instances, a->ids[i]);
        if (!r) return cli_err(CLI_FAIL, "redis unavailable");
        bool ok = r->type == REDIS_REPLY_STRING;
        freeReplyObject(r);
        if (!ok) return cli_err(CLI_USAGE, "instance: %s is not in campaign %s", a->ids[i], a->campaign);
    }
    return CLI_OK;
}

/* Open the store and check campaign (and named instances) exist. */
static int open_checked(fc_config *cfg, const ops_args *a, store **out, char *state, size_t cap)
{
    *out = NULL;
    store *s = cli_store(cfg);
    if (!s) return CLI_FAIL;
    int e = campaign_state(s, a->campaign, state, cap);
    if (e < 0) {
        store_close(s);
        return cli_err(CLI_FAIL, "redis unavailable");
    }
    if (e == 0) {
        store_close(s);
        return cli_err(CLI_USAGE, "campaign: no such campaign %s", a->campaign);
    }
    int rc = check_members(s, a);
    if (rc != CLI_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return CLI_OK;
}

/* The opening every verb shares: parse, open the store, check the campaign
 * and named instances. *s is NULL unless CLI_OK; ops_close frees a and s. */
static int ops_open(fc_config *cfg, int argc, char **argv, const char *verb, int min_ids, int max_ids, ops_args *a,
                    store **s, char *state, size_t cap)
{
    *s = NULL;
    int rc = parse(cfg, argc, argv, verb, min_ids, max_ids, a);
    return rc == CLI_OK ? open_checked(cfg, a, s, state, cap) : rc;
}

/* Accepts what ops_open left, whatever it returned; all may be NULL. */
static int ops_close(store *s, ops_args *a, redisReply *all, int rc)
{
    if (all) freeReplyObject(all);
    store_close(s);
    free(a->ids);
    return rc;
}

/* The named instances, or every instance of the campaign when none named.
 * Returns a reply that owns the strings (caller frees) or NULL with ids
 * pointing into argv. */
static redisReply *target_ids(store *s, ops_args *a)
{
    if (a->nids > 0) return NULL;
    ckeys k;
    store_ckeys(s, a->campaign, &k);
    redisReply *r = store_cmd(s, "ZRANGE %s 0 -1", k.instances);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return NULL;
    }
    free(a->ids);
    a->ids = calloc(r->elements + 1, sizeof *a->ids);
    a->nids = 0;
    for (size_t i = 0; a->ids && i < r->elements; i++) a->ids[a->nids++] = r->element[i]->str;
    a->all_flag = true;
    return r;
}

static void now_str(char *out, size_t cap) { snprintf(out, cap, "%lld", (long long)fc_now_ms()); }

static void inst_keys(store *s, const char *campaign, const char *id, char *rk, char *lk)
{
    store_rec_key(s, campaign, id, rk, STORE_KEY_MAX);
    store_lease_key(s, campaign, id, lk, STORE_KEY_MAX);
}

static void release_claim(store *s, const char *campaign, const char *id)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    redisReply *r = store_cmd(s, "HGET %s region", k.campaign);
    char member[160];
    snprintf(member, sizeof member, "%s/%s", r && r->type == REDIS_REPLY_STRING ? r->str : "", id);
    if (r) freeReplyObject(r);
    const char *m[] = {member};
    store_active_release(s, campaign, m, 1);
}

/* ------------------------------------------------ one script per instance */
/* The keys an instance script takes, in its KEYS order. */
typedef enum { OK_REC, OK_LEASE, OK_COUNTS, OK_EVENTS, OK_TIMERS } ops_key;
#define OPS_MAX_KEYS 6

/* What a verb runs on each instance: lua/<script>.lua with these keys and
 * args (the same for every instance), and what it does with each reply. */
typedef struct ops_script {
    const char *verb;
    const char *script;
    const ops_key *keys;
    int nkeys;
    const char *const *args;
    int nargs;
    void (*on_reply)(void *ud, const char *id, const redisReply *r);
    void *ud;
} ops_script;

/* For each named instance (or every instance after target_ids) run the
 * verb's script; the first Redis error ends the loop (exit 1). */
static int each_instance(store *s, const ops_args *a, const ops_script *x)
{
    ckeys k;
    store_ckeys(s, a->campaign, &k);
    for (int i = 0; i < a->nids; i++) {
        char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
        inst_keys(s, a->campaign, a->ids[i], rk, lk);
        const char *keys[OPS_MAX_KEYS];
        for (int j = 0; j < x->nkeys && j < OPS_MAX_KEYS; j++) {
            switch (x->keys[j]) {
            case OK_REC: keys[j] = rk; break;
            case OK_LEASE: keys[j] = lk; break;
            case OK_COUNTS: keys[j] = k.counts; break;
            case OK_EVENTS: keys[j] = k.events; break;
            case OK_TIMERS: keys[j] = k.timers; break;
            }
        }
        redisReply *r = store_script(s, x->script, x->nkeys, keys, x->nargs, x->args);
        if (!r) return cli_err(CLI_FAIL, "redis error (%s %s)", x->verb, a->ids[i]);
        x->on_reply(x->ud, a->ids[i], r);
        freeReplyObject(r);
    }
    return CLI_OK;
}

/* Campaign-wide form of a verb: set campaign field `flag`=1 (NULL: none),
 * then target every instance. CLI_OK or exit code. */
static int campaign_wide(store *s, ops_args *a, const char *flag, redisReply **all)
{
    if (flag) {
        ckeys k;
        store_ckeys(s, a->campaign, &k);
        redisReply *r = store_cmd(s, "HSET %s %s 1", k.campaign, flag);
        if (r) freeReplyObject(r);
    }
    *all = target_ids(s, a);
    return *all ? CLI_OK : cli_err(CLI_FAIL, "redis unavailable");
}

static int rearm_failed(fc_config *cfg, store *s, const char *campaign, const char *id, bool undo);

/* ------------------------------------------------------------------ abort */
typedef struct abort_tally {
    store *s;
    const ops_args *a;
    int aborted, requested, terminal;
    const char **failed; /* failed instances: undone by their strategy's abort step */
    int nfailed;
} abort_tally;

static void abort_reply(void *ud, const char *id, const redisReply *r)
{
    abort_tally *t = ud;
    if (reply_is_status(r, 0, "aborted")) {
        t->aborted++;
        release_claim(t->s, t->a->campaign, id);
        printf("%s: aborted (was pending)\n", id);
    } else if (reply_is_status(r, 0, "requested")) {
        t->requested++;
        printf("%s: abort requested (its strategy's undo step runs next)\n", id);
    } else if (reply_is_status(r, 0, "terminal") && !strcmp(reply_str(r, 1), "failed") && t->failed) {
        t->failed[t->nfailed++] = id;
    } else {
        t->terminal++;
        if (!t->a->all_flag) printf("%s: already %s, nothing to abort\n", id, reply_str(r, 1));
    }
}

/* A failed instance may still hold what its strategy made (pg-logical: a
 * slot that retains WAL on the source, the encrypted target, roles, the DDL
 * guard). Abort sends it to the strategy's undo step unless the strategy has
 * none (its descriptor's abort_undo is NULL) or it failed after the switch (the encrypted instance
 * serves: undoing would lose its writes; fix the cause and retry). */
static int abort_failed(fc_config *cfg, store *s, const char *campaign, const char *id, const char *strategy,
                        abort_tally *t)
{
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    inst_keys(s, campaign, id, rk, lk);
    redisReply *r = store_cmd(s, "HMGET %s f.switched f.abort_refused", rk);
    bool switched = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                    ((r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "1")) ||
                     (r->element[1]->type == REDIS_REPLY_STRING && *r->element[1]->str &&
                      strcmp(r->element[1]->str, "0")));
    if (r) freeReplyObject(r);
    const strategy_def *sd = strategy_find(strategy);
    bool undoable = sd && sd->abort_undo && strategy_step(sd, STEP_ABORT_NAME);
    if (!undoable || switched) {
        t->terminal++;
        char why[96];
        snprintf(why, sizeof why, " (strategy %.40s has no undo step)", strategy);
        printf("%s: failed%s; nothing to undo by abort (fix the cause, then fleetcrypt retry %s %s)\n", id,
               switched ? " after the switch: the encrypted instance serves" : why, campaign, id);
        return CLI_OK;
    }
    int rc = rearm_failed(cfg, s, campaign, id, true);
    if (rc == CLI_OK) t->requested++;
    return rc;
}

int cli_abort(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    redisReply *all = NULL;
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, "abort", 0, -1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    if (a.nids == 0) {
        /* whole campaign: admit nothing more first, and let a paused campaign
         * run its instances' undo steps. The coordinator ends it `aborted`. */
        if ((rc = campaign_wide(s, &a, "abort_requested", &all)) != CLI_OK) goto cleanup;
        if (!strcmp(cst, "paused")) store_campaign_set_state(s, a.campaign, "paused", "running");
    }
    char now[24];
    now_str(now, sizeof now);
    static const ops_key keys[] = {OK_REC, OK_COUNTS, OK_EVENTS, OK_TIMERS};
    const char *args[] = {now, cfg->node_id};
    abort_tally t = {.s = s, .a = &a, .failed = calloc((size_t)a.nids + 1, sizeof(char *))};
    if (!t.failed) {
        rc = cli_err(CLI_FAIL, "out of memory");
        goto cleanup;
    }
    ops_script x = {"abort", "abort", keys, 4, args, 2, abort_reply, &t};
    if ((rc = each_instance(s, &a, &x)) == CLI_OK && t.nfailed > 0) {
        ckeys k;
        store_ckeys(s, a.campaign, &k);
        redisReply *sr = store_cmd(s, "HGET %s strategy", k.campaign);
        char strategy[32] = "";
        if (sr && sr->type == REDIS_REPLY_STRING) fc_strlcpy(strategy, sr->str, sizeof strategy);
        if (sr) freeReplyObject(sr);
        for (int i = 0; i < t.nfailed && rc == CLI_OK; i++)
            rc = abort_failed(cfg, s, a.campaign, t.failed[i], strategy, &t);
    }
    free(t.failed);
    if (rc != CLI_OK) goto cleanup;
    printf("campaign %s: %d aborted, %d abort requested, %d already finished\n", a.campaign, t.aborted, t.requested,
           t.terminal);
cleanup:
    return ops_close(s, &a, all, rc);
}

/* ------------------------------------------------------------------ approve */
typedef struct approve_tally {
    bool campaign_wide;
    int woken;
} approve_tally;

static void approve_reply(void *ud, const char *id, const redisReply *r)
{
    approve_tally *t = ud;
    if (!strcmp(reply_str(r, 1), "waiting_approval")) t->woken++;
    if (!t->campaign_wide) printf("%s: approved (%s)\n", id, reply_str(r, 1));
}

int cli_approve(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    redisReply *all = NULL;
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, "approve", 0, -1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    approve_tally t = {.campaign_wide = a.nids == 0};
    if (t.campaign_wide && (rc = campaign_wide(s, &a, "approved", &all)) != CLI_OK) goto cleanup;
    char now[24];
    now_str(now, sizeof now);
    static const ops_key keys[] = {OK_REC, OK_TIMERS, OK_EVENTS};
    const char *args[] = {now, cfg->node_id, t.campaign_wide ? "0" : "1"};
    ops_script x = {"approve", "approve", keys, 3, args, 3, approve_reply, &t};
    if ((rc = each_instance(s, &a, &x)) != CLI_OK) goto cleanup;
    printf("campaign %s: %s approved, %d waiting instance(s) woken\n", a.campaign,
           t.campaign_wide ? "every instance" : "named instance(s)", t.woken);
cleanup:
    return ops_close(s, &a, all, rc);
}

/* ------------------------------------------------------------------ pause / resume */
typedef struct pause_tally {
    const char *verb;
    bool campaign_wide;
} pause_tally;

static void pause_reply(void *ud, const char *id, const redisReply *r)
{
    const pause_tally *t = ud;
    if (t->campaign_wide) return;
    if (reply_is_status(r, 0, "terminal")) printf("%s: already %s, nothing to %s\n", id, reply_str(r, 1), t->verb);
    else printf("%s: %s\n", id, !strcmp(t->verb, "pause") ? "paused" : "resumed");
}

static int pause_resume(fc_config *cfg, int argc, char **argv, bool pause)
{
    const char *verb = pause ? "pause" : "resume";
    ops_args a;
    store *s;
    redisReply *all = NULL;
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, verb, 0, -1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    pause_tally t = {.verb = verb, .campaign_wide = a.nids == 0};
    if (t.campaign_wide) {
        if (strcmp(cst, "running") && strcmp(cst, "paused")) {
            rc = cli_err(CLI_USAGE, "campaign: %s is %s, cannot %s it", a.campaign, cst, verb);
            goto cleanup;
        }
        int ch = store_campaign_set_state(s, a.campaign, pause ? "running" : "paused", pause ? "paused" : "running");
        if (ch < 0) {
            rc = cli_err(CLI_FAIL, "redis unavailable");
            goto cleanup;
        }
        printf("campaign %s: %s\n", a.campaign, ch ? (pause ? "paused" : "resumed") : (pause ? "already paused" : "already running"));
        if (pause) goto cleanup; /* running steps finish; new ones wait (step_begin/timer_take) */
        /* resume: make sure every in-flight instance's current step is in the
         * outbox (messages dropped while paused already left it) */
        if ((rc = campaign_wide(s, &a, NULL, &all)) != CLI_OK) goto cleanup;
    }
    char now[24];
    now_str(now, sizeof now);
    static const ops_key keys[] = {OK_REC, OK_TIMERS, OK_EVENTS, OK_LEASE};
    const char *args[] = {verb, now, cfg->node_id, t.campaign_wide ? "0" : "1"};
    ops_script x = {verb, "pause", keys, 4, args, 4, pause_reply, &t};
    rc = each_instance(s, &a, &x);
cleanup:
    return ops_close(s, &a, all, rc);
}

int cli_pause(fc_config *cfg, int argc, char **argv) { return pause_resume(cfg, argc, argv, true); }
int cli_resume(fc_config *cfg, int argc, char **argv) { return pause_resume(cfg, argc, argv, false); }

/* ------------------------------------------------------------------ retry */
/* Put a failed instance back to running (lua/retry.lua): at its failed
 * step, or with undo, straight to its strategy's abort step. Re-takes the
 * active-instances claim first. CLI_OK or an exit code (message printed). */
static int rearm_failed(fc_config *cfg, store *s, const char *campaign, const char *id, bool undo)
{
    ckeys k;
    store_ckeys(s, campaign, &k);
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    inst_keys(s, campaign, id, rk, lk);
    /* re-take the active-instances claim (released if the campaign ended) */
    redisReply *rg = store_cmd(s, "HGET %s region", k.campaign);
    char member[160], cm[160], cc[64];
    snprintf(member, sizeof member, "%s/%s", rg && rg->type == REDIS_REPLY_STRING ? rg->str : "", id);
    if (rg) freeReplyObject(rg);
    const char *mem[] = {member};
    int cl = store_active_claim(s, campaign, mem, 1, cm, sizeof cm, cc, sizeof cc);
    if (cl == 0) return cli_err(CLI_USAGE, "instance: %s is now in active campaign %s", id, cc);
    if (cl < 0) return cli_err(CLI_FAIL, "redis unavailable");
    long long dl_s = (long long)cfg_redrive_deadline_s(cfg); /* FLEETCRYPT_STEP_DEADLINE_MAX_S, else 1800 */
    char now[24], deadline[24];
    int64_t t = fc_now_ms();
    snprintf(now, sizeof now, "%lld", (long long)t);
    snprintf(deadline, sizeof deadline, "%lld", (long long)(t + dl_s * 1000));
    const char *keys[] = {rk, k.counts, k.events, k.timers, k.seq, k.campaign};
    const char *args[] = {now, store_floor(s), deadline, cfg->node_id, undo ? "abort" : ""};
    redisReply *r = store_script(s, "retry", 6, keys, 5, args);
    if (!r) return cli_err(CLI_FAIL, "redis error %s %s", undo ? "aborting" : "retrying", id);
    int rc = CLI_OK;
    if (reply_is_status(r, 0, "ok") && undo)
        printf("%s: failed at %s; abort requested (its strategy's undo step runs next)\n", id, reply_str(r, 1));
    else if (reply_is_status(r, 0, "ok"))
        printf("%s: retrying step %s (attempt %s)\n", id, reply_str(r, 1), reply_str(r, 2));
    else rc = cli_err(CLI_USAGE, "instance: %s", reply_str(r, 1));
    freeReplyObject(r);
    return rc;
}

int cli_retry(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, "retry", 1, 1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    char rk[STORE_KEY_MAX], lk[STORE_KEY_MAX];
    inst_keys(s, a.campaign, a.ids[0], rk, lk);
    redisReply *st = store_cmd(s, "HGET %s state", rk);
    bool failed = st && st->type == REDIS_REPLY_STRING && !strcmp(st->str, "failed");
    char was[32] = "";
    if (st && st->type == REDIS_REPLY_STRING) fc_strlcpy(was, st->str, sizeof was);
    if (st) freeReplyObject(st);
    if (!failed) {
        rc = cli_err(CLI_USAGE, "instance: %s is %s; only a failed instance can be retried", a.ids[0], was);
        goto cleanup;
    }
    rc = rearm_failed(cfg, s, a.campaign, a.ids[0], false);
cleanup:
    return ops_close(s, &a, NULL, rc);
}

/* ------------------------------------------------------------------ logs */
static const char *field(const redisReply *kv, const char *name)
{
    for (size_t i = 0; kv && i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING && !strcmp(kv->element[i]->str, name))
            return kv->element[i + 1]->type == REDIS_REPLY_STRING ? kv->element[i + 1]->str : "";
    return "";
}

void cli_fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", b, (int)(ms % 1000));
}

int cli_logs(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, "logs", 1, 1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    ckeys k;
    store_ckeys(s, a.campaign, &k);
    /* page through the capped stream in order */
    char start[64] = "-";
    int lines = 0;
    for (int page = 0; page < 1000; page++) {
        redisReply *r = store_cmd(s, "XRANGE %s %s + COUNT 500", k.events, start);
        if (!cli_array_reply(&r)) {
            rc = CLI_FAIL;
            goto cleanup;
        }
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
            const redisReply *kv = e->element[1];
            if (strcmp(field(kv, "instance"), a.ids[0])) continue;
            char ts[40];
            cli_fmt_time(strtoll(field(kv, "ts"), NULL, 10), ts, sizeof ts);
            const char *step = field(kv, "step"), *next = field(kv, "next"), *reason = field(kv, "reason");
            const char *dur = field(kv, "duration_ms");
            printf("%s step=%s attempt=%s outcome=%s %s->%s", ts, *step ? step : "-", *field(kv, "attempt") ? field(kv, "attempt") : "-",
                   field(kv, "event"), field(kv, "from"), field(kv, "to"));
            if (*next && strcmp(next, step)) printf(" next=%s", next);
            if (*dur && strcmp(dur, "0")) printf(" duration_ms=%s", dur);
            if (*reason) printf(" reason=\"%s\"", reason);
            putchar('\n');
            lines++;
        }
        if (n > 0) {
            const redisReply *last = r->element[n - 1];
            snprintf(start, sizeof start, "(%s", last->element[0]->str);
        }
        freeReplyObject(r);
        if (n < 500) break;
    }
    if (lines == 0) printf("no transitions recorded for %s in campaign %s\n", a.ids[0], a.campaign);
cleanup:
    return ops_close(s, &a, NULL, rc);
}
