/* cutover — step `cutover` of pg-logical (the comparisons it runs are in
 * verify.c).
 *
 * cutover waits for the campaign window and, with cutover_mode=approve, for
 * approval (STEP_WAIT; the source watch keeps running meanwhile). Then, in
 * one run (the only downtime):
 *   0. (outside the window: nobody writes there before the switch) block
 *      every login role on the target but fleetcrypt's and the master user
 *      (fleetcrypt still works there as the master user until 6);
 *   1. block every login role but fleetcrypt's (master user included) on the
 *      source, ending their sessions; L = WAL insert position after that
 *      (proxy: inside the block's quiet gap the source leaves its RDS
 *      Proxies, the target's master user is made NOLOGIN and the target is
 *      registered with them — proxy_target_in: the switch of 6 then only
 *      looks);
 *   2. wait until every slot's confirmed_flush_lsn >= L;
 *   3. quick row counts; with validate=strict the full checksum comparison;
 *   4. every sequence on the target to at least the source's value + margin;
 *   5. disable the subscriptions on the target — before the switch: after
 *      it the source's endpoint name reaches the target (an Aurora cluster,
 *      or with a rollback window: drop them, then the slots, publication
 *      and guard on the source, here as in 8);
 *   6. block the same roles on the target (those of 0 are blocked already:
 *      this adds the master user; the full block whatever 0 did), switch
 *      (rename swap: source →
 *      fc-…-retired, target → original identifier — cluster renames for
 *      an Aurora cluster, cluster.c, then the RDS Proxies whose target is
 *      the cluster, shared/awsproxy.c; or RDS Proxy target switch, shared/awsproxy.c;
 *      or the application's Route 53 CNAME UPSERTed to the target's endpoint
 *      and awaited INSYNC, shared/awscname.c, its old TTL back once writers
 *      are in; the target block's quiet gap runs during the switch and is
 *      settled after it, in open_target), pin a
 *      read-only snapshot on the target for verification, let writers in
 *      on the target. Downtime = block on the source →
 *      writers allowed on the target, recorded as downtime_s.
 *   7. (validate=normal) the full checksum comparison between the frozen
 *      source and the pinned snapshot, after writers are back;
 *   8. drop the subscriptions on the target (slot_name = NONE first), then
 *      the slots, publication and guard on the retired source — outside
 *      the window; every run past the switch does it again until done (a
 *      crash there is resumed by the next run; abort goes forward after the
 *      switch; cleanup tears down as well).
 * Resumable by observation, not by facts (facts are written only with the
 * outcome): switched (AWS: the original identifier is our target, the
 * retired name exists, or a proxy has the target and the source is marked
 * drained — without the mark it is 1's early registration, taken off
 * again)? source blocked? slot
 * still there? drained (the fence row's mark)? target blocked?
 * Fenced in the databases (lib/pgfence.h): the source's fence is taken
 * before anything is observed, the teardown re-checks it before every drop,
 * and letting writers in (either side) and the drained mark run in fenced
 * transactions, so a holder that lost its lease to another can never
 * unblock a source the other is tearing down, nor open a target early.
 * Until the drained mark is committed a failure unblocks the source and
 * retries; after it, the only way is forward (the switch), never back to
 * writers on a source that may no longer replicate — except while nothing
 * is torn down yet (a late teardown: the subscriptions only disabled, the
 * slots there): a failure of the target's part of the window (it cannot be
 * blocked, it stops answering) gives the writers back to the source too,
 * clears the mark and opens the target again (target_part_failed).
 * Every connection is checked to reach the server it means (pgl_conn): after
 * a rename the original name reaches the retired source until DNS follows
 * (minutes on AWS); the target is opened only once its name reaches it.
 * Short bounded polls (≤ switch_poll_s, default 90 s) wait for the renames
 * inside the run because writers are blocked meanwhile; past that the step
 * returns STEP_WAIT on the instance and resumes where it stopped. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awscname.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "log.h"
#include "pgfence.h"
#include "pgl_db_extra.h"
#include "pgl_db_privs.h"
#include "util.h"

#define BLOCK_TIMEOUT_MS 30000
#define FLUSH_TIMEOUT_MS 120000
#define DEFAULT_SEQ_MARGIN 100
#define RETIRED_WAIT_MS 600000 /* verify: how long the retired source's new name may take to answer */

typedef struct cut {
    pgl_session s;
    step_ctx *ctx;
    step_result *res;
    char orig[64], ret[64], tid[64];
    bool proxy;
    bool cname; /* --cutover-method cname: the application's CNAME moves (shared/awscname.c) */
    bool cluster; /* an Aurora cluster: the swap renames clusters (cluster.c) */
    bool strict;
    char **protect;
    int nprotect;
    pgq *pinned[PGL_MAX_DBS]; /* target sessions holding the snapshot of the switch */
    pgq *src_pinned[PGL_MAX_DBS]; /* --rollback-window: the frozen source's, before the reverse replication */
    int64_t tl; /* monotonic ms of this run's source block (0: none yet): the window's timeline */
    bool proxies_known; /* proxy: this run looked the proxies up before the block (fact proxy_names) */
    bool proxy_out; /* proxy: this run deregistered the source from every one of them in its quiet gap */
    bool tgt_in; /* proxy: this run registered the target with every one of them in the source's quiet gap (proxy_target_in) */
    bool tgt_ready; /* ... and saw it AVAILABLE there: the switch makes no call */
    bool proxies_back; /* proxy: this run gave every proxy the source back and took the target off (awsproxy_roll_back),
                        * and changed no proxy since */
    bool tgt_early; /* proxy, a resumed run: a proxy has the target but the source was never marked drained (an
                     * early registration, not the switch): taken off again first (target_master_login) */
    bool fresh_block; /* this run blocks the source afresh (not a resumed block) */
    int64_t tgt_master_out; /* when this run made the target's master user NOLOGIN in the source's quiet gap (fc_mono_ms; 0: not) */
    int64_t tgt_quiet_from; /* the target's block inside the window: its NOLOGIN (fc_mono_ms; settled in open_target) */
    int sub_pids[2 * PGL_MAX_DBS]; /* the workers of the subscriptions disable_all disabled (they exit by themselves) */
    int nsub_pids;
    bool marked; /* this run's drained mark (which takes the source's fence) was just set: disable_all's re-check */
    pgq *spare; /* proxy/CNAME: a second admin session to the target's first database, opened before the window, for the unblock after the pins (open_sessions) */
} cut;

/* One point of the window's timeline (log, ms since this run's source
 * block): where a cutover's downtime goes, phase by phase. */
static void tl_mark(const cut *c, const char *phase)
{
    if (c->tl > 0) log_info("cutover: timeline", "phase=%s at_ms=%lld", phase, (long long)(fc_mono_ms() - c->tl));
}

static void cut_free(cut *c)
{
    for (int i = 0; i < PGL_MAX_DBS; i++) {
        pgq_close(c->pinned[i]);
        pgq_close(c->src_pinned[i]);
    }
    pgq_close(c->spare);
    pgl_free_list(c->protect, c->nprotect);
    pgl_session_finish(&c->s);
}

static bool nm_of(cut *c, int i, pgl_db_names *nm) { return pgl_names(&c->s, c->s.dbs[i], nm); }

