/* awsmemo — a worker process's short-lived memory of AWS answers that many
 * instances of one campaign would otherwise each ask for (issue 17: calls
 * per instance), e.g. "parameter group G of campaign C has
 * rds.logical_replication on", and the preflights' Describes of instances
 * admitted together, asked as one (awsmemo_describe_instance). Only a yes is remembered, by a key the
 * caller builds (campaign and resource in it), for at most max_age_ms: a
 * no, or anything older, is asked again. Process-wide and thread-safe (the
 * executors share it); a fixed table, the oldest entry replaced when full;
 * nothing to create or free. Also: the in-run awaits of one process
 * sharing their looks (awsmemo_await_*). */
#ifndef FC_STRATEGY_AWSMEMO_H
#define FC_STRATEGY_AWSMEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "rds.h"

/* Was `key` remembered within the last max_age_ms (fc_mono_ms clock)? */
bool awsmemo_seen(const char *key, int64_t max_age_ms);
/* Remember `key` as of now (a key longer than the table's is not kept). */
void awsmemo_put(const char *key);
/* awsmemo_seen, and when it is not seen but another caller of this process
 * is asking under `key` right now, that caller's answer: waits at most
 * wait_ms for it (a yes it puts is this caller's too). False: not seen —
 * the caller asks, and the others wait for it until it calls awsmemo_put
 * (a yes) or awsmemo_asked (a no, an error). So the preflights of a wave,
 * all reaching the same parameter group at once, make one call, not one
 * each. */
bool awsmemo_seen_or_ask(const char *key, int64_t max_age_ms, int64_t wait_ms);
/* The caller that asked under `key` (awsmemo_seen_or_ask false) is done
 * without a yes: the next one asks. awsmemo_put ends the asking too. */
void awsmemo_asked(const char *key);
/* Tests: forget everything. */
void awsmemo_reset(void);

/* DescribeDBInstances of `id`, answered together with this worker's other
 * executors asking under the same `key` (campaign and region in it) at about
 * the same time: a caller that finds no batch gathering under `key` opens
 * one, waits window_ms for more (less once the batch is full: 100
 * identifiers, AWS's limit for one filter; a lone caller waits the window
 * too: for a preflight that is no one's downtime, and asking at once cost
 * one Describe per worker and admission wave), then describes them all
 * with one filtered call
 * (db-instance-id), and every caller of the batch takes its own instance
 * from that answer (an identifier not in lower case is always described
 * alone). A caller that joined waits for that answer at most
 * AWSMEMO_JOIN_WAIT_WINDOWS × window_ms from the batch's start, then
 * describes its own instance alone (a leader whose call overruns, its
 * Describe throttled and retried, holds no one). An identifier the answer
 * lacks is AWS_ERR_NOT_FOUND (the filter's answer holds every instance
 * that has one of them); an error of the call is every caller's. *out is
 * the caller's (rds_instance_free). window_ms <= 0: always alone.
 * Thread-safe; blocks at most window_ms plus the call (the batch's leader,
 * alone) or AWSMEMO_JOIN_WAIT_WINDOWS × window_ms plus its own call (a
 * joiner). A caller that comes while a batch is being asked describes
 * alone. */
#define AWSMEMO_JOIN_WAIT_WINDOWS 11
bool awsmemo_describe_instance(aws_client *c, const char *key, const char *id, int64_t window_ms,
                               rds_instance **out, aws_error *err);
/* Tests: the filtered Describe used instead of DescribeDBInstances (NULL:
 * the real one); same contract as rds_describe_db_instances_all. */
typedef bool (*awsmemo_describe_fn)(aws_client *c, const rds_describe_opts *o, rds_instance_list **out,
                                    aws_error *err);
void awsmemo_set_describe(awsmemo_describe_fn fn);

