/* step — the step engine's types: a strategy is a table of steps
 * {name, fn, next, limit_class, deadline_s, max_attempts}; every step
 * function has one signature and returns a step_rc. The consumer loop never
 * knows a strategy: it looks the step up in the table, runs it, and hands
 * the rc to step_plan(), which decides the transition (pure logic, tested in
 * tests/unit/test_step.c). Also: a strategy's descriptor and options (the
 * catalog of descriptors is worker/strategies/catalog.h), and deterministic
 * AWS resource names.
 *
 * step_ctx is defined by the runner (worker/runner.c); step functions reach
 * it only through the step_ctx_* accessors declared here. */
#ifndef FC_STEP_H
#define FC_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    STEP_OK = 0, /* done: go to the table's next step (or finish) */
    STEP_WAIT,   /* re-run this step at res->wait_ms from now (no thread sleeps) */
    STEP_RETRY,  /* transient failure: new attempt after capped jittered backoff */
    STEP_FAIL,   /* permanent failure: instance failed, res->reason says why */
    STEP_SKIP,   /* instance not eligible (e.g. already encrypted): skipped */
    STEP_NEXT    /* jump to res->next */
} step_rc;

#define STEP_REASON_MAX 480
#define STEP_MAX_FIELDS 48

typedef struct step_result {
    int64_t wait_ms;               /* STEP_WAIT */
    char reason[STEP_REASON_MAX];  /* FAIL/SKIP/RETRY (and WAIT, for logs) */
    char next[48];                 /* STEP_NEXT */
    /* What the coordinator's fleet poller must watch for this wait:
     * "db:<id>" or "snap:<id>" ("" = nothing). */
    char wait_on[96];
} step_result;

/* Engine conventions a strategy opts into:
 * - a step named STEP_ABORT_NAME, not reachable through `next`, undoes what
 *   the instance's facts say was done. When the record has
 *   abort_requested=1 the runner jumps to it instead of running the current
 *   step; when it returns STEP_OK the instance ends `aborted`. A strategy
 *   without one fails the instance with a clear reason instead.
 * - failure undo: a step whose on_fail names a step of the table does not
 *   fail the instance; the planner jumps to on_fail (outcome "fail", state
 *   running, transition.undo) with the failure as the record's error, and
 *   the store records it as facts undo_reason (the reason) and undo_from
 *   (the failed step) — lua/step_end.lua. The undo step then ends the
 *   instance `failed` by returning STEP_FAIL (keeping the original reason;
 *   res->next may name the failed step, which the record then shows), or
 *   `aborted` with STEP_OK as above. `fleetcrypt retry` refuses an instance
 *   whose failure was undone (fact undo_done=1): there is nothing to resume.
 * - a STEP_WAIT whose reason starts with STEP_APPROVAL_PREFIX puts the
 *   instance in state `waiting_approval` (shown by status/top) until the
 *   step runs again and returns something else. */
#define STEP_ABORT_NAME "abort"
#define STEP_APPROVAL_PREFIX "waiting for approval"

typedef struct step_ctx step_ctx;
typedef step_rc (*step_fn)(step_ctx *ctx, step_result *res);

/* One step of a strategy's table: what the engine (step_plan, the
 * reconciler, the limits) needs to know about it. The function that runs
 * it is bound by name in the worker (worker/registry.h), so the CLI and the
 * coordinator read a strategy's table without linking its step code. */
typedef struct step_def {
    const char *name;
    const char *next;         /* NULL: last step (instance done) */
    const char *limit_class;  /* NULL or "copy", "restore", "cutover": shared concurrency limit */
    int deadline_s;           /* no progress for this long → the reconciler re-drives */
    int max_attempts;         /* RETRY beyond this fails the instance (0 = default 8) */
    /* The step to run when this one fails (STEP_FAIL, or RETRY beyond
     * max_attempts) instead of failing the instance at once: the undo of
     * something this step may leave behind that costs the source while
     * nobody watches (pg-logical: the slot retaining WAL). NULL: fail at
     * once. See "failure undo" above. */
    const char *on_fail;
} step_def;

