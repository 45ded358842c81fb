/* coord — state of the coordinator: one active at a time (Redis leader
 * lease), the others standby. Each cycle the active one scans the active
 * campaigns (campaigns.c), emits due outbox entries (timers.c), re-drives
 * stuck instances (reconciler.c), admits pending ones under every limit
 * (admission.c), polls AWS fleet-wide for waiting steps (poller.c) and
 * marks finished campaigns done; at a longer period it keeps retired
 * sources stopped and master secrets followed (retired.c). */
#ifndef FC_COORD_H
#define FC_COORD_H

#include "aws.h"
#include "cfg.h"
#include "kafka.h"
#include "ratelimit.h"
#include "session.h"
#include "store.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define COORD_MAX_REGIONS 8

typedef struct inst_view {
    char id[72];
    char state[24];
    char step[48];
    char epoch[32];
    int attempt;
    int64_t deadline_ms;
    bool lease_held;
    int q_inst, q_snap;     /* resources this in-flight instance may still create */
    int q_clu;              /* DB clusters it may still create (facts set by the steps; 0 when absent) */
} inst_view;

typedef struct camp_view {
    char id[48];
    char state[16];
    char strategy[32];
    char region[32];
    char account[32];
    int max_parallel;
    bool abort_requested;   /* fleetcrypt abort CAMPAIGN: admit nothing, end `aborted` */
    char quota_seen[128];   /* the quota the CLI read at submit (rl_quota_seen_format; "" none) */
    int n;
    inst_view *inst;        /* every instance, submission order */
    int pending, inflight, terminal;
} camp_view;

typedef struct region_aws {
    char region[32];
    char account[32];
    aws_session *sess;
    aws_client *c;          /* the session's client */
    /* quota cache (DescribeAccountAttributes) */
    int64_t quota_ms;
    int inst_max, inst_used, snap_max, snap_used;
    int clu_max, clu_used;   /* DBClusters quota (-1: unknown) */
    int res_inst, res_snap, res_clu;  /* in-flight reservations when the quota was read */
    int admitted_since;      /* admitted after that read (full cost each) */
    /* poller state per kind: 0 db, 1 snap */
    int64_t last_poll_ms[2];
    int64_t next_poll_ms[2];
    /* that next poll is one placed just after an expected end (learnt
     * duration): the loop wakes for it (loop.c tick_sleep_ms) */
    bool next_poll_exact[2];
} region_aws;

/* A cross-account campaign's target account, reached through its role
 * (--target-account-role, --target-external-id from the campaign spec) as
 * the workers reach it: retired.c sets the master password there. The
 * session keeps the assumed credentials in memory only; the external id is
 * wiped on release and never logged. */
typedef struct coord_target {
    char region[32];
    char account[32];
    char role[256];
    char external_id[1280];
    aws_session *sess;
    aws_client *c;          /* the session's client */
} coord_target;

typedef struct coord {
    fc_config cfg;
    store *s;
    kafka_producer *prod;
    volatile sig_atomic_t *stop;
    char token[160];
    bool leader;
    long restarts_seen;
    int64_t deadline_s;     /* re-drive deadline for stuck instances */
    int region_limit;       /* FLEETCRYPT_REGION_INFLIGHT (0 = none) */
    int64_t poll_min_ms, poll_max_ms;
    double poll_floor_scale; /* FLEETCRYPT_POLL_FLOOR_SCALE: the wait floors' clock (waitplan_floor_ms) */
    rl_cfg rate;
    camp_view *camps;
    int ncamps;
    region_aws regions[COORD_MAX_REGIONS];
    int nregions;
    int64_t retired_next_ms;  /* retired.c: next check (monotonic ms) */
    coord_target targets[COORD_MAX_REGIONS]; /* retired.c: target accounts of cross-account campaigns */
    int ntargets;
    bool wake_admit;          /* timers.c saw STORE_OUTBOX_WAKE: admit on this tick (loop.c) */
} coord;

int coord_run(const fc_config *cfg);

/* metrics.c: /metrics at cfg->metrics_addr (NULL when unset or failed). */
struct prom_server;
struct prom_server *coord_metrics_start(const fc_config *cfg);
void coord_metrics_stop(struct prom_server *srv);
/* The loop tells the metrics whether this coordinator is the active one. */
void coord_metrics_leader(bool leader);

/* campaigns.c */
bool campaigns_scan(coord *c);
void campaigns_free(coord *c);
void campaigns_finish(coord *c);
/* Forget what earlier scans kept (final and pending records, instance
 * lists): the next scan reads everything (bench_coord_scan's full read). */
void campaigns_cache_drop(void);
/* timers.c: emit due outbox entries; sets c->wake_admit on a wake member. */
void timers_tick(coord *c);
/* reconciler.c */
void reconcile(coord *c);
/* admission.c: returns the number of instances admitted. */
int admit(coord *c);
region_aws *coord_region(coord *c, const char *region, const char *account);
/* poller.c */
void poller_tick(coord *c);
/* retired.c: every cfg.retired_check_s, retired sources AWS restarted are
 * stopped again and rotated master secrets followed onto encrypted instances. */
void retired_tick(coord *c);
/* retired.c: the target accounts' sessions freed (their external ids wiped). */
void retired_free(coord *c);
/* Pure: stop a retired source again? Only when AWS shows it `available`,
 * its record is `done` and `fleetcrypt retire` has not finished it. */
bool retired_should_stop(const char *aws_status, const char *rec_state, bool retired);

#endif