/* Roles the block leaves alone: real superusers other than the master user. */
static step_rc load_protect(cut *c, pgl_side side)
{
    if (c->protect) return STEP_OK;
    step_rc rc = STEP_OK;
    pgq *q = pgl_conn(&c->s, side, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    char err[512];
    if (!pgl_protected_roles(q, pgl_fact(c->ctx, "master_user"), &c->protect, &c->nprotect, err, sizeof err))
        return pgl_sql_fail(c->res, q, "cutover", err);
    return STEP_OK;
}

/* ---------------------------------------------------------------- the switch */
typedef enum { SW_DONE = 0, SW_WAIT, SW_ERR } sw_state;

static rds_instance *describe_opt(cut *c, const char *id, bool *missing, step_rc *rc)
{
    return pgl_describe(c->ctx, c->res, id, missing, rc);
}

/* Is the original identifier already the target (rename done)? */
static step_rc renamed_already(cut *c, bool *yes)
{
    *yes = false;
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = describe_opt(c, c->orig, &missing, &rc);
    if (!i) return missing ? (c->res->reason[0] = 0, STEP_OK) : rc;
    *yes = pgl_is_ours(c->ctx, i, PGL_ROLE_TARGET);
    rds_instance_free(i);
    return STEP_OK;
}

/* Wait (bounded, in the run: writers are blocked) until `id` exists, is
 * available and (when role) carries our role tag; fills endpoint facts.
 * asked: this run's rename to id was just answered as not applied yet (no
 * look at once: awsstep_await_renamed). */
static sw_state await_renamed(cut *c, const char *id, const char *role, int64_t deadline, const char *hf,
                              const char *pf, bool asked, step_rc *rc)
{
    rds_instance *i = NULL;
    *rc = asked ? awsstep_await_renamed(c->ctx, c->res, id, role, deadline, &i)
                : pgl_await_instance(c->ctx, c->res, id, role, deadline, &i);
    if (*rc == STEP_WAIT) {
        c->res->wait_ms = 5000;
        PGL_REASON(c->res, "cutover: waiting for %s to be available", id);
        return SW_WAIT;
    }
    if (*rc != STEP_OK) return SW_ERR;
    step_ctx_set_fact(c->ctx, hf, i->endpoint_address);
    step_ctx_set_factf(c->ctx, pf, "%d", i->port);
    rds_instance_free(i);
    return SW_DONE;
}

/* The retired source's endpoint (facts retired_address, retired_port),
 * when not known yet. */
static step_rc retired_endpoint(cut *c, int64_t deadline)
{
    step_rc rc = STEP_OK;
    if (*pgl_fact(c->ctx, "retired_port")) return STEP_OK;
    if (await_renamed(c, c->ret, NULL, deadline, "retired_address", "retired_port", false, &rc) != SW_DONE) return rc;
    return STEP_OK;
}

/* Does the retired name exist (the swap's first rename happened)? */
static step_rc retired_exists(cut *c, bool *yes)
{
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = describe_opt(c, c->ret, &missing, &rc);
    *yes = i != NULL;
    if (!i) return missing ? (c->res->reason[0] = 0, STEP_OK) : rc;
    rds_instance_free(i);
    return STEP_OK;
}

/* fresh: this run blocked the source under the original identifier and
 * reached the target's databases under its own name a moment ago, with AWS
 * showing no swap when it began (a swap seen there resumes with fresh
 * false): it renames at once and looks only when a rename says otherwise —
 * the source's name gone (the looking path below), or the original
 * identifier still taken (AWS frees a name once its rename is applied:
 * await the retired name, then rename the target). At time scale 0 the
 * swap is 2 ModifyDBInstance and 1 Describe; the retired source's endpoint
 * is described after the writers are in (retired_endpoint), unless a
 * rollback window needs it before. A resumed swap (fresh false) looks
 * first, as it always did. */
static step_rc switch_rename(cut *c, int64_t deadline, bool fresh)
{
    if (c->cluster) return pgl_cluster_switch(c->ctx, c->res, c->orig, c->ret, c->tid, deadline);
    step_rc rc = STEP_OK;
    bool gone = false, taken = false, first_done = false, pending = false, tpending = false;
    if (fresh) {
        if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
        if ((rc = awsstep_rename_try(c->ctx, c->res, c->orig, c->ret, deadline, &gone, &taken, &pending)) != STEP_OK)
            return rc;
        first_done = !gone && !taken;
        if (first_done) {
            fc_crashpoint("cutover.source_renamed"); /* tests: a swap half done */
            /* the source's rename not applied yet (AWS, not time scale 0):
             * the original name is still taken, so the target's rename would
             * only be refused: await the retired name first (below) */
            if (!pending) {
                if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
                if ((rc = awsstep_rename_try(c->ctx, c->res, c->tid, c->orig, deadline, &gone, &taken, &tpending)) !=
                    STEP_OK)
                    return rc;
                if (!gone && !taken) goto renamed;
            }
        }
        c->res->reason[0] = 0;
    }
    /* one Describe of the original identifier says both whether the swap
     * is done (it is our target) and whether the source still has it */
    bool done = false;
    if (!first_done) {
        bool missing = false;
        rds_instance *o = describe_opt(c, c->orig, &missing, &rc);
        if (!o && !missing) return rc;
        c->res->reason[0] = 0;
        done = o && pgl_is_ours(c->ctx, o, PGL_ROLE_TARGET);
        bool src_there = o && !done;
        rds_instance_free(o);
        /* 1. source → retired name (unless an earlier attempt did it) */
        if (!done && src_there) {
            if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
            if ((rc = awsstep_rename_try(c->ctx, c->res, c->orig, c->ret, deadline, &gone, NULL, NULL)) != STEP_OK)
                return rc;
        }
    }
    if (!done) {
        if (await_renamed(c, c->ret, NULL, deadline, "retired_address", "retired_port", first_done && pending, &rc) !=
            SW_DONE)
            return rc;
        /* 2. target → original identifier (gone: an earlier attempt, or this
         * one's ambiguous retry, renamed it; the await below checks) */
        bool tid_there = true;
        if (!fresh) {
            bool missing = false;
            rds_instance *t = describe_opt(c, c->tid, &missing, &rc);
            if (!t && !missing) return rc;
            tid_there = t != NULL;
            rds_instance_free(t);
        }
        if (tid_there) {
            if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
            if ((rc = awsstep_rename_try(c->ctx, c->res, c->tid, c->orig, deadline, &gone, NULL, &tpending)) != STEP_OK)
                return rc;
        }
        c->res->reason[0] = 0;
    }
renamed:
    if (await_renamed(c, c->orig, PGL_ROLE_TARGET, deadline, "target_address", "target_port", tpending, &rc) !=
        SW_DONE)
        return rc;
    if (!fresh || pgl_rollback_window_s(c->ctx) > 0)
        if ((rc = retired_endpoint(c, deadline)) != STEP_OK) return rc;
    step_ctx_set_fact(c->ctx, "target_id", c->orig);
    step_ctx_set_fact(c->ctx, "retired_id", c->ret);
    return STEP_OK;
}

/* The RDS Proxies that front this instance (proxy method), moved from the
 * source to the target by shared/awsproxy.c: the campaign's proxy_name
 * (comma-separated), else those recorded (fact proxy_names; proxy_name
 * from an older attempt) and every proxy whose targets include the source
 * (or, after a crash, the target). None is a failure. */
static const char *named_proxies(cut *c) { return pgl_named_proxies(c->ctx); }

static step_rc no_proxy(cut *c)
{
    PGL_REASON(c->res, "cutover_method=proxy: no RDS Proxy has %s as its target (set proxy_name)", c->orig);
    return STEP_FAIL;
}

/* Where do the proxies point? any_target: some proxy has the target
 * registered (the switch began: never go back); done: every proxy has the
 * target, healthy, and not the source. */
static step_rc proxy_state(cut *c, bool *any_target, bool *done)
{
    int n = 0;
    step_rc rc = awsproxy_state(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig, named_proxies(c), any_target,
                                done, &n);
    return rc == STEP_OK && !n ? no_proxy(c) : rc;
}

/* Proxy method, before the block: the proxies to switch (the recorded ones
 * and any that has the source now — registered after preflight), looked up
 * while writers still write: that scan costs one call per proxy in the
 * account, which inside the window would be downtime. A proxy registered
 * with the source after this is missed as one registered after the switch
 * always was. The campaign's proxy_name needs no scan. */
static step_rc scan_proxies(cut *c)
{
    if (!c->proxy || *named_proxies(c)) return STEP_OK;
    int n = 0;
    step_rc rc = awsproxy_scan(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig, &n);
    if (rc != STEP_OK) return rc;
    if (!n) return no_proxy(c);
    c->proxies_known = *pgl_fact(c->ctx, "proxy_names") != 0;
    return STEP_OK;
}

static const char *method_name(const cut *c) { return c->proxy ? "proxy" : c->cname ? "cname" : "rename"; }

/* The rename by the switch dispatch's callback: `fresh` (this run just
 * reached the target under its own name) spares the swap a Describe. */
typedef struct rename_arg {
    cut *c;
    bool fresh;
} rename_arg;

static step_rc rename_fwd(void *a, int64_t deadline)
{
    rename_arg *r = a;
    return switch_rename(r->c, deadline, r->fresh);
}

/* The switch by the method (switch.c, shared with the rollback's switch
 * back). Proxy and CNAME: the source keeps its identifier and endpoint (the
 * retired source); the target keeps its own. */
static step_rc do_switch(cut *c, int64_t deadline, bool fresh)
{
    int n = 0;
    rename_arg ra = {c, fresh};
    /* proxies looked up before the block (scan_proxies): moved without a scan inside the window, and
     * without a first look (the scan saw the source there) */
    step_rc rc;
    if (c->tgt_ready) { /* registered and seen AVAILABLE in the source's quiet gap (proxy_target_in): no call */
        n = 1;
        rc = STEP_OK;
        log_info("every RDS Proxy in front of the source reaches the encrypted copy (registered early)", "id=%s",
                 c->tid);
    } else if (c->tgt_in) { /* registered in the source's quiet gap: looked at until AVAILABLE */
        rc = awsproxy_await_scanned(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig, deadline, &n);
    } else {
        rc = c->proxies_known ? awsproxy_switch_scanned(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig,
                                                        c->proxy_out, deadline, &n)
                              : pgl_switch(c->ctx, c->res, PGL_TO_TARGET, c->orig, c->tid, deadline, rename_fwd, &ra,
                                           &n);
    }
    if (rc != STEP_OK || (!c->proxy && !c->cname)) return rc;
    if (c->proxy && !n) return no_proxy(c);
    step_ctx_set_fact(c->ctx, "retired_id", c->orig);
    step_ctx_set_fact(c->ctx, "retired_address", pgl_fact(c->ctx, "address"));
    step_ctx_set_fact(c->ctx, "retired_port", pgl_fact(c->ctx, "port"));
    return STEP_OK;
}

/* Has the switch happened (or begun), as the world shows it? Rename: the
 * original identifier carries our target tag, or the retired name exists
 * (a swap interrupted between its two renames: *half). Proxy: some proxy
 * already has the target. CNAME: the record points at the target. */
static step_rc world_switched(cut *c, bool *switched, bool *half)
{
    *switched = *half = false;
    step_rc rc;
    if (c->cname) return awscname_switched(c->ctx, c->res, pgl_fact(c->ctx, "target_address"), switched);
    if (c->proxy) {
        bool done = false;
        rc = proxy_state(c, switched, &done);
        return rc;
    }
    if (c->cluster) return pgl_cluster_switched(c->ctx, c->res, c->orig, c->ret, switched, half);
    if ((rc = renamed_already(c, switched)) != STEP_OK || *switched) return rc;
    return retired_exists(c, half);
}

/* ---------------------------------------------------------------- phases */
/* pgl_conn, retried (in the run: bounded by deadline) while a name still
 * reaches the other side's server or refuses connections — a rename's
 * reboot and DNS lag. NULL with *rc (WAIT past the deadline). */
static pgq *await_conn(cut *c, pgl_side side, pgl_who who, const char *db, int64_t deadline, step_rc *rc)
{
    for (;;) {
        pgq *q = pgl_conn(&c->s, side, who, db, rc);
        if (q) {
            c->res->reason[0] = 0;
            return q;
        }
        if (*rc != STEP_WAIT && *rc != STEP_RETRY) return NULL;
        if (fc_mono_ms() > deadline) {
            if (*rc == STEP_RETRY) *rc = STEP_WAIT; /* the switch is done: resume, never give up */
            if (c->res->wait_ms <= 0) c->res->wait_ms = 5000;
            return NULL;
        }
        if (!step_ctx_lease_ok(c->ctx)) {
            PGL_REASON(c->res, "lease lost");
            *rc = STEP_RETRY;
            return NULL;
        }
        fc_sleep_ms(500);
    }
}

static step_rc wait_slots(cut *c, fc_lsn L, bool check_subs);
static step_rc ddl_recheck(cut *c);

/* One drain nudge on every database (pgl_flush_nudge), with the sessions
 * open already: before a call the early wait then need not wait for. */
static void nudge_all(cut *c)
{
    for (int i = 0; i < c->s.ndbs; i++) {
        pgq *src = c->s.conn[PGL_SOURCE][PGL_AS_ADMIN][i], *sub = c->s.conn[PGL_TARGET][PGL_AS_MASTER][i];
        if (src && sub) pgl_flush_nudge(src, sub);
    }
}

/* Proxy method, a fresh run (the proxies scanned before the block): the
 * source deregistered from them inside its own quiet gap — nobody can log
 * in there any more, so the proxy loses nothing — instead of in the switch:
 * the switch then only registers the target (the target's full block
 * still comes first: its master user could log in through the proxy
 * before) and looks. Every give-back before the switch registers the
 * source again (unblock_source); abort does too (abort.c). */
static step_rc proxy_source_out(cut *c)
{
    if (!c->proxy || !c->proxies_known) return STEP_OK;
    c->proxies_back = false; /* changed from here on: a give-back must look again */
    step_rc rc = awsproxy_deregister_scanned(c->ctx, c->res, AWSPROXY_INSTANCE, c->orig, fc_mono_ms() + BLOCK_TIMEOUT_MS, &c->proxy_out);
    tl_mark(c, "proxy_source_out");
    return rc;
}

static bool late_teardown(cut *c);

/* Proxy method, a fresh run with a late teardown (the rename's and the
 * CNAME's switch outlast the target's gap as it is): the target's master
 * user made NOLOGIN inside the source's quiet gap, unrecorded (the source's record, which
 * names it — read on the source, src — reaches the target by the drain: the target's unblock after the
 * switch lets it in again), its sessions left alone — fleetcrypt's own,
 * one per database, are open since open_sessions and do the target's
 * work of the window (sequences, privileges, the DISABLEs) — so that the
 * target's recorded block after the DISABLEs makes no role NOLOGIN and its
 * quiet gap counts from here: over long before the switch ends, where it
 * was the switch's length plus a wait (block_side). A give-back before the
 * switch lets the master user in again (unblock_source), and every run
 * before the switch makes sure it can log in there (target_master_login). */
static step_rc target_master_out(cut *c, pgq *src)
{
    const char *master = pgl_fact(c->ctx, "master_user");
    if (!c->proxy || !c->fresh_block || !late_teardown(c) || !*master) return STEP_OK;
    step_rc rc = STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++) /* open already (open_sessions): kept */
        if (!pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc)) return rc;
    pgq *q = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    pgl_db_names nm;
    if (!nm_of(c, 0, &nm)) return STEP_FAIL;
    char err[512];
    bool named = false;
    err[0] = 0;
    /* the source's record, just written by its block (src): the drain carries it to the target before
     * anything lets writers in there, and every give-back lets the master user in itself */
    if (!pgl_block_has_role(src, &nm, master, &named, err, sizeof err)) named = false;
    if (!named) { /* the target's unblock would not let it in again: its own block does it, later */
        log_info("cutover: the target's master user left to the target's block", "err=\"%s\"", err);
        return STEP_OK;
    }
    if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
    if (!pgl_role_set_login(q, master, false, err, sizeof err))
        return pgl_sql_fail(c->res, q, "blocking the master user on the target", err);
    c->tgt_master_out = fc_mono_ms();
    tl_mark(c, "target_master_out");
    return STEP_OK;
}