/* ---- awaits sharing their looks (issue 17: the swap's awaits of a
 * campaign's instances, each looking at its own instance at its own
 * moments, were one DescribeDBInstances per instance and look) ----
 * An await registers its instance under `key` (campaign, region, account
 * in it) for as long as it waits. A look (awsmemo_await_look) takes the
 * latest answer for its instance published by another await's look if
 * that look was sent at or after accept_ms (fc_mono_ms: the caller's
 * freshness bound, never before its own registration); else, while a look
 * that includes its instance is being asked (sent at or after accept_ms),
 * it waits for that answer (at most AWSMEMO_AWAIT_JOIN_MS); else it asks at
 * once, never waiting for others: one filtered DescribeDBInstances
 * (db-instance-id) of every instance registered under key (the first 100,
 * its own first), whose answers it publishes to them all (an identifier
 * the answer lacks: not found). Its error is its own (the others look
 * again). An identifier not in lower case, or a full table, is not
 * registered (handle -1): such a look is its own Describe, as are all
 * looks with a NULL key. Thread-safe. */
#define AWSMEMO_AWAIT_JOIN_MS 2000
/* Register id under key: a handle, or -1 (described alone). */
int awsmemo_await_begin(const char *key, const char *id);
/* The look board (lib/store/store_looks.h): the instances other worker
 * processes await under the key. A look this process asks calls ask at
 * once before its Describe (outside any lock): up to max of them into ids
 * (the caller marks the look begun), which the look includes after its own
 * (once each, never one of this process's, nothing malformed; the 100 in
 * all); then publish, once this process's awaits have their answers:
 * l the answer (an identifier it lacks: not found; NULL: the look failed),
 * ids those of them the look included (n may be 0), sent_ms when it was
 * sent (fc_mono_ms). NULL: none. */
typedef struct awsmemo_board {
    size_t (*ask)(void *ud, char (*ids)[64], size_t max);
    void (*publish)(void *ud, const rds_instance_list *l, const char *const *ids, size_t n, int64_t sent_ms);
    void *ud;
} awsmemo_board;
/* A look at id (the handle's, or `id` alone when h < 0): *out the caller's
 * (rds_instance_free), NULL with err AWS_ERR_NOT_FOUND when AWS has no such
 * instance; *seen_ms (optional): fc_mono_ms the answer's Describe was sent.
 * *shared (optional): the answer came from another await's look. board
 * (may be NULL): see awsmemo_board. */
bool awsmemo_await_look(aws_client *c, int h, const char *id, int64_t accept_ms, const awsmemo_board *board,
                        rds_instance **out, int64_t *seen_ms, bool *shared, aws_error *err);
/* Its first look, made at once, came before the end (a rename AWS applies
 * in seconds, not at once): set_early; early: another await going on
 * under h's key saw that (then a first look at once would most likely be
 * early too). h < 0: nothing, false. */
void awsmemo_await_set_early(int h);
bool awsmemo_await_early(int h);
/* When this await looks next, it meaning to at due_ms (fc_mono_ms): at the
 * earliest look another await under its key has planned between
 * max(now, not_before_ms) and due_ms (that look includes this instance: the
 * two looks are one Describe), else at due_ms; never later than its own
 * due, so no look is made later than its own plan would. The answer is
 * recorded as this await's planned look, for the others. The swap's
 * renames, sent moments apart, each planned their looks from their own
 * start: 13 Describes for 4 renames in the calls bench, where one plan
 * needs 4-5. h < 0: due_ms. */
int64_t awsmemo_await_plan(int h, int64_t due_ms, int64_t not_before_ms);
/* The await plans its next look at at_ms after all (a look planned
 * elsewhere: the look board), recorded for the others; at_ms returned
 * (h < 0: nothing). */
int64_t awsmemo_await_replan(int h, int64_t at_ms);
/* Has this process an answer for h sent at or after accept_ms not taken
 * yet, or a look that includes h sent at or after it still being asked
 * (awsmemo_await_look would take or join it)? h < 0: false. */
bool awsmemo_await_pending(int h, int64_t accept_ms);
/* The await is over (h < 0: nothing). */
void awsmemo_await_end(int h);

#endif
