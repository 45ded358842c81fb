/* ops — the operator verbs that steer a running campaign: approve, pause,
 * resume, abort, retry, and logs (the transition stream of one instance;
 * -o json one JSON object per transition, --follow streams new ones until
 * the instance is terminal or the command is interrupted).
 * Each change to one instance is one Lua script (lua/approve.lua,
 * pause.lua, abort.lua, retry.lua; keys hash-tagged {campaign}); the
 * engine contract is in docs/cli.md and docs/orchestration.md. */
#include "catalog.h"
#include "cli.h"
#include "store_model.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OPS_MAX_IDS 4096

typedef struct ops_args {
    const char *campaign;
    const char **ids;
    int nids;
    bool all_flag;
} ops_args;

/* A verb's own options (logs: --follow, -o), handed to cli_args. */
typedef struct ops_opts {
    const struct option *opts;
    const char *shortopts;
    int (*on_opt)(void *ud, int val, const char *arg);
    void *ud;
} ops_opts;

/* CAMPAIGN [INSTANCE…] plus common config flags (and x's options, x may be
 * NULL). min_ids/max_ids bound the instance count (max_ids < 0: unbounded). */
static int parse(fc_config *cfg, int argc, char **argv, const char *verb, int min_ids, int max_ids, ops_args *a,
                 const ops_opts *x)
{
    memset(a, 0, sizeof *a);
    a->ids = calloc((size_t)argc + 1, sizeof *a->ids);
    if (!a->ids) return cli_err(CLI_FAIL, "out of memory");
    int first = argc;
    int rc = x ? cli_args(cfg, argc, argv, x->opts, x->shortopts, x->on_opt, x->ud, &first)
               : cli_args(cfg, argc, argv, NULL, NULL, NULL, NULL, &first);
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
    static const char *const f[] = {"state"};
    store_kv h;
    if (!store_campaign_read(s, campaign, f, 1, &h)) return -1;
    const char *v = kv_get(&h, "state");
    int rc = v ? 1 : 0;
    if (rc) fc_strlcpy(state, v, cap);
    store_kv_free(&h);
    return rc;
}