/* Proxy method, a fresh run, right after target_master_out (inside the
 * source's quiet gap): the target registered with every proxy the source
 * was just taken off (awsproxy_register_scanned), and — when the gap has
 * time left for it — looked at once, so that the switch after the checks
 * only looks (or, seen AVAILABLE here, makes no call): the registration and
 * AWS's wait for the target to be AVAILABLE (seconds on AWS) overlap the
 * drain and the checks instead of following them. Safe because nothing
 * the application sends through a proxy can land on the target before its
 * writers are let in (open_target): every login role there but
 * fleetcrypt's two (their passwords are fleetcrypt's own) and RDS's is
 * NOLOGIN since the block ahead (step 0) and target_master_out — made
 * NOLOGIN before the registration, so no login through a proxy passes its
 * check before — and stays so until the unblock after the checks:
 *  - the invariant kept before the switch: while a proxy has the target its
 *    master user cannot log in there. Only target_master_login lets it in
 *    again before the switch, and it takes the target off every proxy first;
 *    reopen_target, after a give-back, only once the proxies are given back;
 *  - every give-back before the switch (unblock_source, target_part_failed)
 *    deregisters the target and registers the source again
 *    (awsproxy_roll_back) before the source's writers are in; abort too;
 *  - a worker killed from here on: a resumed run sees a proxy with the
 *    target but no drained mark on the source, which is not the switch
 *    (pgl_step_cutover): the target goes off the proxies again, the run
 *    resumes the block and drains before its own switch; with the mark,
 *    the drain and every check are done and the switch goes forward as
 *    it always did once a proxy had the target.
 * The subscriptions are unaffected: they apply as the master user, whose
 * running apply workers keep going (PostgreSQL 15 checks rolcanlogin only
 * when a worker starts: one restarting meanwhile fails the drain, which
 * gives the writers back) — exactly as since target_master_out. Only when
 * this run made the master user NOLOGIN here and every proxy lost the
 * source; else the switch registers, as before. */
static step_rc proxy_target_in(cut *c, int64_t gap_end)
{
    if (!c->proxy || !c->proxy_out || c->tgt_master_out <= 0) return STEP_OK;
    c->proxies_back = false;
    step_rc rc = awsproxy_register_scanned(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, fc_mono_ms() + BLOCK_TIMEOUT_MS,
                                           &c->tgt_in);
    tl_mark(c, "proxy_target_in");
    if (rc != STEP_OK || !c->tgt_in) return rc;
    /* one look when the gap leaves time for it (a call is ~20-30 ms on the emulator): AVAILABLE now saves the
     * switch its look after the checks; not AVAILABLE yet (AWS: seconds), the switch looks */
    if (gap_end - fc_mono_ms() < 30) return STEP_OK;
    rc = awsproxy_ready_scanned(c->ctx, c->res, AWSPROXY_INSTANCE, c->tid, c->orig, &c->tgt_ready);
    tl_mark(c, c->tgt_ready ? "proxy_target_ready" : "proxy_target_looked");
    if (rc != STEP_OK) { /* only a look: the switch looks again */
        c->res->reason[0] = 0;
        c->tgt_ready = false;
    }
    return STEP_OK;
}

/* Proxy: every proxy given the source back and the target taken off
 * (awsproxy_roll_back): before anything lets a role log in on the target
 * before the switch. */
static step_rc target_off_proxies(cut *c)
{
    if (c->proxies_back) return STEP_OK;
    step_rc rc = awsproxy_roll_back(c->ctx, c->res, AWSPROXY_INSTANCE, c->orig, c->tid, named_proxies(c));
    if (rc == STEP_OK) {
        c->proxies_back = true;
        c->tgt_early = c->tgt_in = c->tgt_ready = false;
        step_ctx_set_fact(c->ctx, "proxy_give_back", "0");
    }
    return rc;
}

/* Before the switch: the target's master user can log in there (a give-back
 * or a crash after target_master_out may have left it NOLOGIN; the target
 * is no application's yet) — once no proxy has the target (target_off_proxies,
 * the invariant of proxy_target_in). One query when it can. */
static step_rc target_master_login(cut *c)
{
    const char *master = pgl_fact(c->ctx, "master_user");
    if (!c->proxy || !late_teardown(c) || !*master) return STEP_OK; /* only target_master_out blocks it early */
    step_rc rc = STEP_OK;
    pgq *q = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    char err[512];
    bool can = true;
    if (!pgl_role_can_login(q, master, &can, err, sizeof err)) return pgl_sql_fail(c->res, q, "target state", err);
    if (can) return STEP_OK;
    /* a proxy may have the target (an early registration not given back): off it first, or the master user's
     * logins through the proxy would reach the target */
    if ((rc = target_off_proxies(c)) != STEP_OK) return rc;
    /* fenced: a holder that lost the instance to another must not let the
     * master user in behind the other's block */
    if (!(q = pgl_fenced_begin(&c->s, PGL_TARGET, NULL, &rc))) return rc;
    if (!pgl_role_set_login(q, master, true, err, sizeof err)) {
        pgfence_rollback(q);
        return pgl_sql_fail(c->res, q, "letting the master user in on the target again", err);
    }
    if ((rc = pgl_fenced_commit(&c->s, q)) != STEP_OK) return rc;
    log_warn("cutover: the master user can log in on the target again (an earlier attempt blocked it)", "role=%s",
             master);
    return STEP_OK;
}

/* The writers given back on the source (before the switch) through the
 * proxies too: the source registered again with each one that lost it —
 * proxy_source_out's, this run's or a crashed one's. Best effort: a failure
 * is recorded (fact proxy_give_back) and retried by the next run before its
 * gate (give_back_proxies_pending); the writers are let in meanwhile. */
static void give_back_proxies(cut *c)
{
    if (!c->proxy) return;
    char keep[sizeof c->res->reason];
    fc_strlcpy(keep, c->res->reason, sizeof keep);
    step_rc rc = target_off_proxies(c);
    if (rc != STEP_OK)
        log_warn("cutover: the source could not be registered with its RDS Proxies again yet: the next attempt "
                 "does it", "why=\"%s\"", c->res->reason);
    step_ctx_set_fact(c->ctx, "proxy_give_back", rc == STEP_OK ? "0" : "1");
    fc_strlcpy(c->res->reason, keep, sizeof c->res->reason);
}

static step_rc give_back_proxies_pending(cut *c)
{
    if (!c->proxy || strcmp(pgl_fact(c->ctx, "proxy_give_back"), "1") != 0) return STEP_OK;
    return target_off_proxies(c);
}

/* The source's block after pgl_cutover_block_unsettled (the record,
 * NOLOGIN, the sessions listed ended): its quiet gap — for a backend past
 * its login check that is not listed yet — overlapped with the drain. An
 * early L (pgl_block_lsn) bounds what the listed sessions wrote, and the
 * slots are awaited up to it while the gap runs; then the gap is settled
 * (pgl_block_settle: one listing, the gap having passed; sessions found are
 * ended and the gap waited again) and the final L taken after it, as
 * pgl_cutover_block takes it: a backend that wrote inside the gap, gone or
 * not, wrote before that L. The drain to it (drain) waits only for the
 * gap's tail. Nothing here is a decision: the final L is what it was. */
