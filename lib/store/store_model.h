/* store_model — fleetcrypt's Redis model: key names and the fenced
 * operations on campaigns and instance records, each one Lua script
 * (lua/<name>.lua). docs/redis-keys.md is the table of keys; docs/orchestration.md
 * explains leases, fencing, epochs and the outbox. */
#ifndef FC_STORE_MODEL_H
#define FC_STORE_MODEL_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_KEY_MAX 256
#define STORE_TIMER_MAX 256

/* Keys of one campaign (hash tag {campaign}). */
typedef struct ckeys {
    char campaign[STORE_KEY_MAX]; /* HASH  P:{C}:campaign */
    char instances[STORE_KEY_MAX];/* ZSET  P:{C}:instances */
    char counts[STORE_KEY_MAX];   /* HASH  P:{C}:counts */
    char events[STORE_KEY_MAX];   /* STREAM P:{C}:events */
    char timers[STORE_KEY_MAX];   /* ZSET  P:{C}:timers (outbox) */
    char tput[STORE_KEY_MAX];     /* HASH  P:{C}:tput */
    char seq[STORE_KEY_MAX];      /* STRING P:{C}:seq (epochs and fences) */
} ckeys;
void store_ckeys(const store *s, const char *campaign, ckeys *k);
void store_rec_key(const store *s, const char *campaign, const char *id, char *out, size_t cap);
void store_lease_key(const store *s, const char *campaign, const char *id, char *out, size_t cap);

/* A parsed outbox entry "<instance>|<step>|<attempt>|<epoch>". */
typedef struct timer_entry {
    char instance[72];
    char step[48];
    uint32_t attempt;
    uint64_t epoch;
} timer_entry;
bool store_timer_parse(const char *member, timer_entry *out);

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
    store_kv rec;        /* the instance record (valid until store_step_begin_done) */
    store_kv campaign;   /* the campaign hash */
    redisReply *reply;   /* owned */
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
/* ZREM one outbox entry (after its message was acknowledged). */
bool store_timer_done(store *s, const char *campaign, const char *member);

/* ---- coordinator ---- */
typedef enum { AD_OK = 0, AD_FULL, AD_SKIP, AD_ERROR } ad_status;
ad_status store_admit(store *s, const char *campaign, const char *instance, const char *first_step,
                      int64_t deadline_ms, int max_parallel, const char *node, const sargs *fields,
                      char *member, size_t mcap);
/* Returns 1 re-driven, 0 skipped, -1 error. */
int store_redrive(store *s, const char *campaign, const char *instance, const char *expected_epoch,
                  const char *reason, int64_t deadline_ms, const char *node, bool stuck);
typedef enum { TT_EMIT = 0, TT_PAUSED, TT_STALE, TT_ERROR } tt_status;
tt_status store_timer_take(store *s, const char *campaign, const char *member, const timer_entry *t,
                           int64_t postpone_ms, char *strategy, size_t scap);
/* Returns 1 changed, 0 not, -1 error. from "*" = any. */
int store_campaign_set_state(store *s, const char *campaign, const char *from, const char *to);

#endif
