/* awsclusterproxy — the RDS Proxies in front of an Aurora cluster source
 * (a proxy whose target group has the cluster: TRACKED_CLUSTER in
 * DescribeDBProxyTargets, its members RDS_INSTANCE targets carrying
 * TrackedClusterId), shared by the strategies that move a cluster to a new
 * one under its identifier (declared in awscluster.h; docs/clusters.md,
 * *RDS Proxy in front of a cluster*).
 *
 * The strategy's renames move the cluster and reader endpoints; the proxy
 * is switched after them: the old cluster (the retired source, under
 * fc-…-retired) is deregistered and the new one, now under the identifier,
 * registered (DeregisterDBProxyTargets/RegisterDBProxyTargets
 * --db-cluster-identifiers; a target group holds one cluster), then awaited
 * until its writer target is AVAILABLE. The proxy's own endpoint never
 * changes. pg-logical switches inside its cutover (writers blocked);
 * offline once the restored cluster is configured.
 *
 * Both behaviours of a registration across a rename are covered (not
 * documented for AWS; the emulator keeps it on the cluster resource): one
 * that follows the resource shows the retired name and is switched; one
 * that follows the name already shows the identifier, now the new cluster.
 *
 * Facts: proxy_names (the proxies, one per line; learnt at preflight, or
 * the campaign's proxy_name), proxy_skipped (a proxy deleted or pointed
 * elsewhere by someone else during the campaign: left alone). Idempotent,
 * resumable by observation (the proxy's targets), the lease checked before
 * every call that changes a proxy; a worker killed between the
 * deregistration and the registration (test crash point
 * cutover.proxy_deregistered) leaves a proxy without a target, which the
 * next holder registers.
 *
 * The same for an RDS instance source (its RDS_INSTANCE target; the
 * awsproxy_* forms of awsproxy.h, kind AWSPROXY_INSTANCE): pg-logical's
 * --cutover-method proxy (the source → fc-…-target, no rename) and
 * mysql-binlog's cutover after its rename swap (the retired source → the
 * identifier, now the encrypted instance; its clusters through
 * awscluster_switch), writers blocked in both; abort gives a proxy that
 * lost the source back. */
#include "awsproxy.h"
#include "awscluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dbuf.h"
#include "log.h"
#include "util.h"

#define PX_MAX AWSPROXY_MAX