static step_rc settle_source(cut *c, pgq *q, const pgl_db_names *nm, pgl_block_result *br)
{
    char err[1024];
    if (!pgl_block_lsn(q, br, err, sizeof err)) return pgl_sql_fail(c->res, q, "blocking writers on the source", err);
    tl_mark(c, "source_listed");
    /* DDL between the gate and the block stalls the subscription: found
     * here (inside the gap) it aborts at once rather than after a stalled
     * drain; the look after the block (before_switch) stays, for DDL of a
     * backend inside the gap */
    step_rc rc = ddl_recheck(c);
    /* the proxy's part first (proxy_source_out, target_master_out, proxy_target_in: an AWS call each, ~40 ms
     * for the registration on the emulator, seconds on AWS), the early wait after it: the subscriber applies
     * the block meanwhile (nudged first), so the wait mostly finds it done instead of following it */
    if (rc == STEP_OK && c->proxy && c->proxies_known) nudge_all(c);
    if (rc == STEP_OK && (rc = proxy_source_out(c)) == STEP_OK && (rc = target_master_out(c, q)) == STEP_OK)
        rc = proxy_target_in(c, br->quiet_from + PGL_QUIET_GAP_MS);
    if (rc == STEP_OK) rc = wait_slots(c, br->lsn, false);
    if (rc != STEP_OK) return rc;
    tl_mark(c, "early_drained");
    int ended = 0;
    if (!pgl_block_settle(q, nm, br->quiet_from, BLOCK_TIMEOUT_MS, &ended, err, sizeof err) ||
        !pgl_block_lsn(q, br, err, sizeof err))
        return pgl_sql_fail(c->res, q, "blocking writers on the source", err);
    br->sessions_terminated += ended;
    if (ended) log_warn("cutover: sessions on the blocked source ended inside its quiet gap", "sessions=%d", ended);
    return STEP_OK;
}

/* Block a side's writers (the fence taken first). keep_master: the
 * target's block ahead of the source's (pgl_cutover_preblock: NOLOGIN,
 * unrecorded — the source's record reaches the target by replication); the
 * master user is left able to log in: fleetcrypt still works there as the
 * master user — sequences, privileges, subscriptions — and blocks it too,
 * with the rest, inside the window. */
static step_rc block_side(cut *c, pgl_side side, fc_lsn *lsn, bool keep_master, const int *own, int nown)
{
    if (side == PGL_SOURCE && !c->tl) c->tl = fc_mono_ms();
    tl_mark(c, side == PGL_SOURCE ? "block_source" : "block_target");
    step_rc rc = pgl_fence(&c->s, side);
    if (rc != STEP_OK) return rc;
    if ((rc = load_protect(c, PGL_SOURCE)) != STEP_OK) return rc; /* the source's superusers, for both sides */
    pgq *q = pgl_conn(&c->s, side, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    pgl_db_names nm;
    if (!nm_of(c, 0, &nm)) return STEP_FAIL;
    if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
    pgl_block_result br;
    char err[1024];
    const char **prot = calloc((size_t)c->nprotect + 1, sizeof *prot);
    if (!prot) return (PGL_REASON(c->res, "out of memory"), STEP_RETRY);
    int np = 0;
    for (int i = 0; i < c->nprotect; i++) prot[np++] = c->protect[i];
    if (keep_master && *pgl_fact(c->ctx, "master_user")) prot[np++] = pgl_fact(c->ctx, "master_user");
    /* the target's block inside the window leaves its quiet gap to the
     * switch: open_target settles it (pgl_block_settle) before the pin and
     * the writers — by then the gap has passed, so it costs one listing */
    bool blocked = keep_master ? pgl_cutover_preblock(q, &nm, prot, np, BLOCK_TIMEOUT_MS, &br, err, sizeof err)
                               : pgl_cutover_block_unsettled(q, &nm, prot, np, BLOCK_TIMEOUT_MS, own, nown, &br, err,
                                                             sizeof err);
    if (blocked && !keep_master && side == PGL_TARGET) {
        /* no role made NOLOGIN here and no login session ended: every role
         * of the record could not log in since target_master_out (or the
         * block ahead, earlier still), so the gap counts from there */
        bool early = c->tgt_master_out > 0 && br.roles_new == 0 && !br.login_ended;
        c->tgt_quiet_from = early ? c->tgt_master_out : br.quiet_from;
        log_info("cutover: the target's quiet gap", "from=%s roles_new=%d login_ended=%d",
                 early ? "master_out" : "block", br.roles_new, (int)br.login_ended);
    }
    free(prot);
    if (!blocked)
        return pgl_sql_fail(c->res, q, side == PGL_SOURCE ? "blocking writers on the source"
                                                          : "blocking writers on the target", err);
    /* the source's quiet gap overlapped with the drain to an early L; the final L after it */
    if (side == PGL_SOURCE && (rc = settle_source(c, q, &nm, &br)) != STEP_OK) return rc;
    if (br.warning[0]) log_warn("cutover block warning", "side=%d warning=\"%s\"", side, br.warning);
    if (lsn) *lsn = br.lsn;
    tl_mark(c, side == PGL_SOURCE ? "source_blocked" : "target_blocked");
    if (keep_master)
        log_info("cutover: target blocked ahead", "roles=%d", br.roles_blocked);
    else
        step_ctx_set_factf(c->ctx, side == PGL_SOURCE ? "blocked_roles" : "target_blocked_roles", "%d",
                           br.roles_blocked);
    return STEP_OK;
}

/* Every database's names and sessions on both sides (the source's as its
 * admin, the target's as the master user), for the phases that send to
 * every database at once. */
static step_rc both_sides(cut *c, pgq **src, pgq **dst, pgl_db_names *nm)
{
    step_rc rc = STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++) {
        if (!nm_of(c, i, &nm[i])) return STEP_FAIL;
        if (!(src[i] = pgl_conn(&c->s, PGL_SOURCE, PGL_AS_ADMIN, c->s.dbs[i], &rc))) return rc;
        if (!(dst[i] = pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc))) return rc;
    }
    return STEP_OK;
}

/* Roles and privileges changed on the source since the snapshot (not
 * replicated): converge the target's catalogs to the frozen source's
 * (db/pgl_db_privs.h) — roles once on the first database (where the block
 * record is), every database's privileges at once, dropped roles last. What the target
 * refuses or cannot reproduce is recorded and warned about, not fatal. */
static step_rc sync_privileges(cut *c)
{
    char err[1024];
    step_rc rc = STEP_OK;
    pgl_privs_result pr;
    pgl_privs_result_init(&pr);
    int n = c->s.ndbs;
    pgq *src[PGL_MAX_DBS], *dst[PGL_MAX_DBS];
    pgl_db_names nm[PGL_MAX_DBS];
    if ((rc = both_sides(c, src, dst, nm)) != STEP_OK) return rc;
    /* roles once (the first database), every database's privileges at once, dropped roles last */
    for (int phase = 0; phase < 3; phase++) {
        if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
        int failed = 0;
        bool ok = phase == 0   ? pgl_sync_roles(src[0], dst[0], &nm[0], &pr, err, sizeof err)
                  : phase == 1 ? pgl_sync_privileges_each(src, dst, nm, n, &pr, &failed, err, sizeof err)
                               : pgl_sync_drop_roles(src[0], dst[0], &nm[0], &pr, err, sizeof err);
        if (!ok) return pgl_sql_fail(c->res, dst[failed], "roles and privileges", err);
    }
    step_ctx_set_factf(c->ctx, "privs_synced", "roles_created=%d roles_altered=%d roles_dropped=%d memberships=%d "
                       "settings=%d object_acls=%d default_acls=%d refused=%d unconverged=%d",
                       pr.roles_created, pr.roles_altered, pr.roles_dropped, pr.memberships, pr.settings,
                       pr.object_acls, pr.default_acls, pr.refused, pr.unconverged);
    step_ctx_set_fact(c->ctx, "privs_no_password", pr.no_password);
    step_ctx_set_fact(c->ctx, "privs_not_reproduced", pr.not_reproduced);
    step_ctx_set_fact(c->ctx, "privs_not_dropped", pr.not_dropped);
    step_ctx_set_fact(c->ctx, "privs_refused", pr.refused_what);
    if (pr.no_password[0] || pr.not_reproduced[0] || pr.not_dropped[0] || pr.refused || pr.unconverged)
        log_warn("roles and privileges: not everything could be carried to the target",
                 "no_password=\"%s\" not_reproduced=\"%s\" not_dropped=\"%s\" refused=%d unconverged=%d "
                 "refused_what=\"%.300s\"", pr.no_password, pr.not_reproduced, pr.not_dropped, pr.refused,
                 pr.unconverged, pr.refused_what);
    return STEP_OK;
}

/* Every slot's confirmed_flush_lsn >= L (nudged: pgl_wait_flush_nudged);
 * check_subs: every subscription then still healthy (a stalled one never
 * flushes, a failed one lies). */
static step_rc wait_slots(cut *c, fc_lsn L, bool check_subs)
{
    char err[1024];
    step_rc rc = STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        if (!nm_of(c, i, &nm)) return STEP_FAIL;
        pgq *q = pgl_conn(&c->s, PGL_SOURCE, PGL_AS_ADMIN, c->s.dbs[i], &rc);
        if (!q) return rc;
        pgq *t = pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc);
        if (!t) return rc;
        fc_lsn flushed = 0;
        if (!pgl_wait_flush_nudged(q, t, nm.slot, L, FLUSH_TIMEOUT_MS, &flushed, err, sizeof err)) {
            PGL_REASON(c->res, "cutover: %s", err);
            return STEP_RETRY;
        }
        if (!check_subs) continue;
        /* the subscription must still be healthy: a stalled one never flushes, a failed one lies */
        pgl_sub_info si;
        if (!pgl_sub_status(t, &nm, &si, err, sizeof err)) return pgl_sql_fail(c->res, t, "subscription", err);
        if (si.apply_errors > 0 || !si.enabled) {
            PGL_REASON(c->res, "cutover: subscription %s has apply errors (%lld) or is disabled",
                       nm.subscription, (long long)si.apply_errors);
            return STEP_FAIL;
        }
    }
    return STEP_OK;
}

/* Phase 1 (source blocked): flush to L, counts, strict verification,
 * sequences. Nothing here changes the source. */
