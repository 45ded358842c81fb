/* switch — the switch by the campaign's cutover method, one dispatch for
 * the cutover (to the encrypted copy, cutover.c) and the rollback window's
 * switch back (to the source, rollback.c): RDS Proxy targets
 * (shared/awsproxy.c: the new target registered and awaited AVAILABLE, the
 * old one deregistered), the application's CNAME (shared/awscname.c: the
 * UPSERT awaited INSYNC), or the caller's rename swap (an instance's or a
 * cluster's, which differ by direction). Writers are blocked on both sides
 * while it runs; every call is idempotent and bounded by the deadline
 * (STEP_WAIT past it, resumed by the next run). */
#include "pglogical_common.h"

#include <assert.h>
#include <string.h>

#include "awscluster.h"
#include "awscname.h"
#include "awsproxy.h"

pgl_method pgl_cutover_method(step_ctx *ctx)
{
    const char *m = pgl_cfield(ctx, "cutover_method");
    if (!strcmp(m, "cname")) return PGL_METHOD_CNAME;
    /* a cluster's proxies are switched after its renames (cluster.c) */
    if (!strcmp(m, "proxy") && !awscluster_is(ctx)) return PGL_METHOD_PROXY;
    return PGL_METHOD_RENAME;
}

const char *pgl_named_proxies(step_ctx *ctx)
{
    const char *given = pgl_cfield(ctx, "proxy_name");
    if (!*given && !*pgl_fact(ctx, "proxy_names")) given = pgl_fact(ctx, "proxy_name");
    return given;
}

step_rc pgl_switch(step_ctx *ctx, step_result *res, pgl_switch_dir dir, const char *orig, const char *tid,
                   int64_t deadline, pgl_rename_fn rename, void *arg, int *nproxies)
{
    bool fwd = dir == PGL_TO_TARGET;
    if (nproxies) *nproxies = 0;
    switch (pgl_cutover_method(ctx)) {
    case PGL_METHOD_PROXY:
        return awsproxy_switch(ctx, res, AWSPROXY_INSTANCE, fwd ? tid : orig, fwd ? orig : tid,
                               pgl_named_proxies(ctx), deadline, nproxies);
    case PGL_METHOD_CNAME:
        return fwd ? awscname_switch(ctx, res, pgl_fact(ctx, "target_address"), deadline)
                   : awscname_switch_back(ctx, res, deadline);
    case PGL_METHOD_RENAME:
        break;
    }
    assert(rename);
    return rename(arg, deadline);
}