static step_rc say(step_result *res, step_rc rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static step_rc say(step_result *res, step_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *fact(step_ctx *ctx, const char *name)
{
    const char *v = step_ctx_fact(ctx, name);
    return v ? v : "";
}

static const char *what(awsproxy_kind kind) { return kind == AWSPROXY_CLUSTER ? "cluster" : "instance"; }

typedef char px_name[64];

/* "a,b" or "a\nb" → names; how many. */
static int split_names(const char *list, px_name *px, int max)
{
    int n = 0;
    const char *p = list;
    while (*p && n < max) {
        size_t l = strcspn(p, ",\n");
        if (l > 0 && l < sizeof px[0]) {
            memcpy(px[n], p, l);
            px[n++][l] = 0;
        }
        p += l;
        if (*p) p++;
    }
    return n;
}

static void record(step_ctx *ctx, px_name *px, int n)
{
    dbuf b;
    dbuf_init(&b, 1024);
    for (int k = 0; k < n; k++) dbuf_printf(&b, "%s%s", k ? "\n" : "", px[k]);
    step_ctx_set_fact(ctx, "proxy_names", b.data ? b.data : "");
    dbuf_free(&b);
}

/* What one proxy's target group holds, seen from `cur` (the target it
 * should have) and `old` (the one it should lose). */
typedef struct px_view {
    bool gone; /* the proxy no longer exists */
    bool has_old, has_cur, cur_ok, any;
    char other[64]; /* a target that is neither (changed by someone else) */
} px_view;

static step_rc view(step_result *res, aws_client *c, awsproxy_kind kind, const char *px, const char *cur,
                    const char *old, px_view *v)
{
    memset(v, 0, sizeof *v);
    rds_proxy_target_list *tl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_proxy_targets(c, px, NULL, &tl, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND || !strcmp(e.code, "DBProxyNotFoundFault")) {
            v->gone = true;
            return STEP_OK;
        }
        return awsstep_fail(res, &e, "DescribeDBProxyTargets");
    }
    for (size_t t = 0; t < tl->n; t++) {
        const rds_proxy_target *x = &tl->v[t];
        v->any = true;
        bool tracked = !strcmp(x->type, "TRACKED_CLUSTER");
        if (kind == AWSPROXY_CLUSTER && tracked) {
            if (old[0] && !strcmp(x->rds_resource_id, old)) v->has_old = true;
            else if (!strcmp(x->rds_resource_id, cur)) v->has_cur = true;
            else fc_strlcpy(v->other, x->rds_resource_id, sizeof v->other);
        } else if (kind == AWSPROXY_CLUSTER && !x->tracked_cluster_id[0]) {
            fc_strlcpy(v->other, x->rds_resource_id, sizeof v->other); /* an instance target */
        } else if (kind == AWSPROXY_CLUSTER) {
            if (!strcmp(x->tracked_cluster_id, cur) && !strcmp(x->role, "READ_WRITE") &&
                !strcmp(x->health_state, "AVAILABLE"))
                v->cur_ok = true;
        } else if (tracked || x->tracked_cluster_id[0]) {
            fc_strlcpy(v->other, x->rds_resource_id, sizeof v->other); /* a cluster target */
        } else if (old[0] && !strcmp(x->rds_resource_id, old)) {
            v->has_old = true;
        } else if (!strcmp(x->rds_resource_id, cur)) {
            v->has_cur = true;
            v->cur_ok = !strcmp(x->health_state, "AVAILABLE");
        } else {
            fc_strlcpy(v->other, x->rds_resource_id, sizeof v->other);
        }
    }
    rds_proxy_target_list_free(tl);
    return STEP_OK;
}

/* The proxies whose target group has `id` or (alt non-empty) `alt`. */
static step_rc proxies_of(step_result *res, aws_client *c, awsproxy_kind kind, const char *id, const char *alt,
                          px_name *px, int *n)
{
    *n = 0;
    rds_proxy_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_proxies(c, NULL, &pl, &e)) return awsstep_fail(res, &e, "DescribeDBProxies");
    step_rc rc = STEP_OK;
    for (size_t k = 0; k < pl->n && rc == STEP_OK; k++) {
        px_view v;
        rc = view(res, c, kind, pl->v[k].name, id, alt ? alt : "", &v);
        if (rc != STEP_OK || v.gone || !(v.has_cur || v.has_old)) continue;
        if (*n == PX_MAX) {
            rc = say(res, STEP_FAIL, "more than %d RDS Proxies have %s %s as their target", PX_MAX, what(kind), id);
        } else {
            fc_strlcpy(px[(*n)++], pl->v[k].name, sizeof px[0]);
        }
    }
    rds_proxy_list_free(pl);
    return rc;
}

step_rc awsproxy_learn(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *id, const char *alt,
                       const char *named, bool required)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    px_name found[PX_MAX], given[PX_MAX];
    int nf = 0;
    step_rc rc = proxies_of(res, c, kind, id, alt, found, &nf);
    if (rc != STEP_OK) return rc;
    int ng = split_names(named ? named : "", given, PX_MAX);
    for (int g = 0; g < ng; g++) {
        bool in = false;
        for (int f = 0; f < nf; f++) in = in || !strcmp(given[g], found[f]);
        if (!in)
            return say(res, STEP_FAIL, "proxy_name: RDS Proxy %s does not have %s %s as its target", given[g],
                       what(kind), id);
    }
    px_name *use = ng ? given : found;
    int n = ng ? ng : nf;
    if (!n && required)
        return say(res, STEP_FAIL,
                   kind == AWSPROXY_CLUSTER
                       ? "--cutover-method proxy: no RDS Proxy has cluster %s as its target (a cluster is cut over "
                         "by its rename; a proxy in front of it is switched as well)"
                       : "cutover_method=proxy: no RDS Proxy has %s as its target (set proxy_name)",
                   id);
    record(ctx, use, n);
    if (n)
        log_info("source is behind RDS Proxy: switched to the encrypted copy at the cutover", "kind=%s id=%s proxies=%d",
                 what(kind), id, n);
    return STEP_OK;
}

