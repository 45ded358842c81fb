/* lookboard — the entries of the look board (lib/store/store_looks.h):
 * what one worker's in-run look at an instance saw, for the awaits of the
 * same campaign in other worker processes. An entry holds only what an
 * await and its callers read (the status, the endpoint and the three tags
 * fleetcrypt's ownership check reads), never anything else of the
 * instance: a reader takes it in place of a look of its own. Pure
 * functions (tests/unit/test_lookboard.c). */
#ifndef FC_LOOKBOARD_H
#define FC_LOOKBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lookboard_entry {
    int64_t sent_ms;   /* wall-clock ms the look's Describe was sent */
    bool present;      /* AWS had an instance of that identifier */
    char status[48];
    char address[256]; /* endpoint ("" none) */
    int port;          /* 0 none */
    char campaign[64]; /* its fleetcrypt:campaign, :instance and :role tags ("" none) */
    char instance[64];
    char role[64];
} lookboard_entry;

/* Encode e into out ("<sent>\t-" when not present; else sent, status,
 * address, port and the three tags, tab-separated). A field holding a tab
 * or a newline, or too long for its place in lookboard_entry, is written
 * empty (it then matches nothing). False when out is too small. */
bool lookboard_encode(char *out, size_t cap, const lookboard_entry *e);
/* Decode an entry; false (and *e zeroed) for anything malformed. */
bool lookboard_decode(const char *s, lookboard_entry *e);
/* What an await does with the board before a look (all wall-clock ms):
 * USE the entry (e, have_e) when its look was sent at or after accept_ms,
 * the await's freshness bound; else WAIT (read the board again shortly)
 * while a look begun at asking_ms (0 none) by another worker includes this
 * instance and has not answered or failed (failed_ms: the latest failed
 * look's begin): begun at or after both accept_ms and since_ms (the
 * await's registration: a look begun after it reads it), and less than
 * join_ms ago (a worker that died asking holds no one longer); else ASK:
 * its own look. */
typedef enum { LOOKBOARD_ASK, LOOKBOARD_USE, LOOKBOARD_WAIT } lookboard_verdict;
lookboard_verdict lookboard_verdict_of(const lookboard_entry *e, bool have_e, int64_t asking_ms, int64_t failed_ms,
                                       int64_t accept_ms, int64_t since_ms, int64_t now_ms, int64_t join_ms);

#endif