/* A step's wait floor: the shortest time, in AWS's real seconds, the AWS
 * operation the step waits on takes (a restore provisions a host and a
 * volume: minutes). A first wait of the step with nothing learnt is first
 * looked at at its floor, not on the back-off through it
 * (lib/engine/waitplan.h, "Floors"): conservative, below AWS's fastest; an
 * operation beating it is seen at most the difference late, and only until
 * the step's duration is learnt. */
typedef struct step_floor {
    const char *step;
    int seconds;
} step_floor;
/* The floors, per AWS operation (AWS's real seconds; the emulator models
 * each longer: tools/awssim/sim/rds_common.py DUR): a restore from a
 * snapshot or a create provisions a host and a volume (minutes on AWS; the
 * emulator 300 s + 1.5 s/GiB); a manual snapshot, a stop, a rename take tens
 * of seconds at the least (emulator 60 s + 2 s/GiB, 60 s, 60 s). A copy
 * has none: its PercentProgress plans it, and a snapshot copy can take as
 * little as the calls bench's 10 s. A cutover's in-run awaits have none:
 * their lateness is downtime. */
#define STEP_FLOOR_RESTORE_S 180
#define STEP_FLOOR_SNAPSHOT_S 30
#define STEP_FLOOR_STOP_S 30
#define STEP_FLOOR_RENAME_S 30

/* ---- campaign options a strategy declares ----
 * Given as `--name VALUE` (`--name` alone for OPT_BOOL) to submit or as
 * "name" in a campaign file, checked at submit (opt_check) and again when a
 * step starts; steps read the checked value with step_ctx_opt*(). */
typedef enum { OPT_STRING, OPT_ENUM, OPT_BOOL, OPT_INT, OPT_BYTES } opt_type;
typedef struct opt_def {
    const char *name;
    opt_type type;
    const char *allowed;     /* OPT_ENUM: "a|b|c"; OPT_INT: "min..max"; else NULL */
    const char *def;         /* default when not given ("" = none) */
    bool (*validate)(const char *v, char *err, size_t cap); /* further check, or NULL */
    const char *help;        /* one line */
    bool tuning;             /* campaign file only: not a submit flag, not in --help */
} opt_def;

#define STRATEGY_MAX_OPTS 48

/* A strategy's descriptor: everything the CLI (validation, --help, dry
 * run, abort), the coordinator (admission cost) and the docs need, in one
 * place (worker/strategies/<name>/descriptor.c; the list of them is
 * worker/strategies/strategies.def). */
typedef struct strategy_def {
    const char *name;
    const char *summary;         /* one line for `fleetcrypt strategies` */
    const char *engines;         /* RDS engine names it serves, space-separated */
    const step_def *steps;       /* steps[0] is the first step */
    size_t nsteps;
    const opt_def *opts;
    size_t nopts;
    /* admission cost of one in-flight instance (facts q_inst/q_snap start
     * here; steps lower them as they release what they counted) */
    int quota_instances;         /* DB instances it may add */
    int quota_snapshots;         /* manual snapshots it may hold at once */
    bool uses_aws;               /* false: no AWS call is made for it anywhere (noop) */
    /* What abort undoes, one line for `abort --help` and the docs; NULL: the
     * strategy has no undo step and abort fails an in-flight instance. */
    const char *abort_undo;
    const char *downtime_note;   /* printed by submit before it asks to go on */
    /* dry run: appended to an eligible instance's verdict, and the one
     * parameter-group setting it checks (NULL: none) */
    const char *dry_run_note;
    const char *required_param;
    const char *required_value;
    /* The OPT_BOOL option that makes a source already encrypted with a KMS
     * key other than the campaign's eligible (re-key: an encrypted snapshot
     * copied with the campaign key), for the dry run and its hint; NULL: the
     * strategy skips such a source. */
    const char *rekey_option;
    /* The OPT_BOOL option that lets the strategy apply required_param itself
     * (a reboot; for an Aurora cluster, a copy of its cluster parameter
     * group with the value and a writer reboot), for the dry run's verdict
     * and hint; NULL: a source without it fails. For an Aurora cluster
     * source required_param is read in its *cluster* parameter group. */
    const char *reboot_option;
    /* dry run: appended to an Aurora cluster's verdict when an RDS Proxy has
     * the cluster as its target (TRACKED_CLUSTER), after the proxies' names:
     * how the strategy's cutover moves the proxy. NULL: the strategy does not
     * switch proxies, and the verdict says so. */
    const char *proxy_cluster_note;
    /* dry run: the same for an instance an RDS Proxy has as its target
     * (RDS_INSTANCE). NULL: the strategy does not switch proxies. */
    const char *proxy_instance_note;
    /* Wait floors of its steps (step_floor; a step not listed: none). */
    const step_floor *wait_floors;
    size_t nwait_floors;
} strategy_def;