/* `id` registered with (reg) or deregistered from proxy px: one call,
 * the cluster or the instance form by kind. */
static bool px_target(aws_client *c, awsproxy_kind kind, const char *px, const char *id, bool reg, aws_error *e)
{
    const char *ids[1] = {id};
    if (kind == AWSPROXY_CLUSTER)
        return reg ? rds_register_db_proxy_cluster(c, px, NULL, id, e) : rds_deregister_db_proxy_cluster(c, px, NULL, id, e);
    return reg ? rds_register_db_proxy_targets(c, px, NULL, ids, 1, NULL, e)
               : rds_deregister_db_proxy_targets(c, px, NULL, ids, 1, e);
}

/* What a switch's first pass may take for granted, without a look: */
typedef enum {
    PX_LOOK = 0, /* nothing: look first */
    PX_SEEN_OLD, /* a scan a moment ago saw `old` registered (awsproxy_scan) */
    PX_OLD_OUT,  /* `old` deregistered a moment ago by awsproxy_deregister_scanned, nothing registered since */
} px_blind;

/* One proxy from old to cur (registered, cur AVAILABLE), bounded by
 * deadline (STEP_WAIT past it). blind PX_SEEN_OLD: a scan a moment ago saw
 * `old` registered with it (awsproxy_scan, before the writers were
 * blocked): the first pass deregisters it and registers `cur` without
 * looking — the look that would have said so is a call inside the window —
 * and looks only after, as every later pass does; a deregistration that
 * finds `old` gone (the proxy changed or deleted since the scan) makes no
 * decision, it looks instead. PX_OLD_OUT: `old` was deregistered a moment
 * ago (the source's quiet gap): the first pass only registers `cur`, and a
 * proxy gone since makes it look instead. */
static step_rc move_proxy(step_ctx *ctx, step_result *res, aws_client *c, awsproxy_kind kind, const char *px,
                          const char *cur, const char *old, int64_t deadline, px_blind how)
{
    int64_t pause = 200;
    bool acted = false; /* a (de)registration this pass: look again at once, then pause */
    for (bool blind = how != PX_LOOK && old[0];; blind = false) {
        px_view v;
        memset(&v, 0, sizeof v);
        v.has_old = blind && how == PX_SEEN_OLD; /* as the scan saw it (PX_OLD_OUT: deregistered since) */
        step_rc rc = blind ? STEP_OK : view(res, c, kind, px, cur, old, &v);
        if (rc != STEP_OK) return rc;
        if (v.gone) {
            log_warn("proxy deleted during the campaign: nothing to switch", "proxy=%s", px);
            step_ctx_set_fact(ctx, "proxy_skipped", px);
            return STEP_OK;
        }
        if (v.other[0] && !v.has_old && !v.has_cur) {
            log_warn("proxy has another target now (changed outside fleetcrypt): left alone", "proxy=%s target=%s",
                     px, v.other);
            step_ctx_set_fact(ctx, "proxy_skipped", px);
            return STEP_OK;
        }
        if (v.has_cur && v.cur_ok && !v.has_old) return STEP_OK;
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        aws_error e;
        if (v.has_old) {
            aws_error_clear(&e);
            bool ok = px_target(c, kind, px, old, false, &e);
            bool missing = e.kind == AWS_ERR_NOT_FOUND || !strcmp(e.code, "DBProxyTargetNotFoundFault") ||
                           (blind && !strcmp(e.code, "DBProxyNotFoundFault"));
            if (!ok && !missing) return awsstep_fail(res, &e, "DeregisterDBProxyTargets");
            if (!ok && blind) continue; /* not as the scan saw it (proxy deleted or changed): look first */
            log_info("proxy target deregistered", "proxy=%s %s=%s", px, what(kind), old);
            acted = true;
            fc_crashpoint("cutover.proxy_deregistered");
        }
        if (!v.has_cur) {
            if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
            aws_error_clear(&e);
            bool ok = px_target(c, kind, px, cur, true, &e);
            if (!ok && blind && (e.kind == AWS_ERR_NOT_FOUND || !strcmp(e.code, "DBProxyNotFoundFault")))
                continue; /* the proxy deleted since the scan: look first */
            if (!ok) {
                if (strcmp(e.code, "DBProxyTargetAlreadyRegisteredFault") != 0 && !rds_err_invalid_state(&e))
                    return awsstep_fail(res, &e, "RegisterDBProxyTargets");
                log_info("proxy registration not taken yet: retried", "proxy=%s %s=%s code=%s", px, what(kind), cur,
                         e.code);
            } else {
                log_info("proxy target registered", "proxy=%s %s=%s", px, what(kind), cur);
                acted = true;
            }
        }
        if (fc_mono_ms() > deadline) {
            res->wait_ms = 5000;
            return say(res, STEP_WAIT, "waiting for RDS Proxy %s to have %s %s AVAILABLE", px, what(kind), cur);
        }
        if (acted) {
            acted = false; /* an emulator or a quick AWS may be done already */
            continue;
        }
        fc_sleep_ms(pause);
        pause = pause * 3 / 2 > 3000 ? 3000 : pause * 3 / 2;
    }
}