static step_rc drain(cut *c, fc_lsn L)
{
    char err[1024];
    step_rc rc = wait_slots(c, L, true);
    if (rc != STEP_OK) return rc;
    tl_mark(c, "drained");
    /* large objects created after preflight (lo_create fires no event
     * trigger and replication does not carry them): refuse the switch */
    for (int i = 0; i < c->s.ndbs; i++) {
        pgq *q = pgl_conn(&c->s, PGL_SOURCE, PGL_AS_ADMIN, c->s.dbs[i], &rc);
        if (!q) return rc;
        int64_t n = 0;
        if (!pgl_large_objects(q, &n, err, sizeof err)) return pgl_sql_fail(c->res, q, "large objects", err);
        if (n > 0) {
            PGL_REASON(c->res, "database %s holds %lld large object(s) created since preflight: logical replication "
                       "does not carry them, so the target would miss them (remove them or use offline)",
                       c->s.dbs[i], (long long)n);
            return STEP_FAIL;
        }
    }
    tl_mark(c, "large_objects");
    int64_t rows = 0;
    int mism = 0;
    dbuf list;
    dbuf_init(&list, 4096);
    /* Writers are blocked: every comparison here has a budget of half the
     * time this run has left, so the block always ends inside the step's
     * deadline (past it another worker would take over and block again). */
    int64_t now = fc_mono_ms();
    int64_t budget = now + (step_ctx_run_deadline(c->ctx) - now) / 2;
    bool late = false;
    rc = pgl_compare_all(&c->s, PGL_SOURCE, NULL, true, budget, &rows, &mism, &list, NULL, &late);
    if (late) {
        /* e.g. a lock held on a target table: give the writers back, try again */
        size_t n = strlen(c->res->reason);
        snprintf(c->res->reason + n, sizeof c->res->reason - n, " (writers let back in on the source; retried)");
        rc = STEP_RETRY;
    }
    if (rc == STEP_OK && mism) {
        PGL_REASON(c->res, "row counts differ at cutover: %s", list.data);
        rc = STEP_FAIL;
    }
    if (rc == STEP_OK && c->strict) {
        /* Inside the window by the operator's choice, fenced (a holder that
         * took over would refuse this one's every later change) and within
         * the same budget: a database too large to compare in it fails the
         * instance with the writers back on the source, never a block that
         * outlives the step and starts again under the next holder. */
        dbuf_reset(&list);
        pgl_sums_buf sums = {.dropped = 0};
        dbuf_init(&sums.b, PGL_SUMS_MAX + 1);
        int64_t v0 = fc_now_ms();
        rc = pgl_compare_all(&c->s, PGL_SOURCE, NULL, false, budget, &rows, &mism, &list, &sums, &late);
        if (late) {
            size_t n = strlen(c->res->reason);
            snprintf(c->res->reason + n, sizeof c->res->reason - n,
                     " (--validate strict compares inside the write-blocked window, at most half the cutover's "
                     "deadline: writers are back on the source; use --validate normal, which compares after the "
                     "switch against a snapshot pinned there, or raise FLEETCRYPT_STEP_DEADLINE_MAX_S)");
        }
        if (rc == STEP_OK) {
            step_ctx_set_factf(c->ctx, "verify_started_ms", "%lld", (long long)v0);
            step_ctx_set_factf(c->ctx, "verify_ms", "%lld", (long long)(fc_now_ms() - v0));
            pgl_record_verify(c->ctx, rows, mism, list.data, "strict, inside the window", &sums);
            if (mism) {
                PGL_REASON(c->res, "verification (strict) found differences: %s", list.data);
                rc = STEP_FAIL;
            }
        }
        dbuf_free(&sums.b);
    }
    dbuf_free(&list);
    if (rc != STEP_OK) return rc;

    tl_mark(c, "counted");
    int64_t margin = DEFAULT_SEQ_MARGIN;
    const char *m = pgl_cfield(c->ctx, "seq_margin");
    if (*m) margin = strtoll(m, NULL, 10);
    int seqs = 0, n = c->s.ndbs, failed = 0;
    pgq *src[PGL_MAX_DBS], *dst[PGL_MAX_DBS];
    pgl_db_names nm[PGL_MAX_DBS];
    if ((rc = both_sides(c, src, dst, nm)) != STEP_OK) return rc;
    if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
    /* every database at once (pgl_sync_sequences_each) */
    if (!pgl_sync_sequences_each(src, dst, nm, n, margin, &seqs, &failed, err, sizeof err))
        return pgl_sql_fail(c->res, dst[failed], "sequences", err);
    step_ctx_set_factf(c->ctx, "sequences_synced", "%d", seqs);
    tl_mark(c, "sequences");
    rc = sync_privileges(c);
    tl_mark(c, "privileges");
    return rc;
}

/* Teardown after the switch (late): the instance's own (not a cluster's),
 * without a rollback window (whose reverse replication is set up inside the
 * window, before the writers are let in, against a source that no longer
 * publishes); else inside the window, before the switch, as it always was. */
static bool late_teardown(cut *c) { return !c->cluster && pgl_rollback_window_s(c->ctx) <= 0; }

/* The subscriptions on the target dropped, every database (DISABLE,
 * slot_name = NONE, DROP): by teardown(), after the switch when the
 * teardown is late (inside the window they are only disabled there:
 * disable_all), else inside the window. Their state is asked as
 * fleetcrypt's role: a re-run may find the target blocked already, its
 * master user too. The source's fence (on src, the name that reaches it)
 * re-checked before each change. */
static step_rc subscriptions_drop(cut *c, pgl_side src)
{
    char err[1024];
    step_rc rc = STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        if (!nm_of(c, i, &nm)) return STEP_FAIL;
        pgq *ta = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[i], &rc);
        if (!ta) return rc;
        bool todo = true;
        if (!pgl_sub_exists(ta, &nm, &todo, err, sizeof err)) return pgl_sql_fail(c->res, ta, "subscription", err);
        if (!todo) continue;
        pgq *t = pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc);
        if (!t) return rc;
        if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
        c->s.fenced[src] = false; /* re-check: a newer holder may have taken over */
        if ((rc = pgl_fence(&c->s, src)) != STEP_OK) return rc;
        if (!pgl_teardown_target(t, &nm, err, sizeof err)) return pgl_sql_fail(c->res, t, "subscription", err);
    }
    return STEP_OK;
}

/* Inside the window (a late teardown): every database's subscription
 * DISABLEd — never to apply or reconnect again (after a rename the
 * source's name reaches the target) while its slot stays on the source
 * until teardown() after the switch — with the databases at once (pgl_subs_enabled, pgl_subs_disable: each query on every
 * database's session before any answer is read) and the source's fence
 * re-taken once, just before the DISABLEs, instead of before each — or not
 * at all when this run's drained mark took it the moment before: two or
 * three round trips' wait whatever the number of databases, was four per
 * database. The state asked as fleetcrypt's role, as there. */
static step_rc disable_all(cut *c)
{
    int n = c->s.ndbs, failed = 0;
    pgq *ta[PGL_MAX_DBS], *t[PGL_MAX_DBS];
    pgl_db_names nm[PGL_MAX_DBS];
    bool on[PGL_MAX_DBS];
    step_rc rc = STEP_OK;
    char err[1024];
    for (int i = 0; i < n; i++) {
        if (!nm_of(c, i, &nm[i])) return STEP_FAIL;
        if (!(ta[i] = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[i], &rc))) return rc;
    }
    if (!pgl_subs_enabled(ta, nm, n, on, c->sub_pids, &c->nsub_pids, (int)FC_ARRAY_LEN(c->sub_pids), &failed, err,
                          sizeof err))
        return pgl_sql_fail(c->res, ta[failed], "subscription", err);
    bool any = false;
    for (int i = 0; i < n; i++) {
        t[i] = ta[i];
        if (on[i] && !(t[i] = pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc))) return rc;
        any = any || on[i];
    }
    if (!any) return STEP_OK;
    if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
    /* re-check: a newer holder may have taken over — unless this run's
     * drained mark, the statement before the listing above, just did */
    if (!c->marked) c->s.fenced[PGL_SOURCE] = false;
    c->marked = false;
    if ((rc = pgl_fence(&c->s, PGL_SOURCE)) != STEP_OK) return rc;
    if (!pgl_subs_disable(t, nm, n, on, &failed, err, sizeof err))
        return pgl_sql_fail(c->res, t[failed], "subscription", err);
    return STEP_OK;
}

static step_rc disable_subscriptions(cut *c)
{
    step_rc rc = disable_all(c);
    tl_mark(c, "disabled");
    if (rc == STEP_OK) fc_crashpoint("cutover.disabled");
    return rc;
}

/* Phase 2 (drained, source blocked ever since): subscriptions on the target
 * (so it cannot reconnect), then the slots on the source — src is
 * PGL_SOURCE before the switch, PGL_RETIRED (the frozen source under its
 * retired name, or its own with a proxy or CNAME) after it: every cutover
 * run past the switch does it again until nothing is left (and cleanup
 * after it), so a crash never leaves the slot behind. Resumable: each part
 * is idempotent and the drained mark says the drain is not needed again.
 * Every change is preceded by a lease and fence check (the source's fence
 * row, on whichever name reaches the source). */
static step_rc teardown(cut *c, pgl_side src)
{
    char err[1024];
    step_rc rc = subscriptions_drop(c, src);
    if (rc != STEP_OK) return rc;
    fc_crashpoint("cutover.teardown");
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        if (!nm_of(c, i, &nm)) return STEP_FAIL;
        pgq *q = pgl_conn(&c->s, src, PGL_AS_ADMIN, c->s.dbs[i], &rc);
        if (!q) return rc;
        if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
        c->s.fenced[src] = false;
        if ((rc = pgl_fence(&c->s, src)) != STEP_OK) return rc;
        if (!pgl_teardown_source(q, &nm, true, err, sizeof err))
            return pgl_sql_fail(c->res, q, "dropping the slot", err);
    }
    return STEP_OK;
}

/* A teardown interrupted after DISABLE by an older version (or a failure
 * that gave the source back) leaves a disabled subscription while the slot
 * still exists: nothing would drain, so enable it again. */
static step_rc resume_subscriptions(cut *c)
{
    char err[512];
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        if (!nm_of(c, i, &nm)) return STEP_FAIL;
        step_rc rc = STEP_OK;
        pgq *t = pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc);
        if (!t) return rc;
        if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
        bool resumed = false;
        if (!pgl_resume_teardown(t, &nm, &resumed, err, sizeof err))
            return pgl_sql_fail(c->res, t, "subscription", err);
    }
    return STEP_OK;
}