/* The worker's half of a strategy: its step functions, bound to the
 * descriptor's steps by name (worker/registry.c checks every step has one). */
typedef struct step_impl {
    const char *step;
    step_fn fn;
} step_impl;
typedef struct strategy_impl {
    const strategy_def *def;
    const step_impl *fns;
    size_t nfns;
} strategy_impl;
step_fn strategy_impl_fn(const strategy_impl *si, const char *step);

const step_def *strategy_step(const strategy_def *sd, const char *name);
const opt_def *strategy_opt(const strategy_def *sd, const char *name);
/* The wait floor of sd's step, AWS seconds (0: none, or unknown step). */
int strategy_wait_floor_s(const strategy_def *sd, const char *step);
bool strategy_serves_engine(const strategy_def *sd, const char *engine);
/* Is v a valid value for o (type, allowed values, validator)? */
bool opt_check(const opt_def *o, const char *v, char *err, size_t cap);
/* A boolean option's value: "1", "true", "on", "yes" (any case) are true. */
bool opt_truthy(const char *v);
/* "512MB", "2GiB", "1048576" → bytes (K/M/G/T, optional i and B). */
bool opt_parse_bytes(const char *v, int64_t *out);
/* The options of sd from a campaign spec (a JSON object as submit stored
 * it; keys are option names, '_' and '-' alike): every value checked, the
 * default for one not given. out[i] is opts[i]'s value (malloc'd; free with
 * strategy_opts_free). False with err naming the option on a bad value. */
bool strategy_opts_resolve(const strategy_def *sd, const char *spec_json, char **out, char *err, size_t cap);
void strategy_opts_free(const strategy_def *sd, char **vals);

/* ---- transition planning (pure) ---- */
typedef struct step_limits {
    int64_t grace_ms;        /* outbox grace before the coordinator re-emits a successor */
    int deadline_cap_s;      /* cap every step deadline (tests); 0 = none */
    int64_t backoff_base_ms; /* retry backoff: full jitter in [0, min(cap, base*2^(attempt-1))] */
    int64_t backoff_cap_ms;
} step_limits;
void step_limits_default(step_limits *l);

typedef struct step_transition {
    const char *outcome;   /* ok next wait retry fail skip */
    char new_step[48];
    const char *new_state; /* running done failed skipped */
    uint32_t new_attempt;
    int64_t due_ms;        /* outbox due time, -1 when there is no successor */
    bool emit_now;         /* successor is due now: the worker produces it at once */
    int64_t deadline_ms;   /* when the reconciler may consider the instance stuck */
    char error[STEP_REASON_MAX + 64];
    bool undo;             /* a failure handed to the step's on_fail (new_step) */
} step_transition;

void step_plan(const strategy_def *sd, const step_def *cur, step_rc rc, const step_result *res,
               uint32_t attempt, int64_t now_ms, const step_limits *lim, step_transition *out);