/* The proxies to switch: the named ones; else the recorded ones and any
 * proxy that has `from` or `to` now (one registered after preflight, whose
 * registration followed the source across a rename): fact proxy_names
 * updated. */
static step_rc proxies_to_switch(step_ctx *ctx, step_result *res, aws_client *c, awsproxy_kind kind, const char *to,
                                 const char *from, const char *named, px_name *px, int *n)
{
    if (named && *named) {
        *n = split_names(named, px, PX_MAX);
        return STEP_OK; /* the operator named the proxies to switch */
    }
    *n = split_names(fact(ctx, "proxy_names"), px, PX_MAX);
    px_name late[PX_MAX];
    int nl = 0;
    step_rc rc = proxies_of(res, c, kind, to, from, late, &nl);
    if (rc != STEP_OK) return rc;
    bool added = false;
    for (int l = 0; l < nl; l++) {
        bool known = false;
        for (int k = 0; k < *n; k++) known = known || !strcmp(px[k], late[l]);
        if (known || *n == PX_MAX) continue;
        fc_strlcpy(px[(*n)++], late[l], sizeof px[0]);
        added = true;
        log_warn("an RDS Proxy in front of the source not recorded at preflight: switched too", "proxy=%s", late[l]);
    }
    if (added) record(ctx, px, *n);
    return STEP_OK;
}

static step_rc switch_each(step_ctx *ctx, step_result *res, aws_client *c, awsproxy_kind kind, const char *to,
                           const char *from, const char *named, px_blind how, int64_t deadline, int *np);

/* awsproxy_switch and awsproxy_switch_scanned: named set (how: what the
 * first pass of each may take for granted). Every caller's writers are
 * blocked (or its source stopped) until deadline: a call failing for now
 * is sent again until then (awsstep_blocked_budget; a registration not
 * taken yet is move_proxy's to retry) rather than ending the step. */
static step_rc switch_proxies(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                              const char *named, px_blind how, int64_t deadline, int *np)
{
    if (np) *np = 0;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    aws_retry_until prev;
    awsstep_blocked_budget(ctx, c, deadline, false, &prev);
    step_rc rc = switch_each(ctx, res, c, kind, to, from, named, how, deadline, np);
    aws_client_retry_until(c, &prev, NULL);
    return rc;
}

static step_rc switch_each(step_ctx *ctx, step_result *res, aws_client *c, awsproxy_kind kind, const char *to,
                           const char *from, const char *named, px_blind how, int64_t deadline, int *np)
{
    px_name px[PX_MAX];
    int n = 0;
    step_rc rc = proxies_to_switch(ctx, res, c, kind, to, from, named, px, &n);
    if (rc != STEP_OK) return rc;
    if (np) *np = n;
    if (!n) return STEP_OK;
    for (int k = 0; k < n; k++)
        if ((rc = move_proxy(ctx, res, c, kind, px[k], to, from, deadline, how)) != STEP_OK) return rc;
    log_info("every RDS Proxy in front of the source reaches the encrypted copy", "kind=%s id=%s proxies=%d",
             what(kind), to, n);
    res->reason[0] = 0;
    return STEP_OK;
}

step_rc awsproxy_switch(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                        const char *named, int64_t deadline, int *np)
{
    return switch_proxies(ctx, res, kind, to, from, named, PX_LOOK, deadline, np);
}

