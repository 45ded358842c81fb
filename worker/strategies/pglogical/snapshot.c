/* snapshot — step `snapshot` of pg-logical: the source watch, then the
 * snapshot path shared with the offline strategy (awsstep.h; offline
 * snapshots the stopped, renamed source, we snapshot the running one).
 * Create on the first run, look first on a later one (step_ctx_intent),
 * deterministic names (fc-<campaign>-<instance>-snap,
 * -enc for copy-encrypted, which shares pgl_snapshot_like), our tags on
 * everything, waits answered by the coordinator's fleet poller (STEP_WAIT
 * with wait_on "snap:<id>"), never a sleep. Every run first watches the
 * source (retained WAL, DDL): the slot made by prepare-source holds WAL
 * through hours of snapshot, copy and restore. */
#include "pglogical.h"
#include "pglogical_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscluster.h"
#include "awsstep.h"
#include "initial_copy.h"
#include "log.h"
#include "util.h"

/* snapshot (copy=false) of the running source, or its encrypted copy. */
step_rc pgl_snapshot_like(step_ctx *ctx, step_result *res, bool copy)
{
    step_rc rc = pgl_watch_source(ctx, res);
    if (rc != STEP_OK) return rc;
    if (pgl_ic_on(ctx)) return STEP_OK; /* --initial-copy always: nothing to snapshot (initial_copy.h) */
    if (!copy) fc_holdpoint("snapshot.begin"); /* tests: a transaction prepared just before the snapshot */
    if (awscluster_is(ctx)) return copy ? pgl_cluster_copy(ctx, res) : pgl_cluster_snapshot(ctx, res);
    awsstep_snap_spec sp = {.copy = copy, .of = step_ctx_instance(ctx), .must_be_ours = true, .busy = "busy",
                            .record_done = true};
    return awsstep_snapshot_like(ctx, res, &sp);
}

step_rc pgl_step_snapshot(step_ctx *ctx, step_result *res) { return pgl_snapshot_like(ctx, res, false); }
