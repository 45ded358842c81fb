/* ratelimit — limits shared by every fleetcrypt process through Redis:
 * the AWS API token bucket per (account, region, service) with AIMD
 * (lua/bucket.lua), counting semaphores for per-step classes
 * (lua/slot.lua), the aws_hooks glue that puts the bucket in front of every
 * AWS attempt, and the pure admission/quota arithmetic (unit-tested). */
#ifndef FC_RATELIMIT_H
#define FC_RATELIMIT_H

#include "store_limits.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rl_cfg {
    double rate;        /* max requests/s (default 10; FLEETCRYPT_AWS_RATE) */
    double burst;       /* bucket size (default 50; FLEETCRYPT_AWS_BURST) */
    double recover;     /* additive increase: req/s regained per second (default 0.2) */
    double min_rate;    /* floor of the multiplicative decrease (default 0.5) */
    int64_t max_wait_ms;/* give up waiting for a token after this (default 60000) */
} rl_cfg;
void rl_cfg_default(rl_cfg *c);
/* defaults, then rate and burst from the config (FLEETCRYPT_AWS_RATE / FLEETCRYPT_AWS_BURST) */
struct fc_config;
void rl_cfg_from_config(rl_cfg *c, const struct fc_config *cfg);

typedef struct rl_answer {
    bool granted;
    int64_t wait_ms;   /* when not granted: try again after this */
    double rate;       /* current (AIMD) rate */
    double tokens;
} rl_answer;

void rl_bucket_key(const store *s, const char *account, const char *region, const char *service,
                   char *out, size_t cap);
/* One token now (now_ms from the caller so tests control time). */
bool rl_take(store *s, const char *key, const rl_cfg *c, int64_t now_ms, rl_answer *out);
/* rl_take for a call made while writers are blocked (the AWS client under
 * a deadline, aws_client_retry_until): granted while the bucket holds more
 * than -RL_URGENT_DEBT tokens, so it goes ahead of the fleet's waiting
 * pollers; the debt is repaid by the others' takes (the average rate holds). */
#define RL_URGENT_DEBT STORE_BUCKET_URGENT_DEBT
bool rl_take_urgent(store *s, const char *key, const rl_cfg *c, int64_t now_ms, rl_answer *out);
/* A throttling response was seen: halve the rate, drain the bucket. */
bool rl_throttled(store *s, const char *key, const rl_cfg *c, int64_t now_ms, rl_answer *out);
/* Take a token, sleeping between tries (short waits); false after max_wait. */
bool rl_acquire(store *s, const char *key, const rl_cfg *c);
/* rl_acquire by rl_take_urgent (the aws_hooks' acquire_urgent). */
bool rl_acquire_urgent(store *s, const char *key, const rl_cfg *c);

/* Per-step class semaphores: P:slots:<account>:<region>:<class>. */
void rl_slot_key(const store *s, const char *account, const char *region, const char *cls, char *out,
                 size_t cap);
/* 1 held, 0 full, -1 error. */
int rl_slot_acquire(store *s, const char *key, const char *member, int64_t ttl_ms, int limit);
bool rl_slot_release(store *s, const char *key, const char *member);
/* Limit of a class: FLEETCRYPT_LIMIT_<CLASS> through lib/base/cfg.c's table
 * (copy 20, restore 20, cutover 10 by default; a class without a row: 10). */
int rl_class_limit(const char *cls);

/* aws_hooks glue: one rl_hook_ud per aws_client (per thread). */
typedef struct rl_hook_ud {
    store *s;
    rl_cfg cfg;
    char account[32];
    char region[32];
} rl_hook_ud;
struct aws_hooks;
void rl_hooks_fill(struct aws_hooks *h, rl_hook_ud *ud);
/* Process-wide counters (the metrics endpoint of issue 7 reads these). */
typedef struct rl_counters {
    atomic_long calls, throttles, errors, waits;
} rl_counters;
extern rl_counters rl_stats;

/* ---- admission arithmetic (pure) ---- */
typedef struct admit_input {
    int max_parallel;      /* campaign limit */
    int inflight;          /* campaign in flight now */
    int region_limit;      /* per (account, region) limit, 0 = none */
    int region_inflight;   /* every campaign's in-flight instances in this account/region */
    /* quotas from DescribeAccountAttributes; max < 0 = unknown (no limit) */
    int inst_max, inst_used, inst_reserved;  /* reserved: DB instances in-flight ones have still to create */
    int snap_max, snap_used, snap_reserved;  /* reserved: snapshots in-flight ones have still to create */
    int inst_cost, snap_cost;                /* per new instance (1, 2) */
    /* DB clusters: a source's kind is known only after its preflight (facts
     * q_clu/q_inst set from the real cluster), so a new admission costs no
     * cluster; none is admitted while in-flight clusters (clu_reserved > 0)
     * take every free cluster of the quota */
    int clu_max, clu_used, clu_reserved;
} admit_input;
/* How many instances may be admitted now (≥ 0); *why names the binding limit. */
int rl_admit_headroom(const admit_input *in, const char **why);
/* submit-time check: every target is one more DB instance and each retired
 * source stays, so used + n must fit under the quota; and one in-flight
 * instance needs snap_cost free manual snapshots. False with a one-line
 * reason carrying the numbers. */
bool rl_submit_quota_ok(int inst_max, int inst_used, int n, int snap_max, int snap_used, int snap_cost,
                        char *why, size_t cap);

/* The quota the CLI read at submit, handed to the coordinator's first
 * admission in the campaign hash (field quota_seen) so it is not asked
 * again a moment later: "AT IMAX IUSED SMAX SUSED CMAX CUSED" (AT: the
 * read's wall-clock ms; a max of -1: unknown). */
typedef struct rl_quota_seen {
    int64_t at_ms;
    int inst_max, inst_used, snap_max, snap_used, clu_max, clu_used;
} rl_quota_seen;
/* Formats q into buf (cap >= RL_QUOTA_SEEN_CAP). */
#define RL_QUOTA_SEEN_CAP 128
void rl_quota_seen_format(const rl_quota_seen *q, char *buf, size_t cap);
/* Parses s (from Redis: validated) into *q. False (nothing usable) when s
 * is malformed, a figure is out of range (max < -1, used < 0), or the read
 * is older than max_age_ms at now_ms or in its future (clocks of two
 * hosts: a read "from the future" is not trusted either). */
bool rl_quota_seen_parse(const char *s, int64_t now_ms, int64_t max_age_ms, rl_quota_seen *q);

#endif