step_rc awsproxy_switch_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to,
                                const char *from, bool from_out, int64_t deadline, int *np)
{
    const char *seen = fact(ctx, "proxy_names");
    if (!*seen) return say(res, STEP_FAIL, "no RDS Proxy was found by the scan before the switch");
    return switch_proxies(ctx, res, kind, to, from, seen, from_out ? PX_OLD_OUT : PX_SEEN_OLD, deadline, np);
}

/* `id` off (reg false) or on (reg true) each proxy the scan found, without
 * a look: awsproxy_deregister_scanned and awsproxy_register_scanned. */
static step_rc each_scanned(step_ctx *ctx, step_result *res, aws_client *c, awsproxy_kind kind, const char *id,
                            bool reg, bool *all)
{
    px_name px[PX_MAX];
    int n = split_names(fact(ctx, "proxy_names"), px, PX_MAX);
    if (!n) return say(res, STEP_FAIL, "no RDS Proxy was found by the scan before the switch");
    /* once the source is off them, nothing in AWS says which proxies it was
     * on: a run killed from here must leave their names to the next one */
    if (!reg && !step_ctx_persist_fact(ctx, "proxy_names", fact(ctx, "proxy_names"))) {
        log_info("proxies' names not persisted: the source stays on them until the switch", "proxies=%d", n);
        return STEP_OK;
    }
    bool every = true;
    for (int k = 0; k < n; k++) {
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        aws_error e;
        aws_error_clear(&e);
        bool ok = px_target(c, kind, px[k], id, reg, &e);
        /* not as the scan saw it (proxy deleted or changed; registering: another target there, or busy): the
         * switch looks first */
        bool other = e.kind == AWS_ERR_NOT_FOUND || !strcmp(e.code, "DBProxyNotFoundFault") ||
                     (reg ? !strcmp(e.code, "DBProxyTargetAlreadyRegisteredFault") || rds_err_invalid_state(&e)
                          : !strcmp(e.code, "DBProxyTargetNotFoundFault"));
        if (!ok && !other) return awsstep_fail(res, &e, reg ? "RegisterDBProxyTargets" : "DeregisterDBProxyTargets");
        if (!ok) {
            log_info("proxy left to the switch", "proxy=%s %s=%s register=%d code=%s", px[k], what(kind), id, reg,
                     e.code);
            every = false;
            continue;
        }
        log_info(reg ? "proxy target registered" : "proxy target deregistered", "proxy=%s %s=%s early=1", px[k],
                 what(kind), id);
        fc_crashpoint(reg ? "cutover.proxy_target_in" : "cutover.proxy_source_out");
    }
    *all = every;
    return STEP_OK;
}

/* each_scanned with the writers blocked until deadline: a call failing for
 * now (throttled, 5xx, unanswered; with busy, refused as busy) is sent
 * again until then. */
static step_rc scanned_blocked(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *id, bool reg,
                               int64_t deadline, bool busy, bool *all)
{
    *all = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    aws_retry_until prev;
    awsstep_blocked_budget(ctx, c, deadline, busy, &prev);
    step_rc rc = each_scanned(ctx, res, c, kind, id, reg, all);
    aws_client_retry_until(c, &prev, NULL);
    return rc;
}

step_rc awsproxy_deregister_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *from,
                                    int64_t deadline, bool *all_out)
{
    return scanned_blocked(ctx, res, kind, from, false, deadline, true, all_out);
}

step_rc awsproxy_register_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to,
                                  int64_t deadline, bool *all_in)
{
    /* not busy: a registration refused as busy is left to the switch, not waited for in the quiet gap */
    return scanned_blocked(ctx, res, kind, to, true, deadline, false, all_in);
}

step_rc awsproxy_ready_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                               bool *ready)
{
    *ready = false;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    px_name px[PX_MAX];
    int n = split_names(fact(ctx, "proxy_names"), px, PX_MAX);
    bool all = n > 0;
    for (int k = 0; k < n && all; k++) {
        px_view v;
        step_rc rc = view(res, c, kind, px[k], to, from, &v);
        if (rc != STEP_OK) return rc;
        all = !v.gone && v.has_cur && v.cur_ok && !v.has_old;
    }
    *ready = all;
    return STEP_OK;
}

