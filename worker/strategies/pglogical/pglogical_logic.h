/* pglogical_logic — the pure decisions of strategy pg-logical, kept apart
 * from AWS and SQL so that unit tests (tests/unit/test_pglogical_logic.c)
 * can drive them table by table: campaign option parsing, the per-instance
 * tag that names every database object, the retained-WAL guard, the
 * catch-up readiness hysteresis and the cutover gate (window + approval).
 * No step_ctx here: nothing in this file touches Redis, AWS or PostgreSQL. */
#ifndef FC_STRATEGY_PGLOGICAL_LOGIC_H
#define FC_STRATEGY_PGLOGICAL_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "window.h"

/* "1", "true", "yes", "on" (any case) → true; everything else false. */
bool pgl_truthy(const char *v);
/* Byte count with an optional K/M/G/T suffix (powers of 1024, optional
 * trailing "B"/"iB"): "1048576", "512M", "10GiB". "" → *out = dflt. */
bool pgl_parse_bytes(const char *v, int64_t dflt, int64_t *out);

/* The tag pgl_names_make() turns into object names (fc_<tag>, …):
 * 1-40 of [a-z0-9_], a letter first, derived from campaign + instance only.
 * Short pairs read as "<campaign>_<instance>"; long ones are cut and keep
 * an 8-hex hash of "campaign/instance" so they stay unique. */
bool pgl_make_tag(const char *campaign, const char *instance, char *out, size_t cap);

/* ---- retained WAL on the source (from prepare-source until the slot is dropped) ---- */
typedef enum { PGL_WAL_OK = 0, PGL_WAL_ABORT } pgl_wal_verdict;
typedef struct pgl_wal_in {
    int64_t retained_bytes;  /* largest over our slots: current - restart_lsn */
    int64_t limit_bytes;     /* campaign max_retained_wal_bytes; 0 = none */
    int64_t allocated_bytes; /* the source's AllocatedStorage; 0 = unknown */
    int64_t used_bytes;      /* databases + WAL on disk; < 0 = unknown */
    int64_t min_free_bytes;  /* keep at least this free (0 = 10% of allocated, at least 1 GiB, at most 20 GiB) */
} pgl_wal_in;
pgl_wal_verdict pgl_wal_check(const pgl_wal_in *in, char *why, size_t cap);

/* ---- catch-up readiness: lag under a threshold for a while ---- */
typedef struct pgl_lag_in {
    int64_t now_ms;
    int64_t lag_bytes;        /* largest over our slots: current - confirmed_flush */
    int64_t threshold_bytes;
    int64_t stable_ms;        /* how long the lag must stay under the threshold */
    int64_t under_since_ms;   /* from the previous run; 0 = was not under */
} pgl_lag_in;
typedef struct pgl_lag_out {
    bool ready;
    int64_t under_since_ms;   /* record for the next run (0 = not under) */
    int64_t wait_ms;          /* when not ready: how soon to look again */
} pgl_lag_out;
void pgl_lag_decide(const pgl_lag_in *in, pgl_lag_out *out);

/* ---- the cutover gate ---- */
typedef enum { PGL_GATE_GO = 0, PGL_GATE_WINDOW, PGL_GATE_APPROVAL } pgl_gate;
typedef struct pgl_gate_in {
    const fc_window *window;
    int64_t now_ms;
    bool need_approval;       /* campaign cutover_mode = approve */
    bool approved;            /* instance fact or campaign field approved=1 */
    int64_t min_window_left_ms; /* refuse to start a cutover this close to the window's end */
} pgl_gate_in;
/* *wait_ms: how long to wait before looking again (window: until it opens). */
pgl_gate pgl_gate_check(const pgl_gate_in *in, int64_t *wait_ms);

/* ---- live validation during catch-up: one chunk checked again ----
 * The target's digest was taken after it applied past the source capture's
 * LSN X; when it differs, the source is digested again (X'). */
typedef enum { PGL_LIVE_OK = 0, PGL_LIVE_REQUEUE, PGL_LIVE_SUSPECT, PGL_LIVE_UNSETTLED } pgl_live_verdict;
typedef struct pgl_live_in {
    bool target_equal;  /* the target's digest equals the source's at X */
    bool source_stable; /* the source's digest at X' equals the one at X */
    int strikes;        /* earlier mismatches against a stable source, in a row */
    int tries;          /* earlier re-checks that were inconclusive (the source moved) */
    int max_strikes;    /* suspect at this many strikes (<= 0: 3) */
    int max_tries;      /* give up at this many inconclusive re-checks (<= 0: 20) */
} pgl_live_in;
/* OK when equal; a mismatch against a stable source is a strike (SUSPECT at
 * max_strikes), otherwise inconclusive (UNSETTLED at max_tries); REQUEUE
 * in between. *strikes / *tries: the counts to keep for the next check. */
pgl_live_verdict pgl_live_judge(const pgl_live_in *in, int *strikes, int *tries);

/* ---- catch-up readiness beyond the lag ---- */
typedef struct pgl_catchup_in {
    bool lag_ready;        /* pgl_lag_decide said ready */
    bool prewarm_on;       /* campaign prewarm is not "off" */
    bool prewarm_done;     /* every relation read once */
    bool live_on;          /* campaign live_validate is not "off" and no error stopped it */
    int live_passes_done;  /* complete passes over every keyed table */
    bool live_striking;    /* a queued chunk carries a strike: let it be decided first */
} pgl_catchup_in;
/* Ready for the cutover: lag held, prewarm done (or off), one live
 * validation pass complete with no suspicion pending (or off). *what names
 * what is still missing ("" when ready). */
bool pgl_catchup_ready(const pgl_catchup_in *in, const char **what);

/* Across accounts, step subscribe: did CREATE SUBSCRIPTION fail because the
 * target could not connect to the source (PostgreSQL's "could not connect
 * to the publisher")? Then *out gets the one-line reason: the path named
 * (target account -> host:port), the server's first line, what to open and
 * that nothing was replicated yet. */
bool pgl_xnet_reason(const char *err, const char *tacct, const char *host, int port, char *out, size_t cap);

#endif
