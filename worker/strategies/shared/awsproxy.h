/* awsproxy — the RDS Proxies in front of a source, an RDS instance
 * (RDS_INSTANCE target) or an Aurora cluster (TRACKED_CLUSTER target, its
 * members RDS_INSTANCE targets carrying TrackedClusterId), shared by the
 * strategies that move a source's proxies to the encrypted copy
 * (awsproxy.c; docs/clusters.md, *RDS Proxy in front of a cluster*;
 * docs/mysql-binlog.md, *RDS Proxy*; docs/pg-logical.md, the proxy cutover).
 *
 * Facts: proxy_names (the proxies, one per line: learnt at preflight, or
 * the campaign's proxy_name, or found at the switch), proxy_skipped (a
 * proxy deleted or pointed elsewhere by someone else: left alone).
 * Idempotent, resumable by observation (DescribeDBProxyTargets), the lease
 * checked before every call that changes a proxy; crash points
 * cutover.proxy_deregistered between a deregistration and the registration,
 * cutover.proxy_source_out after an early deregistration,
 * cutover.proxy_target_in after an early registration. */
#ifndef FC_STRATEGY_AWSPROXY_H
#define FC_STRATEGY_AWSPROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "awsstep.h"

#define AWSPROXY_MAX 8

typedef enum { AWSPROXY_INSTANCE = 0, AWSPROXY_CLUSTER } awsproxy_kind;

/* Every proxy whose target is `id` (or `alt`, when not NULL: a target
 * registered by an interrupted switch), or the proxies `named` (a comma-
 * separated list, each checked to have id or alt), as fact proxy_names;
 * with required, none is a failure. */
step_rc awsproxy_learn(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *id, const char *alt,
                       const char *named, bool required);
/* Each proxy (named, else the recorded ones and any that has `from` or
 * `to` now; fact proxy_names updated) moved from `from` to `to`:
 * deregistered, registered, awaited until `to` (a cluster's writer) is
 * AVAILABLE, bounded by deadline (fc_mono_ms; STEP_WAIT past it; every
 * call failing for now sent again until then: awsstep_blocked_budget). *n:
 * how many proxies (may be NULL). */
step_rc awsproxy_switch(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                        const char *named, int64_t deadline, int *n);
/* awsproxy_switch of the set awsproxy_scan found a moment ago (fact
 * proxy_names; writers blocked since): each proxy, which the scan saw with
 * `from`, is deregistered and registered without a look first — one call
 * less inside the window — and looked at after, as awsproxy_switch does (a
 * deregistration that finds `from` gone looks first instead). from_out:
 * awsproxy_deregister_scanned took `from` off every one of them a moment
 * ago — the first pass only registers `to` (a proxy gone since: looks). */
step_rc awsproxy_switch_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to,
                                const char *from, bool from_out, int64_t deadline, int *n);
/* `from` deregistered from each proxy awsproxy_scan found (fact
 * proxy_names), without a look — the writers blocked on `from` already, in
 * its quiet gap, ahead of the switch (pg-logical's proxy cutover). *all_out:
 * every one of them had it (a proxy deleted or changed since the scan: false,
 * and the switch looks first). The proxies' names are persisted first
 * (step_ctx_persist_fact); when they cannot be, nothing is deregistered
 * (*all_out false). Crash point cutover.proxy_source_out after
 * each; whoever gives the writers back registers `from` again
 * (awsproxy_roll_back). Writers are blocked until deadline (fc_mono_ms):
 * a deregistration failing for now is sent again until then
 * (awsstep_blocked_budget). */
step_rc awsproxy_deregister_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *from,
                                    int64_t deadline, bool *all_out);
/* `to` registered with each proxy awsproxy_scan found (fact proxy_names),
 * without a look — right after awsproxy_deregister_scanned took `from` off
 * every one of them, ahead of the switch (pg-logical's proxy cutover: the
 * target's every login role but fleetcrypt's NOLOGIN, so nothing the
 * application sends through the proxy can land there before it is let in;
 * the switch then only looks, awsproxy_await_scanned). *all_in: every one
 * took it (a proxy deleted or changed since the scan, a registration not
 * taken yet: false, and the switch registers and looks as before). Crash
 * point cutover.proxy_target_in after each; whoever gives the writers back
 * deregisters `to` again (awsproxy_roll_back). Writers are blocked until
 * deadline (fc_mono_ms): a registration failing for now is sent again
 * until then (awsstep_blocked_budget). */
step_rc awsproxy_register_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to,
                                  int64_t deadline, bool *all_in);
/* One look at each proxy awsproxy_scan found (fact proxy_names), no
 * change: *ready every one has `to` AVAILABLE and not `from` (a proxy
 * deleted or pointed elsewhere since counts as not ready: the switch's
 * looks decide). */
step_rc awsproxy_ready_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                               bool *ready);
/* awsproxy_switch of the set awsproxy_scan found, every proxy looked at
 * first (awsproxy_register_scanned registered `to` a moment ago: usually
 * one DescribeDBProxyTargets a proxy, AVAILABLE). */
step_rc awsproxy_await_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                               int64_t deadline, int *n);
/* The set awsproxy_switch would move when not given `named` (the recorded
 * proxies and any that has `from` or `to` now: DescribeDBProxies and one
 * DescribeDBProxyTargets per proxy in the account; fact proxy_names
 * updated), looked up ahead — before the writers are blocked — so the
 * switch itself can be given that list and make no call for it. *n: how
 * many. */
step_rc awsproxy_scan(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from, int *n);
/* Where the proxies stand (the same set as awsproxy_switch's): *any_to
 * some proxy has `to` (the switch began), *done every proxy has `to`
 * AVAILABLE and not `from`; *n how many proxies (may be NULL). */
step_rc awsproxy_state(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                       const char *named, bool *any_to, bool *done, int *n);
/* Abort: `id` (the source) back on each proxy (named, else recorded) that
 * lost it, and `tid` (the never-switched copy) off it. */
step_rc awsproxy_roll_back(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *id, const char *tid,
                           const char *named);

#endif