int64_t step_backoff_bound_ms(const step_limits *lim, uint32_t attempt);
int64_t step_deadline_s(const step_limits *lim, const step_def *d);
const char *step_rc_name(step_rc rc);

/* ---- deterministic AWS resource names ----
 * "fc-<campaign>-<instance>-<suffix>" when that is a valid RDS identifier
 * (≤ 63 chars, no "--", lowercase); otherwise the campaign and instance
 * parts are shortened and an 8-hex hash of "campaign/instance" keeps names
 * unique. Same inputs → same name, always. */
bool step_resource_name(const char *campaign, const char *instance, const char *suffix, char *out,
                        size_t cap);

/* ---- accessors the runner implements for step functions ---- */
const char *step_ctx_campaign(const step_ctx *ctx);
const char *step_ctx_instance(const step_ctx *ctx);
const char *step_ctx_step(const step_ctx *ctx);
uint32_t step_ctx_attempt(const step_ctx *ctx);
/* The fencing number taken with this run's lease (decimal, increasing
 * across holders of an instance): carried into the databases a step changes
 * (pgl_fence), so a holder that lost its lease is refused there too. */
const char *step_ctx_fence(const step_ctx *ctx);
/* Campaign field (kms_key_arn, region, account, keep_snapshots, ...); "" if unset. */
const char *step_ctx_campaign_field(const step_ctx *ctx, const char *name);
/* A learned fact (record field "f.<name>"), or NULL. Includes facts set
 * earlier in this step. */
