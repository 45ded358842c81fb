/* store_model — fleetcrypt's Redis model: the fenced operations on
 * campaigns and instance records, each one Lua script (lua/<name>.lua), and
 * the typed reads and plain writes of campaigns, instance records,
 * counters and the event stream that the CLI and the coordinator use.
 * Everything handed out is a C value or an owned copy (store_kv, sargs,
 * arrays) the caller frees with the function named beside it. Key names
 * never leave lib/store/. docs/redis-keys.md is the table of keys;
 * docs/orchestration.md explains leases, fencing, epochs and the outbox
 * (store_outbox.h). */
#ifndef FC_STORE_MODEL_H
#define FC_STORE_MODEL_H

#include "store.h"
#include "store_outbox.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- campaign creation (CLI) ---- */
/* fields: name/value pairs for the campaign hash; ids: the instances.
 * Returns 1 created, 0 exists, -1 error. */
int store_campaign_create(store *s, const char *campaign, const char *const *fields, int nfields,
                          const char *const *ids, int nids, int64_t now_ms);
/* members "<region>/<id>". Returns 1 claimed, 0 conflict (member and other
 * campaign in conflict_member/conflict_campaign), -1 error. */
int store_active_claim(store *s, const char *campaign, const char *const *members, int n,
                       char *conflict_member, size_t cm_cap, char *conflict_campaign, size_t cc_cap);
int store_active_release(store *s, const char *campaign, const char *const *members, int n);

/* ---- step begin (worker) ---- */
typedef enum { SB_OK = 0, SB_GONE, SB_STALE, SB_PAUSED, SB_BUSY, SB_ERROR } sb_status;
typedef struct step_begin_out {
    sb_status st;
    char why[160];
    char fence[32];
    int64_t busy_pttl_ms;
    store_kv rec;        /* the instance record (owned; freed by store_step_begin_done) */
    store_kv campaign;   /* the campaign hash (owned; likewise) */
} step_begin_out;
typedef struct step_msg_ref {
    const char *campaign, *instance, *step;
    uint32_t attempt;
    uint64_t epoch;
} step_msg_ref;
bool store_step_begin(store *s, const step_msg_ref *m, const char *token, int64_t ttl_ms,
                      const char *node, step_begin_out *out);
void store_step_begin_done(step_begin_out *out);
/* 1 still held (renewed), 0 lost, -1 Redis error. */
int store_lease_renew(store *s, const char *campaign, const char *instance, const char *token,
                      int64_t ttl_ms);

/* A fact persisted at once, while the step runs (record field "f.<name>"),
 * fenced like store_step_end (lua/fact_put.lua): 1 written, 0 fenced (lease
 * lost, fence or step moved on), -1 Redis error. */
int store_fact_put(store *s, const step_msg_ref *m, const char *token, const char *fence, const char *name,
                   const char *value);

/* ---- step end (worker) ---- */
typedef struct step_end_in {
    const step_msg_ref *msg;
    const char *token, *fence;
    const char *outcome;     /* ok next wait retry fail skip */
    const char *new_step;
    const char *new_state;   /* running done failed skipped aborted waiting_approval */
    uint32_t new_attempt;
    int64_t due_ms;          /* outbox due time; < 0: no successor */
    const char *error;       /* "" clears */
    int64_t deadline_ms;
    const char *node;
    int64_t duration_ms;
    const char *strategy;
    const sargs *fields;     /* name/value pairs written into the record */
} step_end_in;
typedef enum { SE_OK = 0, SE_FENCED, SE_ERROR } se_status;
se_status store_step_end(store *s, const step_end_in *in, char *epoch, size_t ecap, char *member,
                         size_t mcap, char *why, size_t wcap);
/* store_step_end, and then the begin of the executor's next message (as
 * store_step_begin(s, next, token, ttl_ms, node, out)) in the same round
 * trip: two scripts pipelined, run in this order, each atomic and fenced as
 * on its own (a worker step's two round trips become one: step_begin of the
 * next message rides on step_end of this one). *begun is true when *out
 * holds the begin's outcome (free with store_step_begin_done); false when
 * it did not run or its reply was lost (the connection was down or broke, or
 * the script was not loaded): then call store_step_begin for it as usual. A
 * step_end that did not run is run as store_step_end would. */
