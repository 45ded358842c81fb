/* offline — strategy "offline": rename the source away (its endpoint name
 * stops answering), stop it, snapshot the stopped instance, copy the
 * snapshot with the campaign's KMS key, restore the copy under the
 * original identifier with the source's settings (same endpoint address and
 * port), tag the stopped retired source, delete the intermediate snapshots.
 * Downtime is the whole run; no write can land after the snapshot. Needs no
 * database credentials. DESIGN.md §5; docs/orchestration.md explains why the
 * source is renamed before it is stopped. */
#ifndef FC_STRATEGY_OFFLINE_H
#define FC_STRATEGY_OFFLINE_H

#include "step.h"

extern const strategy_def fc_strategy_offline; /* descriptor.c */
extern const strategy_impl fc_impl_offline;     /* offline.c */

#endif
