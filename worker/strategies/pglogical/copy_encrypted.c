/* copy_encrypted — step `copy-encrypted` of pg-logical: the source watch,
 * then the snapshot copied under the campaign's KMS key
 * (fc-<campaign>-<instance>-enc), the same path as `snapshot`
 * (pgl_snapshot_like in snapshot.c). */
#include "pglogical.h"
#include "pglogical_common.h"

step_rc pgl_step_copy_encrypted(step_ctx *ctx, step_result *res) { return pgl_snapshot_like(ctx, res, true); }