static step_rc source_state(cut *c, int *blocked, int64_t *since, bool *slot_exists, bool *drained)
{
    step_rc rc = STEP_OK;
    pgq *q = pgl_conn(&c->s, PGL_SOURCE, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    pgl_db_names nm;
    if (!nm_of(c, 0, &nm)) return STEP_FAIL;
    char err[512];
    if (!pgl_blocked_since(q, &nm, blocked, since, err, sizeof err))
        return pgl_sql_fail(c->res, q, "cutover state", err);
    pgl_slot_info si;
    if (!pgl_slot_status(q, nm.slot, &si, err, sizeof err)) return pgl_sql_fail(c->res, q, "cutover state", err);
    *slot_exists = si.exists;
    return pgl_fence_drained(&c->s, PGL_SOURCE, drained);
}

/* The gate: window + approval; the watch keeps running while it waits. */
static step_rc gate(cut *c)
{
    step_ctx *ctx = c->ctx;
    fc_window w;
    char err[200];
    if (!window_parse(pgl_cfield(ctx, "window"), &w, err, sizeof err)) {
        PGL_REASON(c->res, "%s", err);
        return STEP_FAIL;
    }
    pgl_gate_in gi;
    memset(&gi, 0, sizeof gi);
    gi.window = &w;
    gi.now_ms = fc_now_ms();
    gi.need_approval = !strcmp(pgl_cfield(ctx, "cutover_mode"), "approve");
    gi.approved = pgl_truthy(pgl_fact(ctx, "approved")) || pgl_opt(ctx, "approved");
    gi.min_window_left_ms = 0;
    int64_t wait = 0;
    pgl_gate g = pgl_gate_check(&gi, &wait);
    int64_t lag = -1;
    step_rc rc = pgl_watch(&c->s, true, &lag);
    if (rc != STEP_OK) return rc;
    if (g == PGL_GATE_APPROVAL) {
        step_ctx_set_fact(ctx, "waiting_approval", "1");
        c->res->wait_ms = wait;
        PGL_REASON(c->res, "waiting for approval (fleetcrypt approve %s %s); lag %lld bytes", step_ctx_campaign(ctx),
                   step_ctx_instance(ctx), (long long)lag);
        return STEP_WAIT;
    }
    if (*pgl_fact(ctx, "waiting_approval") && strcmp(pgl_fact(ctx, "waiting_approval"), "0") != 0)
        step_ctx_set_fact(ctx, "waiting_approval", "0");
    if (g == PGL_GATE_WINDOW) {
        c->res->wait_ms = wait < 30000 ? wait + 200 : 30000; /* keep watching the source meanwhile */
        PGL_REASON(c->res, "waiting for the cutover window '%s' UTC (opens in %llds)", pgl_cfield(ctx, "window"),
                   (long long)(wait / 1000));
        return STEP_WAIT;
    }
    /* do not block writers while far behind */
    int64_t thr = pgl_opt_bytes(ctx, "catchup_lag_bytes", 1024LL * 1024);
    if (lag < 0 || lag > thr) {
        c->res->wait_ms = 2000;
        PGL_REASON(c->res, "cutover held: lag %lld bytes over %lld", (long long)lag, (long long)thr);
        return STEP_WAIT;
    }
    return STEP_OK;
}

/* When the block began, read from the frozen source (still blocked after the
 * switch) when a crashed attempt took the fact cutover_block_ms with it;
 * 0 when it cannot be read. Best effort: only the downtime depends on it. */
static int64_t retired_block_since(cut *c)
{
    step_rc rc = STEP_OK;
    pgq *q = pgl_conn(&c->s, PGL_RETIRED, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    pgl_db_names nm;
    if (!q || !nm_of(c, 0, &nm)) {
        c->res->reason[0] = 0;
        return 0;
    }
    int blocked = 0;
    int64_t since = 0;
    char err[256];
    if (!pgl_blocked_since(q, &nm, &blocked, &since, err, sizeof err)) since = 0;
    return blocked > 0 ? since : 0;
}

/* One admin session per database of a side, taken out of the session's
 * cache (it now belongs to the pin) into out[], each holding a snapshot
 * taken now (pgl_pin_snapshot). */
static step_rc pin_side(cut *c, pgl_side side, pgq **out, int64_t deadline)
{
    char err[512];
    for (int i = 0; i < c->s.ndbs; i++) {
        step_rc rc = STEP_OK;
        pgq *p = await_conn(c, side, PGL_AS_ADMIN, c->s.dbs[i], deadline, &rc);
        if (!p) return rc;
        out[i] = p;
        c->s.conn[side][PGL_AS_ADMIN][i] = NULL;
        if (!pgl_pin_snapshot(p, err, sizeof err)) return pgl_sql_fail(c->res, p, "pinning the snapshot", err);
    }
    return STEP_OK;
}

/* Proxy and CNAME leave the target's endpoint as it is (a rename reboots
 * the instance and moves its name): fleetcrypt's sessions there stay open
 * across the switch, and open_target pins the snapshots on them — fewer
 * TLS logins inside the window. */
static bool keeps_target(const cut *c) { return c->proxy || c->cname; }

/* A fresh block, before the window: the target's sessions the window needs
 * opened now, so none is a TLS login inside it (~10–15 ms each, more at
 * load) — fleetcrypt's admin session to every database (the DISABLEs ask
 * the subscriptions' state with it; the pins of proxy and CNAME take them),
 * the master user's to every database (the drain's nudges, the sequences,
 * the privileges, the DISABLEs; the target's block ahead leaves the master
 * user able to log in) and, for proxy and CNAME with validate=normal, a second one to the first
 * database (c->spare): the pins after the switch take the cached ones, so
 * the unblock after them logged in again inside the window. The target's
 * endpoint does not change before the switch (nor across it for proxy and
 * CNAME), and the blocks leave fleetcrypt's role alone. Best effort:
 * whatever is not opened here is opened where it is needed, as before. */
static void open_sessions(cut *c)
{
    char why[sizeof c->res->reason];
    fc_strlcpy(why, c->res->reason, sizeof why);
    step_rc rc = STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++)
        if (!pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[i], &rc) ||
            !pgl_conn(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i], &rc))
            break;
    if (keeps_target(c) && !c->strict && !c->spare) {
        pgq **slot = &c->s.conn[PGL_TARGET][PGL_AS_ADMIN][0];
        pgq *keep = *slot;
        *slot = NULL;
        c->spare = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], &rc);
        *slot = keep;
    }
    if (rc != STEP_OK)
        log_info("cutover: a target session not opened before the window (opened when needed)", "why=\"%s\"",
                 c->res->reason);
    fc_strlcpy(c->res->reason, why, sizeof c->res->reason);
}

/* After the switch: wait (bounded) until the target's endpoint reaches the
 * target itself — never the retired source a lagging name still reaches —
 * pin the target's snapshot, let writers in (fenced), record downtime. */
static step_rc open_target(cut *c, int64_t t0, int64_t deadline)
{
    step_rc rc = STEP_OK;
    char err[512];
    int blocked = 0;
    int64_t since = 0;
    pgq *q = await_conn(c, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], deadline, &rc);
    if (!q) return rc;
    pgl_db_names nm0;
    if (!nm_of(c, 0, &nm0)) return STEP_FAIL;
    if ((rc = pgl_fence(&c->s, PGL_TARGET)) != STEP_OK) return rc;
    tl_mark(c, "target_reached");
    if (!pgl_blocked_since(q, &nm0, &blocked, &since, err, sizeof err))
        return pgl_sql_fail(c->res, q, "target state", err);
    if (blocked == 0) {
        /* writers were let in by an attempt that crashed before its outcome */
        if (!step_ctx_fact(c->ctx, "downtime_ms")) step_ctx_set_fact(c->ctx, "downtime_unknown", "1");
        return STEP_OK;
    }
    if (t0 <= 0) {
        /* resumed after a crash that lost cutover_block_ms: the frozen source
         * says when writers were blocked, else the target's own block start */
        t0 = retired_block_since(c);
        if (t0 <= 0) t0 = since;
        if (t0 > 0) log_warn("cutover: downtime measured from the recorded block start after a restart",
                             "block_start_ms=%lld", (long long)t0);
    }
    if (t0 <= 0) t0 = fc_now_ms();
    /* the target block's quiet gap (block_side), passed during the switch:
     * one empty listing, or its sessions ended and the gap waited again (a
     * block by an earlier run, tgt_quiet_from 0, is long past its gap) */
    int ended = 0;
    if (!pgl_block_settle(q, &nm0, c->tgt_quiet_from, BLOCK_TIMEOUT_MS, &ended, err, sizeof err))
        return pgl_sql_fail(c->res, q, "blocking writers on the target", err);
    if (ended) log_warn("cutover: sessions on the blocked target ended after the switch", "sessions=%d", ended);
    tl_mark(c, "target_settled");
    /* --rollback-window: the reverse replication starts before any writer is in (rollback.c); the
     * comparison below reads the source as it was frozen, not as the reverse replication changes it */
    if ((!c->cluster || c->cname) && pgl_rollback_window_s(c->ctx) > 0) {
        if (!c->strict && !c->src_pinned[0] && !step_ctx_fact(c->ctx, "verify_done")) {
            if ((rc = pin_side(c, PGL_RETIRED, c->src_pinned, deadline)) != STEP_OK) return rc;
        }
        if ((rc = pgl_reverse_setup(&c->s)) != STEP_OK) return rc;
    }
    if (!c->strict) {
        /* pinned sessions (separate from the cached ones): the state at the switch */
        if ((rc = pin_side(c, PGL_TARGET, c->pinned, deadline)) != STEP_OK) return rc;
    }
    tl_mark(c, "pinned");
    fc_crashpoint("cutover.switched");
    if (c->spare && !c->s.conn[PGL_TARGET][PGL_AS_ADMIN][0]) { /* the pin took the cached one */
        c->s.conn[PGL_TARGET][PGL_AS_ADMIN][0] = c->spare;
        c->spare = NULL;
    }
    q = pgl_fenced_begin(&c->s, PGL_TARGET, NULL, &rc);
    if (!q) return rc;
    int restored = 0;
    if (!pgl_unblock(q, &nm0, &restored, err, sizeof err)) {
        pgfence_rollback(q);
        return pgl_sql_fail(c->res, q, "letting writers in on the target", err);
    }
    if ((rc = pgl_fenced_commit(&c->s, q)) != STEP_OK) return rc;
    tl_mark(c, "writers_in");
    int64_t t1 = fc_now_ms();
    int64_t down = t1 - t0;
    if (down < 0) down = 0;
    step_ctx_set_factf(c->ctx, "downtime_ms", "%lld", (long long)down);
    awsstep_mark(c->ctx, "switched_at");
    char d[32];
    snprintf(d, sizeof d, "%.3f", (double)down / 1000.0);
    step_ctx_set_field(c->ctx, "downtime_s", d);
    log_info("cutover: writers in on the target", "downtime_ms=%lld roles=%d", (long long)down, restored);
    return STEP_OK;
}

/* Before the switch only: let the source's writers in again, in a fenced
 * transaction that also clears the drained mark (so a holder that lost its
 * lease can never unblock a source another holder is tearing down). */