se_status store_step_end_begin(store *s, const step_end_in *in, char *epoch, size_t ecap, char *member,
                               size_t mcap, char *why, size_t wcap, const step_msg_ref *next, const char *token,
                               int64_t ttl_ms, const char *node, step_begin_out *out, bool *begun);

/* ---- coordinator ---- */
typedef enum { AD_OK = 0, AD_FULL, AD_SKIP, AD_ERROR } ad_status;
/* store_admit, store_admit_many: store_admit.h */
/* Returns 1 re-driven, 0 skipped, -1 error. */
int store_redrive(store *s, const char *campaign, const char *instance, const char *expected_epoch,
                  const char *reason, int64_t deadline_ms, const char *node, bool stuck);
/* Returns 1 changed, 0 not, -1 error. from "*" = any. */
int store_campaign_set_state(store *s, const char *campaign, const char *from, const char *to);

/* 1 this token holds the coordinator's leader lease (2: just acquired
 * it), 0 another holds it, -1 Redis error (lua/leader.lua). */
int store_leader_lease(store *s, const char *token, int64_t ttl_ms);
/* Let the lease expire at once if token holds it (shutdown). */
void store_leader_release(store *s, const char *token);

/* One instance as the coordinator's scan sees it (lua/campaign_scan.lua). */
typedef struct store_scan_row {
    char state[24];
    char step[48];
    char epoch[32];
    int attempt;
    int64_t deadline_ms;
    int q_inst, q_snap, q_clu; /* f.q_inst, f.q_snap, f.q_clu (a DB cluster) ... */
    bool q_inst_set, q_snap_set; /* ... when the record has them (non-empty; q_clu: 0 when absent) */
    bool lease_held;           /* only looked at when the deadline is <= lease_past_ms (below) */
} store_scan_row;
/* Rows of ids[0..n) of campaign into out[0..n), one round trip. The lease
 * key is looked at only for in-flight records whose deadline_ms is set and
 * <= lease_past_ms (the ones the reconciler may re-drive as stuck), or for
 * every in-flight one when lease_past_ms is 0 (after a Redis restart).
 * False on a Redis error or a short answer (out then undefined). */
bool store_campaign_scan(store *s, const char *campaign, const char *const *ids, size_t n, int64_t lease_past_ms,
                         store_scan_row *out);

/* ---- reads (CLI views, coordinator) ---- */
/* Campaign ids by creation time (P:campaigns), oldest first, or newest
 * first; limit <= 0: every one. Appended to out (caller sargs_free).
 * False on a Redis error. */
bool store_campaigns(store *s, bool newest_first, int limit, sargs *out);
/* How many campaigns P:campaigns lists (one ZCARD: the coordinator's tick
 * sees a new submit without listing them); -1 on a Redis error. */
long store_campaigns_count(store *s);
/* 1 the campaign hash exists, 0 not, -1 Redis error. */
int store_campaign_exists(store *s, const char *campaign);
/* Fields of the campaign hash into out (fields NULL: the whole hash); out
 * is empty when the campaign does not exist. Caller store_kv_free(out).
 * False on a Redis error (out empty). */
bool store_campaign_read(store *s, const char *campaign, const char *const *fields, size_t n, store_kv *out);
/* Fields of instance id's record, likewise. */
bool store_record_read(store *s, const char *campaign, const char *id, const char *const *fields, size_t n,
                       store_kv *out);
/* Fields of the campaign's counters hash (state → n, step:<name> → n), likewise. */
bool store_counts_read(store *s, const char *campaign, const char *const *fields, size_t n, store_kv *out);
/* Sum of the throughput counters "<kind>:<minute>" (kind "s" steps, "i"
 * instances done) for the minutes cur_minute, cur_minute-1, ...,
 * cur_minute-minutes+1 (0 on a Redis error). */
long long store_tput_sum(store *s, const char *campaign, const char *kind, int64_t cur_minute, int minutes);
/* The campaign's instance ids in submission order, appended to out (caller
 * sargs_free). False on a Redis error. */