/* Check every named instance belongs to the campaign. CLI_OK or exit code. */
static int check_members(store *s, const ops_args *a)
{
    for (int i = 0; i < a->nids; i++) {
        int m = store_instance_member(s, a->campaign, a->ids[i]);
        if (m < 0) return cli_err(CLI_FAIL, "redis unavailable");
        bool ok = m == 1;
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
static int ops_open_x(fc_config *cfg, int argc, char **argv, const char *verb, int min_ids, int max_ids, ops_args *a,
                      store **s, char *state, size_t cap, const ops_opts *x)
{
    *s = NULL;
    int rc = parse(cfg, argc, argv, verb, min_ids, max_ids, a, x);
    return rc == CLI_OK ? open_checked(cfg, a, s, state, cap) : rc;
}

static int ops_open(fc_config *cfg, int argc, char **argv, const char *verb, int min_ids, int max_ids, ops_args *a,
                    store **s, char *state, size_t cap)
{
    return ops_open_x(cfg, argc, argv, verb, min_ids, max_ids, a, s, state, cap, NULL);
}

/* Accepts what ops_open left, whatever it returned; all may be NULL. */
static int ops_close(store *s, ops_args *a, sargs *all, int rc)
{
    sargs_free(all);
    store_close(s);
    free(a->ids);
    return rc;
}

/* The named instances, or every instance of the campaign when none named:
 * then the ids point into *all (which owns the strings; caller
 * sargs_free). False on a Redis error, or when ids were named (they point
 * into argv). */
static bool target_ids(store *s, ops_args *a, sargs *all)
{
    if (a->nids > 0) return false;
    if (!store_instances(s, a->campaign, all)) return false;
    free(a->ids);
    a->ids = calloc((size_t)all->n + 1, sizeof *a->ids);
    a->nids = 0;
    for (int i = 0; a->ids && i < all->n; i++) a->ids[a->nids++] = all->v[i];
    a->all_flag = true;
    return true;
}

/* The campaign's region ("" when unknown). */
static void campaign_region(store *s, const char *campaign, char *out, size_t cap)
{
    static const char *const f[] = {"region"};
    store_kv h;
    store_campaign_read(s, campaign, f, 1, &h);
    fc_strlcpy(out, kv_str(&h, "region"), cap);
    store_kv_free(&h);
}

static void release_claim(store *s, const char *campaign, const char *id)
{
    char region[64], member[160];
    campaign_region(s, campaign, region, sizeof region);
    snprintf(member, sizeof member, "%s/%s", region, id);
    const char *m[] = {member};
    store_active_release(s, campaign, m, 1);
}

/* ------------------------------------------------ one script per instance */
/* What a verb runs on each instance: the store's operation (one Lua script,
 * lua/abort.lua, approve.lua, pause.lua) with the same now, node and
 * named-or-not for every instance, and what it does with each answer. */
typedef struct ops_script {
    const char *verb;
    store_op_kind op;
    int64_t now_ms;
    const char *node;
    bool named;
    void (*on_reply)(void *ud, const char *id, const store_op *r);
    void *ud;
} ops_script;

/* For each named instance (or every instance after target_ids) run the
 * verb's script; the first Redis error ends the loop (exit 1). */
static int each_instance(store *s, const ops_args *a, const ops_script *x)
{
    for (int i = 0; i < a->nids; i++) {
        store_op r;
        if (!store_instance_op(s, a->campaign, a->ids[i], x->op, x->now_ms, x->node, x->named, &r))
            return cli_err(CLI_FAIL, "redis error (%s %s)", x->verb, a->ids[i]);
        x->on_reply(x->ud, a->ids[i], &r);
    }
    return CLI_OK;
}

/* Campaign-wide form of a verb: set campaign flag (flag NULL: none), then
 * target every instance (their ids owned by *all). CLI_OK or exit code. */
static int campaign_wide(store *s, ops_args *a, const store_campaign_flag *flag, sargs *all)
{
    if (flag) store_campaign_flag_set(s, a->campaign, *flag);
    return target_ids(s, a, all) ? CLI_OK : cli_err(CLI_FAIL, "redis unavailable");
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

static void abort_reply(void *ud, const char *id, const store_op *r)
{
    abort_tally *t = ud;
    if (!strcmp(r->status, "aborted")) {
        t->aborted++;
        release_claim(t->s, t->a->campaign, id);
        printf("%s: aborted (was pending)\n", id);
    } else if (!strcmp(r->status, "requested")) {
        t->requested++;
        printf("%s: abort requested (its strategy's undo step runs next)\n", id);
    } else if (!strcmp(r->status, "terminal") && !strcmp(r->detail, "failed") && t->failed) {
        t->failed[t->nfailed++] = id;
    } else {
        t->terminal++;
        if (!t->a->all_flag) printf("%s: already %s, nothing to abort\n", id, r->detail);
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
    static const char *const f[] = {"f.switched", "f.abort_refused"};
    store_kv r;
    bool switched = false;
    if (store_record_read(s, campaign, id, f, FC_ARRAY_LEN(f), &r)) {
        const char *sw = kv_get(&r, "f.switched"), *refused = kv_get(&r, "f.abort_refused");
        switched = (sw && !strcmp(sw, "1")) || (refused && *refused && strcmp(refused, "0"));
    }
    store_kv_free(&r);
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

typedef struct abort_args {
    bool yes, dry;
} abort_args;

enum { ABORT_OPT_DRY = 256 };

static int abort_opt(void *ud, int val, const char *arg)
{
    (void)arg;
    abort_args *aa = ud;
    if (val == 'y') aa->yes = true;
    else if (val == ABORT_OPT_DRY) aa->dry = true;
    return CLI_GO;
}

/* The campaign's strategy ("" when unknown). */
static void campaign_strategy(store *s, const char *campaign, char *out, size_t cap)
{
    static const char *const sf[] = {"strategy"};
    store_kv sh;
    out[0] = 0;
    if (store_campaign_read(s, campaign, sf, 1, &sh)) fc_strlcpy(out, kv_str(&sh, "strategy"), cap);
    store_kv_free(&sh);
}

/* abort --dry-run: what abort would do to each target instance, read from
 * its record; nothing is written. */
static int abort_dry_run(store *s, const ops_args *a)
{
    char strategy[32];
    campaign_strategy(s, a->campaign, strategy, sizeof strategy);
    const strategy_def *sd = strategy_find(strategy);
    bool undoable = sd && sd->abort_undo && strategy_step(sd, STEP_ABORT_NAME);
    int abort_now = 0, request = 0, left = 0;
    for (int i = 0; i < a->nids; i++) {
        static const char *const f[] = {"state", "f.switched", "f.abort_refused"};
        store_kv r;
        if (!store_record_read(s, a->campaign, a->ids[i], f, FC_ARRAY_LEN(f), &r)) {
            store_kv_free(&r);
            return cli_err(CLI_FAIL, "redis error (abort --dry-run %s)", a->ids[i]);
        }
        const char *st = kv_str(&r, "state"), *sw = kv_get(&r, "f.switched"), *refused = kv_get(&r, "f.abort_refused");
        bool switched = (sw && !strcmp(sw, "1")) || (refused && *refused && strcmp(refused, "0"));
        if (!strcmp(st, "pending")) {
            abort_now++;
            printf("%s: would abort (pending)\n", a->ids[i]);
        } else if (!strcmp(st, "running") || !strcmp(st, "waiting_approval")) {
            request++;
            if (undoable) printf("%s: would request abort (%s; its strategy's undo step runs next)\n", a->ids[i], st);
            else
                printf("%s: would request abort (%s; strategy %s has no undo step: the instance fails with the "
                       "reason)\n", a->ids[i], st, strategy);
        } else if (!strcmp(st, "failed") && undoable && !switched) {
            request++;
            printf("%s: would run its strategy's undo step (failed before the switch)\n", a->ids[i]);
        } else {
            left++;
            if (!strcmp(st, "failed"))
                printf("%s: failed; nothing to undo by abort (fix the cause, then fleetcrypt retry %s %s)\n", a->ids[i],
                       a->campaign, a->ids[i]);
            else printf("%s: already %s, nothing to abort\n", a->ids[i], *st ? st : "gone");
        }
        store_kv_free(&r);
    }
    if (a->all_flag)
        printf("campaign %s: nothing more would be admitted and the campaign would end aborted\n", a->campaign);
    printf("dry run: nothing changed (campaign %s: %d would be aborted, %d abort requested, %d left as they are)\n",
           a->campaign, abort_now, request, left);
    return CLI_OK;
}

/* A campaign-wide abort stops every instance: on a terminal it asks (with
 * the counts), off one it needs --yes. CLI_OK to go on, else an exit code. */
static int abort_confirm(store *s, const ops_args *a, const abort_args *aa)
{
    if (aa->yes) return CLI_OK;
    if (!isatty(0))
        return cli_err(CLI_USAGE, "confirmation: stdin is not a terminal; pass --yes to abort every instance of "
                       "campaign %s (or name the instances, or --dry-run to see what it would do)", a->campaign);
    static const char *const f[] = {"pending", "running", "waiting_approval", "failed", "done", "skipped", "aborted"};
    store_kv k;
    long long n[FC_ARRAY_LEN(f)], total = 0;
    bool ok = store_counts_read(s, a->campaign, f, FC_ARRAY_LEN(f), &k);
    for (size_t i = 0; i < FC_ARRAY_LEN(f); i++) {
        n[i] = ok ? strtoll(kv_str(&k, f[i]), NULL, 10) : 0;
        total += n[i] > 0 ? n[i] : 0;
    }
    store_kv_free(&k);
    if (!ok) return cli_err(CLI_FAIL, "redis unavailable");
    printf("abort campaign %s: %lld instance(s) (%lld pending end aborted, %lld running and %lld waiting approval run "
           "their undo step, %lld failed, %lld finished); nothing more is admitted\nProceed? [y/N] ",
           a->campaign, total, n[0], n[1], n[2], n[3], n[4] + n[5] + n[6]);
    fflush(stdout);
    char ans[16] = "";
    if (!fgets(ans, sizeof ans, stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
        printf("not confirmed: nothing changed\n");
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_abort(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    sargs all;
    sargs_init(&all);
    char cst[32] = "";
    abort_args aa = {0};
    static const struct option opts[] = {{"yes", no_argument, NULL, 'y'},
                                         {"dry-run", no_argument, NULL, ABORT_OPT_DRY},
                                         {NULL, 0, NULL, 0}};
    const ops_opts x = {opts, "y", abort_opt, &aa};
    int rc = ops_open_x(cfg, argc, argv, "abort", 0, -1, &a, &s, cst, sizeof cst, &x);
    if (rc != CLI_OK) goto cleanup;
    if (aa.dry) {
        if (a.nids == 0 && !target_ids(s, &a, &all)) rc = cli_err(CLI_FAIL, "redis unavailable");
        else rc = abort_dry_run(s, &a);
        goto cleanup;
    }
    if (a.nids == 0 && (rc = abort_confirm(s, &a, &aa)) != CLI_OK) goto cleanup;
    if (a.nids == 0) {
        /* whole campaign: admit nothing more first, and let a paused campaign
         * run its instances' undo steps. The coordinator ends it `aborted`. */
        static const store_campaign_flag flag = STORE_CAMPAIGN_ABORT_REQUESTED;
        if ((rc = campaign_wide(s, &a, &flag, &all)) != CLI_OK) goto cleanup;
        if (!strcmp(cst, "paused")) store_campaign_set_state(s, a.campaign, "paused", "running");
    }
    abort_tally t = {.s = s, .a = &a, .failed = calloc((size_t)a.nids + 1, sizeof(char *))};
    if (!t.failed) {
        rc = cli_err(CLI_FAIL, "out of memory");
        goto cleanup;
    }
    ops_script sx = {"abort", STORE_OP_ABORT, fc_now_ms(), cfg->node_id, false, abort_reply, &t};
    if ((rc = each_instance(s, &a, &sx)) == CLI_OK && t.nfailed > 0) {
        char strategy[32];
        campaign_strategy(s, a.campaign, strategy, sizeof strategy);
        for (int i = 0; i < t.nfailed && rc == CLI_OK; i++)
            rc = abort_failed(cfg, s, a.campaign, t.failed[i], strategy, &t);
    }
    free(t.failed);
    if (rc != CLI_OK) goto cleanup;
    printf("campaign %s: %d aborted, %d abort requested, %d already finished\n", a.campaign, t.aborted, t.requested,
           t.terminal);
cleanup:
    return ops_close(s, &a, &all, rc);
}

/* ------------------------------------------------------------------ approve */
typedef struct approve_tally {
    bool campaign_wide;
    int woken;
} approve_tally;

static void approve_reply(void *ud, const char *id, const store_op *r)
{
    approve_tally *t = ud;
    if (!strcmp(r->detail, "waiting_approval")) t->woken++;
    if (!t->campaign_wide) printf("%s: approved (%s)\n", id, r->detail);
}

int cli_approve(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    sargs all;
    sargs_init(&all);
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, "approve", 0, -1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    approve_tally t = {.campaign_wide = a.nids == 0};
    static const store_campaign_flag flag = STORE_CAMPAIGN_APPROVED;
    if (t.campaign_wide && (rc = campaign_wide(s, &a, &flag, &all)) != CLI_OK) goto cleanup;
    ops_script x = {"approve", STORE_OP_APPROVE, fc_now_ms(), cfg->node_id, !t.campaign_wide, approve_reply, &t};
    if ((rc = each_instance(s, &a, &x)) != CLI_OK) goto cleanup;
    printf("campaign %s: %s approved, %d waiting instance(s) woken\n", a.campaign,
           t.campaign_wide ? "every instance" : "named instance(s)", t.woken);
cleanup:
    return ops_close(s, &a, &all, rc);
}

/* ------------------------------------------------------------------ rollback / finalize */
/* pg-logical's rollback window (lua/intent.lua decides, atomically): each
 * named instance (or every instance of the campaign) gets the intent or the
 * reason it is refused; instances without an open window are refused, and
 * campaign-wide those are only counted. Exit 0 when at least one instance
 * took it (or had it already), 3 when every one refused. */
typedef struct intent_tally {
    bool campaign_wide;
    int ok, already, refused;
} intent_tally;

static void intent_reply(void *ud, const char *id, const store_op *r)
{
    intent_tally *t = ud;
    if (!strcmp(r->status, "ok")) {
        t->ok++;
        printf("%s: requested\n", id);
    } else if (!strcmp(r->status, "already")) {
        t->already++;
        printf("%s: already %s\n", id, r->detail);
    } else {
        t->refused++;
        if (!t->campaign_wide || strncmp(r->detail, "no rollback window", 18) != 0)
            printf("%s: refused: %s\n", id, !strcmp(r->status, "gone") ? "no such instance" : r->detail);
    }
}

static int intent_verb(fc_config *cfg, int argc, char **argv, const char *verb, store_op_kind op)
{
    ops_args a;
    store *s;
    sargs all;
    sargs_init(&all);
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, verb, 0, -1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    intent_tally t = {.campaign_wide = a.nids == 0};
    if (t.campaign_wide && (rc = campaign_wide(s, &a, NULL, &all)) != CLI_OK) goto cleanup;
    ops_script x = {verb, op, fc_now_ms(), cfg->node_id, !t.campaign_wide, intent_reply, &t};
    if ((rc = each_instance(s, &a, &x)) != CLI_OK) goto cleanup;
    printf("campaign %s: %s requested for %d instance(s), %d already, %d refused\n", a.campaign, verb, t.ok,
           t.already, t.refused);
    if (t.ok + t.already == 0) rc = 3;
cleanup:
    return ops_close(s, &a, &all, rc);
}

int cli_rollback(fc_config *cfg, int argc, char **argv)
{
    return intent_verb(cfg, argc, argv, "rollback", STORE_OP_ROLLBACK);
}

int cli_finalize(fc_config *cfg, int argc, char **argv)
{
    return intent_verb(cfg, argc, argv, "finalize", STORE_OP_FINALIZE);
}

/* ------------------------------------------------------------------ pause / resume */
typedef struct pause_tally {
    const char *verb;
    bool campaign_wide;
} pause_tally;

static void pause_reply(void *ud, const char *id, const store_op *r)
{
    const pause_tally *t = ud;
    if (t->campaign_wide) return;
    if (!strcmp(r->status, "terminal")) printf("%s: already %s, nothing to %s\n", id, r->detail, t->verb);
    else printf("%s: %s\n", id, !strcmp(t->verb, "pause") ? "paused" : "resumed");
}

static int pause_resume(fc_config *cfg, int argc, char **argv, bool pause)
{
    const char *verb = pause ? "pause" : "resume";
    ops_args a;
    store *s;
    sargs all;
    sargs_init(&all);
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
    ops_script x = {verb, pause ? STORE_OP_PAUSE : STORE_OP_RESUME, fc_now_ms(), cfg->node_id, !t.campaign_wide,
                    pause_reply, &t};
    rc = each_instance(s, &a, &x);
cleanup:
    return ops_close(s, &a, &all, rc);
}

int cli_pause(fc_config *cfg, int argc, char **argv) { return pause_resume(cfg, argc, argv, true); }
int cli_resume(fc_config *cfg, int argc, char **argv) { return pause_resume(cfg, argc, argv, false); }

/* ------------------------------------------------------------------ retry */
/* Put a failed instance back to running (lua/retry.lua): at its failed
 * step, or with undo, straight to its strategy's abort step. Re-takes the
 * active-instances claim first. CLI_OK or an exit code (message printed). */
static int rearm_failed(fc_config *cfg, store *s, const char *campaign, const char *id, bool undo)
{
    /* re-take the active-instances claim (released if the campaign ended) */
    char region[64], member[160], cm[160], cc[64];
    campaign_region(s, campaign, region, sizeof region);
    snprintf(member, sizeof member, "%s/%s", region, id);
    const char *mem[] = {member};
    int cl = store_active_claim(s, campaign, mem, 1, cm, sizeof cm, cc, sizeof cc);
    if (cl == 0) return cli_err(CLI_USAGE, "instance: %s is now in active campaign %s", id, cc);
    if (cl < 0) return cli_err(CLI_FAIL, "redis unavailable");
    long long dl_s = (long long)cfg_redrive_deadline_s(cfg); /* FLEETCRYPT_STEP_DEADLINE_MAX_S, else 1800 */
    int64_t t = fc_now_ms();
    store_op r;
    if (!store_instance_retry(s, campaign, id, t, t + dl_s * 1000, cfg->node_id, undo, &r))
        return cli_err(CLI_FAIL, "redis error %s %s", undo ? "aborting" : "retrying", id);
    int rc = CLI_OK;
    if (!strcmp(r.status, "ok") && undo)
        printf("%s: failed at %s; abort requested (its strategy's undo step runs next)\n", id, r.detail);
    else if (!strcmp(r.status, "ok"))
        printf("%s: retrying step %s (attempt %s)\n", id, r.detail, r.detail2);
    else rc = cli_err(CLI_USAGE, "instance: %s", r.detail);
    return rc;
}

int cli_retry(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    char cst[32] = "";
    int rc = ops_open(cfg, argc, argv, "retry", 1, 1, &a, &s, cst, sizeof cst);
    if (rc != CLI_OK) goto cleanup;
    static const char *const sf[] = {"state"};
    store_kv st;
    char was[32] = "";
    if (store_record_read(s, a.campaign, a.ids[0], sf, 1, &st)) fc_strlcpy(was, kv_str(&st, "state"), sizeof was);
    store_kv_free(&st);
    bool failed = !strcmp(was, "failed");
    if (!failed) {
        rc = cli_err(CLI_USAGE, "instance: %s is %s; only a failed instance can be retried", a.ids[0], was);
        goto cleanup;
    }
    rc = rearm_failed(cfg, s, a.campaign, a.ids[0], false);
cleanup:
    return ops_close(s, &a, NULL, rc);
}

/* ------------------------------------------------------------------ logs */
static const char *field(const store_kv *kv, const char *name) { return kv_str(kv, name); }

void cli_fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", b, (int)(ms % 1000));
}

typedef struct logs_args {
    bool json, follow;
} logs_args;

enum { LOGS_OPT_FOLLOW = 'f' };

static int logs_opt(void *ud, int val, const char *arg)
{
    logs_args *l = ud;
    if (val == LOGS_OPT_FOLLOW) l->follow = true;
    else if (val == 'o') return cli_output_arg(arg, &l->json);
    return CLI_GO;
}

static volatile sig_atomic_t g_logs_stop = 0;
static void logs_on_sig(int sig)
{
    (void)sig;
    g_logs_stop = 1;
}

/* "" → null; digits → a number; anything else → null (not a number). */
static json_t *int_or_null(const char *v)
{
    if (!*v) return json_null();
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    return *end ? json_null() : json_integer(n);
}

/* One transition: a key=value line, or (json) one JSON object per line. */
static void logs_print(const store_kv *kv, bool json)
{
    int64_t ts_ms = strtoll(field(kv, "ts"), NULL, 10);
    char ts[40];
    cli_fmt_time(ts_ms, ts, sizeof ts);
    const char *step = field(kv, "step"), *next = field(kv, "next"), *reason = field(kv, "reason");
    const char *dur = field(kv, "duration_ms"), *attempt = field(kv, "attempt");
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "ts_ms", json_integer(ts_ms));
        json_object_set_new(o, "instance", cli_json_text(field(kv, "instance"), false));
        json_object_set_new(o, "step", cli_json_text(step, true));
        json_object_set_new(o, "attempt", int_or_null(attempt));
        json_object_set_new(o, "outcome", cli_json_text(field(kv, "event"), false));
        json_object_set_new(o, "from", cli_json_text(field(kv, "from"), true));
        json_object_set_new(o, "to", cli_json_text(field(kv, "to"), true));
        json_object_set_new(o, "next", cli_json_text(next, true));
        json_object_set_new(o, "duration_ms", int_or_null(dur));
        json_object_set_new(o, "reason", cli_json_text(reason, true));
        json_object_set_new(o, "node", cli_json_text(field(kv, "node"), true));
        char *text = json_dumps(o, JSON_COMPACT);
        if (text) puts(text);
        free(text);
        json_decref(o);
        return;
    }
    printf("%s step=%s attempt=%s outcome=%s %s->%s", ts, *step ? step : "-", *attempt ? attempt : "-",
           field(kv, "event"), field(kv, "from"), field(kv, "to"));
    if (*next && strcmp(next, step)) printf(" next=%s", next);
    if (*dur && strcmp(dur, "0")) printf(" duration_ms=%s", dur);
    if (*reason) printf(" reason=\"%s\"", reason);
    putchar('\n');
}

/* Print the instance's transitions after entry *after (advanced); *lines
 * counts them. False on a Redis error (message printed). */
static bool logs_drain(store *s, const ops_args *a, char *after, size_t cap, bool json, int *lines)
{
    for (;;) {
        store_events r;
        if (!store_events_read(s, a->campaign, after, 500, &r)) {
            cli_err(CLI_FAIL, "redis unavailable");
            return false;
        }
        size_t n = r.n;
        for (size_t i = 0; i < n; i++) {
            const store_kv *kv = &r.v[i].f;
            if (kv->n == 0 || strcmp(field(kv, "instance"), a->ids[0])) continue;
            logs_print(kv, json);
            (*lines)++;
        }
        if (n > 0) fc_strlcpy(after, r.v[n - 1].id, cap);
        store_events_free(&r);
        fflush(stdout);
        if (n < 500) return true;
    }
}

/* done, failed, skipped, aborted: nothing more happens without an operator. 1, 0, -1 Redis error. */
static int instance_terminal(store *s, const ops_args *a)
{
    static const char *const f[] = {"state"};
    store_kv r;
    if (!store_record_read(s, a->campaign, a->ids[0], f, 1, &r)) return -1;
    const char *st = kv_str(&r, "state");
    int t = !strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "skipped") || !strcmp(st, "aborted") ||
            !*st;
    store_kv_free(&r);
    return t;
}

int cli_logs(fc_config *cfg, int argc, char **argv)
{
    ops_args a;
    store *s;
    char cst[32] = "";
    logs_args la = {false, false};
    static const struct option opts[] = {{"follow", no_argument, NULL, LOGS_OPT_FOLLOW},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const ops_opts x = {opts, "fo:", logs_opt, &la};
    int rc = ops_open_x(cfg, argc, argv, "logs", 1, 1, &a, &s, cst, sizeof cst, &x);
    if (rc != CLI_OK) goto cleanup;
    if (la.follow) { /* before the first line: an interrupt from then on ends it cleanly */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = logs_on_sig;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGPIPE, &sa, NULL);
    }
    /* page through the capped stream in order */
    char after[64] = "";
    int lines = 0;
    if (!logs_drain(s, &a, after, sizeof after, la.json, &lines)) {
        rc = CLI_FAIL;
        goto cleanup;
    }
    if (la.follow) {
        /* until interrupted, or the instance is terminal: its last transition
         * and its state are written by the same script, so one drain after
         * seeing the state prints that transition */
        while (!g_logs_stop) {
            int t = instance_terminal(s, &a);
            if (t < 0 || !logs_drain(s, &a, after, sizeof after, la.json, &lines)) {
                rc = t < 0 ? cli_err(CLI_FAIL, "redis unavailable") : CLI_FAIL;
                break;
            }
            if (t) break;
            for (int w = 0; w < 10 && !g_logs_stop; w++) fc_sleep_ms(100);
        }
    } else if (lines == 0 && !la.json) {
        printf("no transitions recorded for %s in campaign %s\n", a.ids[0], a.campaign);
    }
cleanup:
    return ops_close(s, &a, NULL, rc);
}