static bool unblock_source(cut *c, const char *why)
{
    step_rc rc = STEP_OK;
    char err[512] = "";
    char keep[sizeof c->res->reason];
    fc_strlcpy(keep, c->res->reason, sizeof keep);
    if (!step_ctx_lease_ok(c->ctx)) {
        /* another holder owns the instance now (it took the lease, and the
         * database fence): what the source needs is its decision, not ours */
        log_warn("cutover: lease lost, leaving the source to the holder that took over", "why=\"%s\"", why);
        return false;
    }
    /* the proxies first: a crash between the two leaves the source blocked,
     * which the next run resumes; the other way round, writers let in that
     * no proxy reaches */
    give_back_proxies(c);
    if (c->tgt_master_out > 0) {
        char keep2[sizeof c->res->reason];
        fc_strlcpy(keep2, c->res->reason, sizeof keep2);
        if (target_master_login(c) == STEP_OK) c->tgt_master_out = 0;
        else log_warn("cutover: the master user stays blocked on the target until the next attempt", "why=\"%s\"",
                      c->res->reason);
        fc_strlcpy(c->res->reason, keep2, sizeof c->res->reason);
    }
    pgl_db_names nm;
    int restored = 0;
    pgq *q = nm_of(c, 0, &nm) ? pgl_fenced_begin(&c->s, PGL_SOURCE, NULL, &rc) : NULL;
    bool ok = q && pgl_unblock(q, &nm, &restored, err, sizeof err) &&
              pgfence_set_drained(q, nm.schema, "source", false, err, sizeof err);
    if (ok) {
        ok = pgl_fenced_commit(&c->s, q) == STEP_OK;
    } else if (q) {
        pgfence_rollback(q);
    }
    if (!ok) {
        if (!err[0]) fc_strlcpy(err, c->res->reason, sizeof err);
        fc_strlcpy(c->res->reason, keep, sizeof c->res->reason);
        log_error("cutover failed and the source could NOT be unblocked: abort the instance",
                  "why=\"%s\" err=\"%s\"", why, err);
        size_t n = strlen(c->res->reason);
        snprintf(c->res->reason + n, sizeof c->res->reason - n, " (unblocking the source failed: %s)", err);
        return false;
    }
    fc_strlcpy(c->res->reason, keep, sizeof c->res->reason);
    log_warn("cutover abandoned before the switch: source writable again", "why=\"%s\" roles=%d", why, restored);
    return true;
}

/* Before the switch only, with the source not drained: a target still
 * holding a block record was left so by an attempt whose own block of the
 * target failed after the writers had been given back (or that crashed
 * between the two). Its roles — the master user among them, which the
 * resumed subscriptions, the drain and the sequences need — log in again and
 * the record goes, in a fenced transaction: the next window blocks the
 * target afresh, and the source's own record rows (replicated there when it
 * blocks again) must not meet a stale row of the same role. The target is
 * then as it was during catch-up: nobody's endpoint reaches it yet. */
static step_rc reopen_target(cut *c)
{
    step_rc rc = STEP_OK;
    char err[512];
    pgl_db_names nm;
    if (!nm_of(c, 0, &nm)) return STEP_FAIL;
    pgq *q = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    int blocked = 0;
    int64_t since = 0;
    if (!pgl_blocked_since(q, &nm, &blocked, &since, err, sizeof err))
        return pgl_sql_fail(c->res, q, "target state", err);
    if (blocked == 0) return STEP_OK;
    /* a give-back that could not take the target off a proxy (an early registration, proxy_target_in): the
     * target stays blocked until it is off */
    if ((rc = give_back_proxies_pending(c)) != STEP_OK) return rc;
    if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
    if (!(q = pgl_fenced_begin(&c->s, PGL_TARGET, NULL, &rc))) return rc;
    int restored = 0;
    if (!pgl_unblock(q, &nm, &restored, err, sizeof err)) {
        pgfence_rollback(q);
        return pgl_sql_fail(c->res, q, "opening the target again", err);
    }
    if ((rc = pgl_fenced_commit(&c->s, q)) != STEP_OK) return rc;
    log_warn("cutover: target opened again before the next window (an earlier attempt could not block it)",
             "roles=%d", restored);
    return STEP_OK;
}

/* The target's part of the window failed (before the switch): e.g.
 * sessions of its master user that survive termination (a hung host: a
 * stopped backend ignores SIGTERM), for as long as they hang. Past the
 * drained mark the way is forward only when the source no longer
 * replicates; with the teardown late nothing is gone yet — the
 * subscriptions are only disabled and the slots keep every change made
 * from here — so the writers go back to the source rather than wait,
 * blocked, for the hung sessions to die: the drained mark is cleared with
 * them, the target opened again, and the next attempt enables the
 * subscriptions and starts over. Otherwise (a cluster, a rollback window:
 * torn down inside the window) only forward, as before. */
static void target_part_failed(cut *c)
{
    if (!late_teardown(c)) return;
    if (!unblock_source(c, c->res->reason)) return;
    char keep[sizeof c->res->reason];
    fc_strlcpy(keep, c->res->reason, sizeof keep);
    if (reopen_target(c) != STEP_OK)
        log_warn("cutover: the target stays blocked until the next attempt opens it", "why=\"%s\"", c->res->reason);
    fc_strlcpy(c->res->reason, keep, sizeof c->res->reason);
    size_t n = strlen(c->res->reason);
    snprintf(c->res->reason + n, sizeof c->res->reason - n, " (writers let back in on the source; retried)");
}

/* DDL between the gate and the block (the gate's watch saw none): the
 * guard recorded it, and replication cannot carry it. Read with fleetcrypt's
 * own role (the master user is blocked by now); jump to abort when found. */
static step_rc ddl_recheck(cut *c)
{
    char err[512];
    for (int i = 0; i < c->s.ndbs; i++) {
        pgl_db_names nm;
        step_rc rc = STEP_OK;
        pgq *q = pgl_names_conn(&c->s, c->s.dbs[i], PGL_SOURCE, PGL_AS_ADMIN, &nm, &rc);
        if (!q) return rc;
        int count = 0;
        char events[400] = "";
        if (!pgl_ddl_check(q, &nm, &count, events, sizeof events, err, sizeof err))
            return pgl_sql_fail(c->res, q, "DDL guard", err);
        if (count > 0) {
            char why[480];
            snprintf(why, sizeof why, "schema changed on the source (database %s) just before the block: %.360s",
                     c->s.dbs[i], events);
            return pgl_abort_now(c->ctx, c->res, why);
        }
    }
    return STEP_OK;
}

/* A cluster or a rollback window tears down inside the window, before the
 * target's block: past the drained mark nothing can give the writers back
 * then, so sessions of the master user the target's block would have to end
 * (e.g. fleetcrypt's own of an earlier attempt, hung with their host: a
 * stopped backend ignores SIGTERM) are ended before it, while a failure
 * still gives the writers back. Ours first (they reconnect when needed). */
static step_rc end_target_master_sessions(cut *c)
{
    const char *master = pgl_fact(c->ctx, "master_user");
    if (!*master) return STEP_OK;
    for (int i = 0; i < c->s.ndbs; i++) pgl_conn_drop(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i]);
    step_rc rc = STEP_OK;
    pgq *q = pgl_conn(&c->s, PGL_TARGET, PGL_AS_ADMIN, c->s.dbs[0], &rc);
    if (!q) return rc;
    if (!step_ctx_lease_ok(c->ctx)) return (PGL_REASON(c->res, "lease lost"), STEP_RETRY);
    char err[512];
    int n = 0;
    if (!pgl_end_client_sessions(q, master, BLOCK_TIMEOUT_MS, &n, err, sizeof err))
        return pgl_sql_fail(c->res, q, "ending the master user's sessions on the target", err);
    if (n > 0) log_info("cutover: the master user's other sessions on the target ended", "sessions=%d", n);
    return STEP_OK;
}

/* Before the switch: block, drain, mark drained, tear down. Failures before
 * the drained mark give the source back to its writers; after it, only
 * forward. */
static step_rc before_switch(cut *c, int64_t *t0)
{
    step_ctx *ctx = c->ctx;
    step_result *res = c->res;
    step_rc rc = pgl_fence(&c->s, PGL_SOURCE);
    if (rc != STEP_OK) return rc;
    int blocked = 0;
    int64_t since = 0;
    bool slot = true, drained = false;
    if ((rc = source_state(c, &blocked, &since, &slot, &drained)) != STEP_OK) return rc;
    /* an early registration of a run that never marked the source drained (proxy_target_in): off the proxies
     * before anything else, this run drains before its own switch */
    if (c->tgt_early && !drained && (rc = target_off_proxies(c)) != STEP_OK) return rc;
    if ((rc = target_master_login(c)) != STEP_OK) return rc;
    if (!drained && !slot) {
        PGL_REASON(res, "cutover: the replication slot is gone but the drain never finished: abort and retry");
        if (blocked > 0) unblock_source(c, res->reason);
        return STEP_FAIL;
    }
    if (!drained) {
        if (slot) {
            /* the writers given back after the target's block failed
             * (target_part_failed), or a teardown interrupted by an older
             * version: open the target, replicate again first */
            if (blocked == 0 && (rc = reopen_target(c)) != STEP_OK) return rc;
            if ((rc = resume_subscriptions(c)) != STEP_OK) return rc;
        }
        if (blocked == 0) {
            if ((rc = give_back_proxies_pending(c)) != STEP_OK) return rc;
            if ((rc = gate(c)) != STEP_OK) return rc;
            /* The target first, outside the window: nobody but fleetcrypt
             * writes there before the switch, so its block (every role but
             * the master user, which fleetcrypt still uses there; blocked
             * inside the window after the teardown) costs the writers
             * nothing. Only an optimisation: the block after the teardown
             * is the full one whatever happened here (a resumed attempt
             * with the source blocked skips this). */
            if ((rc = block_side(c, PGL_TARGET, NULL, true, NULL, 0)) != STEP_OK) return rc;
            fc_crashpoint("cutover.target_blocked");
            if ((rc = scan_proxies(c)) != STEP_OK) return rc;
            open_sessions(c);
            c->fresh_block = true;
            fc_holdpoint("cutover.gated"); /* tests: DDL between the gate and the block */
            *t0 = fc_now_ms();
            log_info("cutover: blocking writers", "db=%s method=%s validate=%s", c->orig, method_name(c),
                     c->strict ? "strict" : "normal");
        } else if (since > 0 && *t0 <= 0) {
            *t0 = since; /* resumed after a crash: the block began then */
        }
        step_ctx_set_factf(ctx, "cutover_block_ms", "%lld", (long long)*t0);
        /* While the writers are blocked, a server or network that stops
         * answering (the target's host hung, packets dropped) must not keep
         * them blocked: every query gives up by three quarters of what this
         * run has left, which leaves the rest to let the writers back in. */
        int64_t now = fc_mono_ms();
        pgl_session_answer_by(&c->s, now + (step_ctx_run_deadline(ctx) - now) * 3 / 4);
        fc_lsn L = 0;
        rc = block_side(c, PGL_SOURCE, &L, false, NULL, 0);
        if (rc == STEP_OK) rc = ddl_recheck(c);
        if (rc == STEP_OK) {
            char l[FC_LSN_STRLEN];
            step_ctx_set_fact(ctx, "cutover_lsn", lsn_format(L, l));
            fc_crashpoint("cutover.blocked");
            rc = drain(c, L);
        }
        if (rc == STEP_OK && !late_teardown(c)) rc = end_target_master_sessions(c);
        if (rc == STEP_OK) rc = pgl_fence_mark_drained(&c->s, PGL_SOURCE, true);
        c->marked = rc == STEP_OK;
        pgl_session_answer_by(&c->s, 0);
        if (rc != STEP_OK) {
            unblock_source(c, res->reason);
            return rc;
        }
    } else if (since > 0 && *t0 <= 0) {
        *t0 = since;
    }
    /* a late teardown disables the subscriptions with the target's block
     * (target_part); else from here on only forward: the source no longer
     * replicates */
    return late_teardown(c) ? STEP_OK : teardown(c, PGL_SOURCE);
}

