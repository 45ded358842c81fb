/* offsets — per-partition offset tracking for manual offset store: a
 * message's offset may be stored only when it and every earlier message of
 * its partition are finished (steps finish out of order on the executors).
 * Owned by the polling thread; no locking. */
#ifndef FC_WORKER_OFFSETS_H
#define FC_WORKER_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

#define OFFTRACK_MAX_PARTITIONS 256

typedef struct offtrack offtrack;

offtrack *offtrack_new(void);
void offtrack_free(offtrack *o);
/* Partition (re)assigned or revoked: forget its pending offsets and bump its
 * generation so completions of older tasks are ignored. */
void offtrack_reset(offtrack *o, int32_t partition);
uint64_t offtrack_generation(const offtrack *o, int32_t partition);
/* A message was dispatched (offsets arrive in increasing order). */
bool offtrack_add(offtrack *o, int32_t partition, int64_t offset);
/* A message finished. Returns the offset to store (next to consume) when the
 * committable point advanced, else -1. Stale generations return -1. */
int64_t offtrack_done(offtrack *o, int32_t partition, int64_t offset, uint64_t generation);
/* Pending (unfinished) messages over all partitions. */
long offtrack_pending(const offtrack *o);

#endif
