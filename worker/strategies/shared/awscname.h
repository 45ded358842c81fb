/* awscname — the Route 53 CNAME an application reaches a source through,
 * switched to the encrypted copy at the cutover (--cutover-method cname;
 * docs/pg-logical.md, *Cutover methods*), shared by the strategies that
 * keep the source under its identifier and move the name instead.
 *
 * The record: campaign field `cname` ("INSTANCE=NAME[,INSTANCE=NAME...]")
 * or the source's tag fleetcrypt:cname, a CNAME in a hosted zone of the
 * account (ListHostedZonesByName, the longest zone the name ends with)
 * whose value is the source's Endpoint.Address.
 *
 * Facts: cname_name, cname_zone; cname_old_value, cname_old_ttl (the record
 * as found, before fleetcrypt changed it: learnt once, never after a TTL
 * change); cname_low_ttl; cname_ttl_try / cname_switch_try /
 * cname_restore_try / cname_back_try / cname_rb_try (intents,
 * step_ctx_intent, before each UPSERT); cname_ttl_change,
 * cname_switch_change, cname_rb_change (change ids); cname_switched_ms,
 * cname_rb_switched_ms (when the switch, the switch back, was INSYNC);
 * cname_ttl_insync_ms (when the lowered TTL was seen INSYNC: the old TTL is
 * waited out from then); cname_ttl_restored. Every UPSERT is idempotent
 * (the record is read first when an intent says an earlier run may have
 * acted), the lease checked before it. Crash points cutover.cname_upserted
 * and rollback.cname_upserted (tests) between the switch's (the switch
 * back's) UPSERT and its outcome. */
#ifndef FC_STRATEGY_AWSCNAME_H
#define FC_STRATEGY_AWSCNAME_H

#include <stdbool.h>
#include <stdint.h>

#include "awsstep.h"

#define AWSCNAME_TAG "fleetcrypt:cname"

/* The record name for instance `id`: its entry in `field` (the campaign's
 * `cname` option, "INSTANCE=NAME[,...]"), else the tag fleetcrypt:cname
 * among tags; false when neither. */
bool awscname_name_for(const char *field, const char *id, const aws_tag *tags, size_t ntags, char *out, size_t cap);
/* Preflight: the zone and the record (a CNAME whose value is
 * source_address, else FAIL with the reason), facts cname_name, cname_zone,
 * cname_old_value, cname_old_ttl. After a TTL change only checks that the
 * facts are there. */
step_rc awscname_learn(step_ctx *ctx, step_result *res, const char *name, const char *source_address);
/* Ahead of the cutover: the record's TTL lowered to low_ttl (kept when it
 * is already that low), then *ready once the change is INSYNC and the old
 * TTL has passed since (resolvers no longer hold the old answer longer
 * than low_ttl). *wait_ms: when to look again. */
step_rc awscname_lower_ttl(step_ctx *ctx, step_result *res, int64_t low_ttl, bool *ready, int64_t *wait_ms);
/* Does the record point at target_address (the switch began)? */
step_rc awscname_switched(step_ctx *ctx, step_result *res, const char *target_address, bool *switched);
/* At the cutover (writers blocked): UPSERT the CNAME to target_address
 * (the lowered TTL), then wait until GetChange says INSYNC, bounded by
 * deadline (fc_mono_ms; STEP_WAIT past it, resumed by the next run). */
step_rc awscname_switch(step_ctx *ctx, step_result *res, const char *target_address, int64_t deadline);
/* The rollback window's switch back (writers blocked on both sides): the
 * record's original value and TTL UPSERTed, then awaited INSYNC, bounded by
 * deadline (STEP_WAIT past it): writers are let in on the source only once
 * the name reaches it everywhere. */
step_rc awscname_switch_back(step_ctx *ctx, step_result *res, int64_t deadline);
/* After the switch: the old TTL back on the record (value unchanged).
 * Fact cname_ttl_restored. */
step_rc awscname_restore_ttl(step_ctx *ctx, step_result *res);
/* Abort before the switch: the record's old value and TTL back (nothing to
 * do when fleetcrypt never changed it). */
step_rc awscname_roll_back(step_ctx *ctx, step_result *res);

#endif