/* The target's part of the window, the source drained and blocked: the
 * subscriptions disabled (a late teardown), then the target blocked, every
 * query bounded like the source's part (a target that stops answering must
 * not keep the writers blocked); a failure gives the writers back when the
 * teardown is late (target_part_failed). */
static step_rc target_part(cut *c)
{
    int64_t now = fc_mono_ms();
    pgl_session_answer_by(&c->s, now + (step_ctx_run_deadline(c->ctx) - now) * 3 / 4);
    step_rc rc = late_teardown(c) ? disable_subscriptions(c) : STEP_OK;
    /* our own master sessions on the target end first: the block then
     * finds nothing to terminate (no pause for a terminated backend) —
     * or only them, still on their way out, and the workers of the
     * subscriptions just disabled (the drain applied everything up to L,
     * and nothing comes after it), exiting by themselves: ended, not
     * waited for, no gap for those */
    int own[3 * PGL_MAX_DBS], nown = 0;
    for (int i = 0; i < c->s.ndbs; i++) {
        pgq *m = c->s.conn[PGL_TARGET][PGL_AS_MASTER][i];
        if (m && m->conn && PQbackendPID(m->conn) > 0) own[nown++] = PQbackendPID(m->conn);
        pgl_conn_drop(&c->s, PGL_TARGET, PGL_AS_MASTER, c->s.dbs[i]);
    }
    for (int i = 0; rc == STEP_OK && i < c->nsub_pids; i++) own[nown++] = c->sub_pids[i];
    if (rc == STEP_OK) rc = block_side(c, PGL_TARGET, NULL, false, own, nown);
    pgl_session_answer_by(&c->s, 0);
    if (rc != STEP_OK) target_part_failed(c);
    return rc;
}

step_rc pgl_step_cutover(step_ctx *ctx, step_result *res)
{
    cut c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.res = res;
    pgl_session_init(&c.s, ctx, res);
    fc_strlcpy(c.orig, step_ctx_instance(ctx), sizeof c.orig);
    awsstep_name(ctx, PGL_SFX_RETIRED, c.ret, sizeof c.ret);
    awsstep_name(ctx, PGL_SFX_TARGET, c.tid, sizeof c.tid);
    c.cluster = awscluster_is(ctx);
    /* a cluster is cut over by its renames (the RDS Proxies in front of it
     * switched after them, shared/awsproxy.c) or by its CNAME */
    c.proxy = !c.cluster && !strcmp(pgl_cfield(ctx, "cutover_method"), "proxy");
    c.cname = !strcmp(pgl_cfield(ctx, "cutover_method"), "cname"); /* an instance's or a cluster's CNAME */
    c.strict = !strcmp(pgl_cfield(ctx, "validate"), "strict");
    int64_t poll_s = 90;
    const char *ps = pgl_cfield(ctx, "switch_poll_s");
    if (*ps) poll_s = strtoll(ps, NULL, 10);
    step_rc rc = STEP_OK;
    if (c.s.ndbs == 0) {
        PGL_REASON(res, "no databases recorded");
        rc = STEP_FAIL;
        goto out;
    }

    /* Where are we? Learned from the world, so a crash anywhere resumes
     * correctly. No AWS call while merely waiting for the window or approval:
     * a source that answers as itself, unblocked, with its slot, has not been
     * switched. */
    bool switched = !strcmp(pgl_fact(ctx, "switched"), "1");
    int64_t t0 = pgl_fact_i64(ctx, "cutover_block_ms", 0);
    if (!switched) {
        int blocked = 0;
        int64_t since = 0;
        bool slot = true, drained = false;
        step_rc src = source_state(&c, &blocked, &since, &slot, &drained);
        if (src != STEP_OK || blocked > 0 || !slot) {
            bool half = false;
            char why[sizeof res->reason];
            fc_strlcpy(why, res->reason, sizeof why);
            res->reason[0] = 0;
            if ((rc = world_switched(&c, &switched, &half)) != STEP_OK) goto out;
            if (c.proxy && switched && !(src == STEP_OK && drained)) {
                /* a proxy has the target but the source was never marked drained (or cannot be read): an
                 * early registration (proxy_target_in) of a run that did not finish its checks — not the
                 * switch. Resumed (the target taken off first, before_switch) or, the source unreadable,
                 * retried: never forward */
                log_warn("cutover: a proxy has the target but the source is not marked drained: an early "
                         "registration, not the switch", "source_read=%d", src == STEP_OK);
                switched = false;
                c.tgt_early = true;
            }
            if (half) {
                log_warn("cutover: resuming a half-done rename swap", "retired=%s target=%s", c.ret, c.tid);
                switched = true;
            }
            if (switched) {
                log_warn("cutover: the switch had happened (learned from AWS): going forward", "method=%s",
                         method_name(&c));
                rc = do_switch(&c, fc_mono_ms() + poll_s * 1000, false);
                if (rc != STEP_OK) goto out;
            } else if (src != STEP_OK) {
                fc_strlcpy(res->reason, why, sizeof res->reason);
                rc = src;
                goto out;
            }
        }
    }
    if (!switched) {
        rc = before_switch(&c, &t0);
        if (rc == STEP_OK) rc = target_part(&c);
        if (rc != STEP_OK) goto out;
        for (int i = 0; i < c.s.ndbs; i++) {
            pgl_conn_drop(&c.s, PGL_SOURCE, PGL_AS_ADMIN, c.s.dbs[i]);
            pgl_conn_drop(&c.s, PGL_SOURCE, PGL_AS_MASTER, c.s.dbs[i]);
            if (!keeps_target(&c)) pgl_conn_drop(&c.s, PGL_TARGET, PGL_AS_ADMIN, c.s.dbs[i]);
        }
        memset(c.s.fenced, 0, sizeof c.s.fenced);
        int64_t deadline = fc_mono_ms() + poll_s * 1000;
        rc = do_switch(&c, deadline, true);
        tl_mark(&c, "switched");
        if (rc != STEP_OK) goto out;
        if (!c.proxy && !c.cname) step_ctx_set_fact(ctx, "retired_id", c.ret);
    }
    step_ctx_set_fact(ctx, "switched", "1");
    /* t0 <= 0: a resumed attempt; open_target finds the block's start */
    rc = open_target(&c, t0, fc_mono_ms() + poll_s * 1000);
    if (rc != STEP_OK) goto out;
    /* the retired source's endpoint, which a fresh rename swap leaves for now (writers are in) */
    if (!c.proxy && !c.cname && !c.cluster && (rc = retired_endpoint(&c, fc_mono_ms() + poll_s * 1000)) != STEP_OK)
        goto out;
    /* validate=normal: the full comparison, frozen source vs the snapshot of
     * the switch. Writers are back on the target: waiting here for the
     * retired source's name to answer costs no downtime. */
    if (!c.strict && c.pinned[0] && !step_ctx_fact(ctx, "verify_done")) {
        for (int i = 0; i < c.s.ndbs && c.src_pinned[0]; i++) {
            /* the frozen source's snapshot (rollback window) is what the comparison reads */
            pgq_close(c.s.conn[PGL_RETIRED][PGL_AS_ADMIN][i]);
            c.s.conn[PGL_RETIRED][PGL_AS_ADMIN][i] = c.src_pinned[i];
            c.src_pinned[i] = NULL;
        }
        int mism = 0;
        dbuf list;
        dbuf_init(&list, 4096);
        step_rc r2 = STEP_OK;
        if (!await_conn(&c, PGL_RETIRED, PGL_AS_ADMIN, c.s.dbs[0], fc_mono_ms() + RETIRED_WAIT_MS, &r2) ||
            pgl_verify_full(&c.s, c.pinned, "normal, snapshot of the target at the switch", &mism, &list) != STEP_OK)
            step_ctx_set_fact(ctx, "verify_error", res->reason);
        res->reason[0] = 0;
        res->wait_ms = 0;
        dbuf_free(&list);
    }
    /* writers are in: the CNAME's old TTL back (costs no downtime). After
     * the comparison above, not before it: a Route 53 error here (throttled,
     * 5xx) re-runs the step, and a re-run no longer has the snapshot of the
     * switch that comparison reads (VERIFICATION INCOMPLETE under AWS
     * faults, test_issue16_faults.py; helper-50, issue 16) */
    if (c.cname && (rc = awscname_restore_ttl(ctx, res)) != STEP_OK) goto out;
    if (late_teardown(&c)) {
        /* writers are in: the subscriptions (disabled inside the window) and
         * the slots go now, on every run past the switch until done */
        step_rc r3 = STEP_OK;
        for (int i = 0; i < c.s.ndbs; i++) pgl_conn_drop(&c.s, PGL_RETIRED, PGL_AS_ADMIN, c.s.dbs[i]); /* verify's */
        c.s.fenced[PGL_RETIRED] = false;
        if (!await_conn(&c, PGL_RETIRED, PGL_AS_ADMIN, c.s.dbs[0], fc_mono_ms() + poll_s * 1000, &r3)) {
            rc = r3;
            goto out;
        }
        if ((rc = teardown(&c, PGL_RETIRED)) != STEP_OK) goto out;
    }
    rc = STEP_OK;
out:
    cut_free(&c);
    return rc;
}
