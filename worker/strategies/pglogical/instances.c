/* instances — pg-logical's helpers for RDS instances (pglogical_common.h;
 * describe, ours-by-tags, rename and the bounded wait are shared/awsstep.h's):
 * learn a source read replica's settings as facts replica.<k>.*
 * (preflight) for the replicas step to re-create it. */
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsstep.h"
#include "log.h"
#include "util.h"

void pgl_learn_replica(step_ctx *ctx, int k, const rds_instance *r)
{
    char f[64];
#define RFACT(name) (snprintf(f, sizeof f, "replica.%d." name, k), f)
    step_ctx_set_fact(ctx, RFACT("id"), r->identifier);
    step_ctx_set_fact(ctx, RFACT("class"), r->instance_class);
    step_ctx_set_fact(ctx, RFACT("az"), r->availability_zone);
    step_ctx_set_factf(ctx, RFACT("multi_az"), "%d", r->multi_az ? 1 : 0);
    step_ctx_set_fact(ctx, RFACT("param_group"), r->n_param_groups ? r->param_groups[0].name : "");
    step_ctx_set_factf(ctx, RFACT("port"), "%d", r->port);
    step_ctx_set_fact(ctx, RFACT("storage_type"), r->storage_type);
    char sgs[512];
    awsstep_sgs_text(r, sgs, sizeof sgs);
    step_ctx_set_fact(ctx, RFACT("sgs"), sgs);
    char tags[1024];
    if (awsstep_user_tags_text(r, tags, sizeof tags)) step_ctx_set_fact(ctx, RFACT("tags"), tags);
#undef RFACT
}