const char *step_ctx_fact(const step_ctx *ctx, const char *name);
/* Record a fact; written with the step's outcome (fenced). Never a secret. */
void step_ctx_set_fact(step_ctx *ctx, const char *name, const char *value);
void step_ctx_set_factf(step_ctx *ctx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The step-level "this step acted" guard (docs/orchestration.md, "Acting
 * without looking"). A step calls it just before a mutating AWS call that
 * an earlier run of the same step may already have made: it persists fact
 * <name> (the time, ms) at once, fenced like the outcome, then answers
 * STEP_INTENT_FIRST when no earlier run can have made the call (the fact
 * was not in the record and Redis has not restarted since the step began):
 * act without describing first; STEP_INTENT_LOOK when one may have (the
 * fact was there, or a Redis restart may have lost it): look first, as a
 * re-delivered step does; STEP_INTENT_NO when it could not be persisted
 * (lease lost, Redis down): do not act, return STEP_RETRY. */
typedef enum { STEP_INTENT_FIRST, STEP_INTENT_LOOK, STEP_INTENT_NO } step_intent;
step_intent step_ctx_intent(step_ctx *ctx, const char *name);
/* Fact <name> = value persisted at once, fenced like the outcome (and set
 * for the outcome too): what a run killed mid-step must leave for the next
 * one when the world alone would not tell it (pg-logical's proxy cutover:
 * the proxies it takes the source off before the switch). False when it
 * could not be (lease lost, Redis down, the record not 'running' — e.g.
 * still waiting_approval in the run that follows the approval): do not act
 * on it (it is set for the outcome anyway). */
bool step_ctx_persist_fact(step_ctx *ctx, const char *name, const char *value);
/* A campaign option the strategy declares (strategy_def.opts), checked,
 * with its default applied ("" when neither given nor defaulted); asking
 * for an undeclared name is a bug: logged, "" returned. */
const char *step_ctx_opt(step_ctx *ctx, const char *name);
bool step_ctx_opt_bool(step_ctx *ctx, const char *name);
/* OPT_INT / OPT_BYTES as a number (bytes: "512MB", "2GiB", ...); dflt when unset. */
int64_t step_ctx_opt_i64(step_ctx *ctx, const char *name, int64_t dflt);
/* Set a public record field (downtime_s, rows_verified). */
void step_ctx_set_field(step_ctx *ctx, const char *name, const char *value);
/* The thread's AWS client (rate-limited through Redis), NULL if it cannot be made. */
struct aws_client *step_ctx_aws(step_ctx *ctx);
/* The campaign's target account's client: with the option
 * target-account-role set (fact/opt read by the strategy), a session that
 * assumes that role (external id from target-external-id) on top of the
 * worker's own credentials, cached per thread and renewed before the
 * credentials expire; without it, step_ctx_aws. NULL if it cannot be made
 * (the failure is logged without the external id). */
struct aws_client *step_ctx_aws_target(step_ctx *ctx);
/* Is the campaign cross-account (target-account-role set)? */
bool step_ctx_cross_account(step_ctx *ctx);
/* Before every mutating AWS or SQL call: true when the lease still has
 * enough time left (renewing it if needed); false = lease lost, return
 * STEP_RETRY without acting. */
bool step_ctx_lease_ok(step_ctx *ctx);
/* When this run's step deadline falls (fc_mono_ms clock): past it the lease
 * is no longer renewed and another worker may take the step over. */
int64_t step_ctx_run_deadline(const step_ctx *ctx);
/* The fleet poller's cached view of a resource ("db" or "snap"):
 * returns true when the cache has an entry newer than since_ms; *present
 * says whether the resource existed in that poll; fields copied into
 * status/pct. next_poll_ms: when the next poll is planned. */
typedef struct step_cache_view {
    bool fresh;            /* a poll finished after since_ms */
    bool present;
    char status[48];
    int pct;
    bool encrypted;
    char kms_key[256];
    char address[256];     /* a DB instance's endpoint ("" none yet, or a snapshot) */
    int port;              /* its port (0 none) */
    int64_t poll_ms;       /* when the poll that produced this ran */
    int64_t next_poll_ms;  /* when the next poll is planned */
} step_cache_view;
bool step_ctx_cache(step_ctx *ctx, const char *kind, const char *id, int64_t since_ms,
                    step_cache_view *out);
/* How long operation op (lib/engine/waitplan.h waitplan_opkey) took before
 * in the campaign's region (P:opdur:<region>; 0 unknown), and learning one
 * more wait of it whose end lay in (lo_ms, hi_ms] (waitplan_learn). */
int64_t step_ctx_opdur(step_ctx *ctx, const char *op);
void step_ctx_opdur_learn(step_ctx *ctx, const char *op, int64_t lo_ms, int64_t hi_ms);
/* Take (or refresh) a slot of a shared concurrency class; false when full. */
bool step_ctx_slot(step_ctx *ctx, const char *cls);
/* The look board of the campaign's in-run awaits in its region, on side
 * "source" or "target" (lib/store/store_looks.h: what each call does;
 * entries: lib/engine/lookboard.h). All times wall-clock ms. False on a
 * Redis error. read: id's entry ("" none), the latest look's begin and the
 * latest failed one's (0 none); ask: a look begins now_ms, up to max ids
 * awaited into ids (*n); put: publish entries[k] (each beginning with its
 * sent ms) for ids[k]; want: register id as awaited until
 * until_ms (0 takes it and its plan off); plan: id's next look at own_ms,
 * *other_ms the earliest another plans within [from_ms, to_ms] (0 none). */
bool step_ctx_looks_read(step_ctx *ctx, const char *side, const char *id, char *entry, size_t cap,
                         int64_t *asking_ms, int64_t *failed_ms);
bool step_ctx_looks_ask(step_ctx *ctx, const char *side, int64_t now_ms, char (*ids)[64], size_t max, size_t *n);
bool step_ctx_looks_put(step_ctx *ctx, const char *side, const char *const *ids, const int64_t *sent_ms,
                        const char *const *entries, size_t n);
bool step_ctx_looks_want(step_ctx *ctx, const char *side, const char *id, int64_t until_ms);
bool step_ctx_looks_plan(step_ctx *ctx, const char *side, const char *id, int64_t own_ms, int64_t from_ms,
                         int64_t to_ms, int64_t *other_ms);

#endif