bool store_instances(store *s, const char *campaign, sargs *out);
/* 1 id is an instance of campaign, 0 not, -1 Redis error. */
int store_instance_member(store *s, const char *campaign, const char *id);
/* The active campaign that holds member "<region>/<id>" (P:active-instances)
 * into owner: 1 held, 0 not, -1 Redis error. */
int store_active_owner(store *s, const char *member, char *owner, size_t cap);

/* ---- the event stream (fleetcrypt logs) ---- */
typedef struct store_event {
    char id[48];  /* stream entry id */
    store_kv f;   /* its fields (ts instance event step attempt ...); empty if malformed */
} store_event;
typedef struct store_events {
    store_event *v;
    size_t n;
} store_events;
/* Up to count entries in order, after entry id `after` (NULL or "": from
 * the start). Caller store_events_free(out). False on a Redis error. */
bool store_events_read(store *s, const char *campaign, const char *after, size_t count, store_events *out);
void store_events_free(store_events *e);
/* A transition-like entry written outside the step scripts (the
 * coordinator's retired watch): attempt 0, from = to = state, ts now. */
bool store_event_add(store *s, const char *campaign, const char *instance, const char *event, const char *step,
                     const char *state, const char *reason, const char *node);

/* ---- plain writes (no fencing needed: done records, campaign flags) ---- */
typedef enum { STORE_CAMPAIGN_ABORT_REQUESTED, STORE_CAMPAIGN_APPROVED } store_campaign_flag;
/* Set the campaign field (abort_requested / approved) to 1. */
bool store_campaign_flag_set(store *s, const char *campaign, store_campaign_flag f);
/* fleetcrypt retire on a done record: retiring_ms (only if unset) before its
 * first AWS call; then retired_at, final_snapshot, retired_source. */
bool store_record_retiring(store *s, const char *campaign, const char *id, int64_t now_ms);
bool store_record_retired(store *s, const char *campaign, const char *id, int64_t now_ms, const char *snapshot,
                          const char *source);
/* The coordinator's retired watch followed a master secret rotation:
 * f.master_secret_version and f.master_secret_synced_at. */
bool store_record_secret_synced(store *s, const char *campaign, const char *id, const char *version,
                                int64_t now_ms);

/* ---- operator verbs on one instance (CLI), one script each ---- */
typedef enum {
    STORE_OP_ABORT,
    STORE_OP_APPROVE,
    STORE_OP_PAUSE,
    STORE_OP_RESUME,
    STORE_OP_ROLLBACK, /* lua/intent.lua: pg-logical's rollback window */
    STORE_OP_FINALIZE
} store_op_kind;
/* A script's answer: its status word and up to two details (e.g. "terminal",
 * the state; retry: "ok", step, attempt or "refused", why). */
typedef struct store_op {
    char status[32];
    char detail[512];
    char detail2[64];
} store_op;
/* lua/abort.lua, approve.lua, pause.lua or intent.lua on instance id. named: the
 * instance was named by the operator (not campaign-wide). False on a Redis
 * error. */
bool store_instance_op(store *s, const char *campaign, const char *id, store_op_kind op, int64_t now_ms,
                       const char *node, bool named, store_op *out);
/* lua/retry.lua: a failed instance back to running at its failed step, or
 * (undo) at its strategy's abort step. False on a Redis error. */
bool store_instance_retry(store *s, const char *campaign, const char *id, int64_t now_ms, int64_t deadline_ms,
                          const char *node, bool undo, store_op *out);

/* ---- fleetcrypt report --select (lua/report_lookup.lua) ---- */
typedef struct store_lookup_hit {
    long long pos;  /* 1-based position in ids (0 when malformed) */
    store_kv rec;   /* its record */
} store_lookup_hit;
typedef struct store_lookup {
    bool found;         /* the campaign exists */
    store_kv campaign;  /* its hash */
    store_lookup_hit *v;
    size_t n;
} store_lookup;
/* Which of ids[0..n) campaign holds, with the campaign hash and their
 * records, in one round trip. Caller store_lookup_free(out). False on a
 * Redis error. */
bool store_report_lookup(store *s, const char *campaign, const char *const *ids, size_t n, store_lookup *out);
void store_lookup_free(store_lookup *l);

#endif
