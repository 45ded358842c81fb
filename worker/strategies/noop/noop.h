/* noop — strategy "noop", for tests and the control-plane benchmark: a few
 * steps that each return at once. It makes no AWS call and touches no
 * database, so its instance identifiers need not exist anywhere; what it
 * exercises is everything around the steps (Kafka, Redis, admission,
 * leases, the outbox, the CLI). docs/NEW-STRATEGY.md walks through how it
 * was added. */
#ifndef FC_STRATEGY_NOOP_H
#define FC_STRATEGY_NOOP_H

#include "step.h"

extern const strategy_def fc_strategy_noop; /* descriptor.c */
extern const strategy_impl fc_impl_noop;    /* noop.c */

#endif
