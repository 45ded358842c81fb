/* awsmemo — a worker process's short-lived memory of AWS answers that many
 * instances of one campaign would otherwise each ask for (issue 17: calls
 * per instance), e.g. "parameter group G of campaign C has
 * rds.logical_replication on". Only a yes is remembered, by a key the
 * caller builds (campaign and resource in it), for at most max_age_ms: a
 * no, or anything older, is asked again. Process-wide and thread-safe (the
 * executors share it); a fixed table, the oldest entry replaced when full;
 * nothing to create or free. */
#ifndef FC_STRATEGY_AWSMEMO_H
#define FC_STRATEGY_AWSMEMO_H

#include <stdbool.h>
#include <stdint.h>

/* Was `key` remembered within the last max_age_ms (fc_mono_ms clock)? */
bool awsmemo_seen(const char *key, int64_t max_age_ms);
/* Remember `key` as of now (a key longer than the table's is not kept). */
void awsmemo_put(const char *key);
/* Tests: forget everything. */
void awsmemo_reset(void);

#endif