step_rc awsproxy_await_scanned(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                               int64_t deadline, int *np)
{
    const char *seen = fact(ctx, "proxy_names");
    if (!*seen) return say(res, STEP_FAIL, "no RDS Proxy was found by the scan before the switch");
    return switch_proxies(ctx, res, kind, to, from, seen, PX_LOOK, deadline, np);
}

step_rc awsproxy_scan(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from, int *n)
{
    *n = 0;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    px_name px[PX_MAX];
    return proxies_to_switch(ctx, res, c, kind, to, from, NULL, px, n);
}

step_rc awsproxy_state(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *to, const char *from,
                       const char *named, bool *any_to, bool *done, int *np)
{
    *any_to = false;
    *done = true;
    if (np) *np = 0;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    px_name px[PX_MAX];
    int n = 0;
    step_rc rc = proxies_to_switch(ctx, res, c, kind, to, from, named, px, &n);
    if (rc != STEP_OK) return rc;
    if (np) *np = n;
    for (int k = 0; k < n; k++) {
        px_view v;
        if ((rc = view(res, c, kind, px[k], to, from, &v)) != STEP_OK) return rc;
        if (v.gone || (v.other[0] && !v.has_old && !v.has_cur)) continue; /* left alone */
        if (v.has_cur) *any_to = true;
        if (!(v.has_cur && v.cur_ok && !v.has_old)) *done = false;
    }
    return STEP_OK;
}

step_rc awsproxy_roll_back(step_ctx *ctx, step_result *res, awsproxy_kind kind, const char *id, const char *tid,
                           const char *named)
{
    px_name px[PX_MAX];
    int n = split_names(named && *named ? named : fact(ctx, "proxy_names"), px, PX_MAX);
    if (!n) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    for (int k = 0; k < n; k++) {
        px_view v;
        step_rc rc = view(res, c, kind, px[k], id, tid, &v);
        if (rc != STEP_OK) return rc;
        if (v.gone || (v.has_cur && !v.has_old)) continue; /* the proxy has the source: nothing was changed */
        if (v.other[0] && !v.has_old && !v.has_cur) continue;
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        aws_error e;
        if (v.has_old) {
            aws_error_clear(&e);
            bool ok = px_target(c, kind, px[k], tid, false, &e);
            if (!ok && e.kind != AWS_ERR_NOT_FOUND && strcmp(e.code, "DBProxyTargetNotFoundFault") != 0)
                return awsstep_fail(res, &e, "DeregisterDBProxyTargets (abort)");
            log_info("proxy target deregistered", "proxy=%s %s=%s given_back=1", px[k], what(kind), tid);
        }
        if (!v.has_cur) {
            aws_error_clear(&e);
            bool ok = px_target(c, kind, px[k], id, true, &e);
            if (!ok && strcmp(e.code, "DBProxyTargetAlreadyRegisteredFault") != 0) {
                if (rds_err_invalid_state(&e)) {
                    res->wait_ms = 2000;
                    return say(res, STEP_WAIT, "abort: %s %s busy; registering it with RDS Proxy %s next",
                               what(kind), id, px[k]);
                }
                return awsstep_fail(res, &e, "RegisterDBProxyTargets (abort)");
            }
        }
        log_warn("abort: source registered with the proxy again", "proxy=%s %s=%s", px[k], what(kind), id);
    }
    return STEP_OK;
}

/* ---- the cluster forms (awscluster.h) ---- */
step_rc awscluster_proxy_learn(step_ctx *ctx, step_result *res, const char *id, const char *named, bool required)
{
    return awsproxy_learn(ctx, res, AWSPROXY_CLUSTER, id, NULL, named, required);
}

step_rc awscluster_proxy_switch(step_ctx *ctx, step_result *res, const char *orig, const char *ret, bool named,
                                int64_t deadline)
{
    /* named: the operator named them at preflight, which recorded them */
    return awsproxy_switch(ctx, res, AWSPROXY_CLUSTER, orig, ret, named ? fact(ctx, "proxy_names") : NULL, deadline,
                           NULL);
}

step_rc awscluster_proxy_roll_back(step_ctx *ctx, step_result *res, const char *id, const char *tid)
{
    return awsproxy_roll_back(ctx, res, AWSPROXY_CLUSTER, id, tid, NULL);
}
